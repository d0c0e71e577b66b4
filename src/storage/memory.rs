//! [`MemoryStorage`]: ordered maps in memory.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, btree_map};
use std::rc::Rc;

use super::{Claim, Held, KeyRange, Mutation, ScanOptions, Storage, Store, WriteBatch};
use crate::StorageError;

type Maps = BTreeMap<Store, BTreeMap<Vec<u8>, Vec<u8>>>;

/// The names of the locks held ([`Storage::hold`]).
type Holds = Rc<RefCell<BTreeSet<String>>>;

/// Storage in memory. Clones share the same data, like two connections to one database, the
/// same counters of records read, and the same locks.
#[derive(Debug, Clone, Default)]
pub struct MemoryStorage {
    maps: Rc<RefCell<Maps>>,
    reads: Rc<RefCell<BTreeMap<Store, u64>>>,
    writes: Rc<RefCell<BTreeMap<Store, u64>>>,
    holds: Holds,
}

/// A lock of [`MemoryStorage::hold`]: dropping it releases the name.
struct Release(Holds, String);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.borrow_mut().remove(&self.1);
    }
}

impl MemoryStorage {
    /// Empty storage.
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    /// Number of records in `store`.
    pub fn len(&self, store: Store) -> usize {
        self.maps.borrow().get(&store).map_or(0, BTreeMap::len)
    }

    /// Whether every store is empty.
    pub fn is_empty(&self) -> bool {
        self.maps.borrow().values().all(BTreeMap::is_empty)
    }

    /// A deep copy that no longer shares data with `self` (its read counters start at 0, and
    /// it holds no lock).
    pub fn deep_clone(&self) -> MemoryStorage {
        MemoryStorage {
            maps: Rc::new(RefCell::new(self.maps.borrow().clone())),
            reads: Rc::default(),
            writes: Rc::default(),
            holds: Rc::default(),
        }
    }

    /// Whether the lock `name` is held (see [`Storage::hold`]).
    pub fn is_held(&self, name: &str) -> bool {
        self.holds.borrow().contains(name)
    }

    /// Records of `store` read so far (by `get` and `scan`, a key-only record counting as one):
    /// for tests that check what an operation costs.
    pub fn reads(&self, store: Store) -> u64 {
        self.reads.borrow().get(&store).copied().unwrap_or(0)
    }

    /// Records of `store` written so far (puts, inserts and deletes of committed batches): for
    /// tests that check what a write costs.
    pub fn writes(&self, store: Store) -> u64 {
        self.writes.borrow().get(&store).copied().unwrap_or(0)
    }

    /// Sets every read and write counter back to 0.
    pub fn reset_reads(&self) {
        self.reads.borrow_mut().clear();
        self.writes.borrow_mut().clear();
    }

    fn count_reads(&self, store: Store, n: usize) {
        *self.reads.borrow_mut().entry(store).or_default() += n as u64;
    }

    /// Changes a stored record directly, bypassing the database: for tests that tamper.
    pub fn tamper(&self, store: Store, key: &[u8], f: impl FnOnce(&mut Vec<u8>)) -> bool {
        let mut maps = self.maps.borrow_mut();
        match maps.get_mut(&store).and_then(|m| m.get_mut(key)) {
            Some(v) => {
                f(v);
                true
            }
            None => false,
        }
    }

    /// Every record of every store, for comparing two storages in tests.
    pub fn dump(&self) -> Vec<(Store, Vec<u8>, Vec<u8>)> {
        let maps = self.maps.borrow();
        maps.iter().flat_map(|(s, m)| m.iter().map(move |(k, v)| (*s, k.clone(), v.clone()))).collect()
    }
}

pub(crate) fn check_and_apply(maps: &mut Maps, batch: WriteBatch) -> Result<(), StorageError> {
    for m in &batch.mutations {
        let (store, key, want) = match m {
            Mutation::Expect { store, key, value } => (store, key, value.as_ref()),
            Mutation::Insert { store, key, .. } => (store, key, None),
            _ => continue,
        };
        if maps.get(store).and_then(|s| s.get(key)) != want {
            return Err(StorageError::Conflict);
        }
    }
    for m in batch.mutations {
        match m {
            Mutation::Put { store, key, value } | Mutation::Insert { store, key, value } => {
                maps.entry(store).or_default().insert(key, value);
            }
            Mutation::Delete { store, key } => {
                if let Some(s) = maps.get_mut(&store) {
                    s.remove(&key);
                }
            }
            Mutation::Expect { .. } => {}
        }
    }
    Ok(())
}

impl Storage for MemoryStorage {
    /// Whether it holds nothing now.
    fn is_new(&self) -> bool {
        self.is_empty()
    }

    async fn hold(&self, name: &str) -> Result<Claim, StorageError> {
        if !self.holds.borrow_mut().insert(name.to_owned()) {
            return Ok(Claim::Taken);
        }
        Ok(Claim::Held(Held::new(Release(Rc::clone(&self.holds), name.to_owned()))))
    }

    async fn commit(&self, batch: WriteBatch) -> Result<(), StorageError> {
        let written: Vec<Store> = batch
            .mutations
            .iter()
            .filter_map(|m| match m {
                Mutation::Put { store, .. } | Mutation::Insert { store, .. } | Mutation::Delete { store, .. } => {
                    Some(*store)
                }
                Mutation::Expect { .. } => None,
            })
            .collect();
        check_and_apply(&mut self.maps.borrow_mut(), batch)?;
        for store in written {
            *self.writes.borrow_mut().entry(store).or_default() += 1;
        }
        Ok(())
    }

    async fn get(&self, store: Store, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let found = self.maps.borrow().get(&store).and_then(|m| m.get(key)).cloned();
        self.count_reads(store, usize::from(found.is_some()));
        Ok(found)
    }

    async fn scan(
        &self,
        store: Store,
        range: KeyRange,
        options: ScanOptions,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError> {
        let maps = self.maps.borrow();
        let Some(iter) = in_range(&maps, store, range) else { return Ok(Vec::new()) };
        let limit = options.limit.unwrap_or(usize::MAX);
        let pick = |(k, v): (&Vec<u8>, &Vec<u8>)| (k.clone(), if options.keys_only { Vec::new() } else { v.clone() });
        let rows: Vec<_> = if options.reverse {
            iter.rev().take(limit).map(pick).collect()
        } else {
            iter.take(limit).map(pick).collect()
        };
        self.count_reads(store, rows.len());
        Ok(rows)
    }

    async fn count(&self, store: Store, range: KeyRange) -> Result<u64, StorageError> {
        // Counting reads no record: the read counters stay.
        Ok(in_range(&self.maps.borrow(), store, range).map_or(0, |records| records.count() as u64))
    }
}

/// The records of `store` in `range`; `None` when there are none to look at (an empty range, on
/// which `BTreeMap::range` would panic).
fn in_range(maps: &Maps, store: Store, range: KeyRange) -> Option<btree_map::Range<'_, Vec<u8>, Vec<u8>>> {
    let map = maps.get(&store)?;
    (!range.is_empty()).then(|| map.range((range.start, range.end)))
}
