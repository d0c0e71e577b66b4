//! Property tests: convergence of the three convergent strategies, the timestamp strategy against
//! a plain model, indexes against a rebuild, the unique check, round trips, and decoding of
//! arbitrary bytes.

mod common;

use core::ops::Bound::Unbounded;
use std::collections::BTreeMap;

use auroradb_log::{Fingerprint, Op, OpId, OpKind, Step, Value};
use auroradb_snapshot::{
    Checkpoint, KeyRecord, MAGIC_CHECKPOINT, MAGIC_KEY_RECORD, MAGIC_STATE_META, State, StateConfig, StateMeta,
    compare_values,
};
use common::*;
use proptest::prelude::*;
use proptest::sample::Index;

// ---------------------------------------------------------------- generators

fn key() -> impl Strategy<Value = String> {
    (0..4u8).prop_map(|k| format!("k{k}"))
}

fn value() -> impl Strategy<Value = Value> {
    let field = prop_oneof![Just("a"), Just("b"), Just("version")];
    prop_oneof![
        4 => prop::collection::btree_map(field, (0..3i64).prop_map(Value::Int), 0..3)
            .prop_map(Value::map),
        1 => (0..3i64).prop_map(Value::Int),
        1 => Just(Value::from("text")),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (key(), value()).prop_map(|(key, value)| Step::Put { key, value }),
        1 => key().prop_map(|key| Step::Remove { key }),
    ]
}

fn kind() -> impl Strategy<Value = OpKind> {
    prop_oneof![
        6 => (key(), value()).prop_map(|(key, value)| OpKind::Put { key, value }),
        2 => key().prop_map(|key| OpKind::Remove { key }),
        1 => Just(OpKind::Clear),
        2 => prop::collection::vec(step(), 1..4).prop_map(OpKind::Txn),
    ]
}

/// Up to `n` ops with distinct ids: times 1..60 ms, authors 1..=3 (peer 1 is local).
fn ops(n: usize) -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec((1..60u64, 1..4u8, kind()), 0..n).prop_map(|raw| {
        let mut seen = std::collections::BTreeSet::new();
        raw.into_iter().filter(|(ms, p, _)| seen.insert((*ms, *p))).map(|(ms, p, kind)| op(ms, p, kind)).collect()
    })
}

/// Ops, and the same ops shuffled with some duplicated.
fn ops_and_mixed(n: usize) -> impl Strategy<Value = (Vec<Op>, Vec<Op>)> {
    ops(n).prop_flat_map(|ops| {
        let dups = prop::collection::vec((any::<Index>(), any::<Index>()), 0..6);
        (Just(ops.clone()), Just(ops).prop_shuffle(), dups).prop_map(|(ops, mut mixed, dups)| {
            if !ops.is_empty() {
                for (src, dst) in dups {
                    let op = mixed[src.index(mixed.len())].clone();
                    mixed.insert(dst.index(mixed.len() + 1), op);
                }
            }
            (ops, mixed)
        })
    })
}

fn any_strategy() -> impl Strategy<Value = auroradb_snapshot::Strategy> {
    prop::sample::select(vec!["timestamp", "version", "merge", "local-wins", "remote-wins"])
        .prop_map(|n| auroradb_snapshot::Strategy::from_name(n).unwrap())
}

fn config(strategy: auroradb_snapshot::Strategy) -> StateConfig {
    StateConfig::new(strategy, peer(1)).with_index("a", true).with_index("b", false)
}

fn run(config: StateConfig, ops: &[Op]) -> State {
    let mut s = State::new(config);
    for op in ops {
        s.apply(op);
    }
    s
}

fn sorted(ops: &[Op]) -> Vec<Op> {
    let mut v = ops.to_vec();
    v.sort_by_key(|o| o.id);
    v
}

/// Everything observable about a state: records, meta, visible pairs, index conflicts.
type Observed = (Vec<(String, KeyRecord)>, StateMeta, Vec<(String, Value)>, Vec<(String, Value, Vec<String>)>);

fn observe(s: &State) -> Observed {
    (s.records().map(|(k, r)| (k.to_owned(), r.clone())).collect(), s.meta().clone(), s.all(), s.index_conflicts())
}

/// The plain model of the timestamp strategy: replay in id order into a map of
/// key → (value, id, writes), a clear emptying it.
fn timestamp_model(ops: &[Op]) -> BTreeMap<String, (Value, OpId, u64)> {
    let mut shown: BTreeMap<String, (Value, OpId)> = BTreeMap::new();
    let mut writes: BTreeMap<String, u64> = BTreeMap::new();
    for op in sorted(ops) {
        match &op.kind {
            OpKind::Put { key, value } => {
                shown.insert(key.clone(), (value.clone(), op.id));
            }
            OpKind::Remove { key } => {
                shown.remove(key);
            }
            OpKind::Clear => shown.clear(),
            OpKind::Txn(steps) => {
                for s in steps {
                    match s {
                        Step::Put { key, value } => {
                            shown.insert(key.clone(), (value.clone(), op.id));
                        }
                        Step::Remove { key } => {
                            shown.remove(key);
                        }
                    }
                }
            }
        }
        let mut keys: Vec<&str> = match &op.kind {
            OpKind::Put { key, .. } | OpKind::Remove { key } => vec![key],
            OpKind::Clear => vec![],
            OpKind::Txn(steps) => steps.iter().map(Step::key).collect(),
        };
        keys.sort();
        keys.dedup();
        for k in keys {
            *writes.entry(k.to_owned()).or_default() += 1;
        }
    }
    shown.into_iter().map(|(k, (v, id))| (k.clone(), (v, id, writes[&k]))).collect()
}

/// An index computed from the visible entries: `(field value, key)` in index order.
fn naive_index(s: &State, field: &str) -> Vec<(Value, String)> {
    let mut rows: Vec<(Value, String)> =
        s.iter().filter_map(|(k, e)| e.value.field(field).map(|f| (f.clone(), k.to_owned()))).collect();
    rows.sort_by(|a, b| compare_values(&a.0, &b.0).then_with(|| a.1.cmp(&b.1)));
    rows
}

fn index_rows(s: &State, index: &str) -> Vec<(Value, String)> {
    s.index_range(index, Unbounded, Unbounded)
        .unwrap()
        .into_iter()
        .map(|(k, v)| (v.field(index).cloned().unwrap(), k))
        .collect()
}

fn conflict_sets(s: &State) -> BTreeMap<(String, String), Vec<String>> {
    s.index_conflicts().into_iter().map(|(i, v, keys)| ((i, auroradb_snapshot::render_value(&v)), keys)).collect()
}

// ---------------------------------------------------------------- properties

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Timestamp, version and merge: any order of the same ops, with duplicates, gives the same
    /// records, meta, visible state and index conflicts.
    #[test]
    fn convergent_strategies_converge((ops, mixed) in ops_and_mixed(24)) {
        for name in ["timestamp", "version", "merge"] {
            let strategy = auroradb_snapshot::Strategy::from_name(name).unwrap();
            let in_order = run(config(strategy.clone()), &sorted(&ops));
            let shuffled = run(config(strategy), &mixed);
            prop_assert_eq!(observe(&in_order), observe(&shuffled), "strategy {}", name);
            prop_assert_eq!(in_order.applied_count(), ops.len() as u64);
        }
    }

    /// Timestamp in any order equals a plain map replayed in id order (values, winning ids and
    /// write counts).
    #[test]
    fn timestamp_matches_the_model((ops, mixed) in ops_and_mixed(24)) {
        let s = run(config(auroradb_snapshot::Strategy::Timestamp), &mixed);
        let got: BTreeMap<String, (Value, OpId, u64)> =
            s.iter().map(|(k, e)| (k.to_owned(), (e.value.clone(), e.id, e.version))).collect();
        prop_assert_eq!(got, timestamp_model(&ops));
        prop_assert_eq!(s.len(), s.iter().count());
        prop_assert_eq!(s.high_water(), ops.iter().map(|o| o.id).max());
    }

    /// After random ops in any order, under any strategy, the indexes equal both an index
    /// computed from the visible entries and the indexes of a state restored from the records.
    #[test]
    fn indexes_equal_a_rebuild(strategy in any_strategy(), (_, mixed) in ops_and_mixed(24)) {
        let s = run(config(strategy.clone()), &mixed);
        let restored = State::restore(
            config(strategy),
            s.meta().clone(),
            s.records().map(|(k, r)| (k.to_owned(), r.clone())),
        ).unwrap();
        for index in ["a", "b"] {
            let naive = naive_index(&s, index);
            prop_assert_eq!(index_rows(&s, index).len(), naive.len());
            for ((v1, k1), (v2, k2)) in index_rows(&s, index).iter().zip(&naive) {
                prop_assert!(compare_values(v1, v2).is_eq() && k1 == k2);
            }
            prop_assert_eq!(index_rows(&restored, index), index_rows(&s, index));
            for n in 0..3 {
                let by = s.find_by(index, &Value::Int(n)).unwrap();
                let expected: Vec<_> = naive.iter().filter(|(v, _)| *v == Value::Int(n)).map(|(_, k)| k.clone()).collect();
                prop_assert_eq!(by.into_iter().map(|(k, _)| k).collect::<Vec<_>>(), expected);
            }
        }
        let naive_conflicts: Vec<_> = naive_index(&s, "a")
            .chunk_by(|x, y| compare_values(&x.0, &y.0).is_eq())
            .filter(|group| group.len() > 1)
            .map(|group| ("a".to_owned(), group[0].0.clone(), group.iter().map(|(_, k)| k.clone()).collect::<Vec<_>>()))
            .collect();
        prop_assert_eq!(s.index_conflicts(), naive_conflicts);
        prop_assert_eq!(restored.index_conflicts(), s.index_conflicts());
        prop_assert_eq!(restored.all(), s.all());
        prop_assert_eq!(restored.len(), s.len());
    }

    /// `check` accepts a local write exactly when applying it adds no key to a unique-index
    /// conflict.
    #[test]
    fn check_agrees_with_apply(strategy in any_strategy(), (_, mixed) in ops_and_mixed(16), kind in kind(), ms in 1..80u64) {
        let s = run(config(strategy), &mixed);
        let local = op(ms, 1, kind);
        let before = conflict_sets(&s);
        let mut after_state = s.clone();
        after_state.apply(&local);
        let grew = conflict_sets(&after_state).into_iter().any(|(value, keys)| {
            !before.get(&value).is_some_and(|old| keys.iter().all(|k| old.contains(k)))
        });
        prop_assert_eq!(s.check(&local).is_err(), grew, "{:?}", s.check(&local));
    }

    /// Records, meta and checkpoints of random states survive encoding.
    #[test]
    fn encodings_round_trip(strategy in any_strategy(), (_, mixed) in ops_and_mixed(24), fp in any::<[u8; 16]>()) {
        let s = run(config(strategy.clone()), &mixed);
        for (_, record) in s.records() {
            prop_assert_eq!(&KeyRecord::decode(&record.encode()).unwrap(), record);
        }
        prop_assert_eq!(&StateMeta::decode(&s.meta().encode()).unwrap(), s.meta());
        let at = s.high_water().unwrap_or(OpId::MIN);
        let bytes = Checkpoint::encode(&s, at, Fingerprint(fp));
        let cp = Checkpoint::decode(&bytes, config(strategy)).unwrap();
        prop_assert_eq!((cp.at, cp.log_fingerprint), (at, Fingerprint(fp)));
        prop_assert_eq!(observe(&cp.state), observe(&s));
    }

    /// A checkpoint with any byte changed is refused.
    #[test]
    fn tampered_checkpoints_are_refused((_, mixed) in ops_and_mixed(16), at in any::<Index>(), flip in 1..=255u8) {
        let s = run(config(auroradb_snapshot::Strategy::Merge), &mixed);
        let mut bytes = Checkpoint::encode(&s, OpId::MAX, Fingerprint([1; 16]));
        let i = at.index(bytes.len());
        bytes[i] ^= flip;
        prop_assert!(Checkpoint::decode(&bytes, config(auroradb_snapshot::Strategy::Merge)).is_err());
        prop_assert!(Checkpoint::peek(&bytes).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Arbitrary bytes, bare or behind a valid header (and, for checkpoints, a valid hash), never
    /// make a decoder panic.
    #[test]
    fn decoding_arbitrary_bytes_never_panics(body in prop::collection::vec(any::<u8>(), 0..160)) {
        let _ = KeyRecord::decode(&body);
        let _ = StateMeta::decode(&body);
        let _ = Checkpoint::decode(&body, config(auroradb_snapshot::Strategy::Timestamp));
        let _ = Checkpoint::peek(&body);
        for magic in [MAGIC_KEY_RECORD, MAGIC_STATE_META, MAGIC_CHECKPOINT] {
            let mut bytes = magic.to_vec();
            bytes.push(1);
            bytes.extend_from_slice(&body);
            let _ = KeyRecord::decode(&bytes);
            let _ = StateMeta::decode(&bytes);
            let hash = blake3::hash(&bytes);
            bytes.extend_from_slice(hash.as_bytes());
            for name in ["timestamp", "version", "merge", "local-wins", "remote-wins"] {
                let _ = Checkpoint::decode(&bytes, config(auroradb_snapshot::Strategy::from_name(name).unwrap()));
            }
            let _ = Checkpoint::peek(&bytes);
        }
    }

    /// Valid records with bytes changed either decode to a record that the state can use, or fail
    /// with a typed error; a decoded record never breaks a restored state.
    #[test]
    fn mutated_records_never_panic(strategy in any_strategy(), (_, mixed) in ops_and_mixed(12), edits in prop::collection::vec((any::<Index>(), any::<u8>()), 1..4)) {
        let s = run(config(strategy.clone()), &mixed);
        for (key, record) in s.records() {
            let mut bytes = record.encode();
            for (at, b) in &edits {
                let i = at.index(bytes.len());
                bytes[i] = *b;
            }
            if let Ok(decoded) = KeyRecord::decode(&bytes)
                && let Ok(mut restored) = State::restore(config(strategy.clone()), s.meta().clone(), [(key.to_owned(), decoded)])
            {
                for op in &mixed {
                    restored.apply(&op.clone());
                }
                let _ = restored.all();
            }
        }
    }
}
