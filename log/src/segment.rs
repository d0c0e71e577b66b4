//! Segments: contiguous id ranges of the log.
//!
//! Two uses:
//! - [`Segments`] partitions the log into ranges of at most `max_ops` ops whose
//!   [`SegmentRecord`]s (member ids and hashes) are persisted, so a reopened database rebuilds its
//!   index from them without decoding a single op;
//! - [`encode_segment`] / [`decode_segment`] carry a run of ops between peers, with only what the
//!   receiver cannot recompute (see [`wire`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::codec::{MAGIC_SEGMENT_RECORD, decode_blob, encode_blob};
use crate::{Hash, IdSet, LogError, OpId, RangeSum, Result};

pub mod wire;
pub use wire::{
    FILE_SEGMENT_VERSION, ProvenSegment, SEGMENT_VERSION, SegmentLimits, SegmentWriter, SplitOp, decode_file_segment,
    decode_proven_segment, decode_segment, encode_file_segment, encode_proven_segment, encode_segment, stored_seq,
};

/// The default maximum number of ops in a persisted segment.
pub const DEFAULT_SEGMENT_OPS: usize = 64;

/// A segment's summary: its id range, how many ops, and the sum of their hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentSummary {
    /// Smallest id in the segment.
    pub first: OpId,
    /// Largest id in the segment.
    pub last: OpId,
    /// Count and hash sum.
    pub sum: RangeSum,
}

/// A persisted segment: the ids and hashes of its ops, in id order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SegmentRecord {
    /// `(id, hash)` of each op, ascending by id.
    pub members: Vec<(OpId, Hash)>,
}

impl SegmentRecord {
    /// The summary, computed from the members. `None` for an empty record.
    pub fn summary(&self) -> Option<SegmentSummary> {
        let first = self.members.first()?.0;
        let last = self.members.last()?.0;
        let sum = self.members.iter().fold(RangeSum::default(), |acc, (_, h)| acc + RangeSum::one(h));
        Some(SegmentSummary { first, last, sum })
    }

    /// Encodes the record (magic `AUsr`).
    pub fn encode(&self) -> Vec<u8> {
        encode_blob(MAGIC_SEGMENT_RECORD, self)
    }

    /// Decodes a record, checking that its members are strictly ascending.
    pub fn decode(bytes: &[u8]) -> Result<SegmentRecord> {
        let rec: SegmentRecord = decode_blob("segment record", MAGIC_SEGMENT_RECORD, bytes)?;
        if rec.members.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(LogError::corrupt("segment record", "members out of order"));
        }
        Ok(rec)
    }
}

/// The partition of the log into segments of at most `max_ops` ops, keyed by their first id, with
/// the set of segments changed since the last [`Segments::take_changes`].
#[derive(Debug, Clone)]
pub struct Segments {
    map: BTreeMap<OpId, SegmentRecord>,
    max_ops: usize,
    dirty: IdSet,
    removed: IdSet,
}

/// What changed in the partition: records to write (keyed by first id) and keys to delete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentChanges {
    /// Segments to write, keyed by their first id.
    pub put: Vec<(OpId, SegmentRecord)>,
    /// First ids of segments that no longer exist under that key.
    pub delete: Vec<OpId>,
}

impl Segments {
    /// An empty partition with segments of at most `max_ops` ops (at least 2).
    pub fn new(max_ops: usize) -> Segments {
        Segments { map: BTreeMap::new(), max_ops: max_ops.max(2), dirty: IdSet::new(), removed: IdSet::new() }
    }

    /// A partition restored from persisted records; no changes are pending.
    pub fn restore(max_ops: usize, records: impl IntoIterator<Item = SegmentRecord>) -> Segments {
        let mut s = Segments::new(max_ops);
        for rec in records {
            if let Some(first) = rec.members.first() {
                s.map.insert(first.0, rec);
            }
        }
        s
    }

    /// The maximum number of ops in a segment.
    pub fn max_ops(&self) -> usize {
        self.max_ops
    }

    /// Number of segments.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no segments.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The records in id order.
    pub fn records(&self) -> impl Iterator<Item = &SegmentRecord> {
        self.map.values()
    }

    /// The summaries in id order.
    pub fn summaries(&self) -> impl Iterator<Item = SegmentSummary> + '_ {
        self.map.values().filter_map(SegmentRecord::summary)
    }

    /// Adds an op (its id must not be present yet).
    pub fn insert(&mut self, id: OpId, hash: Hash) {
        // The segment whose range holds `id`, or the first one for an id below every segment.
        let held = match self.map.range_mut(..=id).next_back() {
            Some((key, rec)) => Some((*key, rec)),
            None => self.map.iter_mut().next().map(|(key, rec)| (*key, rec)),
        };
        let Some((key, rec)) = held else {
            self.map.insert(id, SegmentRecord { members: vec![(id, hash)] });
            self.mark(id);
            return;
        };
        let pos = rec.members.partition_point(|(m, _)| *m < id);
        rec.members.insert(pos, (id, hash));
        let tail = (rec.members.len() > self.max_ops).then(|| rec.members.split_off(rec.members.len() / 2));
        if id < key {
            // The op starts the first segment: its key changes.
            if let Some(rec) = self.map.remove(&key) {
                self.map.insert(id, rec);
            }
            self.forget(key);
        }
        if let Some(tail) = tail {
            let tail_key = tail[0].0;
            self.map.insert(tail_key, SegmentRecord { members: tail });
            self.mark(tail_key);
        }
        self.mark(key.min(id));
    }

    fn mark(&mut self, key: OpId) {
        self.removed.remove(&key);
        self.dirty.insert(key);
    }

    fn forget(&mut self, key: OpId) {
        self.dirty.remove(&key);
        self.removed.insert(key);
    }

    /// What inserting `new` ops would change, without changing anything: only the affected
    /// records are copied. Inserting the same ops later yields exactly these changes.
    pub fn preview(&self, new: &[(OpId, Hash)]) -> SegmentChanges {
        let mut scratch = Segments::new(self.max_ops);
        for (id, _) in new {
            let target = self.map.range(..=*id).next_back().or_else(|| self.map.iter().next());
            if let Some((k, rec)) = target
                && !scratch.map.contains_key(k)
            {
                scratch.map.insert(*k, rec.clone());
            }
        }
        for (id, hash) in new {
            scratch.insert(*id, *hash);
        }
        scratch.take_changes()
    }

    /// Removes op `id`, if a segment holds it. A segment left empty goes; one whose first op
    /// went is keyed by its new first op.
    pub fn remove(&mut self, id: &OpId) {
        let Some((&key, _)) = self.map.range(..=*id).next_back() else { return };
        let mut rec = self.map.remove(&key).expect("key was just found");
        let Ok(pos) = rec.members.binary_search_by(|(m, _)| m.cmp(id)) else {
            self.map.insert(key, rec);
            return;
        };
        rec.members.remove(pos);
        let new_key = rec.members.first().map(|(m, _)| *m);
        if new_key != Some(key) {
            self.forget(key);
        }
        if let Some(new_key) = new_key {
            self.map.insert(new_key, rec);
            self.mark(new_key);
        }
    }

    /// What removing the ops `ids` would change, without changing anything (see
    /// [`Segments::preview`]).
    pub fn preview_removal(&self, ids: &[OpId]) -> SegmentChanges {
        let mut scratch = Segments::new(self.max_ops);
        for id in ids {
            if let Some((k, rec)) = self.map.range(..=*id).next_back() {
                scratch.map.entry(*k).or_insert_with(|| rec.clone());
            }
        }
        for id in ids {
            scratch.remove(id);
        }
        scratch.take_changes()
    }

    /// Returns and clears what changed since the last call.
    pub fn take_changes(&mut self) -> SegmentChanges {
        let put = std::mem::take(&mut self.dirty)
            .into_iter()
            .filter_map(|k| self.map.get(&k).map(|r| (k, r.clone())))
            .collect();
        let delete = std::mem::take(&mut self.removed).into_iter().collect();
        SegmentChanges { put, delete }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PeerId;
    use std::collections::BTreeSet;

    fn id(t: u64) -> OpId {
        OpId { time: t, peer: PeerId([4; 16]) }
    }

    fn h(t: u64) -> Hash {
        Hash::of(&t.to_le_bytes())
    }

    fn apply(store: &mut BTreeMap<OpId, SegmentRecord>, changes: SegmentChanges) {
        for key in changes.delete {
            store.remove(&key);
        }
        for (key, rec) in changes.put {
            store.insert(key, rec);
        }
    }

    /// Each record holds at most `max` ops, records are keyed by their first id, in order, and
    /// together hold exactly `ids`.
    fn check_partition(records: &BTreeMap<OpId, SegmentRecord>, max: usize, ids: &BTreeSet<u64>) {
        let mut all = Vec::new();
        for (key, rec) in records {
            assert!(!rec.members.is_empty() && rec.members.len() <= max, "{} members", rec.members.len());
            assert_eq!(rec.members[0].0, *key);
            all.extend(rec.members.iter().map(|(i, hash)| (i.time, *hash)));
        }
        let want: Vec<(u64, Hash)> = ids.iter().map(|t| (*t, h(*t))).collect();
        assert_eq!(all, want);
    }

    #[test]
    fn segments_split_at_max_ops() {
        let mut segs = Segments::new(4);
        assert_eq!(Segments::new(0).max_ops(), 2);
        let mut ids = BTreeSet::new();
        for t in 0..20u64 {
            let t = (t * 7) % 20 * 10; // scattered order
            segs.insert(id(t), h(t));
            ids.insert(t);
        }
        let records: BTreeMap<OpId, SegmentRecord> = segs.records().map(|r| (r.members[0].0, r.clone())).collect();
        check_partition(&records, 4, &ids);
        assert!(segs.len() >= 5);
        let total = segs.summaries().fold(RangeSum::default(), |acc, s| acc + s.sum);
        assert_eq!(total.count, 20);
        assert_eq!(total.sum, ids.iter().fold(crate::Sum256::ZERO, |acc, t| acc + crate::Sum256::of_hash(&h(*t))));
    }

    #[test]
    fn take_changes_reports_puts_and_deletes() {
        let mut segs = Segments::new(4);
        let mut store = BTreeMap::new();
        let mut ids = BTreeSet::new();
        for t in [50u64, 60, 70] {
            segs.insert(id(t), h(t));
            ids.insert(t);
        }
        let first = segs.take_changes();
        assert_eq!(first.put.len(), 1);
        assert_eq!(first.put[0].0, id(50));
        assert!(first.delete.is_empty());
        apply(&mut store, first);
        assert_eq!(segs.take_changes(), SegmentChanges::default(), "nothing pending after a take");

        // An id before the first segment re-keys it: the old key is deleted.
        segs.insert(id(10), h(10));
        ids.insert(10);
        let c = segs.take_changes();
        assert_eq!(c.delete, vec![id(50)]);
        assert_eq!(c.put.iter().map(|(k, _)| *k).collect::<Vec<_>>(), vec![id(10)]);
        apply(&mut store, c);
        check_partition(&store, 4, &ids);

        // A fifth op splits the segment: both halves are written.
        segs.insert(id(80), h(80));
        ids.insert(80);
        let c = segs.take_changes();
        assert_eq!(c.put.len(), 2);
        assert!(c.delete.is_empty());
        apply(&mut store, c);
        check_partition(&store, 4, &ids);

        // Many more, in any order: the persisted copy tracks the partition.
        for t in (0..100u64).map(|i| (i * 37) % 100 * 3 + 1) {
            if !ids.insert(t) {
                continue;
            }
            segs.insert(id(t), h(t));
            if t % 3 == 0 {
                apply(&mut store, segs.take_changes());
            }
        }
        apply(&mut store, segs.take_changes());
        check_partition(&store, 4, &ids);

        let restored = Segments::restore(4, store.values().cloned());
        assert_eq!(restored.records().cloned().collect::<Vec<_>>(), store.values().cloned().collect::<Vec<_>>());
    }

    #[test]
    fn records_round_trip_and_reject_disorder() {
        let rec = SegmentRecord { members: vec![(id(1), h(1)), (id(2), h(2))] };
        let bytes = rec.encode();
        assert_eq!(&bytes[..4], b"AUsr");
        assert_eq!(SegmentRecord::decode(&bytes).unwrap(), rec);
        let s = rec.summary().unwrap();
        assert_eq!((s.first, s.last, s.sum), (id(1), id(2), RangeSum::one(&h(1)) + RangeSum::one(&h(2))));
        assert_eq!(SegmentRecord::default().summary(), None);
        for members in [vec![(id(2), h(2)), (id(1), h(1))], vec![(id(1), h(1)), (id(1), h(1))]] {
            let bad = SegmentRecord { members }.encode();
            assert!(matches!(SegmentRecord::decode(&bad), Err(LogError::Corrupt { what: "segment record", .. })));
        }
    }
}
