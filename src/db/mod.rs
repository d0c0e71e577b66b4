//! [`Database`]: the engine behind both APIs. Every write is an op appended to the log and
//! applied to the materialized state, committed to storage in one atomic batch.

mod file;
mod keys;
mod travel;
mod txn;
mod validate;
mod write;

use std::cell::{Ref, RefCell};
use std::rc::Rc;
use std::time::Duration;

use auroradb_log::segment::{DEFAULT_SEGMENT_OPS, SegmentRecord};
use auroradb_log::{ClockFn, DEFAULT_MAX_DRIFT, Hlc, IdSet, Log, LogConfig, OpId, PeerId, Value};
use auroradb_snapshot::{Change, Entry, IndexSpec, KeyRecord, SnapshotError, State, StateConfig, StateMeta, Strategy};

pub use file::{LogFileInfo, MAGIC_LOG_FILE};
pub use keys::Schema;
pub use travel::{DbVerifyReport, HistoryItem};
pub use txn::{Transaction, Txn};
pub use validate::{MAX_DEPTH, MAX_KEY_LEN, validate_key, validate_value};
pub use write::WriteOutcome;

pub use auroradb_log::{DEFAULT_MAX_OP, MAX_OP_CEILING};

use crate::storage::{KeyRange, ScanOptions, Storage, Store};
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
    /// synced (the sync ships ops up to this size, in pieces when larger than a frame). From 1
    /// to [`MAX_OP_CEILING`]; default [`DEFAULT_MAX_OP`] (16 MiB).
    pub max_op: usize,
    /// This connection's author id; random when `None` (two connections never share one).
    pub peer: Option<PeerId>,
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
            peer: None,
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
}

/// A database over a [`Storage`].
pub struct Database<S: Storage> {
    storage: S,
    config: Config,
    /// Shared with the sync engine, which reads the fingerprint index between writes; it is
    /// borrowed only briefly and never across an `await`.
    log: Rc<RefCell<Log>>,
    state: State,
    /// The commit counter this connection has seen.
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
}

impl<S: Storage> core::fmt::Debug for Database<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Database")
            .field("config", &self.config)
            .field("peer", &self.peer())
            .field("ops", &self.log.borrow().len())
            .field("keys", &self.state.len())
            .finish_non_exhaustive()
    }
}

fn state_config(config: &Config, peer: PeerId) -> StateConfig {
    StateConfig { strategy: config.strategy.clone(), local: peer, indexes: config.indexes.clone() }
}

impl<S: Storage> Database<S> {
    /// Opens the database in `storage`: reads meta, segment records and state records; never
    /// decodes or replays the log.
    pub async fn open(storage: S, config: Config) -> Result<Database<S>> {
        if let Some(kp) = &config.key_path
            && kp.is_empty()
        {
            return Err(DbError::InvalidConfig("keyPath is empty".into()));
        }
        if !(1..=MAX_OP_CEILING).contains(&config.max_op) {
            return Err(DbError::InvalidConfig(format!(
                "the maximum op size must be from 1 to {MAX_OP_CEILING} bytes, not {}",
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
        let peer = config.peer.unwrap_or_else(PeerId::random);
        let clock = Hlc::new(peer, config.clock, config.max_drift);
        let log_config = LogConfig { max_drift: config.max_drift, segment_ops: config.segment_ops, keep_ops: false };

        let commit = match storage.get(Store::Meta, keys::META_COMMIT).await? {
            Some(b) => keys::decode_counter(&b)?,
            None => 0,
        };
        let mut heads = Vec::new();
        for (k, v) in storage.scan(Store::Meta, KeyRange::prefix(keys::META_HEAD), ScanOptions::default()).await? {
            let peer_bytes: [u8; 16] = k[keys::META_HEAD.len()..]
                .try_into()
                .map_err(|_| DbError::Corrupt("chain head key is not a peer id".into()))?;
            heads.push((PeerId(peer_bytes), keys::decode_head(&v)?));
        }
        let mut records = Vec::new();
        for (_, v) in storage.scan(Store::Segments, KeyRange::all(), ScanOptions::default()).await? {
            records.push(SegmentRecord::decode(&v)?);
        }
        let log = Log::restore(clock, log_config, records, heads)?;

        let meta = match storage.get(Store::Meta, keys::META_STATE).await? {
            Some(b) => Some(StateMeta::decode(&b)?),
            None => None,
        };
        let mut key_records = Vec::new();
        for (k, v) in storage.scan(Store::State, KeyRange::all(), ScanOptions::default()).await? {
            let key = String::from_utf8(k).map_err(|_| DbError::Corrupt("state key is not UTF-8".into()))?;
            key_records.push((key, KeyRecord::decode(&v)?));
        }
        let sc = state_config(&config, peer);
        let old_keys: Vec<String> = key_records.iter().map(|(k, _)| k.clone()).collect();
        let mut rebuild = false;
        let state = match meta {
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
        };

        let checkpoints: IdSet = storage
            .scan(Store::Checkpoints, KeyRange::all(), ScanOptions { keys_only: true, ..Default::default() })
            .await?
            .into_iter()
            .map(|(k, _)| OpId::from_bytes(&k))
            .collect::<Result<_, _>>()?;
        let since_checkpoint = match checkpoints.last() {
            Some(at) => log.summary((std::ops::Bound::Excluded(*at), std::ops::Bound::Unbounded)).count,
            None => log.len() as u64,
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
        };
        db.write_schema().await?;
        if rebuild {
            db.rebuild_state(old_keys).await?;
        }
        Ok(db)
    }

    /// Replays the whole log into a fresh state under the configured strategy and replaces the
    /// stored state with it in one commit (the checkpoints, made under the old strategy, go).
    /// Opening does this, and only this replay, when the strategy changed.
    async fn rebuild_state(&mut self, old_keys: Vec<String>) -> Result<()> {
        let ops = self.load_ops(std::ops::Bound::Unbounded, std::ops::Bound::Unbounded).await?;
        for op in &ops {
            self.state.apply(op);
        }
        let mut batch = crate::storage::WriteBatch::default();
        let held = (self.commit > 0).then(|| keys::encode_counter(self.commit));
        batch.expect(Store::Meta, keys::META_COMMIT, held);
        batch.put(Store::Meta, keys::META_COMMIT, keys::encode_counter(self.commit + 1));
        batch.put(Store::Journal, keys::encode_counter(self.commit + 1), keys::encode_journal(&[]));
        for key in old_keys {
            if self.state.record(&key).is_none() {
                batch.delete(Store::State, key.into_bytes());
            }
        }
        for (key, rec) in self.state.records() {
            batch.put(Store::State, key.as_bytes().to_vec(), rec.encode());
        }
        batch.put(Store::Meta, keys::META_STATE, self.state.meta().encode());
        for at in &self.checkpoints {
            batch.delete(Store::Checkpoints, at.to_bytes().to_vec());
        }
        self.storage.commit(batch).await?;
        self.commit += 1;
        self.checkpoints.clear();
        self.since_checkpoint = self.log.borrow().len() as u64;
        Ok(())
    }

    async fn write_schema(&mut self) -> Result<()> {
        let schema = Schema {
            version: self.config.version,
            key_path: self.config.key_path.clone(),
            indexes: self.config.indexes.iter().map(|i| (i.name.clone(), i.unique)).collect(),
        };
        let stored = self.storage.get(Store::Meta, keys::META_SCHEMA).await?;
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
        }
        let mut batch = crate::storage::WriteBatch::default();
        batch.expect(Store::Meta, keys::META_SCHEMA, stored);
        batch.put(Store::Meta, keys::META_SCHEMA, keys::encode_schema(&schema));
        self.storage.commit(batch).await?;
        Ok(())
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

    /// The log's index (ids, hashes, chains, fingerprints).
    pub fn log(&self) -> Ref<'_, Log> {
        self.log.borrow()
    }

    /// The log's index, shared: for the sync engine, which reads it between writes.
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
