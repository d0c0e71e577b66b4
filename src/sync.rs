//! The database as a sync store: [`DbStore`] lets an [`auroradb_net::SyncEngine`] reconcile a
//! [`Database`]'s log with peers, ship its ops, and apply theirs through the database's atomic
//! commit (log, state, indexes and storage together, all or nothing).
//!
//! The database sits behind an async lock ([`SharedDatabase`]) that the application's own calls
//! share; the fingerprint index is read through the log handle, which is only ever borrowed
//! between writes, so reconciliation never waits for a write in progress.

use std::cell::RefCell;
use std::rc::Rc;

use auroradb_log::{EncodedOp, Hash, Log, OpId, PeerId, RangeSum};
use auroradb_net::{IdRange, NetError, RangeIndex, SyncStore};
use futures::lock::Mutex;

use crate::storage::Storage;
use crate::{Database, DbError, WriteOutcome};

/// A database shared between the application and the sync engine (`None` once closed).
pub type SharedDatabase<S> = Rc<Mutex<Option<Database<S>>>>;

/// Ops applied from a peer, waiting for the application to announce them.
pub type Received = Vec<(PeerId, WriteOutcome)>;

/// A [`Database`] as seen by the sync engine.
pub struct DbStore<S: Storage> {
    db: SharedDatabase<S>,
    log: Rc<RefCell<Log>>,
    local: PeerId,
    received: RefCell<Received>,
}

impl<S: Storage> core::fmt::Debug for DbStore<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DbStore").field("local", &self.local).finish_non_exhaustive()
    }
}

impl<S: Storage> DbStore<S> {
    /// A store over `db`, whose log handle is `log` (from [`Database::log_handle`]), known to
    /// peers as `local` (the transport's id for this peer; it decides which side of a new
    /// connection starts the first session).
    pub fn new(db: SharedDatabase<S>, log: Rc<RefCell<Log>>, local: PeerId) -> DbStore<S> {
        DbStore { db, log, local, received: RefCell::default() }
    }

    /// The shared database.
    pub fn database(&self) -> &SharedDatabase<S> {
        &self.db
    }

    /// Takes the ops applied from peers since the last call, with their state changes.
    pub fn take_received(&self) -> Received {
        std::mem::take(&mut self.received.borrow_mut())
    }
}

impl<S: Storage> RangeIndex for DbStore<S> {
    fn below(&self, bound: Option<&OpId>) -> RangeSum {
        RangeIndex::below(&*self.log.borrow(), bound)
    }

    fn select(&self, k: u64) -> Option<(OpId, RangeSum)> {
        RangeIndex::select(&*self.log.borrow(), k)
    }

    fn ids(&self, range: IdRange) -> Vec<OpId> {
        RangeIndex::ids(&*self.log.borrow(), range)
    }
}

fn store_error(e: DbError) -> NetError {
    match e {
        DbError::Log(e) => NetError::Log(e),
        other => NetError::Store { reason: format!("{} ({})", other, other.name()) },
    }
}

impl<S: Storage> SyncStore for DbStore<S> {
    fn local_peer(&self) -> PeerId {
        self.local
    }

    async fn load_ops(&self, ids: &[OpId]) -> auroradb_net::Result<Vec<(OpId, Vec<u8>, Hash)>> {
        let guard = self.db.lock().await;
        let db = guard.as_ref().ok_or_else(|| NetError::Store { reason: "database is closed".into() })?;
        db.load_raw(ids).await.map_err(store_error)
    }

    async fn apply_remote(&self, from: PeerId, ops: Vec<EncodedOp>) -> auroradb_net::Result<usize> {
        let mut guard = self.db.lock().await;
        let db = guard.as_mut().ok_or_else(|| NetError::Store { reason: "database is closed".into() })?;
        let out = db.apply_remote(ops).await.map_err(store_error)?;
        let n = out.ops.len();
        if n > 0 || !out.changes.is_empty() {
            self.received.borrow_mut().push((from, out));
        }
        Ok(n)
    }
}
