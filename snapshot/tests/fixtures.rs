//! Golden fixtures: every encoded format of the snapshot crate, byte for byte, in
//! `snapshot/tests/fixtures/`.
//!
//! A change to any format makes this test fail until the fixtures are regenerated on purpose:
//!
//! ```text
//! AURORADB_BLESS=1 cargo test -p auroradb-snapshot --test fixtures
//! ```

mod common;

use std::path::PathBuf;

use auroradb_log::{Fingerprint, Value};
use auroradb_snapshot::{Checkpoint, KeyRecord, State, StateConfig, StateMeta, Strategy};
use common::*;

/// 2023-11-14T22:13:20Z.
const T0: u64 = 1_700_000_000_000;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn config(name: &str) -> StateConfig {
    StateConfig::new(Strategy::from_name(name).unwrap(), peer(0xa1)).with_index("email", true)
}

/// A small state under `strategy`: a record per interesting shape.
fn state(name: &str) -> State {
    let (alice, bob) = (0xa1, 0xb0);
    let user = |email: &str, version: i64| {
        Value::map([("email", Value::from(email)), ("version", Value::Int(version)), ("n", Value::Int(version))])
    };
    let mut s = State::new(config(name));
    for op in [
        put(T0, alice, "shown", user("a@x", 3)),
        put(T0 + 5, bob, "shown", Value::map([("n", Value::Int(7))])),
        put(T0 + 10, bob, "removed", user("b@x", 1)),
        remove(T0 + 20, alice, "removed"),
        put(T0 + 30, alice, "runner", user("c@x", 5)),
        put(T0 + 40, bob, "runner", user("c@x", 2)),
        clear(T0 - 10, bob),
        put(T0 - 20, alice, "cleared", user("d@x", 9)),
        put(T0 + 50, bob, "whole", Value::Bytes(vec![1, 2, 3])),
    ] {
        s.apply(&op);
    }
    s
}

/// `(file name, bytes)` of every fixture.
fn fixtures() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for name in ["timestamp", "version", "merge", "local-wins"] {
        let s = state(name);
        for (key, record) in s.records() {
            out.push((format!("record_{name}_{key}.bin"), record.encode()));
        }
        out.push((format!("meta_{name}.bin"), s.meta().encode()));
    }
    let s = state("merge");
    out.push(("checkpoint_merge.bin".into(), Checkpoint::encode(&s, s.high_water().unwrap(), Fingerprint([0x5f; 16]))));
    out
}

#[test]
fn encodings_match_the_fixtures() {
    let bless = std::env::var_os("AURORADB_BLESS").is_some();
    if bless {
        std::fs::create_dir_all(dir()).unwrap();
    }
    for (file, bytes) in fixtures() {
        let path = dir().join(&file);
        if bless {
            std::fs::write(&path, &bytes).unwrap();
            continue;
        }
        let golden = std::fs::read(&path).unwrap_or_else(|e| panic!("{file}: {e} (bless with AURORADB_BLESS=1)"));
        assert_eq!(golden, bytes, "{file} changed: a format change must be deliberate (AURORADB_BLESS=1)");
    }
}

#[test]
fn fixtures_decode_to_the_same_state() {
    for name in ["timestamp", "version", "merge", "local-wins"] {
        let s = state(name);
        for (key, record) in s.records() {
            let golden = std::fs::read(dir().join(format!("record_{name}_{key}.bin"))).unwrap();
            assert_eq!(KeyRecord::decode(&golden).unwrap(), *record, "{name} {key}");
        }
        let golden = std::fs::read(dir().join(format!("meta_{name}.bin"))).unwrap();
        assert_eq!(StateMeta::decode(&golden).unwrap(), *s.meta());
    }
    let golden = std::fs::read(dir().join("checkpoint_merge.bin")).unwrap();
    let cp = Checkpoint::decode(&golden, config("merge")).unwrap();
    let s = state("merge");
    assert_eq!(cp.state.all(), s.all());
    assert!(cp.state.records().eq(s.records()));
    assert_eq!(cp.log_fingerprint, Fingerprint([0x5f; 16]));
}

#[test]
fn the_fixture_states_cover_each_record_shape() {
    let v = state("version");
    let runner = v.record("runner").unwrap();
    assert_eq!(runner.visible().unwrap().value.field("version"), Some(&Value::Int(5)));
    let m = state("merge");
    assert_eq!(m.get("shown").unwrap().value.field("n"), Some(&Value::Int(7)));
    assert_eq!(m.get("shown").unwrap().value.field("email"), Some(&Value::from("a@x")));
    for name in ["timestamp", "version", "merge", "local-wins"] {
        let s = state(name);
        assert!(s.get("removed").is_none(), "{name}");
        assert!(s.get("cleared").is_none() && s.record("cleared").unwrap().writes() == 1, "{name}");
        assert_eq!(s.get("whole").unwrap().value, Value::Bytes(vec![1, 2, 3]));
        assert_eq!(s.meta().clear(), Some(clear(T0 - 10, 0xb0).id));
    }
}
