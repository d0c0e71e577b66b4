// The browser's data loss, reported: Chromium keeps IndexedDB in LevelDB files on the profile,
// and when it finds them damaged as it opens them (a checksum that does not match, as after some
// crashes), it deletes the database and opens it empty, saying so to the open request
// (`dataLoss: 'total'` and a message). Here a database is written on an on-disk profile, the
// browser is closed, the store's files are damaged on disk, and the browser is launched again:
// `create()` resolves on the empty database, dispatches an `error` event of type
// `DataLossError` with the browser's words before `open`, and `getStats().dataLoss` keeps them;
// the database then works as a new one. An undamaged reopen reports nothing. The browser tells
// the first open only; the origin's other databases it dropped are found gone by the mark the
// engine keeps outside IndexedDB, as is one deleted outside AuroraDB. Where localStorage
// refuses access, there is no mark, and the engine loads and opens as usual.
//
// Needs the built API in pkg/ (./scripts/build-web.sh); ./scripts/web-test.sh does it all.

import test from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, fstatSync, mkdtempSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser, launchPersistentPage, serverSuite } from './harness.mjs';

const NAME = 'lossy';
const OTHER = 'other';

const suite = serverSuite();

/** Opens the test page in a browser on `profile`. */
function launch(profile) {
  return launchPersistentPage(profile, `${suite.server.origin}/storage.html`);
}

/**
 * In the page: opens database `name`, noting the events it dispatches in order (`open`, and
 * each `error` with its detail's type and the error's fields), writes `write` records, and
 * returns what it saw, its stats, its record count, `verify()` and the records read back.
 */
function session(page, name, write) {
  return page.evaluate(
    async ({ name, write }) => {
      const db = new AuroraDB({ name });
      const events = [];
      db.addEventListener('open', () => events.push({ event: 'open' }));
      db.addEventListener('error', (e) =>
        events.push({
          event: 'error',
          type: e.detail.type,
          operation: e.detail.operation,
          name: e.detail.error.name,
          message: e.detail.error.message,
          dataLoss: e.detail.error.dataLoss,
          dataLossMessage: e.detail.error.dataLossMessage,
        }),
      );
      await db.create();
      const before = await db.count();
      for (let i = 0; i < write; i++) await db.put(`k${i}`, { i, text: 'x'.repeat(200) });
      const stats = db.getStats();
      const out = {
        events,
        before,
        dataLoss: stats.dataLoss,
        count: await db.count(),
        verify: (await db.verify()).ok,
        last: write > 0 ? await db.get(`k${write - 1}`) : null,
      };
      await db.close();
      return out;
    },
    { name, write },
  );
}

/**
 * Damages the IndexedDB store of every origin on `profile`: overwrites the second half of each
 * LevelDB table (`.ldb`) and log (`.log`) file with other bytes, which LevelDB's checksums
 * catch when the browser opens the store. Returns how many files it damaged.
 */
function damageStores(profile) {
  const dir = join(profile, 'Default', 'IndexedDB');
  let damaged = 0;
  for (const store of readdirSync(dir).filter((s) => s.endsWith('.indexeddb.leveldb'))) {
    for (const file of readdirSync(join(dir, store)).filter((f) => /\.(ldb|log)$/.test(f))) {
      const fd = openSync(join(dir, store, file), 'r+');
      try {
        const size = fstatSync(fd).size;
        if (size < 64) continue;
        const start = Math.floor(size / 2);
        const junk = Buffer.alloc(size - start, 0xa5);
        writeSync(fd, junk, 0, junk.length, start);
        damaged++;
      } finally {
        closeSync(fd);
      }
    }
  }
  return damaged;
}

test('a store the browser finds damaged at open: DataLossError event before open, getStats().dataLoss, then a working empty database', {
  timeout: 180_000,
}, async () => {
  const profile = mkdtempSync(join(tmpdir(), 'auroradb-loss-'));
  try {
    // Written, then reopened undamaged: nothing lost, nothing reported. A second database of
    // the origin is written too.
    let run = await launch(profile);
    try {
      const other = await session(run.page, OTHER, 30);
      assert.deepEqual(other.events, [{ event: 'open' }]);
      const first = await session(run.page, NAME, 300);
      assert.equal(first.count, 300);
      assert.deepEqual(first.events, [{ event: 'open' }]);
      assert.equal(first.dataLoss, null);
      const again = await session(run.page, NAME, 0);
      assert.equal(again.before, 300);
      assert.deepEqual(again.events, [{ event: 'open' }], 'an undamaged reopen reports nothing');
      assert.equal(again.dataLoss, null);
    } finally {
      await run.context.close();
    }
    run = await launch(profile);
    try {
      const relaunched = await session(run.page, NAME, 0);
      assert.equal(relaunched.before, 300, 'a clean relaunch reads every record');
      assert.deepEqual(relaunched.events, [{ event: 'open' }]);
      assert.equal(relaunched.dataLoss, null);
    } finally {
      await run.context.close();
    }

    assert.ok(damageStores(profile) > 0, 'some store file was damaged');

    run = await launch(profile);
    try {
      const lost = await session(run.page, NAME, 20);
      assert.equal(lost.before, 0, 'the browser dropped the damaged database');
      assert.equal(lost.events.length, 2, JSON.stringify(lost.events));
      const [error, open] = lost.events;
      assert.deepEqual(open, { event: 'open' }, 'the error comes before open');
      assert.equal(error.type, 'DataLossError');
      assert.equal(error.name, 'DataLossError');
      assert.equal(error.operation, 'create');
      assert.equal(error.dataLoss, 'total');
      assert.match(error.dataLossMessage, /corrupt/i);
      assert.match(error.message, /"lossy"/);
      assert.ok(error.message.includes(error.dataLossMessage), error.message);
      assert.deepEqual(lost.dataLoss, { type: 'total', message: error.dataLossMessage });
      // It works as a new database.
      assert.equal(lost.count, 20);
      assert.equal(lost.verify, true);
      assert.deepEqual(lost.last, { i: 19, text: 'x'.repeat(200) });
      // The report is the open's, once: the next open reads what this one wrote.
      const next = await session(run.page, NAME, 0);
      assert.equal(next.before, 20);
      assert.deepEqual(next.events, [{ event: 'open' }]);
      assert.equal(next.dataLoss, null);
      // The browser dropped the other database too, and told only the first open: the engine
      // finds it gone by its mark.
      const other = await session(run.page, OTHER, 0);
      assert.equal(other.before, 0);
      assert.equal(other.events.length, 2, JSON.stringify(other.events));
      assert.equal(other.events[0].type, 'DataLossError');
      assert.equal(other.events[0].dataLoss, 'missing');
      assert.match(other.events[0].message, /"other" was made on this origin before and is gone/);
      assert.equal(other.dataLoss.type, 'missing');
      const otherAgain = await session(run.page, OTHER, 0);
      assert.deepEqual(otherAgain.events, [{ event: 'open' }]);
    } finally {
      await run.context.close();
    }
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
});

test('a database deleted outside AuroraDB is reported gone at its next open; one deleted through AuroraDB, or new, is not', {
  timeout: 120_000,
}, async () => {
  const profile = mkdtempSync(join(tmpdir(), 'auroradb-loss-'));
  try {
    const run = await launch(profile);
    try {
      const { page } = run;
      const made = await session(page, 'gone', 5);
      assert.deepEqual(made.events, [{ event: 'open' }], 'a new database reports nothing');
      await page.evaluate(
        (name) =>
          new Promise((ok, fail) => {
            const req = indexedDB.deleteDatabase(name);
            req.onsuccess = ok;
            req.onerror = () => fail(req.error);
          }),
        'gone',
      );
      const reopened = await session(page, 'gone', 0);
      assert.equal(reopened.before, 0);
      assert.deepEqual(
        reopened.events.map((e) => [e.event, e.type, e.dataLoss]),
        [
          ['error', 'DataLossError', 'missing'],
          ['open', undefined, undefined],
        ],
      );
      // destroy() and AuroraDB.deleteDatabase() delete on purpose: no report after them.
      const destroyed = await page.evaluate(async () => {
        const db = new AuroraDB({ name: 'gone' });
        await db.create();
        await db.destroy();
        const again = new AuroraDB({ name: 'gone' });
        const events = [];
        again.addEventListener('error', (e) => events.push(e.detail.type));
        await again.create();
        await again.put('k', 1);
        await again.close();
        await AuroraDB.deleteDatabase('gone');
        const third = new AuroraDB({ name: 'gone' });
        third.addEventListener('error', (e) => events.push(e.detail.type));
        await third.create();
        const stats = third.getStats();
        await third.close();
        return { events, dataLoss: stats.dataLoss, count: stats.records };
      });
      assert.deepEqual(destroyed, { events: [], dataLoss: null, count: 0 });
      // Nor when another instance opens the database in the same tick as destroy(): its open may
      // find the database still there and mark it, just before the delete.
      const raced = await page.evaluate(async () => {
        const events = [];
        // The other open starts at different moments of the destroy (its delete waits for it).
        const delays = [0, 0, 1, 2, 3, 5, 8, 12];
        for (let round = 0; round < delays.length; round++) {
          const db = new AuroraDB({ name: 'raced' });
          await db.create();
          await db.put('k', round);
          const other = new AuroraDB({ name: 'raced' });
          // Closed by the deletion (DatabaseClosedError) or not: a loss it may not report.
          other.addEventListener('error', (e) => {
            if (e.detail.type === 'DataLossError') events.push(`other: ${e.detail.type}`);
          });
          const destroyed = db.destroy().then(
            () => 'destroyed',
            (e) => e.name,
          );
          if (delays[round] > 0) await new Promise((r) => setTimeout(r, delays[round]));
          const opened = other.create().then(
            () => 'opened',
            (e) => e.name,
          );
          await Promise.all([destroyed, opened]);
          await other.close();
          const next = new AuroraDB({ name: 'raced' });
          next.addEventListener('error', (e) => events.push(`next: ${e.detail.type}`));
          await next.create();
          if (next.getStats().dataLoss) events.push(`round ${round}: dataLoss`);
          await next.destroy();
        }
        return events;
      });
      assert.deepEqual(raced, []);
    } finally {
      await run.context.close();
    }
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
});

test('where localStorage refuses access, the engine loads and a database opens and works, without its mark', {
  timeout: 60_000,
}, async () => {
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    // As a page whose storage the user blocked: every access throws.
    await page.addInitScript(() => {
      Object.defineProperty(window, 'localStorage', {
        get() {
          throw new DOMException('access denied', 'SecurityError');
        },
      });
    });
    await page.goto(`${suite.server.origin}/storage.html`, { waitUntil: 'load' });
    const out = await page.evaluate(async () => {
      const errors = [];
      await AuroraDB.init();
      const db = new AuroraDB({ name: 'no-local-storage' });
      db.addEventListener('error', (e) => errors.push(e.detail.type));
      await db.create();
      await db.put('k', 1);
      const value = await db.get('k');
      await db.close();
      const again = new AuroraDB({ name: 'no-local-storage' });
      again.addEventListener('error', (e) => errors.push(e.detail.type));
      await again.create();
      const kept = await again.get('k');
      await again.destroy();
      return { errors, value, kept };
    });
    assert.deepEqual(out, { errors: [], value: 1, kept: 1 });
  } finally {
    await browser.close();
  }
});
