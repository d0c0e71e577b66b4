//! Storage keys and values as IndexedDB holds them: keys as binary keys, values as a
//! `Uint8Array`, except in `state`, whose records are readable objects (see the module docs).

use std::ops::Bound;

use auroradb_snapshot::KeyRecord;
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{IdbKeyRange, IdbObjectStore};

use auroradb::StorageError;
use auroradb::storage::{KeyRange, Store};

use super::error::storage_error;

pub(super) fn key_js(key: &[u8]) -> JsValue {
    Uint8Array::from(key).into()
}

pub(super) fn key_bytes(key: &JsValue) -> Result<Vec<u8>, StorageError> {
    if let Some(buf) = key.dyn_ref::<js_sys::ArrayBuffer>() {
        return Ok(Uint8Array::new(buf).to_vec());
    }
    if let Some(arr) = key.dyn_ref::<Uint8Array>() {
        return Ok(arr.to_vec());
    }
    Err(StorageError::Foreign("a record key is not binary: the database was not written by AuroraDB".into()))
}

#[wasm_bindgen(module = "/js/objects.js")]
extern "C" {
    /// `store.put(value, key)`, its exception (`DataCloneError`, `TransactionInactiveError`...)
    /// as the result: the glue's exception catcher costs more than a put of a small record.
    #[wasm_bindgen(js_name = putRecord)]
    fn put_record_js(store: &IdbObjectStore, value: &JsValue, key: &JsValue) -> JsValue;
}

/// `store.put(value, key)` in a readwrite transaction, without keeping the request: the
/// transaction's outcome reports the write.
pub(super) fn put_record(store: &IdbObjectStore, value: &JsValue, key: &JsValue) -> Result<(), JsValue> {
    let thrown = put_record_js(store, value, key);
    if thrown.is_undefined() { Ok(()) } else { Err(thrown) }
}

/// The readable `state` record for a key and its encoded `KeyRecord`. Its value is decoded from
/// the record's bytes by the page (one call, instead of one per field and item).
pub(super) fn state_record(key: &[u8], record: &[u8]) -> JsValue {
    let key = crate::value::js_string(&String::from_utf8_lossy(key));
    let bytes: JsValue = Uint8Array::from(record).into();
    match KeyRecord::shown_value_at(record) {
        Some(at) => crate::value::state_record_at(&key, &bytes, at as u32),
        None => crate::value::deleted_record(&key, &bytes),
    }
}

/// The stored bytes of a record as IndexedDB returns it.
pub(super) fn stored_bytes(store: Store, value: &JsValue) -> Result<Option<Vec<u8>>, StorageError> {
    if value.is_undefined() {
        return Ok(None);
    }
    let bytes =
        if store == Store::State { Reflect::get(value, &crate::value::field_name("record")).ok() } else { None };
    let bytes = bytes.as_ref().unwrap_or(value);
    match bytes.dyn_ref::<Uint8Array>() {
        Some(arr) => Ok(Some(arr.to_vec())),
        None => Err(StorageError::Foreign(format!("a record of store {:?} is not AuroraDB's", store.name()))),
    }
}

/// What IndexedDB holds for the record `key` → `value` of `store`.
pub(super) fn stored_value(store: Store, key: &[u8], value: &[u8]) -> JsValue {
    if store == Store::State { state_record(key, value) } else { Uint8Array::from(value).into() }
}

/// The IndexedDB key range (`undefined` for every key).
pub(super) fn idb_range(range: &KeyRange) -> Result<JsValue, StorageError> {
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
    made.map(Into::into).map_err(|e| storage_error(&e))
}
