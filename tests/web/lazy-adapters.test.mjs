// Which files a page loads: the built-in P2P adapters are bundles of their own (pkg/p2p/), and
// a page fetches one only when a database syncs through it. A local-only page loads none; a
// distributed page loads the bundle of its adapter and no other. Likewise the engine: a
// local-only page loads the local-only .wasm (auroradb_core_bg.wasm) and nothing of the engine
// with sync (auroradb_sync*); a distributed page loads the engine with sync and not the other
// .wasm. Both builds are checked: the classic script and the ES module.
//
// The adapters point at servers that do not exist (port 9): what is checked is what the page
// requests, not whether it connects.

import test from 'node:test';
import assert from 'node:assert/strict';
import { browserSuite } from './harness.mjs';

const ADAPTERS = ['peerjs', 'webrtc', 'socketio', 'broadcast'];

/** Settings that make each adapter give up fast against a server that is not there. */
const QUIET = { connectionTimeout: 500, maxReconnectAttempts: 0 };
const P2P_CONFIG = {
  peerjs: { server: { host: '127.0.0.1', port: 9, path: '/' } },
  webrtc: { p2pConfig: { signalingServer: 'ws://127.0.0.1:9' } },
  socketio: { p2pConfig: { serverUrl: 'http://127.0.0.1:9' } },
  broadcast: {},
};

const suite = browserSuite();

/**
 * Opens the page, calls `window[fn](esm, ...args)` there (pages/lazy-adapters.html), and
 * resolves to `{ result, p2p, engine }`: what it returned, the paths of every pkg/p2p/ file the
 * page requested, and those of the engine's files it requested after loading (sorted).
 */
async function watch(fn, esm, ...args) {
  const context = await suite.browser.newContext();
  try {
    const page = await context.newPage();
    const requested = [];
    page.on('request', (req) => requested.push(new URL(req.url()).pathname));
    const errors = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${suite.server.origin}/lazy-adapters.html`, { waitUntil: 'load' });
    const result = await page.evaluate(([f, a]) => window[f](...a), [fn, [esm, ...args]]);
    assert.deepEqual(errors, [], 'page errors');
    const engine = requested.filter((p) => /^\/auroradb_(core|sync)(_bg\.wasm|\.js)$/.test(p)).sort();
    return { result, p2p: requested.filter((p) => p.startsWith('/p2p/')), engine };
  } finally {
    await context.close();
  }
}

for (const esm of [false, true]) {
  const build = esm ? 'the ES module' : 'the classic script';

  test(`${build}: a local-only page requests no adapter bundle`, { timeout: 60_000 }, async () => {
    const { result, p2p, engine } = await watch('localOnly', esm);
    assert.deepEqual(result.names, ADAPTERS, 'the built-in names are listed without loading them');
    assert.equal(result.base, 'function', 'AuroraDB.P2PAdapter is there at once');
    assert.deepEqual(result.got, { id: 'a', n: 1 });
    assert.equal(result.distributed, false);
    assert.deepEqual(result.p2p, { sync: { peers: 0, sent: 0, received: 0 }, post: 0, fetch: 0, connections: 0 });
    assert.deepEqual(p2p, []);
    assert.deepEqual(engine, ['/auroradb_core.js', '/auroradb_core_bg.wasm'], 'the local-only engine alone');
  });

  for (const name of ADAPTERS) {
    test(`${build}: a distributed page on '${name}' requests that bundle only`, { timeout: 60_000 }, async () => {
      const config = { ...QUIET, ...P2P_CONFIG[name] };
      const { result, p2p, engine } = await watch('distributed', esm, name, config);
      assert.equal(result.distributed, true, 'the adapter was created');
      assert.equal(result.sharedBase, true, 'the loaded adapter extends AuroraDB.P2PAdapter');
      assert.deepEqual(p2p, [`/p2p/${name}.js`]);
      // The ES module imports the local-only engine's glue with itself; neither build fetches its .wasm.
      const glue = esm ? ['/auroradb_core.js'] : [];
      assert.deepEqual(engine, [...glue, '/auroradb_sync.js', '/auroradb_sync_bg.wasm'], 'the engine with sync');
    });
  }
}
