//! The log file: the whole log in one self-describing, hashed blob, for attaching to a bug report
//! and replaying elsewhere.
//!
//! ```text
//! +------+---+--------------------------------------------------+----------------------+
//! | AUlf | 2 | postcard { count, fingerprint, segments: [AUsg]} | blake3 of all before |
//! +------+---+--------------------------------------------------+----------------------+
//! ```
//!
//! The segments carry the proofs of authorship: at least each author's last op in the file is
//! proven, which proves all its ops before it, and each op at a multiple of
//! [`PROOF_INTERVAL`](auroradb_log::PROOF_INTERVAL) of its author's chain, which an importer
//! requires as a peer does. Version 2 added the proofs; a file of version 1
//! is refused with [`LogError::UnsupportedVersion`]. The segments are of version 2 (each op's
//! stored bytes whole, see `docs/formats.md`), not the compact version 3 peers send, so a tool
//! reads a file op by op.

use auroradb_log::codec::{decode_blob_v, encode_blob_v};
use auroradb_log::segment::{ProvenSegment, SegmentLimits, decode_file_segment, encode_file_segment, stored_seq};
use auroradb_log::{EncodedOp, Fingerprint, Hash, LogError, OpId, Proof, RangeSum, shipped_proofs};
use serde::{Deserialize, Serialize};

use super::{Database, WriteOutcome};
use crate::storage::{KeyRange, ScanOptions, Storage, Store};
use crate::{DbError, Result};

/// Magic of a log file.
pub const MAGIC_LOG_FILE: [u8; 4] = *b"AUlf";
/// The format version of log files: 2 added the proofs of authorship.
pub const LOG_FILE_VERSION: u8 = 2;

/// Ops per segment inside a log file.
const FILE_SEGMENT_OPS: usize = 1024;

#[derive(Serialize, Deserialize)]
struct LogFile {
    count: u64,
    fingerprint: Fingerprint,
    segments: Vec<serde_bytes::ByteBuf>,
}

/// What a log file holds, as read by [`Database::import_log`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogFileInfo {
    /// Ops in the file.
    pub ops: u64,
    /// Fingerprint of the file's ops.
    pub fingerprint: Fingerprint,
    /// Ops that were new to this database.
    pub imported: u64,
}

/// The ops of a log file, with the proofs its segments carry, and its fingerprint. Checks the
/// file's hash, every segment, the count and the fingerprint; not the proofs (the importing
/// log checks those it needs).
pub fn decode_file(bytes: &[u8]) -> Result<(ProvenSegment, Fingerprint)> {
    if bytes.len() < 32 {
        return Err(LogError::Corrupt { what: "log file", reason: "too short".into() }.into());
    }
    let (body, tail) = bytes.split_at(bytes.len() - 32);
    let file: LogFile = decode_blob_v("log file", MAGIC_LOG_FILE, LOG_FILE_VERSION, body)?;
    if Hash::of(body).0 != tail {
        return Err(LogError::HashMismatch { what: "log file" }.into());
    }
    let limits = SegmentLimits { max_ops: FILE_SEGMENT_OPS, max_bytes: usize::MAX };
    let mut ops = Vec::new();
    let mut proofs = Vec::new();
    let mut sum = RangeSum::default();
    for seg in &file.segments {
        let (seg_ops, seg_proofs) = decode_file_segment(seg, limits)?;
        for op in seg_ops {
            sum = sum + RangeSum::one(&op.hash);
            ops.push(op);
        }
        proofs.extend(seg_proofs);
    }
    if sum.count != file.count || sum.fingerprint() != file.fingerprint {
        return Err(LogError::HashMismatch { what: "log file" }.into());
    }
    Ok(((ops, proofs), file.fingerprint))
}

/// Where a log file's proofs come from: the proof of an op, if there is one
/// ([`Log::proof_of`](auroradb_log::Log::proof_of)).
pub type FileProofs<'a> = &'a dyn Fn(&OpId) -> Option<Proof>;

/// A log file of `ops` (id, stored bytes, hash; in id order), whose segments carry the proofs
/// `prove` has of each author's last op in the segment and of each op at a multiple of
/// [`PROOF_INTERVAL`](auroradb_log::PROOF_INTERVAL) (see [`Database::export_log`]). Bytes that
/// are not an op are an error.
pub fn encode_log_file(ops: &[(OpId, &[u8], Hash)], prove: FileProofs<'_>) -> Result<Vec<u8>> {
    let mut segments = Vec::new();
    let mut sum = RangeSum::default();
    for chunk in ops.chunks(FILE_SEGMENT_OPS) {
        let mut positions = Vec::with_capacity(chunk.len());
        for (id, bytes, hash) in chunk {
            sum = sum + RangeSum::one(hash);
            positions.push((*id, stored_seq(bytes)?));
        }
        let proofs = shipped_proofs(positions, prove);
        let seg = encode_file_segment(chunk.iter().map(|(id, b, h)| (*id, *b, h)), &proofs);
        segments.push(serde_bytes::ByteBuf::from(seg));
    }
    let file = LogFile { count: sum.count, fingerprint: sum.fingerprint(), segments };
    let mut out = encode_blob_v(MAGIC_LOG_FILE, LOG_FILE_VERSION, &file);
    let hash = Hash::of(&out);
    out.extend_from_slice(&hash.0);
    Ok(out)
}

impl<S: Storage> Database<S> {
    /// The proofs to send with `ops`: of each author's newest one and of each one at a multiple
    /// of [`PROOF_INTERVAL`](auroradb_log::PROOF_INTERVAL), where this database holds one or (for
    /// its own author) can sign one.
    pub fn proofs_for<'a>(&self, ops: impl IntoIterator<Item = &'a EncodedOp>) -> Vec<(OpId, Proof)> {
        let log = self.log.borrow();
        shipped_proofs(ops.into_iter().map(|o| (o.op.id, o.op.seq)), &|id| log.proof_of(id))
    }

    /// The whole log as a log file, with the proofs of each author's last op in each of its
    /// segments and of its ops at multiples of the proof interval, that this database holds or
    /// (for its own author) can sign; every author's chain head is proven, so the file proves
    /// who wrote each of its ops, and a fork of any author is provable from it with short runs.
    pub async fn export_log(&mut self) -> Result<Vec<u8>> {
        self.load_log().await?;
        let rows = self.storage.scan(Store::Log, KeyRange::all(), ScanOptions::default()).await?;
        let mut items = Vec::with_capacity(rows.len());
        for (k, v) in &rows {
            let id = auroradb_log::OpId::from_bytes(k)?;
            let hash = self
                .log
                .borrow()
                .hash_of(&id)
                .copied()
                .ok_or_else(|| DbError::Corrupt(format!("op {id} is stored but not indexed")))?;
            items.push((id, v.as_slice(), hash));
        }
        let log = self.log.borrow();
        encode_log_file(&items, &|id| log.proof_of(id))
    }

    /// Merges the ops of a log file into this database (as if synced from a peer), all or
    /// nothing: a corrupt, tampered or inconsistent file, or one whose ops are not proven to
    /// come from their authors, is an error and changes nothing.
    pub async fn import_log(&mut self, bytes: &[u8]) -> Result<(LogFileInfo, WriteOutcome)> {
        let ((ops, proofs), fingerprint) = decode_file(bytes)?;
        let count = ops.len() as u64;
        let out = self.apply_remote(ops, &proofs).await?;
        Ok((LogFileInfo { ops: count, fingerprint, imported: out.ops.len() as u64 }, out))
    }
}
