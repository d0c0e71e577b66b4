// The browser scenario of the WebRTC adapters ('peerjs' and 'webrtc'): peers in separate
// browser contexts connect through the signaling server and exchange frames over data
// channels; a dropped link comes back; a lost server connection reconnects while the links
// stay up; the server restarts and new peers still join; a closed page is seen as gone and
// comes back; maxConnections and peerConnectionTimeout hold.

import assert from 'node:assert/strict';
import { call, openPeer, peerId, start, until, waitForEvent } from './helpers.mjs';
import { exchange } from './exchange.mjs';

/**
 * @param t the node:test context
 * @param opts.browser the browser; opts.origin the page server
 * @param opts.name the adapter name
 * @param opts.config `(id, extra) => config` (reads the server's current address)
 * @param opts.restartServer `async () => {}` restarts the signaling server on the same port
 * @param opts.dropServer `(label) => void`, run in the page: closes the adapter's WebSocket to
 *   the server as a network failure would
 */
export async function rtcScenario(t, { browser, origin, name, config, restartServer, dropServer }) {
  const contexts = [];
  const peer = async (label, prefix, extra = {}, id = peerId(prefix)) => {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await openPeer(context, origin);
    const got = await start(page, label, name, config(id, extra));
    assert.equal(got, id);
    return { page, label, id, context };
  };
  const count = (p, ev, id) => call(p.page, 'count', p.label, ev, id);

  try {
    const A = await peer('a', 'a');
    const B = await peer('b', 'b');

    await t.test('two peers in separate contexts connect and exchange frames both ways', async () => {
      await waitForEvent(A.page, 'a', 'connection', B.id);
      await waitForEvent(B.page, 'b', 'connection', A.id);
      assert.deepEqual(await call(A.page, 'peers', 'a'), [B.id]);
      assert.ok((await call(A.page, 'listPeers', 'a')).includes(B.id));
      await exchange(A, B, 1);
    });

    await t.test('a dropped link: both sides see disconnect, the link is opened again', async () => {
      await A.page.evaluate(([l, p]) => window.h.adapter(l).dropConnection(p), ['a', B.id]);
      await waitForEvent(A.page, 'a', 'disconnect', B.id, 1);
      await waitForEvent(B.page, 'b', 'disconnect', A.id, 1);
      await waitForEvent(A.page, 'a', 'connection', B.id, 2);
      await waitForEvent(B.page, 'b', 'connection', A.id, 2);
      await exchange(A, B, 2);
    });

    await t.test('a lost server connection reconnects; the peer links stay up', async () => {
      await A.page.evaluate(dropServer, 'a');
      await waitForEvent(A.page, 'a', 'reconnecting', undefined, 1);
      await waitForEvent(A.page, 'a', 'open', undefined, 2);
      assert.equal(await count(A, 'disconnect', B.id), 1, 'the link to B did not drop');
      await exchange(A, B, 3);
    });

    let C;
    await t.test('the signaling server restarts: clients reconnect, frames flow, a new peer joins', async () => {
      await restartServer();
      await waitForEvent(A.page, 'a', 'open', undefined, 3);
      await waitForEvent(B.page, 'b', 'open', undefined, 2);
      await exchange(A, B, 4);
      C = await peer('c', 'c');
      await waitForEvent(C.page, 'c', 'connection', A.id);
      await waitForEvent(C.page, 'c', 'connection', B.id);
      await exchange(A, C, 5);
      await exchange(B, C, 6);
    });

    await t.test('a closed page is seen as gone; the same peer id comes back', async () => {
      await B.page.close();
      await waitForEvent(A.page, 'a', 'disconnect', B.id, 2);
      await waitForEvent(C.page, 'c', 'disconnect', B.id, 1);
      const B2 = await peer('b', 'b', {}, B.id);
      await waitForEvent(A.page, 'a', 'connection', B.id, 3);
      await waitForEvent(B2.page, 'b', 'connection', A.id, 1);
      await exchange(A, B2, 7);
      Object.assign(B, B2);
    });

    await t.test('maxConnections: a peer with maxConnections 1 keeps one link and refuses the rest', async () => {
      const D = await peer('d', 'd', { maxConnections: 1 });
      await waitForEvent(D.page, 'd', 'connection', undefined, 1);
      await waitForEvent(D.page, 'd', 'error', undefined, 1);
      // Let the refused offers settle, then check nothing more got in.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal((await call(D.page, 'peers', 'd')).length, 1);
      const errors = (await call(D.page, 'events', 'd')).filter((e) => e.ev === 'error');
      assert.ok(
        errors.some((e) => e.type === 'max-connections'),
        JSON.stringify(errors),
      );
      const [linked] = await call(D.page, 'peers', 'd');
      const other = [A, B, C].find((p) => p.id === linked);
      assert.ok(other, `D linked to ${linked}`);
      await exchange(other, D, 8);
      await D.page.close();
    });

    await t.test('peerConnectionTimeout bounds connectToPeer to a peer that is not there', async () => {
      const started = Date.now();
      const outcome = await A.page.evaluate(async (l) => {
        try {
          await window.h.adapter(l).connectToPeer('nobody-here');
          return { ok: true };
        } catch (err) {
          return { ok: false, name: err.name, type: err.type, message: err.message };
        }
      }, 'a');
      assert.equal(outcome.ok, false);
      assert.equal(outcome.name, 'P2PError');
      assert.equal(outcome.type, 'peer-unavailable', JSON.stringify(outcome));
      assert.ok(Date.now() - started < 5000 + 8000, 'within peerConnectionTimeout (5 s) and a margin');
    });

    await t.test('disconnect() is seen by the peers at once; connect() joins again', async () => {
      await call(A.page, 'disconnect', 'a');
      await waitForEvent(C.page, 'c', 'disconnect', A.id, 1);
      await waitForEvent(B.page, 'b', 'disconnect', A.id, 1);
      await waitForEvent(A.page, 'a', 'close');
      await call(A.page, 'connect', 'a');
      await waitForEvent(C.page, 'c', 'connection', A.id, 2);
      await exchange(A, C, 9);
    });

    for (const p of [A, B, C]) {
      if (!p.page.isClosed()) assert.deepEqual(p.page.errors, [], `page errors in ${p.label}`);
    }
  } finally {
    for (const c of contexts) await c.close().catch(() => {});
  }
}

export { until };
