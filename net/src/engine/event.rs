//! What the engine tells the application: [`SyncEvent`]s, [`SyncReport`]s of rounds, and
//! [`EngineStats`] counters.

use auroradb_log::PeerId;

use crate::SyncError;

/// What one sync round achieved: `{ peers, sent, received }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncReport {
    /// Peers whose session completed.
    pub peers: usize,
    /// Ops shipped to them.
    pub sent: u64,
    /// New ops received from them and applied.
    pub received: u64,
}

/// Events for the database to forward (`connection`, `disconnect`, `sync`, `post`, `error`).
///
/// `A` is what the replica reports having applied ([`Replica::Applied`]) and `E` the replica's
/// error ([`Replica::Error`]); [`EngineEvent`] names the events of an engine's replica.
///
/// [`Replica::Applied`]: crate::Replica::Applied
/// [`Replica::Error`]: crate::Replica::Error
/// [`EngineEvent`]: crate::EngineEvent
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEvent<A, E> {
    /// A peer connected.
    Connection {
        /// The peer.
        peer: PeerId,
    },
    /// A peer disconnected.
    Disconnect {
        /// The peer.
        peer: PeerId,
    },
    /// A sync round (a [`SyncEngine::sync`], a [`SyncEngine::fetch`], an anti-entropy tick or a
    /// connection) finished.
    ///
    /// [`SyncEngine::sync`]: crate::SyncEngine::sync
    /// [`SyncEngine::fetch`]: crate::SyncEngine::fetch
    Sync(SyncReport),
    /// Ops from a peer were applied, one event per batch the replica applied.
    Post {
        /// The peer that sent them.
        peer: PeerId,
        /// How many new ops were applied.
        ops: usize,
        /// What the replica reported: a database's commit outcome, with the changes to announce.
        applied: A,
    },
    /// Something was rejected or failed; errors caused by a peer are [`NetError::FromPeer`]
    /// inside [`SyncError::Net`], the replica's own failures [`SyncError::Replica`].
    ///
    /// [`NetError::FromPeer`]: crate::NetError::FromPeer
    Error(SyncError<E>),
}

/// Counters of the engine's traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineStats {
    /// Frames sent.
    pub frames_sent: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Frames received (accepted or not).
    pub frames_received: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Ops shipped in sessions and pushes.
    pub ops_sent: u64,
    /// New ops applied from peers.
    pub ops_received: u64,
    /// Frames or segments rejected.
    pub rejected: u64,
    /// Frames received again with the same number and bytes (a transport's resend of a frame it
    /// had delivered), dropped without blame.
    pub duplicates: u64,
    /// Segments set aside because an author's earlier ops had not arrived (fetched again later).
    pub deferred: u64,
    /// Sessions completed.
    pub sessions_completed: u64,
    /// Sessions abandoned (timeout, disconnect, protocol error).
    pub sessions_abandoned: u64,
}
