// The `durability` option reaches every IndexedDB transaction that writes: the page records the
// options of each `IDBDatabase.transaction(stores, 'readwrite', options)` call. The default is
// 'relaxed'; a value other than 'strict' or 'relaxed' is an InvalidConfigError from create().
//
// Needs the built API in pkg/ (./scripts/build-web.sh); ./scripts/web-test.sh does it all.

import test from 'node:test';
import assert from 'node:assert/strict';
import { browserSuite } from './harness.mjs';

const suite = browserSuite();

/** Opens a database with `options`, writes, and resolves to the durability of each readwrite transaction. */
async function durabilities(options) {
  const context = await suite.browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${suite.server.origin}/storage.html`, { waitUntil: 'load' });
    return await page.evaluate(async (options) => {
      const seen = [];
      const transaction = IDBDatabase.prototype.transaction;
      IDBDatabase.prototype.transaction = function (stores, mode, ...rest) {
        if (mode === 'readwrite') seen.push(rest[0]?.durability ?? 'none');
        return transaction.call(this, stores, mode, ...rest);
      };
      const db = new AuroraDB({ name: 'durability', checkpointEvery: 2, ...options });
      await db.create();
      await db.add('a', 1);
      await db.transaction(async (tx) => {
        tx.entries.b = 2;
      });
      await db.remove('a');
      await db.clear();
      await db.checkpoint();
      await db.destroy();
      return { seen, config: db.config.durability };
    }, options);
  } finally {
    await context.close();
  }
}

for (const [options, want] of [
  [{}, 'relaxed'],
  [{ durability: 'strict' }, 'strict'],
  [{ durability: 'relaxed' }, 'relaxed'],
]) {
  test(`durability ${JSON.stringify(options)}: every readwrite transaction is '${want}'`, async () => {
    const { seen, config } = await durabilities(options);
    assert.equal(config, want);
    assert.ok(seen.length >= 5, `readwrite transactions seen: ${seen.length}`);
    assert.deepEqual([...new Set(seen)], [want]);
  });
}

test('a durability other than strict or relaxed is an InvalidConfigError', async () => {
  const context = await suite.browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${suite.server.origin}/storage.html`, { waitUntil: 'load' });
    const outcomes = await page.evaluate(async () => {
      const out = [];
      for (const durability of ['default', 'STRICT', '', 1, true, {}]) {
        const db = new AuroraDB({ name: 'bad-durability', durability });
        out.push(await attempt(() => db.create()));
      }
      const databases = (await indexedDB.databases()).map((d) => d.name);
      return { out, created: databases.includes('bad-durability') };
    });
    for (const o of outcomes.out) {
      assert.equal(o.error, 'InvalidConfigError', JSON.stringify(o));
      assert.match(o.message, /durability must be 'strict' or 'relaxed'/);
    }
    assert.equal(outcomes.created, false, 'nothing was created');
  } finally {
    await context.close();
  }
});
