// The 'peerjs' adapter (the official peerjs client) in headless Chromium, signaling through a
// real PeerJS server (servers/peerjs.mjs: npm `peer` with allow_discovery). Run inside a loopback-only network
// namespace (scripts/p2p-test.sh does).

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  FAST,
  FAST_P2P,
  call,
  launchBrowser,
  openPeer,
  peerId,
  peerjsScript,
  start,
  startPageServer,
  startProcess,
  waitForEvent,
} from './helpers.mjs';
import { exchange } from './exchange.mjs';
import { rtcScenario } from './rtc-scenario.mjs';

let pages;
let browser;
let peerServer;

before(async () => {
  pages = await startPageServer();
  browser = await launchBrowser();
  peerServer = await startProcess(peerjsScript, ['--path', '/myapp']);
});

after(async () => {
  await browser?.close();
  await pages?.close();
  await peerServer?.stop();
});

const config = (id, extra = {}, p2p = {}) => ({
  name: 'peerjs-test',
  peerId: id,
  ...FAST,
  ...extra,
  server: { host: '127.0.0.1', port: peerServer.port, path: '/myapp' },
  p2pConfig: { ...FAST_P2P, discoveryInterval: 500, rtcConfig: { iceServers: [] }, ...p2p },
});

test("'peerjs' adapter: data channels through a PeerJS server, peers found by discovery", {
  timeout: 240_000,
}, async (t) => {
  await rtcScenario(t, {
    browser,
    origin: pages.origin,
    name: 'peerjs',
    config,
    restartServer: async () => {
      peerServer = await peerServer.restart();
    },
    // The official client keeps its WebSocket to itself: the test reaches into it to make the
    // network drop it (the client then reports 'network' and the adapter reconnects).
    dropServer: (label) => window.h.adapter(label).peer.socket._socket.close(),
  });
});

test("'peerjs' adapter without discovery: peers named in p2pConfig.peers connect", { timeout: 120_000 }, async () => {
  const contexts = [await browser.newContext(), await browser.newContext()];
  try {
    const [pa, pb] = await Promise.all(contexts.map((c) => openPeer(c, pages.origin)));
    // 'z…' names 'a…': the larger id offers, because it was told whom to reach.
    const idA = peerId('a');
    const idZ = peerId('z');
    await start(pa, 'a', 'peerjs', config(idA, {}, { discovery: false }));
    await start(pb, 'z', 'peerjs', config(idZ, {}, { discovery: false, peers: [idA] }));
    await waitForEvent(pa, 'a', 'connection', idZ);
    await waitForEvent(pb, 'z', 'connection', idA);
    assert.deepEqual(await call(pb, 'listPeers', 'z'), [idA]);
    await exchange({ page: pa, label: 'a', id: idA }, { page: pb, label: 'z', id: idZ }, 20);
  } finally {
    for (const c of contexts) await c.close();
  }
});

test("'peerjs' adapter: a taken id and an unreachable server are refused with typed errors", {
  timeout: 60_000,
}, async () => {
  const context = await browser.newContext();
  try {
    const [p1, p2] = [await openPeer(context, pages.origin), await openPeer(context, pages.origin)];
    const id = peerId('t');
    await start(p1, 't1', 'peerjs', config(id));
    const attempt = (page, cfg) =>
      page.evaluate(async (c) => {
        try {
          await window.h.start('t2', 'peerjs', c);
          return { ok: true };
        } catch (err) {
          return { ok: false, name: err.name, type: err.type };
        }
      }, cfg);
    assert.deepEqual(await attempt(p2, config(id)), { ok: false, name: 'P2PError', type: 'unavailable-id' });
    const down = { ...config(peerId('u')), server: { host: '127.0.0.1', port: 9, path: '/myapp' } };
    assert.deepEqual(await attempt(p2, down), { ok: false, name: 'P2PError', type: 'network' });
  } finally {
    await context.close();
  }
});

test("'peerjs' adapter: two peers that leave and come back at the same instant link again, round after round", {
  timeout: 600_000,
}, async () => {
  // Both pages leave at one instant and come back at another (the same wall-clock time in both,
  // or a few milliseconds apart, either first); in the "hasty" rounds each leaves again as soon
  // as it is back on the server, before the link opened, and returns at once (as the offline
  // e-commerce example does), so offers of a session that is gone are still on their way. After
  // every round the two must link again within ROUND_MS and carry frames both ways.
  const ROUNDS = 10;
  const ROUND_MS = 45_000;
  const SKEWS = [0, 0, 3, -3, 15, -15, 0, 40, -40, 0];
  const contexts = [await browser.newContext(), await browser.newContext()];
  try {
    const [pa, pb] = await Promise.all(contexts.map((c) => openPeer(c, pages.origin)));
    const A = { page: pa, label: 'a', id: peerId('a') };
    const B = { page: pb, label: 'b', id: peerId('b') };
    // The default discovery poll (5 s), as a database page has it.
    // connect() right after disconnect() retries "ID taken" within connectionTimeout: allow a
    // loaded machine's server 10 s to see the old socket close.
    const cfg = (id) => config(id, { connectionTimeout: 10_000 }, { discoveryInterval: 5000 });
    await Promise.all([start(pa, 'a', 'peerjs', cfg(A.id)), start(pb, 'b', 'peerjs', cfg(B.id))]);
    const linked = (p, other) =>
      p.page.waitForFunction(([l, o]) => window.h.adapter(l).isPeerConnected(o), [p.label, other.id], {
        timeout: ROUND_MS,
        polling: 50,
      });
    await Promise.all([linked(A, B), linked(B, A)]);
    /** In the page: leave at `leaveAt`, come back at `backAt` (ms since the epoch), maybe twice. */
    const cycle = (p, leaveAt, backAt, hasty) =>
      p.page.evaluate(
        async ([l, leave, back, twice]) => {
          const at = (t) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));
          await at(leave);
          await window.h.disconnect(l);
          await at(back);
          await window.h.connect(l);
          if (twice) {
            await window.h.disconnect(l);
            await window.h.connect(l);
          }
        },
        [p.label, leaveAt, backAt, hasty],
      );
    const tail = async (p) => JSON.stringify((await call(p.page, 'events', p.label)).slice(-15), null, 1);
    for (let round = 0; round < ROUNDS; round++) {
      const skew = SKEWS[round % SKEWS.length];
      const hasty = round % 2 === 1;
      const leaveAt = Date.now() + 300;
      const backAt = leaveAt + 200;
      const started = Date.now();
      await Promise.all([
        cycle(A, leaveAt, backAt + Math.max(0, skew), hasty),
        cycle(B, leaveAt, backAt + Math.max(0, -skew), hasty),
      ]);
      try {
        // Linked, and still linked a moment later: in a hasty round a link can open to a session
        // of the other that is going away (its Peer lives on for a moment after it left) and
        // close at once; the link that counts is the one that lasts, which the mesh opens next.
        for (let stable = false; !stable; ) {
          await Promise.all([linked(A, B), linked(B, A)]);
          await new Promise((r) => setTimeout(r, 500));
          const still = async (p, other) =>
            p.page.evaluate(([l, o]) => window.h.adapter(l).isPeerConnected(o), [p.label, other.id]);
          stable = (await still(A, B)) && (await still(B, A));
          if (Date.now() - started > ROUND_MS) throw new Error(`no lasting link within ${ROUND_MS} ms`);
        }
      } catch (err) {
        throw new Error(
          `round ${round} (skew ${skew} ms${hasty ? ', hasty' : ''}): no link again within ${ROUND_MS} ms\n` +
            `a events: ${await tail(A)}\nb events: ${await tail(B)}\n${err.message.split('\n')[0]}`,
        );
      }
      try {
        await exchange(A, B, 1000 + round * 300);
      } catch (err) {
        throw new Error(
          `round ${round} (skew ${skew} ms${hasty ? ', hasty' : ''}): ${err.message.split('\n')[0]}\n` +
            `a events: ${await tail(A)}\nb events: ${await tail(B)}`,
        );
      }
      console.log(
        `round ${round} (skew ${skew} ms${hasty ? ', hasty' : ''}): linked again in ${Date.now() - started} ms`,
      );
    }
    assert.deepEqual([...pa.errors, ...pb.errors], []);
  } finally {
    for (const c of contexts) await c.close();
  }
});

test("'peerjs' adapter: a peer that left and comes back under the same id at once is linked again", {
  timeout: 90_000,
}, async () => {
  // B leaves (a BYE over the link) and comes back under its id at once, as a database closed and
  // opened again does (the README's event system example), with no room at first, so its own
  // newcomer offer is not made; once it has room, the two link again.
  const contexts = [await browser.newContext(), await browser.newContext()];
  try {
    const [pa, pb] = await Promise.all(contexts.map((c) => openPeer(c, pages.origin)));
    const idA = peerId('a');
    const idB = peerId('b');
    // A polls the server's list every 5 s (the default): B is back before its next poll, so A
    // never sees B unlisted.
    await start(pa, 'a', 'peerjs', config(idA, {}, { discoveryInterval: 5000 }));
    await start(pb, 'b', 'peerjs', config(idB));
    await waitForEvent(pa, 'a', 'connection', idB);
    await pb.evaluate(async () => {
      await window.h.disconnect('b');
      window.h.adapter('b').settings.maxConnections = 0;
      await window.h.connect('b');
    });
    await waitForEvent(pa, 'a', 'disconnect', idB);
    // A's next poll, with B listed and full.
    await new Promise((r) => setTimeout(r, 6000));
    assert.equal(await call(pa, 'count', 'a', 'connection', idB), 1);
    await pb.evaluate(() => {
      window.h.adapter('b').settings.maxConnections = 50;
    });
    await waitForEvent(pa, 'a', 'connection', idB, 2, 30_000);
    await exchange({ page: pa, label: 'a', id: idA }, { page: pb, label: 'b', id: idB }, 3000);
    assert.deepEqual([...pa.errors, ...pb.errors], []);
  } finally {
    for (const c of contexts) await c.close();
  }
});

test("'peerjs' adapter: a peer given up on is tried again while the server still lists it", {
  timeout: 90_000,
}, async () => {
  // B refuses every link at first (maxConnections 0), so A, which offers (its id is the
  // smaller), fails twice and gives B up; once B has room, A's next discovery poll wants B again.
  const contexts = [await browser.newContext(), await browser.newContext()];
  try {
    const [pa, pb] = await Promise.all(contexts.map((c) => openPeer(c, pages.origin)));
    const idA = peerId('a');
    const idB = peerId('b');
    const short = { peerConnectionTimeout: 2000, maxReconnectAttempts: 1 };
    await start(pa, 'a', 'peerjs', config(idA, short));
    await start(pb, 'b', 'peerjs', config(idB, { ...short, maxConnections: 0 }));
    await pa.waitForFunction(
      (b) =>
        window.h
          .events('a')
          .some((e) => e.ev === 'error' && e.type === 'peer-unavailable' && e.message.startsWith(`gave up on ${b}`)),
      idB,
      { timeout: 30_000, polling: 100 },
    );
    assert.equal(await call(pa, 'count', 'a', 'connection', idB), 0);
    await pb.evaluate(() => {
      window.h.adapter('b').settings.maxConnections = 50;
    });
    await waitForEvent(pa, 'a', 'connection', idB);
    await waitForEvent(pb, 'b', 'connection', idA);
    await exchange({ page: pa, label: 'a', id: idA }, { page: pb, label: 'b', id: idB }, 3000);
    assert.deepEqual([...pa.errors, ...pb.errors], []);
  } finally {
    for (const c of contexts) await c.close();
  }
});
