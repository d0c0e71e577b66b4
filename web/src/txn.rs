//! `transaction(async (tx) => ...)`: the handle the callback writes through, and the commit.
//!
//! The callback runs without holding the database lock (it may await other calls of the same
//! database). Reads through the handle see the transaction's own writes, else the committed
//! state, and remember which op each read record came from. The commit then checks, under the
//! lock, that none of those records changed meanwhile (else `ConflictError`) and writes every
//! step as one op: all or nothing.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

use auroradb_log::{OpId, OpKind, Step, Value};
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};

use crate::error::js_error;
use crate::inner::{Inner, Source};
use crate::value::{key_from_js, to_js};
use auroradb::DbError;

#[wasm_bindgen(module = "/js/txn_view.js")]
extern "C" {
    /// `{ entries, get, put, set, add, remove, delete }` over a handle: `entries` is a proxy
    /// whose reads, writes and deletes call the handle.
    #[wasm_bindgen(js_name = makeTransactionView)]
    fn make_transaction_view(handle: TxnHandle) -> JsValue;
}

#[derive(Default)]
struct TxnState {
    steps: Vec<Step>,
    pending: BTreeMap<String, Option<Value>>,
    /// The op each read record came from (`None`: it was absent), at its first read.
    reads: BTreeMap<String, Option<OpId>>,
    finished: bool,
}

/// The handle a transaction callback writes through (wrapped by the `entries` proxy).
#[wasm_bindgen]
pub struct TxnHandle {
    inner: Weak<Inner>,
    state: Rc<RefCell<TxnState>>,
}

impl TxnHandle {
    /// The database, if the transaction can still be written to.
    fn active(&self) -> Result<Rc<Inner>, JsValue> {
        let finished = || DbError::Aborted("the transaction has already finished".into());
        let inner = self.inner.upgrade().ok_or_else(|| crate::error::to_js_error(&finished()))?;
        if self.state.borrow().finished {
            return Err(inner.fail("transaction", &finished()));
        }
        Ok(inner)
    }
}

#[wasm_bindgen]
impl TxnHandle {
    /// The value of `key` as the transaction sees it (a `Promise`).
    pub fn get(&self, key: JsValue) -> Promise {
        let state = self.state.clone();
        let checked = self
            .active()
            .and_then(|inner| key_from_js(&key).map(|k| (inner.clone(), k)).map_err(|e| inner.fail("transaction", &e)));
        future_to_promise(async move {
            let (inner, key) = checked?;
            if let Some(v) = state.borrow().pending.get(&key) {
                return Ok(v.as_ref().map_or(JsValue::UNDEFINED, to_js));
            }
            inner
                .run("transaction", async |db| {
                    let seen = db.entry(&key).map(|e| e.id);
                    let mut st = state.borrow_mut();
                    // A write made while this read waited is what the transaction sees now.
                    if let Some(v) = st.pending.get(&key) {
                        return Ok(v.as_ref().map_or(JsValue::UNDEFINED, to_js));
                    }
                    st.reads.entry(key.clone()).or_insert(seen);
                    Ok(Inner::value_js(db, &key))
                })
                .await
        })
    }

    /// Sets `key` to `value` in the transaction (after the `beforeSet` hook).
    pub fn put(&self, key: JsValue, value: JsValue) -> Result<(), JsValue> {
        let inner = self.active()?;
        let key = key_from_js(&key).map_err(|e| inner.fail("transaction", &e))?;
        let value = inner.prepare(&key, &value, "value", "transaction")?;
        let mut st = self.state.borrow_mut();
        st.pending.insert(key.clone(), Some(value.clone()));
        st.steps.push(Step::Put { key, value });
        Ok(())
    }

    /// Stores `value` under the key at the configured `keyPath`; returns the key.
    pub fn add(&self, value: JsValue) -> Result<String, JsValue> {
        let key = self.active()?.key_at_path(&value, "transaction")?;
        self.put(JsValue::from_str(&key), value)?;
        Ok(key)
    }

    /// Deletes `key` in the transaction.
    pub fn remove(&self, key: JsValue) -> Result<(), JsValue> {
        let inner = self.active()?;
        let key = key_from_js(&key).map_err(|e| inner.fail("transaction", &e))?;
        auroradb::validate_key(&key).map_err(|e| inner.fail("transaction", &e))?;
        let mut st = self.state.borrow_mut();
        st.pending.insert(key.clone(), None);
        st.steps.push(Step::Remove { key });
        Ok(())
    }
}

/// Runs the callback, then commits what it wrote.
pub async fn run_transaction(inner: Rc<Inner>, callback: Function) -> Result<JsValue, JsValue> {
    let state = Rc::new(RefCell::new(TxnState::default()));
    let view = make_transaction_view(TxnHandle { inner: Rc::downgrade(&inner), state: state.clone() });
    let returned = match callback.call1(&JsValue::UNDEFINED, &view) {
        Ok(v) => JsFuture::from(Promise::resolve(&v)).await,
        Err(e) => Err(e),
    };
    let (steps, reads) = {
        let mut st = state.borrow_mut();
        st.finished = true;
        (std::mem::take(&mut st.steps), std::mem::take(&mut st.reads))
    };
    // What the callback threw aborts the transaction and is passed on as it is.
    let value = returned?;
    if steps.is_empty() {
        return Ok(value);
    }
    let committed = inner
        .run("transaction", async move |db| {
            for (key, seen) in &reads {
                if db.entry(key).map(|e| e.id) != *seen {
                    return Ok(Err(key.clone()));
                }
            }
            db.commit_local(OpKind::Txn(steps)).await.map(Ok)
        })
        .await?;
    match committed {
        Ok(out) => {
            inner.after_write(&out, Source::Local);
            Ok(value)
        }
        Err(key) => {
            let e = js_error(
                "ConflictError",
                &format!(
                    "record {key:?} changed after the transaction read it: nothing was written (retry the transaction)"
                ),
            );
            inner.emit_error("transaction", &e);
            Err(e)
        }
    }
}
