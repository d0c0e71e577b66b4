//! Wire segments (magic `AUsg`): runs of ops carried between peers, and in log files.
//!
//! Version 3, what peers send ([`encode_proven_segment`] / [`decode_proven_segment`]), carries
//! only what the receiver cannot recompute. An author's `seq` and `prev` are written once, for
//! its first op in the segment: each later op of the author is the next of its chain, so its seq
//! is one more and its prev the hash of the op before it, which the receiver rebuilt. An op's time
//! is a delta from the op before it, and its peer an index in the table of authors (not written
//! when the table has one author):
//!
//! ```text
//! +------+---+---------------------------------+-----------------------------------+-------------------------+
//! | AUsg | 3 | authors: seq<(peer [16],        | ops: seq<([author: varint,]       | proofs: seq<(varint,    |
//! |      |   |   seq: varint, prev [32])>      |   dt: varint [, zigzag], kind)>   |   Proof)>               |
//! +------+---+---------------------------------+-----------------------------------+-------------------------+
//! ```
//!
//! The receiver re-encodes each op exactly as it is stored: its bytes and hash are the sender's,
//! so a changed field changes the hash that the proofs sign and the chains link.
//!
//! Version 2 ([`encode_file_segment`] / [`decode_file_segment`]) carries each op's stored bytes
//! whole, with the range and the sum of their hashes: the form of the segments of a log file,
//! which tools read op by op. A peer's version 2 segment is refused, never misread.

use serde::{Deserialize, Serialize};

use crate::codec::{MAGIC_OP, MAGIC_SEGMENT, blob_body, blob_body_v, check_op_shape, decode_blob_v, encode_blob_v};
use crate::millis_to_ntp;
use crate::{EncodedOp, Hash, LogError, MAX_MILLIS, Op, OpId, OpKind, PeerId, Proof, RangeSum, Result};

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

/// The format version of the segments peers send: 3 writes each author's seq and prev once, and
/// op times as deltas.
pub const SEGMENT_VERSION: u8 = 3;

/// The format version of the segments of a log file: each op's stored bytes whole, with the
/// proofs of authorship.
pub const FILE_SEGMENT_VERSION: u8 = 2;

/// A decoded segment: its ops, and the proofs it carries by op id.
pub type ProvenSegment = (Vec<EncodedOp>, Vec<(OpId, Proof)>);

// ---------------------------------------------------------------------------------------------
// Version 3.

/// The time of an op as written: the delta in milliseconds from the previous op's (`dms`), and
/// what the time has beyond that millisecond (`rest`: the HLC counter for a millisecond clock).
/// Written as `varint(dms << 4 | r)`, where `r` is `rest` when it is 0 to 14, else 15 and `rest`
/// follows as a zigzag varint.
const TIME_ESCAPE: u64 = 15;

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// What comes before the kind in an op's stored body.
#[derive(Deserialize)]
struct OpHead {
    id: OpId,
    author: PeerId,
    seq: u64,
    prev: Hash,
}

/// An author's entry in the table: its first op's seq and prev.
#[derive(Debug, Serialize, Deserialize)]
struct WireAuthor {
    peer: PeerId,
    seq: u64,
    prev: Hash,
}

/// An author of the segment being written: its entry, and its last op so far.
#[derive(Debug)]
struct Run {
    entry: WireAuthor,
    seq: u64,
    hash: Hash,
}

/// What pushing an op adds.
struct Plan<'a> {
    id: OpId,
    /// The author's index in the table, and whether the op adds it.
    author: usize,
    new_author: Option<WireAuthor>,
    ms: u64,
    time: u64,
    rest: Option<i64>,
    kind: &'a [u8],
}

impl Plan<'_> {
    /// The bytes the op adds, but for its author index and the op count.
    fn bytes(&self) -> usize {
        let table = if self.new_author.is_some() { 16 + varint_len(self.seq_of_new()) + 32 } else { 0 };
        table + varint_len(self.time) + self.rest.map_or(0, |r| varint_len(zigzag(r))) + self.kind.len()
    }

    fn seq_of_new(&self) -> u64 {
        self.new_author.as_ref().map_or(0, |a| a.seq)
    }
}

/// Builds a version 3 segment op by op, knowing at each step how many bytes an op would add:
/// ops come in strictly ascending id order, and an author's ops after its first in the segment
/// each follow the one before in its chain.
#[derive(Debug, Default)]
pub struct SegmentWriter {
    runs: Vec<Run>,
    /// Each op's time and kind, and where it ends in `ops`.
    ops: Vec<u8>,
    ends: Vec<usize>,
    /// Each op's author index, written only when the segment has more than one author.
    authors: Vec<u32>,
    author_bytes: usize,
    ids: Vec<OpId>,
    /// Each op's seq in its author's chain.
    seqs: Vec<u64>,
    ms: u64,
}

impl SegmentWriter {
    /// An empty segment.
    pub fn new() -> SegmentWriter {
        SegmentWriter::default()
    }

    /// Number of ops pushed.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no op was pushed.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The ids of the ops pushed, in order.
    pub fn ids(&self) -> &[OpId] {
        &self.ids
    }

    /// `(id, seq)` of the ops pushed, in order: what [`shipped_proofs`](crate::shipped_proofs)
    /// chooses the proofs from.
    pub fn positions(&self) -> impl Iterator<Item = (OpId, u64)> + '_ {
        self.ids.iter().copied().zip(self.seqs.iter().copied())
    }

    /// The length of the segment so far, without proofs.
    pub fn encoded_len(&self) -> usize {
        let table: usize = self.runs.iter().map(|r| 48 + varint_len(r.entry.seq)).sum();
        let authors = if self.runs.len() > 1 { self.author_bytes } else { 0 };
        5 + varint_len(self.runs.len() as u64)
            + table
            + varint_len(self.ids.len() as u64)
            + authors
            + self.ops.len()
            + 1
    }

    /// Cuts the stored op `bytes` (of hash `hash`) into what the segment writes of it; `None` when
    /// it cannot follow the ops pushed (not above the last id, or not the next op of its author).
    fn plan<'a>(&self, op: &SplitOp<'a>) -> Option<(Plan<'a>, Hash)> {
        let (head, kind, hash) = (&op.head, op.kind, &op.hash);
        if self.ids.last().is_some_and(|l| *l >= head.id) {
            return None;
        }
        let (author, new_author) = match self.runs.iter().position(|r| r.entry.peer == head.author) {
            Some(i) => {
                let run = &self.runs[i];
                if run.seq.checked_add(1) != Some(head.seq) || run.hash != head.prev {
                    return None;
                }
                (i, None)
            }
            None => (self.runs.len(), Some(WireAuthor { peer: head.author, seq: head.seq, prev: head.prev })),
        };
        let (ms, rest) = crate::split_millis(head.id.time);
        let dms = ms - self.ms; // ids ascend, so times and their milliseconds do not go back
        let (time, rest) = match u64::try_from(rest) {
            Ok(r) if r < TIME_ESCAPE => (dms << 4 | r, None),
            _ => (dms << 4 | TIME_ESCAPE, Some(rest)),
        };
        Some((Plan { id: head.id, author, new_author, ms, time, rest, kind }, *hash))
    }

    /// The bytes the stored op `bytes` (of hash `hash`) would add to the segment, its proof aside;
    /// `None` when it cannot follow the ops pushed and needs a segment of its own.
    pub fn cost(&self, bytes: &[u8], hash: &Hash) -> Result<Option<usize>> {
        Ok(self.cost_split(&SplitOp::new(bytes, hash)?))
    }

    /// [`SegmentWriter::cost`] of an op already split.
    pub fn cost_split(&self, op: &SplitOp<'_>) -> Option<usize> {
        let (plan, _) = self.plan(op)?;
        let n = varint_len(self.ids.len() as u64 + 1) - varint_len(self.ids.len() as u64);
        // Author indexes are written once there are two authors: for every op then.
        let authors = match (self.runs.len(), plan.new_author.is_some()) {
            (1, true) => self.author_bytes + varint_len(plan.author as u64),
            (0, _) | (1, false) => 0,
            _ => varint_len(plan.author as u64),
        };
        Some(plan.bytes() + n + authors)
    }

    /// Adds the stored op `bytes` of hash `hash`. Bytes that are not an op are an error, and so is
    /// an op that cannot follow the ops pushed ([`SegmentWriter::cost`] says `None`).
    pub fn push(&mut self, bytes: &[u8], hash: &Hash) -> Result<()> {
        self.push_split(&SplitOp::new(bytes, hash)?)
    }

    /// [`SegmentWriter::push`] of an op already split.
    pub fn push_split(&mut self, op: &SplitOp<'_>) -> Result<()> {
        let Some((plan, hash)) = self.plan(op) else {
            return Err(LogError::corrupt("segment", "an op out of order, or not the next of its author"));
        };
        let seq = match plan.new_author {
            Some(entry) => {
                let seq = entry.seq;
                self.runs.push(Run { seq, entry, hash });
                seq
            }
            None => {
                let run = &mut self.runs[plan.author];
                run.seq += 1;
                run.hash = hash;
                run.seq
            }
        };
        self.seqs.push(seq);
        self.authors.push(plan.author as u32);
        self.author_bytes += varint_len(plan.author as u64);
        put_varint(&mut self.ops, plan.time);
        if let Some(rest) = plan.rest {
            put_varint(&mut self.ops, zigzag(rest));
        }
        self.ops.extend_from_slice(plan.kind);
        self.ends.push(self.ops.len());
        self.ms = plan.ms;
        self.ids.push(plan.id);
        Ok(())
    }

    /// The segment, with `proofs` of some of its ops (ids not among them are left out).
    pub fn finish(self, proofs: &[(OpId, Proof)]) -> Vec<u8> {
        let mut indexed: Vec<(u32, Proof)> =
            proofs.iter().filter_map(|(id, p)| self.ids.binary_search(id).ok().map(|at| (at as u32, *p))).collect();
        crate::sort_by_key(&mut indexed, |(at, _)| *at);
        indexed.dedup_by_key(|(at, _)| *at);
        let mut out = Vec::with_capacity(self.encoded_len() + indexed.len() * 100);
        out.extend_from_slice(&MAGIC_SEGMENT);
        out.push(SEGMENT_VERSION);
        put_varint(&mut out, self.runs.len() as u64);
        for run in &self.runs {
            out = postcard::to_extend(&run.entry, out).expect("encoding into a Vec cannot fail");
        }
        put_varint(&mut out, self.ids.len() as u64);
        if self.runs.len() > 1 {
            let mut start = 0;
            for (author, end) in self.authors.iter().zip(&self.ends) {
                put_varint(&mut out, u64::from(*author));
                out.extend_from_slice(&self.ops[start..*end]);
                start = *end;
            }
        } else {
            out.extend_from_slice(&self.ops);
        }
        postcard::to_extend(&indexed, out).expect("encoding into a Vec cannot fail")
    }
}

/// The seq of the op whose stored bytes are `bytes` in its author's chain, read without decoding
/// its kind.
pub fn stored_seq(bytes: &[u8]) -> Result<u64> {
    split_op(bytes).map(|(head, _)| head.seq)
}

/// A stored op read up to its kind, once, for a [`SegmentWriter`] to cost and push.
pub struct SplitOp<'a> {
    head: OpHead,
    kind: &'a [u8],
    hash: Hash,
}

impl<'a> SplitOp<'a> {
    /// The stored op `bytes` of hash `hash`; bytes that are not an op are an error.
    pub fn new(bytes: &'a [u8], hash: &Hash) -> Result<SplitOp<'a>> {
        let (head, kind) = split_op(bytes)?;
        Ok(SplitOp { head, kind, hash: *hash })
    }

    /// The op's seq in its author's chain.
    pub fn seq(&self) -> u64 {
        self.head.seq
    }
}

/// An op's stored bytes cut before its kind.
fn split_op(bytes: &[u8]) -> Result<(OpHead, &[u8])> {
    let body = blob_body("op", MAGIC_OP, bytes)?;
    let (head, kind): (OpHead, &[u8]) = postcard::take_from_bytes(body).map_err(|e| LogError::corrupt("op", e))?;
    if head.author != head.id.peer {
        return Err(LogError::InvalidOp { id: head.id, reason: "author differs from the id's peer" });
    }
    Ok((head, kind))
}

/// Encodes a run of ops, given as `(id, stored bytes, hash)` in ascending id order, as a segment
/// for a peer, without proofs. See [`encode_proven_segment`].
pub fn encode_segment<'a>(ops: impl IntoIterator<Item = (OpId, &'a [u8], &'a Hash)>) -> Result<Vec<u8>> {
    encode_proven_segment(ops, &[])
}

/// Encodes a run of ops, given as `(id, stored bytes, hash)` in ascending id order, as a segment
/// for a peer, with `proofs` of some of them (ids not among the ops are left out). Each author's
/// ops after its first must follow one another in its chain; bytes that are not an op, an id
/// that differs from its op's, and ops out of that order are errors.
pub fn encode_proven_segment<'a>(
    ops: impl IntoIterator<Item = (OpId, &'a [u8], &'a Hash)>,
    proofs: &[(OpId, Proof)],
) -> Result<Vec<u8>> {
    let mut w = SegmentWriter::new();
    for (id, bytes, hash) in ops {
        w.push(bytes, hash)?;
        if w.ids.last() != Some(&id) {
            return Err(LogError::corrupt("segment", "an op's id differs from the one given"));
        }
    }
    Ok(w.finish(proofs))
}

/// Decodes a segment from a peer (see [`decode_proven_segment`]) and returns its ops only.
pub fn decode_segment(bytes: &[u8], limits: SegmentLimits) -> Result<Vec<EncodedOp>> {
    decode_proven_segment(bytes, limits).map(|(ops, _)| ops)
}

/// Reads postcard values off the front of a body.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take<T: Deserialize<'a>>(&mut self) -> Result<T> {
        let (v, rest) = postcard::take_from_bytes(self.0).map_err(|e| LogError::corrupt("segment", e))?;
        self.0 = rest;
        Ok(v)
    }

    /// A count of items of at least `min_bytes` each, checked against the bytes left before
    /// anything is allocated for them.
    fn count(&mut self, min_bytes: usize) -> Result<usize> {
        let n = self.take::<u64>()?;
        match usize::try_from(n) {
            Ok(n) if n.saturating_mul(min_bytes) <= self.0.len() => Ok(n),
            _ => Err(LogError::corrupt("segment", "a count beyond the bytes left")),
        }
    }
}

/// Decodes a segment from a peer, rebuilding every op as its author stored it: ids strictly
/// ascending, each author listed once and with ops, every author index in the table, no time or
/// seq past its range, every op well formed, and the proofs naming ops of the segment in
/// ascending order, one each at most. Any failure rejects the whole segment. The proofs'
/// signatures are not checked here (the log checks those it needs), nor do the rebuilt chains
/// mean anything before they are: a changed field yields an op of another hash.
pub fn decode_proven_segment(bytes: &[u8], limits: SegmentLimits) -> Result<ProvenSegment> {
    if bytes.len() > limits.max_bytes {
        return Err(LogError::TooLarge { what: "segment", size: bytes.len(), limit: limits.max_bytes });
    }
    let mut r = Reader(blob_body_v("segment", MAGIC_SEGMENT, SEGMENT_VERSION, bytes)?);
    let n_authors = r.count(49)?;
    if n_authors > limits.max_ops {
        return Err(LogError::TooLarge { what: "segment authors", size: n_authors, limit: limits.max_ops });
    }
    // Per author: peer, next seq, prev (the hash of its last op), and whether it has ops.
    let mut runs: Vec<(PeerId, u64, Hash, bool)> = Vec::with_capacity(n_authors);
    for _ in 0..n_authors {
        let a: WireAuthor = r.take()?;
        runs.push((a.peer, a.seq, a.prev, false));
    }
    let mut peers: Vec<PeerId> = runs.iter().map(|r| r.0).collect();
    peers.sort_unstable();
    if peers.windows(2).any(|w| w[0] == w[1]) {
        return Err(LogError::corrupt("segment", "an author listed twice"));
    }
    let n_ops = r.count(3)?;
    if n_ops > limits.max_ops {
        return Err(LogError::TooLarge { what: "segment ops", size: n_ops, limit: limits.max_ops });
    }
    let mut out: Vec<EncodedOp> = Vec::with_capacity(n_ops);
    let mut ms = 0u64;
    for _ in 0..n_ops {
        let at = if n_authors == 1 { 0 } else { r.take::<u32>()? as usize };
        let Some(run) = runs.get_mut(at) else {
            return Err(LogError::corrupt("segment", "an author index out of the table"));
        };
        let t = r.take::<u64>()?;
        ms = ms.checked_add(t >> 4).filter(|m| *m <= MAX_MILLIS).ok_or_else(time_overflow)?;
        let rest = if t & 15 == TIME_ESCAPE { r.take::<i64>()? } else { (t & 15) as i64 };
        let time = u64::try_from(i128::from(millis_to_ntp(ms)) + i128::from(rest)).map_err(|_| time_overflow())?;
        let kind: OpKind = r.take()?;
        let id = OpId { time, peer: run.0 };
        if out.last().is_some_and(|p| p.op.id >= id) {
            return Err(LogError::corrupt("segment", "ops out of order"));
        }
        if run.3 && run.1 == 0 {
            return Err(LogError::corrupt("segment", "an author's seq past its range"));
        }
        let op = Op { id, author: run.0, seq: run.1, prev: run.2, kind };
        check_op_shape(&op)?;
        let op = EncodedOp::new(op);
        // seq wraps to 0 past u64::MAX: refused above if the author has another op.
        run.1 = run.1.wrapping_add(1);
        run.2 = op.hash;
        run.3 = true;
        out.push(op);
    }
    if runs.iter().any(|r| !r.3) {
        return Err(LogError::corrupt("segment", "an author without ops"));
    }
    let wire_proofs: Vec<(u32, Proof)> = r.take()?;
    if !r.0.is_empty() {
        return Err(LogError::corrupt("segment", format!("{} trailing bytes", r.0.len())));
    }
    let proofs = index_proofs(wire_proofs, |at| out.get(at).map(|o| o.op.id))?;
    Ok((out, proofs))
}

fn time_overflow() -> LogError {
    LogError::corrupt("segment", "an op time past its range")
}

/// The proofs of a segment by op id: indexes strictly ascending, each naming an op (`id_at`).
fn index_proofs(wire: Vec<(u32, Proof)>, id_at: impl Fn(usize) -> Option<OpId>) -> Result<Vec<(OpId, Proof)>> {
    let mut proofs = Vec::with_capacity(wire.len());
    let mut next = 0usize;
    for (at, proof) in wire {
        let at = at as usize;
        match id_at(at) {
            Some(id) if at >= next => proofs.push((id, proof)),
            _ => return Err(LogError::corrupt("segment", "proofs out of order or naming no op of the segment")),
        }
        next = at + 1;
    }
    Ok(proofs)
}

// ---------------------------------------------------------------------------------------------
// Version 2: the segments of log files.

#[derive(Clone, Serialize, Deserialize)]
struct FileSegment<'a> {
    first: OpId,
    last: OpId,
    sum: RangeSum,
    #[serde(borrow)]
    ops: Vec<&'a serde_bytes::Bytes>,
    proofs: Vec<(u32, Proof)>,
}

/// Encodes a run of ops, given as `(id, stored bytes, hash)` in ascending id order, as a segment
/// of a log file (version 2: each op's bytes whole, the range and the sum of the hashes), with
/// `proofs` of some of them (ids not among the ops are left out).
pub fn encode_file_segment<'a>(
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
    let seg = FileSegment { first, last, sum, ops: bodies, proofs: indexed };
    encode_blob_v(MAGIC_SEGMENT, FILE_SEGMENT_VERSION, &seg)
}

/// Decodes a segment of a log file: every op decoded and re-hashed, ids strictly ascending, the
/// claimed range, count and hash sum matching what the ops really are, and the proofs naming
/// ops of the segment in ascending order, one each at most. Any failure rejects the whole
/// segment. The proofs' signatures are not checked here.
pub fn decode_file_segment(bytes: &[u8], limits: SegmentLimits) -> Result<ProvenSegment> {
    if bytes.len() > limits.max_bytes {
        return Err(LogError::TooLarge { what: "segment", size: bytes.len(), limit: limits.max_bytes });
    }
    let wire: FileSegment<'_> = decode_blob_v("segment", MAGIC_SEGMENT, FILE_SEGMENT_VERSION, bytes)?;
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
    let proofs = index_proofs(wire.proofs, |at| out.get(at).map(|o| o.op.id))?;
    Ok((out, proofs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Identity, Value, millis_to_ntp};

    fn peer(n: u8) -> PeerId {
        PeerId([n; 16])
    }

    /// Ops of several authors, interleaved in id order: author 1 from seq 1, author 2 from seq
    /// 7 (its earlier ops not in the segment), author 3 with one op; times a few milliseconds
    /// apart, some within one millisecond (counter), one off a millisecond.
    fn mixed() -> Vec<EncodedOp> {
        let t0 = millis_to_ntp(1_764_000_000_000);
        let times = [0, 1, millis_to_ntp(3), millis_to_ntp(3) + 2, millis_to_ntp(900) + 12_345, millis_to_ntp(5_000)];
        let authors = [1u8, 2, 1, 3, 2, 1];
        let mut heads: Vec<(PeerId, u64, Hash)> =
            vec![(peer(1), 0, Hash::ZERO), (peer(2), 6, Hash::of(b"seq 6")), (peer(3), 0, Hash::ZERO)];
        let kinds = [
            OpKind::Put { key: "a".into(), value: Value::Int(1) },
            OpKind::Remove { key: "b".into() },
            OpKind::Clear,
            OpKind::Put { key: "m".into(), value: Value::map([("x", Value::Float(0.5))]) },
            OpKind::Put { key: "c".into(), value: Value::String("é".into()) },
            OpKind::Txn(vec![crate::Step::Remove { key: "a".into() }]),
        ];
        let mut out = Vec::new();
        for ((dt, a), kind) in times.into_iter().zip(authors).zip(kinds) {
            let head = heads.iter_mut().find(|h| h.0 == peer(a)).unwrap();
            let op = EncodedOp::new(Op {
                id: OpId { time: t0 + dt, peer: peer(a) },
                author: peer(a),
                seq: head.1 + 1,
                prev: head.2,
                kind,
            });
            head.1 += 1;
            head.2 = op.hash;
            out.push(op);
        }
        out
    }

    fn items(ops: &[EncodedOp]) -> impl Iterator<Item = (OpId, &[u8], &Hash)> {
        ops.iter().map(|o| (o.op.id, o.bytes.as_slice(), &o.hash))
    }

    fn limits() -> SegmentLimits {
        SegmentLimits::default()
    }

    #[test]
    fn segments_of_several_authors_round_trip() {
        let ops = mixed();
        let bob = Identity::from_secret(&[2; 32]);
        let proofs = [(ops[4].op.id, bob.prove(&ops[4].hash)), (ops[0].op.id, bob.prove(&ops[0].hash))];
        let bytes = encode_proven_segment(items(&ops), &proofs).unwrap();
        assert_eq!(&bytes[..5], b"AUsg\x03");
        let (back, back_proofs) = decode_proven_segment(&bytes, limits()).unwrap();
        assert_eq!(back, ops, "the same ops, bytes and hashes");
        assert_eq!(back_proofs, vec![proofs[1], proofs[0]], "proofs in op order");
        let stored: usize = ops.iter().map(|o| o.bytes.len()).sum();
        let bare = encode_segment(items(&ops)).unwrap().len();
        assert!(bare * 2 < stored, "{bare} bytes for {stored} stored");
        assert_eq!(decode_segment(&encode_segment(items(&[])).unwrap(), limits()).unwrap(), vec![]);

        // The writer knows what each op adds.
        let mut w = SegmentWriter::new();
        for o in &ops {
            let before = w.encoded_len();
            let cost = w.cost(&o.bytes, &o.hash).unwrap().unwrap();
            w.push(&o.bytes, &o.hash).unwrap();
            assert_eq!(w.encoded_len() - before, cost);
        }
        assert_eq!(w.encoded_len(), encode_segment(items(&ops)).unwrap().len());
        assert_eq!(w.finish(&proofs), bytes);
    }

    #[test]
    fn the_writer_refuses_what_a_segment_cannot_say() {
        let ops = mixed();
        let mut w = SegmentWriter::new();
        w.push(&ops[1].bytes, &ops[1].hash).unwrap();
        // Not above the last id.
        assert_eq!(w.cost(&ops[0].bytes, &ops[0].hash), Ok(None));
        // Not the next of its author: seq 9 of author 2 after its seq 7.
        let skip = EncodedOp::new(Op { seq: 9, ..ops[4].op.clone() });
        assert_eq!(w.cost(&skip.bytes, &skip.hash), Ok(None));
        // A fork: seq 8 with another prev.
        let fork = EncodedOp::new(Op { prev: Hash::of(b"other"), ..ops[4].op.clone() });
        assert_eq!(w.cost(&fork.bytes, &fork.hash), Ok(None));
        assert!(matches!(w.push(&fork.bytes, &fork.hash), Err(LogError::Corrupt { what: "segment", .. })));
        assert!(matches!(w.cost(b"AUsr\x01", &Hash::ZERO), Err(LogError::BadMagic { what: "op", .. })));
        assert!(matches!(w.cost(b"AUop\x01\x05", &Hash::ZERO), Err(LogError::Corrupt { what: "op", .. })));
        assert_eq!(w.cost(&ops[4].bytes, &ops[4].hash).map(|c| c.is_some()), Ok(true));
        let wrong_id = encode_segment([(ops[0].op.id, ops[1].bytes.as_slice(), &ops[1].hash)]);
        assert!(matches!(wrong_id, Err(LogError::Corrupt { what: "segment", .. })));
    }

    /// A segment written field by field.
    struct Raw {
        authors: Vec<(PeerId, u64, Hash)>,
        ops: Vec<(u64, u64, Option<i64>, OpKind)>,
        proofs: Vec<(u32, Proof)>,
        version: u8,
    }

    impl Raw {
        fn one(seq: u64, prev: Hash) -> Raw {
            let put = OpKind::Put { key: "k".into(), value: Value::Int(1) };
            Raw {
                authors: vec![(peer(1), seq, prev)],
                ops: vec![(0, 1_764_000_000_000 << 4, None, put)],
                proofs: vec![],
                version: SEGMENT_VERSION,
            }
        }

        fn bytes(&self) -> Vec<u8> {
            let mut out = b"AUsg".to_vec();
            out.push(self.version);
            put_varint(&mut out, self.authors.len() as u64);
            for (p, seq, prev) in &self.authors {
                out = postcard::to_extend(&WireAuthor { peer: *p, seq: *seq, prev: *prev }, out).unwrap();
            }
            put_varint(&mut out, self.ops.len() as u64);
            for (a, t, rest, kind) in &self.ops {
                if self.authors.len() != 1 {
                    put_varint(&mut out, *a);
                }
                put_varint(&mut out, *t);
                if let Some(r) = rest {
                    put_varint(&mut out, zigzag(*r));
                }
                out = postcard::to_extend(kind, out).unwrap();
            }
            postcard::to_extend(&self.proofs, out).unwrap()
        }

        fn decode(&self) -> Result<ProvenSegment> {
            decode_proven_segment(&self.bytes(), limits())
        }
    }

    fn corrupt(r: Result<ProvenSegment>, reason: &str) {
        match r {
            Err(LogError::Corrupt { what: "segment", reason: got }) => assert!(got.contains(reason), "{got}"),
            other => panic!("expected Corrupt ({reason}), got {other:?}"),
        }
    }

    #[test]
    fn each_bad_field_is_a_typed_error() {
        let good = Raw::one(1, Hash::ZERO);
        let (ops, _) = good.decode().unwrap();
        assert_eq!((ops[0].op.seq, ops[0].op.id.time), (1, millis_to_ntp(1_764_000_000_000)));

        let mut r = Raw::one(1, Hash::ZERO);
        r.authors.push((peer(2), 1, Hash::ZERO));
        r.ops.push((2, 16, None, OpKind::Clear));
        corrupt(r.decode(), "author index out of the table");
        let mut r = Raw::one(1, Hash::ZERO);
        r.authors.clear();
        corrupt(r.decode(), "author index out of the table");

        // Times past the end of NTP64: by the milliseconds, and by the rest.
        let mut r = Raw::one(1, Hash::ZERO);
        r.ops[0].1 = (MAX_MILLIS + 1) << 4;
        corrupt(r.decode(), "time past its range");
        let mut r = Raw::one(1, Hash::ZERO);
        r.ops[0].1 = MAX_MILLIS << 4 | TIME_ESCAPE;
        r.ops[0].2 = Some(i64::MAX);
        corrupt(r.decode(), "time past its range");
        let mut r = Raw::one(1, Hash::ZERO);
        r.ops[0].1 = TIME_ESCAPE;
        r.ops[0].2 = Some(-1);
        corrupt(r.decode(), "time past its range");
        let mut r = Raw::one(1, Hash::ZERO);
        r.ops[0].1 = u64::MAX;
        r.ops[0].2 = Some(0);
        corrupt(r.decode(), "time past its range");
        // A second op whose delta overflows the first's milliseconds.
        let mut r = Raw::one(1, Hash::ZERO);
        r.ops.push((0, !15, None, OpKind::Clear));
        corrupt(r.decode(), "time past its range");

        // A seq past u64::MAX for the author's second op; seq 0.
        let mut r = Raw::one(u64::MAX, Hash::of(b"x"));
        r.ops.push((0, 16, None, OpKind::Clear));
        corrupt(r.decode(), "seq past its range");
        assert!(matches!(Raw::one(0, Hash::ZERO).decode(), Err(LogError::InvalidOp { reason: "seq 0", .. })));
        assert!(matches!(Raw::one(1, Hash::of(b"x")).decode(), Err(LogError::InvalidOp { .. })));

        // Authors twice, or without ops.
        let mut r = Raw::one(1, Hash::ZERO);
        r.authors.push((peer(1), 5, Hash::of(b"x")));
        r.ops.push((1, 16, None, OpKind::Clear));
        corrupt(r.decode(), "listed twice");
        let mut r = Raw::one(1, Hash::ZERO);
        r.authors.push((peer(2), 5, Hash::of(b"x")));
        corrupt(r.decode(), "without ops");

        // Ops out of order: the same id twice (a zero delta, same author).
        let mut r = Raw::one(1, Hash::ZERO);
        r.ops.push((0, 0, None, OpKind::Clear));
        corrupt(r.decode(), "out of order");

        // Proofs naming no op, or out of order.
        let p = Identity::from_secret(&[1; 32]).prove(&Hash::ZERO);
        let mut r = Raw::one(1, Hash::ZERO);
        r.proofs = vec![(1, p)];
        corrupt(r.decode(), "proofs");
        r.ops.push((0, 16, None, OpKind::Clear));
        r.proofs = vec![(1, p), (0, p)];
        corrupt(r.decode(), "proofs");
        r.proofs = vec![(1, p), (1, p)];
        corrupt(r.decode(), "proofs");

        // Truncated anywhere, or with bytes left over.
        let bytes = good.bytes();
        for cut in 5..bytes.len() {
            assert!(matches!(decode_segment(&bytes[..cut], limits()), Err(LogError::Corrupt { .. })), "{cut}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(decode_segment(&long, limits()), Err(LogError::Corrupt { .. })));
        // A count of authors or ops that the bytes cannot hold is refused before allocating.
        let mut huge = b"AUsg\x03".to_vec();
        put_varint(&mut huge, u64::MAX);
        corrupt(decode_proven_segment(&huge, limits()), "count beyond");

        // Over the limits.
        let ops = mixed();
        let bytes = encode_segment(items(&ops)).unwrap();
        let few = SegmentLimits { max_ops: 5, max_bytes: 1 << 20 };
        assert_eq!(decode_segment(&bytes, few), Err(LogError::TooLarge { what: "segment ops", size: 6, limit: 5 }));
        let fewer = SegmentLimits { max_ops: 2, max_bytes: 1 << 20 };
        assert!(matches!(decode_segment(&bytes, fewer), Err(LogError::TooLarge { what: "segment authors", .. })));
        let tiny = SegmentLimits { max_ops: 10, max_bytes: bytes.len() - 1 };
        assert!(matches!(decode_segment(&bytes, tiny), Err(LogError::TooLarge { what: "segment", .. })));
        assert!(decode_segment(&bytes, SegmentLimits { max_ops: 6, max_bytes: bytes.len() }).is_ok());

        // Segments of earlier versions are refused, never misread.
        for (old, seg) in [(1, bytes.clone()), (2, encode_file_segment(items(&ops), &[]))] {
            let mut seg = seg;
            seg[4] = old;
            assert_eq!(
                decode_segment(&seg, limits()),
                Err(LogError::UnsupportedVersion { what: "segment", found: old, supported: 3 })
            );
        }
    }

    #[test]
    fn a_changed_field_makes_another_op_and_its_proof_fails() {
        let alice = Identity::from_secret(&[1; 32]);
        let good = Raw::one(3, Hash::of(b"seq 2"));
        let (ops, _) = good.decode().unwrap();
        let proof = alice.prove(&ops[0].hash);
        let mut changes: Vec<Raw> = Vec::new();
        for f in [
            (|r: &mut Raw| r.authors[0].1 = 4) as fn(&mut Raw),
            |r| r.authors[0].2 = Hash::of(b"other"),
            |r| r.ops[0].1 += 16,
            |r| r.ops[0].1 += 1,
            |r| r.ops[0].3 = OpKind::Put { key: "k".into(), value: Value::Int(2) },
        ] {
            let mut r = Raw::one(3, Hash::of(b"seq 2"));
            f(&mut r);
            changes.push(r);
        }
        for r in changes {
            let (forged, _) = r.decode().unwrap();
            assert_ne!(forged[0].hash, ops[0].hash);
            assert!(matches!(proof.check(alice.peer(), &forged[0].hash), Err(LogError::BadProof { .. })));
        }
        proof.check(alice.peer(), &ops[0].hash).unwrap();
    }

    #[test]
    fn the_receiver_refuses_a_changed_op_as_unproven() {
        use crate::{Hlc, Log, LogConfig, manual_clock, set_manual_clock};
        set_manual_clock(1_764_000_000_000);
        let config = LogConfig::default();
        let alice = Identity::from_secret(&[1; 32]);
        let mut sender = Log::new(Hlc::new(alice.peer(), manual_clock, config.max_drift), config);
        sender.set_identity(alice).unwrap();
        let a = sender.append(OpKind::Put { key: "first".into(), value: Value::Int(1) }).unwrap();
        let b = sender.append(OpKind::Put { key: "second".into(), value: Value::Int(2) }).unwrap();
        let proofs = [(b.op.id, sender.proof_of(&b.op.id).unwrap())];
        let seg = encode_proven_segment(items(&[a, b]), &proofs).unwrap();
        let receiver = || Log::new(Hlc::new(peer(9), manual_clock, config.max_drift), config);

        // Another key in the first op: it decodes, as another op, so the second op's prev (the
        // hash of the first as rebuilt) differs and the proof of the second fails.
        let at = seg.windows(5).position(|w| w == b"first").unwrap();
        let mut forged = seg.clone();
        forged[at..at + 5].copy_from_slice(b"fiRst");
        let (ops, proofs) = decode_proven_segment(&forged, limits()).unwrap();
        let err = receiver().insert_proven(ops, &proofs);
        assert!(matches!(err, Err(LogError::BadProof { .. })), "{err:?}");

        let (ops, proofs) = decode_proven_segment(&seg, limits()).unwrap();
        assert_eq!(receiver().insert_proven(ops, &proofs).unwrap().len(), 2);
    }

    #[test]
    fn file_segments_round_trip_and_check_their_sum() {
        let ops = mixed();
        let bytes = encode_file_segment(items(&ops), &[]);
        assert_eq!(&bytes[..5], b"AUsg\x02");
        assert_eq!(decode_file_segment(&bytes, limits()).unwrap(), (ops.clone(), vec![]));
        let mut w: FileSegment<'_> = decode_blob_v("segment", MAGIC_SEGMENT, FILE_SEGMENT_VERSION, &bytes).unwrap();
        w.sum.count += 1;
        let forged = encode_blob_v(MAGIC_SEGMENT, FILE_SEGMENT_VERSION, &w);
        assert_eq!(decode_file_segment(&forged, limits()), Err(LogError::HashMismatch { what: "segment" }));
        let v3 = encode_segment(items(&ops)).unwrap();
        assert!(matches!(decode_file_segment(&v3, limits()), Err(LogError::UnsupportedVersion { found: 3, .. })));
    }
}
