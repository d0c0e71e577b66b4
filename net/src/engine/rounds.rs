//! What starts traffic: pushes of local writes ([`SyncEngine::post`]), rounds of sessions
//! ([`SyncEngine::fetch`], [`SyncEngine::sync`], a connection), and the clock
//! ([`SyncEngine::tick`]) that paces anti-entropy and ends stale sessions.

use std::future::Future;
use std::task::Poll;

use auroradb_log::{EncodedOp, PeerId};

use super::state::{Round, Session, State};
use super::{SyncEngine, SyncEvent, SyncReport};
use crate::frame::encode_frame;
use crate::ship::{Packer, ShippedOp};
use crate::transport::Transport;
use crate::{Body, Message, Reconciler, Replica};

impl<S: Replica, T: Transport> SyncEngine<S, T> {
    /// Pushes local ops (ascending ids) to every connected peer at once. Returns the number of
    /// peers they were sent to.
    pub fn post(&self, ops: &[EncodedOp]) -> usize {
        let mut st = self.state.borrow_mut();
        let peers: Vec<PeerId> = st.peers.keys().copied().collect();
        if peers.is_empty() || ops.is_empty() {
            return 0;
        }
        let mut sorted: Vec<&EncodedOp> = ops.iter().collect();
        auroradb_log::sort_by_key(&mut sorted, |o| o.op.id);
        sorted.dedup_by_key(|o| o.op.id);
        let count = self.push_to(&mut st, &peers, sorted.into_iter().map(|o| (o.op.id, o.bytes.clone(), o.hash)));
        st.stats.ops_sent += count * peers.len() as u64;
        peers.len()
    }

    /// Pushes `ops` (ascending ids) to `peers` outside any session, in as few frames as fit;
    /// returns how many ops went.
    pub(super) fn push_to(
        &self,
        st: &mut State<S::Applied, S::Error>,
        peers: &[PeerId],
        ops: impl IntoIterator<Item = ShippedOp>,
    ) -> u64 {
        let mut packer = Packer::new(self.config.limits);
        for op in ops {
            let id = op.0;
            if let Err(e) = packer.push(op, &|id| self.replica.proof_of(id)) {
                for p in peers {
                    self.send_report(st, *p, false, Some(id), &e);
                }
                st.error(e);
            }
        }
        let count = packer.ops();
        for body in packer.finish(false, &|id| self.replica.proof_of(id)) {
            let msg = Message { session: 0, initiator: true, body };
            st.seq += 1;
            let frame = match encode_frame(st.seq, &msg, self.config.limits.max_frame) {
                Ok(f) => f,
                Err(e) => {
                    st.error(e);
                    continue;
                }
            };
            for p in peers {
                self.send_frame(st, *p, frame.clone());
            }
        }
        count
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

    /// Abandons every session, as when the application closes: each round resolves at once with
    /// what its completed sessions did (a [`SyncEngine::sync`] awaited then never hangs).
    pub fn abandon_all(&self) {
        let mut st = self.state.borrow_mut();
        let mut open = Vec::new();
        for (p, ps) in st.peers.iter_mut() {
            for mine in [true, false] {
                if let Some(s) = ps.session(mine).take() {
                    open.push((*p, s));
                }
            }
        }
        for (p, s) in open {
            st.abandon(p, s);
        }
        let rounds: Vec<(u64, Vec<PeerId>)> =
            st.rounds.iter().map(|(id, r)| (*id, r.pending.iter().copied().collect())).collect();
        for (id, pending) in rounds {
            for peer in pending {
                st.settle(Some(id), peer, None);
            }
        }
    }

    /// Advances the engine's clock to `now_ms`: ticks the transport, resets the flood counters,
    /// abandons idle sessions, and (with `auto_sync`) starts an anti-entropy round when one is
    /// due.
    pub fn tick(&self, now_ms: u64) {
        self.transport.tick(now_ms);
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

    /// Starts a round with a fresh session to each of `peers`; returns the round's id.
    pub(super) fn start_round(&self, peers: &[PeerId], awaited: bool) -> u64 {
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
            let turn = rec.initiate(&self.replica);
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
}
