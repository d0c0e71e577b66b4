//! Opening (creating or upgrading) and deleting an IndexedDB database, and adopting the
//! connection an open yields.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use auroradb_snapshot::IndexSpec;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::IdbDatabase;

use auroradb::StorageError;

use super::error::{IdbFailure, storage_error};
use super::lock;
use super::request::{Settled, abandon, factory, queued_behind, settle};
use super::schema::{DataLoss, Upgrade, index_key_path};
use super::{Holds, IdbStorage, OnClosed, marker, release_holds};

impl IdbStorage {
    /// Opens (creating or upgrading) IndexedDB database `name` at schema `version`, with an
    /// IndexedDB index on `value.<name>` of the `state` store for each of `indexes` whose name is
    /// an identifier. Raising `version` adds and removes indexes and keeps every record. Fails
    /// with [`StorageError::InvalidSchema`] if `version` is 0, the database was not made by
    /// AuroraDB, or the indexes changed without a new version; with
    /// [`StorageError::VersionTooOld`] if `version` is older than the stored one; and with
    /// [`StorageError::Blocked`] if another connection keeps an older version open (the upgrade
    /// is then abandoned).
    pub async fn open(name: &str, version: u32, indexes: &[IndexSpec]) -> Result<IdbStorage, StorageError> {
        IdbStorage::open_with_lock(name, version, indexes, None).await
    }

    /// [`IdbStorage::open`], asking for lock `early` ([`Storage::hold`]'s name) while the
    /// database opens rather than after: the first `hold` of that name takes the answer (a round
    /// trip fewer on an open that claims an author slot), and
    /// [`IdbStorage::release_early`] lets it go if none did.
    ///
    /// [`Storage::hold`]: auroradb::Storage::hold
    pub async fn open_with_lock(
        name: &str,
        version: u32,
        indexes: &[IndexSpec],
        early: Option<&str>,
    ) -> Result<IdbStorage, StorageError> {
        if version == 0 {
            return Err(StorageError::InvalidSchema("version must be at least 1".into()));
        }
        let wanted: Vec<(String, String)> =
            indexes.iter().filter_map(|ix| index_key_path(&ix.name).map(|p| (ix.name.clone(), p))).collect();
        let req = factory()?.open_with_u32(name, version).map_err(|e| storage_error(&e))?;

        let abandoned = Rc::new(Cell::new(false));
        let failure = Rc::new(RefCell::new(None));
        let made = Rc::new(Cell::new(false));
        let lost = Rc::new(RefCell::new(None));
        let upgrade = Upgrade {
            indexes: wanted.clone(),
            abandoned: abandoned.clone(),
            failure: failure.clone(),
            made: made.clone(),
            lost: lost.clone(),
        };
        let req_up = req.clone();
        let on_upgrade = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| upgrade.run(&req_up, &e));
        req.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));

        let early = early.map(|lock| lock::hold_name(lock, name));
        let asked = futures::future::OptionFuture::from(early.as_deref().map(lock::hold));
        // A lock granted to an open that then fails is released as `held` is dropped.
        let (outcome, held) = futures::future::join(settle(&req, queued_behind(name)), asked).await;
        if outcome == Settled::Blocked {
            // The request stays queued until the other connections close: make it abort its
            // upgrade then, and close what it opens. Its handlers must outlive this call.
            abandoned.set(true);
            abandon(
                &req,
                name,
                Box::new(|req| {
                    if let Ok(db) = req.result() {
                        db.unchecked_into::<IdbDatabase>().close();
                    }
                }),
            );
            on_upgrade.forget();
            return Err(StorageError::Blocked(format!(
                "another connection keeps database {name:?} open at an older version; close it (or its tab) and retry"
            )));
        }
        req.set_onupgradeneeded(None);
        drop(on_upgrade);
        if outcome == Settled::Failure {
            if let Some(why) = failure.borrow_mut().take() {
                return Err(StorageError::Backend(format!("schema upgrade of {name:?} failed: {why}")));
            }
            let err = IdbFailure::of_request(&req);
            if err.name == "VersionError" {
                return Err(StorageError::VersionTooOld { name: name.to_owned(), requested: version });
            }
            return Err(err.into_storage(false));
        }
        let db: IdbDatabase = req.result().map_err(|e| storage_error(&e))?.unchecked_into();
        let storage = IdbStorage::adopt(db, name);
        storage.check_schema(&wanted, made.get())?;
        storage.new.set(made.get());
        // A database made now whose mark is there was lost, whether or not the browser told
        // this open (it tells the first open after it dropped the origin's files only).
        let marked = marker::is_marked(name);
        let lost = lost.take().or_else(|| {
            (made.get() && marked).then(|| DataLoss {
                kind: DataLoss::MISSING.into(),
                message: format!(
                    "database {name:?} was made on this origin before and is gone, though it was not deleted through AuroraDB"
                ),
            })
        });
        if !marked {
            marker::mark(name);
        }
        *storage.lost.borrow_mut() = lost;
        *storage.early.borrow_mut() = early.zip(held);
        Ok(storage)
    }

    /// Wraps an open connection: it closes itself when another connection upgrades or deletes
    /// the database, and notices when the browser closes it.
    fn adopt(db: IdbDatabase, name: &str) -> IdbStorage {
        let closed = Rc::new(Cell::new(false));
        let on_closed: OnClosed = Rc::new(RefCell::new(None));
        let holds: Holds = Rc::default();
        let notify = {
            let (closed, on_closed, holds) = (closed.clone(), on_closed.clone(), holds.clone());
            move || {
                // A connection closed from outside writes no more: its author slot is free.
                release_holds(&holds);
                if !closed.replace(true)
                    && let Some(f) = on_closed.borrow().as_ref()
                {
                    f();
                }
            }
        };
        let db_vc = db.clone();
        let notify_vc = notify.clone();
        let version_change = Closure::<dyn FnMut()>::new(move || {
            db_vc.close();
            notify_vc();
        });
        // Settled when the browser closes the connection itself (a failure of its storage): a
        // commit in flight then may never hear how it ended (see `commit_batch`).
        let mut settle = None;
        let forced = js_sys::Promise::new(&mut |resolve, _| settle = Some(resolve));
        let close = Closure::<dyn FnMut()>::new(move || {
            if let Some(resolve) = &settle {
                let _ = resolve.call0(&wasm_bindgen::JsValue::UNDEFINED);
            }
            notify();
        });
        db.set_onversionchange(Some(version_change.as_ref().unchecked_ref()));
        db.set_onclose(Some(close.as_ref().unchecked_ref()));
        IdbStorage {
            db,
            name: name.to_owned(),
            closed,
            on_closed,
            durability: Cell::default(),
            new: Cell::new(false),
            lost: RefCell::new(None),
            early: RefCell::new(None),
            writers: super::lock::Writers::new(name),
            locking: Rc::default(),
            space: Default::default(),
            ballast: Default::default(),
            holds,
            forced,
            _version_change: version_change,
            _close: close,
        }
    }

    /// Deletes IndexedDB database `name`. Other AuroraDB connections to it close themselves;
    /// fails with [`StorageError::Blocked`] if some other connection keeps it open (it is then
    /// deleted once that one closes).
    pub async fn delete(name: &str) -> Result<(), StorageError> {
        // Deleted on purpose: a later open that makes it afresh reports no loss.
        marker::unmark(name);
        let behind = queued_behind(name);
        let req = factory()?.delete_database(name).map_err(|e| storage_error(&e))?;
        match settle(&req, behind).await {
            Settled::Success => {
                // Again: an open queued before the delete may have marked it meanwhile (it found
                // the database there), and an open queued after it marks it afresh.
                marker::unmark(name);
                Ok(())
            }
            Settled::Failure => Err(IdbFailure::of_request(&req).into_storage(false)),
            Settled::Blocked => {
                let deleted = name.to_owned();
                abandon(&req, name, Box::new(move |_| marker::unmark(&deleted)));
                Err(StorageError::Blocked(format!(
                    "another connection keeps database {name:?} open; it is deleted when that connection closes"
                )))
            }
        }
    }
}
