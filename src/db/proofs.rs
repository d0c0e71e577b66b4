//! The kept proofs: the proof of each op at a multiple of
//! [`PROOF_INTERVAL`](auroradb_log::PROOF_INTERVAL) of its author's chain, stored under meta key
//! `proof/` + author + seq (`AUpk`, `docs/formats.md`) in the commit that adds the op, so that
//! the database can pass its ops on and prove a fork of any author with short runs after a
//! reopen too (the chain head records keep only the newest op's proof).
//!
//! They are read with the log's index ([`Database::load_log`](super::Database::load_log)), not
//! at open: their number grows with the history. A database written before they were kept has
//! none: its own author's ops are signed again on demand, and other authors' ops held from then
//! cannot be shipped past such an op (see `auroradb_net::ship::Packer::push`).

use auroradb_log::{EncodedOp, OpId, PeerId, Proof, must_prove};

use super::keys;
use crate::Result;
use crate::storage::{KeyRange, ScanOptions, Storage, Store, WriteBatch};

/// Adds to `batch` the proofs among `proofs` of the ops of `ops` at multiples of the interval.
pub(super) fn put_kept(batch: &mut WriteBatch, ops: &[EncodedOp], proofs: &[(OpId, Proof)]) {
    for op in ops.iter().filter(|o| must_prove(o.op.seq)) {
        if let Some((_, proof)) = proofs.iter().find(|(id, _)| *id == op.op.id) {
            batch.put(Store::Meta, keys::proof_key(&op.op.author, op.op.seq), keys::encode_proof(op.op.id, *proof));
        }
    }
}

/// Every kept proof.
pub(super) async fn read_all(storage: &impl Storage) -> Result<Vec<(OpId, Proof)>> {
    let rows = storage.scan(Store::Meta, KeyRange::prefix(keys::META_PROOF), ScanOptions::default()).await?;
    rows.iter().map(|(_, v)| keys::decode_proof(v)).collect()
}

/// The kept proofs of the ops of `ops` at multiples of the interval (another connection's
/// commit stored them).
pub(super) async fn read_of(storage: &impl Storage, ops: &[EncodedOp]) -> Result<Vec<(OpId, Proof)>> {
    let mut out = Vec::new();
    for op in ops.iter().filter(|o| must_prove(o.op.seq)) {
        if let Some(bytes) = storage.get(Store::Meta, &keys::proof_key(&op.op.author, op.op.seq)).await? {
            out.push(keys::decode_proof(&bytes)?);
        }
    }
    Ok(out)
}

/// Adds to `batch` the deletion of `author`'s kept proofs from `seq` on (a fork removes its ops).
pub(super) async fn delete_from(
    storage: &impl Storage,
    batch: &mut WriteBatch,
    author: &PeerId,
    seq: u64,
) -> Result<()> {
    let start = keys::proof_key(author, seq);
    let end = KeyRange::prefix(&[keys::META_PROOF, author.as_bytes()].concat());
    let range = KeyRange { start: std::ops::Bound::Included(start), ..end };
    let keys_only = ScanOptions { keys_only: true, ..Default::default() };
    for (k, _) in storage.scan(Store::Meta, range, keys_only).await? {
        batch.delete(Store::Meta, k);
    }
    Ok(())
}
