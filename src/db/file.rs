//! The log file: the whole log in one self-describing, hashed blob, for attaching to a bug report
//! and replaying elsewhere.
//!
//! ```text
//! +------+---+--------------------------------------------------+----------------------+
//! | AUlf | 1 | postcard { count, fingerprint, segments: [AUsg]} | blake3 of all before |
//! +------+---+--------------------------------------------------+----------------------+
//! ```

use auroradb_log::codec::{decode_blob, encode_blob};
use auroradb_log::segment::{SegmentLimits, decode_segment, encode_segment};
use auroradb_log::{EncodedOp, Fingerprint, Hash, LogError, RangeSum};
use serde::{Deserialize, Serialize};

use super::{Database, WriteOutcome};
use crate::storage::{KeyRange, ScanOptions, Storage, Store};
use crate::{DbError, Result};

/// Magic of a log file.
pub const MAGIC_LOG_FILE: [u8; 4] = *b"AUlf";

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

fn decode_file(bytes: &[u8]) -> Result<(Vec<EncodedOp>, Fingerprint)> {
    if bytes.len() < 32 {
        return Err(LogError::Corrupt { what: "log file", reason: "too short".into() }.into());
    }
    let (body, tail) = bytes.split_at(bytes.len() - 32);
    let file: LogFile = decode_blob("log file", MAGIC_LOG_FILE, body)?;
    if Hash::of(body).0 != tail {
        return Err(LogError::HashMismatch { what: "log file" }.into());
    }
    let limits = SegmentLimits { max_ops: FILE_SEGMENT_OPS, max_bytes: usize::MAX };
    let mut ops = Vec::new();
    let mut sum = RangeSum::default();
    for seg in &file.segments {
        for op in decode_segment(seg, limits)? {
            sum = sum + RangeSum::one(&op.hash);
            ops.push(op);
        }
    }
    if sum.count != file.count || sum.fingerprint() != file.fingerprint {
        return Err(LogError::HashMismatch { what: "log file" }.into());
    }
    Ok((ops, file.fingerprint))
}

impl<S: Storage> Database<S> {
    /// The whole log as a log file.
    pub async fn export_log(&mut self) -> Result<Vec<u8>> {
        self.load_log().await?;
        let rows = self.storage.scan(Store::Log, KeyRange::all(), ScanOptions::default()).await?;
        let mut segments = Vec::new();
        let mut sum = RangeSum::default();
        for chunk in rows.chunks(FILE_SEGMENT_OPS) {
            let mut items = Vec::with_capacity(chunk.len());
            for (k, v) in chunk {
                let id = auroradb_log::OpId::from_bytes(k)?;
                let hash = self
                    .log
                    .borrow()
                    .hash_of(&id)
                    .copied()
                    .ok_or_else(|| DbError::Corrupt(format!("op {id} is stored but not indexed")))?;
                sum = sum + RangeSum::one(&hash);
                items.push((id, v.as_slice(), hash));
            }
            let seg = encode_segment(items.iter().map(|(id, b, h)| (*id, *b, h)));
            segments.push(serde_bytes::ByteBuf::from(seg));
        }
        let mut out =
            encode_blob(MAGIC_LOG_FILE, &LogFile { count: sum.count, fingerprint: sum.fingerprint(), segments });
        let hash = Hash::of(&out);
        out.extend_from_slice(&hash.0);
        Ok(out)
    }

    /// Merges the ops of a log file into this database (as if synced from a peer), all or
    /// nothing: a corrupt, tampered or inconsistent file is an error and changes nothing.
    pub async fn import_log(&mut self, bytes: &[u8]) -> Result<(LogFileInfo, WriteOutcome)> {
        let (ops, fingerprint) = decode_file(bytes)?;
        let count = ops.len() as u64;
        let out = self.apply_remote(ops).await?;
        Ok((LogFileInfo { ops: count, fingerprint, imported: out.ops.len() as u64 }, out))
    }
}
