//! Writes of the live database: each goes through [`OpenDatabase::write`], which commits and then
//! announces it (peers, other tabs, events).
//!
//! [`OpenDatabase::write`]: crate::open_database::OpenDatabase::write

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::{AuroraCore, Open};
use crate::events::Source;
use crate::open_database::Refused;
use crate::reads::function;
use crate::records::id_hex;
use crate::txn::run_transaction;
use crate::value::key_from_js;
use auroradb::{DbError, Transaction};

#[wasm_bindgen]
impl AuroraCore {
    /// Sets `key` to `value` (create or update); resolves to the key.
    pub fn put(&self, key: JsValue, value: JsValue) -> Promise {
        self.set(key, value, "put")
    }

    /// `put(key, value)` for the page's `add(key, value)`: the same write, whose failure names
    /// its operation `'add'`.
    #[wasm_bindgen(js_name = addPair)]
    pub fn add_pair(&self, key: JsValue, value: JsValue) -> Promise {
        self.set(key, value, "add")
    }

    /// Stores `value` under the key found at the configured `keyPath`; resolves to the key. The
    /// value is read now, as every write reads what it is given (see `set`).
    pub fn add(&self, value: JsValue) -> Promise {
        let open = &self.open;
        let taken = open.key_in(&value).map_err(Refused::Error).and_then(|key| {
            let value = open.take_keyed_value(&key, &value)?;
            Ok((key, value))
        });
        self.spawn(|open| async move {
            let (key, value) = taken.map_err(|r| open.report("add", r))?;
            let k = key.clone();
            open.write("add", Source::Local, async move |db| db.put(k, value).await).await?;
            Ok(JsValue::from_str(&key))
        })
    }

    /// Deletes `key`; resolves to whether a record was there.
    pub fn remove(&self, key: JsValue) -> Promise {
        self.spawn(|open| async move {
            let key = key_from_js(&key).map_err(|e| open.fail("remove", &e))?;
            let out = open.write("remove", Source::Local, async move |db| db.remove(key).await).await?;
            Ok(JsValue::from_bool(!out.changes.is_empty()))
        })
    }

    /// Deletes every record; resolves to how many there were.
    pub fn clear(&self) -> Promise {
        self.spawn(|open| async move {
            let out = open.write("clear", Source::Local, async move |db| db.clear().await).await?;
            Ok(JsValue::from_f64(out.changes.len() as f64))
        })
    }

    /// Writes `[key, value]` pairs (any iterable of them) as one atomic write; resolves to how
    /// many were written. A bad pair fails the whole batch before anything is written.
    #[wasm_bindgen(js_name = batchSet)]
    pub fn batch_set(&self, entries: JsValue) -> Promise {
        // The entries are read now, as every write reads what it is given (see `set`).
        let taken = take_entries(&self.open, &entries);
        self.spawn(|open| async move {
            // The number of pairs, a key given twice counted twice (its op keeps the last).
            let (tx, n) = taken.map_err(|r| open.report("batchSet", r))?;
            open.write("batchSet", Source::Local, async move |db| db.commit_transaction(tx).await).await?;
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
        self.spawn(|open| async move {
            let f = function(&callback, "transaction").map_err(|e| open.fail("transaction", &e))?;
            run_transaction(open, f).await
        })
    }

    /// Writes a checkpoint of the current state; resolves to its op id, or `null` if the log is
    /// empty.
    pub fn checkpoint(&self) -> Promise {
        self.spawn(|open| async move {
            open.run("checkpoint", async move |db| {
                Ok(db.checkpoint().await?.map_or(JsValue::NULL, |id| id_hex(&id).into()))
            })
            .await
        })
    }

    /// Applies what other instances on this database committed since this one last looked
    /// (normally done on their notice); resolves to the number of changed records.
    ///
    /// With `imported`, it ends an import a helper instance made for this one (see
    /// [`AuroraCore::open_js`] and [`AuroraCore::hold_for_import`]): `imported` holds the keys of
    /// the changes the import dispatched on the helper (exact, whatever this instance held),
    /// which the page dispatches with `source: 'import'`; the other tabs are told, as the helper
    /// tells no one. Of the changes this instance caught up with since the hold began, the
    /// import's are left out; the rest (other tabs' commits) are dispatched with `source: 'tab'`,
    /// those this catch-up finds only for records it held: for a record it did not hold it can
    /// only guess (a `set` of an unchanged record, no `delete` for a record a clear in the file
    /// removed).
    #[wasm_bindgen(js_name = catchUp)]
    pub fn catch_up(&self, imported: JsValue) -> Promise {
        self.spawn(|open| async move {
            let import: Option<Vec<String>> =
                imported.dyn_ref::<js_sys::Array>().map(|keys| keys.iter().filter_map(|k| k.as_string()).collect());
            let exact = import.is_some();
            let (changes, held) = open
                .run("catchUp", async move |db| {
                    let held: Vec<String> =
                        if exact { db.state().records().map(|(k, _)| k.to_owned()).collect() } else { Vec::new() };
                    Ok((db.catch_up().await?, held))
                })
                .await?;
            let Some(keys) = import else {
                let count = changes.len();
                open.emit_caught(changes);
                return Ok(JsValue::from_f64(count as f64));
            };
            open.notify_tabs();
            let mut own = open.end_import();
            own.extend(changes.into_iter().filter(|c| held.binary_search(&c.key).is_ok()));
            own.retain(|c| !keys.contains(&c.key));
            open.events.emit_changes(&own, Source::Tab);
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Until the next `catchUp(keys)`, what this instance catches up with (on another tab's
    /// notice, before a call, in a write) is held back rather than dispatched: a helper instance
    /// is about to import for it, and the import's changes are dispatched exactly, with
    /// `source: 'import'`, when it ends, however this instance came to catch up with its commit.
    #[wasm_bindgen(js_name = holdForImport)]
    pub fn hold_for_import(&self) {
        self.open.hold_for_import();
    }
}

impl AuroraCore {
    /// Sets `key` to `value`; a failure names the operation `op`.
    ///
    /// The key and the value are read now, in the call, as IndexedDB copies a value when `put` is
    /// called: a change the page makes to the value once the call returned is not stored, even
    /// with the write waiting for earlier ones. A refusal is reported when the promise settles.
    fn set(&self, key: JsValue, value: JsValue, op: &'static str) -> Promise {
        let taken = key_from_js(&key).map_err(Refused::Error).and_then(|key| {
            let value = self.open.take_value(&key, &value, "value")?;
            Ok((key, value))
        });
        self.spawn(move |open| async move {
            let (key, value) = taken.map_err(|r| open.report(op, r))?;
            let k = key.clone();
            open.write(op, Source::Local, async move |db| db.put(k, value).await).await?;
            Ok(JsValue::from_str(&key))
        })
    }
}

/// `batchSet`'s entries as a transaction that only writes, each pair checked as it is added, in
/// order.
fn take_entries(open: &Open, entries: &JsValue) -> Result<(Transaction, usize), Refused> {
    let bad = |msg: String| Refused::Error(DbError::InvalidInput(msg));
    let items = crate::value::iterable_items(entries)
        .map_err(|_| bad("batchSet's entries threw when iterated".into()))?
        .ok_or_else(|| bad("batchSet needs an array of [key, value] pairs".into()))?;
    let mut tx = Transaction::new();
    for (i, item) in items.iter().enumerate() {
        let pair = crate::value::pair_of(item)
            .map_err(|_| bad(format!("entries[{i}] threw when read")))?
            .ok_or_else(|| bad(format!("entries[{i}] is not a [key, value] pair")))?;
        // key_from_js refuses with InvalidInput only: its message, without the prefix the error's
        // Display adds (a substring search for it cost 2 KB of wasm).
        let key = key_from_js(&pair.0).map_err(|e| {
            let why = match e {
                DbError::InvalidInput(why) => why,
                e => e.to_string(),
            };
            bad(format!("entries[{i}]: {why}"))
        })?;
        let value = open.take_value(&key, &pair.1, &format!("entries[{i}].value"))?;
        tx.put(key, value).map_err(Refused::Error)?;
    }
    Ok((tx, items.len()))
}
