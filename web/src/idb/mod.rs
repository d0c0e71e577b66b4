//! [`IdbStorage`]: the stores as IndexedDB object stores, in the browser.
//!
//! One IndexedDB database per AuroraDB database, one object store per [`Store`] (named by
//! [`Store::name`]). Record keys are the storage keys as binary IndexedDB keys, which IndexedDB
//! orders bytewise, like the storage trait. Every store holds the bytes as a `Uint8Array`, except
//! `state`, which holds readable records for DevTools and for IndexedDB indexes:
//!
//! ```text
//! state: { key: "user1", value: { name: "Alice", email: "a@x" }, record: Uint8Array }
//!        { key: "user2", deleted: true, record: Uint8Array }          (a tombstone)
//! ```
//!
//! `value` is the visible value decoded from `record` (the encoded `KeyRecord`, which is what the
//! storage trait reads and writes). Each configured index becomes an IndexedDB index on
//! `value.<name>` (names that are not identifiers get none: a key path cannot name them). These
//! indexes are never `unique` in IndexedDB: uniqueness is the engine's, which refuses a local write
//! that breaks it, but must accept a peer's (the logs converge, the conflict is reported), and an
//! IndexedDB constraint would make that peer's ops impossible to store.
//!
//! A commit is one `readwrite` transaction over the stores it touches: the preconditions are read
//! first inside it, a mismatch aborts it ([`StorageError::Conflict`]), then every put and delete is
//! issued and the transaction is committed; any failure aborts all of it. Every `readwrite`
//! transaction is opened with the connection's [`Durability`].
//!
//! This backend talks to IndexedDB through `web-sys` rather than `rexie`: `rexie` hides the
//! `IDBTransaction` (so the reason of an abort, such as `QuotaExceededError`, cannot be read), has
//! no `blocked` event on open, and panics inside its upgrade callback when a step fails.
//!
//! The module, by job:
//!
//! - `open`: opening (creating, upgrading) and deleting a database;
//! - `schema`: the object stores and indexes an upgrade builds and an open checks;
//! - `commit`: a write batch as one transaction;
//! - `lock`: the write lock the tabs of a database share (a Web Lock), or backoff without one,
//!   and the locks a connection holds for its life (its author slot);
//! - `read`: gets and scans;
//! - `record`: keys and values as IndexedDB holds them;
//! - `request`: IndexedDB's requests and transactions as futures;
//! - `space`: the room kept under the storage quota for removes and clears;
//! - `error`: IndexedDB failures as [`StorageError`]s.

mod ballast;
mod commit;
mod error;
mod lock;
mod marker;
mod open;
mod read;
mod record;
mod request;
mod schema;
mod space;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{IdbDatabase, IdbObjectStore, IdbTransaction, IdbTransactionMode};

use auroradb::StorageError;
use auroradb::storage::{Claim, Held, KeyRange, ScanOptions, Storage, Store, WriteBatch, WriteLock};

use self::error::IdbFailure;
pub(crate) use self::lock::{monotonic_ms, tab_channel};
pub use self::schema::{DataLoss, index_key_path};

/// A callback run when the connection is closed from outside.
type OnClosed = Rc<RefCell<Option<Box<dyn Fn()>>>>;

/// The release functions of the Web Locks the connection holds for its life ([`Storage::hold`]).
type Holds = Rc<RefCell<Vec<js_sys::Function>>>;

/// Releases every lock the connection holds for its life (a lock released before is left as it
/// is: resolving a promise again does nothing).
fn release_holds(holds: &Holds) {
    for release in holds.borrow_mut().drain(..) {
        let _ = release.call0(&JsValue::UNDEFINED);
    }
}

/// When IndexedDB reports a `readwrite` transaction complete (its `durability` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Once the data is flushed to the disk: it survives a crash of the operating system or a
    /// power loss.
    Strict,
    /// Once the data is handed to the operating system: it survives a crash of the browser,
    /// not necessarily one of the operating system or a power loss. What IndexedDB does in
    /// Chromium when no durability is given.
    #[default]
    Relaxed,
}

impl Durability {
    /// The option's value in JavaScript.
    pub fn as_str(self) -> &'static str {
        match self {
            Durability::Strict => "strict",
            Durability::Relaxed => "relaxed",
        }
    }

    /// The durability named `name` (`"strict"` or `"relaxed"`).
    pub fn from_name(name: &str) -> Option<Durability> {
        match name {
            "strict" => Some(Durability::Strict),
            "relaxed" => Some(Durability::Relaxed),
            _ => None,
        }
    }
}

#[wasm_bindgen]
extern "C" {
    /// An `IDBDatabase`, for `transaction(stores, mode, options)`, which web-sys has only behind
    /// its unstable APIs.
    #[wasm_bindgen(js_name = IDBDatabase)]
    type IdbDatabaseWithOptions;

    #[wasm_bindgen(method, catch, js_name = transaction)]
    fn transaction(
        this: &IdbDatabaseWithOptions,
        stores: &Array,
        mode: IdbTransactionMode,
        options: &Object,
    ) -> Result<IdbTransaction, JsValue>;
}

/// Clears [`IdbStorage`]'s `locking` when the write lock it goes with is released.
struct Unlocks(Rc<Cell<bool>>);

impl Drop for Unlocks {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// Storage in an IndexedDB database. Each value is one connection; dropping it closes it.
pub struct IdbStorage {
    db: IdbDatabase,
    name: String,
    closed: Rc<Cell<bool>>,
    on_closed: OnClosed,
    durability: Cell<Durability>,
    /// Whether this connection's open made the database, empty, until the first open of a
    /// database on it asks ([`Storage::is_new`]).
    new: Cell<bool>,
    /// The loss this connection's open found ([`DataLoss`]), until
    /// [`IdbStorage::take_data_loss`].
    lost: RefCell<Option<DataLoss>>,
    /// A lock asked for while the database opened (its full name, and the answer), until the
    /// first [`Storage::hold`] of it takes it or [`IdbStorage::release_early`] drops it.
    early: RefCell<Option<(String, lock::Hold)>>,
    /// Whether other connections write the database: then writes take the lock.
    writers: lock::Writers,
    /// Whether this connection holds the write lock (see [`Storage::lock_writes`]).
    locking: Rc<Cell<bool>>,
    /// The room left under the quota, for the reserve kept for removes (`space`).
    space: space::Space,
    /// Whether the ballast is in storage, as far as this connection knows, and when it learnt
    /// it (`None`: to be asked); see `ballast`.
    ballast: Cell<Option<(bool, f64)>>,
    /// The locks it holds for its life, released when it closes.
    holds: Holds,
    /// Fulfilled when the browser closes the connection itself (its `close` event).
    forced: js_sys::Promise,
    /// Closes the connection when another one upgrades or deletes the database.
    _version_change: Closure<dyn FnMut()>,
    /// Notices when the browser closes the connection (storage cleared, for example).
    _close: Closure<dyn FnMut()>,
}

impl core::fmt::Debug for IdbStorage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IdbStorage").field("name", &self.name).field("closed", &self.closed.get()).finish()
    }
}

impl Drop for IdbStorage {
    fn drop(&mut self) {
        self.db.set_onversionchange(None);
        self.db.set_onclose(None);
        self.db.close();
        release_holds(&self.holds);
    }
}

impl IdbStorage {
    /// The IndexedDB database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The IndexedDB schema version.
    pub fn version(&self) -> u32 {
        self.db.version() as u32
    }

    /// The IndexedDB connection, for reading the stores directly (tests, tools).
    pub fn connection(&self) -> &IdbDatabase {
        &self.db
    }

    /// The durability of its `readwrite` transactions.
    pub fn durability(&self) -> Durability {
        self.durability.get()
    }

    /// The loss this connection's open found ([`DataLoss`]: the browser reported dropping the
    /// database's damaged files, or the database is gone though it was not deleted through
    /// AuroraDB), once: `None` after the first call, and for every open that found none.
    pub fn take_data_loss(&self) -> Option<DataLoss> {
        self.lost.take()
    }

    /// Lets go of the lock asked for with the open ([`IdbStorage::open_with_lock`]) if no
    /// [`Storage::hold`] took it.
    pub fn release_early(&self) {
        self.early.borrow_mut().take();
    }

    /// Sets the durability of its `readwrite` transactions from now on.
    pub fn set_durability(&self, durability: Durability) {
        self.durability.set(durability);
    }

    /// Whether the connection is closed (by [`IdbStorage::close`], by another connection that
    /// upgraded or deleted the database, or by the browser).
    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// Another connection committed (its note came on the tab channel): writes take the lock for
    /// a while.
    pub fn other_wrote(&self) {
        self.writers.other_wrote();
    }

    /// Calls `f` once when the connection is closed by someone else than [`IdbStorage::close`].
    pub fn on_closed(&self, f: impl Fn() + 'static) {
        *self.on_closed.borrow_mut() = Some(Box::new(f));
    }

    /// Closes the connection, and releases the locks it holds for its life: every later call
    /// fails with [`StorageError::Closed`].
    pub fn close(&self) {
        if !self.closed.replace(true) {
            self.db.close();
        }
        release_holds(&self.holds);
    }

    fn check_open(&self) -> Result<(), StorageError> {
        if self.closed.get() { Err(StorageError::Closed) } else { Ok(()) }
    }

    /// The storage error of a failure on this connection (once closed, every failure is
    /// [`StorageError::Closed`] but quota).
    fn fail(&self, e: IdbFailure) -> StorageError {
        e.into_storage(self.closed.get())
    }

    /// `fut` (a request's or transaction's end), or `None` if the browser closed the connection
    /// and it did not end ([`request::unless_cut_off`]).
    async fn unless_cut_off<T>(&self, fut: impl Future<Output = T>) -> Option<T> {
        request::unless_cut_off(&self.forced, fut).await
    }

    /// A read's result (`read`: [`request::request_result`]); [`StorageError::Closed`] if the
    /// browser closed the connection and the read never ended.
    async fn read_result(
        &self,
        read: impl Future<Output = Result<JsValue, IdbFailure>>,
    ) -> Result<JsValue, StorageError> {
        match self.unless_cut_off(read).await {
            Some(result) => result.map_err(|e| self.fail(e)),
            None => Err(StorageError::Closed),
        }
    }

    fn js_fail(&self, e: &JsValue) -> StorageError {
        self.fail(IdbFailure::from_js(e))
    }

    fn transaction(&self, stores: &[Store], mode: IdbTransactionMode) -> Result<IdbTransaction, StorageError> {
        self.check_open()?;
        let names: Array = stores.iter().map(|s| JsValue::from_str(s.name())).collect();
        if mode != IdbTransactionMode::Readwrite {
            return self.db.transaction_with_str_sequence_and_mode(&names, mode).map_err(|e| self.js_fail(&e));
        }
        let options = Object::new();
        let _ = Reflect::set(&options, &"durability".into(), &self.durability.get().as_str().into());
        let db: &IdbDatabaseWithOptions = self.db.unchecked_ref();
        db.transaction(&names, mode, &options).map_err(|e| self.js_fail(&e))
    }

    fn object_store(&self, tx: &IdbTransaction, store: Store) -> Result<IdbObjectStore, StorageError> {
        tx.object_store(store.name()).map_err(|e| self.js_fail(&e))
    }
}

impl Storage for IdbStorage {
    async fn commit(&self, mut batch: WriteBatch) -> Result<(), StorageError> {
        if batch.grows {
            self.check_open()?;
            self.space.make_room(batch.stored_bytes()).await?;
            // The write lays the ballast again if it is not there: with no room for it, the
            // write is refused, and the room stays for removes.
            let lays = !self.ballast_laid().await?;
            if lays {
                batch.put(Store::Meta, ballast::KEY.to_vec(), ballast::bytes());
            }
            let out = self.commit_batch(&batch).await;
            match &out {
                Ok(()) if lays => self.ballast_known(true),
                // Another connection may have lifted it: asked again next time.
                Err(StorageError::QuotaExceeded(_)) => self.ballast.set(None),
                _ => {}
            }
            return out;
        }
        match self.commit_batch(&batch).await {
            // A write that stores nothing new (a remove, a clear) that does not fit: the ballast
            // (asked for again: another connection may have lifted it) is lifted in a transaction
            // of its own, which only deletes (the browser lets it through whatever the usage),
            // and the write tried again in the room it leaves.
            Err(StorageError::QuotaExceeded(e)) => {
                self.ballast.set(None);
                if !self.ballast_laid().await? {
                    return Err(StorageError::QuotaExceeded(e));
                }
                let mut lift = WriteBatch::default();
                lift.delete(Store::Meta, ballast::KEY.to_vec());
                self.commit_batch(&lift).await?;
                self.ballast_known(false);
                self.commit_batch(&batch).await
            }
            out => out,
        }
    }

    async fn get(&self, store: Store, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.get_record(store, key).await
    }

    async fn get_many(&self, store: Store, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
        self.get_records(store, keys).await
    }

    async fn lock_writes(&self) -> Result<WriteLock, StorageError> {
        self.check_open()?;
        // A Web Lock is not reentrant: a read loop of a write that holds it already is covered.
        if !self.writers.contended() || self.locking.get() {
            return Ok(WriteLock::none());
        }
        let lock = lock::acquire(&self.name, &self.writers).await;
        if !lock.is_held() {
            return Ok(lock);
        }
        self.locking.set(true);
        Ok(WriteLock::held((lock, Unlocks(self.locking.clone()))))
    }

    fn lost_commit(&self) {
        self.writers.lost();
    }

    async fn before_retry(&self, attempt: u32) {
        lock::back_off(attempt).await
    }

    /// Answered once: a later open on the same connection reads what earlier ones wrote.
    fn is_new(&self) -> bool {
        self.new.replace(false)
    }

    async fn hold(&self, name: &str) -> Result<Claim, StorageError> {
        self.check_open()?;
        let lock = lock::hold_name(name, &self.name);
        let early = self.early.borrow_mut().take_if(|(asked, _)| *asked == lock);
        let hold = match early {
            Some((_, hold)) => hold,
            None => lock::hold(&lock).await,
        };
        Ok(match hold {
            lock::Hold::Held(held) => {
                self.holds.borrow_mut().push(held.release.clone());
                Claim::Held(Held::new(held))
            }
            lock::Hold::Taken => Claim::Taken,
            lock::Hold::Unsupported => Claim::Unsupported,
        })
    }

    async fn scan(
        &self,
        store: Store,
        range: KeyRange,
        options: ScanOptions,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError> {
        self.scan_records(store, range, options).await
    }

    async fn count(&self, store: Store, range: KeyRange) -> Result<u64, StorageError> {
        self.count_records(store, range).await
    }
}
