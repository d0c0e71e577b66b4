//! Seeded multi-peer simulation: a [`Cluster`] of peers, each a [`MemoryReplica`] and a
//! [`SyncEngine`] over one [`MemoryNetwork`] behind [`Admission`] (peers admit each other by
//! hello, as browsers do), driven step by step with no threads and no real time, so a seed
//! reproduces a run exactly; and [`run`], the randomized scenario the tests and fuzzers replay:
//! writes, removes, clears and transactions, partitions and heals, dropped, duplicated and
//! reordered frames, clock skew within the drift bound, peers that restart with their clock set
//! back, a peer of another group linked to everyone, and optionally a malicious peer of the
//! group, which also forks its own chain (two branches, each to another peer). After healing and
//! syncing, every honest peer must hold the same log and state (none of the malicious peer's ops
//! from a proven fork on), and nothing may have crossed between the groups.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use auroradb_log::segment::{encode_proven_segment, encode_segment};
use auroradb_log::{
    EncodedOp, Hlc, Identity, Log, LogConfig, Op, OpId, OpKind, PeerId, Step, Value, manual_clock, set_manual_clock,
};
use auroradb_snapshot::{Entry, State, StateConfig, Strategy};

use crate::frame::{PREFIX_LEN, encode_frame};
use crate::rng::SplitMix64;
use crate::transport::memory::{Faults, MemoryNetwork, MemoryTransport};
use crate::{
    Admission, AdmittedTransport, Body, EngineEvent, FrameLimits, Hello, MemoryReplica, Message, NetError, Ops,
    SyncConfig, SyncEngine, SyncError, SyncEvent,
};

/// Milliseconds since the epoch at which simulations start.
pub const START_MS: u64 = 1_700_000_000_000;

/// The sync group of a cluster's peers.
pub const GROUP: &str = "sim";

/// The transport of a simulated peer: its endpoint of the network, behind admission.
pub type SimTransport = AdmittedTransport<MemoryTransport>;

/// What a simulated peer's engine reports.
pub type SimEvent = EngineEvent<Rc<MemoryReplica>>;

/// The nonce of attachment `start` (0 first, one more at each restart) of `id`.
fn nonce_of(id: &PeerId, start: u8) -> [u8; 8] {
    let mut nonce = [0; 8];
    nonce.copy_from_slice(&id.0[..8]);
    nonce[7] ^= start;
    nonce
}

/// Polls a future that never waits (the memory replica and transport answer at once) to its end.
pub fn ready<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("a future over the memory replica and transport kept waiting")
}

/// One peer of a cluster.
pub struct SimPeer {
    /// Its id.
    pub id: PeerId,
    /// Its signing identity.
    pub identity: Identity,
    /// Its restarts so far.
    pub restarts: u8,
    /// Its replica.
    pub replica: Rc<MemoryReplica>,
    /// Its engine.
    pub engine: SyncEngine<Rc<MemoryReplica>, SimTransport>,
    /// Its sync group.
    pub group: String,
    /// How far its clock is off the cluster's time, in milliseconds.
    pub skew_ms: i64,
    /// Its materialized state, kept up to date by the replica's hook.
    pub state: Rc<RefCell<State>>,
}

impl fmt::Debug for SimPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimPeer")
            .field("id", &self.id)
            .field("group", &self.group)
            .field("skew_ms", &self.skew_ms)
            .finish()
    }
}

/// Peers over one in-memory network, with a shared simulated time.
#[derive(Debug)]
pub struct Cluster {
    /// The network.
    pub net: MemoryNetwork,
    /// The peers.
    pub peers: Vec<SimPeer>,
    /// Simulated time, milliseconds since the epoch.
    pub now_ms: u64,
    /// Every event each peer's engine reported, by peer index.
    pub events: RefCell<Vec<Vec<SimEvent>>>,
    config: SyncConfig,
    strategy: Strategy,
}

impl Cluster {
    /// `identities.len()` peers of [`GROUP`] with these identities and clock skews (not connected
    /// yet), with states under `strategy`.
    pub fn new(seed: u64, identities: &[Identity], skews: &[i64], config: SyncConfig, strategy: &Strategy) -> Cluster {
        let mut cluster = Cluster {
            net: MemoryNetwork::new(seed),
            peers: Vec::new(),
            now_ms: START_MS,
            events: RefCell::default(),
            config,
            strategy: strategy.clone(),
        };
        for (identity, skew) in identities.iter().zip(skews.iter().chain(std::iter::repeat(&0))) {
            cluster.add_peer(identity.clone(), *skew, GROUP);
        }
        cluster
    }

    /// Adds a peer of `group` signing as `identity` (not connected yet); returns its index.
    pub fn add_peer(&mut self, identity: Identity, skew_ms: i64, group: &str) -> usize {
        let peer = self.start_peer(identity.clone(), signing_log(identity), skew_ms, group, 0);
        self.peers.push(peer);
        self.events.borrow_mut().push(Vec::new());
        self.peers.len() - 1
    }

    /// A peer over `log`, its state built from the ops it holds, attached for the
    /// `restarts`-th time.
    fn start_peer(&self, identity: Identity, log: Log, skew_ms: i64, group: &str, restarts: u8) -> SimPeer {
        let id = identity.peer();
        let state = Rc::new(RefCell::new(state_of(&log, &self.strategy, id)));
        let replica = Rc::new(MemoryReplica::new(log));
        let target = state.clone();
        replica.set_hook(Box::new(move |op, _local| {
            target.borrow_mut().apply(&op.op);
        }));
        // An equivocation removed ops: the state is made again from the log.
        let target = state.clone();
        let strategy = self.strategy.clone();
        replica.set_reset_hook(Box::new(move |log| {
            *target.borrow_mut() = state_of(log, &strategy, id);
        }));
        let admission =
            Admission::new(group, nonce_of(&id, restarts)).with_clock(manual_clock, LogConfig::default().max_drift);
        let transport = AdmittedTransport::new(self.net.endpoint(id), admission);
        let engine = SyncEngine::new(replica.clone(), transport, self.config);
        SimPeer { id, identity, restarts, replica, engine, group: group.to_owned(), skew_ms, state }
    }

    /// Restarts peer `i` with its clock now `skew_ms` off the cluster's time (set back, say): a
    /// new engine, replica and state over the ops it held (its storage), as a reloaded page
    /// reopens its database. The log is rebuilt at the old clock, as the ops were stored; the
    /// clock keeps its floor past them, so the peer's next ops come after its previous ones
    /// even with the clock behind. Its links go down and come back up, so its peers see a new
    /// attachment.
    pub fn restart(&mut self, i: usize, skew_ms: i64) {
        self.enter(i);
        let old = &self.peers[i];
        let mut log = signing_log(old.identity.clone());
        // The proofs of equivocations are kept, as a database stores them.
        for eq in old.replica.log().equivocations() {
            log.keep_equivocation(eq.clone());
        }
        let held: Vec<EncodedOp> = old
            .replica
            .log()
            .range(..)
            .map(|(_, bytes, _)| EncodedOp::decode(bytes.to_vec()).expect("an op the log holds decodes"))
            .collect();
        log.insert_remote(held).expect("the ops a peer held go back into its log");
        // And the proofs it held, as a database stores those of the heads and of the ops at
        // multiples of the proof interval.
        for (id, proof) in old.replica.log().kept_proofs() {
            log.keep_proof(*id, *proof);
        }
        let (id, identity, group, restarts) = (old.id, old.identity.clone(), old.group.clone(), old.restarts + 1);
        let linked: Vec<PeerId> = self.peers.iter().map(|p| p.id).filter(|p| self.net.linked(id, *p)).collect();
        for p in &linked {
            self.net.disconnect(id, *p);
        }
        self.peers[i] = self.start_peer(identity, log, skew_ms, &group, restarts);
        for p in linked {
            self.net.connect(id, p);
        }
        self.collect(i);
    }

    /// Queues, from `stranger`, a hello of [`GROUP`] to peer `i`: how a peer of the group that
    /// is not in the cluster (a hand-driven attacker) gets admitted.
    pub fn introduce(&self, stranger: PeerId, i: usize) {
        let hello = Hello { reply: false, group: GROUP.into(), nonce: nonce_of(&stranger, 0), time: 0 };
        self.net.inject(stranger, self.peers[i].id, hello.encode());
    }

    /// `n` peers signing as [`sim_identity`] 1, 2, ... and no skew.
    pub fn simple(n: usize, config: SyncConfig) -> Cluster {
        let ids: Vec<Identity> = (1..=n as u8).map(sim_identity).collect();
        Cluster::new(0, &ids, &[], config, &Strategy::Timestamp)
    }

    /// Sets the manual clock to peer `i`'s time.
    pub fn enter(&self, i: usize) {
        set_manual_clock(self.now_ms.saturating_add_signed(self.peers[i].skew_ms));
    }

    fn collect(&self, i: usize) {
        let evs = self.peers[i].engine.drain_events();
        self.events.borrow_mut()[i].extend(evs);
    }

    /// Connects every pair of peers.
    pub fn connect_all(&self) {
        for a in 0..self.peers.len() {
            for b in a + 1..self.peers.len() {
                self.net.connect(self.peers[a].id, self.peers[b].id);
            }
        }
    }

    /// A local write at peer `i`, pushed to its peers at once.
    pub fn write(&self, i: usize, kind: OpKind) -> EncodedOp {
        self.enter(i);
        let op = self.peers[i].replica.append(kind).expect("a local write");
        self.peers[i].engine.post(std::slice::from_ref(&op));
        self.collect(i);
        op
    }

    /// Peer `i` handles every event waiting for it.
    pub fn pump(&self, i: usize) -> usize {
        self.enter(i);
        let n = ready(self.peers[i].engine.pump());
        self.collect(i);
        n
    }

    /// Peer `i` ticks at its own time.
    pub fn tick(&self, i: usize) {
        self.enter(i);
        let t = self.now_ms.saturating_add_signed(self.peers[i].skew_ms);
        self.peers[i].engine.tick(t);
        self.collect(i);
    }

    /// Every peer ticks.
    pub fn tick_all(&self) {
        for i in 0..self.peers.len() {
            self.tick(i);
        }
    }

    /// Peer `i` starts a session with each of its peers.
    pub fn fetch(&self, i: usize) -> usize {
        self.enter(i);
        let n = self.peers[i].engine.fetch();
        self.collect(i);
        n
    }

    /// Delivers frames and lets peers handle them until nothing moves (at most `limit` steps);
    /// returns the number of events handled.
    pub fn settle_at_most(&self, limit: usize) -> usize {
        let mut handled = 0;
        for _ in 0..limit {
            let mut moved = 0;
            for i in 0..self.peers.len() {
                moved += self.pump(i);
            }
            if let Some(to) = self.net.step() {
                moved += 1;
                if let Some(i) = self.index_of(&to) {
                    moved += self.pump(i);
                }
            }
            handled += moved;
            if moved == 0 {
                break;
            }
        }
        handled
    }

    /// [`Cluster::settle_at_most`] with a generous limit.
    pub fn settle(&self) -> usize {
        self.settle_at_most(1_000_000)
    }

    /// The index of peer `id`.
    pub fn index_of(&self, id: &PeerId) -> Option<usize> {
        self.peers.iter().position(|p| p.id == *id)
    }

    /// Errors reported by peer `i` so far (the memory replica's own failures are
    /// [`NetError::Replica`]).
    pub fn errors(&self, i: usize) -> Vec<NetError> {
        self.events.borrow()[i]
            .iter()
            .filter_map(|e| match e {
                SyncEvent::Error(SyncError::Net(e) | SyncError::Replica(e)) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    /// Checks that every peer (of `which`) holds the same log, and that each log verifies.
    pub fn check_converged(&self, which: &[usize]) -> Result<(), String> {
        let first = &self.peers[which[0]];
        let fp = first.replica.log().fingerprint(..);
        let ids: Vec<OpId> = first.replica.log().ids(..).map(|(id, _)| *id).collect();
        for &i in which {
            let log = self.peers[i].replica.log();
            log.verify().map_err(|e| format!("peer {i}'s log does not verify: {e}"))?;
            if log.fingerprint(..) != fp {
                let mine: BTreeSet<OpId> = log.ids(..).map(|(id, _)| *id).collect();
                let theirs: BTreeSet<OpId> = ids.iter().copied().collect();
                return Err(format!(
                    "peer {i} differs from peer {}: {} ops vs {} ({} only here, {} only there)",
                    which[0],
                    mine.len(),
                    theirs.len(),
                    mine.difference(&theirs).count(),
                    theirs.difference(&mine).count()
                ));
            }
            if log.ids(..).map(|(id, _)| *id).ne(ids.iter().copied()) {
                return Err(format!("peer {i} has the same fingerprint but other ids than peer {}", which[0]));
            }
        }
        Ok(())
    }

    /// Checks that every peer (of `which`) shows the same state: same keys, values, winning ops
    /// and versions. Holds for the converging strategies once the logs are equal.
    pub fn check_same_state(&self, which: &[usize]) -> Result<(), String> {
        let entries = |i: usize| -> Vec<(String, Entry)> {
            self.peers[i].state.borrow().iter().map(|(k, e)| (k.to_string(), e.clone())).collect()
        };
        let first = entries(which[0]);
        for &i in which {
            let other = entries(i);
            if other != first {
                let differing = first.iter().zip(&other).find(|(a, b)| a != b).map(|(a, _)| a.0.clone());
                return Err(format!(
                    "peer {i}'s state differs from peer {}'s ({} vs {} keys, first difference at {:?})",
                    which[0],
                    other.len(),
                    first.len(),
                    differing
                ));
            }
        }
        Ok(())
    }
}

/// The state of peer `id` under `strategy` made from the ops `log` holds.
fn state_of(log: &Log, strategy: &Strategy, id: PeerId) -> State {
    let mut state = State::new(StateConfig::new(strategy.clone(), id));
    for op in log.ops(..) {
        state.apply(&op.expect("an op the log holds decodes"));
    }
    state
}

/// The scenario of one simulation run.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Honest peers (3 to 8).
    pub peers: usize,
    /// Random steps before the final heal.
    pub steps: usize,
    /// Frame faults while the steps run.
    pub faults: Faults,
    /// Largest clock skew of a peer, either way, in milliseconds (keep it under half the drift
    /// bound).
    pub max_skew_ms: u64,
    /// Size of the key space.
    pub keys: u32,
    /// Whether a malicious peer takes part.
    pub malicious: bool,
    /// Whether honest peers restart now and then, their clock set back.
    pub restarts: bool,
    /// The conflict strategy of every peer (one that converges).
    pub strategy: &'static str,
    /// The engines' configuration.
    pub sync: SyncConfig,
}

impl SimConfig {
    /// A scenario drawn from `seed`.
    pub fn from_seed(seed: u64) -> SimConfig {
        let mut rng = SplitMix64::new(seed ^ 0x5eed_5eed_5eed_5eed);
        let faulty = rng.chance(0.7);
        let faults = if faulty {
            Faults {
                drop: rng.range(0, 10) as f64 / 100.0,
                duplicate: rng.range(0, 5) as f64 / 100.0,
                reorder: rng.range(0, 20) as f64 / 100.0,
                max_delay: rng.range(1, 20),
            }
        } else {
            Faults::NONE
        };
        let small = rng.chance(0.3);
        let sync = SyncConfig {
            limits: if small {
                FrameLimits { max_frame: 4096, max_segment_ops: rng.range(1, 16) as usize, ..FrameLimits::default() }
            } else {
                FrameLimits::default()
            },
            reconcile: crate::ReconcileConfig {
                branch: rng.range(2, 16) as usize,
                id_list_max: rng.range(2, 32) as usize,
                ..crate::ReconcileConfig::default()
            },
            auto_sync: true,
            sync_interval_ms: rng.range(500, 3_000),
            session_timeout_ms: 4_000,
            sync_on_connect: true,
            max_frames_per_tick: 100_000,
            load_batch: rng.range(1, 64) as usize,
        };
        SimConfig {
            peers: rng.range(3, 8) as usize,
            steps: rng.range(100, 400) as usize,
            faults,
            max_skew_ms: rng.range(0, 120_000),
            keys: rng.range(3, 20) as u32,
            malicious: rng.chance(0.3),
            restarts: rng.chance(0.5),
            strategy: ["timestamp", "version", "merge"][rng.below(3) as usize],
            sync,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SimOutcome {
    /// Honest peers.
    pub peers: usize,
    /// Ops in every log at the end.
    pub ops: usize,
    /// Frames sent on the network.
    pub frames: u64,
    /// Bytes sent on the network.
    pub bytes: u64,
    /// Frames dropped by faults and partitions.
    pub dropped: u64,
    /// Frames or segments the engines rejected.
    pub rejected: u64,
    /// Sessions completed.
    pub sessions: u64,
    /// Restarts of honest peers (each with its clock set back, or as far back as it was).
    pub restarts: u64,
    /// Forks the malicious peer made (two branches, each sent to another honest peer).
    pub forks: u64,
    /// Runs that ended with the malicious peer frozen by a proof (0 or 1 for one run).
    pub frozen: u64,
}

/// A run that broke an invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimFailure {
    /// The seed.
    pub seed: u64,
    /// What went wrong.
    pub reason: String,
}

impl fmt::Display for SimFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed {}: {} (replay with AURORADB_SIM_SEED={})", self.seed, self.reason, self.seed)
    }
}

fn random_value(rng: &mut SplitMix64) -> Value {
    if rng.chance(0.15) {
        return Value::Int(rng.below(100) as i64);
    }
    let mut fields = vec![("version".to_string(), Value::Int(rng.below(4) as i64))];
    for name in ["a", "b", "c"] {
        if rng.chance(0.5) {
            fields.push((name.to_string(), Value::Int(rng.below(1000) as i64)));
        }
    }
    Value::map(fields)
}

fn random_kind(rng: &mut SplitMix64, keys: u32) -> OpKind {
    let key = |rng: &mut SplitMix64| format!("k{}", rng.below(keys as u64));
    match rng.below(100) {
        0..=1 => OpKind::Clear,
        2..=16 => OpKind::Remove { key: key(rng) },
        // Now and then a value larger than a small frame: it travels in pieces.
        17 => OpKind::Put { key: key(rng), value: Value::String("b".repeat(rng.range(3_000, 12_000) as usize)) },
        18..=24 => OpKind::Txn(
            (0..rng.range(1, 3))
                .map(|_| {
                    if rng.chance(0.8) {
                        Step::Put { key: key(rng), value: random_value(rng) }
                    } else {
                        Step::Remove { key: key(rng) }
                    }
                })
                .collect(),
        ),
        _ => OpKind::Put { key: key(rng), value: random_value(rng) },
    }
}

/// The identity whose secret is 32 bytes of `n`: fixed identities for tests.
pub fn sim_identity(n: u8) -> Identity {
    Identity::from_secret(&[n; 32])
}

/// A log with the default configuration, on the manual clock, signing as `identity`.
pub fn signing_log(identity: Identity) -> Log {
    let config = LogConfig::default();
    let mut log = Log::new(Hlc::new(identity.peer(), manual_clock, config.max_drift), config);
    log.set_identity(identity).expect("the log's own identity");
    log
}

fn random_identity(rng: &mut SplitMix64) -> Identity {
    loop {
        let mut b = [0u8; 32];
        for chunk in b.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
        }
        let identity = Identity::from_secret(&b);
        let id = identity.peer();
        if id.0 != [0; 16] && id.0 != [0xff; 16] {
            return identity;
        }
    }
}

/// A peer of the group that sends bad frames: garbage, tampered and far-future ops, oversized
/// and truncated frames, pieces that never add up, replays, bad hellos and restarts; some valid
/// ops of its own, which must spread like anyone's; and forks of its own chain
/// ([`Attacker::equivocate`]), which must freeze it on every honest peer.
struct Attacker {
    id: PeerId,
    identity: Identity,
    log: Log,
    seq: u64,
    sent: Vec<Vec<u8>>,
}

impl Attacker {
    fn frame(&mut self, body: Body) -> Vec<u8> {
        self.seq += 1;
        let msg = Message { session: 0, initiator: true, body };
        encode_frame(self.seq, &msg, usize::MAX).expect("a well-formed message")
    }

    fn push(&mut self, segments: Vec<Vec<u8>>) -> Vec<u8> {
        self.frame(Body::Ops(Ops { segments, last: None }))
    }

    /// A fork of its own chain: two ops it signs at the next seq, under two ids or one id with
    /// two bodies, each on a branch of one to three ops, each branch pushed to another honest
    /// peer with the chain before it. Its log goes on along branch A. Returns the branches'
    /// frames, A's first.
    fn equivocate(&mut self, rng: &mut SplitMix64, now_ms: u64) -> [Vec<u8>; 2] {
        let same_id = rng.chance(0.5);
        let held: Vec<EncodedOp> = self
            .log
            .range(..)
            .map(|(_, bytes, _)| EncodedOp::decode(bytes.to_vec()).expect("an op the log holds decodes"))
            .collect();
        let head = self.log.heads().get(&self.id).copied();
        let mut branches: Vec<Vec<EncodedOp>> = Vec::new();
        for b in 0..2u64 {
            let mut run: Vec<EncodedOp> = Vec::new();
            for i in 0..rng.range(1, 4) {
                let after = run.last().map(|o| (o.op.seq, o.hash, o.op.id));
                let (seq, prev) = after
                    .map(|(s, h, _)| (s, h))
                    .or(head.map(|h| (h.seq, h.hash)))
                    .map_or((1, auroradb_log::Hash::ZERO), |(s, h)| (s + 1, h));
                let floor = after.map(|(_, _, id)| id).or(head.map(|h| h.id)).map_or(0, |id| id.time + 1);
                let at = if i == 0 && same_id { now_ms } else { now_ms + 1 + b * 8 + i };
                let time = auroradb_log::millis_to_ntp(at).max(floor);
                let key = format!("fork-{b}");
                let kind = OpKind::Put { key, value: Value::Int(rng.below(9) as i64) };
                run.push(EncodedOp::new(Op { id: OpId { time, peer: self.id }, author: self.id, seq, prev, kind }));
            }
            branches.push(run);
        }
        for op in &branches[0] {
            self.log.insert_local(op).expect("branch A goes on from the head");
        }
        let segment = |run: &[EncodedOp]| {
            let ops: Vec<&EncodedOp> = held.iter().chain(run).collect();
            let last = ops.last().expect("a branch has ops");
            let proofs = [(last.op.id, self.identity.prove(&last.hash))];
            encode_proven_segment(ops.iter().map(|o| (o.op.id, o.bytes.as_slice(), &o.hash)), &proofs)
                .expect("a chain in id order")
        };
        let (a, b) = (segment(&branches[0]), segment(&branches[1]));
        [self.push(vec![a]), self.push(vec![b])]
    }

    fn attack(&mut self, rng: &mut SplitMix64, cluster: &Cluster, now_ms: u64) -> Vec<u8> {
        let victim_log = || cluster.peers[0].replica.log().range(..).last().map(|(id, b, h)| (id, b.to_vec(), *h));
        let frame = match rng.below(12) {
            0 => (0..rng.below(200)).map(|_| rng.next_u64() as u8).collect(),
            1 => {
                // A segment of another peer's op with one byte changed.
                match victim_log() {
                    Some((id, bytes, hash)) => {
                        let mut seg = encode_segment([(id, bytes.as_slice(), &hash)]).expect("a stored op");
                        let i = rng.below(seg.len() as u64) as usize;
                        seg[i] ^= 1 + rng.below(255) as u8;
                        self.push(vec![seg])
                    }
                    None => return Vec::new(),
                }
            }
            2 => {
                // A well-formed op of this peer, far in the future.
                let head = self.log.heads().get(&self.id).copied();
                let op = EncodedOp::new(Op {
                    id: OpId::from_millis(now_ms + 3_600_000, self.id),
                    author: self.id,
                    seq: head.map_or(1, |h| h.seq + 1),
                    prev: head.map_or(auroradb_log::Hash::ZERO, |h| h.hash),
                    kind: OpKind::Clear,
                });
                let seg = encode_segment([(op.op.id, op.bytes.as_slice(), &op.hash)]).expect("a new op");
                self.push(vec![seg])
            }
            3 => {
                // An oversized announcement.
                let mut f = self.push(Vec::new());
                f[..PREFIX_LEN].copy_from_slice(&(u32::MAX - 8).to_le_bytes());
                f
            }
            4 => {
                let mut f = self.push(vec![vec![7; 64]]);
                f.truncate(f.len() / 2);
                f
            }
            5 if !self.sent.is_empty() => self.sent[rng.below(self.sent.len() as u64) as usize].clone(),
            6 => {
                // A turn for a session that does not exist, with a forged fingerprint.
                self.seq += 1;
                let msg = Message {
                    session: 99,
                    initiator: false,
                    body: Body::Reconcile(crate::Reconcile {
                        ranges: vec![crate::RangeItem {
                            upper: None,
                            mode: crate::Mode::Fingerprint(auroradb_log::Fingerprint([9; 16])),
                        }],
                        want: Vec::new(),
                        more_want: false,
                    }),
                };
                encode_frame(self.seq, &msg, usize::MAX).expect("well formed")
            }
            7 if rng.chance(0.5) => {
                // A hello that does not parse.
                let mut hello = Hello { reply: true, group: GROUP.into(), nonce: [0; 8], time: 0 }.encode();
                hello.truncate(rng.range(4, hello.len() as u64 - 1) as usize);
                hello
            }
            7 => {
                // A hello with a new nonce: a restart, so its sessions start over.
                let mut nonce = [0; 8];
                nonce.copy_from_slice(&rng.next_u64().to_le_bytes());
                Hello { reply: rng.chance(0.5), group: GROUP.into(), nonce, time: 0 }.encode()
            }
            8 => {
                // A piece of a segment that never adds up, or that announces more than any
                // receiver keeps.
                let data: Vec<u8> = (0..rng.range(1, 300)).map(|_| rng.next_u64() as u8).collect();
                let total = if rng.chance(0.5) { u32::MAX } else { rng.range(600, 1 << 20) as u32 };
                let offset = rng.below(300) as u32;
                self.frame(Body::Piece(crate::Piece { total, offset, check: rng.next_u64(), data }))
            }
            9 => {
                // An op in the name of an honest peer, extending its chain from its public head:
                // without a proof, or proven with the attacker's own key.
                let victim = &cluster.peers[rng.below(cluster.peers.len() as u64) as usize];
                let head = victim.replica.log().heads().get(&victim.id).copied();
                let op = EncodedOp::new(Op {
                    id: OpId::from_millis(now_ms, victim.id),
                    author: victim.id,
                    seq: head.map_or(1, |h| h.seq + 1),
                    prev: head.map_or(auroradb_log::Hash::ZERO, |h| h.hash),
                    kind: OpKind::Put { key: "forged".into(), value: Value::Int(1) },
                });
                let proofs = if rng.chance(0.5) { vec![(op.op.id, self.identity.prove(&op.hash))] } else { Vec::new() };
                let seg =
                    encode_proven_segment([(op.op.id, op.bytes.as_slice(), &op.hash)], &proofs).expect("a new op");
                self.push(vec![seg])
            }
            _ => {
                // A valid op of its own, proven.
                let op = self.log.append(OpKind::Put { key: "mallory".into(), value: Value::Int(rng.below(9) as i64) });
                let op = op.expect("append");
                let proof = self.identity.prove(&op.hash);
                let seg = encode_proven_segment([(op.op.id, op.bytes.as_slice(), &op.hash)], &[(op.op.id, proof)])
                    .expect("a new op");
                self.push(vec![seg])
            }
        };
        self.sent.push(frame.clone());
        frame
    }
}

/// Runs the scenario of `seed` (see [`SimConfig::from_seed`]).
pub fn run_seed(seed: u64) -> Result<SimOutcome, SimFailure> {
    run(seed, &SimConfig::from_seed(seed))
}

/// Runs one simulation and checks its invariants.
pub fn run(seed: u64, config: &SimConfig) -> Result<SimOutcome, SimFailure> {
    let fail = |reason: String| SimFailure { seed, reason };
    let mut rng = SplitMix64::new(seed);
    let n = config.peers;
    let identities: Vec<Identity> = (0..n).map(|_| random_identity(&mut rng)).collect();
    let ids: Vec<PeerId> = identities.iter().map(Identity::peer).collect();
    let skews: Vec<i64> =
        (0..n).map(|_| rng.range(0, 2 * config.max_skew_ms) as i64 - config.max_skew_ms as i64).collect();
    let strategy = Strategy::from_name(config.strategy).map_err(|e| fail(e.to_string()))?;
    let mut cluster = Cluster::new(rng.next_u64(), &identities, &skews, config.sync, &strategy);
    let mut attacker = config.malicious.then(|| {
        let identity = random_identity(&mut rng);
        Attacker { id: identity.peer(), log: signing_log(identity.clone()), identity, seq: 0, sent: Vec::new() }
    });
    if let Some(a) = &attacker {
        // The attacker is of the group: it says hello first, so its frames reach the engines.
        for (i, p) in ids.iter().enumerate() {
            cluster.net.connect(a.id, *p);
            cluster.introduce(a.id, i);
        }
    }
    // A database of another group that the same network links to everyone: it must never sync
    // with the group, whatever it writes.
    let outsider = cluster.add_peer(random_identity(&mut rng), 0, "elsewhere");
    let outsider_id = cluster.peers[outsider].id;
    cluster.connect_all();
    cluster.net.set_faults(config.faults);
    let mut written: BTreeSet<OpId> = BTreeSet::new();
    let mut restarts = 0;
    let mut forks = 0;
    let mut down: BTreeSet<(usize, usize)> = BTreeSet::new();

    for _ in 0..config.steps {
        cluster.now_ms += rng.below(40);
        match rng.below(100) {
            0..=29 => {
                let i = rng.below(n as u64 + 1) as usize;
                let kind = random_kind(&mut rng, config.keys);
                let op = cluster.write(i, kind).op.id;
                if i != outsider {
                    written.insert(op);
                }
            }
            30..=69 => {
                for _ in 0..rng.range(1, 8) {
                    if let Some(to) = cluster.net.step()
                        && let Some(i) = cluster.index_of(&to)
                    {
                        cluster.pump(i);
                    }
                }
            }
            70..=79 => cluster.tick(rng.below(n as u64) as usize),
            80..=82 => {
                cluster.fetch(rng.below(n as u64) as usize);
            }
            83..=85 => {
                let mut groups = vec![Vec::new(), Vec::new()];
                for id in &ids {
                    groups[rng.below(2) as usize].push(*id);
                }
                cluster.net.partition(&groups);
            }
            86..=88 => cluster.net.heal(),
            89 if config.restarts => {
                // A restart with the clock set back (within the bound of the others' clocks):
                // its next ops must still come after every op it wrote before.
                let i = rng.below(n as u64) as usize;
                let max = config.max_skew_ms as i64;
                let skew = cluster.peers[i].skew_ms;
                let back = (rng.range(0, 2 * config.max_skew_ms + 1) as i64 - max).min(skew - 1).max(-max);
                let before = cluster.peers[i].replica.log().heads().get(&ids[i]).map(|h| h.id);
                cluster.restart(i, back);
                restarts += 1;
                let op = cluster.write(i, random_kind(&mut rng, config.keys)).op.id;
                written.insert(op);
                if before.is_some_and(|b| op <= b) {
                    return Err(fail(format!("peer {i}'s first op after a restart, {op}, is not after its last one")));
                }
            }
            89..=91 => {
                let (a, b) = (rng.below(n as u64) as usize, rng.below(n as u64) as usize);
                if a != b {
                    let pair = (a.min(b), a.max(b));
                    if down.insert(pair) {
                        cluster.net.disconnect(ids[a], ids[b]);
                    } else {
                        down.remove(&pair);
                        cluster.net.connect(ids[a], ids[b]);
                    }
                }
            }
            _ => {
                if let Some(att) = attacker.as_mut() {
                    let victim = rng.below(n as u64) as usize;
                    set_manual_clock(cluster.now_ms);
                    if rng.chance(0.15) {
                        // Branch A to one peer, branch B to another.
                        let other = (victim + 1 + rng.below(n as u64 - 1) as usize) % n;
                        let [a, b] = att.equivocate(&mut rng, cluster.now_ms);
                        cluster.net.inject(att.id, ids[victim], a);
                        cluster.net.inject(att.id, ids[other], b);
                        forks += 1;
                        continue;
                    }
                    let frame = att.attack(&mut rng, &cluster, cluster.now_ms);
                    if !frame.is_empty() {
                        cluster.net.inject(att.id, ids[victim], frame);
                    }
                } else {
                    cluster.tick_all();
                }
            }
        }
    }

    // Heal everything, stop the faults, and let anti-entropy finish the job.
    cluster.net.heal();
    cluster.net.set_faults(Faults::NONE);
    for (a, b) in std::mem::take(&mut down) {
        cluster.net.connect(ids[a], ids[b]);
    }
    cluster.settle();
    cluster.now_ms += config.sync.session_timeout_ms.max(config.sync.sync_interval_ms) + 1;
    cluster.tick_all();
    cluster.settle();
    let all: Vec<usize> = (0..n).collect();
    let mut converged = cluster.check_converged(&all);
    for _ in 0..4 {
        if converged.is_ok() {
            break;
        }
        for i in 0..n {
            cluster.fetch(i);
        }
        cluster.settle();
        converged = cluster.check_converged(&all);
    }
    converged.map_err(fail)?;
    cluster.check_same_state(&all).map_err(|e| fail(format!("{} strategy: {e}", config.strategy)))?;

    let log = cluster.peers[0].replica.log();
    if let Some(missing) = written.iter().find(|id| !log.contains(id)) {
        return Err(fail(format!("op {missing} was written but is in no log")));
    }
    // No op in an honest peer's name that it did not write (an impersonation) got in anywhere.
    for p in &cluster.peers[..n] {
        if let Some((forged, _)) =
            p.replica.log().ids(..).find(|(id, _)| ids.contains(&id.peer) && !written.contains(id))
        {
            return Err(fail(format!("peer {} holds op {forged}, which its author never wrote", p.id)));
        }
    }
    // Nothing crossed between the groups, and the outsider was never even admitted.
    let outsider_log = cluster.peers[outsider].replica.log();
    if outsider_log.ids(..).any(|(id, _)| id.peer != outsider_id) {
        return Err(fail("an op of the group reached the peer of another group".into()));
    }
    if log.ids(..).any(|(id, _)| id.peer == outsider_id) {
        return Err(fail("an op of the peer of another group reached the group".into()));
    }
    let events = cluster.events.borrow();
    let admitted_outsider = |e: &SimEvent| matches!(e, SyncEvent::Connection { peer } if *peer == outsider_id);
    if let Some(i) = (0..n).find(|&i| events[i].iter().any(admitted_outsider)) {
        return Err(fail(format!("peer {i} admitted the peer of another group")));
    }
    if !cluster.peers[outsider].engine.peers().is_empty() || !events[outsider].is_empty() {
        return Err(fail(format!("the peer of another group synced: {:?}", events[outsider])));
    }
    let attacker_id = attacker.as_ref().map(|a| a.id);
    if let Some(a) = attacker_id {
        let limit = auroradb_log::millis_to_ntp(cluster.now_ms + 600_000);
        if log.ids(..).any(|(id, _)| id.peer == a && id.time > limit) {
            return Err(fail("a far-future op of the malicious peer was accepted".into()));
        }
    }
    // A proven fork froze the malicious peer: no honest log holds an op of it from there on.
    let fork = attacker_id.and_then(|a| {
        cluster.peers[..n]
            .iter()
            .filter_map(|p| p.replica.log().equivocation(&a).map(|e| *e.fork()))
            .min_by_key(|f| f.seq)
    });
    if let Some(f) = fork
        && let Some(h) = log.heads().get(&f.author).filter(|h| h.seq >= f.seq)
    {
        return Err(fail(format!("the malicious peer forked at seq {} but the logs hold its seq {}", f.seq, h.seq)));
    }
    let frozen = u64::from(fork.is_some());
    // Honest peers are blamed only for what faults explain.
    for i in 0..n {
        for e in cluster.errors(i) {
            let blamed = e.peer();
            let honest = blamed.is_some_and(|p| Some(p) != attacker_id);
            // An equivocation names the peer it was learnt from, and blames the author.
            let explained =
                matches!(e.inner(), NetError::Replay { .. } | NetError::Unexpected { .. } | NetError::NotConnected(_))
                    || matches!(e.inner(), NetError::Equivocation { author, .. } if Some(*author) == attacker_id);
            if (honest || blamed.is_none()) && !explained {
                return Err(fail(format!("peer {i} reported {e}")));
            }
        }
    }
    let stats = cluster.net.stats();
    let engines = cluster.peers.iter().map(|p| p.engine.stats());
    let (rejected, sessions) = engines.fold((0, 0), |(r, s), e| (r + e.rejected, s + e.sessions_completed));
    Ok(SimOutcome {
        peers: n,
        ops: log.len(),
        frames: stats.sent,
        bytes: stats.bytes,
        dropped: stats.dropped,
        rejected,
        sessions,
        restarts,
        forks,
        frozen,
    })
}
