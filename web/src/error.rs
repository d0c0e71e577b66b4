//! Errors as JavaScript sees them: `Error` objects whose `name` comes from the one table of names,
//! [`ErrorName`] (`src/error.rs`), plus a few details where they help.

use auroradb_snapshot::SnapshotError;
use js_sys::Reflect;
use wasm_bindgen::JsValue;

use auroradb::{DbError, ErrorName};

/// An `Error` with this `name` and `message`.
pub fn js_error(name: ErrorName, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    e.set_name(name.as_str());
    e.into()
}

/// The JavaScript error for a database error. A unique-index violation also carries `index`,
/// `key` and `existingKey`.
pub fn to_js_error(err: &DbError) -> JsValue {
    let e = js_error(err.error_name(), &err.to_string());
    if let DbError::Snapshot(SnapshotError::UniqueViolation { index, key, existing_key, .. }) = err {
        let _ = Reflect::set(&e, &"index".into(), &index.into());
        let _ = Reflect::set(&e, &"key".into(), &key.into());
        let _ = Reflect::set(&e, &"existingKey".into(), &existing_key.into());
    }
    e
}

/// The stable name of a JavaScript error (`error.name`), if it has one.
pub fn error_name(e: &JsValue) -> Option<String> {
    Reflect::get(e, &"name".into()).ok().and_then(|n| n.as_string())
}
