//! The log crate's error type.

use crate::{OpId, PeerId};

/// Everything that can go wrong in the log: bad bytes, bad hashes, broken chains, clock drift.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The bytes are not a valid encoding of the expected blob.
    #[error("corrupt {what}: {reason}")]
    Corrupt {
        /// Which kind of blob was being decoded.
        what: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// The blob starts with a magic of another kind of blob.
    #[error(
        "bad magic for {what}: expected {:?}, found {:?}",
        String::from_utf8_lossy(.expected),
        String::from_utf8_lossy(.found)
    )]
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
    /// A hash recomputed from the bytes differs from the one recorded or claimed.
    #[error("hash mismatch for {what}")]
    HashMismatch {
        /// What was hashed.
        what: &'static str,
    },
    /// An op, valid as an op, writes what a database refuses as input (a key it cannot hold, a
    /// value nested too deep): taken in, it could be read but not written or removed again.
    #[error("op {id} writes what a database refuses: {reason}")]
    InvalidContent {
        /// The op's id.
        id: OpId,
        /// What is wrong.
        reason: String,
    },
    /// An op's `author` differs from the peer in its id, or its seq is zero.
    #[error("invalid op {id}: {reason}")]
    InvalidOp {
        /// The op's id.
        id: OpId,
        /// What is wrong.
        reason: &'static str,
    },
    /// An op does not extend its author's hash chain where it claims to.
    #[error("broken chain of author {author} at seq {seq} (op {id}): {reason}")]
    BrokenChain {
        /// The author whose chain is broken.
        author: PeerId,
        /// The sequence number of the first op that does not fit.
        seq: u64,
        /// The id of that op.
        id: OpId,
        /// What does not fit.
        reason: &'static str,
    },
    /// An op conflicts with the author's chain the log holds: another op of the author is held
    /// at its seq, or under its id. Signed by the author, that is an equivocation; checking the
    /// signatures is the caller's part.
    #[error("op {id} of author {author} at seq {seq} forks the author's chain the log holds")]
    Fork {
        /// The author.
        author: PeerId,
        /// The op's sequence number.
        seq: u64,
        /// The op's id.
        id: OpId,
    },
    /// An op's author has ops missing before it: its predecessor is not in the log yet.
    #[error("op {id} of author {author} has seq {seq}, but the log holds only up to seq {have}")]
    ChainGap {
        /// The author.
        author: PeerId,
        /// The op's sequence number.
        seq: u64,
        /// The highest sequence number held for that author.
        have: u64,
        /// The op's id.
        id: OpId,
    },
    /// A remote timestamp is further in the future than the drift bound allows.
    #[error("timestamp {id} is {ahead_ms} ms ahead of the local clock (bound {bound_ms} ms)")]
    ClockDrift {
        /// The offending id.
        id: OpId,
        /// How far ahead of the local clock it is.
        ahead_ms: u64,
        /// The configured bound.
        bound_ms: u64,
    },
    /// Ops of an author came without a valid proof that the author wrote them (a forged or
    /// impersonated op, a proof by another key, or a signature that does not verify).
    #[error("ops of author {author} are not proven: {reason}")]
    BadProof {
        /// The author the ops claim.
        author: PeerId,
        /// What is wrong.
        reason: &'static str,
    },
    /// A size or count limit was exceeded.
    #[error("{what} exceeds its limit: {size} > {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size or count.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

impl LogError {
    pub(crate) fn corrupt(what: &'static str, reason: impl ToString) -> Self {
        LogError::Corrupt { what, reason: reason.to_string() }
    }
}

/// Short for `Result<T, LogError>`.
pub type Result<T, E = LogError> = core::result::Result<T, E>;
