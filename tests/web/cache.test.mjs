// The state on demand in the browser: create() of an existing database reads no record of the
// `state` store (the page counts every read request on it), a get reads its own record, at most
// `cacheSize` records stay in memory, and whatever is read (gets, filter, count, queries through
// an index) is right, also across two pages writing the same database. A `cacheSize` that is
// not a whole number from 0 is an InvalidConfigError.
//
// Needs the built API in pkg/ (./scripts/build-web.sh); ./scripts/web-test.sh does it all.

import test from 'node:test';
import assert from 'node:assert/strict';
import { browserSuite } from './harness.mjs';

const suite = browserSuite();

/** A page of the storage helpers that counts the read requests made on the `state` store. */
async function countingPage(context) {
  const page = await context.newPage();
  await page.addInitScript(() => {
    window.stateReads = 0;
    for (const method of ['get', 'getAll', 'getAllKeys', 'openCursor', 'openKeyCursor']) {
      const original = IDBObjectStore.prototype[method];
      IDBObjectStore.prototype[method] = function (...args) {
        if (this.name === 'state') window.stateReads++;
        return original.apply(this, args);
      };
    }
  });
  await page.goto(`${suite.server.origin}/storage.html`, { waitUntil: 'load' });
  return page;
}

test('create() reads no record, a get reads its own, and every read is right', async () => {
  const context = await suite.browser.newContext();
  try {
    const page = await countingPage(context);
    const out = await page.evaluate(async () => {
      const config = { name: 'cache', cacheSize: 20, indexes: ['group'] };
      const first = new AuroraDB(config);
      await first.create();
      await first.db.batchSet(Array.from({ length: 300 }, (_, i) => [`k${i}`, { n: i, group: i % 7 }]));
      await first.remove('k5');
      await first.close();

      const db = new AuroraDB(config);
      window.stateReads = 0;
      await db.create();
      const count = await db.count();
      const atOpen = window.stateReads;
      const k9 = await db.get('k9');
      const k5 = await db.get('k5');
      const afterGets = window.stateReads;
      const sevens = (await db.findBy('group', 3)).length;
      const big = (await db.filter((v) => v.n >= 290)).length;
      await db.add('k5', { n: 5, group: 5 });
      const gets = [];
      for (let i = 0; i < 300; i += 17) gets.push((await db.get(`k${i}`)).n);
      const all = await db.all();
      const stats = db.getStats();
      const summed = all.reduce((s, v) => s + v.n, 0);
      await db.destroy();
      return { count, atOpen, k9, k5, afterGets, sevens, big, gets, summed, records: stats.records };
    });
    assert.equal(out.count, 299);
    assert.equal(out.atOpen, 0, 'create() and count() read no state record');
    assert.deepEqual([out.k9, out.k5], [{ n: 9, group: 2 }, undefined]);
    assert.equal(out.afterGets, 2, 'each get read its record');
    assert.equal(out.sevens, 43);
    assert.equal(out.big, 10);
    assert.deepEqual(
      out.gets,
      Array.from({ length: 18 }, (_, j) => j * 17),
    );
    assert.equal(out.summed, (299 * 300) / 2);
    assert.equal(out.records, 300);
  } finally {
    await context.close();
  }
});

test("two pages with small caches see each other's writes", async () => {
  const context = await suite.browser.newContext();
  try {
    const [a, b] = [await countingPage(context), await countingPage(context)];
    const open = (page, cacheSize) =>
      page.evaluate(async (cacheSize) => {
        window.db = new AuroraDB({ name: 'cache-tabs', cacheSize });
        await window.db.create();
      }, cacheSize);
    await open(a, 3);
    await a.evaluate(() => window.db.db.batchSet(Array.from({ length: 50 }, (_, i) => [`k${i}`, i])));
    await open(b, 0);
    for (let round = 0; round < 5; round++) {
      await a.evaluate((r) => Promise.all([window.db.add(`k${r}`, -r), window.db.add(`a${r}`, r)]), round);
      await b.evaluate(
        (r) => Promise.all([window.db.add(`k${10 + r}`, -10 - r), window.db.remove(`k${20 + r}`)]),
        round,
      );
    }
    const want = { got: [-1, -4, -12, undefined, 30, 3], count: 50, all: 50 };
    // What the other page wrote arrives through the tab channel: read until it has (5 s at most).
    const read = (page) =>
      page.evaluate(async (want) => {
        const keys = ['k1', 'k4', 'k12', 'k22', 'k30', 'a3'];
        let seen;
        for (let tries = 0; tries < 100; tries++) {
          const got = [];
          for (const k of keys) got.push(await window.db.get(k));
          seen = { got, count: await window.db.count(), all: (await window.db.all()).length };
          if (JSON.stringify(seen) === JSON.stringify(want)) break;
          await new Promise((ok) => setTimeout(ok, 50));
        }
        return seen;
      }, want);
    assert.deepEqual(await read(a), want);
    assert.deepEqual(await read(b), want);
    const verified = await b.evaluate(async () => (await window.db.verify()).ops > 0);
    assert.equal(verified, true);
    await a.evaluate(() => window.db.close());
    await b.evaluate(() => window.db.destroy());
  } finally {
    await context.close();
  }
});

test('a cacheSize that is not a whole number from 0 is an InvalidConfigError', async () => {
  const context = await suite.browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${suite.server.origin}/storage.html`, { waitUntil: 'load' });
    const out = await page.evaluate(async () => {
      const results = [];
      for (const cacheSize of [-1, 1.5, 'many', Number.NaN]) {
        results.push(await attempt(() => new AuroraDB({ name: 'bad-cache', cacheSize }).create()));
      }
      return results;
    });
    for (const o of out) assert.equal(o.error, 'InvalidConfigError', JSON.stringify(o));
  } finally {
    await context.close();
  }
});
