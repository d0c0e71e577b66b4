//! The write lock every tab of a database shares: a Web Lock (`navigator.locks`) named after the
//! database, held around each write's catch-up and commit while other connections write the
//! database too, so the connections of all tabs commit one at a time and a write never loses to
//! another tab's more than once.
//!
//! - The lock is only taken while the database is contended ([`Writers`]): for
//!   [`CONTENDED_MS`] after another connection's commit was announced on the tab channel, or
//!   after a commit lost to another connection's (which tells the others so). A connection
//!   writing alone commits without it: asking for a Web Lock is a round trip to the browser
//!   process, about a millisecond a write in Chromium, as much as a small IndexedDB commit.
//!   A write that loses because it went without the lock takes it before catching up and trying
//!   again.
//! - The lock is only held for one write's IndexedDB work: never across application code, never
//!   while opening or upgrading the database. An upgrade in another tab therefore never waits for
//!   the lock: it closes this connection (`versionchange`), the write in progress fails with
//!   `DatabaseClosedError`, and the lock is released with it.
//! - The browser releases a tab's locks when the tab closes, crashes or is discarded, and
//!   Chromium does not freeze a page that holds one; a failed write releases it like a finished
//!   one (the guard is dropped on every path). While it holds the lock, a connection says so on
//!   the writers' channel every [`HEARTBEAT_MS`]; a write waiting for the lock waits on while
//!   such signs come (a read that holds it to see the log whole, a large write), and gives up
//!   the request and goes without it once none came for [`LOCK_WAIT_MS`] (its holder is a page
//!   suspended or hung, or one that never lets go), or after [`LOCK_WAIT_MAX_MS`] in all.
//! - The lock only spares writes from losing to each other: what keeps them correct is the
//!   commit's own check that no other connection committed since this one looked. A write
//!   without the lock is as correct, and retries if it loses.
//! - Where `navigator.locks` is missing (an old browser) or refuses the request (an opaque
//!   origin), the write goes without the lock: if it loses to another tab's commit, it catches up
//!   and retries after a wait that grows exponentially, with jitter
//!   ([`retry_delay_ms`](auroradb::storage::retry_delay_ms)).
//!
//! The locks a connection holds for its whole life ([`Storage::hold`](auroradb::Storage::hold):
//! its author slot) are Web Locks too, taken only if free (`ifAvailable`), and named
//! `auroradb-<what>:<database name>` (`auroradb-author/0:notes`): the `-` keeps them apart from
//! every write lock (`auroradb:` + any name), and `<what>` has no `:`, so two databases' names
//! never meet. They are released when the connection closes (or is closed by an upgrade in
//! another tab, or by the browser), when it is dropped, and by the browser with the tab.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{BroadcastChannel, MessageEvent};

use auroradb::storage::{WriteLock, retry_delay_ms};

use super::request::sleep;

/// How long a write waits for the lock after the last sign that its holder lives, before it
/// goes without it.
const LOCK_WAIT_MS: i32 = 5_000;

/// How long a write waits for the lock at most, however alive its holder.
const LOCK_WAIT_MAX_MS: f64 = 60_000.0;

/// How often a connection holding the lock says so on the writers' channel.
const HEARTBEAT_MS: i32 = 1_000;

/// The message of a connection holding the lock on the writers' channel (any other message
/// there is a commit that lost).
const HOLDING: &str = "holding";

/// How long, in ms, writes take the lock after the last sign that another connection writes the
/// database.
const CONTENDED_MS: f64 = 2_000.0;

/// Whether other connections write the database now, as far as this one can tell: the time
/// until which its writes take the lock, moved on by the tab channel's notes (through
/// [`Writers::other_wrote`]) and by the messages of the writers' channel
/// (`auroradb-writers:<name>`), on which a connection whose commit lost says so.
#[wasm_bindgen]
extern "C" {
    /// `performance.now()`: milliseconds on a clock that never goes back, unlike `Date.now()`,
    /// which a user setting the wall clock back moves back too.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    pub(crate) fn monotonic_ms() -> f64;
}

pub(super) struct Writers {
    until: Rc<Cell<f64>>,
    /// When another connection last said it holds the lock.
    holder_seen: Rc<Cell<f64>>,
    channel: Option<Channel>,
}

/// A `BroadcastChannel` and its message handler.
type Channel = (BroadcastChannel, Closure<dyn FnMut(MessageEvent)>);

impl Writers {
    /// The writers of database `name`: none known yet.
    pub(super) fn new(name: &str) -> Writers {
        let until = Rc::new(Cell::new(0.0));
        let holder_seen = Rc::new(Cell::new(f64::NEG_INFINITY));
        let has_channel = Reflect::has(&js_sys::global(), &"BroadcastChannel".into()).unwrap_or(false);
        let channel = has_channel.then(|| BroadcastChannel::new(&writers_channel(name)).ok()).flatten();
        let channel = channel.map(|channel| {
            let (until, holder_seen) = (until.clone(), holder_seen.clone());
            let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                let now = monotonic_ms();
                until.set(now + CONTENDED_MS);
                if e.data().as_string().as_deref() == Some(HOLDING) {
                    holder_seen.set(now);
                }
            });
            channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            (channel, on_message)
        });
        Writers { until, holder_seen, channel }
    }

    /// Whether another connection said it holds the lock within the last [`LOCK_WAIT_MS`].
    fn holder_alive(&self) -> bool {
        monotonic_ms() - self.holder_seen.get() < f64::from(LOCK_WAIT_MS)
    }

    /// Says on the writers' channel that this connection holds the lock, every [`HEARTBEAT_MS`]
    /// until the returned guard is dropped.
    fn beating(&self) -> Option<Beating> {
        let channel = self.channel.as_ref()?.0.clone();
        let beat = Closure::<dyn FnMut()>::new(move || {
            let _ = channel.post_message(&JsValue::from_str(HOLDING));
        });
        let global = js_sys::global();
        let set = Reflect::get(&global, &"setInterval".into()).ok()?.dyn_into::<Function>().ok()?;
        let id = set.call2(&global, beat.as_ref().unchecked_ref(), &JsValue::from(HEARTBEAT_MS)).ok()?;
        Some(Beating { id, _beat: beat })
    }

    /// Whether writes take the lock now.
    pub(super) fn contended(&self) -> bool {
        monotonic_ms() < self.until.get()
    }

    /// Another connection committed: writes take the lock for a while.
    pub(super) fn other_wrote(&self) {
        self.until.set(monotonic_ms() + CONTENDED_MS);
    }

    /// A commit of this connection lost to another's: writes take the lock for a while, and the
    /// other connections are told to take it too (one of them wrote without it).
    pub(super) fn lost(&self) {
        self.other_wrote();
        if let Some((channel, _)) = &self.channel {
            let _ = channel.post_message(&JsValue::TRUE);
        }
    }
}

/// The timer of [`Writers::beating`] and what it calls, cleared when dropped.
struct Beating {
    id: JsValue,
    _beat: Closure<dyn FnMut()>,
}

impl Drop for Beating {
    fn drop(&mut self) {
        let global = js_sys::global();
        if let Ok(clear) = Reflect::get(&global, &"clearInterval".into())
            && let Some(clear) = clear.dyn_ref::<Function>()
        {
            let _ = clear.call1(&global, &self.id);
        }
    }
}

impl Drop for Writers {
    fn drop(&mut self) {
        if let Some((channel, _)) = self.channel.take() {
            channel.set_onmessage(None);
            channel.close();
        }
    }
}

/// The name of the lock of database `name` (names starting with `-` are reserved by the API).
pub(super) fn lock_name(name: &str) -> String {
    format!("auroradb:{name}")
}

/// The name of the tab channel of database `name`, on which its instances tell each other of
/// their commits (see `OpenDatabase`).
pub(crate) fn tab_channel(name: &str) -> String {
    format!("auroradb:{name}")
}

/// The name of the writers' channel of database `name`. The `-` keeps it apart from every
/// database's tab channel (`auroradb:` + its name): `auroradb:<name>:writers`, its name before,
/// was the tab channel of the database named `<name>:writers`.
pub(super) fn writers_channel(name: &str) -> String {
    format!("auroradb-writers:{name}")
}

/// The name of the lock `what` that a connection to database `name` holds for its life.
pub(super) fn hold_name(what: &str, name: &str) -> String {
    format!("auroradb-{what}:{name}")
}

/// A granted Web Lock: dropping it resolves the promise its callback returned, which releases it.
pub(super) struct Held {
    pub(super) release: Function,
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

/// A new `AbortController`, where there is one.
fn abort_controller() -> Option<JsValue> {
    let class = Reflect::get(&js_sys::global(), &"AbortController".into()).ok()?;
    Reflect::construct(class.dyn_ref::<Function>()?, &Array::new()).ok()
}

/// Waits for the exclusive lock of database `name`, as long as its holder is alive (see the
/// module docs); no lock where Web Locks are missing or refuse, or once the wait is given up.
pub(super) async fn acquire(name: &str, writers: &Writers) -> WriteLock {
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
        let _ = grant.call1(&JsValue::UNDEFINED, &JsValue::TRUE);
        held.into()
    });
    let controller = abort_controller();
    let options = js_sys::Object::new();
    if let Some(signal) = controller.as_ref().and_then(|c| Reflect::get(c, &"signal".into()).ok()) {
        let _ = Reflect::set(&options, &"signal".into(), &signal);
    }
    let request = Reflect::get(&locks, &"request".into()).ok().and_then(|f| f.dyn_into::<Function>().ok());
    let Some(request) = request else { return WriteLock::none() };
    let requested = match request.call3(&locks, &JsValue::from_str(&lock_name(name)), &options, &callback) {
        Ok(p) => p,
        Err(_) => return WriteLock::none(),
    };
    // `requested` settles first only if the request failed (it fulfils after the release); the
    // timer fulfils with `undefined`, the grant with `true`.
    let started = monotonic_ms();
    loop {
        let first = Promise::race(&Array::of3(&granted, &requested, &sleep(LOCK_WAIT_MS)));
        match JsFuture::from(first).await {
            Ok(v) if v == JsValue::TRUE => return WriteLock::held((held_lock, writers.beating())),
            Ok(v) if v.is_undefined() && writers.holder_alive() && monotonic_ms() - started < LOCK_WAIT_MAX_MS => {}
            Ok(_) => {
                // Still waiting: withdraw the request (a grant that came meanwhile is released at
                // once when `held_lock` is dropped).
                if let Some(c) = &controller
                    && let Ok(abort) = Reflect::get(c, &"abort".into())
                    && let Some(abort) = abort.dyn_ref::<Function>()
                {
                    let _ = abort.call0(c);
                }
                return WriteLock::none();
            }
            Err(_) => return WriteLock::none(),
        }
    }
}

/// What [`hold`] got.
pub(super) enum Hold {
    /// The lock, until this is dropped (or its `release` called).
    Held(Held),
    /// Another connection, in this tab or another, holds it.
    Taken,
    /// No Web Locks here, or they refused the request.
    Unsupported,
}

/// Takes the exclusive Web Lock `lock_name` if it is free, without waiting.
pub(super) async fn hold(lock_name: &str) -> Hold {
    let Some(locks) = lock_manager() else { return Hold::Unsupported };
    let mut release = None;
    let held = Promise::new(&mut |resolve, _| release = Some(resolve));
    // Made before waiting, so that the lock is released even if this future is dropped first.
    let Some(held_lock) = release.map(|release| Held { release }) else { return Hold::Unsupported };
    let mut answer_with = None;
    let answered = Promise::new(&mut |resolve, _| answer_with = Some(resolve));
    let Some(answer) = answer_with else { return Hold::Unsupported };
    // With `ifAvailable`, the callback runs at once: with the lock, kept until `held` settles, or
    // with `null` if another holds it.
    let callback = Closure::once_into_js(move |lock: JsValue| -> JsValue {
        let granted = !lock.is_null();
        let _ = answer.call1(&JsValue::UNDEFINED, &JsValue::from_bool(granted));
        if granted { held.into() } else { JsValue::UNDEFINED }
    });
    let options = js_sys::Object::new();
    let _ = Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE);
    let request = Reflect::get(&locks, &"request".into()).ok().and_then(|f| f.dyn_into::<Function>().ok());
    let Some(request) = request else { return Hold::Unsupported };
    let requested = match request.call3(&locks, &JsValue::from_str(lock_name), &options, &callback) {
        Ok(p) => p,
        Err(_) => return Hold::Unsupported,
    };
    // `requested` settles first only if the request failed (an opaque origin rejects it).
    match JsFuture::from(Promise::race(&Array::of2(&answered, &requested))).await {
        Ok(v) if v == JsValue::TRUE => Hold::Held(held_lock),
        Ok(v) if v == JsValue::FALSE => Hold::Taken,
        _ => Hold::Unsupported,
    }
}

/// Waits before retry `attempt` of a commit that lost to another tab's (see the module docs).
pub(super) async fn back_off(attempt: u32) {
    let ms = retry_delay_ms(attempt, js_sys::Math::random());
    if ms > 0.0 {
        let _ = JsFuture::from(sleep(ms.ceil() as i32)).await;
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    #[wasm_bindgen_test]
    fn no_database_s_tab_channel_or_lock_is_named_as_another_s_writers_channel() {
        for name in ["notes", "notes:writers", "-writers:notes", ":", ""] {
            for other in ["notes", "notes:writers", "writers", ""] {
                assert_ne!(tab_channel(name), writers_channel(other), "{name:?} / {other:?}");
                assert_ne!(lock_name(name), writers_channel(other), "{name:?} / {other:?}");
                assert_ne!(hold_name("author/0", name), writers_channel(other));
            }
        }
    }
}
