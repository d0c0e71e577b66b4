//! The storage trait the database runs on, and its in-memory and fault-injecting backends.
//!
//! The trait is narrow on purpose: commit one batch of writes atomically across the stores, get
//! one record, scan a key range, count the records in a key range. Futures are not `Send`:
//! browser storage is single-threaded.

mod faulty;
mod memory;

use std::ops::Bound;

pub use faulty::{Fault, FaultyStorage};
pub use memory::MemoryStorage;

use crate::StorageError;

/// The object stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Store {
    /// Encoded ops by sortable id bytes.
    Log,
    /// One record per key: everything the state keeps about it.
    State,
    /// Segment records (op ids and hashes) by first id.
    Segments,
    /// Encoded checkpoints by id bytes.
    Checkpoints,
    /// Small named records: chain heads, state meta, the schema, author slots' identities.
    Meta,
    /// `(key, op id)` pairs: which ops wrote each key, for `history`.
    History,
    /// Commit number → ids of the ops that commit added, so one connection can catch up with
    /// another's commits on the same storage.
    Journal,
}

impl Store {
    /// Every store.
    pub const ALL: [Store; 7] =
        [Store::Log, Store::State, Store::Segments, Store::Checkpoints, Store::Meta, Store::History, Store::Journal];

    /// The store's name (as an IndexedDB object store name).
    pub fn name(self) -> &'static str {
        match self {
            Store::Log => "log",
            Store::State => "state",
            Store::Segments => "segments",
            Store::Checkpoints => "checkpoints",
            Store::Meta => "meta",
            Store::History => "history",
            Store::Journal => "journal",
        }
    }
}

/// One change in a [`WriteBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// Write `value` under `key`.
    Put {
        /// The store.
        store: Store,
        /// The record's key.
        key: Vec<u8>,
        /// The record.
        value: Vec<u8>,
    },
    /// Delete `key`.
    Delete {
        /// The store.
        store: Store,
        /// The record's key.
        key: Vec<u8>,
    },
    /// Put `value` under `key`, which must hold nothing: if it holds a record, the commit
    /// fails with [`StorageError::Conflict`] and writes nothing. A check that costs no read
    /// (IndexedDB's `add`): a commit claims its number this way.
    Insert {
        /// The store.
        store: Store,
        /// The record's key.
        key: Vec<u8>,
        /// The record.
        value: Vec<u8>,
    },
    /// The commit goes ahead only if `key` currently holds `value` (`None`: is absent);
    /// otherwise it fails with [`StorageError::Conflict`] and writes nothing.
    Expect {
        /// The store.
        store: Store,
        /// The record's key.
        key: Vec<u8>,
        /// What it must hold.
        value: Option<Vec<u8>>,
    },
}

/// A set of mutations committed all or nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    /// The mutations, applied in order.
    pub mutations: Vec<Mutation>,
    /// Whether the batch stores new values (a put of a record, a checkpoint): a backend with a
    /// quota may refuse it while room is short, keeping that room for the writes that only
    /// remove (a remove, a clear), which store a small, fixed amount each. False for those.
    pub grows: bool,
}

impl WriteBatch {
    /// Adds a put.
    pub fn put(&mut self, store: Store, key: impl Into<Vec<u8>>, value: Vec<u8>) {
        self.mutations.push(Mutation::Put { store, key: key.into(), value });
    }

    /// Adds an insert: a put that fails the commit if the key holds a record.
    pub fn insert(&mut self, store: Store, key: impl Into<Vec<u8>>, value: Vec<u8>) {
        self.mutations.push(Mutation::Insert { store, key: key.into(), value });
    }

    /// Adds a delete.
    pub fn delete(&mut self, store: Store, key: impl Into<Vec<u8>>) {
        self.mutations.push(Mutation::Delete { store, key: key.into() });
    }

    /// Adds a precondition.
    pub fn expect(&mut self, store: Store, key: impl Into<Vec<u8>>, value: Option<Vec<u8>>) {
        self.mutations.push(Mutation::Expect { store, key: key.into(), value });
    }

    /// The bytes the batch's puts and inserts store: their keys and values.
    pub fn stored_bytes(&self) -> usize {
        self.mutations
            .iter()
            .map(|m| match m {
                Mutation::Put { key, value, .. } | Mutation::Insert { key, value, .. } => key.len() + value.len(),
                Mutation::Delete { .. } | Mutation::Expect { .. } => 0,
            })
            .sum()
    }

    /// Number of mutations.
    pub fn len(&self) -> usize {
        self.mutations.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.mutations.is_empty()
    }
}

/// A key range for [`Storage::scan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    /// Lower bound.
    pub start: Bound<Vec<u8>>,
    /// Upper bound.
    pub end: Bound<Vec<u8>>,
}

impl KeyRange {
    /// Every key.
    pub fn all() -> KeyRange {
        KeyRange { start: Bound::Unbounded, end: Bound::Unbounded }
    }

    /// Every key starting with `prefix`.
    pub fn prefix(prefix: &[u8]) -> KeyRange {
        let mut end = prefix.to_vec();
        // The smallest key greater than every key with the prefix.
        while let Some(last) = end.pop() {
            if last < 0xff {
                end.push(last + 1);
                return KeyRange { start: Bound::Included(prefix.to_vec()), end: Bound::Excluded(end) };
            }
        }
        KeyRange { start: Bound::Included(prefix.to_vec()), end: Bound::Unbounded }
    }

    /// `[start, end)`, either side open when `None`.
    pub fn between(start: Option<Vec<u8>>, end: Option<Vec<u8>>) -> KeyRange {
        KeyRange {
            start: start.map_or(Bound::Unbounded, Bound::Included),
            end: end.map_or(Bound::Unbounded, Bound::Excluded),
        }
    }

    /// Whether no key can be in the range (its start is after its end, or they meet with one
    /// side open). Backends answer such a scan with nothing rather than hand it to a map or to
    /// IndexedDB, which both refuse it.
    pub fn is_empty(&self) -> bool {
        match (&self.start, &self.end) {
            (Bound::Included(s), Bound::Included(e)) => s > e,
            (Bound::Included(s), Bound::Excluded(e))
            | (Bound::Excluded(s), Bound::Included(e))
            | (Bound::Excluded(s), Bound::Excluded(e)) => s >= e,
            _ => false,
        }
    }

    /// Whether `key` is in the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        let after_start = match &self.start {
            Bound::Included(s) => key >= s.as_slice(),
            Bound::Excluded(s) => key > s.as_slice(),
            Bound::Unbounded => true,
        };
        let before_end = match &self.end {
            Bound::Included(e) => key <= e.as_slice(),
            Bound::Excluded(e) => key < e.as_slice(),
            Bound::Unbounded => true,
        };
        after_start && before_end
    }
}

/// How to scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScanOptions {
    /// At most this many records.
    pub limit: Option<usize>,
    /// Largest key first.
    pub reverse: bool,
    /// Return empty values (cheaper where the backend can skip reading them).
    pub keys_only: bool,
}

/// Held by a connection while it writes (catches up with the other connections on the same
/// storage, then commits); dropping it lets the next one write. See [`Storage::lock_writes`].
pub struct WriteLock(Option<Box<dyn core::any::Any>>);

impl WriteLock {
    /// No lock: the storage does not serialize its connections' writes.
    pub fn none() -> WriteLock {
        WriteLock(None)
    }

    /// A lock released when `guard` is dropped.
    pub fn held(guard: impl core::any::Any) -> WriteLock {
        WriteLock(Some(Box::new(guard)))
    }

    /// Whether a lock is held.
    pub fn is_held(&self) -> bool {
        self.0.is_some()
    }
}

impl core::fmt::Debug for WriteLock {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("WriteLock").field(&self.is_held()).finish()
    }
}

/// A lock a connection holds for as long as it keeps this value (see [`Storage::hold`]);
/// dropping it releases the lock.
pub struct Held {
    _guard: Box<dyn core::any::Any>,
}

impl Held {
    /// A lock released when `guard` is dropped.
    pub fn new(guard: impl core::any::Any) -> Held {
        Held { _guard: Box::new(guard) }
    }
}

impl core::fmt::Debug for Held {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Held")
    }
}

/// What [`Storage::hold`] got.
#[derive(Debug)]
pub enum Claim {
    /// The lock, held until this is dropped.
    Held(Held),
    /// Another connection (of this storage, in this or another tab) holds it.
    Taken,
    /// The storage cannot lock (no Web Locks, or an opaque origin): nobody can tell whether
    /// another connection holds it.
    Unsupported,
}

/// How long to wait, in ms, before retry `attempt` (1, 2, ...) of a commit that lost to another
/// connection's, given `random` in `[0, 1)`. The first retry does not wait: catching up is all
/// it needs, and under a [`WriteLock`] it cannot lose again. Later ones mean writers that nothing
/// serializes: the wait doubles from 2 ms up to 256 ms, and only its upper half is fixed (the
/// rest is `random`), so writers that collided once spread apart.
pub fn retry_delay_ms(attempt: u32, random: f64) -> f64 {
    if attempt <= 1 {
        return 0.0;
    }
    let full = f64::from(1u32 << (attempt - 1).min(8));
    full / 2.0 * (1.0 + random.clamp(0.0, 1.0))
}

/// The storage a database runs on: a few ordered key-value stores with atomic multi-store
/// commits. Implementations: [`MemoryStorage`], [`FaultyStorage`], and IndexedDB in the browser.
#[allow(async_fn_in_trait)] // Not Send by design: browser storage futures are not.
pub trait Storage {
    /// Waits until no other connection to this storage is writing, and keeps them waiting until
    /// the returned lock is dropped. The database holds it around each write (catch-up and
    /// commit), never around another call of its own, and never across application code. By
    /// default there is no lock: connections race, and the one that loses retries.
    async fn lock_writes(&self) -> Result<WriteLock, StorageError> {
        Ok(WriteLock::none())
    }
    /// A commit of this connection lost to another connection's ([`StorageError::Conflict`]), or
    /// a read of it was spoiled by other connections' commits more than once: called before it
    /// takes the lock ([`Storage::lock_writes`]) to catch up and try again. A storage that takes
    /// the lock only while other connections write can start taking it here, and tell them to.
    /// By default nothing.
    fn lost_commit(&self) {}
    /// Whether the storage is known to hold nothing, asked once by the open of a database: a
    /// storage its own connection has just made (an IndexedDB database that had no stores when
    /// its open upgraded it), or one that can tell it is empty. The open then reads nothing of
    /// it, which is what it would have read. A backend that cannot tell answers `false`, the
    /// default: the open reads what the storage holds.
    fn is_new(&self) -> bool {
        false
    }
    /// Takes the exclusive lock `name` of this storage without waiting, for as long as the
    /// returned [`Held`] is kept (and, in a browser, no longer than the tab lives): what one
    /// connection holds, the others of the same storage get [`Claim::Taken`] for, until it is
    /// released. `name` is the engine's (`author/<n>`, no `:`); a backend keeps its locks apart
    /// from other storages' and from its write lock. By default the storage cannot lock
    /// ([`Claim::Unsupported`]).
    async fn hold(&self, name: &str) -> Result<Claim, StorageError> {
        let _ = name;
        Ok(Claim::Unsupported)
    }
    /// Waits before retry `attempt` (1, 2, ...) of a commit that lost to another connection's
    /// and has caught up with it. By default not at all (an in-memory storage shared by
    /// connections of one thread cannot be written to meanwhile anyway).
    async fn before_retry(&self, attempt: u32) {
        let _ = attempt;
    }
    /// Applies every mutation of `batch`, or none of them.
    async fn commit(&self, batch: WriteBatch) -> Result<(), StorageError>;
    /// The record under `key`.
    async fn get(&self, store: Store, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;
    /// The records of `keys`, in the order given (`None` where there is none): a backend whose
    /// reads are round trips issues them together (IndexedDB: in one transaction).
    async fn get_many(&self, store: Store, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.get(store, key).await?);
        }
        Ok(out)
    }
    /// The records in `range`, in key order (or reverse).
    async fn scan(
        &self,
        store: Store,
        range: KeyRange,
        options: ScanOptions,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError>;
    /// How many records `range` holds, without reading them: opening counts the ops after the
    /// newest checkpoint this way (a backend that cannot count natively can scan keys only).
    async fn count(&self, store: Store, range: KeyRange) -> Result<u64, StorageError>;
}

#[cfg(test)]
mod tests {
    use std::ops::Bound;

    use super::{KeyRange, MemoryStorage, ScanOptions, Storage, Store, WriteBatch};

    #[test]
    fn empty_ranges() {
        let r = |start: Bound<Vec<u8>>, end: Bound<Vec<u8>>| KeyRange { start, end };
        assert!(r(Bound::Included(vec![2]), Bound::Included(vec![1])).is_empty());
        assert!(r(Bound::Included(vec![1]), Bound::Excluded(vec![1])).is_empty());
        assert!(r(Bound::Excluded(vec![1]), Bound::Included(vec![1])).is_empty());
        assert!(!r(Bound::Included(vec![1]), Bound::Included(vec![1])).is_empty());
        assert!(!KeyRange::all().is_empty());
        assert!(!KeyRange::prefix(&[0xff]).is_empty());
    }

    #[test]
    fn an_insert_over_a_record_is_a_conflict_and_writes_nothing() {
        futures::executor::block_on(async {
            let s = MemoryStorage::new();
            let mut first = WriteBatch::default();
            first.insert(Store::Journal, vec![1], vec![1]);
            s.commit(first).await.unwrap();
            let mut second = WriteBatch::default();
            second.put(Store::Log, vec![2], vec![2]);
            second.insert(Store::Journal, vec![1], vec![2]);
            assert_eq!(s.commit(second).await, Err(super::StorageError::Conflict));
            assert_eq!(s.get(Store::Log, &[2]).await.unwrap(), None);
            assert_eq!(s.get(Store::Journal, &[1]).await.unwrap(), Some(vec![1]));
            let mut third = WriteBatch::default();
            third.insert(Store::Journal, vec![2], vec![3]);
            s.commit(third).await.unwrap();
            assert_eq!(s.get(Store::Journal, &[2]).await.unwrap(), Some(vec![3]));
        });
    }

    #[test]
    fn memory_storage_counts_what_a_scan_returns_without_reading_it() {
        futures::executor::block_on(async {
            let s = MemoryStorage::new();
            let mut batch = WriteBatch::default();
            for i in 0u8..10 {
                batch.put(Store::Log, vec![1, i], vec![i]);
            }
            s.commit(batch).await.unwrap();
            let ranges = [
                KeyRange::all(),
                KeyRange { start: Bound::Excluded(vec![1, 2]), end: Bound::Included(vec![1, 5]) },
                KeyRange { start: Bound::Included(vec![1, 5]), end: Bound::Excluded(vec![1, 5]) },
                KeyRange::prefix(&[2]),
            ];
            for range in ranges {
                let keys = ScanOptions { keys_only: true, ..Default::default() };
                let scanned = s.scan(Store::Log, range.clone(), keys).await.unwrap().len() as u64;
                s.reset_reads();
                assert_eq!(s.count(Store::Log, range).await.unwrap(), scanned);
                assert_eq!(s.reads(Store::Log), 0);
            }
            assert_eq!(s.count(Store::Checkpoints, KeyRange::all()).await.unwrap(), 0);
        });
    }
}
