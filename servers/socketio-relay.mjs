#!/usr/bin/env node
// The Socket.IO relay of the 'socketio' adapter (npm `socket.io`): peers join rooms under an
// id, and binary frames are relayed to one peer, to a list of peers, or to everyone in the
// sender's rooms. Works with the adapter's own client and with the official socket.io-client.
//
//   node servers/socketio-relay.mjs [--port N] [--max-payload BYTES]
//        (env SOCKETIO_PORT, default 3001; 0 = any free port; SOCKETIO_MAX_PAYLOAD, default 16 MiB)
//
// Prints `READY socketio port=PORT url=http://127.0.0.1:PORT` and exits with status 0 on
// SIGTERM. Events (default namespace):
//
//   join  { id, rooms: [names] }, ack      ack { ok: true, id, peers: [{ id, rooms }] }
//                                          or { ok: false, error: 'bad-request' | 'id-taken' | 'already-joined' };
//                                          the others get 'peer-joined' { id, room } per shared room
//   msg   { to?: id | [ids] }, bytes, ack  relayed as 'msg' { from }, bytes to `to` (peers sharing
//                                          a room with the sender) or, without `to`, to everyone in
//                                          the sender's rooms; ack { ok: true, delivered: n }, or
//                                          { ok: false, error: 'not-joined' | 'bad-request' | 'unknown-peer' }
//   leave                                  the others get 'peer-left' { id, room } (also on disconnect)
//
// Engine.IO pings every 5 s with a 5 s timeout, so a dead client is dropped within 10 s.

import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { HOST, handleShutdown, parseOptions, ready } from './lib.mjs';

const ID_RE = /^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$/;
const MAX_ROOMS = 32;
const MAX_ROOM = 256;

const opts = parseOptions(process.argv.slice(2), {
  port: { env: 'SOCKETIO_PORT', default: 3001 },
  'max-payload': { env: 'SOCKETIO_MAX_PAYLOAD', default: 16 << 20 },
});
const maxPayload = Number(opts['max-payload']);

const http = createServer((_req, res) => {
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('socket.io relay\n');
});
const io = new Server(http, {
  serveClient: false,
  maxHttpBufferSize: maxPayload,
  pingInterval: 5000,
  pingTimeout: 5000,
  cors: { origin: true },
});

/** peer id → socket */
const byId = new Map();
/** room → Set(peer id) */
const members = new Map();

const peerRoom = (id) => `peer:${id}`;

function reply(ack, value) {
  if (typeof ack === 'function') ack(value);
}

function sharesRoom(a, b) {
  const ra = byId.get(a)?.data.rooms ?? [];
  const rb = new Set(byId.get(b)?.data.rooms ?? []);
  return ra.some((r) => rb.has(r));
}

function leave(socket) {
  const { id, rooms } = socket.data;
  if (!id) return;
  socket.data = {};
  if (byId.get(id) !== socket) return;
  byId.delete(id);
  for (const room of rooms) {
    const set = members.get(room);
    set?.delete(id);
    if (set?.size === 0) members.delete(room);
    socket.to(room).emit('peer-left', { id, room });
    socket.leave(room);
  }
  socket.leave(peerRoom(id));
}

io.on('connection', (socket) => {
  socket.data = {};

  socket.on('join', (info, ack) => {
    const id = info?.id;
    const rooms = Array.isArray(info?.rooms) ? [...new Set(info.rooms)] : null;
    if (
      typeof id !== 'string' ||
      id.length > 128 ||
      !ID_RE.test(id) ||
      !rooms ||
      rooms.length === 0 ||
      rooms.length > MAX_ROOMS ||
      rooms.some((r) => typeof r !== 'string' || r.length === 0 || r.length > MAX_ROOM || r.startsWith('peer:'))
    ) {
      reply(ack, { ok: false, error: 'bad-request' });
      return;
    }
    if (socket.data.id) {
      reply(ack, { ok: false, error: 'already-joined' });
      return;
    }
    if (byId.has(id)) {
      reply(ack, { ok: false, error: 'id-taken' });
      return;
    }
    const peers = new Map();
    for (const room of rooms) {
      for (const other of members.get(room) ?? []) {
        if (!peers.has(other)) peers.set(other, []);
        peers.get(other).push(room);
      }
    }
    byId.set(id, socket);
    socket.data = { id, rooms };
    socket.join(peerRoom(id));
    for (const room of rooms) {
      if (!members.has(room)) members.set(room, new Set());
      members.get(room).add(id);
      socket.join(room);
      socket.to(room).emit('peer-joined', { id, room });
    }
    reply(ack, { ok: true, id, peers: [...peers].map(([peer, shared]) => ({ id: peer, rooms: shared })) });
  });

  socket.on('msg', (header, payload, ack) => {
    const from = socket.data.id;
    if (!from) {
      reply(ack, { ok: false, error: 'not-joined' });
      return;
    }
    if (!Buffer.isBuffer(payload)) {
      reply(ack, { ok: false, error: 'bad-request' });
      return;
    }
    const to = header?.to;
    if (to === undefined || to === null) {
      const peers = new Set();
      for (const room of socket.data.rooms) for (const p of members.get(room) ?? []) if (p !== from) peers.add(p);
      socket.to(socket.data.rooms).emit('msg', { from }, payload);
      reply(ack, { ok: true, delivered: peers.size });
      return;
    }
    const wanted = typeof to === 'string' ? [to] : Array.isArray(to) ? to : null;
    if (!wanted || wanted.some((t) => typeof t !== 'string')) {
      reply(ack, { ok: false, error: 'bad-request' });
      return;
    }
    const targets = [...new Set(wanted)].filter((t) => t !== from && byId.has(t) && sharesRoom(from, t));
    if (targets.length === 0 && typeof to === 'string') {
      reply(ack, { ok: false, error: 'unknown-peer' });
      return;
    }
    if (targets.length) io.to(targets.map(peerRoom)).emit('msg', { from }, payload);
    reply(ack, { ok: true, delivered: targets.length });
  });

  socket.on('leave', () => leave(socket));
  socket.on('disconnect', () => leave(socket));
});

http.listen(opts.port, HOST, () => {
  const { port } = http.address();
  ready('socketio', port, `http://${HOST}:${port}`);
});

handleShutdown('socketio', async () => {
  io.disconnectSockets(true);
  await new Promise((resolve) => io.close(() => resolve()));
});
