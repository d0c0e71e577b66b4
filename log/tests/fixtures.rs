//! Golden fixtures: every encoded format of the log, byte for byte, in `tests/fixtures/log/`.
//!
//! A change to any format makes this test fail until the fixtures are regenerated on purpose:
//!
//! ```text
//! AURORADB_BLESS=1 cargo test -p auroradb-log --test fixtures
//! ```

use std::path::PathBuf;

use auroradb_log::segment::{
    SegmentLimits, SegmentRecord, decode_file_segment, decode_proven_segment, decode_segment, encode_file_segment,
    encode_proven_segment, encode_segment,
};
use auroradb_log::{EncodedOp, Equivocation, Hash, Identity, Op, OpId, OpKind, PeerId, Proof, Step, Value, decode_op};

const ALICE: PeerId = PeerId([0xa1; 16]);
const BOB: PeerId = PeerId([0xb0; 16]);
/// 2023-11-14T22:13:20Z.
const T0: u64 = 1_700_000_000_000;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/log")
}

/// A value of each variant, named.
fn values() -> Vec<(&'static str, Value)> {
    vec![
        ("null", Value::Null),
        ("bool", Value::Bool(true)),
        ("int", Value::Int(-1234567890123)),
        ("float", Value::Float(-2.5e-3)),
        ("string", Value::String("Grüße, AuroraDB".into())),
        ("bytes", Value::Bytes(vec![0x00, 0x01, 0x7f, 0x80, 0xff])),
        ("list", Value::List(vec![Value::Int(1), Value::String("two".into()), Value::Null])),
        (
            "map",
            Value::map([
                ("name", Value::from("Ada")),
                ("age", Value::Int(36)),
                ("tags", Value::List(vec![Value::from("admin")])),
                ("avatar", Value::Bytes(vec![1, 2, 3])),
                ("address", Value::map([("city", Value::from("London"))])),
            ]),
        ),
    ]
}

/// The fixture ops, named: a chain of Alice's ops (a put of each value variant, a remove, a clear,
/// a transaction) and two ops of Bob interleaved by time.
fn ops() -> Vec<(String, EncodedOp)> {
    let mut kinds: Vec<(String, PeerId, OpKind)> = values()
        .into_iter()
        .map(|(name, value)| (format!("op_put_{name}"), ALICE, OpKind::Put { key: format!("user:{name}"), value }))
        .collect();
    kinds.push(("op_remove".into(), ALICE, OpKind::Remove { key: "user:null".into() }));
    kinds.push(("op_clear".into(), ALICE, OpKind::Clear));
    kinds.push((
        "op_txn".into(),
        ALICE,
        OpKind::Txn(vec![
            Step::Put { key: "account:a".into(), value: Value::Int(90) },
            Step::Put { key: "account:b".into(), value: Value::Int(110) },
            Step::Remove { key: "pending:1".into() },
        ]),
    ));
    kinds.insert(3, ("op_bob_put".into(), BOB, OpKind::Put { key: "k".into(), value: Value::from("v") }));
    kinds.insert(7, ("op_bob_remove".into(), BOB, OpKind::Remove { key: "k".into() }));

    let mut heads: Vec<(PeerId, u64, Hash)> = Vec::new();
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, (name, author, kind))| {
            let (seq, prev) = match heads.iter().find(|h| h.0 == author) {
                Some(h) => (h.1 + 1, h.2),
                None => (1, Hash::ZERO),
            };
            // Ids 7 ms apart; the second op of each millisecond pair carries a logical counter.
            let mut id = OpId::from_millis(T0 + 7 * i as u64, author);
            id.time += (i % 2) as u64;
            let op = EncodedOp::new(Op { id, author, seq, prev, kind });
            heads.retain(|h| h.0 != author);
            heads.push((author, seq, op.hash));
            (name, op)
        })
        .collect()
}

/// Every fixture: file name and bytes.
fn fixtures() -> Vec<(String, Vec<u8>)> {
    let ops = ops();
    let mut out: Vec<(String, Vec<u8>)> = ops.iter().map(|(n, o)| (format!("{n}.bin"), o.bytes.clone())).collect();
    let record = SegmentRecord { members: ops.iter().map(|(_, o)| (o.op.id, o.hash)).collect() };
    out.push(("segment_record.bin".into(), record.encode()));
    let segment = encode_segment(ops.iter().map(|(_, o)| (o.op.id, o.bytes.as_slice(), &o.hash)));
    out.push(("segment.bin".into(), segment.expect("ops in order")));
    let (signed, proof) = signed_ops();
    let last = signed.last().expect("two ops").op.id;
    let items = || signed.iter().map(|o| (o.op.id, o.bytes.as_slice(), &o.hash));
    out.push(("segment_proven.bin".into(), encode_proven_segment(items(), &[(last, proof)]).expect("ops in order")));
    out.push(("segment_file.bin".into(), encode_file_segment(items(), &[(last, proof)])));
    out.push(("equivocation.bin".into(), equivocation().bytes().to_vec()));
    out
}

/// Carol's second op, and another op she signed at its seq: an equivocation at seq 2.
fn equivocation() -> Equivocation {
    let (signed, proof) = signed_ops();
    let fork = EncodedOp::new(Op {
        id: OpId::from_millis(T0 + 102, carol().peer()),
        kind: OpKind::Clear,
        ..signed[1].op.clone()
    });
    Equivocation::new((&signed[1..], proof), (std::slice::from_ref(&fork), carol().prove(&fork.hash))).expect("a fork")
}

/// The identity of the fixtures' signed author (a fixed secret, so the bytes are reproducible).
fn carol() -> Identity {
    Identity::from_secret(&[0x5a; 32])
}

/// Two ops of a keyed author (its id derived from its public key) and the proof of the second,
/// which proves the first too through the hash chain.
fn signed_ops() -> (Vec<EncodedOp>, Proof) {
    let carol = carol();
    let author = carol.peer();
    let first = EncodedOp::new(Op {
        id: OpId::from_millis(T0 + 100, author),
        author,
        seq: 1,
        prev: Hash::ZERO,
        kind: OpKind::Put { key: "k".into(), value: Value::Int(1) },
    });
    let second = EncodedOp::new(Op {
        id: OpId::from_millis(T0 + 101, author),
        author,
        seq: 2,
        prev: first.hash,
        kind: OpKind::Remove { key: "k".into() },
    });
    let proof = carol.prove(&second.hash);
    (vec![first, second], proof)
}

fn blessing() -> bool {
    std::env::var("AURORADB_BLESS").is_ok_and(|v| v == "1")
}

/// With `AURORADB_BLESS=1`, writes the fixtures (once per run, before any test reads them).
fn bless_if_asked() {
    static BLESS: std::sync::Once = std::sync::Once::new();
    BLESS.call_once(|| {
        if blessing() {
            std::fs::create_dir_all(dir()).unwrap();
            for (name, bytes) in fixtures() {
                std::fs::write(dir().join(name), bytes).unwrap();
            }
        }
    });
}

#[test]
fn fixtures_match_byte_for_byte() {
    bless_if_asked();
    let mut stale = Vec::new();
    for (name, bytes) in fixtures() {
        match std::fs::read(dir().join(&name)) {
            Ok(on_disk) if on_disk == bytes => {}
            Ok(_) => stale.push(format!("{name} differs")),
            Err(e) => stale.push(format!("{name}: {e}")),
        }
    }
    assert!(
        stale.is_empty(),
        "the log formats changed: {stale:?}\nif deliberate, regenerate with AURORADB_BLESS=1 and update docs/formats.md"
    );
}

#[test]
fn fixtures_decode_to_their_values() {
    bless_if_asked();
    let ops = ops();
    let read = |name: &str| std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    for (name, op) in &ops {
        let bytes = read(&format!("{name}.bin"));
        assert_eq!(decode_op(&bytes).unwrap(), op.op, "{name}");
        assert_eq!(Hash::of(&bytes), op.hash, "{name}");
    }
    let record = SegmentRecord::decode(&read("segment_record.bin")).unwrap();
    assert_eq!(record.members, ops.iter().map(|(_, o)| (o.op.id, o.hash)).collect::<Vec<_>>());
    let decoded = decode_segment(&read("segment.bin"), SegmentLimits::default()).unwrap();
    assert_eq!(decoded, ops.into_iter().map(|(_, o)| o).collect::<Vec<_>>());
    let (signed, proof) = signed_ops();
    let (decoded, proofs) = decode_proven_segment(&read("segment_proven.bin"), SegmentLimits::default()).unwrap();
    assert_eq!(decoded, signed);
    assert_eq!(proofs, vec![(signed[1].op.id, proof)]);
    let file = decode_file_segment(&read("segment_file.bin"), SegmentLimits::default()).unwrap();
    assert_eq!(file, (signed.clone(), vec![(signed[1].op.id, proof)]));
    let eq = Equivocation::decode(read("equivocation.bin")).unwrap();
    assert_eq!(eq, equivocation());
    assert_eq!((eq.fork().author, eq.fork().seq, eq.fork().prev), (carol().peer(), 2, signed[0].hash));
    // The proof checks: the key derives the author id, and the signature is over the op's hash.
    proof.check(carol().peer(), &signed[1].hash).unwrap();
    assert_eq!(carol().peer(), signed[1].op.author);
}

#[test]
fn fixture_chains_are_valid() {
    // The fixture ops form valid author chains: a log accepts them all as one batch.
    use auroradb_log::{Hlc, Log, LogConfig, manual_clock, set_manual_clock};
    set_manual_clock(T0 + 1_000);
    let config = LogConfig::default();
    let mut log = Log::new(Hlc::new(PeerId([0xc0; 16]), manual_clock, config.max_drift), config);
    let ops: Vec<EncodedOp> = ops().into_iter().map(|(_, o)| o).collect();
    assert_eq!(log.insert_remote(ops.clone()).unwrap().len(), ops.len());
    assert_eq!(log.verify().unwrap().authors, 2);
}
