// The README's distributed examples, run unchanged on two peers at once: "Distributed P2P
// Database", "P2P Operations", the P2P events of "Event System", the four "P2P Adapters" and
// "List Available Adapters", the four "Use Cases & Examples", "Debugging" and "Error Handling".
//
// Each page (pages/seed-*.html) pastes README code between `// >>> seed: <heading>` and
// `// <<< seed` and checks what it does around it. The first test checks those regions are the
// README's code, byte for byte (the README is the seed in ../shared/seed/; AURORADB_SEED_README
// overrides the path). The others open each page twice (?role=a and ?role=b, in separate
// browser contexts, so separate IndexedDB), wait for both to report, then check that the two
// databases hold the same records and the same log.
//
// The README names servers: the PeerJS default (the page's host, port 9000) and
// localhost:9000/myapp, wss://my-signaling-server.com, https://my-socketio-server.com and
// wss://my-server.com. Each browser context sends them to servers started here on free
// loopback ports.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pageRegions, readmeBlocks } from '../../web/seed.mjs';
import {
  PAGES_DIR,
  ROOT,
  jsonRelayScript,
  launchBrowser,
  peerjsScript,
  routeServers,
  signalingScript,
  socketioScript,
  startPageServer,
  startProcess,
  waitFor,
} from './harness.mjs';

const SEED = resolve(process.env.AURORADB_SEED_README || join(ROOT, '..', 'shared', 'seed', 'AuroraDB-README.md'));
const seedText = existsSync(SEED) ? readFileSync(SEED, 'utf8') : null;

/** README sections whose distributed examples must run in a page here. */
const REQUIRED = [
  'Distributed P2P Database',
  'P2P Operations',
  'Event System',
  '1. PeerJS (Default)',
  '2. Custom WebRTC',
  '3. Socket.IO',
  '4. Custom Adapter',
  'List Available Adapters',
  '1. Collaborative Document Editor',
  '2. Multiplayer Game State',
  '3. Offline-First E-commerce',
  '4. IoT Sensor Network',
  'Debugging',
  'Common Error Patterns',
];

test('the example regions of the pages are the README code, unchanged', {
  skip: seedText ? false : `no seed README at ${SEED}`,
}, () => {
  const blocks = readmeBlocks(seedText);
  const covered = new Set();
  const problems = [];
  const files = readdirSync(PAGES_DIR).filter((f) => f.endsWith('.html') || f.endsWith('.js'));
  for (const file of files) {
    for (const region of pageRegions(readFileSync(join(PAGES_DIR, file), 'utf8'))) {
      const under = blocks.filter((b) => b.heading === region.heading);
      if (under.length === 0) problems.push(`${file}:${region.line}: no README section "${region.heading}"`);
      else if (!under.some((b) => `\n${b.code}\n`.includes(`\n${region.code}\n`))) {
        problems.push(`${file}:${region.line}: the "${region.heading}" example differs from the README`);
      } else covered.add(region.heading);
    }
  }
  for (const heading of REQUIRED)
    if (!covered.has(heading)) problems.push(`no page runs the README's "${heading}" example`);
  assert.deepEqual(problems, []);
});

let pages;
let browser;
const servers = {};

before(async () => {
  pages = await startPageServer();
  browser = await launchBrowser();
  servers.peerjsDefault = await startProcess(peerjsScript, ['--path', '/']);
  servers.peerjsMyapp = await startProcess(peerjsScript, ['--path', '/myapp']);
  servers.signaling = await startProcess(signalingScript);
  servers.socketio = await startProcess(socketioScript);
  servers.relay = await startProcess(jsonRelayScript);
});

after(async () => {
  await browser?.close();
  await pages?.close();
  for (const s of Object.values(servers)) await s?.stop().catch(() => {});
});

const local = (port) => (u) => `ws://127.0.0.1:${port}${u.pathname}${u.search}`;

/** Where the README's servers are, for one browser context (`peerjsDown`: refuse the default). */
function routes({ peerjsDown = false } = {}) {
  const pageHost = new URL(pages.origin).hostname.replace(/\./g, '\\.');
  return [
    {
      match: new RegExp(`^(ws|http)://${pageHost}:9000/`),
      to: peerjsDown ? () => 'ws://127.0.0.1:1/' : local(servers.peerjsDefault.port),
    },
    { match: /^(ws|http):\/\/localhost:9000\//, to: local(servers.peerjsMyapp.port) },
    { match: /^wss:\/\/my-signaling-server\.com\/?/, to: () => servers.signaling.url },
    { match: /^wss:\/\/my-socketio-server\.com\//, to: local(servers.socketio.port) },
    { match: /^wss:\/\/my-server\.com\/?$/, to: () => servers.relay.url },
  ];
}

/** Opens `file?role=…` in a fresh context; resolves to { page, context }. */
async function openRole(file, role, query = '', options = {}) {
  const context = await browser.newContext();
  await routeServers(context, routes(options));
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (err) => page.problems.push(`page error: ${err.message}`));
  await page.goto(`${pages.origin}/${file}?role=${role}${query}`, { waitUntil: 'load', timeout: 30_000 });
  return { page, context };
}

/** Waits for a page's report (`window.__final`, see check.js); fails with its failed checks. */
async function report(page, role, timeout = 200_000) {
  const results = await page
    .waitForFunction(() => window.__final, null, { timeout, polling: 100 })
    .then((h) => h.jsonValue())
    .catch(async (err) => [
      ...(await page.evaluate(() => window.__results).catch(() => [])),
      { name: 'page reported', ok: false, detail: err.message.split('\n')[0] },
    ]);
  const logs = await page.evaluate(() => window.__logs.map((l) => `[${l.type}] ${l.text}`)).catch(() => []);
  const failed = results.filter((r) => !r.ok);
  assert.ok(results.length > 0, `${role}: no checks`);
  assert.deepEqual(
    failed.map((r) => `${r.name}: ${r.detail}`),
    [],
    `page ${role} failed checks\npassed: ${results
      .filter((r) => r.ok)
      .map((r) => r.name)
      .join('; ')}\nproblems: ${page.problems.join(' | ')}\nconsole (last 40):\n${logs.slice(-40).join('\n')}`,
  );
  assert.deepEqual(page.problems, [], `page ${role}: uncaught errors`);
  return results;
}

/** The two pages' databases (exposed under the same names) hold the same records and log. */
async function assertSameDatabases(a, b) {
  const names = await a.evaluate(() => Object.keys(window.__dbs));
  assert.ok(names.length > 0, 'the page exposes its database');
  for (const name of names) {
    const view = (page) =>
      page.evaluate(async (n) => {
        const db = window.__dbs[n];
        return { all: await db.all(), fingerprint: (await db.verify()).fingerprint };
      }, name);
    await waitFor(
      async () => {
        const [va, vb] = [await view(a), await view(b)];
        return JSON.stringify(va) === JSON.stringify(vb);
      },
      `database '${name}' to be the same on both pages`,
      { describe: async () => JSON.stringify([await view(a), await view(b)]).slice(0, 2000) },
    );
  }
}

/** Runs `file` on two peers, checks both reports and that they converged. */
async function runPair(file, { query = '' } = {}) {
  const [a, b] = await Promise.all([openRole(file, 'a', query), openRole(file, 'b', query)]);
  try {
    await Promise.all([report(a.page, 'a'), report(b.page, 'b')]);
    await assertSameDatabases(a.page, b.page);
  } finally {
    await a.context.close();
    await b.context.close();
  }
}

const PAIRS = [
  ['seed-distributed.html', 'Distributed P2P Database: data written on either peer reaches the other; sync events'],
  ['seed-p2p-operations.html', 'P2P Operations: sync(), post(), fetch() and the status calls'],
  ['seed-event-system.html', 'Event System: connection, post, sync and disconnect events'],
  ['seed-adapter-peerjs.html', 'P2P Adapters: PeerJS (localhost:9000/myapp)'],
  ['seed-adapter-webrtc.html', 'P2P Adapters: Custom WebRTC (wss://my-signaling-server.com)'],
  ['seed-adapter-socketio.html', 'P2P Adapters: Socket.IO (https://my-socketio-server.com)'],
  ['seed-adapter-custom.html', 'P2P Adapters: the custom adapter, and listP2PAdapters()'],
  ['seed-collaborative-editor.html', 'Use case: collaborative document editor'],
  ['seed-multiplayer-game.html', 'Use case: multiplayer game state'],
  ['seed-offline-ecommerce.html', 'Use case: offline-first e-commerce, both stores selling while apart'],
  ['seed-iot-sensors.html', 'Use case: IoT sensor network'],
  ['seed-debugging.html', 'Debugging: the event monitor and introspection'],
];

for (const [file, title] of PAIRS) {
  test(title, { timeout: 240_000 }, () => runPair(file));
}

test('Error Handling: a peer going away switches the other to offline mode', { timeout: 180_000 }, async () => {
  const file = 'seed-error-handling.html';
  const [a, b] = await Promise.all([openRole(file, 'a'), openRole(file, 'b')]);
  try {
    await report(b.page, 'b');
    await b.context.close();
    await report(a.page, 'a');
  } finally {
    await a.context.close();
    await b.context.close().catch(() => {});
  }
});

test('Error Handling: an unreachable server is reported as "connection-failed" and retried', {
  timeout: 120_000,
}, async () => {
  const a = await openRole('seed-error-handling.html', 'a', '&server=down', { peerjsDown: true });
  try {
    const results = await report(a.page, 'a');
    assert.ok(results.some((r) => r.name.includes('retried')));
  } finally {
    await a.context.close();
  }
});
