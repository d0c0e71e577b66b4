//! Golden fixtures of the sync wire formats, byte for byte, in `tests/fixtures/net/`; and the
//! frame rules every decoder applies.
//!
//! A change to a format makes this test fail until the fixtures are regenerated on purpose:
//!
//! ```text
//! AURORADB_BLESS=1 cargo test -p auroradb-net --test fixtures
//! ```

use std::path::PathBuf;

use auroradb_log::segment::encode_segment;
use auroradb_log::{EncodedOp, Fingerprint, Hash, Op, OpId, OpKind, PeerId, Value};
use auroradb_net::frame::{FrameDecoder, MAGIC_SYNC, PREFIX_LEN, decode_frame, encode_frame};
use auroradb_net::{Body, Hello, Message, Mode, NetError, Ops, RangeItem, Reconcile, Report};

const ALICE: PeerId = PeerId([0xa1; 16]);
const BOB: PeerId = PeerId([0xb0; 16]);
/// 2023-11-14T22:13:20Z, as NTP64.
fn t(ms: u64) -> u64 {
    auroradb_log::millis_to_ntp(1_700_000_000_000 + ms)
}

fn id(ms: u64, peer: PeerId) -> OpId {
    OpId { time: t(ms), peer }
}

fn turn() -> Message {
    Message {
        session: 7,
        initiator: true,
        body: Body::Reconcile(Reconcile {
            ranges: vec![
                RangeItem { upper: Some(OpId { time: t(100), peer: PeerId([0; 16]) }), mode: Mode::Skip },
                RangeItem { upper: Some(id(250, BOB)), mode: Mode::Fingerprint(Fingerprint([0x5a; 16])) },
                RangeItem { upper: None, mode: Mode::IdList(vec![id(250, BOB), id(251, ALICE), id(251, BOB)]) },
            ],
            want: vec![id(120, ALICE), id(130, BOB)],
            more_want: false,
        }),
    }
}

fn shipment() -> Message {
    let op = EncodedOp::new(Op {
        id: id(300, ALICE),
        author: ALICE,
        seq: 1,
        prev: Hash::ZERO,
        kind: OpKind::Put { key: "user1".into(), value: Value::from("Alice") },
    });
    let seg = encode_segment([(op.op.id, op.bytes.as_slice(), &op.hash)]).unwrap();
    Message { session: 7, initiator: false, body: Body::Ops(Ops { segments: vec![seg], last: Some(1) }) }
}

fn check(name: &str, seq: u64, msg: &Message) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/net").join(format!("{name}.bin"));
    let bytes = encode_frame(seq, msg, 1 << 20).unwrap();
    if std::env::var_os("AURORADB_BLESS").is_some() {
        std::fs::write(&path, &bytes).unwrap();
    }
    let golden = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(bytes, golden, "{name}: the format changed (bless on purpose)");
    assert_eq!(decode_frame(&golden, 1 << 20).unwrap(), (seq, msg.clone()));
}

/// The answer to a refused shipment: which op, and the error's name.
fn report() -> Message {
    let body = Body::Report(Report { refused: true, op: Some(id(300, ALICE)), name: "ClockDrift".into() });
    Message { session: 0, initiator: true, body }
}

/// An equivocation proof passed on: the log's fixture `equivocation.bin` in a frame.
fn equivocation() -> Message {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/log/equivocation.bin");
    let proof = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Message { session: 0, initiator: true, body: Body::Equivocation(proof) }
}

#[test]
fn golden_frames() {
    check("turn", 42, &turn());
    check("shipment", 43, &shipment());
    check("report", 44, &report());
    check("equivocation", 45, &equivocation());
}

#[test]
fn a_report_names_its_error_in_a_few_letters() {
    for name in ["", "Clock Drift", "é", &"x".repeat(65)] {
        let body = Body::Report(Report { refused: false, op: None, name: name.to_owned() });
        let msg = Message { session: 0, initiator: true, body };
        assert!(encode_frame(1, &msg, 1 << 20).is_err(), "{name:?}");
    }
}

/// The hello is sent outside any frame, so it is a bare blob (see `docs/formats.md`).
#[test]
fn golden_hello() {
    let hello = Hello { reply: true, group: "board".into(), nonce: [1, 2, 3, 4, 5, 6, 7, 8], time: 1_700_000_000_000 };
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/net/hello.bin");
    let bytes = hello.encode();
    if std::env::var_os("AURORADB_BLESS").is_some() {
        std::fs::write(&path, &bytes).unwrap();
    }
    let golden = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(bytes, golden, "hello: the format changed (bless on purpose)");
    assert_eq!(Hello::decode(&golden).unwrap().unwrap(), hello);
    // The layout docs/formats.md walks through: magic, version, then the postcard body.
    let mut expected = b"AUhi\x02\x01\x05board".to_vec();
    expected.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    // The time: 1,700,000,000,000 ms as a varint.
    expected.extend_from_slice(&[0x80, 0xd0, 0x95, 0xff, 0xbc, 0x31]);
    assert_eq!(golden, expected);
    // No engine frame is mistaken for a hello: a frame starts with its length prefix.
    assert!(Hello::decode(&encode_frame(1, &turn(), 1 << 20).unwrap()).is_none());
}

#[test]
fn ids_are_compact_on_the_wire() {
    // 6 ids (3 bounds of which one is open-ended, 3 listed, 2 wanted) and two peers: far below
    // 24 bytes an id.
    let frame = encode_frame(42, &turn(), 1 << 20).unwrap();
    assert!(frame.len() < 120, "{} bytes", frame.len());
    assert_eq!(&frame[PREFIX_LEN..PREFIX_LEN + 4], &MAGIC_SYNC);
}

#[test]
fn frame_rules() {
    let frame = encode_frame(1, &turn(), 1 << 20).unwrap();
    // Over the limit, announced or real.
    assert!(matches!(decode_frame(&frame, frame.len() - 1), Err(NetError::FrameTooLarge { .. })));
    assert!(matches!(encode_frame(1, &turn(), 16), Err(NetError::FrameTooLarge { .. })));
    // Shorter than announced, or not even a prefix.
    for cut in [0, 3, PREFIX_LEN + 2, frame.len() - 1] {
        assert!(matches!(decode_frame(&frame[..cut], 1 << 20), Err(NetError::Truncated { .. })), "{cut}");
    }
    // Longer than announced.
    let mut long = frame.clone();
    long.push(0);
    assert!(matches!(decode_frame(&long, 1 << 20), Err(NetError::Corrupt { .. })));
    // Every single-byte change is caught or decodes to a well-formed message (never a panic).
    for i in 0..frame.len() {
        let mut f = frame.clone();
        f[i] ^= 0x41;
        let _ = decode_frame(&f, 1 << 20);
    }
    // Malformed messages are refused at encoding, too.
    let mut bad = turn();
    if let Body::Reconcile(r) = &mut bad.body {
        r.want.reverse();
    }
    assert!(matches!(encode_frame(1, &bad, 1 << 20), Err(NetError::Corrupt { .. })));
}

#[test]
fn a_stream_is_split_into_frames() {
    let a = encode_frame(1, &turn(), 1 << 20).unwrap();
    let b = encode_frame(2, &shipment(), 1 << 20).unwrap();
    let stream: Vec<u8> = a.iter().chain(&b).copied().collect();
    let mut dec = FrameDecoder::new();
    let mut out = Vec::new();
    for chunk in stream.chunks(7) {
        dec.push(chunk);
        while let Some(f) = dec.next_frame(1 << 20).unwrap() {
            out.push(f);
        }
    }
    assert_eq!(out, vec![a, b]);
    assert_eq!(dec.pending(), 0);
    dec.push(&u32::MAX.to_le_bytes());
    assert!(matches!(dec.next_frame(1 << 20), Err(NetError::FrameTooLarge { .. })));
}

mod hostile {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Arbitrary bytes behind a valid header never panic the decoder.
        #[test]
        fn arbitrary_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..300)) {
            let mut frame = ((body.len() + 5) as u32).to_le_bytes().to_vec();
            frame.extend_from_slice(&MAGIC_SYNC);
            frame.push(auroradb_log::codec::FORMAT_VERSION);
            frame.extend_from_slice(&body);
            let _ = decode_frame(&frame, 1 << 20);
        }
    }
}

/// The turn that opens every session over a log of more than `id_list_max` ops: one fingerprint,
/// whatever the log's size (the size `docs/formats.md` quotes).
#[test]
fn the_opening_turn_is_constant_size() {
    let msg = Message {
        session: 1,
        initiator: true,
        body: Body::Reconcile(Reconcile {
            ranges: vec![RangeItem { upper: None, mode: Mode::Fingerprint(Fingerprint([1; 16])) }],
            want: vec![],
            more_want: false,
        }),
    };
    assert_eq!(encode_frame(1, &msg, 1 << 20).unwrap().len(), 35);
    let closed = Message { initiator: false, body: Body::Reconcile(Reconcile::default()), ..msg };
    assert_eq!(encode_frame(2, &closed, 1 << 20).unwrap().len(), 17);
}
