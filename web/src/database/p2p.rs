//! Peer-to-peer sync, as the `AuroraDB` class drives it: the adapter's events go to the
//! attached [`SyncHub`].

use js_sys::{Array, Function, Promise};
use wasm_bindgen::prelude::*;

use super::AuroraCore;
use crate::error::to_js_error;
use crate::open_database::AttachedSync;
use crate::promise::promise;
use crate::records::Obj;
use crate::sync::SyncHub;
use auroradb::{DbError, EncodedOp, StorageError};
use auroradb_net::SyncReport;

impl AttachedSync for SyncHub {
    fn post_local(&self, ops: &[EncodedOp]) {
        SyncHub::post_local(self, ops);
    }

    fn close(&self) {
        SyncHub::close(self);
    }
}

/// A sync round's report as `{ peers, sent, received }`.
fn report_js(r: &SyncReport) -> JsValue {
    Obj::new().set("peers", r.peers as f64).set("sent", r.sent as f64).set("received", r.received as f64).build()
}

#[wasm_bindgen]
impl AuroraCore {
    /// Loads the log's index (the id and hash of every op, the fingerprints) unless it is
    /// loaded: the sync engine reads it, so `attach` needs it first. Opening does not load it,
    /// and writes load it themselves.
    #[wasm_bindgen(js_name = loadLog)]
    pub fn load_log(&self) -> Promise {
        self.spawn(|open| async move {
            open.run("loadLog", async move |db| {
                db.load_log().await?;
                Ok(JsValue::UNDEFINED)
            })
            .await
        })
    }

    /// Starts peer-to-peer sync: this database is `localId` on the network, and frames for a
    /// peer go out through `send(peerId, bytes)` (the adapter's `send`; called after the engine
    /// returns, never from inside it). Replaces any earlier attachment. Fails with
    /// `DatabaseClosedError` once the database is closed, and with `InvalidConfigError` before
    /// `loadLog()` has resolved (the engine would see an empty log).
    pub fn attach(&self, #[wasm_bindgen(js_name = localId)] local_id: String, send: Function) -> Result<(), JsValue> {
        if self.open.closed.get() {
            return Err(to_js_error(&DbError::Storage(StorageError::Closed)));
        }
        if !self.open.log.borrow().is_indexed() {
            return Err(to_js_error(&DbError::InvalidConfig("attach() before loadLog() resolved".into())));
        }
        let hub = SyncHub::new(&self.open, local_id, send);
        self.open.attach(hub);
        Ok(())
    }

    /// Stops peer-to-peer sync (the database stays open).
    pub fn detach(&self) {
        self.open.detach();
    }

    /// Whether peer-to-peer sync is attached.
    #[wasm_bindgen(getter)]
    pub fn attached(&self) -> bool {
        self.open.hub().is_some()
    }

    /// The adapter connected `peerId`.
    #[wasm_bindgen(js_name = peerUp)]
    pub fn peer_up(&self, #[wasm_bindgen(js_name = peerId)] peer_id: String) {
        if let Some(hub) = self.open.hub() {
            hub.peer_up(&peer_id);
        }
    }

    /// The adapter lost `peerId`.
    #[wasm_bindgen(js_name = peerDown)]
    pub fn peer_down(&self, #[wasm_bindgen(js_name = peerId)] peer_id: String) {
        if let Some(hub) = self.open.hub() {
            hub.peer_down(&peer_id);
        }
    }

    /// The adapter received `bytes` from `from`.
    pub fn frame(&self, from: String, bytes: &[u8]) {
        if let Some(hub) = self.open.hub() {
            hub.frame(&from, bytes.to_vec());
        }
    }

    /// The engine's clock (`Date.now()`); call it about every second.
    pub fn tick(&self, now: f64) {
        if let Some(hub) = self.open.hub() {
            hub.tick(now.max(0.0) as u64);
        }
    }

    /// Syncs with every connected peer; resolves to `{ peers, sent, received }` once every
    /// session has completed or been abandoned (`{ peers: 0, ... }` without peers or sync).
    pub fn sync(&self) -> Promise {
        let hub = self.open.hub();
        promise(async move {
            let report = match hub {
                Some(hub) => hub.sync().await,
                None => SyncReport::default(),
            };
            Ok(report_js(&report))
        })
    }

    /// Pushes the local writes that have not reached a peer yet; returns to how many peers.
    pub fn post(&self) -> u32 {
        self.open.hub().map_or(0, |h| h.post() as u32)
    }

    /// Starts a reconciliation round with every connected peer; returns how many.
    pub fn fetch(&self) -> u32 {
        self.open.hub().map_or(0, |h| h.fetch() as u32)
    }

    /// Number of peers the engine is connected to.
    #[wasm_bindgen(getter)]
    pub fn connections(&self) -> u32 {
        self.open.hub().map_or(0, |h| h.connections() as u32)
    }

    /// Ids of the peers the engine is connected to.
    #[wasm_bindgen(js_name = connectedPeers)]
    pub fn connected_peers(&self) -> Array {
        self.open.hub().map_or_else(Array::new, |h| h.connected().iter().map(|p| JsValue::from_str(p)).collect())
    }

    /// The engine's traffic counters: `{ framesSent, bytesSent, framesReceived, bytesReceived,
    /// opsSent, opsReceived, rejected, duplicates, deferred, sessionsCompleted, sessionsAbandoned }`, or
    /// `null` without sync.
    #[wasm_bindgen(js_name = syncStats)]
    pub fn sync_stats(&self) -> JsValue {
        let Some(hub) = self.open.hub() else { return JsValue::NULL };
        let s = hub.stats();
        Obj::new()
            .set("framesSent", s.frames_sent as f64)
            .set("bytesSent", s.bytes_sent as f64)
            .set("framesReceived", s.frames_received as f64)
            .set("bytesReceived", s.bytes_received as f64)
            .set("opsSent", s.ops_sent as f64)
            .set("opsReceived", s.ops_received as f64)
            .set("rejected", s.rejected as f64)
            .set("duplicates", s.duplicates as f64)
            .set("deferred", s.deferred as f64)
            .set("sessionsCompleted", s.sessions_completed as f64)
            .set("sessionsAbandoned", s.sessions_abandoned as f64)
            .build()
    }
}
