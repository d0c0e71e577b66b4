//! The database's error type, and the one table of error names JavaScript callers see.

use auroradb_log::LogError;
#[cfg(feature = "sync")]
use auroradb_net::NetError;
use auroradb_snapshot::SnapshotError;

/// What a storage backend can report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The backend ran out of space.
    #[error("storage quota exceeded: {0}")]
    QuotaExceeded(String),
    /// The backend is closed.
    #[error("storage is closed")]
    Closed,
    /// Another connection blocks opening or upgrading the storage.
    #[error("storage upgrade blocked: {0}")]
    Blocked(String),
    /// A precondition of the commit no longer holds: another writer committed first.
    #[error("storage changed under the commit (another writer committed first)")]
    Conflict,
    /// The commit failed; nothing of it was written.
    #[error("storage commit failed: {0}")]
    CommitFailed(String),
    /// The commit's outcome is unknown: it may or may not be durable.
    #[error("storage commit outcome unknown: {0}")]
    Interrupted(String),
    /// The stored schema is not the one asked for (the storage was not made by AuroraDB, or
    /// its indexes changed without a new version), or the version asked for is not valid.
    #[error("invalid storage schema: {0}")]
    InvalidSchema(String),
    /// The schema version asked for is older than the stored one.
    #[error("version {requested} is older than the stored version of database {name:?}")]
    VersionTooOld {
        /// The storage's name.
        name: String,
        /// The version asked for.
        requested: u32,
    },
    /// A record the backend holds is not of the kind AuroraDB stores there (a string where
    /// bytes belong): damaged or foreign data, reported as `CorruptDataError`.
    #[error("foreign record in storage: {0}")]
    Foreign(String),
    /// Any other backend failure.
    #[error("storage failure: {0}")]
    Backend(String),
}

/// Everything `Database` can report.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// Log-level failure: corrupt bytes, hash mismatch, broken chain, clock drift...
    #[error(transparent)]
    Log(#[from] LogError),
    /// State-level failure: unique index violation, unknown index, corrupt checkpoint...
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The storage backend failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A key or value was refused before anything was written.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The configuration cannot be used.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A transaction closure returned an error: nothing was written.
    #[error("transaction aborted: {0}")]
    Aborted(String),
    /// A record a transaction read changed before the transaction committed: nothing was
    /// written.
    #[error("record {key:?} changed after the transaction read it: nothing was written (retry the transaction)")]
    Conflict {
        /// The first record found changed.
        key: String,
    },
    /// Stored data does not make sense (a missing op, an unreadable record).
    #[error("corrupt storage: {0}")]
    Corrupt(String),
    /// A write would make an op larger than the configured maximum op size: nothing was written.
    #[error("the write makes an op of {size} bytes, over the maximum op size of {limit} bytes")]
    OpTooLarge {
        /// The encoded op's size.
        size: usize,
        /// The maximum op size (`Config::max_op`).
        limit: usize,
    },
    /// A write's value alone encodes to more than the maximum op size, so its op would too:
    /// refused as it was converted, before it was whole (its size is not known), nothing written.
    #[error("the write's value is more than {limit} bytes encoded, over the maximum op size of {limit} bytes")]
    ValueTooLarge {
        /// The maximum op size (`Config::max_op`).
        limit: usize,
    },
}

impl DbError {
    /// What kind of error this is, as JavaScript callers see it in `error.name`.
    pub fn error_name(&self) -> ErrorName {
        use ErrorName as N;
        match self {
            DbError::Log(e) => match e {
                LogError::Corrupt { .. } | LogError::BadMagic { .. } => N::CorruptData,
                LogError::UnsupportedVersion { .. } => N::UnsupportedVersion,
                LogError::HashMismatch { .. } => N::HashMismatch,
                LogError::BrokenChain { .. }
                | LogError::ChainGap { .. }
                | LogError::Fork { .. }
                | LogError::InvalidOp { .. } => N::BrokenChain,
                LogError::ClockDrift { .. } => N::ClockDrift,
                LogError::BadProof { .. } => N::Authorship,
                LogError::TooLarge { .. } => N::TooLarge,
                LogError::InvalidContent { .. } => N::InvalidInput,
                _ => N::Log,
            },
            DbError::Snapshot(e) => match e {
                SnapshotError::UniqueViolation { .. } => N::UniqueConstraint,
                SnapshotError::UnknownIndex(_) => N::UnknownIndex,
                SnapshotError::UnknownStrategy(_) | SnapshotError::StrategyMismatch { .. } => N::InvalidConfig,
                SnapshotError::HashMismatch { .. } => N::HashMismatch,
                SnapshotError::UnsupportedVersion { .. } => N::UnsupportedVersion,
                SnapshotError::Log(_) => N::Log,
                _ => N::CorruptData,
            },
            DbError::Storage(e) => match e {
                StorageError::QuotaExceeded(_) => N::QuotaExceeded,
                StorageError::Closed => N::DatabaseClosed,
                StorageError::Blocked(_) => N::UpgradeBlocked,
                StorageError::Conflict => N::Conflict,
                // The storage cannot open with this configuration (indexes, version).
                StorageError::InvalidSchema(_) | StorageError::VersionTooOld { .. } => N::InvalidConfig,
                StorageError::Foreign(_) => N::CorruptData,
                _ => N::Storage,
            },
            DbError::InvalidInput(_) => N::InvalidInput,
            DbError::InvalidConfig(_) => N::InvalidConfig,
            DbError::Aborted(_) => N::TransactionAborted,
            DbError::Conflict { .. } => N::Conflict,
            DbError::Corrupt(_) => N::CorruptData,
            DbError::OpTooLarge { .. } | DbError::ValueTooLarge { .. } => N::OpTooLarge,
        }
    }

    /// A stable name for the kind of error, as JavaScript callers see it in `error.name`
    /// (the text of [`DbError::error_name`]).
    pub fn name(&self) -> &'static str {
        self.error_name().as_str()
    }
}

/// Declares [`ErrorName`] from one list, so the variants, their text and [`ErrorName::ALL`]
/// cannot drift apart.
macro_rules! error_names {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        /// Every `error.name` a JavaScript caller of AuroraDB can see: the errors of the engine
        /// ([`DbError::error_name`]), of sync ([`ErrorName::of_sync`]) and of the JavaScript side
        /// (`web/js/`). This is the one table of names: the bindings make errors from it, and a
        /// test (`tests/error_names.rs`) checks that `web/js/auroradb.d.ts` lists every name and
        /// that the JavaScript sources use no other.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum ErrorName {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorName {
            /// Every name, in declaration order.
            pub const ALL: &'static [ErrorName] = &[$(ErrorName::$variant,)*];

            /// The name as JavaScript sees it (`"InvalidInputError"`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorName::$variant => $text,)*
                }
            }
        }
    };
}

error_names! {
    /// A key or value that cannot be stored.
    InvalidInput = "InvalidInputError",
    /// A configuration that cannot be used.
    InvalidConfig = "InvalidConfigError",
    /// A write that would give two records the same value of a unique index.
    UniqueConstraint = "UniqueConstraintError",
    /// A query on an index that is not configured.
    UnknownIndex = "UnknownIndexError",
    /// A write through a transaction that has already finished, or an aborted transaction.
    TransactionAborted = "TransactionAbortedError",
    /// A transaction whose read records changed before it committed.
    Conflict = "ConflictError",
    /// A call on a closed database.
    DatabaseClosed = "DatabaseClosedError",
    /// The storage quota is full.
    QuotaExceeded = "QuotaExceededError",
    /// A schema upgrade or a delete that another connection blocks.
    UpgradeBlocked = "UpgradeBlockedError",
    /// Any other storage failure.
    Storage = "StorageError",
    /// The engine's WebAssembly could not be fetched, compiled or instantiated (JavaScript:
    /// `AuroraDB.init()`, or the first `create()` of a page); the browser's error is its `cause`.
    EngineLoad = "EngineLoadError",
    /// The browser found the database's files damaged when it opened them, and dropped them:
    /// the database opened as it was made afresh (an `error` event at `create()`, which still
    /// succeeds).
    DataLoss = "DataLossError",
    /// Stored or received bytes that do not decode.
    CorruptData = "CorruptDataError",
    /// A hash that does not match its content.
    HashMismatch = "HashMismatchError",
    /// An author's hash chain that is broken or has a gap.
    BrokenChain = "BrokenChainError",
    /// A format version this build cannot read.
    UnsupportedVersion = "UnsupportedVersionError",
    /// A timestamp further in the future than the drift bound.
    ClockDrift = "ClockDriftError",
    /// Ops without a valid proof that their author wrote them: a forged or impersonated op, a
    /// proof by another key, or a signature that does not verify.
    Authorship = "AuthorshipError",
    /// Something larger than a limit allows.
    TooLarge = "TooLargeError",
    /// Any other log failure.
    Log = "LogError",
    /// Sync: a frame or message that does not parse.
    CorruptMessage = "CorruptMessageError",
    /// Sync: a frame larger than the frame limit.
    FrameTooLarge = "FrameTooLargeError",
    /// Sync: a frame shorter than its length prefix.
    TruncatedFrame = "TruncatedFrameError",
    /// Sync: ops the log refused for another reason.
    InvalidOps = "InvalidOpsError",
    /// Sync: a frame received twice.
    Replay = "ReplayError",
    /// Sync: more frames in one tick than allowed.
    Flood = "FloodError",
    /// Sync: a message out of turn or for an unknown session.
    UnexpectedMessage = "UnexpectedMessageError",
    /// Sync: a message from a peer that is not connected.
    NotConnected = "NotConnectedError",
    /// Sync: an author is proven to have signed two different ops at one seq (an equivocation):
    /// it is frozen there, and its ops from that seq on left the database.
    Equivocation = "EquivocationError",
    /// Sync: a peer reports that it refused ops this peer shipped, or could not ship ops this
    /// peer lacks (which op, and the error's name there).
    Shipping = "ShippingError",
    /// A write that would make an op over the maximum op size (`maxOpBytes`); in sync, an op over
    /// the maximum op size the shipping side accepts.
    OpTooLarge = "OpTooLargeError",
    /// Sync: the local replica failed while applying (the in-memory replica of the sync tests; a
    /// database keeps the name of its own failure, such as `QuotaExceededError`).
    Store = "StoreError",
    /// Sync: the transport (the adapter's `send`) failed.
    Transport = "TransportError",
    /// Sync: any other error caused by a peer.
    Peer = "PeerError",
    /// The P2P adapter (`web/js/p2p/`) failed.
    P2P = "P2PError",
}

#[cfg(feature = "sync")]
impl ErrorName {
    /// The name of a sync error (from its cause when a peer caused it). Every mapping of
    /// [`NetError`] to a name is here.
    pub fn of_sync(e: &NetError) -> ErrorName {
        use ErrorName as N;
        match e.inner() {
            NetError::Corrupt { .. } => N::CorruptMessage,
            NetError::FrameTooLarge { .. } => N::FrameTooLarge,
            NetError::Truncated { .. } => N::TruncatedFrame,
            NetError::Log(LogError::HashMismatch { .. }) => N::HashMismatch,
            NetError::Log(LogError::ClockDrift { .. }) | NetError::ClockSkew { .. } => N::ClockDrift,
            NetError::Log(LogError::BadProof { .. }) => N::Authorship,
            NetError::Log(LogError::UnsupportedVersion { .. }) => N::UnsupportedVersion,
            // An op over this peer's `maxOpBytes`, as `importLog()` names one.
            NetError::Log(LogError::TooLarge { .. }) => N::TooLarge,
            NetError::Log(LogError::BrokenChain { .. } | LogError::ChainGap { .. } | LogError::Fork { .. }) => {
                N::BrokenChain
            }
            NetError::Log(_) => N::InvalidOps,
            NetError::Replay { .. } => N::Replay,
            NetError::Flood { .. } | NetError::Reshipping { .. } => N::Flood,
            NetError::Unexpected { .. } => N::UnexpectedMessage,
            NetError::NotConnected(_) => N::NotConnected,
            NetError::OpTooLarge { .. } => N::OpTooLarge,
            NetError::Shipping { .. } => N::Shipping,
            NetError::Equivocation { .. } => N::Equivocation,
            NetError::Replica { .. } => N::Store,
            NetError::Transport { .. } => N::Transport,
            _ => N::Peer,
        }
    }
}

impl core::fmt::Display for ErrorName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Short for `Result<T, DbError>`.
pub type Result<T, E = DbError> = core::result::Result<T, E>;
