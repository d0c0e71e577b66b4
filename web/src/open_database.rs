//! The state an [`AuroraCore`](crate::AuroraCore) shares with its transactions and callbacks:
//! the database behind an async lock (shared with the sync engine), the event target, the
//! `beforeSet` hook, the tab channel, and the peer-to-peer sync when it is attached.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use auroradb_log::{Log, PeerId, Value};
use auroradb_snapshot::Change;
use futures::lock::Mutex;
use js_sys::{Array, Function, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::spawn_local;
use web_sys::{BroadcastChannel, CustomEvent, CustomEventInit, EventTarget, MessageEvent};

use crate::config::SyncOptions;
use crate::error::to_js_error;
use crate::idb::IdbStorage;
use crate::records::{Obj, change_js};
use crate::sync::SyncHub;
use crate::value::{from_js, to_js};
use auroradb::{Database, DbError, SharedDatabase, StorageError, WriteOutcome};

/// The database type behind the JavaScript API.
pub type Db = Database<IdbStorage>;

/// Where a change came from, as the `source` of `change`, `set` and `delete` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A write of this instance.
    Local,
    /// A write of another instance on the same database (another tab), noticed through the
    /// tab channel.
    Tab,
    /// `importLog()`.
    Import,
    /// A peer, through peer-to-peer sync.
    Peer,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Local => "local",
            Source::Tab => "tab",
            Source::Import => "import",
            Source::Peer => "peer",
        }
    }
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

/// Shared by the core, its transactions and the callbacks it registers.
pub struct Inner {
    pub db: SharedDatabase<IdbStorage>,
    pub log: Rc<RefCell<Log>>,
    pub target: EventTarget,
    pub hooks: JsValue,
    pub name: String,
    pub version: u32,
    pub peer: PeerId,
    pub label: Option<String>,
    pub distributed: bool,
    pub key_path: Option<String>,
    pub strategy: String,
    pub indexes: Vec<(String, bool)>,
    pub sync_options: SyncOptions,
    pub info: RefCell<Info>,
    pub closed: Cell<bool>,
    sync: RefCell<Option<Rc<SyncHub>>>,
    channel: RefCell<Option<Channel>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.close_channel();
        self.detach();
    }
}

impl Inner {
    /// Wraps an open database.
    pub fn new(
        db: Db,
        target: EventTarget,
        hooks: JsValue,
        distributed: bool,
        label: Option<String>,
        sync_options: SyncOptions,
    ) -> Rc<Inner> {
        let config = db.config();
        let inner = Rc::new(Inner {
            log: db.log_handle(),
            name: config.name.clone(),
            version: config.version,
            peer: db.peer(),
            label,
            distributed,
            key_path: config.key_path.clone(),
            strategy: config.strategy.name().to_owned(),
            indexes: config.indexes.iter().map(|i| (i.name.clone(), i.unique)).collect(),
            sync_options,
            info: RefCell::new(Info::default()),
            closed: Cell::new(false),
            sync: RefCell::new(None),
            channel: RefCell::new(None),
            target,
            hooks,
            db: Rc::new(Mutex::new(None)),
        });
        inner.refresh(&db);
        let weak = Rc::downgrade(&inner);
        db.storage().on_closed(move || {
            if let Some(inner) = weak.upgrade() {
                inner.mark_closed("versionchange");
            }
        });
        *inner.db.try_lock().expect("a new lock is free") = Some(db);
        inner.open_channel();
        inner
    }

    /// Updates the counters `getStats()` reads.
    pub fn refresh(&self, db: &Db) {
        let stats = db.stats();
        *self.info.borrow_mut() = Info {
            records: db.count(),
            ops: db.log().len(),
            authors: db.log().heads().len(),
            checkpoints: db.checkpoint_ids().count(),
            commits: stats.commits,
            ops_decoded: stats.ops_decoded,
            catch_ups: stats.catch_ups,
            checkpoints_written: stats.checkpoints_written,
        };
    }

    /// Runs `f` on the database under the lock (operations run one at a time, in call order).
    /// A failure is dispatched as an `error` event and returned as a JavaScript error.
    pub async fn run<T>(&self, op: &str, f: impl AsyncFnOnce(&mut Db) -> Result<T, DbError>) -> Result<T, JsValue> {
        let mut guard = self.db.lock().await;
        let result = match guard.as_mut() {
            Some(db) if !self.closed.get() => {
                let r = f(db).await;
                self.refresh(db);
                r
            }
            _ => Err(DbError::Storage(StorageError::Closed)),
        };
        drop(guard);
        result.map_err(|e| self.fail(op, &e))
    }

    /// Dispatches an `error` event for `err` and returns it as a JavaScript error.
    pub fn fail(&self, op: &str, err: &DbError) -> JsValue {
        let e = to_js_error(err);
        self.emit_error(op, &e);
        e
    }

    /// Dispatches an `error` event with detail `{ type, message, error, operation }`.
    pub fn emit_error(&self, op: &str, e: &JsValue) {
        let get = |k: &str| Reflect::get(e, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED);
        let detail = Obj::new()
            .set("type", get("name"))
            .set("message", get("message"))
            .set("error", e.clone())
            .set("operation", op);
        self.emit("error", &detail.build());
    }

    /// Dispatches a `CustomEvent` of type `kind` with `detail` at the target.
    pub fn emit(&self, kind: &str, detail: &JsValue) {
        let init = CustomEventInit::new();
        init.set_detail(detail);
        if let Ok(event) = CustomEvent::new_with_event_init_dict(kind, &init) {
            // Listener exceptions are reported by the browser, not thrown here.
            let _ = self.target.dispatch_event(&event);
        }
    }

    /// Dispatches `set` / `delete` per changed key, then one `change` for all of them.
    pub fn emit_changes(&self, changes: &[Change], source: Source) {
        self.emit_changes_from(changes, source, None);
    }

    /// Like [`Inner::emit_changes`]; changes from a peer also carry its id (`peerId`).
    pub fn emit_changes_from(&self, changes: &[Change], source: Source, peer: Option<&str>) {
        if changes.is_empty() {
            return;
        }
        let with_peer = |o: Obj| match peer {
            Some(p) => o.set("peerId", p),
            None => o,
        };
        let list = Array::new();
        for c in changes {
            let item = change_js(c);
            let value = Reflect::get(&item, &"value".into()).unwrap_or(JsValue::UNDEFINED);
            let detail = with_peer(Obj::new().set("key", c.key.as_str()).set("source", source.name()));
            match c.after {
                Some(_) => self.emit("set", &detail.set("value", value).build()),
                None => self.emit("delete", &detail.build()),
            }
            list.push(&item);
        }
        self.emit("change", &with_peer(Obj::new().set("source", source.name()).set("changes", list)).build());
    }

    /// After a committed write of this instance (or an import): its ops go to the connected
    /// peers at once, the other tabs are told, and the changes are dispatched.
    pub fn after_write(&self, out: &WriteOutcome, source: Source) {
        if let Some(hub) = self.hub() {
            hub.post_local(&out.encoded);
        }
        if !out.ops.is_empty() {
            self.notify_tabs();
        }
        self.emit_changes(&out.changes, source);
    }

    /// The peer-to-peer sync, when attached.
    pub fn hub(&self) -> Option<Rc<SyncHub>> {
        self.sync.borrow().clone()
    }

    /// Attaches peer-to-peer sync (replacing any attached before).
    pub fn attach(&self, hub: Rc<SyncHub>) {
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
    /// returns the value to store (`undefined`: store `value` as it is). Then converts the value.
    /// A hook that throws fails the write with what it threw.
    pub fn prepare(&self, key: &str, value: &JsValue, what: &'static str, op: &str) -> Result<Value, JsValue> {
        let hook = Reflect::get(&self.hooks, &"beforeSet".into()).unwrap_or(JsValue::UNDEFINED);
        let value = match hook.dyn_ref::<Function>() {
            Some(f) => {
                let out = f.call2(&self.hooks, &JsValue::from_str(key), value)?;
                if out.is_undefined() { value.clone() } else { out }
            }
            None => value.clone(),
        };
        let value = from_js(&value, what).map_err(|e| self.fail(op, &e))?;
        auroradb::validate_key(key).and_then(|()| auroradb::validate_value(&value)).map_err(|e| self.fail(op, &e))?;
        Ok(value)
    }

    /// The key of a value at the configured key path.
    pub fn key_at_path(&self, value: &JsValue, op: &str) -> Result<String, JsValue> {
        let refuse = |msg: String| self.fail(op, &DbError::InvalidInput(msg));
        let Some(path) = &self.key_path else {
            return Err(refuse("no keyPath is configured: call add(key, value)".into()));
        };
        if !value.is_object() {
            return Err(refuse(format!("add(value) needs an object with a string {path:?} field (the keyPath)")));
        }
        let key = Reflect::get(value, &JsValue::from_str(path)).unwrap_or(JsValue::UNDEFINED);
        key.as_string().ok_or_else(|| {
            refuse(format!(
                "the value's {path:?} field (the keyPath) must be a string, not {}",
                crate::value::describe(&key)
            ))
        })
    }

    /// The visible value of `key` right now, converted.
    pub fn value_js(db: &Db, key: &str) -> JsValue {
        db.get(key).map_or(JsValue::UNDEFINED, to_js)
    }

    /// Marks the database closed and dispatches `close` (once) with detail `{ reason }`.
    pub fn mark_closed(&self, reason: &str) {
        if !self.closed.replace(true) {
            self.close_channel();
            self.detach();
            self.emit("close", &Obj::new().set("reason", reason).build());
        }
    }

    fn channel_name(&self) -> String {
        format!("auroradb:{}", self.name)
    }

    fn open_channel(self: &Rc<Self>) {
        let has_channel = Reflect::has(&js_sys::global(), &"BroadcastChannel".into()).unwrap_or(false);
        if !has_channel {
            return;
        }
        let Ok(channel) = BroadcastChannel::new(&self.channel_name()) else { return };
        let weak: Weak<Inner> = Rc::downgrade(self);
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |_event: MessageEvent| {
            let weak = weak.clone();
            spawn_local(async move {
                let Some(inner) = weak.upgrade() else { return };
                if inner.closed.get() {
                    return;
                }
                if let Ok(changes) = inner.run("catchUp", async |db| db.catch_up().await).await {
                    inner.emit_changes(&changes, Source::Tab);
                }
            });
        });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        *self.channel.borrow_mut() = Some((channel, on_message));
    }

    /// Tells the other tabs on this database that it changed.
    pub fn notify_tabs(&self) {
        if let Some((channel, _)) = self.channel.borrow().as_ref() {
            let _ = channel.post_message(&Obj::new().set("commit", true).set("from", self.peer.to_hex()).build());
        }
    }

    fn close_channel(&self) {
        if let Some((channel, _closure)) = self.channel.borrow_mut().take() {
            channel.set_onmessage(None);
            channel.close();
        }
    }
}
