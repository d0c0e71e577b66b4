//! IndexedDB's event-based requests as futures: a request's result, a transaction's end, and an
//! open or delete request that may be blocked by other connections.

use std::cell::RefCell;
use std::pin::pin;
use std::rc::Rc;

use futures::future::{Either, select};
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbFactory, IdbOpenDbRequest, IdbRequest, IdbTransaction};

use auroradb::StorageError;

use super::error::IdbFailure;

/// The global `indexedDB`, if this context has one.
pub(super) fn factory() -> Result<IdbFactory, StorageError> {
    Reflect::get(&js_sys::global(), &JsValue::from_str("indexedDB"))
        .ok()
        .and_then(|f| f.dyn_into::<IdbFactory>().ok())
        .ok_or_else(|| StorageError::Backend("IndexedDB is not available here".into()))
}

/// A promise settled by the request's `success` (with the event) or `error` event.
fn request_promise(req: &IdbRequest) -> Promise {
    Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
    })
}

/// The request's result once it succeeds. The request's handlers are set at once, not when the
/// future is first polled, so requests issued together can be awaited one after another.
pub(super) fn request_result(req: &IdbRequest) -> impl Future<Output = Result<JsValue, IdbFailure>> + use<> {
    let settled = JsFuture::from(request_promise(req));
    let req = req.clone();
    async move {
        match settled.await {
            Ok(_) => req.result().map_err(|e| IdbFailure::from_js(&e)),
            Err(_) => Err(IdbFailure::of_request(&req)),
        }
    }
}

/// A promise fulfilled on `complete`, rejected on `abort` (which follows every failure).
pub(super) fn transaction_promise(tx: &IdbTransaction) -> Promise {
    Promise::new(&mut |resolve, reject| {
        tx.set_oncomplete(Some(&resolve));
        tx.set_onabort(Some(&reject));
    })
}

/// How long a request or transaction still has to end once the browser has closed its
/// connection (the spec has transactions aborted before the `close` event).
const CUT_OFF_GRACE_MS: i32 = 200;

/// `fut` (a request's or transaction's end), unless the browser closes the connection
/// (`forced`, fulfilled by its `close` event) and `fut` has not ended [`CUT_OFF_GRACE_MS`] later:
/// then `None`. A transaction of a connection the browser closed may never end: seen for one
/// that was committing when the disk filled up. A connection closed from this side (another
/// tab's upgrade) lets its transactions end, and is not raced.
pub(super) async fn unless_cut_off<T>(forced: &Promise, fut: impl Future<Output = T>) -> Option<T> {
    let fut = pin!(fut);
    match select(fut, JsFuture::from(forced.clone())).await {
        Either::Left((out, _)) => Some(out),
        Either::Right((_, fut)) => match select(fut, JsFuture::from(sleep(CUT_OFF_GRACE_MS))).await {
            Either::Left((out, _)) => Some(out),
            Either::Right(_) => None,
        },
    }
}

/// How long an open or delete request may wait for other connections to close before it is
/// reported as blocked. A connection that is closing still blocks until its last transaction
/// ends, so a short wait is normal; one that never closes is reported.
const BLOCKED_GRACE_MS: i32 = 1500;

/// How an open or delete request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Settled {
    Success,
    Failure,
    /// Still blocked by another connection after [`BLOCKED_GRACE_MS`].
    Blocked,
}

/// A promise fulfilled after `ms` milliseconds.
pub(super) fn sleep(ms: i32) -> Promise {
    Promise::new(&mut |resolve, _| {
        let global = js_sys::global();
        if let Ok(f) = Reflect::get(&global, &JsValue::from_str("setTimeout"))
            && let Some(f) = f.dyn_ref::<Function>()
        {
            let _ = f.call2(&global, &resolve, &JsValue::from(ms));
        }
    })
}

thread_local! {
    /// The databases with an open or delete request of this page still queued after it was
    /// reported blocked (once per such request).
    static QUEUED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Whether a request for database `name` made now would wait behind a request of this page that
/// was reported blocked: it gets no `blocked` event of its own, and would wait, silent, until
/// the connections blocking that one close.
pub(super) fn queued_behind(name: &str) -> bool {
    QUEUED.with(|q| q.borrow().iter().any(|n| n == name))
}

/// After a request for database `name` was reported blocked: IndexedDB cannot cancel it, so it
/// stays queued until the other connections close, and is noted until it ends
/// ([`queued_behind`]). `on_success` runs if it succeeds then.
pub(super) fn abandon(req: &IdbOpenDbRequest, name: &str, on_success: Box<dyn Fn(&IdbOpenDbRequest)>) {
    QUEUED.with(|q| q.borrow_mut().push(name.to_owned()));
    let name = name.to_owned();
    let ended = Rc::new(move || {
        QUEUED.with(|q| {
            let mut q = q.borrow_mut();
            if let Some(at) = q.iter().position(|n| *n == name) {
                q.remove(at);
            }
        })
    });
    let (req_ok, ended_ok) = (req.clone(), Rc::clone(&ended));
    let ok = Closure::<dyn FnMut()>::new(move || {
        on_success(&req_ok);
        ended_ok();
    });
    let failed = Closure::<dyn FnMut()>::new(move || ended());
    req.set_onsuccess(Some(ok.as_ref().unchecked_ref()));
    req.set_onerror(Some(failed.as_ref().unchecked_ref()));
    // They must outlive the call that gave up on the request.
    ok.forget();
    failed.forget();
}

/// Waits for an open or delete request, giving other connections [`BLOCKED_GRACE_MS`] to close
/// once it reports `blocked`; `behind`: it waits behind a request that was reported blocked
/// ([`queued_behind`]), and gets the same grace from the start.
pub(super) async fn settle(req: &IdbOpenDbRequest, behind: bool) -> Settled {
    let settled = Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
    });
    let blocked = if behind {
        Promise::resolve(&JsValue::UNDEFINED)
    } else {
        Promise::new(&mut |resolve, _| req.set_onblocked(Some(&resolve)))
    };
    let done = |r: Result<JsValue, JsValue>| if r.is_ok() { Settled::Success } else { Settled::Failure };
    let outcome = match select(JsFuture::from(settled), JsFuture::from(blocked)).await {
        Either::Left((r, _)) => done(r),
        Either::Right((_, settled)) => match select(settled, JsFuture::from(sleep(BLOCKED_GRACE_MS))).await {
            Either::Left((r, _)) => done(r),
            Either::Right(_) => Settled::Blocked,
        },
    };
    req.set_onblocked(None);
    outcome
}
