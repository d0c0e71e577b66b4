// The audit board: shared incidents in an AuroraDB database that syncs with every peer on the
// same board. URL parameters:
//
//   adapter   socketio (default) | peerjs | webrtc | broadcast     the P2P transport
//   strategy  timestamp (default) | version | merge | local-wins | remote-wins
//   board     the board's name (default 'main'): its own database and room
//   user      your name on the board (default: one picked for this tab)
//
// demo/serve.mjs serves this folder, the API under /pkg/, and /config.json (where its Socket.IO
// relay, PeerJS server and signaling server listen).

import { AuroraDB } from '/pkg/auroradb.mjs';
import { dateTime, download, errorText, h, isIncident, newRecordId, plural, visible } from './util.js';
import { renderChips, renderHistory, renderLog, renderPeers, renderRecords, renderTravel, toast } from './views.js';

const ADAPTERS = ['socketio', 'peerjs', 'webrtc', 'broadcast'];
const STRATEGIES = ['timestamp', 'version', 'merge', 'local-wins', 'remote-wins'];
const NAMES = ['Ada', 'Grace', 'Linus', 'Barbara', 'Ken', 'Margaret', 'Dennis', 'Frances', 'Edsger', 'Radia'];

function readSettings() {
  const params = new URLSearchParams(location.search);
  const problems = [];
  /** The first value of `name`; differing repeats are named in the banner. */
  const one = (name) => {
    const values = params.getAll(name);
    if (new Set(values).size > 1) {
      const list = values.map((v) => `'${v}'`).join(', ');
      problems.push(`The URL gives ${name} ${values.length} times (${list}): using the first, '${values[0]}'.`);
    }
    return values.length ? values[0] : null;
  };
  const pick = (name, allowed, fallback) => {
    const value = one(name);
    if (value === null || allowed.includes(value)) return value ?? fallback;
    problems.push(`Unknown ${name} '${value}' in the URL: using ${fallback} (one of ${allowed.join(', ')}).`);
    return fallback;
  };
  const clean = (value, max) =>
    (value ?? '')
      .trim()
      .replace(/[^\p{L}\p{N} _.-]/gu, '')
      .slice(0, max);
  let user = clean(one('user'), 24);
  if (!user) {
    user =
      sessionStorage.getItem('auroradb-board-user') ||
      NAMES[crypto.getRandomValues(new Uint8Array(1))[0] % NAMES.length];
    sessionStorage.setItem('auroradb-board-user', user);
  }
  const adapter = pick('adapter', ADAPTERS, 'socketio');
  const strategy = pick('strategy', STRATEGIES, 'timestamp');
  // A board is its database and room: a name changed on the way (characters dropped, cut at
  // 40, spaces made '-') is another board, perhaps one someone else uses: say which is open.
  const given = one('board');
  const board = clean(given, 40).replace(/\s+/g, '-') || 'main';
  if (given !== null && given !== board) {
    problems.push(
      `Board '${given}' cannot be used as given (letters, digits, spaces, '_', '.' and '-', at most 40): opened board '${board}'.`,
    );
  }
  return { adapter, strategy, board, user, problems };
}

/** Everything the panels draw from. */
const state = {
  settings: readSettings(),
  db: null,
  distributed: false,
  server: '',
  self: null,
  peerId: null,
  /** The incidents (values that are incidents, see `isIncident`), newest first. */
  records: [],
  /** How many records of the database are not incidents (not shown on the board). */
  others: 0,
  /** How many incident rows (and rows of the time-travel table) are drawn: more on request. */
  recordLimit: 500,
  travelLimit: 500,
  ops: [],
  names: new Map(),
  verify: null,
  selected: null,
  history: null,
  travelId: null,
  travelView: null,
  peers: new Map(),
  offline: false,
  syncs: 0,
  lastSync: 0,
  activity: [],
  flash: new Set(),
  /** Records whose edit by this user lost a conflict, until their history is looked at: key -> notice. */
  conflicts: new Map(),
  /** Ops of this user already reported as lost. */
  reported: new Set(),
  /** Keys the log wrote, in the order first written (records are listed newest first). */
  firstSeen: new Map(),
};

/** Adds an activity line; `text` may be a function, called when drawn (peer names learnt later show). */
function note(kind, text) {
  state.activity.unshift({ kind, text, time: Date.now() });
  state.activity.length = Math.min(state.activity.length, 20);
}

function banner(text, kind = 'warn') {
  const node = document.getElementById('banner');
  node.hidden = !text;
  node.className = `banner banner-${kind}`;
  node.textContent = visible(text ?? '');
}

// ---- conflict marks, kept across reloads -----------------------------------------------------

/** Per board and author: the marks of lost edits not looked at yet, and the ops already told. */
const marksKey = () => `auroradb-board-marks:${state.settings.board}:${state.self}`;

function loadMarks() {
  try {
    const saved = JSON.parse(localStorage.getItem(marksKey()) ?? 'null');
    for (const [key, notice] of saved?.conflicts ?? []) state.conflicts.set(key, notice);
    for (const id of saved?.reported ?? []) state.reported.add(id);
  } catch {
    // Storage that cannot be read (disabled, or a value written by hand) keeps no marks.
  }
}

function saveMarks() {
  try {
    const reported = [...state.reported].slice(-2000);
    localStorage.setItem(marksKey(), JSON.stringify({ conflicts: [...state.conflicts], reported }));
  } catch {
    // Full or disabled storage: the marks last as long as the page.
  }
}

// ---- the database --------------------------------------------------------------------------

function dbConfig(settings, servers) {
  const room = `audit-board-${settings.board}`;
  const peerjs = servers.peerjs ?? {};
  return {
    // The strategy is part of the name: two tabs of one browser with different strategies keep
    // separate states (of the same synced log).
    name: `${room}-${settings.strategy}`,
    version: 1,
    keyPath: 'id',
    indexes: [{ name: 'status', unique: false }],
    syncStrategy: settings.strategy,
    distributed: true,
    p2pAdapter: settings.adapter,
    autoSync: true,
    syncInterval: 5000,
    connectionTimeout: 5000,
    peerConnectionTimeout: 8000,
    maxReconnectAttempts: 30,
    reconnectDelay: 500,
    server: { host: peerjs.host, port: peerjs.port, path: peerjs.path, key: peerjs.key },
    p2pConfig: {
      serverUrl: servers.socketio,
      // Peers sync within a group: every strategy of one board shares the log.
      group: room,
      rooms: [room],
      room,
      signalingServer: servers.signaling,
      channel: `auroradb-p2p:${room}`,
      rtcConfig: { iceServers: [] },
    },
  };
}

function serverLabel(settings, servers) {
  switch (settings.adapter) {
    case 'socketio':
      return servers.socketio ?? '';
    case 'peerjs':
      return servers.peerjs?.url ?? '';
    case 'webrtc':
      return servers.signaling ?? '';
    default:
      return 'no server';
  }
}

async function openDatabase() {
  const servers = await fetch('/config.json', { cache: 'no-store' })
    .then((r) => (r.ok ? r.json() : {}))
    .catch(() => ({}));
  state.server = serverLabel(state.settings, servers);
  const config = dbConfig(state.settings, servers);
  let db = new AuroraDB(config);
  listen(db);
  try {
    await db.create();
  } catch (err) {
    // A transport that cannot start must not keep the board from working on its own.
    banner(`Sync could not start (${err.name}: ${err.message}). This tab works on its own; reload to try again.`);
    db = new AuroraDB({ ...config, distributed: false });
    listen(db);
    await db.create();
  }
  state.db = db;
  state.distributed = db.isDistributed() && typeof db.sync === 'function';
  if (db.isDistributed() && typeof db.sync !== 'function') {
    banner('This build of AuroraDB has no peer-to-peer sync: edits stay in this browser (its tabs still share them).');
  }
  const stats = db.getStats();
  state.self = stats.author ?? db.getPeerId();
  state.peerId = db.getPeerId();
  state.names.set(state.self, state.settings.user);
  if (state.peerId) state.names.set(state.peerId, state.settings.user);
  return db;
}

function listen(db) {
  db.addEventListener('change', (e) => {
    const { source, changes } = e.detail;
    for (const c of changes) flash(c.key);
    if (source !== 'local') note('change', `${plural(changes.length, 'record')} changed (${source})`);
    if (source === 'peer' || source === 'import') checkConflicts(changes.map((c) => c.key));
    scheduleRefresh();
  });
  db.addEventListener('connection', (e) => {
    const id = e.detail?.peerId;
    if (id) state.peers.set(id, Date.now());
    note('peer', () => `${peerName(id)} connected`);
    // The first sync with a new peer brings its ops, and with them its name.
    announce(id);
    scheduleRefresh();
  });
  db.addEventListener('disconnect', (e) => {
    const id = e.detail?.peerId;
    if (id) state.peers.delete(id);
    else state.peers.clear();
    note('peer', () => `${peerName(id)} disconnected`);
    scheduleRefresh();
  });
  db.addEventListener('sync', (e) => {
    state.syncs += 1;
    state.lastSync = Date.now();
    const d = e.detail ?? {};
    // autoSync reconciles every few seconds: only syncs that moved something are news.
    const parts = Object.entries(d)
      .filter(([k, v]) => typeof v === 'number' && v > 0 && k !== 'peers')
      .map(([k, v]) => `${k} ${v}`);
    if (parts.length) {
      note('sync', `sync${typeof d.peers === 'number' ? ` with ${plural(d.peers, 'peer')}` : ''}: ${parts.join(', ')}`);
    }
    scheduleRefresh();
  });
  db.addEventListener('post', (e) => {
    if (e.detail?.keys?.length) checkConflicts(e.detail.keys);
    scheduleRefresh();
  });
  db.addEventListener('error', (e) => {
    const { type, message, operation } = e.detail ?? {};
    // A call the board made itself (add, importLog, ...) reports its failure where it was
    // made (guarded()); only errors of the background sync and the transport are told here.
    if (operation !== 'sync' && operation !== 'p2p') return;
    const text = errorText({ name: type, message });
    // A transport that keeps retrying reports the same failure again and again.
    if (recentErrors.has(text)) return;
    recentErrors.add(text);
    setTimeout(() => recentErrors.delete(text), 15_000);
    toast(text, 'error', 6000);
    note('error', text);
  });
}

/** `peer Bob (ab12cd34)`, or `peer ab12cd34` while its name is not known. */
function peerName(id) {
  const hex = String(id ?? '').slice(0, 8);
  const name = state.names.get(id);
  return name ? `peer ${name} (${hex})` : `peer ${hex}`;
}

const recentErrors = new Set();

/** Toasts a new connection once its name may be known: after the next sync, or 3 s. */
function announce(id) {
  let done = false;
  const say = () => {
    if (done) return;
    done = true;
    toast(`${peerName(id)} connected`, 'ok', 2500);
  };
  state.db?.addEventListener('sync', () => setTimeout(say, 100), { once: true });
  setTimeout(say, 3000);
}

/**
 * After ops from elsewhere arrive: an op of this user on one of `keys` that lost to a concurrent
 * op of another author (both started from the same `version`, or the engine calls it `lost`)
 * is told at once, and the row is marked until its history is looked at.
 */
async function checkConflicts(keys) {
  const db = state.db ?? null;
  if (!db || !state.self) return;
  // Only a key this user wrote can hold an edit of theirs that lost: one read of the log spares
  // a history() per key (an import of thousands of other people's ops).
  const ops = await db.log().catch(() => []);
  const mine = new Set();
  for (const op of ops) if (op.author === state.self) for (const key of opKeys(op)) mine.add(key);
  let marked = false;
  for (const key of new Set(keys)) {
    if (!mine.has(key)) continue;
    const items = await db.history(key).catch(() => []);
    const winner = items.findLast((i) => i.outcome === 'current');
    for (const mine of items) {
      if (mine.author !== state.self || state.reported.has(mine.id) || mine.outcome === 'current') continue;
      const rival =
        mine.outcome === 'lost'
          ? (winner ?? items.findLast((i) => i.author !== state.self))
          : items.find(
              (i) =>
                i.author !== state.self &&
                i.id > mine.id &&
                i.value?.version !== undefined &&
                i.value.version === mine.value?.version,
            );
      if (!rival || rival.author === state.self) continue;
      state.reported.add(mine.id);
      const by =
        state.names.get(rival.author) ??
        (typeof rival.value?.updatedBy === 'string' ? rival.value.updatedBy : `author ${rival.author.slice(0, 8)}`);
      const notice = { key, by, strategy: state.settings.strategy, op: mine.id };
      state.conflicts.set(key, notice);
      marked = true;
      note('conflict', `your edit of ${key} lost to ${by} under ${notice.strategy}`);
      toast(
        [
          'Your edit of ',
          h('bdi', {}, key),
          ' lost to ',
          h('bdi', {}, by),
          ` under ${notice.strategy}. `,
          { text: 'Show history', onclick: () => actions.select(key), testid: 'conflict-link' },
        ],
        'warn',
        12_000,
      );
    }
  }
  if (marked) saveMarks();
  scheduleRefresh(0);
}

/** The keys an op wrote. */
function opKeys(op) {
  return op.kind === 'txn' ? (op.steps ?? []).map((s) => s.key) : [op.key];
}

function flash(key) {
  state.flash.add(key);
  setTimeout(() => {
    state.flash.delete(key);
    document.querySelector(`#records-body tr[data-key="${CSS.escape(String(key))}"]`)?.classList.remove('flash');
  }, 1200);
}

// ---- refreshing the panels -----------------------------------------------------------------

let refreshing = null;
let again = false;
let refreshTimer = null;
let refreshes = 0;

function scheduleRefresh(delay = 60) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refresh();
  }, delay);
}

/** Reads records, log, verification, history and the time-travel view, then redraws. */
function refresh() {
  if (refreshing) {
    again = true;
    return refreshing;
  }
  refreshing = (async () => {
    do {
      again = false;
      try {
        await refreshOnce();
      } catch (err) {
        if (err?.name !== 'DatabaseClosedError') console.error('refresh failed', err);
      }
    } while (again);
  })().finally(() => {
    refreshing = null;
    refreshes += 1;
  });
  return refreshing;
}

async function refreshOnce() {
  const db = state.db;
  // Every record with its key, in one read: a log may hold values that are no incident (null,
  // strings, objects whose `id` is not their key); the board shows incidents only.
  const entries = [];
  const [, ops] = await Promise.all([
    db.filter((value, key) => {
      entries.push([key, value]);
      return false;
    }),
    db.log(),
  ]);
  state.ops = ops;
  for (const op of ops) {
    for (const key of opKeys(op)) {
      if (key !== undefined && !state.firstSeen.has(key)) state.firstSeen.set(key, state.firstSeen.size);
    }
  }
  const live = new Set();
  const records = [];
  for (const [key, value] of entries) {
    live.add(key);
    if (isIncident(value, key)) records.push(value);
  }
  state.others = entries.length - records.length;
  // Newest first: the log's order (the same on every peer), never the random ids.
  const rank = (r) => state.firstSeen.get(r.id) ?? Number.MAX_SAFE_INTEGER;
  state.records = records.sort((a, b) => rank(b) - rank(a));
  state.deleted = [...state.firstSeen.keys()].filter((k) => !live.has(k)).reverse();
  for (const op of ops) {
    const by = [op.value, ...(op.steps ?? []).map((s) => s.value)].find(
      (v) => typeof v?.updatedBy === 'string' && v.updatedBy,
    )?.updatedBy;
    if (by && !state.names.has(op.author)) state.names.set(op.author, by);
  }
  if (state.travelId && !ops.some((op) => op.id === state.travelId)) state.travelId = null;
  state.travelView = state.travelId ? await travelView(state.travelId) : null;
  state.history = state.selected ? await db.history(state.selected) : null;
  draw();
  state.verify = await db
    .verify()
    .then((v) => ({ ...v, at: Date.now() }))
    .catch((e) => ({ ok: false, name: e.name, message: e.message }));
  // Only the chain chip and the log's badge show the verification: the rest is drawn already.
  renderChips(state);
  renderLog(state, actions);
}

async function travelView(id) {
  const ops = state.ops;
  const index = ops.findIndex((op) => op.id === id);
  if (index < 0) return null;
  const [snapshot, diff] = await Promise.all([state.db.at(id), state.db.diff(id, ops[ops.length - 1].id)]);
  return { op: ops[index], index: index + 1, total: ops.length, records: snapshot.filter(isIncident), diff };
}

function draw() {
  renderChips(state);
  renderRecords(state, actions);
  renderLog(state, actions);
  renderTravel(state, state.travelView);
  renderHistory(state, state.history);
  renderPeers(state);
  document.body.dataset.ops = String(state.ops.length);
  document.body.dataset.records = String(state.records.length);
}

// ---- actions -------------------------------------------------------------------------------

/** Runs `f`; a failure is told once (toast and activity, and `onError(text)`), resolving to undefined. */
async function guarded(what, f, onError) {
  try {
    return await f();
  } catch (err) {
    const text = `${what} failed: ${errorText(err)}`;
    toast(text, 'error', 6000);
    note('error', text);
    onError?.(text);
    return undefined;
  }
}

/** A new value for an incident: every edit raises `version` and says who made it. */
function edited(current, changes) {
  const meta = { version: (current?.version ?? 0) + 1, updatedBy: state.settings.user, updatedAt: Date.now() };
  // Under 'merge' each top-level field merges on its own: write only what changed, so two
  // people editing different fields at once both keep their edit.
  if (state.settings.strategy === 'merge') return { id: current.id, ...changes, ...meta };
  return { ...current, ...changes, ...meta };
}

const actions = {
  async add(fields) {
    const record = {
      id: newRecordId(),
      title: fields.title,
      status: 'open',
      owner: fields.owner || state.settings.user,
      severity: fields.severity,
      version: 1,
      updatedBy: state.settings.user,
      updatedAt: Date.now(),
    };
    await guarded('Adding', () => state.db.add(record));
    return record.id;
  },
  async edit(key, changes) {
    await guarded('Saving', async () => {
      const current = await state.db.get(key);
      if (current === undefined) throw Object.assign(new Error(`${key} was deleted meanwhile`), { name: 'Gone' });
      if (!isIncident(current, key)) {
        throw Object.assign(new Error(`${key} is no longer an incident (its value was replaced)`), { name: 'Gone' });
      }
      await state.db.put(key, edited({ id: key, ...current }, changes));
    });
  },
  /** Deletes at once, with an Undo in the toast (it writes the record back as it was). */
  async remove(key) {
    const before = await state.db.get(key);
    const done = await guarded('Deleting', () => state.db.remove(key));
    if (!done || before === undefined) return;
    const title = String(before.title ?? '');
    toast(
      [
        `Deleted ${key}${title ? ` “${title.length > 40 ? `${title.slice(0, 40)}…` : title}”` : ''}. `,
        {
          text: 'Undo',
          testid: 'undo-delete',
          onclick: () => guarded('Undoing the delete', () => state.db.put(key, { ...before, ...edited(before, {}) })),
        },
      ],
      'info',
      10_000,
    );
  },
  select(key) {
    state.selected = key;
    if (state.conflicts.delete(key)) saveMarks();
    scheduleRefresh(0);
    document.getElementById('history-title').scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  },
  /**
   * Leaves the network (the adapter disconnects; edits stay local) or comes back (`sync()`
   * reconnects the adapter and reconciles with every peer). Editing the same record on both
   * sides while one is offline makes a real conflict.
   */
  async setOffline(offline) {
    const db = state.db;
    if (!db.adapter) return;
    state.offline = offline;
    if (offline) {
      await guarded('Going offline', () => db.adapter.disconnect());
      state.peers.clear();
      note('peer', 'went offline: edits stay here');
    } else {
      note('peer', 'back online: syncing');
      await guarded('Going online', () => db.sync());
    }
    scheduleRefresh(0);
  },
  travelTo(id) {
    state.travelId = id === state.ops[state.ops.length - 1]?.id ? null : id;
    travel();
  },
  async seed() {
    const now = Date.now();
    const base = { status: 'open', version: 1, updatedBy: state.settings.user, updatedAt: now };
    const samples = [
      {
        title: 'Checkout returns 502 for EU customers',
        owner: state.settings.user,
        severity: 'sev1',
        status: 'investigating',
      },
      { title: 'Nightly backup job skipped', owner: 'ops', severity: 'sev2' },
      { title: 'Search latency above 800 ms', owner: 'search', severity: 'sev3', status: 'mitigated' },
    ];
    await guarded('Adding samples', () =>
      state.db.transaction((tx) => {
        for (const s of samples) {
          const id = newRecordId();
          tx.entries[id] = { id, ...base, ...s };
        }
      }),
    );
  },
};

/** Redraws the time-travel panel for the slider's position (latest position wins). */
let travelToken = 0;
async function travel() {
  const token = ++travelToken;
  const view = state.travelId ? await travelView(state.travelId).catch(() => null) : null;
  if (token !== travelToken) return;
  state.travelView = view;
  renderTravel(state, view);
  renderLog(state, actions);
}

function wireControls() {
  const form = document.getElementById('new-record');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const title = String(data.get('title') ?? '').trim();
    if (!title) return;
    await actions.add({ title, owner: String(data.get('owner') ?? '').trim(), severity: String(data.get('severity')) });
    form.reset();
    document.getElementById('new-title').focus();
  });
  document.getElementById('seed').addEventListener('click', () => actions.seed());
  document.getElementById('records-more').addEventListener('click', (e) => {
    if (!e.target.closest('button')) return;
    state.recordLimit += 500;
    renderRecords(state, actions);
  });
  document.getElementById('travel-more').addEventListener('click', (e) => {
    if (!e.target.closest('button')) return;
    state.travelLimit += 500;
    renderTravel(state, state.travelView);
  });

  const slider = document.getElementById('travel-slider');
  slider.addEventListener('input', () => {
    const k = Number(slider.value);
    const op = state.ops[k - 1];
    state.travelId = !op || k >= state.ops.length ? null : op.id;
    travel();
  });
  const step = (delta) => {
    const total = state.ops.length;
    const index = state.travelView ? state.travelView.index : total;
    const k = Math.min(total, Math.max(1, index + delta));
    actions.travelTo(state.ops[k - 1].id);
  };
  document.getElementById('travel-prev').addEventListener('click', () => step(-1));
  document.getElementById('travel-next').addEventListener('click', () => step(1));
  document.getElementById('travel-live').addEventListener('click', () => {
    state.travelId = null;
    travel();
  });

  document.getElementById('offline').addEventListener('click', () => actions.setOffline(!state.offline));
  document.getElementById('sync-now').addEventListener('click', async () => {
    const result = await guarded('Sync', () => state.db.sync());
    if (result !== undefined) {
      const peers = typeof result?.peers === 'number' ? ` with ${plural(result.peers, 'peer')}` : '';
      const moved =
        typeof result?.received === 'number' ? `: ${result.sent ?? 0} sent, ${result.received} received` : '';
      toast(`Synced${peers}${moved}`, 'ok', 2500);
    }
    scheduleRefresh(0);
  });

  const status = document.getElementById('files-status');
  document.getElementById('export').addEventListener('click', async () => {
    const bytes = await guarded('Export', () => state.db.exportLog());
    if (!bytes) return;
    const stamp = dateTime(Date.now()).replace(/[-: ]/g, '').replace('.', '-');
    const name = `auroradb-${state.settings.board}-${stamp}.aurlog`;
    download(bytes, name);
    status.textContent = visible(
      `Exported ${plural(state.ops.length, 'op')} (${bytes.length.toLocaleString()} bytes) as ${name}`,
    );
  });
  const input = document.getElementById('import-file');
  input.addEventListener('change', async () => {
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    status.textContent = visible(`Importing ${file.name}…`);
    status.classList.remove('failed');
    const result = await guarded(
      'Import',
      async () => state.db.importLog(new Uint8Array(await file.arrayBuffer())),
      (text) => {
        status.textContent = visible(`${file.name}: ${text}`);
        status.classList.add('failed');
      },
    );
    if (!result) return;
    status.textContent = visible(
      `Imported ${file.name}: ${plural(result.ops, 'op')} in the file, ${result.imported} new`,
    );
    toast(`Imported ${result.imported} new ${result.imported === 1 ? 'op' : 'ops'}`, 'ok');
    note('import', `imported ${result.imported} of ${result.ops} ops from ${file.name}`);
    scheduleRefresh(0);
  });
}

// ---- start ---------------------------------------------------------------------------------

async function start() {
  document.title = `AuroraDB audit board · ${state.settings.board}`;
  renderChips(state);
  wireControls();
  document.getElementById('new-owner').placeholder = `Owner (${state.settings.user})`;
  if (state.settings.problems.length) banner(state.settings.problems.join(' '));
  const db = await openDatabase();
  note('open', `opened ${db.name}`);
  loadMarks();
  await refresh();
  document.body.classList.add('ready');
  // A safety net under the events: the op count and the connection count are cheap to read.
  setInterval(() => {
    const stats = db.getStats();
    if (stats.open && stats.ops !== state.ops.length) scheduleRefresh(0);
    const n = db.getConnectionCount();
    if (n === 0 && state.peers.size) {
      state.peers.clear();
      renderChips(state);
      renderPeers(state);
    }
  }, 2000);
  return db;
}

const ready = start().catch((err) => {
  banner(`The board could not start: ${err.name}: ${err.message}`, 'bad');
  throw err;
});

// For the end-to-end test and for poking around in DevTools.
window.board = {
  state,
  ready,
  actions,
  refresh,
  get db() {
    return state.db;
  },
  get refreshes() {
    return refreshes;
  },
};
