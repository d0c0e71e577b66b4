//! # AuroraDB
//!
//! A browser database whose engine is an event-sourced operation log. Every write is an op
//! appended to a hybrid-logical-clock log with per-author blake3 hash chains; reads come from a
//! materialized state kept by a conflict strategy; the past stays queryable (time travel); peers
//! sync by exchanging log segments checked with blake3 range fingerprints.
//!
//! The Rust API is [`Database`] over a [`Storage`]: [`MemoryStorage`] natively and in tests,
//! IndexedDB in the browser (the `auroradb-web` crate, `web/`, which also holds the
//! JavaScript API). This crate is portable: it builds and runs the same natively and on wasm32.
//!
//! ```
//! use auroradb::{Config, Database, MemoryStorage, Value};
//! # futures::executor::block_on(async {
//! let mut db = Database::open(MemoryStorage::new(), Config::new("app", auroradb::log::system_clock)).await?;
//! db.put("user1", Value::map([("name", Value::from("Alice"))])).await?;
//! assert_eq!(db.get("user1").and_then(|v| v.field("name")), Some(&Value::from("Alice")));
//! assert_eq!(db.verify().await?.ops, 1);
//! # Ok::<(), auroradb::DbError>(())
//! # }).unwrap();
//! ```

mod db;
mod error;
pub mod storage;
#[cfg(feature = "sync")]
pub mod sync;
mod turns;

pub use auroradb_log::{self as log, EncodedOp, Op, OpId, OpKind, PeerId, Step, Value};
pub use auroradb_snapshot::{self as snapshot, Change, Diff, Entry, IndexSpec, Outcome, State, Strategy};
pub use db::{
    AUTHOR_SLOTS, Config, DEFAULT_MAX_OP, Database, DbVerifyReport, HistoryItem, LOG_FILE_VERSION, LogFileInfo,
    MAGIC_LOG_FILE, MAX_DEPTH, MAX_KEY_LEN, MAX_OP_CEILING, MAX_OP_FLOOR, Schema, Stats, Transaction, Txn,
    WriteOutcome, decode_file, encode_log_file, slot_lock, validate_key, validate_value,
};
pub use error::{DbError, ErrorName, Result, StorageError};
pub use storage::{FaultyStorage, MemoryStorage, Storage, Store};
#[cfg(feature = "sync")]
pub use sync::DbReplica;
pub use turns::{TurnGuard, Turns};

/// A database shared between the application and the sync engine (`None` once closed), behind
/// a lock that serves its callers in the order they asked ([`Turns`]).
pub type SharedDatabase<S> = std::rc::Rc<Turns<Option<Database<S>>>>;

/// The largest op id whose physical time is at most `ms` milliseconds since the Unix epoch: the
/// bound to pass to [`Database::state_at`] for "as of this wall-clock time".
/// From the last millisecond NTP64 can say ([`auroradb_log::MAX_MILLIS`]) on, every id: a clock
/// that ran past it stamps its ops in that millisecond.
pub fn upto_millis(ms: u64) -> OpId {
    let time = match ms {
        ..auroradb_log::MAX_MILLIS => auroradb_log::millis_to_ntp(ms + 1) - 1,
        _ => u64::MAX,
    };
    OpId { time, peer: PeerId([0xff; 16]) }
}
