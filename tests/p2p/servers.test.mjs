// The servers, driven from node: each starts on loopback with a free port, prints READY,
// speaks its protocol, and exits with status 0 on SIGTERM. The Socket.IO relay is checked with
// the official socket.io-client, and with the whole 'socketio' adapter (which speaks through
// that client; in node, over the `ws` WebSocket it brings).

import test from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { io as ioClient } from 'socket.io-client';
import { createAdapter } from '../../web/js/p2p/index.js';
import { FAST, FAST_P2P, peerjsScript, signalingScript, socketioScript, startProcess, until } from './helpers.mjs';
import { digest, pattern } from './pages/bytes.js';

/** A JSON WebSocket client that queues what it receives. */
async function jsonClient(url) {
  const ws = new WebSocket(url);
  const inbox = [];
  const waiters = [];
  ws.on('message', (raw) => {
    inbox.push(JSON.parse(raw.toString()));
    for (const w of waiters.splice(0)) w();
  });
  await new Promise((ok, fail) => {
    ws.once('open', ok);
    ws.once('error', fail);
  });
  return {
    ws,
    send: (m) => ws.send(JSON.stringify(m)),
    /** The next message matching `pred` (consumed), within `timeout` ms. */
    async next(pred = () => true, timeout = 5000) {
      const deadline = Date.now() + timeout;
      for (;;) {
        const i = inbox.findIndex(pred);
        if (i >= 0) return inbox.splice(i, 1)[0];
        if (Date.now() > deadline) throw new Error(`no matching message; inbox: ${JSON.stringify(inbox)}`);
        await new Promise((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    },
    close: () => ws.close(),
  };
}

test('signaling server: rooms, relay, errors, leave, clean exit', async () => {
  const server = await startProcess(signalingScript);
  try {
    const a = await jsonClient(server.url);
    const b = await jsonClient(server.url);
    const c = await jsonClient(server.url);
    a.send({ type: 'join', room: 'r1', id: 'alice' });
    assert.deepEqual(await a.next(), { type: 'joined', id: 'alice', room: 'r1', peers: [] });
    b.send({ type: 'join', room: 'r1', id: 'bob' });
    assert.deepEqual((await b.next()).peers, ['alice']);
    assert.deepEqual(await a.next(), { type: 'peer-joined', id: 'bob' });
    c.send({ type: 'join', room: 'r1', id: 'alice' });
    assert.equal((await c.next()).code, 'id-taken');
    c.send({ type: 'join', room: 'r2', id: 'carol' });
    assert.deepEqual((await c.next()).peers, []);
    a.send({ type: 'signal', to: 'bob', data: { kind: 'offer', cid: 'x' } });
    assert.deepEqual(await b.next(), { type: 'signal', from: 'alice', data: { kind: 'offer', cid: 'x' } });
    c.send({ type: 'signal', to: 'bob', data: {} });
    assert.deepEqual(await c.next(), {
      type: 'error',
      code: 'unknown-peer',
      message: 'no peer bob in the room',
      to: 'bob',
    });
    a.send({ type: 'nope' });
    assert.equal((await a.next()).code, 'bad-request');
    a.ws.send('not json');
    assert.equal((await a.next()).code, 'bad-request');
    a.send({ type: 'join', room: 'r1', id: 'bad id!' });
    assert.equal((await a.next()).code, 'bad-request');
    b.close();
    assert.deepEqual(await a.next(), { type: 'peer-left', id: 'bob' });
    a.send({ type: 'leave' });
    a.send({ type: 'signal', to: 'bob', data: {} });
    assert.equal((await a.next()).code, 'not-joined');
    a.close();
    c.close();
  } finally {
    await server.stop();
  }
});

test('PeerJS server: OPEN, relayed OFFER with src, discovery list, ID-TAKEN, EXPIRE', async () => {
  const server = await startProcess(peerjsScript, ['--path', '/myapp']);
  try {
    assert.equal(server.url, `http://127.0.0.1:${server.port}/myapp`);
    const ws = (id, token) =>
      jsonClient(`ws://127.0.0.1:${server.port}/myapp/peerjs?key=peerjs&id=${id}&token=${token}&version=1.5.5`);
    const a = await ws('alice', 't1');
    assert.deepEqual(await a.next(), { type: 'OPEN' });
    const b = await ws('bob', 't2');
    assert.deepEqual(await b.next(), { type: 'OPEN' });
    const list = await (await fetch(`${server.url}/peerjs/peers`)).json();
    assert.deepEqual(list.sort(), ['alice', 'bob']);
    a.send({ type: 'OFFER', dst: 'bob', payload: { connectionId: 'dc_1' } });
    assert.deepEqual(await b.next(), { type: 'OFFER', src: 'alice', dst: 'bob', payload: { connectionId: 'dc_1' } });
    const taken = await ws('alice', 'other');
    assert.equal((await taken.next()).type, 'ID-TAKEN');
    a.send({ type: 'OFFER', dst: 'nobody', payload: {} });
    // The server keeps an offer to an absent id for expire_timeout (5 s), then tells the sender.
    assert.deepEqual(await a.next((m) => m.type === 'EXPIRE', 15_000), { type: 'EXPIRE', src: 'nobody', dst: 'alice' });
    a.close();
    b.close();
  } finally {
    await server.stop();
  }
});

test('Socket.IO relay with the official client: join, presence, targeted and room frames', async () => {
  const server = await startProcess(socketioScript);
  const clients = [];
  const connect = async () => {
    const s = ioClient(server.url, { transports: ['websocket'], reconnection: false });
    clients.push(s);
    await new Promise((ok, fail) => {
      s.once('connect', ok);
      s.once('connect_error', fail);
    });
    return s;
  };
  try {
    const a = await connect();
    const b = await connect();
    const c = await connect();
    assert.deepEqual(await a.emitWithAck('join', { id: 'alice', rooms: ['r1', 'r2'] }), {
      ok: true,
      id: 'alice',
      peers: [],
    });
    const joined = new Promise((ok) => a.once('peer-joined', ok));
    assert.deepEqual(await b.emitWithAck('join', { id: 'bob', rooms: ['r2'] }), {
      ok: true,
      id: 'bob',
      peers: [{ id: 'alice', rooms: ['r2'] }],
    });
    assert.deepEqual(await joined, { id: 'bob', room: 'r2' });
    assert.deepEqual(await c.emitWithAck('join', { id: 'bob', rooms: ['r1'] }), { ok: false, error: 'id-taken' });
    assert.deepEqual(await c.emitWithAck('join', { id: 'carol', rooms: ['r3'] }), { ok: true, id: 'carol', peers: [] });
    const frame = Buffer.from(pattern(300_000, 1));
    const got = new Promise((ok) => b.once('msg', (hdr, bytes) => ok([hdr, bytes])));
    assert.deepEqual(await a.emitWithAck('msg', { to: 'bob' }, frame), { ok: true, delivered: 1 });
    const [hdr, bytes] = await got;
    assert.deepEqual(hdr, { from: 'alice' });
    assert.equal(digest(new Uint8Array(bytes)), digest(frame));
    assert.deepEqual(
      await a.emitWithAck('msg', { to: 'carol' }, frame),
      { ok: false, error: 'unknown-peer' },
      'no shared room',
    );
    assert.deepEqual(await a.emitWithAck('msg', {}, Buffer.from([1])), { ok: true, delivered: 1 });
    assert.deepEqual(await a.emitWithAck('msg', { to: 'bob' }, 'text'), { ok: false, error: 'bad-request' });
    const left = new Promise((ok) => a.once('peer-left', ok));
    b.disconnect();
    assert.deepEqual(await left, { id: 'bob', room: 'r2' });
  } finally {
    for (const s of clients) s.disconnect();
    await server.stop();
  }
});

test("the 'socketio' adapter in node: connect, frames, relay restart, reconnect", async () => {
  let server = await startProcess(socketioScript);
  const config = (peerId) => ({
    name: 'node-room',
    peerId,
    ...FAST,
    p2pConfig: { ...FAST_P2P, serverUrl: server.url },
  });
  const a = createAdapter('socketio', config('alice'));
  const b = createAdapter('socketio', config('bob'));
  const got = [];
  const log = [];
  b.on('message', (m) => got.push(m));
  for (const [n, x] of [
    ['a', a],
    ['b', b],
  ])
    for (const ev of ['connection', 'disconnect', 'open', 'error']) x.on(ev, (p) => log.push([n, ev, p]));
  try {
    await a.connect();
    await b.connect();
    await until(() => a.isPeerConnected('bob') && b.isPeerConnected('alice'), 'both connected');
    assert.deepEqual(await a.listPeers(), ['bob']);
    assert.equal(a.send('bob', pattern(200 * 1024, 3)), true);
    await until(() => got.length === 1, 'the frame');
    assert.equal(digest(got[0].data), digest(pattern(200 * 1024, 3)));
    assert.equal(got[0].from, 'alice');
    server = await server.restart();
    await until(() => log.filter(([n, ev]) => n === 'a' && ev === 'disconnect').length === 1, 'a disconnect at alice');
    await until(() => a.isPeerConnected('bob') && b.isPeerConnected('alice'), 'both connected again', 40_000);
    assert.equal(log.filter(([n, ev]) => n === 'a' && ev === 'open').length, 2);
    const gotA = [];
    a.on('message', (m) => gotA.push(m));
    assert.equal(b.broadcast(Uint8Array.of(4, 5)), 1);
    await until(() => gotA.some((m) => m.data.length === 2 && m.data[0] === 4), 'broadcast after the restart');
  } finally {
    await a.destroy();
    await b.destroy();
    await server.stop();
  }
});

test('servers refuse a port in use and bad arguments', async () => {
  const first = await startProcess(signalingScript);
  try {
    await assert.rejects(startProcess(signalingScript, [], { port: first.port }), /exited \(1\)[\s\S]*port in use/);
    await assert.rejects(startProcess(socketioScript, ['--bogus', '1']), /exited \(2\)[\s\S]*unknown argument/);
  } finally {
    await first.stop();
  }
});
