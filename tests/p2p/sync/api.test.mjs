// The distributed JavaScript API beyond convergence, over the 'broadcast' adapter (two tabs of
// one origin, no server): create(true, id), the statuses, the events' detail shapes, autoSync
// off with post()/fetch()/sync(), groups, an adapter that cannot start, a peer's garbage
// rejected with an error naming it, a restarted peer, teardown, the ES module build, and two
// instances given one identity (a fork): frozen by every peer, and by another tab of one of them.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  FAST,
  FAST_P2P,
  assertNoProblems,
  dbHandle,
  describeDbs,
  launchBrowser,
  openDb,
  openPage,
  startPageServer,
  waitConnected,
  waitConverged,
  waitFor,
} from './harness.mjs';

let pages;
let browser;
let context;
let run = 0;

before(async () => {
  pages = await startPageServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await pages?.close();
});

/** A fresh channel (and group) per test, and a fresh context: tabs of one profile. */
async function fresh() {
  run += 1;
  await context?.close();
  context = await browser.newContext();
  const channel = `api-${Date.now().toString(36)}-${run}`;
  const config = (name, extra = {}) => ({
    name: `${channel}-${name}`,
    distributed: true,
    p2pAdapter: 'broadcast',
    ...FAST,
    syncInterval: 60_000,
    timeout: 5000,
    ...extra,
    p2pConfig: { ...FAST_P2P, channel, group: channel, ...(extra.p2pConfig ?? {}) },
  });
  return { channel, config };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('create(true, id): the peer id, the statuses and the events of a pair', { timeout: 120_000 }, async () => {
  const { config } = await fresh();
  const pa = await openPage(context, pages.origin);
  const pb = await openPage(context, pages.origin);
  const A = await openDb(pa, 'a', { ...config('a'), distributed: false }, true, 'peer-a');
  const B = await openDb(pb, 'b', config('b'), undefined, undefined);
  assert.equal(A.peerId, 'peer-a', 'create(true, id) names the peer');
  assert.match(B.peerId, /^[0-9a-f]{32}$/, 'the default id is the author id');
  const stats = await pb.evaluate(() => window.t.dbs.get('b').db.getStats());
  assert.equal(stats.author, B.peerId);
  assert.equal(
    await pa.evaluate(() => window.t.dbs.get('a').db.isDistributed()),
    true,
    'create(true) wins over distributed: false',
  );
  await waitConnected([A, B]);
  assert.equal((await pa.evaluate(() => window.t.dbs.get('a').db.getStats())).connections, 1);

  await A.add('k1', { n: 1 });
  await waitFor(async () => (await B.get('k1'))?.n === 1, 'the push');
  const after = await pb.evaluate(() => window.t.dbs.get('b').db.getStats());
  assert.deepEqual([after.records, after.ops], [1, 1], "the counters count a peer's op as it lands");
  const connection = (await B.events('connection')).find((e) => e.detail.peerId === 'peer-a');
  assert.deepEqual(connection.detail, { peerId: 'peer-a' });
  const post = (await B.events('post')).find((e) => e.detail.keys.includes('k1'));
  assert.deepEqual(post.detail, { peerId: 'peer-a', ops: 1, keys: ['k1'] });
  const change = (await B.events('change')).find((e) => e.detail.source === 'peer');
  assert.deepEqual(change.detail, {
    source: 'peer',
    peerId: 'peer-a',
    changes: [{ key: 'k1', type: 'set', value: { n: 1 } }],
  });
  await A.remove('k1');
  await waitFor(async () => (await B.events('delete')).some((e) => e.detail.key === 'k1'), 'the delete');
  assert.deepEqual((await B.events('delete')).at(-1).detail, { key: 'k1', source: 'peer', peerId: 'peer-a' });

  const report = await B.sync();
  assert.deepEqual(Object.keys(report).sort(), ['peers', 'received', 'sent']);
  assert.equal(report.peers, 1);
  const sync = (await B.events('sync')).at(-1);
  assert.deepEqual(sync.detail, report);

  await A.destroy();
  await waitFor(async () => (await B.connections()) === 0, 'B to see A go', { describe: () => describeDbs([B]) });
  assert.deepEqual((await B.events('disconnect')).at(-1).detail, { peerId: 'peer-a' });
  assert.equal(await pa.evaluate(() => window.t.dbs.get('a').db.adapter), null, 'destroy() drops the adapter');
  assert.equal(await pa.evaluate(() => window.t.dbs.get('a').db.getConnectionCount()), 0);
  await B.destroy();
  assertNoProblems(pa, pb);
});

test('autoSync: false: writes wait for post(); fetch() and sync() reconcile', { timeout: 120_000 }, async () => {
  const { config } = await fresh();
  const pa = await openPage(context, pages.origin);
  const pb = await openPage(context, pages.origin);
  const A = await openDb(pa, 'a', config('a', { autoSync: false }));
  const B = await openDb(pb, 'b', config('b', { autoSync: false }));
  await A.add('before', { n: 0 });
  await waitConnected([A, B]);
  await sleep(1000);
  assert.equal(await B.get('before'), null, 'no reconciliation on connect without autoSync');
  await A.add('held', { n: 1 });
  await sleep(800);
  assert.equal(await B.get('held'), null, 'no push without autoSync');

  assert.equal(await A.post(), 1, 'post() sends the waiting writes to 1 peer');
  await waitFor(async () => (await B.get('held'))?.n === 1 && (await B.get('before'))?.n === 0, 'the posted writes');
  assert.equal(await A.post(), 0, 'nothing waits any more');

  await B.add('from-b', { n: 2 });
  assert.equal(await A.fetch(), 1, 'fetch() asks 1 peer');
  await waitFor(async () => (await A.get('from-b'))?.n === 2, 'what fetch() asked for');
  await B.add('from-b-2', { n: 3 });
  const report = await A.sync();
  assert.deepEqual(report, { peers: 1, sent: 0, received: 1 });
  await waitConverged([A, B], { expectCount: 4 });

  // A post of several ops per key names each key once, in the order of its first change.
  for (const n of [1, 2, 3]) await A.add('many', { n });
  await A.add('gone', { n: 1 });
  await A.remove('gone');
  await A.post();
  await waitFor(async () => (await B.get('many'))?.n === 3, 'the posted ops');
  assert.deepEqual((await B.events('post')).at(-1).detail, { peerId: A.peerId, ops: 5, keys: ['many', 'gone'] });
  await A.destroy();
  await B.destroy();
});

test('a sync() called before close() resolves with what was done, whenever close() comes', {
  timeout: 120_000,
}, async () => {
  const { config } = await fresh();
  const pa = await openPage(context, pages.origin);
  const pb = await openPage(context, pages.origin);
  const B = await openDb(pb, 'b', config('b'));
  for (const delay of [-1, 0, 30]) {
    const A = await openDb(pa, `a${delay}`, config(`a${delay}`));
    await waitConnected([A, B]);
    await B.add(`from-b-${delay}`, { n: delay });
    // -1: close() in the same tick as sync(); else after `delay` ms.
    const outcome = await pa.evaluate(
      async ([label, delay]) => {
        const db = window.t.dbs.get(label).db;
        const synced = db.sync().then(
          (r) => ({ resolved: r }),
          (e) => ({ rejected: e.name }),
        );
        if (delay >= 0) await new Promise((r) => setTimeout(r, delay));
        await db.close();
        const late = new Promise((r) => setTimeout(() => r('still pending 8 s after close()'), 8000));
        return Promise.race([synced, late]);
      },
      [A.label, delay],
    );
    assert.equal(
      typeof outcome,
      'object',
      `close() ${delay < 0 ? 'in the same tick' : `after ${delay} ms`}: ${outcome}`,
    );
    assert.ok(outcome.resolved, JSON.stringify(outcome));
    assert.deepEqual(Object.keys(outcome.resolved).sort(), ['peers', 'received', 'sent']);
    await waitFor(async () => (await B.connections()) === 0, 'B to see A go');
  }
  await B.destroy();
  assertNoProblems(pa, pb);
});

test('a transport that delivers every frame twice (a resend after a late acknowledgement): sync works, nobody is blamed', {
  timeout: 120_000,
}, async () => {
  const { config } = await fresh();
  const pa = await openPage(context, pages.origin);
  const pb = await openPage(context, pages.origin);
  const A = await openDb(pa, 'a', config('a'));
  const B = await openDb(pb, 'b', config('b'));
  await waitConnected([A, B]);
  // A's adapter sends each frame twice, as Socket.IO's does when the relay's acknowledgement
  // comes after connectionTimeout.
  await pa.evaluate(() => {
    const adapter = window.t.dbs.get('a').db.adapter;
    const send = adapter.send.bind(adapter);
    adapter.send = (to, data) => send(to, data) && send(to, data);
  });
  for (let i = 0; i < 20; i++) await A.add(`twice-${i}`, { i });
  await B.add('from-b', { n: 1 });
  await A.sync();
  await waitConverged([A, B], { expectCount: 21 });
  const errors = (await B.events('error')).map((e) => `${e.detail.type} ${e.detail.name}`);
  assert.deepEqual(errors, [], 'no peer-rejected for a frame received twice');
  // The engine's own counters (not a public API): the copies were dropped as duplicates.
  const stats = await pb.evaluate(() => window.t.dbs.get('b').db._core.syncStats());
  assert.ok(stats.duplicates > 0, JSON.stringify(stats));
  await A.destroy();
  await B.destroy();
  assertNoProblems(pa, pb);
});

test('writes larger than a frame sync: a 1 MB value and a 10,000-record batchSet', { timeout: 240_000 }, async () => {
  const { config } = await fresh();
  const pa = await openPage(context, pages.origin);
  const pb = await openPage(context, pages.origin);
  // The batch keeps a page's thread busy for seconds on a slow machine: a link timeout of 2 s
  // would drop and remake the link mid-transfer (which syncs too, but slower).
  const slow = { p2pConfig: { peerTimeout: 10_000 } };
  const A = await openDb(pa, 'a', config('a', slow));
  // Written while B is away: shipped in a session on connect.
  await A.add('blob-before', { s: 'a'.repeat(1 << 20) });
  const B = await openDb(pb, 'b', config('b', slow));
  await waitConnected([A, B]);
  // Written while linked: pushed at once. Each op is bigger than a 256 KiB frame.
  const pairs = Array.from({ length: 10_000 }, (_, i) => [`item-${i}`, { n: i, name: 'a record of a batch' }]);
  const written = await pa.evaluate(([l, p]) => window.t.dbs.get(l).db.db.batchSet(p), ['a', pairs]);
  assert.equal(written, 10_000);
  await A.add('after', { n: 1 });
  await waitConverged([A, B], { expectCount: 10_002, timeout: 150_000 });
  assert.equal((await B.get('blob-before')).s.length, 1 << 20);
  assert.deepEqual([...(await A.events('error')), ...(await B.events('error'))], [], 'no sync errors');
  assertNoProblems(pa, pb);
  await A.destroy();
  await B.destroy();
});

test("a tab dispatches a peer's write before a sibling tab's later remove of it", { timeout: 150_000 }, async () => {
  // Tabs A1 and A2 of one database and a peer B. B adds keys; A2 removes each as soon as it sees
  // it (through the tab that applied B's push). A1's events must come in commit order: the
  // peer's set of a key before the tab's delete of it, so a view built from them ends empty.
  const { config } = await fresh();
  const [p1, p2, pb] = [
    await openPage(context, pages.origin),
    await openPage(context, pages.origin),
    await openPage(context, pages.origin),
  ];
  const A1 = await openDb(p1, 'a1', config('a'));
  const A2 = await openDb(p2, 'a2', config('a'));
  const B = await openDb(pb, 'b', config('b'), true, 'peer-b');
  await waitConnected([A1, A2, B], 2);
  await p2.evaluate(() => {
    const db = window.t.dbs.get('a2').db;
    db.addEventListener('set', (e) => {
      if (e.detail.key.startsWith('r')) db.remove(e.detail.key);
    });
  });
  const N = 30;
  for (let i = 0; i < N; i++) {
    await B.add(`r${i}`, { i });
    await sleep(30);
  }
  const empty = async (d) => (await d.all()).length === 0;
  await waitFor(async () => (await empty(A1)) && (await empty(A2)) && (await empty(B)), 'every key removed', {
    describe: () => describeDbs([A1, A2, B]),
  });
  await sleep(500);
  for (const tab of [A1, A2]) {
    const last = new Map();
    for (const e of await tab.events()) {
      if (e.type === 'set' || e.type === 'delete') last.set(e.detail.key, `${e.type} (${e.detail.source})`);
    }
    const ghosts = [...last].filter(([, event]) => event.startsWith('set'));
    assert.deepEqual(ghosts, [], `${tab.label}: keys whose last event says they are there`);
    assert.equal(last.size, N, `${tab.label}: events of every key`);
  }
  await A1.destroy();
  await A2.close();
  await B.destroy();
});

test('peers of another group on the same channel are ignored, without errors', { timeout: 120_000 }, async () => {
  const { config, channel } = await fresh();
  const pa = await openPage(context, pages.origin);
  const pb = await openPage(context, pages.origin);
  const pc = await openPage(context, pages.origin);
  const A = await openDb(pa, 'a', config('a'));
  const B = await openDb(pb, 'b', config('b'));
  const C = await openDb(pc, 'c', config('c', { p2pConfig: { group: `${channel}-other` } }));
  await waitConnected([A, B]);
  await C.add('c-only', { n: 1 });
  await A.add('a-only', { n: 1 });
  await waitConverged([A, B], { expectCount: 1 });
  await sleep(1500);
  assert.equal(await C.connections(), 0);
  assert.equal(await A.connections(), 1);
  assert.equal(await C.get('a-only'), null);
  assert.equal(await A.get('c-only'), null);
  // The adapters link all three; only the engine keeps them apart.
  await waitFor(async () => (await C.adapterCall('getConnectionCount')) === 2, "C's adapter linked to A and B");
  for (const db of [A, B, C]) assert.deepEqual(await db.events('error'), []);
  for (const db of [A, B, C]) await db.destroy();
});

test('an adapter that cannot start leaves a working local database', { timeout: 60_000 }, async () => {
  const { config } = await fresh();
  const page = await openPage(context, pages.origin);
  const A = await openDb(page, 'a', config('a', { p2pAdapter: 'no-such-adapter' }));
  await waitFor(async () => (await A.events('error')).length > 0, 'the error event');
  const [error] = await A.events('error');
  assert.equal(error.detail.type, 'unknown-adapter');
  assert.equal(error.detail.name, 'P2PError');
  assert.equal(error.detail.operation, 'p2p');
  assert.match(error.detail.message, /no-such-adapter/);
  assert.equal(await page.evaluate(() => window.t.dbs.get('a').db.isDistributed()), false);
  await A.add('k', { n: 1 });
  assert.deepEqual(await A.get('k'), { n: 1 });
  assert.deepEqual(await A.sync(), { peers: 0, sent: 0, received: 0 });
  assert.equal(await A.post(), 0);
  assert.equal(await A.fetch(), 0);
  await A.destroy();
});

test('garbage from a peer is rejected with an error naming it; sync goes on', { timeout: 120_000 }, async () => {
  const { config } = await fresh();
  const pa = await openPage(context, pages.origin);
  const pb = await openPage(context, pages.origin);
  const A = await openDb(pa, 'a', config('a'), true, 'honest');
  const B = await openDb(pb, 'b', config('b'), true, 'mallory');
  await waitConnected([A, B]);
  await A.add('k', { n: 1 });
  await waitConverged([A, B], { expectCount: 1 });
  // Mallory's adapter sends A frames that are no valid sync frame: a length prefix with
  // nothing behind it, a truncated hello, and bytes announcing 2 GiB and 4 GiB.
  const sent = await pb.evaluate(() => {
    const a = window.t.dbs.get('b').db.adapter;
    return [
      a.send('honest', Uint8Array.of(200, 0, 0, 0, 65, 85, 115, 121, 1, 7)),
      a.send('honest', Uint8Array.of(65, 85, 104, 105, 1, 1)),
      a.send('honest', Uint8Array.of(255, 255, 255, 127, 65, 85, 115, 121, 1)),
      // 4 GiB - 1 announced: with the prefix's own 4 bytes, past what 32 bits hold.
      a.send('honest', Uint8Array.of(255, 255, 255, 255, 65, 85, 115, 121, 1)),
    ];
  });
  assert.deepEqual(sent, [true, true, true, true]);
  await waitFor(async () => (await A.events('error')).length >= 4, 'four errors', {
    describe: () => describeDbs([A]),
  });
  const errors = (await A.events('error')).map((e) => e.detail);
  for (const e of errors) {
    assert.equal(e.type, 'peer-rejected');
    assert.equal(e.peerId, 'mallory');
    assert.equal(e.operation, 'sync');
    assert.match(e.name, /Error$/);
    assert.equal(e.error.name, e.name);
  }
  assert.deepEqual(
    errors.map((e) => e.name).sort(),
    ['CorruptMessageError', 'FrameTooLargeError', 'FrameTooLargeError', 'TruncatedFrameError'].sort(),
    JSON.stringify(errors),
  );
  // Nothing was applied, and the pair still syncs.
  assert.equal((await A.verify()).ops, 1);
  await B.add('after', { n: 2 });
  await waitConverged([A, B], { expectCount: 2 });
  await A.destroy();
  await B.destroy();
});

test('clocks further apart than the drift bound are reported by both peers as they connect', {
  timeout: 120_000,
}, async () => {
  const { config } = await fresh();
  // Page a's clock runs 10 minutes ahead (the default drift bound is 5).
  const ahead = () => {
    const now = Date.now.bind(Date);
    Date.now = () => now() + 600_000;
  };
  const pa = await openPage(context, pages.origin, '/peer.html', ahead);
  const pb = await openPage(context, pages.origin);
  // Reported once per connection: a link timeout long enough that a loaded machine's stall does
  // not drop the link and connect (and report) again.
  const steady = { p2pConfig: { peerTimeout: 10_000 } };
  const A = await openDb(pa, 'a', config('a', steady), true, 'ahead');
  const B = await openDb(pb, 'b', config('b', steady), true, 'behind');
  await waitConnected([A, B]);
  const skew = async (db) => (await db.events('error')).map((e) => e.detail).filter((d) => d.type === 'clock-skew');
  await waitFor(async () => (await skew(A)).length >= 1 && (await skew(B)).length >= 1, 'a clock-skew error on both', {
    describe: () => describeDbs([A, B]),
  });
  const [a, b] = [await skew(A), await skew(B)];
  assert.equal(a.length, 1, JSON.stringify(a));
  assert.equal(b.length, 1, JSON.stringify(b));
  for (const [e, other] of [
    [a[0], 'behind'],
    [b[0], 'ahead'],
  ]) {
    assert.equal(e.name, 'ClockDriftError');
    assert.equal(e.error.name, 'ClockDriftError');
    assert.equal(e.peerId, other);
    assert.equal(e.operation, 'sync');
  }
  assert.match(a[0].message, /this clock is 6\d{5} ms ahead of the peer's/);
  assert.match(b[0].message, /the peer's clock is \d{6} ms ahead of this one's/);
  // Before any op was exchanged: neither wrote yet.
  assert.equal((await A.verify()).ops, 0);
  // The pair stays connected: the peer behind still syncs to the one ahead.
  await B.add('from-behind', { n: 1 });
  await waitFor(async () => (await A.get('from-behind'))?.n === 1, 'the op of the peer behind arrives');
  await A.destroy();
  await B.destroy();
});

test('both clocks set back an hour after a sync (an NTP step): the next writes still sync both ways', {
  timeout: 120_000,
}, async () => {
  const { config } = await fresh();
  const settable = () => {
    const now = Date.now.bind(Date);
    window.clockOffset = 0;
    Date.now = () => now() + window.clockOffset;
  };
  const pa = await openPage(context, pages.origin, '/peer.html', settable);
  const pb = await openPage(context, pages.origin, '/peer.html', settable);
  const A = await openDb(pa, 'a', config('a'), true, 'peer-a');
  const B = await openDb(pb, 'b', config('b'), true, 'peer-b');
  await waitConnected([A, B]);
  await A.add('x', { v: 'a1' });
  await waitFor(async () => (await B.get('x'))?.v === 'a1', 'B has a1');
  // No skew between the two: both are set back together. Their new ids are stamped just past
  // the history they share, an hour ahead of the clocks, and within the bound of the latest
  // time each clock read.
  for (const page of [pa, pb]) await page.evaluate(() => (window.clockOffset = -3_600_000));
  await A.add('x', { v: 'a2' });
  await B.add('y', { v: 'b1' });
  await waitConverged([A, B]);
  assert.deepEqual([(await B.get('x'))?.v, (await A.get('y'))?.v], ['a2', 'b1']);
  const [va, vb] = [await A.verify(), await B.verify()];
  assert.equal(va.ops, 3);
  assert.equal(va.fingerprint, vb.fingerprint);
  for (const db of [A, B]) {
    const drift = (await db.events('error')).map((e) => e.detail).filter((d) => /ClockDrift/.test(d.name ?? ''));
    assert.deepEqual(drift, [], 'no op refused for drift');
  }
  await A.destroy();
  await B.destroy();
});

test('both peers restarted with their clocks set back an hour: the next writes still sync both ways', {
  timeout: 120_000,
}, async () => {
  const { config } = await fresh();
  const pa = await openPage(context, pages.origin);
  const pb = await openPage(context, pages.origin);
  let A = await openDb(pa, 'a', config('a'), true, 'peer-a');
  let B = await openDb(pb, 'b', config('b'), true, 'peer-b');
  await waitConnected([A, B]);
  await A.add('x', { v: 'a1' });
  await waitFor(async () => (await B.get('x'))?.v === 'a1', 'B has a1');
  await pa.close();
  await pb.close();
  // Both browsers come back with their clocks an hour behind (no skew between them). Each new
  // instance never read the time its history was written at: it bounds drift from the time its
  // database's newest commit says its clock had read (a2 was refused before, on every round).
  const back = () => {
    const now = Date.now.bind(Date);
    Date.now = () => now() - 3_600_000;
  };
  const pc = await openPage(context, pages.origin, '/peer.html', back);
  const pd = await openPage(context, pages.origin, '/peer.html', back);
  A = await openDb(pc, 'a', config('a'), true, 'peer-a');
  B = await openDb(pd, 'b', config('b'), true, 'peer-b');
  await waitConnected([A, B]);
  await A.add('x', { v: 'a2' });
  await B.add('y', { v: 'b1' });
  await waitConverged([A, B]);
  assert.deepEqual([(await B.get('x'))?.v, (await A.get('y'))?.v], ['a2', 'b1']);
  for (const db of [A, B]) {
    const drift = (await db.events('error')).map((e) => e.detail).filter((d) => /ClockDrift/.test(d.name ?? ''));
    assert.deepEqual(drift, [], 'no op refused for drift');
  }
  await A.destroy();
  await B.destroy();
});

test('a peer that restarts under the same id is seen to go and come back; sync resumes', {
  timeout: 120_000,
}, async () => {
  const { config } = await fresh();
  const pa = await openPage(context, pages.origin);
  const pb = await openPage(context, pages.origin);
  const A = await openDb(pa, 'a', config('a'), true, 'steady');
  let B = await openDb(pb, 'b', config('b'), true, 'phoenix');
  await waitConnected([A, B]);
  await B.add('b1', { n: 1 });
  await waitConverged([A, B], { expectCount: 1 });
  await pb.reload();
  await pb.waitForFunction(() => window.t?.ready === true);
  B = await openDb(pb, 'b', config('b'), true, 'phoenix');
  await B.add('b2', { n: 2 });
  await A.add('a1', { n: 3 });
  await waitConnected([A, B]);
  await waitConverged([A, B], { expectCount: 3 });
  const events = (await A.events())
    .filter((e) => e.type === 'connection' || e.type === 'disconnect')
    .map((e) => `${e.type}:${e.detail.peerId}`);
  assert.deepEqual(events, ['connection:phoenix', 'disconnect:phoenix', 'connection:phoenix']);
  await A.destroy();
  await B.destroy();
});

test('the static API: AuroraDB.P2PAdapter, registerP2PAdapter, listP2PAdapters; the ES module build', {
  timeout: 60_000,
}, async () => {
  await fresh();
  const page = await openPage(context, pages.origin);
  const classic = await page.evaluate(() => {
    let refused = null;
    try {
      AuroraDB.registerP2PAdapter('not-a-class', {});
    } catch (e) {
      refused = { name: e.name, type: e.type };
    }
    class Loopback extends AuroraDB.P2PAdapter {}
    const returned = AuroraDB.registerP2PAdapter('loopback', Loopback);
    return {
      list: AuroraDB.listP2PAdapters(),
      base: typeof AuroraDB.P2PAdapter,
      error: typeof AuroraDB.P2PError,
      refused,
      returned: returned === Loopback,
    };
  });
  assert.deepEqual(classic.list, [
    'peerjs',
    'webrtc',
    'socketio',
    'broadcast',
    'mycustom',
    'mycustom-reconnecting',
    'loopback',
  ]);
  assert.equal(classic.base, 'function');
  assert.equal(classic.error, 'function');
  assert.deepEqual(classic.refused, { name: 'P2PError', type: 'invalid-adapter' });
  assert.equal(classic.returned, true);

  const esm = await page.evaluate(async () => {
    const { AuroraDB: M } = await import('/auroradb.mjs');
    const p2p = await import('/p2p/index.js');
    return { list: M.listP2PAdapters(), same: M.P2PAdapter === p2p.P2PAdapter, distinct: M !== window.AuroraDB };
  });
  assert.deepEqual(esm.list, ['peerjs', 'webrtc', 'socketio', 'broadcast']);
  assert.equal(esm.same, true, 'the module uses the adapters of pkg/p2p/');
  assert.equal(esm.distinct, true);
  await context.close();
  context = null;
});

/**
 * Creates a database in `page` that signs with the secret key `secret` (32 numbers), as peer
 * `peerId` (two peers signing as one author need two peer ids: the default is the author's).
 */
async function openWithIdentity(page, label, config, secret, peerId) {
  const info = await page.evaluate(
    async ([l, c, s, p]) => {
      const r = window.t.watch(l, new AuroraDB({ ...c, identity: Uint8Array.from(s) }));
      await r.db.create(undefined, p);
      return { peerId: r.db.getPeerId(), author: r.db.getIdentity().author };
    },
    [label, config, secret, peerId],
  );
  return { ...dbHandle(page, label, info), author: info.author };
}

test('two instances given one identity fork its chain: every peer freezes it, and so does another tab', {
  timeout: 180_000,
}, async () => {
  const { config } = await fresh();
  const secret = Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 255);
  const pa = await openPage(context, pages.origin);
  const pb = await openPage(context, pages.origin);
  const pc = await openPage(context, pages.origin);
  const pt = await openPage(context, pages.origin);
  // Both write as the same author at seq 1, apart: A, then B once A is closed.
  let A = await openWithIdentity(pa, 'a', config('a'), secret, 'peer-a');
  await A.add('from-a', { n: 1 });
  await A.close();
  const B = await openWithIdentity(pb, 'b', config('b'), secret, 'peer-b');
  assert.equal(B.author, A.author);
  await B.add('from-b', { n: 2 });
  await B.close();
  // Another tab of database 'a', local only, holds A's record before anything is synced.
  const T = await openDb(pt, 't', { ...config('a'), distributed: false }, false);
  assert.deepEqual(await T.get('from-a'), { n: 1 });
  const C = await openDb(pc, 'c', config('c'), true);
  await C.add('from-c', { n: 3 });
  A = await openWithIdentity(pa, 'a2', config('a'), secret, 'peer-a');
  const B2 = await openWithIdentity(pb, 'b2', config('b'), secret, 'peer-b');
  const dbs = [A, B2, C];
  await waitConnected(dbs, 2);
  await A.sync();
  await waitConverged(dbs, { expectCount: 1 });
  for (const db of dbs) {
    assert.equal(await db.get('from-a'), null, `${db.label} dropped the fork's op of A`);
    assert.equal(await db.get('from-b'), null, `${db.label} dropped the fork's op of B`);
    assert.deepEqual(await db.get('from-c'), { n: 3 }, `${db.label} keeps the honest write`);
    const forks = (await db.events('error')).filter((e) => e.detail.type === 'equivocation');
    assert.equal(forks.length, 1, `${db.label} reports the fork once: ${JSON.stringify(forks)}`);
    assert.equal(forks[0].detail.name, 'EquivocationError');
    assert.match(forks[0].detail.message, new RegExp(A.author.slice(0, 8)));
  }
  // The author's instances write no more: peers would take none of it.
  for (const db of [A, B2]) {
    const refused = await db.page.evaluate(async (l) => {
      try {
        await window.t.dbs.get(l).db.add('after', { n: 4 });
        return 'written';
      } catch (e) {
        return e.name;
      }
    }, db.label);
    assert.equal(refused, 'BrokenChainError', `${db.label}'s next write`);
  }
  // The other tab of database 'a' learns of the freeze from storage: its record is gone, and
  // its log is the one A holds.
  await waitFor(async () => (await T.get('from-a')) === null, 'the other tab to drop the frozen op', {
    describe: () => describeDbs([T, A]),
  });
  const [mine, theirs] = [await T.verify(), await A.verify()];
  assert.equal(mine.ok, true);
  assert.equal(mine.fingerprint, theirs.fingerprint);
  const lost = (await T.events('delete')).filter((e) => e.detail.key === 'from-a');
  assert.deepEqual(
    lost.map((e) => e.detail),
    [{ key: 'from-a', source: 'tab' }],
    'the other tab announces the record it lost, once',
  );
  assertNoProblems(pa, pb, pc, pt);
  await context.close();
  context = null;
});
