// Connection settings in headless Chromium: connectionTimeout bounds connect() against a hung
// server; maxReconnectAttempts and reconnectDelay bound the reconnects of a server that does
// not come back.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  FAST_P2P,
  call,
  launchBrowser,
  openPeer,
  peerId,
  signalingScript,
  socketioScript,
  startBlackhole,
  startPageServer,
  startProcess,
  waitForEvent,
} from './helpers.mjs';

let pages;
let browser;
let hole;

before(async () => {
  pages = await startPageServer();
  browser = await launchBrowser();
  hole = await startBlackhole();
});

after(async () => {
  await browser?.close();
  await pages?.close();
  await hole?.close();
});

/** Starts `name` with `config` in a fresh page; resolves to the outcome and the time taken. */
async function tryStart(name, config) {
  const context = await browser.newContext();
  try {
    const page = await openPeer(context, pages.origin);
    const started = Date.now();
    const outcome = await page.evaluate(
      async ([n, c]) => {
        try {
          await window.h.start('x', n, c);
          return { ok: true };
        } catch (err) {
          return { ok: false, name: err.name, type: err.type, message: err.message };
        }
      },
      [name, config],
    );
    return { ...outcome, ms: Date.now() - started };
  } finally {
    await context.close();
  }
}

test('connectionTimeout bounds connect() when the server never answers', { timeout: 60_000 }, async () => {
  const base = { name: 'settings', connectionTimeout: 1000 };
  const cases = [
    ['webrtc', { ...base, p2pConfig: { signalingServer: `ws://127.0.0.1:${hole.port}` } }],
    ['peerjs', { ...base, server: { host: '127.0.0.1', port: hole.port, path: '/myapp' } }],
    ['socketio', { ...base, p2pConfig: { serverUrl: `http://127.0.0.1:${hole.port}` } }],
  ];
  for (const [name, config] of cases) {
    const r = await tryStart(name, config);
    assert.equal(r.ok, false, `${name} connected to a hung server`);
    assert.equal(r.name, 'P2PError', `${name}: ${r.message}`);
    assert.equal(r.type, 'timeout', `${name}: ${r.message}`);
    // The upper bound leaves a loaded machine room for the page round trip; without the bound,
    // connect() would wait forever.
    assert.ok(r.ms >= 900 && r.ms < 10_000, `${name} gave up after ${r.ms} ms, connectionTimeout is 1000`);
  }
});

test('a missing setting is refused with invalid-config', { timeout: 30_000 }, async () => {
  for (const name of ['webrtc', 'socketio']) {
    const r = await tryStart(name, { name: 'settings' });
    assert.deepEqual([r.ok, r.type], [false, 'invalid-config'], `${name}: ${r.message}`);
  }
});

test('maxReconnectAttempts: a relay that does not come back is given up after that many tries', {
  timeout: 60_000,
}, async () => {
  const relay = await startProcess(socketioScript);
  const signaling = await startProcess(signalingScript);
  const context = await browser.newContext();
  try {
    const page = await openPeer(context, pages.origin);
    const settings = { name: 'settings', connectionTimeout: 1000, maxReconnectAttempts: 3, reconnectDelay: 100 };
    await page.evaluate(
      ([s, r, g, p2p]) =>
        Promise.all([
          window.h.start('sio', 'socketio', { ...s, peerId: 'sio1', p2pConfig: { ...p2p, serverUrl: r } }),
          window.h.start('rtc', 'webrtc', { ...s, peerId: 'rtc1', p2pConfig: { ...p2p, signalingServer: g } }),
        ]),
      [settings, relay.url, signaling.url, FAST_P2P],
    );
    await relay.stop();
    await signaling.stop();
    for (const label of ['sio', 'rtc']) {
      await waitForEvent(page, label, 'reconnecting', undefined, 3);
      await page.waitForFunction(
        (l) =>
          window.h.events(l).some((e) => e.ev === 'error' && /gave up reconnecting after 3 attempts/.test(e.message)),
        label,
        { timeout: 20_000 },
      );
      const events = await call(page, 'events', label);
      const waits = events.filter((e) => e.ev === 'reconnecting');
      assert.deepEqual(
        waits.map((e) => e.delay),
        [100, 200, 400],
        `${label}: reconnectDelay doubling`,
      );
      assert.equal(await call(page, 'isConnected', label), false);
    }
    // The relay adapter is closed for good; the WebRTC one keeps its peer links and stays open for connect().
    await waitForEvent(page, 'sio', 'close');
    assert.equal(await call(page, 'count', 'rtc', 'close'), 0);
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
    await relay.stop();
    await signaling.stop();
  }
});

test('retryAttempts: a failed send is resent, and reported once every resend failed', {
  timeout: 150_000,
}, async () => {
  const relay = await startProcess(socketioScript);
  const signaling = await startProcess(signalingScript);
  const context = await browser.newContext();
  try {
    const [pa, pb] = [await openPeer(context, pages.origin), await openPeer(context, pages.origin)];
    const settings = {
      name: 'retry',
      // Also the relay's acknowledgement limit (socketio): a late ack on a loaded machine would
      // count as a failed try.
      connectionTimeout: 15_000,
      retryAttempts: 2,
      p2pConfig: { ...FAST_P2P, retryDelay: 50 },
    };
    const ids = { sio: [peerId('a'), peerId('b')], rtc: [peerId('a'), peerId('b')] };
    const cfg = (label, id) =>
      label === 'sio'
        ? { ...settings, peerId: id, p2pConfig: { ...settings.p2pConfig, serverUrl: relay.url } }
        : { ...settings, peerId: id, p2pConfig: { ...settings.p2pConfig, signalingServer: signaling.url } };
    for (const [label, name] of [
      ['sio', 'socketio'],
      ['rtc', 'webrtc'],
    ]) {
      const [idA, idB] = ids[label];
      await pa.evaluate(([l, n, c]) => window.h.start(l, n, c), [label, name, cfg(label, idA)]);
      await pb.evaluate(([l, n, c]) => window.h.start(l, n, c), [label, name, cfg(label, idB)]);
      await waitForEvent(pa, label, 'connection', idB);
      await waitForEvent(pb, label, 'connection', idA);
      // Make the transport refuse the next `n` frames: the relay's ack (socketio) or the data
      // channel (webrtc) fails, as a dropped connection would.
      const failNext = (n) =>
        pa.evaluate(
          ([l, k]) => {
            const a = window.h.adapter(l);
            const target = l === 'sio' ? a : a.mesh;
            const key = l === 'sio' ? '_relay' : 'send';
            const original = target[key].bind(target);
            window.__tries = 0;
            let left = k;
            target[key] = (...args) => {
              window.__tries++;
              if (left-- > 0) throw new window.P2P.P2PError('send-failed', 'refused by the test');
              return original(...args);
            };
          },
          [label, n],
        );
      await failNext(2);
      assert.equal(await call(pa, 'send', label, idB, 5000, 77), true);
      await pb.waitForFunction((l) => window.h.received(l).some((r) => r.size === 5000), label, { timeout: 30_000 });
      assert.equal(await pa.evaluate(() => window.__tries), 3, `${label}: two refused tries and one that went through`);
      assert.equal(await call(pa, 'count', label, 'error'), 0);
      await failNext(99);
      assert.equal(await call(pa, 'send', label, idB, 10, 78), true, 'queued for resends');
      await waitForEvent(pa, label, 'error', undefined, 1, 30_000);
      const [err] = (await call(pa, 'events', label)).filter((e) => e.ev === 'error');
      assert.equal(err.type, 'send-failed');
      assert.equal(err.peerId, idB);
      assert.equal(await pa.evaluate(() => window.__tries), 3, `${label}: retryAttempts 2 means three tries in all`);
      assert.equal((await call(pb, 'received', label)).filter((r) => r.size === 5000).length, 1, 'delivered once');
    }
    assert.deepEqual([...pa.errors, ...pb.errors], []);
  } finally {
    await context.close();
    await relay.stop();
    await signaling.stop();
  }
});
