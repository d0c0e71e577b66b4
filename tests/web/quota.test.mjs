// Near the storage quota, in Chromium with a small quota set through the DevTools protocol
// (`Storage.overrideQuotaForOrigin`) on an on-disk profile:
//
// - a write that is due for an automatic checkpoint, which does not fit, commits without it
//   (the checkpoint waits for an interval of ops);
// - a write that does not fit fails with `QuotaExceededError`, and nothing of it is written:
//   the log, the state and every IndexedDB store are as before, also after a reopen;
// - removes and a clear still work, `verify()` is ok;
// - once there is room again, writes work and the checkpoint that waited is written.
//
// Records hold random bytes: IndexedDB compresses what it stores, so only data that does not
// compress fills a quota predictably. Chromium takes a lower quota into account only for an
// origin that has not stored anything yet (it keeps the space it knows is left until that is
// used up), so the quota is set on a fresh origin, from the usage measured on another one doing
// the same writes. Needs the built API in pkg/ (./scripts/build-web.sh); ./scripts/web-test.sh
// does it all.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchPersistent, requirePkg, startServer } from './harness.mjs';

/** Ops between automatic checkpoints, and the size of a record's random bytes. */
const EVERY = 40;
const SIZE = 20_000;

/** The room the engine keeps for removes and clears under a quota of a few MB (its least). */
const RESERVE = 256 * 1024;

/** Three origins: one measures, the others get a quota (one per test). */
let measure;
let server;
let small;
let hidden;

before(async () => {
  requirePkg();
  measure = await startServer();
  server = await startServer();
  small = await startServer();
  hidden = await startServer();
});

after(async () => {
  await measure?.close();
  await server?.close();
  await small?.close();
  await hidden?.close();
});

/** The quotas set, by origin (see `setQuota`). */
const quotas = new Map();

/**
 * Has `page` report the quota set for its origin from `navigator.storage.estimate()`, as a
 * browser reports its own quota: the DevTools override is what Chromium enforces, but its answer
 * to the page keeps the machine's quota. Call once, before the page loads.
 */
async function reportQuotas(page) {
  await page.exposeFunction('__quotaSet', (origin) => quotas.get(origin) ?? null);
  await page.addInitScript(() => {
    const estimate = StorageManager.prototype.estimate;
    StorageManager.prototype.estimate = async function () {
      const real = await estimate.call(this);
      const set = await window.__quotaSet(location.origin);
      return set === null ? real : { ...real, quota: Math.min(real.quota, set) };
    };
  });
}

/** Sets the quota of `origin` to `quota` bytes, enforced and reported (see `reportQuotas`). */
async function setQuota(context, page, origin, quota) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: quota });
  quotas.set(origin, quota);
}

/**
 * Runs `body(context, page)` on a page of Chromium on a fresh on-disk profile that reports the
 * quotas set (`reportQuotas`), and checks the page threw nothing.
 */
async function withQuotaPage(body, { reported = true } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'auroradb-quota-'));
  const context = await launchPersistent(profile);
  try {
    const page = context.pages()[0] || (await context.newPage());
    if (reported) await reportQuotas(page);
    const pageErrors = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await body(context, page);
    assert.deepEqual(pageErrors, []);
  } finally {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
}

/**
 * After a write refused for the quota (`added`: the stores' counts then, and the records held):
 * it stored nothing, and two removes, a transaction that only removes and a clear work.
 */
async function removesAndClearWork(page, name, added) {
  const freed = await page.evaluate(
    async (name) => ({
      stores: await storeCounts(name),
      removed: await attempt(() => window.db.remove('k0')),
      again: await attempt(() => window.db.remove('k1')),
      inTx: await attempt(() =>
        window.db.transaction((tx) => {
          delete tx.entries.k2;
        }),
      ),
      cleared: await attempt(() => window.db.clear()),
      count: await window.db.count(),
      verify: (await window.db.verify()).ok,
    }),
    name,
  );
  assert.deepEqual(freed.stores, added.stores, 'the refused write stored nothing');
  assert.deepEqual(
    { ...freed, stores: undefined },
    {
      stores: undefined,
      removed: { value: true },
      again: { value: true },
      inTx: { value: undefined },
      cleared: { value: added.count - 3 },
      count: 0,
      verify: true,
    },
  );
}

/** Writes `n` records of `size` random bytes, `k0`... */
async function fill(page, n, size) {
  await page.evaluate(
    async ({ n, size }) => {
      for (let i = 0; i < n; i++) await window.db.add(`k${i}`, { i, bytes: randomBytes(size) });
    },
    { n, size },
  );
}

test('near the quota: a checkpoint waits, a write that does not fit fails typed and whole, removes and clear work', {
  timeout: 240_000,
}, async () => {
  await withQuotaPage(async (context, page) => {
    const open = () =>
      page.evaluate(async (every) => {
        window.db = new AuroraDB({ name: 'quota', checkpointEvery: every });
        await window.db.create();
      }, EVERY);

    // What EVERY - 1 records take, without a quota.
    await page.goto(`${measure.origin}/storage.html`, { waitUntil: 'load' });
    await open();
    await fill(page, EVERY - 1, SIZE);
    const usage = await page.evaluate(async () => (await navigator.storage.estimate()).usage);
    await page.evaluate(() => window.db.destroy());

    const quotaOf = (quota) => setQuota(context, page, server.origin, quota);
    /** What the database holds, through the API and in IndexedDB itself. */
    const snapshot = () =>
      page.evaluate(async () => {
        const { ops, records, checkpoints } = window.db.getStats();
        const verify = await window.db.verify();
        return { keys: await window.db.keys(), ops, records, checkpoints, verify, stores: await storeCounts('quota') };
      });

    // Room for EVERY - 1 records and a few more (each is stored about three times: the op, the
    // state record and its readable value) above the room kept for removes, not for a checkpoint
    // of them all.
    await quotaOf(usage + 12 * SIZE + RESERVE);
    await page.goto(`${server.origin}/storage.html`, { waitUntil: 'load' });
    // EVERY - 1 records: the next write is due for a checkpoint of EVERY records.
    await open();
    await fill(page, EVERY - 1, SIZE);

    const due = await page.evaluate(
      async ({ key, size }) => attempt(() => window.db.add(key, { bytes: randomBytes(size) })),
      { key: `k${EVERY - 1}`, size: SIZE },
    );
    assert.deepEqual(due, { value: `k${EVERY - 1}` }, 'the write due for a checkpoint that does not fit commits');
    const full = await snapshot();
    assert.equal(full.records, EVERY);
    assert.equal(full.checkpoints, 0, 'the checkpoint waits');
    assert.equal(full.verify.ok, true);

    // A record of 1 MB does not fit: a typed error, nothing written, an `error` event.
    const failed = await page.evaluate(async () => {
      const events = [];
      window.db.addEventListener('error', (e) => events.push(e.detail.type));
      const out = await attempt(() => window.db.add('big', { bytes: randomBytes(1 << 20) }));
      return { ...out, events };
    });
    assert.equal(failed.error, 'QuotaExceededError', JSON.stringify(failed));
    assert.deepEqual(failed.events, ['QuotaExceededError']);
    assert.deepEqual(await snapshot(), full, 'nothing of the failed write is in the log, the state or IndexedDB');
    assert.equal(await page.evaluate(() => window.db.get('big')), undefined);
    // So is it after a reopen in a fresh page.
    await page.evaluate(() => window.db.close());
    await page.reload({ waitUntil: 'load' });
    await open();
    assert.deepEqual(await snapshot(), full, 'after a reopen');
    const first = await page.evaluate(async () => (await window.db.get('k0')).i);
    assert.equal(first, 0);

    // Removes and a clear still work near the quota.
    const freed = await page.evaluate(async () => ({
      removed: await attempt(() => window.db.remove('k0')),
      again: await attempt(() => window.db.remove('k1')),
      cleared: await attempt(() => window.db.clear()),
      count: await window.db.count(),
      verify: (await window.db.verify()).ok,
    }));
    assert.deepEqual(freed, {
      removed: { value: true },
      again: { value: true },
      cleared: { value: EVERY - 2 },
      count: 0,
      verify: true,
    });

    // Room again: writes work, and the checkpoint that waited is written within an interval.
    await quotaOf(usage + 100 * 1024 * 1024);
    const later = await page.evaluate(
      async ({ n, size }) => {
        for (let i = 0; i < n; i++) await window.db.add(`again${i}`, { i, bytes: randomBytes(size) });
        const { records, checkpoints } = window.db.getStats();
        return { records, checkpoints, verify: (await window.db.verify()).ok };
      },
      { n: EVERY, size: SIZE },
    );
    assert.deepEqual(later, { records: EVERY, checkpoints: 1, verify: true });
    await page.evaluate(() => window.db.close());
    await page.reload({ waitUntil: 'load' });
    await open();
    const reopened = await snapshot();
    assert.equal(reopened.records, EVERY);
    assert.equal(reopened.verify.ok, true);
  });
});

test('near the quota: records added one at a time until one is refused leave room for removes and a clear', {
  timeout: 240_000,
}, async () => {
  await withQuotaPage(async (context, page) => {
    const open = () =>
      page.evaluate(async () => {
        window.db = new AuroraDB({ name: 'quota-small' });
        await window.db.create();
      });
    const usage = () => page.evaluate(async () => (await navigator.storage.estimate()).usage);

    // What 30 records take, without a quota.
    await page.goto(`${measure.origin}/storage.html`, { waitUntil: 'load' });
    await open();
    await fill(page, 30, SIZE);
    const filled = await usage();
    await page.evaluate(() => window.db.destroy());

    // Room for the 30 and the reserve, and a few more records of SIZE (each takes about three
    // times its size): added one at a time, Chromium's own check would let the last one leave
    // the usage over the quota, after which it refuses every write, removes and clears too.
    const quota = filled + RESERVE + 12 * SIZE;
    await setQuota(context, page, small.origin, quota);
    await page.goto(`${small.origin}/storage.html`, { waitUntil: 'load' });
    await open();
    await fill(page, 30, SIZE);
    const added = await page.evaluate(async (size) => {
      const outcomes = [];
      for (let i = 0; i < 12; i++) {
        const out = await attempt(() => window.db.add(`more${i}`, { i, bytes: randomBytes(size) }));
        outcomes.push(out.error ?? 'ok');
        if (out.error) break;
      }
      return { outcomes, count: await window.db.count(), stores: await storeCounts('quota-small') };
    }, SIZE);
    const refused = added.outcomes.at(-1);
    assert.equal(refused, 'QuotaExceededError', JSON.stringify(added));
    assert.ok(added.outcomes.length >= 2, `some records fit before one was refused: ${JSON.stringify(added)}`);
    assert.equal(added.count, 30 + added.outcomes.length - 1);
    const est = await page.evaluate(async () => navigator.storage.estimate());
    assert.ok(est.usage <= quota, `the usage stays under the quota: ${JSON.stringify({ est, quota, filled, added })}`);

    await removesAndClearWork(page, 'quota-small', added);
  });
});

test('a quota the page is not told of (the DevTools override as it is): after the first refused write, removes and a clear still work', {
  timeout: 240_000,
}, async () => {
  await withQuotaPage(
    async (context, page) => {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: hidden.origin, quotaSize: 3 * 1024 * 1024 });
      await page.goto(`${hidden.origin}/storage.html`, { waitUntil: 'load' });
      const told = await page.evaluate(async () => (await navigator.storage.estimate()).quota);
      assert.ok(told > 100 * 1024 * 1024, `the page is told the machine's quota, not the override: ${told}`);
      const added = await page.evaluate(async (size) => {
        window.db = new AuroraDB({ name: 'quota-hidden' });
        await window.db.create();
        const outcomes = [];
        for (let i = 0; i < 400; i++) {
          const out = await attempt(() => window.db.add(`k${i}`, { i, bytes: randomBytes(size) }));
          outcomes.push(out.error ?? 'ok');
          if (out.error) break;
        }
        return { refused: outcomes.at(-1), count: await window.db.count(), stores: await storeCounts('quota-hidden') };
      }, SIZE);
      assert.equal(added.refused, 'QuotaExceededError', JSON.stringify(added));
      assert.ok(added.count > 10, JSON.stringify(added));
      await removesAndClearWork(page, 'quota-hidden', added);
      // A write of a value now either fits or is refused whole; reopened, all is as acknowledged.
      const after = await page.evaluate(async () => {
        const out = await attempt(() => window.db.add('later', { n: 1 }));
        await window.db.close();
        window.db = new AuroraDB({ name: 'quota-hidden' });
        await window.db.create();
        return { out: out.error ?? 'ok', keys: await window.db.keys(), verify: (await window.db.verify()).ok };
      });
      assert.ok(['ok', 'QuotaExceededError'].includes(after.out), JSON.stringify(after));
      assert.deepEqual(after.keys, after.out === 'ok' ? ['later'] : []);
      assert.equal(after.verify, true);
    },
    { reported: false },
  );
});
