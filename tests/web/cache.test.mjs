// The state on demand in the browser: create() of an existing database reads no record of the
// `state` store (the page counts every read request on it), a get reads its own record, at most
// `cacheSize` records stay in memory, and whatever is read (gets, filter, count, queries through
// an index) is right, also across two pages writing the same database. Past the cache, reads of
// every record (all, keys, filter, every, slice) take the `state` store's readable records: the
// same answers as through the engine's state, for each strategy, after removes, a clear and
// another instance's writes; a record of another form, or one missing, is refused, not skipped. A `cacheSize` that is
// not a whole number from 0 is an InvalidConfigError. The first create() of a new database makes
// one transaction, and asks for its author slot's lock with the open request. On a reopened
// database, an add of a key not held reads nothing (its insert checks the key is absent), also
// with another page adding the same keys at once.
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

test("a new database's create() makes one transaction and asks for its author slot's lock while the database opens", async () => {
  const context = await suite.browser.newContext();
  try {
    const page = await countingPage(context);
    const out = await page.evaluate(async () => {
      const seen = [];
      const transaction = IDBDatabase.prototype.transaction;
      IDBDatabase.prototype.transaction = function (stores, mode, ...rest) {
        seen.push(`${mode ?? 'readonly'} ${[].concat(stores).join(',')}`);
        return transaction.call(this, stores, mode, ...rest);
      };
      const open = IDBFactory.prototype.open;
      IDBFactory.prototype.open = function (...args) {
        seen.push('open');
        const req = open.apply(this, args);
        req.addEventListener('success', () => seen.push('opened'));
        return req;
      };
      const request = LockManager.prototype.request;
      LockManager.prototype.request = function (name, ...rest) {
        seen.push(`lock ${name.split(':')[0]}`);
        return request.call(this, name, ...rest);
      };
      const config = { name: 'first-open', indexes: ['group'] };
      const db = new AuroraDB(config);
      await db.create();
      const first = seen.splice(0);
      const author = db.getStats().peerId;
      await db.add('a', { group: 1 });
      await db.close();
      seen.length = 0;
      const again = new AuroraDB(config);
      await again.create();
      const reopen = seen.splice(0);
      const value = await again.get('a');
      const authorAgain = again.getStats().peerId;
      await again.destroy();
      return { first, reopen, value, peers: [author, authorAgain] };
    });
    // The lock is asked for before the open succeeds; the slot's identity and the schema are
    // stored in one transaction; the indexes the open just made are not read back.
    assert.deepEqual(out.first, ['open', 'lock auroradb-author/0', 'opened', 'readwrite meta']);
    assert.equal(out.reopen.indexOf('lock auroradb-author/0'), 1, out.reopen.join('; '));
    assert.ok(out.reopen.includes('readonly state'), 'a reopen checks the indexes');
    assert.ok(!out.reopen.includes('readwrite meta'), 'a reopen writes no schema');
    assert.deepEqual(out.value, { group: 1 });
    assert.match(out.peers[0], /^[0-9a-f]{32}$/);
    assert.equal(out.peers[1], out.peers[0], 'the reopen writes as the same author');
  } finally {
    await context.close();
  }
});

test('on a reopened database, an add of a key not held reads nothing: its insert checks the key is absent', async () => {
  const context = await suite.browser.newContext();
  try {
    const page = await countingPage(context);
    const out = await page.evaluate(async () => {
      const config = { name: 'guess', cacheSize: 10 };
      const first = new AuroraDB(config);
      await first.create();
      await first.db.batchSet(Array.from({ length: 50 }, (_, i) => [`k${i}`, { n: i }]));
      await first.close();

      const db = new AuroraDB(config);
      await db.create();
      const changes = [];
      db.addEventListener('change', (e) => changes.push(...e.detail.changes.map((c) => c.type)));
      window.stateReads = 0;
      const adds = [];
      const requests = [];
      const add = IDBObjectStore.prototype.add;
      IDBObjectStore.prototype.add = function (...args) {
        requests.push(`${this.name}.add`);
        return add.apply(this, args);
      };
      for (let i = 0; i < 20; i++) adds.push(await db.add(`new${i}`, { n: i }));
      const newReads = window.stateReads;
      const stateAdds = requests.filter((r) => r === 'state.add').length;
      // A key that holds a record, not held here: the insert fails, the key is read, the write
      // made again.
      await db.add('k7', { n: -7 });
      const afterWrong = window.stateReads;
      const k7 = await db.get('k7');
      const count = await db.count();
      const report = await db.verify();
      await db.destroy();
      return { newReads, stateAdds, afterWrong, k7, count, ok: report.ok, changes };
    });
    assert.equal(out.newReads, 0, 'adds of new keys read no state record');
    assert.equal(out.stateAdds, 20, "each wrote its state record with an insert (IndexedDB's add)");
    assert.equal(out.afterWrong, 1, 'the wrong guess read its key once');
    assert.deepEqual(out.k7, { n: -7 });
    assert.equal(out.count, 70);
    assert.equal(out.ok, true);
    assert.equal(out.changes.length, 21);
  } finally {
    await context.close();
  }
});

test('reads of every record past the cache come from the state store as IndexedDB gives them, and are right', {
  timeout: 120_000,
}, async () => {
  const context = await suite.browser.newContext();
  try {
    const page = await countingPage(context);
    for (const syncStrategy of ['timestamp', 'version', 'merge']) {
      const out = await page.evaluate(async (syncStrategy) => {
        const name = `iterate-${syncStrategy}`;
        // One instance that holds at most 5 records (its reads of every record go to the store),
        // one that holds them all (its reads go through the engine's state).
        const small = new AuroraDB({ name, cacheSize: 5, syncStrategy });
        await small.create();
        const big = new AuroraDB({ name, cacheSize: 100_000, syncStrategy });
        await big.create();
        const key = (i) => `k${String(i).padStart(2, '0')}`;
        const reads = async (db) => {
          let thrown = null;
          try {
            await db.filter(() => {
              throw new Error('from the predicate');
            });
          } catch (e) {
            thrown = e.message;
          }
          return {
            all: await db.all(),
            keys: await db.keys(),
            even: await db.filter((v, k) => v.n % 2 === 0 && k.startsWith('k')),
            every: [await db.every((v) => v.n >= 0), await db.every((v) => v.n < 30)],
            slices: [await db.slice(2, 6), await db.slice(-3), await db.slice(5, 2)],
            count: await db.count(),
            thrown,
          };
        };
        const rounds = [];
        await small.db.batchSet(Array.from({ length: 40 }, (_, i) => [key(i), { n: i }]));
        for (const i of [3, 7, 11]) await small.remove(key(i));
        await big.add(key(5), { n: 105, by: 'big' });
        await big.add(key(50), { n: 50 });
        await big.catchUp?.();
        rounds.push([await reads(small), await reads(big)]);
        // Past the cache, one read request on the store (its getAll), not the state's two.
        window.stateReads = 0;
        await small.all();
        const requests = window.stateReads;
        // A clear, then new writes from both.
        await small.clear();
        await small.db.batchSet(Array.from({ length: 12 }, (_, i) => [key(i * 3), { n: i * 3 }]));
        await big.add(key(40), { n: 40 });
        await big.remove(key(6));
        rounds.push([await reads(small), await reads(big)]);
        // A record of another form than the readable one (its bare encoded bytes): not skipped,
        // the read through the engine's state refuses it.
        const raw = await new Promise((ok, fail) => {
          const r = indexedDB.open(name);
          r.onsuccess = () => ok(r.result);
          r.onerror = () => fail(r.error);
        });
        const rewrite = (f) =>
          new Promise((ok, fail) => {
            const tx = raw.transaction('state', 'readwrite');
            f(tx.objectStore('state'));
            tx.oncomplete = () => ok();
            tx.onerror = () => fail(tx.error);
          });
        const utf8 = (s) => new TextEncoder().encode(s);
        const stored = await new Promise((ok) => {
          const r = raw
            .transaction('state')
            .objectStore('state')
            .get(utf8(key(9)));
          r.onsuccess = () => ok(r.result);
        });
        await rewrite((os) => os.put(stored.record, utf8(key(9))));
        let bare = null;
        try {
          await small.all();
        } catch (e) {
          bare = e.name;
        }
        await rewrite((os) => os.put(stored, utf8(key(9))));
        // A visible record missing from the store: the count is the journal's, and the read says so.
        await rewrite((os) => os.delete(utf8(key(12))));
        let missing = null;
        try {
          await small.all();
        } catch (e) {
          missing = e.name;
        }
        raw.close();
        await big.close();
        await small.destroy();
        return { rounds, bare, missing, requests };
      }, syncStrategy);
      for (const [i, [small, big]] of out.rounds.entries()) {
        assert.deepEqual(small, big, `${syncStrategy}, round ${i}: the same reads through the store and the state`);
        assert.equal(small.thrown, 'from the predicate', 'what the predicate throws rejects the read');
        assert.equal(small.all.length, small.count);
      }
      const [first] = out.rounds[0];
      assert.equal(first.count, 38, 'forty, three removed, one added');
      assert.deepEqual(
        first.all[first.keys.indexOf('k05')],
        { n: 105, by: 'big' },
        "the other instance's write is read",
      );
      assert.deepEqual(first.every, [true, false]);
      assert.deepEqual(first.slices[2], []);
      const [second] = out.rounds[1];
      assert.deepEqual(
        second.keys,
        ['k00', 'k03', 'k09', 'k12', 'k15', 'k18', 'k21', 'k24', 'k27', 'k30', 'k33', 'k40'],
        'after the clear: its writes, the later add, not the later remove',
      );
      assert.equal(out.requests, 1, 'all() past the cache read the readable records once');
      assert.equal(out.bare, 'CorruptDataError', 'a record of another form is not skipped: it is damaged data');
      assert.equal(out.missing, 'CorruptDataError', 'a record missing from the store is not skipped silently');
    }
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

test('two pages adding the same new keys at once to a reopened database: none rejects, both agree, verify() ok', async () => {
  const context = await suite.browser.newContext();
  try {
    const [a, b] = [await countingPage(context), await countingPage(context)];
    await a.evaluate(async () => {
      const db = new AuroraDB({ name: 'cache-race', cacheSize: 5 });
      await db.create();
      await db.db.batchSet(Array.from({ length: 20 }, (_, i) => [`old${i}`, { n: i }]));
      await db.close();
    });
    // Each page holds few records, so each guesses a new key absent: a third of the keys are
    // its own, the rest are shared with the other page, which may write them first.
    const writer = async (who) => {
      window.db = new AuroraDB({ name: 'cache-race', cacheSize: 5 });
      await window.db.create();
      const errors = [];
      for (let i = 0; i < 300; i++) {
        const key = i % 3 === 0 ? `${who}${i}` : `shared${i % 100}`;
        await window.db.add(key, { who, i }).catch((e) => errors.push(`${e.name}: ${e.message}`));
      }
      return errors;
    };
    const errors = await Promise.all([a.evaluate(writer, 'a'), b.evaluate(writer, 'b')]);
    assert.deepEqual(errors, [[], []]);
    const state = (page) =>
      page.evaluate(async () => {
        const shared = [];
        for (let i = 0; i < 100; i++) shared.push(await window.db.get(`shared${i}`));
        const report = await window.db.verify();
        return { count: await window.db.count(), keys: await window.db.keys(), shared, ok: report.ok };
      });
    // The other page's last writes arrive through the tab channel: read until both agree (5 s
    // at most).
    let [sa, sb] = [await state(a), await state(b)];
    for (let tries = 0; tries < 50 && JSON.stringify(sa) !== JSON.stringify(sb); tries++) {
      await new Promise((ok) => setTimeout(ok, 100));
      [sa, sb] = [await state(a), await state(b)];
    }
    assert.equal(sa.count, 320);
    assert.equal(sa.ok && sb.ok, true);
    assert.deepEqual(sb, sa, 'both pages read the same records');
    assert.ok(sa.shared.every((v) => v && (v.who === 'a' || v.who === 'b')));
    await a.evaluate(() => window.db.close());
    await b.evaluate(() => window.db.destroy());
  } finally {
    await context.close();
  }
});

test('a cacheSize that is not a whole number from 0, or an enableCache that is not a boolean, is an InvalidConfigError', async () => {
  const context = await suite.browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${suite.server.origin}/storage.html`, { waitUntil: 'load' });
    const out = await page.evaluate(async () => {
      const results = [];
      for (const cacheSize of [-1, 1.5, 'many', Number.NaN, Number.POSITIVE_INFINITY]) {
        results.push(await attempt(() => new AuroraDB({ name: 'bad-cache', cacheSize }).create()));
      }
      for (const enableCache of ['no', 0]) {
        results.push(await attempt(() => new AuroraDB({ name: 'bad-cache', enableCache }).create()));
      }
      return results;
    });
    for (const o of out) assert.equal(o.error, 'InvalidConfigError', JSON.stringify(o));
    // A number is named as JavaScript writes it; anything else by its type.
    assert.match(out[0].message, /cacheSize must be a whole number from 0 to 1000000000, not -1$/);
    assert.match(out[1].message, /not 1\.5$/);
    assert.match(out[2].message, /not a string$/);
    assert.match(out[3].message, /not NaN$/);
    assert.match(out[4].message, /not Infinity$/);
    assert.match(out[5].message, /enableCache must be a boolean, not a string$/);
    assert.match(out[6].message, /enableCache must be a boolean, not a number$/);
  } finally {
    await context.close();
  }
});
