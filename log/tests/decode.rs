//! Decoding random and mutated bytes never panics, and tampered segments are rejected.

mod common;

use auroradb_log::codec::{MAGIC_OP, MAGIC_SEGMENT, MAGIC_SEGMENT_RECORD};
use auroradb_log::segment::{
    FILE_SEGMENT_VERSION, SEGMENT_VERSION, SegmentLimits, SegmentRecord, decode_file_segment, decode_segment,
    encode_file_segment, encode_segment,
};
use auroradb_log::{EncodedOp, LogError, OpId, PeerId, decode_op, encode_op};
use common::{build, kind, script};
use proptest::prelude::*;
use proptest::sample::Index;

/// Every decoder of the crate, on `bytes`: none may panic.
fn decode_all(bytes: &[u8]) {
    let _ = decode_op(bytes);
    let _ = EncodedOp::decode(bytes.to_vec());
    let _ = SegmentRecord::decode(bytes);
    let _ = decode_segment(bytes, SegmentLimits::default());
    let _ = decode_file_segment(bytes, SegmentLimits::default());
    let _ = OpId::from_bytes(bytes);
    let _ = String::from_utf8_lossy(bytes).parse::<PeerId>();
}

/// A change to a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Set(Index, u8),
    Insert(Index, u8),
    Remove(Index),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1..=255u8).prop_map(|(i, m)| Mutation::Flip(i, m)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<Index>().prop_map(Mutation::Remove),
        any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let n = bytes.len();
    match m {
        Mutation::Flip(i, mask) => bytes[i.index(n)] ^= mask,
        Mutation::Set(i, b) => bytes[i.index(n)] = *b,
        Mutation::Insert(i, b) => bytes.insert(i.index(n + 1), *b),
        Mutation::Remove(i) => {
            bytes.remove(i.index(n));
        }
        Mutation::Truncate(i) => bytes.truncate(i.index(n)),
    }
}

fn wire(ops: &[EncodedOp]) -> Vec<u8> {
    encode_segment(ops.iter().map(|o| (o.op.id, o.bytes.as_slice(), &o.hash))).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256), magic in 0..5usize) {
        decode_all(&bytes);
        // Behind a valid header, so the bodies get parsed.
        let mut framed = [MAGIC_OP, MAGIC_SEGMENT, MAGIC_SEGMENT, MAGIC_SEGMENT_RECORD, *b"AUxx"][magic].to_vec();
        framed.push([1, SEGMENT_VERSION, FILE_SEGMENT_VERSION, 1, 1][magic]);
        framed.extend_from_slice(&bytes);
        decode_all(&framed);
    }

    #[test]
    fn mutated_ops_never_panic(kind in kind(), mutations in prop::collection::vec(mutation(), 1..4)) {
        let ops = build(&[(0, 0, kind)]);
        let mut bytes = ops[0].bytes.clone();
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        decode_all(&bytes);
        if let Ok(op) = decode_op(&bytes) {
            // Whatever decodes is canonical: it re-encodes to the same bytes.
            prop_assert_eq!(encode_op(&op), bytes);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn mutated_segments_and_records_never_panic(
        script in script(2, 8),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut ops = build(&script);
        ops.sort_by_key(|o| o.op.id);
        let mut seg = wire(&ops);
        let mut file_seg = encode_file_segment(ops.iter().map(|o| (o.op.id, o.bytes.as_slice(), &o.hash)), &[]);
        let rec = SegmentRecord { members: ops.iter().map(|o| (o.op.id, o.hash)).collect() };
        let mut rec_bytes = rec.encode();
        for m in &mutations {
            mutate(&mut seg, m);
            mutate(&mut file_seg, m);
            mutate(&mut rec_bytes, m);
        }
        decode_all(&seg);
        decode_all(&file_seg);
        decode_all(&rec_bytes);
    }

    #[test]
    fn segments_round_trip(script in script(3, 12)) {
        let mut ops = build(&script);
        ops.sort_by_key(|o| o.op.id);
        prop_assert_eq!(decode_segment(&wire(&ops), SegmentLimits::default()).unwrap(), ops);
    }

    #[test]
    fn any_changed_byte_of_a_segment_rejects_it_or_makes_other_ops(
        script in script(3, 12),
        at in any::<Index>(),
        mask in 1..=255u8,
    ) {
        let mut ops = build(&script);
        ops.sort_by_key(|o| o.op.id);
        let mut bytes = wire(&ops);
        let at = at.index(bytes.len());
        bytes[at] ^= mask;
        // Other ops have other hashes: their proofs and chains no longer hold.
        let result = decode_segment(&bytes, SegmentLimits::default());
        prop_assert!(result.as_ref() != Ok(&ops), "byte {} changed, yet the same ops", at);
    }

    #[test]
    fn reordered_segments_are_rejected(
        script in script(3, 12).prop_filter("two ops", |s| s.len() >= 2),
        i in any::<Index>(),
        j in any::<Index>(),
    ) {
        let mut ops = build(&script);
        ops.sort_by_key(|o| o.op.id);
        let (i, j) = (i.index(ops.len()), j.index(ops.len()));
        prop_assume!(i != j);
        ops.swap(i, j);
        // A segment cannot even say ops out of order (its times are deltas).
        let result = encode_segment(ops.iter().map(|o| (o.op.id, o.bytes.as_slice(), &o.hash)));
        prop_assert!(
            matches!(result, Err(LogError::Corrupt { what: "segment", .. })),
            "{:?}",
            result.map(|o| o.len())
        );
    }

    #[test]
    fn segments_over_the_limits_are_rejected(script in script(3, 12).prop_filter("an op", |s| !s.is_empty())) {
        let mut ops = build(&script);
        ops.sort_by_key(|o| o.op.id);
        let bytes = wire(&ops);
        let few = SegmentLimits { max_ops: ops.len() - 1, max_bytes: usize::MAX };
        // Over the limit in ops, or first in authors (as many as ops at most).
        let err = decode_segment(&bytes, few);
        prop_assert!(
            matches!(err, Err(LogError::TooLarge { what: "segment ops" | "segment authors", limit, .. }) if limit == ops.len() - 1),
            "{:?}",
            err
        );
        let small = SegmentLimits { max_ops: usize::MAX, max_bytes: bytes.len() - 1 };
        let too_big = matches!(decode_segment(&bytes, small), Err(LogError::TooLarge { what: "segment", .. }));
        prop_assert!(too_big);
    }
}
