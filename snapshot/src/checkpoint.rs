//! Checkpoints: a whole state at an op id, with the fingerprint of the log up to that id, hashed
//! so that a damaged or altered checkpoint is detected when it is loaded.
//!
//! ```text
//! +------+---+-------------------------------------------------------+----------------+
//! | AUck | 1 | postcard { at: OpId, log_fingerprint: [u8; 16],        | blake3 (32 B)  |
//! |      |   |            meta: StateMeta,                           | of everything  |
//! |      |   |            records: [(key, KeyRecord)] in key order } | before it      |
//! +------+---+-------------------------------------------------------+----------------+
//! ```

use std::collections::BTreeMap;

use auroradb_log::{Fingerprint, OpId};
use serde::{Deserialize, Serialize};

use crate::error::{body, decode_body, encode};
use crate::{KeyRecord, Result, SnapshotError, State, StateConfig, StateMeta};

/// Magic of an encoded [`Checkpoint`].
pub const MAGIC_CHECKPOINT: [u8; 4] = *b"AUck";

const HASH_LEN: usize = 32;

/// A state at an op id (it reflects exactly the ops up to `at`), with the fingerprint of the log
/// up to `at`.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The id the state was taken at.
    pub at: OpId,
    /// The fingerprint of the log's ops up to and including `at`.
    pub log_fingerprint: Fingerprint,
    /// The state.
    pub state: State,
}

#[derive(Serialize)]
struct BodyRef<'a> {
    at: OpId,
    log_fingerprint: Fingerprint,
    meta: &'a StateMeta,
    records: &'a BTreeMap<String, KeyRecord>,
}

/// Same wire form as [`BodyRef`] (a postcard map is a length and its pairs, like a sequence of
/// pairs).
#[derive(Deserialize)]
struct Body {
    at: OpId,
    log_fingerprint: Fingerprint,
    meta: StateMeta,
    records: Vec<(String, KeyRecord)>,
}

#[derive(Deserialize)]
struct Head {
    at: OpId,
    log_fingerprint: Fingerprint,
}

impl Checkpoint {
    /// Encodes `state` as the state at `at`, with the log fingerprint up to `at`: magic `AUck`,
    /// format version, postcard body, then a blake3 hash over all of that.
    pub fn encode(state: &State, at: OpId, log_fingerprint: Fingerprint) -> Vec<u8> {
        let body = BodyRef { at, log_fingerprint, meta: state.meta(), records: state.record_map() };
        let mut out = encode(MAGIC_CHECKPOINT, &body);
        let hash = blake3::hash(&out);
        out.extend_from_slice(hash.as_bytes());
        out
    }

    /// Decodes and verifies a checkpoint, and restores its state under `config`. A wrong hash is
    /// [`SnapshotError::HashMismatch`]; bad bytes are other typed errors, never a panic.
    pub fn decode(bytes: &[u8], config: StateConfig) -> Result<Checkpoint> {
        let body: Body = decode_body("checkpoint", verified(bytes)?)?;
        if body.records.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(SnapshotError::corrupt("checkpoint", "records out of key order"));
        }
        let state = State::restore(config, body.meta, body.records)?;
        Ok(Checkpoint { at: body.at, log_fingerprint: body.log_fingerprint, state })
    }

    /// Verifies a checkpoint and reads only its id and log fingerprint (no state is rebuilt).
    pub fn peek(bytes: &[u8]) -> Result<(OpId, Fingerprint)> {
        let body = verified(bytes)?;
        let (head, _): (Head, _) =
            postcard::take_from_bytes(body).map_err(|e| SnapshotError::corrupt("checkpoint", e))?;
        Ok((head.at, head.log_fingerprint))
    }
}

/// Checks the header and the hash; returns the postcard body.
fn verified(bytes: &[u8]) -> Result<&[u8]> {
    let content_len = bytes.len().saturating_sub(HASH_LEN);
    let (content, hash) = bytes.split_at(content_len);
    let body = body("checkpoint", MAGIC_CHECKPOINT, content)?;
    if hash.len() != HASH_LEN || blake3::hash(content).as_bytes() != hash {
        return Err(SnapshotError::HashMismatch { what: "checkpoint" });
    }
    Ok(body)
}
