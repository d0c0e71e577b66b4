// The log inspector: loads any AuroraDB log file (an `exportLog()` blob, whatever app wrote it)
// into a throwaway database and shows it with the public API only: `log()` for the ops,
// `at()` for the state after each op, `history()` for a key's ops and their outcomes, `diff()`
// between two points. Served by demo/serve.mjs at /inspect.html; also works as a static page
// in a folder holding pkg/ (or from a checkout, two folders under it).

import { authorTag, dateTime, errorText, fill, h, hlcLabel, plural } from './util.js';

const $ = (id) => document.getElementById(id);

/** The API module: next to this page (demo server, or a static copy beside pkg/), else the checkout's pkg/. */
async function loadApi() {
  let first;
  for (const path of ['./pkg/auroradb.mjs', '../../pkg/auroradb.mjs']) {
    try {
      return (await import(path)).AuroraDB;
    } catch (err) {
      first ??= err;
    }
  }
  throw first;
}

const state = {
  AuroraDB: null,
  db: null,
  file: null,
  lastFile: null,
  /** The position the op log's rows are styled for. */
  marked: 0,
  ops: [],
  position: 0,
  key: null,
  playing: null,
  names: new Map(),
};

// ---- values, generically -------------------------------------------------------------------

/** A compact one-line text of any stored value. */
function show(value) {
  if (value === undefined) return '—';
  if (value instanceof Uint8Array) {
    const hex = [...value.slice(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join('');
    return `bytes(${value.length}) ${hex}${value.length > 8 ? '…' : ''}`;
  }
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return value;
  return JSON.stringify(value, (_, v) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (v instanceof Uint8Array) return show(v);
    return v;
  });
}

const isRecord = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array);

/** Columns of a state table: the top-level fields of record values (first seen first), else one `value` column. */
function columns(values) {
  const fields = [];
  let plain = false;
  for (const v of values) {
    if (isRecord(v)) {
      for (const f of Object.keys(v)) if (!fields.includes(f)) fields.push(f);
    } else plain = true;
  }
  return { fields: fields.slice(0, 12), plain, more: fields.length > 12 };
}

// ---- loading a file ------------------------------------------------------------------------

async function dropDatabase() {
  const db = state.db;
  state.db = null;
  if (db) await db.destroy().catch(() => {});
}

async function load(file) {
  stop();
  state.lastFile = file;
  const error = $('error');
  error.hidden = true;
  $('summary').textContent = `Reading ${file.name}…`;
  await dropDatabase();
  const bytes = new Uint8Array(await file.arrayBuffer());
  const name = `auroradb-inspect-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const db = new state.AuroraDB({ name, syncStrategy: $('strategy').value, checkpointEvery: 0 });
  try {
    await db.create();
    const result = await db.importLog(bytes);
    state.db = db;
    state.file = file.name;
    state.ops = await db.log();
    state.names = namesOf(state.ops);
    state.key = null;
    const verify = await db.verify().catch((e) => ({ ok: false, error: e }));
    $('summary').textContent =
      `${file.name}: ${plural(result.ops, 'op')}, ${plural(new Set(state.ops.map((o) => o.author)).size, 'author')}` +
      (verify.ok ? ` · chain verified · fp ${verify.fingerprint.slice(0, 10)}` : ` · ${errorText(verify.error)}`);
    fill($('chip-file'), h('span', { class: 'chip-label' }, 'file'), file.name);
    $('panels').hidden = false;
    $('diff-from').value = '0';
    $('diff-to').value = String(state.ops.length);
    renderLog();
    await goTo(state.ops.length);
    await showDiff();
    fill($('history'), h('p', { class: 'hint' }, 'Click a key in the state table or the op log.'));
    $('history-key').textContent = '';
    // Set once the file is shown whole (the state after its last op, the diff): what waits for
    // the page to be ready waits for this.
    document.body.dataset.ops = String(state.ops.length);
  } catch (err) {
    await db.destroy().catch(() => {});
    state.ops = [];
    $('panels').hidden = true;
    $('summary').textContent = '';
    fill($('chip-file'), 'no file');
    document.body.dataset.ops = '';
    error.hidden = false;
    fill(error, h('b', {}, `${file.name} is not a log this page can read. `), errorText(err));
  }
}

/** Names an app may have stored with its writes (`updatedBy`), by author; only a hint. */
function namesOf(ops) {
  const names = new Map();
  for (const op of ops) {
    const by = op.value?.updatedBy ?? op.steps?.find((s) => s.value?.updatedBy)?.value.updatedBy;
    if (typeof by === 'string' && !names.has(op.author)) names.set(op.author, by);
  }
  return names;
}

// ---- the state at a point ------------------------------------------------------------------

/** The log point after `k` ops: 0 (before the first op) or the k-th op's id. */
const point = (k) => (k <= 0 ? 0 : state.ops[k - 1].id);

let token = 0;
async function goTo(k) {
  const total = state.ops.length;
  k = Math.max(0, Math.min(total, k));
  state.position = k;
  const mine = ++token;
  const snapshot = k === 0 ? null : await state.db.at(point(k));
  if (mine !== token) return;
  const slider = $('slider');
  slider.max = String(total);
  slider.value = String(k);
  $('prev').disabled = k === 0;
  $('next').disabled = k === total;
  const op = state.ops[k - 1];
  $('position').textContent = op
    ? `after op ${k} of ${total} · ${op.kind}${op.key ? ` ${op.key}` : ''} · ${dateTime(op.time)}`
    : `before the first op (0 of ${total})`;
  document.body.dataset.position = String(k);
  renderState(snapshot);
  markLog(k);
}

function renderState(snapshot) {
  const keys = snapshot ? snapshot.keys() : [];
  const values = keys.map((k) => snapshot.get(k));
  const { fields, plain, more } = columns(values);
  const op = state.ops[state.position - 1];
  const touched = new Set(op ? (op.kind === 'txn' ? (op.steps ?? []).map((s) => s.key) : [op.key]) : []);
  fill(
    $('state-head'),
    h(
      'tr',
      {},
      h('th', {}, 'key'),
      fields.map((f) => h('th', {}, f)),
      plain ? h('th', {}, 'value') : null,
      more ? h('th', { class: 'dim' }, '…') : null,
    ),
  );
  fill(
    $('state-body'),
    keys.length === 0
      ? h('tr', {}, h('td', { class: 'dim center', colspan: fields.length + 2 }, 'No keys at this point.'))
      : keys.map((key, i) => {
          const v = values[i];
          return h(
            'tr',
            {
              class: touched.has(key) ? 'touched' : '',
              dataset: { key, testid: 'state-row' },
              onclick: () => showHistory(key),
              title: 'click: history of this key',
            },
            h('td', { class: 'mono key' }, key),
            fields.map((f) =>
              h('td', { dataset: { field: f } }, isRecord(v) && f in v ? show(v[f]) : h('span', { class: 'dim' }, '')),
            ),
            plain ? h('td', { dataset: { field: 'value' } }, isRecord(v) ? '' : show(v)) : null,
            more ? h('td', {}) : null,
          );
        }),
  );
}

/** Builds the op log once per file; `markLog` then only restyles the rows a move passes over. */
function renderLog() {
  state.marked = 0;
  fill(
    $('log-body'),
    state.ops.map((op, i) =>
      h(
        'tr',
        {
          class: 'future',
          dataset: { index: String(i + 1), testid: 'op-row' },
          title: `${op.hlc}\nhash ${op.hash}\nprev ${op.prev}\nclick: go to this op`,
          onclick: () => {
            stop();
            goTo(i + 1);
            if (op.key) showHistory(op.key);
          },
        },
        h('td', { class: 'num' }, i + 1),
        h('td', { class: 'nowrap' }, hlcLabel(op)),
        h('td', {}, authorTag(op.author, state.names, null, true)),
        h('td', { class: 'num' }, op.seq),
        h('td', {}, h('span', { class: `kind kind-${op.kind}` }, op.kind)),
        h('td', { class: 'key' }, op.kind === 'txn' ? plural(op.steps?.length ?? 0, 'step') : (op.key ?? '—')),
        h('td', { class: 'hash' }, op.hash.slice(0, 8)),
      ),
    ),
  );
  $('log-count').textContent = plural(state.ops.length, 'op');
}

function markLog(k) {
  const rows = $('log-body').children;
  const from = Math.min(state.marked, k);
  const to = Math.max(state.marked, k);
  for (let i = Math.max(from, 1); i <= to; i++) rows[i - 1].className = i === k ? 'at' : i > k ? 'future' : '';
  state.marked = k;
  // Keep the current op in view inside the log's own scroll box (never scrolling the page).
  const row = rows[k - 1];
  const box = row?.closest('.log-wrap');
  if (row && box) {
    const top = row.offsetTop - box.querySelector('thead').offsetHeight;
    if (top < box.scrollTop) box.scrollTop = top;
    else if (row.offsetTop + row.offsetHeight > box.scrollTop + box.clientHeight) {
      box.scrollTop = row.offsetTop + row.offsetHeight - box.clientHeight;
    }
  }
}

// ---- one key's history ---------------------------------------------------------------------

async function showHistory(key) {
  state.key = key;
  const items = await state.db.history(key);
  if (state.key !== key) return;
  $('history-key').textContent = key;
  const index = new Map(state.ops.map((op, i) => [op.id, i + 1]));
  fill(
    $('history'),
    h(
      'p',
      { class: 'history-summary' },
      h('b', {}, `${plural(items.length, 'op')} by ${plural(new Set(items.map((i) => i.author)).size, 'author')}`),
      ` · ${items.filter((i) => i.outcome === 'lost').length} lost · strategy ${$('strategy').value}`,
    ),
    h(
      'table',
      { class: 'table compact wrap-cells' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, '#'),
          h('th', {}, 'HLC'),
          h('th', {}, 'Author'),
          h('th', {}, 'Wrote'),
          h('th', {}, 'Outcome'),
        ),
      ),
      h(
        'tbody',
        {},
        items.map((item) =>
          h(
            'tr',
            {
              class: `outcome-row ${item.outcome}`,
              dataset: { testid: 'history-item', outcome: item.outcome },
              title: item.hlc,
              onclick: () => goTo(index.get(item.id) ?? state.position),
            },
            h('td', { class: 'num' }, index.get(item.id) ?? ''),
            h('td', { class: 'nowrap mono' }, hlcLabel(item)),
            h('td', {}, authorTag(item.author, state.names, null, true)),
            h('td', {}, item.value === undefined ? h('span', { class: 'dim' }, item.kind) : show(item.value)),
            h('td', {}, h('span', { class: `outcome outcome-${item.outcome}` }, item.outcome)),
          ),
        ),
      ),
    ),
  );
}

// ---- diff between two points ---------------------------------------------------------------

async function showDiff() {
  const total = state.ops.length;
  const clamp = (input) => {
    const k = Math.max(0, Math.min(total, Math.trunc(Number(input.value) || 0)));
    input.value = String(k);
    input.max = String(total);
    return k;
  };
  const from = clamp($('diff-from'));
  const to = clamp($('diff-to'));
  const diff = await state.db.diff(point(from), point(to));
  const line = (cls, sign, key, text) =>
    h(
      'li',
      { class: cls, dataset: { testid: 'diff-item' } },
      h('b', {}, `${sign} `),
      h('span', { class: 'mono' }, key),
      ' ',
      text,
    );
  const empty = !diff.added.length && !diff.changed.length && !diff.removed.length;
  fill(
    $('diff'),
    h('div', { class: 'diff-title' }, `From op ${from} to op ${to}`),
    empty
      ? h('p', { class: 'hint' }, 'No key differs between these points.')
      : h(
          'ul',
          { class: 'diff-list' },
          diff.added.map((a) => line('added', '+', a.key, show(a.value))),
          diff.changed.map((c) => line('changed', '~', c.key, fieldChanges(c.before, c.after))),
          diff.removed.map((r) => line('removed', '−', r.key, show(r.value))),
        ),
  );
}

function fieldChanges(before, after) {
  if (!isRecord(before) || !isRecord(after)) {
    return [h('del', {}, show(before)), ' → ', h('ins', {}, show(after))];
  }
  const out = [];
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = show(before[name]);
    const b = show(after[name]);
    if (a !== b) out.push(h('span', { class: 'change' }, `${name}: `, h('del', {}, a), ' → ', h('ins', {}, b)));
  }
  return out;
}

// ---- play ----------------------------------------------------------------------------------

function stop() {
  clearInterval(state.playing);
  state.playing = null;
  $('play').textContent = '▶ Play';
  document.body.dataset.playing = 'false';
}

function play() {
  if (state.playing) return stop();
  if (state.position >= state.ops.length) goTo(0);
  $('play').textContent = '❚❚ Pause';
  document.body.dataset.playing = 'true';
  state.playing = setInterval(() => {
    if (state.position >= state.ops.length) return stop();
    goTo(state.position + 1);
  }, 600);
}

// ---- wiring --------------------------------------------------------------------------------

function wire() {
  const input = $('file');
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    input.value = '';
    if (file) load(file);
  });
  const zone = $('dropzone');
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    const file = e.dataTransfer?.files?.[0];
    if (file) load(file);
  });
  $('slider').addEventListener('input', () => {
    stop();
    goTo(Number($('slider').value));
  });
  $('prev').addEventListener('click', () => goTo(state.position - 1));
  $('next').addEventListener('click', () => goTo(state.position + 1));
  $('play').addEventListener('click', play);
  $('diff-from').addEventListener('change', showDiff);
  $('diff-to').addEventListener('change', showDiff);
  // The outcomes depend on the strategy: replay the same file under the one picked.
  $('strategy').addEventListener('change', () => {
    if (state.lastFile) load(state.lastFile);
  });
  window.addEventListener('pagehide', () => {
    dropDatabase();
  });
}

async function start() {
  wire();
  state.AuroraDB = await loadApi();
  document.body.classList.add('ready');
}

const ready = start().catch((err) => {
  const box = $('error');
  box.hidden = false;
  box.textContent = `The AuroraDB API could not load: ${errorText(err)}`;
  throw err;
});

// For the end-to-end test and for poking around in DevTools.
window.inspector = { state, ready, goTo, load };
