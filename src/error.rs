//! The database's error type.

use auroradb_log::LogError;
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
    /// Stored data does not make sense (a missing op, an unreadable record).
    #[error("corrupt storage: {0}")]
    Corrupt(String),
}

impl DbError {
    /// A stable name for the kind of error, as JavaScript callers see it in `error.name`.
    pub fn name(&self) -> &'static str {
        match self {
            DbError::Log(e) => match e {
                LogError::Corrupt { .. } | LogError::BadMagic { .. } => "CorruptDataError",
                LogError::UnsupportedVersion { .. } => "UnsupportedVersionError",
                LogError::HashMismatch { .. } => "HashMismatchError",
                LogError::BrokenChain { .. } | LogError::ChainGap { .. } | LogError::InvalidOp { .. } => {
                    "BrokenChainError"
                }
                LogError::ClockDrift { .. } => "ClockDriftError",
                LogError::TooLarge { .. } => "TooLargeError",
                _ => "LogError",
            },
            DbError::Snapshot(e) => match e {
                SnapshotError::UniqueViolation { .. } => "UniqueConstraintError",
                SnapshotError::UnknownIndex(_) => "UnknownIndexError",
                SnapshotError::UnknownStrategy(_) => "InvalidConfigError",
                SnapshotError::HashMismatch { .. } => "HashMismatchError",
                SnapshotError::UnsupportedVersion { .. } => "UnsupportedVersionError",
                SnapshotError::Log(_) => "LogError",
                _ => "CorruptDataError",
            },
            DbError::Storage(e) => match e {
                StorageError::QuotaExceeded(_) => "QuotaExceededError",
                StorageError::Closed => "DatabaseClosedError",
                StorageError::Blocked(_) => "UpgradeBlockedError",
                StorageError::Conflict => "ConflictError",
                _ => "StorageError",
            },
            DbError::InvalidInput(_) => "InvalidInputError",
            DbError::InvalidConfig(_) => "InvalidConfigError",
            DbError::Aborted(_) => "TransactionAbortedError",
            DbError::Corrupt(_) => "CorruptDataError",
        }
    }
}

/// Short for `Result<T, DbError>`.
pub type Result<T, E = DbError> = core::result::Result<T, E>;
