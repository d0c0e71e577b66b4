// AuroraDB: the JavaScript class around the wasm engine (`AuroraCore`).
//
// The class exists as soon as this file is evaluated (the wasm module is loaded by `create()`),
// is an EventTarget, and can be subclassed. Every operation is delegated to the engine; the
// engine dispatches the events (`open`, `close`, `error`, `change`, `set`, `delete`, and for a
// distributed database `connection`, `disconnect`, `sync`, `post`) on this object.
//
// The engine comes in two builds (scripts/build-web.sh): a local-only one, which a page that
// never syncs loads alone, and one with peer-to-peer sync, loaded when a distributed database
// opens. On the local-only engine the P2P calls answer as an engine without peers does.
//
// A distributed database also has a P2P adapter (./p2p/, chosen by `p2pAdapter`): the class
// loads it, creates it from the configuration, hands its frames and peer events to the engine,
// gives the engine a `send` function and a clock (a timer), and tears it down on close.
//
// The build (scripts/build-web.sh, bundling with scripts/bundle.mjs) makes two bundles of this
// file: the ES module `pkg/auroradb.mjs` and the classic script `pkg/auroradb.js` that defines
// the global `AuroraDB`. They differ only in ./loader.js (how the engine and the adapters are
// imported). Each holds the adapter base class and registry, so `AuroraDB.P2PAdapter`,
// `registerP2PAdapter` and `listP2PAdapters` work at once; each built-in adapter is a bundle of
// its own in pkg/p2p/, imported only when a database picks it.

import { BUILTIN_ADAPTERS, engineWasmUrl, importEngine } from './loader.js';
import {
    P2PAdapter,
    hasP2PAdapter,
    listP2PAdapters,
    loadP2PAdapter,
    registerLazyP2PAdapter,
    registerP2PAdapter,
} from './p2p/adapter.js';
import { plainCopy } from './objects.js';
import { P2PError } from './p2p/util.js';

for (const [name, load] of Object.entries(BUILTIN_ADAPTERS)) registerLazyP2PAdapter(name, load);

/** The engines being loaded or loaded: the local-only build and the one with sync. */
const loading = { local: null, sync: null };

/**
 * Fetches and compiles a `.wasm` file (streaming, as it arrives), to be started with the import
 * of its glue rather than after it: the glue's own module requests and the wasm's download and
 * compilation then overlap. A server that does not say `application/wasm` gets the bytes
 * compiled after the download instead (as the glue itself would do). The download starts at
 * once; whatever fails, from finding the URL on, rejects the promise.
 */
async function compileWasm(urlOf) {
    const response = fetch(urlOf());
    try {
        return await WebAssembly.compileStreaming(response);
    } catch (e) {
        const r = await response;
        const type = (r.headers.get('Content-Type') || '').split(';')[0].trim();
        if (!r.ok || type === 'application/wasm') throw e;
        return WebAssembly.compile(await r.arrayBuffer());
    }
}

/**
 * Loads and instantiates a wasm engine once, and resolves to its module: the one with
 * peer-to-peer sync when `sync` is true, else whichever is loaded or loading already (the
 * local-only one, much smaller, unless a distributed database loaded the other first). `wasm`
 * optionally says where the `.wasm` file is (or is the file, or its compiled module); by default
 * the file next to the glue is fetched and compiled while the glue is imported.
 */
function loadEngine(sync, wasm) {
    const kind = sync || (loading.sync && !loading.local) ? 'sync' : 'local';
    if (!loading[kind]) {
        const source = wasm === undefined ? compileWasm(() => engineWasmUrl(kind === 'sync')) : wasm;
        // Awaited once the glue is imported; a failure before that is no unhandled rejection.
        if (source instanceof Promise) source.catch(() => {});
        const glue = importEngine(kind === 'sync');
        warmLocalStorage();
        loading[kind] = glue
            .then(async (m) => {
                await m.default({ module_or_path: await source });
                return m;
            })
            .catch((e) => {
                loading[kind] = null;
                // The browser's error (a failed fetch, a `CompileError`, a `TypeError`) under one
                // stable name, kept as its `cause`.
                const error = namedError('EngineLoadError', `the engine could not be loaded: ${e?.message ?? e}`);
                error.cause = e;
                throw error;
            });
    }
    return loading[kind];
}

/**
 * Opening a database reads its mark in `localStorage` (see `DataLossError` in the README). The
 * first access in a page loads the origin's storage, synchronously: 0.3 to 1.4 ms on a page
 * load, 4.4 ms on the first page of a browser session (measured in Chromium 156). Made while
 * the engine downloads and compiles, it is off the open's path. Where there is no
 * `localStorage`, or it refuses access, the open does without the mark, as it would anyway.
 */
function warmLocalStorage() {
    try {
        void globalThis.localStorage?.length;
    } catch {
        // Refused (an opaque origin, storage blocked): nothing to warm.
    }
}

// `name` is one of the one table of error names (`ErrorName` in `src/error.rs`); tests/error_names.rs
// fails on a name that is not in it.
function namedError(name, message) {
    const e = new Error(message);
    e.name = name;
    return e;
}

/** Dispatches `error` like the engine does, and returns the error. */
function failed(target, operation, error) {
    const detail = { type: error.name, message: error.message, error, operation };
    target.dispatchEvent(new CustomEvent('error', { detail }));
    return error;
}

/**
 * The event target of a helper instance (`AuroraDB#_tool`): its `error` events are dispatched
 * again at the database; it asks for no other event.
 */
class ToolEvents extends EventTarget {
    constructor(db) {
        super();
        /** While the helper imports, the changes it dispatched (`AuroraDB#_helperImport`). */
        this.imported = null;
        this.addEventListener('error', (e) => db.dispatchEvent(new CustomEvent('error', { detail: e.detail })));
        this.addEventListener('change', (e) => this.imported?.push(...e.detail.changes));
    }

    _wantsEvent(type) {
        return type === 'error' || (type === 'change' && this.imported !== null);
    }
}

/** The event target of each helper instance (`AuroraDB#_helper`). */
const HELPER_EVENTS = new WeakMap();

/** Dispatches at `target` the `set`, `delete` and `change` events of `changes` (`{ key, type, value }`). */
function dispatchChanges(target, changes, source) {
    if (changes.length === 0) return;
    for (const { key, type, value } of changes) {
        const detail = type === 'delete' ? { key, source } : { key, source, value };
        target.dispatchEvent(new CustomEvent(type, { detail }));
    }
    target.dispatchEvent(new CustomEvent('change', { detail: { source, changes } }));
}

/**
 * Throws `InvalidConfigError` unless `name` can name a database: a non-empty string of
 * well-formed UTF-16 (a lone surrogate would name the same database as U+FFFD).
 */
function checkName(name) {
    if (typeof name !== 'string' || name === '') {
        throw namedError('InvalidConfigError', 'name is required: a non-empty string');
    }
    if (!name.isWellFormed()) {
        throw namedError('InvalidConfigError', 'name holds a lone surrogate: strings must be well-formed UTF-16');
    }
}

/** Options every database has; see the README for what each one does. */
const DEFAULTS = Object.freeze({
    version: 1,
    keyPath: null,
    indexes: [],
    distributed: false,
    p2pAdapter: 'peerjs',
    autoSync: true,
    syncInterval: 30000,
    syncStrategy: 'timestamp',
    durability: 'relaxed',
    maxConnections: 50,
    timeout: 10000,
    retryAttempts: 3,
});

/**
 * The store behind a database, as `db.db`: `batchSet(entries)` and the `beforeSet(key, value)`
 * hook (return the value to store; throw to refuse the write).
 */
/** Adapter error types that mean "could not reach the network": reported as 'connection-failed'. */
const CONNECTION_FAILURES = new Set(['timeout', 'network', 'server-error', 'unavailable-id', 'not-connected']);

/** Events a `debug: true` database logs to the console. */
const DEBUG_EVENTS = ['open', 'close', 'error', 'set', 'delete', 'change', 'connection', 'disconnect', 'sync', 'post'];

class AuroraStore {
    constructor(owner) {
        Object.defineProperty(this, 'owner', { value: owner });
        /** @type {null | ((key: string, value: unknown) => unknown)} */
        this.beforeSet = null;
    }

    /** Writes `[key, value]` pairs as one atomic write; resolves to how many. */
    batchSet(entries) {
        const taken = this.owner._takenEntries(entries);
        return this.owner._run((core) => core.batchSet(taken), 'batchSet');
    }
}

export class AuroraDB extends EventTarget {
    /**
     * @param {object} config `{ name, version, keyPath, indexes, syncStrategy, ... }`; `name` is
     *   required. Options for sync (`distributed`, `p2pAdapter`, `autoSync`, `syncInterval`,
     *   ...) are kept in `this.config`.
     */
    constructor(config) {
        super();
        if (config === null || typeof config !== 'object') {
            throw namedError('InvalidConfigError', 'new AuroraDB(config) needs a configuration object with a name');
        }
        checkName(config.name);
        this.config = { ...DEFAULTS, ...config };
        this.db = new AuroraStore(this);
        Object.defineProperty(this, '_listened', { value: new Set() });
        Object.defineProperty(this, '_core', { value: null, writable: true });
        Object.defineProperty(this, '_opening', { value: null, writable: true });
        Object.defineProperty(this, '_closed', { value: false, writable: true });
        Object.defineProperty(this, '_closing', { value: null, writable: true });
        Object.defineProperty(this, '_reopen', { value: null, writable: true });
        // How many close() and destroy() calls were made: an open started before one of them
        // leaves the instance closed when it finishes (see _open). `_openedAt` is that count
        // when the create() of the engine now held was called: the calls made between that
        // create() and the next close() are that engine's to run (see _engine).
        Object.defineProperty(this, '_shuts', { value: 0, writable: true });
        Object.defineProperty(this, '_openedAt', { value: -1, writable: true });
        Object.defineProperty(this, '_shutting', { value: new Set() });
        Object.defineProperty(this, '_queuedTransactions', { value: new Set() });
        Object.defineProperty(this, '_adapter', { value: null, writable: true });
        Object.defineProperty(this, '_ticker', { value: null, writable: true });
        Object.defineProperty(this, '_connecting', { value: null, writable: true });
        Object.defineProperty(this, '_helping', { value: null, writable: true });
        Object.defineProperty(this, '_toolCalls', { value: new Set() });
        Object.defineProperty(this, '_importing', { value: null, writable: true });
        // Calls waiting for the engine to open (see _run).
        Object.defineProperty(this, '_waiting', { value: 0, writable: true });
        // However the database closes (close(), destroy(), or another tab's upgrade or delete),
        // drop the engine and the adapter: calls fail with DatabaseClosedError until create()
        // reopens it, and nothing keeps the engine and this object alive for each other.
        this.addEventListener('close', () => {
            this._closed = true;
            this._core = null;
            this._stopSync();
            this._closeHelper();
        });
        if (this.config.debug) {
            for (const type of DEBUG_EVENTS) {
                this.addEventListener(type, (e) => console.debug(`[auroradb ${this.name}] ${type}`, e.detail ?? ''));
            }
        }
    }

    /** As `EventTarget`'s; also notes that events of `type` have a listener. */
    addEventListener(type, listener, options) {
        if (listener) this._listened.add(String(type));
        super.addEventListener(type, listener, options);
    }

    /**
     * Whether an event of `type` can be seen: a listener was added for its type, or a subclass
     * dispatches events itself. The engine builds a write's `set`, `delete` and `change` events
     * (a JavaScript copy of every value written) only when they can be.
     */
    _wantsEvent(type) {
        return this._listened.has(type) || this.dispatchEvent !== EventTarget.prototype.dispatchEvent;
    }

    /** The base class of P2P adapters: `class MyAdapter extends AuroraDB.P2PAdapter { ... }`. */
    static get P2PAdapter() {
        return P2PAdapter;
    }

    /** The error type of the P2P adapters (`error.type` says what went wrong). */
    static get P2PError() {
        return P2PError;
    }

    /** Registers an adapter class (a subclass of `AuroraDB.P2PAdapter`) for `p2pAdapter: name`. */
    static registerP2PAdapter(name, adapterClass) {
        return registerP2PAdapter(name, adapterClass);
    }

    /** Names of the registered adapters: the built-ins first ('peerjs', 'webrtc', 'socketio', 'broadcast'). */
    static listP2PAdapters() {
        return listP2PAdapters();
    }

    /** The P2P adapter of a distributed database once `create()` has started it, else `null`. */
    get adapter() {
        return this._adapter;
    }

    /** The database's name. */
    get name() {
        return this.config.name;
    }

    /**
     * Loads the wasm engine without opening a database. `wasm` may say where the `.wasm` file is
     * (URL, Response, or compiled module); by default it is found next to the scripts. This is
     * the local-only engine; a distributed database loads the engine with sync
     * (`auroradb_sync_bg.wasm`, next to the scripts) when it opens.
     */
    static init(wasm) {
        return loadEngine(false, wasm).then(() => undefined);
    }

    /** Deletes the IndexedDB database `name` (one not open here). */
    static async deleteDatabase(name) {
        checkName(name);
        const m = await loadEngine(false);
        return m.deleteDatabase(name);
    }

    /**
     * Opens the database (creating or upgrading it) and dispatches `open`. `distributed` and
     * `peerId` override the configuration. Called again while open, it does nothing unless they
     * ask for another mode or peer id (see `_open`).
     */
    create(distributed, peerId) {
        // Checked as the configuration's `distributed` and `peerId` are: `create('yes')` is not
        // `create(true)`.
        const bad =
            distributed !== undefined && typeof distributed !== 'boolean'
                ? `create(distributed): distributed must be a boolean, not ${typeof distributed}`
                : peerId != null && typeof peerId !== 'string'
                  ? `create(distributed, peerId): peerId must be a string, not ${typeof peerId}`
                  : null;
        if (bad) return Promise.reject(failed(this, 'create', namedError('InvalidConfigError', bad)));
        const shuts = this._shuts;
        if (this._closing) {
            // The calls made after this create() wait for it, rather than fail as closed.
            // It opens right after that close: a close() or destroy() called after this create()
            // waits for it in turn (`_shut`), so the calls take effect in the order made.
            const reopen = this._closing.then(() => this._open(distributed, peerId, shuts));
            this._reopen = reopen;
            const settled = () => {
                if (this._reopen === reopen) this._reopen = null;
            };
            reopen.then(settled, settled);
            return reopen;
        }
        return this._open(distributed, peerId, shuts);
    }

    /**
     * `create()` once no close() or destroy() is in progress. On an open instance it does
     * nothing, unless it asks for what the instance is not (distributed or local-only, another
     * peer id): then the instance closes and opens again so (`close` and `open` events), and the
     * calls made after it wait for that. `shuts` is `_shuts` when create() was called.
     */
    _open(distributed, peerId, shuts) {
        if (this._core) {
            const dist = distributed === undefined ? this.isDistributed() : Boolean(distributed);
            const sameId = peerId == null || !dist || String(peerId) === this.getPeerId();
            if (dist === this.isDistributed() && sameId) return Promise.resolve(this);
            // Its failure is the create()'s to meet: the open after it reports the state.
            this.close().catch(() => {});
            return this.create(distributed, peerId);
        }
        if (this._opening && (distributed !== undefined || peerId != null) && this._shuts === shuts) {
            // An open is under way, and this asks for a mode or a peer id: once that open is
            // done (or failed), the instance is made what this asks for (see above).
            const again = () => this._open(distributed, peerId, shuts);
            return this._opening.then(again, again);
        }
        if (!this._opening) {
            const dist = distributed === undefined ? undefined : Boolean(distributed);
            if (dist !== undefined) this.config.distributed = dist;
            const id = peerId == null ? undefined : String(peerId);
            this._opening = loadEngine(Boolean(this.config.distributed))
                .catch((e) => {
                    throw failed(this, 'create', e);
                })
                .then((m) => m.AuroraCore.open(this.config, this, this.db, dist, id))
                .then(async (core) => {
                    this._core = core;
                    this._openedAt = shuts;
                    // A close() or destroy() called after the create() stays in force: the calls
                    // made after it fail as closed, and it closes this engine once it is open
                    // (a distributed one without starting its sync).
                    if (this._shuts !== shuts) return this;
                    this._closed = false;
                    if (core.distributed) await this._startSync(core, id ?? this.config.peerId);
                    return this;
                })
                .finally(() => {
                    this._opening = null;
                });
        }
        return this._opening;
    }

    /**
     * Starts peer-to-peer sync: loads the adapter named by `p2pAdapter` (a built-in's bundle is
     * imported the first time), creates it from the whole configuration, attaches the engine to
     * it, and starts connecting (without waiting: peers
     * come and go as `connection` and `disconnect` events). A database whose adapter cannot be
     * created runs local-only (`isDistributed()` is false) and says why in an `error` event; one
     * whose adapter cannot connect says so (`error` with type 'connection-failed'), keeps
     * working locally while the adapter retries (maxReconnectAttempts, reconnectDelay), and
     * `sync()` tries again.
     */
    async _startSync(core, peerId) {
        let adapter;
        try {
            const name = this.config.p2pAdapter ?? 'peerjs';
            if (!hasP2PAdapter(name)) {
                throw new P2PError(
                    'unknown-adapter',
                    `no P2P adapter named '${name}' (registered: ${listP2PAdapters().join(', ')})`,
                );
            }
            const AdapterClass = await loadP2PAdapter(name);
            // The engine reads the log's index, which opening leaves unloaded.
            if (this._core === core) await core.loadLog();
            // The database may have closed while the adapter or the index was loading.
            if (this._core !== core) return;
            const id = peerId == null ? core.author : String(peerId);
            adapter = new AdapterClass({ ...this.config, peerId: id }, this);
        } catch (error) {
            // Reported once the caller has had a chance to listen (create() resolves first).
            setTimeout(() => this._adapterError(error), 0);
            return;
        }
        this._adapter = adapter;
        core.attach(adapter.getId(), (to, bytes) => adapter.send(to, bytes));
        adapter.on('connection', ({ peerId: p }) => this._adapter === adapter && this._core?.peerUp(p));
        adapter.on('disconnect', ({ peerId: p }) => this._adapter === adapter && this._core?.peerDown(p));
        adapter.on('message', ({ from, data }) => this._adapter === adapter && this._core?.frame(from, data));
        adapter.on('error', (e) => this._adapter === adapter && this._adapterError(e));
        // The engine's clock: flood counters, stale sessions, anti-entropy every syncInterval.
        const interval = Number(this.config.syncInterval);
        const every = this.config.autoSync === false || !(interval > 0) ? 1000 : Math.min(1000, Math.max(50, interval));
        core.tick(Date.now());
        this._ticker = setInterval(() => this._core?.tick(Date.now()), every);
        // Connecting goes on in the background: the database works locally meanwhile.
        this._connectAdapter().then((connected) => {
            if (connected || this._adapter !== adapter) return;
            adapter.reconnect(
                async () => {
                    await adapter.connect();
                    await adapter.ready();
                },
                () => this._adapter !== adapter || adapter.isConnected,
            );
        });
    }

    /** One attempt to connect the adapter (shared by concurrent callers); resolves to success. */
    _connectAdapter() {
        const adapter = this._adapter;
        if (!adapter) return Promise.resolve(false);
        if (adapter.isConnected) return Promise.resolve(true);
        this._connecting ??= (async () => {
            try {
                await adapter.connect();
                await adapter.ready();
                return true;
            } catch (error) {
                if (this._adapter === adapter) this._adapterError(error);
                return false;
            } finally {
                this._connecting = null;
            }
        })();
        return this._connecting;
    }

    /** Dispatches an adapter's error as `error` { type, name, message, peerId, error, operation: 'p2p' }. */
    _adapterError(e) {
        const reason = e?.type ?? 'network';
        const type = CONNECTION_FAILURES.has(reason) ? 'connection-failed' : reason;
        const message = e?.message ?? String(e);
        const error = e instanceof Error ? e : new P2PError(reason, message, { peerId: e?.peerId });
        const detail = { type, reason, name: error.name, message, peerId: e?.peerId ?? null, error, operation: 'p2p' };
        this.dispatchEvent(new CustomEvent('error', { detail }));
    }

    /** Stops peer-to-peer sync: the timer, the engine's attachment, the adapter. */
    async _stopSync() {
        clearInterval(this._ticker);
        this._ticker = null;
        const adapter = this._adapter;
        this._adapter = null;
        this._core?.detach?.();
        if (adapter) {
            try {
                await adapter.destroy();
            } catch {
                // The adapter is dropped either way.
            }
        }
    }

    /** The engine, opening the database first if `create()` was not called yet. */
    async _engine(operation = 'open') {
        if (this._core && !this._closed) return this._core;
        // Called after a create() of a closed instance (or one that waits for a close() or
        // destroy()): runs once it opened, also if a close() called after this call has closed
        // the instance again meanwhile (that close waits for the calls made before it). A call
        // made after a close() that came after the create() fails below.
        const shuts = this._shuts;
        const reopening = this._reopen ?? this._opening;
        if (this._closed && reopening) {
            await reopening;
            if (this._core && (!this._closed || this._openedAt === shuts)) return this._core;
        }
        if (this._closed) {
            const message = `database ${JSON.stringify(this.name)} is closed: call create() to reopen it`;
            throw failed(this, operation, namedError('DatabaseClosedError', message));
        }
        await this.create();
        if (!this._core)
            throw namedError('DatabaseClosedError', `database ${JSON.stringify(this.name)} closed while opening`);
        return this._core;
    }

    /**
     * `f(core)` once the engine is open; `operation` names the call in the error of a closed
     * instance. With the engine open and no earlier call still waiting for it, `f` runs now, in
     * the call: a write reads its key and value then, as IndexedDB copies a value when `put` is
     * called (a change the page makes to the value after the call is not stored; a write that
     * waits for the engine has a copy, see _taken). Calls keep their order either way: one made
     * while earlier ones wait for the engine waits behind them.
     */
    _run(f, operation) {
        if (this._waiting === 0 && this._core && !this._closed) {
            try {
                return Promise.resolve(f(this._core));
            } catch (e) {
                return Promise.reject(e);
            }
        }
        this._waiting += 1;
        const engine = this._engine(operation);
        const run = (core) => {
            this._waiting -= 1;
            return f(core);
        };
        return engine.then(run, (e) => {
            this._waiting -= 1;
            throw e;
        });
    }

    /**
     * Calls the engine's method `name`: one of those the local-only engine leaves out (history,
     * time travel, the log, verify, export and import; about 42 KB gzipped of its .wasm). On that
     * engine, the call runs on a helper instance of the engine with sync (loaded the first time),
     * opened on the same database by the first such call and kept until the database closes
     * (`_helper`). The helper claims no author slot and joins no tab channel, and guards the
     * page's author as its own: an import cannot bring in ops in its name (`AuroraCore.open`'s
     * `helper`). A call waits for the calls made before it (a `catchUp` of this instance waits
     * its turn), then the helper catches up with what was committed, so it sees their writes.
     * After an import, this page's instance catches up with it, dispatches its changes with
     * `source: 'import'`, and tells the other tabs. The helper's `error` events (a failed call,
     * an import's forks) are dispatched here; its `open`, `close` and change events are not.
     */
    async _tool(name, ...args) {
        const core = await this._engine(name);
        if (typeof core[name] === 'function') return core[name](...args);
        const call = this._helperCall(core, name, args);
        // close() and destroy() let the calls made before them finish, as the engine does.
        this._toolCalls.add(call);
        const settled = () => this._toolCalls.delete(call);
        call.then(settled, settled);
        return call;
    }

    /** `_tool`'s call of `name` on the helper instance of `core`. */
    async _helperCall(core, name, args) {
        await core.catchUp();
        let helper = await this._helper(core);
        if (helper.closed) {
            // Closed on its own (another tab's upgrade or delete closes this instance too).
            this._helping = null;
            helper = await this._helper(core);
        }
        await helper.catchUp();
        if (name === 'importLog') return this._helperImport(core, helper, args);
        return helper[name](...args);
    }

    /**
     * `importLog` on the helper instance, one at a time. Its changes are the helper's, exact
     * whatever this page's instance holds (which can only guess about records it does not hold):
     * recorded as the helper dispatches them, and dispatched here with `source: 'import'` once
     * this page's instance has caught up with the import (`AuroraCore.catchUp`).
     */
    _helperImport(core, helper, args) {
        const run = async () => {
            const events = HELPER_EVENTS.get(helper);
            events.imported = [];
            // Whatever makes this page's instance catch up with the import's commit first (another
            // tab's note, a call of the application), its changes are told here, as the import's.
            core.holdForImport();
            let result;
            let failure;
            try {
                result = await helper.importLog(...args);
            } catch (e) {
                failure = e;
            }
            // A failed import wrote nothing, and dispatched nothing on the helper.
            const changes = events.imported;
            events.imported = null;
            if (this._core === core) {
                // Ends the hold: what other tabs committed meanwhile is dispatched with it.
                const caughtUp = core.catchUp(changes.map((c) => c.key));
                if (failure) await caughtUp.catch(() => {});
                else await caughtUp;
                dispatchChanges(this, changes, 'import');
            }
            if (failure) throw failure;
            return result;
        };
        const next = (this._importing ?? Promise.resolve()).then(run, run);
        this._importing = next.catch(() => {});
        return next;
    }

    /**
     * The helper instance that runs the log's tools for `core` (see `_tool`): opened by the first
     * call, kept while `core` is open (its log, once read, is caught up rather than read again),
     * closed with it. A helper that failed to open (the engine with sync could not be loaded) is
     * tried again by the next call.
     */
    _helper(core) {
        if (this._helping?.core !== core) {
            const events = new ToolEvents(this);
            const opening = loadEngine(true)
                .then(({ AuroraCore }) => AuroraCore.open(this.config, events, {}, false, undefined, core.author))
                .then((helper) => {
                    HELPER_EVENTS.set(helper, events);
                    return helper;
                });
            const helping = { core, opening };
            opening.catch(() => {
                if (this._helping === helping) this._helping = null;
            });
            this._helping = helping;
        }
        return this._helping.opening;
    }

    /** Waits for the calls on the helper instance, then closes it (see `_helper`). */
    async _finishHelper() {
        await Promise.allSettled([...this._toolCalls]);
        await this._closeHelper();
    }

    /** Closes the helper instance, if one was opened (see `_helper`). */
    async _closeHelper() {
        const helping = this._helping;
        this._helping = null;
        if (helping)
            await helping.opening.then(
                (helper) => helper.close(),
                () => {},
            );
    }

    /** `add(key, value)` stores `value` under `key` (create or update); `add(value)` takes the
     *  key from the `keyPath` field. Resolves to the key. */
    add(key, value) {
        // biome-ignore lint/complexity/noArguments: the arity tells add(value) from add(key, undefined)
        if (arguments.length < 2) {
            const taken = this._taken(key);
            return this._run((core) => core.add(taken), 'add');
        }
        const taken = this._taken(value);
        return this._run((core) => core.addPair(key, taken), 'add');
    }

    /** Same as `add(key, value)`. */
    put(key, value) {
        const taken = this._taken(value);
        return this._run((core) => core.put(key, taken), 'put');
    }

    /**
     * What a write was given, as it is now: the value itself when the write reads it in the
     * call (see _run), else a copy, so that changes made while the write waits for the engine to
     * open are not stored. A value the engine takes now (`plainCopy` says so) is copied as
     * IndexedDB copies it (a structured clone: `beforeSet` sees bigints, buffers and `-0` as
     * given), or as the engine stores it where that cannot be cloned (a proxy). A value the
     * engine refuses now is kept in a form that it still refuses: its structured clone when that
     * is refused too (a `NaN`, a cycle, a `Date`: the clone keeps them), else the value itself (a
     * class instance, symbol keys, a function, which a clone would drop or cannot hold).
     */
    _taken(value) {
        if (this._waiting === 0 && this._core && !this._closed) return value;
        const copy = plainCopy(value);
        let clone;
        try {
            clone = structuredClone(value);
        } catch {
            return copy ?? value;
        }
        if (copy !== undefined) return clone;
        return plainCopy(clone) === undefined ? clone : value;
    }

    /**
     * `batchSet`'s entries as they are now (see `_taken`): read as the engine reads them (an
     * array by index, another iterable through its iterator, each `[key, value]` pair's items),
     * each value copied. What throws as it is read is read again by the engine as throwing,
     * which refuses the batch as it would have now.
     */
    _takenEntries(entries) {
        if (this._waiting === 0 && this._core && !this._closed) return entries;
        const throwing = (error) => {
            const pair = [undefined, undefined];
            Object.defineProperty(pair, 0, {
                get() {
                    throw error;
                },
            });
            return pair;
        };
        let items;
        try {
            if (Array.isArray(entries)) items = Array.from({ length: entries.length }, (_, i) => entries[i]);
            else if (entries !== null && typeof entries === 'object' && Symbol.iterator in entries)
                items = [...entries];
            else return entries;
        } catch (error) {
            return {
                [Symbol.iterator]() {
                    throw error;
                },
            };
        }
        return items.map((item) => {
            try {
                // A pair, its value copied; another array, copied (it stays no pair); anything
                // else can never become a pair.
                if (!Array.isArray(item)) return item;
                return item.length === 2 ? [item[0], this._taken(item[1])] : Array.from(item);
            } catch (error) {
                return throwing(error);
            }
        });
    }

    /** The value under `key`, or `undefined`. */
    get(key) {
        return this._run((core) => core.get(key), 'get');
    }

    /** Every value, in key order. */
    all() {
        return this._run((core) => core.all(), 'all');
    }

    /** Every key, in order. */
    keys() {
        return this._run((core) => core.keys(), 'keys');
    }

    /** Number of records. */
    count() {
        return this._run((core) => core.count(), 'count');
    }

    /** Deletes `key`; resolves to whether it was there. */
    remove(key) {
        return this._run((core) => core.remove(key), 'remove');
    }

    /** Deletes every record; resolves to how many there were. */
    clear() {
        return this._run((core) => core.clear(), 'clear');
    }

    /** The values for which `predicate(value, key)` is truthy, in key order. */
    filter(predicate) {
        return this._run((core) => core.filter(predicate), 'filter');
    }

    /** Values `start..end` in key order (`Array.prototype.slice` rules). */
    slice(start, end) {
        // The arguments are converted as Array.prototype.slice converts them (ToNumber: valueOf,
        // strings); a symbol or a BigInt, which it refuses, is an InvalidInputError.
        let bounds;
        try {
            bounds = [start, end].map((v) => {
                if (typeof v === 'symbol' || typeof v === 'bigint') throw new TypeError(`not a number: ${typeof v}`);
                return v === undefined ? undefined : Number(v);
            });
        } catch (e) {
            const error = namedError('InvalidInputError', `slice() needs numbers: ${e.message}`);
            return Promise.reject(failed(this, 'slice', error));
        }
        return this._run((core) => core.slice(bounds[0], bounds[1]), 'slice');
    }

    /** Whether `predicate(value, key)` is truthy for every record. */
    every(predicate) {
        return this._run((core) => core.every(predicate), 'every');
    }

    /** The values whose field `index` (a configured index) equals `value`. */
    findBy(index, value) {
        return this._run((core) => core.findBy(index, value), 'findBy');
    }

    /** The values whose field `index` is within `{ gt, gte, lt, lte }`, by that field. */
    findRange(index, range) {
        return this._run((core) => core.findRange(index, range), 'findRange');
    }

    /**
     * Runs `callback(tx)` and commits what it wrote as one atomic write: `tx.entries[k] = v`,
     * `delete tx.entries[k]`, `await tx.entries[k]`. A throw inside writes nothing.
     */
    transaction(callback) {
        if (typeof callback !== 'function') return this._run((core) => core.transaction(callback), 'transaction');
        // Until its callback starts, a close() or destroy() called meanwhile waits for it (`_shut`).
        const waiting = { started: false, done: null };
        const run = (tx) => {
            waiting.started = true;
            return this._unlessShut(callback, tx);
        };
        const done = this._run((core) => core.transaction(run), 'transaction');
        waiting.done = done;
        this._queuedTransactions.add(waiting);
        const settled = () => this._queuedTransactions.delete(waiting);
        done.then(settled, settled);
        return done;
    }

    /**
     * Runs a transaction's callback. If `close()` or `destroy()` is called before it settles
     * (from inside it, awaited or not, too), the transaction commits nothing and rejects with
     * `DatabaseClosedError` (thrown here, which aborts it), without waiting for a callback that
     * never settles.
     */
    async _unlessShut(callback, tx) {
        // Fired by a close() or destroy(); forgotten when the callback settles first, so nothing
        // of a finished transaction stays reachable.
        let shutNow = false;
        let resolve;
        const shut = new Promise((r) => {
            resolve = r;
        });
        const fire = () => {
            shutNow = true;
            resolve();
        };
        this._shutting.add(fire);
        let out;
        try {
            out = await Promise.race([callback(tx), shut]);
        } finally {
            this._shutting.delete(fire);
        }
        // Also when the callback's value won the race, the close() having come before it settled.
        if (shutNow) {
            const message = `database ${JSON.stringify(this.name)} was closed while the transaction's callback ran`;
            throw namedError('DatabaseClosedError', message);
        }
        return out;
    }

    /** Every op that wrote `key`, oldest first, with its author and outcome. */
    history(key) {
        return this._tool('history', key);
    }

    /** A read-only view of the database at `time` (ms, Date, or op id). */
    at(time) {
        return this._tool('at', time);
    }

    /** What changed between the state at `from` and the state at `to`. */
    diff(from, to) {
        return this._tool('diff', from, to);
    }

    /** The ops of the log, optionally `{ from, to }` (ms, Date or op id; inclusive). */
    log(options) {
        if (typeof options === 'object' && options !== null) {
            // Read here, once: a misspelt option, an array or a throwing getter would otherwise
            // mean the whole log.
            try {
                if (Array.isArray(options)) throw new TypeError('not an array');
                const unknown = Object.keys(options).find((k) => k !== 'from' && k !== 'to');
                if (unknown !== undefined) throw new TypeError(`no option ${JSON.stringify(unknown)}`);
                options = { from: options.from, to: options.to };
            } catch (e) {
                const error = namedError('InvalidInputError', `log() takes { from, to }: ${e.message}`);
                return Promise.reject(failed(this, 'log', error));
            }
        }
        return this._tool('log', options);
    }

    /** Recomputes every hash and chain and checks the state against the log. */
    verify() {
        return this._tool('verify');
    }

    /** The whole log as a self-checking file (`Uint8Array`). */
    exportLog() {
        return this._tool('exportLog');
    }

    /** Merges a log file made by `exportLog()`, all or nothing. */
    importLog(bytes) {
        return this._tool('importLog', bytes);
    }

    /** Writes a checkpoint of the current state; resolves to its op id. */
    checkpoint() {
        return this._run((core) => core.checkpoint(), 'checkpoint');
    }

    /** Statistics (synchronous). */
    getStats() {
        if (this._core) return this._core.stats();
        return {
            name: this.name,
            version: this.config.version,
            keyPath: this.config.keyPath,
            indexes: this.config.indexes,
            syncStrategy: this.config.syncStrategy,
            peerId: null,
            distributed: Boolean(this.config.distributed),
            connections: 0,
            open: false,
            records: 0,
            ops: 0,
        };
    }

    /**
     * Syncs with every connected peer (connecting the adapter first if it is not connected):
     * resolves to `{ peers, sent, received }` once every session has completed or been
     * abandoned, and dispatches `sync` with the same detail.
     */
    async sync() {
        const core = await this._engine('sync');
        if (this._adapter && !this._adapter.isConnected) await this._connectAdapter();
        // The local-only engine has no sync methods: its answer is that of an engine without peers.
        return core.sync ? core.sync() : { peers: 0, sent: 0, received: 0 };
    }

    /**
     * Pushes the local writes that have not reached a peer yet (written while no peer was
     * connected, or with `autoSync: false`); resolves to the number of peers they were sent to.
     */
    async post() {
        return (await this._engine('post')).post?.() ?? 0;
    }

    /** Starts a reconciliation round with every connected peer; resolves to how many. */
    async fetch() {
        return (await this._engine('fetch')).fetch?.() ?? 0;
    }

    /** Whether this database syncs with peers (`distributed`, and its adapter could start). */
    isDistributed() {
        if (this._core) return Boolean(this._core.attached);
        return Boolean(this.config.distributed);
    }

    /** Number of peers this database syncs with now. */
    getConnectionCount() {
        return this._core?.connections ?? 0;
    }

    /**
     * The identity this instance signs its ops with (`null` before `create()`):
     * `{ author, publicKey, secretKey }`. Keep `secretKey` somewhere safe and pass it back as the
     * `identity` option to write as the same author again.
     */
    getIdentity() {
        return this._core ? this._core.identity() : null;
    }

    /** This peer's id on the network (`null` before `create()`). */
    getPeerId() {
        return this._core ? this._core.peerId() : null;
    }

    /** Closes the database (and its P2P adapter) and dispatches `close`. */
    close() {
        return this._shut(false);
    }

    /** Closes the database (and its P2P adapter) and deletes it from IndexedDB. */
    destroy() {
        return this._shut(true);
    }

    /**
     * `close()`, or `destroy()` with `destroy`. The calls made before it finish; those made after
     * it fail with `DatabaseClosedError` (a write called after `destroy()` is never acknowledged
     * and then deleted), and a `create()` made after it opens once it is done.
     */
    _shut(destroy) {
        this._closed = true;
        this._shuts += 1;
        // Transactions whose callbacks run now commit nothing (`_unlessShut`). Those called before
        // this whose callbacks have not started yet are calls made before it: they run and commit
        // first.
        for (const fire of this._shutting) fire();
        this._shutting.clear();
        const queued = [...this._queuedTransactions].filter((t) => !t.started).map((t) => t.done);
        // A create() waiting for an earlier close() runs first, then this: the calls take effect
        // in the order made. The calls made after this wait for no earlier create().
        const before = this._reopen;
        this._reopen = null;
        const shut = (async () => {
            if (before) await before.catch(() => {});
            if (this._opening) await this._opening.catch(() => {});
            await Promise.allSettled(queued);
            // A create() made before this one, and opened since, has set it back.
            this._closed = true;
            await this._stopSync();
            await this._finishHelper();
            if (this._core) {
                await (destroy ? this._core.destroy() : this._core.close());
            } else if (destroy) {
                await AuroraDB.deleteDatabase(this.name);
            }
        })();
        // Settles with it, whatever its outcome, and is forgotten then.
        const done = shut
            .catch(() => {})
            .then(() => {
                if (this._closing === done) this._closing = null;
            });
        this._closing = done;
        return shut;
    }
}

export { AuroraStore };
export default AuroraDB;
