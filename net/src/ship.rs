//! Shipping: packs ops into segments ([`auroradb_log::segment::encode_segment`]) and segments
//! into ops messages that fit the frame limit; an op too large for a frame goes alone in a
//! segment sent in [`Piece`]s.

use auroradb_log::segment::{SegmentWriter, SplitOp};
use auroradb_log::{Hash, LogError, OpId, PeerId, Proof, must_prove, shipped_proofs};

use crate::message::varint_len;
use crate::{Body, FrameLimits, NetError, Ops, Piece, Result};

/// Upper bound of an ops frame's bytes besides its segments.
const MESSAGE_OVERHEAD: usize = 64;
/// Upper bound of a segment's bytes besides its ops (header, counts, lengths) and the proof of
/// its first author.
pub(crate) const SEGMENT_OVERHEAD: usize = 128 + PROOF_COST;
/// Upper bound of the bytes one proof adds to a segment (its op's index and the proof).
const PROOF_COST: usize = 5 + 96;
/// Upper bound of a piece frame's bytes besides its data (the message's fields and `total`).
const PIECE_OVERHEAD: usize = MESSAGE_OVERHEAD + 32;

/// An op ready to ship: its id, its encoded bytes and its hash.
pub type ShippedOp = (OpId, Vec<u8>, Hash);

/// Where a packer gets the proof of authorship of an op (the replica's
/// [`proof_of`](crate::Replica::proof_of)).
pub type Prover<'a> = &'a dyn Fn(&OpId) -> Option<Proof>;

/// Packs ops, pushed in ascending id order, into message bodies: [`Ops`] of segments of at most
/// `max_segment_ops` ops, of at most `max_frame` bytes once framed; an op larger than that (up to
/// `max_op` bytes) as a segment of its own, in [`Piece`]s. An op that does not follow its
/// author's op before it in the open segment starts a new segment (a segment writes each
/// author's chain position once).
#[derive(Debug)]
pub struct Packer {
    limits: FrameLimits,
    ready: Vec<Body>,
    segments: Vec<Vec<u8>>,
    message_bytes: usize,
    open: SegmentWriter,
    /// The authors of the open segment's ops (each adds a proof).
    open_authors: Vec<PeerId>,
    open_bytes: usize,
    last_id: Option<OpId>,
    emitted: u32,
    ops: u64,
}

impl Packer {
    /// An empty packer.
    pub fn new(limits: FrameLimits) -> Packer {
        Packer {
            limits: limits.clamped(),
            ready: Vec::new(),
            segments: Vec::new(),
            message_bytes: MESSAGE_OVERHEAD,
            open: SegmentWriter::new(),
            open_authors: Vec::new(),
            open_bytes: SEGMENT_OVERHEAD,
            last_id: None,
            emitted: 0,
            ops: 0,
        }
    }

    /// Adds the next op. Ops must come in strictly ascending id order; an op larger than
    /// `max_op` bytes is refused with [`NetError::OpTooLarge`], bytes that are not an op
    /// with [`NetError::Log`], and so is an op at a multiple of
    /// [`PROOF_INTERVAL`](auroradb_log::PROOF_INTERVAL) that `prove` cannot prove
    /// ([`LogError::BadProof`]: a receiver would refuse it; only an op held since before such ops
    /// were proven lacks its proof). Nothing of a refused op is packed.
    pub fn push(&mut self, op: ShippedOp, prove: Prover<'_>) -> Result<()> {
        if op.1.len() > self.limits.max_op {
            return Err(NetError::OpTooLarge { size: op.1.len(), limit: self.limits.max_op });
        }
        if self.last_id.is_some_and(|l| l >= op.0) {
            return Err(NetError::Unexpected { reason: "ops to ship are not in ascending id order" });
        }
        let split = SplitOp::new(&op.1, &op.2)?;
        let proven = must_prove(split.seq());
        if proven && prove(&op.0).is_none() {
            let reason = "no proof of its op at a multiple of the interval to ship";
            return Err(NetError::Log(LogError::BadProof { author: op.0.peer, reason }));
        }
        // What the op costs in a segment of its own, and in the open one if it can follow there.
        let Some(alone) = SegmentWriter::new().cost_split(&split) else {
            return Err(NetError::Unexpected { reason: "an op that cannot start a segment" });
        };
        self.last_id = Some(op.0);
        if MESSAGE_OVERHEAD + SEGMENT_OVERHEAD + alone > self.limits.max_frame {
            return self.push_in_pieces(op, prove);
        }
        let mut cost = match self.open.cost_split(&split) {
            Some(c) if self.open.len() < self.limits.max_segment_ops => c,
            _ => {
                self.close_segment(prove);
                alone
            }
        };
        // A new author adds the proof of its last op; an op at the interval, its own.
        if !self.open.is_empty() && !self.open_authors.contains(&op.0.peer) {
            cost += PROOF_COST;
        }
        if proven {
            cost += PROOF_COST;
        }
        if !self.open.is_empty() && self.message_bytes + self.open_bytes + cost > self.limits.max_frame {
            self.close_segment(prove);
            cost = alone + if proven { PROOF_COST } else { 0 };
        }
        if self.open.is_empty()
            && !self.segments.is_empty()
            && self.message_bytes + SEGMENT_OVERHEAD + cost > self.limits.max_frame
        {
            self.close_message(None);
        }
        self.open.push_split(&split)?;
        self.open_bytes += cost;
        if !self.open_authors.contains(&op.0.peer) {
            self.open_authors.push(op.0.peer);
        }
        self.ops += 1;
        Ok(())
    }

    /// Sends `op` alone in a segment cut into pieces, after everything packed before it.
    fn push_in_pieces(&mut self, op: ShippedOp, prove: Prover<'_>) -> Result<()> {
        self.close_segment(prove);
        if !self.segments.is_empty() {
            self.close_message(None);
        }
        let mut w = SegmentWriter::new();
        w.push(&op.1, &op.2)?;
        let proofs: Vec<(OpId, Proof)> = prove(&op.0).map(|p| (op.0, p)).into_iter().collect();
        let seg = w.finish(&proofs);
        // The limits are clamped: `max_op` is at most MAX_OP_CEILING (1 GiB), so the segment's
        // length fits in a u32.
        let total = u32::try_from(seg.len()).expect("a segment of one op of at most 1 GiB");
        let check = Piece::check_of(&seg);
        let size = self.limits.max_frame - PIECE_OVERHEAD;
        for (i, data) in seg.chunks(size).enumerate() {
            let offset = (i * size) as u32;
            self.ready.push(Body::Piece(Piece { total, offset, check, data: data.to_vec() }));
            self.emitted += 1;
        }
        self.ops += 1;
        Ok(())
    }

    fn close_segment(&mut self, prove: Prover<'_>) {
        if self.open.is_empty() {
            return;
        }
        let open = std::mem::take(&mut self.open);
        let proofs = shipped_proofs(open.positions(), prove);
        let seg = open.finish(&proofs);
        self.message_bytes += seg.len() + varint_len(seg.len() as u64);
        self.segments.push(seg);
        self.open_authors.clear();
        self.open_bytes = SEGMENT_OVERHEAD;
    }

    fn close_message(&mut self, last: Option<u32>) {
        self.ready.push(Body::Ops(Ops { segments: std::mem::take(&mut self.segments), last }));
        self.message_bytes = MESSAGE_OVERHEAD;
        self.emitted += 1;
    }

    /// Message bodies that are full, to send now.
    pub fn take_ready(&mut self) -> Vec<Body> {
        std::mem::take(&mut self.ready)
    }

    /// Number of ops pushed so far.
    pub fn ops(&self) -> u64 {
        self.ops
    }

    /// Closes the last segment and message and returns the messages not taken yet. With
    /// `mark_last`, the final message carries the total number of messages (and is sent even when
    /// empty, so a session's shipment always ends with a marked message).
    pub fn finish(mut self, mark_last: bool, prove: Prover<'_>) -> Vec<Body> {
        self.close_segment(prove);
        if mark_last {
            let total = self.emitted + 1;
            self.close_message(Some(total));
        } else if !self.segments.is_empty() {
            self.close_message(None);
        }
        self.ready
    }
}

#[cfg(test)]
mod tests {
    use auroradb_log::segment::{SegmentLimits, decode_proven_segment};
    use auroradb_log::{EncodedOp, Identity, Op, OpKind, Value};

    use super::*;

    fn op(alice: &Identity, ms: u64, seq: u64, prev: Hash, n: usize) -> EncodedOp {
        let kind = OpKind::Put { key: format!("k{seq}"), value: Value::String("x".repeat(n)) };
        EncodedOp::new(Op { id: OpId::from_millis(ms, alice.peer()), author: alice.peer(), seq, prev, kind })
    }

    fn segments(bodies: &[Body]) -> Vec<Vec<u8>> {
        bodies.iter().flat_map(|b| if let Body::Ops(o) = b { o.segments.clone() } else { vec![] }).collect()
    }

    #[test]
    fn an_op_that_does_not_follow_its_author_starts_a_segment_and_frames_stay_in_their_limit() {
        let alice = Identity::from_secret(&[3; 32]);
        // Any proof: the decoder does not check signatures.
        let prove = |id: &OpId| Some(alice.prove(&Hash::of(&id.to_bytes())));
        let mut ops = Vec::new();
        let mut prev = Hash::ZERO;
        for seq in 1..=40 {
            let o = op(&alice, 1_764_000_000_000 + seq, seq, prev, 300);
            prev = o.hash;
            // Seq 20 is not shipped (the peer has it): seq 21 cannot follow seq 19 in a segment.
            if seq != 20 {
                ops.push(o);
            }
        }
        let limits = FrameLimits { max_frame: 4096, ..FrameLimits::default() };
        let mut packer = Packer::new(limits);
        for o in &ops {
            packer.push((o.op.id, o.bytes.clone(), o.hash), &prove).unwrap();
        }
        let bodies = packer.finish(true, &prove);
        for b in &bodies {
            let frame =
                crate::frame::encode_frame(1, &crate::Message { session: 1, initiator: true, body: b.clone() }, 4096);
            assert!(frame.is_ok(), "{frame:?}");
        }
        let mut back = Vec::new();
        for seg in segments(&bodies) {
            let (seg_ops, proofs) = decode_proven_segment(&seg, SegmentLimits::default()).unwrap();
            assert_eq!(proofs.len(), 1, "each segment proves its author's last op");
            assert_eq!(proofs[0].0, seg_ops.last().unwrap().op.id);
            // No segment holds both seq 19 and seq 21.
            let seqs: Vec<u64> = seg_ops.iter().map(|o| o.op.seq).collect();
            assert!(!(seqs.contains(&19) && seqs.contains(&21)), "{seqs:?}");
            back.extend(seg_ops);
        }
        assert_eq!(back, ops, "every op, as stored");
    }

    #[test]
    fn each_op_at_a_multiple_of_the_interval_is_shipped_with_its_proof_or_not_at_all() {
        let alice = Identity::from_secret(&[3; 32]);
        let bob = Identity::from_secret(&[4; 32]);
        let k = auroradb_log::PROOF_INTERVAL;
        // Two authors' chains, interleaved in id order.
        let chain = |who: &Identity, odd: u64| {
            let mut ops: Vec<EncodedOp> = Vec::new();
            for seq in 1..=2 * k + 7 {
                let prev = ops.last().map_or(Hash::ZERO, |o| o.hash);
                ops.push(op(who, 1_764_000_000_000 + 2 * seq + odd, seq, prev, 40));
            }
            ops
        };
        let ops = chain(&alice, 0);
        let mut both: Vec<EncodedOp> = ops.iter().cloned().chain(chain(&bob, 1)).collect();
        both.sort_by_key(|o| o.op.id);
        let hashes: std::collections::HashMap<OpId, Hash> = both.iter().map(|o| (o.op.id, o.hash)).collect();
        // Frames small enough to cut the runs into many segments, each within its limit with
        // the proofs it carries.
        let limits = FrameLimits { max_frame: 4096, ..FrameLimits::default() };
        let prove = |id: &OpId| {
            let who = if id.peer == alice.peer() { &alice } else { &bob };
            hashes.get(id).map(|h| who.prove(h))
        };
        let mut packer = Packer::new(limits);
        for o in &both {
            packer.push((o.op.id, o.bytes.clone(), o.hash), &prove).unwrap();
        }
        let bodies = packer.finish(true, &prove);
        for b in &bodies {
            let msg = crate::Message { session: 1, initiator: true, body: b.clone() };
            assert!(crate::frame::encode_frame(1, &msg, 4096).is_ok());
        }
        let mut proven = Vec::new();
        for seg in segments(&bodies) {
            let (seg_ops, proofs) = decode_proven_segment(&seg, SegmentLimits::default()).unwrap();
            for who in [alice.peer(), bob.peer()] {
                let Some(end) = seg_ops.iter().rev().find(|o| o.op.author == who) else { continue };
                assert!(proofs.iter().any(|(id, _)| *id == end.op.id), "each segment proves its authors' last ops");
            }
            proven.extend(proofs.into_iter().map(|(id, _)| id));
        }
        let intervals: Vec<OpId> = both.iter().filter(|o| must_prove(o.op.seq)).map(|o| o.op.id).collect();
        assert_eq!(intervals.len(), 4);
        assert!(intervals.iter().all(|id| proven.contains(id)), "each op at a multiple of the interval is proven");
        // A shipper that cannot prove such an op does not ship it: a receiver would refuse it.
        let unproven = |id: &OpId| prove(id).filter(|_| *id != intervals[0]);
        let mut packer = Packer::new(limits);
        for o in &ops[..k as usize - 1] {
            packer.push((o.op.id, o.bytes.clone(), o.hash), &unproven).unwrap();
        }
        let o = &ops[k as usize - 1];
        let err = packer.push((o.op.id, o.bytes.clone(), o.hash), &unproven).unwrap_err();
        assert!(matches!(err, NetError::Log(LogError::BadProof { author, .. }) if author == alice.peer()), "{err:?}");
        assert_eq!(packer.ops(), k - 1);
    }
}
