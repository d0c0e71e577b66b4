//! Benchmarks of the operation log: op encode/decode, op hashing, range fingerprints over a
//! 1M-op log, and the append rate. Each group also measures raw `postcard` and raw `blake3` on
//! the same op in the same run, so the distance to those limits is visible; a summary table
//! follows the criterion groups.
//!
//! `cargo bench -p auroradb-benches --bench log -- --quick`

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use auroradb_benches::{Row, summary_table, time_per_iter};
use auroradb_log::codec::HEADER_LEN;
use auroradb_log::{
    EncodedOp, Fingerprint, Hash, Hlc, Log, LogConfig, Op, OpId, OpKind, PeerId, Value, decode_op, encode_op,
    system_clock,
};
use criterion::{BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Ops in the log that range fingerprints are taken over.
const LOG_OPS: usize = 1_000_000;
/// Appends go into logs of at most this many ops, so memory stays bounded however long a run.
const APPEND_LOG_OPS: u64 = 100_000;
/// Random ranges drawn for the fingerprint benchmark.
const RANGES: usize = 4096;

/// A typical record write: a put of a small user record.
fn record_kind(i: u64) -> OpKind {
    OpKind::Put {
        key: format!("user:{i:08}"),
        value: Value::map([
            ("name", Value::from("Ada Lovelace")),
            ("email", Value::from("ada@example.org")),
            ("age", Value::Int(36)),
            ("score", Value::Float(97.25)),
            ("tags", Value::List(vec![Value::from("admin"), Value::from("math")])),
        ]),
    }
}

/// The op every codec benchmark uses: mid-chain (non-zero seq and prev).
fn sample_op() -> EncodedOp {
    let peer = PeerId([0x5a; 16]);
    EncodedOp::new(Op {
        id: OpId::from_millis(1_700_000_000_000, peer),
        author: peer,
        seq: 42,
        prev: Hash::of(b"the previous op"),
        kind: record_kind(42),
    })
}

fn new_log(keep_ops: bool) -> Log {
    let config = LogConfig { keep_ops, ..LogConfig::default() };
    Log::new(Hlc::new(PeerId::random(), system_clock, config.max_drift), config)
}

/// The 1M-op log, its ids, and random ranges over them, built once.
struct Big {
    log: Log,
    ranges: Vec<(OpId, OpId)>,
}

fn big() -> &'static Big {
    static BIG: OnceLock<Big> = OnceLock::new();
    BIG.get_or_init(|| {
        let start = Instant::now();
        let mut log = new_log(false);
        let kind = record_kind(0);
        for _ in 0..LOG_OPS {
            log.append(kind.clone()).expect("a local append");
        }
        let ids: Vec<OpId> = log.ids(..).map(|(id, _)| *id).collect();
        let mut rng = SmallRng::seed_from_u64(7);
        let ranges = (0..RANGES)
            .map(|_| {
                let (a, b) = (rng.gen_range(0..ids.len()), rng.gen_range(0..ids.len()));
                (ids[a.min(b)], ids[a.max(b)])
            })
            .collect();
        eprintln!("built a {LOG_OPS}-op log for the fingerprint benchmarks in {:.2?}", start.elapsed());
        Big { log, ranges }
    })
}

/// The raw work every group is compared with: postcard and blake3 on the same op.
fn raw_baselines(group: &mut BenchmarkGroup<'_, WallTime>, op: &EncodedOp) {
    let body = &op.bytes[HEADER_LEN..];
    group.bench_function("raw postcard encode (same Op)", |b| {
        b.iter(|| postcard::to_allocvec(black_box(&op.op)).expect("encodes"))
    });
    group.bench_function("raw postcard decode (same Op)", |b| {
        b.iter(|| postcard::from_bytes::<Op>(black_box(body)).expect("decodes"))
    });
    group.bench_function("raw blake3 (same bytes)", |b| b.iter(|| blake3::hash(black_box(&op.bytes))));
}

fn codec(c: &mut Criterion) {
    let op = sample_op();
    let mut g = c.benchmark_group("op codec");
    g.throughput(Throughput::Bytes(op.bytes.len() as u64));
    g.bench_function("encode_op", |b| b.iter(|| encode_op(black_box(&op.op))));
    g.bench_function("decode_op (header, canonical, shape checks)", |b| {
        b.iter(|| decode_op(black_box(&op.bytes)).expect("decodes"))
    });
    raw_baselines(&mut g, &op);
    g.finish();
}

fn hashing(c: &mut Criterion) {
    let op = sample_op();
    let mut g = c.benchmark_group("op hashing");
    g.throughput(Throughput::Bytes(op.bytes.len() as u64));
    g.bench_function("EncodedOp::new (encode + hash)", |b| b.iter(|| EncodedOp::new(black_box(op.op.clone()))));
    g.bench_function("EncodedOp::decode (decode + hash)", |b| {
        b.iter(|| EncodedOp::decode(black_box(op.bytes.clone())).expect("decodes"))
    });
    g.bench_function("Hash::of", |b| b.iter(|| Hash::of(black_box(&op.bytes))));
    g.bench_function("raw clone of the Op (inside EncodedOp::new)", |b| b.iter(|| black_box(&op.op).clone()));
    raw_baselines(&mut g, &op);
    g.finish();
}

fn fingerprints(c: &mut Criterion) {
    let big = big();
    let op = sample_op();
    let mut g = c.benchmark_group("fingerprint, 1M-op log");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("Log::fingerprint(random range)", |b| {
        b.iter(|| {
            i = (i + 1) % RANGES;
            let (lo, hi) = big.ranges[i];
            big.log.fingerprint(black_box(lo)..black_box(hi))
        })
    });
    let mut i = 0;
    g.bench_function("Log::summary(random range)", |b| {
        b.iter(|| {
            i = (i + 1) % RANGES;
            let (lo, hi) = big.ranges[i];
            big.log.summary(black_box(lo)..black_box(hi))
        })
    });
    let sum = big.log.summary(..);
    g.bench_function("raw blake3 (the 40 B sum||count)", |b| {
        b.iter(|| Fingerprint::new(black_box(sum.sum), black_box(sum.count)))
    });
    raw_baselines(&mut g, &op);
    g.finish();
}

/// Times `iters` appends of `kind`, into fresh logs of at most [`APPEND_LOG_OPS`] ops; making and
/// dropping the logs is not timed.
fn timed_appends(iters: u64, kind: &OpKind) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(APPEND_LOG_OPS);
        let mut log = new_log(true);
        let start = Instant::now();
        for _ in 0..n {
            black_box(log.append(kind.clone()).expect("a local append"));
        }
        total += start.elapsed();
        left -= n;
        drop(log);
    }
    total
}

/// The raw floor of an append: postcard-encode and blake3 the op it makes.
fn raw_append(op: &Op, kind: &OpKind) -> blake3::Hash {
    let op = Op { kind: kind.clone(), ..*op };
    blake3::hash(&postcard::to_allocvec(&op).expect("encodes"))
}

fn appends(c: &mut Criterion) {
    let op = sample_op();
    let kind = record_kind(7);
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(1));
    g.bench_function("Log::append (put of a record)", |b| b.iter_custom(|iters| timed_appends(iters, &kind)));
    g.bench_function("raw postcard encode + blake3 (same op)", |b| b.iter(|| raw_append(&op.op, &kind)));
    raw_baselines(&mut g, &op);
    g.finish();
}

/// The same comparisons as the groups, timed with `std::time` in one pass each.
fn summary() {
    let budget = Duration::from_millis(300);
    let op = sample_op();
    let bytes = Some(op.bytes.len() as u64);
    let body = &op.bytes[HEADER_LEN..];
    let kind = record_kind(7);
    let pc_encode = time_per_iter(budget, || postcard::to_allocvec(black_box(&op.op)));
    let pc_decode = time_per_iter(budget, || postcard::from_bytes::<Op>(black_box(body)));
    let b3 = time_per_iter(budget, || blake3::hash(black_box(&op.bytes)));
    let encode = time_per_iter(budget, || encode_op(black_box(&op.op)));
    let decode = time_per_iter(budget, || decode_op(black_box(&op.bytes)));
    let hash = time_per_iter(budget, || Hash::of(black_box(&op.bytes)));
    let encoded = time_per_iter(budget, || EncodedOp::new(black_box(op.op.clone())));
    let floor = time_per_iter(budget, || raw_append(&op.op, &kind));

    let big = big();
    let mut i = 0;
    let fingerprint = time_per_iter(budget, || {
        i = (i + 1) % RANGES;
        let (lo, hi) = big.ranges[i];
        big.log.fingerprint(black_box(lo)..black_box(hi))
    });
    let sum = big.log.summary(..);
    let b3_40 = time_per_iter(budget, || Fingerprint::new(black_box(sum.sum), black_box(sum.count)));

    let mut log = new_log(true);
    let append = time_per_iter(budget, || log.append(kind.clone()).map(|o| o.hash));
    let appended = log.len();
    drop(log);

    let row = |what: &str, ours: Duration, raw_what: &str, raw: Duration, bytes: Option<u64>| Row {
        what: what.into(),
        ours,
        raw,
        raw_what: raw_what.into(),
        bytes,
    };
    let rows = [
        row("encode_op", encode, "postcard encode", pc_encode, bytes),
        row("decode_op", decode, "postcard decode", pc_decode, bytes),
        row("Hash::of", hash, "blake3", b3, bytes),
        row("EncodedOp::new (encode + hash)", encoded, "postcard encode + blake3", pc_encode + b3, bytes),
        row("Log::fingerprint, 1M ops", fingerprint, "blake3 of 40 B", b3_40, None),
        row("Log::append", append, "postcard encode + blake3 (+clone)", floor, None),
    ];
    let title = format!(
        "summary (std::time, {} ms per line; op = {} B; fingerprints over {LOG_OPS} ops; append into a log of {appended} ops)",
        budget.as_millis(),
        op.bytes.len(),
    );
    println!("{}", summary_table(&title, &rows));
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    codec(&mut c);
    hashing(&mut c);
    fingerprints(&mut c);
    appends(&mut c);
    c.final_summary();
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes --bench; test mode (`cargo test --benches`) and --list do not want it.
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--list") {
        summary();
    }
}
