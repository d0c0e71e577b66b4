//! A [`WriteBatch`] as one `readwrite` transaction: preconditions read first, writes queued
//! behind them, all or nothing. An insert is an `add`, whose `ConstraintError` (the key holds a
//! record) aborts the transaction and is reported as [`StorageError::Conflict`].

use wasm_bindgen_futures::JsFuture;
use web_sys::IdbTransactionMode;

use auroradb::StorageError;
use auroradb::storage::{Mutation, Store, WriteBatch};

use super::IdbStorage;
use super::error::IdbFailure;
use super::record::{key_js, put_record, stored_bytes, stored_value};
use super::request::{request_result, transaction_promise};

impl IdbStorage {
    /// [`Storage::commit`](auroradb::Storage::commit) over IndexedDB.
    pub(super) async fn commit_batch(&self, batch: &WriteBatch) -> Result<(), StorageError> {
        if batch.is_empty() {
            return self.check_open();
        }
        // The stores the batch touches, in `Store` order.
        let touches = |s: Store| {
            batch.mutations.iter().any(|m| match m {
                Mutation::Put { store, .. }
                | Mutation::Insert { store, .. }
                | Mutation::Delete { store, .. }
                | Mutation::Expect { store, .. } => *store == s,
            })
        };
        let stores: Vec<Store> = Store::ALL.into_iter().filter(|s| touches(*s)).collect();
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
                    put_record(os(*store), &stored_value(*store, key, value), &key_js(key))
                }
                // `add` fails with a `ConstraintError` if the key holds a record, which aborts
                // the transaction: reported as a conflict below.
                Mutation::Insert { store, key, value } => {
                    os(*store).add_with_key(&stored_value(*store, key, value), &key_js(key)).map(drop)
                }
                Mutation::Delete { store, key } => os(*store).delete(&key_js(key)).map(drop),
                Mutation::Expect { .. } => continue,
            };
            if let Err(e) = issued {
                let _ = tx.abort();
                return Err(self.js_fail(&e));
            }
        }
        // Each read's handlers are set now, so the reads can be awaited one after another (they
        // succeed in order anyway): no `join_all`, whose two strategies cost wasm.
        let reads: Vec<_> = checks.iter().map(|(_, _, req)| request_result(req)).collect();
        let verdict = async {
            for ((store, want, _), read) in checks.iter().zip(reads) {
                let got = read.await;
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
        // Checks and end together, unless the browser closes the connection and they do not
        // end: then the commit's outcome is unknown (seen when the disk filled up: Chromium
        // closed the connection and never ended the transaction that was committing).
        let Some((verdict, done)) = self.unless_cut_off(futures::future::join(verdict, done)).await else {
            return Err(StorageError::Interrupted(format!(
                "the browser closed database {:?} while a commit was in flight, without saying how it ended: reopen to see what it holds",
                self.name
            )));
        };
        verdict?;
        match done {
            Ok(_) => Ok(()),
            Err(_) => {
                let failure = IdbFailure::of_transaction(&tx);
                // The stores have no unique index: only an insert's `add` fails this way.
                let inserts = batch.mutations.iter().any(|m| matches!(m, Mutation::Insert { .. }));
                if inserts && failure.name == "ConstraintError" && !self.is_closed() {
                    return Err(StorageError::Conflict);
                }
                Err(self.fail(failure))
            }
        }
    }
}
