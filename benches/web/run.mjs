#!/usr/bin/env node
// Runs the browser benchmark (benches/web/index.html) in headless Chromium and prints a table:
// milliseconds per case for raw IndexedDB, Dexie and AuroraDB, and AuroraDB's ratios to both;
// then the gzipped size of what a page loads. Run it through ./scripts/bench-web.sh (which
// builds pkg/ first), or directly:
//
//   node benches/web/run.mjs [--runs N] [--open-ops N] [--open-keys N] [--open-import] [--engines raw,dexie,aurora]
//                            [--json FILE] [--cases bulk,bulkthen,single,reopened,reads,open,phases,records] [--durability strict|relaxed]
//
// --cases runs only some cases (default: all but `phases`, which runs the bulk and single
// writes again, each split into where its time goes: see bench.js `phased`, and `records`, raw
// IndexedDB writing an AuroraDB add's own records in other numbers and shapes: see bench.js
// `recordShapes`); --durability sets the `durability` of every
// engine's writing transactions (AuroraDB's option, raw IndexedDB's transaction option, Dexie's
// chromeTransactionDurability; default: each engine's own default). The open case writes
// --open-ops records (default 100k) one op each, or --open-ops writes over --open-keys records
// (a long history on fewer live records). With --open-import, AuroraDB imports the same writes
// as log files made natively (benches/examples/make_log.rs, into target/bench-logs/, kept for the
// next run) instead of writing them one by one: the way to a history of a million ops.
//
// The browser gets a throwaway on-disk profile, so IndexedDB writes reach the disk as they would
// for a user. Timings are the median of --runs runs (default 3), measured in the page with
// performance.now(). A benchmark, not a test: it asserts only that each engine stored and found
// what it was asked to (so a fast wrong answer cannot win).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CACHED, PKG_DIR, ROOT, launchPersistent, requirePkg, startServer } from '../../tests/web/harness.mjs';

const ENGINE_TITLES = { raw: 'raw IDB', dexie: 'Dexie', aurora: 'AuroraDB' };

function parseArgs(argv) {
  const opts = {
    runs: 3,
    openOps: 100_000,
    openKeys: null,
    engines: ['raw', 'dexie', 'aurora'],
    json: null,
    cases: ['bulk', 'bulkthen', 'single', 'reopened', 'reads', 'open'],
    durability: undefined,
    openImport: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--runs') opts.runs = Math.max(1, Number.parseInt(value(), 10));
    else if (arg === '--open-ops') opts.openOps = Math.max(1, Number.parseInt(value(), 10));
    else if (arg === '--open-keys') opts.openKeys = Math.max(1, Number.parseInt(value(), 10));
    else if (arg === '--engines') opts.engines = value().split(',');
    else if (arg === '--json') opts.json = value();
    else if (arg === '--cases') opts.cases = value().split(',');
    else if (arg === '--durability') opts.durability = value();
    else if (arg === '--open-import') opts.openImport = true;
    else if (arg === '--help' || arg === '-h') {
      console.log(
        'usage: node benches/web/run.mjs [--runs N] [--open-ops N] [--open-keys N] [--open-import] [--engines raw,dexie,aurora] [--json FILE] [--cases bulk,bulkthen,single,reopened,reads,open,phases,records] [--durability strict|relaxed]',
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}`);
  }
  for (const e of opts.engines) if (!ENGINE_TITLES[e]) throw new Error(`unknown engine ${e}`);
  for (const c of opts.cases)
    if (!['bulk', 'bulkthen', 'single', 'reopened', 'reads', 'open', 'phases', 'records'].includes(c))
      throw new Error(`unknown case ${c}`);
  if (![undefined, 'strict', 'relaxed'].includes(opts.durability)) throw new Error('--durability: strict or relaxed');
  if (Number.isNaN(opts.runs) || Number.isNaN(opts.openOps) || Number.isNaN(opts.openKeys)) {
    throw new Error('--runs, --open-ops and --open-keys take numbers');
  }
  opts.openKeys = Math.min(opts.openKeys ?? opts.openOps, opts.openOps);
  return opts;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Resolves `promise`, or fails after `ms` with a message naming `what`. */
function bounded(promise, ms, what) {
  let timer;
  const limit = new Promise((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/** Ops per log file of --open-import. */
const FILE_OPS = 100_000;

/**
 * The URLs of log files holding `ops` writes on `keys` records (what the page's setupOpen writes),
 * made with benches/examples/make_log.rs into target/bench-logs/ unless they are there.
 */
function logFilesFor(ops, keys) {
  const name = `${ops}-${keys}`;
  const dir = join(ROOT, 'target', 'bench-logs', name);
  const count = Math.ceil(ops / FILE_OPS);
  const files = Array.from({ length: count }, (_, i) => `${i}.aulog`);
  if (!files.every((f) => existsSync(join(dir, f)))) {
    rmSync(dir, { recursive: true, force: true });
    const args = ['run', '--release', '-q', '-p', 'auroradb-benches', '--example', 'make_log', '--'];
    execFileSync('cargo', [...args, String(ops), String(keys), String(FILE_OPS), dir], { cwd: ROOT, stdio: 'inherit' });
  }
  return files.map((f) => `/bench-logs/${name}/${f}`);
}

/** Every file under `dir` (relative paths). */
function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else out.push(path);
  }
  return out;
}

/** Raw and gzipped (level 9) sizes of the files a page loads. */
function sizes() {
  const shipped = walk(PKG_DIR)
    .filter((f) => /\.(wasm|m?js)$/.test(f))
    .sort()
    .map((f) => {
      const bytes = readFileSync(f);
      return { file: relative(PKG_DIR, f), raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
    });
  const dexieFile = join(ROOT, 'node_modules', 'dexie', 'dist', 'dexie.min.js');
  const dexieBytes = readFileSync(dexieFile);
  return {
    aurora: shipped,
    dexie: { file: 'dexie/dist/dexie.min.js', raw: dexieBytes.length, gzip: gzipSync(dexieBytes, { level: 9 }).length },
  };
}

const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
const fmtMs = (ms) => (ms === undefined ? '-' : ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const fmtRatio = (a, b) => (a === undefined || b === undefined || b === 0 ? '-' : `${(a / b).toFixed(2)}x`);

function printTable(rows, engines) {
  const header = ['case', ...engines.map((e) => `${ENGINE_TITLES[e]} ms`)];
  const ratios = engines.includes('aurora') ? engines.filter((e) => e !== 'aurora') : [];
  for (const e of ratios) header.push(`AuroraDB/${ENGINE_TITLES[e]}`);
  const body = rows.map((row) => [
    row.title,
    ...engines.map((e) => fmtMs(row.ms[e])),
    ...ratios.map((e) => fmtRatio(row.ms.aurora, row.ms[e])),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of body) console.log(line(r));
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  requirePkg();
  const server = await startServer();
  const profile = mkdtempSync(join(tmpdir(), 'auroradb-bench-'));
  let context;
  try {
    // Exact heap sizes and a collection the page can ask for, for the memory figures.
    context = await launchPersistent(profile, ['--enable-precise-memory-info', '--js-flags=--expose-gc']);
    const page = context.pages()[0] || (await context.newPage());
    page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') console.error(`page console: ${msg.text()}`);
    });
    const url = `${server.origin}/bench/index.html`;
    const load = async (reload, at = url) => {
      if (reload) await page.reload({ waitUntil: 'load', timeout: 60_000 });
      else await page.goto(at, { waitUntil: 'load', timeout: 60_000 });
      await page.waitForFunction(() => window.benchReady === true, null, { timeout: 60_000 });
      await page.evaluate((durability) => window.bench.configure({ durability }), opts.durability);
    };
    const call = (what, fn, arg, ms = 300_000) => bounded(page.evaluate(fn, arg), ms, what);

    await load(false);
    const browserVersion = context.browser()?.version() ?? (await page.evaluate(() => navigator.userAgent));
    console.log(
      `Chromium ${browserVersion}, ${opts.runs} run(s) per case, median shown, durability ${opts.durability ?? "each engine's default"}`,
    );

    const times = {};
    /** Per case (`bulk`, `single`) and engine, the medians of the three parts of its writes. */
    const phases = {};
    /** Per engine, `{ heap, wasm }` bytes after the open case's open. */
    const memory = {};
    let opsInLog = null;
    const add = (caseId, engine, ms) => {
      times[caseId] ??= {};
      times[caseId][engine] = ms;
    };
    for (const engine of opts.engines) {
      process.stderr.write(`${ENGINE_TITLES[engine]}: `);
      for (const [caseId, n] of [
        ['bulk', 10_000],
        ['bulkthen', 10_000],
        ['single', 1_000],
        ['reopened', 1_000],
      ].filter(([caseId]) => opts.cases.includes(caseId))) {
        const ms = [];
        for (let r = 0; r < opts.runs; r++) {
          ms.push(
            await call(`${engine} ${caseId}`, ({ caseId, engine, n }) => window.bench.run(caseId, engine, { n }), {
              caseId,
              engine,
              n,
            }),
          );
        }
        add(caseId, engine, median(ms));
        process.stderr.write(`${caseId} `);
      }
      if (opts.cases.includes('phases')) {
        // The same writes again, each split in three (bench.js `phased`): the median of each part.
        for (const [caseId, n] of [
          ['bulk', 10_000],
          ['single', 1_000],
        ]) {
          const runs = [];
          for (let r = 0; r < opts.runs; r++) {
            runs.push(
              await call(
                `${engine} ${caseId} phases`,
                ({ caseId, engine, n }) => window.bench.run(caseId, engine, { n, phases: true }),
                { caseId, engine, n },
              ),
            );
          }
          phases[caseId] ??= {};
          phases[caseId][engine] = [0, 1, 2].map((i) => median(runs.map((p) => p[i])));
        }
        process.stderr.write('phases ');
      }
      if (opts.cases.includes('reads')) {
        const { gets, filters } = await call(
          `${engine} reads`,
          ({ engine, runs }) => window.bench.reads(engine, { n: 10_000, runs }),
          {
            engine,
            runs: opts.runs,
          },
        );
        add('gets', engine, median(gets));
        add('filter', engine, median(filters));
        process.stderr.write('gets filter ');
      }

      if (opts.cases.includes('open')) {
        // Open: each measurement is the first thing a freshly loaded page does. The first open
        // creates a new database each run (and deletes it after); `preload` first loads the
        // engine's code (AuroraDB.init(); raw IndexedDB and Dexie have nothing to load: Dexie's
        // script comes with the page).
        const firstOpens = async (label, preload) => {
          const ms = [];
          for (let r = 0; r < opts.runs; r++) {
            await load(true);
            const name = `${label}-${engine}-${r}`;
            if (preload) await call(`${engine} preload`, (a) => window.bench.preload(a.engine), { engine });
            ms.push(
              await call(`${engine} open (${label})`, (a) => window.bench.measureOpen(a.engine, { name: a.name }), {
                engine,
                name,
              }),
            );
            await call(`${engine} destroy (${label})`, (a) => window.bench.destroyOpen(a.engine, a.name), {
              engine,
              name,
            }).catch(() => {});
          }
          return median(ms);
        };
        add('openEmpty', engine, await firstOpens('empty', false));
        add('openLoaded', engine, await firstOpens('loaded', true));
        // A returning visit: the page and its scripts (and .wasm) come from the browser's HTTP
        // cache, as a site's static files do, with what the browser caches of their compiled code.
        // A first visit fills the caches; each measurement is then a new navigation to the page.
        const cachedUrl = `${server.origin}${CACHED}bench/index.html`;
        const visits = [];
        for (let r = 0; r <= opts.runs; r++) {
          await load(false, cachedUrl);
          const name = `cached-${engine}-${r}`;
          const ms = await call(
            `${engine} open (cached)`,
            (a) => window.bench.measureOpen(a.engine, { name: a.name }),
            {
              engine,
              name,
            },
          );
          if (r > 0) visits.push(ms);
          await call(`${engine} destroy (cached)`, (a) => window.bench.destroyOpen(a.engine, a.name), {
            engine,
            name,
          }).catch(() => {});
        }
        add('openCached', engine, median(visits));
        await load(false);
        const logFiles = engine === 'aurora' && opts.openImport ? logFilesFor(opts.openOps, opts.openKeys) : null;
        if (engine === 'aurora') {
          process.stderr.write(
            logFiles ? `(importing ${logFiles.length} log files) ` : `(writing ${opts.openOps} single adds: minutes) `,
          );
        }
        const setup = await call(
          `${engine} open setup`,
          ({ engine, ops, keys, logFiles }) => window.bench.setupOpen(engine, { ops, keys, logFiles }),
          { engine, ops: opts.openOps, keys: opts.openKeys, logFiles },
          1_800_000,
        );
        if (setup.count !== opts.openKeys) {
          throw new Error(`${engine}: open setup stored ${setup.count} of ${opts.openKeys}`);
        }
        if (setup.stats) {
          opsInLog = setup.stats.ops;
          process.stderr.write(
            `(${setup.stats.ops} ops in the log, ${setup.stats.records} records, ${setup.stats.checkpoints} checkpoint(s); filled in ${(setup.ms / 1000).toFixed(1)} s) `,
          );
        }
        // The opens of the filled database, with and without reads: a freshly loaded page that
        // has loaded the engine's code (as for the second first-open row), so that each engine
        // does the same work: Dexie's script comes with the page, and the cost of AuroraDB's
        // engine loading is in the first-open row.
        const loaded = async () => {
          await load(true);
          await call(`${engine} preload`, (a) => window.bench.preload(a.engine), { engine });
        };
        const opens = [];
        for (let r = 0; r < opts.runs; r++) {
          await loaded();
          opens.push(
            await call(`${engine} open`, ({ engine, expect }) => window.bench.measureOpen(engine, { expect }), {
              engine,
              expect: opts.openKeys,
            }),
          );
        }
        add('open', engine, median(opens));
        const opensAll = [];
        for (let r = 0; r < opts.runs; r++) {
          await loaded();
          opensAll.push(
            await call(
              `${engine} open + all`,
              ({ engine, expect }) => window.bench.measureOpen(engine, { expect, readAll: true }),
              { engine, expect: opts.openKeys },
            ),
          );
        }
        add('openAll', engine, median(opensAll));
        // Cold reads: the same open, then 1k gets or the filter, from IndexedDB for the others
        // and from what AuroraDB's open loaded.
        for (const [id, what] of [
          ['openGets', { gets: Math.min(1_000, opts.openKeys) }],
          ['openFilter', { filter: true }],
        ]) {
          const cold = [];
          for (let r = 0; r < opts.runs; r++) {
            await loaded();
            cold.push(
              await call(
                `${engine} ${id}`,
                ({ engine, what, keys }) => window.bench.measureColdReads(engine, { keys, ...what }),
                { engine, what, keys: opts.openKeys },
              ),
            );
          }
          add(id, engine, median(cold));
        }
        await loaded();
        memory[engine] = await call(`${engine} memory`, (engine) => window.bench.memoryAfterOpen(engine), engine);
        await load(true);
        await call(`${engine} cleanup`, (engine) => window.bench.destroyOpen(engine), engine, 120_000);
        process.stderr.write('open');
      }
      process.stderr.write('\n');
    }

    const k = (n) => (n % 1000 === 0 ? `${n / 1000}k` : String(n));
    const rows = [
      { id: 'bulk', title: 'bulk insert of 10k records (one call)' },
      { id: 'bulkthen', title: 'the same, then 100 single adds' },
      { id: 'single', title: '1k single adds (one transaction each)' },
      { id: 'reopened', title: 'the same on a reopened database of 1k' },
      { id: 'gets', title: '10k gets by key (shuffled)' },
      { id: 'filter', title: 'filter over 10k records' },
      {
        id: 'open',
        title:
          opts.openKeys === opts.openOps
            ? `open a database of ${k(opts.openOps)} records/ops + count`
            : `open a database of ${k(opts.openKeys)} records, ${k(opts.openOps)} writes + count`,
      },
      { id: 'openAll', title: `open the same + read all ${k(opts.openKeys)} records` },
      { id: 'openGets', title: `open the same + ${k(Math.min(1_000, opts.openKeys))} gets (cold)` },
      { id: 'openFilter', title: 'open the same + filter (cold)' },
      { id: 'openEmpty', title: 'first open in a fresh page (empty database)' },
      { id: 'openLoaded', title: 'the same, engine code loaded before the timing' },
      { id: 'openCached', title: 'the same in a returning visit (files from the HTTP cache)' },
    ]
      .map((row) => ({ ...row, ms: times[row.id] || {} }))
      .filter((row) => Object.keys(row.ms).length > 0);
    // The main table and its legend, when a case of it ran (not for `phases` or `records` alone).
    if (rows.length > 0) {
      console.log('');
      printTable(rows, opts.engines);
      console.log('');
      console.log('raw IndexedDB: one transaction per bulk insert and per single add; the 10k gets pipelined in one');
      console.log(
        'transaction; filter = getAll + Array.filter. Dexie and AuroraDB: their public API, gets awaited one',
      );
      console.log('by one (Dexie table.get, AuroraDB get), filter = Dexie Collection.filter / AuroraDB filter.');
      console.log(`open: a freshly loaded page that has loaded the engine's code (AuroraDB.init(), as Dexie's script`);
      console.log(`comes with the page) opens the database and counts its records; AuroraDB's was written by`);
      console.log(
        `${opts.openOps} single adds on ${opts.openKeys} keys${opsInLog === null ? '' : ` (${opsInLog} ops in its log)`}, the others hold the same records. "+ read all":`,
      );
      console.log('the same, then every record (getAll / toArray / all()). "(cold)": the same open, then gets or the');
      console.log('filter, in one timing. First open: the same in a page that has loaded nothing yet, on an empty');
      console.log(
        'database of its own in each run (includes loading and instantiating the .wasm). "engine code loaded":',
      );
      console.log("the same after AuroraDB.init() has loaded the .wasm (Dexie's script is loaded with every page).");
      console.log('Returning visit: the first open in a page whose files the server sent cacheable (max-age, as a');
      console.log("site's static files) and the browser has seen once: from its HTTP cache and code caches.");
    }
    if (Object.keys(phases).length > 0) {
      console.log('');
      console.log("Where the writes' time goes, seen from the page (ms; medians; each part summed over the case's");
      console.log('writes): before its first IndexedDB request / from then to its last (making and handing over its');
      console.log(
        "records) / from then until the write resolves (mostly the commit). The page's clock is coarse (0.1 ms).",
      );
      for (const [caseId, title] of [
        ['bulk', 'bulk insert of 10k'],
        ['single', '1k single adds'],
      ]) {
        for (const e of opts.engines) {
          const p = phases[caseId]?.[e];
          if (p)
            console.log(
              `  ${title.padEnd(19)} ${ENGINE_TITLES[e].padEnd(9)} ${p.map((ms) => fmtMs(ms).padStart(8)).join(' /')}`,
            );
        }
      }
    }
    const engines = Object.keys(memory);
    if (engines.length > 0) {
      const mib = (b) => (b === null || b === undefined ? '-' : `${(b / 1048576).toFixed(1)} MiB`);
      console.log('');
      console.log(
        'Memory after the open of the open case (a fresh page; JS heap: performance.memory after a collection):',
      );
      for (const e of engines) {
        const m = memory[e];
        const wasm = m.wasm === null ? '' : `, WebAssembly memory ${mib(m.wasm)}`;
        console.log(`  ${ENGINE_TITLES[e].padEnd(9)} JS heap ${mib(m.heap)}${wasm}`);
      }
    }

    if (opts.cases.includes('records')) {
      // Raw IndexedDB writing an AuroraDB add's records, in other numbers and shapes (bench.js
      // `recordShapes`), on a freshly loaded page.
      await load(true);
      const shapes = await call('record shapes', (runs) => window.bench.recordShapes({ rounds: runs }), opts.runs);
      console.log('');
      console.log(
        "What an add's records cost: raw IndexedDB, 1k single adds (a readwrite transaction each), median ms",
      );
      console.log("of the runs. The records are AuroraDB's own, read back from one AuroraDB add:");
      const rows = [
        ['one', "one record in one store (the raw engine's add)"],
        ['three', "AuroraDB's three: the op in `log`, the state record, the journal entry"],
        ['two', 'two: the state record, and the journal entry holding the op'],
        ['threeInOne', 'the same three records in one store'],
        ['twoInOne', 'the same two records in one store'],
        ['merged', 'one record holding all three, in one store'],
        ['claimed', 'the same, with a unique index on its commit number (the claim)'],
      ];
      for (const [shape, title] of rows) {
        const ratio = (shapes[shape] / shapes.one).toFixed(2);
        console.log(`  ${title.padEnd(72)} ${fmtMs(shapes[shape]).padStart(8)}  ${ratio}x`);
      }
    }

    const size = sizes();
    // The total is what a local-only page loads: the classic script (or the ES module, not both),
    // the local-only engine and its glue. The engine with sync (auroradb_sync*) and the
    // adapter bundles (p2p/) are loaded by a distributed page only.
    const classic = size.aurora.some((f) => f.file === 'auroradb.js');
    const why = (f) =>
      classic && f.file === 'auroradb.mjs'
        ? ' (instead of auroradb.js)'
        : f.file.startsWith('auroradb_sync')
          ? ' (distributed only)'
          : f.file === 'p2p/index.js'
            ? ' (every adapter in one module, for use without a database)'
            : f.file.startsWith('p2p/')
              ? ' (distributed only, one adapter)'
              : '';
    const loaded = size.aurora.filter((f) => why(f) === '');
    const total = { file: 'total (.wasm + JS a local-only page loads)', raw: 0, gzip: 0 };
    for (const f of loaded) {
      total.raw += f.raw;
      total.gzip += f.gzip;
    }
    const sizeRows = [
      ...size.aurora.map((f) => [`AuroraDB ${f.file}${why(f)}`, f]),
      [`AuroraDB ${total.file}`, total],
      [`Dexie ${size.dexie.file}`, size.dexie],
    ];
    const width = Math.max(...sizeRows.map(([name]) => name.length));
    console.log('');
    console.log('Size (gzip -9):');
    for (const [name, f] of sizeRows) {
      console.log(`  ${name.padEnd(width)}  ${kb(f.raw).padStart(10)} raw  ${kb(f.gzip).padStart(10)} gzipped`);
    }

    if (opts.json) {
      const summary = {
        browser: browserVersion,
        runs: opts.runs,
        openOps: opts.openOps,
        openKeys: opts.openKeys,
        opsInLog,
        times,
        size,
        total,
      };
      writeFileSync(opts.json, `${JSON.stringify(summary, null, 2)}\n`);
      console.log(`\nresults written to ${opts.json}`);
    }
  } finally {
    await context?.close().catch(() => {});
    await server.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`benchmark failed: ${err.stack || err.message}`);
  process.exit(1);
});
