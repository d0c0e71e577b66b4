//! [`AuroraCore`]: the engine as JavaScript calls it. The `AuroraDB` class (`web/js/auroradb.js`)
//! wraps one and adds what must exist before the wasm module is loaded.

use std::ops::Bound;
use std::rc::Rc;

use js_sys::{Array, Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use web_sys::EventTarget;

use crate::config::parse;
use crate::error::to_js_error;
use crate::idb::IdbStorage;
use crate::inner::{Db, Inner, Source};
use crate::records::{Obj, diff_js, history_js, id_hex, op_js, point_from_js, time_of, verify_js};
use crate::txn::run_transaction;
use crate::value::{from_js, key_from_js, to_js};
use crate::view::Snapshot;
use auroradb::{Database, DbError};

/// An open AuroraDB database, for the `AuroraDB` JavaScript class. Every method that touches
/// the database returns a `Promise`; operations run one at a time, in call order. Failures reject
/// with an `Error` whose `name` is stable (`InvalidInputError`, `UniqueConstraintError`,
/// `DatabaseClosedError`, `QuotaExceededError`...) and are also dispatched as `error` events.
#[wasm_bindgen]
pub struct AuroraCore {
    pub(super) inner: Rc<Inner>,
}

/// Calls `f(value, key)` for each record in key order while `keep` says so, converting each
/// value once. Returns the values for which `f` returned a truthy value, or what `f` threw.
fn scan_js(db: &Db, f: &Function, mut keep: impl FnMut(bool) -> bool) -> Result<(Array, bool), JsValue> {
    let out = Array::new();
    for (key, entry) in db.state().iter() {
        let value = to_js(&entry.value);
        let verdict = f.call2(&JsValue::UNDEFINED, &value, &JsValue::from_str(key))?.is_truthy();
        if verdict {
            out.push(&value);
        }
        if !keep(verdict) {
            return Ok((out, false));
        }
    }
    Ok((out, true))
}

/// Normalizes `slice(start, end)` arguments like `Array.prototype.slice`.
pub(crate) fn slice_bounds(len: usize, start: Option<f64>, end: Option<f64>) -> (usize, usize) {
    let at = |v: f64| -> usize {
        let len = len as f64;
        let v = if v.is_nan() { 0.0 } else { v.trunc() };
        (if v < 0.0 { (len + v).max(0.0) } else { v.min(len) }) as usize
    };
    let s = start.map_or(0, at);
    let e = end.map_or(len, at);
    (s, e.max(s))
}

fn values(list: Vec<(String, auroradb_log::Value)>) -> Array {
    list.iter().map(|(_, v)| to_js(v)).collect()
}

fn function(f: &JsValue, op: &str) -> Result<Function, DbError> {
    f.dyn_ref::<Function>().cloned().ok_or_else(|| DbError::InvalidInput(format!("{op} needs a function")))
}

#[wasm_bindgen]
impl AuroraCore {
    /// Opens (creating or upgrading) the database described by `config` (see the README):
    /// events are dispatched at `target`, the `beforeSet` hook is read from `hooks`. `distributed`
    /// and `peerId` are the arguments of `create()`.
    pub async fn open(
        config: JsValue,
        target: EventTarget,
        hooks: JsValue,
        distributed: Option<bool>,
        #[wasm_bindgen(js_name = peerId)] peer_id: Option<String>,
    ) -> Result<AuroraCore, JsValue> {
        let opened = async {
            let cfg = parse(&config, distributed, peer_id)?;
            let storage = IdbStorage::open(&cfg.db.name, cfg.db.version, &cfg.db.indexes).await?;
            let db = Database::open(storage, cfg.db).await?;
            Ok::<_, DbError>((db, cfg.distributed, cfg.peer_label, cfg.sync))
        };
        match opened.await {
            Ok((db, distributed, label, sync)) => {
                let inner = Inner::new(db, target, hooks, distributed, label, sync);
                let detail = Obj::new()
                    .set("name", inner.name.as_str())
                    .set("version", inner.version)
                    .set("peerId", inner.peer.to_hex());
                inner.emit("open", &detail.build());
                Ok(AuroraCore { inner })
            }
            Err(e) => {
                let err = to_js_error(&e);
                let detail = Obj::new()
                    .set("type", e.name())
                    .set("message", e.to_string())
                    .set("error", err.clone())
                    .set("operation", "create");
                let init = web_sys::CustomEventInit::new();
                init.set_detail(&detail.build());
                if let Ok(ev) = web_sys::CustomEvent::new_with_event_init_dict("error", &init) {
                    let _ = target.dispatch_event(&ev);
                }
                Err(err)
            }
        }
    }

    fn spawn<F>(&self, f: impl FnOnce(Rc<Inner>) -> F) -> Promise
    where
        F: Future<Output = Result<JsValue, JsValue>> + 'static,
    {
        future_to_promise(f(self.inner.clone()))
    }

    /// Sets `key` to `value` (create or update); resolves to the key.
    pub fn put(&self, key: JsValue, value: JsValue) -> Promise {
        self.spawn(|inner| async move {
            let key = key_from_js(&key).map_err(|e| inner.fail("add", &e))?;
            let value = inner.prepare(&key, &value, "value", "add")?;
            let k = key.clone();
            let out = inner.run("add", async move |db| db.put(k, value).await).await?;
            inner.after_write(&out, Source::Local);
            Ok(JsValue::from_str(&key))
        })
    }

    /// Stores `value` under the key found at the configured `keyPath`; resolves to the key.
    pub fn add(&self, value: JsValue) -> Promise {
        self.spawn(|inner| async move {
            let key = inner.key_at_path(&value, "add")?;
            let value = inner.prepare(&key, &value, "value", "add")?;
            let k = key.clone();
            let out = inner.run("add", async move |db| db.put(k, value).await).await?;
            inner.after_write(&out, Source::Local);
            Ok(JsValue::from_str(&key))
        })
    }

    /// Deletes `key`; resolves to whether a record was there.
    pub fn remove(&self, key: JsValue) -> Promise {
        self.spawn(|inner| async move {
            let key = key_from_js(&key).map_err(|e| inner.fail("remove", &e))?;
            let out = inner.run("remove", async move |db| db.remove(key).await).await?;
            inner.after_write(&out, Source::Local);
            Ok(JsValue::from_bool(!out.changes.is_empty()))
        })
    }

    /// Deletes every record; resolves to how many there were.
    pub fn clear(&self) -> Promise {
        self.spawn(|inner| async move {
            let out = inner.run("clear", async |db| db.clear().await).await?;
            inner.after_write(&out, Source::Local);
            Ok(JsValue::from_f64(out.changes.len() as f64))
        })
    }

    /// Writes `[key, value]` pairs (any iterable of them) as one atomic write; resolves to how
    /// many were written. A bad pair fails the whole batch before anything is written.
    #[wasm_bindgen(js_name = batchSet)]
    pub fn batch_set(&self, entries: JsValue) -> Promise {
        self.spawn(|inner| async move {
            let bad = |inner: &Inner, msg: String| inner.fail("batchSet", &DbError::InvalidInput(msg));
            let iter = js_sys::try_iter(&entries)
                .ok()
                .flatten()
                .ok_or_else(|| bad(&inner, "batchSet needs an array of [key, value] pairs".into()))?;
            let mut pairs = Vec::new();
            for (i, item) in iter.enumerate() {
                let item = item?;
                if !Array::is_array(&item) || Array::from(&item).length() != 2 {
                    return Err(bad(&inner, format!("entries[{i}] is not a [key, value] pair")));
                }
                let pair = Array::from(&item);
                let key = key_from_js(&pair.get(0)).map_err(|e| {
                    bad(&inner, format!("entries[{i}]: {}", e.to_string().trim_start_matches("invalid input: ")))
                })?;
                let value = inner.prepare(&key, &pair.get(1), "entries[].value", "batchSet")?;
                pairs.push((key, value));
            }
            let n = pairs.len();
            let out = inner.run("batchSet", async move |db| db.batch_set(pairs).await).await?;
            inner.after_write(&out, Source::Local);
            Ok(JsValue::from_f64(n as f64))
        })
    }

    /// Runs `callback(tx)` and commits its writes as one atomic write. `tx.entries[key] = value`,
    /// `delete tx.entries[key]` and `await tx.entries[key]` read and write; `tx.get`, `tx.put`,
    /// `tx.add`, `tx.remove` do the same as methods. If the callback throws (or its promise
    /// rejects), nothing is written and the promise rejects with what it threw. If a record the
    /// transaction read was changed by another write before it commits, nothing is written and
    /// it rejects with a `ConflictError`. Resolves to what the callback returned.
    pub fn transaction(&self, callback: JsValue) -> Promise {
        self.spawn(|inner| async move {
            let f = function(&callback, "transaction").map_err(|e| inner.fail("transaction", &e))?;
            run_transaction(inner, f).await
        })
    }

    /// The value of `key`, or `undefined`.
    pub fn get(&self, key: JsValue) -> Promise {
        self.spawn(|inner| async move {
            let key = key_from_js(&key).map_err(|e| inner.fail("get", &e))?;
            inner.run("get", async |db| Ok(Inner::value_js(db, &key))).await
        })
    }

    /// Every value, in key order.
    pub fn all(&self) -> Promise {
        self.spawn(|inner| async move {
            inner
                .run("all", async |db| Ok(db.state().iter().map(|(_, e)| to_js(&e.value)).collect::<Array>().into()))
                .await
        })
    }

    /// Every key, in order.
    pub fn keys(&self) -> Promise {
        self.spawn(|inner| async move {
            inner
                .run("keys", async |db| {
                    Ok(db.state().iter().map(|(k, _)| JsValue::from_str(k)).collect::<Array>().into())
                })
                .await
        })
    }

    /// Number of records.
    pub fn count(&self) -> Promise {
        self.spawn(|inner| async move { inner.run("count", async |db| Ok(JsValue::from_f64(db.count() as f64))).await })
    }

    /// The values for which `predicate(value, key)` is truthy, in key order.
    pub fn filter(&self, predicate: JsValue) -> Promise {
        self.spawn(|inner| async move {
            let f = function(&predicate, "filter").map_err(|e| inner.fail("filter", &e))?;
            let mut thrown = None;
            let out = inner
                .run("filter", async |db| {
                    Ok(match scan_js(db, &f, |_| true) {
                        Ok((list, _)) => list.into(),
                        Err(e) => {
                            thrown = Some(e);
                            JsValue::UNDEFINED
                        }
                    })
                })
                .await?;
            thrown.map_or(Ok(out), Err)
        })
    }

    /// Whether `predicate(value, key)` is truthy for every record (stops at the first falsy one).
    pub fn every(&self, predicate: JsValue) -> Promise {
        self.spawn(|inner| async move {
            let f = function(&predicate, "every").map_err(|e| inner.fail("every", &e))?;
            let mut thrown = None;
            let out = inner
                .run("every", async |db| {
                    Ok(match scan_js(db, &f, |v| v) {
                        Ok((_, all)) => all,
                        Err(e) => {
                            thrown = Some(e);
                            false
                        }
                    })
                })
                .await?;
            thrown.map_or(Ok(JsValue::from_bool(out)), Err)
        })
    }

    /// Values `start..end` in key order (`Array.prototype.slice` rules, negatives included).
    pub fn slice(&self, start: Option<f64>, end: Option<f64>) -> Promise {
        self.spawn(|inner| async move {
            inner
                .run("slice", async |db| {
                    let (s, e) = slice_bounds(db.count(), start, end);
                    Ok(values(db.slice(s, e)).into())
                })
                .await
        })
    }

    /// The values whose indexed field equals `value` (`UnknownIndexError` for an index not in
    /// the configuration).
    #[wasm_bindgen(js_name = findBy)]
    pub fn find_by(&self, index: String, value: JsValue) -> Promise {
        self.spawn(|inner| async move {
            let v = from_js(&value, "value").map_err(|e| inner.fail("findBy", &e))?;
            inner.run("findBy", async |db| Ok(values(db.find_by(&index, &v)?).into())).await
        })
    }

    /// The values whose indexed field is within `{ gt, gte, lt, lte }` (any of them), ordered by
    /// that field then key.
    #[wasm_bindgen(js_name = findRange)]
    pub fn find_range(&self, index: String, range: JsValue) -> Promise {
        self.spawn(|inner| async move {
            let bound = |open: &str, closed: &str| -> Result<Bound<auroradb_log::Value>, DbError> {
                let get = |k: &str| js_sys::Reflect::get(&range, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED);
                let (o, c) = (get(open), get(closed));
                Ok(if !o.is_undefined() {
                    Bound::Excluded(from_js(&o, "range bound")?)
                } else if !c.is_undefined() {
                    Bound::Included(from_js(&c, "range bound")?)
                } else {
                    Bound::Unbounded
                })
            };
            let lo = bound("gt", "gte").map_err(|e| inner.fail("findRange", &e))?;
            let hi = bound("lt", "lte").map_err(|e| inner.fail("findRange", &e))?;
            inner
                .run("findRange", async |db| Ok(values(db.index_range(&index, lo.as_ref(), hi.as_ref())?).into()))
                .await
        })
    }

    /// Every op that wrote `key` (and every clear), oldest first: `{ id, hlc, time, author, kind,
    /// value, outcome: 'current' | 'superseded' | 'lost' }`.
    pub fn history(&self, key: JsValue) -> Promise {
        self.spawn(|inner| async move {
            let key = key_from_js(&key).map_err(|e| inner.fail("history", &e))?;
            inner
                .run("history", async |db| Ok(db.history(&key).await?.iter().map(history_js).collect::<Array>().into()))
                .await
        })
    }

    /// A read-only view of the database as it was at `time` (milliseconds, a `Date`, or an op id):
    /// every op up to it applied.
    pub fn at(&self, time: JsValue) -> Promise {
        self.spawn(|inner| async move {
            let at = point_from_js(&time, "at(time)", true).map_err(|e| inner.fail("at", &e))?;
            let (ms, key_path) = (time_of(&time), inner.key_path.clone());
            inner.run("at", async |db| Ok(Snapshot::new(db.state_at(at).await?, at, ms, key_path).into())).await
        })
    }

    /// What changed between the state at `from` and the state at `to`: `{ added, changed,
    /// removed }`.
    pub fn diff(&self, from: JsValue, to: JsValue) -> Promise {
        self.spawn(|inner| async move {
            let a = point_from_js(&from, "diff(from)", true).map_err(|e| inner.fail("diff", &e))?;
            let b = point_from_js(&to, "diff(to)", true).map_err(|e| inner.fail("diff", &e))?;
            inner.run("diff", async |db| Ok(diff_js(&db.diff(a, b).await?))).await
        })
    }

    /// The ops of the log between `from` and `to` (both optional, inclusive), oldest first:
    /// `{ id, hlc, time, counter, author, seq, kind, key, value, steps, hash, prev }`.
    pub fn log(&self, options: JsValue) -> Promise {
        self.spawn(|inner| async move {
            let get = |k: &str| {
                if options.is_object() {
                    js_sys::Reflect::get(&options, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
                } else {
                    JsValue::UNDEFINED
                }
            };
            let point = |k: &str, upper: bool| -> Result<Bound<auroradb_log::OpId>, DbError> {
                let v = get(k);
                if v.is_undefined() || v.is_null() {
                    Ok(Bound::Unbounded)
                } else {
                    Ok(Bound::Included(point_from_js(&v, k, upper)?))
                }
            };
            let from = point("from", false).map_err(|e| inner.fail("log", &e))?;
            let to = point("to", true).map_err(|e| inner.fail("log", &e))?;
            inner
                .run("log", async |db| {
                    let ops = db.load_ops(from, to).await?;
                    let list = Array::new();
                    for op in &ops {
                        let hash = match db.log().hash_of(&op.id) {
                            Some(h) => *h,
                            None => auroradb_log::EncodedOp::new(op.clone()).hash,
                        };
                        list.push(&op_js(op, &hash));
                    }
                    Ok(list.into())
                })
                .await
        })
    }

    /// Recomputes every hash and chain, checks segments, checkpoints and that the state is what
    /// the log says: `{ ok: true, ops, authors, checkpoints, keys, fingerprint }`, or rejects with
    /// a `HashMismatchError`, `BrokenChainError`, `CorruptDataError`...
    pub fn verify(&self) -> Promise {
        self.spawn(|inner| async move { inner.run("verify", async |db| Ok(verify_js(&db.verify().await?))).await })
    }

    /// The whole log as one self-checking file (`Uint8Array`).
    #[wasm_bindgen(js_name = exportLog)]
    pub fn export_log(&self) -> Promise {
        self.spawn(|inner| async move {
            inner.run("exportLog", async |db| Ok(Uint8Array::from(db.export_log().await?.as_slice()).into())).await
        })
    }

    /// Merges a log file made by `exportLog()` (as if synced from a peer), all or nothing:
    /// resolves to `{ ops, imported, fingerprint }`.
    #[wasm_bindgen(js_name = importLog)]
    pub fn import_log(&self, bytes: JsValue) -> Promise {
        self.spawn(|inner| async move {
            let bytes = match bytes.dyn_ref::<Uint8Array>() {
                Some(b) => b.to_vec(),
                None => match bytes.dyn_ref::<js_sys::ArrayBuffer>() {
                    Some(b) => Uint8Array::new(b).to_vec(),
                    None => {
                        return Err(inner.fail(
                            "importLog",
                            &DbError::InvalidInput("importLog needs a Uint8Array or ArrayBuffer".into()),
                        ));
                    }
                },
            };
            let (info, out) = inner.run("importLog", async move |db| db.import_log(&bytes).await).await?;
            inner.after_write(&out, Source::Import);
            Ok(Obj::new()
                .set("ops", info.ops as f64)
                .set("imported", info.imported as f64)
                .set("fingerprint", info.fingerprint.to_string())
                .build())
        })
    }

    /// Writes a checkpoint of the current state; resolves to its op id, or `null` if the log is
    /// empty.
    pub fn checkpoint(&self) -> Promise {
        self.spawn(|inner| async move {
            inner
                .run("checkpoint", async |db| Ok(db.checkpoint().await?.map_or(JsValue::NULL, |id| id_hex(&id).into())))
                .await
        })
    }

    /// Applies what other instances on this database committed since this one last looked
    /// (normally done on their notice); resolves to the number of changed records.
    #[wasm_bindgen(js_name = catchUp)]
    pub fn catch_up(&self) -> Promise {
        self.spawn(|inner| async move {
            let changes = inner.run("catchUp", async |db| db.catch_up().await).await?;
            inner.emit_changes(&changes, Source::Tab);
            Ok(JsValue::from_f64(changes.len() as f64))
        })
    }

    /// Statistics, synchronously: `{ name, version, keyPath, indexes, syncStrategy, peerId,
    /// distributed, connections, open, records, ops, authors, checkpoints, commits, opsDecoded,
    /// catchUps, checkpointsWritten }`.
    pub fn stats(&self) -> JsValue {
        let i = &self.inner;
        let info = i.info.borrow();
        let indexes: Array =
            i.indexes.iter().map(|(n, u)| Obj::new().set("name", n.as_str()).set("unique", *u).build()).collect();
        Obj::new()
            .set("name", i.name.as_str())
            .set("version", i.version)
            .set("keyPath", i.key_path.as_deref().map_or(JsValue::NULL, JsValue::from_str))
            .set("indexes", indexes)
            .set("syncStrategy", i.strategy.as_str())
            .set("peerId", self.peer_id())
            .set("author", i.peer.to_hex())
            .set("distributed", i.distributed)
            .set("connections", i.hub().map_or(0, |h| h.connections()) as f64)
            .set("open", !i.closed.get())
            .set("records", info.records as f64)
            .set("ops", info.ops as f64)
            .set("authors", info.authors as f64)
            .set("checkpoints", info.checkpoints as f64)
            .set("commits", info.commits as f64)
            .set("opsDecoded", info.ops_decoded as f64)
            .set("catchUps", info.catch_ups as f64)
            .set("checkpointsWritten", info.checkpoints_written as f64)
            .build()
    }

    /// This peer's id: its id on the network once sync is attached, else the one given to
    /// `create(distributed, peerId)`, else the author id of this instance's ops (32 hex digits).
    #[wasm_bindgen(js_name = peerId)]
    pub fn peer_id(&self) -> String {
        if let Some(hub) = self.inner.hub() {
            return hub.local().to_owned();
        }
        self.inner.label.clone().unwrap_or_else(|| self.inner.peer.to_hex())
    }

    /// The author id of this instance's ops (32 hex digits): every instance has its own.
    #[wasm_bindgen(getter)]
    pub fn author(&self) -> String {
        self.inner.peer.to_hex()
    }

    /// Whether peer-to-peer sync was asked for.
    #[wasm_bindgen(getter)]
    pub fn distributed(&self) -> bool {
        self.inner.distributed
    }

    /// Whether the database is closed.
    #[wasm_bindgen(getter)]
    pub fn closed(&self) -> bool {
        self.inner.closed.get()
    }

    /// Closes the database (pending operations finish first) and dispatches `close`.
    pub fn close(&self) -> Promise {
        self.spawn(|inner| async move {
            let db = inner.db.lock().await.take();
            if let Some(db) = db {
                db.storage().close();
            }
            inner.mark_closed("close");
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Closes the database and deletes it from IndexedDB (other instances on it are closed).
    pub fn destroy(&self) -> Promise {
        self.spawn(|inner| async move {
            let db = inner.db.lock().await.take();
            if let Some(db) = db {
                db.storage().close();
            }
            inner.mark_closed("destroy");
            IdbStorage::delete(&inner.name).await.map_err(|e| inner.fail("destroy", &DbError::Storage(e)))?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// Deletes the IndexedDB database `name` (for a database that is not open here).
#[wasm_bindgen(js_name = deleteDatabase)]
pub async fn delete_database(name: String) -> Result<(), JsValue> {
    IdbStorage::delete(&name).await.map_err(|e| to_js_error(&DbError::Storage(e)))
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::slice_bounds;

    #[wasm_bindgen_test]
    fn slice_like_arrays() {
        assert_eq!(slice_bounds(5, Some(0.0), Some(10.0)), (0, 5));
        assert_eq!(slice_bounds(5, Some(1.0), None), (1, 5));
        assert_eq!(slice_bounds(5, Some(-2.0), None), (3, 5));
        assert_eq!(slice_bounds(5, None, Some(-1.0)), (0, 4));
        assert_eq!(slice_bounds(5, Some(4.0), Some(2.0)), (4, 4));
        assert_eq!(slice_bounds(5, Some(f64::NAN), Some(2.5)), (0, 2));
    }
}
