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
use auroradb_log::{
    Conflict, EncodedOp, Equivocation, Fingerprint, Fork, Hash, LogError, OpId, Proof, RangeSum, shipped_proofs,
};
use serde::{Deserialize, Serialize};

use super::{Database, WriteOutcome};
use crate::storage::Storage;
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFileInfo {
    /// Ops in the file.
    pub ops: u64,
    /// Fingerprint of the file's ops.
    pub fingerprint: Fingerprint,
    /// Ops that were new to this database.
    pub imported: u64,
    /// The forks the file proved against the chains held here: each froze its author (see
    /// [`Database::freeze`]).
    pub frozen: Vec<Fork>,
}

/// The ops of a log file, with the proofs its segments carry, and its fingerprint. Checks the
/// file's hash, every segment, the count and the fingerprint; not the proofs (the importing
/// log checks those it needs).
pub fn decode_file(bytes: &[u8]) -> Result<(ProvenSegment, Fingerprint)> {
    // A magic, a version and the hash of the body at least: a file cut shorter (its first 32
    // bytes, say) would otherwise be read as a hash after an empty body ("bad magic ... found \"\"").
    if bytes.len() < 4 + 1 + 32 {
        return Err(LogError::Corrupt {
            what: "log file",
            reason: format!("too short ({} bytes): cut off", bytes.len()),
        }
        .into());
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
            // In id order across segments too (a segment checks its own), each op once.
            if ops.last().is_some_and(|last: &EncodedOp| last.op.id >= op.op.id) {
                return Err(
                    LogError::Corrupt { what: "log file", reason: "ops out of id order or repeated".into() }.into()
                );
            }
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
        self.unless_others_committed(async |db| db.export_once().await).await
    }

    async fn export_once(&mut self) -> Result<Vec<u8>> {
        let rows = self.scan_log_seen().await?;
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
    ///
    /// A file whose ops fork a chain held here, both branches signed by their author, is an
    /// equivocation proof, as when a peer sends them: the author is frozen at the fork first (in
    /// a commit of its own, which stands even if the rest of the file is then refused), and the
    /// file's other ops are imported. The outcome's changes are the freeze's and the import's.
    pub async fn import_log(&mut self, bytes: &[u8]) -> Result<(LogFileInfo, WriteOutcome)> {
        let ((ops, proofs), fingerprint) = decode_file(bytes)?;
        let count = ops.len() as u64;
        self.load_log().await?;
        let mut frozen = Vec::new();
        let mut changes = Vec::new();
        for eq in self.forks_in(&ops, &proofs).await? {
            let fork = *eq.fork();
            if let Some(out) = self.freeze(eq).await? {
                changes.extend(out.changes);
                frozen.push(fork);
            }
        }
        let mut out = self.apply_remote(ops, &proofs).await?;
        changes.append(&mut out.changes);
        out.changes = changes;
        Ok((LogFileInfo { ops: count, fingerprint, imported: out.ops.len() as u64, frozen }, out))
    }

    /// The equivocations that `ops` (with `proofs`) prove against the chains held here: for each
    /// author whose ops in the file fork its held chain, the file's run from the fork up to its
    /// first proven op and the held ops from the fork up to the first one the log can prove. A
    /// fork whose file side carries a bad signature is an error (the file is refused); one that
    /// cannot be proven (no signature on a side) is left to `apply_remote`, which refuses it.
    async fn forks_in(&mut self, ops: &[EncodedOp], proofs: &[(OpId, Proof)]) -> Result<Vec<Equivocation>> {
        // Each author's run, in seq order: sorted, not gathered author by author (a file of one op
        // by each of 40,000 authors took seconds that way).
        let mut sorted: Vec<&EncodedOp> = ops.iter().collect();
        auroradb_log::sort_by_key(&mut sorted, |o| (o.op.author, o.op.seq, o.op.id));
        let mut found = Vec::new();
        for run in sorted.chunk_by(|a, b| a.op.author == b.op.author) {
            let run: Vec<EncodedOp> = run.iter().map(|o| (*o).clone()).collect();
            let Some(Conflict::At { index, held }) = self.log.borrow().conflict(&run) else { continue };
            let theirs = &run[index..];
            let proven = |id: &OpId| proofs.iter().find(|(p, _)| p == id).map(|(_, p)| *p);
            let Some(end) = theirs.iter().position(|o| proven(&o.op.id).is_some()) else { continue };
            let theirs_proof = proven(&theirs[end].op.id).expect("found above");
            let Some(held_end) = held.iter().position(|(id, _)| self.log.borrow().proof_of(id).is_some()) else {
                continue;
            };
            let ids: Vec<OpId> = held[..=held_end].iter().map(|(id, _)| *id).collect();
            let ours = self.load_encoded(&ids).await?;
            let ours_proof = self.log.borrow().proof_of(&ids[held_end]).expect("found above");
            found.push(Equivocation::new((&ours, ours_proof), (&theirs[..=end], theirs_proof))?);
        }
        Ok(found)
    }
}
