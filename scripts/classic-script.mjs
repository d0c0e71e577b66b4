#!/usr/bin/env node
// Writes the classic-script form of the AuroraDB class to stdout (scripts/build-web.sh puts it in
// pkg/auroradb.js): one script that defines the global `AuroraDB` synchronously, so a page can
// write `class X extends AuroraDB.P2PAdapter` right after `<script src="auroradb.js">`.
//
//   node scripts/classic-script.mjs web/js/auroradb.js > pkg/auroradb.js
//
// The entry module and every module it imports (relative paths only: web/js/p2p/...) go into
// one function scope:
//   - each imported module becomes `const __m_N = (() => { ...its code...; return { exports } })()`,
//     in dependency order (a cycle is an error);
//   - `import { a, b as c } from './x.js'` becomes `const { a, b: c } = __m_X;` (also
//     `import * as ns`, `import def`, bare `import './x.js'`);
//   - `export` before a declaration is dropped and the name exported; `export { a as b }`,
//     `export { a } from './x.js'` and `export * from './x.js'` are kept in the returned object;
//   - the entry module's code runs at the top of the scope (its exports are dropped), with the
//     part between `// @esm-begin` and `// @esm-end` (the static import of the wasm engine)
//     replaced by a loader that imports the engine dynamically, relative to the script's URL.
// This covers the module syntax the sources use; anything else (a dynamic specifier, a
// non-relative import) stops the build with a message.

import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';

const IMPORT_RE = /^import\s+(?:([\s\S]*?)\s+from\s+)?(['"])([^'"]+)\2\s*;?[ \t]*$/gm;
const EXPORT_LIST_RE = /^export\s*\{([\s\S]*?)\}\s*(?:from\s*(['"])([^'"]+)\2)?\s*;?[ \t]*$/gm;
const EXPORT_STAR_RE = /^export\s*\*\s*from\s*(['"])([^'"]+)\1\s*;?[ \t]*$/gm;
const EXPORT_DECL_RE = /^export\s+(default\s+)?(?:(async\s+function\*?|function\*?|class|const|let|var)\s+([A-Za-z_$][\w$]*))/gm;
const EXPORT_DEFAULT_RE = /^export\s+default\s+([A-Za-z_$][\w$]*)\s*;[ \t]*$/gm;

function die(message) {
  console.error(`classic-script: ${message}`);
  process.exit(1);
}

/** `a, b as c` → [['a', 'a'], ['b', 'c']] (imported or local name, then the name it takes). */
function specifiers(list) {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const m = /^([\w$]+)(?:\s+as\s+([\w$]+))?$/.exec(s);
      if (!m) die(`cannot read the specifier '${s}'`);
      return [m[1], m[2] ?? m[1]];
    });
}

const modules = new Map(); // absolute path → { id, file, code, exports }
const order = [];
let nextId = 0;
const root = process.cwd();

function resolveSpec(from, spec) {
  if (!spec.startsWith('./') && !spec.startsWith('../')) die(`${relative(root, from)}: only relative imports can be bundled, not '${spec}'`);
  return resolve(dirname(from), spec);
}

/** Reads a module and the ones it imports; returns its record. */
function load(file, visiting = new Set(), entry = false) {
  if (modules.has(file)) return modules.get(file);
  if (visiting.has(file)) die(`import cycle through ${relative(root, file)}`);
  visiting.add(file);
  let code;
  try {
    code = readFileSync(file, 'utf8');
  } catch (err) {
    die(`cannot read ${relative(root, file)}: ${err.message}`);
  }
  if (entry) code = code.replace(/^\/\/ @esm-begin[\s\S]*?^\/\/ @esm-end[ \t]*$/m, '// (the engine loader is above)');
  if (/\bimport\s*\(/.test(code.replace(/\/\/.*$/gm, ''))) die(`${relative(root, file)}: dynamic import() cannot be bundled`);
  const rec = { id: `__m_${nextId++}`, file };
  const header = [];
  const exported = [];

  code = code.replace(IMPORT_RE, (_all, clause, _q, spec) => {
    const dep = load(resolveSpec(file, spec), visiting);
    if (!clause) return '';
    const parts = [];
    let rest = clause.trim();
    const def = /^([\w$]+)\s*(?:,\s*|$)/.exec(rest);
    if (def && !rest.startsWith('{') && !rest.startsWith('*')) {
      parts.push(`const ${def[1]} = ${dep.id}.default;`);
      rest = rest.slice(def[0].length).trim();
    }
    const ns = /^\*\s*as\s+([\w$]+)$/.exec(rest);
    if (ns) parts.push(`const ${ns[1]} = ${dep.id};`);
    else if (rest.startsWith('{')) {
      const names = specifiers(rest.slice(1, rest.lastIndexOf('}')));
      parts.push(`const { ${names.map(([a, b]) => (a === b ? a : `${a}: ${b}`)).join(', ')} } = ${dep.id};`);
    } else if (rest) die(`${relative(root, file)}: cannot read the import '${clause}'`);
    header.push(parts.join(' '));
    return '';
  });
  code = code.replace(EXPORT_STAR_RE, (_all, _q, spec) => {
    const dep = load(resolveSpec(file, spec), visiting);
    exported.push(`...${dep.id}`);
    return '';
  });
  code = code.replace(EXPORT_LIST_RE, (_all, list, _q, spec) => {
    const source = spec ? load(resolveSpec(file, spec), visiting).id : null;
    for (const [local, as] of specifiers(list)) exported.push(`${as}: ${source ? `${source}.${local}` : local}`);
    return '';
  });
  code = code.replace(EXPORT_DEFAULT_RE, (_all, name) => {
    exported.push(`default: ${name}`);
    return '';
  });
  code = code.replace(EXPORT_DECL_RE, (_all, isDefault, kind, name) => {
    exported.push(isDefault ? `default: ${name}` : name);
    return `${kind} ${name}`;
  });
  if (/^export\b/m.test(code)) die(`${relative(root, file)}: an export form this script does not handle`);
  visiting.delete(file);
  rec.code = [...header, code].join('\n');
  rec.exports = exported;
  modules.set(file, rec);
  order.push(rec);
  return rec;
}

const entryArg = process.argv[2];
if (!entryArg) die('usage: node scripts/classic-script.mjs <entry module>');
const entryFile = resolve(entryArg);
const entry = load(entryFile, new Set(), true);

const out = [];
out.push(`// AuroraDB, as a classic script: defines the global \`AuroraDB\`. The wasm engine
// (auroradb_core.js and auroradb_core_bg.wasm, next to this file) is loaded by \`create()\`.
// Built by scripts/classic-script.mjs from ${relative(root, entryFile)} and the modules it imports.
(function (global) {
'use strict';
const scriptUrl =
    (typeof document !== 'undefined' && document.currentScript && document.currentScript.src) ||
    (global.location && global.location.href) ||
    '';

function importEngine() {
    return import(new URL('./auroradb_core.js', scriptUrl).href);
}
`);
for (const rec of order) {
  if (rec === entry) continue;
  out.push(`// ---- ${relative(root, rec.file)} ----`);
  out.push(`const ${rec.id} = (() => {\n${rec.code.trim()}\nreturn Object.freeze({ ${rec.exports.join(', ')} });\n})();\n`);
}
out.push(`// ---- ${relative(root, entryFile)} ----`);
out.push(entry.code.trim());
out.push(`
global.AuroraDB = AuroraDB;
})(typeof globalThis !== 'undefined' ? globalThis : self);`);
process.stdout.write(`${out.join('\n')}\n`);
