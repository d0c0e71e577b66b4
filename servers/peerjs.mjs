#!/usr/bin/env node
// A PeerJS server (npm `peer`) for the 'peerjs' adapter, on loopback, with peer discovery on.
//
//   node servers/peerjs.mjs [--port N] [--path /myapp] [--key peerjs]
//        (env PEERJS_PORT, default 9000; 0 = any free port; PEERJS_PATH, default '/myapp')
//
// Prints `READY peerjs port=PORT url=http://127.0.0.1:PORT/myapp` and exits with status 0 on
// SIGTERM. The adapter config that matches: server: { host: '127.0.0.1', port: PORT,
// path: '/myapp' }. `allow_discovery: true` turns on GET <path>/<key>/peers, the list of
// connected ids the adapter polls to find peers; a PeerJS server without it answers 401, and
// peers must then be named in p2pConfig.peers.

import { PeerServer } from 'peer';
import { HOST, handleShutdown, parseOptions, ready } from './lib.mjs';

const opts = parseOptions(process.argv.slice(2), {
  port: { env: 'PEERJS_PORT', default: 9000 },
  path: { env: 'PEERJS_PATH', default: '/myapp' },
  key: { env: 'PEERJS_KEY', default: 'peerjs' },
});

const clients = new Set();
let httpServer = null;

const peer = PeerServer(
  {
    host: HOST,
    port: opts.port,
    path: opts.path,
    key: opts.key,
    allow_discovery: true,
    alive_timeout: 60_000,
  },
  (server) => {
    httpServer = server;
    const { port } = server.address();
    ready('peerjs', port, `http://${HOST}:${port}${opts.path}`);
  },
);
peer.on('connection', (client) => clients.add(client));
peer.on('disconnect', (client) => clients.delete(client));

handleShutdown('peerjs', async () => {
  for (const client of clients) client.getSocket()?.close(1001, 'server shutting down');
  if (httpServer) {
    await new Promise((resolve) => {
      httpServer.close(resolve);
      httpServer.closeAllConnections?.();
    });
  }
});
