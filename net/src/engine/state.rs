//! The engine's state: a session per side per peer, the rounds awaiting their peers, the events
//! not yet drained and the counters.

use std::collections::{BTreeMap, BTreeSet};
use std::task::Waker;

use auroradb_log::{EncodedOp, Equivocation, PeerId};

use super::event::{EngineStats, SyncEvent, SyncReport};
use super::replay::ReplayWindow;
use crate::{NetError, Reconciler, SyncError};

/// One reconciliation session with a peer, and its shipment both ways.
#[derive(Debug)]
pub(super) struct Session {
    pub(super) id: u32,
    pub(super) rec: Reconciler,
    /// This side started shipping (once reconciliation is done).
    pub(super) shipping: bool,
    /// This side's shipment is sent.
    pub(super) shipped: bool,
    /// Ops frames received from the peer in this session.
    pub(super) got_msgs: u32,
    /// How many ops frames the peer's shipment has, once its last frame said so.
    pub(super) total_msgs: Option<u32>,
    pub(super) sent: u64,
    pub(super) received: u64,
    pub(super) last_activity: u64,
    /// The round waiting for this session, if this side started it for one.
    pub(super) round: Option<u64>,
}

impl Session {
    pub(super) fn new(id: u32, rec: Reconciler, now: u64, round: Option<u64>) -> Session {
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

    /// Both sides know the differences, this side shipped, and the peer's shipment is in.
    pub(super) fn complete(&self) -> bool {
        self.rec.is_done() && self.shipped && self.total_msgs.is_some_and(|t| self.got_msgs >= t)
    }
}

/// What the engine keeps per connected peer.
#[derive(Debug, Default)]
pub(super) struct PeerState {
    pub(super) replay: ReplayWindow,
    pub(super) frames_this_tick: u32,
    pub(super) flooded: bool,
    /// The session this side started.
    pub(super) outgoing: Option<Session>,
    /// The session the peer started.
    pub(super) incoming: Option<Session>,
    /// When a chain gap in this peer's ops last started a session (at most one per tick).
    pub(super) gap_fetch_at: Option<u64>,
    /// Segments arriving in pieces, oldest first: at most [`MAX_PARTIALS`], each within the
    /// segment limit.
    pub(super) partial: Vec<Partial>,
    /// Ops of this peer's segments that wait for a proof of their author, by author: each run
    /// extends past the newest op a segment proved.
    pub(super) unproven: BTreeMap<PeerId, Vec<EncodedOp>>,
    /// Their bytes, at most [`MAX_UNPROVEN_BYTES`].
    pub(super) unproven_bytes: usize,
    /// The ops shipped to this peer since `shipped_since` (the start of the current minute of
    /// shipping): see [`SHIP_WINDOW_MS`].
    pub(super) shipped_ops: u64,
    pub(super) shipped_since: u64,
    /// Whether a shipment was refused in the current minute (it is reported once).
    pub(super) reshipping: bool,
}

/// The window of the shipping budget: within it, a peer's sessions are shipped at most twice the
/// ops held, plus [`SHIP_SLACK`]. Without it, a peer could ask for the whole log again in every
/// session it starts (a 21-byte frame each) and have it shipped each time.
pub(super) const SHIP_WINDOW_MS: u64 = 60_000;

/// Ops a peer may be shipped within [`SHIP_WINDOW_MS`] on top of twice the ops held.
pub const SHIP_SLACK: u64 = 10_000;

/// How many bytes of one peer's ops may wait for a proof of their author.
pub(super) const MAX_UNPROVEN_BYTES: usize = 64 << 20;

/// How many segments of one peer may be under way in pieces at once; a new one beyond that
/// drops the oldest (its pieces were lost: the next reconciliation ships it again).
pub(super) const MAX_PARTIALS: usize = 4;

/// A segment of which some pieces have arrived.
#[derive(Debug)]
pub(super) struct Partial {
    /// The session it is shipped in (0: pushed).
    pub(super) session: u32,
    /// Whether that session is this side's.
    pub(super) mine: bool,
    /// The segment's length.
    pub(super) total: u32,
    /// Its pieces' `check`.
    pub(super) check: u64,
    /// The pieces received, by offset; they never overlap.
    pub(super) pieces: BTreeMap<u32, Vec<u8>>,
}

impl PeerState {
    /// This side's session (`mine`) or the peer's.
    pub(super) fn session(&mut self, mine: bool) -> &mut Option<Session> {
        if mine { &mut self.outgoing } else { &mut self.incoming }
    }
}

/// A round of sessions, finished when every peer in it completed or was abandoned.
#[derive(Debug)]
pub(super) struct Round {
    pub(super) pending: BTreeSet<PeerId>,
    pub(super) report: SyncReport,
    pub(super) waker: Option<Waker>,
    /// A [`SyncEngine::sync`](super::SyncEngine::sync) future waits for its report.
    pub(super) awaited: bool,
}

/// Everything the engine changes as it goes; `A` and `E` are its replica's applied outcome and
/// error (see [`SyncEvent`]).
#[derive(Debug)]
pub(super) struct State<A, E> {
    pub(super) peers: BTreeMap<PeerId, PeerState>,
    pub(super) seq: u64,
    pub(super) next_session: u32,
    pub(super) next_round: u64,
    pub(super) now: u64,
    pub(super) last_auto: u64,
    pub(super) rounds: BTreeMap<u64, Round>,
    pub(super) finished: BTreeMap<u64, SyncReport>,
    pub(super) events: Vec<SyncEvent<A, E>>,
    pub(super) stats: EngineStats,
    /// Proofs of forks that this replica cannot apply yet, by author: each forks after an op
    /// that is not the one held at its seq, so the author forked earlier too. Each still proves
    /// the op before its fork (its run chains back to it), which lets this replica take that op
    /// from a peer and prove the earlier fork. At most [`MAX_PENDING_PROOFS`] per author, for at
    /// most [`MAX_PENDING_AUTHORS`] authors.
    pub(super) pending: BTreeMap<PeerId, Vec<Equivocation>>,
}

/// How many proofs of one author wait for an earlier fork of it to be proven.
pub(super) const MAX_PENDING_PROOFS: usize = 4;

/// How many authors may have proofs waiting for an earlier fork.
pub(super) const MAX_PENDING_AUTHORS: usize = 64;

impl<A, E> State<A, E> {
    pub(super) fn new() -> State<A, E> {
        State {
            peers: BTreeMap::new(),
            seq: 0,
            next_session: 1,
            next_round: 0,
            now: 0,
            last_auto: 0,
            rounds: BTreeMap::new(),
            finished: BTreeMap::new(),
            events: Vec::new(),
            stats: EngineStats::default(),
            pending: BTreeMap::new(),
        }
    }

    /// Keeps `eq`, a proof that cannot be applied yet (see [`State::pending`]); the oldest of its
    /// author's go beyond the bound, and a new author beyond the bound is not kept.
    pub(super) fn keep_pending(&mut self, eq: Equivocation) {
        let author = eq.fork().author;
        if !self.pending.contains_key(&author) && self.pending.len() >= MAX_PENDING_AUTHORS {
            return;
        }
        let kept = self.pending.entry(author).or_default();
        if kept.iter().any(|k| k.fork().prev == eq.fork().prev) {
            return;
        }
        if kept.len() >= MAX_PENDING_PROOFS {
            kept.remove(0);
        }
        kept.push(eq);
    }

    /// Reports a rejected frame or segment, or a failure of the sync.
    pub(super) fn error(&mut self, e: NetError) {
        self.fail(SyncError::Net(e));
    }

    /// Reports a failure, counted as a rejection.
    pub(super) fn fail(&mut self, e: SyncError<E>) {
        self.stats.rejected += 1;
        self.events.push(SyncEvent::Error(e));
    }

    /// Records that `peer` is finished for `round` (completed when `report` is given).
    pub(super) fn settle(&mut self, round: Option<u64>, peer: PeerId, report: Option<(u64, u64)>) {
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

    pub(super) fn abandon(&mut self, peer: PeerId, s: Session) {
        self.stats.sessions_abandoned += 1;
        self.settle(s.round, peer, None);
    }
}

/// A proof waiting in `pending` (a [`State::pending`]) whose fork comes right after the op hashed
/// `prev` of `author`: it proves that op.
pub(super) fn pending_after<'a>(
    pending: &'a BTreeMap<PeerId, Vec<Equivocation>>,
    author: &PeerId,
    prev: &auroradb_log::Hash,
) -> Option<&'a Equivocation> {
    pending.get(author)?.iter().find(|eq| eq.fork().prev == *prev)
}

/// Whether session `sid` of one side with a peer ended here: one this side opened before (`mine`;
/// ids below `next`, the next it opens), or an older one of the peer's than `current` (or any, with
/// none current). A frame for it was on its way when the session was dropped, as a transport may
/// deliver it after a reconnection: it is dropped without blaming the peer. Session 0 never is one.
pub(super) fn ended_session(mine: bool, sid: u32, next: u32, current: Option<u32>) -> bool {
    sid != 0 && if mine { sid < next } else { current.is_none_or(|id| sid < id) }
}
