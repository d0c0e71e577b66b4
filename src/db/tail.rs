//! The log's tail, the ops after the last segment record, and the history rows, derived on
//! demand.
//!
//! A local write stores its op, the state records it changed, its journal entry and its
//! author's chain head, and nothing derived: its op joins the tail. The segment records of the
//! tail's ops are written in the commit that brings the tail to a segment's worth of ops (a
//! local one), or by any commit of remote ops, which may land among stored segments. So every op
//! up to the last segment record's last op is in exactly one segment record, and every op after
//! it in none; what reads them (the index, `verify`) adds the tail, which is at most a
//! segment's worth of ops.
//!
//! History rows (the `History` store: which ops wrote a key) are written by no local write.
//! The history mark (meta `history`) says how far they go: every op up to the mark has its rows,
//! and no op after it needs them. `history` first brings the rows up to the newest op
//! ([`Database::index_history`]), and reads the ops after the mark if it could not. A commit
//! of remote ops writes the rows of those at or below the mark (late ops), and expects the mark
//! unchanged, as the indexing expects no commit since it read the log: of two that raced, one
//! fails as a conflict and tries again. A database written before the mark was kept has rows up
//! to its last segment record's last op: that is its mark until a commit stores one.
//!
//! A local op always joins the tail: its id is above every op the storage holds (a commit first
//! catches up with the others'), so above the last segment record's and the mark.

use std::ops::Bound;

use auroradb_log::segment::{SegmentChanges, SegmentRecord, Segments};
use auroradb_log::{EncodedOp, Hash, OpId, OpKind, Step, decode_op};

use super::{Database, keys};
use crate::storage::{KeyRange, ScanOptions, Storage, Store, WriteBatch};
use crate::{Result, StorageError};

/// What a commit that writes segment records adds: the records to put and delete for its ops and
/// the tail's, and the history mark as it found it.
pub(super) struct Sealing {
    pub changes: SegmentChanges,
    pub mark: HistoryMark,
}

/// How far the history rows go: every op up to `upto` has them.
pub(super) struct HistoryMark {
    pub upto: Option<OpId>,
    /// The mark's record as read (`None`: the database has none yet, and `upto` is the last
    /// segment record's last op).
    pub stored: Option<Vec<u8>>,
}

/// How many ops the first indexing commit of [`Database::index_history`] covers, and at most
/// how many one does: each covers twice as many as the one before while those held less than
/// [`CHUNK_BYTES`] of ops, half as many once they held more than four times that (ops run from
/// a few bytes to the maximum op size).
const FIRST_CHUNK: usize = 256;
const MAX_CHUNK: usize = 4096;
const CHUNK_BYTES: usize = 4 << 20;

/// The size of the next chunk after one of `len` ops that held `bytes`.
fn next_chunk(len: usize, bytes: usize) -> usize {
    if bytes < CHUNK_BYTES {
        (len * 2).min(MAX_CHUNK)
    } else if bytes > 4 * CHUNK_BYTES {
        (len / 2).max(1)
    } else {
        len
    }
}

/// The log store's keys after `sealed` (the last segment record's last op), all of them if none.
pub(super) fn after(sealed: Option<OpId>) -> KeyRange {
    KeyRange {
        start: sealed.map_or(Bound::Unbounded, |id| Bound::Excluded(id.to_bytes().to_vec())),
        end: Bound::Unbounded,
    }
}

/// The last segment record; the tail follows its last op.
pub(super) struct LastSegment(Option<SegmentRecord>);

impl LastSegment {
    /// Its last op, if there is a record.
    fn end(&self) -> Option<OpId> {
        self.0.as_ref().and_then(|r| r.members.last()).map(|(id, _)| *id)
    }
}

/// The records for `new` ops (in id order) all after `last`: `last` filled up to `max` ops,
/// then new records of `max` ops, the last one maybe fewer. The usual sealing (the tail, and
/// remote ops newer than everything held) reads no other record and writes full ones.
fn appended(last: LastSegment, new: &[(OpId, Hash)], max: usize) -> SegmentChanges {
    let mut put = Vec::new();
    let mut rest = new;
    if let Some(mut rec) = last.0
        && rec.members.len() < max
    {
        let (fill, more) = rest.split_at((max - rec.members.len()).min(rest.len()));
        rec.members.extend_from_slice(fill);
        put.push((rec.members[0].0, rec));
        rest = more;
    }
    for chunk in rest.chunks(max) {
        put.push((chunk[0].0, SegmentRecord { members: chunk.to_vec() }));
    }
    SegmentChanges { put, delete: Vec::new() }
}

impl<S: Storage> Database<S> {
    /// The last segment record.
    pub(super) async fn last_segment(&self) -> Result<LastSegment> {
        let last = ScanOptions { limit: Some(1), reverse: true, ..Default::default() };
        match self.storage.scan(Store::Segments, KeyRange::all(), last).await?.first() {
            Some((_, v)) => Ok(LastSegment(Some(SegmentRecord::decode(v)?))),
            None => Ok(LastSegment(None)),
        }
    }

    /// Whether a local commit of `n` ops is due to seal the tail: it would bring the tail to a
    /// segment's worth. If so, the last segment record, for [`Database::seal`]. The tail's length
    /// is counted by the storage the first time, then followed (and counted again when it seems
    /// due, since other connections may have sealed it).
    pub(super) async fn tail_due(&mut self, n: u64) -> Result<Option<LastSegment>> {
        let max = self.config.segment_ops as u64;
        if let Some(len) = self.tail
            && len + n < max
        {
            return Ok(None);
        }
        let last = self.last_segment().await?;
        let len = self.storage.count(Store::Log, after(last.end())).await?;
        self.tail = Some(len);
        Ok((len + n >= max).then_some(last))
    }

    /// The segment records for `ops` (new to the log) and the tail after `last`, and the history
    /// mark.
    pub(super) async fn seal(&mut self, ops: &[EncodedOp], last: LastSegment) -> Result<Sealing> {
        let end = last.end();
        let mark = self.history_mark(end).await?;
        let tail = self.tail_members(end).await?;
        let mut all: Vec<(OpId, Hash)> = ops.iter().map(|o| (o.op.id, o.hash)).chain(tail).collect();
        auroradb_log::sort_by_key(&mut all, |(id, _)| *id);
        let changes = match all.first() {
            Some((first, _)) if end.is_none_or(|end| *first > end) => {
                appended(last, &all, self.config.segment_ops.max(2))
            }
            // Some of the ops land among the stored segments.
            _ => {
                let ids: Vec<OpId> = all.iter().map(|(id, _)| *id).collect();
                self.segments_around(&ids).await?.preview(&all)
            }
        };
        Ok(Sealing { changes, mark })
    }

    /// The history mark; without a stored one, `legacy` (the last segment record's last op, up to
    /// which a database of an earlier release wrote the rows).
    pub(super) async fn history_mark(&self, legacy: Option<OpId>) -> Result<HistoryMark> {
        let stored = self.storage.get(Store::Meta, keys::META_HISTORY).await?;
        let upto = match &stored {
            Some(bytes) => keys::decode_history_mark(bytes)?,
            None => legacy,
        };
        Ok(HistoryMark { upto, stored })
    }

    /// The history mark, read with the last segment record when there is no stored one.
    pub(super) async fn stored_history_mark(&self) -> Result<HistoryMark> {
        let mark = self.history_mark(None).await?;
        if mark.stored.is_some() {
            return Ok(mark);
        }
        Ok(HistoryMark { upto: self.last_segment().await?.end(), stored: None })
    }

    /// Writes the history rows of the ops after the mark, up to the newest op, in commits of a
    /// chunk of ops each (see [`FIRST_CHUNK`]) that each move the mark. Each expects the mark as read and no commit
    /// since it read the log; one that lost to another connection's commit reads again.
    pub(super) async fn index_history(&mut self) -> Result<()> {
        let mut quieter = super::Quieter::after(2);
        let mut limit = FIRST_CHUNK;
        loop {
            let seen = super::stored_commit(&self.storage).await?;
            let mark = self.stored_history_mark().await?;
            let chunk = ScanOptions { limit: Some(limit), ..Default::default() };
            let rows = self.storage.scan(Store::Log, after(mark.upto), chunk).await?;
            let Some((last, _)) = rows.last() else { return Ok(()) };
            let upto = OpId::from_bytes(last)?;
            let mut batch = WriteBatch::default();
            batch.expect(Store::Meta, keys::META_HISTORY, mark.stored);
            batch.expect(Store::Journal, keys::encode_counter(seen + 1), None);
            for (k, bytes) in &rows {
                let id = OpId::from_bytes(k)?;
                for prefix in history_prefixes(&decode_op(bytes)?.kind) {
                    batch.put(Store::History, keys::history_key(&prefix, &id), Vec::new());
                }
            }
            self.stats.ops_decoded += rows.len() as u64;
            batch.put(Store::Meta, keys::META_HISTORY, keys::encode_history_mark(Some(upto)));
            match self.storage.commit(batch).await {
                Ok(()) if rows.len() < limit => return Ok(()),
                Ok(()) => limit = next_chunk(limit, rows.iter().map(|(_, v)| v.len()).sum()),
                Err(StorageError::Conflict) => quieter.spoiled(&self.storage).await?,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The segment records without the ops `ids` (ascending), for a commit that removes them
    /// from the log; ops of the tail are in none.
    pub(super) async fn segments_without(&self, ids: &[OpId]) -> Result<SegmentChanges> {
        let end = self.last_segment().await?.end();
        let sealed: Vec<OpId> = ids.iter().copied().filter(|id| end.is_some_and(|e| *id <= e)).collect();
        if sealed.is_empty() {
            return Ok(SegmentChanges::default());
        }
        Ok(self.segments_around(&sealed).await?.preview_removal(&sealed))
    }

    /// The stored segments that new ops with these ids join: the last segment starting at or
    /// before the smallest id (else the first one) and every one starting after it up to the
    /// largest id.
    async fn segments_around(&self, ids: &[OpId]) -> Result<Segments> {
        let max_ops = self.config.segment_ops;
        let (Some(lo), Some(hi)) = (ids.iter().min(), ids.iter().max()) else { return Ok(Segments::new(max_ops)) };
        let one = |reverse| ScanOptions { limit: Some(1), reverse, ..Default::default() };
        let upto = KeyRange { start: Bound::Unbounded, end: Bound::Included(lo.to_bytes().to_vec()) };
        let mut rows = self.storage.scan(Store::Segments, upto, one(true)).await?;
        if rows.is_empty() {
            rows = self.storage.scan(Store::Segments, KeyRange::all(), one(false)).await?;
        }
        if lo != hi
            && let Some((from, _)) = rows.first()
        {
            let after = KeyRange { start: Bound::Excluded(from.clone()), end: Bound::Included(hi.to_bytes().to_vec()) };
            let more = self.storage.scan(Store::Segments, after, ScanOptions::default()).await?;
            rows.extend(more);
        }
        let records = rows.iter().map(|(_, v)| SegmentRecord::decode(v)).collect::<Result<Vec<_>, _>>()?;
        Ok(Segments::restore(max_ops, records))
    }

    /// The tail's ids and hashes, in id order, as one segment record for the log's index (not
    /// stored), after the stored `records`.
    pub(super) async fn tail_record(&mut self, records: &[SegmentRecord]) -> Result<SegmentRecord> {
        let sealed = records.iter().filter_map(|r| r.members.last()).map(|(id, _)| *id).max();
        let rows = self.storage.scan(Store::Log, after(sealed), ScanOptions::default()).await?;
        let mut members = Vec::with_capacity(rows.len());
        for (k, bytes) in rows {
            members.push((OpId::from_bytes(&k)?, Hash::of(&bytes)));
        }
        self.tail = Some(members.len() as u64);
        Ok(SegmentRecord { members })
    }

    /// The ids and hashes of the ops after `end` (the last segment record's last op), in id
    /// order.
    async fn tail_members(&mut self, end: Option<OpId>) -> Result<Vec<(OpId, Hash)>> {
        let rows = self.storage.scan(Store::Log, after(end), ScanOptions::default()).await?;
        rows.iter().map(|(k, bytes)| Ok((OpId::from_bytes(k)?, Hash::of(bytes)))).collect()
    }

    /// The ops after `mark` that belong in the history of `key` (they have no history rows),
    /// read in chunks as [`Database::index_history`] reads them.
    pub(super) async fn unindexed_history(&mut self, key: &str, mark: Option<OpId>) -> Result<Vec<OpId>> {
        let (mut ids, mut from, mut limit) = (Vec::new(), mark, FIRST_CHUNK);
        loop {
            let chunk = ScanOptions { limit: Some(limit), ..Default::default() };
            let rows = self.storage.scan(Store::Log, after(from), chunk).await?;
            self.stats.ops_decoded += rows.len() as u64;
            for (_, bytes) in &rows {
                let op = decode_op(bytes)?;
                let (keys, clear) = history_keys(&op.kind);
                if clear || keys.contains(&key) {
                    ids.push(op.id);
                }
                from = Some(op.id);
            }
            if rows.len() < limit {
                return Ok(ids);
            }
            limit = next_chunk(limit, rows.iter().map(|(_, v)| v.len()).sum());
        }
    }
}

/// The prefixes of the history rows of an op of `kind` (see the `History` store): one per key it
/// writes, each once, or the clears' prefix.
pub(super) fn history_prefixes(kind: &OpKind) -> Vec<Vec<u8>> {
    let (keys, clear) = history_keys(kind);
    keys.into_iter().map(super::keys::history_prefix).chain(clear.then(super::keys::clear_prefix)).collect()
}

/// The keys whose history an op belongs in, each once, and whether it is a clear (in every
/// key's history).
pub(super) fn history_keys(kind: &OpKind) -> (Vec<&str>, bool) {
    match kind {
        OpKind::Put { key, .. } | OpKind::Remove { key } => (vec![key.as_str()], false),
        OpKind::Txn(steps) => (super::write::distinct(steps.iter().map(Step::key).collect()), false),
        OpKind::Clear => (Vec::new(), true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_grow_while_their_ops_are_small_and_shrink_when_they_are_large() {
        assert_eq!(next_chunk(FIRST_CHUNK, 1_000), 512);
        assert_eq!(next_chunk(MAX_CHUNK, 1_000), MAX_CHUNK);
        assert_eq!(next_chunk(512, CHUNK_BYTES * 2), 512);
        assert_eq!(next_chunk(512, CHUNK_BYTES * 5), 256);
        assert_eq!(next_chunk(1, usize::MAX), 1);
    }
}
