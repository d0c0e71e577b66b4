// The P2P adapter contract, its base class and the adapter registry.
//
// An adapter moves opaque binary frames (Uint8Array) between peer ids and reports which peers
// are reachable. It knows nothing of the database: whatever runs the sync protocol listens to
// its events and calls send/broadcast.
//
// Contract (what AuroraDB calls; the README's custom adapter implements exactly these):
//
//   connect()                → Promise   attach to the network; built-ins resolve once 'open' was emitted
//   send(peerId, data)       → boolean   true: handed to the transport (or queued for a resend)
//   broadcast(data)          → number    how many peers it was sent to
//   listPeers()              → Promise<string[]>  peers the network knows of (may be more than connected)
//   connectToPeer(peerId)    → Promise<connection>
//   disconnect()             → Promise   leave the network; peers see 'disconnect'
//   destroy()                → Promise   disconnect and drop every listener
//
// Events (`on(event, fn)`, payloads as shown):
//
//   'open'         id                       attached (again, after a reconnect)
//   'peer'         { peerId }               a peer was discovered (not necessarily connected yet)
//   'connection'   { peerId }               a peer is connected: frames can flow both ways
//   'message'      { from, data, connection }  a frame from a connected peer; data is a Uint8Array
//   'disconnect'   { peerId, reason }       a connected peer went away
//   'reconnecting' { attempt, delay }       the server connection was lost; next try in `delay` ms
//   'error'        { type, message, peerId? }  see P2PError for the types
//   'close'        undefined                detached for good (disconnect(), or reconnecting gave up)
//
// Adapters that cannot tell when peers come and go (like the README's custom adapter, which
// only emits 'open' and 'message') get presence from this base class: after 'open' it
// broadcasts small control frames (magic 'AUp2', version, kind) every heartbeatInterval and
// expires peers not heard from for peerTimeout. An adapter that tracks presence itself sets
// `static managesPresence = true` and calls peerUp/peerDown.

import {
  P2PError,
  isValidPeerId,
  randomId,
  resolveSettings,
  retryWithBackoff,
  shared,
  toBytes,
  withTimeout,
} from './util.js';

/** Magic bytes of the base class's presence frames ('AUp2'). */
export const CONTROL_MAGIC = Uint8Array.of(0x41, 0x55, 0x70, 0x32);
/** Version byte of the presence frames. */
export const CONTROL_VERSION = 1;
/** Kinds of presence frames. */
export const ControlKind = Object.freeze({ HELLO: 1, PING: 2, BYE: 3 });

/** A presence frame of `kind` (magic, version, kind: 6 bytes). */
export function controlFrame(kind) {
  const out = new Uint8Array(6);
  out.set(CONTROL_MAGIC, 0);
  out[4] = CONTROL_VERSION;
  out[5] = kind;
  return out;
}

/** The kind of a presence frame, or 0 when `bytes` is not one. */
export function parseControlFrame(bytes) {
  if (bytes.length !== 6 || bytes[4] !== CONTROL_VERSION) return 0;
  for (let i = 0; i < 4; i++) if (bytes[i] !== CONTROL_MAGIC[i]) return 0;
  return Object.values(ControlKind).includes(bytes[5]) ? bytes[5] : 0;
}

/**
 * Base class of every adapter: events, settings, the table of connected peers, reconnects.
 * One class per page, whichever bundle defines it first (see `shared` in util.js).
 */
shared().P2PAdapter ??= class P2PAdapter {
  /** True for adapters that call peerUp/peerDown themselves (all the built-in ones). */
  static managesPresence = false;

  /**
   * @param config the AuroraDB config (name, p2pConfig, server, rtcConfig, maxConnections,
   *   timeout/connectionTimeout, peerConnectionTimeout, maxReconnectAttempts, reconnectDelay,
   *   retryAttempts, peerId, debug); see resolveSettings in util.js for what is read.
   * @param db the database that owns the adapter, if any (adapters do not need it).
   */
  constructor(config = {}, db = null) {
    this.config = config || {};
    this.db = db;
    this.settings = resolveSettings(this.config);
    if (this.settings.peerId != null && !isValidPeerId(this.settings.peerId)) {
      throw new P2PError(
        'invalid-config',
        `invalid peer id ${JSON.stringify(this.settings.peerId)}: letters and digits, single '-', '_' or spaces between them, at most 128 characters`,
      );
    }
    this.id = this.settings.peerId ?? randomId();
    this.isConnected = false;
    this._listeners = new Map();
    this._peers = new Map();
    this._seen = new Set();
    this._presenceTimer = null;
    this._reconnecting = false;
  }

  /** This peer's id. */
  getId() {
    return this.id;
  }

  // ---- events ------------------------------------------------------------------------------

  /** Adds a listener; returns this. */
  on(event, fn) {
    if (typeof fn !== 'function') throw new TypeError('listener must be a function');
    if (!this._listeners.has(event)) this._listeners.set(event, new Set());
    this._listeners.get(event).add(fn);
    return this;
  }

  /** Removes a listener (or every listener of `event` when `fn` is omitted); returns this. */
  off(event, fn) {
    if (fn === undefined) this._listeners.delete(event);
    else this._listeners.get(event)?.delete(fn);
    return this;
  }

  /** Adds a listener called at most once; returns this. */
  once(event, fn) {
    const wrapper = (payload) => {
      this.off(event, wrapper);
      fn(payload);
    };
    return this.on(event, wrapper);
  }

  /**
   * Emits an event. 'message' payloads go through the peer table first: the data becomes a
   * Uint8Array (frames over maxFrameBytes are refused), presence frames are consumed here, and
   * for adapters without presence of their own a frame from a peer not yet connected connects
   * it (within maxConnections) before it is delivered. 'open' starts the base class's presence
   * for those adapters. Returns true when a listener was called.
   */
  emit(event, payload) {
    if (event === 'message') return this._receive(payload);
    if (event === 'open' && !this.constructor.managesPresence) this._startPresence();
    return this._dispatch(event, payload);
  }

  _dispatch(event, payload) {
    const set = this._listeners.get(event);
    if (this.settings.debug) console.debug(`[p2p ${this.id.slice(0, 8)}] ${event}`, payload ?? '');
    if (!set || set.size === 0) return false;
    for (const fn of [...set]) {
      try {
        fn(payload);
      } catch (err) {
        if (event === 'error') console.error('P2P error listener threw:', err);
        else
          this._dispatch('error', { type: 'listener', message: `a '${event}' listener threw: ${err?.message ?? err}` });
      }
    }
    return true;
  }

  /** Emits 'error' with `{ type, message, ...details }`. */
  emitError(type, message, details = {}) {
    this._dispatch('error', { type, message, ...details });
  }

  _receive(payload) {
    const from = payload?.from;
    if (typeof from !== 'string' || !from || from === this.id) return false;
    const data = toBytes(payload.data);
    if (data === null) {
      this.emitError('invalid-frame', `a frame from ${from} is not binary data`, { peerId: from });
      return false;
    }
    if (data.length > this.settings.maxFrameBytes) {
      this.emitError(
        'invalid-frame',
        `a frame of ${data.length} bytes from ${from} is over maxFrameBytes (${this.settings.maxFrameBytes})`,
        { peerId: from },
      );
      return false;
    }
    const kind = parseControlFrame(data);
    if (kind) {
      if (!this.constructor.managesPresence) this._onControl(from, kind);
      return false;
    }
    if (!this._peers.has(from)) {
      // Adapters with presence deliver frames of connected peers only; for the others a frame
      // is the sign of life that connects its sender.
      if (this.constructor.managesPresence || !this.peerUp(from, payload.connection ?? null)) return false;
    }
    this._peers.get(from).lastSeen = Date.now();
    return this._dispatch('message', {
      from,
      data,
      connection: payload.connection ?? this._peers.get(from).connection,
    });
  }

  // ---- the peer table ----------------------------------------------------------------------

  /** Ids of the connected peers. */
  getPeers() {
    return [...this._peers.keys()];
  }

  /** How many peers are connected. */
  getConnectionCount() {
    return this._peers.size;
  }

  /** True when `peerId` is connected. */
  isPeerConnected(peerId) {
    return this._peers.has(peerId);
  }

  /** The connection object of a connected peer, or null. */
  getConnection(peerId) {
    return this._peers.get(peerId)?.connection ?? null;
  }

  /** True when another peer fits under maxConnections. */
  hasRoom() {
    return this._peers.size < this.settings.maxConnections;
  }

  /** Records a discovered peer; emits 'peer' the first time. */
  peerFound(peerId) {
    if (peerId === this.id || this._seen.has(peerId)) return;
    this._seen.add(peerId);
    this._dispatch('peer', { peerId });
  }

  /** Forgets a discovered peer (so it is announced again when it comes back). */
  peerGone(peerId) {
    this._seen.delete(peerId);
  }

  /**
   * Marks a peer connected and emits 'connection' (once). Returns false, emitting a
   * 'max-connections' error, when maxConnections peers are connected already.
   */
  peerUp(peerId, connection = null) {
    if (peerId === this.id) return false;
    const known = this._peers.get(peerId);
    if (known) {
      if (connection) known.connection = connection;
      known.lastSeen = Date.now();
      return true;
    }
    if (!this.hasRoom()) {
      this.emitError(
        'max-connections',
        `refused ${peerId}: ${this.settings.maxConnections} peers connected (maxConnections)`,
        { peerId },
      );
      return false;
    }
    this.peerFound(peerId);
    this._peers.set(peerId, { connection, lastSeen: Date.now() });
    this._dispatch('connection', { peerId });
    return true;
  }

  /** Marks a peer gone and emits 'disconnect' (once). Returns true when it was connected. */
  peerDown(peerId, reason = 'closed') {
    if (!this._peers.delete(peerId)) return false;
    this._dispatch('disconnect', { peerId, reason });
    return true;
  }

  /** Marks every peer gone. */
  allPeersDown(reason = 'closed') {
    for (const peerId of [...this._peers.keys()]) this.peerDown(peerId, reason);
  }

  /**
   * Runs `attempt(n)` (n = 0 first) to deliver one frame to `peerId`; when it throws or its
   * promise rejects, runs it again after retryDelay·n ms, at most retryAttempts more times,
   * then emits 'error' { type: 'send-failed', peerId }. Returns false only when the first try
   * failed at once and no resend is allowed; true otherwise (sent, or queued for a resend).
   * Resent frames may arrive after frames sent later.
   */
  sendWithRetry(peerId, attempt) {
    const fail = (n, err) => {
      if (n >= this.settings.retryAttempts) {
        this.emitError('send-failed', `frame to ${peerId} not delivered after ${n + 1} tries: ${err?.message ?? err}`, {
          peerId,
        });
        return false;
      }
      setTimeout(() => run(n + 1), this.settings.retryDelay * (n + 1));
      return true;
    };
    const run = (n) => {
      let result;
      try {
        result = attempt(n);
      } catch (err) {
        return fail(n, err);
      }
      if (result && typeof result.then === 'function') result.then(null, (err) => fail(n, err));
      return true;
    };
    return run(0);
  }

  // ---- lifecycle helpers -------------------------------------------------------------------

  /**
   * Resolves with the id once the adapter is connected ('open'); rejects with
   * P2PError('timeout') after `timeout` ms (connectionTimeout by default).
   */
  ready(timeout = this.settings.connectionTimeout) {
    if (this.isConnected) return Promise.resolve(this.id);
    let listener;
    const opened = new Promise((resolve) => {
      listener = (id) => resolve(id ?? this.id);
      this.on('open', listener);
    });
    return withTimeout(opened, timeout, `not connected within ${timeout} ms`).finally(() => this.off('open', listener));
  }

  /**
   * Resolves with the connection once `peerId` is connected; rejects with
   * P2PError('timeout') after `timeout` ms (peerConnectionTimeout by default).
   */
  waitForPeer(peerId, timeout = this.settings.peerConnectionTimeout) {
    if (this.isPeerConnected(peerId)) return Promise.resolve(this.getConnection(peerId));
    let listener;
    const connected = new Promise((resolve) => {
      listener = (e) => e.peerId === peerId && resolve(this.getConnection(peerId));
      this.on('connection', listener);
    });
    return withTimeout(connected, timeout, `peer ${peerId} not connected within ${timeout} ms`).finally(() =>
      this.off('connection', listener),
    );
  }

  /**
   * For adapters whose link to the network dropped unexpectedly: marks the adapter and every
   * peer disconnected, then reconnects with backoff (reconnectDelay, doubling, at most
   * maxReconnectAttempts tries, each bounded by connectionTimeout) by calling connect() again.
   * Ignored while isConnected is already false (the adapter disconnected on purpose, or a
   * reconnect is under way). Emits 'close' when every attempt failed.
   */
  connectionLost(reason = 'connection lost') {
    if (!this.isConnected) return;
    this.isConnected = false;
    this._stopPresence();
    this.allPeersDown(reason);
    this.emitError('network', reason);
    this.reconnect(async () => {
      await this.connect();
      await this.ready();
    });
  }

  /**
   * Runs `attempt` with backoff until it succeeds (see connectionLost). `isCancelled` stops
   * the loop (built-ins pass their "closing on purpose" flag). When every attempt failed it
   * emits 'error', then 'close' unless `closeOnGiveUp` is false (adapters whose peer links
   * outlive the server connection). Resolves true on success.
   */
  async reconnect(attempt, isCancelled = () => false, { closeOnGiveUp = true } = {}) {
    if (this._reconnecting) return false;
    this._reconnecting = true;
    try {
      await retryWithBackoff(this.settings, attempt, {
        onWait: (n, delay) => this._dispatch('reconnecting', { attempt: n, delay }),
        isCancelled,
      });
      return true;
    } catch (err) {
      if (!isCancelled()) {
        this.emitError(
          'network',
          `gave up reconnecting after ${this.settings.maxReconnectAttempts} attempts: ${err?.message ?? err}`,
        );
        if (closeOnGiveUp) this._dispatch('close');
      }
      return false;
    } finally {
      this._reconnecting = false;
    }
  }

  // ---- presence for adapters that do not manage it -----------------------------------------

  _startPresence() {
    this._stopPresence();
    this._trySend(() => this.broadcast(controlFrame(ControlKind.HELLO)));
    this._presenceTimer = setInterval(() => this._presenceTick(), this.settings.heartbeatInterval);
  }

  _stopPresence() {
    if (this._presenceTimer !== null) clearInterval(this._presenceTimer);
    this._presenceTimer = null;
  }

  _presenceTick() {
    if (!this.isConnected) {
      // The adapter disconnected (its disconnect() cleared isConnected): wind down.
      this._stopPresence();
      this.allPeersDown('closed');
      this._dispatch('close');
      return;
    }
    const limit = Date.now() - this.settings.peerTimeout;
    for (const [peerId, entry] of [...this._peers]) {
      if (entry.lastSeen < limit) this.peerDown(peerId, 'timeout');
    }
    this._trySend(() => this.broadcast(controlFrame(ControlKind.PING)));
  }

  _onControl(from, kind) {
    if (kind === ControlKind.BYE) {
      this.peerDown(from, 'bye');
      this.peerGone(from);
      return;
    }
    if (!this.peerUp(from, null)) return;
    this._peers.get(from).lastSeen = Date.now();
    // Answer a (re)starting peer at once, so it need not wait for our next heartbeat.
    if (kind === ControlKind.HELLO) this._trySend(() => this.send(from, controlFrame(ControlKind.PING)));
  }

  _trySend(fn) {
    try {
      return fn();
    } catch (err) {
      this.emitError('send-failed', `presence frame not sent: ${err?.message ?? err}`);
      return false;
    }
  }

  // ---- the contract (subclasses implement it) ----------------------------------------------

  /** Attaches to the network. */
  async connect() {
    throw new P2PError('not-implemented', `${this.constructor.name} does not implement connect()`);
  }

  /** Sends a frame to one peer. */
  send(_peerId, _data) {
    throw new P2PError('not-implemented', `${this.constructor.name} does not implement send()`);
  }

  /** Sends a frame to every connected peer. */
  broadcast(_data) {
    throw new P2PError('not-implemented', `${this.constructor.name} does not implement broadcast()`);
  }

  /** Peers the network knows of; by default the connected ones. */
  async listPeers() {
    return this.getPeers();
  }

  /** The connection to a peer; by default the one in the peer table. */
  async connectToPeer(peerId) {
    const connection = this.getConnection(peerId);
    if (!this.isPeerConnected(peerId)) throw new P2PError('peer-unavailable', `not connected to ${peerId}`, { peerId });
    return connection;
  }

  /** Leaves the network. */
  async disconnect() {
    throw new P2PError('not-implemented', `${this.constructor.name} does not implement disconnect()`);
  }

  /** Disconnects and drops every listener. */
  async destroy() {
    try {
      await this.disconnect();
    } finally {
      this._stopPresence();
      this._peers.clear();
      this._listeners.clear();
    }
  }
};
export const P2PAdapter = shared().P2PAdapter;

/**
 * The adapter registry of one copy of AuroraDB: name → `{ cls }` for a class at hand, or
 * `{ cls: null, load }` for a built-in adapter whose bundle is imported the first time a
 * database picks it (so a page that never syncs loads none of them).
 */
const registry = new Map();

function checkAdapterClass(name, cls) {
  if (typeof cls !== 'function' || !(cls.prototype instanceof P2PAdapter)) {
    throw new P2PError('invalid-adapter', `adapter '${name}' must be a class that extends P2PAdapter`);
  }
}

/**
 * Registers an adapter class under `name` (re-registering a name replaces the class and keeps
 * its place in the list). The class must extend P2PAdapter. Returns the class.
 */
export function registerP2PAdapter(name, cls) {
  if (typeof name !== 'string' || name.length === 0) {
    throw new P2PError('invalid-adapter', 'adapter name must be a non-empty string');
  }
  checkAdapterClass(name, cls);
  registry.set(name, { cls, load: null });
  return cls;
}

/**
 * Registers `name` for an adapter class that `load()` resolves to when a database first needs
 * it (a name registered already keeps its class).
 */
export function registerLazyP2PAdapter(name, load) {
  if (!registry.has(name)) registry.set(name, { cls: null, load });
}

/** Names of the registered adapters, in registration order (built-ins first). */
export function listP2PAdapters() {
  return [...registry.keys()];
}

/** True when an adapter is registered under `name` (loaded or not). */
export function hasP2PAdapter(name) {
  return registry.has(name);
}

/** The adapter class registered under `name`, or undefined (also while it is not loaded yet). */
export function getP2PAdapter(name) {
  return registry.get(name)?.cls ?? undefined;
}

/**
 * Resolves to the adapter class registered under `name`, loading it first when it is a lazy
 * built-in. Rejects with P2PError 'unknown-adapter' for a name not registered, 'network' when
 * the adapter's bundle cannot be loaded.
 */
export async function loadP2PAdapter(name) {
  const entry = registry.get(name);
  if (!entry) {
    throw new P2PError(
      'unknown-adapter',
      `no P2P adapter named '${name}' (registered: ${listP2PAdapters().join(', ') || 'none'})`,
    );
  }
  if (entry.cls) return entry.cls;
  entry.loading ??= entry.load().then(
    (cls) => {
      checkAdapterClass(name, cls);
      // The name may have been registered again meanwhile: that class wins.
      if (registry.get(name) === entry) entry.cls = cls;
      return registry.get(name)?.cls ?? cls;
    },
    (err) => {
      entry.loading = null;
      throw new P2PError('network', `cannot load the '${name}' adapter: ${err?.message ?? err}`);
    },
  );
  return entry.loading;
}

/** A new, not yet connected adapter of the class registered under `name` (loaded already). */
export function createAdapter(name, config = {}, db = null) {
  const entry = registry.get(name);
  if (!entry) {
    throw new P2PError(
      'unknown-adapter',
      `no P2P adapter named '${name}' (registered: ${listP2PAdapters().join(', ') || 'none'})`,
    );
  }
  if (!entry.cls)
    throw new P2PError('not-loaded', `the '${name}' adapter is not loaded yet: await loadP2PAdapter('${name}') first`);
  return new entry.cls(config, db);
}
