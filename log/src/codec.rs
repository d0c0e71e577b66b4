//! The binary codec: postcard bodies behind a 4-byte magic and a 1-byte format version.
//!
//! ```text
//! +--------+---------+------------------------+
//! | magic  | version | postcard body          |
//! | 4 B    | 1 B     | (rest of the blob)     |
//! +--------+---------+------------------------+
//! ```
//!
//! Decoding never panics: bad magic, an unknown version, a body that does not parse, trailing
//! bytes, and (for ops) a non-canonical encoding are all typed errors.

use serde::{Deserialize, Serialize};

use crate::{Hash, LogError, Op, Result};

/// The format version every blob of this build carries.
pub const FORMAT_VERSION: u8 = 1;

/// Magic of an encoded [`Op`].
pub const MAGIC_OP: [u8; 4] = *b"AUop";
/// Magic of a segment of ops as shipped between peers ([`crate::segment::encode_segment`]).
pub const MAGIC_SEGMENT: [u8; 4] = *b"AUsg";
/// Magic of a persisted segment record ([`crate::segment::SegmentRecord`]).
pub const MAGIC_SEGMENT_RECORD: [u8; 4] = *b"AUsr";

/// Length of the header (magic + version).
pub const HEADER_LEN: usize = 5;

/// Encodes `body` behind `magic` and the current format version.
pub fn encode_blob<T: Serialize + ?Sized>(magic: [u8; 4], body: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&magic);
    out.push(FORMAT_VERSION);
    postcard::to_extend(body, out).expect("encoding into a Vec cannot fail")
}

/// Checks the header of a blob and returns its body.
pub fn blob_body<'a>(what: &'static str, magic: [u8; 4], bytes: &'a [u8]) -> Result<&'a [u8]> {
    if bytes.len() < HEADER_LEN || bytes[..4] != magic {
        return Err(LogError::BadMagic { what, expected: magic, found: bytes[..bytes.len().min(4)].to_vec() });
    }
    if bytes[4] != FORMAT_VERSION {
        return Err(LogError::UnsupportedVersion { what, found: bytes[4], supported: FORMAT_VERSION });
    }
    Ok(&bytes[HEADER_LEN..])
}

/// Decodes a blob made by [`encode_blob`] with the same magic. Trailing bytes are an error.
pub fn decode_blob<'a, T: Deserialize<'a>>(what: &'static str, magic: [u8; 4], bytes: &'a [u8]) -> Result<T> {
    let body = blob_body(what, magic, bytes)?;
    let (value, rest) = postcard::take_from_bytes(body).map_err(|e| LogError::corrupt(what, e))?;
    if !rest.is_empty() {
        return Err(LogError::corrupt(what, format!("{} trailing bytes", rest.len())));
    }
    Ok(value)
}

/// Encodes an op. Its hash is [`Hash::of`] these bytes.
pub fn encode_op(op: &Op) -> Vec<u8> {
    encode_blob(MAGIC_OP, op)
}

/// Decodes an op, checking that the bytes are the op's one canonical encoding (so that one op has
/// exactly one hash) and that the op is well formed.
pub fn decode_op(bytes: &[u8]) -> Result<Op> {
    let op: Op = decode_blob("op", MAGIC_OP, bytes)?;
    if encode_op(&op) != bytes {
        return Err(LogError::corrupt("op", "not the canonical encoding"));
    }
    check_op_shape(&op)?;
    Ok(op)
}

pub(crate) fn check_op_shape(op: &Op) -> Result<()> {
    if op.author != op.id.peer {
        return Err(LogError::InvalidOp { id: op.id, reason: "author differs from the id's peer" });
    }
    if op.seq == 0 {
        return Err(LogError::InvalidOp { id: op.id, reason: "seq 0" });
    }
    if op.seq == 1 && op.prev != Hash::ZERO {
        return Err(LogError::InvalidOp { id: op.id, reason: "first op of an author with a prev hash" });
    }
    Ok(())
}

/// An op together with its encoding and hash.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedOp {
    /// The op.
    pub op: Op,
    /// Its canonical encoding.
    pub bytes: Vec<u8>,
    /// blake3 of `bytes`.
    pub hash: Hash,
}

impl EncodedOp {
    /// Encodes and hashes `op`.
    pub fn new(op: Op) -> EncodedOp {
        let bytes = encode_op(&op);
        let hash = Hash::of(&bytes);
        EncodedOp { op, bytes, hash }
    }

    /// Decodes `bytes` (see [`decode_op`]) and hashes them.
    pub fn decode(bytes: Vec<u8>) -> Result<EncodedOp> {
        let op = decode_op(&bytes)?;
        let hash = Hash::of(&bytes);
        Ok(EncodedOp { op, bytes, hash })
    }
}
