//! Benchmarks of the database facade on in-memory storage: the local write rate next to the raw
//! work a write cannot avoid (encode + hash the op, insert into a map); `state_at(t)` against the
//! checkpoint interval; `history(key)` and `diff(t1, t2)` on a 1M-op log. A summary table follows.
//!
//! `cargo bench -p auroradb-benches --bench database -- --quick`

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use auroradb::{Config, Database, MemoryStorage, OpId, Value};
use auroradb_benches::{Row, summary_table, time_per_iter};
use auroradb_log::segment::ProvenSegment;
use auroradb_log::{
    EncodedOp, Hlc, Identity, Log, LogConfig, OpKind, PeerId, manual_clock, set_manual_clock, shipped_proofs,
};
use criterion::{Criterion, Throughput};
use futures::executor::block_on;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const T0: u64 = 1_700_000_000_000;
const BIG: usize = 1_000_000;
const HOT_KEY: &str = "doc:hot";

fn record(i: u64) -> Value {
    Value::map([
        ("name", Value::String(format!("user {i}"))),
        ("email", Value::String(format!("user{i}@example.org"))),
        ("age", Value::Int((i % 70) as i64 + 18)),
    ])
}

fn config(every: u64) -> Config {
    set_manual_clock(T0);
    let mut c = Config::new("bench", manual_clock);
    c.checkpoint_every = every;
    c
}

/// `n` ops from 4 authors over `n / 8` keys (every 100th op on the hot key), as remote batches
/// with the proofs of each author's last op in them.
fn remote_ops(n: usize) -> Vec<ProvenSegment> {
    let cfg = LogConfig { keep_ops: false, ..LogConfig::default() };
    let mut authors: Vec<Log> = (1..=4u8)
        .map(|p| {
            let me = Identity::from_secret(&[p; 32]);
            let mut log = Log::new(Hlc::new(me.peer(), manual_clock, cfg.max_drift), cfg);
            log.set_identity(me).expect("its own identity");
            log
        })
        .collect();
    let mut rng = SmallRng::seed_from_u64(7);
    let keys = (n / 8).max(1) as u64;
    let mut ops = Vec::with_capacity(n);
    for i in 0..n as u64 {
        set_manual_clock(T0 + i);
        let key = if i % 100 == 0 { HOT_KEY.to_string() } else { format!("user:{:07}", rng.gen_range(0..keys)) };
        let kind = if i % 50 == 49 { OpKind::Remove { key } } else { OpKind::Put { key, value: record(i) } };
        let a = rng.gen_range(0..4);
        ops.push(authors[a].append(kind).expect("append"));
    }
    ops.chunks(2000)
        .map(|batch| {
            let prove = |id: &OpId| authors.iter().find(|l| l.peer() == id.peer)?.proof_of(id);
            let proofs = shipped_proofs(batch.iter().map(|o| (o.op.id, o.op.seq)), &prove);
            (batch.to_vec(), proofs)
        })
        .collect()
}

fn build(n: usize, every: u64) -> (Database<MemoryStorage>, Vec<OpId>) {
    let batches = remote_ops(n);
    block_on(async {
        let mut db = Database::open(MemoryStorage::new(), config(every)).await.expect("open");
        set_manual_clock(T0 + n as u64 + 10);
        let mut ids = Vec::with_capacity(n);
        for (b, proofs) in batches {
            ids.extend(db.apply_remote(b, &proofs).await.expect("apply").ops);
        }
        (db, ids)
    })
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let mut rows = Vec::new();

    // Local write rate.
    {
        let mut db = block_on(Database::open(MemoryStorage::new(), config(1000))).expect("open");
        let mut i = 0u64;
        let mut g = c.benchmark_group("local write");
        g.throughput(Throughput::Elements(1));
        g.bench_function("Database::put (memory storage)", |b| {
            b.iter(|| {
                i += 1;
                block_on(db.put(format!("user:{:07}", i % 50_000), record(i))).expect("put")
            })
        });
        let peer = PeerId([9; 16]);
        let log = Log::new(Hlc::new(peer, manual_clock, LogConfig::default().max_drift), LogConfig::default());
        let mut map = BTreeMap::new();
        let mut j = 0u64;
        g.bench_function("raw: encode + blake3 + map insert", |b| {
            b.iter(|| {
                j += 1;
                let op = log.prepare_local(OpKind::Put { key: format!("user:{:07}", j % 50_000), value: record(j) });
                map.insert(op.op.id, op.bytes)
            })
        });
        g.finish();
        let mut k = 0u64;
        let ours = time_per_iter(Duration::from_secs(1), || {
            k += 1;
            block_on(db.put(format!("user:{:07}", k % 50_000), record(k))).expect("put")
        });
        let raw = time_per_iter(Duration::from_secs(1), || {
            k += 1;
            let op = log.prepare_local(OpKind::Put { key: format!("user:{:07}", k % 50_000), value: record(k) });
            map.insert(op.op.id, op.bytes)
        });
        rows.push(Row {
            what: "local put".into(),
            ours,
            raw,
            raw_what: "encode+blake3+map insert".into(),
            bytes: None,
        });
    }

    // state_at against the checkpoint interval, on a 100k-op log.
    {
        let mut g = c.benchmark_group("state_at (100k ops)");
        for every in [1_000u64, 10_000, 100_000] {
            let (mut db, ids) = build(100_000, every);
            let mut rng = SmallRng::seed_from_u64(every);
            g.bench_function(format!("checkpoint every {every}"), |b| {
                b.iter(|| {
                    let at = ids[rng.gen_range(0..ids.len())];
                    black_box(block_on(db.state_at(at)).expect("state_at").len())
                })
            });
        }
        g.finish();
    }

    // history and diff on a 1M-op log.
    {
        let (mut db, ids) = build(BIG, 10_000);
        let mut g = c.benchmark_group("1M-op log");
        g.sample_size(10);
        g.bench_function("history(hot key, 10k ops)", |b| {
            b.iter(|| black_box(block_on(db.history(HOT_KEY)).expect("history").len()))
        });
        let (t1, t2) = (ids[BIG / 2], ids[BIG / 2 + 20_000]);
        g.bench_function("diff(t, t + 20k ops)", |b| {
            b.iter(|| black_box(block_on(db.diff(t1, t2)).expect("diff").added.len()))
        });
        g.finish();
        let ours = time_per_iter(Duration::from_secs(2), || block_on(db.history(HOT_KEY)).expect("history").len());
        let hot_ids: Vec<OpId> = block_on(db.history(HOT_KEY)).expect("history").iter().map(|h| h.id).collect();
        let hot: Vec<EncodedOp> = block_on(db.load_encoded(&hot_ids)).expect("load");
        let raw = time_per_iter(Duration::from_secs(1), || {
            hot.iter().map(|o| auroradb_log::decode_op(&o.bytes).expect("decode").seq).sum::<u64>()
        });
        rows.push(Row {
            what: "history(hot key) on 1M ops".into(),
            ours,
            raw,
            raw_what: "decode the key's ops only".into(),
            bytes: None,
        });
    }

    println!("{}", summary_table("database (memory storage)", &rows));
    c.final_summary();
}
