//! [`OpenDatabase`]: the state of one open database, shared by its `AuroraCore`, its
//! transactions, its callbacks and its peer-to-peer sync: the database behind an async lock
//! (shared with the sync engine), the events, the `beforeSet` hook, the tab channel, and the sync
//! when it is attached.
//!
//! The sync builds on this module, so this module knows it only through [`AttachedSync`].

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use auroradb::Turns;
use auroradb_log::{EncodedOp, Log, PeerId, Value};
use futures::future::LocalBoxFuture;
use js_sys::{Function, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::spawn_local;
use web_sys::{BroadcastChannel, MessageEvent};

use crate::config::SyncOptions;
use crate::error::to_js_error;
use crate::events::{Events, Source};
use crate::idb::IdbStorage;
use crate::records::Obj;
use crate::value::{describe, exact_string, from_js_within};
use auroradb::{Change, Database, DbError, LogFileInfo, SharedDatabase, StorageError, WriteOutcome};

/// The database type behind the JavaScript API.
pub type Db = Database<IdbStorage>;

/// What an open database needs of the peer-to-peer sync attached to it.
pub trait AttachedSync: 'static {
    /// Pushes the ops of a committed local write to the connected peers (or keeps them for
    /// `post()`).
    fn post_local(&self, ops: &[EncodedOp]);
    /// Stops: nothing more is sent or announced.
    fn close(&self);
}

/// What a write resolves to, holding its [`WriteOutcome`].
pub trait Written {
    /// What the write did.
    fn outcome(&self) -> &WriteOutcome;
}

impl Written for WriteOutcome {
    fn outcome(&self) -> &WriteOutcome {
        self
    }
}

impl Written for (LogFileInfo, WriteOutcome) {
    fn outcome(&self) -> &WriteOutcome {
        &self.1
    }
}

/// What [`OpenDatabase::run`] runs under the lock, boxed: the future of a call on the database.
type Work<T> = Box<dyn for<'d> FnOnce(&'d mut Db) -> LocalBoxFuture<'d, Result<T, DbError>>>;

/// `f` as a [`Work`].
fn work<T: 'static>(f: impl AsyncFnOnce(&mut Db) -> Result<T, DbError> + 'static) -> Work<T> {
    Box::new(move |db: &mut Db| -> LocalBoxFuture<'_, Result<T, DbError>> { Box::pin(f(db)) })
}

/// Why a write refused what it was given, kept from the call until its promise settles
/// ([`OpenDatabase::report`]).
pub enum Refused {
    /// The engine's refusal: reported as an error event too.
    Error(DbError),
    /// What the `beforeSet` hook threw.
    Thrown(JsValue),
}

/// Counters kept outside the lock so `getStats()` can answer synchronously.
#[derive(Debug, Clone, Default)]
pub struct Info {
    pub records: usize,
    pub ops: usize,
    pub authors: usize,
    pub checkpoints: usize,
    pub commits: u64,
    pub ops_decoded: u64,
    pub catch_ups: u64,
    pub checkpoints_written: u64,
}

/// The tab channel and its message handler.
type Channel = (BroadcastChannel, Closure<dyn FnMut(MessageEvent)>);

/// One open database, shared (see the module documentation); `H` is its peer-to-peer sync.
pub struct OpenDatabase<H: AttachedSync> {
    pub db: SharedDatabase<IdbStorage>,
    pub log: Rc<RefCell<Log>>,
    pub events: Events,
    pub hooks: JsValue,
    pub name: String,
    pub version: u32,
    pub peer: PeerId,
    pub label: Option<String>,
    pub distributed: bool,
    pub key_path: Option<String>,
    pub strategy: String,
    pub indexes: Vec<(String, bool)>,
    /// The maximum op size (`maxOpBytes`): writes refuse larger ops, sync ships up to it.
    pub max_op: usize,
    /// The drift bound of the log's clock: peers whose clocks are further off are reported.
    pub max_drift: std::time::Duration,
    pub sync_options: SyncOptions,
    pub info: RefCell<Info>,
    /// The loss this instance's open found, if any (`getStats().dataLoss`).
    pub data_loss: RefCell<Option<crate::idb::DataLoss>>,
    pub closed: Cell<bool>,
    sync: RefCell<Option<Rc<H>>>,
    channel: RefCell<Option<Channel>>,
    /// Whether another instance on this database was heard on the tab channel: until then, no
    /// instance listens, and commits are not announced (a post costs a few tenths of a
    /// millisecond a write).
    others: Cell<bool>,
    /// When (`performance.now()`, which a clock set back does not move) this instance last looked for commits of other instances that it was
    /// not told of (see `run_work`).
    looked: Cell<f64>,
    /// Whether a catch-up on another tab's note is queued and not started yet: the notes that
    /// come meanwhile queue none of their own, since it will read what they tell of too. A tab
    /// writing without pause would otherwise queue a catch-up a commit, faster than they run,
    /// and every call of this instance would wait behind them.
    catch_up_queued: Rc<Cell<bool>>,
    /// While a helper instance imports for this one (see `AuroraCore::catch_up`): the changes this
    /// instance caught up with meanwhile, held back rather than dispatched with `source: 'tab'`,
    /// since the import's commit may be among them and its changes are told exactly, with
    /// `source: 'import'`, once it ends.
    import_hold: RefCell<Option<Vec<Change>>>,
}

/// How long (ms) a call may trust that it was told of every other instance's commit before it
/// looks at the journal again.
const LOOK_EVERY_MS: f64 = 1000.0;

impl<H: AttachedSync> Drop for OpenDatabase<H> {
    fn drop(&mut self) {
        self.close_channel();
        self.detach();
    }
}

impl<H: AttachedSync> OpenDatabase<H> {
    /// Wraps an open database; with `channel`, it joins the tab channel.
    pub fn new(
        db: Db,
        events: Events,
        hooks: JsValue,
        distributed: bool,
        label: Option<String>,
        sync_options: SyncOptions,
        channel: bool,
    ) -> Rc<OpenDatabase<H>> {
        let config = db.config();
        let open = Rc::new(OpenDatabase {
            log: db.log_handle(),
            name: config.name.clone(),
            version: config.version,
            peer: db.peer(),
            label,
            distributed,
            key_path: config.key_path.clone(),
            strategy: config.strategy.name().to_owned(),
            indexes: config.indexes.iter().map(|i| (i.name.clone(), i.unique)).collect(),
            max_op: config.max_op,
            max_drift: config.max_drift,
            sync_options,
            info: RefCell::new(Info::default()),
            data_loss: RefCell::new(None),
            closed: Cell::new(false),
            sync: RefCell::new(None),
            channel: RefCell::new(None),
            others: Cell::new(false),
            looked: Cell::new(f64::NEG_INFINITY),
            catch_up_queued: Rc::new(Cell::new(false)),
            import_hold: RefCell::new(None),
            events,
            hooks,
            db: Rc::new(Turns::new(None)),
        });
        open.refresh(&db);
        let weak = Rc::downgrade(&open);
        db.storage().on_closed(move || {
            if let Some(open) = weak.upgrade() {
                open.mark_closed("versionchange");
            }
        });
        *open.db.try_lock().expect("a new lock is free") = Some(db);
        if channel {
            open.open_channel();
        }
        open
    }

    /// Updates the counters `getStats()` reads.
    fn refresh(&self, db: &Db) {
        let stats = db.stats();
        *self.info.borrow_mut() = Info {
            records: db.count(),
            ops: db.op_count() as usize,
            authors: db.log().heads().len(),
            checkpoints: db.checkpoint_ids().count(),
            commits: stats.commits,
            ops_decoded: stats.ops_decoded,
            catch_ups: stats.catch_ups,
            checkpoints_written: stats.checkpoints_written,
        };
    }

    /// After a call: updates the counters and takes what its writes caught up with.
    pub(crate) fn settle(&self, db: &mut Db) -> Vec<Change> {
        // A read of every record leaves them all held: past the cache, they go now.
        db.release_excess();
        self.refresh(db);
        db.take_caught_up()
    }

    /// Runs `f` on the database under the lock (operations run one at a time, in call order).
    /// What other tabs committed and `f`'s writes caught up with is dispatched first, with
    /// `source: 'tab'`, whether `f` succeeded or not. A failure is dispatched as an `error` event
    /// and returned as a JavaScript error.
    ///
    /// `f` is boxed ([`work`]) before the lock is taken, so that the locking, the counters and
    /// the events are compiled once for each result type, not once for each caller (smaller
    /// wasm).
    pub async fn run<T: 'static>(
        &self,
        op: &str,
        f: impl AsyncFnOnce(&mut Db) -> Result<T, DbError> + 'static,
    ) -> Result<T, JsValue> {
        self.run_work(op, work(f)).await
    }

    async fn run_work<T>(&self, op: &str, f: Work<T>) -> Result<T, JsValue> {
        let mut guard = self.db.lock().await;
        let (result, caught) = match guard.as_mut() {
            Some(db) if !self.closed.get() => {
                // Another tab tells of its commits on the tab channel, but one that went away
                // just after a commit (a navigation, a crash) may never have: with other tabs
                // about, a call catches up first if it has not looked for a second. A failure
                // here is the call's own to meet.
                let mut caught = Vec::new();
                let now = crate::idb::monotonic_ms();
                // (Not before a catch-up, which looks itself and says what it found: an import.)
                if self.others.get() && op != "catchUp" && now - self.looked.get() >= LOOK_EVERY_MS {
                    self.looked.set(now);
                    caught = db.catch_up().await.unwrap_or_default();
                }
                let r = f(db).await;
                caught.extend(self.settle(db));
                (r, caught)
            }
            _ => (Err(DbError::Storage(StorageError::Closed)), Vec::new()),
        };
        drop(guard);
        self.emit_caught(caught);
        result.map_err(|e| match e {
            // The catch-ups the instance makes of its own (another tab's note, before a log
            // tool) find it closed once close() has run: nothing the application called failed.
            DbError::Storage(StorageError::Closed) if op == "catchUp" => to_js_error(&e),
            e => self.fail(op, &e),
        })
    }

    /// Dispatches what this instance caught up with, with `source: 'tab'`; held back while a
    /// helper imports for it ([`OpenDatabase::hold_for_import`]).
    pub fn emit_caught(&self, caught: Vec<Change>) {
        match self.import_hold.borrow_mut().as_mut() {
            Some(held) => held.extend(caught),
            None => self.events.emit_changes(&caught, Source::Tab),
        }
    }

    /// From now until [`OpenDatabase::end_import`], what this instance catches up with is held
    /// back: a helper instance is about to import for it.
    pub fn hold_for_import(&self) {
        self.import_hold.borrow_mut().get_or_insert_with(Vec::new);
    }

    /// Ends the hold of [`OpenDatabase::hold_for_import`]: what was caught up with meanwhile.
    pub fn end_import(&self) -> Vec<Change> {
        self.import_hold.borrow_mut().take().unwrap_or_default()
    }

    /// A write of this instance (or an import), run like [`OpenDatabase::run`]; once committed,
    /// its ops go to the connected peers at once, the other tabs are told, and its changes are
    /// dispatched with `source`.
    pub async fn write<T: Written + 'static>(
        &self,
        op: &str,
        source: Source,
        f: impl AsyncFnOnce(&mut Db) -> Result<T, DbError> + 'static,
    ) -> Result<T, JsValue> {
        let done = self.run_work(op, work(f)).await?;
        self.announce(done.outcome(), source);
        Ok(done)
    }

    /// After a write committed: its ops to the connected peers, a notice to the other tabs, its
    /// changes as events.
    fn announce(&self, out: &WriteOutcome, source: Source) {
        if let Some(hub) = self.hub() {
            hub.post_local(&out.encoded);
        }
        if !out.ops.is_empty() {
            self.notify_tabs();
        }
        self.events.emit_changes(&out.changes, source);
    }

    /// Dispatches an `error` event for `err` and returns it as a JavaScript error.
    pub fn fail(&self, op: &str, err: &DbError) -> JsValue {
        let e = to_js_error(err);
        self.events.emit_error(op, &e);
        e
    }

    /// The peer-to-peer sync, when attached.
    pub fn hub(&self) -> Option<Rc<H>> {
        self.sync.borrow().clone()
    }

    /// Attaches peer-to-peer sync (replacing any attached before).
    pub fn attach(&self, hub: Rc<H>) {
        let old = self.sync.borrow_mut().replace(hub);
        if let Some(old) = old {
            old.close();
        }
    }

    /// Stops peer-to-peer sync: the engine and its transport are dropped.
    pub fn detach(&self) {
        let old = self.sync.borrow_mut().take();
        if let Some(old) = old {
            old.close();
        }
    }

    /// Runs the `beforeSet` hook (`db.db.beforeSet`) if one is set: it gets `(key, value)` and
    /// returns the value to store (`undefined`: store `value` as it is). Then converts the value
    /// (the engine checks it when it is written). A hook that throws fails the write with what it
    /// threw. Reports nothing: see [`OpenDatabase::report`].
    pub fn take_value(&self, key: &str, value: &JsValue, what: &str) -> Result<Value, Refused> {
        self.take(key, value, what).map(|(value, _)| value)
    }

    /// [`OpenDatabase::take_value`], and whether the hook gave another value to store.
    fn take(&self, key: &str, value: &JsValue, what: &str) -> Result<(Value, bool), Refused> {
        // `key` was checked as it was read (`key_from_js`, `key_at_path`): a key the write would
        // refuse is refused before the hook sees it.
        let hook = Reflect::get(&self.hooks, &"beforeSet".into()).unwrap_or(JsValue::UNDEFINED);
        let (value, replaced) = match hook.dyn_ref::<Function>() {
            Some(f) => {
                let out = f.call2(&self.hooks, &JsValue::from_str(key), value).map_err(Refused::Thrown)?;
                if out.is_undefined() { (value.clone(), false) } else { (out, true) }
            }
            None => (value.clone(), false),
        };
        Ok((from_js_within(&value, what, self.max_op).map_err(Refused::Error)?, replaced))
    }

    /// `add(value)`'s value, whose key `key` was read from its key path field ([`key_in`]):
    /// [`OpenDatabase::take_value`], and the value as converted must hold that key there (a
    /// getter that gives another string the second time it is read is refused), unless the
    /// `beforeSet` hook gave another value to store.
    ///
    /// [`key_in`]: OpenDatabase::key_in
    pub fn take_keyed_value(&self, key: &str, value: &JsValue) -> Result<Value, Refused> {
        let (taken, replaced) = self.take(key, value, "value")?;
        let path = self.key_path.as_deref().unwrap_or_default();
        let holds_key =
            matches!(&taken, Value::Map(fields) if matches!(fields.get(path), Some(Value::String(k)) if k == key));
        if replaced || holds_key {
            return Ok(taken);
        }
        Err(Refused::Error(DbError::InvalidInput(format!(
            "value.{path} was read as the key {key:?}, then as something else (a getter that changes)"
        ))))
    }

    /// [`OpenDatabase::take_value`], its refusal reported as operation `op`'s.
    pub fn prepare(&self, key: &str, value: &JsValue, what: &str, op: &str) -> Result<Value, JsValue> {
        self.take_value(key, value, what).map_err(|r| self.report(op, r))
    }

    /// What a write refused, as the JavaScript error its promise rejects with: an engine error is
    /// dispatched as an `error` event of operation `op` too; what the hook threw is passed on.
    pub fn report(&self, op: &str, refused: Refused) -> JsValue {
        match refused {
            Refused::Error(e) => self.fail(op, &e),
            Refused::Thrown(thrown) => thrown,
        }
    }

    /// The key of a value at the configured key path. Read from the JavaScript value, before
    /// the `beforeSet` hook, which is given the key.
    pub fn key_in(&self, value: &JsValue) -> Result<String, DbError> {
        let refuse = |msg: String| DbError::InvalidInput(msg);
        let Some(path) = &self.key_path else {
            return Err(refuse("no keyPath is configured: call add(key, value)".into()));
        };
        if !value.is_object() {
            return Err(refuse(format!("add(value) needs an object with a string {path:?} field (the keyPath)")));
        }
        let key = Reflect::get(value, &JsValue::from_str(path)).unwrap_or(JsValue::UNDEFINED);
        match exact_string(&key) {
            Some(Ok(key)) => auroradb::validate_key(&key).map(|()| key),
            Some(Err(lone)) => Err(refuse(format!("the value's {path:?} field (the keyPath) {}", lone.describe()))),
            None => Err(refuse(format!(
                "the value's {path:?} field (the keyPath) must be a string, not {}",
                describe(&key)
            ))),
        }
    }

    /// [`OpenDatabase::key_in`], its refusal reported as operation `op`'s.
    pub fn key_at_path(&self, value: &JsValue, op: &str) -> Result<String, JsValue> {
        self.key_in(value).map_err(|e| self.fail(op, &e))
    }

    /// Marks the database closed and dispatches `close` (once) with detail `{ reason }`.
    pub fn mark_closed(&self, reason: &str) {
        if !self.closed.replace(true) {
            self.close_channel();
            self.detach();
            self.events.emit("close", &Obj::new().set("reason", reason).build());
        }
    }

    fn open_channel(self: &Rc<Self>) {
        let has_channel = Reflect::has(&js_sys::global(), &"BroadcastChannel".into()).unwrap_or(false);
        if !has_channel {
            return;
        }
        let Ok(channel) = BroadcastChannel::new(&crate::idb::tab_channel(&self.name)) else { return };
        let weak: Weak<OpenDatabase<H>> = Rc::downgrade(self);
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let weak = weak.clone();
            spawn_local(async move {
                let Some(open) = weak.upgrade() else { return };
                if open.closed.get() {
                    return;
                }
                // An instance that just opened says hello, and is answered; the first time this
                // one hears of another, it says it is there too. Either way the other catches up
                // with what this one committed before it knew of it (and did not announce).
                let first = !open.others.replace(true);
                let hello = Reflect::get(&event.data(), &"hello".into()).is_ok_and(|h| h.is_truthy());
                if hello || first {
                    open.post_note("present");
                }
                if open.catch_up_queued.replace(true) {
                    return;
                }
                let queued = open.catch_up_queued.clone();
                // Another connection writes: this one's writes take the lock for a while.
                let caught_up = open.run("catchUp", async move |db| {
                    queued.set(false);
                    db.storage().other_wrote();
                    db.catch_up().await
                });
                if let Ok(changes) = caught_up.await {
                    open.emit_caught(changes);
                }
            });
        });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        *self.channel.borrow_mut() = Some((channel, on_message));
        self.post_note("hello");
    }

    /// Posts `{ <what>: true, from }` on the tab channel.
    fn post_note(&self, what: &str) {
        if let Some((channel, _)) = self.channel.borrow().as_ref() {
            let _ = channel.post_message(&Obj::new().set(what, true).set("from", self.peer.to_hex()).build());
        }
    }

    /// Tells the other tabs on this database that it changed: every instance that opened it
    /// after this one did says hello on the channel, so with none heard of, there is no one to
    /// tell.
    pub fn notify_tabs(&self) {
        if self.others.get() {
            self.post_note("commit");
        }
    }

    fn close_channel(&self) {
        if let Some((channel, _closure)) = self.channel.borrow_mut().take() {
            channel.set_onmessage(None);
            channel.close();
        }
    }
}
