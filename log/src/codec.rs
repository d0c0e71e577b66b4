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

use crate::{Hash, LogError, MAX_VALUE_DEPTH, Op, OpKind, Result, Step, Value};

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

/// Encodes `body` behind `magic` and format version 1.
pub fn encode_blob<T: Serialize + ?Sized>(magic: [u8; 4], body: &T) -> Vec<u8> {
    encode_blob_v(magic, FORMAT_VERSION, body)
}

/// Encodes `body` behind `magic` and `version` (for a kind of blob whose format moved past 1).
pub fn encode_blob_v<T: Serialize + ?Sized>(magic: [u8; 4], version: u8, body: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&magic);
    out.push(version);
    postcard::to_extend(body, out).expect("encoding into a Vec cannot fail")
}

/// Checks the header of a blob of format version 1 and returns its body.
pub fn blob_body<'a>(what: &'static str, magic: [u8; 4], bytes: &'a [u8]) -> Result<&'a [u8]> {
    blob_body_v(what, magic, FORMAT_VERSION, bytes)
}

/// Checks the header of a blob of format `version` and returns its body.
pub fn blob_body_v<'a>(what: &'static str, magic: [u8; 4], version: u8, bytes: &'a [u8]) -> Result<&'a [u8]> {
    if bytes.len() < HEADER_LEN || bytes[..4] != magic {
        return Err(LogError::BadMagic { what, expected: magic, found: bytes[..bytes.len().min(4)].to_vec() });
    }
    if bytes[4] != version {
        return Err(LogError::UnsupportedVersion { what, found: bytes[4], supported: version });
    }
    Ok(&bytes[HEADER_LEN..])
}

/// Decodes a blob made by [`encode_blob`] with the same magic. Trailing bytes are an error.
pub fn decode_blob<'a, T: Deserialize<'a>>(what: &'static str, magic: [u8; 4], bytes: &'a [u8]) -> Result<T> {
    decode_blob_v(what, magic, FORMAT_VERSION, bytes)
}

/// Decodes a blob made by [`encode_blob_v`] with the same magic and version.
pub fn decode_blob_v<'a, T: Deserialize<'a>>(
    what: &'static str,
    magic: [u8; 4],
    version: u8,
    bytes: &'a [u8],
) -> Result<T> {
    let body = blob_body_v(what, magic, version, bytes)?;
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
    match &op.kind {
        OpKind::Put { value, .. } => check_depth(value)?,
        OpKind::Txn(steps) => {
            for step in steps {
                if let Step::Put { value, .. } = step {
                    check_depth(value)?;
                }
            }
        }
        OpKind::Remove { .. } | OpKind::Clear => {}
    }
    Ok(())
}

fn check_depth(value: &Value) -> Result<()> {
    if value.nests_deeper_than(MAX_VALUE_DEPTH) {
        return Err(LogError::TooLarge { what: "value nesting", size: value.depth(), limit: MAX_VALUE_DEPTH });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OpId, OpKind, PeerId, Step, Value};

    const PEER: PeerId = PeerId([7; 16]);

    fn op(kind: OpKind) -> Op {
        Op { id: OpId { time: 5, peer: PEER }, author: PEER, seq: 1, prev: Hash::ZERO, kind }
    }

    fn nested(depth: usize) -> Value {
        let mut v = Value::Int(1);
        for _ in 0..depth {
            v = Value::List(vec![v]);
        }
        v
    }

    fn every_value() -> Value {
        Value::List(vec![
            Value::Null,
            Value::Bool(true),
            Value::Int(-42),
            Value::Float(1.5),
            Value::String("héllo".into()),
            Value::Bytes(vec![0, 1, 255]),
            Value::List(vec![]),
            Value::map([("a", Value::Int(1)), ("b", Value::Null)]),
        ])
    }

    #[test]
    fn ops_of_every_kind_round_trip() {
        let kinds = [
            OpKind::Put { key: "k".into(), value: every_value() },
            OpKind::Remove { key: "k".into() },
            OpKind::Clear,
            OpKind::Txn(vec![
                Step::Put { key: "a".into(), value: Value::Float(-0.0) },
                Step::Remove { key: "b".into() },
            ]),
        ];
        for kind in kinds {
            let op = op(kind);
            let bytes = encode_op(&op);
            assert_eq!(&bytes[..4], b"AUop");
            assert_eq!(bytes[4], FORMAT_VERSION);
            assert_eq!(decode_op(&bytes).unwrap(), op);
            let enc = EncodedOp::decode(bytes.clone()).unwrap();
            assert_eq!(enc.hash, Hash::of(&bytes));
            assert_eq!(enc, EncodedOp::new(op));
        }
    }

    #[test]
    fn blobs_round_trip_and_check_their_header() {
        let bytes = encode_blob(MAGIC_SEGMENT_RECORD, &(1u32, "x"));
        assert_eq!(decode_blob::<(u32, String)>("t", MAGIC_SEGMENT_RECORD, &bytes).unwrap(), (1, "x".into()));
        assert_eq!(blob_body("t", MAGIC_SEGMENT_RECORD, &bytes).unwrap(), &bytes[HEADER_LEN..]);
        let err = decode_blob::<(u32, String)>("t", MAGIC_SEGMENT, &bytes).unwrap_err();
        assert_eq!(err, LogError::BadMagic { what: "t", expected: MAGIC_SEGMENT, found: b"AUsr".to_vec() });
    }

    #[test]
    fn bad_magic_is_a_typed_error() {
        let mut bytes = encode_op(&op(OpKind::Clear));
        bytes[0] = b'X';
        assert!(matches!(decode_op(&bytes), Err(LogError::BadMagic { what: "op", expected: MAGIC_OP, .. })));
        for short in [&b""[..], b"AU", b"AUop"] {
            match decode_op(short) {
                Err(LogError::BadMagic { found, .. }) => assert_eq!(found, short[..short.len().min(4)]),
                other => panic!("{other:?}"),
            }
        }
        let seg = encode_blob(MAGIC_SEGMENT, &0u8);
        assert!(matches!(decode_op(&seg), Err(LogError::BadMagic { .. })));
    }

    #[test]
    fn unknown_version_is_a_typed_error() {
        let mut bytes = encode_op(&op(OpKind::Clear));
        bytes[4] = FORMAT_VERSION + 1;
        assert_eq!(
            decode_op(&bytes),
            Err(LogError::UnsupportedVersion { what: "op", found: FORMAT_VERSION + 1, supported: FORMAT_VERSION })
        );
    }

    #[test]
    fn trailing_and_missing_bytes_are_corrupt() {
        let mut bytes = encode_op(&op(OpKind::Clear));
        bytes.push(0);
        match decode_op(&bytes) {
            Err(LogError::Corrupt { what: "op", reason }) => assert!(reason.contains("trailing"), "{reason}"),
            other => panic!("{other:?}"),
        }
        bytes.truncate(bytes.len() - 2);
        assert!(matches!(decode_op(&bytes), Err(LogError::Corrupt { what: "op", .. })));
    }

    #[test]
    fn non_minimal_varint_is_not_canonical() {
        let bytes = encode_op(&op(OpKind::Clear));
        // magic, version, id (time 5 is one varint byte, 16 peer bytes), author: then seq.
        let seq_at = HEADER_LEN + 1 + 16 + 16;
        assert_eq!(bytes[seq_at], 1);
        let mut padded = bytes[..seq_at].to_vec();
        padded.extend_from_slice(&[0x81, 0x00]);
        padded.extend_from_slice(&bytes[seq_at + 1..]);
        match decode_op(&padded) {
            Err(LogError::Corrupt { what: "op", reason }) => assert!(reason.contains("canonical"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unsorted_map_keys_are_not_canonical() {
        let value = Value::map([("a", Value::Int(1)), ("b", Value::Int(2))]);
        let bytes = encode_op(&op(OpKind::Put { key: "k".into(), value }));
        let sorted = [1, b'a', 2, 2, 1, b'b', 2, 4];
        let at = bytes.windows(sorted.len()).position(|w| w == sorted).expect("map entries in the encoding");
        let mut swapped = bytes.clone();
        swapped[at..at + sorted.len()].copy_from_slice(&[1, b'b', 2, 4, 1, b'a', 2, 2]);
        assert!(matches!(decode_op(&swapped), Err(LogError::Corrupt { what: "op", .. })));
        // The same map written twice under one key does not decode either.
        let mut dup = bytes.clone();
        dup[at..at + sorted.len()].copy_from_slice(&[1, b'a', 2, 4, 1, b'a', 2, 2]);
        assert!(matches!(decode_op(&dup), Err(LogError::Corrupt { what: "op", .. })));
    }

    #[test]
    fn malformed_ops_are_invalid() {
        let other = PeerId([8; 16]);
        let mut wrong_author = op(OpKind::Clear);
        wrong_author.author = other;
        let mut seq0 = op(OpKind::Clear);
        seq0.seq = 0;
        let mut first_with_prev = op(OpKind::Clear);
        first_with_prev.prev = Hash([1; 32]);
        for bad in [wrong_author, seq0, first_with_prev] {
            let err = decode_op(&encode_op(&bad)).unwrap_err();
            assert!(matches!(err, LogError::InvalidOp { id, .. } if id == bad.id), "{err:?}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let ok = op(OpKind::Put { key: "k".into(), value: nested(MAX_VALUE_DEPTH) });
        assert_eq!(decode_op(&encode_op(&ok)).unwrap(), ok);
        let deep = op(OpKind::Txn(vec![Step::Put { key: "k".into(), value: nested(MAX_VALUE_DEPTH + 1) }]));
        assert!(matches!(decode_op(&encode_op(&deep)), Err(LogError::Corrupt { what: "op", .. })));
        assert_eq!(
            check_op_shape(&deep),
            Err(LogError::TooLarge { what: "value nesting", size: MAX_VALUE_DEPTH + 1, limit: MAX_VALUE_DEPTH })
        );
    }

    #[test]
    fn hostile_nesting_does_not_exhaust_the_stack() {
        let mut bytes = encode_op(&op(OpKind::Put { key: "k".into(), value: Value::Null }));
        bytes.pop(); // Value::Null
        for _ in 0..200_000 {
            bytes.extend_from_slice(&[6, 1]); // Value::List of one element
        }
        bytes.push(0);
        assert!(matches!(decode_op(&bytes), Err(LogError::Corrupt { what: "op", .. })));
    }

    #[test]
    fn values_decode_by_variant_name_too() {
        // Formats other than postcard name variants; the hand-written decoder accepts both.
        use serde::Deserialize;
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error, MapAccessDeserializer, MapDeserializer, StrDeserializer};
        let by_name = MapDeserializer::<'_, _, Error>::new([("Int", 3i64)].into_iter());
        assert_eq!(Value::deserialize(MapAccessDeserializer::new(by_name)).unwrap(), Value::Int(3));
        let unit: StrDeserializer<'_, Error> = "Null".into_deserializer();
        assert_eq!(Value::deserialize(unit).unwrap(), Value::Null);
        let unknown: StrDeserializer<'_, Error> = "Nope".into_deserializer();
        assert!(Value::deserialize(unknown).is_err());
    }
}
