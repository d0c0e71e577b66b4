// Several tabs of one browser writing one database at once: two pages of one browser context
// (pages/tabs.html) write interleaved, each over a thousand awaited plain writes, some of them to
// keys both write. No plain write may reject; every write must be present in both pages, in the
// `change` events of the other page (with `source: 'tab'`), and after a reopen; `verify()` holds.
// Each tab writes as an author slot of its own: a reopen keeps its author, a closed tab's is
// taken by the next one.
//
// Needs the built API in pkg/ (./scripts/build-web.sh); ./scripts/web-test.sh does it all.

import test from 'node:test';
import assert from 'node:assert/strict';
import { browserSuite } from './harness.mjs';

/** Awaited `put`s of own keys per page; with the other writes, about 1,320 writes a page. */
const WRITES = 1000;

const suite = browserSuite();

/** Opens pages/tabs.html on database `name` in `context`, ready to be driven. */
async function openTab(context, name) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${suite.server.origin}/tabs.html?db=${name}`, { waitUntil: 'load' });
  await page
    .waitForFunction(() => window.__ready, null, { timeout: 60_000, polling: 50 })
    .catch((e) => {
      throw new Error(`tabs.html did not open: ${e.message.split('\n')[0]}; page errors: ${errors.join('; ')}`);
    });
  return { page, errors };
}

/** Runs `f` with a new browser context of the suite's browser, closed after it. */
async function inContext(f) {
  const context = await suite.browser.newContext();
  try {
    return await f(context);
  } finally {
    await context.close();
  }
}

/**
 * Takes the write lock of database `name` in `page` as another tab's instance would, and resolves
 * once it is held: kept for `ms` (for ever without it), and with `beating`, said on the writers'
 * channel every second while held, as the engine's holders say it.
 */
async function holdLock(page, name, { ms = null, beating = false } = {}) {
  await page.evaluate(
    ([name, ms, beating]) =>
      new Promise((granted) => {
        navigator.locks.request(`auroradb:${name}`, async () => {
          const writers = beating ? new BroadcastChannel(`auroradb-writers:${name}`) : null;
          writers?.postMessage('holding');
          const beat = writers && setInterval(() => writers.postMessage('holding'), 1000);
          granted();
          await new Promise((r) => ms !== null && setTimeout(r, ms));
          clearInterval(beat);
          writers?.close();
        });
      }),
    [name, ms, beating],
  );
}

/** `n` pages of `context` on pages/storage.html (the API, nothing opened). */
async function storagePages(context, n) {
  const pages = [];
  for (let i = 0; i < n; i++) {
    const page = await context.newPage();
    await page.goto(`${suite.server.origin}/storage.html`, { waitUntil: 'load' });
    pages.push(page);
  }
  return pages;
}

/** The keys `who` wrote and kept (its own keys; the scratch key was removed). */
function ownKeys(who) {
  const keys = [];
  for (let i = 0; i < WRITES; i++) {
    keys.push(`${who}:${i}`);
    if (i % 50 === 0) keys.push(`${who}:b${i}`, `${who}:c${i}`);
  }
  return keys;
}

/** Two pages of `context` write database `name` at once, then the checks; resolves to the page that reopened it. */
async function twoTabs(context, name) {
  const a = await openTab(context, name);
  const b = await openTab(context, name);
  const [ra, rb] = await Promise.all([
    a.page.evaluate((n) => window.tab.write('a', n), WRITES),
    b.page.evaluate((n) => window.tab.write('b', n), WRITES),
  ]);
  const rejected = [...ra.rejected, ...rb.rejected];
  const catchUps = (await Promise.all([a, b].map((t) => t.page.evaluate(() => window.tab.stats().catchUps)))).reduce(
    (x, y) => x + y,
  );
  console.log(`# ${name}: writes a ${ra.writes}, b ${rb.writes}; rejected ${rejected.length}; catch-ups ${catchUps}`);
  assert.deepEqual(
    rejected,
    [],
    `${rejected.length} of ${ra.writes + rb.writes} plain writes rejected: ${JSON.stringify(rejected.slice(0, 3))}`,
  );

  // Each page sees every write of the other (told through the tab channel).
  const keys = [...ownKeys('a'), ...ownKeys('b')];
  for (const [who, tab] of [
    ['a', a],
    ['b', b],
  ]) {
    const missing = await tab.page.evaluate(([k, ms]) => window.tab.await(k, ms), [keys, 30_000]);
    assert.deepEqual(missing.slice(0, 10), [], `page ${who} misses ${missing.length} keys`);
  }
  const [recA, recB] = [
    await a.page.evaluate(() => window.tab.records()),
    await b.page.evaluate(() => window.tab.records()),
  ];
  assert.deepEqual(recA, recB, 'both pages hold the same records');
  assert.equal(recA.length, keys.length + 20, 'own keys of both and the 20 shared keys, no scratch key');
  for (const [k, v] of recA.filter(([k]) => !k.startsWith('shared:'))) {
    const [who, rest] = k.split(':');
    assert.equal(v.who, who, `${k} holds ${JSON.stringify(v)}`);
    assert.equal(v.i, Number(rest.replace(/^[bc]/, '')), `${k} holds ${JSON.stringify(v)}`);
  }

  // Each page heard every key the other wrote as a change from another tab, never as its own.
  for (const [who, other, tab] of [
    ['a', 'b', a],
    ['b', 'a', b],
  ]) {
    const heard = await tab.page.evaluate(() => window.tab.heard());
    const fromTab = new Set(heard.filter((h) => h.source === 'tab').map((h) => h.key));
    const unheard = ownKeys(other).filter((k) => !fromTab.has(k));
    assert.deepEqual(
      unheard.slice(0, 10),
      [],
      `page ${who} heard no 'tab' change for ${unheard.length} keys of ${other}`,
    );
    const wrongSource = heard.filter((h) => h.source !== 'tab' && h.key.startsWith(`${other}:`));
    assert.deepEqual(
      wrongSource.slice(0, 10),
      [],
      `page ${who} announced ${wrongSource.length} changes of ${other} as its own`,
    );
  }

  for (const tab of [a, b]) {
    const v = await tab.page.evaluate(() => window.tab.verify());
    assert.equal(v.ok, true);
    assert.equal(v.authors, 2);
    await tab.page.evaluate(() => window.tab.close());
    assert.deepEqual(tab.errors, []);
  }

  // Reopened by a new page: the same records, a log that verifies.
  const c = await openTab(context, name);
  assert.deepEqual(await c.page.evaluate(() => window.tab.records()), recA, 'the same records after a reopen');
  const v = await c.page.evaluate(() => window.tab.verify());
  assert.equal(v.ok, true);
  assert.equal(v.ops, ra.writes + rb.writes, 'one op per write');
  assert.deepEqual(c.errors, []);
  return c;
}

test('two tabs writing one database at once: no plain write rejects, nothing is lost', {
  timeout: 600_000,
}, async () => {
  await inContext(async (context) => {
    const c = await twoTabs(context, 'tabs');
    assert.equal(await c.page.evaluate(() => typeof navigator.locks?.request), 'function', 'with Web Locks');
  });
});

test('without Web Locks, writes that lose to another tab back off and retry: none rejects', {
  timeout: 600_000,
}, async () => {
  await inContext(async (context) => {
    // As in a browser without the API: every page of this context sees no navigator.locks.
    await context.addInitScript(() => {
      Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined, configurable: true });
    });
    const c = await twoTabs(context, 'tabs-unlocked');
    assert.equal(await c.page.evaluate(() => navigator.locks), undefined, 'without Web Locks');
  });
});

test("a tab that holds the lock and never lets go delays the other tabs' writes, never stops them", {
  timeout: 300_000,
}, async () => {
  await inContext(async (context) => {
    const a = await openTab(context, 'tabs-stuck');
    const b = await openTab(context, 'tabs-stuck');
    // As a page suspended while it holds the lock would: page a takes it and keeps it.
    await holdLock(a.page, 'tabs-stuck');
    const [ra, rb] = await Promise.all([
      a.page.evaluate(() => window.tab.write('a', 1)),
      b.page.evaluate(() => window.tab.write('b', 1)),
    ]);
    assert.deepEqual([...ra.rejected, ...rb.rejected], []);
    const keys = ['a:0', 'a:b0', 'a:c0', 'b:0', 'b:b0', 'b:c0', 'shared:0'];
    for (const tab of [a, b]) {
      assert.deepEqual(await tab.page.evaluate(([k, ms]) => window.tab.await(k, ms), [keys, 30_000]), []);
      assert.equal((await tab.page.evaluate(() => window.tab.verify())).ok, true);
    }
    assert.deepEqual([...a.errors, ...b.errors], []);
  });
});

test('a write waits for the lock as long as its holder says it lives, and goes once it is let go', {
  timeout: 120_000,
}, async () => {
  await inContext(async (context) => {
    const a = await openTab(context, 'tabs-beating');
    const b = await openTab(context, 'tabs-beating');
    // Page a holds the lock for 10 s, saying so on the writers' channel every second, as an
    // instance holding it for a long read or a large write does.
    await holdLock(a.page, 'tabs-beating', { ms: 10_000, beating: true });
    await b.page.waitForTimeout(200);
    const ms = await b.page.evaluate(() => window.tab.put('late', 1));
    // Going without the lock after 5 s, as it does for a silent holder, would have taken 5 s.
    assert.ok(ms >= 9_000, `the write waited for the live holder: ${Math.round(ms)} ms`);
    assert.deepEqual(await a.page.evaluate((k) => window.tab.await(k, 5_000), ['late']), []);
    assert.equal((await b.page.evaluate(() => window.tab.verify())).ok, true);
    assert.deepEqual([...a.errors, ...b.errors], []);
  });
});

test('an instance alone posts no tab notes; one that opens later hears of every write, also those made before it was known', {
  timeout: 120_000,
}, async () => {
  await inContext(async (context) => {
    const a = await openTab(context, 'tabs-notes');
    // A listener that never says hello: what page a's instance posts on the tab channel.
    await a.page.evaluate(() => {
      window.notes = [];
      const channel = new BroadcastChannel('auroradb:tabs-notes');
      channel.onmessage = (e) => window.notes.push(Object.keys(e.data).filter((k) => k !== 'from'));
    });
    assert.deepEqual((await a.page.evaluate(() => window.tab.write('a', 1))).rejected, []);
    await a.page.waitForTimeout(200);
    assert.deepEqual(await a.page.evaluate(() => window.notes), [], 'alone, no notes');

    // Page b opens while page a writes on: whatever a wrote before it heard b's hello, b catches
    // up with, and announces as another tab's change.
    const b = await openTab(context, 'tabs-notes');
    assert.deepEqual((await a.page.evaluate(() => window.tab.write('a2', 1))).rejected, []);
    const keys = ['a:0', 'a:b0', 'a:c0', 'a2:0', 'a2:b0', 'a2:c0', 'shared:0'];
    assert.deepEqual(await b.page.evaluate(([k, ms]) => window.tab.await(k, ms), [keys, 30_000]), []);
    const heard = await b.page.evaluate(() => window.tab.heard());
    const fromTab = new Set(heard.filter((h) => h.source === 'tab').map((h) => h.key));
    for (const k of ['a2:0', 'a2:b0', 'a2:c0']) assert.ok(fromTab.has(k), `page b heard ${k} from a tab`);
    // Page a heard b's hello and answered it, and announces its writes from then on.
    const notes = (await a.page.evaluate(() => window.notes)).flat();
    assert.ok(notes.includes('hello') && notes.includes('present'), JSON.stringify(notes));
    assert.deepEqual([...a.errors, ...b.errors], []);
  });
});

test('the clock set back an hour after one tab wrote: the other catches up and writes after it', {
  timeout: 120_000,
}, async () => {
  await inContext(async (context) => {
    // Every page's Date.now() follows window.__clockOffset, as the system clock would.
    await context.addInitScript(() => {
      const now = Date.now.bind(Date);
      window.__clockOffset = 0;
      Date.now = () => now() + window.__clockOffset;
    });
    const a = await openTab(context, 'tabs-clock');
    const b = await openTab(context, 'tabs-clock');
    assert.deepEqual((await a.page.evaluate(() => window.tab.write('a', 1))).rejected, []);
    for (const t of [a, b]) await t.page.evaluate(() => (window.__clockOffset = -3_600_000));
    // Page b has not seen page a's writes: its write catches up with them first. That catch-up
    // once failed with ClockDriftError (page a's ops an hour ahead of page b's clock), and so
    // did every write of page b until the clock caught up.
    assert.deepEqual((await b.page.evaluate(() => window.tab.write('b', 1))).rejected, []);
    assert.deepEqual((await a.page.evaluate(() => window.tab.write('a2', 1))).rejected, []);
    // Both wrote `shared:0`, page b after page a, then page a again: the last write wins.
    const shared = async (t) => (await t.page.evaluate(() => window.tab.records())).find(([k]) => k === 'shared:0');
    assert.deepEqual(await shared(b), ['shared:0', { who: 'a2', i: 0 }]);
    assert.deepEqual(await shared(a), ['shared:0', { who: 'a2', i: 0 }]);
    for (const t of [a, b]) assert.equal((await t.page.evaluate(() => window.tab.verify())).ok, true);
    assert.deepEqual([...a.errors, ...b.errors], []);
  });
});

/** Resolves once no page of `page`'s origin holds Web Lock `name` (or after 10 s). */
async function released(page, name) {
  await page.waitForFunction(async (n) => !(await navigator.locks.query()).held.some((l) => l.name === n), name, {
    timeout: 10_000,
    polling: 50,
  });
}

test('each tab writes as an author of its own; a reopen keeps it, a closed tab leaves it to the next', {
  timeout: 300_000,
}, async () => {
  const context = await suite.browser.newContext();
  const name = 'tabs-authors';
  try {
    const a = await openTab(context, name);
    const b = await openTab(context, name);
    const [first, second] = [
      await a.page.evaluate(() => window.tab.author()),
      await b.page.evaluate(() => window.tab.author()),
    ];
    assert.equal(first.stats, first.identity, 'getStats() and getIdentity() name one author');
    assert.notEqual(first.stats, second.stats, 'two tabs open at once: two authors');

    // Both write interleaved: nothing is lost, and each chain is its author's.
    const [ra, rb] = await Promise.all([
      a.page.evaluate(() => window.tab.write('a', 60)),
      b.page.evaluate(() => window.tab.write('b', 60)),
    ]);
    assert.deepEqual([...ra.rejected, ...rb.rejected], []);
    const keys = [...ownKeys('a').filter((k) => Number(k.split(':')[1].replace(/^[bc]/, '')) < 60)];
    keys.push(...keys.map((k) => k.replace(/^a:/, 'b:')));
    for (const tab of [a, b]) {
      assert.deepEqual(await tab.page.evaluate(([k, ms]) => window.tab.await(k, ms), [keys, 30_000]), []);
    }
    const v = await a.page.evaluate(() => window.tab.verify());
    assert.deepEqual(v, { ok: true, ops: ra.writes + rb.writes, authors: 2 });

    // close() and open again in the same page: the same author.
    assert.deepEqual(await b.page.evaluate(() => window.tab.reopen()), second);

    // A closed page leaves its author to the next page; the other page keeps its own.
    await a.page.close();
    await released(b.page, `auroradb-author/0:${name}`);
    const c = await openTab(context, name);
    assert.deepEqual(await c.page.evaluate(() => window.tab.author()), first);
    await c.page.evaluate(() => window.tab.write('c', 1));
    const after = await c.page.evaluate(() => window.tab.verify());
    assert.deepEqual(after, { ok: true, ops: ra.writes + rb.writes + 5, authors: 2 });
    assert.deepEqual([...a.errors, ...b.errors, ...c.errors], []);
  } finally {
    await context.close();
  }
});

test('tabs that open a new database at the same moment all open it, each as an author of its own', {
  timeout: 300_000,
}, async () => {
  const context = await suite.browser.newContext();
  const name = 'tabs-at-once';
  const who = ['p', 'q', 'r', 's'];
  try {
    // The first open makes the database and reads nothing of it; the others wait for its
    // upgrade, read, and write their identities and the schema at the same time as it does.
    const tabs = await Promise.all(who.map(() => openTab(context, name)));
    const authors = await Promise.all(tabs.map((t) => t.page.evaluate(() => window.tab.author().stats)));
    assert.equal(new Set(authors).size, who.length, `four tabs, four authors: ${authors}`);
    const results = await Promise.all(tabs.map((t, i) => t.page.evaluate((w) => window.tab.write(w, 8), who[i])));
    assert.deepEqual(
      results.flatMap((r) => r.rejected),
      [],
    );
    const keys = who.flatMap((w) => [...Array(8).keys()].map((i) => `${w}:${i}`));
    for (const tab of tabs) {
      assert.deepEqual(await tab.page.evaluate(([k, ms]) => window.tab.await(k, ms), [keys, 30_000]), []);
    }
    const v = await tabs[0].page.evaluate(() => window.tab.verify());
    const ops = results.reduce((n, r) => n + r.writes, 0);
    assert.deepEqual(v, { ok: true, ops, authors: who.length });
    assert.deepEqual(
      tabs.flatMap((t) => t.errors),
      [],
    );
  } finally {
    await context.close();
  }
});

test('a tab configured with another strategy is refused while another is open; a new version closes the others and rebuilds', {
  timeout: 120_000,
}, async () => {
  await inContext(async (context) => {
    const [a, b] = await storagePages(context, 2);
    await a.evaluate(async () => {
      window.db = new AuroraDB({ name: 'rules' });
      window.closes = [];
      window.db.addEventListener('close', (e) => window.closes.push(e.detail.reason));
      await window.db.create();
      await window.db.put('k', { v: 1 });
    });
    const opened = (config) =>
      b.evaluate(async (config) => {
        const db = new AuroraDB(config);
        try {
          await db.create();
        } catch (e) {
          return { error: e.name, message: e.message };
        }
        window.db = db;
        return { keys: await db.keys(), strategy: db.getStats().syncStrategy, verify: (await db.verify()).ok };
      }, config);
    const refused = await opened({ name: 'rules', syncStrategy: 'local-wins' });
    assert.equal(refused.error, 'InvalidConfigError', JSON.stringify(refused));
    assert.match(refused.message, /open elsewhere with the "timestamp" strategy.*raise version/);
    // The first tab goes on as before.
    assert.equal(await a.evaluate(() => window.db.put('j', { v: 2 }).then(() => 'ok')), 'ok');

    const changed = await opened({ name: 'rules', version: 2, syncStrategy: 'local-wins' });
    assert.deepEqual(changed, { keys: ['j', 'k'], strategy: 'local-wins', verify: true });
    // The first tab's connection was closed by the new version: it writes nothing under the old
    // strategy, and cannot reopen with the old version.
    const first = await a.evaluate(async () => ({
      closes: window.closes,
      put: await window.db.put('x', 1).then(
        () => 'ok',
        (e) => e.name,
      ),
      reopen: await new AuroraDB({ name: 'rules' }).create().then(
        () => 'ok',
        (e) => e.name,
      ),
    }));
    assert.deepEqual(first, { closes: ['versionchange'], put: 'DatabaseClosedError', reopen: 'InvalidConfigError' });
  });
});

test('indexes change only with a new version: another tab cannot open at the same one with them made unique', {
  timeout: 60_000,
}, async () => {
  await inContext(async (context) => {
    const [a, b] = await storagePages(context, 2);
    await a.evaluate(async () => {
      window.db = new AuroraDB({ name: 'same-version', version: 1, indexes: ['a'] });
      await window.db.create();
      await window.db.put('x', { a: 1, 'first name': 'N' });
    });
    const r = await b.evaluate(async () => {
      const tried = {};
      for (const [what, indexes] of [
        ['unique', [{ name: 'a', unique: true }]],
        ['named', ['a', 'first name']],
        ['none', []],
      ]) {
        const db = new AuroraDB({ name: 'same-version', version: 1, indexes });
        tried[what] = await db.create().then(
          async () => {
            await db.close();
            return 'opened';
          },
          (e) => `${e.name}: ${e.message}`,
        );
      }
      return tried;
    });
    for (const [what, outcome] of Object.entries(r)) {
      assert.match(outcome, /^InvalidConfigError: .*raise `?version/, `${what}: ${outcome}`);
    }
    // The first tab writes on under the index it has.
    assert.equal(await a.evaluate(() => db.put('y', { a: 1 }).then(() => 'ok')), 'ok');
  });
});

test('a new version that makes an index unique over records sharing a value is refused and keeps them; fixed, it opens', {
  timeout: 120_000,
}, async () => {
  await inContext(async (context) => {
    const [a, b] = await storagePages(context, 2);
    await a.evaluate(async () => {
      window.db = new AuroraDB({ name: 'made-unique', version: 1, indexes: ['g'] });
      await window.db.create();
      await window.db.db.batchSet([
        ['x', { g: 1, email: 'dup' }],
        ['y', { g: 2, email: 'dup' }],
        ['z', { g: 3, email: 'z' }],
      ]);
    });
    const r = await b.evaluate(async () => {
      const unique = { name: 'made-unique', version: 2, indexes: ['g', { name: 'email', unique: true }] };
      const errors = [];
      const refused = new AuroraDB(unique);
      refused.addEventListener('error', (e) => errors.push(e.detail.error.name));
      const error = await refused.create().then(
        () => null,
        (e) => ({ name: e.name, index: e.index, key: e.key, existingKey: e.existingKey, message: e.message }),
      );
      // The records are as they were; open without the index unique, they are fixed...
      const plain = new AuroraDB({ ...unique, indexes: ['g', 'email'] });
      await plain.create();
      const kept = (await plain.findBy('email', 'dup')).length;
      await plain.put('y', { g: 2, email: 'y' });
      await plain.close();
      // ...and the upgrade goes through at the next version (indexes change only with one), its
      // index enforced.
      const db = new AuroraDB({ ...unique, version: 3 });
      await db.create();
      const violation = await db.put('w', { email: 'z' }).then(
        () => 'stored',
        (e) => e.name,
      );
      const keys = await db.keys();
      await db.close();
      return { error, errors, kept, violation, keys };
    });
    assert.equal(r.error?.name, 'UniqueConstraintError', JSON.stringify(r.error));
    assert.deepEqual([r.error.index, r.error.key, r.error.existingKey], ['email', 'y', 'x']);
    assert.match(r.error.message, /unique index "email"/);
    assert.deepEqual(r.errors, ['UniqueConstraintError'], 'the refusal is an error event too');
    assert.equal(r.kept, 2);
    assert.equal(r.violation, 'UniqueConstraintError');
    assert.deepEqual(r.keys, ['x', 'y', 'z']);
    // The first tab was closed by the new version, as any upgrade closes the tabs at the older.
    assert.equal(
      await a.evaluate(() =>
        db.put('q', 1).then(
          () => 'ok',
          (e) => e.name,
        ),
      ),
      'DatabaseClosedError',
    );
  });
});

test("past cacheSize, another tab's removes of records this one does not hold are heard as deletes", {
  timeout: 120_000,
}, async () => {
  await inContext(async (context) => {
    const [a, b] = await storagePages(context, 2);
    await a.evaluate(async () => {
      window.db = new AuroraDB({ name: 'unheld', cacheSize: 5 });
      hear(window.db);
      await window.db.create();
      for (let i = 0; i < 20; i++) await window.db.put(`k${i}`, i);
    });
    await b.evaluate(async () => {
      const db = new AuroraDB({ name: 'unheld', cacheSize: 5 });
      await db.create();
      await db.remove('k3');
      await db.transaction(async (tx) => {
        tx.remove('k4');
        tx.put('k20', 20);
      });
      await db.remove('never-written');
      await db.close();
    });
    const heard = await a.evaluate(async () => {
      for (let t = 0; t < 100 && window.heard.filter(([source]) => source === 'tab').length < 3; t++)
        await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300));
      return window.heard.filter(([source]) => source === 'tab').sort();
    });
    assert.deepEqual(heard, [
      ['tab', 'delete', 'k3'],
      ['tab', 'delete', 'k4'],
      ['tab', 'set', 'k20'],
    ]);
    assert.equal(await a.evaluate(() => window.db.count()), 19);
  });
});

for (const back of [0, 3_600_000]) {
  const setBack = back ? ', its clock set back an hour' : '';
  test(`a commit another tab never told of (its note lost) is seen by the next call a second later${setBack}`, {
    timeout: 120_000,
  }, async () => {
    await inContext(async (context) => {
      const [a, b] = await storagePages(context, 2);
      await b.evaluate(async () => {
        window.db = new AuroraDB({ name: 'untold' });
        hear(window.db);
        await window.db.create();
        await window.db.put('b0', 0);
      });
      await a.evaluate(async () => {
        // As if this page went away before its notes could go out (a navigation right after a
        // commit): its commit notes are dropped, its hello is not.
        const post = BroadcastChannel.prototype.postMessage;
        BroadcastChannel.prototype.postMessage = function (message) {
          if (!message?.commit) post.call(this, message);
        };
        window.db = new AuroraDB({ name: 'untold' });
        await window.db.create();
        await new Promise((r) => setTimeout(r, 300));
      });
      await b.evaluate(async (back) => {
        // A call with the other tab about (it looks at the journal), then the wall clock set
        // back: the second until the next look is counted on a clock that does not go back.
        await new Promise((r) => setTimeout(r, 1100));
        await window.db.count();
        const now = Date.now;
        if (back) Date.now = () => now() - back;
      }, back);
      const told = await a.evaluate(async () => {
        await window.db.put('a0', 'untold');
        await window.db.transaction(async (tx) => {
          tx.put('a1', 'untold');
        });
        return window.db.count();
      });
      assert.equal(told, 3);
      const seen = await b.evaluate(async () => {
        await new Promise((r) => setTimeout(r, 1100));
        return {
          count: await window.db.count(),
          keys: await window.db.keys(),
          heard: window.heard.filter(([s]) => s === 'tab'),
        };
      });
      assert.deepEqual(seen, {
        count: 3,
        keys: ['a0', 'a1', 'b0'],
        heard: [
          ['tab', 'set', 'a0'],
          ['tab', 'set', 'a1'],
        ],
      });
    });
  });
}
