//! Encodings of key records, state meta and checkpoints: round trips, typed errors on bad bytes,
//! and tamper detection.

mod common;

use auroradb_log::{Fingerprint, OpId, Value};
use auroradb_snapshot::{
    Checkpoint, KeyRecord, MAGIC_CHECKPOINT, MAGIC_KEY_RECORD, MAGIC_STATE_META, SnapshotError, State, StateConfig,
    StateMeta, Strategy,
};
use common::*;

fn config(strategy: Strategy) -> StateConfig {
    StateConfig::new(strategy, peer(1)).with_index("a", true)
}

fn sample(strategy: Strategy) -> State {
    let mut s = State::new(config(strategy));
    for op in [
        put(10, 1, "k1", fields(&[("a", 1), ("version", 2)])),
        put(20, 2, "k1", fields(&[("b", 2), ("version", 1)])),
        put(15, 3, "k2", Value::from("whole")),
        remove(25, 2, "k2"),
        put(30, 1, "k3", fields(&[("a", 1)])),
        clear(12, 3),
        txn(40, 2, vec![step_put("k4", Value::Bytes(vec![1, 2])), step_remove("k5")]),
    ] {
        s.apply(&op);
    }
    s
}

const STRATEGIES: [&str; 5] = ["timestamp", "version", "merge", "local-wins", "remote-wins"];

#[test]
fn records_and_meta_round_trip() {
    for name in STRATEGIES {
        let s = sample(Strategy::from_name(name).unwrap());
        for (key, record) in s.records() {
            let bytes = record.encode();
            assert_eq!(&bytes[..4], &MAGIC_KEY_RECORD);
            assert_eq!(KeyRecord::decode(&bytes).unwrap(), *record, "{name} {key}");
            assert_eq!(record.entry().as_ref(), record.visible());
        }
        let meta = s.meta().encode();
        assert_eq!(&meta[..4], &MAGIC_STATE_META);
        assert_eq!(StateMeta::decode(&meta).unwrap(), *s.meta());
        assert_eq!(s.meta().strategy(), name);
        assert_eq!(s.meta().applied(), 7);
    }
}

#[test]
fn restore_rebuilds_the_same_state() {
    for name in STRATEGIES {
        let s = sample(Strategy::from_name(name).unwrap());
        let records = s.records().map(|(k, r)| (k.to_owned(), KeyRecord::decode(&r.encode()).unwrap()));
        let restored = State::restore(config(s.config().strategy.clone()), s.meta().clone(), records).unwrap();
        assert_eq!(restored.all(), s.all());
        assert_eq!(restored.len(), s.len());
        assert_eq!(restored.index_conflicts(), s.index_conflicts());
        assert!(restored.records().eq(s.records()));
    }
}

#[test]
fn restore_refuses_another_strategy() {
    let s = sample(Strategy::Merge);
    let err = State::restore(config(Strategy::Timestamp), s.meta().clone(), []).unwrap_err();
    assert_eq!(err, SnapshotError::StrategyMismatch { stored: "merge".into(), configured: "timestamp".into() });
    // Records of another strategy under matching meta are corrupt.
    let t = sample(Strategy::Timestamp);
    let records: Vec<_> = t.records().map(|(k, r)| (k.to_owned(), r.clone())).collect();
    assert!(matches!(
        State::restore(config(Strategy::Merge), s.meta().clone(), records),
        Err(SnapshotError::Corrupt { .. })
    ));
}

#[test]
fn bad_headers_are_typed_errors() {
    let record = sample(Strategy::Timestamp).record("k1").unwrap().encode();
    let mut wrong_magic = record.clone();
    wrong_magic[0] = b'X';
    assert!(matches!(KeyRecord::decode(&wrong_magic), Err(SnapshotError::BadMagic { .. })));
    let mut wrong_version = record.clone();
    wrong_version[4] = 9;
    assert!(matches!(KeyRecord::decode(&wrong_version), Err(SnapshotError::UnsupportedVersion { found: 9, .. })));
    assert!(matches!(KeyRecord::decode(&record[..record.len() - 1]), Err(SnapshotError::Corrupt { .. })));
    let mut trailing = record.clone();
    trailing.push(0);
    assert!(matches!(KeyRecord::decode(&trailing), Err(SnapshotError::Corrupt { .. })));
    assert!(matches!(StateMeta::decode(&record), Err(SnapshotError::BadMagic { .. })));
    assert!(matches!(KeyRecord::decode(&[]), Err(SnapshotError::BadMagic { .. })));
}

#[test]
fn checkpoint_round_trip_and_peek() {
    for name in STRATEGIES {
        let s = sample(Strategy::from_name(name).unwrap());
        let at = s.high_water().unwrap();
        let fp = Fingerprint([7; 16]);
        let bytes = Checkpoint::encode(&s, at, fp);
        assert_eq!(&bytes[..4], &MAGIC_CHECKPOINT);
        assert_eq!(Checkpoint::peek(&bytes).unwrap(), (at, fp));
        let cp = Checkpoint::decode(&bytes, config(s.config().strategy.clone())).unwrap();
        assert_eq!((cp.at, cp.log_fingerprint), (at, fp));
        assert_eq!(cp.state.all(), s.all());
        assert_eq!(cp.state.meta(), s.meta());
        assert!(cp.state.records().eq(s.records()));
        // The checkpointed state goes on applying ops like the original.
        let (mut a, mut b) = (s.clone(), cp.state);
        let next = put(50, 2, "k1", fields(&[("a", 9), ("version", 9)]));
        assert_eq!(a.apply(&next), b.apply(&next));
        assert!(a.records().eq(b.records()));
    }
}

#[test]
fn any_changed_byte_of_a_checkpoint_is_detected() {
    let s = sample(Strategy::Merge);
    let bytes = Checkpoint::encode(&s, s.high_water().unwrap(), Fingerprint([3; 16]));
    for i in 0..bytes.len() {
        for flip in [0x01u8, 0x80] {
            let mut bad = bytes.clone();
            bad[i] ^= flip;
            let err = Checkpoint::decode(&bad, config(Strategy::Merge)).unwrap_err();
            let expected = match i {
                0..4 => matches!(err, SnapshotError::BadMagic { .. }),
                4 => matches!(err, SnapshotError::UnsupportedVersion { .. }),
                _ => matches!(err, SnapshotError::HashMismatch { what: "checkpoint" }),
            };
            assert!(expected, "byte {i}: {err:?}");
            assert!(Checkpoint::peek(&bad).is_err());
        }
    }
    for len in 0..bytes.len() {
        assert!(Checkpoint::decode(&bytes[..len], config(Strategy::Merge)).is_err(), "truncated to {len}");
    }
    // A valid checkpoint under the wrong strategy.
    assert!(matches!(
        Checkpoint::decode(&bytes, config(Strategy::Timestamp)),
        Err(SnapshotError::StrategyMismatch { .. })
    ));
}

#[test]
fn an_empty_state_checkpoints_too() {
    let s = State::new(config(Strategy::Timestamp));
    let bytes = Checkpoint::encode(&s, OpId::MIN, Fingerprint::default());
    let cp = Checkpoint::decode(&bytes, config(Strategy::Timestamp)).unwrap();
    assert!(cp.state.is_empty());
    assert_eq!(cp.state.applied_count(), 0);
}
