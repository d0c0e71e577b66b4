//! [`Replica`]: what the sync engine needs from a database, and [`MemoryReplica`], its in-memory
//! implementation over a [`Log`].

use std::cell::{Ref, RefCell};
use std::rc::Rc;

use auroradb_log::{Conflict, EncodedOp, Equivocation, Log, LogError, OpId, OpKind, PeerId, Proof, RangeSum};

use crate::index::{IdRange, RangeIndex};
use crate::ship::ShippedOp;
use crate::{NetError, Result};

/// What the sync engine needs from a database: the fingerprint index of its log (the
/// [`RangeIndex`] supertrait), its ops, and an all-or-nothing way to apply remote ops.
///
/// Methods take `&self`: a database keeps its state behind interior mutability, and the engine
/// never holds a borrow across an `await`. The futures need not be `Send` (the browser runs one
/// thread).
#[allow(async_fn_in_trait)]
pub trait Replica: RangeIndex {
    /// What applying remote ops produced (a database's commit outcome: the ops and the changes
    /// they made). The engine hands it back in [`SyncEvent::Post`](crate::SyncEvent::Post), so
    /// the application announces each batch with the event that reports it.
    type Applied: ApplyOutcome;

    /// The replica's own error, reported as [`SyncError::Replica`](crate::SyncError::Replica) with its
    /// type intact.
    type Error: ReplicaError;

    /// The local peer.
    fn local_peer(&self) -> PeerId;

    /// The ops with these ids (ascending), as `(id, encoded bytes, hash)`, in the same order.
    /// Ids the replica does not hold are left out.
    async fn load_ops(&self, ids: &[OpId]) -> Result<Vec<ShippedOp>, Self::Error>;

    /// The proof of authorship of op `id` to ship with it ([`Log::proof_of`]): one the replica
    /// holds, or a fresh signature for an op of its own author. `None` if it has neither.
    fn proof_of(&self, id: &OpId) -> Option<Proof>;

    /// Checks ops that wait for a proof against what the replica holds, without applying them
    /// ([`Log::check_remote`]): an op that can never apply (a broken chain, a timestamp beyond
    /// the drift bound) is refused at once rather than kept waiting. A gap is no error here, nor
    /// a fork of a held chain: proven later, it is an equivocation.
    fn check_waiting(&self, ops: &[EncodedOp]) -> Result<(), LogError>;

    /// The equivocation proof the replica holds for `author` ([`Log::equivocation`]): the
    /// author is frozen from the fork's seq on.
    fn equivocation(&self, author: &PeerId) -> Option<Equivocation>;

    /// How a run of one author's ops (ascending seqs) conflicts with the author's chain the
    /// replica holds, if it does ([`Log::conflict`]).
    fn conflict(&self, run: &[EncodedOp]) -> Option<Conflict>;

    /// Applies a checked equivocation proof, all or nothing ([`Log::freeze`]): the author's ops
    /// from the fork's seq on leave the log, the state and storage, the proof is kept, and none
    /// of those ops is taken again. `None` when the replica already holds a proof of that author
    /// at that seq or before (nothing changes); else what changed (ops removed change the state).
    async fn freeze(&self, from: PeerId, proof: Equivocation) -> Result<Option<Self::Applied>, Self::Error>;

    /// Checks and applies remote ops received from `from`, all or nothing: each op's chain link
    /// and drift ([`Log::check_remote`]), the proof of each author's newest new op among
    /// `proofs` ([`Log::check_proofs`]), then the log, the state and storage in one commit.
    /// On error nothing is applied; an error whose [`ReplicaError::refused`] is some means
    /// the ops were bad (the peer's fault), any other means the replica failed.
    async fn apply_remote(
        &self,
        from: PeerId,
        ops: Vec<EncodedOp>,
        proofs: Vec<(OpId, Proof)>,
    ) -> Result<Self::Applied, Self::Error>;
}

/// [`Replica::check_waiting`] for a replica over `log`: the ops' chains and drift, a gap or a
/// fork of a held chain allowed.
pub fn check_waiting(log: &Log, ops: &[EncodedOp]) -> Result<(), LogError> {
    match log.check_remote(ops) {
        Ok(_) | Err(LogError::ChainGap { .. } | LogError::Fork { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// What a [`Replica`] reports having applied.
pub trait ApplyOutcome: core::fmt::Debug {
    /// How many of the ops were new.
    fn new_ops(&self) -> usize;

    /// Whether there is nothing to announce; the engine reports a
    /// [`SyncEvent::Post`](crate::SyncEvent::Post) otherwise. By default, no new op.
    fn is_empty(&self) -> bool {
        self.new_ops() == 0
    }
}

/// The ops that were new.
impl ApplyOutcome for Vec<EncodedOp> {
    fn new_ops(&self) -> usize {
        self.len()
    }
}

/// An error of a [`Replica`]: either the ops it was given were refused (the sending peer's
/// fault) or the replica itself failed.
pub trait ReplicaError: core::fmt::Debug + core::fmt::Display {
    /// The log's verdict when the ops themselves were refused (a bad hash, a broken or gapped
    /// chain, a timestamp beyond the drift bound); `None` when the replica failed.
    fn refused(&self) -> Option<&LogError>;
}

/// The memory replica's errors: [`NetError::Log`] when the ops were refused,
/// [`NetError::Replica`] for an injected failure.
impl ReplicaError for NetError {
    fn refused(&self) -> Option<&LogError> {
        match self.inner() {
            NetError::Log(e) => Some(e),
            _ => None,
        }
    }
}

impl<S: RangeIndex + ?Sized> RangeIndex for Rc<S> {
    fn below(&self, bound: Option<&OpId>) -> RangeSum {
        (**self).below(bound)
    }

    fn select(&self, k: u64) -> Option<(OpId, RangeSum)> {
        (**self).select(k)
    }

    fn ids(&self, range: IdRange) -> Vec<OpId> {
        (**self).ids(range)
    }

    fn contains(&self, id: &OpId) -> bool {
        (**self).contains(id)
    }
}

impl<S: Replica + ?Sized> Replica for Rc<S> {
    type Applied = S::Applied;
    type Error = S::Error;

    fn local_peer(&self) -> PeerId {
        (**self).local_peer()
    }

    async fn load_ops(&self, ids: &[OpId]) -> Result<Vec<ShippedOp>, S::Error> {
        (**self).load_ops(ids).await
    }

    fn proof_of(&self, id: &OpId) -> Option<Proof> {
        (**self).proof_of(id)
    }

    fn check_waiting(&self, ops: &[EncodedOp]) -> Result<(), LogError> {
        (**self).check_waiting(ops)
    }

    fn equivocation(&self, author: &PeerId) -> Option<Equivocation> {
        (**self).equivocation(author)
    }

    fn conflict(&self, run: &[EncodedOp]) -> Option<Conflict> {
        (**self).conflict(run)
    }

    async fn freeze(&self, from: PeerId, proof: Equivocation) -> Result<Option<S::Applied>, S::Error> {
        (**self).freeze(from, proof).await
    }

    async fn apply_remote(
        &self,
        from: PeerId,
        ops: Vec<EncodedOp>,
        proofs: Vec<(OpId, Proof)>,
    ) -> Result<S::Applied, S::Error> {
        (**self).apply_remote(from, ops, proofs).await
    }
}

/// Called with every op a [`MemoryReplica`] adds, and whether it was a local write.
pub type ApplyHook = Box<dyn FnMut(&EncodedOp, bool)>;

/// Called with the log after a [`MemoryReplica`] removed ops (an equivocation froze their
/// author), to rebuild what was made from them.
pub type ResetHook = Box<dyn FnMut(&Log)>;

/// A [`Replica`] over an in-memory [`Log`] that keeps its ops (`keep_ops`), for tests, benches
/// and simulations. A hook sees every op added (to maintain a materialized state), and storage
/// failures can be injected.
pub struct MemoryReplica {
    log: RefCell<Log>,
    hook: RefCell<Option<ApplyHook>>,
    reset: RefCell<Option<ResetHook>>,
    fail_applies: RefCell<u32>,
}

impl core::fmt::Debug for MemoryReplica {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MemoryReplica").field("log", &self.log).finish()
    }
}

impl MemoryReplica {
    /// A replica over `log`.
    pub fn new(log: Log) -> MemoryReplica {
        MemoryReplica {
            log: RefCell::new(log),
            hook: RefCell::new(None),
            reset: RefCell::new(None),
            fail_applies: RefCell::new(0),
        }
    }

    /// The log.
    pub fn log(&self) -> Ref<'_, Log> {
        self.log.borrow()
    }

    /// Sets the hook called with every op added from now on.
    pub fn set_hook(&self, hook: ApplyHook) {
        *self.hook.borrow_mut() = Some(hook);
    }

    /// Sets the hook called after ops are removed from now on.
    pub fn set_reset_hook(&self, hook: ResetHook) {
        *self.reset.borrow_mut() = Some(hook);
    }

    /// Makes the next `n` calls of [`Replica::apply_remote`] fail as a storage error would,
    /// applying nothing.
    pub fn fail_next_applies(&self, n: u32) {
        *self.fail_applies.borrow_mut() = n;
    }

    /// A local write: appends an op for `kind` and returns it (to push to peers).
    pub fn append(&self, kind: OpKind) -> Result<EncodedOp> {
        let op = self.log.borrow_mut().append(kind)?;
        if let Some(hook) = self.hook.borrow_mut().as_mut() {
            hook(&op, true);
        }
        Ok(op)
    }
}

impl RangeIndex for MemoryReplica {
    fn below(&self, bound: Option<&OpId>) -> RangeSum {
        RangeIndex::below(&*self.log.borrow(), bound)
    }

    fn select(&self, k: u64) -> Option<(OpId, RangeSum)> {
        RangeIndex::select(&*self.log.borrow(), k)
    }

    fn ids(&self, range: IdRange) -> Vec<OpId> {
        RangeIndex::ids(&*self.log.borrow(), range)
    }

    fn contains(&self, id: &OpId) -> bool {
        RangeIndex::contains(&*self.log.borrow(), id)
    }
}

/// Applies hand back the ops that were new; errors are [`NetError`]s.
impl Replica for MemoryReplica {
    type Applied = Vec<EncodedOp>;
    type Error = NetError;

    fn local_peer(&self) -> PeerId {
        self.log.borrow().peer()
    }

    async fn load_ops(&self, ids: &[OpId]) -> Result<Vec<ShippedOp>> {
        let log = self.log.borrow();
        Ok(ids.iter().filter_map(|id| Some((*id, log.bytes_of(id)?.to_vec(), *log.hash_of(id)?))).collect())
    }

    fn proof_of(&self, id: &OpId) -> Option<Proof> {
        self.log.borrow().proof_of(id)
    }

    fn check_waiting(&self, ops: &[EncodedOp]) -> Result<(), LogError> {
        check_waiting(&self.log.borrow(), ops)
    }

    fn equivocation(&self, author: &PeerId) -> Option<Equivocation> {
        self.log.borrow().equivocation(author).cloned()
    }

    fn conflict(&self, run: &[EncodedOp]) -> Option<Conflict> {
        self.log.borrow().conflict(run)
    }

    /// Applies nothing new: the outcome is empty.
    async fn freeze(&self, _from: PeerId, proof: Equivocation) -> Result<Option<Vec<EncodedOp>>> {
        let Some(removed) = self.log.borrow_mut().freeze(proof)? else { return Ok(None) };
        if !removed.is_empty()
            && let Some(reset) = self.reset.borrow_mut().as_mut()
        {
            reset(&self.log.borrow());
        }
        Ok(Some(Vec::new()))
    }

    async fn apply_remote(
        &self,
        _from: PeerId,
        ops: Vec<EncodedOp>,
        proofs: Vec<(OpId, Proof)>,
    ) -> Result<Vec<EncodedOp>> {
        {
            let mut fail = self.fail_applies.borrow_mut();
            if *fail > 0 {
                *fail -= 1;
                return Err(NetError::Replica { reason: "injected storage failure".into() });
            }
        }
        let new = self.log.borrow_mut().insert_proven(ops, &proofs)?;
        if let Some(hook) = self.hook.borrow_mut().as_mut() {
            for op in &new {
                hook(op, false);
            }
        }
        Ok(new)
    }
}
