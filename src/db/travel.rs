//! Time travel and verification: the state at any point of the log, a key's history, diffs,
//! replay, and a full check of everything stored.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

use auroradb_log::{ChainHead, EncodedOp, Fingerprint, Hash, LogError, Op, OpId, PeerId, Value, decode_op, verify_ops};
use auroradb_snapshot::{Checkpoint, Diff, State, diff, history};

pub use auroradb_snapshot::HistoryItem;

use super::{Database, keys};
use crate::storage::{KeyRange, ScanOptions, Storage, Store};
use crate::{DbError, Result, StorageError};

/// What [`Database::verify`] checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbVerifyReport {
    /// Ops whose hash and chain link were recomputed.
    pub ops: u64,
    /// Authors whose chains were walked.
    pub authors: usize,
    /// Fingerprint of the whole log.
    pub fingerprint: Fingerprint,
    /// Checkpoints decoded and checked.
    pub checkpoints: usize,
    /// Keys of the live state compared with a replay of the log.
    pub keys: usize,
    /// Authors whose chain head's proof of authorship was checked (every author but, for a
    /// connection opened as a chosen author without its identity, that author).
    pub proven: usize,
}

fn id_range(from: Bound<OpId>, to: Bound<OpId>) -> KeyRange {
    let map = |b: Bound<OpId>| match b {
        Bound::Included(id) => Bound::Included(id.to_bytes().to_vec()),
        Bound::Excluded(id) => Bound::Excluded(id.to_bytes().to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    };
    KeyRange { start: map(from), end: map(to) }
}

impl<S: Storage> Database<S> {
    /// Loads and decodes the ops in an id range, in id order.
    pub async fn load_ops(&mut self, from: Bound<OpId>, to: Bound<OpId>) -> Result<Vec<Op>> {
        let rows = self.storage.scan(Store::Log, id_range(from, to), ScanOptions::default()).await?;
        self.stats.ops_decoded += rows.len() as u64;
        rows.iter().map(|(_, v)| Ok(decode_op(v)?)).collect()
    }

    /// Loads the encoded ops with these ids (for shipping to a peer).
    pub async fn load_encoded(&self, ids: &[OpId]) -> Result<Vec<EncodedOp>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let bytes = self
                .storage
                .get(Store::Log, &id.to_bytes())
                .await?
                .ok_or_else(|| DbError::Corrupt(format!("op {id} is indexed but not stored")))?;
            let hash = self.log.borrow().hash_of(id).copied().unwrap_or_else(|| Hash::of(&bytes));
            // The receiver decodes and checks; here the op is only carried.
            out.push(EncodedOp { op: decode_op(&bytes)?, bytes, hash });
        }
        Ok(out)
    }

    /// The stored bytes and hashes of the ops with these ids, in the order given, without decoding
    /// them (for shipping to a peer, which checks them). Ids not held are left out.
    pub async fn load_raw(&self, ids: &[OpId]) -> Result<Vec<(OpId, Vec<u8>, Hash)>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(hash) = self.log.borrow().hash_of(id).copied() else { continue };
            if let Some(bytes) = self.storage.get(Store::Log, &id.to_bytes()).await? {
                out.push((*id, bytes, hash));
            }
        }
        Ok(out)
    }

    /// The state as of `at`: every op with an id `<= at` applied (nearest checkpoint, then
    /// replay of the ops after it).
    pub async fn state_at(&mut self, at: OpId) -> Result<State> {
        self.load_log().await?;
        let base = self.checkpoints.range(..=at).last().copied();
        let mut state = self.checkpoint_state(base).await?;
        let from = base.map_or(Bound::Unbounded, Bound::Excluded);
        for op in self.load_ops(from, Bound::Included(at)).await? {
            state.apply(&op);
        }
        Ok(state)
    }

    /// The state of the stored checkpoint `base` (every op with an id `<= base` applied), checked
    /// against the log's fingerprint up to it, which needs the log's index loaded; with no
    /// checkpoint, the empty state (before the first op).
    pub(super) async fn checkpoint_state(&self, base: Option<OpId>) -> Result<State> {
        let config = self.state_config();
        let Some(cp) = base else { return Ok(State::new(config)) };
        let bytes = self
            .storage
            .get(Store::Checkpoints, &cp.to_bytes())
            .await?
            .ok_or_else(|| DbError::Corrupt(format!("checkpoint {cp} is missing")))?;
        let checkpoint = Checkpoint::decode(&bytes, config)?;
        if checkpoint.log_fingerprint != self.log.borrow().fingerprint(..=cp) {
            return Err(DbError::Corrupt(format!("checkpoint {cp} does not match the log")));
        }
        Ok(checkpoint.state)
    }

    /// The value of `key` as of `at`.
    pub async fn get_at(&mut self, key: &str, at: OpId) -> Result<Option<Value>> {
        Ok(self.state_at(at).await?.get(key).map(|e| e.value.clone()))
    }

    /// Every op that wrote `key` (and every clear), in id order, with its outcome under the
    /// strategy: current, superseded, or lost in a conflict.
    pub async fn history(&mut self, key: &str) -> Result<Vec<HistoryItem>> {
        // The rows are brought up to the newest op first; where that cannot be written (the
        // storage is full), the ops after the mark are read instead.
        match self.index_history().await {
            Ok(()) | Err(DbError::Storage(StorageError::QuotaExceeded(_))) => {}
            Err(e) => return Err(e),
        }
        let mark = self.stored_history_mark().await?.upto;
        let mut ids = self.unindexed_history(key, mark).await?;
        for prefix in [keys::history_prefix(key), keys::clear_prefix()] {
            let rows = self
                .storage
                .scan(Store::History, KeyRange::prefix(&prefix), ScanOptions { keys_only: true, ..Default::default() })
                .await?;
            for (k, _) in rows {
                ids.push(keys::history_id(&k)?);
            }
        }
        auroradb_log::sort_by_key(&mut ids, |id| *id);
        ids.dedup();
        let mut ops = Vec::with_capacity(ids.len());
        for id in &ids {
            let bytes = self
                .storage
                .get(Store::Log, &id.to_bytes())
                .await?
                .ok_or_else(|| DbError::Corrupt(format!("history names op {id}, which is not in the log")))?;
            ops.push(decode_op(&bytes)?);
        }
        self.stats.ops_decoded += ops.len() as u64;
        Ok(history(&self.state_config(), key, ops))
    }

    /// What changed between the states as of `from` and as of `to`.
    pub async fn diff(&mut self, from: OpId, to: OpId) -> Result<Diff> {
        let a = self.state_at(from).await?;
        let b = self.state_at(to).await?;
        Ok(diff(&a, &b))
    }

    /// Replays the ops after `from` up to `to` (inclusive) in id order, calling `visit` with each
    /// op and the state just after it. Returns the final state.
    pub async fn replay(&mut self, from: OpId, to: OpId, mut visit: impl FnMut(&Op, &State)) -> Result<State> {
        let mut state = self.state_at(from).await?;
        for op in self.load_ops(Bound::Excluded(from), Bound::Included(to)).await? {
            state.apply(&op);
            visit(&op, &state);
        }
        Ok(state)
    }

    /// Every stored op, with the log's index as of the same commits: other connections' commits
    /// are taken in first (loading does only when it has something to load), and the scan is
    /// made again while it holds ops the index does not (another connection committed in
    /// between), a few times at most: verification and export never mistake another
    /// connection's write for damage, and damage stays.
    pub(crate) async fn scan_log_seen(&mut self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let (mut quieter, mut tries) = (super::Quieter::after(2), 0);
        loop {
            let changes = self.catch_up().await?;
            self.caught_up.extend(changes);
            self.load_log().await?;
            let rows = self.storage.scan(Store::Log, KeyRange::all(), ScanOptions::default()).await?;
            let unseen = |(k, _): &(Vec<u8>, Vec<u8>)| {
                OpId::from_bytes(k).is_ok_and(|id| self.log.borrow().hash_of(&id).is_none())
            };
            tries += 1;
            if tries == 8 || !rows.iter().any(unseen) {
                return Ok(rows);
            }
            quieter.spoiled(&self.storage).await?;
        }
    }

    /// Recomputes every op's hash and every author chain from storage, checks the segment
    /// records, every checkpoint, and that the live state equals a replay of the whole log.
    /// The stores are read one after another, so another connection's commit in between can
    /// make them disagree with no damage: a failure counts only when no commit was made while it
    /// was found (four tries at most: damage stays).
    pub async fn verify(&mut self) -> Result<DbVerifyReport> {
        self.unless_others_committed(async |db| db.verify_once().await).await
    }

    /// Runs `read` (which reads the stores one after another), and again while it fails and
    /// another connection committed meanwhile: its failure counts only when no commit was made
    /// while it was found (four tries at most: damage stays). After a try that another
    /// connection's commit spoiled, the next reads under the storage's write lock
    /// (`Quieter`): a connection writing in a tight loop would otherwise commit during
    /// every try.
    pub(crate) async fn unless_others_committed<T>(
        &mut self,
        mut read: impl AsyncFnMut(&mut Self) -> Result<T>,
    ) -> Result<T> {
        // The read has its own tries (`scan_log_seen`): one spoiled try of it is enough.
        let mut quieter = super::Quieter::after(1);
        let mut tries = 0;
        loop {
            let before = super::stored_commit(&self.storage).await?;
            let found = read(self).await;
            tries += 1;
            if found.is_ok() || tries == 4 || super::stored_commit(&self.storage).await? == before {
                return found;
            }
            quieter.spoiled(&self.storage).await?;
        }
    }

    async fn verify_once(&mut self) -> Result<DbVerifyReport> {
        let rows = self.scan_log_seen().await?;
        self.load_state().await?;
        self.stats.ops_decoded += rows.len() as u64;
        let recorded: BTreeMap<OpId, Hash> = self.log.borrow().ids(..).map(|(id, h)| (*id, *h)).collect();
        let heads: HashMap<PeerId, ChainHead> = self.log.borrow().heads().clone();
        let report = verify_ops(rows.iter().map(|(k, v)| Ok((OpId::from_bytes(k)?, v.as_slice()))), &recorded, &heads)?;
        // Every author's chain head is proven by its author's key; through the chain, so is
        // every op of the author.
        let mut proven = 0;
        for (author, head) in &heads {
            let log = self.log.borrow();
            if *author == log.peer() && log.identity().is_none() {
                continue;
            }
            // The head before a frozen author's fork is proven by the equivocation's signed runs.
            if log.equivocation(author).is_some_and(|eq| eq.fork().prev == head.hash) {
                proven += 1;
                continue;
            }
            let proof = log
                .proof_of(&head.id)
                .ok_or(LogError::BadProof { author: *author, reason: "no proof of its chain head is stored" })?;
            proof.check(*author, &head.hash)?;
            proven += 1;
        }
        // The kept proofs (of ops at multiples of the interval) go out with the ops, to peers and
        // in every export, whose import checks them: each is checked here as the import would.
        for (id, proof) in super::proofs::read_all(&self.storage).await? {
            let hash = recorded.get(&id).ok_or_else(|| {
                DbError::Corrupt(format!("a kept proof of authorship names op {id}, which is not in the log"))
            })?;
            proof.check(id.peer, hash)?;
        }
        // The stored segment records and the tail after them must agree with the log.
        let mut seg_total = auroradb_log::RangeSum::default();
        let mut sealed = None;
        for (_, v) in self.storage.scan(Store::Segments, KeyRange::all(), ScanOptions::default()).await? {
            if let Some(s) = auroradb_log::segment::SegmentRecord::decode(&v)?.summary() {
                seg_total = seg_total + s.sum;
                sealed = sealed.max(Some(s.last));
            }
        }
        for (k, v) in &rows {
            if sealed.is_none_or(|end| OpId::from_bytes(k).is_ok_and(|id| id > end)) {
                seg_total = seg_total + auroradb_log::RangeSum::one(&Hash::of(v));
            }
        }
        if seg_total.fingerprint() != report.fingerprint {
            return Err(DbError::Corrupt("segment records do not match the log".into()));
        }
        // Every checkpoint decodes, hashes right, and matches the log up to its id.
        let config = self.state_config();
        let mut checkpoints = 0;
        for (k, v) in self.storage.scan(Store::Checkpoints, KeyRange::all(), ScanOptions::default()).await? {
            let at = OpId::from_bytes(&k)?;
            let cp = Checkpoint::decode(&v, config.clone())?;
            if cp.at != at || cp.log_fingerprint != self.log.borrow().fingerprint(..=at) {
                return Err(DbError::Corrupt(format!("checkpoint {at} does not match the log")));
            }
            checkpoints += 1;
        }
        // The history rows, which `history()` trusts: every op up to the history mark has its
        // rows, and every row is one of an op up to the mark. The mark is read before and after
        // the rows: an index written by another connection in between only adds rows and moves
        // the mark.
        let mark_before = self.stored_history_mark().await?.upto;
        let keys_only = ScanOptions { keys_only: true, ..Default::default() };
        let mut stray: BTreeSet<Vec<u8>> =
            self.storage.scan(Store::History, KeyRange::all(), keys_only).await?.into_iter().map(|(k, _)| k).collect();
        let mark_after = self.stored_history_mark().await?.upto;
        // The live state is what the log says it is.
        let mut replayed = State::new(config);
        for (k, v) in &rows {
            let op = decode_op(v)?;
            let id = OpId::from_bytes(k)?;
            if mark_after.is_some_and(|m| id <= m) {
                for (i, prefix) in super::tail::history_prefixes(&op.kind).iter().enumerate() {
                    if !stray.remove(&keys::history_key(prefix, &id)) && mark_before.is_some_and(|m| id <= m) {
                        // The prefixes are the keys', in order, then the clears'.
                        let named = super::tail::history_keys(&op.kind).0.get(i).map(|k| format!("key {k:?}"));
                        let of = named.unwrap_or_else(|| "clears".to_owned());
                        return Err(DbError::Corrupt(format!("the history of {of} lacks op {id}")));
                    }
                }
            }
            replayed.apply(&op);
        }
        if let Some(row) = stray.first() {
            let id = keys::history_id(row).map_or_else(|_| "an unreadable id".to_owned(), |id| format!("op {id}"));
            return Err(DbError::Corrupt(format!("a history row names {id}, which the log does not give it")));
        }
        let live: Vec<_> = self.state.iter().map(|(k, e)| (k.to_owned(), e.clone())).collect();
        let want: Vec<_> = replayed.iter().map(|(k, e)| (k.to_owned(), e.clone())).collect();
        if live != want {
            let bad = live
                .iter()
                .zip(&want)
                .find(|(a, b)| a != b)
                .map(|(a, _)| a.0.clone())
                .unwrap_or_else(|| "(record count)".into());
            return Err(DbError::Corrupt(format!("stored state differs from the log at key {bad:?}")));
        }
        Ok(DbVerifyReport {
            ops: report.ops,
            authors: report.authors,
            fingerprint: report.fingerprint,
            checkpoints,
            keys: live.len(),
            proven,
        })
    }
}
