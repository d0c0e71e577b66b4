//! Shipments: sending a session's ops to a peer in segments (a segment too large for a frame in
//! pieces), and checking and applying the segments a peer ships or pushes, one all-or-nothing
//! batch each (one per author when a segment mixing authors is refused).

use std::collections::{BTreeMap, BTreeSet};

use auroradb_log::segment::decode_proven_segment;
use auroradb_log::{EncodedOp, LogError, OpId, PeerId, Proof};

use super::state::{MAX_PARTIALS, MAX_UNPROVEN_BYTES, Partial, SHIP_SLACK, SHIP_WINDOW_MS};
use super::{SyncEngine, SyncEvent};
use crate::ship::Packer;
use crate::transport::Transport;
use crate::{ApplyOutcome, Message, NetError, Ops, Piece, Replica, ReplicaError, SyncError};

impl<S: Replica, T: Transport> SyncEngine<S, T> {
    /// Ships the ops `ids` (ascending) to `to` for the session `sid`.
    pub(super) async fn ship(&self, to: PeerId, sid: u32, mine: bool, ids: Vec<OpId>) {
        if !self.within_budget(to, ids.len() as u64) {
            return;
        }
        // The proofs of frozen authors go first: they prove those authors' last ops before the
        // fork.
        self.send_proofs_of(to, ids.iter().map(|id| id.peer));
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
                        let id = op.0;
                        if let Err(e) = packer.push(op, &|id| self.replica.proof_of(id)) {
                            skipped.insert(id.peer);
                            // The peer will lack this author's ops from here: it is told why.
                            self.send_report(&mut st, to, false, Some(id), &e);
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
        for body in packer.finish(true, &|id| self.replica.proof_of(id)) {
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

    /// Whether `n` more ops may be shipped to `to` within the shipping budget (see
    /// [`SHIP_WINDOW_MS`]); counts them if so. A shipment past it is not sent, and the session
    /// is left to time out (an honest peer tries again later); the first in a window is reported
    /// as the peer's flood.
    fn within_budget(&self, to: PeerId, n: u64) -> bool {
        if n == 0 {
            return true;
        }
        let limit = self.replica.below(None).count.saturating_mul(2).saturating_add(SHIP_SLACK);
        let mut st = self.state.borrow_mut();
        let now = st.now;
        let Some(ps) = st.peers.get_mut(&to) else { return false };
        if now.saturating_sub(ps.shipped_since) >= SHIP_WINDOW_MS {
            ps.shipped_since = now;
            ps.shipped_ops = 0;
            ps.reshipping = false;
        }
        let asked = ps.shipped_ops.saturating_add(n);
        if asked <= limit {
            ps.shipped_ops = asked;
            return true;
        }
        if ps.reshipping {
            st.stats.rejected += 1;
        } else {
            ps.reshipping = true;
            st.error(NetError::Reshipping { asked, limit }.from_peer(to));
        }
        false
    }

    /// Ops from `from`: pushed (session 0) or shipped in session `sid`. Each segment is checked
    /// and applied on its own: a bad one is reported and skipped, and the segments after it still
    /// apply.
    pub(super) async fn ops(&self, from: PeerId, sid: u32, theirs: bool, ops: Ops) {
        let mine = !theirs;
        if sid != 0 && !self.session_known(from, sid, mine) {
            return;
        }
        self.receive(from, sid, mine, ops.segments, ops.last).await;
    }

    /// Applies the segments of one message (ops, or the last missing piece of a segment) from
    /// `from`, and counts the message in its session; `last` is the shipment's message count, when
    /// the message says it.
    async fn receive(&self, from: PeerId, sid: u32, mine: bool, segments: Vec<Vec<u8>>, last: Option<u32>) {
        let mut received = 0u64;
        let mut gap = false;
        for seg in &segments {
            let (batch, proofs) = match decode_proven_segment(seg, self.config.limits.segment_limits()) {
                Ok(b) => b,
                Err(e) => {
                    let e = NetError::from(e);
                    let mut st = self.state.borrow_mut();
                    self.send_report(&mut st, from, true, None, &e);
                    st.error(e.from_peer(from));
                    continue;
                }
            };
            // Ops of frozen authors from their fork on still prove the ops before them, and may
            // reveal an earlier fork: they go on with the others (the replica takes none).
            self.answer_frozen(from, &batch);
            let batch = self.take_proven(from, batch, &proofs);
            if batch.is_empty() {
                continue;
            }
            // The replica itself failed: nothing more can be applied now.
            let Some((batch, deferred)) = self.settle_forks(from, sid != 0, batch, &proofs).await else { break };
            gap |= deferred;
            if batch.is_empty() {
                continue;
            }
            match self.apply_segment(from, batch, proofs).await {
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
                    if let Some(t) = last {
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
    /// Whether `sid` names the current session of that side with `from`; reports it if not,
    /// unless that session ended here ([`super::state::ended_session`]).
    fn session_known(&self, from: PeerId, sid: u32, mine: bool) -> bool {
        let mut st = self.state.borrow_mut();
        let current = st.peers.get_mut(&from).and_then(|ps| ps.session(mine).as_ref().map(|s| s.id));
        let known = current == Some(sid);
        if !known && !super::state::ended_session(mine, sid, st.next_session, current) {
            st.error(NetError::Unexpected { reason: "ops for an unknown session" }.from_peer(from));
        }
        known
    }

    /// A piece of a segment from `from`: kept until every byte of the segment is there, which is
    /// then checked and applied like a segment of an ops message. Pieces may come out of order or
    /// twice; a piece that overlaps another of its segment differently, a segment whose bytes do
    /// not hash to its `check`, or one announced over the limit is reported and dropped. Every
    /// piece counts as one message of its session's shipment.
    pub(super) async fn piece(&self, from: PeerId, sid: u32, theirs: bool, piece: Piece) {
        let mine = !theirs;
        if sid != 0 && !self.session_known(from, sid, mine) {
            return;
        }
        // Only a segment of one op too large for a frame travels in pieces.
        let limit = self.config.limits.max_op.saturating_add(crate::ship::SEGMENT_OVERHEAD);
        let whole = {
            let mut st = self.state.borrow_mut();
            if !st.peers.contains_key(&from) {
                return;
            }
            if piece.total as usize > limit {
                // Reported once per segment, at its first piece, to the shipper too (a peer of a
                // larger `maxOpBytes`): its other pieces are dropped without an event each.
                if piece.offset == 0 {
                    let e = NetError::Log(LogError::TooLarge { what: "segment", size: piece.total as usize, limit });
                    self.send_report(&mut st, from, true, None, &e);
                    st.error(e.from_peer(from));
                } else {
                    st.stats.rejected += 1;
                }
                return;
            }
            let ps = st.peers.get_mut(&from).expect("checked above");
            let filed = add_piece(&mut ps.partial, sid, mine, piece);
            filed.unwrap_or_else(|e| {
                st.error(e.from_peer(from));
                None
            })
        };
        self.receive(from, sid, mine, whole.into_iter().collect(), None).await;
    }

    /// The ops of a segment from `from` that can be applied now, in id order: for each author, its
    /// ops up to the newest one that `proofs` prove (with those of its ops from earlier segments
    /// that were waiting for a proof). The ops after it wait for a later segment's proof (the
    /// shipper proves at least each author's last op it ships), up to [`MAX_UNPROVEN_BYTES`] per
    /// peer; beyond that they are dropped and reported, and the next reconciliation asks again.
    /// Waiting ops that can never apply ([`Replica::check_waiting`]) are refused at once; those
    /// that fork a held chain wait like the others (a later segment may prove them: an
    /// equivocation then).
    fn take_proven(&self, from: PeerId, ops: Vec<EncodedOp>, proofs: &[(OpId, Proof)]) -> Vec<EncodedOp> {
        let mut guard = self.state.borrow_mut();
        let st = &mut *guard;
        let Some(ps) = st.peers.get_mut(&from) else { return Vec::new() };
        let mut proven_ids: Vec<OpId> = proofs.iter().map(|(id, _)| *id).collect();
        proven_ids.sort_unstable();
        // The op before an author's proven fork is proven by the equivocation.
        let fork_prev = |author: &PeerId| self.replica.equivocation(author).map(|eq| eq.fork().prev);
        let mut by_author: BTreeMap<PeerId, Vec<EncodedOp>> = BTreeMap::new();
        for op in ops {
            by_author.entry(op.op.author).or_default().push(op);
        }
        let mut ready = Vec::new();
        let mut refused = Vec::new();
        for (author, mut run) in by_author {
            if let Some(waiting) = ps.unproven.remove(&author) {
                ps.unproven_bytes -= waiting.iter().map(|o| o.bytes.len()).sum::<usize>();
                run.extend(waiting);
            }
            auroradb_log::sort_by_key(&mut run, |o| (o.op.seq, o.op.id));
            run.dedup_by(|a, b| a.op.id == b.op.id && a.hash == b.hash);
            let prev = fork_prev(&author);
            // An op before a fork whose proof waits for an earlier one is proven by it.
            let proven = run.iter().rposition(|o| {
                proven_ids.binary_search(&o.op.id).is_ok()
                    || Some(o.hash) == prev
                    || super::state::pending_after(&st.pending, &author, &o.hash).is_some()
            });
            let rest = run.split_off(proven.map_or(0, |i| i + 1));
            ready.extend(run);
            if rest.is_empty() {
                continue;
            }
            if let Err(e) = self.replica.check_waiting(&rest) {
                refused.push(e);
                continue;
            }
            let bytes: usize = rest.iter().map(|o| o.bytes.len()).sum();
            if ps.unproven_bytes + bytes > MAX_UNPROVEN_BYTES {
                refused.push(LogError::BadProof {
                    author,
                    reason: "more of its ops wait for a proof than the engine keeps",
                });
                continue;
            }
            ps.unproven_bytes += bytes;
            ps.unproven.insert(author, rest);
        }
        for e in refused {
            let e = NetError::Log(e);
            self.send_report(st, from, true, named_op(&e), &e);
            st.error(e.from_peer(from));
        }
        auroradb_log::sort_by_key(&mut ready, |o| o.op.id);
        ready
    }

    /// Applies one checked segment from `from`. If it is refused for a reason other than a gap
    /// and holds ops of several authors, each author's ops are applied on their own, so a bad op
    /// costs only its author's ops from there on. Returns how many ops were new and whether some
    /// were deferred for a gap, or `None` if the replica failed.
    async fn apply_segment(
        &self,
        from: PeerId,
        batch: Vec<EncodedOp>,
        proofs: Vec<(OpId, Proof)>,
    ) -> Option<(u64, bool)> {
        let several = batch.windows(2).any(|w| w[0].op.id.peer != w[1].op.id.peer);
        let again = several.then(|| batch.clone());
        let mut verdicts = vec![self.apply_batch(from, batch, proofs.clone()).await];
        if let (Some(Verdict::Refused(_)), Some(again)) = (verdicts.first(), again) {
            verdicts.clear();
            let mut by_author: BTreeMap<PeerId, Vec<EncodedOp>> = BTreeMap::new();
            for op in again {
                by_author.entry(op.op.id.peer).or_default().push(op);
            }
            for ops in by_author.into_values() {
                let v = self.apply_batch(from, ops, proofs.clone()).await;
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
                Verdict::Refused(e) => {
                    let e = NetError::Log(e);
                    self.send_report(&mut st, from, true, named_op(&e), &e);
                    st.error(e.from_peer(from));
                }
                Verdict::Failed(e) => {
                    st.fail(SyncError::Replica(e));
                    return None;
                }
            }
        }
        Some((new, gap))
    }

    /// Hands `ops` to the replica, all or nothing, and announces what it applied.
    async fn apply_batch(&self, from: PeerId, ops: Vec<EncodedOp>, proofs: Vec<(OpId, Proof)>) -> Verdict<S::Error> {
        match self.replica.apply_remote(from, ops, proofs).await {
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

/// The op a refusal names, if it names one.
fn named_op(e: &NetError) -> Option<OpId> {
    match e.inner() {
        NetError::Log(
            LogError::BrokenChain { id, .. }
            | LogError::ChainGap { id, .. }
            | LogError::InvalidOp { id, .. }
            | LogError::ClockDrift { id, .. },
        ) => Some(*id),
        _ => None,
    }
}

/// Files `piece` with the other pieces of its segment (of session `sid`, this side's if `mine`),
/// and returns the segment once whole. Errors drop the segment.
fn add_piece(partial: &mut Vec<Partial>, sid: u32, mine: bool, piece: Piece) -> Result<Option<Vec<u8>>, NetError> {
    // A newer session of the same side replaces an older one whose segment was under way.
    partial.retain(|p| p.mine != mine || p.session == sid || p.session == 0 || sid == 0);
    let at = partial
        .iter()
        .position(|p| p.session == sid && p.mine == mine && p.check == piece.check && p.total == piece.total);
    let i = match at {
        Some(i) => i,
        None => {
            if partial.len() >= MAX_PARTIALS {
                partial.remove(0);
            }
            partial.push(Partial {
                session: sid,
                mine,
                total: piece.total,
                check: piece.check,
                pieces: BTreeMap::new(),
            });
            partial.len() - 1
        }
    };
    let p = &mut partial[i];
    let (start, end) = (piece.offset as usize, piece.offset as usize + piece.data.len());
    if let Some(same) = p.pieces.get(&piece.offset)
        && *same == piece.data
    {
        return Ok(None); // The same piece again.
    }
    let before = p.pieces.range(..piece.offset).next_back().is_some_and(|(o, d)| *o as usize + d.len() > start);
    let after = p.pieces.range(piece.offset..).next().is_some_and(|(o, _)| (*o as usize) < end);
    if before || after {
        partial.swap_remove(i);
        return Err(NetError::corrupt("sync message", "pieces of a segment that overlap"));
    }
    p.pieces.insert(piece.offset, piece.data);
    if p.pieces.values().map(Vec::len).sum::<usize>() < p.total as usize {
        return Ok(None);
    }
    // Every byte is there: the pieces neither overlap nor leave the segment, so they tile it.
    let p = partial.swap_remove(i);
    let mut segment = Vec::with_capacity(p.total as usize);
    for data in p.pieces.into_values() {
        segment.extend_from_slice(&data);
    }
    if Piece::check_of(&segment) != p.check {
        return Err(NetError::Log(LogError::HashMismatch { what: "segment in pieces" }));
    }
    Ok(Some(segment))
}
