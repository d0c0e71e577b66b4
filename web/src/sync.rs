//! Peer-to-peer sync in the browser: [`SyncHub`] runs a [`SyncEngine`] over the database
//! ([`DbReplica`], sharing the lock the JavaScript calls take) and the JavaScript adapter
//! ([`JsTransport`], behind admission), and turns what the engine does into events on the
//! `AuroraDB` object.
//!
//! The JavaScript class creates the adapter and wires it to the core methods (in
//! `database/p2p.rs`): `attach` with the adapter's id and a `send(peerId, bytes)` function, then
//! `peerUp`, `peerDown` and `frame` as the adapter reports, and `tick` about every second (the
//! engine's only clock).
//!
//! - An event from the adapter is queued on the transport and a pump task is started with
//!   `spawn_local` if none is running; it handles every queued event, then sends what the
//!   engine queued and dispatches events, until the queue is empty.
//! - Which linked peers the engine hears of is decided by admission
//!   ([`auroradb_net::admission`]): the hello naming the sync group (`p2pConfig.group`, else
//!   `p2pConfig.room`, else the database name), a nonce per attachment so that a restarted peer
//!   starts over, hellos again on `tick` while a link has not answered. Peers of another group
//!   are ignored quietly.
//! - A local write is pushed to the connected peers as soon as it is committed (with
//!   `autoSync`); without a peer, or with `autoSync: false`, it waits for `post()`.
//! - Ops applied from a peer are dispatched as `set` / `delete` / `change` with
//!   `source: 'peer'`, then `post` `{ peerId, ops, keys }`, from the engine's event for that
//!   batch, which carries the database's commit outcome.
//! - Engine events become `connection` / `disconnect` `{ peerId }`, `sync`
//!   `{ peers, sent, received }` and `error` `{ type, name, message, peerId, error, operation }`;
//!   a failure of the database keeps its name (a full quota is a `QuotaExceededError`).
//!
//! No `RefCell` borrow is held across an `await`, and JavaScript (the adapter's `send`, event
//! listeners) is only called once the engine has returned, so a listener may call the database
//! again.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use auroradb_log::{EncodedOp, PeerId};
use auroradb_net::{
    Admission, AdmittedTransport, EngineStats, FrameLimits, NetError, SyncConfig, SyncEngine, SyncError, SyncEvent,
    SyncReport,
};
use js_sys::{Array, Function, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

use crate::error::js_error;
use crate::error::to_js_error;
use crate::events::Source;
use crate::idb::IdbStorage;
use crate::open_database::OpenDatabase;
use crate::records::Obj;
use crate::transport::{JsTransport, peer_id_of};
use auroradb::{DbError, DbReplica, ErrorName, WriteOutcome};

/// The engine of a JavaScript database: the adapter's links reach it through admission.
type Engine = SyncEngine<DbReplica<IdbStorage>, AdmittedTransport<Rc<JsTransport>>>;

/// Local ops kept for `post()` at most; older ones reach peers by reconciliation.
const MAX_UNPOSTED: usize = 10_000;

/// The peer-to-peer sync of one open database (see the module documentation).
pub struct SyncHub {
    engine: Engine,
    transport: Rc<JsTransport>,
    inner: Weak<OpenDatabase<SyncHub>>,
    local: String,
    send: Function,
    push: bool,
    unposted: RefCell<Vec<EncodedOp>>,
    pumping: Cell<bool>,
}

impl core::fmt::Debug for SyncHub {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SyncHub")
            .field("local", &self.local)
            .field("connected", &self.connected())
            .finish_non_exhaustive()
    }
}

impl SyncHub {
    /// Sync for `inner`, known to peers as `local`; frames go out through `send(peer, bytes)`.
    pub fn new(inner: &Rc<OpenDatabase<SyncHub>>, local: String, send: Function) -> Rc<SyncHub> {
        let opts = &inner.sync_options;
        let transport = Rc::new(JsTransport::new());
        let me = transport.register(&local);
        // A peer's changes are dispatched as the apply commits them, under the database's lock,
        // after what the apply caught up with of the other tabs' commits: the events come in
        // commit order, before those of any commit made after it (another tab's, whose catch-up
        // takes the lock next). `post` follows when the engine reports the batch.
        let (announcer, names) = (Rc::downgrade(inner), transport.clone());
        let replica = DbReplica::new(inner.db.clone(), inner.log.clone(), me).on_applied(move |from, db, out| {
            let Some(inner) = announcer.upgrade().filter(|_| !names.is_closed()) else { return };
            inner.emit_caught(inner.settle(db));
            inner.events.emit_changes_from(&out.changes, Source::Peer, names.name_of(&from).as_deref());
        });
        let defaults = SyncConfig::default();
        let max_frame = opts.max_frame.map_or(defaults.limits.max_frame, |m| m.min(defaults.limits.max_frame));
        let config = SyncConfig {
            limits: FrameLimits { max_frame, max_op: inner.max_op, ..defaults.limits },
            auto_sync: opts.auto_sync,
            sync_on_connect: opts.auto_sync,
            sync_interval_ms: opts.sync_interval_ms,
            session_timeout_ms: opts.session_timeout_ms,
            ..defaults
        };
        let mut nonce = [0u8; 8];
        nonce.copy_from_slice(&PeerId::random().0[..8]);
        let admission = Admission::new(opts.group.clone().unwrap_or_else(|| inner.name.clone()), nonce)
            .with_clock(crate::config::js_clock, inner.max_drift);
        Rc::new(SyncHub {
            engine: SyncEngine::new(replica, AdmittedTransport::new(transport.clone(), admission), config),
            transport,
            inner: Rc::downgrade(inner),
            local,
            send,
            push: opts.auto_sync,
            unposted: RefCell::new(Vec::new()),
            pumping: Cell::new(false),
        })
    }

    /// This peer's id on the network.
    pub fn local(&self) -> &str {
        &self.local
    }

    /// The engine's traffic counters.
    pub fn stats(&self) -> EngineStats {
        self.engine.stats()
    }

    /// Peers the engine is connected to (their hello matched).
    pub fn connections(&self) -> usize {
        self.engine.peers().len()
    }

    /// Their ids.
    pub fn connected(&self) -> Vec<String> {
        self.engine.peers().iter().filter_map(|p| self.transport.name_of(p)).collect()
    }

    /// Stops: queued events and frames are dropped, the engine hears nothing more, and every
    /// session is abandoned (a `sync()` called before resolves with what was done).
    pub fn close(&self) {
        self.engine.abandon_all();
        self.transport.close();
        self.engine.transport().reset();
        self.unposted.borrow_mut().clear();
    }

    fn closed(&self) -> bool {
        self.transport.is_closed()
    }

    /// The adapter linked `name`: admission says hello.
    pub fn peer_up(self: &Rc<Self>, name: &str) {
        if self.closed() || name == self.local {
            return;
        }
        let id = self.transport.register(name);
        self.transport.peer_up(id);
        self.schedule();
    }

    /// The adapter lost `name`.
    pub fn peer_down(self: &Rc<Self>, name: &str) {
        if self.closed() {
            return;
        }
        self.transport.peer_down(peer_id_of(name));
        self.schedule();
    }

    /// A frame from `name`: a hello for admission, or a frame for the engine once `name` is
    /// admitted.
    pub fn frame(self: &Rc<Self>, name: &str, bytes: Vec<u8>) {
        if self.closed() || name == self.local {
            return;
        }
        let id = self.transport.register(name);
        self.transport.frame(id, bytes);
        self.schedule();
    }

    /// The engine's clock: resets flood counters, abandons stale sessions, starts anti-entropy
    /// when due; admission says hello again to linked peers that have not answered.
    pub fn tick(self: &Rc<Self>, now_ms: u64) {
        if self.closed() {
            return;
        }
        self.engine.tick(now_ms);
        self.flush();
    }

    /// Pushes the ops of a local write to the connected peers (or keeps them for `post()`).
    pub fn post_local(&self, ops: &[EncodedOp]) {
        if self.closed() || ops.is_empty() {
            return;
        }
        let sent = self.push && self.engine.post(ops) > 0;
        if !sent {
            let mut unposted = self.unposted.borrow_mut();
            unposted.extend_from_slice(ops);
            let excess = unposted.len().saturating_sub(MAX_UNPOSTED);
            unposted.drain(..excess);
        }
        self.flush();
    }

    /// Pushes the local writes that have not reached a peer yet; returns to how many peers
    /// they went (0 when nothing was waiting or no peer is connected).
    pub fn post(&self) -> usize {
        if self.closed() {
            return 0;
        }
        let pending = std::mem::take(&mut *self.unposted.borrow_mut());
        if pending.is_empty() {
            return 0;
        }
        let peers = self.engine.post(&pending);
        if peers == 0 {
            let mut unposted = self.unposted.borrow_mut();
            let newer = std::mem::replace(&mut *unposted, pending);
            unposted.extend(newer);
        }
        self.flush();
        peers
    }

    /// Starts a reconciliation round with every connected peer; returns how many.
    pub fn fetch(&self) -> usize {
        if self.closed() {
            return 0;
        }
        let peers = self.engine.fetch();
        self.flush();
        peers
    }

    /// A reconciliation round with every connected peer, resolving when each session has
    /// completed or been abandoned.
    pub async fn sync(self: Rc<Self>) -> SyncReport {
        // Closed (the database closes while the call waited its turn): no session could end.
        if self.closed() {
            return SyncReport::default();
        }
        let round = self.engine.sync();
        self.flush();
        round.await
    }

    /// Handles queued transport events in a task of its own, unless one is running.
    fn schedule(self: &Rc<Self>) {
        if self.pumping.get() || self.closed() || self.transport.pending() == 0 {
            return;
        }
        self.pumping.set(true);
        let me = Rc::clone(self);
        spawn_local(async move {
            loop {
                me.engine.pump().await;
                me.flush();
                if me.transport.pending() == 0 {
                    break;
                }
            }
            me.pumping.set(false);
        });
    }

    /// Sends the frames the engine and admission queued, then dispatches what happened.
    fn flush(&self) {
        for (name, bytes) in self.transport.take_outbox() {
            let data = Uint8Array::from(bytes.as_slice());
            if let Err(thrown) = self.send.call2(&JsValue::NULL, &JsValue::from_str(&name), &data) {
                let message = Reflect::get(&thrown, &"message".into())
                    .ok()
                    .and_then(|m| m.as_string())
                    .unwrap_or_else(|| format!("{thrown:?}"));
                self.emit_detail(
                    "send-failed",
                    ErrorName::Transport,
                    &format!("sending to {name}: {message}"),
                    Some(&name),
                );
            }
        }
        let events = self.engine.drain_events();
        let inner = match self.inner.upgrade() {
            // Once closed, what the engine still finishes is not announced.
            Some(inner) if !self.closed() => inner,
            _ => return,
        };
        if events.iter().any(|e| matches!(e, SyncEvent::Post { .. })) {
            // The counters were refreshed as the ops committed (`on_applied`).
            inner.notify_tabs();
        }
        let name_of = |p: &PeerId| self.transport.name_of(p).map_or(JsValue::NULL, |n| JsValue::from_str(&n));
        for event in events {
            match event {
                SyncEvent::Connection { peer } => {
                    inner.events.emit("connection", &Obj::new().set("peerId", name_of(&peer)).build())
                }
                SyncEvent::Disconnect { peer } => {
                    inner.events.emit("disconnect", &Obj::new().set("peerId", name_of(&peer)).build())
                }
                SyncEvent::Sync(r) => inner.events.emit(
                    "sync",
                    &Obj::new()
                        .set("peers", r.peers as f64)
                        .set("sent", r.sent as f64)
                        .set("received", r.received as f64)
                        .build(),
                ),
                // The batch's commit outcome comes with the event that reports it.
                SyncEvent::Post { peer, applied, .. } => self.announce(&inner, &peer, &applied),
                SyncEvent::Error(e) => self.report(&inner, &e),
            }
        }
    }

    /// Dispatches `post` for a peer's ops (their changes were dispatched as they were
    /// committed, see [`SyncHub::new`]): the keys they changed, each once, in the order of
    /// their first change.
    fn announce(&self, inner: &OpenDatabase<SyncHub>, from: &PeerId, out: &WriteOutcome) {
        let peer = self.transport.name_of(from);
        let mut firsts: Vec<(&str, usize)> = out.changes.iter().enumerate().map(|(i, c)| (c.key.as_str(), i)).collect();
        // By key, then by place: the first change of each key is kept.
        firsts.sort_unstable();
        firsts.dedup_by(|later, first| later.0 == first.0);
        firsts.sort_unstable_by_key(|&(_, i)| i);
        let keys: Array = firsts.into_iter().map(|(key, _)| JsValue::from_str(key)).collect();
        let detail = Obj::new()
            .set("peerId", peer.map_or(JsValue::NULL, |p| JsValue::from_str(&p)))
            .set("ops", out.ops.len() as f64)
            .set("keys", keys);
        inner.events.emit("post", &detail.build());
    }

    /// Dispatches `error` for an engine error, unless it is not worth one.
    fn report(&self, inner: &OpenDatabase<SyncHub>, e: &SyncError<DbError>) {
        match e {
            // A frame that arrived after its peer went down: nothing to report.
            SyncError::Net(NetError::NotConnected(_)) => {}
            SyncError::Net(e) => {
                let kind = match e.inner() {
                    NetError::Replica { .. } => "sync-failed",
                    NetError::Transport { .. } => "send-failed",
                    NetError::Shipping { .. } => "shipping-failed",
                    NetError::ClockSkew { .. } => "clock-skew",
                    NetError::Equivocation { .. } => "equivocation",
                    _ if e.peer().is_some() => "peer-rejected",
                    _ => "sync-failed",
                };
                self.emit_error(kind, e);
            }
            SyncError::Replica(e) => inner.events.emit("error", &db_error_detail(e)),
            // A kind of engine error added after this code: still a sync failure, and named.
            e => self.emit_detail("sync-failed", ErrorName::Store, &e.to_string(), None),
        }
    }

    fn emit_error(&self, kind: &str, e: &NetError) {
        let name = ErrorName::of_sync(e);
        let peer = e.peer().and_then(|p| self.transport.name_of(&p));
        let message = match &peer {
            Some(p) => format!("{} (peer {p})", e.inner()),
            None => e.to_string(),
        };
        self.emit_detail(kind, name, &message, peer.as_deref());
    }

    /// Dispatches `error` with detail `{ type, name, message, peerId, error, operation: 'sync' }`.
    fn emit_detail(&self, kind: &str, name: ErrorName, message: &str, peer: Option<&str>) {
        let Some(inner) = self.inner.upgrade() else { return };
        inner.events.emit("error", &error_detail(kind, name, message, peer, js_error(name, message)));
    }
}

/// The detail of an `error` event, `{ type, name, message, peerId, error, operation: 'sync' }`,
/// around the JavaScript `error` of that name and message (which gets `type` and `peerId` too).
fn error_detail(kind: &str, name: ErrorName, message: &str, peer: Option<&str>, error: JsValue) -> JsValue {
    let peer = peer.map_or(JsValue::NULL, JsValue::from_str);
    let _ = Reflect::set(&error, &"type".into(), &JsValue::from_str(kind));
    let _ = Reflect::set(&error, &"peerId".into(), &peer);
    Obj::new()
        .set("type", kind)
        .set("name", name.as_str())
        .set("message", message)
        .set("peerId", peer)
        .set("error", error)
        .set("operation", "sync")
        .build()
}

/// The `error` detail for a failure of the database while syncing (applying a peer's ops,
/// loading ops to ship): type `sync-failed`, the error named as every database error is (a full
/// quota is a `QuotaExceededError`), no peer to blame.
fn db_error_detail(e: &DbError) -> JsValue {
    error_detail("sync-failed", e.error_name(), &e.to_string(), None, to_js_error(e))
}

#[cfg(test)]
mod tests {
    use auroradb::{DbError, StorageError};
    use js_sys::Reflect;
    use wasm_bindgen::JsValue;
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::db_error_detail;

    fn get(v: &JsValue, key: &str) -> JsValue {
        Reflect::get(v, &key.into()).unwrap()
    }

    #[wasm_bindgen_test]
    fn a_full_quota_while_syncing_is_a_quota_exceeded_error() {
        let detail = db_error_detail(&DbError::Storage(StorageError::QuotaExceeded("no room".into())));
        assert_eq!(get(&detail, "type"), "sync-failed");
        assert_eq!(get(&detail, "name"), "QuotaExceededError");
        assert_eq!(get(&detail, "operation"), "sync");
        assert!(get(&detail, "peerId").is_null());
        assert!(get(&detail, "message").as_string().unwrap().contains("no room"));
        let error = get(&detail, "error");
        assert_eq!(get(&error, "name"), "QuotaExceededError");
        assert_eq!(get(&error, "type"), "sync-failed");
    }
}
