//! [`Database`]: the engine behind both APIs. Every write is an op appended to the log and
//! applied to the materialized state, committed to storage in one atomic batch.

mod author;
mod cache;
mod file;
mod fork;
mod keys;
mod proofs;
mod tail;
mod travel;
mod txn;
mod validate;
mod write;

use std::cell::{Ref, RefCell};
use std::ops::Bound;
use std::rc::Rc;
use std::time::Duration;

use auroradb_log::segment::{DEFAULT_SEGMENT_OPS, SegmentRecord};
use auroradb_log::{ClockFn, DEFAULT_MAX_DRIFT, Hlc, IdSet, Identity, Log, LogConfig, OpId, PeerId, Value};
use auroradb_snapshot::{Change, Entry, IndexSpec, KeyRecord, SnapshotError, State, StateConfig, StateMeta, Strategy};

pub use author::{AUTHOR_SLOTS, slot_lock};
pub use file::{LOG_FILE_VERSION, LogFileInfo, MAGIC_LOG_FILE, decode_file, encode_log_file};
pub use keys::Schema;
pub use travel::{DbVerifyReport, HistoryItem};
pub use txn::{Transaction, Txn};
pub use validate::{MAX_DEPTH, MAX_KEY_LEN, validate_key, validate_value};
pub use write::WriteOutcome;

pub use auroradb_log::{DEFAULT_MAX_OP, MAX_OP_CEILING, MAX_OP_FLOOR};

use crate::storage::{KeyRange, ScanOptions, Storage, Store, WriteLock};
use crate::{DbError, Result};

/// How a database is opened.
#[derive(Clone)]
pub struct Config {
    /// The database's name (the IndexedDB database name in the browser).
    pub name: String,
    /// The schema version; raising it with new indexes upgrades the schema.
    pub version: u32,
    /// With a key path, [`Database::add`] takes the key from this field of the value.
    pub key_path: Option<String>,
    /// Secondary indexes on top-level fields.
    pub indexes: Vec<IndexSpec>,
    /// The conflict strategy.
    pub strategy: Strategy,
    /// A checkpoint is written every this many ops, or every as many ops as there are keys if
    /// that is more (a checkpoint costs O(keys) to write); 0: only on demand.
    pub checkpoint_every: u64,
    /// How far ahead of the local clock a remote op may be.
    pub max_drift: Duration,
    /// Maximum ops in a persisted segment.
    pub segment_ops: usize,
    /// The largest encoded op a write may make, in bytes: a larger write is refused with
    /// [`DbError::OpTooLarge`] before anything is written, so that every write accepted can be
    /// synced (the sync ships ops up to this size, in pieces when larger than a frame). From
    /// [`MAX_OP_FLOOR`] (8 KiB: the remove of the longest key fits) to [`MAX_OP_CEILING`];
    /// default [`DEFAULT_MAX_OP`] (16 MiB).
    pub max_op: usize,
    /// The identity this connection signs its ops with: its author id derives from it. Used as
    /// it is, and not stored. When `None` (and `peer` is not set), the connection claims one of
    /// the storage's author slots for as long as it is open: the lowest one no other open
    /// connection holds, whose identity is stored in the storage (made by the first connection
    /// that claimed it), so reopening a storage writes as the same author, and connections open
    /// at once each write as their own. A fresh identity that is not stored where the storage
    /// cannot lock or all [`AUTHOR_SLOTS`] are taken.
    pub identity: Option<Identity>,
    /// This connection's author id, without its identity: for a tool that restores an author's
    /// ops (a file, a backup) and does not write as it. Its own writes carry no proof, so peers
    /// do not take them. With `identity` too, it must be the identity's.
    pub peer: Option<PeerId>,
    /// For a connection that writes no op of its own next to another one that does (the
    /// JavaScript log tools' helper on a local-only page): that connection's author, and whether
    /// it was chosen (`identity` or `peer` given). Its ops are guarded as this connection's own
    /// are: one this connection does not hold, from a peer or a file, is refused as forged (see
    /// [`Database::apply_remote`]).
    pub writer: Option<(PeerId, bool)>,
    /// With `Some(n)`, the state's records are read from storage when something needs them,
    /// not at open, and at most about `n` are held (see [`Database::load_keys`]). Opening then
    /// reads no record (the number of visible records is in the newest journal entry); a write
    /// reads the records of its keys; what needs every record (a clear, a unique index's check,
    /// a checkpoint, [`Database::transaction`], verification) reads them all; with a unique
    /// index, the first write reads them all and they stay held (each write checks the index
    /// against every record). The reads of the
    /// state ([`Database::get`], [`Database::all`], [`Database::find_by`]...) see the records held:
    /// call [`Database::load_keys`] or [`Database::load_state`] first ([`Database::count`] is
    /// always right). `None` (the default): every record is read at open and held.
    pub state_cache: Option<usize>,
    /// The physical clock.
    pub clock: ClockFn,
}

impl Config {
    /// Defaults for a database called `name`, reading time from `clock`.
    pub fn new(name: impl Into<String>, clock: ClockFn) -> Config {
        Config {
            name: name.into(),
            version: 1,
            key_path: None,
            indexes: Vec::new(),
            strategy: Strategy::Timestamp,
            checkpoint_every: 1000,
            max_drift: DEFAULT_MAX_DRIFT,
            segment_ops: DEFAULT_SEGMENT_OPS,
            max_op: DEFAULT_MAX_OP,
            identity: None,
            peer: None,
            writer: None,
            state_cache: None,
            clock,
        }
    }
}

impl core::fmt::Debug for Config {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Config")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("key_path", &self.key_path)
            .field("indexes", &self.indexes)
            .field("strategy", &self.strategy.name())
            .field("checkpoint_every", &self.checkpoint_every)
            .finish_non_exhaustive()
    }
}

/// Counters of what the database did, for statistics and for tests that check costs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Ops decoded from storage (opening decodes none).
    pub ops_decoded: u64,
    /// Commits made by this connection.
    pub commits: u64,
    /// Commits that had to catch up with another connection's commits first.
    pub catch_ups: u64,
    /// Checkpoints written by this connection.
    pub checkpoints_written: u64,
    /// Times the log's index was loaded from the segment records (at most once a connection).
    pub index_loads: u64,
    /// Restarts after another connection's commit replaced the state (see `restart`).
    pub restarts: u64,
}

/// A database over a [`Storage`].
pub struct Database<S: Storage> {
    storage: S,
    config: Config,
    /// Shared with the sync engine, which reads the fingerprint index between writes; it is
    /// borrowed only briefly and never across an `await`.
    log: Rc<RefCell<Log>>,
    state: State,
    /// The number of the newest commit this connection has seen.
    commit: u64,
    /// Ids of the stored checkpoints.
    checkpoints: IdSet,
    /// Ops committed since the newest checkpoint.
    since_checkpoint: u64,
    /// After a checkpoint that did not fit in the storage quota, the `since_checkpoint` at which
    /// the next one is tried (0: when due).
    checkpoint_after: u64,
    /// Changes of other connections caught up with inside writes, not yet taken.
    caught_up: Vec<Change>,
    stats: Stats,
    /// The author slot this connection claimed, held until it is dropped.
    slot: Option<author::Slot>,
    /// How many ops follow the last segment record (see `tail`), as far as this connection
    /// knows: `None` until it counts them.
    tail: Option<u64>,
    /// Whether the state holds every record (see `cache`).
    whole: bool,
    /// The newest commit that wrote every chain head to meta, as far as this connection knows:
    /// the commits after it leave the heads they move in their journal entries only.
    flushed: u64,
    /// The authors whose chain heads moved after `flushed` (in the journal, not in meta).
    dirty: Vec<PeerId>,
    /// Authors found not to be the storage's when it was last read (the others are the state's
    /// `also_local`, see `author::local_authors`).
    not_local: Vec<PeerId>,
    /// Whether the other connections know this connection's author as the storage's: a slot's
    /// author, or one marked in meta (`local/` + author) by its first write.
    marked: bool,
    /// Whether a put of a key whose record this connection does not hold guesses the key
    /// absent instead of reading it first (see `Database::commit_local_if`): the last such key
    /// was absent.
    guess_absent: bool,
}

impl<S: Storage> core::fmt::Debug for Database<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Database")
            .field("config", &self.config)
            .field("peer", &self.peer())
            .field("ops", &self.op_count())
            .field("keys", &self.state.len())
            .finish_non_exhaustive()
    }
}

fn state_config(config: &Config, peer: PeerId, also_local: &[PeerId]) -> StateConfig {
    StateConfig {
        strategy: config.strategy.clone(),
        local: peer,
        also_local: also_local.to_vec(),
        indexes: config.indexes.clone(),
    }
}

/// The schema `config` describes, as `meta` stores it.
fn schema_of(config: &Config) -> Schema {
    Schema {
        version: config.version,
        key_path: config.key_path.clone(),
        indexes: config.indexes.iter().map(|i| (i.name.clone(), i.unique)).collect(),
        strategy: Some(config.strategy.name().to_owned()),
    }
}

/// The number of the newest commit (0 before the first): the key of the last journal entry.
async fn stored_commit(storage: &impl Storage) -> Result<u64> {
    let last = ScanOptions { limit: Some(1), reverse: true, keys_only: true };
    match storage.scan(Store::Journal, KeyRange::all(), last).await?.first() {
        Some((k, _)) => keys::decode_counter(k),
        None => Ok(0),
    }
}

/// Whether the newest commit stored is still `seen`, the newest one a read saw (false: another
/// connection committed since). One older than `seen` is damage: a journal entry this
/// connection saw committed is gone, and reading again would never see `seen` again.
async fn still_at(storage: &impl Storage, seen: u64) -> Result<bool> {
    let stored = stored_commit(storage).await?;
    if stored < seen {
        return Err(DbError::Corrupt(format!(
            "the journal's newest commit is {stored}, but commit {seen} was read: journal entries are missing"
        )));
    }
    Ok(stored == seen)
}

/// Kept by a read that starts again when another connection committed meanwhile. Once it was
/// spoiled `after` times, it tells the other connections to take the storage's write lock
/// ([`Storage::lost_commit`]) and takes it, held until the read ends, so that its next round
/// reads while they wait. Without it, a connection committing in a tight loop (another tab)
/// could spoil every round of a read that takes longer than one of its commits, for as long as
/// it writes.
struct Quieter {
    lock: WriteLock,
    spoiled: u32,
    after: u32,
}

impl Quieter {
    /// Quiets the writers once the read was spoiled `after` times.
    fn after(after: u32) -> Quieter {
        Quieter { lock: WriteLock::none(), spoiled: 0, after }
    }

    /// The read was spoiled again: it will read again.
    async fn spoiled(&mut self, storage: &impl Storage) -> Result<()> {
        self.spoiled += 1;
        if self.spoiled >= self.after && !self.lock.is_held() {
            storage.lost_commit();
            self.lock = storage.lock_writes().await?;
        }
        Ok(())
    }
}

/// How many ops a log with these chain heads holds (each chain holds every seq up to its head's)
/// and its largest id: the counts of the state meta.
fn log_counts<'a>(heads: impl Iterator<Item = &'a auroradb_log::ChainHead>) -> (u64, Option<OpId>) {
    heads.fold((0, None), |(applied, high), h| (applied + h.seq, high.max(Some(h.id))))
}

/// Where the log stands at the newest commit, read at once: what opening needs to start the log
/// (`start_log`), and what loading its index needs besides the segment records.
struct Heads {
    /// The number of the newest commit (0 before the first).
    commit: u64,
    /// The count of visible records the newest journal entry holds (`None` before the first
    /// commit, or in an entry of version 1).
    visible: Option<u64>,
    /// Every author's chain head, with its proof of authorship.
    heads: Vec<(PeerId, keys::StoredHead)>,
    /// The newest commit that wrote every chain head to meta.
    flushed: u64,
    /// The authors whose chain heads the journal entries after `flushed` moved.
    dirty: Vec<PeerId>,
    /// The latest wall-clock time the newest commit's clock had read (`None`: no commit, or one
    /// of an earlier release).
    wall: Option<u64>,
}

/// Reads [`Heads`]: the chain heads of meta, with those of the journal entries after the newest
/// commit that wrote them all to meta laid over them (a few dozen entries at most: see
/// `Database::flush_due`). Read again if a commit came in between.
async fn read_heads(storage: &impl Storage) -> Result<Heads> {
    loop {
        let last = ScanOptions { limit: Some(1), reverse: true, keys_only: false };
        // Both reads at once (an IndexedDB transaction each, in this order): one round trip.
        let (newest, stored_heads) = futures::future::join(
            storage.scan(Store::Journal, KeyRange::all(), last),
            storage.scan(Store::Meta, KeyRange::prefix(keys::META_HEAD), ScanOptions::default()),
        )
        .await;
        let (commit, entry) = match newest?.first() {
            Some((k, v)) => (keys::decode_counter(k)?, Some(keys::decode_journal(v)?)),
            None => (0, None),
        };
        let flushed = entry.as_ref().map_or(0, |e| e.flushed_at(commit));
        let mut heads = Vec::new();
        for (k, v) in stored_heads? {
            let peer_bytes: [u8; 16] = k[keys::META_HEAD.len()..]
                .try_into()
                .map_err(|_| DbError::Corrupt("chain head key is not a peer id".into()))?;
            heads.push((PeerId(peer_bytes), keys::decode_head(&v)?));
        }
        let mut dirty = Vec::new();
        if flushed < commit {
            let after = KeyRange::between(Some(keys::encode_counter(flushed + 1)), None);
            for (_, v) in storage.scan(Store::Journal, after, ScanOptions::default()).await? {
                for (peer, head) in keys::decode_journal(&v)?.heads {
                    lay_over(&mut heads, peer, head);
                    if !dirty.contains(&peer) {
                        dirty.push(peer);
                    }
                }
            }
        }
        if stored_commit(storage).await? == commit {
            let (visible, wall) = entry.map_or((None, None), |e| (e.visible, e.wall));
            return Ok(Heads { commit, visible, heads, flushed, dirty, wall });
        }
    }
}

/// What opening read, all of one commit (`Database::open`).
struct Opened {
    log: Log,
    commit: u64,
    flushed: u64,
    dirty: Vec<PeerId>,
    checkpoints: IdSet,
    stored_schema: Option<Vec<u8>>,
    state: State,
    /// The stored state is of another strategy: rebuilt from the log once open.
    rebuild: bool,
    /// The state holds every record.
    whole: bool,
    since_checkpoint: u64,
}

/// Sets `peer`'s head in `heads` to `head` (a newer one: from a later commit).
fn lay_over(heads: &mut Vec<(PeerId, keys::StoredHead)>, peer: PeerId, head: keys::StoredHead) {
    match heads.iter_mut().find(|(p, _)| *p == peer) {
        Some((_, h)) => *h = head,
        None => heads.push((peer, head)),
    }
}

/// The log as opening starts it. The index of the log (every op's id and hash) is not read: its
/// size grows with the history, and reading, the one thing most opens are for, does not need
/// it. The log starts with its chain heads, which is what the next write needs to link its op,
/// their proofs (the database passes its authors' ops on with them) and the equivocations held;
/// the rest is loaded the first time something needs it (`load_log`). An empty log's index is
/// empty: a new database is indexed from the start. Returns the log and where it stands (without
/// the heads, which it holds).
async fn start_log(
    storage: &impl Storage,
    empty: bool,
    clock: Hlc,
    config: LogConfig,
    identity: Option<Identity>,
) -> Result<(Log, Heads)> {
    let (read, equivocations) = if empty {
        let none = Heads { commit: 0, visible: None, heads: Vec::new(), flushed: 0, dirty: Vec::new(), wall: None };
        (Ok(none), Ok(Vec::new()))
    } else {
        futures::future::join(read_heads(storage), fork::read_equivocations(storage)).await
    };
    let mut read = read?;
    let stored = std::mem::take(&mut read.heads);
    let heads: Vec<(PeerId, auroradb_log::ChainHead)> = stored.iter().map(|(p, s)| (*p, s.head)).collect();
    // A clock set back while no instance was open still bounds drift from what this machine's
    // clock read before (see `Hlc::restore_wall`).
    if let Some(wall) = read.wall {
        clock.restore_wall(wall);
    }
    let mut log = if heads.is_empty() { Log::new(clock, config) } else { Log::unindexed(clock, config, heads) };
    if let Some(identity) = identity {
        log.set_identity(identity)?;
    }
    for (_, s) in stored {
        if let Some(proof) = s.proof {
            log.keep_proof(s.head.id, proof);
        }
    }
    for eq in equivocations? {
        log.keep_equivocation(eq);
    }
    Ok((log, read))
}

/// How many ops follow the newest of `checkpoints`, counted by the storage without reading them
/// (0 when checkpoints are off): in Chromium, IndexedDB's count() of 10k ops takes about a
/// quarter of the time getAllKeys() takes to hand their keys over, before the page copies each
/// one. A checkpoint is written whenever an interval of ops is due, so they are normally fewer
/// than an interval (the larger of `checkpoint_every` and the record count), however long the
/// history.
async fn ops_since_checkpoint(storage: &impl Storage, config: &Config, checkpoints: &IdSet) -> Result<u64> {
    if config.checkpoint_every == 0 {
        return Ok(0);
    }
    let after = checkpoints.last().map(|at| at.to_bytes().to_vec());
    let range = KeyRange { start: after.map_or(Bound::Unbounded, Bound::Excluded), end: Bound::Unbounded };
    Ok(storage.count(Store::Log, range).await?)
}

/// The ids of the stored checkpoints.
async fn read_checkpoints(storage: &impl Storage) -> Result<IdSet> {
    storage
        .scan(Store::Checkpoints, KeyRange::all(), ScanOptions { keys_only: true, ..Default::default() })
        .await?
        .into_iter()
        .map(|(k, _)| OpId::from_bytes(&k).map_err(DbError::from))
        .collect()
}

impl<S: Storage> Database<S> {
    /// Opens the database in `storage`: reads meta, the state records and the checkpoints' ids,
    /// and counts the ops after the newest checkpoint ([`Storage::count`]); never a segment
    /// record, never an op or its key. What it reads does not grow with the length of the
    /// history.
    pub async fn open(storage: S, config: Config) -> Result<Database<S>> {
        if let Some(kp) = &config.key_path
            && kp.is_empty()
        {
            return Err(DbError::InvalidConfig("keyPath is empty".into()));
        }
        if !(MAX_OP_FLOOR..=MAX_OP_CEILING).contains(&config.max_op) {
            return Err(DbError::InvalidConfig(format!(
                "the maximum op size must be from {MAX_OP_FLOOR} to {MAX_OP_CEILING} bytes, not {}",
                config.max_op
            )));
        }
        // A few indexes: each is checked against the ones before it (no set, whose B-tree code
        // would be one more copy in the wasm).
        for (i, ix) in config.indexes.iter().enumerate() {
            if ix.name.is_empty() || config.indexes[..i].iter().any(|other| other.name == ix.name) {
                return Err(DbError::InvalidConfig(format!("index name {:?} is empty or repeated", ix.name)));
            }
        }
        // A storage known to hold nothing is not read: what it would give is known.
        let empty = storage.is_new();
        let mut slot = None;
        // The schema, when the slot's commit stored it.
        let mut schema_with_slot = None;
        let identity = match (&config.identity, config.peer) {
            (Some(i), Some(p)) if i.peer() != p => {
                return Err(DbError::InvalidConfig("the peer id is not the identity's author id".into()));
            }
            (Some(i), _) => Some(i.clone()),
            (None, Some(_)) => None,
            (None, None) => {
                // A new storage's schema goes in the commit that stores slot 0's identity: one
                // commit fewer on a first open.
                let schema = empty.then(|| keys::encode_schema(&schema_of(&config)));
                let stored;
                (slot, stored) = author::claim(&storage, empty, schema.as_deref()).await?;
                if stored {
                    schema_with_slot = schema;
                }
                Some(slot.as_ref().map_or_else(Identity::generate, |s| s.identity.clone()))
            }
        };
        let peer = identity.as_ref().map(Identity::peer).or(config.peer).expect("an identity or a chosen peer");
        let log_config = LogConfig { max_drift: config.max_drift, segment_ops: config.segment_ops, keep_ops: false };
        // Under a strategy that tells local ops from remote ones, every author of the storage is
        // local (its other connections', and this one's earlier authors): all of them compute
        // the same state. Not read under the others, which do not ask.
        let also_local = if config.strategy.converges() || empty {
            Vec::new()
        } else {
            let mut authors = author::local_authors(&storage).await?;
            authors.retain(|a| *a != peer);
            authors
        };
        let marked = slot.is_some();
        let sc = state_config(&config, peer, &also_local);

        // The reads, again if another connection committed while a whole state was read (it
        // must be of the commit the heads were read at).
        let mut quieter = Quieter::after(2);
        let Opened { log, commit, flushed, dirty, checkpoints, stored_schema, state, rebuild, whole, since_checkpoint } = loop {
            let clock = Hlc::new(peer, config.clock, config.max_drift);
            let (log, Heads { commit, visible, flushed, dirty, .. }) =
                start_log(&storage, empty, clock, log_config, identity.clone()).await?;
            // The stored state meta's counts may be older than the log's (a commit rewrites the meta
            // only when its clear changes): they are the chain heads'.
            let (applied, high_water) = log_counts(log.heads().values());

            // The reads that do not depend on each other at once (a transaction each, in this order):
            // one round trip for the three.
            let (meta, checkpoints, schema) = if empty {
                (Ok(None), Ok(IdSet::default()), Ok(None))
            } else {
                futures::future::join3(
                    storage.get(Store::Meta, keys::META_STATE),
                    read_checkpoints(&storage),
                    storage.get(Store::Meta, keys::META_SCHEMA),
                )
                .await
            };
            let (checkpoints, stored_schema) = (checkpoints?, schema?);
            let meta = match meta? {
                Some(b) => Some(StateMeta::decode(&b)?.with_log(applied, high_water)),
                None => None,
            };
            let mut rebuild = false;
            let mut whole = true;
            // Counted with the state records' read when they are read.
            let mut since_checkpoint = None;
            let state = match (meta, visible, config.state_cache) {
                (None, ..) if empty => {
                    since_checkpoint = Some(0);
                    State::new(sc)
                }
                // On demand: no record is read now.
                (Some(meta), Some(visible), Some(_)) => match State::partial(sc.clone(), meta, visible as usize) {
                    Ok(state) => {
                        whole = false;
                        state
                    }
                    Err(SnapshotError::StrategyMismatch { .. }) => {
                        rebuild = true;
                        State::new(sc)
                    }
                    Err(e) => return Err(e.into()),
                },
                (meta, ..) => {
                    let mut key_records = Vec::new();
                    let (records, counted) = futures::future::join(
                        storage.scan(Store::State, KeyRange::all(), ScanOptions::default()),
                        ops_since_checkpoint(&storage, &config, &checkpoints),
                    )
                    .await;
                    since_checkpoint = Some(counted?);
                    let records = records?;
                    // A commit made since the heads were read (another tab's first, into a database
                    // that held none) would be in the records and not in the log: read again.
                    if !empty && !still_at(&storage, commit).await? {
                        quieter.spoiled(&storage).await?;
                        continue;
                    }
                    for (k, v) in records {
                        let key =
                            String::from_utf8(k).map_err(|_| DbError::Corrupt("state key is not UTF-8".into()))?;
                        key_records.push((key, KeyRecord::decode(&v)?));
                    }
                    match meta {
                        Some(meta) => match State::restore(sc.clone(), meta, key_records) {
                            Ok(state) => state,
                            // The strategy changed: the state is rebuilt from the log below.
                            Err(SnapshotError::StrategyMismatch { .. }) => {
                                rebuild = true;
                                State::new(sc)
                            }
                            Err(e) => return Err(e.into()),
                        },
                        None if key_records.is_empty() => State::new(sc),
                        None => return Err(DbError::Corrupt("state records without state meta".into())),
                    }
                }
            };

            let since_checkpoint = match since_checkpoint {
                Some(n) => n,
                None => ops_since_checkpoint(&storage, &config, &checkpoints).await?,
            };
            break Opened {
                log,
                commit,
                flushed,
                dirty,
                checkpoints,
                stored_schema,
                state,
                rebuild,
                whole,
                since_checkpoint,
            };
        };

        let log = Rc::new(RefCell::new(log));
        let mut db = Database {
            storage,
            config,
            log,
            state,
            commit,
            checkpoints,
            since_checkpoint,
            checkpoint_after: 0,
            caught_up: Vec::new(),
            stats: Stats::default(),
            slot,
            tail: None,
            whole,
            flushed,
            dirty,
            not_local: Vec::new(),
            marked,
            guess_absent: true,
        };
        db.write_schema(schema_with_slot.or(stored_schema), rebuild).await?;
        if rebuild {
            db.load_log().await?;
            db.rebuild_state().await?;
        }
        Ok(db)
    }

    /// The state's configuration for this connection.
    fn state_config(&self) -> StateConfig {
        state_config(&self.config, self.peer(), &self.state.config().also_local)
    }

    /// Before `ops` are applied: under a strategy that tells local ops from remote ones, their
    /// authors known neither as the storage's nor as not (a connection opened since, or another
    /// one's first write without a slot). Then `learn_local` reads the storage's authors again,
    /// so that their ops count as local here as in every other connection.
    pub(super) fn unknown_authors(&self, ops: &[auroradb_log::EncodedOp]) -> Vec<PeerId> {
        let mut unknown = Vec::new();
        if self.config.strategy.converges() {
            return unknown;
        }
        let (me, known) = (self.peer(), &self.state.config().also_local);
        for a in ops.iter().map(|o| o.op.author) {
            if a != me && !known.contains(&a) && !self.not_local.contains(&a) && !unknown.contains(&a) {
                unknown.push(a);
            }
        }
        unknown
    }

    /// Reads the storage's authors again (see `unknown_authors`); those of `unknown` that are
    /// not among them are remembered as not the storage's.
    pub(super) async fn learn_local(&mut self, mut unknown: Vec<PeerId>) -> Result<()> {
        let me = self.peer();
        let mut authors = author::local_authors(&self.storage).await?;
        authors.retain(|a| *a != me);
        unknown.retain(|a| !authors.contains(a));
        self.not_local.extend(unknown);
        self.state.set_also_local(authors);
        Ok(())
    }

    /// Loads the log's index (every op's id and hash, the fingerprints, the segments) from the
    /// segment records and the ops after them (the tail, see `tail`), unless it is loaded: sync, remote ops, a write that is due to make a
    /// checkpoint, time travel, verification and export need it; opening, reading, catching up
    /// and other local writes do not. The commits of other
    /// connections are caught up first, and the records are taken only if no commit came in
    /// between (else it catches up and reads again), so the index is that of the ops the state
    /// holds. What it catches up with is kept for [`Database::take_caught_up`].
    pub async fn load_log(&mut self) -> Result<()> {
        let mut quieter = Quieter::after(2);
        while !self.log.borrow().is_indexed() {
            let changes = self.catch_up().await?;
            self.caught_up.extend(changes);
            let seen = self.commit;
            let mut records = Vec::new();
            for (_, v) in self.storage.scan(Store::Segments, KeyRange::all(), ScanOptions::default()).await? {
                records.push(SegmentRecord::decode(&v)?);
            }
            let tail = self.tail_record(&records).await?;
            if !tail.members.is_empty() {
                records.push(tail);
            }
            // Read before the heads, whose read ends by checking the newest commit again: that
            // check covers every read of this round.
            let kept = proofs::read_all(&self.storage).await?;
            let read = read_heads(&self.storage).await?;
            let heads = read.heads.into_iter().map(|(p, s)| (p, s.head));
            if read.commit == seen {
                self.log.borrow_mut().load_index(records, heads)?;
                for (id, proof) in kept {
                    self.log.borrow_mut().keep_proof(id, proof);
                }
                self.load_signers().await?;
                self.stats.index_loads += 1;
            } else {
                quieter.spoiled(&self.storage).await?;
            }
        }
        Ok(())
    }

    /// Lets the log sign for every author slot of the storage (their ops carry no proof of their
    /// own until they leave the database, see `commit_local_if`).
    pub(super) async fn load_signers(&mut self) -> Result<()> {
        for identity in author::slot_identities(&self.storage).await? {
            self.log.borrow_mut().add_signer(identity);
        }
        Ok(())
    }

    /// Number of ops in the log, loaded or not (each author's chain holds every seq from 1 to its
    /// head's).
    pub fn op_count(&self) -> u64 {
        self.log.borrow().heads().values().map(|h| h.seq).sum()
    }

    /// Replays the whole log into a fresh state under the configured strategy and replaces the
    /// stored state with it in one commit (the checkpoints, made under the old strategy, go).
    /// Opening does this, and only this replay, when the strategy changed.
    async fn rebuild_state(&mut self) -> Result<()> {
        self.rebuild_state_with(crate::storage::WriteBatch::default(), &[], None).await.map(|_| ())
    }

    /// The state of the checkpoint `base` (an empty one without), with the stored ops after it
    /// applied but those of `skip` (ascending ids), and the number applied: the state the log
    /// gives under this connection's strategy.
    async fn replay_log(&mut self, base: Option<OpId>, skip: &[OpId]) -> Result<(State, u64)> {
        let mut state = self.checkpoint_state(base).await?;
        let ops = self.load_ops(base.map_or(Bound::Unbounded, Bound::Excluded), Bound::Unbounded).await?;
        let mut kept = 0;
        for op in ops.iter().filter(|op| skip.binary_search(&op.id).is_err()) {
            state.apply(op);
            kept += 1;
        }
        Ok((state, kept))
    }

    /// [`Database::rebuild_state`] without the ops `skip` (ascending ids), in one commit with
    /// `batch`. With `skip` (a freeze), it costs the history after the first skipped op, not the
    /// whole log: the checkpoints before that op stay (each is the state of the ops up to it,
    /// none of them skipped), and the replay starts from the newest of them, or from an empty
    /// state if there is none, loading only the ops after it; the checkpoints from that op on go.
    /// Returns the state it replaced; on failure the state is as it was.
    async fn rebuild_state_with(
        &mut self,
        mut batch: crate::storage::WriteBatch,
        skip: &[OpId],
        except: Option<PeerId>,
    ) -> Result<State> {
        let base = skip.first().and_then(|first| self.checkpoints.range(..*first).last().copied());
        // Not from the live state: loading the index may have caught up with commits into it.
        let (state, kept) = self.replay_log(base, skip).await?;
        let visible = state.len() as u64;
        // It writes every chain head to meta (but `except`'s, which the caller writes).
        self.flush_heads(&mut batch, &[], except);
        let wall = self.log.borrow().clock().wall_time();
        let next = keys::next_commit(self.commit)?;
        keys::journal(&mut batch, next, &[], visible, next, &[], wall);
        // The keys stored now, which may include keys of commits caught up since open.
        let stored = self
            .storage
            .scan(Store::State, KeyRange::all(), ScanOptions { keys_only: true, ..Default::default() })
            .await?;
        for (key, _) in stored {
            if !std::str::from_utf8(&key).is_ok_and(|k| state.record(k).is_some()) {
                batch.delete(Store::State, key);
            }
        }
        for (key, rec) in state.records() {
            batch.put(Store::State, key.as_bytes().to_vec(), rec.encode());
        }
        batch.put(Store::Meta, keys::META_STATE, state.meta().encode());
        // Read afresh: another connection's checkpoint() moves no commit number to catch up on.
        self.checkpoints = read_checkpoints(&self.storage).await?;
        let dropped = skip.first().map_or(Bound::Unbounded, |first| Bound::Included(*first));
        let dropped: Vec<OpId> = self.checkpoints.range((dropped, Bound::Unbounded)).to_vec();
        for at in &dropped {
            batch.delete(Store::Checkpoints, at.to_bytes().to_vec());
        }
        self.storage.commit(batch).await?;
        self.commit += 1;
        self.flushed = self.commit;
        self.dirty.clear();
        for at in &dropped {
            self.checkpoints.remove(at);
        }
        // The ops applied after the newest checkpoint left, as a write counts them.
        self.since_checkpoint = kept;
        // The replay holds every record.
        self.whole = true;
        Ok(std::mem::replace(&mut self.state, state))
    }

    /// After another connection's commit that replaced the state instead of adding ops (a
    /// freeze, `fork`, or a replay under a new strategy): what this connection holds may name ops
    /// that are gone, so the log and the state start again from storage as opening starts them
    /// (with the index loaded again if it was, every record read again if they all were held).
    /// Returns the changes of the records held before, whose values are the only ones this
    /// connection can say changed; with every record held, the changes are exact.
    async fn restart(&mut self) -> Result<Vec<Change>> {
        let indexed = self.log.borrow().is_indexed();
        let was_whole = self.whole;
        let before_all = if was_whole { self.state.all() } else { Vec::new() };
        let held: Vec<(String, Option<Value>)> =
            self.state.records().map(|(k, r)| (k.to_owned(), r.visible().map(|e| e.value.clone()))).collect();
        let mut quieter = Quieter::after(2);
        loop {
            let clock = Hlc::new(self.peer(), self.config.clock, self.config.max_drift);
            let (config, identity) = {
                let log = self.log.borrow();
                (*log.config(), log.identity().cloned())
            };
            let (log, Heads { commit: seen, visible, flushed, dirty, .. }) =
                start_log(&self.storage, false, clock, config, identity).await?;
            let (applied, high_water) = log_counts(log.heads().values());
            let meta = match self.storage.get(Store::Meta, keys::META_STATE).await? {
                Some(b) => StateMeta::decode(&b)?.with_log(applied, high_water),
                None => self.state.meta().clone().with_log(applied, high_water),
            };
            let visible = match visible {
                Some(n) => n,
                None => self.count_visible().await?,
            };
            let checkpoints = read_checkpoints(&self.storage).await?;
            let since_checkpoint = ops_since_checkpoint(&self.storage, &self.config, &checkpoints).await?;
            if !still_at(&self.storage, seen).await? {
                quieter.spoiled(&self.storage).await?;
                continue;
            }
            self.state = State::partial(self.state_config(), meta, visible as usize)?;
            *self.log.borrow_mut() = log;
            self.commit = seen;
            self.flushed = flushed;
            self.dirty = dirty;
            self.checkpoints = checkpoints;
            self.since_checkpoint = since_checkpoint;
            self.checkpoint_after = 0;
            self.tail = None;
            self.whole = false;
            self.stats.restarts += 1;
            break;
        }
        // Loading catches up: what it finds (commits after the restart) waits in `caught_up`, as
        // it does for any load.
        if indexed {
            self.load_log().await?;
        }
        if was_whole {
            self.load_state().await?;
            return Ok(fork::changes_between(before_all, self.state.all()));
        }
        let raw: Vec<&[u8]> = held.iter().map(|(k, _)| k.as_bytes()).collect();
        let stored = self.storage.get_many(Store::State, &raw).await?;
        let mut changes = Vec::new();
        for ((key, before), bytes) in held.into_iter().zip(stored) {
            let after = match bytes {
                Some(bytes) => KeyRecord::decode(&bytes)?.visible().map(|e| e.value.clone()),
                None => None,
            };
            if before != after {
                changes.push(Change { key, before, after });
            }
        }
        Ok(changes)
    }

    /// Adds to `batch` the meta records of the chain heads that only journal entries hold (those
    /// of the authors in `dirty`, as the log holds them) and of `moved`, but `except`'s.
    fn flush_heads(
        &self,
        batch: &mut crate::storage::WriteBatch,
        moved: &[(PeerId, keys::StoredHead)],
        except: Option<PeerId>,
    ) {
        let log = self.log.borrow();
        let waiting = self.dirty.iter().filter(|p| !moved.iter().any(|(m, _)| m == *p)).filter_map(|p| {
            let head = *log.heads().get(p)?;
            Some((*p, keys::StoredHead { head, proof: log.proof_of(&head.id) }))
        });
        for (peer, stored) in waiting.chain(moved.iter().copied()) {
            if Some(peer) != except {
                batch.put(Store::Meta, keys::head_key(&peer), keys::encode_head(&stored));
            }
        }
    }

    /// Stores the configuration's schema unless `stored` (the schema record as the open read it)
    /// is the same; refuses an older version, and an index made unique while two records share
    /// one of its values ([`Database::check_made_unique`]; `rebuild`: the state is due to be
    /// rebuilt under a new strategy).
    async fn write_schema(&mut self, mut stored: Option<Vec<u8>>, rebuild: bool) -> Result<()> {
        let schema = schema_of(&self.config);
        // Another connection opening at the same time may write it between the read and this
        // commit (two tabs opening a new database): its schema is then checked as the stored one.
        for _ in 0..8 {
            if let Some(bytes) = &stored {
                let old = keys::decode_schema(bytes)?;
                if old == schema {
                    return Ok(());
                }
                if schema.version < old.version {
                    return Err(DbError::InvalidConfig(format!(
                        "version {} is older than the stored schema version {}",
                        schema.version, old.version
                    )));
                }
                // Every open connection applies the same strategy. A connection alone (no
                // other holds an author slot) may change it, and rebuilds the state; with others
                // open, a change needs a new version, which in a browser closes their
                // connections (as a change of indexes does) before this one rebuilds.
                // Indexes (their names and which are unique) change with a new version only, as
                // IndexedDB's own do: two connections at one version agree on them, so a unique
                // index is one for every writer.
                let sorted = |s: &Schema| {
                    let mut ix = s.indexes.clone();
                    ix.sort();
                    ix
                };
                if schema.version == old.version && sorted(&schema) != sorted(&old) {
                    return Err(DbError::InvalidConfig(format!(
                        "the indexes differ from those stored at version {}: raise version to change them",
                        old.version
                    )));
                }
                let alone = self.slot.as_ref().is_some_and(|s| !s.others);
                if let (Some(was), Some(now)) = (&old.strategy, &schema.strategy)
                    && was != now
                    && schema.version == old.version
                    && !alone
                {
                    return Err(DbError::InvalidConfig(format!(
                        "the database is open elsewhere with the {was:?} strategy: open it with that one, close the others, or raise version to change it to {now:?}"
                    )));
                }
                let made_unique: Vec<String> = schema
                    .indexes
                    .iter()
                    .filter(|(name, unique)| *unique && !old.indexes.iter().any(|(n, u)| *u && n == name))
                    .map(|(name, _)| name.clone())
                    .collect();
                if !made_unique.is_empty() {
                    self.check_made_unique(&made_unique, rebuild).await?;
                }
            }
            let mut batch = crate::storage::WriteBatch::default();
            batch.expect(Store::Meta, keys::META_SCHEMA, stored);
            batch.put(Store::Meta, keys::META_SCHEMA, keys::encode_schema(&schema));
            match self.storage.commit(batch).await {
                Err(crate::StorageError::Conflict) => stored = self.storage.get(Store::Meta, keys::META_SCHEMA).await?,
                done => return Ok(done?),
            }
        }
        Err(crate::StorageError::Conflict.into())
    }

    /// Refuses, with the [`SnapshotError::UniqueViolation`] of the first value two records share,
    /// a schema whose indexes `names` are unique now and were not: as IndexedDB refuses a unique
    /// index over records that break it, the upgrade that adds one leaves the database as it
    /// was. (Peers' concurrent writes may still give two records one value later: those are
    /// kept, see [`State::index_conflicts`].) With `rebuild`, the state the open read is due to
    /// be rebuilt under a new strategy, so the check is made on the state the log gives under it.
    async fn check_made_unique(&mut self, names: &[String], rebuild: bool) -> Result<()> {
        let conflicts = if rebuild {
            self.replay_log(None, &[]).await?.0.index_conflicts()
        } else {
            self.load_state().await?;
            self.state.index_conflicts()
        };
        match conflicts.into_iter().find(|(index, ..)| names.contains(index)) {
            Some((index, value, keys)) => Err(SnapshotError::UniqueViolation {
                index,
                value: auroradb_snapshot::render_value(&value),
                key: keys[1].clone(),
                existing_key: keys[0].clone(),
            }
            .into()),
            None => Ok(()),
        }
    }

    /// The storage.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// This connection's author id.
    pub fn peer(&self) -> PeerId {
        self.log.borrow().peer()
    }

    /// The author slot this connection holds (see [`Config::identity`]): `None` when it was
    /// given its identity or author, or got a fresh one.
    pub fn author_slot(&self) -> Option<u32> {
        self.slot.as_ref().map(|s| s.number)
    }

    /// The log's index (ids, hashes, chains, fingerprints). Until [`Database::load_log`] (see
    /// there for what calls it) it holds the chain heads only.
    pub fn log(&self) -> Ref<'_, Log> {
        self.log.borrow()
    }

    /// The log's index, shared: for the sync engine, which reads it between writes (load it with
    /// [`Database::load_log`] before the engine starts).
    pub fn log_handle(&self) -> Rc<RefCell<Log>> {
        Rc::clone(&self.log)
    }

    /// The live state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Ids of the stored checkpoints.
    pub fn checkpoint_ids(&self) -> impl Iterator<Item = &OpId> {
        self.checkpoints.iter()
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.state.get(key).map(|e| &e.value)
    }

    /// The entry of `key`: value, winning op, author, version.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.state.get(key)
    }

    /// Every record in key order.
    pub fn all(&self) -> Vec<(String, Value)> {
        self.state.all()
    }

    /// Number of records.
    pub fn count(&self) -> usize {
        self.state.len()
    }

    /// The records for which `pred` holds, in key order.
    pub fn filter(&self, pred: impl FnMut(&str, &Value) -> bool) -> Vec<(String, Value)> {
        self.state.filter(pred)
    }

    /// Records `start..end` in key order.
    pub fn slice(&self, start: usize, end: usize) -> Vec<(String, Value)> {
        self.state.slice(start, end)
    }

    /// Whether `pred` holds for every record.
    pub fn every(&self, pred: impl FnMut(&str, &Value) -> bool) -> bool {
        self.state.every(pred)
    }

    /// The records whose indexed field equals `value`.
    pub fn find_by(&self, index: &str, value: &Value) -> Result<Vec<(String, Value)>> {
        Ok(self.state.find_by(index, value)?)
    }

    /// The records whose indexed field is within the bounds, by index value then key.
    pub fn index_range(
        &self,
        index: &str,
        lo: std::ops::Bound<&Value>,
        hi: std::ops::Bound<&Value>,
    ) -> Result<Vec<(String, Value)>> {
        Ok(self.state.index_range(index, lo, hi)?)
    }
}
