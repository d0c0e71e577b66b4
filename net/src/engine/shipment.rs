//! Shipments: sending a session's ops to a peer in segments (a segment too large for a frame in
//! pieces), and checking and applying the segments a peer ships or pushes, one all-or-nothing
//! batch each (one per author when a segment mixing authors is refused).

use std::collections::{BTreeMap, BTreeSet};

use auroradb_log::segment::decode_segment;
use auroradb_log::{EncodedOp, LogError, OpId, PeerId};

use super::state::Partial;
use super::{SyncEngine, SyncEvent};
use crate::ship::Packer;
use crate::transport::Transport;
use crate::{ApplyOutcome, Message, NetError, Ops, Piece, Replica, ReplicaError, SyncError};

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
                    st.fail(SyncError::Replica(e));
                    break;
                }
            }
            for body in packer.take_ready() {
                self.send_msg(&mut st, to, &Message { session: sid, initiator: mine, body });
            }
        }
        let mut st = self.state.borrow_mut();
        let sent = packer.ops();
        for body in packer.finish(true) {
            self.send_msg(&mut st, to, &Message { session: sid, initiator: mine, body });
        }
        st.stats.ops_sent += sent;
        let Some(ps) = st.peers.get_mut(&to) else { return };
        if let Some(s) = ps.session(mine).as_mut().filter(|s| s.id == sid) {
            s.shipped = true;
            s.sent = sent;
        }
        self.check_complete(&mut st, to, mine);
    }

    /// Ops from `from`: pushed (session 0) or shipped in session `sid`. Each segment is checked
    /// and applied on its own: a bad one is reported and skipped, and the segments after it still
    /// apply.
    pub(super) async fn ops(&self, from: PeerId, sid: u32, theirs: bool, ops: Ops) {
        let mine = !theirs;
        if sid != 0 && !self.session_known(from, sid, mine) {
            return;
        }
        let mut received = 0u64;
        let mut gap = false;
        for seg in &ops.segments {
            let batch = match decode_segment(seg, self.config.limits.segment_limits()) {
                Ok(b) => b,
                Err(e) => {
                    self.state.borrow_mut().error(NetError::from(e).from_peer(from));
                    continue;
                }
            };
            match self.apply_segment(from, batch).await {
                Some((new, gapped)) => {
                    received += new;
                    gap |= gapped;
                }
                // The replica itself failed: nothing more can be applied now.
                None => break,
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

/// What applying one batch came to.
enum Verdict<E> {
    /// Applied; this many ops were new.
    New(u64),
    /// An author's earlier ops are missing: deferred without blame.
    Gap,
    /// The ops were bad.
    Refused(LogError),
    /// The replica failed.
    Failed(E),
}

impl<S: Replica, T: Transport> SyncEngine<S, T> {
    /// Whether `sid` names the current session of that side with `from`; reports it if not.
    fn session_known(&self, from: PeerId, sid: u32, mine: bool) -> bool {
        let mut st = self.state.borrow_mut();
        let known = st.peers.get_mut(&from).is_some_and(|ps| ps.session(mine).as_ref().is_some_and(|s| s.id == sid));
        if !known {
            st.error(NetError::Unexpected { reason: "ops for an unknown session" }.from_peer(from));
        }
        known
    }

    /// A piece of a segment from `from`: kept until the segment is whole, which is then handled
    /// as an ops message of one segment. A piece that does not continue the segment under way
    /// (another length, too many bytes) or announces a segment over the limit drops that segment
    /// and is reported.
    pub(super) async fn piece(&self, from: PeerId, sid: u32, theirs: bool, piece: Piece) {
        let mine = !theirs;
        if sid != 0 && !self.session_known(from, sid, mine) {
            return;
        }
        // Only a segment of one op too large for a frame travels in pieces.
        let limit = self.config.limits.max_op.saturating_add(crate::ship::SEGMENT_OVERHEAD);
        let whole = {
            let mut st = self.state.borrow_mut();
            let now = st.now;
            let Some(ps) = st.peers.get_mut(&from) else { return };
            // A newer session of the same side replaces the one whose segment was under way.
            ps.partial.retain(|p| p.mine != mine || p.session == sid || p.session == 0 || sid == 0);
            let at = ps.partial.iter().position(|p| p.session == sid && p.mine == mine);
            let problem = if piece.total as usize > limit {
                Some(NetError::Log(LogError::TooLarge { what: "segment", size: piece.total as usize, limit }))
            } else {
                match at {
                    Some(i) if ps.partial[i].total != piece.total => {
                        Some(NetError::corrupt("sync message", "a piece of a segment of another length"))
                    }
                    Some(i) if ps.partial[i].bytes.len() + piece.data.len() > piece.total as usize => {
                        Some(NetError::corrupt("sync message", "pieces longer than their segment"))
                    }
                    _ => None,
                }
            };
            if let Some(e) = problem {
                if let Some(i) = at {
                    ps.partial.swap_remove(i);
                }
                st.error(e.from_peer(from));
                return;
            }
            let i = at.unwrap_or_else(|| {
                ps.partial.push(Partial { session: sid, mine, total: piece.total, bytes: Vec::new() });
                ps.partial.len() - 1
            });
            ps.partial[i].bytes.extend_from_slice(&piece.data);
            if ps.partial[i].bytes.len() == piece.total as usize {
                Some(ps.partial.swap_remove(i).bytes)
            } else {
                // Not whole yet: the piece still counts as a message of the shipment.
                if let Some(s) = ps.session(mine).as_mut().filter(|s| sid != 0 && s.id == sid) {
                    s.got_msgs += 1;
                    s.last_activity = now;
                }
                None
            }
        };
        if let Some(segment) = whole {
            self.ops(from, sid, theirs, Ops { segments: vec![segment], last: None }).await;
        }
    }

    /// Applies one checked segment from `from`. If it is refused for a reason other than a gap
    /// and holds ops of several authors, each author's ops are applied on their own, so a bad op
    /// costs only its author's ops from there on. Returns how many ops were new and whether some
    /// were deferred for a gap, or `None` if the replica failed.
    async fn apply_segment(&self, from: PeerId, batch: Vec<EncodedOp>) -> Option<(u64, bool)> {
        let several = batch.windows(2).any(|w| w[0].op.id.peer != w[1].op.id.peer);
        let again = several.then(|| batch.clone());
        let mut verdicts = vec![self.apply_batch(from, batch).await];
        if let (Some(Verdict::Refused(_)), Some(again)) = (verdicts.first(), again) {
            verdicts.clear();
            let mut by_author: BTreeMap<PeerId, Vec<EncodedOp>> = BTreeMap::new();
            for op in again {
                by_author.entry(op.op.id.peer).or_default().push(op);
            }
            for ops in by_author.into_values() {
                let v = self.apply_batch(from, ops).await;
                let failed = matches!(v, Verdict::Failed(_));
                verdicts.push(v);
                if failed {
                    break;
                }
            }
        }
        let mut st = self.state.borrow_mut();
        let (mut new, mut gap) = (0, false);
        for v in verdicts {
            match v {
                Verdict::New(n) => new += n,
                Verdict::Gap => {
                    st.stats.deferred += 1;
                    gap = true;
                }
                Verdict::Refused(e) => st.error(NetError::Log(e).from_peer(from)),
                Verdict::Failed(e) => {
                    st.fail(SyncError::Replica(e));
                    return None;
                }
            }
        }
        Some((new, gap))
    }

    /// Hands `ops` to the replica, all or nothing, and announces what it applied.
    async fn apply_batch(&self, from: PeerId, ops: Vec<EncodedOp>) -> Verdict<S::Error> {
        match self.replica.apply_remote(from, ops).await {
            Ok(applied) => {
                let n = applied.new_ops();
                if !applied.is_empty() {
                    // The outcome travels with its event: the application announces each batch
                    // from the event that reports it.
                    self.state.borrow_mut().events.push(SyncEvent::Post { peer: from, ops: n, applied });
                }
                Verdict::New(n as u64)
            }
            Err(e) => match e.refused() {
                Some(LogError::ChainGap { .. }) => Verdict::Gap,
                Some(refused) => Verdict::Refused(refused.clone()),
                None => Verdict::Failed(e),
            },
        }
    }
}
