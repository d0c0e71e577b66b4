// The README's custom adapter (pages/custom-adapter.js, as the README writes it) registered
// with registerP2PAdapter, over a tiny WebSocket relay (json-relay.mjs). It emits only 'open'
// and 'message': peers appear and go through the base class's presence frames.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  FAST,
  FAST_P2P,
  call,
  jsonRelayScript,
  launchBrowser,
  openPeer,
  peerId,
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
  relay = await startProcess(jsonRelayScript);
});

after(async () => {
  await browser?.close();
  await pages?.close();
  await relay?.stop();
});

const config = (id) => ({
  name: 'custom-test',
  peerId: id,
  ...FAST,
  p2pConfig: { ...FAST_P2P, url: relay.url, customOption: 'value' },
});

test('a custom adapter written as in the README', { timeout: 240_000 }, async (t) => {
  const contexts = [];
  const peer = async (label, prefix, adapter = 'mycustom', id = peerId(prefix)) => {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await openPeer(context, pages.origin);
    assert.equal(await start(page, label, adapter, config(id)), id);
    return { page, label, id };
  };
  try {
    await t.test('registerP2PAdapter adds it after the built-ins', async () => {
      const context = await browser.newContext();
      contexts.push(context);
      const page = await openPeer(context, pages.origin);
      assert.deepEqual(await call(page, 'list'), [
        'peerjs',
        'webrtc',
        'socketio',
        'broadcast',
        'mycustom',
        'mycustom-reconnecting',
      ]);
    });

    const A = await peer('a', 'a');
    const B = await peer('b', 'b');

    await t.test('two pages connect and exchange binary frames both ways', async () => {
      await waitForEvent(A.page, 'a', 'connection', B.id);
      await waitForEvent(B.page, 'b', 'connection', A.id);
      await exchange(A, B, 1);
    });

    await t.test('a closed page is seen as gone (no heartbeats); the same id comes back', async () => {
      await B.page.close();
      await waitForEvent(A.page, 'a', 'disconnect', B.id, 1);
      Object.assign(B, await peer('b', 'b', 'mycustom', B.id));
      await waitForEvent(A.page, 'a', 'connection', B.id, 2);
      await exchange(A, B, 2);
    });

    await t.test("disconnect() (the README's) is noticed: 'close' here, 'disconnect' there", async () => {
      await call(A.page, 'disconnect', 'a');
      await waitForEvent(A.page, 'a', 'close');
      await waitForEvent(A.page, 'a', 'disconnect', B.id, 1);
      await waitForEvent(B.page, 'b', 'disconnect', A.id, 1);
      await call(A.page, 'connect', 'a');
      await waitForEvent(B.page, 'b', 'connection', A.id, 2);
      await exchange(A, B, 3);
      await A.page.close();
      await B.page.close();
    });

    await t.test('the relay restarts: an adapter that reports its dropped socket reconnects', async () => {
      const E = await peer('e', 'e', 'mycustom-reconnecting');
      const F = await peer('f', 'f', 'mycustom-reconnecting');
      await waitForEvent(E.page, 'e', 'connection', F.id);
      await waitForEvent(F.page, 'f', 'connection', E.id);
      await exchange(E, F, 4);
      relay = await relay.restart();
      await waitForEvent(E.page, 'e', 'disconnect', F.id, 1);
      await waitForEvent(F.page, 'f', 'disconnect', E.id, 1);
      await waitForEvent(E.page, 'e', 'connection', F.id, 2);
      await waitForEvent(F.page, 'f', 'connection', E.id, 2);
      await exchange(E, F, 5);
      for (const p of [E, F]) assert.deepEqual(p.page.errors, [], `page errors in ${p.label}`);
    });
  } finally {
    for (const c of contexts) await c.close().catch(() => {});
  }
});
