// Shared by the distributed-database tests (tests/p2p/sync/*.test.mjs): AuroraDB databases in
// headless Chromium pages, syncing through the real P2P adapters and servers.
//
// - A page server on 127.0.0.1: `/...` is the built JavaScript API (pkg/, or AURORADB_PKG),
//   then tests/p2p/sync/pages/, then tests/web/pages/ (for its check.js). A peer page (`/peer.html`) loads `auroradb.js` as the README
//   does and exposes `window.t` (pages/peer.js) to drive databases.
// - Servers started from servers/ (and the custom adapter's relay, tests/p2p/json-relay.mjs)
//   through tests/p2p/helpers.mjs, on free loopback ports.
// - `routeServers(context, routes)`: the README's examples name servers such as
//   `wss://my-server.com` or `localhost:9000`; the browser context sends those connections
//   (WebSocket and HTTP) to the local servers instead, so the examples run unchanged.
// - Polling helpers that say what they waited for, with each page's recent events on failure.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { launchBrowser, serveFiles } from '../helpers.mjs';

export {
  FAST,
  FAST_P2P,
  jsonRelayScript,
  peerjsScript,
  signalingScript,
  socketioScript,
  startProcess,
  until,
} from '../helpers.mjs';
export { launchBrowser };

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const PKG_DIR = resolve(process.env.AURORADB_PKG || join(ROOT, 'pkg'));
export const PAGES_DIR = join(ROOT, 'tests', 'p2p', 'sync', 'pages');
/** The browser tests' pages: their check.js is shared. */
const WEB_PAGES_DIR = join(ROOT, 'tests', 'web', 'pages');

/** Fails with a clear message when the built JavaScript API is missing. */
export function requirePkg() {
  for (const f of ['auroradb.js', 'auroradb.mjs', join('p2p', 'index.js')]) {
    if (!existsSync(join(PKG_DIR, f)))
      throw new Error(`${join(PKG_DIR, f)} is missing: build it first with ./scripts/build-web.sh`);
  }
}

/** Serves pkg/ and the pages on http://127.0.0.1:<free port>. Resolves to `{ origin, close() }`. */
export function startPageServer() {
  requirePkg();
  return serveFiles([
    ['/', PKG_DIR],
    ['/', PAGES_DIR],
    ['/', WEB_PAGES_DIR],
  ]);
}

/** A close code a WebSocket may be closed with by its user (others are the browser's). */
const userCode = (code) => (code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000);

/**
 * Carries a routed page WebSocket to `url`: the page's messages go to a WebSocket the test
 * process opens (queued until it is open), the server's come back, and a close on either side
 * closes the other.
 */
function proxyWebSocket(route, url) {
  const server = new WebSocket(url);
  const queue = [];
  let closed = false;
  const closePage = (code, reason) => {
    if (closed) return;
    closed = true;
    route.close({ code: userCode(code), reason: String(reason ?? '').slice(0, 100) }).catch(() => {});
  };
  server.on('open', () => {
    for (const m of queue.splice(0)) server.send(m);
  });
  server.on('message', (data, isBinary) => route.send(isBinary ? Buffer.from(data) : data.toString('utf8')));
  server.on('close', (code, reason) => closePage(code, reason.toString('utf8')));
  server.on('error', () => closePage(1000, 'server unreachable'));
  route.onMessage((m) => {
    if (server.readyState === WebSocket.OPEN) server.send(m);
    else if (server.readyState === WebSocket.CONNECTING) queue.push(m);
  });
  route.onClose(() => {
    closed = true;
    server.terminate();
  });
}

/**
 * Sends a browser context's connections to named servers elsewhere: `routes` is a list of
 * `{ match: RegExp over the URL, to: (url: URL) => string }`, applied to WebSockets (routed with
 * Playwright's routeWebSocket and carried by the test process to the target) and to HTTP
 * requests (fetched by the test process and answered as they came).
 */
export async function routeServers(context, routes) {
  for (const { match, to } of routes) {
    await context.routeWebSocket(match, (route) => proxyWebSocket(route, to(new URL(route.url()))));
    await context.route(match, async (route) => {
      const req = route.request();
      try {
        const res = await fetch(to(new URL(req.url())).replace(/^ws/, 'http'), {
          method: req.method(),
          headers: req.headers(),
          body: req.postDataBuffer() ?? undefined,
        });
        const headers = Object.fromEntries(
          [...res.headers].filter(([k]) => k !== 'content-encoding' && k !== 'content-length'),
        );
        await route.fulfill({ status: res.status, headers, body: Buffer.from(await res.arrayBuffer()) });
      } catch {
        await route.abort('connectionrefused');
      }
    });
  }
}

/** Opens the peer page in `context`; page errors and console errors are kept in `page.problems`. */
export async function openPage(context, origin, path = '/peer.html', init = undefined) {
  const page = await context.newPage();
  // A script run before the page's own (e.g. a clock set ahead).
  if (init) await page.addInitScript(init);
  page.problems = [];
  page.on('pageerror', (err) => page.problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    // A refused WebSocket while a server restarts is the browser's own log line, not ours.
    if (/^WebSocket connection to .* failed/.test(text) || /^Failed to load resource/.test(text)) return;
    page.problems.push(`console: ${text}`);
  });
  await page.goto(origin + path, { waitUntil: 'load', timeout: 30_000 });
  await page.waitForFunction(() => window.t?.ready === true, null, { timeout: 15_000 });
  return page;
}

/**
 * A database in a page: `open(config, distributed, peerId)` creates it (`new AuroraDB(config)`,
 * `create(distributed, peerId)`), recording its events. Returns a handle whose methods run in
 * the page.
 */
export async function openDb(page, label, config, distributed, peerId) {
  const info = await page.evaluate(
    ([l, c, d, p]) => window.t.open(l, c, d, p),
    [label, config, distributed ?? null, peerId ?? null],
  );
  return dbHandle(page, label, info);
}

/** The handle of a database opened by `openDb` (also usable for one a page opened itself). */
export function dbHandle(page, label, info = {}) {
  const run = (fn, ...args) => page.evaluate(([l, f, a]) => window.t.call(l, f, a), [label, fn, args]);
  return {
    page,
    label,
    peerId: info.peerId,
    run,
    add: (key, value) => run('add', key, value),
    remove: (key) => run('remove', key),
    get: (key) => run('get', key),
    all: () => run('all'),
    verify: () => run('verify'),
    sync: () => run('sync'),
    post: () => run('post'),
    fetch: () => run('fetch'),
    connections: () => run('getConnectionCount'),
    adapterCall: (method, ...args) =>
      page.evaluate(([l, m, a]) => window.t.adapterCall(l, m, a), [label, method, args]),
    events: (type) => page.evaluate(([l, ty]) => window.t.events(l, ty), [label, type ?? null]),
    close: () => run('close'),
    destroy: () => run('destroy'),
  };
}

/** Polls `fn()` until it returns truthy; on timeout the error names `what` and shows `describe()`. */
export async function waitFor(fn, what, { timeout = 30_000, describe } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const extra = describe ? `\n${await describe().catch((e) => `(could not describe: ${e.message})`)}` : '';
      throw new Error(
        `timed out after ${timeout} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})${extra}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The recent events of each database, for failure messages. */
export async function describeDbs(dbs) {
  const lines = [];
  for (const db of dbs) {
    const events = await db.events().catch(() => []);
    lines.push(`${db.label} (${db.peerId}): ${events.length} events, last 25:`);
    for (const e of events.slice(-25)) lines.push(`  ${JSON.stringify(e).slice(0, 300)}`);
    if (db.page.problems?.length) lines.push(`  problems: ${db.page.problems.join(' | ')}`);
  }
  return lines.join('\n');
}

/** Waits until each database is connected to at least `n` peers. */
export async function waitConnected(dbs, n = 1, timeout = 30_000) {
  await waitFor(
    async () => {
      for (const db of dbs) if ((await db.connections()) < n) return false;
      return true;
    },
    `${dbs.map((d) => d.label).join(', ')} connected to ${n} peer(s)`,
    { timeout, describe: () => describeDbs(dbs) },
  );
}

/**
 * Waits until every database holds the same records and the same log (verify()'s
 * fingerprint), each log verified; resolves to the records.
 */
export async function waitConverged(dbs, { timeout = 30_000, expectCount } = {}) {
  let state;
  if (expectCount !== undefined) {
    // Big databases: wait on the counts first, which cost the pages little, rather than reading
    // and verifying everything every 100 ms while they sync.
    let counts;
    await waitFor(
      async () => {
        counts = [];
        for (const db of dbs) counts.push(await db.run('count'));
        return counts.every((n) => n === expectCount);
      },
      `${dbs.map((d) => d.label).join(', ')} to hold ${expectCount} records`,
      { timeout, describe: async () => `counts: ${JSON.stringify(counts)}\n${await describeDbs(dbs)}` },
    );
  }
  await waitFor(
    async () => {
      const views = [];
      for (const db of dbs) views.push({ all: await db.all(), report: await db.verify() });
      const first = JSON.stringify(views[0].all);
      const same = views.every(
        (v) => JSON.stringify(v.all) === first && v.report.fingerprint === views[0].report.fingerprint,
      );
      state = views;
      if (!same) return false;
      if (expectCount !== undefined && views[0].all.length !== expectCount) return false;
      return views[0].all;
    },
    `${dbs.map((d) => d.label).join(', ')} to converge${expectCount === undefined ? '' : ` on ${expectCount} records`}`,
    {
      timeout,
      describe: async () =>
        `${state ? state.map((v, i) => `${dbs[i].label}: ${v.all.length} records, ${v.report.ops} ops, fingerprint ${v.report.fingerprint}`).join('\n') : ''}\n${await describeDbs(dbs)}`,
    },
  );
  for (const v of state) assert.equal(v.report.ok, true);
  return state[0].all;
}

/** Checks that no page logged an uncaught error. */
export function assertNoProblems(...pages) {
  const problems = pages.flatMap((p) => p.problems ?? []);
  assert.deepEqual(problems, [], 'page errors');
}
