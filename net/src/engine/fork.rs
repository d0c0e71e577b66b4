//! Equivocations: an author that signed two different ops at one seq is frozen there by every
//! honest peer, which all then hold the same ops of it.
//!
//! - **Found**: a segment brings a proven run of an author's ops that forks the chain the
//!   replica holds ([`Replica::conflict`]). The run from the fork up to its signed op and the
//!   held ops from the fork up to one the replica can prove make an [`Equivocation`], which the
//!   replica applies ([`Replica::freeze`]): the author's ops from the fork's seq on go, on
//!   either branch, and none comes in again. Reported once (a [`NetError::Equivocation`]) and
//!   passed on to every connected peer.
//! - **Passed on**: a proof received ([`Body::Equivocation`]) is checked whole (a forged one is
//!   the sender's fault) and applied the same way.
//! - **Asked for**: a peer that ships ops of a frozen author from the fork on is sent the proof
//!   in answer, and a peer shipped ops of a frozen author gets the proof first: it proves the
//!   ops before the fork, whose last one may carry no signature of its own.
//!
//! So peers that took either branch, or neither, end with the same ops of the author: those
//! before the fork.

use std::collections::BTreeMap;

use auroradb_log::{Conflict, EncodedOp, Equivocation, LogError, OpId, PeerId, Proof};

use super::SyncEngine;
use crate::transport::Transport;
use crate::{ApplyOutcome, Body, Message, NetError, Replica, ReplicaError, SyncError, SyncEvent};

/// Why a fork found in a segment does not make a proof now.
enum Unproven<E> {
    /// The run's signature does not verify: a forgery by the peer that sent it.
    Forged(LogError),
    /// The proof cannot be made from what is here yet (ops missing, no signature held).
    Later,
    /// The replica failed loading its ops.
    Failed(E),
}

impl<S: Replica, T: Transport> SyncEngine<S, T> {
    /// Sends the proof `eq` to `to`, outside any session.
    fn send_proof(&self, to: PeerId, eq: &Equivocation) {
        let msg = Message { session: 0, initiator: true, body: Body::Equivocation(eq.bytes().to_vec()) };
        self.send_msg(&mut self.state.borrow_mut(), to, &msg);
    }

    /// Sends `to` the proofs of the authors among `authors` that are frozen here, ahead of ops
    /// of theirs.
    pub(super) fn send_proofs_of(&self, to: PeerId, authors: impl IntoIterator<Item = PeerId>) {
        let mut seen: Vec<PeerId> = Vec::new();
        for author in authors {
            if seen.contains(&author) {
                continue;
            }
            seen.push(author);
            if let Some(eq) = self.replica.equivocation(&author) {
                self.send_proof(to, &eq);
            }
        }
    }

    /// Sends `from` the proof of each frozen author of which `ops` (a segment from `from`) hold
    /// ops from the fork on: `from` does not know yet. The replica takes none of those ops
    /// ([`Log::check_remote`](auroradb_log::Log::check_remote)), and blames no one for them;
    /// they still prove the ops before them in the segment.
    pub(super) fn answer_frozen(&self, from: PeerId, ops: &[EncodedOp]) {
        let mut seen: Vec<PeerId> = Vec::new();
        for op in ops {
            let author = op.op.author;
            if seen.contains(&author) {
                continue;
            }
            if let Some(eq) = self.replica.equivocation(&author).filter(|eq| op.op.seq >= eq.fork().seq) {
                seen.push(author);
                self.send_proof(from, &eq);
            }
        }
    }

    /// Takes out of `ops` (proven ops of a segment from `from`, in id order) the runs that fork
    /// an author's chain held here: a run whose fork can be proven freezes its author; one that
    /// forks before its first new op is deferred (as a gap is), and when `shipped` in a session
    /// `from` is pushed the held side of the author's chain before it, so that it finds the fork
    /// (it lacks the held side when the fork is under one id, which reconciliation does not
    /// see while other ids differ); one whose signature does not verify is a forgery, blamed on
    /// `from`. Returns the other ops, in id order, and whether some were deferred; `None` if
    /// the replica failed.
    pub(super) async fn settle_forks(
        &self,
        from: PeerId,
        shipped: bool,
        ops: Vec<EncodedOp>,
        proofs: &[(OpId, Proof)],
    ) -> Option<(Vec<EncodedOp>, bool)> {
        let mut by_author: BTreeMap<PeerId, Vec<EncodedOp>> = BTreeMap::new();
        for op in ops {
            by_author.entry(op.op.author).or_default().push(op);
        }
        let mut kept = Vec::new();
        let mut deferred = false;
        let mut failed = false;
        for (_, mut run) in by_author {
            auroradb_log::sort_by_key(&mut run, |o| (o.op.seq, o.op.id));
            let (index, held) = match self.replica.conflict(&run) {
                None => {
                    kept.extend(run);
                    continue;
                }
                Some(Conflict::Earlier { held, .. }) => {
                    deferred = true;
                    // Only a run its author signed is answered: the answer is many ops.
                    let last = run.last().expect("a run has ops");
                    let proof = proofs.iter().find(|(id, _)| *id == last.op.id);
                    if shipped && proof.is_none_or(|(_, p)| p.check(last.op.author, &last.hash).is_ok()) {
                        failed |= !self.answer_fork(from, &held).await;
                    }
                    continue;
                }
                Some(Conflict::At { index, held }) => (index, held),
            };
            match self.prove_fork(&run[index..], &held, proofs).await {
                Ok(eq) => {
                    if !self.adopt(from, eq, true).await {
                        return None;
                    }
                }
                Err(Unproven::Forged(e)) => {
                    let e = NetError::Log(e);
                    let mut st = self.state.borrow_mut();
                    self.send_report(&mut st, from, true, Some(run[index].op.id), &e);
                    st.error(e.from_peer(from));
                }
                Err(Unproven::Later) => deferred = true,
                Err(Unproven::Failed(e)) => {
                    self.state.borrow_mut().fail(SyncError::Replica(e));
                    return None;
                }
            }
        }
        if failed {
            return None;
        }
        auroradb_log::sort_by_key(&mut kept, |o| o.op.id);
        Some((kept, deferred))
    }

    /// Pushes `to` the held ops `held` (of one author, ascending). Returns false if the replica
    /// failed loading them.
    async fn answer_fork(&self, to: PeerId, held: &[(OpId, auroradb_log::Hash)]) -> bool {
        let ids: Vec<OpId> = held.iter().map(|(id, _)| *id).collect();
        match self.replica.load_ops(&ids).await {
            Ok(ops) => {
                let mut st = self.state.borrow_mut();
                let sent = self.push_to(&mut st, &[to], ops);
                st.stats.ops_sent += sent;
                true
            }
            Err(e) => {
                self.state.borrow_mut().fail(SyncError::Replica(e));
                false
            }
        }
    }

    /// The proof of a fork: `run` (received, from the fork on, its last op proven by one of
    /// `proofs` or by an equivocation held here) up to its first op that `proofs` prove, against
    /// `held` (the held ops from the fork on) up to the first one the replica can prove. Both
    /// are at most [`PROOF_INTERVAL`](auroradb_log::PROOF_INTERVAL) ops long when every op at a
    /// multiple of it is proven, as receivers require.
    async fn prove_fork(
        &self,
        run: &[EncodedOp],
        held: &[(OpId, auroradb_log::Hash)],
        proofs: &[(OpId, Proof)],
    ) -> Result<Equivocation, Unproven<S::Error>> {
        let author = run[0].op.author;
        let proven = run.iter().position(|o| proofs.iter().any(|(id, _)| *id == o.op.id));
        let run = &run[..proven.map_or(run.len(), |i| i + 1)];
        let last = run.last().expect("a fork is in the run");
        let proof = proofs.iter().find(|(id, _)| *id == last.op.id).map(|(_, p)| *p);
        if let Some(p) = proof {
            p.check(author, &last.hash).map_err(Unproven::Forged)?;
        }
        let theirs = self.signed(run.to_vec(), proof).ok_or(Unproven::Later)?;
        let prev = self.replica.equivocation(&author).map(|eq| eq.fork().prev);
        let end = held
            .iter()
            .position(|(id, hash)| Some(*hash) == prev || self.replica.proof_of(id).is_some())
            .ok_or(Unproven::Later)?;
        let ids: Vec<OpId> = held[..=end].iter().map(|(id, _)| *id).collect();
        let loaded = self.replica.load_ops(&ids).await.map_err(Unproven::Failed)?;
        let ours = loaded
            .into_iter()
            .map(|(_, bytes, _)| EncodedOp::decode(bytes))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| Unproven::Later)?;
        let ours = self.signed(ours, self.replica.proof_of(&ids[end])).ok_or(Unproven::Later)?;
        Equivocation::new((&ours.0, ours.1), (&theirs.0, theirs.1)).map_err(|_| Unproven::Later)
    }

    /// `run` (ops of one author, ascending) with a signature over its last op: `proof` if there
    /// is one, else the run extended by a run of an equivocation of the author (held here, or
    /// waiting for an earlier fork), when the run ends at the op before that fork (which the
    /// equivocation proves).
    fn signed(&self, mut run: Vec<EncodedOp>, proof: Option<Proof>) -> Option<(Vec<EncodedOp>, Proof)> {
        if let Some(p) = proof {
            return Some((run, p));
        }
        let last = run.last()?;
        let held = self.replica.equivocation(&last.op.author).filter(|eq| eq.fork().prev == last.hash);
        let pending =
            || super::state::pending_after(&self.state.borrow().pending, &last.op.author, &last.hash).cloned();
        let eq = held.or_else(pending)?;
        let (ops, p) = eq.run();
        run.extend_from_slice(ops);
        Some((run, p))
    }

    /// A proof received from `from`: checked whole, then applied.
    pub(super) async fn proof(&self, from: PeerId, bytes: Vec<u8>) {
        match Equivocation::decode(bytes) {
            Ok(eq) => {
                self.adopt(from, eq, false).await;
            }
            Err(e) => {
                let e = NetError::Log(e);
                let mut st = self.state.borrow_mut();
                self.send_report(&mut st, from, true, None, &e);
                st.error(e.from_peer(from));
            }
        }
    }

    /// Applies a checked proof learnt from `from`. If it is news here, reports it, announces
    /// what the state lost, and passes it on to every connected peer (to `from` too if `echo`:
    /// a peer whose ops revealed the fork does not know it yet). Returns false if the replica
    /// failed.
    async fn adopt(&self, from: PeerId, eq: Equivocation, echo: bool) -> bool {
        let fork = *eq.fork();
        if self.replica.equivocation(&fork.author).is_some_and(|held| held.fork().seq <= fork.seq) {
            return true;
        }
        // The held ops before the fork are not those the proof names: the author forked before
        // too, and this replica holds another branch there. Freezing now would drop the signed
        // ops that prove that branch; they are kept, so that the earlier fork is proven (by this
        // replica or a peer it ships them to), and that proof freezes the author there.
        // The proof waits: it proves the op before its fork, which a peer may ship later.
        if matches!(self.replica.conflict(eq.run().0), Some(Conflict::Earlier { .. })) {
            self.state.borrow_mut().keep_pending(eq);
            return true;
        }
        let applied = match self.replica.freeze(from, eq.clone()).await {
            Ok(Some(applied)) => applied,
            Ok(None) => return true,
            Err(e) => {
                let mut st = self.state.borrow_mut();
                match e.refused() {
                    Some(refused) => st.error(NetError::Log(refused.clone()).from_peer(from)),
                    None => {
                        st.fail(SyncError::Replica(e));
                        return false;
                    }
                }
                return true;
            }
        };
        let peers: Vec<PeerId> = {
            let mut st = self.state.borrow_mut();
            // Those waiting for an earlier fork of the author are of no use now.
            st.pending.remove(&fork.author);
            st.error(NetError::Equivocation { author: fork.author, seq: fork.seq, id: fork.ids[0] }.from_peer(from));
            if !applied.is_empty() {
                st.events.push(SyncEvent::Post { peer: from, ops: applied.new_ops(), applied });
            }
            st.peers.keys().copied().filter(|p| echo || *p != from).collect()
        };
        for p in peers {
            self.send_proof(p, &eq);
        }
        true
    }
}
