// Helpers of the storage tests (quota.test.mjs, crash.test.mjs), called through page.evaluate.
'use strict';

/** `n` random bytes: IndexedDB compresses its records, so filling a quota needs data that does not compress. */
window.randomBytes = (n) => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
};

/**
 * How many records each object store of IndexedDB database `name` holds, read directly; `null`
 * if there is no such database (none is made).
 */
window.storeCounts = (name) =>
  new Promise((ok, fail) => {
    const req = indexedDB.open(name);
    let missing = false;
    req.onupgradeneeded = () => {
      missing = true;
      req.transaction.abort();
    };
    req.onerror = () => (missing ? ok(null) : fail(req.error));
    req.onsuccess = () => {
      const db = req.result;
      const names = [...db.objectStoreNames];
      const tx = db.transaction(names, 'readonly');
      const counts = {};
      for (const store of names) {
        const r = tx.objectStore(store).count();
        r.onsuccess = () => {
          counts[store] = r.result;
        };
      }
      tx.oncomplete = () => {
        db.close();
        ok(counts);
      };
      tx.onerror = () => fail(tx.error);
    };
  });

/** Records every change `db` dispatches in `window.heard`, as `[source, type, key]`. */
window.hear = (db) => {
  window.heard = [];
  db.addEventListener('change', (e) => {
    for (const c of e.detail.changes) window.heard.push([e.detail.source, c.type, c.key]);
  });
};

/** Runs `f()` and resolves to its result, or to `{ error: name, message }` if it throws or rejects. */
window.attempt = async (f) => {
  try {
    return { value: await f() };
  } catch (e) {
    return { error: e?.name, message: e?.message };
  }
};

/**
 * Opens database `name` and writes without end, each write awaited, fresh keys `<prefix>-<n>`
 * only (puts, two-key transactions, three-key batches, in turn); after each write resolves it
 * logs `ack <json list of its keys>`, and a failure logs `write-error <name>: <message>` and
 * stops. The value under each key is `{ key, n }`. Resolves once the database is open.
 *
 * With `big` (a number), every write is instead one batch of that many keys
 * `<prefix>-<n>x<big>-<j>`; the page logs `issued <n>` as it starts each one, and `committing`
 * whenever a readwrite transaction is asked to commit (the engine asks once it has queued every
 * record of the batch).
 */
window.stream = async (name, prefix, { big, ...options } = {}) => {
  const db = new AuroraDB({ name, ...options });
  db.addEventListener('error', (e) => {
    if (e.detail.type === 'DataLossError') console.log(`dataloss ${e.detail.message}`);
  });
  await db.create();
  if (big) {
    const commit = IDBTransaction.prototype.commit;
    IDBTransaction.prototype.commit = function () {
      if (this.mode === 'readwrite') console.log('committing');
      return commit.call(this);
    };
  }
  const value = (key, n) => ({ key, n });
  (async () => {
    for (let n = 0; ; n++) {
      const keys = [];
      try {
        if (big) {
          for (let j = 0; j < big; j++) keys.push(`${prefix}-${n}x${big}-${j}`);
          console.log(`issued ${n}`);
          await db.db.batchSet(keys.map((k) => [k, value(k, n)]));
        } else if (n % 10 === 7) {
          keys.push(`${prefix}-${n}a`, `${prefix}-${n}b`);
          await db.transaction(async (tx) => {
            for (const k of keys) tx.entries[k] = value(k, n);
          });
        } else if (n % 10 === 8) {
          keys.push(`${prefix}-${n}a`, `${prefix}-${n}b`, `${prefix}-${n}c`);
          await db.db.batchSet(keys.map((k) => [k, value(k, n)]));
        } else {
          keys.push(`${prefix}-${n}`);
          await db.add(keys[0], value(keys[0], n));
        }
      } catch (e) {
        console.log(`write-error ${e?.name}: ${e?.message}`);
        return;
      }
      console.log(`ack ${JSON.stringify(keys)}`);
    }
  })();
};

/**
 * What database `name` holds of a `stream`: the keys of `expected` it lacks or holds another
 * value under, the writes of several keys (transactions, batches) it holds only part of,
 * acknowledged or not, its record count, whether `verify()` is ok, how many records each of its
 * IndexedDB stores holds (read directly, once the database is open), and what the browser
 * reported lost when it opened the database (`getStats().dataLoss`: null if nothing).
 */
window.checkAcknowledged = async (name, expected) => {
  const db = new AuroraDB({ name });
  await db.create();
  const { dataLoss } = db.getStats();
  const stores = await window.storeCounts(name);
  const wrong = [];
  for (const key of expected) {
    const got = await db.get(key);
    if (!got || got.key !== key) wrong.push(key);
  }
  // Keys `<prefix>-<n>a`, `b` (a transaction when n % 10 is 7) and `c` (a batch when it is 8),
  // and `<prefix>-<n>x<size>-<j>` (a big batch of `size` keys).
  const parts = new Map();
  for (const key of await db.keys()) {
    const small = /^(.*-(\d+))[abc]$/.exec(key);
    const big = /^(.*-\d+x(\d+))-\d+$/.exec(key);
    const [write, size] = small ? [small[1], Number(small[2]) % 10 === 7 ? 2 : 3] : big ? [big[1], Number(big[2])] : [];
    if (write) parts.set(write, { size, held: (parts.get(write)?.held ?? 0) + 1 });
  }
  const partial = [...parts].filter(([, { size, held }]) => held !== size).map(([write]) => write);
  const verify = await db.verify();
  const count = await db.count();
  await db.close();
  return { wrong, partial, count, verify: verify.ok, stores, dataLoss };
};
