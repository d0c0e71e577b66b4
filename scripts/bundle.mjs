#!/usr/bin/env node
// Bundles the JavaScript API with esbuild (scripts/build-web.sh runs it after wasm-bindgen):
//
//   node scripts/bundle.mjs OUTDIR          everything below, into OUTDIR (pkg/)
//   node scripts/bundle.mjs OUTDIR --p2p    only the adapter bundles (OUTDIR/p2p/), for tests
//
// Outputs, each minified, for current browsers (es2022), with a source map beside it (.map):
//
//   auroradb.mjs      ES module: web/js/auroradb.js with the adapter base class and registry;
//                     imports ./auroradb_core.js (the wasm-bindgen glue of the local-only
//                     engine) and, when a database needs them, ./auroradb_sync.js (the engine
//                     with peer-to-peer sync) and ./p2p/<adapter>.js
//   auroradb.js       classic script defining the global AuroraDB: the same, with
//                     web/js/loader-classic.js in place of loader.js (the engine and the adapters
//                     are imported relative to the script's URL when needed)
//   p2p/peerjs.js     one ES module per built-in adapter, each with the npm client it speaks
//   p2p/webrtc.js     through (peerjs, socket.io-client) bundled in
//   p2p/socketio.js
//   p2p/broadcast.js
//   p2p/index.js      every adapter, the registry and the helpers in one module (web/js/p2p/index.js)
//
// and, in place, the wasm-bindgen glue of each engine build in OUTDIR (auroradb_core.js,
// auroradb_sync.js): minified, with its snippets bundled in (OUTDIR/snippets/ is then removed),
// a source map beside each (of the file as wasm-bindgen wrote it, so run this once per
// wasm-bindgen run: a second run finds no snippets and maps to the minified text).
//
// Only the paths named above stay imports in the output; everything else is inlined.

import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const JS = join(ROOT, 'web', 'js');

/** The built-in adapters: each is web/js/p2p/<name>.js, bundled to p2p/<name>.js. */
export const ADAPTERS = ['peerjs', 'webrtc', 'socketio', 'broadcast'];

const COMMON = {
  bundle: true,
  minify: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'browser',
  charset: 'utf8',
  // Class and function names stay as written: error messages and stack traces show them.
  keepNames: true,
  logLevel: 'warning',
  absWorkingDir: ROOT,
  // The sources are ES modules meant for the browser; nothing reads process.env.
  define: { 'process.env.NODE_ENV': '"production"' },
};

/**
 * Keeps the engine glue (of both engine builds) and the adapter bundles as imports of the main
 * bundles: the glue is wasm-bindgen's output beside them in pkg/, and the adapters are bundles
 * of their own.
 */
const keepSiblingImports = {
  name: 'keep-sibling-imports',
  setup(build) {
    build.onResolve({ filter: /^\.\/auroradb_(core|sync)\.js$/ }, (args) => ({ path: args.path, external: true }));
    build.onResolve({ filter: /^\.\/p2p\/[a-z]+\.js$/ }, (args) =>
      args.kind === 'dynamic-import' && ADAPTERS.includes(args.path.slice(6, -3))
        ? { path: args.path, external: true }
        : undefined,
    );
  },
};

/** The classic script imports the engine and the adapters relative to its own URL. */
const classicLoader = {
  name: 'classic-loader',
  setup(build) {
    build.onResolve({ filter: /^\.\/loader\.js$/ }, (args) =>
      args.importer === join(JS, 'auroradb.js') ? { path: join(JS, 'loader-classic.js') } : undefined,
    );
  },
};

/**
 * Minifies the engine glue wasm-bindgen wrote into `out`, each file in place, with its snippets
 * (`snippets/`, small modules of our own the glue imports) bundled in: a page then makes one
 * request for the glue instead of a second round of requests after it, and `snippets/` is removed
 * once both engines' glue is built. Its imports of nothing else and its exports stay as they are.
 * Names are not kept: nothing reads the glue's class or function names, and they are a seventh
 * of its gzipped size (the source map has them).
 */
function minifyGlue(out) {
  const glue = ['auroradb_core.js', 'auroradb_sync.js'].map((f) => join(out, f)).filter((f) => existsSync(f));
  return glue.map((file) =>
    esbuild.build({
      ...COMMON,
      keepNames: false,
      format: 'esm',
      entryPoints: [file],
      outfile: file,
      // wasm-bindgen's pointer from the glue to its types, which minifying would drop.
      banner: { js: readFileSync(file, 'utf8').match(/^\/\* @ts-self-types=.*\*\//)?.[0] ?? '' },
      allowOverwrite: true,
      metafile: true,
    }),
  );
}

/** Builds into `outdir`; `p2pOnly` builds the adapter bundles alone. Resolves to the files written. */
export async function bundle({ outdir, p2pOnly = false }) {
  const out = resolve(outdir);
  const builds = [
    esbuild.build({
      ...COMMON,
      format: 'esm',
      entryPoints: Object.fromEntries(
        [...ADAPTERS, 'index'].map((name) => [join('p2p', name), join(JS, 'p2p', `${name}.js`)]),
      ),
      outdir: out,
      metafile: true,
    }),
  ];
  if (!p2pOnly) {
    builds.push(
      esbuild.build({
        ...COMMON,
        format: 'esm',
        entryPoints: [join(JS, 'auroradb.js')],
        outfile: join(out, 'auroradb.mjs'),
        plugins: [keepSiblingImports],
        metafile: true,
      }),
      esbuild.build({
        ...COMMON,
        format: 'iife',
        stdin: {
          contents: "import { AuroraDB } from './auroradb.js';\nglobalThis.AuroraDB = AuroraDB;\n",
          resolveDir: JS,
          sourcefile: 'web/js/classic-entry.js',
        },
        outfile: join(out, 'auroradb.js'),
        plugins: [keepSiblingImports, classicLoader],
        metafile: true,
      }),
      ...minifyGlue(out),
    );
  }
  const results = await Promise.all(builds);
  // Bundled into the glue above.
  if (!p2pOnly) rmSync(join(out, 'snippets'), { recursive: true, force: true });
  return results.flatMap((r) => Object.keys(r.metafile.outputs)).map((f) => resolve(ROOT, f));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const outdir = args.find((a) => !a.startsWith('--'));
  const unknown = args.filter((a) => a.startsWith('--') && a !== '--p2p');
  if (!outdir || unknown.length) {
    console.error('usage: node scripts/bundle.mjs OUTDIR [--p2p]');
    process.exit(2);
  }
  try {
    await bundle({ outdir, p2pOnly: args.includes('--p2p') });
  } catch (err) {
    // esbuild has printed the errors with their locations.
    console.error(`bundle.mjs: ${err.message.split('\n')[0]}`);
    process.exit(1);
  }
}
