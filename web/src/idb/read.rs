//! Reads: one record by key, ranges of records, with `getAll` going forward and a cursor going
//! backward, and counts of records in a range.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Promise};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbCursor, IdbCursorDirection, IdbCursorWithValue, IdbObjectStore, IdbTransactionMode};

use auroradb::StorageError;
use auroradb::storage::{KeyRange, ScanOptions, Store};

use super::IdbStorage;
use super::error::{IdbFailure, storage_error};
use super::record::{idb_range, key_bytes, key_js, stored_bytes};
use super::request::request_result;

/// Rows read so far by a cursor, or why it stopped.
type Rows = Rc<RefCell<Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError>>>;

impl IdbStorage {
    /// [`Storage::get`](auroradb::Storage::get) over IndexedDB.
    pub(super) async fn get_record(&self, store: Store, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let tx = self.transaction(&[store], IdbTransactionMode::Readonly)?;
        let req = self.object_store(&tx, store)?.get(&key_js(key)).map_err(|e| self.js_fail(&e))?;
        let value = self.read_result(request_result(&req)).await?;
        stored_bytes(store, &value)
    }

    /// [`Storage::get_many`](auroradb::Storage::get_many) over IndexedDB: every `get` issued in
    /// one transaction before the first is awaited.
    pub(super) async fn get_records(&self, store: Store, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let tx = self.transaction(&[store], IdbTransactionMode::Readonly)?;
        let os = self.object_store(&tx, store)?;
        let mut reads = Vec::with_capacity(keys.len());
        for key in keys {
            let req = os.get(&key_js(key)).map_err(|e| self.js_fail(&e))?;
            reads.push(request_result(&req));
        }
        let mut out = Vec::with_capacity(reads.len());
        for read in reads {
            out.push(stored_bytes(store, &self.read_result(read).await?)?);
        }
        Ok(out)
    }

    /// [`Storage::scan`](auroradb::Storage::scan) over IndexedDB.
    pub(super) async fn scan_records(
        &self,
        store: Store,
        range: KeyRange,
        options: ScanOptions,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError> {
        self.check_open()?;
        if options.limit == Some(0) || range.is_empty() {
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
        let keys: Array = self.read_result(request_result(&keys_req)).await?.unchecked_into();
        let values: Option<Array> = match &values_req {
            Some(req) => Some(self.read_result(request_result(req)).await?.unchecked_into()),
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

    /// The readable records of the `state` store's visible keys, in key order, as IndexedDB
    /// gives them (no record decoded), or `None` if a record is not of the readable form. For
    /// reads that go through every record once without holding them
    /// (`web/src/database/read.rs`).
    pub async fn visible_state(&self) -> Result<Option<Array>, StorageError> {
        self.check_open()?;
        let tx = self.transaction(&[Store::State], IdbTransactionMode::Readonly)?;
        let req = self.object_store(&tx, Store::State)?.get_all().map_err(|e| self.js_fail(&e))?;
        let records: Array = self.read_result(request_result(&req)).await?.unchecked_into();
        Ok(crate::reads::visible_records(&records).dyn_into::<Array>().ok())
    }

    /// Checks that every readable record of the `state` store says what its bytes say: its key,
    /// its value (or that it is deleted), as the record written for those bytes would (reads
    /// past the cache take the readable values, `visible_state`). A record changed by other means
    /// than AuroraDB's (DevTools, a tool with the origin's storage) is reported as foreign data,
    /// naming its key. For `verify()`.
    pub async fn check_readable(&self) -> Result<(), StorageError> {
        self.check_open()?;
        let tx = self.transaction(&[Store::State], IdbTransactionMode::Readonly)?;
        let os = self.object_store(&tx, Store::State)?;
        let keys_req = os.get_all_keys().map_err(|e| self.js_fail(&e))?;
        let req = os.get_all().map_err(|e| self.js_fail(&e))?;
        let keys: Array = self.read_result(request_result(&keys_req)).await?.unchecked_into();
        let records: Array = self.read_result(request_result(&req)).await?.unchecked_into();
        for (key, stored) in keys.iter().zip(records.iter()) {
            let key = super::record::key_bytes(&key)?;
            let Some(bytes) = super::record::stored_bytes(Store::State, &stored)? else { continue };
            if !crate::reads::same_record(&super::record::state_record(&key, &bytes), &stored) {
                return Err(StorageError::Foreign(format!(
                    "the readable state record of {:?} does not say what its bytes say",
                    String::from_utf8_lossy(&key)
                )));
            }
        }
        Ok(())
    }

    /// [`Storage::count`](auroradb::Storage::count) over IndexedDB: its `count()`, which reads
    /// no record into the page.
    pub(super) async fn count_records(&self, store: Store, range: KeyRange) -> Result<u64, StorageError> {
        self.check_open()?;
        if range.is_empty() {
            return Ok(0);
        }
        let query = idb_range(&range)?;
        let tx = self.transaction(&[store], IdbTransactionMode::Readonly)?;
        let req = self.object_store(&tx, store)?.count_with_key(&query).map_err(|e| self.js_fail(&e))?;
        let count = self.read_result(request_result(&req)).await?;
        count.as_f64().map(|n| n as u64).ok_or_else(|| StorageError::Backend("count() answered no number".into()))
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
                    let key = key_bytes(&cursor.key().map_err(|e| storage_error(&e))?)?;
                    let value = if keys_only {
                        Vec::new()
                    } else {
                        let v = cursor.unchecked_ref::<IdbCursorWithValue>().value().map_err(|e| storage_error(&e))?;
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
        let outcome = self.unless_cut_off(JsFuture::from(done)).await;
        req.set_onsuccess(None);
        drop(step);
        // `None`: the browser closed the connection and the cursor never ended.
        outcome.ok_or(StorageError::Closed)?.map_err(|_| self.fail(IdbFailure::of_request(&req)))?;
        rows.replace(Ok(Vec::new()))
    }
}
