//! Segments: contiguous id ranges of the log.
//!
//! Two uses:
//! - [`Segments`] partitions the log into ranges of at most `max_ops` ops whose
//!   [`SegmentRecord`]s (member ids and hashes) are persisted, so a reopened database rebuilds its
//!   index from them without decoding a single op;
//! - [`encode_segment`] / [`decode_segment`] carry a run of ops between peers with a summary the
//!   receiver checks before anything is applied.
//!
//! Wire segment (magic `AUsg`):
//!
//! ```text
//! +------+---+-------------------------------------------------------------+
//! | AUsg | 2 | postcard { first: OpId, last: OpId, count, sum: Sum256,       |
//! |      |   |            ops: [bytes of an encoded op (magic AUop) ...],    |
//! |      |   |            proofs: [(index of an op, Proof) ...] }            |
//! +------+---+-------------------------------------------------------------+
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::codec::{MAGIC_SEGMENT, MAGIC_SEGMENT_RECORD, decode_blob, decode_blob_v, encode_blob, encode_blob_v};
use crate::{EncodedOp, Hash, IdSet, LogError, OpId, Proof, RangeSum, Result};

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
        let key = match self.map.range(..=id).next_back() {
            Some((k, _)) => *k,
            None => match self.map.keys().next() {
                Some(k) => *k,
                None => {
                    self.map.insert(id, SegmentRecord { members: vec![(id, hash)] });
                    self.mark(id);
                    return;
                }
            },
        };
        let mut rec = self.map.remove(&key).expect("key was just found");
        let pos = rec.members.partition_point(|(m, _)| *m < id);
        rec.members.insert(pos, (id, hash));
        let new_key = rec.members[0].0;
        if new_key != key {
            self.forget(key);
        }
        if rec.members.len() > self.max_ops {
            let tail = rec.members.split_off(rec.members.len() / 2);
            let tail_key = tail[0].0;
            self.map.insert(tail_key, SegmentRecord { members: tail });
            self.mark(tail_key);
        }
        self.map.insert(new_key, rec);
        self.mark(new_key);
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

/// Limits applied when decoding a segment from a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentLimits {
    /// Maximum number of ops in one segment.
    pub max_ops: usize,
    /// Maximum encoded size of one segment in bytes.
    pub max_bytes: usize,
}

impl Default for SegmentLimits {
    fn default() -> Self {
        SegmentLimits { max_ops: 1024, max_bytes: 4 << 20 }
    }
}

/// The format version of wire segments: 2 added the proofs of authorship.
pub const SEGMENT_VERSION: u8 = 2;

#[derive(Clone, Serialize, Deserialize)]
struct WireSegment<'a> {
    first: OpId,
    last: OpId,
    sum: RangeSum,
    #[serde(borrow)]
    ops: Vec<&'a serde_bytes::Bytes>,
    proofs: Vec<(u32, Proof)>,
}

/// Encodes a run of ops, given as `(id, encoded bytes, hash)` in ascending id order, as a segment
/// for a peer, without proofs.
pub fn encode_segment<'a>(ops: impl IntoIterator<Item = (OpId, &'a [u8], &'a Hash)>) -> Vec<u8> {
    encode_proven_segment(ops, &[])
}

/// Encodes a run of ops, given as `(id, encoded bytes, hash)` in ascending id order, as a segment
/// for a peer, with `proofs` of some of them (ids not among the ops are left out).
pub fn encode_proven_segment<'a>(
    ops: impl IntoIterator<Item = (OpId, &'a [u8], &'a Hash)>,
    proofs: &[(OpId, Proof)],
) -> Vec<u8> {
    let mut first = OpId::MAX;
    let mut last = OpId::MIN;
    let mut sum = RangeSum::default();
    let mut bodies = Vec::new();
    let mut ids = Vec::new();
    for (id, bytes, hash) in ops {
        first = first.min(id);
        last = last.max(id);
        sum = sum + RangeSum::one(hash);
        bodies.push(serde_bytes::Bytes::new(bytes));
        ids.push(id);
    }
    let mut indexed: Vec<(u32, Proof)> =
        proofs.iter().filter_map(|(id, p)| ids.iter().position(|i| i == id).map(|at| (at as u32, *p))).collect();
    crate::sort_by_key(&mut indexed, |(at, _)| *at);
    indexed.dedup_by_key(|(at, _)| *at);
    encode_blob_v(MAGIC_SEGMENT, SEGMENT_VERSION, &WireSegment { first, last, sum, ops: bodies, proofs: indexed })
}

/// A decoded segment: its ops, and the proofs it carries by op id.
pub type ProvenSegment = (Vec<EncodedOp>, Vec<(OpId, Proof)>);

/// Decodes a segment from a peer (see [`decode_proven_segment`]) and returns its ops only.
pub fn decode_segment(bytes: &[u8], limits: SegmentLimits) -> Result<Vec<EncodedOp>> {
    decode_proven_segment(bytes, limits).map(|(ops, _)| ops)
}

/// Decodes a segment from a peer: every op decoded and re-hashed, ids strictly ascending, the
/// claimed range, count and hash sum matching what the ops really are, and the proofs naming
/// ops of the segment in ascending order, one each at most. Any failure rejects the whole
/// segment. The proofs' signatures are not checked here (the log checks those it needs).
pub fn decode_proven_segment(bytes: &[u8], limits: SegmentLimits) -> Result<ProvenSegment> {
    if bytes.len() > limits.max_bytes {
        return Err(LogError::TooLarge { what: "segment", size: bytes.len(), limit: limits.max_bytes });
    }
    let wire: WireSegment<'_> = decode_blob_v("segment", MAGIC_SEGMENT, SEGMENT_VERSION, bytes)?;
    if wire.ops.len() > limits.max_ops {
        return Err(LogError::TooLarge { what: "segment ops", size: wire.ops.len(), limit: limits.max_ops });
    }
    let mut out = Vec::with_capacity(wire.ops.len());
    let mut sum = RangeSum::default();
    for body in &wire.ops {
        let op = EncodedOp::decode(body.to_vec())?;
        if let Some(prev) = out.last().map(|p: &EncodedOp| p.op.id)
            && prev >= op.op.id
        {
            return Err(LogError::corrupt("segment", "ops out of order"));
        }
        sum = sum + RangeSum::one(&op.hash);
        out.push(op);
    }
    let (first, last) = match (out.first(), out.last()) {
        (Some(f), Some(l)) => (f.op.id, l.op.id),
        _ => (OpId::MAX, OpId::MIN),
    };
    if sum != wire.sum || first != wire.first || last != wire.last {
        return Err(LogError::HashMismatch { what: "segment" });
    }
    let mut proofs = Vec::with_capacity(wire.proofs.len());
    let mut next = 0usize;
    for (at, proof) in wire.proofs {
        let at = at as usize;
        if at < next || at >= out.len() {
            return Err(LogError::corrupt("segment", "proofs out of order or naming no op of the segment"));
        }
        next = at + 1;
        proofs.push((out[at].op.id, proof));
    }
    Ok((out, proofs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Op, OpKind, PeerId, Value};
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

    fn ops(n: u64) -> Vec<EncodedOp> {
        let peer = PeerId([5; 16]);
        let mut prev = Hash::ZERO;
        (1..=n)
            .map(|seq| {
                let kind = OpKind::Put { key: format!("k{seq}"), value: Value::Int(seq as i64) };
                let op = EncodedOp::new(Op { id: OpId { time: seq * 16, peer }, author: peer, seq, prev, kind });
                prev = op.hash;
                op
            })
            .collect()
    }

    fn wire(ops: &[EncodedOp]) -> Vec<u8> {
        encode_segment(ops.iter().map(|o| (o.op.id, o.bytes.as_slice(), &o.hash)))
    }

    #[test]
    fn wire_segments_round_trip() {
        let ops = ops(5);
        let bytes = wire(&ops);
        assert_eq!(&bytes[..4], b"AUsg");
        assert_eq!(decode_segment(&bytes, SegmentLimits::default()).unwrap(), ops);
        assert_eq!(decode_segment(&wire(&[]), SegmentLimits::default()).unwrap(), vec![]);
    }

    /// Decodes `w` changed by `f`.
    fn forge<'a>(
        w: &WireSegment<'a>,
        f: impl FnOnce(&mut WireSegment<'a>),
        limits: SegmentLimits,
    ) -> Result<Vec<EncodedOp>> {
        let mut copy = w.clone();
        f(&mut copy);
        decode_segment(&encode_blob_v(MAGIC_SEGMENT, SEGMENT_VERSION, &copy), limits)
    }

    #[test]
    fn tampered_wire_segments_are_rejected() {
        let ops = ops(4);
        let limits = SegmentLimits::default();
        let original = wire(&ops);
        let mut op1 = ops[1].bytes.clone();
        let last = op1.len() - 1;
        op1[last] ^= 2;
        let w: WireSegment<'_> = decode_blob_v("segment", MAGIC_SEGMENT, SEGMENT_VERSION, &original).unwrap();
        let forged = |f: fn(&mut WireSegment<'_>)| forge(&w, f, limits);
        let mismatch = Err(LogError::HashMismatch { what: "segment" });

        // A forged sum, count or range, or a dropped op.
        assert_eq!(forged(|w| w.sum.sum = w.sum.sum + crate::Sum256([1, 0, 0, 0])), mismatch);
        assert_eq!(forged(|w| w.sum.count += 1), mismatch);
        assert_eq!(forged(|w| w.first = OpId::MIN), mismatch);
        assert_eq!(forged(|w| w.last = OpId::MAX), mismatch);
        assert_eq!(
            forged(|w| {
                w.ops.remove(1);
            }),
            mismatch
        );

        // Reordered ops (same sum, same range claim).
        let err = forged(|w| w.ops.swap(1, 2));
        assert!(matches!(err, Err(LogError::Corrupt { what: "segment", .. })), "{err:?}");

        // A changed byte of an op: here its value, so the op still decodes but hashes differently.
        assert_eq!(forge(&w, |w| w.ops[1] = serde_bytes::Bytes::new(&op1), limits), mismatch);
        // A changed magic of an op.
        let mut op2 = ops[2].bytes.clone();
        op2[0] ^= 0x20;
        let err = forge(&w, |w| w.ops[2] = serde_bytes::Bytes::new(&op2), limits);
        assert!(matches!(err, Err(LogError::BadMagic { what: "op", .. })), "{err:?}");

        // Over the limits.
        let small = SegmentLimits { max_ops: 3, max_bytes: 1 << 20 };
        assert_eq!(
            decode_segment(&original, small),
            Err(LogError::TooLarge { what: "segment ops", size: 4, limit: 3 })
        );
        let tiny = SegmentLimits { max_ops: 10, max_bytes: original.len() - 1 };
        assert!(matches!(decode_segment(&original, tiny), Err(LogError::TooLarge { what: "segment", .. })));
        assert!(decode_segment(&original, SegmentLimits { max_ops: 4, max_bytes: original.len() }).is_ok());
    }

    #[test]
    fn proofs_travel_with_their_ops_and_bad_ones_reject_the_segment() {
        let ops = ops(4);
        let alice = crate::Identity::from_secret(&[5; 32]);
        let p1 = alice.prove(&ops[1].hash);
        let p3 = alice.prove(&ops[3].hash);
        let stranger = OpId { time: 1, peer: PeerId([9; 16]) };
        let bytes = encode_proven_segment(
            ops.iter().map(|o| (o.op.id, o.bytes.as_slice(), &o.hash)),
            &[(ops[3].op.id, p3), (stranger, p1), (ops[1].op.id, p1)],
        );
        let (back, proofs) = decode_proven_segment(&bytes, SegmentLimits::default()).unwrap();
        assert_eq!(back, ops);
        assert_eq!(proofs, vec![(ops[1].op.id, p1), (ops[3].op.id, p3)], "in order, unknown ids left out");

        let w: WireSegment<'_> = decode_blob_v("segment", MAGIC_SEGMENT, SEGMENT_VERSION, &bytes).unwrap();
        let limits = SegmentLimits::default();
        for bad in [vec![(3, p3), (1, p1)], vec![(1, p1), (1, p1)], vec![(4, p1)]] {
            let err = forge(&w, |w| w.proofs = bad, limits);
            assert!(matches!(err, Err(LogError::Corrupt { what: "segment", .. })), "{err:?}");
        }
        // A segment of the format before proofs is refused, never misread.
        let mut v1 = bytes.clone();
        v1[4] = 1;
        assert!(matches!(
            decode_segment(&v1, limits),
            Err(LogError::UnsupportedVersion { what: "segment", found: 1, supported: 2 })
        ));
    }
}
