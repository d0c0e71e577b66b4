// The 'broadcast' adapter in headless Chromium: tabs of one origin (one browser context).

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  FAST,
  FAST_P2P,
  call,
  launchBrowser,
  openPeer,
  peerId,
  start,
  startPageServer,
  waitForEvent,
} from './helpers.mjs';
import { exchange } from './exchange.mjs';

let pages;
let browser;

before(async () => {
  pages = await startPageServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await pages?.close();
});

const config = (id, name = 'broadcast-test', extra = {}) => ({
  name,
  peerId: id,
  ...FAST,
  ...extra,
  p2pConfig: { ...FAST_P2P },
});

test("'broadcast' adapter: tabs of one origin over a BroadcastChannel", { timeout: 180_000 }, async (t) => {
  const context = await browser.newContext();
  const peer = async (label, prefix, name, extra, id = peerId(prefix)) => {
    const page = await openPeer(context, pages.origin);
    assert.equal(await start(page, label, 'broadcast', config(id, name, extra)), id);
    return { page, label, id };
  };
  try {
    const A = await peer('a', 'a');
    const B = await peer('b', 'b');

    await t.test('two tabs connect and exchange frames both ways', async () => {
      await waitForEvent(A.page, 'a', 'connection', B.id);
      await waitForEvent(B.page, 'b', 'connection', A.id);
      assert.deepEqual(await call(A.page, 'listPeers', 'a'), [B.id]);
      await exchange(A, B, 1);
    });

    await t.test('a closed tab is seen as gone; the same peer id comes back', async () => {
      await B.page.close();
      await waitForEvent(A.page, 'a', 'disconnect', B.id, 1);
      Object.assign(B, await peer('b', 'b', undefined, {}, B.id));
      await waitForEvent(A.page, 'a', 'connection', B.id, 2);
      await exchange(A, B, 2);
    });

    await t.test('a tab that stops answering expires after peerTimeout', async () => {
      // Silence B without a goodbye: its channel stops, its heartbeats stop.
      await B.page.evaluate((l) => {
        const a = window.h.adapter(l);
        clearInterval(a._timer);
        a.channel.onmessage = null;
        a.channel.close();
      }, 'b');
      await waitForEvent(A.page, 'a', 'disconnect', B.id, 2);
      const events = await call(A.page, 'events', 'a');
      assert.equal(events.filter((e) => e.ev === 'disconnect').at(-1).reason, 'timeout');
      await B.page.close();
      Object.assign(B, await peer('b', 'b', undefined, {}, B.id));
      await waitForEvent(A.page, 'a', 'connection', B.id, 3);
    });

    await t.test('disconnect() says goodbye at once; connect() joins again', async () => {
      await call(A.page, 'disconnect', 'a');
      await waitForEvent(B.page, 'b', 'disconnect', A.id, 1);
      const events = await call(B.page, 'events', 'b');
      assert.equal(events.filter((e) => e.ev === 'disconnect').at(-1).reason, 'bye');
      await waitForEvent(A.page, 'a', 'close');
      await call(A.page, 'connect', 'a');
      await waitForEvent(B.page, 'b', 'connection', A.id, 2);
      await exchange(A, B, 3);
    });

    await t.test('databases of another name do not meet', async () => {
      const C = await peer('c', 'c', 'another-db');
      await new Promise((r) => setTimeout(r, 1000));
      assert.deepEqual(await call(C.page, 'peers', 'c'), []);
      assert.deepEqual(await call(A.page, 'peers', 'a'), [B.id]);
      await C.page.close();
    });

    await t.test('maxConnections: a tab with maxConnections 1 keeps one peer and refuses the rest', async () => {
      const D = await peer('d', 'd', undefined, { maxConnections: 1 });
      await waitForEvent(D.page, 'd', 'connection', undefined, 1);
      await waitForEvent(D.page, 'd', 'error', undefined, 1);
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal((await call(D.page, 'peers', 'd')).length, 1);
      assert.equal((await call(D.page, 'listPeers', 'd')).length, 2);
      const events = await call(D.page, 'events', 'd');
      assert.equal(events.filter((e) => e.ev === 'error' && e.type === 'max-connections').length, 1, 'reported once');
      const [linked] = await call(D.page, 'peers', 'd');
      const other = [A, B].find((p) => p.id === linked);
      assert.ok(other, `D linked to ${linked}`);
      await exchange(other, { ...D, id: D.id }, 4);
      await D.page.close();
    });

    for (const p of [A, B]) assert.deepEqual(p.page.errors, [], `page errors in ${p.label}`);
  } finally {
    await context.close();
  }
});
