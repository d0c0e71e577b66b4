// End-to-end test of the demo (scripts/demo.sh): the audit board in two headless Chromium
// browser contexts (two separate storages, like two browsers), synced through the Socket.IO
// relay the demo starts. Both edit and converge; a conflict made while one is offline
// converges, its history showing both edits; the time-travel slider shows an old state; the
// exported log replays on a fresh board; a screenshot of each board is saved to
// artifacts/demo.png and artifacts/demo-peer.png.
//
// Needs pkg/ built (scripts/demo-test.sh builds it first).

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
async function openBoard(user, board = 'e2e', adapter = 'socketio') {
  const context = await browser.newContext({ viewport: VIEWPORT });
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
  await page.goto(`${demo.url}?user=${user}&board=${board}&adapter=${adapter}`, { waitUntil: 'load', timeout: WAIT });
  await page.evaluate(() => window.board.ready);
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
      activity: window.board.state.activity.slice(0, 8).map((a) => a.text),
    }));
  return `A: ${JSON.stringify(await rows(A))} ${JSON.stringify(await info(A))}\nB: ${JSON.stringify(await rows(B))} ${JSON.stringify(await info(B))}`;
}

test('scripts/demo.sh --check starts everything, fetches the page and exits 0', { timeout: 90_000 }, async () => {
  const { code, output } = await runDemo(['--check', '--port', '0'], { untilExit: true });
  assert.equal(code, 0, output);
  assert.match(output, /demo: check passed/);
  assert.match(output, /ok {3}Socket\.IO relay/);
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

  await step('the board opens with the socketio adapter and the timestamp strategy', async () => {
    for (const page of [A, B]) {
      assert.match(await page.textContent('[data-testid=adapter]'), /socketio/);
      assert.match(await page.textContent('[data-testid=strategy]'), /timestamp/);
    }
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

  await step('the exported log replays on a fresh board', async () => {
    const [download] = await Promise.all([
      A.waitForEvent('download', { timeout: WAIT }),
      A.click('[data-testid=export]'),
    ]);
    assert.match(download.suggestedFilename(), /^auroradb-e2e-.*\.aurlog$/);
    const file = join(tmpdir(), `auroradb-demo-${process.pid}.aurlog`);
    await download.saveAs(file);
    try {
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
    } finally {
      rmSync(file, { force: true });
    }
  });

  await t.test('screenshots of both boards are saved', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await A.waitForTimeout(1500); // let the highlight of fresh edits fade
    await A.screenshot({ path: join(ARTIFACTS, 'demo.png'), fullPage: true });
    await B.screenshot({ path: join(ARTIFACTS, 'demo-peer.png'), fullPage: true });
  });

  await t.test('no page errors', () => {
    assert.deepEqual([...A.errors, ...B.errors], []);
  });
});
