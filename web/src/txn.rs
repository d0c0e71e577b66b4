//! `transaction(async (tx) => ...)`: the handle the callback writes through, translating its
//! calls to the engine's [`Transaction`], and the commit.
//!
//! The callback runs without holding the database lock (it may await other calls of the same
//! database). The engine's transaction buffers the writes, shows reads the transaction's own
//! writes, and remembers which op each record it read came from; the commit then writes every
//! step as one op, or fails with a `ConflictError` if a record read changed meanwhile.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::error::to_js_error;
use crate::events::Source;
use crate::open_database::OpenDatabase;
use crate::promise::promise;
use crate::value::{key_from_js, to_js};
use auroradb::{DbError, Transaction, Value};

#[wasm_bindgen(module = "/js/txn_view.js")]
extern "C" {
    /// `{ entries, get, put, set, add, remove, delete }` over a handle: `entries` is a proxy
    /// whose reads, writes and deletes call the handle.
    #[wasm_bindgen(js_name = makeTransactionView)]
    fn make_transaction_view(handle: TxnHandle) -> JsValue;
}

/// The database a transaction handle writes to.
type Open = OpenDatabase<crate::Hub>;

/// The transaction, until the callback has finished (`None` then: later writes fail).
type Slot = Rc<RefCell<Option<Transaction>>>;

/// The handle a transaction callback writes through (wrapped by the `entries` proxy).
#[wasm_bindgen]
pub struct TxnHandle {
    open: Weak<Open>,
    tx: Slot,
}

/// Why a write through a handle fails once its callback has finished.
fn finished() -> DbError {
    DbError::Aborted("the transaction has already finished".into())
}

fn value_js(v: Option<&Value>) -> JsValue {
    v.map_or(JsValue::UNDEFINED, to_js)
}

impl TxnHandle {
    /// The database, if the transaction can still be written to.
    fn active(&self) -> Result<Rc<Open>, JsValue> {
        let open = self.open.upgrade().ok_or_else(|| to_js_error(&finished()))?;
        if self.tx.borrow().is_none() {
            return Err(open.fail("transaction", &finished()));
        }
        Ok(open)
    }

    /// Applies `write` to the transaction; what the engine refuses fails as an `error` event.
    fn with_tx(&self, open: &Open, write: impl FnOnce(&mut Transaction) -> Result<(), DbError>) -> Result<(), JsValue> {
        // The borrow ends before the `error` event: a listener may call this handle again.
        let result = self.tx.borrow_mut().as_mut().map_or_else(|| Err(finished()), write);
        result.map_err(|e| open.fail("transaction", &e))
    }
}

#[wasm_bindgen]
impl TxnHandle {
    /// The value of `key` as the transaction sees it (a `Promise`).
    pub fn get(&self, key: JsValue) -> Promise {
        let slot = self.tx.clone();
        let checked = self
            .active()
            .and_then(|open| key_from_js(&key).map(|k| (open.clone(), k)).map_err(|e| open.fail("transaction", &e)));
        promise(async move {
            let (open, key) = checked?;
            // A record the transaction wrote is answered without waiting for the database.
            let own = slot.borrow().as_ref().and_then(|tx| tx.written(&key).map(value_js));
            if let Some(v) = own {
                return Ok(v);
            }
            open.run("transaction", async move |db| {
                db.load_keys(&[&key]).await?;
                Ok(match slot.borrow_mut().as_mut() {
                    Some(tx) => value_js(tx.read(db.state(), &key)),
                    // The callback finished while this read waited: there is nothing to record.
                    None => value_js(db.get(&key)),
                })
            })
            .await
        })
    }

    /// Sets `key` to `value` in the transaction (after the `beforeSet` hook).
    pub fn put(&self, key: JsValue, value: JsValue) -> Result<(), JsValue> {
        let open = self.active()?;
        let key = key_from_js(&key).map_err(|e| open.fail("transaction", &e))?;
        let value = open.prepare(&key, &value, "value", "transaction")?;
        self.with_tx(&open, |tx| tx.put(key, value))
    }

    /// Stores `value` under the key at the configured `keyPath`; returns the key.
    pub fn add(&self, value: JsValue) -> Result<String, JsValue> {
        let open = self.active()?;
        let key = open.key_at_path(&value, "transaction")?;
        // As `add(value)` takes it: the value must hold that key where it was read.
        let value = open.take_keyed_value(&key, &value).map_err(|r| open.report("transaction", r))?;
        self.with_tx(&open, |tx| tx.put(key.clone(), value))?;
        Ok(key)
    }

    /// Deletes `key` in the transaction.
    pub fn remove(&self, key: JsValue) -> Result<(), JsValue> {
        let open = self.active()?;
        let key = key_from_js(&key).map_err(|e| open.fail("transaction", &e))?;
        self.with_tx(&open, |tx| tx.remove(key))
    }

    /// The `InvalidInputError` of what the view refuses by itself (`in` on `tx.entries`, listing
    /// it, a symbol key), dispatched as an `error` event as the handle's own refusals are.
    pub fn refuse(&self, why: String) -> JsValue {
        let e = DbError::InvalidInput(why);
        self.open.upgrade().map_or_else(|| to_js_error(&e), |open| open.fail("transaction", &e))
    }
}

/// Runs the callback, then commits what it wrote.
pub async fn run_transaction(open: Rc<Open>, callback: Function) -> Result<JsValue, JsValue> {
    let slot: Slot = Rc::new(RefCell::new(Some(Transaction::new())));
    let view = make_transaction_view(TxnHandle { open: Rc::downgrade(&open), tx: slot.clone() });
    let returned = match callback.call1(&JsValue::UNDEFINED, &view) {
        Ok(v) => JsFuture::from(Promise::resolve(&v)).await,
        Err(e) => Err(e),
    };
    let tx = slot.borrow_mut().take().unwrap_or_default();
    // What the callback threw aborts the transaction and is passed on as it is.
    let value = returned?;
    // Nothing to commit: the callback's value, without waiting for the database.
    if tx.is_empty() {
        return Ok(value);
    }
    open.write("transaction", Source::Local, async move |db| db.commit_transaction(tx).await).await?;
    Ok(value)
}
