// Types of the AuroraDB JavaScript API: the ES module pkg/auroradb.mjs (scripts/build-web.sh
// copies this file to pkg/auroradb.d.mts). The classic script pkg/auroradb.js defines the same
// class as the global `AuroraDB` (typed by pkg/auroradb.d.ts). tests/types/ type-checks both
// against how a caller uses them (`tsc -p tsconfig.json`, the test command's `js` step).

/**
 * Plain data: what can be stored. An `ArrayBuffer` is stored as bytes and comes back as a
 * `Uint8Array`; object fields holding `undefined` are left out.
 */
export type AuroraValue =
    | null
    | boolean
    | number
    | bigint
    | string
    | Uint8Array
    | ArrayBuffer
    | AuroraValue[]
    | { [field: string]: AuroraValue | undefined };

/** A field of a stored value, checked by its declared type: what {@link Storable} maps. */
type StorableField<T> = 0 extends 1 & T
    ? any
    : unknown extends T
      ? unknown
      : T extends null | boolean | number | bigint | string | Uint8Array | ArrayBuffer | undefined
        ? T
        : T extends ArrayBufferView | ((...args: never) => unknown) | (abstract new (...args: never) => unknown)
          ? never
          : T extends Date | RegExp | Promise<unknown> | symbol
            ? never
            : T extends
                    | ReadonlyMap<unknown, unknown>
                    | ReadonlySet<unknown>
                    | WeakMap<object, unknown>
                    | WeakSet<object>
              ? never
              : T extends ReadonlyArray<infer E>
                ? ReadonlyArray<StorableItem<E>>
                : { [K in keyof T]: K extends string | number ? StorableField<T[K]> : never };

/** An array's item: never `undefined` (an array holding one is refused). */
type StorableItem<E> = E extends undefined ? never : StorableField<E>;

/**
 * What a write accepts besides an {@link AuroraValue}, checked against the value's own type:
 * `T & Storable<T>` is `T` when `T` is plain data, `never` when a field is not (a function, a
 * `Date`, a `Map`...). It takes records typed by an `interface`, which have no index signature
 * and so are no `AuroraValue`. `any` passes; a value of type `unknown` must be an `AuroraValue`
 * (a field of type `unknown` is left to the engine's check).
 */
export type Storable<T> = 0 extends 1 & T
    ? any
    : unknown extends T
      ? AuroraValue
      : T extends undefined
        ? never
        : StorableField<T>;

export interface IndexConfig {
    /** The top-level field indexed. */
    name: string;
    /** Refuse a write that gives two records the same value of the field. */
    unique?: boolean;
}

export type SyncStrategy = 'timestamp' | 'version' | 'merge' | 'local-wins' | 'remote-wins';

/**
 * When a write resolves: 'strict' once IndexedDB has flushed it to the disk (it survives a power
 * loss), 'relaxed' once the operating system has it (it survives a crash of the browser).
 */
export type Durability = 'strict' | 'relaxed';

/** A signing identity (ed25519): the author id derives from the public key. */
export interface AuroraIdentity {
    /** The author id of the ops it signs (32 hex digits). */
    author: string;
    /** The public key (64 hex digits). */
    publicKey: string;
    /** The secret key: give it back as the `identity` option to write as this author again. */
    secretKey: Uint8Array;
}

export interface AuroraConfig {
    /** Database name (the IndexedDB database name). */
    name: string;
    /** Schema version: raise it to add or remove indexes (data is kept). Default 1. */
    version?: number;
    /** Field holding the key, for `add(value)`. */
    keyPath?: string | null;
    /** Secondary indexes on top-level fields. */
    indexes?: Array<IndexConfig | string>;
    /** Conflict strategy. Default 'timestamp'. */
    syncStrategy?: SyncStrategy;
    /** Write a checkpoint every this many ops (0: only on `checkpoint()`). Default 1000. */
    checkpointEvery?: number;
    /** The `durability` of every IndexedDB transaction that writes. Default 'relaxed'. */
    durability?: Durability;
    /** The largest op a write may make, in bytes (8192 to 2^30): a larger write rejects with `OpTooLargeError`. Default 16 MiB. */
    maxOpBytes?: number;
    /**
     * How far ahead of this page's clock an op from a peer or a log file may be stamped, in milliseconds (1000 to a
     * year): a farther one is refused with `ClockDriftError`. Default 300000 (5 minutes).
     */
    maxClockDrift?: number;
    /** How many records the instance keeps in memory, read from IndexedDB on demand. Default 10000. */
    cacheSize?: number;
    /** `false`: keep no record in memory between calls (as `cacheSize: 0`). */
    enableCache?: boolean;
    /**
     * The secret key (32 bytes, from `getIdentity()`) to sign this instance's ops with: its author id derives from it.
     * Used as it is; nothing is stored. Default: the identity of the database's lowest author slot that no other open
     * instance holds (a Web Lock held until `close()`), made once and stored in IndexedDB in the clear, so a reopen
     * writes as the same author and instances open at once as their own; a fresh identity, not stored, where Web Locks
     * are missing or all 64 slots are held.
     */
    identity?: Uint8Array;
    /** Sync with peers (also `create(true)`). Default false. */
    distributed?: boolean;
    /** The P2P adapter: 'peerjs' (default), 'webrtc', 'socketio', 'broadcast', or a registered one. */
    p2pAdapter?: string;
    /** This peer's id on the network (also `create(true, id)`); default: the author id. */
    peerId?: string;
    /** Push local writes at once, reconcile with each new peer, anti-entropy every syncInterval. Default true. */
    autoSync?: boolean;
    /** Milliseconds between anti-entropy rounds. Default 30000. */
    syncInterval?: number;
    /** A sync session idle this long (ms) is abandoned; also the adapter's connection timeout. Default 10000. */
    timeout?: number;
    /** PeerJS server of the 'peerjs' adapter. Default: the page's host, port 9000, path '/'. */
    server?: { host?: string; port?: number; path?: string; key?: string; secure?: boolean };
    /** Adapter settings: signalingServer, serverUrl, rooms, room, channel, group, rtcConfig, peers, ... */
    p2pConfig?: P2PConfig;
    /** RTCPeerConnection configuration of the WebRTC adapters. Default { iceServers: [] }. */
    rtcConfig?: RTCConfiguration;
    /** Most peers connected at once. Default 50. */
    maxConnections?: number;
    /** Milliseconds to reach the adapter's server. Default: timeout. */
    connectionTimeout?: number;
    /** Milliseconds to open a link to one peer. Default 15000. */
    peerConnectionTimeout?: number;
    /** Reconnect attempts after the server connection is lost. Default 5. */
    maxReconnectAttempts?: number;
    /** Milliseconds before the first reconnect attempt (doubling after each). Default 2000. */
    reconnectDelay?: number;
    /** Resends of a frame the transport refused. Default 3. */
    retryAttempts?: number;
    /** Log every event to the console. */
    debug?: boolean;
    [option: string]: unknown;
}

export interface P2PConfig {
    /** Peers sync only within one group: this, else `room`, else the database name. */
    group?: string;
    /** 'webrtc': the signaling server's WebSocket URL. */
    signalingServer?: string;
    /** 'webrtc': the signaling room (default: the database name). */
    room?: string;
    /** 'socketio': the relay's URL. */
    serverUrl?: string;
    /** 'socketio': rooms to join (default: [the database name]). */
    rooms?: string[];
    /** 'broadcast': the BroadcastChannel name (default 'auroradb-p2p:' + name). */
    channel?: string;
    /** 'peerjs': ids to connect to (besides the server's peer list). */
    peers?: string[];
    /** RTCPeerConnection configuration of the WebRTC adapters (else the top-level `rtcConfig`). */
    rtcConfig?: RTCConfiguration;
    /** Milliseconds between presence frames. Default 2000. */
    heartbeatInterval?: number;
    /** A peer not heard from this long (ms) is gone. Default 3 heartbeats + 1000. */
    peerTimeout?: number;
    /** Largest frame accepted, in bytes. Default 16 MiB. */
    maxFrameBytes?: number;
    /** Milliseconds before the first resend of a refused frame (growing with each). Default 250. */
    retryDelay?: number;
    [option: string]: unknown;
}

/** What an adapter emits ('open', 'message', 'connection', 'disconnect', 'error', ...). */
export type P2PEvent = keyof P2PEventMap;

/** The payload of each adapter event, as its listeners get it. */
export interface P2PEventMap {
    /** Attached (again, after a reconnect): this peer's id. */
    open: string | undefined;
    /** A peer was discovered (not necessarily connected yet). */
    peer: { peerId: string };
    /** A peer is connected: frames can flow both ways. */
    connection: { peerId: string };
    /** A frame from a connected peer. */
    message: { from: string; data: Uint8Array; connection: unknown };
    /** A connected peer went away. */
    disconnect: { peerId: string; reason: string };
    /** The server connection was lost; the next try is in `delay` ms. */
    reconnecting: { attempt: number; delay: number };
    error: P2PErrorDetail;
    /** Detached for good (disconnect(), or reconnecting gave up). */
    close: undefined;
}

/** The payload of adapter event `E`: from P2PEventMap, else `any` (an adapter's own events). */
export type P2PPayload<E extends string> = E extends keyof P2PEventMap ? P2PEventMap[E] : any;

/**
 * What `emit(E, payload)` takes: a listener's payload, except that a 'message' may carry its
 * bytes in any binary shape (listeners get a Uint8Array); `unknown` for an adapter's own events.
 */
export type P2PEmitted<E extends string> = E extends 'message'
    ? { from: string; data: unknown; connection?: unknown }
    : E extends keyof P2PEventMap
      ? P2PEventMap[E]
      : unknown;

/** An adapter's `error` payload; `type` is one of P2PError's types. */
export interface P2PErrorDetail {
    type: P2PErrorType | (string & {});
    message: string;
    peerId?: string;
    [detail: string]: unknown;
}

/** What went wrong, as P2PError's `type` and an adapter's `error` payload say it. */
export type P2PErrorType =
    | 'unknown-adapter'
    | 'invalid-adapter'
    | 'invalid-config'
    | 'timeout'
    | 'network'
    | 'server-error'
    | 'unavailable-id'
    | 'peer-unavailable'
    | 'max-connections'
    | 'send-failed'
    | 'invalid-frame'
    | 'not-connected'
    | 'not-implemented'
    | 'listener';

/** The connection settings an adapter reads from its configuration, with their defaults applied. */
export interface P2PSettings {
    peerId: string | null;
    name: string;
    maxConnections: number;
    connectionTimeout: number;
    peerConnectionTimeout: number;
    maxReconnectAttempts: number;
    reconnectDelay: number;
    retryAttempts: number;
    retryDelay: number;
    heartbeatInterval: number;
    peerTimeout: number;
    maxFrameBytes: number;
    rtcConfig: RTCConfiguration;
    debug: boolean;
}

/** A class `registerP2PAdapter` accepts: a subclass of `P2PAdapter`. */
export interface P2PAdapterClass {
    new (config: AuroraConfig, db: AuroraDB | null): P2PAdapter;
    readonly prototype: P2PAdapter;
    managesPresence: boolean;
}

/**
 * The base class of P2P adapters (`AuroraDB.P2PAdapter`): subclasses move binary frames between
 * peer ids. A subclass implements `connect`, `send`, `broadcast`, `disconnect` (and may override
 * `listPeers`, `connectToPeer`, `destroy`), and calls `emit('open', id)` once attached and
 * `emit('message', { from, data })` for each frame.
 */
export declare class P2PAdapter {
    /** True for adapters that call peerUp/peerDown themselves; the others get presence from this class. */
    static managesPresence: boolean;
    constructor(config?: AuroraConfig, db?: AuroraDB | null);
    readonly config: AuroraConfig;
    /** The database that owns the adapter, if any. */
    readonly db: AuroraDB | null;
    readonly settings: P2PSettings;
    readonly id: string;
    isConnected: boolean;
    getId(): string;

    /** Adds a listener; returns this. Events of P2PEventMap have typed payloads, others `any`. */
    on<E extends string>(event: E, listener: (payload: P2PPayload<E>) => void): this;
    /** Removes a listener (every listener of `event` when it is omitted); returns this. */
    off<E extends string>(event: E, listener?: (payload: P2PPayload<E>) => void): this;
    /** Adds a listener called at most once; returns this. */
    once<E extends string>(event: E, listener: (payload: P2PPayload<E>) => void): this;
    /**
     * Emits an event; returns true when a listener was called. A 'message' payload's `data` may
     * be any binary shape (or the JSON form of a Uint8Array): listeners get a Uint8Array.
     */
    emit<E extends string>(event: E, payload?: P2PEmitted<E>): boolean;
    /** Emits 'error' with `{ type, message, ...details }`. */
    emitError(type: P2PErrorType | (string & {}), message: string, details?: Record<string, unknown>): void;

    /** Ids of the connected peers. */
    getPeers(): string[];
    getConnectionCount(): number;
    isPeerConnected(peerId: string): boolean;
    /** The connection object of a connected peer, or null. */
    getConnection(peerId: string): unknown;
    /** True when another peer fits under maxConnections. */
    hasRoom(): boolean;
    /** Records a discovered peer; emits 'peer' the first time. */
    peerFound(peerId: string): void;
    /** Forgets a discovered peer. */
    peerGone(peerId: string): void;
    /** Marks a peer connected and emits 'connection' once; false when maxConnections are connected. */
    peerUp(peerId: string, connection?: unknown): boolean;
    /** Marks a peer gone and emits 'disconnect' once; true when it was connected. */
    peerDown(peerId: string, reason?: string): boolean;
    allPeersDown(reason?: string): void;
    /** Runs `attempt(n)` to deliver a frame, resending after a failure up to retryAttempts times. */
    sendWithRetry(peerId: string, attempt: (n: number) => unknown): boolean;

    /** Resolves with the id once connected; rejects with P2PError('timeout') after `timeout` ms. */
    ready(timeout?: number): Promise<string>;
    /** Resolves with the connection once `peerId` is connected; rejects with P2PError('timeout'). */
    waitForPeer(peerId: string, timeout?: number): Promise<unknown>;
    /** For a link to the network that dropped: marks every peer gone and reconnects with backoff. */
    connectionLost(reason?: string): void;
    /** Runs `attempt` with backoff until it succeeds; resolves true on success. */
    reconnect(
        attempt: () => Promise<unknown>,
        isCancelled?: () => boolean,
        options?: { closeOnGiveUp?: boolean },
    ): Promise<boolean>;

    /** Attaches to the network. */
    connect(): Promise<unknown>;
    /** Sends a frame to one peer: true when handed to the transport (or queued for a resend). */
    send(peerId: string, data: Uint8Array): boolean;
    /** Sends a frame to every connected peer; returns to how many. */
    broadcast(data: Uint8Array): number;
    /** Peers the network knows of (by default the connected ones). */
    listPeers(): Promise<string[]>;
    connectToPeer(peerId: string): Promise<unknown>;
    /** Leaves the network. */
    disconnect(): Promise<void>;
    /** Disconnects and drops every listener. */
    destroy(): Promise<void>;
}

/** The error type of the adapters; `type` says what went wrong. */
export declare class P2PError extends Error {
    constructor(type: P2PErrorType | (string & {}), message: string, details?: Record<string, unknown>);
    name: 'P2PError';
    type: P2PErrorType | (string & {});
    peerId?: string;
}

/**
 * Every `error.name` AuroraDB produces: rejections, `error` events of the engine and of sync, and
 * the adapters' `P2PError`. Mirrors the one table, `ErrorName` in `src/error.rs`;
 * `tests/error_names.rs` fails when the two differ.
 */
export type AuroraErrorName =
    | 'InvalidInputError'
    | 'InvalidConfigError'
    | 'UniqueConstraintError'
    | 'UnknownIndexError'
    | 'TransactionAbortedError'
    | 'ConflictError'
    | 'DatabaseClosedError'
    | 'QuotaExceededError'
    | 'UpgradeBlockedError'
    | 'StorageError'
    | 'EngineLoadError'
    | 'DataLossError'
    | 'CorruptDataError'
    | 'HashMismatchError'
    | 'BrokenChainError'
    | 'UnsupportedVersionError'
    | 'ClockDriftError'
    | 'AuthorshipError'
    | 'TooLargeError'
    | 'LogError'
    | 'CorruptMessageError'
    | 'FrameTooLargeError'
    | 'TruncatedFrameError'
    | 'InvalidOpsError'
    | 'ReplayError'
    | 'FloodError'
    | 'UnexpectedMessageError'
    | 'NotConnectedError'
    | 'EquivocationError'
    | 'ShippingError'
    | 'OpTooLargeError'
    | 'StoreError'
    | 'TransportError'
    | 'PeerError'
    | 'P2PError';

/**
 * Names of the errors a peer's data or the sync itself can fail with (`error.name` of a sync
 * `error` event; its `type` is a SyncErrorType).
 */
export type SyncErrorName =
    | 'CorruptMessageError'
    | 'FrameTooLargeError'
    | 'TruncatedFrameError'
    | 'HashMismatchError'
    | 'ClockDriftError'
    | 'AuthorshipError'
    | 'UnsupportedVersionError'
    | 'BrokenChainError'
    | 'InvalidOpsError'
    | 'ReplayError'
    | 'FloodError'
    | 'UnexpectedMessageError'
    | 'EquivocationError'
    | 'ShippingError'
    | 'OpTooLargeError'
    | 'StoreError'
    | 'TransportError'
    | 'PeerError'
    | 'P2PError';

/** The `type` of an `error` event of sync (operation 'sync') or of the adapter (operation 'p2p'). */
export type SyncErrorType =
    | 'connection-failed'
    | 'peer-rejected'
    | 'shipping-failed'
    | 'clock-skew'
    | 'equivocation'
    | 'sync-failed'
    | 'send-failed'
    | 'peer-unavailable'
    | 'max-connections'
    | 'invalid-frame'
    | 'unknown-adapter'
    | 'invalid-config';

export interface UniqueConstraintError extends Error {
    name: 'UniqueConstraintError';
    index: string;
    key: string;
    existingKey: string;
}

/**
 * The `error` of the `error` event a `create()` dispatches when it finds the database lost: the
 * browser reported, as it opened the database, that it found the origin's files damaged and
 * deleted them ('total'), or the database was made on this origin before and is gone though it
 * was not deleted through AuroraDB ('missing'). The database opened empty; `create()` still
 * resolves.
 */
export interface DataLossError extends Error {
    name: 'DataLossError';
    /** 'total' (the browser's own `dataLoss`) or 'missing'. */
    dataLoss: 'total' | 'missing' | (string & {});
    /** The browser's own words ('total'), or the engine's ('missing'). */
    dataLossMessage: string;
}

/** An op of the log. */
export interface LogOp {
    /** 48 hex digits; sorts like the ops. Accepted by `at`, `diff` and `log`. */
    id: string;
    /** Readable hybrid logical clock: `2026-01-01T10:00:00.123Z+0@ab12cd34`. */
    hlc: string;
    /** Milliseconds since 1970. */
    time: number;
    counter: number;
    /** Author id (32 hex digits). */
    author: string;
    /** Position in the author's hash chain. */
    seq: number;
    kind: 'put' | 'remove' | 'clear' | 'txn';
    key?: string;
    value?: AuroraValue;
    steps?: Array<{ kind: 'put' | 'remove'; key: string; value?: AuroraValue }>;
    /** blake3 of the encoded op. */
    hash: string;
    /** Hash of the author's previous op. */
    prev: string;
}

export interface HistoryItem {
    id: string;
    hlc: string;
    time: number;
    counter: number;
    author: string;
    kind: 'put' | 'remove' | 'clear' | 'txn';
    value?: AuroraValue;
    outcome: 'current' | 'superseded' | 'lost';
}

export interface Diff {
    added: Array<{ key: string; value: AuroraValue }>;
    changed: Array<{ key: string; before: AuroraValue; after: AuroraValue }>;
    removed: Array<{ key: string; value: AuroraValue }>;
}

export interface VerifyReport {
    ok: true;
    ops: number;
    authors: number;
    checkpoints: number;
    keys: number;
    /** Authors whose chain head's signature was checked (each proves all its author's ops). */
    proven: number;
    fingerprint: string;
}

export interface Stats {
    name: string;
    version: number;
    keyPath: string | null;
    indexes: IndexConfig[];
    syncStrategy: string;
    peerId: string | null;
    author?: string;
    distributed: boolean;
    connections: number;
    open: boolean;
    records: number;
    ops: number;
    authors?: number;
    checkpoints?: number;
    commits?: number;
    opsDecoded?: number;
    catchUps?: number;
    checkpointsWritten?: number;
    /** The size of the engine's WebAssembly memory in bytes (one for the page; it never shrinks). */
    memoryBytes?: number;
    /** The loss this instance's open found (see DataLossError), or null. */
    dataLoss?: DataLoss | null;
}

/** A loss found at open (see DataLossError): 'total' or 'missing', and the message. */
export interface DataLoss {
    type: 'total' | 'missing' | (string & {});
    message: string;
}

/** A point in the log: milliseconds since 1970, a Date, or an op id. */
export type LogPoint = number | Date | string;

/** The read-only view `at(time)` gives. Methods answer synchronously. */
export interface Snapshot {
    /** The time of the view (ms since 1970). */
    readonly time: number;
    /** The id of the last op the view includes. */
    readonly id: string;
    readonly keyPath: string | undefined;
    get<T = any>(key: string): T | undefined;
    all<T = any>(): T[];
    keys(): string[];
    count(): number;
    filter<T = any>(predicate: (value: T, key: string) => unknown): T[];
    every<T = any>(predicate: (value: T, key: string) => unknown): boolean;
    slice<T = any>(start?: number, end?: number): T[];
    findBy<T = any>(index: string, value: AuroraValue): T[];
}

/** What a transaction callback gets. */
export interface TransactionView {
    /** `tx.entries[k] = v`, `delete tx.entries[k]`, `await tx.entries[k]`. */
    readonly entries: Record<string, any>;
    get(key: string): Promise<any>;
    put(key: string, value: AuroraValue): void;
    put<T>(key: string, value: T & Storable<T>): void;
    set(key: string, value: AuroraValue): void;
    set<T>(key: string, value: T & Storable<T>): void;
    add(value: AuroraValue): string;
    add<T>(value: T & Storable<T>): string;
    add(key: string, value: AuroraValue): string;
    add<T>(key: string, value: T & Storable<T>): string;
    remove(key: string): void;
    delete(key: string): void;
}

export type ChangeSource = 'local' | 'tab' | 'import' | 'peer';

export interface ChangeDetail {
    source: ChangeSource;
    /** The peer the changes came from (source 'peer'). */
    peerId?: string;
    changes: Array<{ key: string; type: 'set' | 'delete'; value?: AuroraValue }>;
}

/** What a sync round achieved. */
export interface SyncReport {
    /** Peers whose session completed. */
    peers: number;
    /** Ops shipped to them. */
    sent: number;
    /** New ops received from them and applied. */
    received: number;
}

/** An `error` event's detail: a database error, or one of sync or of the adapter. */
export interface ErrorDetail {
    /** The error name for database errors; for sync: 'connection-failed', 'peer-rejected', 'sync-failed', 'send-failed', ... */
    type: AuroraErrorName | SyncErrorType | (string & {});
    message: string;
    error: Error;
    /** 'add', 'get', ..., 'sync' (the engine) or 'p2p' (the adapter). */
    operation: string;
    /** Sync and adapter errors: the error's name ('HashMismatchError', 'P2PError', ...). */
    name?: SyncErrorName | (string & {});
    /** Sync and adapter errors: the peer concerned, if one is. */
    peerId?: string | null;
    /** Adapter errors: the adapter's own type ('timeout', 'network', ...). */
    reason?: string;
}

export interface AuroraEventMap {
    open: CustomEvent<{ name: string; version: number; peerId: string }>;
    close: CustomEvent<{ reason: 'close' | 'destroy' | 'versionchange' }>;
    error: CustomEvent<ErrorDetail>;
    change: CustomEvent<ChangeDetail>;
    set: CustomEvent<{ key: string; value: AuroraValue; source: ChangeSource; peerId?: string }>;
    delete: CustomEvent<{ key: string; source: ChangeSource; peerId?: string }>;
    connection: CustomEvent<{ peerId: string }>;
    disconnect: CustomEvent<{ peerId: string }>;
    sync: CustomEvent<SyncReport>;
    /** Ops received from a peer and applied. */
    post: CustomEvent<{ peerId: string | null; ops: number; keys: string[] }>;
}

/** The store behind a database, as `db.db`. */
export declare class AuroraStore {
    /** Runs before every write: return the value to store (`undefined`: the value as given); throw to refuse the write. */
    beforeSet: null | ((key: string, value: any) => any);
    /**
     * Writes `[key, value]` pairs (any iterable of them) as one atomic write; resolves to how
     * many. The second form is what JavaScript infers for an array literal of pairs.
     */
    batchSet(entries: Iterable<readonly [key: string, value: AuroraValue]>): Promise<number>;
    batchSet<T>(entries: Iterable<readonly [key: string, value: T & Storable<T>]>): Promise<number>;
    batchSet(entries: ReadonlyArray<ReadonlyArray<AuroraValue>>): Promise<number>;
    batchSet<T>(entries: ReadonlyArray<ReadonlyArray<string | (T & Storable<T>)>>): Promise<number>;
}

export declare class AuroraDB extends EventTarget {
    constructor(config: AuroraConfig);
    readonly config: Required<Pick<AuroraConfig, 'name'>> & AuroraConfig;
    readonly db: AuroraStore;
    readonly name: string;

    static init(wasm?: string | URL | Response | BufferSource | WebAssembly.Module): Promise<void>;
    static deleteDatabase(name: string): Promise<void>;
    static readonly P2PAdapter: typeof P2PAdapter;
    static readonly P2PError: typeof P2PError;
    /** Registers an adapter class for `p2pAdapter: name`; returns the class. */
    static registerP2PAdapter<C extends P2PAdapterClass>(name: string, adapterClass: C): C;
    static listP2PAdapters(): string[];

    /** The P2P adapter of a distributed database once `create()` has started it. */
    readonly adapter: P2PAdapter | null;

    create(distributed?: boolean, peerId?: string): Promise<this>;
    /**
     * Stores `value` under `key` (create or update); resolves to the key. A subclass overriding
     * `add` takes both forms: `add(key: any, data: any)`, or `add(keyOrValue: any, value?: any)`.
     */
    add(key: string, value: AuroraValue): Promise<string>;
    add<T>(key: string, value: T & Storable<T>): Promise<string>;
    /**
     * Stores `value` under its `keyPath` field; resolves to the key. (The second parameter,
     * never given, lets a subclass override `add` as the seed README does: `add(key, data)`.)
     */
    add(value: AuroraValue, none?: undefined): Promise<string>;
    add<T>(value: T & Storable<T>, none?: undefined): Promise<string>;
    put(key: string, value: AuroraValue): Promise<string>;
    put<T>(key: string, value: T & Storable<T>): Promise<string>;
    get<T = any>(key: string): Promise<T | undefined>;
    all<T = any>(): Promise<T[]>;
    keys(): Promise<string[]>;
    count(): Promise<number>;
    remove(key: string): Promise<boolean>;
    clear(): Promise<number>;
    filter<T = any>(predicate: (value: T, key: string) => unknown): Promise<T[]>;
    slice<T = any>(start?: number, end?: number): Promise<T[]>;
    every<T = any>(predicate: (value: T, key: string) => unknown): Promise<boolean>;
    findBy<T = any>(index: string, value: AuroraValue): Promise<T[]>;
    findRange<T = any>(
        index: string,
        range: { gt?: AuroraValue; gte?: AuroraValue; lt?: AuroraValue; lte?: AuroraValue },
    ): Promise<T[]>;
    transaction<R>(callback: (tx: TransactionView) => R | Promise<R>): Promise<R>;

    history(key: string): Promise<HistoryItem[]>;
    at(time: LogPoint): Promise<Snapshot>;
    diff(from: LogPoint, to: LogPoint): Promise<Diff>;
    log(range?: { from?: LogPoint; to?: LogPoint }): Promise<LogOp[]>;
    verify(): Promise<VerifyReport>;
    exportLog(): Promise<Uint8Array>;
    importLog(bytes: Uint8Array | ArrayBuffer): Promise<{
        ops: number;
        imported: number;
        fingerprint: string;
        /** The forks the file proved against the chains held here: each froze its author. */
        frozen: { author: string; seq: number }[];
    }>;
    checkpoint(): Promise<string | null>;

    /** Syncs with every connected peer; resolves once every session has ended. */
    sync(): Promise<SyncReport>;
    /** Pushes local writes that have not reached a peer yet; resolves to how many peers. */
    post(): Promise<number>;
    /** Starts a reconciliation round with every connected peer; resolves to how many. */
    fetch(): Promise<number>;

    getStats(): Stats;
    isDistributed(): boolean;
    getConnectionCount(): number;
    getPeerId(): string | null;
    /** The identity this instance signs its ops with (`null` before `create()`). */
    getIdentity(): AuroraIdentity | null;
    /** Closes; the calls made before it finish, those made after it fail with `DatabaseClosedError` until `create()`. */
    close(): Promise<void>;
    /** Closes and deletes the database, with the same order of calls as `close()`. */
    destroy(): Promise<void>;

    addEventListener<K extends keyof AuroraEventMap>(
        type: K,
        listener: (this: AuroraDB, event: AuroraEventMap[K]) => any,
        options?: boolean | AddEventListenerOptions,
    ): void;
    /** Any other event name (every event of AuroraDB is a CustomEvent). */
    addEventListener(
        type: string,
        listener: ((this: AuroraDB, event: CustomEvent) => any) | EventListenerObject | null,
        options?: boolean | AddEventListenerOptions,
    ): void;
    removeEventListener<K extends keyof AuroraEventMap>(
        type: K,
        listener: (this: AuroraDB, event: AuroraEventMap[K]) => any,
        options?: boolean | EventListenerOptions,
    ): void;
    removeEventListener(
        type: string,
        listener: ((this: AuroraDB, event: CustomEvent) => any) | EventListenerObject | null,
        options?: boolean | EventListenerOptions,
    ): void;
}

export default AuroraDB;
