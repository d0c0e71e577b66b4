//! Frames received (flood limit, decoding, replay window) and the reconciliation turns of a
//! session, up to the point where each side knows what to ship.

use auroradb_log::PeerId;

use super::SyncEngine;
use super::replay::Seen;
use super::state::{Session, State};
use crate::frame::decode_frame;
use crate::transport::Transport;
use crate::{Body, Message, NetError, Reconcile, Reconciler, Replica};

impl<S: Replica, T: Transport> SyncEngine<S, T> {
    /// A frame from `from`: checked against the flood limit, decoded, checked against the replay
    /// window, then handled as a turn or as ops.
    pub(super) async fn frame(&self, from: PeerId, bytes: Vec<u8>) {
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
            // The digest that names a segment's pieces: the first 8 bytes of the blake3 hash.
            let digest = crate::Piece::check_of(&bytes);
            match ps.replay.accept(seq, digest) {
                Seen::Fresh => {}
                Seen::Again => {
                    st.stats.duplicates += 1;
                    return;
                }
                Seen::Replay => {
                    st.error(NetError::Replay { seq }.from_peer(from));
                    return;
                }
            }
            msg
        };
        match msg.body {
            Body::Reconcile(turn) => self.turn(from, msg.session, msg.initiator, turn).await,
            Body::Ops(ops) => self.ops(from, msg.session, msg.initiator, ops).await,
            Body::Piece(piece) => self.piece(from, msg.session, msg.initiator, piece).await,
            Body::Equivocation(bytes) => self.proof(from, bytes).await,
            Body::Report(report) => {
                let crate::Report { refused, op, name } = report;
                self.state.borrow_mut().error(NetError::Shipping { refused, op, name }.from_peer(from));
            }
        }
    }

    /// A reconciliation turn from `from` for session `sid`, started by `from` if `theirs`.
    async fn turn(&self, from: PeerId, sid: u32, theirs: bool, turn: Reconcile) {
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
                // A session that never was is the peer's fault; one that ended here is not.
                let current = slot.as_ref().map(|s| s.id);
                if !super::state::ended_session(mine, sid, st.next_session, current) {
                    st.error(NetError::Unexpected { reason: "a turn for an unknown session" }.from_peer(from));
                }
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
            match s.rec.handle(&self.replica, &turn) {
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

    /// Settles the session (`mine`, or the peer's) with `peer` if it is complete.
    pub(super) fn check_complete(&self, st: &mut State<S::Applied, S::Error>, peer: PeerId, mine: bool) {
        let Some(ps) = st.peers.get_mut(&peer) else { return };
        if ps.session(mine).as_ref().is_some_and(Session::complete) {
            let s = ps.session(mine).take().expect("checked");
            st.stats.sessions_completed += 1;
            st.settle(s.round, peer, Some((s.sent, s.received)));
        }
    }
}
