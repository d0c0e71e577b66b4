// Types of the AuroraDB JavaScript API (pkg/index.js; the classic script pkg/auroradb.js defines
// the same class as the global `AuroraDB`).

/** Plain data: what can be stored. */
export type AuroraValue =
    | null
    | boolean
    | number
    | bigint
    | string
    | Uint8Array
    | AuroraValue[]
    | { [field: string]: AuroraValue | undefined };

export interface IndexConfig {
    /** The top-level field indexed. */
    name: string;
    /** Refuse a write that gives two records the same value of the field. */
    unique?: boolean;
}

export type SyncStrategy = 'timestamp' | 'version' | 'merge' | 'local-wins' | 'remote-wins';

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
    rtcConfig?: RTCConfiguration;
    heartbeatInterval?: number;
    peerTimeout?: number;
    maxFrameBytes?: number;
    [option: string]: unknown;
}

/** What an adapter emits ('open', 'message', 'connection', 'disconnect', 'error', ...). */
export type P2PEvent = 'open' | 'peer' | 'connection' | 'disconnect' | 'message' | 'reconnecting' | 'error' | 'close';

/** The base class of P2P adapters (`AuroraDB.P2PAdapter`): subclasses move binary frames between peer ids. */
export declare class P2PAdapter {
    static managesPresence: boolean;
    constructor(config?: AuroraConfig, db?: AuroraDB | null);
    readonly config: AuroraConfig;
    readonly id: string;
    isConnected: boolean;
    getId(): string;
    on(event: P2PEvent | string, listener: (payload: any) => void): this;
    off(event: P2PEvent | string, listener?: (payload: any) => void): this;
    once(event: P2PEvent | string, listener: (payload: any) => void): this;
    emit(event: P2PEvent | string, payload?: unknown): boolean;
    getPeers(): string[];
    getConnectionCount(): number;
    ready(timeout?: number): Promise<string>;
    connect(): Promise<unknown>;
    send(peerId: string, data: Uint8Array): boolean;
    broadcast(data: Uint8Array): number;
    listPeers(): Promise<string[]>;
    connectToPeer(peerId: string): Promise<unknown>;
    disconnect(): Promise<void>;
    destroy(): Promise<void>;
}

/** The error type of the adapters; `type` says what went wrong. */
export declare class P2PError extends Error {
    name: 'P2PError';
    type: string;
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
    | 'CorruptDataError'
    | 'HashMismatchError'
    | 'BrokenChainError'
    | 'UnsupportedVersionError'
    | 'ClockDriftError'
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
    | 'OpTooLargeError'
    | 'StoreError'
    | 'TransportError'
    | 'PeerError'
    | 'P2PError';

export interface UniqueConstraintError extends Error {
    name: 'UniqueConstraintError';
    index: string;
    key: string;
    existingKey: string;
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
}

/** A point in the log: milliseconds since 1970, a Date, or an op id. */
export type LogPoint = number | Date | string;

/** The read-only view `at(time)` gives. Methods answer synchronously. */
export interface Snapshot {
    readonly time: number;
    readonly id: string;
    readonly keyPath: string | undefined;
    get(key: string): AuroraValue | undefined;
    all(): AuroraValue[];
    keys(): string[];
    count(): number;
    filter(predicate: (value: any, key: string) => unknown): AuroraValue[];
    every(predicate: (value: any, key: string) => unknown): boolean;
    slice(start?: number, end?: number): AuroraValue[];
    findBy(index: string, value: AuroraValue): AuroraValue[];
}

/** What a transaction callback gets. */
export interface TransactionView {
    /** `tx.entries[k] = v`, `delete tx.entries[k]`, `await tx.entries[k]`. */
    readonly entries: Record<string, any>;
    get(key: string): Promise<any>;
    put(key: string, value: AuroraValue): void;
    set(key: string, value: AuroraValue): void;
    add(value: AuroraValue): string;
    add(key: string, value: AuroraValue): string;
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
    type: AuroraErrorName | string;
    message: string;
    error: Error;
    /** 'add', 'get', ..., 'sync' (the engine) or 'p2p' (the adapter). */
    operation: string;
    /** Sync and adapter errors: the error's name ('HashMismatchError', 'P2PError', ...). */
    name?: string;
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
    post: CustomEvent<{ peerId: string; ops: number; keys: string[] }>;
}

export declare class AuroraStore {
    /** Return the value to store; throw to refuse the write. */
    beforeSet: null | ((key: string, value: any) => any);
    batchSet(entries: Iterable<[string, AuroraValue]>): Promise<number>;
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
    static registerP2PAdapter(name: string, adapterClass: typeof P2PAdapter): typeof P2PAdapter;
    static listP2PAdapters(): string[];

    /** The P2P adapter of a distributed database once `create()` has started it. */
    readonly adapter: P2PAdapter | null;

    create(distributed?: boolean, peerId?: string): Promise<this>;
    add(key: string, value: AuroraValue): Promise<string>;
    add(value: AuroraValue): Promise<string>;
    put(key: string, value: AuroraValue): Promise<string>;
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
    importLog(bytes: Uint8Array | ArrayBuffer): Promise<{ ops: number; imported: number; fingerprint: string }>;
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
    close(): Promise<void>;
    destroy(): Promise<void>;

    addEventListener<K extends keyof AuroraEventMap>(
        type: K,
        listener: (this: AuroraDB, event: AuroraEventMap[K]) => any,
        options?: boolean | AddEventListenerOptions,
    ): void;
    addEventListener(
        type: string,
        listener: EventListenerOrEventListenerObject | null,
        options?: boolean | AddEventListenerOptions,
    ): void;
    removeEventListener<K extends keyof AuroraEventMap>(
        type: K,
        listener: (this: AuroraDB, event: AuroraEventMap[K]) => any,
        options?: boolean | EventListenerOptions,
    ): void;
    removeEventListener(
        type: string,
        listener: EventListenerOrEventListenerObject | null,
        options?: boolean | EventListenerOptions,
    ): void;
}

export default AuroraDB;
