// Two AuroraDB databases in separate pages sync through each adapter: 'broadcast' (two tabs of
// one origin), 'peerjs' (a real PeerJS server), 'webrtc' (our signaling server), 'socketio' (the
// Socket.IO relay) and the README's custom adapter (over a JSON WebSocket relay). For each one:
// the databases converge (same records, same log fingerprint, logs verified); a write made
// while connected arrives at once as a push; after the connection drops, writes made on both
// sides while apart arrive once it is back; and (for the adapters with a server) writes made
// while the server restarts are not lost.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  FAST,
  FAST_P2P,
  assertNoProblems,
  describeDbs,
  jsonRelayScript,
  launchBrowser,
  openDb,
  openPage,
  peerjsScript,
  routeServers,
  signalingScript,
  socketioScript,
  startPageServer,
  startProcess,
  waitConnected,
  waitConverged,
  waitFor,
} from './harness.mjs';

let pages;
let browser;
const servers = {};
const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

before(async () => {
  pages = await startPageServer();
  browser = await launchBrowser();
  servers.peerjs = await startProcess(peerjsScript, ['--path', '/myapp']);
  servers.signaling = await startProcess(signalingScript);
  servers.socketio = await startProcess(socketioScript);
  servers.relay = await startProcess(jsonRelayScript);
});

after(async () => {
  await browser?.close();
  await pages?.close();
  for (const s of Object.values(servers)) await s?.stop().catch(() => {});
});

/** Settings common to every database of these tests: short timeouts, anti-entropy every 2 s. */
function base(name) {
  return { name, distributed: true, ...FAST, autoSync: true, syncInterval: 2000, timeout: 5000 };
}

/**
 * How each adapter is set up: `config(room)` adds its settings to a database's configuration;
 * `sameContext`: both pages in one browser context (BroadcastChannel only reaches tabs of one
 * origin and profile); `server`: the server whose restart is tested; `routes`: connections
 * the context sends elsewhere.
 */
const ADAPTERS = {
  broadcast: {
    sameContext: true,
    config: (room) => ({ p2pAdapter: 'broadcast', p2pConfig: { ...FAST_P2P, channel: room, group: room } }),
  },
  peerjs: {
    server: 'peerjs',
    config: () => ({
      p2pAdapter: 'peerjs',
      server: { host: '127.0.0.1', port: servers.peerjs.port, path: '/myapp' },
      p2pConfig: { ...FAST_P2P, discoveryInterval: 500 },
    }),
  },
  webrtc: {
    server: 'signaling',
    config: (room) => ({
      p2pAdapter: 'webrtc',
      p2pConfig: { ...FAST_P2P, signalingServer: servers.signaling.url, room, rtcConfig: { iceServers: [] } },
    }),
  },
  socketio: {
    server: 'socketio',
    config: (room) => ({
      p2pAdapter: 'socketio',
      p2pConfig: { ...FAST_P2P, serverUrl: servers.socketio.url, rooms: [room] },
    }),
  },
  mycustom: {
    routes: () => [{ match: /^wss:\/\/my-server\.com\/?$/, to: () => servers.relay.url }],
    config: () => ({ p2pAdapter: 'mycustom', p2pConfig: { ...FAST_P2P, customOption: 'value' } }),
  },
  // The README's adapter plus two lines telling the base class when its socket closes (see
  // pages/custom-reconnecting.js), so it reconnects after a relay restart.
  'mycustom-reconnecting': {
    server: 'relay',
    routes: () => [{ match: /^wss:\/\/my-server\.com\/?$/, to: () => servers.relay.url }],
    config: () => ({ p2pAdapter: 'mycustom-reconnecting', p2pConfig: { ...FAST_P2P } }),
  },
};

/** Writes `n` records from `db` under `prefix` (puts, then a remove and a transaction). */
async function writeSome(db, prefix, n) {
  for (let i = 0; i < n; i++) await db.add(`${prefix}-${i}`, { by: db.label, i, tags: [prefix, i % 3] });
  await db.remove(`${prefix}-0`);
  await db.page.evaluate(
    ([l, p]) =>
      window.t.dbs.get(l).db.transaction(async (tx) => {
        tx.entries[`${p}-txn`] = { by: l, txn: true };
        delete tx.entries[`${p}-1`];
      }),
    [db.label, prefix],
  );
  return n - 2 + 1;
}

/** Waits until `db` holds `key` with `by` = `from.label`. */
function waitForKey(db, key, from) {
  return waitFor(
    async () => (await db.get(key))?.by === from.label,
    `${db.label} to receive ${key} from ${from.label}`,
    {
      describe: () => describeDbs([db, from]),
    },
  );
}

for (const [adapter, setup] of Object.entries(ADAPTERS)) {
  test(`two databases sync through the '${adapter}' adapter`, { timeout: 240_000 }, async (t) => {
    const room = `sync-${adapter}-${RUN}`;
    const contexts = [];
    const newContext = async () => {
      const context = await browser.newContext();
      if (setup.routes) await routeServers(context, setup.routes());
      contexts.push(context);
      return context;
    };
    try {
      const shared = setup.sameContext ? await newContext() : null;
      const pageA = await openPage(shared ?? (await newContext()), pages.origin);
      const pageB = await openPage(shared ?? (await newContext()), pages.origin);
      // Two tabs of one profile share IndexedDB: there the databases get different names.
      const nameA = setup.sameContext ? `${room}-a` : room;
      const nameB = setup.sameContext ? `${room}-b` : room;
      const A = await openDb(pageA, 'a', { ...base(nameA), ...setup.config(room) });
      let expected = await writeSome(A, 'a', 12);
      const B = await openDb(pageB, 'b', { ...base(nameB), ...setup.config(room) });
      expected += await writeSome(B, 'b', 9);
      const both = [A, B];

      await t.test('they connect and converge on what each wrote before', async () => {
        await waitConnected(both);
        const all = await waitConverged(both, { expectCount: expected });
        assert.equal(all.length, expected);
        const [eventsA, eventsB] = [await A.events('connection'), await B.events('connection')];
        assert.ok(
          eventsA.some((e) => e.detail.peerId === B.peerId),
          'A saw B connect',
        );
        assert.ok(
          eventsB.some((e) => e.detail.peerId === A.peerId),
          'B saw A connect',
        );
      });

      await t.test('a write reaches the other database at once, as a push from its peer', async () => {
        await A.add('live', { by: 'a', n: 1 });
        expected += 1;
        await waitForKey(B, 'live', A);
        const posts = await B.events('post');
        assert.ok(
          posts.some((e) => e.detail.peerId === A.peerId && e.detail.ops >= 1 && e.detail.keys.includes('live')),
          JSON.stringify(posts),
        );
        const sets = await B.events('set');
        const set = sets.find((e) => e.detail.key === 'live');
        assert.equal(set.detail.source, 'peer');
        assert.equal(set.detail.peerId, A.peerId);
        await waitConverged(both, { expectCount: expected });
      });

      await t.test('sync() reports the round: { peers, sent, received }', async () => {
        const report = await A.sync();
        assert.equal(report.peers, 1);
        assert.equal(typeof report.sent, 'number');
        assert.equal(typeof report.received, 'number');
        const syncs = await A.events('sync');
        assert.ok(
          syncs.some((e) => e.detail.peers === 1),
          JSON.stringify(syncs.slice(-3)),
        );
      });

      await t.test('writes made while the connection is down arrive once it is back', async () => {
        await B.adapterCall('disconnect');
        await waitFor(
          async () => (await A.connections()) === 0 && (await B.connections()) === 0,
          'both to see the disconnect',
          {
            describe: () => describeDbs(both),
          },
        );
        assert.ok((await A.events('disconnect')).some((e) => e.detail.peerId === B.peerId));
        await A.add('apart-a', { by: 'a' });
        await B.add('apart-b', { by: 'b' });
        await B.remove('a-2');
        expected += 2 - 1;
        await B.adapterCall('connect');
        await waitConnected(both);
        await waitConverged(both, { expectCount: expected });
        assert.equal((await A.get('apart-b')).by, 'b');
        assert.equal(await A.get('a-2'), null); // undefined in the page
      });

      if (adapter === 'webrtc' || adapter === 'peerjs') {
        await t.test('a data channel lost as on a network failure is opened again and sync resumes', async () => {
          await A.adapterCall('dropConnection', B.peerId);
          await waitFor(async () => (await A.events('disconnect')).length >= 2, 'A to see the drop', {
            describe: () => describeDbs(both),
          });
          await B.add('after-drop', { by: 'b' });
          expected += 1;
          await waitConnected(both);
          await waitConverged(both, { expectCount: expected });
        });
      }

      if (setup.server) {
        await t.test(`writes made while the ${setup.server} server restarts are not lost`, async () => {
          const server = servers[setup.server];
          await server.stop();
          await A.add('outage-a', { by: 'a' });
          await B.add('outage-b', { by: 'b' });
          await new Promise((r) => setTimeout(r, 1000));
          await A.add('outage-a2', { by: 'a' });
          expected += 3;
          servers[setup.server] = await server.restart();
          await waitConnected(both, 1, 60_000);
          await waitConverged(both, { expectCount: expected, timeout: 60_000 });
          assert.equal((await B.get('outage-a2')).by, 'a');
          assert.equal((await A.get('outage-b')).by, 'b');
        });
      }

      await t.test('both logs verify and no page reported an uncaught error', async () => {
        await waitConverged(both, { expectCount: expected });
        const errors = [...(await A.events('error')), ...(await B.events('error'))];
        // Connection failures are expected while a server restarts or a peer is away; a peer's
        // frames must never have been rejected.
        assert.deepEqual(
          errors.filter((e) => e.detail.type === 'peer-rejected'),
          [],
        );
        assertNoProblems(pageA, pageB);
      });

      await A.destroy();
      await B.destroy();
    } finally {
      for (const c of contexts) await c.close().catch(() => {});
    }
  });
}
