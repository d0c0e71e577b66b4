//! Shipping: packs ops into segments ([`auroradb_log::segment::encode_segment`]) and segments
//! into ops messages that fit the frame limit.

use auroradb_log::segment::encode_segment;
use auroradb_log::{Hash, OpId};

use crate::message::varint_len;
use crate::{FrameLimits, NetError, Ops, Result};

/// Upper bound of an ops frame's bytes besides its segments.
const MESSAGE_OVERHEAD: usize = 64;
/// Upper bound of a segment's bytes besides its ops (header, range, count and sum, lengths).
const SEGMENT_OVERHEAD: usize = 128;

/// An op ready to ship: its id, its encoded bytes and its hash.
pub type ShippedOp = (OpId, Vec<u8>, Hash);

/// Packs ops, pushed in ascending id order, into [`Ops`] messages: segments of at most
/// `max_segment_ops` ops, messages of at most `max_frame` bytes once framed.
#[derive(Debug)]
pub struct Packer {
    limits: FrameLimits,
    ready: Vec<Ops>,
    segments: Vec<Vec<u8>>,
    message_bytes: usize,
    open: Vec<ShippedOp>,
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
            open: Vec::new(),
            open_bytes: SEGMENT_OVERHEAD,
            last_id: None,
            emitted: 0,
            ops: 0,
        }
    }

    /// The largest encoded op a frame can carry under `limits`.
    pub fn max_op_bytes(limits: FrameLimits) -> usize {
        let l = limits.clamped();
        l.max_frame - MESSAGE_OVERHEAD - SEGMENT_OVERHEAD - varint_len(l.max_frame as u64)
    }

    /// Adds the next op. Ops must come in strictly ascending id order; an op too large for any
    /// frame is refused with [`NetError::OpTooLarge`].
    pub fn push(&mut self, op: ShippedOp) -> Result<()> {
        let cost = op.1.len() + varint_len(op.1.len() as u64);
        if MESSAGE_OVERHEAD + SEGMENT_OVERHEAD + cost > self.limits.max_frame {
            return Err(NetError::OpTooLarge { size: op.1.len(), limit: self.limits.max_frame });
        }
        if self.last_id.is_some_and(|l| l >= op.0) {
            return Err(NetError::Unexpected { reason: "ops to ship are not in ascending id order" });
        }
        self.last_id = Some(op.0);
        if !self.open.is_empty()
            && (self.open.len() >= self.limits.max_segment_ops
                || self.message_bytes + self.open_bytes + cost > self.limits.max_frame)
        {
            self.close_segment();
        }
        if self.open.is_empty()
            && !self.segments.is_empty()
            && self.message_bytes + SEGMENT_OVERHEAD + cost > self.limits.max_frame
        {
            self.close_message(None);
        }
        self.open_bytes += cost;
        self.open.push(op);
        self.ops += 1;
        Ok(())
    }

    fn close_segment(&mut self) {
        if self.open.is_empty() {
            return;
        }
        let seg = encode_segment(self.open.iter().map(|(id, b, h)| (*id, b.as_slice(), h)));
        self.message_bytes += seg.len() + varint_len(seg.len() as u64);
        self.segments.push(seg);
        self.open.clear();
        self.open_bytes = SEGMENT_OVERHEAD;
    }

    fn close_message(&mut self, last: Option<u32>) {
        self.ready.push(Ops { segments: std::mem::take(&mut self.segments), last });
        self.message_bytes = MESSAGE_OVERHEAD;
        self.emitted += 1;
    }

    /// Messages that are full, to send now.
    pub fn take_ready(&mut self) -> Vec<Ops> {
        std::mem::take(&mut self.ready)
    }

    /// Number of ops pushed so far.
    pub fn ops(&self) -> u64 {
        self.ops
    }

    /// Closes the last segment and message and returns the messages not taken yet. With
    /// `mark_last`, the final message carries the total number of messages (and is sent even when
    /// empty, so a session's shipment always ends with a marked message).
    pub fn finish(mut self, mark_last: bool) -> Vec<Ops> {
        self.close_segment();
        if mark_last {
            let total = self.emitted + 1;
            self.close_message(Some(total));
        } else if !self.segments.is_empty() {
            self.close_message(None);
        }
        self.ready
    }
}
