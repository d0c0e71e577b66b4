// End-to-end test of the demo (scripts/demo.sh): the audit board in two headless Chromium
// browser contexts (two separate storages, like two browsers), synced through the Socket.IO
// relay the demo starts. Both edit and converge; a conflict made while one is offline
// converges, the loser is told at once and its row is marked, the history shows both edits;
// the time-travel slider shows an old state; the exported log replays on a fresh board and
// opens in the log inspector (/inspect.html), as do a log of generic values and a file that is
// no log; each fix from trying the board as a new user has an assertion; so has each fix of an
// adversarial tester's findings (records that are no incidents, conflict marks over a reload,
// bidi controls and long names, board names, inspector races, big logs, --check and --port).
// The inspector also runs as a static page from the checkout. Screenshots land in artifacts/: demo.png,
// demo-peer.png, conflict-notice.png, long-title.png, inspector.png, inspector-error.png,
// inspector-generic.png.
//
// Needs pkg/ built (scripts/demo-test.sh builds it first).

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { ROOT, launchBrowser, requirePkg } from '../web/harness.mjs';

const DEMO = join(ROOT, 'scripts', 'demo.sh');
const ARTIFACTS = join(ROOT, 'artifacts');
const WAIT = 30_000;
const VIEWPORT = { width: 1440, height: 1000 };

/**
 * Runs `scripts/demo.sh --no-build ...args`; resolves to `{ url, output(), stop() }` once it
 * prints its READY line (or to `{ code, output }` when it exits first and `untilExit` is set).
 */
function runDemo(args, { untilExit = false, timeout = 60_000 } = {}) {
  const proc = spawn('bash', [DEMO, '--no-build', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise((ok) => proc.once('exit', (code, signal) => ok({ code, signal })));
  const collect = (chunk) => {
    output += chunk;
  };
  proc.stdout.setEncoding('utf8').on('data', collect);
  proc.stderr.setEncoding('utf8').on('data', collect);
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return exited;
    proc.kill('SIGTERM');
    const killer = setTimeout(() => proc.kill('SIGKILL'), 8000);
    const result = await exited;
    clearTimeout(killer);
    return result;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(
        new Error(
          `scripts/demo.sh ${args.join(' ')} did not ${untilExit ? 'exit' : 'get ready'} within ${timeout} ms:\n${output}`,
        ),
      );
    }, timeout);
    if (!untilExit) {
      proc.stdout.on('data', () => {
        const m = /^READY demo port=(\d+) url=(\S+)$/m.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve({ url: m[2], output: () => output, stop });
        }
      });
    }
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      if (untilExit) resolve({ code, signal, output });
      else reject(new Error(`scripts/demo.sh exited (${code ?? signal}) before READY:\n${output}`));
    });
  });
}

let demo;
let browser;

before(async () => {
  requirePkg();
  demo = await runDemo(['--port', '0']);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  const result = await demo?.stop();
  if (result && result.code !== 0) {
    console.log(`demo.sh exited with ${result.code ?? result.signal}:\n${demo.output()}`);
  }
});

/** Opens `board` as `user` in a new browser context (its own storage). */
function openBoard(user, board = 'e2e', adapter = 'socketio') {
  return openPage(`?user=${user}&board=${board}&adapter=${adapter}`);
}

/** Opens the board at `demo.url + query` in a new browser context, collecting its errors. */
async function openPage(query, { path = '', ready = 'board' } = {}) {
  const context = await browser.newContext({ viewport: VIEWPORT, acceptDownloads: true });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/^WebSocket connection to .* failed/.test(msg.text())) {
      page.errors.push(`console: ${msg.text()}`);
    }
  });
  page.on('response', (res) => {
    if (res.status() >= 400) page.errors.push(`HTTP ${res.status()} ${res.url()}`);
  });
  await page.goto(`${demo.url}${path}${query}`, { waitUntil: 'load', timeout: WAIT });
  await page.evaluate((name) => window[name].ready, ready);
  return page;
}

/** What the board shows: `[{ key, title, status, owner }]` in row order. */
function rows(page) {
  return page.$$eval('[data-testid=record-row]', (trs) =>
    trs.map((tr) => ({
      key: tr.dataset.key,
      title: tr.querySelector('[data-field=title]').value,
      status: tr.querySelector('[data-field=status]').value,
      owner: tr.querySelector('[data-field=owner]').value,
    })),
  );
}

/** Waits until `check()` resolves truthy; on timeout fails with `describe()`. */
async function eventually(what, check, describe, timeout = WAIT) {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeout} ms\n${await describe()}`);
    await new Promise((ok) => setTimeout(ok, 150));
  }
}

const row = (page, key) => page.locator(`[data-testid=record-row][data-key="${key}"]`);

async function boardsDescription(A, B) {
  const info = (p) =>
    p.evaluate(() => ({
      peers: document.querySelector('[data-testid=peer-count]').textContent,
      ops: window.board.state.ops.length,
      activity: window.board.state.activity.slice(0, 8).map((a) => (typeof a.text === 'function' ? a.text() : a.text)),
    }));
  return `A: ${JSON.stringify(await rows(A))} ${JSON.stringify(await info(A))}\nB: ${JSON.stringify(await rows(B))} ${JSON.stringify(await info(B))}`;
}

test('scripts/demo.sh --check starts everything, fetches the page and exits 0', { timeout: 90_000 }, async () => {
  const { code, output } = await runDemo(['--check', '--port', '0'], { untilExit: true });
  assert.equal(code, 0, output);
  assert.match(output, /demo: check passed/);
  assert.match(output, /ok {3}Socket\.IO relay/);
  assert.match(output, /ok {3}PeerJS server/);
  // The signaling server speaks WebSocket only: the check joins a room on it.
  assert.match(output, /ok {3}WebRTC signaling server: joined a room ws:\/\//);
});

test('scripts/demo.sh --port takes a decimal port 0-65535 only, with a clear error', { timeout: 60_000 }, async () => {
  for (const port of [' 0x50', '', '1e4', '65536', '-1', '80.0']) {
    const { code, output } = await runDemo(['--port', port], { untilExit: true });
    assert.notEqual(code, 0, `--port '${port}' was taken:\n${output}`);
    assert.ok(output.includes(`bad port '${port}': give a decimal number from 0 to 65535`), output);
    assert.doesNotMatch(output, /READY/);
  }
});

test('two browsers edit the audit board, converge, and travel back in time', { timeout: 300_000 }, async (t) => {
  const A = await openBoard('Alice');
  const B = await openBoard('Bob');
  const describe = () => boardsDescription(A, B);
  let k1;
  let k2;
  // Each step builds on the ones before: after a failure the rest are skipped, not timed out.
  let failed = false;
  const step = (name, fn) =>
    t.test(name, async (st) => {
      if (failed) return st.skip('an earlier step failed');
      try {
        await fn();
      } catch (err) {
        failed = true;
        throw err;
      }
    });

  const ownHue = (p) => p.$eval('#facts .author', (el) => el.style.getPropertyValue('--hue'));
  let hueBefore;
  await step('the board opens with the socketio adapter and the timestamp strategy', async () => {
    for (const page of [A, B]) {
      assert.match(await page.textContent('[data-testid=adapter]'), /socketio/);
      assert.match(await page.textContent('[data-testid=strategy]'), /timestamp/);
      assert.equal(await page.isVisible('#banner'), false);
    }
    hueBefore = await ownHue(A);
    assert.ok(hueBefore, 'the author tag has a hue');
  });

  await step('each sees the other as a connected peer', async () => {
    const connected = (p) =>
      p.evaluate(() => Number(document.querySelector('[data-testid=peer-count]').dataset.count) >= 1);
    await eventually('both connected', async () => (await connected(A)) && (await connected(B)), describe);
  });

  await step('edits on both sides reach the other and converge', async () => {
    await A.fill('[data-testid=new-title]', 'Checkout returns 502 for EU customers');
    await A.fill('[data-testid=new-owner]', 'payments');
    await A.click('[data-testid=add]');
    await eventually(
      'A’s incident on B',
      async () => (await rows(B)).some((r) => r.title.startsWith('Checkout')),
      describe,
    );
    k1 = (await rows(B)).find((r) => r.title.startsWith('Checkout')).key;

    await row(B, k1).locator('[data-field=status]').selectOption('investigating');
    await B.fill('[data-testid=new-title]', 'Nightly backup job skipped');
    await B.fill('[data-testid=new-owner]', 'ops');
    await B.click('[data-testid=add]');
    await eventually(
      'B’s edit and incident on A',
      async () => {
        const a = await rows(A);
        return a.length === 2 && a.find((r) => r.key === k1)?.status === 'investigating';
      },
      describe,
    );
    k2 = (await rows(A)).find((r) => r.key !== k1).key;
    // Newest first, in log order (the same on both), not by the random ids.
    assert.deepEqual(
      (await rows(A)).map((r) => r.key),
      [k2, k1],
    );
    assert.equal(await ownHue(A), hueBefore, 'an author keeps its colour after its first write');

    const owner = row(A, k1).locator('[data-field=owner]');
    await owner.fill('alice');
    await owner.press('Enter');

    await eventually(
      'same records on both',
      async () => {
        const [a, b] = [await rows(A), await rows(B)];
        return JSON.stringify(a) === JSON.stringify(b) && a.find((r) => r.key === k1)?.owner === 'alice';
      },
      describe,
    );
    const [a] = [await rows(A)];
    assert.deepEqual(
      a
        .map(({ title, status, owner: o }) => ({ title, status, owner: o }))
        .sort((x, y) => x.title.localeCompare(y.title)),
      [
        { title: 'Checkout returns 502 for EU customers', status: 'investigating', owner: 'alice' },
        { title: 'Nightly backup job skipped', status: 'open', owner: 'ops' },
      ],
    );
  });

  await step('both logs verify, with the same fingerprint', async () => {
    const verified = (p) => p.evaluate(() => window.board.state.verify);
    await eventually(
      'same verified log',
      async () => {
        const [va, vb] = [await verified(A), await verified(B)];
        return va?.ok && vb?.ok && va.fingerprint === vb.fingerprint && va.ops === 4;
      },
      async () => `${JSON.stringify(await verified(A))}\n${JSON.stringify(await verified(B))}\n${await describe()}`,
    );
    for (const page of [A, B]) assert.match(await page.textContent('[data-testid=chain]'), /chain verified/);
  });

  await step('a conflict made offline converges; the history shows both edits and one winner', async () => {
    // B leaves the network; both edit the same record; B comes back and the two reconcile.
    await B.click('[data-testid=offline]');
    await B.waitForFunction(
      () => document.querySelector('[data-testid=peer-count]').textContent.includes('offline'),
      null,
      { timeout: WAIT },
    );
    await A.waitForFunction(() => window.board.db.getConnectionCount() === 0, null, { timeout: WAIT });
    await row(A, k2).locator('[data-field=status]').selectOption('mitigated');
    await A.waitForFunction(() => document.body.dataset.ops === '5', null, { timeout: WAIT });
    await row(B, k2).locator('[data-field=status]').selectOption('resolved');
    await B.waitForFunction(() => document.body.dataset.ops === '5', null, { timeout: WAIT });
    assert.equal((await rows(A)).find((r) => r.key === k2).status, 'mitigated');
    await B.click('[data-testid=offline]'); // now 'Go online'
    await eventually(
      'same status on both after going online',
      async () => {
        const [a, b] = [await rows(A), await rows(B)];
        const ops = await Promise.all([A, B].map((p) => p.evaluate(() => window.board.state.ops.length)));
        return JSON.stringify(a) === JSON.stringify(b) && ops[0] === 6 && ops[1] === 6;
      },
      describe,
    );
    // Under 'timestamp' the later edit (B's) wins on both sides.
    assert.equal((await rows(A)).find((r) => r.key === k2).status, 'resolved');

    // A is told at once that its edit lost, and the row is marked until its history is seen.
    const notice = A.locator('.toast', { hasText: `Your edit of ${k2} lost to Bob under timestamp` });
    await notice.waitFor({ timeout: WAIT });
    await eventually(
      'the conflict mark on A’s row',
      async () => (await row(A, k2).getAttribute('data-conflict')) === 'Bob',
      describe,
    );
    assert.match(await row(A, k2).textContent(), /lost to Bob/);
    assert.equal(await row(B, k2).getAttribute('data-conflict'), null, 'the winner gets no notice');
    assert.equal(await B.locator('.toast', { hasText: 'lost to' }).count(), 0);
    mkdirSync(ARTIFACTS, { recursive: true });
    await A.screenshot({ path: join(ARTIFACTS, 'conflict-notice.png') });
    await notice.locator('[data-testid=conflict-link]').click();
    await A.waitForFunction((k) => document.getElementById('history-key').textContent === k, k2, { timeout: WAIT });
    await eventually(
      'the mark cleared once the history was opened',
      async () => (await row(A, k2).getAttribute('data-conflict')) === null,
      describe,
    );

    // Peers are named wherever the board knows their names, also in lines written before.
    const activity = await A.evaluate(() =>
      window.board.state.activity.map((a) => (typeof a.text === 'function' ? a.text() : a.text)),
    );
    const connected = activity.filter((t) => / connected$/.test(t));
    assert.ok(connected.length >= 2, JSON.stringify(activity));
    for (const line of connected) assert.match(line, /^peer Bob \([0-9a-f]{8}\) connected$/, JSON.stringify(activity));
    assert.equal(
      await A.locator('#activity')
        .filter({ hasText: /peer [0-9a-f]{8} / })
        .count(),
      0,
      'no bare hex names in the activity',
    );
    const winners = [];
    for (const page of [A, B]) {
      await row(page, k2).locator('[data-testid=show-history]').click();
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid=history-row]').length === n, 3, {
        timeout: WAIT,
      });
      const items = await page.$$eval('[data-testid=history-row]', (trs) =>
        trs.map((tr) => ({
          id: tr.dataset.id,
          outcome: tr.dataset.outcome,
          concurrent: tr.textContent.includes('concurrent'),
        })),
      );
      assert.equal(items.filter((i) => i.outcome === 'current').length, 1, JSON.stringify(items));
      assert.equal(items.filter((i) => i.outcome === 'superseded').length, 2, JSON.stringify(items));
      assert.equal(
        items.filter((i) => i.concurrent).length,
        2,
        `both offline edits are marked concurrent: ${JSON.stringify(items)}`,
      );
      assert.match(await page.textContent('[data-testid=history]'), /1 conflict/);
      winners.push(items.find((i) => i.outcome === 'current').id);
    }
    assert.equal(winners[0], winners[1], 'both peers pick the same winning op');
  });

  await step('the slider moved back shows the old state and the diff to now', async () => {
    const slider = A.locator('[data-testid=travel-slider]');
    await slider.focus();
    await slider.press('Home');
    await A.waitForFunction(
      () => document.querySelector('[data-testid=travel-readout]').dataset.mode === 'past',
      null,
      { timeout: WAIT },
    );
    await A.waitForFunction(() => document.querySelectorAll('[data-testid=travel-row]').length === 1, null, {
      timeout: WAIT,
    });
    const past = await A.$$eval('[data-testid=travel-row]', (trs) =>
      trs.map((tr) => ({
        key: tr.dataset.key,
        status: tr.querySelector('[data-field=status]').textContent,
        owner: tr.querySelector('[data-field=owner]').textContent,
      })),
    );
    // After the first op only A's incident existed, still open and owned by 'payments'.
    assert.deepEqual(past, [{ key: k1, status: 'open', owner: 'payments' }]);
    assert.match(await A.textContent('[data-testid=travel-readout]'), /after op 1 of 6/);
    const diff = await A.textContent('[data-testid=travel-diff]');
    assert.match(diff, new RegExp(`\\+ ${k2}`), diff);
    assert.match(diff, /status: open → investigating/, diff);

    // Clicking an op in the log travels to it: the op before the concurrent edits.
    await A.locator('[data-testid=log-row]').nth(2).click();
    await A.waitForFunction(
      () => /after op 4 of 6/.test(document.querySelector('[data-testid=travel-readout]').textContent),
      null,
      {
        timeout: WAIT,
      },
    );
    const k2Then = await A.$eval(
      `[data-testid=travel-row][data-key="${k2}"] [data-field=status]`,
      (td) => td.textContent,
    );
    assert.equal(k2Then, 'open');
  });

  const logFile = join(tmpdir(), `auroradb-demo-${process.pid}.aurlog`);
  t.after(() => rmSync(logFile, { force: true }));
  await step('the exported log replays on a fresh board', async () => {
    const [download] = await Promise.all([
      A.waitForEvent('download', { timeout: WAIT }),
      A.click('[data-testid=export]'),
    ]);
    assert.match(download.suggestedFilename(), /^auroradb-e2e-.*\.aurlog$/);
    const file = logFile;
    await download.saveAs(file);
    {
      // A third browser on a board of its own, with no server: only the file brings the ops.
      const C = await openBoard('Carol', 'replay', 'broadcast');
      assert.equal((await rows(C)).length, 0);
      await C.setInputFiles('[data-testid=import]', file);
      await C.waitForFunction(() => document.body.dataset.ops === '6', null, { timeout: WAIT });
      const byKey = (list) => [...list].sort((x, y) => x.key.localeCompare(y.key));
      await eventually(
        'the replayed board',
        async () => JSON.stringify(byKey(await rows(C))) === JSON.stringify(byKey(await rows(A))),
        describe,
      );
      assert.match(await C.textContent('#files-status'), /6 ops in the file, 6 new/);
      assert.deepEqual(C.errors, []);
      await C.context().close();
    }
  });

  await step('the log inspector shows the exported log: state, scrubbing, play, history, diff', async () => {
    assert.equal(await A.getAttribute('[data-testid=inspector-link]', 'href'), 'inspect.html');
    const I = await openPage('', { path: 'inspect.html', ready: 'inspector' });
    await I.setInputFiles('[data-testid=file-input]', logFile);
    await I.waitForFunction(() => document.body.dataset.ops === '6', null, { timeout: WAIT });
    assert.match(await I.textContent('[data-testid=summary]'), /6 ops, 2 authors · chain verified/);
    assert.match(await I.textContent('[data-testid=position]'), /after op 6 of 6/);
    const stateKeys = () => I.$$eval('[data-testid=state-row]', (trs) => trs.map((tr) => tr.dataset.key).sort());
    assert.deepEqual(await stateKeys(), [k1, k2].sort());
    // The columns are the records' own fields, whatever the app.
    const head = await I.textContent('#state-head');
    for (const f of ['key', 'title', 'status', 'owner']) assert.match(head, new RegExp(f));

    await I.locator('[data-testid=slider]').fill('1');
    await I.waitForFunction(() => document.body.dataset.position === '1', null, { timeout: WAIT });
    assert.deepEqual(await stateKeys(), [k1]);
    assert.equal(await I.$eval('[data-testid=op-row].at', (tr) => tr.dataset.index), '1');
    assert.equal(await I.locator('[data-testid=op-row].future').count(), 5);

    await I.click('[data-testid=play]');
    await I.waitForFunction(() => document.body.dataset.playing === 'true', null, { timeout: WAIT });
    await I.waitForFunction(() => document.body.dataset.position === '3', null, { timeout: WAIT });
    await I.waitForFunction(
      () => document.body.dataset.position === '6' && document.body.dataset.playing === 'false',
      null,
      { timeout: WAIT },
    );
    assert.equal(await I.$eval('[data-testid=op-row].at', (tr) => tr.dataset.index), '6');

    await I.locator(`[data-testid=state-row][data-key="${k2}"]`).click();
    await I.waitForFunction(() => document.querySelectorAll('[data-testid=history-item]').length === 3, null, {
      timeout: WAIT,
    });
    const outcomes = await I.$$eval('[data-testid=history-item]', (trs) => trs.map((tr) => tr.dataset.outcome));
    assert.deepEqual(outcomes, ['superseded', 'superseded', 'current']);

    await I.fill('[data-testid=diff-from]', '1');
    await I.fill('[data-testid=diff-to]', '6');
    await I.press('[data-testid=diff-to]', 'Enter');
    await I.locator('[data-testid=diff-from]').dispatchEvent('change');
    await I.waitForFunction(() => /From op 1 to op 6/.test(document.getElementById('diff').textContent), null, {
      timeout: WAIT,
    });
    const diff = await I.textContent('[data-testid=diff]');
    assert.match(diff, new RegExp(`\\+ ${k2}`), diff);
    assert.match(diff, /status: "?open"? → "?investigating"?/, diff);
    mkdirSync(ARTIFACTS, { recursive: true });
    await I.screenshot({ path: join(ARTIFACTS, 'inspector.png'), fullPage: true });

    // A file that is not an AuroraDB log: the error's name and message, no raw bytes.
    await I.setInputFiles('[data-testid=file-input]', {
      name: 'notes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('AURORA? no, just some notes about the incident\n'),
    });
    await I.waitForSelector('[data-testid=error]:not([hidden])', { timeout: WAIT });
    const error = await I.textContent('[data-testid=error]');
    assert.match(error, /notes\.txt is not a log this page can read\. [A-Za-z]+Error: \S/, error);
    assert.doesNotMatch(error, /\[\d+, ?\d+/, error);
    assert.equal(await I.isVisible('#panels'), false);
    await I.screenshot({ path: join(ARTIFACTS, 'inspector-error.png') });

    // A log of another app (generic values written through the API): it works on any data.
    const generic = await I.evaluate(async () => {
      const { AuroraDB } = await import('/pkg/auroradb.mjs');
      const db = new AuroraDB({ name: `generic-${Date.now()}` });
      await db.create();
      await db.put('sensor/1', { temp: 21.5, tags: ['lab', 'north'], ok: true });
      await db.put('sensor/2', { temp: 19, unit: 'C' });
      await db.put('threshold', 42);
      await db.put('blob', new Uint8Array([1, 2, 3, 250]));
      await db.put('sensor/1', { temp: 22.25, tags: ['lab'], ok: false });
      await db.remove('sensor/2');
      const bytes = await db.exportLog();
      await db.destroy();
      return Array.from(bytes);
    });
    await I.setInputFiles('[data-testid=file-input]', {
      name: 'sensors.aurlog',
      mimeType: 'application/octet-stream',
      buffer: Buffer.from(generic),
    });
    await I.waitForFunction(() => document.body.dataset.ops === '6', null, { timeout: WAIT });
    assert.equal(await I.isVisible('[data-testid=error]'), false);
    assert.deepEqual(await stateKeys(), ['blob', 'sensor/1', 'threshold']);
    const genericHead = await I.textContent('#state-head');
    for (const f of ['temp', 'tags', 'ok', 'value']) assert.match(genericHead, new RegExp(f), genericHead);
    const blob = await I.textContent('[data-testid=state-row][data-key="blob"] [data-field=value]');
    assert.match(blob, /bytes\(4\) 010203fa/);
    await I.locator('[data-testid=slider]').fill('2');
    await I.waitForFunction(() => document.body.dataset.position === '2', null, { timeout: WAIT });
    assert.deepEqual(await stateKeys(), ['sensor/1', 'sensor/2']);
    assert.match(await I.textContent('#state-head'), /unit/);
    await I.locator('[data-testid=state-row][data-key="sensor/1"]').click();
    await I.waitForFunction(() => document.querySelectorAll('[data-testid=history-item]').length === 2, null, {
      timeout: WAIT,
    });
    await I.screenshot({ path: join(ARTIFACTS, 'inspector-generic.png'), fullPage: true });
    assert.deepEqual(I.errors, []);
    await I.context().close();
  });

  await step('an inline title edit cannot save an empty title', async () => {
    const ops = await A.evaluate(() => window.board.state.ops.length);
    const title = row(A, k1).locator('[data-field=title]');
    await title.fill('   ');
    await title.press('Enter');
    await A.locator('.toast', { hasText: 'A title cannot be empty' }).waitFor({ timeout: WAIT });
    assert.equal(await title.inputValue(), 'Checkout returns 502 for EU customers');
    await A.waitForTimeout(500);
    assert.equal(await A.evaluate(() => window.board.state.ops.length), ops);
  });

  await step('a long unbroken title stays inside the time-travel table, the diff and the history', async () => {
    const long = `Unbroken${'x'.repeat(100)}END`;
    await A.click('[data-testid=travel-live]');
    await A.fill('[data-testid=new-title]', long);
    await A.click('[data-testid=add]');
    await eventually('the long title on A', async () => (await rows(A))[0]?.title === long, describe);
    const k3 = (await rows(A))[0].key;
    await row(A, k3).locator('[data-testid=show-history]').click();
    await A.waitForFunction((k) => document.getElementById('history-key').textContent === k, k3, { timeout: WAIT });
    await A.waitForFunction(() => document.querySelectorAll('[data-testid=history-row]').length === 1, null, {
      timeout: WAIT,
    });
    const overflow = () =>
      A.evaluate(() => {
        const out = [];
        const wrap = document.querySelector('#travel-table').parentElement;
        if (wrap.scrollWidth > wrap.clientWidth + 1) out.push(`travel table ${wrap.scrollWidth} > ${wrap.clientWidth}`);
        for (const [card, sel] of [
          ['.card.travel', '#travel-diff li, #travel-table td'],
          ['.card.history', '#history-body td, .history-summary'],
        ]) {
          const box = document.querySelector(card).getBoundingClientRect();
          for (const el of document.querySelectorAll(sel)) {
            const r = el.getBoundingClientRect();
            if (r.right > box.right + 1 || el.scrollWidth > el.clientWidth + 1) {
              out.push(`${sel}: ${el.textContent.slice(0, 30)} right ${r.right} > ${box.right}`);
            }
          }
        }
        return out;
      });
    // Now: the time-travel table holds the long title; so does the history.
    assert.ok((await A.textContent('[data-testid=travel-state]')).includes(long));
    assert.deepEqual(await overflow(), []);
    // Just before it: the diff to now lists it.
    await A.locator('[data-testid=log-row]').nth(1).click();
    await A.waitForFunction(
      () => document.querySelector('[data-testid=travel-readout]').dataset.mode === 'past',
      null,
      { timeout: WAIT },
    );
    assert.deepEqual(await overflow(), []);
    const diff = await A.textContent('[data-testid=travel-diff]');
    assert.ok(diff.includes(long), diff);
    await A.locator('.card.travel').scrollIntoViewIfNeeded();
    await A.screenshot({ path: join(ARTIFACTS, 'long-title.png'), fullPage: true });
    await A.click('[data-testid=travel-live]');
  });

  await step('a failed import says so once, readably, and in the status line', async () => {
    await A.evaluate(() => {
      for (const t of document.querySelectorAll('.toast')) t.remove();
    });
    await A.setInputFiles('[data-testid=import]', {
      name: 'not-a-log.aurlog',
      mimeType: 'application/octet-stream',
      // Long enough to reach the magic check, whose message quotes the bytes it expected.
      buffer: Buffer.from(`AUxx this is not a log at all${' really'.repeat(20)}`),
    });
    await A.waitForFunction(() => /failed/.test(document.getElementById('files-status').textContent), null, {
      timeout: WAIT,
    });
    await A.waitForTimeout(600);
    const toasts = await A.$$eval('.toast', (ts) => ts.map((t) => t.textContent));
    const failures = toasts.filter((t) => /Import failed/.test(t));
    assert.equal(failures.length, 1, JSON.stringify(toasts));
    assert.doesNotMatch(failures[0], /\[\d+, ?\d+/, failures[0]);
    const status = await A.textContent('[data-testid=files-status]');
    assert.match(
      status,
      /^not-a-log\.aurlog: Import failed: CorruptDataError: bad magic for log file: expected "AUlf"/,
      status,
    );
    assert.doesNotMatch(status, /\[\d+, ?\d+/, status);
  });

  await step('delete offers Undo, and a deleted record’s history stays reachable', async () => {
    const before = (await rows(A)).length;
    await row(A, k1).locator('button.danger').click();
    const undo = A.locator('[data-testid=undo-delete]');
    await undo.waitFor({ timeout: WAIT });
    await eventually('the row gone', async () => (await rows(A)).length === before - 1, describe);
    await undo.click();
    await eventually('the row back', async () => (await rows(A)).some((r) => r.key === k1), describe);
    assert.equal((await rows(A)).find((r) => r.key === k1).title, 'Checkout returns 502 for EU customers');

    await row(A, k1).locator('button.danger').click();
    const link = A.locator(`[data-testid=deleted-history][data-key="${k1}"]`);
    await link.waitFor({ timeout: WAIT });
    await link.click();
    await A.waitForFunction((k) => document.getElementById('history-key').textContent === k, k1, { timeout: WAIT });
    await A.waitForFunction(
      () => [...document.querySelectorAll('[data-testid=history-row]')].some((tr) => /remove/.test(tr.textContent)),
      null,
      { timeout: WAIT },
    );
    assert.match(await A.textContent('[data-testid=history]'), /deleted now/);
  });

  await t.test('screenshots of both boards are saved', async () => {
    await A.locator('.card.records').scrollIntoViewIfNeeded();
    mkdirSync(ARTIFACTS, { recursive: true });
    await A.waitForTimeout(1500); // let the highlight of fresh edits fade
    await A.screenshot({ path: join(ARTIFACTS, 'demo.png'), fullPage: true });
    await B.screenshot({ path: join(ARTIFACTS, 'demo-peer.png'), fullPage: true });
  });

  await t.test('no page errors', () => {
    assert.deepEqual([...A.errors, ...B.errors], []);
  });
});

test('URL settings: unknown values are reported, the broadcast hint, the merge history summary', {
  timeout: 120_000,
}, async () => {
  const bad = await openPage('?user=Dan&board=url-check&adapter=carrier-pigeon&strategy=coin-toss');
  const banner = await bad.textContent('#banner');
  assert.match(banner, /Unknown adapter 'carrier-pigeon' in the URL: using socketio/, banner);
  assert.match(banner, /Unknown strategy 'coin-toss' in the URL: using timestamp/, banner);
  assert.match(await bad.textContent('[data-testid=adapter]'), /socketio/);
  assert.deepEqual(bad.errors, []);
  await bad.context().close();

  const bc = await openPage('?user=Eve&board=broadcast-hint&adapter=broadcast&strategy=merge');
  assert.equal(await bc.isVisible('#banner'), false);
  const hint = await bc.textContent('[data-testid=peers]');
  assert.match(hint, /reaches tabs of this browser only/, hint);
  assert.doesNotMatch(hint, /another browser/, hint);

  // Under 'merge' the board shows fields of several ops: the summary names the latest.
  await bc.fill('[data-testid=new-title]', 'Disk almost full on db-2');
  await bc.click('[data-testid=add]');
  await bc.waitForFunction(() => document.body.dataset.ops === '1', null, { timeout: WAIT });
  const key = (await rows(bc))[0].key;
  await row(bc, key).locator('[data-field=status]').selectOption('investigating');
  await bc.waitForFunction(() => document.body.dataset.ops === '2', null, { timeout: WAIT });
  await row(bc, key).locator('[data-field=status]').selectOption('mitigated');
  await bc.waitForFunction(() => document.body.dataset.ops === '3', null, { timeout: WAIT });
  await row(bc, key).locator('[data-testid=show-history]').click();
  await bc.waitForFunction(() => document.querySelectorAll('[data-testid=history-row]').length === 3, null, {
    timeout: WAIT,
  });
  const latest = await bc.$eval('[data-testid=history-row] td', (td) => td.textContent);
  const shown = await bc.textContent('[data-testid=history-shown]');
  assert.ok(shown.includes(latest), `${shown} names the latest op (${latest})`);
  assert.match(shown, /merged/, shown);
  assert.deepEqual(bc.errors, []);
  await bc.context().close();
});

test('the log inspector works as a static page from a checkout, with a dropped file', {
  timeout: 120_000,
}, async () => {
  // A plain static server at the repository's root: the page finds the API at ../../pkg/.
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css' };
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^([/\\]|\.\.)+/, '');
    const file = join(ROOT, path);
    if (!file.startsWith(ROOT) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    const type = extname(file) === '.wasm' ? 'application/wasm' : (types[extname(file)] ?? 'application/octet-stream');
    res.writeHead(200, { 'content-type': type });
    createReadStream(file).pipe(res);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const context = await browser.newContext({ viewport: VIEWPORT });
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`http://127.0.0.1:${server.address().port}/demo/web/inspect.html`, { timeout: WAIT });
    await page.evaluate(() => window.inspector.ready);
    // Drop a log made in the page: a few counters of some other app.
    await page.evaluate(async () => {
      const { AuroraDB } = await import('../../pkg/auroradb.mjs');
      const db = new AuroraDB({ name: `counters-${Date.now()}` });
      await db.create();
      await db.put('visits', 1);
      await db.put('visits', 2);
      await db.put('flags', { beta: true });
      const bytes = await db.exportLog();
      await db.destroy();
      const data = new DataTransfer();
      data.items.add(new File([bytes], 'counters.aurlog'));
      document.getElementById('dropzone').dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true }));
    });
    await page.waitForFunction(() => document.body.dataset.ops === '3', null, { timeout: WAIT });
    assert.match(await page.textContent('[data-testid=summary]'), /counters\.aurlog: 3 ops, 1 author · chain verified/);
    assert.equal(await page.textContent('[data-testid=state-row][data-key="visits"] [data-field=value]'), '2');
    await page.locator('[data-testid=state-row][data-key="visits"]').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=history-item]').length === 2, null, {
      timeout: WAIT,
    });
    assert.deepEqual(await page.$$eval('[data-testid=history-item]', (trs) => trs.map((tr) => tr.dataset.outcome)), [
      'superseded',
      'current',
    ]);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    await new Promise((ok) => server.close(ok));
  }
});

// ---- robustness: what other apps, peers, files and URLs can bring ----------------------------

/** A log of `writes` (`[key, value]`; value undefined: a remove) made in `page` with the API, as a file. */
async function logFile(page, name, writes) {
  const bytes = await page.evaluate(
    async (list) => {
      const { AuroraDB } = await import('/pkg/auroradb.mjs');
      const db = new AuroraDB({ name: `made-${Date.now()}-${Math.random().toString(36).slice(2)}` });
      await db.create();
      for (const [key, value, remove] of list) {
        if (remove) await db.remove(key);
        else await db.put(key, value);
      }
      const out = await db.exportLog();
      await db.destroy();
      return Array.from(out);
    },
    writes.map(([key, value]) => [key, value ?? null, value === undefined]),
  );
  return { name, mimeType: 'application/octet-stream', buffer: Buffer.from(bytes) };
}

const incident = (id, fields = {}) => ({
  id,
  title: `incident ${id}`,
  status: 'open',
  owner: 'ops',
  severity: 'sev3',
  version: 1,
  updatedBy: 'Mallory',
  updatedAt: Date.now(),
  ...fields,
});

test('records that are no incidents (null, strings, foreign ids) neither break nor garble the board', {
  timeout: 180_000,
}, async () => {
  const board = `foreign-${Date.now()}`;
  const A = await openPage(`?user=Ann&board=${board}&adapter=socketio`);
  const B = await openPage(`?user=Ben&board=${board}&adapter=socketio`);
  const file = await logFile(A, 'foreign.aurlog', [
    ['INC-NULL', null],
    ['plain-string', 'just a string'],
    ['num', 42],
    ['noid-1', { title: 'record 1 with no id field', status: 'open' }],
    ['noid-2', { title: 'record 2 with no id field', status: 'open' }],
    ['wrongid', { id: 'INC-OTHER', title: 'key wrongid, id INC-OTHER', status: 'open' }],
    ['INC-GOOD', incident('INC-GOOD')],
  ]);
  await A.setInputFiles('[data-testid=import]', file);
  await A.waitForFunction(() => /7 new/.test(document.getElementById('files-status').textContent), null, {
    timeout: WAIT,
  });
  // The board keeps refreshing, here and on the peer the ops reach: a new incident shows on both.
  await A.fill('[data-testid=new-title]', 'Added after the import');
  await A.click('[data-testid=add]');
  for (const page of [A, B]) {
    await eventually(
      'the new incident and the imported one, only',
      async () =>
        JSON.stringify((await rows(page)).map((r) => r.title).sort()) ===
        JSON.stringify(['Added after the import', 'incident INC-GOOD']),
      async () => `${JSON.stringify(await rows(page))} ${JSON.stringify(page.errors)}`,
    );
    assert.match(await page.textContent('[data-testid=others]'), /also holds 6 other records that are not incidents/);
    assert.equal(await page.isVisible('[data-testid=deleted]'), false, 'no live key is listed as deleted');
    assert.equal(await page.locator('[data-testid=record-row][data-key="undefined"]').count(), 0);
    assert.equal(await page.evaluate(() => document.body.dataset.records), '2');
  }
  // Refreshes do not multiply rows; an edit of an incident saves under its own key.
  await B.evaluate(() => window.board.refresh());
  assert.equal((await rows(B)).length, 2);
  const title = row(B, 'INC-GOOD').locator('[data-field=title]');
  await title.fill('incident INC-GOOD edited');
  await title.press('Enter');
  await eventually(
    'the edit on A',
    async () => (await rows(A)).some((r) => r.title === 'incident INC-GOOD edited'),
    async () => JSON.stringify(await rows(A)),
  );
  assert.equal(await B.evaluate(() => window.board.db.get('undefined')), undefined);
  assert.deepEqual(await B.evaluate(() => window.board.db.get('wrongid')), {
    id: 'INC-OTHER',
    title: 'key wrongid, id INC-OTHER',
    status: 'open',
  });
  // A reload shows the same board.
  await B.reload();
  await B.evaluate(() => window.board.ready);
  await eventually(
    'the board after a reload',
    async () => (await rows(B)).length === 2,
    async () => '',
  );
  // Time travel to the op that wrote null and back shows no foreign value as an incident.
  await B.locator('[data-testid=log-row]').last().click();
  await B.waitForFunction(() => /after op 1 of/.test(document.getElementById('travel-readout').textContent), null, {
    timeout: WAIT,
  });
  assert.match(await B.textContent('[data-testid=travel-state]'), /No incidents at this point/);
  for (const page of [A, B]) {
    assert.deepEqual(
      page.errors.filter((e) => !/Saving failed/.test(e)),
      [],
    );
    await page.context().close();
  }
});

test('a conflict mark on a row survives a reload until the history is opened', { timeout: 180_000 }, async () => {
  const board = `reload-mark-${Date.now()}`;
  const A = await openPage(`?user=Alice&board=${board}&adapter=socketio`);
  const B = await openPage(`?user=Bob&board=${board}&adapter=socketio`);
  const describe = () => boardsDescription(A, B);
  await A.waitForFunction(() => Number(document.querySelector('[data-testid=peer-count]').dataset.count) >= 1, null, {
    timeout: WAIT,
  });
  await A.fill('[data-testid=new-title]', 'Shared incident');
  await A.click('[data-testid=add]');
  await B.waitForFunction(() => document.body.dataset.records === '1', null, { timeout: WAIT });
  const key = (await rows(A))[0].key;
  await B.click('[data-testid=offline]');
  await A.waitForFunction(() => window.board.db.getConnectionCount() === 0, null, { timeout: WAIT });
  await row(A, key).locator('[data-field=status]').selectOption('mitigated');
  await A.waitForFunction(() => document.body.dataset.ops === '2', null, { timeout: WAIT });
  await row(B, key).locator('[data-field=status]').selectOption('resolved');
  await B.waitForFunction(() => document.body.dataset.ops === '2', null, { timeout: WAIT });
  await B.click('[data-testid=offline]');
  const mark = (page) => row(page, key).getAttribute('data-conflict');
  await eventually('the mark on A', async () => (await mark(A)) === 'Bob', describe);

  await A.reload();
  await A.evaluate(() => window.board.ready);
  await eventually('the mark on A after a reload', async () => (await mark(A)) === 'Bob', describe);
  assert.match(await row(A, key).textContent(), /lost to Bob/);
  await row(A, key).locator('[data-testid=show-history]').click();
  await eventually('the mark cleared by the history', async () => (await mark(A)) === null, describe);
  await A.reload();
  await A.evaluate(() => window.board.ready);
  await A.waitForFunction(() => document.body.dataset.records === '1', null, { timeout: WAIT });
  await A.waitForTimeout(1000);
  assert.equal(await mark(A), null, 'a mark seen stays cleared after a reload');
  assert.equal(await A.locator('.toast', { hasText: 'lost to' }).count(), 0, 'a told loss is not told again');
  for (const page of [A, B]) {
    assert.deepEqual(page.errors, []);
    await page.context().close();
  }
});

const BIDI = /[\u202A-\u202E\u2066-\u2069]/;

test('bidi controls are shown visibly and long names stay in their columns, on the board and in the inspector', {
  timeout: 180_000,
}, async () => {
  const A = await openPage(`?user=Ann&board=bidi-${Date.now()}&adapter=broadcast`);
  const longKey = `INC-${'K'.repeat(150)}`;
  const file = await logFile(A, 'bidi\u202Efile.aurlog', [
    ['INC-RTL', incident('INC-RTL', { title: 'Refund \u202Edeifirev\u202C ok', owner: '\u2067owner\u2069' })],
    ['INC-\u202Ekey', incident('INC-\u202Ekey', { updatedBy: `\u202E${'Mallory'.repeat(20)}` })],
    [longKey, incident(longKey, { owner: 'o'.repeat(300), title: 'W'.repeat(400) })],
    ['note', 'a \u202Eplain value'],
  ]);
  await A.setInputFiles('[data-testid=import]', file);
  await A.waitForFunction(() => document.body.dataset.ops === '4', null, { timeout: WAIT });
  await eventually(
    'the rows',
    async () => (await rows(A)).filter((r) => r.key.startsWith('INC-')).length === 3,
    async () => JSON.stringify(await rows(A)),
  );
  const rtl = (await rows(A)).find((r) => r.key === 'INC-RTL');
  assert.equal(rtl.title, 'Refund ⟨U+202E⟩deifirev⟨U+202C⟩ ok');
  assert.equal(rtl.owner, '⟨U+2067⟩owner⟨U+2069⟩');
  await row(A, 'INC-\u202Ekey').locator('[data-testid=show-history]').click();
  await A.waitForFunction(() => document.querySelectorAll('[data-testid=history-row]').length === 1, null, {
    timeout: WAIT,
  });
  await A.locator('[data-testid=log-row]').last().click();
  await A.waitForFunction(() => document.querySelector('[data-testid=travel-readout]').dataset.mode === 'past', null, {
    timeout: WAIT,
  });
  const overflow = (page, cards) =>
    page.evaluate((selectors) => {
      const out = [];
      // Text cut by an ellipsis (an ancestor clips it) stays inside; a scroll box must not scroll sideways.
      const clipped = (el, card) => {
        for (let a = el.parentElement; a && a !== card; a = a.parentElement) {
          if (['hidden', 'clip'].includes(getComputedStyle(a).overflowX)) return true;
        }
        return false;
      };
      for (const sel of selectors) {
        for (const card of document.querySelectorAll(sel)) {
          const box = card.getBoundingClientRect();
          for (const el of card.querySelectorAll('td, li, p, span, bdi, button')) {
            const r = el.getBoundingClientRect();
            if (r.width && r.right > box.right + 1 && !clipped(el, card)) {
              out.push(`${sel}: ${el.tagName} ${el.textContent.slice(0, 30)}`);
            }
          }
          for (const wrap of card.querySelectorAll('.table-wrap')) {
            if (wrap.scrollWidth > wrap.clientWidth + 1) out.push(`${sel}: scrolls sideways ${wrap.className}`);
          }
        }
      }
      return [...new Set(out)].slice(0, 10);
    }, cards);
  const rawControls = (page) =>
    page.evaluate((re) => {
      const bad = new RegExp(re);
      const texts = [document.body.textContent, document.title];
      for (const el of document.querySelectorAll('input')) texts.push(el.value);
      for (const el of document.querySelectorAll('[title]')) texts.push(el.title);
      return texts.filter((t) => bad.test(t)).map((t) => t.slice(0, 80));
    }, BIDI.source);
  assert.deepEqual(await rawControls(A), []);
  assert.match(await A.textContent('[data-testid=history]'), /incident INC-⟨U\+202E⟩key/);
  assert.match(await row(A, 'INC-\u202Ekey').textContent(), /INC-⟨U\+202E⟩key.* · ⟨U\+202E⟩MalloryMallory/);
  assert.deepEqual(await overflow(A, ['.card']), []);

  const I = await openPage('', { path: 'inspect.html', ready: 'inspector' });
  await I.setInputFiles('[data-testid=file-input]', file);
  await I.waitForFunction(() => document.body.dataset.ops === '4', null, { timeout: WAIT });
  await I.locator('[data-testid=state-row]').first().click();
  await I.waitForFunction(() => document.querySelectorAll('[data-testid=history-item]').length === 1, null, {
    timeout: WAIT,
  });
  assert.deepEqual(await rawControls(I), []);
  assert.match(await I.textContent('[data-testid=summary]'), /bidi⟨U\+202E⟩file\.aurlog/);
  assert.deepEqual(await overflow(I, ['.card']), []);
  for (const page of [A, I]) {
    assert.deepEqual(page.errors, []);
    await page.context().close();
  }
});

test('a board name not used as given, and a repeated strategy, are named in the banner', {
  timeout: 120_000,
}, async () => {
  const cases = [
    ['board=team%2F1', 'team1', /Board 'team\/1' cannot be used as given .*opened board 'team1'/],
    ['board=%F0%9F%94%A5%F0%9F%94%A5', 'main', /Board '🔥🔥' cannot be used as given .*opened board 'main'/],
    [`board=${'b'.repeat(45)}`, 'b'.repeat(40), /at most 40\): opened board 'b{40}'/],
    ['board=ok-board&strategy=version&strategy=bogus', 'ok-board', /strategy 2 times \('version', 'bogus'\)/],
  ];
  for (const [query, board, text] of cases) {
    const page = await openPage(`?user=Dan&adapter=broadcast&${query}`);
    assert.equal(await page.evaluate(() => window.board.state.settings.board), board);
    assert.equal(await page.isVisible('#banner'), true, query);
    assert.match(await page.textContent('#banner'), text);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  }
});

test('the inspector shows the last file picked and deletes every database it made for another', {
  timeout: 120_000,
}, async () => {
  const I = await openPage('', { path: 'inspect.html', ready: 'inspector' });
  const first = await logFile(
    I,
    'first.aurlog',
    Array.from({ length: 60 }, (_, i) => [`first-${i}`, { n: i }]),
  );
  const second = await logFile(I, 'second.aurlog', [['second', 2]]);
  const inspectDbs = () =>
    I.evaluate(async () =>
      (await indexedDB.databases()).map((d) => d.name).filter((n) => n.startsWith('auroradb-inspect')),
    );
  const shown = () =>
    I.evaluate(() => ({
      file: document.getElementById('chip-file').textContent,
      keys: [...document.querySelectorAll('[data-testid=state-row]')].map((tr) => tr.dataset.key),
      ops: document.body.dataset.ops,
    }));
  // Two files picked one after the other, the first still loading.
  await I.evaluate(
    async ([a, b]) => {
      const p1 = window.inspector.load(new File([new Uint8Array(a)], 'first.aurlog'));
      const p2 = window.inspector.load(new File([new Uint8Array(b)], 'second.aurlog'));
      await Promise.all([p1, p2]);
    },
    [[...first.buffer], [...second.buffer]],
  );
  await I.waitForTimeout(500);
  assert.deepEqual(await shown(), { file: 'filesecond.aurlog', keys: ['second'], ops: '1' });
  assert.equal((await inspectDbs()).length, 1, JSON.stringify(await inspectDbs()));
  // The strategy changed while a file loads: the same file, replayed once.
  await I.evaluate(
    async (a) => {
      const p1 = window.inspector.load(new File([new Uint8Array(a)], 'first.aurlog'));
      const select = document.getElementById('strategy');
      select.value = 'version';
      select.dispatchEvent(new Event('change'));
      await p1;
    },
    [...first.buffer],
  );
  await I.waitForFunction(() => document.body.dataset.ops === '60', null, { timeout: WAIT });
  await I.waitForTimeout(500);
  assert.equal((await shown()).file, 'filefirst.aurlog');
  assert.equal((await inspectDbs()).length, 1, JSON.stringify(await inspectDbs()));
  assert.deepEqual(I.errors, []);
  await I.context().close();
});

test('a log of 1200 ops: the board and the inspector draw a bounded number of rows, more on request', {
  timeout: 240_000,
}, async () => {
  const N = 1200;
  const A = await openPage(`?user=Ann&board=big-${Date.now()}&adapter=broadcast`);
  const file = await logFile(
    A,
    'big.aurlog',
    Array.from({ length: N }, (_, i) => {
      const id = `INC-${String(i).padStart(5, '0')}`;
      return [id, incident(id)];
    }),
  );
  await A.setInputFiles('[data-testid=import]', file);
  await A.waitForFunction((n) => document.body.dataset.records === String(n), N, { timeout: 120_000 });
  const count = (page, sel) => page.locator(sel).count();
  await eventually(
    '500 rows',
    async () => (await count(A, '[data-testid=record-row]')) === 500,
    async () => '',
  );
  assert.equal(await count(A, '[data-testid=travel-row]'), 500);
  // Newest first: the last op's incident leads.
  assert.equal((await rows(A))[0].key, `INC-${String(N - 1).padStart(5, '0')}`);
  await A.click('[data-testid=records-more]');
  await eventually(
    '1000 rows',
    async () => (await count(A, '[data-testid=record-row]')) === 1000,
    async () => '',
  );
  await A.click('[data-testid=travel-more]');
  await eventually(
    '1000 travel rows',
    async () => (await count(A, '[data-testid=travel-row]')) === 1000,
    async () => '',
  );
  assert.deepEqual(A.errors, []);
  await A.context().close();

  const I = await openPage('', { path: 'inspect.html', ready: 'inspector' });
  await I.setInputFiles('[data-testid=file-input]', file);
  await I.waitForFunction((n) => document.body.dataset.ops === String(n), N, { timeout: 120_000 });
  assert.ok((await count(I, '[data-testid=op-row]')) <= 500);
  assert.ok((await count(I, '[data-testid=state-row]')) <= 500);
  assert.equal(await I.$eval('[data-testid=op-row].at', (tr) => tr.dataset.index), String(N));
  // The op log's window follows the slider; the state table shows the keys around the op.
  await I.locator('[data-testid=slider]').fill('1');
  await I.waitForFunction(() => document.body.dataset.position === '1', null, { timeout: WAIT });
  assert.equal(await I.$eval('[data-testid=op-row].at', (tr) => tr.dataset.index), '1');
  await I.locator('[data-testid=slider]').fill('900');
  await I.waitForFunction(() => document.body.dataset.position === '900', null, { timeout: WAIT });
  assert.equal(await I.$eval('[data-testid=op-row].at', (tr) => tr.dataset.index), '900');
  assert.equal(await count(I, '[data-testid=state-row].touched[data-key="INC-00899"]'), 1);
  assert.ok((await count(I, '[data-testid=state-row]')) <= 500);
  await I.click('[data-testid=state-more]');
  await eventually(
    'more state rows',
    async () => (await count(I, '[data-testid=state-row]')) === 900,
    async () => '',
  );
  assert.deepEqual(I.errors, []);
  await I.context().close();
});
