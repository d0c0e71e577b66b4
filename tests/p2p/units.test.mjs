// Node-only tests of the transport layer's pure parts: settings, byte conversion, the
// registry (eager and lazily loaded adapters), presence frames, resends, data channel chunking.

import test from 'node:test';
import assert from 'node:assert/strict';
import {
  CHANNEL_PROTOCOL,
  CHUNK_SIZE,
  P2PAdapter,
  P2PError,
  PeerJsAdapter,
  Reassembler,
  SocketIoAdapter,
  controlFrame,
  ControlKind,
  createAdapter,
  encodeFrame,
  listP2PAdapters,
  parseControlFrame,
  registerP2PAdapter,
  resolveSettings,
  toBytes,
} from '../../web/js/p2p/index.js';
import { hasP2PAdapter, loadP2PAdapter, registerLazyP2PAdapter } from '../../web/js/p2p/adapter.js';
import { backoffDelay } from '../../web/js/p2p/util.js';
import { pattern } from './pages/bytes.js';

test('built-in adapters are listed in the README order, custom ones after', () => {
  const before = listP2PAdapters();
  assert.deepEqual(before.slice(0, 4), ['peerjs', 'webrtc', 'socketio', 'broadcast']);
  class Custom extends P2PAdapter {}
  registerP2PAdapter('unit-custom', Custom);
  assert.deepEqual(listP2PAdapters().slice(-1), ['unit-custom']);
  assert.ok(createAdapter('unit-custom', { name: 'x' }) instanceof Custom);
  // Re-registering keeps the place.
  class Custom2 extends P2PAdapter {}
  registerP2PAdapter('peerjs', Custom2);
  assert.equal(listP2PAdapters()[0], 'peerjs');
  assert.ok(createAdapter('peerjs') instanceof Custom2);
  registerP2PAdapter('peerjs', PeerJsAdapter);
});

test('the registry refuses what is not an adapter class, and unknown names', () => {
  assert.throws(
    () => registerP2PAdapter('x', class {}),
    (e) => e instanceof P2PError && e.type === 'invalid-adapter' && e.name === 'P2PError',
  );
  assert.throws(
    () => registerP2PAdapter('', class extends P2PAdapter {}),
    (e) => e.type === 'invalid-adapter',
  );
  assert.throws(
    () => createAdapter('no-such-adapter'),
    (e) => e.type === 'unknown-adapter',
  );
  assert.throws(
    () => createAdapter('broadcast', { peerId: 'bad id!' }),
    (e) => e.type === 'invalid-config',
  );
});

test('a lazily registered adapter is listed at once and loaded once, when first needed', async () => {
  class Lazy extends P2PAdapter {}
  let loads = 0;
  registerLazyP2PAdapter('unit-lazy', async () => {
    loads++;
    return Lazy;
  });
  assert.ok(hasP2PAdapter('unit-lazy'));
  assert.deepEqual(listP2PAdapters().slice(-1), ['unit-lazy']);
  assert.equal(loads, 0, 'nothing loaded by registering');
  assert.throws(
    () => createAdapter('unit-lazy'),
    (e) => e.type === 'not-loaded',
  );
  const [a, b] = await Promise.all([loadP2PAdapter('unit-lazy'), loadP2PAdapter('unit-lazy')]);
  assert.equal(a, Lazy);
  assert.equal(b, Lazy);
  assert.equal(loads, 1);
  assert.ok(createAdapter('unit-lazy') instanceof Lazy);
  // A name registered already keeps its class.
  registerLazyP2PAdapter('unit-lazy', async () => class extends P2PAdapter {});
  assert.equal(await loadP2PAdapter('unit-lazy'), Lazy);

  let fail = true;
  registerLazyP2PAdapter('unit-flaky', async () => {
    if (fail) throw new Error('404');
    return Lazy;
  });
  await assert.rejects(
    loadP2PAdapter('unit-flaky'),
    (e) => e instanceof P2PError && e.type === 'network' && /404/.test(e.message),
  );
  fail = false;
  assert.equal(await loadP2PAdapter('unit-flaky'), Lazy, 'a failed load is tried again');
  registerLazyP2PAdapter('unit-not-a-class', async () => class {});
  await assert.rejects(loadP2PAdapter('unit-not-a-class'), (e) => e.type === 'invalid-adapter');
  await assert.rejects(loadP2PAdapter('no-such-adapter'), (e) => e.type === 'unknown-adapter');
});

test('settings come from the AuroraDB config, with defaults', () => {
  const d = resolveSettings({});
  assert.equal(d.maxConnections, 50);
  assert.equal(d.connectionTimeout, 10_000);
  assert.equal(d.peerConnectionTimeout, 15_000);
  assert.equal(d.maxReconnectAttempts, 5);
  assert.equal(d.reconnectDelay, 2000);
  assert.equal(d.retryAttempts, 3);
  assert.deepEqual(d.rtcConfig, { iceServers: [] });
  const s = resolveSettings({
    timeout: 15_000,
    maxConnections: 100,
    peerConnectionTimeout: 7000,
    maxReconnectAttempts: 2,
    reconnectDelay: 500,
    retryAttempts: 5,
    p2pConfig: { rtcConfig: { iceServers: [{ urls: 'stun:x' }] }, heartbeatInterval: 100 },
  });
  assert.equal(s.connectionTimeout, 15_000, 'timeout is the connection timeout when connectionTimeout is absent');
  assert.equal(resolveSettings({ timeout: 15_000, connectionTimeout: 20_000 }).connectionTimeout, 20_000);
  assert.equal(resolveSettings({ timeout: 4000 }).peerConnectionTimeout, 4000);
  assert.equal(s.peerConnectionTimeout, 7000);
  assert.equal(s.maxConnections, 100);
  assert.equal(s.peerTimeout, 1300);
  assert.deepEqual(s.rtcConfig.iceServers, [{ urls: 'stun:x' }]);
  assert.equal(backoffDelay(s, 0), 500);
  assert.equal(backoffDelay(s, 3), 4000);
  assert.equal(backoffDelay(s, 20), 30_000);
});

test('toBytes accepts every shape a frame arrives in, and nothing else', () => {
  const u8 = Uint8Array.of(1, 2, 255);
  assert.equal(toBytes(u8), u8);
  assert.deepEqual(toBytes(u8.buffer), u8);
  assert.deepEqual(toBytes(new DataView(u8.buffer, 1, 2)), Uint8Array.of(2, 255));
  assert.deepEqual(toBytes([1, 2, 255]), u8);
  assert.deepEqual(toBytes(JSON.parse(JSON.stringify(u8))), u8, 'a JSON-encoded Uint8Array');
  assert.deepEqual(toBytes({}), new Uint8Array(0));
  assert.equal(toBytes({ 0: 1, 2: 3 }), null);
  assert.equal(toBytes({ 0: 1, 1: 256 }), null);
  assert.equal(toBytes([1, -1]), null);
  assert.equal(toBytes('abc'), null);
  assert.equal(toBytes(null), null);
  assert.equal(toBytes(new Map()), null);
});

/** An adapter over an in-memory bus, like the README's custom adapter (no presence of its own). */
function memoryBus() {
  const members = new Map();
  class MemoryAdapter extends P2PAdapter {
    async connect() {
      members.set(this.id, this);
      this.isConnected = true;
      this.emit('open', this.getId());
    }
    send(peerId, data) {
      if (!this.isConnected) return false;
      const deliver = (m) =>
        queueMicrotask(
          () => m.isConnected && m.emit('message', { from: this.id, data: JSON.parse(JSON.stringify(data)) }),
        );
      if (peerId === '*') for (const [id, m] of members) id !== this.id && deliver(m);
      else if (members.has(peerId)) deliver(members.get(peerId));
      return true;
    }
    broadcast(data) {
      return this.send('*', data) ? 1 : 0;
    }
    async disconnect() {
      members.delete(this.id);
      this.isConnected = false;
    }
  }
  return MemoryAdapter;
}

function waitFor(adapter, event, pred = () => true) {
  return new Promise((resolve) => {
    const fn = (p) => {
      if (pred(p)) {
        adapter.off(event, fn);
        resolve(p);
      }
    };
    adapter.on(event, fn);
  });
}

test('adapters without presence get it from the base class: connection, frames, expiry, close', async () => {
  const Memory = memoryBus();
  const cfg = { p2pConfig: { heartbeatInterval: 20, peerTimeout: 500 } };
  const a = new Memory({ ...cfg, peerId: 'aaa' });
  const b = new Memory({ ...cfg, peerId: 'bbb' });
  const frames = [];
  b.on('message', (m) => frames.push(m));
  await a.connect();
  const bSeesA = waitFor(b, 'connection', (e) => e.peerId === 'aaa');
  const aSeesB = waitFor(a, 'connection', (e) => e.peerId === 'bbb');
  await b.connect();
  await Promise.all([aSeesB, bSeesA]);
  assert.deepEqual(a.getPeers(), ['bbb']);
  const arrived = waitFor(b, 'message');
  a.send('bbb', Uint8Array.of(9, 8, 7));
  await arrived;
  // Let a few heartbeats pass: presence frames are never delivered as messages.
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(frames.length, 1, 'presence frames are not delivered as messages');
  assert.deepEqual(frames[0].data, Uint8Array.of(9, 8, 7));
  const gone = waitFor(a, 'disconnect', (e) => e.peerId === 'bbb');
  const closed = waitFor(b, 'close');
  await b.disconnect();
  assert.equal((await gone).reason, 'timeout');
  await closed;
  assert.equal(a.getConnectionCount(), 0);
  await a.destroy();
});

/** A PeerJS DataConnection as the mesh uses it, opened, failed or closed by the test. */
class FakeConnection {
  constructor(peer, connectionId) {
    Object.assign(this, { peer, connectionId, serialization: 'raw', reliable: true, open: false, closed: false });
    this.metadata = { protocol: CHANNEL_PROTOCOL };
    this.peerConnection = {};
    this.dataChannel = { bufferedAmount: 0, bufferedAmountLowThreshold: 0, addEventListener() {} };
    this.handlers = {};
  }
  on(event, f) {
    this.handlers[event] = [...(this.handlers[event] ?? []), f];
  }
  emit(event) {
    for (const f of this.handlers[event] ?? []) f();
  }
  opened() {
    this.open = true;
    this.emit('open');
  }
  send() {}
  close() {
    if (this.closed) return;
    Object.assign(this, { closed: true, open: false });
    this.emit('close');
  }
}

test('a newer offer from a linked peer replaces the open link only once it opens', async () => {
  const b = new PeerJsAdapter({ peerId: 'bbb', peerConnectionTimeout: 150, p2pConfig: { heartbeatInterval: 20 } });
  const events = [];
  for (const type of ['connection', 'disconnect']) b.on(type, (e) => events.push(`${type}:${e.peerId}`));
  b.mesh.start();
  const cid = (mesh) => mesh.links.get('aaa')?.cid;
  const first = new FakeConnection('aaa', 'dc_first');
  b.mesh.accept(first);
  first.opened();
  assert.deepEqual([events, cid(b.mesh), b.getPeers()], [['connection:aaa'], 'dc_first', ['aaa']]);
  // An offer of a session of the peer that is gone (a server delivered it late): it never
  // opens. The open link stays up all along, and nothing is reported.
  const stale = new FakeConnection('aaa', 'dc_stale');
  b.mesh.accept(stale);
  assert.equal(cid(b.mesh), 'dc_first');
  assert.equal(b.mesh.channel('aaa').readyState, 'open');
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(stale.closed, 'the stale connection failed at peerConnectionTimeout');
  assert.deepEqual(
    [events, cid(b.mesh), b.mesh.successors.size, first.closed],
    [['connection:aaa'], 'dc_first', 0, false],
  );
  // One that fails before it opens (the client's 'error') leaves it too.
  const refused = new FakeConnection('aaa', 'dc_refused');
  b.mesh.accept(refused);
  refused.emit('error');
  assert.deepEqual([events, cid(b.mesh), b.mesh.successors.size], [['connection:aaa'], 'dc_first', 0]);
  // The peer restarted: its new link replaces the old one once it opens, which is closed.
  const restarted = new FakeConnection('aaa', 'dc_restarted');
  b.mesh.accept(restarted);
  restarted.opened();
  assert.deepEqual(events, ['connection:aaa', 'disconnect:aaa', 'connection:aaa']);
  assert.deepEqual(
    [cid(b.mesh), b.mesh.successors.size, first.closed || (await closedSoon(first))],
    ['dc_restarted', 0, true],
  );
  // The open link dropping while a newer one is on its way hands the place to that one.
  const next = new FakeConnection('aaa', 'dc_next');
  b.mesh.accept(next);
  restarted.close();
  assert.deepEqual([cid(b.mesh), b.mesh.successors.size], ['dc_next', 0]);
  next.opened();
  assert.deepEqual(events.slice(3), ['disconnect:aaa', 'connection:aaa']);
  await b.destroy();
});

test('socketio: a place freed under maxConnections goes to a peer refused for want of one', () => {
  const a = new SocketIoAdapter({ peerId: 'aaa', maxConnections: 1 });
  const events = [];
  for (const type of ['connection', 'disconnect']) a.on(type, (e) => events.push(`${type}:${e.peerId}`));
  a.on('error', (e) => events.push(`error:${e.type}:${e.peerId}`));
  a._present('bbb', 'room');
  a._present('ccc', 'room');
  assert.deepEqual([a.getPeers(), events], [['bbb'], ['connection:bbb', 'error:max-connections:ccc']]);
  // bbb leaves: ccc, still in the room, is linked (it stayed refused for good).
  a._absent('bbb', 'room');
  assert.deepEqual(a.getPeers(), ['ccc']);
  assert.deepEqual(events.slice(2), ['disconnect:bbb', 'connection:ccc']);
});

/** Whether `conn` is closed after the mesh's short delay before closing a channel. */
async function closedSoon(conn) {
  await new Promise((r) => setTimeout(r, 20));
  return conn.closed;
}

test('maxConnections refuses peers beyond the limit', async () => {
  const Memory = memoryBus();
  const cfg = { maxConnections: 1, p2pConfig: { heartbeatInterval: 20 } };
  const a = new Memory({ ...cfg, peerId: 'a1' });
  const errors = [];
  a.on('error', (e) => errors.push(e));
  await a.connect();
  const b = new Memory({ peerId: 'b1', p2pConfig: { heartbeatInterval: 20 } });
  const c = new Memory({ peerId: 'c1', p2pConfig: { heartbeatInterval: 20 } });
  const first = waitFor(a, 'connection');
  await b.connect();
  await first;
  const refused = waitFor(a, 'error', (e) => e.type === 'max-connections');
  await c.connect();
  await refused;
  assert.deepEqual(a.getPeers(), ['b1']);
  assert.ok(errors.some((e) => e.type === 'max-connections' && e.peerId === 'c1'));
  for (const x of [a, b, c]) await x.destroy();
});

test('sendWithRetry resends a failed frame retryAttempts times, then reports send-failed', async () => {
  const a = new P2PAdapter({ retryAttempts: 2, p2pConfig: { retryDelay: 5 } });
  const errors = [];
  a.on('error', (e) => errors.push(e));
  let tries = 0;
  const failed = waitFor(a, 'error');
  assert.equal(
    a.sendWithRetry('p', () => {
      tries++;
      throw new Error('boom');
    }),
    true,
  );
  await failed;
  assert.equal(tries, 3);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].type, 'send-failed');
  assert.equal(errors[0].peerId, 'p');
  // An async attempt that fails once, then succeeds.
  let asyncTries = 0;
  const delivered = new Promise((resolve) =>
    a.sendWithRetry('p', async () => {
      if (asyncTries++ === 0) throw new Error('once');
      resolve();
    }),
  );
  await delivered;
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(asyncTries, 2);
  assert.equal(errors.length, 1);
  // No resend allowed: a failed first try returns false.
  const b = new P2PAdapter({ retryAttempts: 0 });
  b.on('error', () => {});
  assert.equal(
    b.sendWithRetry('p', () => {
      throw new Error('x');
    }),
    false,
  );
});

test('connectionLost reconnects with backoff, and gives up after maxReconnectAttempts', async () => {
  let failing = true;
  let connects = 0;
  class Flaky extends P2PAdapter {
    static managesPresence = true;
    async connect() {
      connects++;
      if (failing && connects > 1) throw new Error('server down');
      this.isConnected = true;
      this.emit('open', this.id);
    }
    async disconnect() {
      this.isConnected = false;
    }
  }
  const a = new Flaky({ maxReconnectAttempts: 3, reconnectDelay: 5, connectionTimeout: 50 });
  const waits = [];
  a.on('reconnecting', (e) => waits.push(e));
  a.on('error', () => {});
  await a.connect();
  const closed = waitFor(a, 'close');
  a.connectionLost('test');
  await closed;
  assert.deepEqual(
    waits.map((w) => w.delay),
    [5, 10, 20],
  );
  assert.equal(connects, 4);
  failing = false;
  await a.connect();
  const reopened = waitFor(a, 'open');
  a.connectionLost('again');
  await reopened;
  assert.equal(a.isConnected, true);
  // Losing the connection while already disconnected (on purpose) does nothing.
  await a.disconnect();
  a.connectionLost('ignored');
  assert.equal(a.isConnected, false);
});

test('presence frames are recognised exactly', () => {
  for (const kind of Object.values(ControlKind)) assert.equal(parseControlFrame(controlFrame(kind)), kind);
  const f = controlFrame(ControlKind.PING);
  f[4] = 2;
  assert.equal(parseControlFrame(f), 0, 'other version');
  assert.equal(parseControlFrame(Uint8Array.of(0x41, 0x55, 0x73, 0x79, 1, 2)), 0, 'other magic');
  assert.equal(parseControlFrame(new Uint8Array(7)), 0);
});

test('frames are chunked for data channels and joined back', () => {
  for (const size of [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE * 3 + 7, 200 * 1024]) {
    const frame = pattern(size, size);
    const parts = encodeFrame(frame);
    assert.ok(
      parts.every((p) => p.length <= CHUNK_SIZE),
      `chunk over ${CHUNK_SIZE} bytes for a ${size}-byte frame`,
    );
    const r = new Reassembler(1 << 20);
    let out = null;
    for (const [i, p] of parts.entries()) {
      const got = r.push(p);
      if (i < parts.length - 1) assert.equal(got, null);
      else out = got;
    }
    assert.equal(out.kind, 'frame');
    assert.deepEqual(out.data, frame);
  }
});

test('the reassembler refuses malformed and oversized input, then starts clean', () => {
  const r = new Reassembler(1000);
  const bad = (msg) =>
    assert.throws(
      () => r.push(msg),
      (e) => e.type === 'invalid-frame',
    );
  bad(new Uint8Array(0));
  bad(Uint8Array.of(2, 1, 2)); // MORE without FIRST
  bad(Uint8Array.of(9));
  bad(new Uint8Array(1002)); // WHOLE over the limit
  const big = encodeFrame(pattern(2000, 1), 100);
  bad(big[0]); // announced length over the limit
  const parts = encodeFrame(pattern(300, 2), 100);
  r.push(parts[0]);
  bad(Uint8Array.of(1, 0, 0, 0, 1)); // truncated FIRST drops the partial frame
  bad(parts[1]);
  const over = Uint8Array.of(1, 0, 0, 0, 3, 1, 2);
  r.push(over);
  bad(Uint8Array.of(2, 1, 2)); // runs past the announced length
  assert.deepEqual(r.push(Uint8Array.of(0, 5)), { kind: 'frame', data: Uint8Array.of(5) });
  assert.deepEqual(r.push(Uint8Array.of(3)), { kind: 'ping' });
  assert.deepEqual(r.push(Uint8Array.of(4)), { kind: 'bye' });
});
