// The README examples in tests/web/pages/ must be the seed README's code, byte for byte.
//
// A page marks each pasted example with two comment lines:
//
//   // >>> seed: <heading of the README section>
//   ...lines copied from a code block under that heading...
//   // <<< seed
//
// This test checks that every marked region is a run of whole lines of one code block under
// that heading, and that every local example of the README is pasted somewhere. The seed README
// lives in the shared folder beside the repository (`AURORADB_SEED_README` overrides the path);
// when it is absent this test is skipped and says so.

import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ROOT } from './harness.mjs';
import { pageRegions, readmeBlocks } from './seed.mjs';

const SEED = resolve(process.env.AURORADB_SEED_README || join(ROOT, '..', 'shared', 'seed', 'AuroraDB-README.md'));
const PAGES = join(ROOT, 'tests', 'web', 'pages');

/** Every README section whose local example must run in a page. */
const REQUIRED = [
  'Basic Usage',
  'Data Operations',
  'Query Operations',
  'Batch Operations',
  'Event System',
  'Validation & Data Integrity',
  'Data Sanitization',
  'Access Control',
  'Testing',
  '3. Offline-First E-commerce',
  'Performance Monitoring',
  'Feature Detection',
];

const seedText = existsSync(SEED) ? readFileSync(SEED, 'utf8') : null;

test('README examples in the pages are the seed code, unchanged', {
  skip: seedText ? false : `no seed README at ${SEED}`,
}, () => {
  const blocks = readmeBlocks(seedText);
  const covered = new Set();
  const problems = [];
  const pages = readdirSync(PAGES).filter((f) => f.endsWith('.html'));
  assert.ok(pages.length > 0, 'no pages');
  for (const page of pages) {
    for (const region of pageRegions(readFileSync(join(PAGES, page), 'utf8'))) {
      const under = blocks.filter((b) => b.heading === region.heading);
      if (under.length === 0) {
        problems.push(`${page}:${region.line}: no README section "${region.heading}"`);
        continue;
      }
      const found = under.some((b) => `\n${b.code}\n`.includes(`\n${region.code}\n`));
      if (!found) problems.push(`${page}:${region.line}: the "${region.heading}" example differs from the README`);
      else covered.add(region.heading);
    }
  }
  for (const heading of REQUIRED) {
    if (!covered.has(heading)) problems.push(`no page runs the README's "${heading}" example`);
  }
  assert.deepEqual(problems, []);
});
