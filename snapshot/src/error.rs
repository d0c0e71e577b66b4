//! The snapshot crate's error type, and the blob helpers that turn the log codec's header errors
//! into it.

use auroradb_log::LogError;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Everything that can go wrong in the state: a write that breaks a unique index, an unknown
/// index or strategy, and bad persisted bytes (corrupt, wrong magic, unknown version, hash
/// mismatch, records made under another strategy).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// A local write would give two keys the same value in a unique index.
    #[error("unique index {index:?}: value {value} of key {key:?} is already held by key {existing_key:?}")]
    UniqueViolation {
        /// The index's name.
        index: String,
        /// The duplicated value, displayed JSON-like.
        value: String,
        /// The key being written.
        key: String,
        /// The key that already holds the value.
        existing_key: String,
    },
    /// No index with this name is configured.
    #[error("unknown index {0:?}")]
    UnknownIndex(String),
    /// No strategy has this name.
    #[error("unknown strategy {0:?} (expected timestamp, version, merge, local-wins or remote-wins)")]
    UnknownStrategy(String),
    /// The configuration is not usable (for example two indexes with one name).
    #[error("invalid state configuration: {0}")]
    InvalidConfig(String),
    /// Persisted state was made under one strategy and is being restored under another.
    #[error("state was built with strategy {stored:?}, but the configuration says {configured:?}")]
    StrategyMismatch {
        /// The strategy the persisted state was built with.
        stored: String,
        /// The configured strategy.
        configured: String,
    },
    /// The bytes are not a valid encoding of the expected blob.
    #[error("corrupt {what}: {reason}")]
    Corrupt {
        /// Which kind of blob was being decoded.
        what: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// The blob starts with the magic of another kind of blob.
    #[error("bad magic for {what}: expected {expected:?}, found {found:?}")]
    BadMagic {
        /// Which kind of blob was expected.
        what: &'static str,
        /// The magic it should start with.
        expected: [u8; 4],
        /// What it starts with.
        found: Vec<u8>,
    },
    /// The blob was written by a format version this build does not read.
    #[error("unsupported {what} format version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// Which kind of blob.
        what: &'static str,
        /// The version found in the blob.
        found: u8,
        /// The version this build reads.
        supported: u8,
    },
    /// The hash stored in a blob differs from the hash of its content.
    #[error("hash mismatch for {what}")]
    HashMismatch {
        /// What was hashed.
        what: &'static str,
    },
    /// An error from the log crate.
    #[error(transparent)]
    Log(#[from] LogError),
}

impl SnapshotError {
    pub(crate) fn corrupt(what: &'static str, reason: impl ToString) -> Self {
        SnapshotError::Corrupt { what, reason: reason.to_string() }
    }

    /// Maps the log codec's header and body errors to this crate's own variants.
    pub(crate) fn from_codec(e: LogError) -> Self {
        match e {
            LogError::Corrupt { what, reason } => SnapshotError::Corrupt { what, reason },
            LogError::BadMagic { what, expected, found } => SnapshotError::BadMagic { what, expected, found },
            LogError::UnsupportedVersion { what, found, supported } => {
                SnapshotError::UnsupportedVersion { what, found, supported }
            }
            LogError::HashMismatch { what } => SnapshotError::HashMismatch { what },
            other => SnapshotError::Log(other),
        }
    }
}

/// Short for `Result<T, SnapshotError>`.
pub type Result<T, E = SnapshotError> = core::result::Result<T, E>;

/// Encodes `body` behind `magic` and the format version.
pub(crate) fn encode<T: Serialize + ?Sized>(magic: [u8; 4], body: &T) -> Vec<u8> {
    auroradb_log::codec::encode_blob(magic, body)
}

/// Decodes a blob made by [`encode`] with the same magic; every failure is a typed error.
pub(crate) fn decode<T: DeserializeOwned>(what: &'static str, magic: [u8; 4], bytes: &[u8]) -> Result<T> {
    auroradb_log::codec::decode_blob(what, magic, bytes).map_err(SnapshotError::from_codec)
}

/// Checks a blob's magic and version and returns its body.
pub(crate) fn body<'a>(what: &'static str, magic: [u8; 4], bytes: &'a [u8]) -> Result<&'a [u8]> {
    auroradb_log::codec::blob_body(what, magic, bytes).map_err(SnapshotError::from_codec)
}

/// Decodes a postcard body that must use every byte.
pub(crate) fn decode_body<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T> {
    let (value, rest) = postcard::take_from_bytes(bytes).map_err(|e| SnapshotError::corrupt(what, e))?;
    if !rest.is_empty() {
        return Err(SnapshotError::corrupt(what, format!("{} trailing bytes", rest.len())));
    }
    Ok(value)
}
