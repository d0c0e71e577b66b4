// The ES module's declarations (pkg/auroradb.d.mts, from web/js/auroradb.d.ts) as a TypeScript
// caller uses them: every public method, option, event, static member, the adapter API and the
// error names the README promises, with the types a caller expects. Lines under
// `@ts-expect-error` are misuse the declarations must refuse: if one of them compiles, tsc fails.
// Checked by `npx tsc -p tsconfig.json`; never run.

import AuroraDBDefault, {
  AuroraDB,
  type AuroraConfig,
  type AuroraErrorName,
  type AuroraStore,
  type AuroraValue,
  type ChangeDetail,
  type ChangeSource,
  type Diff,
  type Durability,
  type ErrorDetail,
  type HistoryItem,
  type LogOp,
  P2PAdapter,
  type P2PAdapterClass,
  type P2PConfig,
  P2PError,
  type P2PErrorDetail,
  type P2PEvent,
  type P2PSettings,
  type Snapshot,
  type Stats,
  type SyncErrorName,
  type SyncErrorType,
  type SyncReport,
  type SyncStrategy,
  type TransactionView,
  type UniqueConstraintError,
  type VerifyReport,
} from './pkg/auroradb.mjs';

/** Compiles only when `A` and `B` are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | undefined {
  return undefined;
}

// ---- the class and its statics -------------------------------------------------------------

assertType<Equal<typeof AuroraDBDefault, typeof AuroraDB>>();

async function statics(): Promise<void> {
  const init: Promise<void> = AuroraDB.init();
  await AuroraDB.init('/pkg/auroradb_core_bg.wasm');
  await AuroraDB.init(new URL('https://example.test/auroradb_core_bg.wasm'));
  await AuroraDB.init(new Uint8Array(8));
  await init;
  // @ts-expect-error the engine is a URL, a Response, bytes or a compiled module
  await AuroraDB.init(null);
  const deleted: Promise<void> = AuroraDB.deleteDatabase('old');
  await deleted;
  // @ts-expect-error deleteDatabase needs the database's name
  await AuroraDB.deleteDatabase();
  const names: string[] = AuroraDB.listP2PAdapters();
  void names;
  const Base: typeof P2PAdapter = AuroraDB.P2PAdapter;
  const ErrorClass: typeof P2PError = AuroraDB.P2PError;
  void Base;
  void ErrorClass;
}

// ---- configuration -------------------------------------------------------------------------

const full: AuroraConfig = {
  name: 'enterprise-app',
  version: 2,
  keyPath: 'uuid',
  indexes: [{ name: 'email', unique: true }, { name: 'department', unique: false }, 'status'],
  syncStrategy: 'merge',
  checkpointEvery: 1000,
  durability: 'relaxed',
  maxOpBytes: 16 * 1024 * 1024,
  maxClockDrift: 10 * 60 * 1000,
  distributed: true,
  p2pAdapter: 'peerjs',
  peerId: 'peer-1',
  autoSync: true,
  syncInterval: 15000,
  timeout: 15000,
  server: { host: 'localhost', port: 9000, path: '/myapp', key: 'peerjs', secure: false },
  p2pConfig: {
    group: 'team',
    signalingServer: 'wss://signaling.example.test',
    room: 'room',
    serverUrl: 'https://relay.example.test',
    rooms: ['app-room', 'user-room'],
    channel: 'auroradb-p2p:app',
    peers: ['peer-2'],
    rtcConfig: { iceServers: [{ urls: 'stun:stun.example.test:19302' }] },
    heartbeatInterval: 2000,
    peerTimeout: 7000,
    maxFrameBytes: 1 << 20,
    retryDelay: 250,
    customSetting: 'value',
  },
  rtcConfig: { iceServers: [] },
  maxConnections: 100,
  connectionTimeout: 20000,
  peerConnectionTimeout: 15000,
  maxReconnectAttempts: 5,
  reconnectDelay: 2000,
  retryAttempts: 5,
  debug: true,
  // Options the database does not know are kept in db.config.
  cacheSize: 2000,
  enableCache: true,
};

const strategies: SyncStrategy[] = ['timestamp', 'version', 'merge', 'local-wins', 'remote-wins'];
void strategies;
const durabilities: Durability[] = ['strict', 'relaxed'];
void durabilities;

// @ts-expect-error name is required
const noName: AuroraConfig = { version: 1 };
// @ts-expect-error version is a number
const badVersion: AuroraConfig = { name: 'x', version: '2' };
// @ts-expect-error an unknown conflict strategy
const badStrategy: AuroraConfig = { name: 'x', syncStrategy: 'newest' };
// @ts-expect-error autoSync is a boolean
const badAutoSync: AuroraConfig = { name: 'x', autoSync: 'yes' };
// @ts-expect-error durability is 'strict' or 'relaxed'
const badDurability: AuroraConfig = { name: 'x', durability: 'default' };
// @ts-expect-error indexes name fields
const badIndexes: AuroraConfig = { name: 'x', indexes: [{ unique: true }] };
// @ts-expect-error p2pConfig.rooms is a list of names
const badRooms: P2PConfig = { rooms: 'app-room' };
void [noName, badVersion, badStrategy, badAutoSync, badDurability, badIndexes, badRooms];

// @ts-expect-error a configuration object is required
new AuroraDB();
// @ts-expect-error a configuration object, not a name
new AuroraDB('myapp');

// ---- operations ----------------------------------------------------------------------------

interface User {
  name: string;
  role: string;
  age?: number;
}

async function operations(): Promise<void> {
  const db = new AuroraDB(full);
  const config: AuroraConfig & { name: string } = db.config;
  const name: string = db.name;
  const adapter: P2PAdapter | null = db.adapter;
  void [config, name, adapter];

  const opened: Promise<AuroraDB> = db.create();
  await opened;
  await db.create(true);
  await db.create(true, 'custom-id');
  // @ts-expect-error a peer id is a string
  await db.create(true, 7);

  const key1: Promise<string> = db.add('user1', { name: 'Alice', role: 'developer' });
  const key2: Promise<string> = db.add({ uuid: 'u2', name: 'Bob' });
  const key3: Promise<string> = db.put('user3', { name: 'Carol', tags: ['a', 'b'], n: 1n, bytes: new Uint8Array(2) });
  await Promise.all([key1, key2, key3]);
  await db.add('raw', new ArrayBuffer(4));
  await db.add('nested', { a: { b: [1, null, true, 'x'] }, gone: undefined });
  // @ts-expect-error keys are strings
  await db.add(1, { name: 'x' });
  // @ts-expect-error functions cannot be stored
  await db.add('f', () => 1);
  // @ts-expect-error a Date cannot be stored (store toISOString() or getTime())
  await db.put('d', new Date());
  // @ts-expect-error a Map cannot be stored
  await db.put('m', new Map());
  // @ts-expect-error add takes one or two arguments
  await db.add('a', 1, 2);
  // @ts-expect-error nothing to store
  await db.put('u', undefined);

  // Records typed by an interface (no index signature) are checked field by field.
  const alice: User = { name: 'Alice', role: 'developer' };
  await db.put('alice', alice);
  await db.add('alice', alice);
  await db.add({ ...alice, uuid: 'u3' });
  await db.put('team', { lead: alice, members: [alice] as readonly User[] });
  const asValue: AuroraValue = { name: 'Dan' };
  await db.put('dan', asValue);
  const unknownValue: unknown = JSON.parse('{}');
  // @ts-expect-error a value of unknown type must be shown to be an AuroraValue
  await db.put('u', unknownValue);
  interface Meeting {
    title: string;
    when: Date;
  }
  const meeting: Meeting = { title: 'standup', when: new Date() };
  // @ts-expect-error a Date field cannot be stored, in an interface too
  await db.put('m', meeting);
  // @ts-expect-error nor a Date nested in an array of records
  await db.put('ms', [{ when: new Date() }]);
  interface Handler {
    name: string;
    run(): void;
  }
  // @ts-expect-error a method cannot be stored
  await db.put('h', { name: 'h', run() {} } as Handler);
  // @ts-expect-error typed arrays other than Uint8Array are not bytes
  await db.put('i', new Int32Array(2));
  // @ts-expect-error an array cannot hold undefined
  await db.put('holes', ['a', undefined]);
  const maybe: Array<string | undefined> = ['a'];
  // @ts-expect-error nor may an array whose items may be undefined
  await db.put('maybe', maybe);
  // Integer-like field names, as JavaScript writes them.
  await db.put('numbers', { 1: 'a', 2: 'b' });
  interface Histogram {
    [bucket: number]: number;
  }
  const histogram: Histogram = { 1: 3 };
  await db.put('histogram', histogram);
  // A field of type unknown is left to the engine's check.
  interface Envelope {
    kind: string;
    payload: Record<string, unknown>;
  }
  const envelope: Envelope = { kind: 'e', payload: { a: 1 } };
  await db.put('envelope', envelope);
  // In a generic function the value's type is not known yet: shown to be an AuroraValue.
  async function save<T extends { id: string }>(target: AuroraDB, record: T): Promise<string> {
    return target.put(record.id, record as unknown as AuroraValue);
  }
  await save(db, { id: 'saved', n: 1 });

  const v: Promise<unknown> = db.get('k');
  const anyUser = await db.get('user1');
  const role: string = anyUser.role; // values are `any` unless the caller says what they are
  const typed: User | undefined = await db.get<User>('user1');
  // @ts-expect-error get<User> may find nothing
  const notUndefined: User = await db.get<User>('user1');
  void [v, role, typed, notUndefined];

  const all: User[] = await db.all<User>();
  const keys: string[] = await db.keys();
  const count: number = await db.count();
  const removed: boolean = await db.remove('user1');
  const cleared: number = await db.clear();
  void [all, keys, count, removed, cleared];
  // @ts-expect-error remove needs a key
  await db.remove();

  const adults: User[] = await db.filter<User>((user, key: string) => (user.age ?? 0) >= 18 && key !== '');
  const developers = await db.filter((user) => user.role === 'developer');
  const page: User[] = await db.slice<User>(0, 10);
  const rest = await db.slice(10);
  const everyone: boolean = await db.every<User>((user) => user.name.length > 0);
  const byEmail: User[] = await db.findBy<User>('email', 'alice@example.com');
  const byAge = await db.findRange('age', { gte: 18, lt: 65 });
  void [adults, developers, page, rest, everyone, byEmail, byAge];
  // @ts-expect-error filter takes a predicate
  await db.filter('role');
  // @ts-expect-error slice bounds are numbers
  await db.slice('0');
  // @ts-expect-error the range bounds are gt, gte, lt and lte
  await db.findRange('age', { from: 18 });

  // Transactions resolve to what the callback returns.
  const moved: Promise<number> = db.transaction(async (tx: TransactionView) => {
    const product = await tx.entries.prod1;
    tx.entries.prod1 = { ...product, stock: product.stock - 1 };
    delete tx.entries.old;
    const read: Promise<unknown> = tx.get('prod2');
    await read;
    tx.put('a', 1);
    tx.set('b', 2);
    tx.put('alice', alice);
    // @ts-expect-error a Date cannot be stored
    tx.set('when', new Date());
    const added: string = tx.add({ uuid: 'c' });
    const addedKey: string = tx.add('d', { x: 1 });
    tx.remove('e');
    tx.delete('f');
    void [added, addedKey];
    return 1;
  });
  await moved;
  const sync: string = await db.transaction((tx) => tx.add('g', null));
  void sync;
  // @ts-expect-error tx.put needs a value
  await db.transaction((tx) => tx.put('a'));

  // The store behind the database.
  const store: AuroraStore = db.db;
  store.beforeSet = (key: string, value) => ({ ...value, key });
  store.beforeSet = null;
  const written: number = await store.batchSet([
    ['key1', { name: 'Alice' }],
    ['key2', { name: 'Bob' }],
  ]);
  await store.batchSet(
    new Map<string, AuroraValue>([
      ['a', 1],
      ['b', 2],
    ]),
  );
  await store.batchSet(new Map<string, User>([['alice', alice]]));
  const userPairs: Array<[string, User]> = [['alice', alice]];
  await store.batchSet(userPairs);
  // Pairs as `map` infers them: arrays of a key and a record.
  await store.batchSet([alice].map((u) => [u.name, u]));
  // @ts-expect-error a Meeting holds a Date
  await store.batchSet(new Map<string, Meeting>([['m', meeting]]));
  void written;
  // @ts-expect-error beforeSet is a function (or null)
  store.beforeSet = 'sanitize';

  // Time travel and the log.
  const history: HistoryItem[] = await db.history('doc');
  const outcomes: Array<'current' | 'superseded' | 'lost'> = history.map((h) => h.outcome);
  const view: Snapshot = await db.at(Date.now());
  await db.at(new Date());
  await db.at(history[0].id);
  const doc = view.get('doc');
  const title: string = doc.title;
  const viewUser: User | undefined = view.get<User>('user1');
  const viewAll: unknown[] = view.all();
  const viewKeys: string[] = view.keys();
  const viewCount: number = view.count();
  const viewFiltered: User[] = view.filter<User>((u) => u.role === 'admin');
  const viewEvery: boolean = view.every((u, k: string) => u !== null && k !== '');
  const viewSlice: unknown[] = view.slice(0, 2);
  const viewFound: User[] = view.findBy<User>('role', 'admin');
  const at: [number, string, string | undefined] = [view.time, view.id, view.keyPath];
  void [outcomes, title, viewUser, viewAll, viewKeys, viewCount, viewFiltered, viewEvery, viewSlice, viewFound, at];
  // @ts-expect-error a point in the log is a time, a Date or an op id
  await db.at({ time: 1 });

  const diff: Diff = await db.diff(0, Date.now());
  const changedKeys: string[] = [...diff.added, ...diff.removed]
    .map((e) => e.key)
    .concat(diff.changed.map((c) => c.key));
  const ops: LogOp[] = await db.log({ from: Date.now() - 1000, to: new Date() });
  const allOps: LogOp[] = await db.log();
  for (const op of ops) {
    const line: string = `${op.hlc} ${op.author} ${op.seq} ${op.kind} ${op.key ?? ''} ${op.hash} ${op.prev}`;
    const steps: number = op.steps?.length ?? 0;
    void [line, steps];
  }
  void [changedKeys, allOps];
  // @ts-expect-error log's range is { from, to }
  await db.log(0);

  const report: VerifyReport = await db.verify();
  const ok: true = report.ok;
  const file: Uint8Array = await db.exportLog();
  const imported: { ops: number; imported: number; fingerprint: string; frozen: { author: string; seq: number }[] } =
    await db.importLog(file);
  await db.importLog(file.buffer as ArrayBuffer);
  const checkpoint: string | null = await db.checkpoint();
  void [ok, imported, checkpoint];
  // @ts-expect-error importLog takes bytes
  await db.importLog('log');

  // Sync.
  const round: SyncReport = await db.sync();
  const { peers, sent, received } = round;
  const posted: number = await db.post();
  const fetched: number = await db.fetch();
  void [peers, sent, received, posted, fetched];

  // Status (synchronous).
  const stats: Stats = db.getStats();
  const statsLine: string = `${stats.name} v${stats.version} ${stats.records} records, ${stats.ops} ops, ${stats.peerId ?? 'no peer id'}`;
  const distributed: boolean = db.isDistributed();
  const connections: number = db.getConnectionCount();
  const peerId: string | null = db.getPeerId();
  void [statsLine, distributed, connections, peerId];
  // @ts-expect-error getStats is synchronous
  await db.getStats().then(() => 0);

  const closed: Promise<void> = db.close();
  await closed;
  const destroyed: Promise<void> = db.destroy();
  await destroyed;
}

// ---- subclassing (the README's ValidatedDB and SecureDB) ------------------------------------

// `add` has two forms: an override takes both (`add(key, value)` alone does not satisfy
// `add(value)`). The README's JavaScript `add(key, data)` type-checks as it is
// (tests/types/readme/).
class ValidatedDB extends AuroraDB {
  // biome-ignore lint/suspicious/noExplicitAny: the README's override form (the base checks what is stored)
  async add(keyOrValue: any, value?: any): Promise<string> {
    if (typeof keyOrValue !== 'string') return super.add(keyOrValue);
    return super.add(keyOrValue, { ...value, createdAt: new Date().toISOString(), version: 1 });
  }
}

// The seed README's own shape, typed as it is written there.
class SeedValidatedDB extends AuroraDB {
  // biome-ignore lint/suspicious/noExplicitAny: the seed README's override, parameters untyped
  async add(key: any, data: any): Promise<string> {
    return super.add(key, { ...data, createdAt: new Date().toISOString(), version: 1 });
  }
}

class SecureDB extends AuroraDB {
  constructor(
    config: AuroraConfig,
    readonly permissions: { read: string[]; admin: boolean },
  ) {
    super(config);
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    if (!this.permissions.admin && !this.permissions.read.includes(key)) throw new Error('Read access denied');
    return super.get<T>(key);
  }
}

async function subclasses(): Promise<void> {
  const validated = new ValidatedDB({ name: 'validated-app' });
  const key: string = await validated.add('k', { a: 1 });
  const seed: string = await new SeedValidatedDB({ name: 'seed-app' }).add('k', { a: 1 });
  void seed;
  const secure = new SecureDB({ name: 'secure-app' }, { read: ['public'], admin: false });
  const opened: SecureDB = await secure.create();
  const value: User | undefined = await opened.get<User>('public');
  void [key, value];
}

// ---- events --------------------------------------------------------------------------------

function events(db: AuroraDB): void {
  db.addEventListener('open', (e) => {
    const detail: { name: string; version: number; peerId: string } = e.detail;
    void detail;
  });
  db.addEventListener('close', (e) => {
    const reason: 'close' | 'destroy' | 'versionchange' = e.detail.reason;
    void reason;
  });
  db.addEventListener('error', (e) => {
    const detail: ErrorDetail = e.detail;
    const error: Error = detail.error;
    const operation: string = detail.operation;
    if (detail.type === 'connection-failed') void db.sync();
    if (detail.type === 'UniqueConstraintError') {
      const unique = detail.error as UniqueConstraintError;
      const where: string = `${unique.index} ${unique.key} ${unique.existingKey}`;
      void where;
    }
    const peer: string | null | undefined = detail.peerId;
    const reason: string | undefined = detail.reason;
    void [error, operation, peer, reason];
  });
  db.addEventListener('change', (e) => {
    const detail: ChangeDetail = e.detail;
    const source: ChangeSource = detail.source;
    for (const change of detail.changes) {
      const kind: 'set' | 'delete' = change.type;
      void [change.key, kind, change.value];
    }
    void source;
  });
  db.addEventListener('set', (e) => {
    const { key, value, source, peerId } = e.detail;
    const from: string | undefined = peerId;
    void [key, value, source, from];
  });
  db.addEventListener('delete', (e) => {
    const key: string = e.detail.key;
    void key;
  });
  db.addEventListener('connection', (e) => {
    const peerId: string = e.detail.peerId;
    void peerId;
  });
  db.addEventListener('disconnect', (e) => {
    const peerId: string = e.detail.peerId;
    void peerId;
  });
  db.addEventListener('sync', (e) => {
    const report: SyncReport = e.detail;
    void report;
  });
  db.addEventListener('post', (e) => {
    const { peerId, ops, keys } = e.detail;
    const from: string | null = peerId;
    const counts: [number, string[]] = [ops, keys];
    void [from, counts];
  });
  // Any other name is a CustomEvent of unknown detail (the debugging example's loop).
  for (const type of ['open', 'close', 'error', 'change', 'sync', 'connection', 'disconnect']) {
    db.addEventListener(type, (e) => console.log(`[${type}]`, e.detail || 'triggered'));
  }
  const onSync = (e: CustomEvent<SyncReport>): void => void e.detail.sent;
  db.addEventListener('sync', onSync, { once: true });
  db.removeEventListener('sync', onSync);
  db.addEventListener('open', { handleEvent: (e: Event) => void e.type });

  // @ts-expect-error a sync report has no peerId
  db.addEventListener('sync', (e) => e.detail.peerId);
  // @ts-expect-error a connection's peer id is a string, not a number
  db.addEventListener('connection', (e) => e.detail.peerId.toFixed());
  // @ts-expect-error a close reason is one of three words
  db.addEventListener('close', (e) => e.detail.reason === 'deleted');
  // @ts-expect-error a listener is a function or an object with handleEvent
  db.addEventListener('open', 'listener');
}

// ---- errors --------------------------------------------------------------------------------

const names: AuroraErrorName[] = [
  'InvalidInputError',
  'InvalidConfigError',
  'UniqueConstraintError',
  'UnknownIndexError',
  'TransactionAbortedError',
  'ConflictError',
  'DatabaseClosedError',
  'QuotaExceededError',
  'UpgradeBlockedError',
  'StorageError',
  'CorruptDataError',
  'HashMismatchError',
  'BrokenChainError',
  'UnsupportedVersionError',
  'ClockDriftError',
  'AuthorshipError',
  'TooLargeError',
  'LogError',
];
const syncNames: SyncErrorName[] = [
  'HashMismatchError',
  'AuthorshipError',
  'ShippingError',
  'CorruptMessageError',
  'FloodError',
  'ReplayError',
  'P2PError',
];
const syncTypes: SyncErrorType[] = [
  'connection-failed',
  'peer-rejected',
  'shipping-failed',
  'sync-failed',
  'send-failed',
  'peer-unavailable',
  'max-connections',
  'invalid-frame',
  'unknown-adapter',
  'invalid-config',
];
// @ts-expect-error not an error name of AuroraDB
const notAName: AuroraErrorName = 'NotFoundError';
void [names, syncNames, syncTypes, notAName];

async function branchOnName(db: AuroraDB): Promise<void> {
  try {
    await db.add('k', { v: 1 });
  } catch (error) {
    if (error instanceof Error && (error.name as AuroraErrorName) === 'QuotaExceededError') return;
    if (error instanceof P2PError && error.type === 'timeout') return;
    throw error;
  }
}

// ---- adapters ------------------------------------------------------------------------------

/** A custom adapter, as the README writes one: a JSON WebSocket relay. */
class RelayAdapter extends AuroraDB.P2PAdapter {
  socket: WebSocket | null = null;

  async connect(): Promise<void> {
    const url = String(this.config.p2pConfig?.url ?? 'wss://relay.example.test');
    this.socket = new WebSocket(url);
    this.socket.onopen = () => {
      this.isConnected = true;
      this.emit('open', this.getId());
    };
    this.socket.onmessage = (event: MessageEvent<string>) => {
      const data = JSON.parse(event.data);
      this.emit('message', { from: data.from, data: data.payload, connection: this.socket });
    };
    this.socket.onclose = () => this.connectionLost('relay connection closed');
  }

  send(peerId: string, data: Uint8Array): boolean {
    if (!this.socket || !this.isConnected) return false;
    this.socket.send(JSON.stringify({ to: peerId, from: this.getId(), payload: Array.from(data) }));
    return true;
  }

  broadcast(data: Uint8Array): number {
    return this.send('*', data) ? 1 : 0;
  }

  async listPeers(): Promise<string[]> {
    return this.getPeers();
  }

  async connectToPeer(_peerId: string): Promise<WebSocket | null> {
    return this.socket;
  }

  async disconnect(): Promise<void> {
    this.socket?.close();
    this.isConnected = false;
  }

  async destroy(): Promise<void> {
    await this.disconnect();
  }
}

/** An adapter that tracks presence itself, through the base class's peer table. */
class PresenceAdapter extends P2PAdapter {
  static managesPresence = true;

  async connect(): Promise<void> {
    this.isConnected = true;
    this.emit('open', this.id);
    const joined: boolean = this.peerUp('peer-2', { channel: 1 });
    this.peerFound('peer-3');
    this.peerGone('peer-3');
    if (!this.hasRoom()) this.emitError('max-connections', 'full', { peerId: 'peer-4' });
    const link: unknown = this.getConnection('peer-2');
    const up: boolean = this.isPeerConnected('peer-2');
    const queued: boolean = this.sendWithRetry('peer-2', (attempt: number) => Promise.resolve(attempt));
    const left: boolean = this.peerDown('peer-2', 'bye');
    this.allPeersDown();
    const settings: P2PSettings = this.settings;
    const limits: number[] = [settings.maxConnections, settings.heartbeatInterval, settings.maxFrameBytes];
    void [joined, link, up, queued, left, limits];
    const reconnected: boolean = await this.reconnect(
      () => this.connect(),
      () => !this.isConnected,
      { closeOnGiveUp: false },
    );
    void reconnected;
  }

  send(_peerId: string, _data: Uint8Array): boolean {
    return true;
  }

  broadcast(_data: Uint8Array): number {
    return this.getConnectionCount();
  }

  async disconnect(): Promise<void> {
    this.isConnected = false;
  }
}

async function adapters(): Promise<void> {
  const registered: typeof RelayAdapter = AuroraDB.registerP2PAdapter('relay', RelayAdapter);
  AuroraDB.registerP2PAdapter('presence', PresenceAdapter);
  const asClass: P2PAdapterClass = registered;
  void asClass;
  // @ts-expect-error an adapter is a subclass of P2PAdapter
  AuroraDB.registerP2PAdapter('plain', class {});
  // @ts-expect-error an adapter is registered under a name
  AuroraDB.registerP2PAdapter(RelayAdapter);

  const adapter = new RelayAdapter({ name: 'app', p2pConfig: { url: 'wss://relay.example.test' } }, null);
  const id: string = adapter.getId();
  const owner: AuroraDB | null = adapter.db;
  const self: RelayAdapter = adapter
    .on('open', (openedAs) => void (openedAs satisfies string | undefined))
    .on('peer', ({ peerId }) => void (peerId satisfies string))
    .on('connection', ({ peerId }) => adapter.send(peerId, Uint8Array.of(1, 2, 3)))
    .on('message', ({ from, data }) => void [from satisfies string, data satisfies Uint8Array])
    .on('disconnect', ({ peerId, reason }) => void [peerId, reason])
    .on('reconnecting', ({ attempt, delay }) => void (attempt + delay))
    .on('error', (error: P2PErrorDetail) => void [error.type, error.message, error.peerId])
    .on('close', () => undefined)
    .on('custom-event', (payload) => void payload);
  const onMessage = (m: { from: string; data: Uint8Array }) => void m;
  adapter.once('message', onMessage).off('message', onMessage).off('message');
  const events: P2PEvent[] = ['open', 'peer', 'connection', 'disconnect', 'message', 'reconnecting', 'error', 'close'];
  const ready: string = await adapter.ready(5000);
  const waited: unknown = await adapter.waitForPeer('peer-2', 1000);
  const peers: string[] = await adapter.listPeers();
  const connected: string[] = adapter.getPeers();
  const delivered: boolean = adapter.send('peer-2', new Uint8Array(1));
  const reached: number = adapter.broadcast(new Uint8Array(1));
  void [id, owner, self, events, ready, waited, peers, connected, delivered, reached];
  // @ts-expect-error a message listener gets { from, data, connection }, not a string
  adapter.on('message', (m: string) => m);
  // @ts-expect-error frames are bytes
  adapter.send('peer-2', 'hello');
  // @ts-expect-error a message says whom it is from
  adapter.emit('message', { data: new Uint8Array(1) });
  // @ts-expect-error a connection event names the peer
  adapter.emit('connection', 'peer-2');
  adapter.emit('custom-event', { anything: true });
  await adapter.destroy();

  const error = new P2PError('timeout', 'no answer', { peerId: 'peer-2' });
  const fields: [string, string, string | undefined] = [error.name, error.type, error.peerId];
  const asError: Error = error;
  void [fields, asError];
  // @ts-expect-error a P2PError needs a type and a message
  new P2PError('no answer');
}

void [statics, operations, subclasses, events, branchOnName, adapters];
