#!/usr/bin/env node
// A tiny WebSocket relay for the README's custom adapter: each message is JSON
// { to, from, payload }; the relay learns which socket is `from`, then forwards the text
// unchanged to the socket of `to`, or to every other socket when `to` is '*'.
//
//   node tests/p2p/json-relay.mjs [--port N]     prints READY json-relay port=PORT url=ws://…

import { WebSocketServer } from 'ws';
import { HOST, handleShutdown, parseOptions, ready } from '../../servers/lib.mjs';

const opts = parseOptions(process.argv.slice(2), { port: { env: 'JSON_RELAY_PORT', default: 0 } });
const byId = new Map();
const wss = new WebSocketServer({ host: HOST, port: opts.port });

wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('close', () => {
    if (ws.peerId && byId.get(ws.peerId) === ws) byId.delete(ws.peerId);
  });
  ws.on('message', (raw, isBinary) => {
    if (isBinary) return;
    const text = raw.toString('utf8');
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof msg?.from === 'string') {
      ws.peerId = msg.from;
      byId.set(msg.from, ws);
    }
    if (msg?.to === '*') {
      for (const other of wss.clients) if (other !== ws && other.readyState === other.OPEN) other.send(text);
    } else if (typeof msg?.to === 'string') {
      const target = byId.get(msg.to);
      if (target && target.readyState === target.OPEN) target.send(text);
    }
  });
});

wss.on('listening', () => {
  const { port } = wss.address();
  ready('json-relay', port, `ws://${HOST}:${port}`);
});

handleShutdown('json-relay', async () => {
  for (const ws of wss.clients) ws.close(1001, 'relay shutting down');
  await new Promise((resolve) => wss.close(resolve));
});
