//! The database as a replica: [`DbReplica`] lets an [`auroradb_net::SyncEngine`] reconcile a
//! [`Database`]'s log with peers, ship its ops, and apply theirs through the database's atomic
//! commit (log, state, indexes and storage together, all or nothing).
//!
//! The database sits behind an async lock ([`SharedDatabase`]) that the application's own calls
//! share; the fingerprint index is read through the log handle, which is only ever borrowed
//! between writes, so reconciliation never waits for a write in progress.
//!
//! What a remote apply committed ([`WriteOutcome`]) comes back in the engine's
//! [`SyncEvent::Post`](auroradb_net::SyncEvent::Post) for that batch, and is given at once, under
//! the database's lock, to the replica's observer ([`DbReplica::on_applied`]), which can announce
//! it before any other call takes the database; what fails is a
//! [`DbError`] in [`SyncError::Replica`](auroradb_net::SyncError::Replica): a full quota stays
//! `DbError::Storage(StorageError::QuotaExceeded)` all the way to the application.

use std::cell::RefCell;
use std::rc::Rc;

use auroradb_log::{Conflict, EncodedOp, Equivocation, Hash, Log, LogError, OpId, PeerId, Proof, RangeSum};
use auroradb_net::{ApplyOutcome, IdRange, RangeIndex, Replica, ReplicaError};

use crate::Database;
use crate::storage::Storage;
use crate::{DbError, SharedDatabase, StorageError, WriteOutcome};

/// A [`Database`] as seen by the sync engine.
pub struct DbReplica<S: Storage> {
    db: SharedDatabase<S>,
    log: Rc<RefCell<Log>>,
    local: PeerId,
    on_applied: Option<Applied<S>>,
}

/// See [`DbReplica::on_applied`].
type Applied<S> = Box<dyn Fn(PeerId, &mut Database<S>, &WriteOutcome)>;

impl<S: Storage> core::fmt::Debug for DbReplica<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DbReplica").field("local", &self.local).finish_non_exhaustive()
    }
}

impl<S: Storage> DbReplica<S> {
    /// A replica over `db`, whose log handle is `log` (from [`Database::log_handle`]), known to
    /// peers as `local` (the transport's id for this peer; it decides which side of a new
    /// connection starts the first session).
    pub fn new(db: SharedDatabase<S>, log: Rc<RefCell<Log>>, local: PeerId) -> DbReplica<S> {
        DbReplica { db, log, local, on_applied: None }
    }

    /// Calls `f(peer, db, outcome)` after each commit of a peer's ops or of a freeze that a
    /// peer's proof caused, while the database's lock is still held: what `f` announces (the
    /// changes, and first the other connections' commits the apply caught up with, which
    /// [`Database::take_caught_up`] gives) comes before anything a later call commits.
    pub fn on_applied(mut self, f: impl Fn(PeerId, &mut Database<S>, &WriteOutcome) + 'static) -> DbReplica<S> {
        self.on_applied = Some(Box::new(f));
        self
    }

    /// The shared database.
    pub fn database(&self) -> &SharedDatabase<S> {
        &self.db
    }
}

impl<S: Storage> RangeIndex for DbReplica<S> {
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

/// A remote apply's outcome: its new ops, and the changes to announce. (What another connection
/// committed and the apply caught up with is not in it: see [`Database::take_caught_up`].)
impl ApplyOutcome for WriteOutcome {
    fn new_ops(&self) -> usize {
        self.ops.len()
    }

    fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.changes.is_empty()
    }
}

/// The log's checks refused the ops ([`DbError::Log`]): the peer's fault. Anything else is the
/// database's own failure.
impl ReplicaError for DbError {
    fn refused(&self) -> Option<&LogError> {
        match self {
            DbError::Log(e) => Some(e),
            _ => None,
        }
    }
}

impl<S: Storage> Replica for DbReplica<S> {
    type Applied = WriteOutcome;
    type Error = DbError;

    fn local_peer(&self) -> PeerId {
        self.local
    }

    async fn load_ops(&self, ids: &[OpId]) -> Result<Vec<(OpId, Vec<u8>, Hash)>, DbError> {
        let guard = self.db.lock().await;
        let db = guard.as_ref().ok_or(DbError::Storage(StorageError::Closed))?;
        db.load_raw(ids).await
    }

    fn proof_of(&self, id: &OpId) -> Option<Proof> {
        self.log.borrow().proof_of(id)
    }

    fn check_waiting(&self, ops: &[EncodedOp]) -> Result<(), LogError> {
        auroradb_net::check_waiting(&self.log.borrow(), ops)
    }

    fn equivocation(&self, author: &PeerId) -> Option<Equivocation> {
        self.log.borrow().equivocation(author).cloned()
    }

    fn conflict(&self, run: &[EncodedOp]) -> Option<Conflict> {
        self.log.borrow().conflict(run)
    }

    async fn freeze(&self, from: PeerId, proof: Equivocation) -> Result<Option<WriteOutcome>, DbError> {
        let mut guard = self.db.lock().await;
        let db = guard.as_mut().ok_or(DbError::Storage(StorageError::Closed))?;
        let out = db.freeze(proof).await?;
        if let (Some(f), Some(out)) = (&self.on_applied, &out) {
            f(from, db, out);
        }
        Ok(out)
    }

    async fn apply_remote(
        &self,
        from: PeerId,
        ops: Vec<EncodedOp>,
        proofs: Vec<(OpId, Proof)>,
    ) -> Result<WriteOutcome, DbError> {
        let mut guard = self.db.lock().await;
        let db = guard.as_mut().ok_or(DbError::Storage(StorageError::Closed))?;
        let out = db.apply_remote(ops, &proofs).await?;
        if let Some(f) = &self.on_applied {
            f(from, db, &out);
        }
        Ok(out)
    }
}
