//! The log crate's codec, hashing and fingerprints, run inside headless Chromium, plus one
//! IndexedDB round trip through `rexie`: the browser half of the test pipeline.
//!
//! The hex constants were computed by the same code built natively, so these tests also check
//! that an op encodes and hashes to the same bytes on both targets.

#![cfg(target_arch = "wasm32")]

use std::collections::{BTreeMap, HashSet};

use auroradb_log::codec::{FORMAT_VERSION, MAGIC_OP};
use auroradb_log::{
    DEFAULT_MAX_DRIFT, EncodedOp, Hash, Hlc, Log, LogConfig, LogError, NTP64, Op, OpId, OpKind, PeerId, RangeSum, Step,
    Value, decode_op, encode_op, millis_to_ntp, verify_ops,
};
use js_sys::{Date, Uint8Array};
use rexie::{ObjectStore, Rexie, TransactionMode};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// A physical clock reading the browser's `Date.now()`.
fn js_clock() -> NTP64 {
    NTP64(millis_to_ntp(Date::now() as u64))
}

/// 2025-11-26T09:40:00Z, the time of the fixed ops.
const BASE_MS: u64 = 1_764_150_000_000;

/// blake3("auroradb").
const HASH_OF_NAME: &str = "7b7fa632880378d0180fbc1c09a32c93fa6dc9dd37bc09f7371fb1533b43784d";

/// `(kind name, encoded length, hash)` of [`fixed_op`] for each of [`kinds`], computed natively.
const FIXED_OPS: [(&str, usize, &str); 4] = [
    ("put", 159, "49ebc68ca11e347c51a7225b67cdfa37cc08f1d03cd49a51298e5c9a506e68a2"),
    ("remove", 86, "e75ce15622ce35dd8fb71c4ad422fc8b3396a95df9e8c019df5cf044063405c2"),
    ("clear", 80, "a673d46ee60843cd7802d204816e634a5da660e20e168d7874573939dba15c56"),
    ("txn", 89, "d9b86b0ca6e427da59267472167a0e332507ab259743ec3fc1e2807ed4fea285"),
];

/// Fingerprint of the set of the four fixed ops, computed natively.
const FIXED_FINGERPRINT: &str = "8283bddc78c151098f96298d9fb1520f";

fn sample_value() -> Value {
    Value::map([
        ("name", Value::from("Alice")),
        ("age", Value::Int(30)),
        ("score", Value::Float(0.5)),
        ("admin", Value::Bool(false)),
        ("note", Value::Null),
        ("avatar", Value::Bytes(vec![1, 2, 3])),
        ("tags", Value::List(vec![Value::from("a"), Value::Int(-1)])),
    ])
}

fn kinds() -> Vec<OpKind> {
    vec![
        OpKind::Put { key: "user1".into(), value: sample_value() },
        OpKind::Remove { key: "user1".into() },
        OpKind::Clear,
        OpKind::Txn(vec![Step::Put { key: "a".into(), value: Value::Int(1) }, Step::Remove { key: "b".into() }]),
    ]
}

/// The first op of a fixed author at a fixed time.
fn fixed_op(kind: OpKind) -> Op {
    let peer = PeerId([0x11; 16]);
    Op { id: OpId::from_millis(BASE_MS, peer), author: peer, seq: 1, prev: Hash::ZERO, kind }
}

fn browser_log() -> Log {
    let config = LogConfig::default();
    Log::new(Hlc::new(PeerId::random(), js_clock, config.max_drift), config)
}

fn put(key: &str, n: i64) -> OpKind {
    OpKind::Put { key: key.into(), value: Value::Int(n) }
}

/// Every op of `log` as `EncodedOp`s, in id order.
fn all_ops(log: &Log) -> Vec<EncodedOp> {
    log.range(..).map(|(_, bytes, _)| EncodedOp::decode(bytes.to_vec()).expect("held ops decode")).collect()
}

#[wasm_bindgen_test]
fn codec_round_trips_every_op_kind() {
    for kind in kinds() {
        let op = fixed_op(kind);
        let bytes = encode_op(&op);
        assert_eq!(bytes[..4], MAGIC_OP);
        assert_eq!(bytes[4], FORMAT_VERSION);
        assert_eq!(decode_op(&bytes), Ok(op.clone()));
        let encoded = EncodedOp::decode(bytes.clone()).expect("decodes");
        assert_eq!(encoded, EncodedOp::new(op));
        assert_eq!(encoded.hash, Hash::of(&bytes));
        // Every strict prefix is an error, never a panic.
        for len in 0..bytes.len() {
            assert!(decode_op(&bytes[..len]).is_err(), "prefix of {len} bytes decoded");
        }
    }
}

#[wasm_bindgen_test]
fn bad_headers_are_typed_errors() {
    let bytes = encode_op(&fixed_op(OpKind::Clear));
    let mut wrong_magic = bytes.clone();
    wrong_magic[0] ^= 0xff;
    assert!(matches!(decode_op(&wrong_magic), Err(LogError::BadMagic { .. })));
    let mut wrong_version = bytes.clone();
    wrong_version[4] = FORMAT_VERSION + 1;
    assert!(matches!(decode_op(&wrong_version), Err(LogError::UnsupportedVersion { .. })));
    let mut trailing = bytes;
    trailing.push(0);
    assert!(matches!(decode_op(&trailing), Err(LogError::Corrupt { .. })));
}

#[wasm_bindgen_test]
fn hashes_and_fingerprints_match_native() {
    assert_eq!(Hash::of(b"auroradb").to_hex(), HASH_OF_NAME);
    let mut total = RangeSum::default();
    for (kind, (name, len, hash)) in kinds().into_iter().zip(FIXED_OPS) {
        let encoded = EncodedOp::new(fixed_op(kind));
        assert_eq!(encoded.op.kind.name(), name);
        assert_eq!(encoded.bytes.len(), len, "{name}: encoded length");
        assert_eq!(encoded.hash.to_hex(), hash, "{name}: hash");
        total = total + RangeSum::one(&encoded.hash);
    }
    assert_eq!(total.count, 4);
    assert_eq!(total.fingerprint().to_string(), FIXED_FINGERPRINT);
}

#[wasm_bindgen_test]
fn two_logs_converge_and_verify() {
    let mut alice = browser_log();
    let mut bob = browser_log();
    let mut from_alice = Vec::new();
    let mut from_bob = Vec::new();
    for i in 0..5 {
        from_alice.push(alice.append(put(&format!("a{i}"), i)).expect("local append"));
        from_bob.push(bob.append(put(&format!("b{i}"), i)).expect("local append"));
    }
    from_bob.push(bob.append(OpKind::Remove { key: "a0".into() }).expect("local append"));
    from_bob.push(bob.append(OpKind::Txn(vec![Step::Remove { key: "b1".into() }])).expect("local append"));
    assert_ne!(alice.fingerprint(..), bob.fingerprint(..));

    // Batches arrive in any order.
    from_bob.reverse();
    assert_eq!(alice.insert_remote(from_bob.clone()).expect("bob's ops insert").len(), 7);
    assert_eq!(bob.insert_remote(from_alice).expect("alice's ops insert").len(), 5);
    // Inserting the same ops again changes nothing.
    assert!(alice.insert_remote(from_bob).expect("duplicates are accepted").is_empty());

    assert_eq!(alice.len(), 12);
    assert_eq!(alice.fingerprint(..), bob.fingerprint(..));
    let ids: Vec<OpId> = alice.ids(..).map(|(id, _)| *id).collect();
    assert_eq!(ids, bob.ids(..).map(|(id, _)| *id).collect::<Vec<_>>());
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids iterate in order");

    // Fingerprints of adjacent ranges combine into the whole, and match a naive sum.
    for mid in &ids {
        let (left, right) = (alice.summary(..*mid), alice.summary(*mid..));
        assert_eq!(left + right, alice.summary(..));
        assert_eq!(alice.fingerprint(*mid..), bob.fingerprint(*mid..));
        let naive = alice.ids(..*mid).fold(RangeSum::default(), |acc, (_, h)| acc + RangeSum::one(h));
        assert_eq!(left, naive);
    }

    let (a, b) = (alice.verify().expect("alice verifies"), bob.verify().expect("bob verifies"));
    assert_eq!((a.ops, a.authors), (12, 2));
    assert_eq!(a, b);
    assert_eq!(a.fingerprint, alice.fingerprint(..));
}

#[wasm_bindgen_test]
fn every_tampered_byte_is_caught() {
    let mut log = browser_log();
    for (i, kind) in kinds().into_iter().enumerate() {
        log.append(kind).expect("local append");
        log.append(put("k", i as i64)).expect("local append");
    }
    let recorded: BTreeMap<OpId, Hash> = log.ids(..).map(|(id, h)| (*id, *h)).collect();
    let heads = log.heads().clone();
    let ops: Vec<(OpId, Vec<u8>)> = log.range(..).map(|(id, b, _)| (id, b.to_vec())).collect();
    let check =
        |ops: &[(OpId, Vec<u8>)]| verify_ops(ops.iter().map(|(id, b)| Ok((*id, b.as_slice()))), &recorded, &heads);
    assert_eq!(check(&ops).expect("untouched log verifies").ops, 8);

    let mut tried = 0;
    for (i, (_, bytes)) in ops.iter().enumerate() {
        for pos in 0..bytes.len() {
            let mut tampered = ops.clone();
            tampered[i].1[pos] ^= 0x01;
            assert!(check(&tampered).is_err(), "op {i}, byte {pos} flipped but verified");
            tried += 1;
        }
    }
    assert!(tried > 8 * 60);

    // A dropped op is caught too.
    let mut dropped = ops.clone();
    dropped.remove(3);
    assert!(check(&dropped).is_err());
}

#[wasm_bindgen_test]
fn hlc_reads_date_now_and_bounds_drift() {
    let clock = Hlc::new(PeerId::random(), js_clock, DEFAULT_MAX_DRIFT);
    let before = Date::now() as u64;
    let first = clock.now();
    let after = Date::now() as u64;
    // NTP64 holds milliseconds inexactly: allow one of rounding either way.
    assert!(first.millis() + 1 >= before && first.millis() <= after + 1, "{first} not near Date.now()");
    let mut last = first;
    for _ in 0..100 {
        let next = clock.now();
        assert!(next > last);
        last = next;
    }

    let remote = PeerId::random();
    let near = OpId::from_millis(Date::now() as u64 + 60_000, remote);
    clock.observe(&near).expect("one minute ahead is within the bound");
    assert!(clock.now() > near, "the clock moved past an observed id");

    let far = OpId::from_millis(Date::now() as u64 + 10 * 60_000, remote);
    assert!(matches!(clock.check(&far), Err(LogError::ClockDrift { .. })));
    assert!(matches!(clock.observe(&far), Err(LogError::ClockDrift { .. })));
    assert!(clock.now() < far, "a rejected id was adopted into the clock");
}

fn bytes_js(bytes: &[u8]) -> JsValue {
    Uint8Array::from(bytes).into()
}

#[wasm_bindgen_test]
async fn indexeddb_round_trip_through_rexie() {
    let name = format!("auroradb-browser-test-{}", PeerId::random().to_hex());
    Rexie::delete(&name).await.expect("delete a leftover database");
    let db = Rexie::builder(&name)
        .version(1)
        .add_object_store(ObjectStore::new("log"))
        .build()
        .await
        .expect("open the database");

    let mut log = browser_log();
    for kind in kinds() {
        log.append(kind).expect("local append");
    }
    let ops = all_ops(&log);

    // Write the ops in reverse, keyed by their sortable id bytes, values the encoded ops.
    let tx = db.transaction(&["log"], TransactionMode::ReadWrite).expect("read-write transaction");
    let store = tx.store("log").expect("the log store");
    for op in ops.iter().rev() {
        store.put(&bytes_js(&op.bytes), Some(&bytes_js(&op.op.id.to_bytes()))).await.expect("put");
    }
    tx.done().await.expect("commit");

    let tx = db.transaction(&["log"], TransactionMode::ReadOnly).expect("read-only transaction");
    let store = tx.store("log").expect("the log store");
    let first = &ops[0];
    let value = store.get(bytes_js(&first.op.id.to_bytes())).await.expect("get").expect("the op is stored");
    let read = EncodedOp::decode(Uint8Array::new(&value).to_vec()).expect("stored bytes decode");
    assert_eq!(&read, first);

    // IndexedDB orders the binary keys like the ids.
    let keys = store.get_all_keys(None, None).await.expect("get all keys");
    let keys: Vec<OpId> =
        keys.iter().map(|k| OpId::from_bytes(&Uint8Array::new(k).to_vec()).expect("a stored key is an id")).collect();
    assert_eq!(keys, ops.iter().map(|o| o.op.id).collect::<Vec<_>>());
    let values = store.get_all(None, None).await.expect("get all");
    let read: Vec<EncodedOp> =
        values.iter().map(|v| EncodedOp::decode(Uint8Array::new(v).to_vec()).expect("decodes")).collect();
    assert_eq!(read, ops);
    let distinct: HashSet<Hash> = read.iter().map(|o| o.hash).collect();
    assert_eq!(distinct.len(), ops.len());
    tx.done().await.expect("finish reading");

    db.close();
    Rexie::delete(&name).await.expect("delete the database");
}
