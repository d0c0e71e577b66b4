// Shared by the browser tests (`node --test tests/web/`) and the browser benchmark
// (`benches/web/run.mjs`): a static file server on 127.0.0.1 and headless Chromium driven by
// playwright-core. Nothing here downloads a browser: Chromium is the system one.
//
// URL layout of the server (the first root holding a file wins):
//
//   /...         pkg/ (the built JavaScript API: auroradb.js and the ES module), then tests/web/pages/
//   /bench/...   benches/web/
//   /dexie/...   node_modules/dexie/dist/
//
// So a test page at /basic-usage.html loads the API exactly as the README shows it:
// `<script src="auroradb.js"></script>`.

import { createServer } from 'node:http';
import { after, before } from 'node:test';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The folder with the built JavaScript API (`AURORADB_PKG` overrides it). */
export const PKG_DIR = resolve(process.env.AURORADB_PKG || join(ROOT, 'pkg'));

/** The Chromium binary (`CHROMIUM` overrides it). */
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** Flags for headless Chromium on this kind of machine (CI runs as root: no sandbox). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

const MOUNTS = [
  ['/bench/', [join(ROOT, 'benches', 'web')]],
  // Log files the browser bench imports (`benches/web/run.mjs --open-import`).
  ['/bench-logs/', [join(ROOT, 'target', 'bench-logs')]],
  ['/dexie/', [join(ROOT, 'node_modules', 'dexie', 'dist')]],
  ['/', [PKG_DIR, join(ROOT, 'tests', 'web', 'pages')]],
];

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.ts': 'text/plain; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** The prefix under which the server sends `.wasm` files without their type (see `startServer`). */
export const OCTET_STREAM = '/octet-stream/';
/**
 * The prefix under which the server sends the files of / as a site sends its static files,
 * cacheable for an hour (everything else is `no-store`): the browser's HTTP cache, and with it
 * its caches of compiled code, then serve a returning visit.
 */
export const CACHED = '/cached/';
const OCTET = 'application/octet-stream';

/** Maps a URL path to a file on disk, or null (never outside the mounted folders). */
export function resolvePath(urlPath) {
  let path;
  try {
    path = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (path.includes('\0')) return null;
  if (path.endsWith('/')) path += 'index.html';
  for (const [prefix, roots] of MOUNTS) {
    if (!path.startsWith(prefix)) continue;
    const rest = normalize(path.slice(prefix.length)).replace(/^([/\\]|\.\.([/\\]|$))+/, '');
    for (const root of roots) {
      const file = resolve(root, rest);
      if (file !== root && !file.startsWith(root + sep)) continue;
      if (existsSync(file) && statSync(file).isFile()) return file;
    }
    return null;
  }
  return null;
}

/**
 * Starts the static server on 127.0.0.1 with an ephemeral port.
 * Resolves to `{ origin, close() }`.
 */
export async function startServer() {
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204, { 'cache-control': 'no-store' });
      res.end();
      return;
    }
    // Under /octet-stream/, the files of / with `.wasm` sent as application/octet-stream, as some
    // servers do: the engine must load from such a server too.
    const octet = url.pathname.startsWith(OCTET_STREAM);
    const cached = url.pathname.startsWith(CACHED);
    const path = octet
      ? url.pathname.slice(OCTET_STREAM.length - 1)
      : cached
        ? url.pathname.slice(CACHED.length - 1)
        : url.pathname;
    const file = req.method === 'GET' || req.method === 'HEAD' ? resolvePath(path) : null;
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(`not found: ${url.pathname}\n`);
      return;
    }
    res.writeHead(200, {
      'content-type': (octet && extname(file) === '.wasm') || !TYPES[extname(file)] ? OCTET : TYPES[extname(file)],
      'content-length': statSync(file).size,
      'cache-control': cached ? 'public, max-age=3600' : 'no-store',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file).pipe(res);
  });
  server.keepAliveTimeout = 1000;
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections?.();
        server.close(() => ok());
      }),
  };
}

/** Launches headless Chromium (the system binary, never a downloaded one). */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
  });
}

/**
 * Launches headless Chromium with a profile in `userDataDir`: IndexedDB lives on disk there (a
 * plain `browser.newContext()` is off the record, with IndexedDB in memory). Resolves to a
 * BrowserContext; closing it ends the browser. `extraArgs` go to Chromium after the usual ones.
 */
export async function launchPersistent(userDataDir, extraArgs = []) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`);
  }
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
    timeout: 60_000,
  });
}

/**
 * Launches a browser on profile `userDataDir` (see `launchPersistent`) and loads `url` in its
 * first page: resolves to `{ context, page }`.
 */
export async function launchPersistentPage(userDataDir, url) {
  const context = await launchPersistent(userDataDir);
  const page = context.pages()[0] || (await context.newPage());
  await page.goto(url, { waitUntil: 'load' });
  return { context, page };
}

/** Fails with a clear message when the built JavaScript API is missing. */
export function requirePkg() {
  const loader = join(PKG_DIR, 'auroradb.js');
  if (!existsSync(loader)) {
    throw new Error(`${loader} is missing: build it first with ./scripts/build-web.sh`);
  }
}

/**
 * Opens `path` (relative to the server origin) in `context` (or in `page`, which `reload`
 * reloads instead) and waits until the page has
 * reported: pages call `window.__report(...)` (see pages/check.js), which resolves
 * `window.__done`. Resolves to `{ results, logs, errors }`:
 * - `results`: the page's checks, `[{ name, ok, detail }]`;
 * - `logs`: every console message as `{ type, text }`;
 * - `errors`: uncaught page errors and failed requests.
 */
export async function runPage(context, origin, path, { timeout = 60_000, page: given, reload = false } = {}) {
  const page = given || (await context.newPage());
  const logs = [];
  const errors = [];
  const onConsole = (msg) => logs.push({ type: msg.type(), text: msg.text() });
  const onError = (err) => errors.push(`page error: ${err.message}`);
  const onFailed = (req) => errors.push(`request failed: ${req.url()} (${req.failure()?.errorText})`);
  const onResponse = (res) => {
    if (res.status() >= 400) errors.push(`HTTP ${res.status()}: ${res.url()}`);
  };
  page.on('console', onConsole);
  page.on('pageerror', onError);
  page.on('requestfailed', onFailed);
  page.on('response', onResponse);
  try {
    if (reload) await page.reload({ timeout, waitUntil: 'load' });
    else await page.goto(origin + path, { timeout, waitUntil: 'load' });
    const results = await page
      .waitForFunction(() => window.__final, null, { timeout, polling: 50 })
      .then((handle) => handle.jsonValue())
      .catch(async (err) => {
        const partial = await page.evaluate(() => window.__results || []).catch(() => []);
        return [
          ...partial,
          {
            name: 'page finished',
            ok: false,
            detail: `did not report within ${timeout} ms: ${err.message.split('\n')[0]}`,
          },
        ];
      });
    return { results, logs, errors, page };
  } finally {
    page.off('console', onConsole);
    page.off('pageerror', onError);
    page.off('requestfailed', onFailed);
    page.off('response', onResponse);
  }
}

/** A readable multi-line account of a page run, for assertion messages. */
export function describeRun({ results, logs, errors }) {
  const lines = [];
  for (const r of results) if (!r.ok) lines.push(`FAIL ${r.name}${r.detail ? ` -- ${r.detail}` : ''}`);
  const passed = results.filter((r) => r.ok).map((r) => r.name);
  if (passed.length) lines.push(`passed: ${passed.join('; ')}`);
  if (errors.length) lines.push('errors:', ...errors.map((e) => `  ${e}`));
  const tail = logs.slice(-30);
  if (tail.length) lines.push('console (last 30):', ...tail.map((l) => `  [${l.type}] ${l.text}`));
  return lines.join('\n');
}

/**
 * The fixture most test files share: registers the file's `before` and `after` hooks, which
 * check pkg/, start the page server and launch Chromium once, then close both. `server` and
 * `browser` of the returned object are set once `before` has run.
 */
export function browserSuite() {
  const suite = { server: undefined, browser: undefined };
  before(async () => {
    requirePkg();
    suite.server = await startServer();
    suite.browser = await launchBrowser();
  });
  after(async () => {
    await suite.browser?.close();
    await suite.server?.close();
  });
  return suite;
}

/**
 * The fixture of the test files that launch browsers of their own (on on-disk profiles):
 * registers the file's `before` and `after` hooks, which check pkg/ and start the page server,
 * then close it. `server` of the returned object is set once `before` has run.
 */
export function serverSuite() {
  const suite = { server: undefined };
  before(async () => {
    requirePkg();
    suite.server = await startServer();
  });
  after(async () => {
    await suite.server?.close();
  });
  return suite;
}
