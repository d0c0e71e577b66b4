//! Equivocations in the database: a proven fork of an author ([`Equivocation`]) freezes that
//! author from the fork's seq on. Its ops there and after leave the stored log (their rows, their
//! history rows, the segment records, their kept proofs), its chain head goes back to the op
//! before the fork, the state is replayed without them from the newest checkpoint before the
//! first of them (the checkpoints before it stay, the later ones go), and the proof is stored,
//! all in one commit; from then on the log takes none of those ops again (see
//! `auroradb_log::Log::freeze`).

use auroradb_log::{Equivocation, OpId, PeerId};
use auroradb_snapshot::Change;

use super::tail::history_prefixes;
use super::{Database, WriteOutcome, keys};
use crate::storage::{KeyRange, ScanOptions, Storage, Store, WriteBatch};
use crate::{DbError, Result, StorageError};

/// Prefix of the meta keys of equivocation proofs (followed by the author's 16 bytes); the value
/// is the proof's encoding (`AUeq`, `docs/formats.md`).
pub const META_FORK: &[u8] = b"fork/";

/// The stored equivocation proofs, each checked again.
pub(super) async fn read_equivocations(storage: &impl Storage) -> Result<Vec<Equivocation>> {
    let rows = storage.scan(Store::Meta, KeyRange::prefix(META_FORK), ScanOptions::default()).await?;
    rows.into_iter().map(|(_, v)| Equivocation::decode(v).map_err(DbError::from)).collect()
}

impl<S: Storage> Database<S> {
    /// Applies a checked equivocation proof in one commit: its author's ops from the fork's seq
    /// on are removed from the log and the state (replayed without them from the newest
    /// checkpoint before them, so a freeze costs the history after the fork), and the proof is
    /// kept. Returns the state's changes, or `None` if the database already holds a proof of
    /// that author at that seq or before (nothing changes). It catches up with other
    /// connections' commits first, and tries again after one of theirs comes in between, as a
    /// write does.
    pub async fn freeze(&mut self, eq: Equivocation) -> Result<Option<WriteOutcome>> {
        let mut lock = self.storage.lock_writes().await?;
        let mut attempt = 0;
        loop {
            match self.try_freeze(&eq).await {
                Err(DbError::Storage(StorageError::Conflict)) => self.lost_commit(&mut attempt, &mut lock).await?,
                other => return other,
            }
        }
    }

    /// One try of [`Database::freeze`], after catching up with other connections' commits.
    async fn try_freeze(&mut self, eq: &Equivocation) -> Result<Option<WriteOutcome>> {
        let changes = self.catch_up().await?;
        self.caught_up.extend(changes);
        self.load_log().await?;
        // The changes are those between the whole states before and after.
        self.load_state().await?;
        let fork = *eq.fork();
        if self.log.borrow().equivocation(&fork.author).is_some_and(|held| held.fork().seq <= fork.seq) {
            return Ok(None);
        }
        let (removed, before) = self.log.borrow().held_from(&fork.author, fork.seq);
        let ids: Vec<OpId> = removed.iter().map(|(id, _)| *id).collect();
        let mut batch = WriteBatch::default();
        for op in self.load_encoded(&ids).await? {
            batch.delete(Store::Log, op.op.id.to_bytes().to_vec());
            for prefix in history_prefixes(&op.op.kind) {
                batch.delete(Store::History, keys::history_key(&prefix, &op.op.id));
            }
        }
        // The stored records, not the index's: the ops of the log's tail are in none yet.
        let segments = self.segments_without(&ids).await?;
        for (first, rec) in segments.put {
            batch.put(Store::Segments, first.to_bytes().to_vec(), rec.encode());
        }
        for first in segments.delete {
            batch.delete(Store::Segments, first.to_bytes().to_vec());
        }
        match before {
            Some(head) => {
                let proof = self.log.borrow().proof_of(&head.id);
                batch.put(
                    Store::Meta,
                    keys::head_key(&fork.author),
                    keys::encode_head(&keys::StoredHead { head, proof }),
                );
            }
            None => batch.delete(Store::Meta, keys::head_key(&fork.author)),
        }
        super::proofs::delete_from(&self.storage, &mut batch, &fork.author, fork.seq).await?;
        batch.put(Store::Meta, fork_key(&fork.author), eq.bytes().to_vec());
        let old = self.rebuild_state_with(batch, &ids, Some(fork.author)).await?;
        self.log.borrow_mut().freeze(eq.clone())?;
        let _ = self.log.borrow_mut().take_segment_changes();
        let changes = changes_between(old.all(), self.state.all());
        Ok(Some(WriteOutcome { ops: Vec::new(), encoded: Vec::new(), changes }))
    }
}

pub(super) fn fork_key(author: &PeerId) -> Vec<u8> {
    [META_FORK, author.as_bytes()].concat()
}

/// The changes from the records `before` to the records `after` (both in key order).
pub(super) fn changes_between(
    before: Vec<(String, auroradb_log::Value)>,
    after: Vec<(String, auroradb_log::Value)>,
) -> Vec<Change> {
    let mut changes = Vec::new();
    let (mut a, mut b) = (before.into_iter().peekable(), after.into_iter().peekable());
    loop {
        let order = match (a.peek(), b.peek()) {
            (None, None) => return changes,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => x.0.cmp(&y.0),
        };
        let (key, was, now) = match order {
            std::cmp::Ordering::Less => a.next().map(|(k, v)| (k, Some(v), None)).expect("peeked"),
            std::cmp::Ordering::Greater => b.next().map(|(k, v)| (k, None, Some(v))).expect("peeked"),
            std::cmp::Ordering::Equal => {
                let (k, v) = a.next().expect("peeked");
                (k, Some(v), b.next().map(|(_, w)| w))
            }
        };
        if was != now {
            changes.push(Change { key, before: was, after: now });
        }
    }
}
