//! The sync crate's error type, and what the engine reports: its own errors or its replica's.

use auroradb_log::{LogError, OpId, PeerId};

/// Everything that can go wrong while syncing: bad frames and messages, bad ops from a peer,
/// protocol violations, and local replica or transport failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// A frame or message does not parse, or breaks a rule of the wire format.
    #[error("corrupt {what}: {reason}")]
    Corrupt {
        /// What was being decoded.
        what: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// A frame announces (or a message would need) more bytes than the frame limit.
    #[error("frame of {size} bytes exceeds the limit of {limit} bytes")]
    FrameTooLarge {
        /// The announced or needed size.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A frame is shorter than its length prefix announces.
    #[error("truncated frame: {expected} bytes announced, {got} present")]
    Truncated {
        /// Bytes announced by the length prefix.
        expected: usize,
        /// Bytes present.
        got: usize,
    },
    /// An op, segment or blob was rejected by the log's checks: bad magic or version, a hash
    /// mismatch, a broken or gapped author chain, a timestamp beyond the drift bound, a limit.
    #[error(transparent)]
    Log(#[from] LogError),
    /// A frame was already received (or is too old to tell): a replay.
    #[error("replayed frame (sequence number {seq})")]
    Replay {
        /// The frame's sequence number.
        seq: u64,
    },
    /// A peer sent more frames in one tick than allowed; the rest of that tick's frames are
    /// dropped.
    #[error("flood: more than {limit} frames in one tick")]
    Flood {
        /// The configured per-tick limit.
        limit: u32,
    },
    /// A peer's sessions asked for more ops within a minute than the shipping budget allows
    /// (twice the log, and [`SHIP_SLACK`](crate::SHIP_SLACK) ops): the rest of that
    /// minute's shipments to it are not sent. An honest peer asks for an op once, and again only
    /// if its apply failed.
    #[error("a peer asked for {asked} ops within a minute, past the budget of {limit}")]
    Reshipping {
        /// The ops its sessions asked for in the minute, this one's included.
        asked: u64,
        /// The budget: twice the ops held, plus the slack.
        limit: u64,
    },
    /// A message does not fit the state of the session it names (unknown or finished session,
    /// a message out of turn).
    #[error("unexpected message: {reason}")]
    Unexpected {
        /// Why it was not expected.
        reason: &'static str,
    },
    /// A message came from a peer that is not connected.
    #[error("peer {0} is not connected")]
    NotConnected(PeerId),
    /// An op is larger than the maximum op size ([`FrameLimits::max_op`]), so it is not shipped.
    ///
    /// [`FrameLimits::max_op`]: crate::FrameLimits::max_op
    #[error("op of {size} bytes is over the maximum op size of {limit} bytes")]
    OpTooLarge {
        /// The op's encoded size.
        size: usize,
        /// The maximum op size.
        limit: usize,
    },
    /// The local replica failed; nothing was applied. The error of [`MemoryReplica`]'s injected
    /// failures; a replica of its own reports its own error type ([`SyncError::Replica`]).
    ///
    /// [`MemoryReplica`]: crate::MemoryReplica
    #[error("replica: {reason}")]
    Replica {
        /// What failed.
        reason: String,
    },
    /// The transport failed to send.
    #[error("transport: {reason}")]
    Transport {
        /// What failed.
        reason: String,
    },
    /// A peer reports a shipping failure between it and this peer: it refused ops this peer
    /// shipped (`refused`), or it could not ship ops this peer lacks. The peer's side of the
    /// failure is an error there; this one says what it was.
    #[error("{}{}: {name}", if *refused { "the peer refused ops this peer shipped" } else { "the peer could not ship ops" }, op.map(|o| format!(" (op {o})")).unwrap_or_default())]
    Shipping {
        /// Whether the peer refused ops from here (else it could not ship ops to here).
        refused: bool,
        /// The op concerned, when the peer named one.
        op: Option<OpId>,
        /// The name of the error on the peer's side ([`NetError::name`]).
        name: String,
    },
    /// An author is proven to have signed two different ops at one seq (under two ids, or one
    /// id with two bodies): an equivocation. Every honest peer freezes the author there: it
    /// keeps the author's ops before that seq and takes none from it on, on either branch.
    /// Reported once by each peer that learns of it, naming the peer it learnt it from.
    #[error("author {author} signed two different ops at seq {seq} (op {id}): its ops from there on are not taken")]
    Equivocation {
        /// The author.
        author: PeerId,
        /// The seq of the fork.
        seq: u64,
        /// The smaller id of the two ops at the fork.
        id: OpId,
    },
    /// A peer's clock and this one are further apart than the drift bound, as its hello told:
    /// the ops written on the clock ahead are refused by the other side until the clock behind
    /// catches up (the peers still sync everything else).
    #[error("{}", skew_text(*ahead_ms, *bound_ms, *local_ahead))]
    ClockSkew {
        /// How far ahead the clock ahead is, in milliseconds.
        ahead_ms: u64,
        /// The drift bound, in milliseconds.
        bound_ms: u64,
        /// Whether the clock ahead is this peer's (else the peer's).
        local_ahead: bool,
    },
    /// The error was caused by input from `peer`: whatever it sent was rejected and nothing of
    /// it was applied.
    #[error("from peer {peer}: {error}")]
    FromPeer {
        /// The peer whose input was rejected.
        peer: PeerId,
        /// What was wrong with it.
        error: Box<NetError>,
    },
}

impl NetError {
    pub(crate) fn corrupt(what: &'static str, reason: impl ToString) -> NetError {
        NetError::Corrupt { what, reason: reason.to_string() }
    }

    /// Wraps the error as caused by `peer`.
    pub fn from_peer(self, peer: PeerId) -> NetError {
        match self {
            e @ NetError::FromPeer { .. } => e,
            e => NetError::FromPeer { peer, error: Box::new(e) },
        }
    }

    /// The peer that caused the error, if a peer did.
    pub fn peer(&self) -> Option<PeerId> {
        match self {
            NetError::FromPeer { peer, .. } | NetError::NotConnected(peer) => Some(*peer),
            _ => None,
        }
    }

    /// The error without its [`NetError::FromPeer`] wrapping.
    pub fn inner(&self) -> &NetError {
        match self {
            NetError::FromPeer { error, .. } => error.inner(),
            e => e,
        }
    }

    /// Whether the error is only a gap in an author's chain: the ops may be fine, but their
    /// predecessors have not arrived yet (a push ahead of a sync, reordered frames). Such ops are
    /// dropped without blame and fetched again by the next reconciliation.
    pub fn is_chain_gap(&self) -> bool {
        matches!(self.inner(), NetError::Log(LogError::ChainGap { .. }))
    }

    /// A short stable name for the kind of error, for bindings to branch on.
    pub fn name(&self) -> &'static str {
        match self.inner() {
            NetError::Corrupt { .. } => "CorruptMessage",
            NetError::FrameTooLarge { .. } => "FrameTooLarge",
            NetError::Truncated { .. } => "TruncatedFrame",
            NetError::Log(LogError::HashMismatch { .. }) => "HashMismatch",
            NetError::Log(LogError::ClockDrift { .. }) | NetError::ClockSkew { .. } => "ClockDrift",
            NetError::Equivocation { .. } => "Equivocation",
            NetError::Log(LogError::BadProof { .. }) => "Authorship",
            NetError::Log(LogError::UnsupportedVersion { .. }) => "UnsupportedVersion",
            NetError::Log(LogError::BrokenChain { .. } | LogError::ChainGap { .. } | LogError::Fork { .. }) => {
                "BrokenChain"
            }
            NetError::Log(_) => "InvalidOps",
            NetError::Replay { .. } => "Replay",
            NetError::Flood { .. } | NetError::Reshipping { .. } => "Flood",
            NetError::Unexpected { .. } => "UnexpectedMessage",
            NetError::NotConnected(_) => "NotConnected",
            NetError::OpTooLarge { .. } => "OpTooLarge",
            NetError::Replica { .. } => "StoreError",
            NetError::Transport { .. } => "TransportError",
            NetError::Shipping { .. } => "Shipping",
            NetError::FromPeer { .. } => "PeerError",
        }
    }
}

/// An error the sync engine reports: one of its own ([`NetError`]: the protocol, a peer's input,
/// the transport), or its replica's, typed as the replica reports it (`E` is
/// [`Replica::Error`](crate::Replica::Error)), so that a database's storage failure (a full
/// quota) keeps its type all the way to the application.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError<E> {
    /// The sync failed or refused something: bad input from a peer (then
    /// [`NetError::FromPeer`]), a protocol violation, the transport.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The replica failed loading or applying ops; nothing of the batch was applied.
    #[error(transparent)]
    Replica(E),
}

impl<E> SyncError<E> {
    /// The peer that caused the error, if a peer did (never for a replica failure).
    pub fn peer(&self) -> Option<PeerId> {
        match self {
            SyncError::Net(e) => e.peer(),
            SyncError::Replica(_) => None,
        }
    }

    /// The sync's own error, if it is one.
    pub fn net(&self) -> Option<&NetError> {
        match self {
            SyncError::Net(e) => Some(e),
            SyncError::Replica(_) => None,
        }
    }

    /// The replica's error, if it is one.
    pub fn replica(&self) -> Option<&E> {
        match self {
            SyncError::Replica(e) => Some(e),
            SyncError::Net(_) => None,
        }
    }
}

/// Short for `Result<T, NetError>`.
pub type Result<T, E = NetError> = core::result::Result<T, E>;

/// The message of [`NetError::ClockSkew`].
fn skew_text(ahead_ms: u64, bound_ms: u64, local_ahead: bool) -> String {
    if local_ahead {
        format!(
            "this clock is {ahead_ms} ms ahead of the peer's (drift bound {bound_ms} ms): the peer refuses the ops written here until its clock catches up"
        )
    } else {
        format!(
            "the peer's clock is {ahead_ms} ms ahead of this one's (drift bound {bound_ms} ms): its new ops are refused here until this clock catches up"
        )
    }
}
