//! Shipments: sending a session's ops to a peer in segments, and checking and applying the
//! segments a peer ships or pushes, one all-or-nothing batch each.

use std::collections::BTreeSet;

use auroradb_log::segment::decode_segment;
use auroradb_log::{LogError, OpId, PeerId};

use super::{SyncEngine, SyncEvent};
use crate::ship::Packer;
use crate::transport::Transport;
use crate::{ApplyOutcome, Body, Message, NetError, Ops, Replica, ReplicaError, SyncError};

impl<S: Replica, T: Transport> SyncEngine<S, T> {
    /// Ships the ops `ids` (ascending) to `to` for the session `sid`.
    pub(super) async fn ship(&self, to: PeerId, sid: u32, mine: bool, ids: Vec<OpId>) {
        let mut packer = Packer::new(self.config.limits);
        let mut skipped: BTreeSet<PeerId> = BTreeSet::new();
        for chunk in ids.chunks(self.config.load_batch.max(1)) {
            let loaded = self.replica.load_ops(chunk).await;
            let mut st = self.state.borrow_mut();
            match loaded {
                Ok(mut ops) => {
                    auroradb_log::sort_by_key(&mut ops, |o| o.0);
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
                    st.fail(SyncError::Replica(e));
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

    /// Ops from `from`: pushed (session 0) or shipped in session `sid`.
    pub(super) async fn ops(&self, from: PeerId, sid: u32, theirs: bool, ops: Ops) {
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
            match self.replica.apply_remote(from, batch).await {
                Ok(applied) => {
                    let n = applied.new_ops();
                    received += n as u64;
                    if !applied.is_empty() {
                        // The outcome travels with its event: the application announces each
                        // batch from the event that reports it.
                        self.state.borrow_mut().events.push(SyncEvent::Post { peer: from, ops: n, applied });
                    }
                }
                Err(e) => {
                    let mut st = self.state.borrow_mut();
                    match e.refused() {
                        Some(LogError::ChainGap { .. }) => {
                            st.stats.deferred += 1;
                            gap = true;
                        }
                        Some(refused) => st.error(NetError::Log(refused.clone()).from_peer(from)),
                        None => st.fail(SyncError::Replica(e)),
                    }
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
