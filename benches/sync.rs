//! Sync benchmarks: AuroraDB's reconciliation and full sync next to `negentropy`, `yrs` and
//! `automerge` doing the same job, and next to the physical limit (postcard decode + blake3 of
//! the ops shipped).
//!
//! Two replicas of N ops each (N = 10k and 100k) share 99% of them; 1% is unique to each side,
//! either at the tail (the newest ops: the usual offline case) or spread through the history.
//!
//! ```text
//! cargo bench -p auroradb-benches --bench sync
//! ```
//!
//! After the criterion groups, a table shows time, bytes each way and round trips of every
//! contender, and its ratio to AuroraDB: the median of 25 runs for the reconciliations and the
//! raw decode, of 9 for the full syncs of AuroraDB and `yrs` (run in turn), of 3 (100k) or 7 (10k)
//! for the others, whose replicas are built anew each run.

use std::hint::black_box;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use auroradb_benches::fmt_time;
use auroradb_log::{
    EncodedOp, Hash, Hlc, Identity, Log, LogConfig, OpId, OpKind, PeerId, Proof, Value, decode_op, manual_clock,
    must_prove, set_manual_clock,
};
use auroradb_net::sim::ready;
use auroradb_net::transport::memory::MemoryNetwork;
use auroradb_net::{MemoryReplica, ReconcileConfig, SyncConfig, SyncEngine, SyncReport, reconcile_pair};
use auroradb_snapshot::{State, StateConfig, Strategy};
use criterion::{BatchSize, Criterion, SamplingMode};

const START_MS: u64 = 1_700_000_000_000;
/// The frame limit both reconcilers work under.
const FRAME: usize = 256 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Tail,
    Spread,
}

impl Layout {
    fn name(self) -> &'static str {
        match self {
            Layout::Tail => "tail",
            Layout::Spread => "spread",
        }
    }
}

/// Who holds an op: both replicas, only A, only B.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Both,
    A,
    B,
}

/// The ops of one benchmark case, and the same writes as map puts for the CRDTs.
struct Case {
    n: usize,
    layout: Layout,
    ops: Vec<(Side, EncodedOp)>,
    /// The proof of each author's newest op, signed by the author.
    proofs: Vec<(OpId, Proof)>,
    end_ms: u64,
}

const PEER_A: PeerId = PeerId([0xa0; 16]);
const PEER_B: PeerId = PeerId([0xb0; 16]);

fn put_of(slot: usize, n: usize) -> (String, i64) {
    (format!("k{:06}", slot % (n / 4).max(1)), slot as i64)
}

impl Case {
    fn new(n: usize, layout: Layout) -> Case {
        let unique = n / 100;
        let total = n - unique + 2 * unique;
        let config = LogConfig { keep_ops: true, ..LogConfig::default() };
        let mut authors: Vec<Log> = (0..6u8)
            .map(|i| {
                let me = Identity::from_secret(&[i + 1; 32]);
                let mut log = Log::new(Hlc::new(me.peer(), manual_clock, config.max_drift), config);
                log.set_identity(me).expect("its own identity");
                log
            })
            .collect();
        let mut side_of = vec![Side::Both; total];
        for k in 0..2 * unique {
            let slot = match layout {
                Layout::Tail => total - 2 * unique + k,
                Layout::Spread => k * total / (2 * unique) + total / (4 * unique),
            };
            side_of[slot] = if k % 2 == 0 { Side::A } else { Side::B };
        }
        let mut ops = Vec::with_capacity(total);
        for (slot, side) in side_of.into_iter().enumerate() {
            let author = match side {
                Side::Both => slot % 4,
                Side::A => 4,
                Side::B => 5,
            };
            set_manual_clock(START_MS + slot as u64);
            let (key, v) = put_of(slot, n);
            let op = authors[author].append(OpKind::Put { key, value: Value::Int(v) }).expect("append");
            ops.push((side, op));
        }
        // Each author's newest op and its ops at multiples of the proof interval are proven.
        let prove = |id: &OpId| authors.iter().find(|l| l.peer() == id.peer)?.proof_of(id);
        let mut proofs: Vec<(OpId, Proof)> = ops
            .iter()
            .filter(|(_, o)| must_prove(o.op.seq))
            .filter_map(|(_, o)| Some((o.op.id, prove(&o.op.id)?)))
            .collect();
        proofs.extend(authors.iter().filter_map(|log| {
            let head = log.heads().get(&log.peer())?;
            Some((head.id, log.proof_of(&head.id)?))
        }));
        Case { n, layout, ops, proofs, end_ms: START_MS + total as u64 + 1 }
    }

    fn name(&self) -> String {
        format!("{}k/{}", self.n / 1000, self.layout.name())
    }

    fn held_by(&self, a: bool) -> impl Iterator<Item = &EncodedOp> {
        let mine = if a { Side::A } else { Side::B };
        self.ops.iter().filter(move |(s, _)| *s == Side::Both || *s == mine).map(|(_, o)| o)
    }

    fn replica(&self, a: bool) -> Log {
        set_manual_clock(self.end_ms);
        let config = LogConfig::default();
        let peer = if a { PEER_A } else { PEER_B };
        let mut log = Log::new(Hlc::new(peer, manual_clock, config.max_drift), config);
        log.insert_remote(self.held_by(a).cloned().collect()).expect("valid ops");
        // Those proofs are kept (a replica passes the proofs it received on).
        for (id, proof) in &self.proofs {
            if log.contains(id) {
                log.keep_proof(*id, *proof);
            }
        }
        log
    }

    fn shipped(&self) -> Vec<&EncodedOp> {
        self.ops.iter().filter(|(s, _)| *s != Side::Both).map(|(_, o)| o).collect()
    }

    /// The map puts of the replica, in order: shared first, then its own.
    fn puts(&self, side: Side) -> Vec<(String, i64)> {
        self.ops.iter().enumerate().filter(|(_, (s, _))| *s == side).map(|(slot, _)| put_of(slot, self.n)).collect()
    }
}

/// What one run of a contender cost on the wire.
#[derive(Debug, Clone, Copy, Default)]
struct Wire {
    a_to_b: u64,
    b_to_a: u64,
    /// Half round trips (messages in sequence).
    flights: u32,
}

// --- AuroraDB ------------------------------------------------------------------------------

fn aurora_reconcile(a: &Log, b: &Log, unique: usize) -> Wire {
    let out = reconcile_pair(a, b, ReconcileConfig { max_frame: FRAME, ..ReconcileConfig::default() }).unwrap();
    assert_eq!((out.a_have.len(), out.b_have.len()), (unique, unique));
    Wire { a_to_b: out.bytes_a_to_b, b_to_a: out.bytes_b_to_a, flights: out.frames_a + out.frames_b }
}

/// Two replicas with their materialized states, ready to sync.
struct Replicas {
    net: MemoryNetwork,
    a: SyncEngine<Rc<MemoryReplica>, auroradb_net::transport::memory::MemoryTransport>,
    b: SyncEngine<Rc<MemoryReplica>, auroradb_net::transport::memory::MemoryTransport>,
}

fn with_state(log: Log) -> Rc<MemoryReplica> {
    let mut state = State::new(StateConfig::new(Strategy::Timestamp, log.peer()));
    for op in log.ops(..) {
        state.apply(&op.expect("decodes"));
    }
    let replica = Rc::new(MemoryReplica::new(log));
    let state = Rc::new(std::cell::RefCell::new(state));
    replica.set_hook(Box::new(move |op, _| {
        state.borrow_mut().apply(&op.op);
    }));
    replica
}

fn replicas(case: &Case) -> Replicas {
    let net = MemoryNetwork::new(0);
    let config = SyncConfig {
        auto_sync: false,
        sync_on_connect: false,
        limits: auroradb_net::FrameLimits { max_frame: FRAME, ..Default::default() },
        ..SyncConfig::default()
    };
    let a = SyncEngine::new(with_state(case.replica(true)), net.endpoint(PEER_A), config);
    let b = SyncEngine::new(with_state(case.replica(false)), net.endpoint(PEER_B), config);
    net.connect(PEER_A, PEER_B);
    ready(a.pump());
    ready(b.pump());
    Replicas { net, a, b }
}

/// Reconcile, ship, verify and apply (log and state), both ways; frames delivered flight by
/// flight.
fn aurora_full(r: &Replicas, unique: usize) -> Wire {
    set_manual_clock(START_MS + 10_000_000);
    let before = (r.a.stats().bytes_sent, r.b.stats().bytes_sent);
    let mut fut = std::pin::pin!(r.a.sync());
    let mut flights = 0;
    while r.net.deliver_all() > 0 {
        flights += 1;
        ready(r.a.pump());
        ready(r.b.pump());
    }
    let Poll::Ready(report) = fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) else {
        panic!("sync did not finish")
    };
    assert_eq!(report, SyncReport { peers: 1, sent: unique as u64, received: unique as u64 });
    Wire { a_to_b: r.a.stats().bytes_sent - before.0, b_to_a: r.b.stats().bytes_sent - before.1, flights }
}

/// The physical limit: decode and hash every shipped op once.
fn raw_decode_hash(ops: &[&EncodedOp]) -> usize {
    let mut n = 0;
    for op in ops {
        let decoded = decode_op(&op.bytes).unwrap();
        black_box(Hash::of(&op.bytes));
        n += decoded.seq as usize & 1;
    }
    n
}

// --- negentropy ----------------------------------------------------------------------------

fn negentropy_storage(case: &Case, a: bool) -> negentropy::NegentropyStorageVector {
    let mut s = negentropy::NegentropyStorageVector::with_capacity(case.n);
    for op in case.held_by(a) {
        s.insert(op.op.id.time, negentropy::Id::from_byte_array(op.hash.0)).unwrap();
    }
    s.seal().unwrap();
    s
}

fn negentropy_reconcile(
    sa: &negentropy::NegentropyStorageVector,
    sb: &negentropy::NegentropyStorageVector,
    unique: usize,
) -> Wire {
    let mut client = negentropy::Negentropy::borrowed(sa, FRAME as u64).unwrap();
    let mut relay = negentropy::Negentropy::borrowed(sb, FRAME as u64).unwrap();
    let mut msg = client.initiate().unwrap();
    let mut wire = Wire { a_to_b: msg.len() as u64, flights: 1, ..Wire::default() };
    let (mut have, mut need) = (Vec::new(), Vec::new());
    loop {
        let answer = relay.reconcile(&msg).unwrap();
        wire.b_to_a += answer.len() as u64;
        wire.flights += 1;
        match client.reconcile_with_ids(&answer, &mut have, &mut need).unwrap() {
            Some(next) => {
                wire.a_to_b += next.len() as u64;
                wire.flights += 1;
                msg = next;
            }
            None => break,
        }
    }
    assert_eq!((have.len(), need.len()), (unique, unique));
    wire
}

// --- yrs -----------------------------------------------------------------------------------

mod crdt_yrs {
    use yrs::updates::decoder::Decode;
    use yrs::updates::encoder::Encode;
    use yrs::{Doc, Map, ReadTxn, StateVector, Transact, Update};

    use super::{Case, Side, Wire};

    /// The full states of both replicas, as updates.
    pub struct Prepared {
        pub a: Vec<u8>,
        pub b: Vec<u8>,
    }

    fn put_all(doc: &Doc, puts: &[(String, i64)]) {
        let map = doc.get_or_insert_map("m");
        let mut txn = doc.transact_mut();
        for (k, v) in puts {
            map.insert(&mut txn, k.as_str(), *v);
        }
    }

    fn full(doc: &Doc) -> Vec<u8> {
        doc.transact().encode_state_as_update_v1(&StateVector::default())
    }

    pub fn prepare(case: &Case) -> Prepared {
        let base = Doc::with_client_id(1);
        put_all(&base, &case.puts(Side::Both));
        let base = full(&base);
        let side = |id: u64, s: Side| {
            let doc = Doc::with_client_id(id);
            doc.transact_mut().apply_update(Update::decode_v1(&base).unwrap()).unwrap();
            put_all(&doc, &case.puts(s));
            full(&doc)
        };
        Prepared { a: side(2, Side::A), b: side(3, Side::B) }
    }

    pub fn load(p: &Prepared) -> (Doc, Doc) {
        let a = Doc::with_client_id(2);
        a.transact_mut().apply_update(Update::decode_v1(&p.a).unwrap()).unwrap();
        let b = Doc::with_client_id(3);
        b.transact_mut().apply_update(Update::decode_v1(&p.b).unwrap()).unwrap();
        (a, b)
    }

    /// State vector one way, the missing updates (and the other state vector) back, the rest.
    pub fn sync(a: &Doc, b: &Doc) -> Wire {
        let sv_a = a.transact().state_vector().encode_v1();
        let (diff_b, sv_b) = {
            let txn = b.transact();
            (txn.encode_state_as_update_v1(&StateVector::decode_v1(&sv_a).unwrap()), txn.state_vector().encode_v1())
        };
        a.transact_mut().apply_update(Update::decode_v1(&diff_b).unwrap()).unwrap();
        let diff_a = a.transact().encode_state_as_update_v1(&StateVector::decode_v1(&sv_b).unwrap());
        b.transact_mut().apply_update(Update::decode_v1(&diff_a).unwrap()).unwrap();
        Wire { a_to_b: (sv_a.len() + diff_a.len()) as u64, b_to_a: (diff_b.len() + sv_b.len()) as u64, flights: 3 }
    }
}

// --- automerge -----------------------------------------------------------------------------

mod crdt_automerge {
    use automerge::sync::{Message, State, SyncDoc};
    use automerge::transaction::Transactable;
    use automerge::{ActorId, AutoCommit, ROOT};

    use super::{Case, Side, Wire};

    /// Saved documents of both replicas.
    pub struct Prepared {
        pub a: Vec<u8>,
        pub b: Vec<u8>,
    }

    /// One change per put, like one op per put.
    fn put_all(doc: &mut AutoCommit, puts: &[(String, i64)]) {
        for (k, v) in puts {
            doc.put(ROOT, k.as_str(), *v).unwrap();
            doc.commit();
        }
    }

    pub fn prepare(case: &Case) -> Prepared {
        let mut base = AutoCommit::new().with_actor(ActorId::from([1u8; 16].as_slice()));
        put_all(&mut base, &case.puts(Side::Both));
        let mut a = base.fork().with_actor(ActorId::from([2u8; 16].as_slice()));
        put_all(&mut a, &case.puts(Side::A));
        let mut b = base.fork().with_actor(ActorId::from([3u8; 16].as_slice()));
        put_all(&mut b, &case.puts(Side::B));
        Prepared { a: a.save(), b: b.save() }
    }

    pub fn load(p: &Prepared) -> (AutoCommit, AutoCommit) {
        (AutoCommit::load(&p.a).unwrap(), AutoCommit::load(&p.b).unwrap())
    }

    /// The sync protocol until neither side has anything to say.
    pub fn sync(a: &mut AutoCommit, b: &mut AutoCommit) -> Wire {
        let (mut sa, mut sb) = (State::new(), State::new());
        let mut wire = Wire::default();
        loop {
            let mut moved = false;
            if let Some(m) = a.sync().generate_sync_message(&mut sa) {
                let bytes = m.encode();
                wire.a_to_b += bytes.len() as u64;
                wire.flights += 1;
                b.sync().receive_sync_message(&mut sb, Message::decode(&bytes).unwrap()).unwrap();
                moved = true;
            }
            if let Some(m) = b.sync().generate_sync_message(&mut sb) {
                let bytes = m.encode();
                wire.b_to_a += bytes.len() as u64;
                wire.flights += 1;
                a.sync().receive_sync_message(&mut sa, Message::decode(&bytes).unwrap()).unwrap();
                moved = true;
            }
            if !moved {
                return wire;
            }
        }
    }
}

// --- the run -------------------------------------------------------------------------------

/// One line of the summary.
struct Line {
    case: String,
    what: &'static str,
    time: Duration,
    wire: Option<Wire>,
    /// The AuroraDB time this line is compared with.
    versus: Option<Duration>,
}

/// Median time of `runs` runs of `routine`, each on a fresh input from `setup`. Only the routine
/// is timed: the input is dropped after the clock stops.
fn median<I, O>(runs: usize, mut setup: impl FnMut() -> I, mut routine: impl FnMut(&mut I) -> O) -> (Duration, O) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let mut input = setup();
        let start = Instant::now();
        let out = routine(&mut input);
        times.push(start.elapsed());
        drop(input);
        last = Some(out);
    }
    times.sort();
    (times[times.len() / 2], last.expect("at least one run"))
}

/// The medians of `runs` runs of two routines taken in turn (a, b, a, b...), each on a fresh
/// input from its setup; only the routines are timed.
fn medians_in_turn<I, O, J, P>(
    runs: usize,
    mut a: (impl FnMut() -> I, impl FnMut(&mut I) -> O),
    mut b: (impl FnMut() -> J, impl FnMut(&mut J) -> P),
) -> ((Duration, O), (Duration, P)) {
    let (mut times_a, mut times_b) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    let (mut last_a, mut last_b) = (None, None);
    for _ in 0..runs {
        let (t, out) = median(1, &mut a.0, &mut a.1);
        times_a.push(t);
        last_a = Some(out);
        let (t, out) = median(1, &mut b.0, &mut b.1);
        times_b.push(t);
        last_b = Some(out);
    }
    times_a.sort();
    times_b.sort();
    let last = "at least one run";
    ((times_a[runs / 2], last_a.expect(last)), (times_b[runs / 2], last_b.expect(last)))
}

fn bench_case(c: &mut Criterion, case: &Case, lines: &mut Vec<Line>, summary: bool) {
    let unique = case.n / 100;
    let name = case.name();
    let (a, b) = (case.replica(true), case.replica(false));
    let (na, nb) = (negentropy_storage(case, true), negentropy_storage(case, false));
    let shipped = case.shipped();
    let crdts = case.layout == Layout::Tail;
    let yrs_prep = crdts.then(|| crdt_yrs::prepare(case));
    let am_prep = crdts.then(|| crdt_automerge::prepare(case));

    let mut g = c.benchmark_group(format!("sync/{name}"));
    g.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_millis(300));
    g.measurement_time(Duration::from_secs(2));
    g.bench_function("aurora reconcile", |bch| bch.iter(|| aurora_reconcile(&a, &b, unique)));
    g.bench_function("negentropy reconcile", |bch| bch.iter(|| negentropy_reconcile(&na, &nb, unique)));
    g.bench_function("aurora full sync", |bch| {
        // The routine hands its input back, so criterion drops it outside the timing.
        bch.iter_batched(|| replicas(case), |r| (aurora_full(&r, unique), r), BatchSize::PerIteration)
    });
    if let (Some(yp), Some(ap)) = (&yrs_prep, &am_prep) {
        g.bench_function("yrs full sync", |bch| {
            bch.iter_batched(|| crdt_yrs::load(yp), |(x, y)| (crdt_yrs::sync(&x, &y), x, y), BatchSize::PerIteration)
        });
        g.bench_function("automerge full sync", |bch| {
            bch.iter_batched(
                || crdt_automerge::load(ap),
                |(mut x, mut y)| (crdt_automerge::sync(&mut x, &mut y), x, y),
                BatchSize::PerIteration,
            )
        });
    }
    g.bench_function("raw decode + blake3", |bch| bch.iter(|| raw_decode_hash(&shipped)));
    g.finish();

    if !summary {
        return;
    }
    let runs = if case.n >= 100_000 { 3 } else { 7 };
    // The full syncs of AuroraDB and yrs in turn, 9 of each: the ratio the goal is about, with
    // the machine's drift during the runs weighing on both alike.
    // A reconciliation takes about a millisecond and needs no setup: more runs steady its median.
    let (t_rec, w_rec) = median(25, || (), |_| aurora_reconcile(&a, &b, unique));
    let (t_neg, w_neg) = median(25, || (), |_| negentropy_reconcile(&na, &nb, unique));
    let mut yrs_full = None;
    let (t_full, w_full) = match &yrs_prep {
        Some(yp) => {
            let (aurora, yrs) = medians_in_turn(
                9,
                (|| replicas(case), |r: &mut Replicas| aurora_full(r, unique)),
                (|| crdt_yrs::load(yp), |(x, y): &mut (yrs::Doc, yrs::Doc)| crdt_yrs::sync(x, y)),
            );
            yrs_full = Some(yrs);
            aurora
        }
        None => median(runs, || replicas(case), |r| aurora_full(r, unique)),
    };
    let (t_raw, _) = median(25, || (), |_| raw_decode_hash(&shipped));
    let line = |what, time, wire, versus| Line { case: name.clone(), what, time, wire, versus };
    lines.push(line("aurora reconcile", t_rec, Some(w_rec), None));
    lines.push(line("negentropy reconcile", t_neg, Some(w_neg), Some(t_rec)));
    lines.push(line("aurora full sync", t_full, Some(w_full), None));
    if let (Some((t, w)), Some(ap)) = (yrs_full, &am_prep) {
        lines.push(line("yrs full sync", t, Some(w), Some(t_full)));
        let (t, w) = median(runs, || crdt_automerge::load(ap), |(x, y)| crdt_automerge::sync(x, y));
        lines.push(line("automerge full sync", t, Some(w), Some(t_full)));
    }
    lines.push(line("raw decode + blake3 (limit)", t_raw, None, Some(t_full)));
}

fn print_summary(lines: &[Line]) {
    println!("\nSync: two replicas of N ops, 1% unique to each side (frame limit {} KiB)", FRAME >> 10);
    println!(
        "{:<12} {:<28} {:>10} {:>12} {:>12} {:>11} {:>16}",
        "case", "contender", "time", "bytes A→B", "bytes B→A", "round trips", "time vs aurora"
    );
    println!("{}", "-".repeat(12 + 29 + 11 + 13 + 13 + 12 + 17));
    for l in lines {
        let (ab, ba, rt) = match l.wire {
            Some(w) => (w.a_to_b.to_string(), w.b_to_a.to_string(), format!("{:.1}", w.flights as f64 / 2.0)),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let ratio = match l.versus {
            Some(v) => format!("{:.2}x", l.time.as_secs_f64() / v.as_secs_f64().max(1e-12)),
            None => "1.00x".into(),
        };
        println!(
            "{:<12} {:<28} {:>10} {:>12} {:>12} {:>11} {:>16}",
            l.case,
            l.what,
            fmt_time(l.time),
            ab,
            ba,
            rt,
            ratio
        );
    }
    println!("(yrs and automerge: tail only; a CRDT replica cannot miss ops in the middle of its history.)");
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes --bench; test mode (`cargo test --benches`) and --list do not want it.
    let summary = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--list");
    let sizes: &[usize] = if summary { &[10_000, 100_000] } else { &[1_000] };
    let mut lines = Vec::new();
    for &n in sizes {
        for layout in [Layout::Tail, Layout::Spread] {
            let case = Case::new(n, layout);
            bench_case(&mut c, &case, &mut lines, summary);
        }
    }
    c.final_summary();
    if summary {
        print_summary(&lines);
    }
}
