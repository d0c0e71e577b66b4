//! The IndexedDB schema of a database: one object store per [`Store`], and on `state` one index
//! per configured index whose name a key path can name. Built by the upgrade of an open request
//! ([`Upgrade`]), checked after every open ([`IdbStorage::check_schema`]).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::{IdbDatabase, IdbIndexParameters, IdbObjectStore, IdbOpenDbRequest, IdbTransaction};

use auroradb::StorageError;
use auroradb::storage::Store;

use super::IdbStorage;
use super::error::{IdbFailure, storage_error};

/// The IndexedDB key path of the index on field `name`, if a key path can name it.
pub fn index_key_path(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let first = chars.next()?;
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    (!first.is_ascii_digit() && ident(first) && chars.all(ident)).then(|| format!("value.{name}"))
}

/// Whether `state` has index `name` on key path `path`.
fn has_index(state: &IdbObjectStore, name: &str, path: &str) -> bool {
    state.index(name).ok().and_then(|ix| ix.key_path().ok()).and_then(|p| p.as_string()).as_deref() == Some(path)
}

/// What the upgrade callback must build.
pub(super) struct Upgrade {
    /// `(name, key path)` of each wanted index.
    pub(super) indexes: Vec<(String, String)>,
    /// Set when the open was reported blocked: the upgrade, if it ever runs, is aborted.
    pub(super) abandoned: Rc<Cell<bool>>,
    /// Why the upgrade failed, if it did.
    pub(super) failure: Rc<RefCell<Option<String>>>,
    /// Set when the database had no stores: this upgrade made it, empty.
    pub(super) made: Rc<Cell<bool>>,
    /// What the browser reported lost before this upgrade, if anything ([`DataLoss`]).
    pub(super) lost: Rc<RefCell<Option<DataLoss>>>,
}

/// A database found lost when it was opened. Chromium, finding an origin's IndexedDB files
/// damaged (LevelDB's "checksum mismatch" after a crash, for one), deletes them and runs the
/// first open's upgrade on an empty database, with `dataLoss` (`"total"`) and `dataLossMessage`
/// on the `upgradeneeded` event. The origin's other databases are gone too, unreported: an open
/// that has to make a database marked as made before finds it [`DataLoss::MISSING`] itself
/// (`marker`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataLoss {
    /// The event's `dataLoss` (`"total"` in the browsers that report one), or
    /// [`DataLoss::MISSING`].
    pub kind: String,
    /// The event's `dataLossMessage`, the browser's own words; or the engine's.
    pub message: String,
}

impl DataLoss {
    /// The kind of a loss the engine found by the database's mark, unreported by the browser.
    pub const MISSING: &str = "missing";

    /// The loss `event` (an `upgradeneeded` event) reports, if it reports one.
    fn of(event: &web_sys::Event) -> Option<DataLoss> {
        let get = |k: &str| js_sys::Reflect::get(event, &k.into()).ok().and_then(|v| v.as_string());
        let kind = get("dataLoss").filter(|k| !k.is_empty() && k != "none")?;
        Some(DataLoss { kind, message: get("dataLossMessage").unwrap_or_default() })
    }
}

impl Upgrade {
    /// The `upgradeneeded` handler: notes what the browser reports lost, then builds the
    /// schema, or aborts the upgrade.
    pub(super) fn run(&self, req: &IdbOpenDbRequest, event: &web_sys::Event) {
        if let Some(loss) = DataLoss::of(event) {
            *self.lost.borrow_mut() = Some(loss);
        }
        let Some(tx) = req.transaction() else { return };
        if self.abandoned.get() {
            let _ = tx.abort();
            return;
        }
        if let Err(e) = self.build(req, &tx) {
            *self.failure.borrow_mut() = Some(format!("{}: {}", e.name, e.message));
            let _ = tx.abort();
        }
    }

    fn build(&self, req: &IdbOpenDbRequest, tx: &IdbTransaction) -> Result<(), IdbFailure> {
        let db: IdbDatabase = req.result().map_err(|e| IdbFailure::from_js(&e))?.unchecked_into();
        let names = db.object_store_names();
        self.made.set(names.length() == 0);
        for store in Store::ALL {
            if !names.contains(store.name()) {
                db.create_object_store(store.name()).map_err(|e| IdbFailure::from_js(&e))?;
            }
        }
        let state = tx.object_store(Store::State.name()).map_err(|e| IdbFailure::from_js(&e))?;
        let present = state.index_names();
        for i in 0..present.length() {
            let Some(name) = present.item(i) else { continue };
            let keep = self.indexes.iter().any(|(n, path)| *n == name && has_index(&state, &name, path));
            if !keep {
                state.delete_index(&name).map_err(|e| IdbFailure::from_js(&e))?;
            }
        }
        let present = state.index_names();
        for (name, path) in &self.indexes {
            if !present.contains(name) {
                let params = IdbIndexParameters::new();
                params.set_unique(false);
                state
                    .create_index_with_str_and_optional_parameters(name, path, &params)
                    .map_err(|e| IdbFailure::from_js(&e))?;
            }
        }
        Ok(())
    }
}

impl IdbStorage {
    /// Checks the stores exist and the `state` indexes are the configured ones; `made`: this
    /// open's upgrade made the database, with those indexes, and they are not looked at (a
    /// transaction fewer on a first open).
    pub(super) fn check_schema(&self, wanted: &[(String, String)], made: bool) -> Result<(), StorageError> {
        let names = self.db.object_store_names();
        if let Some(missing) = Store::ALL.iter().find(|s| !names.contains(s.name())) {
            return Err(StorageError::InvalidSchema(format!(
                "IndexedDB database {:?} has no {:?} store: it was not made by AuroraDB (use another name)",
                self.name,
                missing.name()
            )));
        }
        if made {
            return Ok(());
        }
        let tx = self.db.transaction_with_str(Store::State.name()).map_err(|e| storage_error(&e))?;
        let state = tx.object_store(Store::State.name()).map_err(|e| storage_error(&e))?;
        let present = state.index_names();
        let same = present.length() as usize == wanted.len()
            && wanted.iter().all(|(name, path)| has_index(&state, name, path));
        if !same {
            return Err(StorageError::InvalidSchema(format!(
                "the indexes of database {:?} differ from the configured ones: raise `version` (now {}) to change them",
                self.name,
                // A whole number: written as one without Rust's float formatting.
                self.db.version() as u64
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    #[wasm_bindgen_test]
    fn index_key_paths() {
        assert_eq!(index_key_path("email").as_deref(), Some("value.email"));
        assert_eq!(index_key_path("created_at$2").as_deref(), Some("value.created_at$2"));
        assert_eq!(index_key_path("created-at"), None);
        assert_eq!(index_key_path("a.b"), None);
        assert_eq!(index_key_path("2nd"), None);
        assert_eq!(index_key_path(""), None);
    }
}
