//! The state on demand ([`Config::state_cache`](super::Config::state_cache)): records read from
//! storage when something needs them, at most about as many held as the configured number.
//!
//! Opening reads no record: the number of visible records is in the newest journal entry (each
//! commit writes it there), and the state starts with none held ([`State::partial`]). A get or a
//! write reads the records of its keys; what needs every record (iteration, index queries, a
//! clear, a unique index's check, a checkpoint, verification) reads them all once
//! ([`Database::load_state`]), and they are forgotten again the next time records are read past
//! the bound. Storage is the truth after every commit, so forgetting a record loses nothing.

use std::collections::BTreeSet;

use auroradb_log::{EncodedOp, OpId};
use auroradb_snapshot::{Change, KeyRecord, State, StateMeta};

use super::tail::history_keys;
use super::{Database, keys};
use crate::storage::{KeyRange, ScanOptions, Storage, Store};
use crate::{DbError, Result};

impl<S: Storage> Database<S> {
    /// Whether the state holds every record (always, without `state_cache`).
    pub fn holds_whole_state(&self) -> bool {
        self.whole
    }

    /// Whether reading every record would leave them all held: the state holds them already,
    /// or they fit in `state_cache`, or a unique index keeps them (see `within_cache`). When not,
    /// a reader that only goes through the records once can read them from storage without
    /// holding them ([`Database::read_as_seen`]).
    pub fn would_hold_whole_state(&self) -> bool {
        self.whole || self.keeps(self.state.len(), true)
    }

    /// Runs `read` on the storage as this connection sees the database: the commits of other
    /// connections are caught up first (kept for [`Database::take_caught_up`]), and `read` runs
    /// again if another commit came in between, as [`Database::load_state`] reads. For reads of
    /// the `state` store that bypass the state: every commit writes its records there, so the
    /// store is the state as of the last commit.
    pub async fn read_as_seen<T>(&mut self, mut read: impl AsyncFnMut(&S) -> Result<T>) -> Result<T> {
        let mut quieter = super::Quieter::after(2);
        loop {
            let changes = self.catch_up().await?;
            self.caught_up.extend(changes);
            let seen = self.commit;
            let out = read(&self.storage).await?;
            if super::still_at(&self.storage, seen).await? {
                return Ok(out);
            }
            quieter.spoiled(&self.storage).await?;
        }
    }

    /// Reads the records of `keys` the state does not hold (with `state_cache`; without, it
    /// holds them all). Past the bound, every record held is forgotten first.
    ///
    /// A record that shows an op this connection has not caught up with was written by another
    /// connection's commit since it last looked: the commits are caught up first (kept for
    /// [`Database::take_caught_up`]) and the records read again, so that what that commit changed
    /// is reported as a change, not taken in unseen. (Three rounds at most: a record whose op
    /// never comes is then held as it is.)
    pub async fn load_keys(&mut self, keys: &[&str]) -> Result<()> {
        self.release_excess();
        for round in 0.. {
            if self.whole {
                return Ok(());
            }
            let mut missing: Vec<&str> = keys.iter().copied().filter(|k| self.state.record(k).is_none()).collect();
            auroradb_log::sort_by_key(&mut missing, |k| *k);
            missing.dedup();
            let raw: Vec<&[u8]> = missing.iter().map(|k| k.as_bytes()).collect();
            let found = self.storage.get_many(Store::State, &raw).await?;
            let mut read = Vec::with_capacity(found.len());
            for (key, bytes) in missing.into_iter().zip(found) {
                if let Some(bytes) = bytes {
                    read.push((key, KeyRecord::decode(&bytes)?));
                }
            }
            let unseen = |id: OpId| self.log.borrow().heads().get(&id.peer).is_none_or(|h| id > h.id);
            if round < 3 && read.iter().any(|(_, r)| r.shown_by().is_some_and(unseen)) {
                let changes = self.catch_up().await?;
                self.caught_up.extend(changes);
                continue;
            }
            for (key, record) in read {
                self.state.hold(key.to_owned(), record)?;
            }
            break;
        }
        Ok(())
    }

    /// Reads every record the state does not hold, so that it holds the whole state. The
    /// commits of other connections are caught up first, and the records are taken only if no
    /// commit came in between (else it catches up and reads again). What it catches up with is
    /// kept for [`Database::take_caught_up`].
    pub async fn load_state(&mut self) -> Result<()> {
        let mut quieter = super::Quieter::after(2);
        while !self.whole {
            let changes = self.catch_up().await?;
            self.caught_up.extend(changes);
            let seen = self.commit;
            let rows = self.storage.scan(Store::State, KeyRange::all(), ScanOptions::default()).await?;
            if !super::still_at(&self.storage, seen).await? {
                quieter.spoiled(&self.storage).await?;
                continue;
            }
            let mut records = Vec::with_capacity(rows.len());
            for (k, v) in rows {
                let key = String::from_utf8(k).map_err(|_| DbError::Corrupt("state key is not UTF-8".into()))?;
                records.push((key, KeyRecord::decode(&v)?));
            }
            let config = self.state_config();
            let state = State::restore(config, self.state.meta().clone(), records)?;
            if state.len() != self.state.len() {
                return Err(DbError::Corrupt(format!(
                    "the journal counts {} visible records, the state store holds {}",
                    self.state.len(),
                    state.len()
                )));
            }
            self.state = state;
            self.whole = true;
        }
        Ok(())
    }

    /// Reads the records the ops of peers write: all of them when one is a clear, or when they
    /// are more than the cache holds.
    pub(super) async fn load_keys_of(&mut self, ops: &[EncodedOp]) -> Result<()> {
        if self.whole {
            return Ok(());
        }
        let mut needed = Vec::new();
        for op in ops {
            let (keys, clear) = history_keys(&op.op.kind);
            if clear {
                return self.load_state().await;
            }
            needed.extend(keys);
        }
        let needed = super::write::distinct(needed);
        if self.config.state_cache.is_some_and(|n| needed.len() > n) {
            return self.load_state().await;
        }
        self.load_keys(&needed).await
    }

    /// The number of visible records in storage, counted by reading them all.
    pub(super) async fn count_visible(&self) -> Result<u64> {
        let mut n = 0;
        for (_, v) in self.storage.scan(Store::State, KeyRange::all(), ScanOptions::default()).await? {
            n += u64::from(KeyRecord::decode(&v)?.visible().is_some());
        }
        Ok(n)
    }

    /// Forgets every record held if they are more than `state_cache` allows (after
    /// [`Database::load_state`], say): the state then reads them on demand again.
    pub fn release_excess(&mut self) {
        if !self.within_cache() {
            self.state.forget_all();
            self.whole = false;
        }
    }

    /// Whether the records held are within `state_cache`. A whole state with a unique index is
    /// kept whatever its size: every write checks the index against every record, and reading
    /// them all again for each write would cost far more than holding them.
    fn within_cache(&self) -> bool {
        self.keeps(self.state.held(), self.whole)
    }

    /// Whether the state keeps `records` held records, `whole` saying whether they are all of
    /// them: within `state_cache`, or a whole state with a unique index.
    fn keeps(&self, records: usize, whole: bool) -> bool {
        self.config.state_cache.is_none_or(|n| records <= n) || (whole && self.config.indexes.iter().any(|i| i.unique))
    }

    /// For a state that does not hold every record: takes in the commits of other connections
    /// (`ops`, already durable, the newest journal entry's count `visible`) without applying
    /// them. The records their ops touched are forgotten (storage has them as the commits left
    /// them) and read again for the changes they made, whose `before` is the value held, if one
    /// was; a record not held that the ops deleted is reported deleted (`before` and `after`
    /// both `None`) unless it was never written before. The meta and the count become the
    /// storage's.
    pub(super) async fn take_in(&mut self, ops: &[EncodedOp], visible: u64) -> Result<Vec<Change>> {
        let mut touched = BTreeSet::new();
        let mut cleared = false;
        for op in ops {
            let (keys, clear) = history_keys(&op.op.kind);
            cleared |= clear;
            touched.extend(keys.into_iter().map(str::to_owned));
        }
        let mut changes = Vec::new();
        if cleared {
            // Every record may have changed: only those held can say how.
            let held: Vec<String> = self.state.records().map(|(k, _)| k.to_owned()).collect();
            touched.extend(held);
        }
        let raw: Vec<&[u8]> = touched.iter().map(|k| k.as_bytes()).collect();
        let stored = self.storage.get_many(Store::State, &raw).await?;
        for (key, bytes) in touched.iter().zip(stored) {
            let held = self.state.record(key).is_some();
            let before = self.state.get(key).map(|e| e.value.clone());
            self.state.forget(key);
            let record = bytes.map(|b| KeyRecord::decode(&b)).transpose()?;
            let after = record.as_ref().and_then(|r| r.visible()).map(|e| e.value.clone());
            // A record this connection did not hold, deleted now: reported deleted, unless the
            // op that deleted it is the only write the key ever had (it never held a value).
            // Whether a key written before was there already is not known here: such a delete
            // may name a key that was absent.
            let removed = || record.as_ref().is_some_and(|r| r.writes() > 1);
            if before != after || (!held && after.is_none() && removed()) {
                changes.push(Change { key: key.clone(), before, after });
            }
        }
        if cleared {
            self.state.forget_all();
        }
        let (applied, high_water) = super::log_counts(self.log.borrow().heads().values());
        let meta = match self.storage.get(Store::Meta, keys::META_STATE).await? {
            Some(b) => StateMeta::decode(&b)?.with_log(applied, high_water),
            None => self.state.meta().clone().with_log(applied, high_water),
        };
        self.state.set_stored(meta, visible as usize);
        Ok(changes)
    }
}
