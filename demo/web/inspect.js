// The log inspector: loads any AuroraDB log file (an `exportLog()` blob, whatever app wrote it)
// into a throwaway database and shows it with the public API only: `log()` for the ops,
// `at()` for the state after each op, `history()` for a key's ops and their outcomes, `diff()`
// between two points. Served by demo/serve.mjs at /inspect.html; also works as a static page
// in a folder holding pkg/ (or from a checkout, two folders under it).

import { authorTag, dateTime, errorText, fill, h, hlcLabel, plural, visible } from './util.js';

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
  /** The op log draws LOG_WINDOW ops from this index on (a window that follows the position). */
  logStart: 0,
  /** How many keys the state table draws (around the key the current op wrote). */
  stateLimit: 500,
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

/** Every throwaway database made and not deleted yet (one per load, shown or not). */
const made = new Set();

async function discard(db) {
  if (!db || !made.has(db)) return;
  made.delete(db);
  if (state.db === db) state.db = null;
  await db.destroy().catch(() => {});
}

/** Deletes every throwaway database (the page is left). */
function dropDatabases() {
  for (const db of [...made]) discard(db);
}

/** Counts loads: only the latest one (the last file picked, or strategy) may show its file. */
let loads = 0;

async function load(file) {
  stop();
  const mine = ++loads;
  const latest = () => mine === loads;
  state.lastFile = file;
  const error = $('error');
  error.hidden = true;
  $('summary').textContent = visible(`Reading ${file.name}…`);
  document.body.dataset.ops = '';
  let db = null;
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    if (!latest()) return;
    const name = `auroradb-inspect-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    db = new state.AuroraDB({ name, syncStrategy: $('strategy').value, checkpointEvery: 0 });
    made.add(db);
    await db.create();
    if (!latest()) return discard(db);
    const result = await db.importLog(bytes);
    if (!latest()) return discard(db);
    const ops = await db.log();
    const verify = await db.verify().catch((e) => ({ ok: false, error: e }));
    if (!latest()) return discard(db);
    // This file is shown from now on: the one shown before is deleted.
    const previous = state.db;
    state.db = db;
    discard(previous);
    state.file = file.name;
    state.ops = ops;
    state.names = namesOf(state.ops);
    state.key = null;
    state.stateLimit = 500;
    $('summary').textContent = visible(
      `${file.name}: ${plural(result.ops, 'op')}, ${plural(new Set(state.ops.map((o) => o.author)).size, 'author')}` +
        (verify.ok ? ` · chain verified · fp ${verify.fingerprint.slice(0, 10)}` : ` · ${errorText(verify.error)}`),
    );
    fill($('chip-file'), h('span', { class: 'chip-label' }, 'file'), h('bdi', {}, file.name));
    $('chip-file').title = visible(file.name);
    $('panels').hidden = false;
    $('diff-from').value = '0';
    $('diff-to').value = String(state.ops.length);
    renderLog(state.ops.length);
    await goTo(state.ops.length);
    await showDiff();
    // A newer load took over meanwhile: it shows its own file (and deletes this database).
    if (!latest()) return;
    fill($('history'), h('p', { class: 'hint' }, 'Click a key in the state table or the op log.'));
    $('history-key').textContent = '';
    // Set once the file is shown whole (the state after its last op, the diff): what waits for
    // the page to be ready waits for this.
    document.body.dataset.ops = String(state.ops.length);
  } catch (err) {
    if (!latest()) {
      if (db && state.db !== db) await discard(db);
      return;
    }
    // Nothing is shown: every database of this page goes.
    for (const other of [...made]) await discard(other);
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
    const by = [op.value, ...(op.steps ?? []).map((s) => s.value)].find(
      (v) => typeof v?.updatedBy === 'string' && v.updatedBy,
    )?.updatedBy;
    if (by && !names.has(op.author)) names.set(op.author, by);
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
  const db = state.db;
  let snapshot = null;
  try {
    snapshot = k === 0 ? null : await db.at(point(k));
  } catch (err) {
    // The file was replaced meanwhile (its database deleted): the new one draws itself.
    if (state.db !== db) return;
    throw err;
  }
  if (mine !== token || state.db !== db) return;
  const slider = $('slider');
  slider.max = String(total);
  slider.value = String(k);
  $('prev').disabled = k === 0;
  $('next').disabled = k === total;
  const op = state.ops[k - 1];
  $('position').textContent = visible(
    op
      ? `after op ${k} of ${total} · ${op.kind}${op.key !== undefined ? ` ${op.key}` : ''} · ${dateTime(op.time)}`
      : `before the first op (0 of ${total})`,
  );
  document.body.dataset.position = String(k);
  renderState(snapshot);
  markLog(k);
}

function renderState(snapshot) {
  const all = snapshot ? snapshot.keys() : [];
  const op = state.ops[state.position - 1];
  const touched = new Set(op ? (op.kind === 'txn' ? (op.steps ?? []).map((s) => s.key) : [op.key]) : []);
  // Thousands of rows take seconds to draw: `stateLimit` keys around the one the op wrote.
  let start = 0;
  if (all.length > state.stateLimit) {
    const at = all.findIndex((key) => touched.has(key));
    start = Math.max(0, Math.min(all.length - state.stateLimit, at - Math.floor(state.stateLimit / 2)));
  }
  const keys = all.slice(start, start + state.stateLimit);
  const values = keys.map((k) => snapshot.get(k));
  const { fields, plain, more } = columns(values);
  const moreBox = $('state-more');
  moreBox.hidden = keys.length >= all.length;
  if (!moreBox.hidden) {
    fill(
      moreBox,
      `Showing keys ${start + 1}–${start + keys.length} of ${all.length}${start ? ', around the key this op wrote' : ''}. `,
      h(
        'button',
        {
          type: 'button',
          class: 'small',
          dataset: { testid: 'state-more' },
          onclick: () => {
            state.stateLimit += 500;
            renderState(snapshot);
          },
        },
        `Show ${Math.min(500, all.length - keys.length)} more`,
      ),
    );
  }
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
            h('td', { class: 'mono key' }, h('bdi', {}, key)),
            fields.map((f) =>
              h('td', { dataset: { field: f } }, isRecord(v) && f in v ? show(v[f]) : h('span', { class: 'dim' }, '')),
            ),
            plain ? h('td', { dataset: { field: 'value' } }, isRecord(v) ? '' : show(v)) : null,
            more ? h('td', {}) : null,
          );
        }),
  );
}

/** How many ops the op log draws: thousands of rows take seconds to draw and to restyle. */
const LOG_WINDOW = 500;

/**
 * Draws the op log's window around position `k` (at most LOG_WINDOW ops); `markLog` then only
 * restyles the rows a move passes over, and draws the window again when `k` leaves it.
 */
function renderLog(k) {
  const total = state.ops.length;
  const start = Math.max(0, Math.min(total - LOG_WINDOW, k - LOG_WINDOW / 2));
  const ops = state.ops.slice(start, start + LOG_WINDOW);
  state.logStart = start;
  state.marked = k;
  fill(
    $('log-body'),
    ops
      .map((op, j) => [op, start + j])
      .map(([op, i]) =>
        h(
          'tr',
          {
            class: i + 1 === k ? 'at' : i + 1 > k ? 'future' : '',
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
          h(
            'td',
            { class: 'key', title: op.kind === 'txn' ? null : String(op.key ?? '') },
            op.kind === 'txn' ? plural(op.steps?.length ?? 0, 'step') : (op.key ?? '—'),
          ),
          h('td', { class: 'hash' }, op.hash.slice(0, 8)),
        ),
      ),
  );
  $('log-count').textContent =
    total > LOG_WINDOW
      ? `ops ${start + 1}–${start + ops.length} of ${total} (the slider moves this window)`
      : plural(total, 'op');
}

function markLog(k) {
  const rows = $('log-body').children;
  const start = state.logStart;
  if (k > 0 && (k <= start || k > start + rows.length)) renderLog(k);
  else {
    const from = Math.max(Math.min(state.marked, k), start + 1);
    const to = Math.min(Math.max(state.marked, k), start + rows.length);
    for (let i = from; i <= to; i++) rows[i - 1 - start].className = i === k ? 'at' : i > k ? 'future' : '';
    state.marked = k;
  }
  // Keep the current op in view inside the log's own scroll box (never scrolling the page).
  const row = rows[k - 1 - state.logStart];
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
  const db = state.db;
  const items = await db.history(key).catch((err) => {
    if (state.db === db) throw err;
    return null;
  });
  if (state.key !== key || state.db !== db || !items) return;
  $('history-key').textContent = visible(key);
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
  const db = state.db;
  const diff = await db.diff(point(from), point(to)).catch((err) => {
    if (state.db === db) throw err;
    return null;
  });
  if (!diff || state.db !== db) return;
  const line = (cls, sign, key, text) =>
    h(
      'li',
      { class: cls, dataset: { testid: 'diff-item' } },
      h('b', {}, `${sign} `),
      h('bdi', { class: 'mono' }, key),
      ' ',
      text,
    );
  const empty = !diff.added.length && !diff.changed.length && !diff.removed.length;
  // Thousands of lines take seconds to draw: the first DIFF_ITEMS of each kind.
  const cut = (list) => list.slice(0, DIFF_ITEMS);
  const left =
    Math.max(0, diff.added.length - DIFF_ITEMS) +
    Math.max(0, diff.changed.length - DIFF_ITEMS) +
    Math.max(0, diff.removed.length - DIFF_ITEMS);
  fill(
    $('diff'),
    h('div', { class: 'diff-title' }, `From op ${from} to op ${to}`),
    empty
      ? h('p', { class: 'hint' }, 'No key differs between these points.')
      : h(
          'ul',
          { class: 'diff-list' },
          cut(diff.added).map((a) => line('added', '+', a.key, h('bdi', {}, show(a.value)))),
          cut(diff.changed).map((c) => line('changed', '~', c.key, fieldChanges(c.before, c.after))),
          cut(diff.removed).map((r) => line('removed', '−', r.key, h('bdi', {}, show(r.value)))),
        ),
    left ? h('p', { class: 'hint', dataset: { testid: 'diff-more' } }, `and ${plural(left, 'more change')}`) : null,
  );
}

const DIFF_ITEMS = 200;

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
    dropDatabases();
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
