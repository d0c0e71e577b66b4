//! Writes: local ops, remote ops, and the one commit pipeline they share.

use std::collections::BTreeSet;

use auroradb_log::{
    EncodedOp, Hash, LogError, OpId, OpKind, PeerId, Proof, RangeSum, Step, Value, decode_op, must_prove,
};
use auroradb_snapshot::{Change, Checkpoint, KeyRecord, State, StateMeta};

use super::tail::{Sealing, history_keys, history_prefixes};
use super::{Database, keys, validate, validate_key, validate_value};
use crate::storage::{KeyRange, ScanOptions, Storage, Store, WriteBatch, WriteLock};
use crate::{DbError, Result, StorageError};

/// How many times a write tries to commit. It loses only to a connection that committed since
/// it last caught up: under the storage's write lock it wins its second try; without one it
/// waits [`Storage::before_retry`] between tries, about 6 s in all.
const MAX_ATTEMPTS: u32 = 32;

/// What a committed write did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WriteOutcome {
    /// The ops added to the log, in id order.
    pub ops: Vec<OpId>,
    /// The same ops, encoded (what a sync engine pushes to peers).
    pub encoded: Vec<EncodedOp>,
    /// The visible changes to the state, in the order they were applied.
    pub changes: Vec<Change>,
}

/// What to restore if a commit fails.
struct Undo {
    records: Vec<(String, Option<KeyRecord>)>,
    meta: StateMeta,
}

impl<S: Storage> Database<S> {
    /// Sets `key` to `value` (create or update).
    pub async fn put(&mut self, key: impl Into<String>, value: Value) -> Result<WriteOutcome> {
        let key = key.into();
        validate_key(&key)?;
        validate_value(&value)?;
        self.commit_local(OpKind::Put { key, value }).await
    }

    /// Sets the value under the key found at the configured key path; returns the key.
    pub async fn add(&mut self, value: Value) -> Result<(String, WriteOutcome)> {
        let key = super::txn::key_from_path(self.config.key_path.as_deref(), &value)?;
        let out = self.put(key.clone(), value).await?;
        Ok((key, out))
    }

    /// Deletes `key` (a no-op on the state if it is absent; the op is logged all the same).
    pub async fn remove(&mut self, key: impl Into<String>) -> Result<WriteOutcome> {
        let key = key.into();
        validate_key(&key)?;
        self.commit_local(OpKind::Remove { key }).await
    }

    /// Deletes every record.
    pub async fn clear(&mut self) -> Result<WriteOutcome> {
        self.commit_local(OpKind::Clear).await
    }

    /// Commits one local op: made, checked against the unique indexes, applied, committed; on any
    /// failure the log and state are as before. It needs the log's index only for a checkpoint
    /// (whose fingerprint covers the whole log), so it loads it only when one is due.
    pub async fn commit_local(&mut self, kind: OpKind) -> Result<WriteOutcome> {
        self.commit_local_if(kind, &[], &|_| Ok(())).await
    }

    /// [`Database::commit_local`] if `check` passes on the state, also on the state as it is
    /// after catching up with another connection's commits. `check` reads the records of `reads`
    /// (and of the op's keys). The op's kind moves into each try's op; a try lost to another
    /// connection gives it back from its encoding (a bulk write's values are not copied for a
    /// retry that seldom comes).
    pub(super) async fn commit_local_if(
        &mut self,
        mut kind: OpKind,
        reads: &[String],
        check: &dyn Fn(&State) -> Result<()>,
    ) -> Result<WriteOutcome> {
        let mut lock = self.storage.lock_writes().await?;
        let mut attempt = 0;
        loop {
            // Loading catches up with other connections first: the check below sees their
            // commits.
            let checkpoint = !frees_only(&kind) && self.checkpoint_due(1);
            if checkpoint {
                self.load_log().await?;
            }
            // The records the op writes and the check reads; all of them for a clear, a unique
            // index's check or a checkpoint (a no-op when the state holds them all).
            let unique = self.config.indexes.iter().any(|i| i.unique);
            // A put of one key whose record this connection does not hold, when the last such key
            // was absent, guesses it absent instead of reading it first: a read of its own costs
            // about half of what the write does. The commit checks the guess (the key holds no
            // record) and, when it was wrong, writes nothing: the key is read and the write tried
            // again. An absent key and one not held are alike to the state.
            let absent = match &kind {
                OpKind::Put { key, .. }
                    if !checkpoint
                        && !unique
                        && reads.is_empty()
                        && self.guess_absent
                        && !self.whole
                        && self.state.record(key).is_none() =>
                {
                    Some(key.clone())
                }
                _ => None,
            };
            if checkpoint || unique || matches!(kind, OpKind::Clear) {
                self.load_state().await?;
            } else if absent.is_some() {
                // As reading the key would, the state keeps within its bound first.
                self.release_excess();
            } else {
                let (mut needed, _) = history_keys(&kind);
                needed.extend(reads.iter().map(String::as_str));
                self.load_keys(&needed).await?;
                if let OpKind::Put { key, .. } = &kind {
                    self.guess_absent = self.state.record(key).is_none();
                }
            }
            check(&self.state)?;
            let op = self.log.borrow().prepare_local(kind);
            if op.bytes.len() > self.config.max_op {
                return Err(DbError::OpTooLarge { size: op.bytes.len(), limit: self.config.max_op });
            }
            self.state.check(&op.op)?;
            self.log.borrow().check_local(&op)?;
            // One signature per commit, over the author's new chain head; none for an author
            // slot's, whose key the database stores: any connection of it signs its ops when
            // they leave it (sync, a log file, `verify`), and the op that must carry its own
            // proof (every 256th) is signed now. An identity the application gave, which the
            // database does not store, signs each commit.
            let sign = self.slot.is_none() || must_prove(op.op.seq);
            let proofs: Vec<(OpId, Proof)> = match self.log.borrow().identity() {
                Some(i) if sign => vec![(op.op.id, i.prove(&op.hash))],
                _ => Vec::new(),
            };
            let encoded = op.bytes.clone();
            match self.commit_ops(vec![op], true, proofs, absent.as_deref()).await {
                // No other commit came in: the guessed key held a record (or another connection
                // moved the history mark). Tried again at once, reading the key first.
                Err(DbError::Storage(StorageError::Conflict))
                    if absent.is_some() && super::stored_commit(&self.storage).await? == self.commit =>
                {
                    self.guess_absent = false;
                    kind = auroradb_log::decode_op(&encoded)?.kind;
                }
                Err(DbError::Storage(StorageError::Conflict)) => {
                    self.lost_commit(&mut attempt, &mut lock).await?;
                    kind = auroradb_log::decode_op(&encoded)?.kind;
                }
                other => return other,
            }
        }
    }

    /// After a commit lost to another connection's: takes the write lock if the write went
    /// without it, catches up with that commit (keeping its changes for
    /// [`Database::take_caught_up`]) and waits as the storage says before the next try; fails
    /// with [`StorageError::Conflict`] once every try is spent.
    pub(super) async fn lost_commit(&mut self, attempt: &mut u32, lock: &mut WriteLock) -> Result<()> {
        self.storage.lost_commit();
        if !lock.is_held() {
            *lock = self.storage.lock_writes().await?;
        }
        let changes = self.catch_up().await?;
        self.caught_up.extend(changes);
        *attempt += 1;
        if *attempt >= MAX_ATTEMPTS {
            return Err(DbError::Storage(StorageError::Conflict));
        }
        self.storage.before_retry(*attempt).await;
        Ok(())
    }

    /// The changes of other connections' commits that writes of this one caught up with (in
    /// the order they were applied), since the last call: the caller announces them as those
    /// connections' changes, whether the write that caught up succeeded or not.
    pub fn take_caught_up(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.caught_up)
    }

    /// Checks and applies ops from a peer or a file, all or nothing; ops already held are skipped.
    /// Each author's newest new op must be proven by a proof among `proofs`
    /// ([`Log::check_proofs`](auroradb_log::Log::check_proofs)): the proofs kept are stored
    /// with the authors' chain heads, to pass on. An op of this connection's own author that it
    /// does not hold is refused (for a connection opened as a chosen author,
    /// [`Config::peer`](super::Config::peer), once it holds ops of that author).
    pub async fn apply_remote(&mut self, ops: Vec<EncodedOp>, proofs: &[(OpId, Proof)]) -> Result<WriteOutcome> {
        // The index tells which ops are held, for the check below and for `check_remote`.
        self.load_log().await?;
        // Only this connection writes its own author's ops: one it does not hold, from a peer or
        // a file, is forged (the chain head it extends is public). A connection opened as a
        // chosen author takes that author's ops in only while it has none (restoring them).
        // So does the connection a helper stands beside (`Config::writer`).
        let holds_ops_of = |p: &PeerId| self.log.borrow().heads().contains_key(p);
        let own = self.peer();
        // Chosen (`identity` or `peer` given): a database opened as that author to restore it.
        let chosen = self.config.peer.is_some() || self.config.identity.is_some();
        let guarded: Vec<PeerId> = [(own, chosen)]
            .into_iter()
            .chain(self.config.writer)
            .filter(|(author, chosen)| !chosen || holds_ops_of(author))
            .map(|(author, _)| author)
            .collect();
        // Its ops that an equivocation removed may come back from peers that do not know yet:
        // the log takes none of them, and they are no forgery.
        let frozen =
            |o: &EncodedOp| self.log.borrow().equivocation(&o.op.author).is_some_and(|eq| o.op.seq >= eq.fork().seq);
        if let Some(forged) = ops
            .iter()
            .find(|o| guarded.contains(&o.op.author) && self.log.borrow().hash_of(&o.op.id).is_none() && !frozen(o))
        {
            return Err(LogError::InvalidOp {
                id: forged.op.id,
                reason: "an op of the local author that it never wrote",
            }
            .into());
        }
        let mut lock = self.storage.lock_writes().await?;
        let mut attempt = 0;
        loop {
            self.load_keys_of(&ops).await?;
            let fresh = self.log.borrow().check_remote(&ops)?;
            let keep = self.log.borrow().check_proofs(&ops, &fresh, proofs)?;
            let mut new: Vec<EncodedOp> = ops.iter().zip(&fresh).filter(|(_, f)| **f).map(|(o, _)| o.clone()).collect();
            auroradb_log::sort_by_key(&mut new, |o| o.op.id);
            new.dedup_by_key(|o| o.op.id);
            if new.is_empty() {
                return Ok(WriteOutcome::default());
            }
            // What the local writes could not make, a peer or a file cannot bring in either: every
            // op held can be synced, and every record written and removed again.
            for o in &new {
                if o.bytes.len() > self.config.max_op {
                    return Err(
                        LogError::TooLarge { what: "an op", size: o.bytes.len(), limit: self.config.max_op }.into()
                    );
                }
                validate::validate_op(&o.op)?;
            }
            // The checkpoints the new ops come before are deleted with the commit: read their ids
            // afresh, as another connection's checkpoint() moves no commit number to catch up on.
            self.checkpoints = super::read_checkpoints(&self.storage).await?;
            match self.commit_ops(new, false, keep, None).await {
                Err(DbError::Storage(StorageError::Conflict)) => self.lost_commit(&mut attempt, &mut lock).await?,
                other => return other,
            }
        }
    }

    /// Applies `ops` (already checked against the log) to the state, commits everything in one
    /// batch, then adds them to the log. On failure, restores the state. A checkpoint that is
    /// due but does not fit in the storage quota never fails the write: it is left out.
    /// `proofs` prove the authors' new heads among `ops`: stored with the heads, and kept.
    /// `absent`: a key the commit expects to hold no record (it fails as a conflict if it does).
    async fn commit_ops(
        &mut self,
        ops: Vec<EncodedOp>,
        local: bool,
        proofs: Vec<(OpId, Proof)>,
        absent: Option<&str>,
    ) -> Result<WriteOutcome> {
        // Before anything is applied: the number the commit claims must be one a database makes.
        keys::next_commit(self.commit)?;
        let op_ids: Vec<OpId> = ops.iter().map(|o| o.op.id).collect();
        let unknown = if local { Vec::new() } else { self.unknown_authors(&ops) };
        if !unknown.is_empty() {
            // Boxed: rare, and kept out of the common path's future.
            Box::pin(self.learn_local(unknown)).await?;
        }
        // A local op joins the tail (see `tail`), unless it brings it to a segment's worth; remote
        // ops are placed among the stored segments, and the tail with them.
        let last = if local { self.tail_due(ops.len() as u64).await? } else { Some(self.last_segment().await?) };
        let sealing = match last {
            Some(last) => Some(self.seal(&ops, last).await?),
            None => None,
        };
        let undo = self.undo_for(&ops);
        let mut changes = Vec::new();
        let mut touched = BTreeSet::new();
        for op in &ops {
            let applied = self.state.apply(&op.op);
            changes.extend(applied.changes);
            touched.extend(applied.touched);
        }
        let grows = ops.iter().any(|o| stores_value(&o.op.kind));
        let (mut batch, checkpointed) =
            self.build_batch(&ops, &touched, absent, &proofs, &undo.meta, sealing.as_ref(), true);
        batch.grows = grows;
        self.mark_author(&mut batch, local);
        let committed = match self.storage.commit(batch).await {
            // The checkpoint does not fit: it waits, and the write commits without it. The next
            // try comes after another interval of ops, so a storage near its quota does not pay
            // a failed checkpoint on every write.
            Err(StorageError::QuotaExceeded(_)) if checkpointed.is_some() => {
                let (mut batch, _) =
                    self.build_batch(&ops, &touched, absent, &proofs, &undo.meta, sealing.as_ref(), false);
                batch.grows = grows;
                self.mark_author(&mut batch, local);
                let r = self.storage.commit(batch).await.map(|()| None);
                if r.is_ok() {
                    self.checkpoint_after = self.since_checkpoint + ops.len() as u64 + self.checkpoint_interval();
                }
                r
            }
            other => other.map(|()| checkpointed),
        };
        let checkpointed = match committed {
            Ok(at) => at,
            Err(e) => {
                self.state.revert(undo.records, undo.meta, op_ids);
                return Err(e.into());
            }
        };
        // Durable: now the in-memory log follows.
        self.marked |= local;
        self.commit += 1;
        self.stats.commits += 1;
        if sealing.is_some() {
            self.flushed = self.commit;
            self.dirty.clear();
        } else {
            for op in &ops {
                if !self.dirty.contains(&op.op.author) {
                    self.dirty.push(op.op.author);
                }
            }
        }
        let min_id = ops.iter().map(|o| o.op.id).min();
        if let Some(min_id) = min_id {
            let stale: Vec<OpId> = self.checkpoints.range(min_id..).to_vec();
            for at in stale {
                self.checkpoints.remove(&at);
            }
        }
        let ids: Vec<OpId> = ops.iter().map(|o| o.op.id).collect();
        if local {
            for op in &ops {
                self.log.borrow_mut().insert_local(op)?;
            }
        } else {
            self.log.borrow_mut().insert_stored(ops.clone())?;
        }
        for (id, proof) in proofs {
            self.log.borrow_mut().keep_proof(id, proof);
        }
        let _ = self.log.borrow_mut().take_segment_changes();
        self.tail = match (&sealing, self.tail) {
            (Some(_), _) => Some(0),
            (None, len) => len.map(|len| len + ids.len() as u64),
        };
        self.since_checkpoint += ids.len() as u64;
        if let Some(at) = checkpointed {
            self.checkpoints.insert(at);
            self.since_checkpoint = 0;
            self.checkpoint_after = 0;
            self.stats.checkpoints_written += 1;
        }
        Ok(WriteOutcome { ops: ids, encoded: ops, changes })
    }

    /// Marks this connection's author as the storage's in the batch of its first write, when it
    /// holds no slot (the other connections know a slot's author): see `author::local_authors`.
    fn mark_author(&self, batch: &mut WriteBatch, local: bool) {
        if local && !self.marked {
            batch.put(Store::Meta, keys::local_key(&self.peer()), Vec::new());
        }
    }

    fn undo_for(&self, ops: &[EncodedOp]) -> Undo {
        let mut keys: Vec<&str> = Vec::new();
        let mut all = false;
        for op in ops {
            match &op.op.kind {
                OpKind::Put { key, .. } | OpKind::Remove { key } => keys.push(key),
                OpKind::Txn(steps) => keys.extend(steps.iter().map(Step::key)),
                OpKind::Clear => all = true,
            }
        }
        let records = if all {
            self.state.records().map(|(k, r)| (k.to_owned(), Some(r.clone()))).collect()
        } else {
            distinct(keys).into_iter().map(|k| (k.to_owned(), self.state.record(k).cloned())).collect()
        };
        Undo { records, meta: self.state.meta().clone() }
    }

    /// Ops between automatic checkpoints. A checkpoint costs O(keys) to encode, so they are
    /// spaced at least `keys` ops apart: the amortized cost per op stays O(1), and `state_at`'s
    /// replay after one costs no more than decoding it.
    fn checkpoint_interval(&self) -> u64 {
        self.config.checkpoint_every.max(self.state.len() as u64)
    }

    /// Whether a commit of `n` more ops is due to write a checkpoint (unless it only frees
    /// space): an interval of ops after the last one, or after the one that did not fit in the
    /// storage quota.
    fn checkpoint_due(&self, n: u64) -> bool {
        self.config.checkpoint_every > 0
            && self.since_checkpoint + n >= self.checkpoint_interval().max(self.checkpoint_after)
    }

    /// The batch for `ops`, already applied to the state, with the checkpoint that is due if
    /// `checkpoint` allows. With `sealing`, it writes the segment records of `ops` and the tail
    /// (see `tail`), and the history rows of late ops; without, `ops` wait in the tail. Returns the
    /// batch and the id of the checkpoint it writes, if any. `absent`: a key the commit expects to
    /// hold no record.
    #[allow(clippy::too_many_arguments)]
    fn build_batch(
        &self,
        ops: &[EncodedOp],
        touched: &BTreeSet<String>,
        absent: Option<&str>,
        proofs: &[(OpId, Proof)],
        meta_before: &StateMeta,
        sealing: Option<&Sealing>,
        checkpoint: bool,
    ) -> (WriteBatch, Option<OpId>) {
        let mut batch = WriteBatch::default();
        // The commit claims the next number: if another connection took it since this one last
        // looked, the insert fails the commit (a conflict), which catches up and tries again.
        let next = self.commit + 1;
        let ids: Vec<OpId> = ops.iter().map(|o| o.op.id).collect();

        // The newest op of each author in the batch: sorted by author and seq, the last of each
        // author's (sorted, not looked up author by author: a batch of one op by each of 40,000
        // authors took seconds that way).
        let mut heads: Vec<(PeerId, auroradb_log::ChainHead)> = Vec::with_capacity(ops.len());
        for op in ops {
            batch.put(Store::Log, op.op.id.to_bytes().to_vec(), op.bytes.clone());
            heads.push((op.op.author, auroradb_log::ChainHead { seq: op.op.seq, hash: op.hash, id: op.op.id }));
        }
        auroradb_log::sort_by_key(&mut heads, |(peer, head)| (*peer, core::cmp::Reverse(head.seq)));
        heads.dedup_by_key(|(peer, _)| *peer);
        // Each head's proof, looked up in the proofs sorted by id (one per author can be many).
        let mut by_id: Vec<&(OpId, Proof)> = proofs.iter().collect();
        auroradb_log::sort_by_key(&mut by_id, |(id, _)| *id);
        let moved: Vec<(PeerId, keys::StoredHead)> = heads
            .iter()
            .map(|(peer, head)| {
                let proof = by_id.binary_search_by_key(&head.id, |(id, _)| *id).ok().map(|i| by_id[i].1);
                (*peer, keys::StoredHead { head: *head, proof })
            })
            .collect();
        // The heads it moves go to the journal entry; to meta only with the commits that write
        // derived records anyway (a sealing, see `tail`), with every head that waits in the
        // journal. A single add is then 3 writes: its op, its record and the journal entry.
        let flushed = if sealing.is_some() {
            self.flush_heads(&mut batch, &moved, None);
            next
        } else {
            self.flushed
        };
        let in_entry: &[(PeerId, keys::StoredHead)] = if flushed == next { &[] } else { &moved };
        let wall = self.log.borrow().clock().wall_time();
        keys::journal(&mut batch, next, &ids, self.state.len() as u64, flushed, in_entry, wall);
        super::proofs::put_kept(&mut batch, ops, proofs);
        for key in touched {
            let raw = key.as_bytes().to_vec();
            match self.state.record(key) {
                // The guess that the key is absent is checked by the record's write itself: an
                // insert, which fails the commit if the key holds a record (one request, where a
                // read and a put are two).
                Some(rec) if absent == Some(key.as_str()) => batch.insert(Store::State, raw, rec.encode()),
                Some(rec) => batch.put(Store::State, raw, rec.encode()),
                None => {
                    batch.delete(Store::State, raw.clone());
                    if absent == Some(key.as_str()) {
                        batch.expect(Store::State, raw, None);
                    }
                }
            }
        }
        // The meta's counts are the chain heads' (see `Database::open`): it is stored by the first
        // commit, and again only when its clear changes.
        if self.commit == 0 || self.state.meta().clear() != meta_before.clear() {
            batch.put(Store::Meta, keys::META_STATE, self.state.meta().encode());
        }

        if let Some(sealing) = sealing {
            // History rows only for late ops, at or below the mark (a local op is above it; the
            // rows of the others are written on demand, see `tail`). The mark must be as read;
            // a database's first sealing stores the one it had without a record (this commit
            // moves the last segment record's end, which stood for it).
            let mark = &sealing.mark;
            for op in ops.iter().filter(|o| mark.upto.is_some_and(|m| o.op.id <= m)) {
                for prefix in history_prefixes(&op.op.kind) {
                    batch.put(Store::History, keys::history_key(&prefix, &op.op.id), Vec::new());
                }
            }
            batch.expect(Store::Meta, keys::META_HISTORY, mark.stored.clone());
            if mark.stored.is_none() {
                batch.put(Store::Meta, keys::META_HISTORY, keys::encode_history_mark(mark.upto));
            }
            for (first, rec) in &sealing.changes.put {
                batch.put(Store::Segments, first.to_bytes().to_vec(), rec.encode());
            }
            for first in &sealing.changes.delete {
                batch.delete(Store::Segments, first.to_bytes().to_vec());
            }
        }

        // A late op invalidates the checkpoints taken after it.
        if let Some(min_id) = ids.iter().min() {
            for at in self.checkpoints.range(*min_id..) {
                batch.delete(Store::Checkpoints, at.to_bytes().to_vec());
            }
        }
        let mut checkpointed = None;
        // A commit of removes and clears only frees space, so a checkpoint never rides on one: near
        // the storage quota the user can still delete record by record, and the checkpoint that
        // is due waits for the next write that adds. Its fingerprint covers the whole log: a local
        // write loads the index when one is due, and remote ops always do.
        if checkpoint
            && !ops.iter().all(|o| frees_only(&o.op.kind))
            && self.checkpoint_due(ops.len() as u64)
            && self.log.borrow().is_indexed()
            && self.whole
            && let Some(at) = self.state.high_water()
        {
            let mut upto = self.log.borrow().summary(..=at);
            for op in ops.iter().filter(|o| o.op.id <= at) {
                upto = upto + RangeSum::one(&op.hash);
            }
            batch.put(
                Store::Checkpoints,
                at.to_bytes().to_vec(),
                Checkpoint::encode(&self.state, at, upto.fingerprint()),
            );
            checkpointed = Some(at);
        }
        (batch, checkpointed)
    }

    /// Writes a checkpoint of the live state now.
    pub async fn checkpoint(&mut self) -> Result<Option<OpId>> {
        self.load_log().await?;
        self.load_state().await?;
        let mut lock = self.storage.lock_writes().await?;
        let mut attempt = 0;
        let at = loop {
            let Some(at) = self.state.high_water() else { return Ok(None) };
            if self.checkpoints.contains(&at) {
                return Ok(Some(at));
            }
            // Of the state as of commit `self.commit`: no other connection may have committed since.
            let mut batch = WriteBatch { grows: true, ..WriteBatch::default() };
            batch.expect(Store::Journal, keys::encode_counter(self.commit + 1), None);
            let bytes = Checkpoint::encode(&self.state, at, self.log.borrow().fingerprint(..=at));
            batch.put(Store::Checkpoints, at.to_bytes().to_vec(), bytes);
            match self.storage.commit(batch).await {
                Ok(()) => break at,
                Err(StorageError::Conflict) => self.lost_commit(&mut attempt, &mut lock).await?,
                Err(e) => return Err(e.into()),
            }
        };
        self.checkpoints.insert(at);
        self.since_checkpoint = 0;
        self.checkpoint_after = 0;
        self.stats.checkpoints_written += 1;
        Ok(Some(at))
    }

    /// Reads the commits other connections made on the same storage since this one last looked,
    /// and applies their ops to the in-memory log and state. Returns the visible changes. It
    /// reads those commits' ops only, so it does not load the log's index.
    pub async fn catch_up(&mut self) -> Result<Vec<Change>> {
        let stored = super::stored_commit(&self.storage).await?;
        if stored <= self.commit {
            return Ok(Vec::new());
        }
        self.stats.catch_ups += 1;
        let range = KeyRange::between(Some(keys::encode_counter(self.commit + 1)), None);
        let entries = self.storage.scan(Store::Journal, range, ScanOptions::default()).await?;
        let mut ops = Vec::new();
        let mut last = self.commit;
        let mut visible = None;
        let (mut flushed, mut dirty) = (self.flushed, self.dirty.clone());
        // Entries of commits that wrote their heads to meta (all before version 3) name none.
        let mut heads_in_meta = false;
        // Authors whose heads came without a proof: author slots, which sign when their ops leave.
        let mut unsigned: Vec<PeerId> = Vec::new();
        for (k, v) in entries {
            let n = keys::decode_counter(&k)?;
            last = last.max(n);
            let entry = keys::decode_journal(&v)?;
            visible = entry.visible;
            // Another instance on this machine read its clock up to then.
            if let Some(wall) = entry.wall {
                self.log.borrow().clock().restore_wall(wall);
            }
            if entry.flushed_at(n) == n {
                dirty.clear();
            }
            flushed = entry.flushed_at(n);
            let ids = entry.ids;
            heads_in_meta |= flushed == n;
            for (peer, stored) in entry.heads {
                if flushed != n && !dirty.contains(&peer) {
                    dirty.push(peer);
                }
                match stored.proof {
                    Some(proof) => self.log.borrow_mut().keep_proof(stored.head.id, proof),
                    None => unsigned.push(peer),
                }
            }
            // A commit that added no op replaced the state (and may have removed ops): the rest
            // is read again as opening reads it.
            // Boxed: the restart loads again, which catches up (and a rare path, kept out of the
            // common one's future).
            if ids.as_ref().is_some_and(Vec::is_empty) {
                return Box::pin(self.restart()).await;
            }
            let ids = match ids {
                Some(ids) => ids,
                None => {
                    let record = self.storage.get(Store::Meta, &keys::journal_ids_key(n)).await?;
                    let record =
                        record.ok_or_else(|| DbError::Corrupt(format!("the ids of commit {n} are missing")))?;
                    keys::decode_journal_ids(&record)?
                }
            };
            for id in ids {
                if self.log.borrow().contains(&id) {
                    continue;
                }
                let bytes = self
                    .storage
                    .get(Store::Log, &id.to_bytes())
                    .await?
                    .ok_or_else(|| DbError::Corrupt(format!("journal names op {id}, which is not in the log")))?;
                let op = EncodedOp { op: decode_op(&bytes)?, hash: Hash::of(&bytes), bytes };
                self.stats.ops_decoded += 1;
                ops.push(op);
            }
        }
        auroradb_log::sort_by_key(&mut ops, |o| o.op.id);
        let unknown = self.unknown_authors(&ops);
        if !unknown.is_empty() {
            Box::pin(self.learn_local(unknown)).await?;
        }
        let mut changes = Vec::new();
        // Already durable: apply to memory only, then reload what the other connection wrote.
        // They are this database's history: no drift bound (a tab whose clock was set back since
        // the other wrote still catches up, and writes after them).
        let new = self.log.borrow_mut().insert_stored(ops)?;
        let _ = self.log.borrow_mut().take_segment_changes();
        // They joined the tail, or another connection's commit sealed it: counted when it
        // seems due.
        if let Some(len) = &mut self.tail {
            *len += new.len() as u64;
        }
        if self.whole {
            for op in &new {
                changes.extend(self.state.apply(&op.op).changes);
            }
        } else {
            let visible = match visible {
                Some(n) => n,
                // An entry without the count (written by an older release): count the records.
                None => self.count_visible().await?,
            };
            changes = self.take_in(&new, visible).await?;
        }
        // The proofs of the authors' new heads, to pass their ops on: in the entries, or in meta
        // for commits of an earlier release.
        let mut authors: Vec<PeerId> =
            if heads_in_meta { new.iter().map(|o| o.op.author).collect() } else { Vec::new() };
        auroradb_log::sort_by_key(&mut authors, |a| *a);
        authors.dedup();
        for author in authors {
            if let Some(b) = self.storage.get(Store::Meta, &keys::head_key(&author)).await? {
                match keys::decode_head(&b)? {
                    keys::StoredHead { head, proof: Some(proof) } => self.log.borrow_mut().keep_proof(head.id, proof),
                    // An author slot's head, unsigned as in a journal entry: its identity signs.
                    keys::StoredHead { proof: None, .. } => unsigned.push(author),
                }
            }
        }
        for (id, proof) in super::proofs::read_of(&self.storage, &new).await? {
            self.log.borrow_mut().keep_proof(id, proof);
        }
        // A slot taken since the index was loaded: its identity, to sign for its ops.
        let indexed = self.log.borrow().is_indexed();
        if indexed && unsigned.iter().any(|p| !self.log.borrow().signs_for(p)) {
            self.load_signers().await?;
        }
        self.commit = last.max(stored);
        (self.flushed, self.dirty) = (flushed, dirty);
        // The other connection may have written or invalidated checkpoints: take the stored set.
        self.checkpoints = super::read_checkpoints(&self.storage).await?;
        Ok(changes)
    }
}

/// Whether an op of this kind only frees space (a remove or a clear): no checkpoint rides on it.
fn frees_only(kind: &OpKind) -> bool {
    matches!(kind, OpKind::Remove { .. } | OpKind::Clear)
}

/// Whether an op of this kind stores a value (a put, a transaction that puts): its commit may be
/// refused while the storage's room is short, which a remove or a clear is not (see
/// [`WriteBatch::grows`]).
fn stores_value(kind: &OpKind) -> bool {
    match kind {
        OpKind::Put { .. } => true,
        OpKind::Txn(steps) => steps.iter().any(|s| matches!(s, Step::Put { .. })),
        OpKind::Remove { .. } | OpKind::Clear => false,
    }
}

/// `keys` sorted, each once: what a `BTreeSet<&str>` of them would iterate, through the program's
/// one sort instead of a B-tree instantiation of its own (about 4 KB of wasm).
pub(super) fn distinct(mut keys: Vec<&str>) -> Vec<&str> {
    auroradb_log::sort_by_key(&mut keys, |k| *k);
    keys.dedup();
    keys
}
