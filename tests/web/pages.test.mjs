// The JavaScript API in headless Chromium: each page of tests/web/pages/ runs in a fresh browser
// context (so a fresh IndexedDB), and every check it reports must pass.
//
// Needs the built API in pkg/ (./scripts/build-web.sh); ./scripts/web-test.sh does it all.

import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { browserSuite, describeRun, launchPersistent, runPage } from './harness.mjs';

const PAGE_TIMEOUT = 60_000;
const TEST_TIMEOUT = 120_000;

/** The README examples (see seed-verbatim.test.mjs) and the API checks beside them. */
const PAGES = [
  ['README: Basic Usage', '/basic-usage.html'],
  ['README: Data Operations', '/data-operations.html'],
  ['README: Query Operations', '/query-operations.html'],
  ['README: Batch Operations (transaction, db.db.batchSet)', '/batch-operations.html'],
  ['README: Event System (open, close, error, change, set, delete)', '/event-system.html'],
  ['write events are built only for the types someone listens to', '/event-listeners.html'],
  ['README: Validation & Data Integrity (ValidatedDB subclass)', '/validation.html'],
  ['README: Security, Data Sanitization (db.db.beforeSet, escapeHtml)', '/data-sanitization.html'],
  ['README: Security, Access Control (SecureDB subclass)', '/access-control.html'],
  ['README: Testing (AuroraDBTestHelper, testBasicOperations)', '/testing.html'],
  ['README: Offline-First E-commerce, purchaseProduct (local part)', '/offline-ecommerce.html'],
  ['README: Performance Monitoring (local part)', '/performance-monitoring.html'],
  ['README: Feature Detection', '/feature-detection.html'],
  ['the ES module works without the loader', '/es-module.html'],
  ['bad input gets errors with stable names and writes nothing', '/bad-input.html'],
  ['close() and destroy() let earlier calls finish and refuse later ones', '/lifecycle.html'],
  ['an engine that cannot be loaded is an EngineLoadError', '/engine-load.html'],
  ['values come back as written; writes waiting for the engine take what it takes', '/values.html'],
  // The engine's .wasm is compiled as it streams in, which needs the application/wasm type; a
  // server that sends application/octet-stream gets it compiled after the download instead.
  ['the classic script loads the engine from a server without the wasm type', '/octet-stream/basic-usage.html'],
  ['the ES module loads the engine from a server without the wasm type', '/octet-stream/es-module.html'],
];

const suite = browserSuite();

/** Fails the test with every failed check, page error and the console tail. */
function assertPassed(run) {
  const failed = run.results.filter((r) => !r.ok);
  const ok = failed.length === 0 && run.errors.length === 0;
  assert.ok(ok, `${failed.length} of ${run.results.length} checks failed\n${describeRun(run)}`);
}

for (const [title, path] of PAGES) {
  test(title, { timeout: TEST_TIMEOUT }, async () => {
    const context = await suite.browser.newContext();
    try {
      assertPassed(await runPage(context, suite.server.origin, path, { timeout: PAGE_TIMEOUT }));
    } finally {
      await context.close();
    }
  });
}

test('data survives a page reload (IndexedDB)', { timeout: TEST_TIMEOUT }, async () => {
  const context = await suite.browser.newContext();
  try {
    const first = await runPage(context, suite.server.origin, '/persist.html', { timeout: PAGE_TIMEOUT });
    assertPassed(first);
    assert.equal(await first.page.evaluate(() => window.__step), 'written');
    // A real reload: the page and its database instance are gone, IndexedDB stays.
    const page = first.page;
    const second = await runPage(context, suite.server.origin, '/persist.html', {
      timeout: PAGE_TIMEOUT,
      page,
      reload: true,
    });
    assertPassed(second);
    assert.equal(await page.evaluate(() => window.__step), 'read', 'the second load did not see the first');
  } finally {
    await context.close();
  }
});

test('data survives a browser restart (IndexedDB on disk)', { timeout: TEST_TIMEOUT }, async () => {
  const profile = mkdtempSync(join(tmpdir(), 'auroradb-web-test-'));
  try {
    for (const step of ['write', 'read']) {
      const context = await launchPersistent(profile);
      try {
        const run = await runPage(context, suite.server.origin, `/persist.html?step=${step}`, {
          timeout: PAGE_TIMEOUT,
        });
        assertPassed(run);
        assert.equal(await run.page.evaluate(() => window.__step), step === 'write' ? 'written' : 'read');
      } finally {
        await context.close();
      }
    }
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
});
