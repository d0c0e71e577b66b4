//! [`FaultyStorage`]: wraps a storage and fails commits on demand, to test that a failed commit
//! leaves the database exactly as it was; it can also stand for a storage near its quota.

use std::cell::RefCell;
use std::rc::Rc;

use super::{Claim, KeyRange, Mutation, ScanOptions, Storage, Store, WriteBatch, WriteLock};
use crate::StorageError;

/// A fault to inject into a future commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The commit fails and writes nothing.
    Fail(StorageError),
    /// The commit is durable but the caller is told it failed (the acknowledgement is lost),
    /// as when a tab dies between the write and its callback.
    LoseAck,
}

#[derive(Debug, Default)]
struct Plan {
    /// Commits to let through before the fault.
    skip: usize,
    fault: Option<Fault>,
    commits: usize,
    failures: usize,
    /// Bytes left before the quota (see [`FaultyStorage::set_quota`]).
    quota: Option<usize>,
    /// Bytes of the quota a growing commit may not take (see [`FaultyStorage::set_reserve`]).
    reserve: usize,
}

/// A storage that injects one planned fault into a chosen commit.
#[derive(Debug, Clone)]
pub struct FaultyStorage<S> {
    inner: S,
    plan: Rc<RefCell<Plan>>,
}

impl<S: Storage> FaultyStorage<S> {
    /// Wraps `inner`; no fault is planned.
    pub fn new(inner: S) -> FaultyStorage<S> {
        FaultyStorage { inner, plan: Rc::default() }
    }

    /// The wrapped storage.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Plans `fault` for the commit after the next `skip` successful ones.
    pub fn fail_commit(&self, skip: usize, fault: Fault) {
        let mut plan = self.plan.borrow_mut();
        plan.skip = skip;
        plan.fault = Some(fault);
    }

    /// Models a storage near its quota, as IndexedDB in Chromium behaves: `Some(bytes)` left. A
    /// commit whose puts (keys and values) take more than what is left fails with
    /// [`StorageError::QuotaExceeded`] and writes nothing (after its preconditions, which fail
    /// first with [`StorageError::Conflict`]); a commit that succeeds uses up its puts' bytes.
    /// Deletes free nothing at once (a store reclaims space later, when it compacts): raise the
    /// quota to model space freed. `None`: no limit (the default).
    pub fn set_quota(&self, left: Option<usize>) {
        self.plan.borrow_mut().quota = left;
    }

    /// Models the room a backend keeps for the writes that only remove, as the IndexedDB backend
    /// does: a commit that grows ([`WriteBatch::grows`]) fails with
    /// [`StorageError::QuotaExceeded`] if it would leave less than `bytes` of the quota; the
    /// others may take it. 0 (the default): none kept.
    pub fn set_reserve(&self, bytes: usize) {
        self.plan.borrow_mut().reserve = bytes;
    }

    /// The bytes left before the quota, if one is set.
    pub fn quota_left(&self) -> Option<usize> {
        self.plan.borrow().quota
    }

    /// Commits attempted so far.
    pub fn commits(&self) -> usize {
        self.plan.borrow().commits
    }

    /// Faults injected so far, quota failures included.
    pub fn failures(&self) -> usize {
        self.plan.borrow().failures
    }

    async fn commit_within_quota(&self, batch: WriteBatch) -> Result<(), StorageError> {
        let (quota, reserve) = {
            let plan = self.plan.borrow();
            (plan.quota, plan.reserve)
        };
        let Some(left) = quota else { return self.inner.commit(batch).await };
        let room = if batch.grows { left.saturating_sub(reserve) } else { left };
        let size = batch.stored_bytes();
        if size <= room {
            self.inner.commit(batch).await?;
            self.plan.borrow_mut().quota = Some(left - size);
            return Ok(());
        }
        for m in &batch.mutations {
            let (store, key, want) = match m {
                Mutation::Expect { store, key, value } => (store, key, value.as_ref()),
                Mutation::Insert { store, key, .. } => (store, key, None),
                _ => continue,
            };
            if self.inner.get(*store, key).await?.as_ref() != want {
                return Err(StorageError::Conflict);
            }
        }
        self.plan.borrow_mut().failures += 1;
        Err(StorageError::QuotaExceeded(format!("{size} bytes to write, {room} left")))
    }
}

impl<S: Storage> Storage for FaultyStorage<S> {
    async fn commit(&self, batch: WriteBatch) -> Result<(), StorageError> {
        let fault = {
            let mut plan = self.plan.borrow_mut();
            plan.commits += 1;
            if plan.fault.is_some() && plan.skip == 0 {
                plan.failures += 1;
                plan.fault.take()
            } else {
                plan.skip = plan.skip.saturating_sub(1);
                None
            }
        };
        match fault {
            None => self.commit_within_quota(batch).await,
            Some(Fault::Fail(e)) => Err(e),
            Some(Fault::LoseAck) => {
                self.inner.commit(batch).await?;
                Err(StorageError::Interrupted("acknowledgement lost".into()))
            }
        }
    }

    async fn get(&self, store: Store, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.get(store, key).await
    }

    async fn lock_writes(&self) -> Result<WriteLock, StorageError> {
        self.inner.lock_writes().await
    }

    fn lost_commit(&self) {
        self.inner.lost_commit();
    }

    fn is_new(&self) -> bool {
        self.inner.is_new()
    }

    async fn hold(&self, name: &str) -> Result<Claim, StorageError> {
        self.inner.hold(name).await
    }

    async fn before_retry(&self, attempt: u32) {
        self.inner.before_retry(attempt).await
    }

    async fn scan(
        &self,
        store: Store,
        range: KeyRange,
        options: ScanOptions,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError> {
        self.inner.scan(store, range, options).await
    }

    async fn count(&self, store: Store, range: KeyRange) -> Result<u64, StorageError> {
        self.inner.count(store, range).await
    }
}
