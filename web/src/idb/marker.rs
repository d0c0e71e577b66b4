//! A mark outside IndexedDB that database `name` was made on this origin: an entry
//! `auroradb:made:<name>` in `localStorage`, which the browser keeps apart from IndexedDB's files,
//! set by the first open that finds it missing (so a database made before marks existed gets one
//! at its next open).
//!
//! It lets an open tell a database that is new from one the browser lost: when the browser finds
//! the origin's IndexedDB files damaged, it deletes every database of the origin but reports the
//! loss ([`DataLoss`](super::DataLoss)) to the first open request only, which may be another
//! database's or another library's. A later open that has to make a database whose mark is
//! there reports the loss itself. `destroy()` and `deleteDatabase()` remove the mark. Where
//! `localStorage` cannot be used (a worker, storage blocked), nothing is marked and only the
//! browser's own report is made.

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Storage;

/// The page's `localStorage`, if this context has one it may use.
fn local_storage() -> Option<Storage> {
    // The getter itself throws where storage is blocked (a sandboxed frame, for one).
    Reflect::get(&js_sys::global(), &JsValue::from_str("localStorage")).ok()?.dyn_into::<Storage>().ok()
}

/// The entry that marks database `name`.
fn entry(name: &str) -> String {
    format!("auroradb:made:{name}")
}

/// Whether database `name` is marked as made on this origin.
pub(super) fn is_marked(name: &str) -> bool {
    local_storage().and_then(|s| s.get_item(&entry(name)).ok().flatten()).is_some()
}

/// Marks database `name` as made on this origin (a full `localStorage` leaves it unmarked).
pub(super) fn mark(name: &str) {
    if let Some(s) = local_storage() {
        let _ = s.set_item(&entry(name), "1");
    }
}

/// Removes the mark of database `name`: it is being deleted on purpose.
pub(super) fn unmark(name: &str) {
    if let Some(s) = local_storage() {
        let _ = s.remove_item(&entry(name));
    }
}
