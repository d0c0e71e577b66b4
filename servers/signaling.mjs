#!/usr/bin/env node
// The WebRTC signaling server of the 'webrtc' adapter: WebSocket rooms that relay offers,
// answers and ICE candidates between peer ids. It sees no frames: those go over the peers'
// data channels.
//
//   node servers/signaling.mjs [--port N]        (env SIGNALING_PORT, default 8787; 0 = any free port)
//
// Listens on ws://127.0.0.1:PORT (any path), prints `READY signaling port=PORT url=ws://…`,
// exits with status 0 on SIGTERM. Protocol (JSON text messages):
//
//   → { type: 'join', room, id }     ← { type: 'joined', id, room, peers: [ids] }; the others
//                                      in the room get { type: 'peer-joined', id }
//   → { type: 'signal', to, data }   the peer `to` (same room) gets { type: 'signal', from, data }
//   → { type: 'leave' }              the others get { type: 'peer-left', id } (also on close)
//   ← { type: 'error', code, message, to? }  codes: 'bad-request', 'id-taken', 'not-joined',
//                                            'unknown-peer'
//
// Dead connections are found by WebSocket pings every 5 s and closed after one missed pong.

import { WebSocketServer } from 'ws';
import { HOST, handleShutdown, parseOptions, ready } from './lib.mjs';

const ID_RE = /^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$/;
const MAX_ID = 128;
const MAX_ROOM = 256;
const PING_MS = 5000;

const opts = parseOptions(process.argv.slice(2), { port: { env: 'SIGNALING_PORT', default: 8787 } });

/** room name → Map(peer id → socket) */
const rooms = new Map();

const wss = new WebSocketServer({ host: HOST, port: opts.port, maxPayload: 1 << 20 });

function send(ws, msg) {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
}

function error(ws, code, message, extra = {}) {
  send(ws, { type: 'error', code, message, ...extra });
}

function leave(ws) {
  const { room, id } = ws.peer ?? {};
  if (!room) return;
  ws.peer = null;
  const members = rooms.get(room);
  if (!members || members.get(id) !== ws) return;
  members.delete(id);
  if (members.size === 0) rooms.delete(room);
  for (const other of members.values()) send(other, { type: 'peer-left', id });
}

function onMessage(ws, raw, isBinary) {
  let msg;
  try {
    if (isBinary) throw new Error('binary');
    msg = JSON.parse(raw.toString('utf8'));
  } catch {
    error(ws, 'bad-request', 'messages are JSON text');
    return;
  }
  if (!msg || typeof msg !== 'object') {
    error(ws, 'bad-request', 'messages are JSON objects');
    return;
  }
  switch (msg.type) {
    case 'join': {
      const { room, id } = msg;
      if (typeof id !== 'string' || id.length > MAX_ID || !ID_RE.test(id)) {
        error(ws, 'bad-request', 'join needs an id of letters, digits, "-" and "_"');
        return;
      }
      if (typeof room !== 'string' || room.length === 0 || room.length > MAX_ROOM) {
        error(ws, 'bad-request', 'join needs a room name');
        return;
      }
      if (ws.peer) leave(ws);
      let members = rooms.get(room);
      if (members?.has(id)) {
        error(ws, 'id-taken', `id ${id} is taken in room ${room}`);
        return;
      }
      if (!members) {
        members = new Map();
        rooms.set(room, members);
      }
      const peers = [...members.keys()];
      for (const other of members.values()) send(other, { type: 'peer-joined', id });
      members.set(id, ws);
      ws.peer = { room, id };
      send(ws, { type: 'joined', id, room, peers });
      return;
    }
    case 'signal': {
      if (!ws.peer) {
        error(ws, 'not-joined', 'join a room first');
        return;
      }
      const target = typeof msg.to === 'string' ? rooms.get(ws.peer.room)?.get(msg.to) : undefined;
      if (!target) {
        error(ws, 'unknown-peer', `no peer ${msg.to} in the room`, { to: msg.to });
        return;
      }
      send(target, { type: 'signal', from: ws.peer.id, data: msg.data });
      return;
    }
    case 'leave':
      leave(ws);
      return;
    default:
      error(ws, 'bad-request', `unknown message type ${JSON.stringify(msg.type)}`);
  }
}

wss.on('connection', (ws) => {
  ws.alive = true;
  ws.peer = null;
  ws.on('pong', () => {
    ws.alive = true;
  });
  ws.on('message', (raw, isBinary) => onMessage(ws, raw, isBinary));
  ws.on('close', () => leave(ws));
  ws.on('error', () => {});
});

const pinger = setInterval(() => {
  for (const ws of wss.clients) {
    if (!ws.alive) {
      ws.terminate();
      continue;
    }
    ws.alive = false;
    ws.ping();
  }
}, PING_MS);

wss.on('listening', () => {
  const { port } = wss.address();
  ready('signaling', port, `ws://${HOST}:${port}`);
});

handleShutdown('signaling', async () => {
  clearInterval(pinger);
  for (const ws of wss.clients) ws.close(1001, 'server shutting down');
  await new Promise((resolve) => wss.close(resolve));
});
