//! The log against a plain model: a `BTreeMap` from op id to op hash.

mod common;

use std::collections::BTreeMap;
use std::ops::{Bound, RangeBounds};

use auroradb_log::{Hash, LogConfig, OpId, RangeSum, SumIndex};
use common::{build, merged, peer, script};
use proptest::prelude::*;
use proptest::sample::Index;

/// An id to bound a range with: one the log holds, or one near them, or an extreme.
#[derive(Debug, Clone)]
enum Pick {
    Held(Index),
    Near(u64, u8),
    Min,
    Max,
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        6 => any::<Index>().prop_map(Pick::Held),
        3 => (0..2_000u64, 0..4u8).prop_map(|(t, p)| Pick::Near(t, p)),
        1 => Just(Pick::Min),
        1 => Just(Pick::Max),
    ]
}

fn resolve(pick: &Pick, ids: &[OpId]) -> OpId {
    match pick {
        Pick::Held(i) if !ids.is_empty() => ids[i.index(ids.len())],
        Pick::Held(_) | Pick::Min => OpId::MIN,
        // Times around the scripts' (T0 plus a few ms per write), counters included.
        Pick::Near(t, p) => OpId { time: OpId::from_millis(common::T0, peer(*p)).time + t * 4, peer: peer(*p) },
        Pick::Max => OpId::MAX,
    }
}

/// 0: unbounded, 1: included, 2: excluded.
fn bound() -> impl Strategy<Value = (u8, Pick)> {
    (0..3u8, pick())
}

fn to_bound(b: &(u8, Pick), ids: &[OpId]) -> Bound<OpId> {
    match b.0 {
        0 => Bound::Unbounded,
        1 => Bound::Included(resolve(&b.1, ids)),
        _ => Bound::Excluded(resolve(&b.1, ids)),
    }
}

/// `a + b` for 256-bit little-endian numbers, written independently of `Sum256`.
fn add_le(acc: &mut [u8; 32], x: &[u8; 32]) {
    let mut carry = 0u16;
    for i in 0..32 {
        let s = acc[i] as u16 + x[i] as u16 + carry;
        acc[i] = s as u8;
        carry = s >> 8;
    }
}

/// Count and little-endian hash sum of the model's ops in `range`, by scanning.
fn naive_sum(model: &BTreeMap<OpId, Hash>, range: &impl RangeBounds<OpId>) -> (u64, [u8; 32]) {
    let mut sum = [0u8; 32];
    let mut count = 0;
    for (_, h) in model.iter().filter(|(id, _)| range.contains(id)) {
        add_le(&mut sum, &h.0);
        count += 1;
    }
    (count, sum)
}

/// blake3(sum || count as u64 LE), first 16 bytes.
fn naive_fingerprint(model: &BTreeMap<OpId, Hash>, range: &impl RangeBounds<OpId>) -> [u8; 16] {
    let (count, sum) = naive_sum(model, range);
    let mut hasher = blake3::Hasher::new();
    hasher.update(&sum);
    hasher.update(&count.to_le_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    out
}

fn config() -> LogConfig {
    LogConfig { segment_ops: 4, ..LogConfig::default() }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn log_matches_the_model(
        script in script(3, 40),
        seed in any::<u64>(),
        ranges in prop::collection::vec((bound(), bound()), 8),
    ) {
        let ops = build(&script);
        let model: BTreeMap<OpId, Hash> = ops.iter().map(|o| (o.op.id, o.hash)).collect();
        let bytes: BTreeMap<OpId, &[u8]> = ops.iter().map(|o| (o.op.id, o.bytes.as_slice())).collect();
        let log = merged(&ops, seed, config());
        let ids: Vec<OpId> = model.keys().copied().collect();

        prop_assert_eq!(log.len(), model.len());
        prop_assert_eq!(log.ids(..).map(|(i, h)| (*i, *h)).collect::<Vec<_>>(),
            model.iter().map(|(i, h)| (*i, *h)).collect::<Vec<_>>());
        prop_assert_eq!(log.last_id(), ids.last().copied());

        for (lo, hi) in &ranges {
            let range = (to_bound(lo, &ids), to_bound(hi, &ids));
            let want: Vec<(OpId, Hash)> =
                model.iter().filter(|(id, _)| range.contains(id)).map(|(i, h)| (*i, *h)).collect();
            prop_assert_eq!(log.ids(range).map(|(i, h)| (*i, *h)).collect::<Vec<_>>(), want.clone());
            let got: Vec<(OpId, Vec<u8>, Hash)> = log.range(range).map(|(i, b, h)| (i, b.to_vec(), *h)).collect();
            let want_bytes: Vec<(OpId, Vec<u8>, Hash)> =
                want.iter().map(|(i, h)| (*i, bytes[i].to_vec(), *h)).collect();
            prop_assert_eq!(got, want_bytes);
            let decoded: Vec<OpId> = log.ops(range).map(|o| o.map(|o| o.id)).collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(decoded, want.iter().map(|(i, _)| *i).collect::<Vec<_>>());

            for k in 0..=want.len() as u64 + 1 {
                prop_assert_eq!(log.nth_id(range, k), want.get(k as usize).map(|(i, _)| *i));
            }

            prop_assert_eq!(log.fingerprint(range).0, naive_fingerprint(&model, &range));
            let (count, sum) = naive_sum(&model, &range);
            let summary = log.summary(range);
            prop_assert_eq!((summary.count, summary.sum.to_bytes()), (count, sum));
        }

        let report = log.verify().unwrap();
        prop_assert_eq!(report.ops, model.len() as u64);
        prop_assert_eq!(report.fingerprint.0, naive_fingerprint(&model, &(..)));
    }

    #[test]
    fn adjacent_ranges_add_up(
        script in script(3, 40),
        cuts in prop::collection::vec(pick(), 1..6),
    ) {
        let ops = build(&script);
        let log = merged(&ops, 7, config());
        let ids: Vec<OpId> = log.ids(..).map(|(i, _)| *i).collect();
        let mut cuts: Vec<OpId> = cuts.iter().map(|p| resolve(p, &ids)).collect();
        cuts.sort();
        // (.., c0) + [c0, c1) + ... + [cn, ..) is the whole.
        let mut total = log.summary(..cuts[0]);
        for w in cuts.windows(2) {
            let part = log.summary(w[0]..w[1]);
            prop_assert_eq!(log.summary(..w[0]) + part, log.summary(..w[1]));
            total = total + part;
        }
        total = total + log.summary(*cuts.last().unwrap()..);
        prop_assert_eq!(total, log.summary(..));
        prop_assert_eq!(total.fingerprint(), log.fingerprint(..));
        // Inclusive and exclusive ends meet too.
        let c = cuts[0];
        prop_assert_eq!(log.summary(..=c) + log.summary((Bound::Excluded(c), Bound::Unbounded)), log.summary(..));
    }

    #[test]
    fn arrival_order_does_not_change_fingerprints(
        script in script(4, 30),
        seeds in (any::<u64>(), any::<u64>()),
        ranges in prop::collection::vec((bound(), bound()), 4),
    ) {
        let ops = build(&script);
        let a = merged(&ops, seeds.0, config());
        let b = merged(&ops, seeds.1, LogConfig::default());
        let ids: Vec<OpId> = a.ids(..).map(|(i, _)| *i).collect();
        prop_assert_eq!(a.fingerprint(..), b.fingerprint(..));
        prop_assert_eq!(a.heads(), b.heads());
        for (lo, hi) in &ranges {
            let range = (to_bound(lo, &ids), to_bound(hi, &ids));
            prop_assert_eq!(a.fingerprint(range), b.fingerprint(range));
        }
    }

    #[test]
    fn segments_partition_the_log_and_previews_are_exact(
        script in script(3, 40),
        seed in any::<u64>(),
    ) {
        let ops = build(&script);
        let mut rng = common::Rng(seed | 1);
        let mut log = common::log_of(peer(99), config());
        let mut store = BTreeMap::new();
        let mut rest = &ops[..];
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len().min(6));
            let mut chunk = rest[..n].to_vec();
            let held = ops.len() - rest.len();
            if held > 0 && rng.below(2) == 0 {
                // An op the log already has rides along: a no-op for both.
                chunk.push(ops[rng.below(held)].clone());
            }
            rng.shuffle(&mut chunk);
            rest = &rest[n..];
            let new: Vec<(OpId, Hash)> = chunk.iter().map(|o| (o.op.id, o.hash)).collect();
            let preview = log.preview_segments(&new);
            log.insert_remote(chunk).unwrap();
            let changes = log.take_segment_changes();
            prop_assert_eq!(&preview, &changes);
            for key in changes.delete {
                store.remove(&key);
            }
            for (key, rec) in changes.put {
                store.insert(key, rec);
            }
        }
        let mut members = Vec::new();
        for (key, rec) in &store {
            prop_assert!(!rec.members.is_empty() && rec.members.len() <= 4);
            prop_assert_eq!(rec.members[0].0, *key);
            members.extend(rec.members.iter().copied());
        }
        prop_assert_eq!(members, log.ids(..).map(|(i, h)| (*i, *h)).collect::<Vec<_>>());
        let from_segments = log.segments().summaries().fold(RangeSum::default(), |acc, s| acc + s.sum);
        prop_assert_eq!(from_segments, log.summary(..));
    }

    #[test]
    fn sum_index_matches_naive_prefix_sums_ranks_and_selects(
        entries in prop::collection::vec((0..300u64, 0..3u8, any::<u32>()), 0..120),
        probes in prop::collection::vec((0..320u64, 0..4u8, any::<bool>()), 1..20),
    ) {
        let mut index = SumIndex::new();
        let mut model = BTreeMap::new();
        for (t, p, h) in entries {
            let id = OpId { time: t, peer: peer(p) };
            let hash = Hash::of(&h.to_le_bytes());
            let fresh = !model.contains_key(&id);
            if fresh {
                model.insert(id, hash);
            }
            prop_assert_eq!(index.insert(id, &hash), fresh);
        }
        prop_assert_eq!(index.len(), model.len());
        let as_pair = |s: RangeSum| (s.count, s.sum.to_bytes());
        prop_assert_eq!(as_pair(index.total()), naive_sum(&model, &(..)));
        let probes: Vec<(OpId, bool)> =
            probes.into_iter().map(|(t, p, inc)| (OpId { time: t, peer: peer(p) }, inc)).collect();
        for (id, inclusive) in &probes {
            prop_assert_eq!(index.contains(id), model.contains_key(id));
            prop_assert_eq!(index.rank(id), model.range(..*id).count() as u64);
            prop_assert_eq!(as_pair(index.below(id)), naive_sum(&model, &(..*id)));
            let want = if *inclusive { naive_sum(&model, &(..=*id)) } else { naive_sum(&model, &(..*id)) };
            prop_assert_eq!(as_pair(index.prefix(id, *inclusive)), want);
        }
        for (k, id) in model.keys().enumerate() {
            prop_assert_eq!(index.select(k as u64), Some(*id));
        }
        prop_assert_eq!(index.select(model.len() as u64), None);
        for w in probes.windows(2) {
            let (lo, hi) = (w[0].0, w[1].0);
            let want = if lo < hi { naive_sum(&model, &(lo..hi)) } else { (0, [0; 32]) };
            prop_assert_eq!(as_pair(index.range(&lo, &hi)), want);
        }
    }
}
