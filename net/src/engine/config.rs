//! [`SyncConfig`]: how the engine behaves.

use crate::{FrameLimits, ReconcileConfig};

/// How the engine behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncConfig {
    /// Frame and segment limits (sending and receiving).
    pub limits: FrameLimits,
    /// Branching and id-list threshold of reconciliation (its `max_frame` is taken from `limits`).
    pub reconcile: ReconcileConfig,
    /// Whether [`SyncEngine::tick`](super::SyncEngine::tick) starts a session with every peer
    /// each `sync_interval_ms`.
    pub auto_sync: bool,
    /// Milliseconds between anti-entropy rounds.
    pub sync_interval_ms: u64,
    /// A session with no progress for this long is abandoned.
    pub session_timeout_ms: u64,
    /// Whether a session starts when a peer connects (on the side with the smaller peer id).
    pub sync_on_connect: bool,
    /// Frames accepted from one peer between two ticks; more is a flood and is dropped. The
    /// counters reset on [`SyncEngine::tick`](super::SyncEngine::tick), so a database ticks
    /// regularly (every second or so) even without `auto_sync`.
    pub max_frames_per_tick: u32,
    /// Ops loaded from the replica at once while shipping.
    pub load_batch: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            limits: FrameLimits::default(),
            reconcile: ReconcileConfig::default(),
            auto_sync: true,
            sync_interval_ms: 30_000,
            session_timeout_ms: 60_000,
            sync_on_connect: true,
            max_frames_per_tick: 10_000,
            load_batch: 1024,
        }
    }
}

impl SyncConfig {
    /// The configuration with its limits clamped, reconciliation's frame limit taken from them.
    pub(super) fn clamped(self) -> SyncConfig {
        let limits = self.limits.clamped();
        let reconcile = ReconcileConfig { max_frame: limits.max_frame, ..self.reconcile }.clamped();
        SyncConfig { limits: FrameLimits { max_frame: reconcile.max_frame, ..limits }, reconcile, ..self }
    }
}
