// The panels of the audit board. Each render function takes the board's state (see app.js)
// and redraws one panel; none of them touches the database.

import {
  asText,
  authorTag,
  clock,
  dateTime,
  describeValue,
  fill,
  h,
  hlcLabel,
  isZeroHash,
  plural,
  short,
  visible,
} from './util.js';

export const STATUSES = ['open', 'investigating', 'mitigated', 'resolved'];
const $ = (id) => document.getElementById(id);

// ---- header --------------------------------------------------------------------------------

export function renderChips(state) {
  const { settings } = state;
  fill($('chip-user'), h('span', { class: 'chip-label' }, 'you'), settings.user);
  fill($('chip-board'), h('span', { class: 'chip-label' }, 'board'), settings.board);
  fill($('chip-adapter'), h('span', { class: 'chip-label' }, 'adapter'), settings.adapter);
  fill($('chip-strategy'), h('span', { class: 'chip-label' }, 'strategy'), settings.strategy);
  const n = state.peers.size;
  const peers = $('chip-peers');
  peers.className = `chip ${n ? 'badge-ok' : state.distributed ? 'badge-pending' : 'badge-off'}`;
  peers.dataset.count = String(n);
  if (state.offline) peers.className = 'chip badge-off';
  fill(
    peers,
    h('span', { class: 'dot' }),
    state.offline ? 'offline' : state.distributed ? plural(n, 'peer') : 'local only',
  );
  renderChain(state);
}

function renderChain(state) {
  const chip = $('chip-chain');
  const v = state.verify;
  if (!v) {
    chip.className = 'chip badge-pending';
    fill(chip, 'verifying…');
  } else if (v.ok) {
    chip.className = 'chip badge-ok';
    chip.title = `fingerprint ${v.fingerprint}`;
    fill(chip, '✓ chain verified');
  } else {
    chip.className = 'chip badge-bad';
    chip.title = v.message;
    fill(chip, `✗ ${v.name}`);
  }
}

// ---- records -------------------------------------------------------------------------------

/**
 * The incidents table, updated row by row so an input being edited keeps its focus and text
 * while other peers' changes arrive.
 */
export function renderRecords(state, actions) {
  const body = $('records-body');
  const rows = new Map([...body.children].map((tr) => [tr.dataset.key, tr]));
  const seen = new Set();
  let previous = null;
  // Thousands of rows would take seconds to draw on every refresh: the newest `recordLimit`.
  const shown = state.records.slice(0, state.recordLimit);
  for (const rec of shown) {
    const key = rec.id;
    seen.add(key);
    let tr = rows.get(key);
    if (!tr) tr = recordRow(key, actions);
    updateRecordRow(tr, rec, state);
    const next = previous ? previous.nextSibling : body.firstChild;
    if (next !== tr) body.insertBefore(tr, next);
    previous = tr;
  }
  for (const [key, tr] of rows) if (!seen.has(key)) tr.remove();
  const more = $('records-more');
  more.hidden = shown.length >= state.records.length;
  if (!more.hidden) {
    const next = Math.min(500, state.records.length - shown.length);
    fill(
      more,
      `Showing the newest ${shown.length} of ${state.records.length} incidents. `,
      h('button', { type: 'button', class: 'small', dataset: { testid: 'records-more' } }, `Show ${next} more`),
    );
  }
  const others = $('others');
  others.hidden = !state.others;
  fill(
    others,
    `This board's database also holds ${plural(state.others, 'other record')} that ` +
      `${state.others === 1 ? 'is not an incident' : 'are not incidents'} (an incident is an object whose id is ` +
      'its key): the board does not show them; the op log and the ',
    h('a', { href: 'inspect.html', target: '_blank', rel: 'noopener' }, 'log inspector'),
    ' (with the exported log) do.',
  );
  renderDeleted(state, actions);
  $('records-empty').hidden = state.records.length > 0;
  $('records-table').classList.toggle('is-empty', state.records.length === 0);
  const open = state.records.filter((r) => r.status !== 'resolved').length;
  $('records-count').textContent = state.records.length ? `${open} open of ${state.records.length}` : '';
}

/** Deleted records stay reachable: their history is one click away. */
function renderDeleted(state, actions) {
  const deleted = state.deleted ?? [];
  const box = $('deleted');
  box.hidden = deleted.length === 0;
  fill(
    box,
    h('span', { class: 'dim' }, `Deleted (${deleted.length}): `),
    deleted.slice(0, 12).map((key) =>
      h(
        'button',
        {
          type: 'button',
          class: 'small ghost mono',
          title: `history of ${key}`,
          dataset: { key, testid: 'deleted-history' },
          onclick: () => actions.select(key),
        },
        key,
      ),
    ),
    deleted.length > 12 ? h('span', { class: 'dim' }, ` and ${deleted.length - 12} more`) : null,
  );
}

function recordRow(key, actions) {
  const commit = (field) => (e) => {
    const value = e.target.value.trim();
    if (field === 'title' && !value) {
      // Like the add form: an incident needs a title.
      e.target.value = e.target.dataset.saved ?? '';
      toast('A title cannot be empty: kept the previous one.', 'error', 4000);
      return;
    }
    if (value !== e.target.dataset.saved) actions.edit(key, { [field]: value });
  };
  const enterCommits = (e) => {
    if (e.key === 'Enter') e.target.blur();
    if (e.key === 'Escape') {
      e.target.value = e.target.dataset.saved ?? '';
      e.target.blur();
    }
  };
  const status = h(
    'select',
    {
      class: 'status',
      dataset: { field: 'status' },
      onchange: (e) => actions.edit(key, { status: e.target.value }),
      'aria-label': 'status',
    },
    STATUSES.map((s) => h('option', { value: s }, s)),
  );
  return h(
    'tr',
    { dataset: { key, testid: 'record-row' } },
    h(
      'td',
      { class: 'title-cell' },
      h('input', {
        class: 'inline',
        dir: 'auto',
        dataset: { field: 'title' },
        onchange: commit('title'),
        onkeydown: enterCommits,
        'aria-label': 'title',
        maxlength: 120,
      }),
      h('div', { class: 'meta' }),
    ),
    h('td', {}, status),
    h(
      'td',
      {},
      h('input', {
        class: 'inline owner',
        dir: 'auto',
        dataset: { field: 'owner' },
        onchange: commit('owner'),
        onkeydown: enterCommits,
        'aria-label': 'owner',
        maxlength: 40,
      }),
    ),
    h('td', { class: 'sev' }),
    h(
      'td',
      { class: 'row-actions' },
      h(
        'button',
        { type: 'button', class: 'small', onclick: () => actions.select(key), dataset: { testid: 'show-history' } },
        'History',
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'small ghost danger',
          title: 'delete',
          'aria-label': `delete ${key}`,
          onclick: () => actions.remove(key),
        },
        '✕',
      ),
    ),
  );
}

/** Shows `value` in `input` (bidi controls visible: the field shows what is stored). */
function setInput(input, stored) {
  const value = visible(asText(stored));
  input.dataset.saved = value;
  if (document.activeElement !== input && input.value !== value) input.value = value;
}

function updateRecordRow(tr, rec, state) {
  tr.classList.toggle('selected', state.selected === rec.id);
  tr.classList.toggle('flash', state.flash.has(rec.id));
  const conflict = state.conflicts.get(rec.id);
  tr.classList.toggle('conflicted', Boolean(conflict));
  if (conflict) tr.dataset.conflict = conflict.by;
  else delete tr.dataset.conflict;
  const field = (name) => tr.querySelector(`[data-field="${name}"]`);
  setInput(field('title'), rec.title);
  setInput(field('owner'), rec.owner);
  const status = field('status');
  const value = STATUSES.includes(rec.status) ? rec.status : 'open';
  if (document.activeElement !== status) status.value = value;
  status.className = `status status-${value}`;
  const sev = asText(rec.severity);
  fill(tr.querySelector('.sev'), sev ? h('span', { class: `pill ${sev}`, title: sev }, sev.toUpperCase()) : '');
  const meta = tr.querySelector('.meta');
  meta.title = visible(rec.id);
  fill(
    meta,
    h('bdi', { class: 'mono key' }, rec.id),
    conflict
      ? h(
          'span',
          { class: 'pill conflict', title: 'your edit lost a conflict: open the history to see it' },
          `lost to ${conflict.by}`,
        )
      : null,
    ' · ',
    h('span', { class: 'ver', title: 'version: each edit raises it' }, `v${asText(rec.version) || '?'}`),
    rec.updatedBy ? [' · ', h('bdi', {}, asText(rec.updatedBy))] : '',
    Number.isFinite(rec.updatedAt) ? ` · ${clock(rec.updatedAt).slice(0, 8)}` : '',
  );
}

// ---- op log --------------------------------------------------------------------------------

const LOG_ROWS = 150;

export function renderLog(state, actions) {
  const ops = state.ops;
  const shown = ops.slice(-LOG_ROWS).reverse();
  const at = state.travelId;
  const rows = shown.map((op) =>
    h(
      'tr',
      {
        dataset: { id: op.id, testid: 'log-row' },
        class: [op.id === at ? 'at' : '', state.flash.has(op.id) ? 'flash' : '', at && op.id > at ? 'future' : ''].join(
          ' ',
        ),
        title: `${op.hlc}\nhash ${op.hash}\nprev ${op.prev}\nclick: travel to this op`,
        onclick: () => actions.travelTo(op.id),
      },
      h('td', { class: 'nowrap' }, hlcLabel(op)),
      h('td', { class: op.author === state.self ? 'mine' : '' }, authorTag(op.author, state.names, state.self, true)),
      h('td', { class: 'num' }, op.seq),
      h('td', {}, h('span', { class: `kind kind-${op.kind}` }, op.kind)),
      h(
        'td',
        { class: 'key', title: op.kind === 'txn' ? null : asText(op.key) },
        op.kind === 'txn' ? `${plural(op.steps?.length ?? 0, 'step')}` : (op.key ?? '—'),
      ),
      h('td', { class: 'hash' }, op.hash.slice(0, 8)),
      h('td', { class: 'hash dim' }, isZeroHash(op.prev) ? 'genesis' : op.prev.slice(0, 8)),
    ),
  );
  fill($('log-body'), rows);
  $('log-count').textContent =
    ops.length > LOG_ROWS ? `newest ${LOG_ROWS} of ${ops.length} ops` : plural(ops.length, 'op');

  const v = state.verify;
  const box = $('verify');
  if (!v) {
    box.className = 'verify pending';
    fill(box, 'Verifying the log…');
  } else if (v.ok) {
    box.className = 'verify ok';
    fill(
      box,
      h(
        'span',
        { title: `every hash and chain recomputed at ${clock(v.at)}` },
        h('strong', {}, '✓ Chain verified'),
        ` · ${plural(v.ops, 'op')} · ${plural(v.authors, 'author')} · ${plural(v.checkpoints, 'checkpoint')}`,
      ),
      h(
        'span',
        { class: 'mono dim', title: `fingerprint of the whole log: ${v.fingerprint}` },
        `fp ${v.fingerprint.slice(0, 10)}`,
      ),
    );
  } else {
    box.className = 'verify bad';
    fill(box, h('strong', {}, `✗ ${v.name}`), ` ${v.message}`);
  }
}

// ---- time travel ---------------------------------------------------------------------------

/** Fills the time-travel panel: `view` is `{ op, index, total, records, diff }` or null (live). */
export function renderTravel(state, view) {
  const slider = $('travel-slider');
  const total = state.ops.length;
  slider.max = String(Math.max(total, 1));
  slider.min = String(total ? 1 : 0);
  slider.disabled = total === 0;
  const index = view ? view.index : total;
  if (document.activeElement !== slider || Number(slider.value) !== index) slider.value = String(index);
  slider.style.setProperty('--fill', total > 1 ? `${((index - 1) / (total - 1)) * 100}%` : '100%');
  $('travel-live').disabled = !view;
  $('travel-prev').disabled = total === 0 || index <= 1;
  $('travel-next').disabled = !view;
  const card = document.querySelector('.card.travel');
  card.classList.toggle('past', Boolean(view));

  const readout = $('travel-readout');
  const current = new Map(state.records.map((r) => [r.id, r]));
  if (total === 0) {
    fill(readout, 'The log is empty: add an incident.');
    fill($('travel-body'));
    fill($('travel-diff'));
    return;
  }
  const op = view ? view.op : state.ops[total - 1];
  readout.dataset.mode = view ? 'past' : 'live';
  fill(
    readout,
    h('span', { class: `mode ${view ? 'past' : 'live'}` }, view ? 'PAST' : 'NOW'),
    h('span', {}, ` after op ${index} of ${total} · `),
    h('span', { class: `kind kind-${op.kind}` }, op.kind),
    op.key !== undefined ? [' ', h('bdi', { class: 'mono key' }, op.key)] : null,
    ' by ',
    authorTag(op.author, state.names, state.self),
    h('span', { class: 'dim' }, ` · ${dateTime(op.time)}`),
    view ? h('span', { class: 'dim' }, ` · ${plural(total - index, 'op')} ago`) : null,
  );

  const all = view ? view.records : state.records;
  // Thousands of rows would take seconds to draw: the first `travelLimit`, more on request.
  const records = all.slice(0, state.travelLimit);
  const more = $('travel-more');
  more.hidden = records.length >= all.length;
  if (!more.hidden) {
    fill(
      more,
      `Showing ${records.length} of ${all.length} incidents. `,
      h(
        'button',
        { type: 'button', class: 'small', dataset: { testid: 'travel-more' } },
        `Show ${Math.min(500, all.length - records.length)} more`,
      ),
    );
  }
  const cell = (rec, name, text = rec[name]) => {
    const now = current.get(rec.id);
    const changed = view && now && asText(now[name]) !== asText(rec[name]);
    return h(
      'td',
      {
        class: changed ? 'was' : '',
        title: changed ? `now: ${asText(now[name]) || '—'}` : null,
        dataset: { field: name },
      },
      h('bdi', {}, asText(text)),
    );
  };
  fill(
    $('travel-body'),
    records.length === 0
      ? h('tr', {}, h('td', { colspan: 5, class: 'dim center' }, 'No incidents at this point.'))
      : null,
    records.map((rec) =>
      h(
        'tr',
        { dataset: { key: rec.id, testid: 'travel-row' }, class: view && !current.has(rec.id) ? 'gone' : '' },
        h('td', { class: 'mono key' }, h('bdi', {}, rec.id)),
        cell(rec, 'title'),
        h(
          'td',
          {
            dataset: { field: 'status' },
            class: view && current.get(rec.id)?.status !== rec.status && current.has(rec.id) ? 'was' : '',
          },
          h('span', { class: `status-tag status-${asText(rec.status)}` }, h('bdi', {}, asText(rec.status))),
        ),
        cell(rec, 'owner'),
        cell(rec, 'version'),
      ),
    ),
  );
  renderDiff(view);
}

function renderDiff(view) {
  const box = $('travel-diff');
  if (!view) {
    fill(
      box,
      h(
        'p',
        { class: 'hint' },
        'Drag the slider back (or click an op in the log) to see the board as it was, and what changed since.',
      ),
    );
    return;
  }
  const { added, changed, removed } = view.diff;
  if (!added.length && !changed.length && !removed.length) {
    fill(box, h('p', { class: 'hint' }, 'Nothing visible changed since this point.'));
    return;
  }
  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array);
  const fields = (before, after) => {
    if (!isObject(before) || !isObject(after)) {
      return h(
        'span',
        { class: 'change' },
        h('del', {}, describeValue(before) || '—'),
        ' → ',
        h('ins', {}, describeValue(after) || '—'),
      );
    }
    const names = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
    const out = [];
    for (const name of names) {
      if (['updatedAt', 'updatedBy', 'id'].includes(name)) continue;
      const a = before?.[name];
      const b = after?.[name];
      if (JSON.stringify(a) !== JSON.stringify(b)) {
        out.push(
          h(
            'span',
            { class: 'change' },
            `${name}: `,
            h('del', {}, asText(a) || '—'),
            ' → ',
            h('ins', {}, asText(b) || '—'),
          ),
        );
      }
    }
    return out;
  };
  // A diff over thousands of keys is drawn in part: the first DIFF_ITEMS of each kind.
  const cut = (list) => list.slice(0, DIFF_ITEMS);
  const hidden = Math.max(0, added.length - DIFF_ITEMS) + Math.max(0, changed.length - DIFF_ITEMS);
  const left = hidden + Math.max(0, removed.length - DIFF_ITEMS);
  fill(
    box,
    h('div', { class: 'diff-title' }, 'Changes from this point to now'),
    h(
      'ul',
      { class: 'diff-list' },
      cut(added).map((a) =>
        h(
          'li',
          { class: 'added' },
          h('b', {}, '+ '),
          h('bdi', { class: 'mono' }, a.key),
          ' ',
          h('bdi', {}, describeValue(a.value)),
        ),
      ),
      cut(changed).map((c) =>
        h(
          'li',
          { class: 'changed' },
          h('b', {}, '~ '),
          h('bdi', { class: 'mono' }, c.key),
          ' ',
          fields(c.before, c.after),
        ),
      ),
      cut(removed).map((r) =>
        h(
          'li',
          { class: 'removed' },
          h('b', {}, '− '),
          h('bdi', { class: 'mono' }, r.key),
          ' ',
          h('bdi', {}, describeValue(r.value)),
        ),
      ),
    ),
    left ? h('p', { class: 'hint', dataset: { testid: 'diff-more' } }, `and ${plural(left, 'more change')}`) : null,
  );
}

const DIFF_ITEMS = 200;

// ---- record history ------------------------------------------------------------------------

/**
 * Ops of one record that were concurrent: edits that started from the same version (each
 * edit raises `version` from the value its author saw), by different authors.
 */
function concurrentGroups(items) {
  const byVersion = new Map();
  for (const item of items) {
    const v = item.value?.version;
    if (item.kind === 'remove' || item.kind === 'clear' || v === undefined) continue;
    if (!byVersion.has(v)) byVersion.set(v, []);
    byVersion.get(v).push(item);
  }
  const out = new Map();
  for (const [v, group] of byVersion) {
    if (new Set(group.map((i) => i.author)).size > 1) for (const i of group) out.set(i.id, v);
  }
  return out;
}

export function renderHistory(state, items) {
  const key = state.selected;
  $('history-key').textContent = visible(key ?? '');
  const body = $('history-body');
  if (!key) return;
  if (!items || items.length === 0) {
    fill(body, h('p', { class: 'hint' }, `No op has written ${key}.`));
    return;
  }
  const concurrent = concurrentGroups(items);
  const authors = new Set(items.map((i) => i.author));
  const lost = items.filter((i) => i.outcome === 'lost').length;
  const current = items.filter((i) => i.outcome === 'current');
  const winner = current[current.length - 1];
  // Under 'merge' several ops can each give some fields of what the board shows.
  const shown =
    current.length > 1
      ? ` · the board shows the fields of ${current.length} ops merged, the latest of ${hlcLabel(winner)}`
      : winner && winner.value !== undefined
        ? ` · the board shows the op of ${hlcLabel(winner)}`
        : winner
          ? ` · deleted now, by the op of ${hlcLabel(winner)}`
          : ' · deleted now';
  const conflicts = new Set(concurrent.values()).size;
  fill(
    body,
    h(
      'p',
      { class: 'history-summary' },
      h('b', {}, `${plural(items.length, 'op')} by ${plural(authors.size, 'author')}`),
      conflicts ? h('span', { class: 'pill conflict' }, plural(conflicts, 'conflict')) : null,
      lost ? h('span', { class: 'pill lost' }, `${lost} lost`) : null,
      h('span', { class: 'dim', dataset: { testid: 'history-shown' } }, shown),
      h('span', { class: 'dim' }, ` · strategy ${state.settings.strategy}`),
    ),
    h(
      'table',
      { class: 'table compact' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'HLC'),
          h('th', {}, 'Author'),
          h('th', {}, 'Kind'),
          h('th', {}, 'Wrote'),
          h('th', {}, 'Outcome'),
        ),
      ),
      h(
        'tbody',
        {},
        items
          .slice()
          .reverse()
          .map((item) =>
            h(
              'tr',
              {
                class: `outcome-row ${item.outcome}`,
                dataset: { id: item.id, testid: 'history-row', outcome: item.outcome },
                title: item.hlc,
              },
              h('td', { class: 'nowrap mono' }, hlcLabel(item)),
              h('td', {}, authorTag(item.author, state.names, state.self)),
              h('td', {}, h('span', { class: `kind kind-${item.kind}` }, item.kind)),
              h(
                'td',
                {},
                item.value === undefined
                  ? h('span', { class: 'dim' }, 'deleted')
                  : h('bdi', {}, describeValue(item.value)),
                concurrent.has(item.id)
                  ? h(
                      'span',
                      { class: 'pill conflict', title: `another author also edited v${concurrent.get(item.id) - 1}` },
                      'concurrent',
                    )
                  : null,
              ),
              h('td', {}, h('span', { class: `outcome outcome-${item.outcome}` }, item.outcome)),
            ),
          ),
      ),
    ),
    h(
      'p',
      { class: 'legend dim' },
      h('span', { class: 'outcome outcome-current' }, 'current'),
      ' is what the board shows; ',
      h('span', { class: 'outcome outcome-superseded' }, 'superseded'),
      ' took effect and was replaced later; ',
      h('span', { class: 'outcome outcome-lost' }, 'lost'),
      ' lost a conflict under the strategy and never showed.',
    ),
  );
}

// ---- peers ---------------------------------------------------------------------------------

export function renderPeers(state) {
  const { settings } = state;
  const facts = [
    ['peer id', h('span', { class: 'mono', title: state.peerId ?? '' }, short(state.peerId ?? '—', 12))],
    ['author', state.self ? authorTag(state.self, state.names, state.self) : '—'],
    ['adapter', `${settings.adapter}${state.server ? ` · ${state.server}` : ''}`],
    ['strategy', settings.strategy],
    [
      'syncs',
      state.syncs
        ? `${state.syncs} · last ${clock(state.lastSync).slice(0, 8)}`
        : state.distributed
          ? 'none yet'
          : 'off',
    ],
  ];
  fill(
    $('facts'),
    facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
  );
  const peers = [...state.peers].sort((a, b) => a[1] - b[1]);
  fill(
    $('peer-list'),
    peers.length === 0
      ? h(
          'li',
          { class: 'dim' },
          state.offline
            ? 'Offline: edits stay in this browser until you go back online.'
            : !state.distributed
              ? 'Sync is off.'
              : settings.adapter === 'broadcast'
                ? 'No peer connected yet: the broadcast adapter reaches tabs of this browser only, so open this page in another tab.'
                : 'No peer connected yet: open this page in another browser or tab.',
        )
      : peers.map(([id, since]) =>
          h(
            'li',
            { dataset: { peer: id, testid: 'peer' } },
            h('span', { class: 'dot live' }),
            state.names.get(id) ? h('b', {}, `${state.names.get(id)} `) : null,
            h('span', { class: 'mono', title: id }, short(id, 12)),
            h('span', { class: 'dim' }, ` · since ${clock(since).slice(0, 8)}`),
          ),
        ),
  );
  fill(
    $('activity'),
    state.activity
      .slice(0, 6)
      .map((a) =>
        h(
          'div',
          { class: `act act-${a.kind}` },
          h('span', { class: 'dim mono' }, clock(a.time).slice(0, 8)),
          ` ${typeof a.text === 'function' ? a.text() : a.text}`,
        ),
      ),
  );
  const canSync = state.distributed && typeof state.db?.sync === 'function';
  $('sync-now').disabled = !canSync || state.offline;
  const offline = $('offline');
  offline.disabled = !canSync || !state.db?.adapter;
  offline.textContent = state.offline ? 'Go online' : 'Go offline';
  offline.classList.toggle('primary', state.offline);
}

// ---- toasts --------------------------------------------------------------------------------

/**
 * Shows a toast for `ms`. `content` is a text, or a list of texts and actions
 * `{ text, onclick, testid }` (shown as links; clicking one also closes the toast).
 */
export function toast(content, kind = 'info', ms = 4000) {
  const parts = (Array.isArray(content) ? content : [content]).map((part) =>
    typeof part === 'object' && part && !(part instanceof Node)
      ? h(
          'button',
          {
            type: 'button',
            class: 'toast-action',
            dataset: { testid: part.testid },
            onclick: () => {
              node.remove();
              part.onclick();
            },
          },
          part.text,
        )
      : part,
  );
  const node = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, parts);
  $('toasts').append(node);
  setTimeout(() => node.classList.add('leaving'), ms);
  setTimeout(() => node.remove(), ms + 400);
}
