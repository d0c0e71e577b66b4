//! The sync engine: a session per peer over a [`SyncStore`] and a [`Transport`].
//!
//! - **Connect**: when a peer comes up, the side with the smaller peer id starts a session.
//! - **Session**: the initiator's [`Reconciler`] sends the first turn; turns go back and forth
//!   until both sides know the differences; then each side ships what the other lacks, in
//!   ascending id order, as segments packed in frames, the last frame marked. The receiver checks
//!   each segment ([`decode_segment`]) and applies it all or nothing through
//!   [`SyncStore::apply_remote`]; a bad segment is rejected with an error naming the peer.
//! - **Push** ([`SyncEngine::post`]): local writes are sent at once to every connected peer,
//!   outside any session (session 0).
//! - **Anti-entropy** ([`SyncEngine::tick`]): with `auto_sync`, a session with every peer every
//!   `sync_interval_ms`; sessions idle longer than `session_timeout_ms` are abandoned.
//!
//! Time comes only from [`SyncEngine::tick`], so a test drives it deterministically.

mod replay;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::task::{Poll, Waker};

use auroradb_log::segment::decode_segment;
use auroradb_log::{EncodedOp, PeerId};

use crate::frame::{decode_frame, encode_frame};
use crate::ship::Packer;
use crate::transport::{Transport, TransportEvent};
use crate::{Body, FrameLimits, Message, NetError, Ops, ReconcileConfig, Reconciler, SyncStore};
use replay::ReplayWindow;

pub use replay::REPLAY_WINDOW;

/// How the engine behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncConfig {
    /// Frame and segment limits (sending and receiving).
    pub limits: FrameLimits,
    /// Branching and id-list threshold of reconciliation (its `max_frame` is taken from `limits`).
    pub reconcile: ReconcileConfig,
    /// Whether [`SyncEngine::tick`] starts a session with every peer each `sync_interval_ms`.
    pub auto_sync: bool,
    /// Milliseconds between anti-entropy rounds.
    pub sync_interval_ms: u64,
    /// A session with no progress for this long is abandoned.
    pub session_timeout_ms: u64,
    /// Whether a session starts when a peer connects (on the side with the smaller peer id).
    pub sync_on_connect: bool,
    /// Frames accepted from one peer between two ticks; more is a flood and is dropped. The
    /// counters reset on [`SyncEngine::tick`], so a database ticks regularly (every second or
    /// so) even without `auto_sync`.
    pub max_frames_per_tick: u32,
    /// Ops loaded from the store at once while shipping.
    pub load_batch: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            limits: FrameLimits::default(),
            reconcile: ReconcileConfig::default(),
            auto_sync: true,
            sync_interval_ms: 30_000,
            session_timeout_ms: 60_000,
            sync_on_connect: true,
            max_frames_per_tick: 10_000,
            load_batch: 1024,
        }
    }
}

/// What one sync round achieved: `{ peers, sent, received }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncReport {
    /// Peers whose session completed.
    pub peers: usize,
    /// Ops shipped to them.
    pub sent: u64,
    /// New ops received from them and applied.
    pub received: u64,
}

/// Events for the database to forward (`connection`, `disconnect`, `sync`, `post`, `error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEvent {
    /// A peer connected.
    Connection {
        /// The peer.
        peer: PeerId,
    },
    /// A peer disconnected.
    Disconnect {
        /// The peer.
        peer: PeerId,
    },
    /// A sync round (a [`SyncEngine::sync`], a [`SyncEngine::fetch`], an anti-entropy tick or a
    /// connection) finished.
    Sync(SyncReport),
    /// Ops from a peer were applied.
    Post {
        /// The peer that sent them.
        peer: PeerId,
        /// How many new ops were applied.
        ops: usize,
    },
    /// Something was rejected or failed; errors caused by a peer are [`NetError::FromPeer`].
    Error(NetError),
}

/// Counters of the engine's traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineStats {
    /// Frames sent.
    pub frames_sent: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Frames received (accepted or not).
    pub frames_received: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Ops shipped in sessions and pushes.
    pub ops_sent: u64,
    /// New ops applied from peers.
    pub ops_received: u64,
    /// Frames or segments rejected.
    pub rejected: u64,
    /// Segments set aside because an author's earlier ops had not arrived (fetched again later).
    pub deferred: u64,
    /// Sessions completed.
    pub sessions_completed: u64,
    /// Sessions abandoned (timeout, disconnect, protocol error).
    pub sessions_abandoned: u64,
}

#[derive(Debug)]
struct Session {
    id: u32,
    rec: Reconciler,
    shipping: bool,
    shipped: bool,
    got_msgs: u32,
    total_msgs: Option<u32>,
    sent: u64,
    received: u64,
    last_activity: u64,
    round: Option<u64>,
}

impl Session {
    fn new(id: u32, rec: Reconciler, now: u64, round: Option<u64>) -> Session {
        Session {
            id,
            rec,
            shipping: false,
            shipped: false,
            got_msgs: 0,
            total_msgs: None,
            sent: 0,
            received: 0,
            last_activity: now,
            round,
        }
    }

    fn complete(&self) -> bool {
        self.rec.is_done() && self.shipped && self.total_msgs.is_some_and(|t| self.got_msgs >= t)
    }
}

#[derive(Debug, Default)]
struct PeerState {
    replay: ReplayWindow,
    frames_this_tick: u32,
    flooded: bool,
    /// The session this side started.
    outgoing: Option<Session>,
    /// The session the peer started.
    incoming: Option<Session>,
    /// When a chain gap in this peer's ops last started a session (at most one per tick).
    gap_fetch_at: Option<u64>,
}

impl PeerState {
    fn session(&mut self, mine: bool) -> &mut Option<Session> {
        if mine { &mut self.outgoing } else { &mut self.incoming }
    }
}

#[derive(Debug)]
struct Round {
    pending: BTreeSet<PeerId>,
    report: SyncReport,
    waker: Option<Waker>,
    awaited: bool,
}

#[derive(Debug, Default)]
struct State {
    peers: BTreeMap<PeerId, PeerState>,
    seq: u64,
    next_session: u32,
    next_round: u64,
    now: u64,
    last_auto: u64,
    rounds: BTreeMap<u64, Round>,
    finished: BTreeMap<u64, SyncReport>,
    events: Vec<SyncEvent>,
    stats: EngineStats,
}

impl State {
    fn error(&mut self, e: NetError) {
        self.stats.rejected += 1;
        self.events.push(SyncEvent::Error(e));
    }

    /// Records that `peer` is finished for `round` (completed when `report` is given).
    fn settle(&mut self, round: Option<u64>, peer: PeerId, report: Option<(u64, u64)>) {
        let Some(id) = round else { return };
        let Some(r) = self.rounds.get_mut(&id) else { return };
        if !r.pending.remove(&peer) {
            return;
        }
        if let Some((sent, received)) = report {
            r.report.peers += 1;
            r.report.sent += sent;
            r.report.received += received;
        }
        if r.pending.is_empty() {
            let r = self.rounds.remove(&id).expect("round present");
            self.events.push(SyncEvent::Sync(r.report));
            if r.awaited {
                self.finished.insert(id, r.report);
            }
            if let Some(w) = r.waker {
                w.wake();
            }
        }
    }

    fn abandon(&mut self, peer: PeerId, s: Session) {
        self.stats.sessions_abandoned += 1;
        self.settle(s.round, peer, None);
    }
}

/// The sync engine of one peer. Methods take `&self`: the state is inside, and no borrow is held
/// across an `await`, so a database can call [`SyncEngine::post`] or [`SyncEngine::sync`] while
/// [`SyncEngine::run`] is receiving.
#[derive(Debug)]
pub struct SyncEngine<S, T> {
    store: S,
    transport: T,
    config: SyncConfig,
    state: RefCell<State>,
}

impl<S: SyncStore, T: Transport> SyncEngine<S, T> {
    /// An engine for `store` over `transport`.
    pub fn new(store: S, transport: T, config: SyncConfig) -> SyncEngine<S, T> {
        let limits = config.limits.clamped();
        let reconcile = ReconcileConfig { max_frame: limits.max_frame, ..config.reconcile }.clamped();
        let config =
            SyncConfig { limits: FrameLimits { max_frame: reconcile.max_frame, ..limits }, reconcile, ..config };
        SyncEngine { store, transport, config, state: RefCell::new(State { next_session: 1, ..State::default() }) }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The configuration in force (limits clamped).
    pub fn config(&self) -> &SyncConfig {
        &self.config
    }

    /// The peers connected now, as the engine knows them.
    pub fn peers(&self) -> Vec<PeerId> {
        self.state.borrow().peers.keys().copied().collect()
    }

    /// Traffic counters.
    pub fn stats(&self) -> EngineStats {
        self.state.borrow().stats
    }

    /// Takes the events that happened since the last call.
    pub fn drain_events(&self) -> Vec<SyncEvent> {
        std::mem::take(&mut self.state.borrow_mut().events)
    }

    /// Whether a session with `peer` (either side's) is in progress.
    pub fn is_syncing_with(&self, peer: &PeerId) -> bool {
        self.state.borrow().peers.get(peer).is_some_and(|p| p.outgoing.is_some() || p.incoming.is_some())
    }

    /// Pushes local ops (ascending ids) to every connected peer at once. Returns the number of
    /// peers they were sent to.
    pub fn post(&self, ops: &[EncodedOp]) -> usize {
        let mut st = self.state.borrow_mut();
        let peers: Vec<PeerId> = st.peers.keys().copied().collect();
        if peers.is_empty() || ops.is_empty() {
            return 0;
        }
        let mut sorted: Vec<&EncodedOp> = ops.iter().collect();
        sorted.sort_by_key(|o| o.op.id);
        sorted.dedup_by_key(|o| o.op.id);
        let mut packer = Packer::new(self.config.limits);
        for op in sorted {
            if let Err(e) = packer.push((op.op.id, op.bytes.clone(), op.hash)) {
                st.error(e);
            }
        }
        let count = packer.ops();
        let msgs: Vec<Ops> = packer.finish(false);
        for body in msgs {
            let msg = Message { session: 0, initiator: true, body: Body::Ops(body) };
            st.seq += 1;
            let frame = match encode_frame(st.seq, &msg, self.config.limits.max_frame) {
                Ok(f) => f,
                Err(e) => {
                    st.error(e);
                    continue;
                }
            };
            for p in &peers {
                self.send_frame(&mut st, *p, frame.clone());
            }
        }
        st.stats.ops_sent += count * peers.len() as u64;
        peers.len()
    }

    /// Starts a session with every connected peer (asking them for what they have and offering
    /// what they lack), without waiting. Returns the number of peers asked; a `sync` event
    /// follows when all sessions end.
    pub fn fetch(&self) -> usize {
        let peers = self.peers();
        self.start_round(&peers, false);
        peers.len()
    }

    /// Syncs with every connected peer: a fresh session each, resolving when all of them have
    /// completed or been abandoned. The sessions start when this is called, not when the future
    /// is first polled; frames must keep being received (by [`SyncEngine::run`],
    /// [`SyncEngine::pump`] or [`SyncEngine::handle`]) for it to resolve.
    pub fn sync(&self) -> impl Future<Output = SyncReport> + '_ {
        let peers = self.peers();
        let round = self.start_round(&peers, true);
        std::future::poll_fn(move |cx| {
            let mut st = self.state.borrow_mut();
            if let Some(report) = st.finished.remove(&round) {
                return Poll::Ready(report);
            }
            match st.rounds.get_mut(&round) {
                Some(r) => {
                    r.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
                None => Poll::Ready(SyncReport::default()),
            }
        })
    }

    /// Advances the engine's clock to `now_ms`: resets the flood counters, abandons idle
    /// sessions, and (with `auto_sync`) starts an anti-entropy round when one is due.
    pub fn tick(&self, now_ms: u64) {
        let due = {
            let mut st = self.state.borrow_mut();
            st.now = st.now.max(now_ms);
            let now = st.now;
            let timeout = self.config.session_timeout_ms;
            let mut stale = Vec::new();
            for (p, ps) in st.peers.iter_mut() {
                ps.frames_this_tick = 0;
                ps.flooded = false;
                for mine in [true, false] {
                    if ps.session(mine).as_ref().is_some_and(|s| now.saturating_sub(s.last_activity) > timeout) {
                        stale.push((*p, ps.session(mine).take().expect("checked")));
                    }
                }
            }
            for (p, s) in stale {
                st.abandon(p, s);
            }
            let due = self.config.auto_sync && now.saturating_sub(st.last_auto) >= self.config.sync_interval_ms;
            if due {
                st.last_auto = now;
            }
            due.then(|| st.peers.iter().filter(|(_, ps)| ps.outgoing.is_none()).map(|(p, _)| *p).collect::<Vec<_>>())
        };
        if let Some(peers) = due
            && !peers.is_empty()
        {
            self.start_round(&peers, false);
        }
    }

    /// Handles every event waiting on the transport; returns how many.
    pub async fn pump(&self) -> usize {
        let mut n = 0;
        while let Some(ev) = self.transport.try_recv() {
            self.handle(ev).await;
            n += 1;
        }
        n
    }

    /// Receives and handles events until the transport closes.
    pub async fn run(&self) {
        while let Some(ev) = self.transport.recv().await {
            self.handle(ev).await;
        }
    }

    /// Handles one transport event.
    pub async fn handle(&self, event: TransportEvent) {
        match event {
            TransportEvent::PeerUp(peer) => self.peer_up(peer),
            TransportEvent::PeerDown(peer) => self.peer_down(peer),
            TransportEvent::Frame { from, bytes } => self.frame(from, bytes).await,
        }
    }

    fn peer_up(&self, peer: PeerId) {
        let start = {
            let mut st = self.state.borrow_mut();
            if let Some(old) = st.peers.insert(peer, PeerState::default()) {
                for s in [old.outgoing, old.incoming].into_iter().flatten() {
                    st.abandon(peer, s);
                }
            }
            st.events.push(SyncEvent::Connection { peer });
            self.config.sync_on_connect && self.store.local_peer() < peer
        };
        if start {
            self.start_round(&[peer], false);
        }
    }

    fn peer_down(&self, peer: PeerId) {
        let mut st = self.state.borrow_mut();
        if let Some(old) = st.peers.remove(&peer) {
            for s in [old.outgoing, old.incoming].into_iter().flatten() {
                st.abandon(peer, s);
            }
            st.events.push(SyncEvent::Disconnect { peer });
        }
    }

    /// Starts a round with a fresh session to each of `peers`; returns the round's id.
    fn start_round(&self, peers: &[PeerId], awaited: bool) -> u64 {
        let mut st = self.state.borrow_mut();
        let id = st.next_round;
        st.next_round += 1;
        let peers: Vec<PeerId> = peers.iter().copied().filter(|p| st.peers.contains_key(p)).collect();
        st.rounds.insert(
            id,
            Round { pending: peers.iter().copied().collect(), report: SyncReport::default(), waker: None, awaited },
        );
        if peers.is_empty() {
            st.rounds.remove(&id);
            st.events.push(SyncEvent::Sync(SyncReport::default()));
            if awaited {
                st.finished.insert(id, SyncReport::default());
            }
            return id;
        }
        for peer in peers {
            let sid = st.next_session;
            st.next_session = st.next_session.wrapping_add(1).max(1);
            let mut rec = Reconciler::new(self.config.reconcile, true);
            let turn = rec.initiate(&self.store);
            let now = st.now;
            let ps = st.peers.get_mut(&peer).expect("filtered");
            let old = ps.outgoing.replace(Session::new(sid, rec, now, Some(id)));
            if let Some(old) = old {
                st.abandon(peer, old);
            }
            let msg = Message { session: sid, initiator: true, body: Body::Reconcile(turn) };
            self.send_msg(&mut st, peer, &msg);
        }
        id
    }

    fn send_msg(&self, st: &mut State, to: PeerId, msg: &Message) {
        st.seq += 1;
        match encode_frame(st.seq, msg, self.config.limits.max_frame) {
            Ok(frame) => self.send_frame(st, to, frame),
            Err(e) => st.error(e),
        }
    }

    fn send_frame(&self, st: &mut State, to: PeerId, frame: Vec<u8>) {
        st.stats.frames_sent += 1;
        st.stats.bytes_sent += frame.len() as u64;
        if let Err(e) = self.transport.send(to, frame) {
            st.events.push(SyncEvent::Error(e));
        }
    }

    async fn frame(&self, from: PeerId, bytes: Vec<u8>) {
        let msg = {
            let mut st = self.state.borrow_mut();
            st.stats.frames_received += 1;
            st.stats.bytes_received += bytes.len() as u64;
            let limit = self.config.max_frames_per_tick;
            let Some(ps) = st.peers.get_mut(&from) else {
                st.error(NetError::NotConnected(from));
                return;
            };
            ps.frames_this_tick += 1;
            if ps.frames_this_tick > limit {
                let first = !ps.flooded;
                ps.flooded = true;
                if first {
                    st.error(NetError::Flood { limit }.from_peer(from));
                } else {
                    st.stats.rejected += 1;
                }
                return;
            }
            let (seq, msg) = match decode_frame(&bytes, self.config.limits.max_frame) {
                Ok(m) => m,
                Err(e) => {
                    st.error(e.from_peer(from));
                    return;
                }
            };
            let ps = st.peers.get_mut(&from).expect("checked above");
            if !ps.replay.accept(seq) {
                st.error(NetError::Replay { seq }.from_peer(from));
                return;
            }
            msg
        };
        match msg.body {
            Body::Reconcile(turn) => self.turn(from, msg.session, msg.initiator, turn).await,
            Body::Ops(ops) => self.ops(from, msg.session, msg.initiator, ops).await,
        }
    }

    /// A reconciliation turn from `from` for session `sid`, started by `from` if `theirs`.
    async fn turn(&self, from: PeerId, sid: u32, theirs: bool, turn: crate::Reconcile) {
        let ship = {
            let mut st = self.state.borrow_mut();
            let now = st.now;
            let mine = !theirs;
            let ps = st.peers.get_mut(&from).expect("peer checked by frame()");
            let slot = ps.session(mine);
            let fits = match slot {
                Some(s) => s.id == sid || (theirs && sid > s.id),
                None => theirs && sid != 0,
            };
            if !fits {
                st.error(NetError::Unexpected { reason: "a turn for an unknown session" }.from_peer(from));
                return;
            }
            if theirs && slot.as_ref().is_none_or(|s| s.id != sid) {
                let old = slot.replace(Session::new(sid, Reconciler::new(self.config.reconcile, false), now, None));
                if let Some(old) = old {
                    st.abandon(from, old);
                }
            }
            let ps = st.peers.get_mut(&from).expect("present");
            let s = ps.session(mine).as_mut().expect("present");
            s.last_activity = now;
            match s.rec.handle(&self.store, &turn) {
                Ok(answer) => {
                    let ship = s.rec.is_done() && !s.shipping;
                    if ship {
                        s.shipping = true;
                    }
                    if let Some(answer) = answer {
                        let msg = Message { session: sid, initiator: mine, body: Body::Reconcile(answer) };
                        self.send_msg(&mut st, from, &msg);
                    }
                    ship.then(|| {
                        let ps = st.peers.get_mut(&from).expect("present");
                        ps.session(mine).as_mut().expect("present").rec.take_have()
                    })
                }
                Err(e) => {
                    let s = ps.session(mine).take().expect("present");
                    st.abandon(from, s);
                    st.error(e.from_peer(from));
                    None
                }
            }
        };
        if let Some(ids) = ship {
            self.ship(from, sid, !theirs, ids).await;
        }
    }

    /// Ships the ops `ids` (ascending) to `to` for the session `sid`.
    async fn ship(&self, to: PeerId, sid: u32, mine: bool, ids: Vec<auroradb_log::OpId>) {
        let mut packer = Packer::new(self.config.limits);
        let mut skipped: BTreeSet<PeerId> = BTreeSet::new();
        for chunk in ids.chunks(self.config.load_batch.max(1)) {
            let loaded = self.store.load_ops(chunk).await;
            let mut st = self.state.borrow_mut();
            match loaded {
                Ok(mut ops) => {
                    ops.sort_by_key(|o| o.0);
                    for op in ops {
                        // Once an author's op cannot go, its later ops would only be rejected.
                        if skipped.contains(&op.0.peer) {
                            continue;
                        }
                        if let Err(e) = packer.push(op.clone()) {
                            skipped.insert(op.0.peer);
                            st.error(e);
                        }
                    }
                }
                Err(e) => {
                    st.error(e);
                    break;
                }
            }
            for body in packer.take_ready() {
                self.send_msg(&mut st, to, &Message { session: sid, initiator: mine, body: Body::Ops(body) });
            }
        }
        let mut st = self.state.borrow_mut();
        let sent = packer.ops();
        for body in packer.finish(true) {
            self.send_msg(&mut st, to, &Message { session: sid, initiator: mine, body: Body::Ops(body) });
        }
        st.stats.ops_sent += sent;
        let Some(ps) = st.peers.get_mut(&to) else { return };
        if let Some(s) = ps.session(mine).as_mut().filter(|s| s.id == sid) {
            s.shipped = true;
            s.sent = sent;
        }
        self.check_complete(&mut st, to, mine);
    }

    fn check_complete(&self, st: &mut State, peer: PeerId, mine: bool) {
        let Some(ps) = st.peers.get_mut(&peer) else { return };
        if ps.session(mine).as_ref().is_some_and(Session::complete) {
            let s = ps.session(mine).take().expect("checked");
            st.stats.sessions_completed += 1;
            st.settle(s.round, peer, Some((s.sent, s.received)));
        }
    }

    /// Ops from `from`: pushed (session 0) or shipped in session `sid`.
    async fn ops(&self, from: PeerId, sid: u32, theirs: bool, ops: Ops) {
        let mine = !theirs;
        if sid != 0 {
            let mut st = self.state.borrow_mut();
            let ps = st.peers.get_mut(&from).expect("peer checked by frame()");
            if ps.session(mine).as_ref().is_none_or(|s| s.id != sid) {
                st.error(NetError::Unexpected { reason: "ops for an unknown session" }.from_peer(from));
                return;
            }
        }
        let mut received = 0u64;
        let mut gap = false;
        for seg in &ops.segments {
            let decoded = decode_segment(seg, self.config.limits.segment_limits());
            let batch = match decoded {
                Ok(b) => b,
                Err(e) => {
                    self.state.borrow_mut().error(NetError::from(e).from_peer(from));
                    break;
                }
            };
            match self.store.apply_remote(from, batch).await {
                Ok(n) => {
                    received += n as u64;
                    if n > 0 {
                        self.state.borrow_mut().events.push(SyncEvent::Post { peer: from, ops: n });
                    }
                }
                Err(e) if e.is_chain_gap() => {
                    self.state.borrow_mut().stats.deferred += 1;
                    gap = true;
                    break;
                }
                Err(e @ NetError::Log(_)) => {
                    self.state.borrow_mut().error(e.from_peer(from));
                    break;
                }
                Err(e) => {
                    self.state.borrow_mut().error(e);
                    break;
                }
            }
        }
        let start_fetch = {
            let mut st = self.state.borrow_mut();
            st.stats.ops_received += received;
            let now = st.now;
            let Some(ps) = st.peers.get_mut(&from) else { return };
            if sid != 0 {
                if let Some(s) = ps.session(mine).as_mut().filter(|s| s.id == sid) {
                    s.received += received;
                    s.got_msgs += 1;
                    s.last_activity = now;
                    if let Some(t) = ops.last {
                        s.total_msgs = Some(t);
                    }
                }
                self.check_complete(&mut st, from, mine);
            }
            let now = st.now;
            match st.peers.get_mut(&from) {
                Some(p) if gap && p.outgoing.is_none() && p.gap_fetch_at != Some(now) => {
                    p.gap_fetch_at = Some(now);
                    true
                }
                _ => false,
            }
        };
        if start_fetch {
            // We lack an author's earlier ops that this peer has: reconcile with it.
            self.start_round(&[from], false);
        }
    }
}
