// Shared by the P2P tests: server processes (started on 127.0.0.1 with a free port, stopped
// with SIGTERM, restarted on the same port), a static server for the test pages, headless
// Chromium with the WebRTC-on-loopback flags, and page helpers.
//
// URL layout of the page server: /p2p/... is the adapter bundles, built from web/js/p2p/ by
// scripts/bundle.mjs into a temporary folder when the server starts (the adapters import npm
// clients, so the browser gets them bundled, as pkg/p2p/ holds them); everything else is
// tests/p2p/pages/.

import { spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { chromium } from 'playwright-core';
import { bundle } from '../../scripts/bundle.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SERVERS = join(ROOT, 'servers');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** Headless Chromium flags; the first two let WebRTC use loopback ICE candidates. */
export const CHROMIUM_ARGS = [
  '--allow-loopback-in-peer-connection',
  '--use-fake-ui-for-media-stream',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** Adapter timings short enough for tests. */
export const FAST = {
  connectionTimeout: 3000,
  peerConnectionTimeout: 5000,
  maxReconnectAttempts: 8,
  reconnectDelay: 200,
  retryAttempts: 3,
};
export const FAST_P2P = { heartbeatInterval: 400, peerTimeout: 2000, retryDelay: 100 };

/** A peer id starting with `prefix` (so tests can order ids: 'a…' < 'b…'). */
export function peerId(prefix) {
  return `${prefix}${randomBytes(8).toString('hex')}`;
}

// ---- server processes ----------------------------------------------------------------------

/**
 * Starts `node <script> --port <port> ...args` and waits for its READY line. Resolves to
 * `{ port, url, stop(), restart() }`: stop() sends SIGTERM and checks the exit status is 0;
 * restart() stops it and starts it again on the same port.
 */
export async function startProcess(script, args = [], { port = 0, timeout = 15_000 } = {}) {
  const proc = spawn(process.execPath, [script, '--port', String(port), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise((resolveExit) => proc.once('exit', (code, signal) => resolveExit({ code, signal })));
  const info = await new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${script} printed no READY line within ${timeout} ms:\n${output}`));
    }, timeout);
    const onData = (chunk) => {
      output += chunk;
      const m = /^READY (\S+) port=(\d+) url=(\S+)$/m.exec(output);
      if (m) {
        clearTimeout(timer);
        resolveReady({ name: m[1], port: Number(m[2]), url: m[3] });
      }
    };
    proc.stdout.setEncoding('utf8').on('data', onData);
    proc.stderr.setEncoding('utf8').on('data', (chunk) => {
      output += chunk;
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code ?? signal}) before READY:\n${output}`));
    });
  });
  const handle = {
    ...info,
    proc,
    output: () => output,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const result = await exited;
      clearTimeout(killer);
      if (result.code !== 0)
        throw new Error(`${script} did not exit cleanly on SIGTERM (${result.code ?? result.signal}):\n${output}`);
      return result;
    },
    async restart() {
      await handle.stop();
      return startProcess(script, args, { port: info.port, timeout });
    },
  };
  return handle;
}

export const signalingScript = join(SERVERS, 'signaling.mjs');
export const peerjsScript = join(SERVERS, 'peerjs.mjs');
export const socketioScript = join(SERVERS, 'socketio-relay.mjs');
export const jsonRelayScript = join(ROOT, 'tests', 'p2p', 'json-relay.mjs');

/**
 * A TCP server on 127.0.0.1 that accepts connections and never answers (a hung server).
 * Resolves to `{ port, close() }`.
 */
export async function startBlackhole() {
  const sockets = new Set();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  return {
    port: server.address().port,
    close: () =>
      new Promise((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}

// ---- the page server -----------------------------------------------------------------------

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
};

/** The file a URL path names under `mounts` (`[prefix, root]`, tried in order), or null. */
function resolvePath(mounts, urlPath) {
  let path;
  try {
    path = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (path.includes('\0')) return null;
  if (path.endsWith('/')) path += 'index.html';
  for (const [prefix, root] of mounts) {
    if (!path.startsWith(prefix)) continue;
    const rest = normalize(path.slice(prefix.length)).replace(/^([/\\]|\.\.([/\\]|$))+/, '');
    const file = resolve(root, rest);
    if (file.startsWith(root + sep) && existsSync(file) && statSync(file).isFile()) return file;
  }
  return null;
}

/**
 * Bundles the adapters and serves them with the pages on http://127.0.0.1:<free port> (a secure
 * context). Resolves to `{ origin, close() }`; close() also removes the bundles.
 */
export async function startPageServer() {
  const dir = mkdtempSync(join(tmpdir(), 'auroradb-p2p-'));
  try {
    await bundle({ outdir: dir, p2pOnly: true });
    const server = await serveFiles([
      ['/p2p/', join(dir, 'p2p')],
      ['/', join(ROOT, 'tests', 'p2p', 'pages')],
    ]);
    return {
      origin: server.origin,
      async close() {
        await server.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Serves the files under `mounts` (`[urlPrefix, folder]`, tried in order) on
 * http://127.0.0.1:<free port>. Resolves to `{ origin, close() }`.
 */
export async function serveFiles(mounts) {
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://127.0.0.1').pathname;
    if (path === '/favicon.ico') {
      res.writeHead(204);
      res.end();
      return;
    }
    const file = req.method === 'GET' ? resolvePath(mounts, path) : null;
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`not found: ${path}\n`);
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] || 'application/octet-stream',
      'cache-control': 'no-store',
    });
    createReadStream(file).pipe(res);
  });
  server.keepAliveTimeout = 1000;
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

// ---- the browser ---------------------------------------------------------------------------

export async function launchBrowser() {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

/** Opens the harness page in `context`; page errors are collected in `page.errors`. */
export async function openPeer(context, origin) {
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(err.message));
  page.on('console', (msg) => {
    // Chromium logs each refused WebSocket, and a failed request for the PeerJS server's peer
    // list (refused, or cut off by a server stopping: both expected while a server restarts; the
    // adapter handles them): not errors of ours.
    const refused = /^WebSocket connection to .* failed|^Failed to load resource: net::ERR_CONNECTION_REFUSED$/;
    const peerList =
      /^Failed to load resource: net::ERR_[A-Z_]+$/.test(msg.text()) && /\/peers(\?|$)/.test(msg.location()?.url ?? '');
    if (msg.type() === 'error' && !refused.test(msg.text()) && !peerList) page.errors.push(`console: ${msg.text()}`);
  });
  await page.goto(`${origin}/`, { waitUntil: 'load', timeout: 30_000 });
  await page.waitForFunction(() => window.__ready === true, null, { timeout: 15_000 });
  return page;
}

/** Starts an adapter in `page` under `label`; resolves with its id. */
export function start(page, label, name, config) {
  return page.evaluate(([l, n, c]) => window.h.start(l, n, c), [label, name, config]);
}

/** Calls `h.<fn>(...args)` in the page. */
export function call(page, fn, ...args) {
  return page.evaluate(([f, a]) => window.h[f](...a), [fn, args]);
}

/**
 * Waits until `count(label, ev, peerId)` in the page reaches `n`. On timeout the error shows
 * the adapter's recorded events.
 */
export async function waitForEvent(page, label, ev, peerIdOrUndefined, n = 1, timeout = 20_000) {
  try {
    await page.waitForFunction(
      ([l, e, p, k]) => window.h.count(l, e, p ?? undefined) >= k,
      [label, ev, peerIdOrUndefined ?? null, n],
      {
        timeout,
        polling: 50,
      },
    );
  } catch (err) {
    const events = await page.evaluate((l) => window.h.events(l), label).catch(() => []);
    throw new Error(
      `${label}: fewer than ${n} '${ev}' events${peerIdOrUndefined ? ` for ${peerIdOrUndefined}` : ''} within ${timeout} ms. Events:\n${events
        .map((e) => `  ${JSON.stringify(e)}`)
        .join('\n')}\n${err.message.split('\n')[0]}`,
    );
  }
}

/** Waits until `label` in `page` has received a frame with this size and digest from `from`. */
export async function waitForFrame(page, label, from, size, digestHex, timeout = 20_000) {
  try {
    await page.waitForFunction(
      ([l, f, s, d]) => window.h.received(l).some((r) => r.from === f && r.size === s && r.digest === d && r.u8),
      [label, from, size, digestHex],
      { timeout, polling: 50 },
    );
  } catch (_err) {
    const got = await page.evaluate((l) => window.h.received(l), label).catch(() => []);
    const events = await page.evaluate((l) => window.h.events(l).slice(-20), label).catch(() => []);
    throw new Error(
      `${label}: no frame of ${size} bytes (${digestHex}) from ${from} within ${timeout} ms.\nreceived: ${JSON.stringify(got)}\nlast events:\n${events
        .map((e) => `  ${JSON.stringify(e)}`)
        .join('\n')}`,
    );
  }
}

/** Polls `fn()` (node side) until it returns truthy; throws with `what` after `timeout`. */
export async function until(fn, what, timeout = 20_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
