//! The write lock every tab of a database shares: a Web Lock (`navigator.locks`) named after the
//! database, held around each write's catch-up and commit, so the connections of all tabs commit
//! one at a time and a write never loses to another tab's.
//!
//! - The lock is only held for one write's IndexedDB work: never across application code, never
//!   while opening or upgrading the database. An upgrade in another tab therefore never waits for
//!   the lock: it closes this connection (`versionchange`), the write in progress fails with
//!   `DatabaseClosedError`, and the lock is released with it.
//! - The browser releases a tab's locks when the tab closes, crashes or is discarded, and does
//!   not freeze a page that holds one; a failed write releases it like a finished one (the guard
//!   is dropped on every path).
//! - Where `navigator.locks` is missing (an old browser) or refuses the request (an opaque
//!   origin), the write goes without the lock: if it loses to another tab's commit, it catches up
//!   and retries after a wait that grows exponentially, with jitter
//!   ([`retry_delay_ms`](auroradb::storage::retry_delay_ms)).

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use auroradb::storage::{WriteLock, retry_delay_ms};

use super::request::sleep;

/// The name of the lock of database `name` (names starting with `-` are reserved by the API).
pub(super) fn lock_name(name: &str) -> String {
    format!("auroradb:{name}")
}

/// A granted Web Lock: dropping it resolves the promise its callback returned, which releases it.
struct Held {
    release: Function,
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.release.call0(&JsValue::UNDEFINED);
    }
}

/// `navigator.locks`, if this context has it.
fn lock_manager() -> Option<JsValue> {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok().filter(|n| n.is_object())?;
    let locks = Reflect::get(&navigator, &"locks".into()).ok().filter(|l| l.is_object())?;
    let request = Reflect::get(&locks, &"request".into()).ok()?;
    request.is_function().then_some(locks)
}

/// Waits for the exclusive lock `name`; no lock where Web Locks are missing or refuse.
pub(super) async fn acquire(name: &str) -> WriteLock {
    let Some(locks) = lock_manager() else { return WriteLock::none() };
    let mut release = None;
    let held = Promise::new(&mut |resolve, _| release = Some(resolve));
    // Made before waiting, so that the lock is released even if this future is dropped first.
    let Some(held_lock) = release.map(|release| Held { release }) else { return WriteLock::none() };
    let mut granted_with = None;
    let granted = Promise::new(&mut |resolve, _| granted_with = Some(resolve));
    let Some(grant) = granted_with else { return WriteLock::none() };
    // The callback runs once the lock is granted; the lock is kept until `held` settles.
    let callback = Closure::once_into_js(move |_lock: JsValue| -> JsValue {
        let _ = grant.call0(&JsValue::UNDEFINED);
        held.into()
    });
    let request = Reflect::get(&locks, &"request".into()).ok().and_then(|f| f.dyn_into::<Function>().ok());
    let Some(request) = request else { return WriteLock::none() };
    let requested = match request.call2(&locks, &JsValue::from_str(&lock_name(name)), &callback) {
        Ok(p) => p,
        Err(_) => return WriteLock::none(),
    };
    // `requested` settles first only if the request failed; it fulfils after the release.
    let first = Promise::race(&Array::of2(&granted, &requested));
    match JsFuture::from(first).await {
        Ok(_) => WriteLock::held(held_lock),
        Err(_) => WriteLock::none(),
    }
}

/// Waits before retry `attempt` of a commit that lost to another tab's (see the module docs).
pub(super) async fn back_off(attempt: u32) {
    let ms = retry_delay_ms(attempt, js_sys::Math::random());
    if ms > 0.0 {
        let _ = JsFuture::from(sleep(ms.ceil() as i32)).await;
    }
}
