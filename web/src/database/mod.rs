//! [`AuroraCore`]: the engine as JavaScript calls it. The `AuroraDB` class (`web/js/auroradb.js`)
//! wraps one and adds what must exist before the wasm module is loaded.
//!
//! Its methods are here by area: opening, closing and statistics in this file, then `write`,
//! `read`, `travel` (history, time travel, the log and its files: in the build with the `travel`
//! feature only) and `p2p` (peer-to-peer sync, with the `sync` feature only, which includes
//! `travel`).

#[cfg(feature = "sync")]
mod p2p;
mod read;
#[cfg(feature = "travel")]
mod travel;
mod write;

use std::rc::Rc;

use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use web_sys::EventTarget;

use crate::config::parse;
use crate::error::{js_error, to_js_error};
use crate::events::Events;
use crate::idb::{DataLoss, IdbStorage};
use crate::open_database::OpenDatabase;
use crate::promise::promise;
use crate::records::Obj;
use auroradb::{Database, DbError, ErrorName};

/// The open database an [`AuroraCore`] calls, with its peer-to-peer sync.
type Open = OpenDatabase<crate::Hub>;

/// An open AuroraDB database, for the `AuroraDB` JavaScript class. Every method that touches
/// the database returns a `Promise`; operations run one at a time, in call order. Failures reject
/// with an `Error` whose `name` is stable (`InvalidInputError`, `UniqueConstraintError`,
/// `DatabaseClosedError`, `QuotaExceededError`...: the table is `auroradb::ErrorName`) and are
/// also dispatched as `error` events.
#[wasm_bindgen]
pub struct AuroraCore {
    open: Rc<Open>,
}

#[wasm_bindgen]
impl AuroraCore {
    /// Opens (creating or upgrading) the database described by `config` (see the README):
    /// events are dispatched at `target`, the `beforeSet` hook is read from `hooks`. `distributed`
    /// and `peerId` are the arguments of `create()`. Resolves to the `AuroraCore`.
    ///
    /// With `helper` (the `author` of the page's instance), the instance is one that `web/js/auroradb.js` opens next to the page's own
    /// instance to run the calls the local-only engine leaves out (`history`, `at`, `diff`,
    /// `log`, `verify`, `exportLog`, `importLog`), kept until the page's instance closes: it
    /// claims no author slot (it writes no op of its own, so it needs no identity and stores none)
    /// and does not join the tab channel (it catches up before each call; the page's instance
    /// catches up after an import and tells the other tabs).
    ///
    /// [`AuroraCore::open`] as a `Promise` made by the plumbing every method shares (an exported
    /// `async fn` would have one of its own).
    #[wasm_bindgen(js_name = open)]
    pub fn open_js(
        config: JsValue,
        target: EventTarget,
        hooks: JsValue,
        distributed: Option<bool>,
        #[wasm_bindgen(js_name = peerId)] peer_id: Option<String>,
        helper: Option<String>,
    ) -> Promise {
        promise(async move {
            AuroraCore::open_as(config, target, hooks, distributed, peer_id, helper).await.map(JsValue::from)
        })
    }

    /// Statistics, synchronously: `{ name, version, keyPath, indexes, syncStrategy, peerId,
    /// distributed, connections, open, records, ops, authors, checkpoints, commits, opsDecoded,
    /// catchUps, checkpointsWritten, memoryBytes, dataLoss }`; `memoryBytes` is the size of the
    /// engine's WebAssembly memory (shared by every instance of the page; it grows, never
    /// shrinks); `dataLoss` is `null`, or `{ type, message }` when this instance's open found
    /// the database lost ([`IdbStorage::take_data_loss`]).
    pub fn stats(&self) -> JsValue {
        let o = &self.open;
        let info = o.info.borrow();
        let indexes: Array =
            o.indexes.iter().map(|(n, u)| Obj::new().set("name", n.as_str()).set("unique", *u).build()).collect();
        Obj::new()
            .set("name", o.name.as_str())
            .set("version", o.version)
            .set("keyPath", o.key_path.as_deref().map_or(JsValue::NULL, JsValue::from_str))
            .set("indexes", indexes)
            .set("syncStrategy", o.strategy.as_str())
            .set("peerId", self.peer_id())
            .set("author", o.peer.to_hex())
            .set("distributed", o.distributed)
            .set("connections", o.hub().map_or(0, |h| h.connections()) as f64)
            .set("open", !o.closed.get())
            .set("records", info.records as f64)
            .set("ops", info.ops as f64)
            .set("authors", info.authors as f64)
            .set("checkpoints", info.checkpoints as f64)
            .set("commits", info.commits as f64)
            .set("opsDecoded", info.ops_decoded as f64)
            .set("catchUps", info.catch_ups as f64)
            .set("checkpointsWritten", info.checkpoints_written as f64)
            .set("memoryBytes", memory_bytes())
            .set(
                "dataLoss",
                o.data_loss.borrow().as_ref().map_or(JsValue::NULL, |l| {
                    Obj::new().set("type", l.kind.as_str()).set("message", l.message.as_str()).build()
                }),
            )
            .build()
    }

    /// This peer's id: its id on the network once sync is attached, else the one given to
    /// `create(distributed, peerId)`, else the author id of this instance's ops (32 hex digits).
    #[wasm_bindgen(js_name = peerId)]
    pub fn peer_id(&self) -> String {
        match self.open.hub() {
            Some(hub) => hub.local().to_owned(),
            None => named_peer(&self.open),
        }
    }

    /// The identity this instance signs its ops with: `{ author, publicKey, secretKey }` (the
    /// author id and the public key in hex, the secret key as 32 bytes, to keep and give back
    /// as the `identity` option), or `null` for an instance that cannot sign.
    pub fn identity(&self) -> JsValue {
        let log = self.open.log.borrow();
        let Some(identity) = log.identity() else { return JsValue::NULL };
        let secret = js_sys::Uint8Array::from(&identity.secret()[..]);
        Obj::new()
            .set("author", identity.peer().to_hex())
            .set("publicKey", identity.key().to_hex())
            .set("secretKey", secret)
            .build()
    }

    /// The author id of this instance's ops (32 hex digits): every open instance has its own, by
    /// default that of the database's author slot it holds (the same after a reopen).
    #[wasm_bindgen(getter)]
    pub fn author(&self) -> String {
        self.open.peer.to_hex()
    }

    /// Whether peer-to-peer sync was asked for.
    #[wasm_bindgen(getter)]
    pub fn distributed(&self) -> bool {
        self.open.distributed
    }

    /// Whether the database is closed.
    #[wasm_bindgen(getter)]
    pub fn closed(&self) -> bool {
        self.open.closed.get()
    }

    /// Closes the database (pending operations finish first) and dispatches `close`.
    pub fn close(&self) -> Promise {
        self.spawn(|open| async move {
            let db = open.db.lock().await.take();
            if let Some(db) = db {
                db.storage().close();
            }
            open.mark_closed("close");
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Closes the database and deletes it from IndexedDB (other instances on it are closed).
    pub fn destroy(&self) -> Promise {
        self.spawn(|open| async move {
            let db = open.db.lock().await.take();
            if let Some(db) = db {
                db.storage().close();
            }
            open.mark_closed("destroy");
            IdbStorage::delete(&open.name).await.map_err(|e| open.fail("destroy", &DbError::Storage(e)))?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

impl AuroraCore {
    /// Opens the database described by `config`, for Rust callers (the browser tests);
    /// JavaScript's `open` is [`AuroraCore::open_js`].
    pub async fn open(
        config: JsValue,
        target: EventTarget,
        hooks: JsValue,
        distributed: Option<bool>,
        peer_id: Option<String>,
    ) -> Result<AuroraCore, JsValue> {
        AuroraCore::open_as(config, target, hooks, distributed, peer_id, None).await
    }

    /// [`AuroraCore::open`], or with `helper` a helper instance (see [`AuroraCore::open_js`]).
    async fn open_as(
        config: JsValue,
        target: EventTarget,
        hooks: JsValue,
        distributed: Option<bool>,
        peer_id: Option<String>,
        helper: Option<String>,
    ) -> Result<AuroraCore, JsValue> {
        let events = Events::new(target);
        let is_helper = helper.is_some();
        let opened = async {
            let mut cfg = parse(&config, distributed, peer_id)?;
            if let Some(writer) = helper {
                // A chosen peer id and no identity: no author slot is claimed. The page's author
                // is guarded as its own: an import cannot bring in ops in its name.
                let writer = writer.parse().map_err(|_| DbError::InvalidInput("helper: not an author id".into()))?;
                // The page's author was chosen if the page gave its `identity`: it takes that
                // author's ops in while it holds none of them (a restore), as the page would.
                let chosen = cfg.db.identity.is_some();
                cfg.db.identity = None;
                cfg.db.peer = Some(auroradb::PeerId::random());
                cfg.db.writer = Some((writer, chosen));
            }
            // A schema the storage cannot open is a configuration error to JavaScript callers.
            // An open that will claim an author slot asks for slot 0's lock as the database opens.
            let claims = cfg.db.identity.is_none() && cfg.db.peer.is_none();
            let early = claims.then(|| auroradb::slot_lock(0));
            let storage = IdbStorage::open_with_lock(&cfg.db.name, cfg.db.version, &cfg.db.indexes, early.as_deref())
                .await
                .map_err(|e| match e {
                    auroradb::StorageError::InvalidSchema(why) => DbError::InvalidConfig(why),
                    e @ auroradb::StorageError::VersionTooOld { .. } => DbError::InvalidConfig(e.to_string()),
                    e => DbError::Storage(e),
                })?;
            storage.set_durability(cfg.durability);
            let lost = storage.take_data_loss();
            let db = Database::open(storage, cfg.db).await?;
            db.storage().release_early();
            Ok::<_, DbError>((db, cfg.distributed, cfg.peer_label, cfg.sync, lost))
        };
        match opened.await {
            Ok((db, distributed, label, sync, lost)) => {
                let open = Open::new(db, events, hooks, distributed, label, sync, !is_helper);
                if let Some(loss) = lost {
                    open.events.emit_error("create", &data_loss_error(&open.name, &loss));
                    *open.data_loss.borrow_mut() = Some(loss);
                }
                // The peer id `getPeerId()` gives (no sync is attached yet).
                let detail = Obj::new()
                    .set("name", open.name.as_str())
                    .set("version", open.version)
                    .set("peerId", named_peer(&open).as_str());
                open.events.emit("open", &detail.build());
                Ok(AuroraCore { open })
            }
            Err(e) => {
                let err = to_js_error(&e);
                events.emit_error("create", &err);
                Err(err)
            }
        }
    }

    /// Runs `f` on the open database as a `Promise`.
    fn spawn<F>(&self, f: impl FnOnce(Rc<Open>) -> F) -> Promise
    where
        F: Future<Output = Result<JsValue, JsValue>> + 'static,
    {
        promise(f(self.open.clone()))
    }
}

/// The peer id `create(distributed, peerId)` or the `peerId` option named, else the author id of
/// the instance's ops (32 hex digits).
fn named_peer(open: &Open) -> String {
    open.label.clone().unwrap_or_else(|| open.peer.to_hex())
}

/// Deletes the IndexedDB database `name`, for Rust callers (the browser tests); JavaScript's
/// `deleteDatabase` is [`delete_database_js`].
pub async fn delete_database(name: String) -> Result<(), JsValue> {
    IdbStorage::delete(&name).await.map_err(|e| to_js_error(&DbError::Storage(e)))
}

/// Deletes the IndexedDB database `name` (for a database that is not open here); resolves to
/// `undefined`.
///
/// [`delete_database`] as a `Promise` made by the plumbing every method shares (an exported
/// `async fn` would have one of its own).
#[wasm_bindgen(js_name = deleteDatabase)]
pub fn delete_database_js(name: String) -> Promise {
    promise(async move { delete_database(name).await.map(|()| JsValue::UNDEFINED) })
}

/// The `DataLossError` for the loss an open of database `name` found: it carries the loss as
/// `dataLoss` and `dataLossMessage`.
fn data_loss_error(name: &str, loss: &DataLoss) -> JsValue {
    let message = if loss.kind == DataLoss::MISSING {
        format!("{}: it opened empty", loss.message)
    } else {
        format!(
            "the browser found the files of database {name:?} damaged and deleted them: it opened empty ({}: {})",
            loss.kind, loss.message
        )
    };
    let e = js_error(ErrorName::DataLoss, &message);
    let _ = js_sys::Reflect::set(&e, &"dataLoss".into(), &loss.kind.as_str().into());
    let _ = js_sys::Reflect::set(&e, &"dataLossMessage".into(), &loss.message.as_str().into());
    e
}

/// The size of the engine's WebAssembly memory, in bytes.
fn memory_bytes() -> f64 {
    wasm_bindgen::memory()
        .unchecked_into::<js_sys::WebAssembly::Memory>()
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length() as f64
}
