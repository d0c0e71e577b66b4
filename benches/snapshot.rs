//! Benchmarks of the materialized state: the apply rate into `State` for 100k and 1M ops next to
//! plain `BTreeMap` inserts of the same data, `diff` of two states derived from a 1M-op workload
//! next to a plain merge walk over two maps, and `history(key)` of a hot key next to sorting and
//! replaying its ops into a map. A summary table follows the criterion groups.
//!
//! `cargo bench -p auroradb-benches --bench snapshot -- --quick`

use std::collections::{BTreeMap, HashSet};
use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use auroradb_benches::{Row, summary_table, time_per_iter};
use auroradb_log::{Hash, Op, OpId, OpKind, PeerId, Step, Value};
use auroradb_snapshot::{State, StateConfig, Strategy, diff, history};
use criterion::{Criterion, Throughput};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Sizes of the apply benchmarks.
const SIZES: [usize; 2] = [100_000, 1_000_000];
/// Ops that turn the 1M-op state into the second state of the diff.
const DIFF_MORE: usize = 10_000;
/// Ops on the hot key of the history benchmark.
const HOT_OPS: usize = 10_000;
const HOT_KEY: &str = "user:hot";
const T0: u64 = 1_700_000_000_000;

fn peer(n: u8) -> PeerId {
    PeerId([n; 16])
}

fn record(k: u64, rng: &mut SmallRng) -> Value {
    Value::map([
        ("name", Value::String(format!("user {k}"))),
        ("age", Value::Int(rng.gen_range(18..90))),
        ("version", Value::Int(rng.gen_range(0..8))),
    ])
}

/// `n` ops from 4 authors over `n / 4` keys, in arrival order: ids mostly increasing, 2% arriving
/// late (up to a second older than the newest); 90% puts, 8% removes, 2% three-put transactions.
fn workload(n: usize, seed: u64, start_ms: u64) -> Vec<Op> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let keys = (n / 4).max(1) as u64;
    let mut ids = HashSet::with_capacity(n);
    (0..n as u64)
        .map(|i| {
            let author = peer(rng.gen_range(1..=4));
            let late = if rng.gen_bool(0.02) { rng.gen_range(1..1000) } else { 0 };
            // Two milliseconds per op, the late ones moved back; a clash bumps the HLC counter.
            let mut id = OpId::from_millis(start_ms + i * 2 + 1000 - late, author);
            while !ids.insert(id) {
                id.time += 1;
            }
            let key = |rng: &mut SmallRng| {
                let k = rng.gen_range(0..keys);
                (k, format!("user:{k:08}"))
            };
            let roll = rng.gen_range(0..100);
            let kind = if roll < 90 {
                let (k, key) = key(&mut rng);
                OpKind::Put { key, value: record(k, &mut rng) }
            } else if roll < 98 {
                OpKind::Remove { key: key(&mut rng).1 }
            } else {
                OpKind::Txn(
                    (0..3)
                        .map(|_| {
                            let (k, key) = key(&mut rng);
                            Step::Put { key, value: record(k, &mut rng) }
                        })
                        .collect(),
                )
            };
            Op { id, author, seq: i + 1, prev: Hash::ZERO, kind }
        })
        .collect()
}

/// The plain baseline: the same ops into a `BTreeMap<String, Value>`, inserts and removes only.
fn btree_apply(map: &mut BTreeMap<String, Value>, op: &Op) {
    match &op.kind {
        OpKind::Put { key, value } => {
            map.insert(key.clone(), value.clone());
        }
        OpKind::Remove { key } => {
            map.remove(key);
        }
        OpKind::Clear => map.clear(),
        OpKind::Txn(steps) => {
            for s in steps {
                match s {
                    Step::Put { key, value } => {
                        map.insert(key.clone(), value.clone());
                    }
                    Step::Remove { key } => {
                        map.remove(key);
                    }
                }
            }
        }
    }
}

fn config(strategy: Strategy) -> StateConfig {
    StateConfig::new(strategy, peer(1))
}

fn indexed_config() -> StateConfig {
    config(Strategy::Timestamp).with_index("age", false).with_index("name", true)
}

/// Workloads, built once per size.
fn ops(n: usize) -> &'static [Op] {
    static SMALL: OnceLock<Vec<Op>> = OnceLock::new();
    static LARGE: OnceLock<Vec<Op>> = OnceLock::new();
    let cell = if n == SIZES[0] { &SMALL } else { &LARGE };
    cell.get_or_init(|| workload(n, n as u64, T0))
}

/// Times `iters` full applies of `ops` into fresh states; building and dropping them is not timed.
fn timed_state(iters: u64, config: &StateConfig, ops: &[Op]) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let mut state = State::new(config.clone());
        let start = Instant::now();
        for op in ops {
            black_box(state.apply(op));
        }
        total += start.elapsed();
        drop(state);
    }
    total
}

fn timed_btree(iters: u64, ops: &[Op]) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let mut map = BTreeMap::new();
        let start = Instant::now();
        for op in ops {
            btree_apply(&mut map, op);
        }
        total += start.elapsed();
        black_box(&map);
        drop(map);
    }
    total
}

fn apply_group(c: &mut Criterion, n: usize) {
    let ops = ops(n);
    let mut g = c.benchmark_group(format!("apply {n} ops"));
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(if n > 100_000 { 20 } else { 5 }));
    let strategies: &[&str] =
        if n > 100_000 { &["timestamp"] } else { &["timestamp", "version", "merge", "local-wins"] };
    for name in strategies {
        let config = config(Strategy::from_name(name).expect("a strategy"));
        g.bench_function(format!("State::apply ({name})"), |b| b.iter_custom(|iters| timed_state(iters, &config, ops)));
    }
    let indexed = indexed_config();
    g.bench_function("State::apply (timestamp, 2 indexes)", |b| {
        b.iter_custom(|iters| timed_state(iters, &indexed, ops))
    });
    g.bench_function("raw BTreeMap insert/remove (same ops)", |b| b.iter_custom(|iters| timed_btree(iters, ops)));
    g.finish();
}

/// Two states of the diff: after the 1M-op workload, and after 10k more ops; and the same as
/// plain maps.
struct DiffPair {
    before: State,
    after: State,
    map_before: BTreeMap<String, Value>,
    map_after: BTreeMap<String, Value>,
}

fn diff_pair() -> &'static DiffPair {
    static PAIR: OnceLock<DiffPair> = OnceLock::new();
    PAIR.get_or_init(|| {
        let start = Instant::now();
        let base = ops(SIZES[1]);
        let more = workload(DIFF_MORE, 99, T0 + 3 * SIZES[1] as u64);
        let mut before = State::new(config(Strategy::Timestamp));
        let mut map_before = BTreeMap::new();
        for op in base {
            before.apply(op);
            btree_apply(&mut map_before, op);
        }
        let (mut after, mut map_after) = (before.clone(), map_before.clone());
        for op in &more {
            after.apply(op);
            btree_apply(&mut map_after, op);
        }
        eprintln!(
            "built the diff states ({} and {} visible keys) in {:.2?}",
            before.len(),
            after.len(),
            start.elapsed()
        );
        DiffPair { before, after, map_before, map_after }
    })
}

/// The plain floor of a diff: one merge walk over two maps, counting differences.
fn map_diff(a: &BTreeMap<String, Value>, b: &BTreeMap<String, Value>) -> usize {
    let (mut x, mut y) = (a.iter().peekable(), b.iter().peekable());
    let mut differences = 0;
    loop {
        match (x.peek(), y.peek()) {
            (None, None) => return differences,
            (Some(_), None) => {
                x.next();
                differences += 1;
            }
            (None, Some(_)) => {
                y.next();
                differences += 1;
            }
            (Some((ka, va)), Some((kb, vb))) => match ka.cmp(kb) {
                std::cmp::Ordering::Less => {
                    x.next();
                    differences += 1;
                }
                std::cmp::Ordering::Greater => {
                    y.next();
                    differences += 1;
                }
                std::cmp::Ordering::Equal => {
                    differences += usize::from(va != vb);
                    x.next();
                    y.next();
                }
            },
        }
    }
}

fn diff_group(c: &mut Criterion) {
    let pair = diff_pair();
    let mut g = c.benchmark_group("diff, states of 1M and 1M+10k ops");
    g.sample_size(10);
    g.bench_function("diff(State, State)", |b| b.iter(|| diff(black_box(&pair.before), black_box(&pair.after))));
    g.bench_function("raw merge walk over two BTreeMaps (same contents)", |b| {
        b.iter(|| map_diff(black_box(&pair.map_before), black_box(&pair.map_after)))
    });
    g.finish();
}

/// Ops on one hot key (4 authors, 10% removes, a clear every 2000 ops), shuffled a little.
fn hot_ops() -> Vec<Op> {
    let mut rng = SmallRng::seed_from_u64(5);
    let mut ops: Vec<Op> = (0..HOT_OPS as u64)
        .map(|i| {
            let author = peer(rng.gen_range(1..=4));
            let kind = if i % 2000 == 1999 {
                OpKind::Clear
            } else if rng.gen_bool(0.1) {
                OpKind::Remove { key: HOT_KEY.into() }
            } else {
                OpKind::Put { key: HOT_KEY.into(), value: record(i, &mut rng) }
            };
            Op { id: OpId::from_millis(T0 + i * 2, author), author, seq: i + 1, prev: Hash::ZERO, kind }
        })
        .collect();
    for i in 0..ops.len() / 50 {
        let j = rng.gen_range(0..ops.len());
        ops.swap(i * 50, j);
    }
    ops
}

/// The plain floor of a history: sort the ops by id and replay them into a map.
fn raw_history(ops: &[Op]) -> usize {
    let mut sorted = ops.to_vec();
    sorted.sort_by_key(|o| o.id);
    let mut map = BTreeMap::new();
    for op in &sorted {
        btree_apply(&mut map, op);
    }
    map.len()
}

fn history_group(c: &mut Criterion) {
    let ops = hot_ops();
    let mut g = c.benchmark_group(format!("history of a key with {HOT_OPS} ops"));
    g.throughput(Throughput::Elements(HOT_OPS as u64));
    for name in ["timestamp", "version", "merge"] {
        let config = config(Strategy::from_name(name).expect("a strategy"));
        g.bench_function(format!("history ({name})"), |b| {
            b.iter(|| history(&config, HOT_KEY, black_box(&ops).iter().cloned()))
        });
    }
    g.bench_function("raw clone + sort + BTreeMap replay (same ops)", |b| b.iter(|| raw_history(black_box(&ops))));
    g.finish();
}

/// The same comparisons, timed with `std::time`.
fn summary() {
    let budget = Duration::from_secs(2);
    let per_op = |total: Duration, n: usize| total / n as u32;
    let mut rows = Vec::new();
    for n in SIZES {
        let ops = ops(n);
        let raw = per_op(timed_btree(1, ops), n);
        for (what, config) in [("", config(Strategy::Timestamp)), (", 2 indexes", indexed_config())] {
            rows.push(Row {
                what: format!("State::apply, {}k ops{what}", n / 1000),
                ours: per_op(timed_state(1, &config, ops), n),
                raw,
                raw_what: "BTreeMap insert/remove".into(),
                bytes: None,
            });
        }
    }
    let pair = diff_pair();
    rows.push(Row {
        what: "diff, 1M vs 1M+10k ops".into(),
        ours: time_per_iter(budget, || diff(&pair.before, &pair.after)),
        raw: time_per_iter(budget, || map_diff(&pair.map_before, &pair.map_after)),
        raw_what: "merge walk over 2 BTreeMaps".into(),
        bytes: None,
    });
    let hot = hot_ops();
    let cfg = config(Strategy::Timestamp);
    rows.push(Row {
        what: format!("history, hot key of {}k ops", HOT_OPS / 1000),
        ours: time_per_iter(budget, || history(&cfg, HOT_KEY, hot.iter().cloned())),
        raw: time_per_iter(budget, || raw_history(&hot)),
        raw_what: "clone + sort + BTreeMap replay".into(),
        bytes: None,
    });
    let title = "summary (std::time; timestamp strategy; apply rows are per op, over the whole run)";
    println!("{}", summary_table(title, &rows));
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    for n in SIZES {
        apply_group(&mut c, n);
    }
    diff_group(&mut c);
    history_group(&mut c);
    c.final_summary();
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes --bench; test mode (`cargo test --benches`) and --list do not want it.
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--list") {
        summary();
    }
}
