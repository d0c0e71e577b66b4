//! Record keys and small records of the stores.

use auroradb_log::codec::{decode_blob, encode_blob};
use auroradb_log::{ChainHead, OpId, PeerId};
use serde::{Deserialize, Serialize};

use crate::{DbError, Result};

/// Magic of the database's meta records.
pub const MAGIC_META: [u8; 4] = *b"AUmt";

/// Meta key of the commit counter.
pub const META_COMMIT: &[u8] = b"commit";
/// Meta key of the state's global record.
pub const META_STATE: &[u8] = b"state";
/// Meta key of the schema record.
pub const META_SCHEMA: &[u8] = b"schema";
/// Prefix of the meta keys of chain heads (followed by the 16 peer bytes).
pub const META_HEAD: &[u8] = b"head/";

/// The history key length marker of a clear (no real key is this long).
const CLEAR_MARK: u32 = u32::MAX;

pub fn head_key(peer: &PeerId) -> Vec<u8> {
    [META_HEAD, peer.as_bytes()].concat()
}

pub fn encode_head(head: &ChainHead) -> Vec<u8> {
    encode_blob(MAGIC_META, head)
}

pub fn decode_head(bytes: &[u8]) -> Result<ChainHead> {
    Ok(decode_blob("chain head", MAGIC_META, bytes)?)
}

pub fn encode_counter(n: u64) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

pub fn decode_counter(bytes: &[u8]) -> Result<u64> {
    let arr: [u8; 8] = bytes.try_into().map_err(|_| DbError::Corrupt("commit counter is not 8 bytes".into()))?;
    Ok(u64::from_be_bytes(arr))
}

/// The prefix of the history records of `key`.
pub fn history_prefix(key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + key.len());
    out.extend_from_slice(&(key.len() as u32).to_be_bytes());
    out.extend_from_slice(key.as_bytes());
    out
}

/// The prefix of the history records of clears.
pub fn clear_prefix() -> Vec<u8> {
    CLEAR_MARK.to_be_bytes().to_vec()
}

/// History record key: the key's prefix then the op id.
pub fn history_key(prefix: &[u8], id: &OpId) -> Vec<u8> {
    [prefix, &id.to_bytes()].concat()
}

/// The op id at the end of a history record key.
pub fn history_id(record_key: &[u8]) -> Result<OpId> {
    let at = record_key
        .len()
        .checked_sub(auroradb_log::OP_ID_LEN)
        .ok_or_else(|| DbError::Corrupt("short history key".into()))?;
    Ok(OpId::from_bytes(&record_key[at..])?)
}

/// What a database was opened with; stored so a reopen can tell what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    /// The schema version from the configuration.
    pub version: u32,
    /// The key path.
    pub key_path: Option<String>,
    /// `(name, unique)` of each index.
    pub indexes: Vec<(String, bool)>,
}

pub fn encode_schema(s: &Schema) -> Vec<u8> {
    encode_blob(MAGIC_META, s)
}

pub fn decode_schema(bytes: &[u8]) -> Result<Schema> {
    Ok(decode_blob("schema", MAGIC_META, bytes)?)
}

/// The journal record: ids of the ops one commit added.
pub fn encode_journal(ids: &[OpId]) -> Vec<u8> {
    encode_blob(MAGIC_META, ids)
}

pub fn decode_journal(bytes: &[u8]) -> Result<Vec<OpId>> {
    Ok(decode_blob("journal entry", MAGIC_META, bytes)?)
}
