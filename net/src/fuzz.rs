//! What the fuzz targets (`fuzz/`, run with cargo-fuzz) do, as plain functions: the targets are
//! one line each, and every input worth keeping (a crasher, once fixed) lives in
//! `tests/fixtures/fuzz/<target>/` and is replayed by `net/tests/fuzz_fixtures.rs` in every test
//! run.

use auroradb_log::segment::{SegmentLimits, SegmentRecord, decode_file_segment, decode_segment, encode_segment};
use auroradb_log::{EncodedOp, OpKind, PeerId, Value};

use crate::SyncConfig;
use crate::admission::Hello;
use crate::frame::{FrameDecoder, decode_frame, encode_frame};
use crate::sim::Cluster;

/// Every decoder of bytes from outside, on `data`: none may panic, and a frame that decodes
/// encodes again to a frame that decodes to the same message.
pub fn decoders(data: &[u8]) {
    if let Ok((seq, msg)) = decode_frame(data, usize::MAX) {
        let again = encode_frame(seq, &msg, usize::MAX).expect("a decoded message encodes");
        assert_eq!(decode_frame(&again, usize::MAX).expect("and decodes again"), (seq, msg));
    }
    let mut stream = FrameDecoder::new();
    stream.push(data);
    while let Ok(Some(frame)) = stream.next_frame(1 << 20) {
        let _ = decode_frame(&frame, 1 << 20);
    }
    // A segment that decodes says its ops again, as they are stored: the same bytes and hashes
    // (compared as bytes: an op may hold a NaN float, which equals nothing, not even itself).
    if let Ok(ops) = decode_segment(data, SegmentLimits::default()) {
        let again = encode_segment(ops.iter().map(|o| (o.op.id, o.bytes.as_slice(), &o.hash)))
            .expect("decoded ops make a segment");
        let stored =
            |ops: &[auroradb_log::EncodedOp]| ops.iter().map(|o| (o.bytes.clone(), o.hash)).collect::<Vec<_>>();
        let decoded = decode_segment(&again, SegmentLimits::default()).expect("and decode again");
        assert_eq!(stored(&decoded), stored(&ops));
    }
    let _ = decode_file_segment(data, SegmentLimits::default());
    let _ = SegmentRecord::decode(data);
    if let Ok(op) = EncodedOp::decode(data.to_vec()) {
        assert_eq!(op.bytes, data);
    }
    let _ = Hello::decode(data);
}

/// The id of the peer whose frames [`receive`] delivers.
const FUZZER: PeerId = PeerId([0x66; 16]);

/// Two honest peers in sync and a third, admitted peer whose frames are `data` (cut at each
/// 2-byte little-endian length): the honest peer that receives them never panics, and afterwards
/// the two honest peers still converge.
pub fn receive(data: &[u8]) {
    let c = Cluster::simple(2, SyncConfig::default());
    c.connect_all();
    c.net.connect(FUZZER, c.peers[0].id);
    c.introduce(FUZZER, 0);
    for i in 0..4 {
        c.write(i % 2, OpKind::Put { key: format!("k{i}"), value: Value::Int(i as i64) });
    }
    c.settle();
    let mut rest = data;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        c.net.inject(FUZZER, c.peers[0].id, rest[2..2 + len].to_vec());
        rest = &rest[2 + len..];
    }
    c.settle();
    c.write(1, OpKind::Remove { key: "k0".into() });
    c.peers[0].engine.fetch();
    c.settle();
    if let Err(e) = c.check_converged(&[0, 1]) {
        panic!("honest peers no longer converge: {e}");
    }
}
