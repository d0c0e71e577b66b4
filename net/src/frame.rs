//! Frames: a length prefix, then a sync message behind the codec header.
//!
//! ```text
//! +-------------+------+---------+--------------------------------------------------+
//! | len: u32 LE | AUsy | version | postcard { seq, session, initiator, body }         |
//! | 4 B         | 4 B  | 1 B     | (len - 5 bytes)                                    |
//! +-------------+------+---------+--------------------------------------------------+
//! ```
//!
//! A frame is at most [`FrameLimits::max_frame`] bytes, prefix included. The receiver checks the
//! announced length against the limit before it reads anything else, so an oversized frame costs
//! nothing; a frame shorter than announced is [`NetError::Truncated`].

use auroradb_log::codec::{HEADER_LEN, blob_body_v};

use crate::message::WireMessage;
use crate::{Message, NetError, Result};

/// Magic of a sync message.
pub const MAGIC_SYNC: [u8; 4] = *b"AUsy";

/// The format version of sync frames: 2 codes an id's time as milliseconds and a counter, 3 adds
/// the equivocation message, 4 requires the proof of every shipped op at a multiple of
/// [`PROOF_INTERVAL`](auroradb_log::PROOF_INTERVAL) (`docs/formats.md`): a version 3 peer ships
/// long runs without them, which would be refused. A frame of an older version is refused with
/// `UnsupportedVersion`.
pub const SYNC_VERSION: u8 = 4;

/// Length of the frame's length prefix.
pub const PREFIX_LEN: usize = 4;

/// The smallest frame limit accepted: a turn must always have room for one range verdict.
pub const MIN_FRAME: usize = 4096;

/// Size limits of frames and of the segments inside them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Maximum bytes of one frame, length prefix included (at least [`MIN_FRAME`]).
    pub max_frame: usize,
    /// Maximum ops in one shipped segment.
    pub max_segment_ops: usize,
    /// Maximum bytes of one encoded op. An op larger than a frame travels as a segment in
    /// pieces ([`Piece`](crate::Piece)); the receiver holds at most this much (plus a segment's
    /// overhead) of one unfinished segment per session.
    pub max_op: usize,
}

pub use auroradb_log::{DEFAULT_MAX_OP, MAX_OP_CEILING};

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits { max_frame: 256 << 10, max_segment_ops: 1024, max_op: DEFAULT_MAX_OP }
    }
}

impl FrameLimits {
    /// The limits with `max_frame` raised to [`MIN_FRAME`], `max_segment_ops` and `max_op` to 1
    /// if lower, and `max_op` lowered to [`MAX_OP_CEILING`] if higher.
    pub fn clamped(self) -> FrameLimits {
        FrameLimits {
            max_frame: self.max_frame.max(MIN_FRAME),
            max_segment_ops: self.max_segment_ops.max(1),
            max_op: self.max_op.clamp(1, MAX_OP_CEILING),
        }
    }

    /// The segment limits a receiver applies to each segment, whole in a frame or put together
    /// from pieces: a segment is at most a frame, or one op of at most `max_op` bytes.
    pub fn segment_limits(&self) -> auroradb_log::segment::SegmentLimits {
        auroradb_log::segment::SegmentLimits {
            max_ops: self.max_segment_ops,
            max_bytes: self.max_frame.max(self.max_op.saturating_add(crate::ship::SEGMENT_OVERHEAD)),
        }
    }
}

/// Encodes `msg` as a frame carrying sequence number `seq`. Fails if the message is malformed
/// (ids out of order) or does not fit in `max_frame` bytes.
pub fn encode_frame(seq: u64, msg: &Message, max_frame: usize) -> Result<Vec<u8>> {
    let wire = msg.to_wire(seq)?;
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&[0; PREFIX_LEN]);
    out.extend_from_slice(&MAGIC_SYNC);
    out.push(SYNC_VERSION);
    let mut out = postcard::to_extend(&wire, out).map_err(|e| NetError::corrupt("sync message", e))?;
    if out.len() > max_frame || out.len() - PREFIX_LEN > u32::MAX as usize {
        return Err(NetError::FrameTooLarge { size: out.len(), limit: max_frame });
    }
    let len = (out.len() - PREFIX_LEN) as u32;
    out[..PREFIX_LEN].copy_from_slice(&len.to_le_bytes());
    Ok(out)
}

/// The total frame length announced by the prefix at the start of `bytes`, once 4 bytes are
/// there; fails when it exceeds `max_frame`.
pub fn announced_len(bytes: &[u8], max_frame: usize) -> Result<Option<usize>> {
    let Some(prefix) = bytes.get(..PREFIX_LEN) else { return Ok(None) };
    // In u64: on a 32-bit target (wasm32) a prefix near 4 GiB plus the prefix's own length
    // would wrap to a few bytes.
    let len = u64::from(u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]])) + PREFIX_LEN as u64;
    if len > max_frame as u64 {
        return Err(NetError::FrameTooLarge { size: usize::try_from(len).unwrap_or(usize::MAX), limit: max_frame });
    }
    Ok(Some(len as usize))
}

/// Decodes one whole frame (as a message-oriented transport delivers it): checks the announced
/// length against `max_frame` and against the bytes present, the magic and version, and every
/// rule of the message's wire form. Returns the sequence number and the message.
pub fn decode_frame(bytes: &[u8], max_frame: usize) -> Result<(u64, Message)> {
    let len = announced_len(bytes, max_frame)?.ok_or(NetError::Truncated { expected: PREFIX_LEN, got: bytes.len() })?;
    if bytes.len() < len {
        return Err(NetError::Truncated { expected: len, got: bytes.len() });
    }
    if bytes.len() > len {
        return Err(NetError::corrupt("frame", format!("{} bytes after the frame", bytes.len() - len)));
    }
    let payload = &bytes[PREFIX_LEN..];
    if payload.len() < HEADER_LEN {
        return Err(NetError::Truncated { expected: PREFIX_LEN + HEADER_LEN, got: bytes.len() });
    }
    let body = blob_body_v("sync message", MAGIC_SYNC, SYNC_VERSION, payload)?;
    let (wire, rest): (WireMessage<'_>, _) =
        postcard::take_from_bytes(body).map_err(|e| NetError::corrupt("sync message", e))?;
    if !rest.is_empty() {
        return Err(NetError::corrupt("sync message", format!("{} trailing bytes", rest.len())));
    }
    Message::from_wire(wire)
}

/// Splits a byte stream into frames (for stream transports such as a WebSocket relay that may
/// split or join messages).
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
}

impl FrameDecoder {
    /// An empty decoder.
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame, if one has arrived. An oversized announcement is an error (the
    /// stream cannot be resynchronised after it: drop the connection).
    pub fn next_frame(&mut self, max_frame: usize) -> Result<Option<Vec<u8>>> {
        match announced_len(&self.buf, max_frame)? {
            Some(len) if self.buf.len() >= len => {
                let rest = self.buf.split_off(len);
                Ok(Some(std::mem::replace(&mut self.buf, rest)))
            }
            _ => Ok(None),
        }
    }

    /// Bytes held that do not form a whole frame yet.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}
