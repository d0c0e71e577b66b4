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
//! issued and the transaction is committed; any failure aborts all of it.
//!
//! This backend talks to IndexedDB through `web-sys` rather than `rexie`: `rexie` hides the
//! `IDBTransaction` (so the reason of an abort, such as `QuotaExceededError`, cannot be read), has
//! no `blocked` event on open, and panics inside its upgrade callback when a step fails.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::ops::Bound;
use std::rc::Rc;

use auroradb_snapshot::{IndexSpec, KeyRecord};
use futures::future::{Either, join_all, select};
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DomException, IdbCursor, IdbCursorDirection, IdbCursorWithValue, IdbDatabase, IdbFactory, IdbIndexParameters,
    IdbKeyRange, IdbObjectStore, IdbOpenDbRequest, IdbRequest, IdbTransaction, IdbTransactionMode,
};

use auroradb::storage::{KeyRange, Mutation, ScanOptions, Storage, Store, WriteBatch};
use auroradb::{DbError, StorageError};

/// The IndexedDB key path of the index on field `name`, if a key path can name it.
pub fn index_key_path(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let first = chars.next()?;
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    (!first.is_ascii_digit() && ident(first) && chars.all(ident)).then(|| format!("value.{name}"))
}

/// A failure as IndexedDB reports it: the `DOMException` name and message.
#[derive(Debug, Clone)]
struct IdbFailure {
    name: String,
    message: String,
}

impl IdbFailure {
    fn from_js(value: &JsValue) -> IdbFailure {
        if let Some(e) = value.dyn_ref::<DomException>() {
            return IdbFailure { name: e.name(), message: e.message() };
        }
        if let Some(e) = value.dyn_ref::<js_sys::Error>() {
            return IdbFailure { name: e.name().into(), message: e.message().into() };
        }
        IdbFailure { name: "UnknownError".into(), message: format!("{value:?}") }
    }

    fn of_request(req: &IdbRequest) -> IdbFailure {
        match req.error() {
            Ok(Some(e)) => IdbFailure { name: e.name(), message: e.message() },
            _ => IdbFailure { name: "UnknownError".into(), message: "request failed".into() },
        }
    }

    fn of_transaction(tx: &IdbTransaction) -> IdbFailure {
        match tx.error() {
            Some(e) => IdbFailure { name: e.name(), message: e.message() },
            None => IdbFailure { name: "AbortError".into(), message: "transaction aborted".into() },
        }
    }

    fn into_storage(self, closed: bool) -> StorageError {
        let text = format!("{}: {}", self.name, self.message);
        match self.name.as_str() {
            "QuotaExceededError" => StorageError::QuotaExceeded(text),
            "InvalidStateError" => StorageError::Closed,
            _ if closed => StorageError::Closed,
            "AbortError" | "ConstraintError" | "DataError" | "TransactionInactiveError" => {
                StorageError::CommitFailed(text)
            }
            _ => StorageError::Backend(text),
        }
    }
}

fn factory() -> Result<IdbFactory, StorageError> {
    Reflect::get(&js_sys::global(), &JsValue::from_str("indexedDB"))
        .ok()
        .and_then(|f| f.dyn_into::<IdbFactory>().ok())
        .ok_or_else(|| StorageError::Backend("IndexedDB is not available here".into()))
}

/// A promise settled by the request's `success` (with the event) or `error` event.
fn request_promise(req: &IdbRequest) -> Promise {
    Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
    })
}

/// The request's result once it succeeds.
async fn request_result(req: &IdbRequest) -> Result<JsValue, IdbFailure> {
    match JsFuture::from(request_promise(req)).await {
        Ok(_) => req.result().map_err(|e| IdbFailure::from_js(&e)),
        Err(_) => Err(IdbFailure::of_request(req)),
    }
}

/// A promise fulfilled on `complete`, rejected on `abort` (which follows every failure).
fn transaction_promise(tx: &IdbTransaction) -> Promise {
    Promise::new(&mut |resolve, reject| {
        tx.set_oncomplete(Some(&resolve));
        tx.set_onabort(Some(&reject));
    })
}

fn key_js(key: &[u8]) -> JsValue {
    Uint8Array::from(key).into()
}

fn key_bytes(key: &JsValue) -> Result<Vec<u8>, StorageError> {
    if let Some(buf) = key.dyn_ref::<js_sys::ArrayBuffer>() {
        return Ok(Uint8Array::new(buf).to_vec());
    }
    if let Some(arr) = key.dyn_ref::<Uint8Array>() {
        return Ok(arr.to_vec());
    }
    Err(StorageError::Backend("a record key is not binary: the database was not written by AuroraDB".into()))
}

/// The readable `state` record for a key and its encoded `KeyRecord`.
fn state_record(key: &[u8], record: &[u8]) -> JsValue {
    let obj = Object::new();
    let set = |k: &str, v: &JsValue| {
        let _ = Reflect::set(&obj, &JsValue::from_str(k), v);
    };
    set("key", &JsValue::from_str(&String::from_utf8_lossy(key)));
    match KeyRecord::decode(record).ok().and_then(|r| r.entry()) {
        Some(entry) => set("value", &crate::value::to_js(&entry.value)),
        None => set("deleted", &JsValue::TRUE),
    }
    set("record", &Uint8Array::from(record).into());
    obj.into()
}

/// The stored bytes of a record as IndexedDB returns it.
fn stored_bytes(store: Store, value: &JsValue) -> Result<Option<Vec<u8>>, StorageError> {
    if value.is_undefined() {
        return Ok(None);
    }
    let bytes = if store == Store::State { Reflect::get(value, &JsValue::from_str("record")).ok() } else { None };
    let bytes = bytes.as_ref().unwrap_or(value);
    match bytes.dyn_ref::<Uint8Array>() {
        Some(arr) => Ok(Some(arr.to_vec())),
        None => Err(StorageError::Backend(format!("a record of store {:?} is not AuroraDB's", store.name()))),
    }
}

fn stored_value(store: Store, key: &[u8], value: &[u8]) -> JsValue {
    if store == Store::State { state_record(key, value) } else { Uint8Array::from(value).into() }
}

/// Whether a range holds no key at all (IndexedDB refuses to build such a range).
fn is_empty_range(range: &KeyRange) -> bool {
    match (&range.start, &range.end) {
        (Bound::Included(s), Bound::Included(e)) => s > e,
        (Bound::Included(s), Bound::Excluded(e))
        | (Bound::Excluded(s), Bound::Included(e))
        | (Bound::Excluded(s), Bound::Excluded(e)) => s >= e,
        _ => false,
    }
}

/// The IndexedDB key range (`undefined` for every key).
fn idb_range(range: &KeyRange) -> Result<JsValue, StorageError> {
    let bound = |b: &Bound<Vec<u8>>| match b {
        Bound::Included(k) => Some((key_js(k), false)),
        Bound::Excluded(k) => Some((key_js(k), true)),
        Bound::Unbounded => None,
    };
    let made = match (bound(&range.start), bound(&range.end)) {
        (None, None) => return Ok(JsValue::UNDEFINED),
        (Some((lo, lo_open)), None) => IdbKeyRange::lower_bound_with_open(&lo, lo_open),
        (None, Some((hi, hi_open))) => IdbKeyRange::upper_bound_with_open(&hi, hi_open),
        (Some((lo, lo_open)), Some((hi, hi_open))) => {
            IdbKeyRange::bound_with_lower_open_and_upper_open(&lo, &hi, lo_open, hi_open)
        }
    };
    made.map(Into::into).map_err(|e| IdbFailure::from_js(&e).into_storage(false))
}

/// A callback run when the connection is closed from outside.
type OnClosed = Rc<RefCell<Option<Box<dyn Fn()>>>>;

/// Rows read so far by a cursor, or why it stopped.
type Rows = Rc<RefCell<Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError>>>;

/// How long an open or delete request may wait for other connections to close before it is
/// reported as blocked. A connection that is closing still blocks until its last transaction
/// ends, so a short wait is normal; one that never closes is reported.
const BLOCKED_GRACE_MS: i32 = 1500;

/// How an open or delete request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    Success,
    Failure,
    /// Still blocked by another connection after [`BLOCKED_GRACE_MS`].
    Blocked,
}

fn sleep(ms: i32) -> Promise {
    Promise::new(&mut |resolve, _| {
        let global = js_sys::global();
        if let Ok(f) = Reflect::get(&global, &JsValue::from_str("setTimeout"))
            && let Some(f) = f.dyn_ref::<Function>()
        {
            let _ = f.call2(&global, &resolve, &JsValue::from(ms));
        }
    })
}

/// Waits for an open or delete request, giving other connections [`BLOCKED_GRACE_MS`] to close
/// once it reports `blocked`.
async fn settle(req: &IdbOpenDbRequest) -> Settled {
    let settled = Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
    });
    let blocked = Promise::new(&mut |resolve, _| req.set_onblocked(Some(&resolve)));
    let done = |r: Result<JsValue, JsValue>| if r.is_ok() { Settled::Success } else { Settled::Failure };
    let outcome = match select(JsFuture::from(settled), JsFuture::from(blocked)).await {
        Either::Left((r, _)) => done(r),
        Either::Right((_, settled)) => match select(settled, JsFuture::from(sleep(BLOCKED_GRACE_MS))).await {
            Either::Left((r, _)) => done(r),
            Either::Right(_) => Settled::Blocked,
        },
    };
    req.set_onblocked(None);
    outcome
}

/// Storage in an IndexedDB database. Each value is one connection; dropping it closes it.
pub struct IdbStorage {
    db: IdbDatabase,
    name: String,
    closed: Rc<Cell<bool>>,
    on_closed: OnClosed,
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
    }
}

/// What the upgrade callback must build.
struct Upgrade {
    indexes: Vec<(String, String)>,
    abandoned: Rc<Cell<bool>>,
    failure: Rc<RefCell<Option<String>>>,
}

impl Upgrade {
    fn run(&self, req: &IdbOpenDbRequest) {
        let Some(tx) = req.transaction() else { return };
        if self.abandoned.get() {
            let _ = tx.abort();
            return;
        }
        if let Err(e) = self.build(req, &tx) {
            *self.failure.borrow_mut() = Some(format!("{}: {}", e.name, e.message));
            let _ = tx.abort();
        }
    }

    fn build(&self, req: &IdbOpenDbRequest, tx: &IdbTransaction) -> Result<(), IdbFailure> {
        let db: IdbDatabase = req.result().map_err(|e| IdbFailure::from_js(&e))?.unchecked_into();
        let names = db.object_store_names();
        for store in Store::ALL {
            if !names.contains(store.name()) {
                db.create_object_store(store.name()).map_err(|e| IdbFailure::from_js(&e))?;
            }
        }
        let state = tx.object_store(Store::State.name()).map_err(|e| IdbFailure::from_js(&e))?;
        let present = state.index_names();
        for i in 0..present.length() {
            let Some(name) = present.item(i) else { continue };
            let keep = self.indexes.iter().any(|(n, path)| {
                *n == name
                    && state.index(&name).ok().and_then(|ix| ix.key_path().ok()).and_then(|p| p.as_string()).as_ref()
                        == Some(path)
            });
            if !keep {
                state.delete_index(&name).map_err(|e| IdbFailure::from_js(&e))?;
            }
        }
        let present = state.index_names();
        for (name, path) in &self.indexes {
            if !present.contains(name) {
                let params = IdbIndexParameters::new();
                params.set_unique(false);
                state
                    .create_index_with_str_and_optional_parameters(name, path, &params)
                    .map_err(|e| IdbFailure::from_js(&e))?;
            }
        }
        Ok(())
    }
}

impl IdbStorage {
    /// Opens (creating or upgrading) IndexedDB database `name` at schema `version`, with an
    /// IndexedDB index on `value.<name>` of the `state` store for each of `indexes` whose name is
    /// an identifier. Raising `version` adds and removes indexes and keeps every record. Fails
    /// with [`DbError::InvalidConfig`] if `version` is older than the stored one or the indexes
    /// changed without a new version, and with [`StorageError::Blocked`] if another connection
    /// keeps an older version open (the upgrade is then abandoned).
    pub async fn open(name: &str, version: u32, indexes: &[IndexSpec]) -> Result<IdbStorage, DbError> {
        if version == 0 {
            return Err(DbError::InvalidConfig("version must be at least 1".into()));
        }
        let wanted: Vec<(String, String)> =
            indexes.iter().filter_map(|ix| index_key_path(&ix.name).map(|p| (ix.name.clone(), p))).collect();
        let req = factory()?
            .open_with_u32(name, version)
            .map_err(|e| DbError::Storage(IdbFailure::from_js(&e).into_storage(false)))?;

        let abandoned = Rc::new(Cell::new(false));
        let failure = Rc::new(RefCell::new(None));
        let upgrade = Upgrade { indexes: wanted.clone(), abandoned: abandoned.clone(), failure: failure.clone() };
        let req_up = req.clone();
        let on_upgrade = Closure::<dyn FnMut()>::new(move || upgrade.run(&req_up));
        req.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));

        let outcome = settle(&req).await;
        if outcome == Settled::Blocked {
            // The request stays queued until the other connections close: make it abort its
            // upgrade then, and close what it opens. Its handlers must outlive this call.
            abandoned.set(true);
            let req_late = req.clone();
            let close_late = Closure::<dyn FnMut()>::new(move || {
                if let Ok(db) = req_late.result() {
                    db.unchecked_into::<IdbDatabase>().close();
                }
            });
            req.set_onsuccess(Some(close_late.as_ref().unchecked_ref()));
            req.set_onerror(None);
            close_late.forget();
            on_upgrade.forget();
            return Err(StorageError::Blocked(format!(
                "another connection keeps database {name:?} open at an older version; close it (or its tab) and retry"
            ))
            .into());
        }
        req.set_onupgradeneeded(None);
        drop(on_upgrade);
        if outcome == Settled::Failure {
            if let Some(why) = failure.borrow_mut().take() {
                return Err(StorageError::Backend(format!("schema upgrade of {name:?} failed: {why}")).into());
            }
            let err = IdbFailure::of_request(&req);
            if err.name == "VersionError" {
                return Err(DbError::InvalidConfig(format!(
                    "version {version} is older than the stored version of database {name:?}"
                )));
            }
            return Err(err.into_storage(false).into());
        }
        let db: IdbDatabase =
            req.result().map_err(|e| DbError::Storage(IdbFailure::from_js(&e).into_storage(false)))?.unchecked_into();
        let storage = IdbStorage::adopt(db, name);
        storage.check_schema(&wanted)?;
        Ok(storage)
    }

    fn adopt(db: IdbDatabase, name: &str) -> IdbStorage {
        let closed = Rc::new(Cell::new(false));
        let on_closed: OnClosed = Rc::new(RefCell::new(None));
        let notify = {
            let (closed, on_closed) = (closed.clone(), on_closed.clone());
            move || {
                if !closed.replace(true)
                    && let Some(f) = on_closed.borrow().as_ref()
                {
                    f();
                }
            }
        };
        let db_vc = db.clone();
        let notify_vc = notify.clone();
        let version_change = Closure::<dyn FnMut()>::new(move || {
            db_vc.close();
            notify_vc();
        });
        let close = Closure::<dyn FnMut()>::new(notify);
        db.set_onversionchange(Some(version_change.as_ref().unchecked_ref()));
        db.set_onclose(Some(close.as_ref().unchecked_ref()));
        IdbStorage { db, name: name.to_owned(), closed, on_closed, _version_change: version_change, _close: close }
    }

    /// Checks the stores exist and the `state` indexes are the configured ones.
    fn check_schema(&self, wanted: &[(String, String)]) -> Result<(), DbError> {
        let names = self.db.object_store_names();
        if let Some(missing) = Store::ALL.iter().find(|s| !names.contains(s.name())) {
            return Err(DbError::InvalidConfig(format!(
                "IndexedDB database {:?} has no {:?} store: it was not made by AuroraDB (use another name)",
                self.name,
                missing.name()
            )));
        }
        let tx = self
            .db
            .transaction_with_str(Store::State.name())
            .map_err(|e| DbError::Storage(IdbFailure::from_js(&e).into_storage(false)))?;
        let state = tx
            .object_store(Store::State.name())
            .map_err(|e| DbError::Storage(IdbFailure::from_js(&e).into_storage(false)))?;
        let present = state.index_names();
        let same = present.length() as usize == wanted.len()
            && wanted.iter().all(|(name, path)| {
                state.index(name).ok().and_then(|ix| ix.key_path().ok()).and_then(|p| p.as_string()).as_ref()
                    == Some(path)
            });
        if !same {
            return Err(DbError::InvalidConfig(format!(
                "the indexes of database {:?} differ from the configured ones: raise `version` (now {}) to change them",
                self.name,
                self.db.version()
            )));
        }
        Ok(())
    }

    /// Deletes IndexedDB database `name`. Other AuroraDB connections to it close themselves;
    /// fails with [`StorageError::Blocked`] if some other connection keeps it open (it is then
    /// deleted once that one closes).
    pub async fn delete(name: &str) -> Result<(), StorageError> {
        let req = factory()?.delete_database(name).map_err(|e| IdbFailure::from_js(&e).into_storage(false))?;
        match settle(&req).await {
            Settled::Success => Ok(()),
            Settled::Failure => Err(IdbFailure::of_request(&req).into_storage(false)),
            Settled::Blocked => Err(StorageError::Blocked(format!(
                "another connection keeps database {name:?} open; it is deleted when that connection closes"
            ))),
        }
    }

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

    /// Whether the connection is closed (by [`IdbStorage::close`], by another connection that
    /// upgraded or deleted the database, or by the browser).
    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// Calls `f` once when the connection is closed by someone else than [`IdbStorage::close`].
    pub fn on_closed(&self, f: impl Fn() + 'static) {
        *self.on_closed.borrow_mut() = Some(Box::new(f));
    }

    /// Closes the connection: every later call fails with [`StorageError::Closed`].
    pub fn close(&self) {
        if !self.closed.replace(true) {
            self.db.close();
        }
    }

    fn check_open(&self) -> Result<(), StorageError> {
        if self.closed.get() { Err(StorageError::Closed) } else { Ok(()) }
    }

    fn fail(&self, e: IdbFailure) -> StorageError {
        e.into_storage(self.closed.get())
    }

    fn js_fail(&self, e: &JsValue) -> StorageError {
        self.fail(IdbFailure::from_js(e))
    }

    fn transaction(&self, stores: &[Store], mode: IdbTransactionMode) -> Result<IdbTransaction, StorageError> {
        self.check_open()?;
        let names: Array = stores.iter().map(|s| JsValue::from_str(s.name())).collect();
        self.db.transaction_with_str_sequence_and_mode(&names, mode).map_err(|e| self.js_fail(&e))
    }

    fn object_store(&self, tx: &IdbTransaction, store: Store) -> Result<IdbObjectStore, StorageError> {
        tx.object_store(store.name()).map_err(|e| self.js_fail(&e))
    }

    /// Scans with a cursor, for reverse order.
    async fn scan_cursor(
        &self,
        os: &IdbObjectStore,
        store: Store,
        range: &JsValue,
        options: ScanOptions,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError> {
        let dir = if options.reverse { IdbCursorDirection::Prev } else { IdbCursorDirection::Next };
        let req = if options.keys_only {
            os.open_key_cursor_with_range_and_direction(range, dir)
        } else {
            os.open_cursor_with_range_and_direction(range, dir)
        }
        .map_err(|e| self.js_fail(&e))?;
        let limit = options.limit.unwrap_or(usize::MAX);
        let rows: Rows = Rc::new(RefCell::new(Ok(Vec::new())));
        let mut step = None;
        let done = Promise::new(&mut |resolve: Function, reject: Function| {
            let (cursor_req, rows) = (req.clone(), rows.clone());
            let keys_only = options.keys_only;
            step = Some(Closure::<dyn FnMut()>::new(move || {
                let cursor = match cursor_req.result() {
                    Ok(c) if !c.is_null() && !c.is_undefined() => c.unchecked_into::<IdbCursor>(),
                    _ => {
                        let _ = resolve.call0(&JsValue::NULL);
                        return;
                    }
                };
                let row = (|| {
                    let key = key_bytes(&cursor.key().map_err(|e| IdbFailure::from_js(&e).into_storage(false))?)?;
                    let value = if keys_only {
                        Vec::new()
                    } else {
                        let v = cursor
                            .unchecked_ref::<IdbCursorWithValue>()
                            .value()
                            .map_err(|e| IdbFailure::from_js(&e).into_storage(false))?;
                        stored_bytes(store, &v)?.unwrap_or_default()
                    };
                    Ok((key, value))
                })();
                let mut rows = rows.borrow_mut();
                let full = match (&mut *rows, row) {
                    (Ok(list), Ok(row)) => {
                        list.push(row);
                        list.len() >= limit
                    }
                    (slot, Err(e)) => {
                        *slot = Err(e);
                        true
                    }
                    (Err(_), _) => true,
                };
                if full || cursor.continue_().is_err() {
                    let _ = resolve.call0(&JsValue::NULL);
                }
            }));
            req.set_onerror(Some(&reject));
        });
        if let Some(cb) = &step {
            req.set_onsuccess(Some(cb.as_ref().unchecked_ref()));
        }
        let outcome = JsFuture::from(done).await;
        req.set_onsuccess(None);
        drop(step);
        outcome.map_err(|_| self.fail(IdbFailure::of_request(&req)))?;
        rows.replace(Ok(Vec::new()))
    }
}

impl Storage for IdbStorage {
    async fn commit(&self, batch: WriteBatch) -> Result<(), StorageError> {
        if batch.is_empty() {
            return self.check_open();
        }
        let stores: BTreeSet<Store> = batch
            .mutations
            .iter()
            .map(|m| match m {
                Mutation::Put { store, .. } | Mutation::Delete { store, .. } | Mutation::Expect { store, .. } => *store,
            })
            .collect();
        let stores: Vec<Store> = stores.into_iter().collect();
        let tx = self.transaction(&stores, IdbTransactionMode::Readwrite)?;
        let done = JsFuture::from(transaction_promise(&tx));
        let mut handles = Vec::with_capacity(stores.len());
        for s in &stores {
            handles.push((*s, self.object_store(&tx, *s)?));
        }
        let os = |store: Store| &handles.iter().find(|(s, _)| *s == store).expect("every store of the batch is open").1;

        // Preconditions are read first (requests run in order, so they see the state before the
        // batch); the writes are queued right behind them without waiting. A mismatch aborts the
        // transaction from inside it, which undoes the queued writes.
        let mut checks = Vec::new();
        for m in &batch.mutations {
            if let Mutation::Expect { store, key, value } = m {
                let req = os(*store).get(&key_js(key)).map_err(|e| self.js_fail(&e))?;
                checks.push((*store, value, req));
            }
        }
        for m in &batch.mutations {
            let issued = match m {
                Mutation::Put { store, key, value } => {
                    os(*store).put_with_key(&stored_value(*store, key, value), &key_js(key))
                }
                Mutation::Delete { store, key } => os(*store).delete(&key_js(key)),
                Mutation::Expect { .. } => continue,
            };
            if let Err(e) = issued {
                let _ = tx.abort();
                return Err(self.js_fail(&e));
            }
        }
        let verdict = async {
            let results = join_all(checks.iter().map(|(_, _, req)| request_result(req))).await;
            for ((store, want, _), got) in checks.iter().zip(results) {
                // A failed read aborts the transaction by itself; `done` reports why.
                let Ok(got) = got else { return Ok(()) };
                let held = stored_bytes(*store, &got);
                if held.as_ref().map(Option::as_ref) != Ok(want.as_ref()) {
                    let _ = tx.abort();
                    return held.and(Err(StorageError::Conflict));
                }
            }
            // Nothing else will be asked of this transaction: let it commit without waiting for
            // idle. (`IDBTransaction.commit()` is standard; web-sys marks it deprecated. Where it
            // is missing the call fails and the transaction commits on its own.)
            #[allow(deprecated)]
            let _ = tx.commit();
            Ok(())
        };
        let (verdict, done) = futures::future::join(verdict, done).await;
        verdict?;
        match done {
            Ok(_) => Ok(()),
            Err(_) => Err(self.fail(IdbFailure::of_transaction(&tx))),
        }
    }

    async fn get(&self, store: Store, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let tx = self.transaction(&[store], IdbTransactionMode::Readonly)?;
        let req = self.object_store(&tx, store)?.get(&key_js(key)).map_err(|e| self.js_fail(&e))?;
        let value = request_result(&req).await.map_err(|e| self.fail(e))?;
        stored_bytes(store, &value)
    }

    async fn scan(
        &self,
        store: Store,
        range: KeyRange,
        options: ScanOptions,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError> {
        self.check_open()?;
        if options.limit == Some(0) || is_empty_range(&range) {
            return Ok(Vec::new());
        }
        let query = idb_range(&range)?;
        let tx = self.transaction(&[store], IdbTransactionMode::Readonly)?;
        let os = self.object_store(&tx, store)?;
        if options.reverse {
            return self.scan_cursor(&os, store, &query, options).await;
        }
        // IndexedDB reads a count of 0 as "no limit".
        let limit = options.limit.map_or(0, |l| u32::try_from(l).unwrap_or(u32::MAX));
        let keys_req = os.get_all_keys_with_key_and_limit(&query, limit).map_err(|e| self.js_fail(&e))?;
        let values_req = if options.keys_only {
            None
        } else {
            Some(os.get_all_with_key_and_limit(&query, limit).map_err(|e| self.js_fail(&e))?)
        };
        let keys: Array = request_result(&keys_req).await.map_err(|e| self.fail(e))?.unchecked_into();
        let values: Option<Array> = match &values_req {
            Some(req) => Some(request_result(req).await.map_err(|e| self.fail(e))?.unchecked_into()),
            None => None,
        };
        let mut out = Vec::with_capacity(keys.length() as usize);
        for i in 0..keys.length() {
            let key = key_bytes(&keys.get(i))?;
            let value = match &values {
                Some(values) => stored_bytes(store, &values.get(i))?.unwrap_or_default(),
                None => Vec::new(),
            };
            out.push((key, value));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    #[wasm_bindgen_test]
    fn index_key_paths() {
        assert_eq!(index_key_path("email").as_deref(), Some("value.email"));
        assert_eq!(index_key_path("created_at$2").as_deref(), Some("value.created_at$2"));
        assert_eq!(index_key_path("created-at"), None);
        assert_eq!(index_key_path("a.b"), None);
        assert_eq!(index_key_path("2nd"), None);
        assert_eq!(index_key_path(""), None);
    }

    #[wasm_bindgen_test]
    fn dom_errors_become_storage_errors() {
        let map = |name: &str, closed: bool| {
            let e = DomException::new_with_message_and_name("m", name).unwrap();
            IdbFailure::from_js(&e.into()).into_storage(closed)
        };
        assert!(matches!(map("QuotaExceededError", false), StorageError::QuotaExceeded(_)));
        assert!(matches!(map("QuotaExceededError", true), StorageError::QuotaExceeded(_)));
        assert_eq!(map("InvalidStateError", false), StorageError::Closed);
        assert_eq!(map("AbortError", true), StorageError::Closed);
        assert!(matches!(map("AbortError", false), StorageError::CommitFailed(_)));
        assert!(matches!(map("ConstraintError", false), StorageError::CommitFailed(_)));
        assert!(matches!(map("UnknownError", false), StorageError::Backend(_)));
        let plain = IdbFailure::from_js(&JsValue::from_str("odd"));
        assert_eq!(plain.name, "UnknownError");
    }

    #[wasm_bindgen_test]
    fn empty_ranges() {
        let r = |s: Bound<Vec<u8>>, e: Bound<Vec<u8>>| KeyRange { start: s, end: e };
        assert!(is_empty_range(&r(Bound::Included(vec![2]), Bound::Included(vec![1]))));
        assert!(is_empty_range(&r(Bound::Included(vec![1]), Bound::Excluded(vec![1]))));
        assert!(!is_empty_range(&r(Bound::Included(vec![1]), Bound::Included(vec![1]))));
        assert!(!is_empty_range(&KeyRange::all()));
        assert!(!is_empty_range(&KeyRange::prefix(&[0xff])));
    }
}
