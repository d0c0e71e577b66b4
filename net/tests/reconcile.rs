//! Reconciliation against a plain `BTreeMap` model: whatever the two sets, the frame limit and
//! the tuning, both sides end knowing exactly the two differences, every frame fits the limit,
//! and the number of round trips stays logarithmic.

use std::collections::{BTreeMap, BTreeSet};

use auroradb_log::{Hash, Hlc, Log, LogConfig, OpId, OpKind, PeerId, RangeSum, Value, manual_clock, set_manual_clock};
use auroradb_net::{IdRange, RangeIndex, ReconcileConfig, reconcile_pair};
use proptest::prelude::*;

/// The model: ids and hashes in a `BTreeMap`, and the running sums over them in a `Vec`.
struct Model {
    map: BTreeMap<OpId, Hash>,
    keys: Vec<OpId>,
    /// `prefix[i]`: the summary of the first `i` ids.
    prefix: Vec<RangeSum>,
}

impl Model {
    fn new(map: BTreeMap<OpId, Hash>) -> Model {
        let keys: Vec<OpId> = map.keys().copied().collect();
        let mut prefix = vec![RangeSum::default()];
        for h in map.values() {
            prefix.push(*prefix.last().unwrap() + RangeSum::one(h));
        }
        Model { map, keys, prefix }
    }
}

impl RangeIndex for Model {
    fn below(&self, bound: Option<&OpId>) -> RangeSum {
        let i = bound.map_or(self.keys.len(), |b| self.keys.partition_point(|k| k < b));
        self.prefix[i]
    }

    fn select(&self, k: u64) -> Option<(OpId, RangeSum)> {
        let id = *self.keys.get(k as usize)?;
        Some((id, self.prefix[k as usize]))
    }

    fn ids(&self, range: IdRange) -> Vec<OpId> {
        if range.is_empty() {
            return Vec::new();
        }
        self.map.range(range).map(|(id, _)| *id).collect()
    }
}

fn peer(i: u8) -> PeerId {
    PeerId([i + 1; 16])
}

fn item(time: u64, p: u8) -> (OpId, Hash) {
    let id = OpId { time, peer: peer(p) };
    (id, Hash::of(&id.to_bytes()))
}

/// `shared` ids in both, `only_a` / `only_b` in one side only.
fn sides(shared: &[(u64, u8)], only_a: &[(u64, u8)], only_b: &[(u64, u8)]) -> (Model, Model) {
    let base: BTreeMap<OpId, Hash> = shared.iter().map(|&(t, p)| item(t, p)).collect();
    let mut a = base.clone();
    let mut b = base;
    for &(t, p) in only_a {
        let (id, h) = item(t, p);
        if !b.contains_key(&id) {
            a.insert(id, h);
        }
    }
    for &(t, p) in only_b {
        let (id, h) = item(t, p);
        if !a.contains_key(&id) {
            b.insert(id, h);
        }
    }
    (Model::new(a), Model::new(b))
}

fn check(a: &Model, b: &Model, config: ReconcileConfig) -> auroradb_net::PairOutcome {
    let out = reconcile_pair(a, b, config).expect("reconciliation ends");
    let ka: BTreeSet<OpId> = a.map.keys().copied().collect();
    let kb: BTreeSet<OpId> = b.map.keys().copied().collect();
    assert_eq!(out.a_have, ka.difference(&kb).copied().collect::<Vec<_>>(), "what a ships");
    assert_eq!(out.b_have, kb.difference(&ka).copied().collect::<Vec<_>>(), "what b ships");
    let limit = config.clamped().max_frame;
    assert!(out.largest_frame <= limit, "frame of {} > {limit}", out.largest_frame);
    out
}

fn ids(max_time: u64) -> impl Strategy<Value = Vec<(u64, u8)>> {
    prop::collection::vec((0..max_time, 0..4u8), 0..300)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn finds_exactly_the_differences(
        shared in ids(5_000),
        only_a in ids(5_000),
        only_b in ids(5_000),
        branch in 2usize..20,
        id_list_max in 2usize..40,
        small_frames in any::<bool>(),
    ) {
        let (a, b) = sides(&shared, &only_a, &only_b);
        let max_frame = if small_frames { 0 } else { 1 << 20 };
        check(&a, &b, ReconcileConfig { branch, id_list_max, max_frame });
    }
}

#[test]
fn equal_sets_take_one_round_trip_of_constant_size() {
    let mut sizes = Vec::new();
    for n in [100u64, 10_000, 100_000] {
        let shared: Vec<(u64, u8)> = (0..n).map(|t| (t * 7, (t % 4) as u8)).collect();
        let (a, b) = sides(&shared, &[], &[]);
        let out = check(&a, &b, ReconcileConfig::default());
        assert_eq!(out.round_trips, 1);
        assert_eq!((out.frames_a, out.frames_b), (1, 1));
        sizes.push((out.bytes_a_to_b, out.bytes_b_to_a));
    }
    assert!(sizes.windows(2).all(|w| w[0] == w[1]), "bytes do not grow with the log: {sizes:?}");
    assert!(sizes[0].0 < 64 && sizes[0].1 < 64, "{sizes:?}");
}

#[test]
fn round_trips_grow_with_log_n_not_n() {
    for (n, max_trips) in [(1_000u64, 5), (100_000, 7)] {
        let shared: Vec<(u64, u8)> = (0..n).map(|t| (t * 3, (t % 4) as u8)).collect();
        // A few differences spread through the history, on both sides.
        let only_a: Vec<(u64, u8)> = (0..5).map(|i| (i * n / 5 * 3 + 1, 0)).collect();
        let only_b: Vec<(u64, u8)> = (0..5).map(|i| (i * n / 5 * 3 + 2, 1)).collect();
        let (a, b) = sides(&shared, &only_a, &only_b);
        let out = check(&a, &b, ReconcileConfig::default());
        assert!(out.round_trips <= max_trips, "n = {n}: {} round trips", out.round_trips);
        let bytes = out.bytes_a_to_b + out.bytes_b_to_a;
        assert!(bytes < 40_000, "n = {n}: {bytes} bytes for 10 differences");
    }
}

#[test]
fn a_small_frame_limit_costs_turns_not_failure() {
    let shared: Vec<(u64, u8)> = (0..20_000u64).map(|t| (t * 3, (t % 4) as u8)).collect();
    let only_a: Vec<(u64, u8)> = (0..2_000u64).map(|i| (i * 30 + 1, 2)).collect();
    let only_b: Vec<(u64, u8)> = (0..2_000u64).map(|i| (i * 30 + 2, 3)).collect();
    let (a, b) = sides(&shared, &only_a, &only_b);
    let big = check(&a, &b, ReconcileConfig { max_frame: 1 << 20, ..ReconcileConfig::default() });
    let small = check(&a, &b, ReconcileConfig { max_frame: 4096, ..ReconcileConfig::default() });
    assert!(small.round_trips > big.round_trips, "{} vs {}", small.round_trips, big.round_trips);
}

/// Turns full of small ranges fill the frame to the byte the size counter predicts: none may
/// overflow, whatever the limit.
#[test]
fn full_turns_never_overflow_the_frame() {
    let shared: Vec<(u64, u8)> = (0..30_000u64).map(|t| (t * 3, (t % 4) as u8)).collect();
    let only_a: Vec<(u64, u8)> = (0..1_500u64).map(|i| (i * 60 + 1, 2)).collect();
    let only_b: Vec<(u64, u8)> = (0..1_500u64).map(|i| (i * 60 + 31, 3)).collect();
    let (a, b) = sides(&shared, &only_a, &only_b);
    for max_frame in [4096, 6000, 16 << 10, 64 << 10] {
        for (branch, id_list_max) in [(16, 32), (2, 2), (64, 64)] {
            let out = check(&a, &b, ReconcileConfig { branch, id_list_max, max_frame });
            assert!(out.largest_frame > max_frame / 2, "{max_frame}: turns use the room they have");
        }
    }
}

#[test]
fn one_side_empty() {
    let shared: Vec<(u64, u8)> = Vec::new();
    let only_a: Vec<(u64, u8)> = (0..5_000u64).map(|t| (t, (t % 3) as u8)).collect();
    let (a, b) = sides(&shared, &only_a, &[]);
    let out = check(&a, &b, ReconcileConfig::default());
    assert_eq!(out.a_have.len(), 5_000);
    let out = check(&b, &a, ReconcileConfig::default());
    assert_eq!(out.b_have.len(), 5_000);
}

/// The `Log` implementation answers like the model.
#[test]
fn log_index_matches_the_model() {
    set_manual_clock(1_700_000_000_000);
    let config = LogConfig::default();
    let mut log = Log::new(Hlc::new(peer(0), manual_clock, config.max_drift), config);
    let mut other = Log::new(Hlc::new(peer(1), manual_clock, config.max_drift), config);
    for i in 0..300 {
        let op = other.append(OpKind::Put { key: format!("k{}", i % 7), value: Value::Int(i) }).unwrap();
        log.insert_remote(vec![op]).unwrap();
        log.append(OpKind::Remove { key: format!("k{}", i % 5) }).unwrap();
        if i % 10 == 0 {
            auroradb_log::advance_manual_clock(3);
        }
    }
    let model = Model::new(log.ids(..).map(|(id, h)| (*id, *h)).collect());
    let all: Vec<OpId> = model.keys.clone();
    let bounds: Vec<Option<OpId>> =
        std::iter::once(None).chain(all.iter().step_by(37).map(|id| Some(*id))).chain([Some(OpId::MIN)]).collect();
    for lo in bounds.iter().flatten().chain([&OpId::MIN]) {
        for hi in &bounds {
            let r = IdRange::new(*lo, *hi);
            assert_eq!(RangeIndex::summary(&log, r), model.summary(r));
            assert_eq!(RangeIndex::ids(&log, r), model.ids(r));
            for k in [0u64, 1, 17, 250, 599, 600] {
                assert_eq!(RangeIndex::nth_id(&log, r, k), model.nth_id(r, k), "{r:?} {k}");
            }
        }
    }
    // And reconciles like it.
    let half = Model::new(model.map.iter().filter(|(id, _)| id.peer == peer(1)).map(|(i, h)| (*i, *h)).collect());
    let out = reconcile_pair(&log, &half, ReconcileConfig::default()).unwrap();
    assert_eq!(out.a_have.len(), 300);
    assert!(out.b_have.is_empty());
}

/// The same ids, one op different under its id (an author's two ops with one id): the
/// fingerprints differ but the id lists do not, so each side asks for the ops of the range
/// where they differ, for the engine to compare their bodies. Equal sets still take one round
/// trip, with the same config.
#[test]
fn the_same_ids_with_one_other_body_are_asked_for() {
    for n in [5u64, 40, 1_000] {
        let shared: Vec<(u64, u8)> = (0..n).map(|t| (t * 7, (t % 4) as u8)).collect();
        let a: BTreeMap<OpId, Hash> = shared.iter().map(|&(t, p)| item(t, p)).collect();
        let mut b = a.clone();
        let (&odd, _) = b.iter().nth((n / 2) as usize).unwrap();
        b.insert(odd, Hash::of(b"another body"));
        let out = reconcile_pair(&Model::new(a), &Model::new(b), ReconcileConfig::default()).expect("ends");
        assert!(out.a_have.contains(&odd) || out.b_have.contains(&odd), "n = {n}: {out:?}");
        assert!(out.a_have.len() <= 32 && out.b_have.len() <= 32, "n = {n}: only the range's ops");
    }
}
