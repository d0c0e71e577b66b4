// A log exported in the browser, as a bug report carries it: the page (pages/export.html) writes
// generic records, exports the log and checks it imports whole elsewhere; this test keeps the
// file in artifacts/browser-export.aulf. The command-line tool's tests read the committed copy,
// tests/fixtures/cli/browser.aulf: `AURORADB_BLESS=1 ./scripts/web-test.sh` rewrites it from a
// fresh export (ids and times differ on every run, so only a deliberate bless changes it).
//
// Needs the built API in pkg/ (./scripts/build-web.sh); ./scripts/web-test.sh does it all.

import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { browserSuite, describeRun, ROOT, runPage } from './harness.mjs';

const suite = browserSuite();

test('a log exported in the browser imports whole and is kept for the command-line tool', {
  timeout: 120_000,
}, async () => {
  const context = await suite.browser.newContext();
  try {
    const run = await runPage(context, suite.server.origin, '/export.html', { timeout: 60_000 });
    const failed = run.results.filter((r) => !r.ok);
    assert.ok(failed.length === 0 && run.errors.length === 0, describeRun(run));
    const bytes = Buffer.from(await run.page.evaluate(() => window.__export), 'base64');
    assert.equal(bytes.subarray(0, 4).toString('latin1'), 'AUlf', 'the file starts with the log-file magic');
    mkdirSync(join(ROOT, 'artifacts'), { recursive: true });
    writeFileSync(join(ROOT, 'artifacts', 'browser-export.aulf'), bytes);
    const fixture = join(ROOT, 'tests', 'fixtures', 'cli', 'browser.aulf');
    if (process.env.AURORADB_BLESS === '1') writeFileSync(fixture, bytes);
    assert.ok(existsSync(fixture), `${fixture} is missing: AURORADB_BLESS=1 ./scripts/web-test.sh writes it`);
    const kept = readFileSync(fixture);
    // The kept file is of the format this build writes: the same magic and format version.
    assert.equal(kept.subarray(0, 5).toString('hex'), bytes.subarray(0, 5).toString('hex'), 'same magic and version');
  } finally {
    await context.close();
  }
});
