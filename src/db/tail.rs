//! The log's tail: the ops after the last segment record.
//!
//! A local write stores its op, the state records it changed, its journal entry and its
//! author's chain head, and nothing derived: its op joins the tail. The segment records and the
//! history rows of the tail's ops are written together, in the commit that brings the tail to a
//! segment's worth of ops (a local one), or by any commit of remote ops, which may land among
//! stored segments. So every op up to the last segment record's last op is in exactly one
//! segment record and has its history rows, and every op after it has neither; what reads them
//! (the index, `history`, `verify`) adds the tail, which is at most a segment's worth of ops.
//!
//! A local op always joins the tail: its id is above every op the storage holds (a commit first
//! catches up with the others'), so above the last segment record's.

use std::ops::Bound;

use auroradb_log::segment::{SegmentChanges, SegmentRecord, Segments};
use auroradb_log::{EncodedOp, Hash, OpId, OpKind, Step, decode_op};

use super::Database;
use crate::Result;
use crate::storage::{KeyRange, ScanOptions, Storage, Store};

/// What a commit that writes segment records adds: the records to put and delete for its ops and
/// the tail's, and the tail's ops, whose history rows it writes too.
pub(super) struct Sealing {
    pub changes: SegmentChanges,
    pub tail: Vec<EncodedOp>,
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

    /// The segment records for `ops` (new to the log) and the tail after `last`, and the tail's
    /// ops.
    pub(super) async fn seal(&mut self, ops: &[EncodedOp], last: LastSegment) -> Result<Sealing> {
        let end = last.end();
        let tail = self.tail_ops(end).await?;
        let mut all: Vec<(OpId, Hash)> = ops.iter().chain(&tail).map(|o| (o.op.id, o.hash)).collect();
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
        Ok(Sealing { changes, tail })
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

    /// The ops after `end` (the last segment record's last op), decoded, in id order.
    async fn tail_ops(&mut self, end: Option<OpId>) -> Result<Vec<EncodedOp>> {
        let rows = self.storage.scan(Store::Log, after(end), ScanOptions::default()).await?;
        self.stats.ops_decoded += rows.len() as u64;
        let mut ops = Vec::with_capacity(rows.len());
        for (_, bytes) in rows {
            ops.push(EncodedOp { op: decode_op(&bytes)?, hash: Hash::of(&bytes), bytes });
        }
        Ok(ops)
    }

    /// The tail's ops that belong in the history of `key`.
    pub(super) async fn tail_history(&mut self, key: &str) -> Result<Vec<OpId>> {
        let end = self.last_segment().await?.end();
        let ops = self.tail_ops(end).await?;
        Ok(ops
            .iter()
            .filter(|o| {
                let (keys, clear) = history_keys(&o.op.kind);
                clear || keys.contains(&key)
            })
            .map(|o| o.op.id)
            .collect())
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
