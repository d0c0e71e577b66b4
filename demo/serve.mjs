#!/usr/bin/env node
// Serves the audit board (demo/web/) and the built JavaScript API (pkg/) on 127.0.0.1, and runs
// the servers the P2P adapters need, each on a free loopback port:
//
//   servers/socketio-relay.mjs   the 'socketio' adapter's relay          (the board's default)
//   servers/peerjs.mjs           the PeerJS server of the 'peerjs' adapter
//   servers/signaling.mjs        the WebSocket signaling of the 'webrtc' adapter
//
//   node demo/serve.mjs [--port N] [--check]
//
// --port N  the page's port (default 8080, env DEMO_PORT; 0 = any free port).
// --check   start everything, fetch the page, its config, the API and each server once, print
//           what answered, stop everything and exit 0 (1 if anything did not answer).
//
// URL layout: /... is demo/web/ (the board at /, the log inspector at /inspect.html), /pkg/...
// is pkg/, /config.json tells the page where the servers are. Once everything listens it prints `READY demo port=PORT url=URL`, then stays up
// until SIGINT (Ctrl-C) or SIGTERM, and stops the servers it started on the way out.

import { spawn } from 'node:child_process';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';

const HOST = '127.0.0.1';
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WEB = join(ROOT, 'demo', 'web');
const PKG = resolve(process.env.AURORADB_PKG || join(ROOT, 'pkg'));
const PEERJS_PATH = '/auroradb';
const READY_TIMEOUT_MS = 15_000;

const MOUNTS = [
  ['/pkg/', PKG],
  ['/', WEB],
];

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.wasm': 'application/wasm',
  '.ts': 'text/plain; charset=utf-8',
};

function fail(message) {
  console.error(`demo: ${message}`);
  process.exit(2);
}

function parseArgs(argv) {
  const out = { port: process.env.DEMO_PORT ?? '8080', check: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const m = /^--port(?:=(.*))?$/.exec(arg);
    if (m) {
      out.port = m[1] ?? argv[++i];
      if (out.port === undefined) fail('--port needs a value');
    } else if (arg === '--check') {
      out.check = true;
    } else if (arg === '--help' || arg === '-h') {
      console.log('usage: node demo/serve.mjs [--port N] [--check]');
      process.exit(0);
    } else {
      fail(`unknown argument '${arg}' (usage: node demo/serve.mjs [--port N] [--check])`);
    }
  }
  // Decimal digits only: Number() would also take ' 0x50' (80), '' (0) and '1e4' (10000).
  const port = /^[0-9]{1,5}$/.test(out.port) ? Number(out.port) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) {
    fail(`bad port '${out.port}': give a decimal number from 0 to 65535 (0: any free port)`);
  }
  return { port, check: out.check };
}

// ---- the servers ---------------------------------------------------------------------------

/** Starts `node servers/<script> --port 0` and resolves to `{ name, port, url, stop() }` once READY. */
function startServer(script, args = []) {
  const proc = spawn(process.execPath, [join(ROOT, 'servers', script), '--port', '0', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise((ok) => proc.once('exit', (code, signal) => ok({ code, signal })));
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const killer = setTimeout(() => proc.kill('SIGKILL'), 4000);
    await exited;
    clearTimeout(killer);
  };
  return new Promise((ok, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${script} printed no READY line within ${READY_TIMEOUT_MS} ms:\n${output}`));
    }, READY_TIMEOUT_MS);
    proc.stdout.setEncoding('utf8').on('data', (chunk) => {
      output += chunk;
      const m = /^READY (\S+) port=(\d+) url=(\S+)$/m.exec(output);
      if (m && timer) {
        clearTimeout(timer);
        ok({ name: m[1], port: Number(m[2]), url: m[3], stop, proc });
      }
    });
    proc.stderr.setEncoding('utf8').on('data', (chunk) => {
      output += chunk;
      process.stderr.write(`[${script}] ${chunk}`);
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code ?? signal}) before READY:\n${output}`));
    });
  });
}

// ---- the page server -----------------------------------------------------------------------

/** Maps a URL path to a file under one of the mounts, or null (never outside them). */
function resolvePath(urlPath) {
  let path;
  try {
    path = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (path.includes('\0')) return null;
  if (path.endsWith('/')) path += 'index.html';
  for (const [prefix, root] of MOUNTS) {
    if (!path.startsWith(prefix)) continue;
    const rest = normalize(path.slice(prefix.length)).replace(/^([/\\]|\.\.([/\\]|$))+/, '');
    const file = resolve(root, rest);
    if (!file.startsWith(root + sep)) return null;
    return existsSync(file) && statSync(file).isFile() ? file : null;
  }
  return null;
}

function startPageServer(port, config) {
  const body = JSON.stringify(config, null, 2);
  const server = createServer((req, res) => {
    const path = new URL(req.url, `http://${HOST}`).pathname;
    const get = req.method === 'GET' || req.method === 'HEAD';
    if (get && path === '/config.json') {
      res.writeHead(200, { 'content-type': TYPES['.json'], 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    const file = get ? resolvePath(path) : null;
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(`not found: ${path}\n`);
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] || 'application/octet-stream',
      'content-length': statSync(file).size,
      'cache-control': 'no-store',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  server.keepAliveTimeout = 1000;
  return new Promise((ok, reject) => {
    server.once('error', (err) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`port ${port} is in use: pick another with --port N (0 = any free port)`)
          : err,
      ),
    );
    server.listen(port, HOST, () => ok(server));
  });
}

// ---- check mode ----------------------------------------------------------------------------

async function probe(label, url, want) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    const ok = res.ok && (!want || want.test(text));
    console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${label}: HTTP ${res.status} ${url}`);
    return ok;
  } catch (err) {
    console.log(`  FAIL ${label}: ${url}: ${err.message}`);
    return false;
  }
}

/**
 * Joins a room of the WebRTC signaling server over a WebSocket and waits for its `joined`
 * answer (the server speaks WebSocket only: an HTTP fetch would tell nothing).
 */
function probeSignaling(label, url) {
  return new Promise((done) => {
    const say = (ok, text) => {
      clearTimeout(timer);
      ws.terminate();
      console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${label}: ${text} ${url}`);
      done(ok);
    };
    const ws = new WebSocket(url);
    const timer = setTimeout(() => say(false, 'no answer within 5000 ms:'), 5000);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'join', room: 'demo-check', id: `check${process.pid}` })));
    ws.on('message', (data) => {
      let msg = null;
      try {
        msg = JSON.parse(String(data));
      } catch {}
      say(msg?.type === 'joined', msg?.type === 'joined' ? 'joined a room' : `answered ${String(data).slice(0, 80)}:`);
    });
    ws.on('error', (err) => say(false, `${err.message}:`));
  });
}

async function check(origin, config) {
  const results = [
    await probe('page', `${origin}/`, /AuroraDB audit board/),
    await probe('config', `${origin}/config.json`, /"socketio"/),
    await probe('app script', `${origin}/app.js`),
    await probe('log inspector', `${origin}/inspect.html`, /AuroraDB log inspector/),
    await probe('API module', `${origin}/pkg/auroradb.mjs`, /AuroraDB/),
    await probe('engine', `${origin}/pkg/auroradb_core_bg.wasm`),
    await probe('Socket.IO relay', `${config.socketio}/socket.io/?EIO=4&transport=polling`, /"sid"/),
    await probe('PeerJS server', `${config.peerjs.url}/${config.peerjs.key}/id`),
    await probeSignaling('WebRTC signaling server', config.signaling),
  ];
  return results.every(Boolean);
}

// ---- main ----------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(join(PKG, 'auroradb.mjs'))) {
    fail(`${PKG}/auroradb.mjs is missing: build it with ./scripts/build-web.sh`);
  }

  const started = [];
  let page = null;
  let stopping = null;
  const stopAll = () =>
    (stopping ??= (async () => {
      if (page) {
        page.closeAllConnections?.();
        await new Promise((ok) => page.close(() => ok()));
      }
      await Promise.all(started.map((s) => s.stop()));
    })());
  const onSignal = (signal) => {
    console.log(`\ndemo: stopping (${signal})`);
    const timer = setTimeout(() => process.exit(0), 6000);
    stopAll().finally(() => {
      clearTimeout(timer);
      process.exit(0);
    });
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));

  try {
    // Each server joins `started` as soon as it is up, so a failure of another one stops it.
    const track = (s) => {
      started.push(s);
      return s;
    };
    const [relay, peerjs, signaling] = await Promise.all([
      startServer('socketio-relay.mjs').then(track),
      startServer('peerjs.mjs', ['--path', PEERJS_PATH]).then(track),
      startServer('signaling.mjs').then(track),
    ]);
    for (const s of started) {
      s.proc.once('exit', (code, signal) => {
        // Ctrl-C in a terminal reaches the servers too: only a server that exits on its own,
        // with no signal for us following, is news.
        setTimeout(() => {
          if (!stopping) {
            console.error(`demo: the ${s.name} server exited (${code ?? signal}): its adapter will not connect`);
          }
        }, 500);
      });
    }
    const config = {
      socketio: relay.url,
      peerjs: { host: HOST, port: peerjs.port, path: PEERJS_PATH, key: 'peerjs', url: peerjs.url },
      signaling: signaling.url,
    };
    page = await startPageServer(opts.port, config);
    const origin = `http://${HOST}:${page.address().port}`;

    if (opts.check) {
      console.log(`demo: checking ${origin}`);
      const ok = await check(origin, config);
      await stopAll();
      console.log(ok ? 'demo: check passed' : 'demo: check FAILED');
      process.exit(ok ? 0 : 1);
    }

    console.log('');
    console.log(`  AuroraDB audit board:  ${origin}/`);
    console.log(`  log inspector:         ${origin}/inspect.html`);
    console.log('');
    console.log('  Open it in two tabs, or in two browsers (or a normal and a private window) to give');
    console.log('  each its own storage. Edit records in both and watch them sync. URL parameters:');
    console.log(`    ?adapter=socketio|peerjs|webrtc|broadcast   transport (default socketio)`);
    console.log(`    &strategy=timestamp|version|merge|local-wins|remote-wins   conflict strategy`);
    console.log(`    &board=NAME   a separate board (own database and room)   &user=NAME   your name`);
    console.log('  To see a conflict: "Go offline" in one browser, edit the same incident in both, go back online.');
    console.log('');
    console.log(`  servers: Socket.IO relay ${relay.url}, PeerJS ${peerjs.url}, signaling ${signaling.url}`);
    console.log('  Ctrl-C stops everything.');
    console.log(`READY demo port=${page.address().port} url=${origin}/`);
  } catch (err) {
    console.error(`demo: ${err.message}`);
    await stopAll();
    process.exit(1);
  }
}

main();
