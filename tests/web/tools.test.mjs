// The log's tools on a local-only page: history, time travel (`at`, `diff`, `log`), `verify`,
// `exportLog` and `importLog` are left out of the local-only engine and run on a helper instance
// of the engine with sync, loaded on the first such call and kept while the database is open
// (web/js/auroradb.js, `_tool`). Checked
// here: the page loads the engine with sync only then; the tools see the writes called before
// them; the helper leaves no trace in the events (no `open` or `close` of its own, an import's
// changes once, with `source: 'import'`) nor in the author the page writes as; another tab hears
// of an import; a page that cannot load the engine with sync gets the failure and keeps working.
// Both builds are checked: the classic script and the ES module.

import test from 'node:test';
import assert from 'node:assert/strict';
import { browserSuite } from './harness.mjs';

const suite = browserSuite();

/**
 * Runs `f(...pages)` on `n` pages of one new browser context, each on pages/tools.html, then
 * checks that no page threw, and closes the context.
 */
async function onToolsPages(n, f) {
  const context = await suite.browser.newContext();
  try {
    const errors = [];
    const pages = [];
    for (let i = 0; i < n; i++) {
      const page = await context.newPage();
      page.on('pageerror', (err) => errors.push(err.message));
      await page.goto(`${suite.server.origin}/tools.html`, { waitUntil: 'load' });
      pages.push(page);
    }
    await f(...pages);
    assert.deepEqual(errors, [], 'page errors');
  } finally {
    await context.close();
  }
}

for (const esm of [false, true]) {
  const build = esm ? 'the ES module' : 'the classic script';

  test(`${build}: a local-only page runs the log's tools on the engine with sync, loaded for them`, {
    timeout: 90_000,
  }, async () => {
    await onToolsPages(1, async (page) => {
      const name = `tools-${esm}`;
      const r = await page.evaluate(([e, n]) => window.tools(e, n), [esm, name]);
      assert.deepEqual(
        r.before,
        ['/auroradb_core.js', '/auroradb_core_bg.wasm'],
        'the local-only engine alone at first',
      );
      assert.deepEqual(
        r.after,
        ['/auroradb_core.js', '/auroradb_core_bg.wasm', '/auroradb_sync.js', '/auroradb_sync_bg.wasm'],
        'the engine with sync once a tool is called',
      );
      // The two writes called (not awaited) before history() are in it.
      assert.deepEqual(r.history, [
        ['put', 1, 'superseded'],
        ['put', 2, 'current'],
      ]);
      assert.deepEqual(r.past, [{ id: 'a', n: 1 }, 1], 'the state at the time between the writes');
      assert.deepEqual(r.diff.added, [{ key: 'b', value: { id: 'b', n: 3 } }]);
      assert.deepEqual(r.diff.changed, [{ key: 'a', before: { id: 'a', n: 1 }, after: { id: 'a', n: 2 } }]);
      assert.deepEqual(r.diff.removed, []);
      assert.equal(r.logOps, 3);
      assert.equal(r.verified, true);
      assert.equal(r.author, r.authorAfter, 'the page writes as the same author');
      assert.deepEqual(r.later, [1, 2, 9], 'a write made after the helper opened is in its next answer');
      assert.equal(r.logAtClose, 4, 'a call made before close() finishes');
      assert.deepEqual(r.imported, { ops: 3, imported: 3 });
      assert.deepEqual(r.got, [
        { id: 'a', n: 2 },
        { id: 'b', n: 3 },
      ]);
      assert.equal(r.bad, 'CorruptDataError', 'a damaged file rejects with a named error');
      assert.equal(r.verifiedB, true);
      assert.equal(r.records, 3, 'the import and the write after it');
      // The helper's own open and close are not seen; its failure is, once.
      assert.deepEqual(r.eventsA, [
        'open',
        'set:local',
        'change:local',
        'set:local',
        'change:local',
        'set:local',
        'change:local',
        'set:local',
        'change:local',
        'close',
      ]);
      assert.deepEqual(r.eventsB, [
        'open',
        'set:import',
        'set:import',
        'set:import',
        'change:import',
        'error:importLog:CorruptDataError',
        'set:local',
        'change:local',
        'close',
      ]);
    });
  });
}

test('another tab hears of an import made through the helper', { timeout: 90_000 }, async () => {
  await onToolsPages(2, async (other, page) => {
    await other.evaluate((n) => window.listen(n), 'tools-tab-b');
    await page.evaluate((n) => window.tools(false, n), 'tools-tab');
    await other.waitForFunction(() => window.heard.includes('change:tab'), null, { timeout: 20_000 });
    const seen = await other.evaluate(async () => ({
      a: await window.listening.get('a'),
      count: await window.listening.count(),
      verified: (await window.listening.verify()).ok,
    }));
    assert.deepEqual(seen, { a: { id: 'a', n: 2 }, count: 3, verified: true });
  });
});

test('a page that cannot load the engine with sync gets the failure, keeps working, and tries again', {
  timeout: 90_000,
}, async () => {
  await onToolsPages(1, async (page) => {
    await page.route(/auroradb_sync/, (route) => route.abort());
    const first = await page.evaluate(async () => {
      const db = new AuroraDB({ name: 'tools-offline', keyPath: 'id' });
      window.offline = db;
      await db.add({ id: 'a', n: 1 });
      let failed = null;
      try {
        await db.history('a');
      } catch (e) {
        failed = e instanceof Error;
      }
      await db.add({ id: 'b', n: 2 });
      return { failed, count: await db.count() };
    });
    assert.deepEqual(first, { failed: true, count: 2 });
    await page.unroute(/auroradb_sync/);
    const again = await page.evaluate(async () => {
      const h = await window.offline.history('b');
      const v = await window.offline.verify();
      await window.offline.destroy();
      return { history: h.length, ok: v.ok };
    });
    assert.deepEqual(again, { history: 1, ok: true });
  });
});

test("a local-only page refuses a file of its own author's ops that it never wrote, as a distributed one does", {
  timeout: 90_000,
}, async () => {
  await onToolsPages(1, async (page) => {
    const r = await page.evaluate(async () => {
      // The page's database writes as its author slot's identity (and has written nothing yet);
      // another database given the same secret key makes an op in that author's name.
      const own = new AuroraDB({ name: 'own-author' });
      await own.create();
      const { secretKey } = own.getIdentity();
      const other = new AuroraDB({ name: 'own-author-elsewhere', identity: secretKey });
      await other.create();
      await other.put('elsewhere', 2);
      const file = await other.exportLog();
      const sameAuthor = other.getStats().author === own.getStats().author;
      await other.destroy();
      const before = { log: (await own.log()).length, all: await own.all() };
      const refused = await own.importLog(file).then(
        () => 'imported',
        (e) => e.name,
      );
      const after = { log: (await own.log()).length, all: await own.all() };
      await own.put('later', 3);
      const verified = (await own.verify()).ok;
      // A log() option that is not an object is refused, not taken as none.
      const badLog = await Promise.all(
        ['from-now', 5].map((o) =>
          own.log(o).then(
            () => 'resolved',
            (e) => e.name,
          ),
        ),
      );
      await own.destroy();
      return { sameAuthor, refused, before, after, verified, badLog };
    });
    assert.equal(r.sameAuthor, true);
    assert.equal(r.refused, 'BrokenChainError');
    assert.deepEqual(r.after, r.before, 'nothing of the file was taken in');
    assert.equal(r.verified, true);
    assert.deepEqual(r.badLog, ['InvalidInputError', 'InvalidInputError']);
  });
});

test("verify() and exportLog() are not fooled by the page's writes made while they read", {
  timeout: 120_000,
}, async () => {
  await onToolsPages(1, async (page) => {
    const r = await page.evaluate(async () => {
      const db = new AuroraDB({ name: 'tools-while-writing' });
      await db.create();
      const errors = [];
      db.addEventListener('error', (e) => errors.push(`${e.detail.operation}: ${e.detail.type}`));
      // The tools run on an instance of their own: the page's writes called after them commit
      // while they read.
      const outcomes = [];
      for (let round = 0; round < 10; round++) {
        for (const tool of ['verify', 'exportLog']) {
          const call = db[tool]().then(
            () => 'ok',
            (e) => `${e.name}: ${e.message}`,
          );
          const writes = Array.from({ length: 10 }, (_, i) => db.put(`mine-${i}`, { round }));
          outcomes.push(await call);
          await Promise.all(writes);
        }
      }
      const last = (await db.verify()).ok;
      await db.destroy();
      return { outcomes, errors, last };
    });
    assert.deepEqual([...new Set(r.outcomes)], ['ok'], JSON.stringify(r.outcomes.filter((o) => o !== 'ok')));
    assert.deepEqual(r.errors, []);
    assert.equal(r.last, true);
  });
});

test('verify(), exportLog() and history() are not fooled by another tab writing in a tight loop', {
  timeout: 180_000,
}, async () => {
  await onToolsPages(2, async (writer, page) => {
    const name = 'tools-tight-loop';
    await writer.evaluate(async (n) => {
      window.writer = new AuroraDB({ name: n });
      await window.writer.create();
      window.stop = false;
    }, name);
    // Awaited writes one after another, as fast as the tab can make them, until told to stop.
    const writing = writer.evaluate(async () => {
      let n = 0;
      const failures = [];
      while (!window.stop) {
        await window.writer.put(`k${n % 200}`, { n, pad: 'x'.repeat(n % 97) }).catch((e) => failures.push(e.name));
        n++;
      }
      return { n, failures };
    });
    const r = await page.evaluate(async (n) => {
      const db = new AuroraDB({ name: n });
      await db.create();
      const outcomes = [];
      for (let round = 0; round < 12; round++) {
        for (const tool of ['verify', 'exportLog', 'history']) {
          outcomes.push(
            await db[tool](`k${round}`).then(
              (v) => (tool === 'verify' && !v.ok ? `not ok: ${JSON.stringify(v)}` : 'ok'),
              (e) => `${tool}: ${e.name}: ${e.message}`,
            ),
          );
        }
      }
      return outcomes;
    }, name);
    await writer.evaluate(() => {
      window.stop = true;
    });
    const w = await writing;
    assert.ok(w.n > 100, `the other tab wrote ${w.n} times`);
    assert.deepEqual(w.failures, []);
    assert.deepEqual([...new Set(r)], ['ok'], JSON.stringify(r.filter((o) => o !== 'ok')));
    // The history rows the calls wrote while the other tab wrote miss none of its writes.
    const histories = await page.evaluate(async (n) => {
      const db = new AuroraDB({ name: n });
      await db.create();
      const lengths = [];
      for (const k of ['k0', 'k7', 'k11', 'k199']) lengths.push((await db.history(k)).length);
      await db.close();
      return lengths;
    }, name);
    const wrote = (k) => Math.floor((w.n - 1 - k) / 200) + 1;
    assert.deepEqual(histories, [wrote(0), wrote(7), wrote(11), wrote(199)]);
    const last = await writer.evaluate(async () => {
      const v = await window.writer.verify();
      await window.writer.destroy();
      return v.ok;
    });
    assert.equal(last, true);
  });
});

test('an instance closed while another tab writes dispatches no error of its own catch-ups', {
  timeout: 90_000,
}, async () => {
  await onToolsPages(2, async (writer, page) => {
    await writer.evaluate(async () => {
      window.writer = new AuroraDB({ name: 'closed-catch-up' });
      await window.writer.create();
    });
    const writing = writer.evaluate(async () => {
      let n = 0;
      const until = Date.now() + 4000;
      while (Date.now() < until) await window.writer.put(`k${n++ % 50}`, { n });
      return n;
    });
    const errors = await page.evaluate(async () => {
      const db = new AuroraDB({ name: 'closed-catch-up' });
      const seen = [];
      db.addEventListener('error', (e) => seen.push(`${e.detail.type} (${e.detail.operation})`));
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      for (let i = 0; i < 15; i++) {
        await db.create();
        await sleep(100);
        await db.close();
        await sleep(20);
      }
      await sleep(300);
      return seen;
    });
    assert.ok((await writing) > 0);
    assert.deepEqual(errors, []);
  });
});

test("an import with another tab open is dispatched as 'import', however long it took", {
  timeout: 90_000,
}, async () => {
  await onToolsPages(2, async (page, other) => {
    const name = 'import-source';
    const r = await page.evaluate(async (n) => {
      const source = new AuroraDB({ name: `${n}-source` });
      await source.create();
      await source.put('a', 1);
      await source.put('b', 2);
      const file = await source.exportLog();
      await source.destroy();
      window.db = new AuroraDB({ name: n });
      await window.db.create();
      return file.length;
    }, name);
    assert.ok(r > 0);
    await other.evaluate(async (n) => {
      window.tab = new AuroraDB({ name: n });
      await window.tab.create();
    }, name);
    const sources = await page.evaluate(async (n) => {
      // An import long enough (20,000 records) that this instance last looked at the journal
      // more than a second before the catch-up that follows it.
      const source = new AuroraDB({ name: `${n}-source-2` });
      await source.create();
      for (let b = 0; b < 4; b++) {
        await source.db.batchSet(
          Array.from({ length: 5000 }, (_, i) => [`r${b}-${i}`, { b, i, text: 'x'.repeat(40) }]),
        );
      }
      const file = await source.exportLog();
      await source.destroy();
      const seen = [];
      window.db.addEventListener('change', (e) => seen.push(e.detail.source));
      const started = performance.now();
      await window.db.importLog(file);
      return { seen, ms: performance.now() - started };
    }, name);
    assert.deepEqual(sources.seen, ['import'], `the import took ${Math.round(sources.ms)} ms`);
  });
});

test("an import's events are its changes, whatever records the page's instance holds", {
  timeout: 90_000,
}, async () => {
  await onToolsPages(1, async (page) => {
    const r = await page.evaluate(async () => {
      // A file's put of 'old' older than the page's own, and later a clear newer than them all.
      const source = new AuroraDB({ name: 'import-events-source' });
      await source.create();
      await source.put('old', 'from the file');
      const older = await source.exportLog();
      const out = {};
      for (const cacheSize of [0, 2, undefined]) {
        const config = { name: `import-events-${cacheSize}`, ...(cacheSize === undefined ? {} : { cacheSize }) };
        let db = new AuroraDB(config);
        await db.create();
        for (const [k, v] of [
          ['a', 1],
          ['b', 2],
          ['old', 'mine'],
        ])
          await db.put(k, v);
        await db.close();
        // A later millisecond: two databases' clocks know nothing of each other, and in the same
        // millisecond the page's last write could sort after the clear (its id's peer breaks the
        // tie), which then leaves it (seen once in a full run).
        await new Promise((r) => setTimeout(r, 5));
        await source.clear();
        const cleared = await source.exportLog();
        // Reopened: it holds no record.
        db = new AuroraDB(config);
        await db.create();
        const events = [];
        for (const type of ['set', 'delete', 'change']) {
          db.addEventListener(type, (e) =>
            events.push([type, e.detail.source, e.detail.key ?? e.detail.changes.map((c) => `${c.type} ${c.key}`)]),
          );
        }
        await db.importLog(older);
        const afterOlder = events.splice(0);
        const kept = await db.get('old');
        await db.importLog(cleared);
        out[String(cacheSize)] = { afterOlder, kept, afterClear: events.splice(0), left: await db.count() };
        await db.destroy();
      }
      await source.destroy();
      return out;
    });
    for (const [cacheSize, o] of Object.entries(r)) {
      assert.deepEqual(o.afterOlder, [], `cacheSize ${cacheSize}: an import that changes nothing dispatches nothing`);
      assert.equal(o.kept, 'mine', `cacheSize ${cacheSize}`);
      assert.deepEqual(
        o.afterClear,
        [
          ['delete', 'import', 'a'],
          ['delete', 'import', 'b'],
          ['delete', 'import', 'old'],
          ['change', 'import', ['delete a', 'delete b', 'delete old']],
        ],
        `cacheSize ${cacheSize}: the clear's deletes`,
      );
      assert.equal(o.left, 0);
    }
  });
});

test("an import's changes are the import's, however the page's instance came to catch up with it first", {
  timeout: 90_000,
}, async () => {
  await onToolsPages(2, async (page, other) => {
    const name = 'import-caught-first';
    const file = await page.evaluate(async (name) => {
      const source = new AuroraDB({ name: `${name}-source` });
      await source.create();
      await source.put('c', 3);
      const file = await source.exportLog();
      await source.destroy();
      window.db = new AuroraDB({ name });
      await db.create();
      await db.put('a', 1);
      // A first tool call opens the helper instance, which this page's instance hears of: from
      // then on, a call of this instance that has not looked for other tabs' commits for a
      // second looks first.
      await db.verify();
      return file;
    }, name);
    // Another tab on the same database, which commits while the import runs.
    await other.evaluate(async (name) => {
      window.db = new AuroraDB({ name });
      await db.create();
    }, name);
    await page.exposeFunction('otherWrites', () => other.evaluate(() => db.put('b', 2)));
    const r = await page.evaluate(async (file) => {
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const helper = await db._helping.opening;
      const importLog = helper.importLog.bind(helper);
      let counted;
      // Once the helper committed the import, and before the import resolves, this page's
      // instance catches up with it (and with the other tab's write) in a call of its own.
      helper.importLog = async (...args) => {
        const result = await importLog(...args);
        await window.otherWrites();
        counted = await db.count();
        return result;
      };
      const events = [];
      for (const type of ['set', 'delete', 'change']) {
        db.addEventListener(type, (e) =>
          events.push([type, e.detail.source, e.detail.key ?? e.detail.changes.map((c) => `${c.type} ${c.key}`)]),
        );
      }
      const imported = await db.importLog(file);
      return { imported, counted, events, keys: await db.keys() };
    }, file);
    assert.equal(r.counted, 3, "the count saw the import and the other tab's write");
    assert.deepEqual(r.events, [
      ['set', 'tab', 'b'],
      ['change', 'tab', ['set b']],
      ['set', 'import', 'c'],
      ['change', 'import', ['set c']],
    ]);
    assert.deepEqual(r.keys, ['a', 'b', 'c']);
  });
});
