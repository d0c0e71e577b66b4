// The browser benchmark, in the page: the same workloads on three engines in the same Chromium.
//
//   raw     hand-written IndexedDB, the physical limit (one transaction for a bulk insert, one
//           per single add, all gets pipelined in one transaction, getAll + Array.filter)
//   dexie   Dexie (npm `dexie`), the common IndexedDB wrapper
//   aurora  AuroraDB (pkg/auroradb.js)
//
// benches/web/run.mjs drives it through `window.bench`; every function returns milliseconds
// measured with performance.now() inside the page. Records are the same for every engine.
'use strict';

(() => {
  const STORE = 'records';
  /** The `durability` of every engine's writing transactions (`configure`); undefined: each engine's default. */
  let durability;
  const txOptions = () => (durability ? { durability } : undefined);

  const key = (i) => `k${String(i).padStart(6, '0')}`;
  const record = (i) => ({
    id: key(i),
    name: `user ${i}`,
    email: `user${i}@example.com`,
    n: i,
    group: i % 10,
    active: i % 3 === 0,
    tags: ['alpha', i % 2 ? 'odd' : 'even'],
    profile: { score: (i * 7919) % 1000, joined: 1700000000000 + i },
  });
  const entries = (from, count) => Array.from({ length: count }, (_, j) => [key(from + j), record(from + j)]);
  // The filter of the "filter" case: about a tenth of the records.
  const predicate = (r) => r.group === 3 && !r.active;

  // A fixed shuffle of 0..n-1, so gets do not walk the keys in order.
  const shuffled = (n) => {
    const out = Array.from({ length: n }, (_, i) => i);
    let seed = 12345;
    for (let i = n - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const j = seed % (i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  };

  const request = (req) =>
    new Promise((ok, fail) => {
      req.onsuccess = () => ok(req.result);
      req.onerror = () => fail(req.error);
    });
  const done = (tx) =>
    new Promise((ok, fail) => {
      tx.oncomplete = () => ok();
      tx.onerror = () => fail(tx.error);
      tx.onabort = () => fail(tx.error || new Error('transaction aborted'));
    });
  const deleteIdb = (name) =>
    new Promise((ok, fail) => {
      const req = indexedDB.deleteDatabase(name);
      req.onsuccess = () => ok();
      req.onerror = () => fail(req.error);
      // `blocked` only says a closing connection still finishes its transactions: wait on.
    });

  /** Hand-written IndexedDB: what any engine must at least do. */
  const raw = {
    async open(name) {
      const req = indexedDB.open(`raw-${name}`, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE);
      return request(req);
    },
    async bulk(db, items) {
      const tx = db.transaction(STORE, 'readwrite', txOptions());
      const store = tx.objectStore(STORE);
      for (const [k, v] of items) store.put(v, k);
      await done(tx);
    },
    async single(db, k, v) {
      const tx = db.transaction(STORE, 'readwrite', txOptions());
      tx.objectStore(STORE).put(v, k);
      await done(tx);
    },
    async gets(db, keys) {
      const tx = db.transaction(STORE, 'readonly');
      const store = tx.objectStore(STORE);
      const reqs = keys.map((k) => store.get(k));
      await done(tx);
      return reqs.map((r) => r.result);
    },
    async filter(db, fn) {
      const tx = db.transaction(STORE, 'readonly');
      const all = await request(tx.objectStore(STORE).getAll());
      return all.filter(fn);
    },
    async count(db) {
      return request(db.transaction(STORE, 'readonly').objectStore(STORE).count());
    },
    async all(db) {
      return request(db.transaction(STORE, 'readonly').objectStore(STORE).getAll());
    },
    async close(db) {
      db.close();
    },
    async destroy(db, name) {
      db.close();
      await deleteIdb(`raw-${name}`);
    },
  };

  /** Dexie, used the way its documentation shows. */
  const dexie = {
    async open(name) {
      const db = new Dexie(`dexie-${name}`, durability ? { chromeTransactionDurability: durability } : {});
      db.version(1).stores({ [STORE]: '' });
      await db.open();
      return db;
    },
    async bulk(db, items) {
      await db.table(STORE).bulkPut(
        items.map(([, v]) => v),
        items.map(([k]) => k),
      );
    },
    async single(db, k, v) {
      await db.table(STORE).put(v, k);
    },
    async gets(db, keys) {
      const out = [];
      for (const k of keys) out.push(await db.table(STORE).get(k));
      return out;
    },
    async filter(db, fn) {
      return db.table(STORE).filter(fn).toArray();
    },
    async count(db) {
      return db.table(STORE).count();
    },
    async all(db) {
      return db.table(STORE).toArray();
    },
    async close(db) {
      db.close();
    },
    async destroy(db) {
      await db.delete();
    },
  };

  /** AuroraDB, through the README's API. */
  const aurora = {
    async open(name) {
      const db = new AuroraDB({ name: `aurora-${name}`, ...(durability ? { durability } : {}) });
      await db.create();
      return db;
    },
    async bulk(db, items) {
      await db.db.batchSet(items);
    },
    async single(db, k, v) {
      await db.add(k, v);
    },
    async gets(db, keys) {
      const out = [];
      for (const k of keys) out.push(await db.get(k));
      return out;
    },
    async filter(db, fn) {
      return db.filter(fn);
    },
    async count(db) {
      return db.count();
    },
    async all(db) {
      return db.all();
    },
    async close(db) {
      if (typeof db.close === 'function') await db.close();
    },
    async destroy(db) {
      await db.destroy();
    },
  };

  const ENGINES = { raw, dexie, aurora };
  let unique = 0;
  const freshName = (what) => `${what}-${Date.now()}-${unique++}`;
  const check = (cond, what) => {
    if (!cond) throw new Error(`benchmark self-check failed: ${what}`);
  };

  /**
   * Runs `write` (one write) and splits its time, seen from the page, in three: before its first
   * IndexedDB request (`put`, `add` or `delete`: the engine's own work), from then to its last
   * (making the records and handing them over), and from then until the write resolves (mostly
   * IndexedDB's commit). Adds them to `sums`. IndexedDB's methods are wrapped only while `write`
   * runs. The page's clock is coarse (0.1 ms), so the parts of one small write are rough; summed
   * over many they even out.
   */
  async function phased(write, sums) {
    const marks = { first: 0, last: 0 };
    const restore = [];
    for (const name of ['put', 'add', 'delete']) {
      const own = IDBObjectStore.prototype[name];
      IDBObjectStore.prototype[name] = function (...args) {
        marks.first ||= performance.now();
        const out = own.apply(this, args);
        marks.last = performance.now();
        return out;
      };
      restore.push(() => {
        IDBObjectStore.prototype[name] = own;
      });
    }
    try {
      const t0 = performance.now();
      await write();
      const t1 = performance.now();
      check(marks.first > 0, 'the write made IndexedDB requests');
      sums[0] += marks.first - t0;
      sums[1] += marks.last - marks.first;
      sums[2] += t1 - marks.last;
    } finally {
      for (const undo of restore) undo();
    }
  }

  /**
   * One timed run of a case on a fresh database; returns milliseconds, or with `phases` the
   * three parts of `phased` (summed over the writes) instead.
   */
  const CASES = {
    /** Bulk insert of `n` records: one call. */
    async bulk(e, { n = 10_000, phases = false } = {}) {
      const name = freshName('bulk');
      const db = await e.open(name);
      const items = entries(0, n);
      const sums = [0, 0, 0];
      const t0 = performance.now();
      if (phases) await phased(() => e.bulk(db, items), sums);
      else await e.bulk(db, items);
      const ms = performance.now() - t0;
      check((await e.count(db)) === n, `bulk stored ${n}`);
      await e.destroy(db, name);
      return phases ? sums : ms;
    },
    /**
     * A bulk insert of `n` records, then `adds` single adds, in one timing: work an engine
     * defers past a bulk insert (derived records written by a later write) is counted here.
     */
    async bulkthen(e, { n = 10_000, adds = 100 } = {}) {
      const name = freshName('bulkthen');
      const db = await e.open(name);
      const items = entries(0, n + adds);
      const t0 = performance.now();
      await e.bulk(db, items.slice(0, n));
      for (const [k, v] of items.slice(n)) await e.single(db, k, v);
      const ms = performance.now() - t0;
      check((await e.count(db)) === n + adds, `bulkthen stored ${n + adds}`);
      await e.destroy(db, name);
      return ms;
    },
    /**
     * `n` single adds of new keys, awaited one by one, on a database of `n` records closed and
     * opened again first (as a page that loads finds its database): what a write reads before it
     * writes counts.
     */
    async reopened(e, { n = 1_000 } = {}) {
      const name = freshName('reopened');
      let db = await e.open(name);
      await e.bulk(db, entries(0, n));
      await e.close(db);
      db = await e.open(name);
      const t0 = performance.now();
      for (const [k, v] of entries(n, n)) await e.single(db, k, v);
      const ms = performance.now() - t0;
      check((await e.count(db)) === 2 * n, `reopened stored ${2 * n}`);
      await e.destroy(db, name);
      return ms;
    },
    /** `n` single adds, each its own write (one transaction each), awaited one by one. */
    async single(e, { n = 1_000, phases = false } = {}) {
      const name = freshName('single');
      const db = await e.open(name);
      const items = entries(0, n);
      const sums = [0, 0, 0];
      const t0 = performance.now();
      for (const [k, v] of items) {
        if (phases) await phased(() => e.single(db, k, v), sums);
        else await e.single(db, k, v);
      }
      const ms = performance.now() - t0;
      check((await e.count(db)) === n, `single stored ${n}`);
      await e.destroy(db, name);
      return phases ? sums : ms;
    },
  };

  /** Reads on one database of `n` records, reopened before the runs: gets and filter. */
  async function reads(engine, { n = 10_000, runs = 3 } = {}) {
    const e = ENGINES[engine];
    const name = freshName('reads');
    let db = await e.open(name);
    await e.bulk(db, entries(0, n));
    await e.close(db);
    db = await e.open(name);
    const order = shuffled(n).map(key);
    const expectFiltered = entries(0, n).filter(([, v]) => predicate(v)).length;
    const gets = [];
    const filters = [];
    for (let r = 0; r < runs; r++) {
      let t0 = performance.now();
      const got = await e.gets(db, order);
      gets.push(performance.now() - t0);
      check(got.length === n && got.every((v, i) => v && v.id === order[i]), 'gets returned every record');
      t0 = performance.now();
      const hits = await e.filter(db, predicate);
      filters.push(performance.now() - t0);
      check(hits.length === expectFiltered, `filter found ${expectFiltered} (got ${hits.length})`);
    }
    await e.destroy(db, name);
    return { gets, filters };
  }

  /**
   * Fills the database that the open case opens with `ops` writes on `keys` records (write `i`
   * sets record `i % keys`). AuroraDB writes them as `ops` single adds (issued `chunk` at a
   * time), so its log holds `ops` ops, not a few batch ops; raw IndexedDB and Dexie store the
   * same writes in bulks. With `logFiles` (URLs of log files of the same writes, made by
   * `benches/examples/make_log.rs`), AuroraDB imports them in turn instead (`importLog`): a
   * history of a million ops takes a minute, not an hour of single adds.
   */
  async function setupOpen(engine, { ops = 100_000, keys = ops, chunk = 1_000, logFiles = null } = {}) {
    const e = ENGINES[engine];
    const db = await e.open('open');
    const t0 = performance.now();
    if (engine === 'aurora' && logFiles) {
      for (const url of logFiles) {
        const res = await fetch(url);
        check(res.ok, `fetched ${url}`);
        await db.importLog(new Uint8Array(await res.arrayBuffer()));
      }
    }
    for (let from = 0; from < ops && !(engine === 'aurora' && logFiles); from += chunk) {
      const items = Array.from({ length: Math.min(chunk, ops - from) }, (_, j) => {
        const i = (from + j) % keys;
        return [key(i), { ...record(i), n: from + j }];
      });
      if (engine === 'aurora') await Promise.all(items.map(([k, v]) => e.single(db, k, v)));
      else await e.bulk(db, items);
    }
    const ms = performance.now() - t0;
    const count = await e.count(db);
    const stats = engine === 'aurora' && typeof db.getStats === 'function' ? db.getStats() : null;
    await e.close(db);
    return { ms, count, stats: stats && JSON.parse(JSON.stringify(stats)) };
  }

  /**
   * Opens a database in a page that has touched none yet: the open and what a fresh page needs
   * before it can answer (its record count), or with `readAll` every record too. Call first
   * thing after a page load.
   */
  async function measureOpen(engine, { name = 'open', expect, readAll = false } = {}) {
    const e = ENGINES[engine];
    const t0 = performance.now();
    const db = await e.open(name);
    const count = readAll ? (await e.all(db)).length : await e.count(db);
    const ms = performance.now() - t0;
    if (expect !== undefined) check(count === expect, `open found ${expect} records (got ${count})`);
    await e.close(db);
    return ms;
  }

  /**
   * Cold reads, the same work for every engine: a page that has touched no database opens the
   * one of the open case (`keys` records) and, in the same timing, gets `gets` of its records
   * (shuffled, awaited one by one for Dexie and AuroraDB, pipelined for raw IndexedDB) or runs
   * the filter. Call first thing after a page load.
   */
  async function measureColdReads(engine, { name = 'open', keys, gets = 0, filter = false } = {}) {
    const e = ENGINES[engine];
    const order = shuffled(keys).slice(0, gets).map(key);
    const t0 = performance.now();
    const db = await e.open(name);
    const got = gets > 0 ? await e.gets(db, order) : [];
    const hits = filter ? await e.filter(db, predicate) : [];
    const ms = performance.now() - t0;
    check(got.length === order.length && got.every((v, i) => v && v.id === order[i]), 'cold gets found every record');
    if (filter) check(hits.length > 0, 'the cold filter found records');
    await e.close(db);
    return ms;
  }

  /**
   * Memory after a page that has touched no database opens the one of the open case: the
   * page's JavaScript heap (Chromium's performance.memory, after a collection where the page
   * may ask for one), and for AuroraDB its WebAssembly memory (getStats().memoryBytes). Call
   * first thing after a page load.
   */
  async function memoryAfterOpen(engine, { name = 'open' } = {}) {
    const e = ENGINES[engine];
    const db = await e.open(name);
    await e.count(db);
    if (typeof globalThis.gc === 'function') globalThis.gc();
    const heap = performance.memory ? performance.memory.usedJSHeapSize : null;
    const wasm = engine === 'aurora' ? db.getStats().memoryBytes : null;
    await e.close(db);
    return { heap, wasm };
  }

  /** Loads an engine's code without opening anything: AuroraDB's `.wasm` (`AuroraDB.init()`). */
  async function preload(engine) {
    if (engine === 'aurora') await AuroraDB.init();
  }

  async function destroyOpen(engine, name = 'open') {
    const e = ENGINES[engine];
    const db = await e.open(name);
    await e.destroy(db, name);
  }

  async function run(caseName, engine, opts) {
    return CASES[caseName](ENGINES[engine], opts);
  }

  /** Settings for every later call: `{ durability }` ('strict' or 'relaxed'; undefined: the engines' defaults). */
  function configure(options = {}) {
    durability = options.durability;
  }

  /** The newest record of `store` in IndexedDB database `db`: `[key, value]`. */
  const newest = async (db, store) => {
    const cursor = await request(db.transaction(store, 'readonly').objectStore(store).openCursor(null, 'prev'));
    return [cursor.key, cursor.value];
  };

  /** `bytes` (an ArrayBuffer key) with the four bytes of `i` after it: a key of its own per add. */
  const keyWith = (bytes, i) => {
    const out = new Uint8Array(bytes.byteLength + 4);
    out.set(new Uint8Array(bytes));
    new DataView(out.buffer).setUint32(bytes.byteLength, i);
    return out;
  };

  /**
   * What an add's IndexedDB records cost, by their number and shape: raw IndexedDB makes `n`
   * single adds (one readwrite transaction each, awaited one by one) in each shape, `rounds`
   * times in turn, each on a database of its own; returns the median ms per shape. The records
   * are AuroraDB's own: one AuroraDB add is made first, and its `log`, `state` and `journal`
   * records are read back and written again under a key of their own per add.
   *
   *   one      the raw engine's add: the value, one record in one store
   *   three    what an AuroraDB add writes: the op in `log`, the state record in `state`, the
   *            journal entry in `journal` (added)
   *   two      the state record, and the journal entry holding the op (added)
   *   threeInOne, twoInOne  the same records in one store (keys kept apart): whether a
   *            record costs by itself or by the store it goes to
   *   merged   one record holding all three, in one store
   *   claimed  the same in a store with a unique index on the record's commit number: the check
   *            a one-record add would need in place of the journal entry's `add` (another
   *            connection's commit of the same number fails)
   */
  async function recordShapes({ n = 1_000, rounds = 3 } = {}) {
    const source = freshName('shapes');
    const adb = await aurora.open(source);
    await aurora.single(adb, key(0), record(0));
    await adb.close();
    const idb = await request(indexedDB.open(`aurora-${source}`));
    const [logKey, op] = await newest(idb, 'log');
    const [stateKey, state] = await newest(idb, 'state');
    const [journalKey, journal] = await newest(idb, 'journal');
    idb.close();
    await deleteIdb(`aurora-${source}`);
    const shapes = {
      one: [[STORE], (tx, i) => tx.objectStore(STORE).put(record(i), key(i))],
      three: [
        ['log', 'state', 'journal'],
        (tx, i) => {
          tx.objectStore('log').put(op, keyWith(logKey, i));
          tx.objectStore('state').put({ ...state, key: key(i), value: record(i) }, keyWith(stateKey, i));
          tx.objectStore('journal').add(journal, keyWith(journalKey, i));
        },
      ],
      two: [
        ['state', 'journal'],
        (tx, i) => {
          tx.objectStore('state').put({ ...state, key: key(i), value: record(i) }, keyWith(stateKey, i));
          tx.objectStore('journal').add({ journal, op }, keyWith(journalKey, i));
        },
      ],
      threeInOne: [
        ['state'],
        (tx, i) => {
          const os = tx.objectStore('state');
          os.put(op, keyWith(logKey, i + 1_000_000));
          os.put({ ...state, key: key(i), value: record(i) }, keyWith(stateKey, i));
          os.add(journal, keyWith(journalKey, i + 2_000_000));
        },
      ],
      twoInOne: [
        ['state'],
        (tx, i) => {
          const os = tx.objectStore('state');
          os.put({ ...state, key: key(i), value: record(i) }, keyWith(stateKey, i));
          os.add({ journal, op }, keyWith(journalKey, i + 2_000_000));
        },
      ],
      merged: [
        ['state'],
        (tx, i) =>
          tx.objectStore('state').put({ ...state, key: key(i), value: record(i), op, journal }, keyWith(stateKey, i)),
      ],
      claimed: [
        ['state'],
        (tx, i) =>
          tx
            .objectStore('state')
            .put({ ...state, key: key(i), value: record(i), op, journal, commit: i + 1 }, keyWith(stateKey, i)),
        { commit: { unique: true } },
      ],
    };
    const ms = Object.fromEntries(Object.keys(shapes).map((shape) => [shape, []]));
    for (let r = 0; r < rounds; r++) {
      for (const [shape, [stores, write, indexes = {}]] of Object.entries(shapes)) {
        const name = freshName(`shape-${shape}`);
        const open = indexedDB.open(name, 1);
        open.onupgradeneeded = () => {
          for (const store of stores) {
            const made = open.result.createObjectStore(store);
            for (const [field, options] of Object.entries(indexes)) made.createIndex(field, field, options);
          }
        };
        const db = await request(open);
        const t0 = performance.now();
        for (let i = 0; i < n; i++) {
          const tx = db.transaction(stores, 'readwrite', txOptions());
          write(tx, i);
          await done(tx);
        }
        ms[shape].push(performance.now() - t0);
        const stored = await request(db.transaction(stores[0], 'readonly').objectStore(stores[0]).count());
        check(stored === n * ({ threeInOne: 3, twoInOne: 2 }[shape] ?? 1), `${shape} stored ${n}`);
        db.close();
        await deleteIdb(name);
      }
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    return Object.fromEntries(Object.entries(ms).map(([shape, xs]) => [shape, median(xs)]));
  }

  window.bench = {
    run,
    recordShapes,
    reads,
    setupOpen,
    measureOpen,
    measureColdReads,
    memoryAfterOpen,
    destroyOpen,
    preload,
    configure,
    engines: Object.keys(ENGINES),
  };
  window.benchReady = true;
})();
