// The 'socketio' adapter (the official socket.io-client) in headless Chromium, frames relayed by
// servers/socketio-relay.mjs.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  FAST,
  FAST_P2P,
  call,
  launchBrowser,
  openPeer,
  peerId,
  socketioScript,
  start,
  startPageServer,
  startProcess,
  waitForEvent,
} from './helpers.mjs';
import { exchange } from './exchange.mjs';

let pages;
let browser;
let relay;

before(async () => {
  pages = await startPageServer();
  browser = await launchBrowser();
  relay = await startProcess(socketioScript);
});

after(async () => {
  await browser?.close();
  await pages?.close();
  await relay?.stop();
});

const config = (id, rooms, extra = {}) => ({
  name: 'socketio-test',
  peerId: id,
  ...FAST,
  ...extra,
  p2pConfig: { ...FAST_P2P, serverUrl: relay.url, rooms },
});

test("'socketio' adapter: rooms on a Socket.IO relay", { timeout: 240_000 }, async (t) => {
  const contexts = [];
  const peer = async (label, prefix, rooms, extra = {}, id = peerId(prefix)) => {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await openPeer(context, pages.origin);
    assert.equal(await start(page, label, 'socketio', config(id, rooms, extra)), id);
    return { page, label, id };
  };
  try {
    const A = await peer('a', 'a', ['room-1', 'room-2']);
    const B = await peer('b', 'b', ['room-2']);

    await t.test('two peers sharing a room connect and exchange frames both ways', async () => {
      await waitForEvent(A.page, 'a', 'connection', B.id);
      await waitForEvent(B.page, 'b', 'connection', A.id);
      await exchange(A, B, 1);
    });

    await t.test('a killed relay connection: both sides see disconnect, then connection again', async () => {
      // The WebSocket under the official client's connection (engine.io-client's transport),
      // closed as a network failure would.
      await A.page.evaluate((l) => window.h.adapter(l).socket.io.engine.transport.ws.close(), 'a');
      await waitForEvent(A.page, 'a', 'disconnect', B.id, 1);
      await waitForEvent(B.page, 'b', 'disconnect', A.id, 1);
      await waitForEvent(A.page, 'a', 'reconnecting', undefined, 1);
      await waitForEvent(A.page, 'a', 'connection', B.id, 2);
      await waitForEvent(B.page, 'b', 'connection', A.id, 2);
      await exchange(A, B, 2);
    });

    await t.test('the relay restarts: clients reconnect, rejoin their rooms and exchange again', async () => {
      relay = await relay.restart();
      await waitForEvent(A.page, 'a', 'disconnect', B.id, 2);
      await waitForEvent(A.page, 'a', 'connection', B.id, 3);
      await waitForEvent(B.page, 'b', 'connection', A.id, 3);
      await exchange(A, B, 3);
    });

    await t.test('a closed page is seen as gone; the same peer id comes back', async () => {
      await B.page.close();
      await waitForEvent(A.page, 'a', 'disconnect', B.id, 3);
      Object.assign(B, await peer('b', 'b', ['room-2'], {}, B.id));
      await waitForEvent(A.page, 'a', 'connection', B.id, 4);
      await exchange(A, B, 4);
    });

    await t.test('rooms: peers meet only in rooms they share', async () => {
      const C = await peer('c', 'c', ['room-3']);
      const D = await peer('d', 'd', ['room-1']);
      await waitForEvent(A.page, 'a', 'connection', D.id);
      await waitForEvent(D.page, 'd', 'connection', A.id);
      await exchange(A, D, 5);
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(await call(C.page, 'peers', 'c'), []);
      assert.deepEqual((await call(B.page, 'peers', 'b')).sort(), [A.id]);
      assert.deepEqual((await call(D.page, 'peers', 'd')).sort(), [A.id]);
      assert.equal(await call(B.page, 'send', 'b', D.id, 10, 1), false, 'no frames to a peer in no shared room');
      await C.page.close();
      await D.page.close();
    });

    await t.test('maxConnections: a peer with maxConnections 1 keeps one peer and refuses the rest', async () => {
      const E = await peer('e', 'e', ['room-1', 'room-2'], { maxConnections: 1 });
      await waitForEvent(E.page, 'e', 'connection', undefined, 1);
      await waitForEvent(E.page, 'e', 'error', undefined, 1);
      const events = await call(E.page, 'events', 'e');
      assert.ok(
        events.some((e) => e.ev === 'error' && e.type === 'max-connections'),
        JSON.stringify(events),
      );
      const linked = await call(E.page, 'peers', 'e');
      assert.equal(linked.length, 1);
      assert.equal((await call(E.page, 'listPeers', 'e')).length, 2, 'both peers are listed');
      const other = [A, B].find((p) => p.id === linked[0]);
      await exchange(other, E, 6);
      await E.page.close();
    });

    await t.test('disconnect() is seen by the peer; connect() joins again', async () => {
      await call(A.page, 'disconnect', 'a');
      await waitForEvent(B.page, 'b', 'disconnect', A.id, 1);
      await waitForEvent(A.page, 'a', 'close');
      await call(A.page, 'connect', 'a');
      await waitForEvent(B.page, 'b', 'connection', A.id, 2);
      await exchange(A, B, 7);
    });

    for (const p of [A, B]) assert.deepEqual(p.page.errors, [], `page errors in ${p.label}`);
  } finally {
    for (const c of contexts) await c.close().catch(() => {});
  }
});
