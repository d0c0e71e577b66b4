//! Record keys and small records of the stores.
//!
//! Each record kind has its own magic, so a record read under the wrong key is refused instead
//! of misread (`docs/formats.md`, "Database records"):
//!
//! ```text
//! +------+---+--------------------------------------------+
//! | AUhd | 2 | chain head: seq, hash, id, proof (meta head/…) |
//! | AUsc | 2 | schema: version, key path, indexes, strategy |
//! | AUjn | 1 | journal entry: the ids one commit added     |
//! | AUid | 1 | an author slot's identity: secret key (meta) |
//! | AUpk | 1 | a kept proof: op id, proof (meta proof/…)   |
//! | AUhm | 1 | the history mark: op id, 24 B (meta history) |
//! +------+---+--------------------------------------------+
//! ```

use auroradb_log::codec::{decode_blob, decode_blob_v, encode_blob, encode_blob_v};
use auroradb_log::{ChainHead, Identity, LogError, OpId, PeerId, Proof};
use serde::{Deserialize, Serialize};

use crate::storage::{Store, WriteBatch};
use crate::{DbError, Result};

/// Magic of a chain head record (meta key `head/` + peer).
pub const MAGIC_CHAIN_HEAD: [u8; 4] = *b"AUhd";
/// Magic of the schema record (meta key `schema`).
pub const MAGIC_SCHEMA: [u8; 4] = *b"AUsc";
/// Magic of a journal entry (store `journal`).
pub const MAGIC_JOURNAL: [u8; 4] = *b"AUjn";
/// Magic of an author slot's identity (meta key `identity/<n>`).
pub const MAGIC_IDENTITY: [u8; 4] = *b"AUid";
/// Magic of a kept proof of an op at a multiple of the proof interval (meta key `proof/` +
/// peer + seq).
pub const MAGIC_PROOF: [u8; 4] = *b"AUpk";
/// Magic of the history mark (meta key `history`).
pub const MAGIC_HISTORY: [u8; 4] = *b"AUhm";
/// The one magic the previous release wrote on chain heads, the schema and journal entries.
/// Their bodies are unchanged and the store and key say which kind a record is, so reading still
/// accepts it (with the same version check); writing always uses the kind's own magic.
pub const LEGACY_MAGIC_META: [u8; 4] = *b"AUmt";

/// Meta key of the state's global record.
pub const META_STATE: &[u8] = b"state";
/// Meta key of the schema record.
pub const META_SCHEMA: &[u8] = b"schema";
/// Meta key of the history mark: every op up to it has its history rows (see `tail`).
pub const META_HISTORY: &[u8] = b"history";
/// Prefix of the meta keys of chain heads (followed by the 16 peer bytes).
pub const META_HEAD: &[u8] = b"head/";
/// Prefix of the meta keys of the author slots' identities (followed by the slot number in
/// decimal digits).
pub const META_IDENTITY: &[u8] = b"identity/";
/// Prefix of the meta keys that mark an author writing on this storage without a slot (a
/// connection given its identity, or a fresh one), followed by its 16 bytes; the value is empty.
/// With the slots' authors, they are what `local-wins` and `remote-wins` call local.
pub const META_LOCAL: &[u8] = b"local/";

/// Prefix of the meta keys of the proofs of ops at multiples of the proof interval
/// ([`auroradb_log::PROOF_INTERVAL`]), followed by the author's 16 bytes and the op's seq (u64
/// BE), so an author's proofs from a seq on are one key range.
pub const META_PROOF: &[u8] = b"proof/";

/// The history key length marker of a clear (no real key is this long).
const CLEAR_MARK: u32 = u32::MAX;

pub fn head_key(peer: &PeerId) -> Vec<u8> {
    [META_HEAD, peer.as_bytes()].concat()
}

/// Decodes a record of kind `what`, written under `magic` or, by the previous release, under
/// [`LEGACY_MAGIC_META`]. Any other magic is [`auroradb_log::LogError::BadMagic`].
fn decode_record<'a, T: Deserialize<'a>>(what: &'static str, magic: [u8; 4], bytes: &'a [u8]) -> Result<T> {
    let magic = if bytes.starts_with(&LEGACY_MAGIC_META) { LEGACY_MAGIC_META } else { magic };
    Ok(decode_blob(what, magic, bytes)?)
}

/// The format version of chain head records: 2 added the proof of authorship. A record of
/// version 1 (a database written before ops were signed) is refused with
/// [`auroradb_log::LogError::UnsupportedVersion`].
pub const HEAD_VERSION: u8 = 2;

/// An author's chain head as stored, with the proof that the author wrote it (and, through the
/// hash chain, all its ops before it); `None` only for the author of a connection opened as a
/// chosen author without its identity, [`Config::peer`](super::Config::peer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredHead {
    /// The head.
    pub head: ChainHead,
    /// The proof of the head op.
    pub proof: Option<Proof>,
}

pub fn encode_head(head: &StoredHead) -> Vec<u8> {
    encode_blob_v(MAGIC_CHAIN_HEAD, HEAD_VERSION, head)
}

pub fn decode_head(bytes: &[u8]) -> Result<StoredHead> {
    // The legacy magic only ever carried version 1: such a head is refused by its version.
    let magic = if bytes.starts_with(&LEGACY_MAGIC_META) { LEGACY_MAGIC_META } else { MAGIC_CHAIN_HEAD };
    Ok(decode_blob_v("chain head", magic, HEAD_VERSION, bytes)?)
}

/// The meta key of the kept proof of `author`'s op at `seq`.
pub fn proof_key(author: &PeerId, seq: u64) -> Vec<u8> {
    [META_PROOF, author.as_bytes(), &seq.to_be_bytes()].concat()
}

/// A kept proof as stored: the op it proves and the proof.
#[derive(Serialize, Deserialize)]
struct StoredProof {
    id: OpId,
    proof: Proof,
}

pub fn encode_proof(id: OpId, proof: Proof) -> Vec<u8> {
    encode_blob(MAGIC_PROOF, &StoredProof { id, proof })
}

pub fn decode_proof(bytes: &[u8]) -> Result<(OpId, Proof)> {
    let stored: StoredProof = decode_blob("kept proof", MAGIC_PROOF, bytes)?;
    Ok((stored.id, stored.proof))
}

/// The meta key marking `peer` as an author of this storage (see [`META_LOCAL`]).
pub fn local_key(peer: &PeerId) -> Vec<u8> {
    [META_LOCAL, peer.as_bytes()].concat()
}

/// The meta key of author slot `slot`'s identity.
pub fn identity_key(slot: u32) -> Vec<u8> {
    [META_IDENTITY, slot.to_string().as_bytes()].concat()
}

/// An author slot's identity as stored: its secret key, kept in the clear.
#[derive(Serialize, Deserialize)]
struct StoredIdentity {
    #[serde(deserialize_with = "auroradb_log::deserialize_byte_array")]
    secret: [u8; 32],
}

pub fn encode_identity(identity: &Identity) -> Vec<u8> {
    encode_blob(MAGIC_IDENTITY, &StoredIdentity { secret: identity.secret() })
}

pub fn decode_identity(bytes: &[u8]) -> Result<Identity> {
    let stored: StoredIdentity = decode_blob("identity", MAGIC_IDENTITY, bytes)?;
    Ok(Identity::from_secret(&stored.secret))
}

pub fn encode_counter(n: u64) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

pub fn decode_counter(bytes: &[u8]) -> Result<u64> {
    let arr: [u8; 8] = bytes.try_into().map_err(|_| DbError::Corrupt("commit number is not 8 bytes".into()))?;
    let n = u64::from_be_bytes(arr);
    // No storage makes 2^63 commits: a number past it was put there by something else (and the
    // next commit's number would overflow).
    if n >= 1 << 63 {
        return Err(DbError::Corrupt(format!("commit number {n:#x} is not one a database makes")));
    }
    Ok(n)
}

/// The number the commit after commit `n` claims; an error when no database makes it (a
/// journal entry put there by something else holds the last number there is).
pub fn next_commit(n: u64) -> Result<u64> {
    match n.checked_add(1) {
        Some(next) if next < 1 << 63 => Ok(next),
        _ => Err(DbError::Corrupt(format!("commit number {n:#x} leaves no number for the next commit"))),
    }
}

/// The history mark as stored: the header, then the op id up to which every op has its
/// history rows, as a key holds it (24 bytes), or nothing when no op has them. Not postcard:
/// fixed bytes cost the engine less code than another serde type.
pub fn encode_history_mark(upto: Option<OpId>) -> Vec<u8> {
    let mut out = [&MAGIC_HISTORY[..], &[1]].concat();
    if let Some(id) = upto {
        out.extend_from_slice(&id.to_bytes());
    }
    out
}

pub fn decode_history_mark(bytes: &[u8]) -> Result<Option<OpId>> {
    match auroradb_log::codec::blob_body("history mark", MAGIC_HISTORY, bytes)? {
        [] => Ok(None),
        id => Ok(Some(OpId::from_bytes(id)?)),
    }
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

/// The format version of the schema record: 2 added the conflict strategy. A record of version 1
/// is still read, its strategy unknown.
pub const SCHEMA_VERSION: u8 = 2;

/// What a database was opened with; stored so a reopen can tell what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    /// The schema version from the configuration.
    pub version: u32,
    /// The key path.
    pub key_path: Option<String>,
    /// `(name, unique)` of each index.
    pub indexes: Vec<(String, bool)>,
    /// The conflict strategy's name (`None`: a record of format version 1, which did not say).
    pub strategy: Option<String>,
}

/// A schema record of format version 1.
#[derive(Deserialize)]
struct SchemaV1 {
    version: u32,
    key_path: Option<String>,
    indexes: Vec<(String, bool)>,
}

pub fn encode_schema(s: &Schema) -> Vec<u8> {
    encode_blob_v(MAGIC_SCHEMA, SCHEMA_VERSION, s)
}

pub fn decode_schema(bytes: &[u8]) -> Result<Schema> {
    if bytes.get(4) == Some(&SCHEMA_VERSION) && bytes.starts_with(&MAGIC_SCHEMA) {
        return Ok(decode_blob_v("schema", MAGIC_SCHEMA, SCHEMA_VERSION, bytes)?);
    }
    // Versions 1 and 2 are read: any other is named against the newest.
    if let Some(&found) = bytes.get(4).filter(|v| **v != 1 && bytes.starts_with(&MAGIC_SCHEMA)) {
        return Err(LogError::UnsupportedVersion { what: "schema", found, supported: SCHEMA_VERSION }.into());
    }
    let SchemaV1 { version, key_path, indexes } = decode_record("schema", MAGIC_SCHEMA, bytes)?;
    Ok(Schema { version, key_path, indexes, strategy: None })
}

/// The format version of journal entries: 2 added the number of visible records after the
/// commit, and moved a long list of ids to a record of its own; 3 added the chain heads the commit
/// moved and the newest commit that wrote every chain head to meta; 4 added the latest wall-clock
/// time the committing instance's clock had read. Entries of versions 1 to 3 are still read:
/// the commits of versions 1 and 2 wrote the heads they moved to meta, and none of them says what
/// the clock read.
pub const JOURNAL_VERSION: u8 = 4;

/// The most ids a journal entry holds itself: a commit of more ops puts them in meta
/// `journal/<n>`, so that the newest entry, which every open reads, stays small.
pub const JOURNAL_INLINE_IDS: usize = 64;

/// Prefix of the meta keys of a long commit's ids (then the commit number, u64 BE).
pub const META_JOURNAL_IDS: &[u8] = b"journal/";

/// A journal entry as written: the ids of the ops one commit added (`None`: in meta
/// `journal/<n>`), how many records are visible after it (so a connection knows the count
/// without reading the records), the newest commit (up to this one) that wrote every chain head
/// to meta, and, for a commit that did not (`flushed` is not its own number), the chain heads it
/// moved, with their proofs, which are nowhere else: the chain heads are the meta records' with
/// the heads of the entries after `flushed` laid over them; and the latest wall-clock time (NTP64,
/// as an id's time) that the clock of the instance committing had read (see
/// [`Hlc::restore_wall`](auroradb_log::hlc::Hlc::restore_wall)).
#[derive(Serialize)]
struct JournalOut<'a> {
    ids: Option<&'a [OpId]>,
    visible: u64,
    flushed: u64,
    heads: &'a [(PeerId, StoredHead)],
    wall: u64,
}

/// A journal entry of version 4 as read.
#[derive(Deserialize)]
struct JournalIn {
    ids: Option<Vec<OpId>>,
    visible: u64,
    flushed: u64,
    heads: Vec<(PeerId, StoredHead)>,
    wall: u64,
}

/// A journal entry of version 2 as read.
#[derive(Deserialize)]
struct JournalInV2 {
    ids: Option<Vec<OpId>>,
    visible: u64,
}

/// A journal entry, of any version.
#[derive(Debug, Clone, PartialEq)]
pub struct Journal {
    /// The ids of the ops the commit added (`None`: in meta [`journal_ids_key`], read with
    /// [`decode_journal_ids`]).
    pub ids: Option<Vec<OpId>>,
    /// How many records are visible after the commit (`None` in a version-1 entry).
    pub visible: Option<u64>,
    /// The newest commit, up to this one, that wrote every chain head to meta (`None` before
    /// version 3, whose commits all did: the entry's own number).
    pub flushed: Option<u64>,
    /// The chain heads the commit moved (none before version 3).
    pub heads: Vec<(PeerId, StoredHead)>,
    /// The latest wall-clock time (NTP64, as an id's time) the committing instance's clock had
    /// read (`None` before version 4).
    pub wall: Option<u64>,
}

impl Journal {
    /// The newest commit, up to commit `n` (this entry's), that wrote every chain head to meta.
    pub fn flushed_at(&self, n: u64) -> u64 {
        self.flushed.unwrap_or(n)
    }
}

/// The meta key of the ids of commit `n`.
pub fn journal_ids_key(n: u64) -> Vec<u8> {
    [META_JOURNAL_IDS, &n.to_be_bytes()].concat()
}

/// The journal entry of a commit (see [`JournalOut`]) and, for more than
/// [`JOURNAL_INLINE_IDS`] ops, the record of its ids (meta [`journal_ids_key`]).
pub fn encode_journal(
    ids: &[OpId],
    visible: u64,
    flushed: u64,
    heads: &[(PeerId, StoredHead)],
    wall: u64,
) -> (Vec<u8>, Option<Vec<u8>>) {
    let long = ids.len() > JOURNAL_INLINE_IDS;
    let entry = JournalOut { ids: (!long).then_some(ids), visible, flushed, heads, wall };
    let entry = encode_blob_v(MAGIC_JOURNAL, JOURNAL_VERSION, &entry);
    (entry, long.then(|| encode_blob(MAGIC_JOURNAL, ids)))
}

/// A journal entry of any version.
pub fn decode_journal(bytes: &[u8]) -> Result<Journal> {
    let version = bytes.get(4).copied();
    if version == Some(auroradb_log::codec::FORMAT_VERSION) {
        let ids = Some(decode_journal_ids(bytes)?);
        return Ok(Journal { ids, visible: None, flushed: None, heads: Vec::new(), wall: None });
    }
    if version == Some(2) {
        let entry: JournalInV2 = decode_blob_v("journal entry", MAGIC_JOURNAL, 2, bytes)?;
        return Ok(Journal {
            ids: entry.ids,
            visible: Some(entry.visible),
            flushed: None,
            heads: Vec::new(),
            wall: None,
        });
    }
    if version == Some(3) {
        // Version 4 without the trailing `wall`: read as one whose `wall` is 0 (one decoder less
        // in the wasm).
        let mut v4 = [bytes, &[0]].concat();
        v4[4] = JOURNAL_VERSION;
        return Ok(Journal { wall: None, ..decode_journal(&v4)? });
    }
    let e: JournalIn = decode_blob_v("journal entry", MAGIC_JOURNAL, JOURNAL_VERSION, bytes)?;
    Ok(Journal { ids: e.ids, visible: Some(e.visible), flushed: Some(e.flushed), heads: e.heads, wall: Some(e.wall) })
}

/// Adds commit `n`'s journal entry to `batch` as an insert (which claims the number), and the
/// record of its ids when they are too many for the entry.
pub fn journal(
    batch: &mut WriteBatch,
    n: u64,
    ids: &[OpId],
    visible: u64,
    flushed: u64,
    heads: &[(PeerId, StoredHead)],
    wall: u64,
) {
    let (entry, spilled) = encode_journal(ids, visible, flushed, heads, wall);
    batch.insert(Store::Journal, encode_counter(n), entry);
    if let Some(record) = spilled {
        batch.put(Store::Meta, journal_ids_key(n), record);
    }
}

/// A long commit's ids, or a version-1 journal entry: the ids alone.
pub fn decode_journal_ids(bytes: &[u8]) -> Result<Vec<OpId>> {
    decode_record("journal entry", MAGIC_JOURNAL, bytes)
}

#[cfg(test)]
mod tests {
    use auroradb_log::codec::FORMAT_VERSION;
    use auroradb_log::{Hash, LogError};

    use super::*;

    fn head() -> StoredHead {
        let me = auroradb_log::Identity::from_secret(&[3; 32]);
        let head = ChainHead { seq: 3, hash: Hash([7; 32]), id: OpId::from_millis(1_700_000_000_000, me.peer()) };
        StoredHead { head, proof: Some(me.prove(&head.hash)) }
    }

    fn schema() -> Schema {
        let strategy = Some("timestamp".into());
        Schema { version: 2, key_path: Some("id".into()), indexes: vec![("email".into(), true)], strategy }
    }

    fn relabel(bytes: &[u8], magic: [u8; 4]) -> Vec<u8> {
        [&magic[..], &bytes[4..]].concat()
    }

    fn bad_magic(e: DbError) -> bool {
        matches!(e, DbError::Log(LogError::BadMagic { .. }))
    }

    #[test]
    fn a_schema_of_an_unknown_version_is_named_against_the_newest_one_read() {
        let mut bytes = encode_schema(&schema());
        for found in [0, 3, 9] {
            bytes[4] = found;
            let err = decode_schema(&bytes).unwrap_err();
            assert!(
                err.to_string().contains(&format!("schema format version {found} (this build reads version 2)")),
                "{err}"
            );
        }
    }

    #[test]
    fn the_next_commit_number_stays_one_a_database_makes() {
        assert_eq!(next_commit(0).unwrap(), 1);
        assert_eq!(next_commit((1 << 63) - 2).unwrap(), (1 << 63) - 1);
        assert_eq!(decode_counter(&encode_counter((1 << 63) - 1)).unwrap(), (1 << 63) - 1);
        assert_eq!(next_commit((1 << 63) - 1).unwrap_err().name(), "CorruptDataError");
        assert!(next_commit(u64::MAX).is_err());
    }

    #[test]
    fn records_round_trip_under_their_own_magic() {
        let ids = vec![head().head.id, OpId::from_millis(1_700_000_000_001, PeerId([0xb0; 16]))];
        assert_eq!(encode_head(&head())[..4], MAGIC_CHAIN_HEAD);
        assert_eq!(encode_schema(&schema())[..4], MAGIC_SCHEMA);
        let moved = [(head().head.id.peer, head())];
        let entry = encode_journal(&ids, 3, 2, &moved, 0x6553_f100_2000_0000);
        assert_eq!(entry.0[..5], [&MAGIC_JOURNAL[..], &[JOURNAL_VERSION]].concat());
        assert_eq!(decode_head(&encode_head(&head())).unwrap(), head());
        assert_eq!(decode_schema(&encode_schema(&schema())).unwrap(), schema());
        // A schema of format version 1: the same without the strategy.
        let v1 = encode_blob(MAGIC_SCHEMA, &(2u32, Some("id"), vec![("email", true)]));
        assert_eq!(decode_schema(&v1).unwrap(), Schema { strategy: None, ..schema() });
        assert_eq!(entry.1, None);
        let read = decode_journal(&entry.0).unwrap();
        let wall = Some(0x6553_f100_2000_0000);
        assert_eq!(
            read,
            Journal { ids: Some(ids.clone()), visible: Some(3), flushed: Some(2), heads: moved.to_vec(), wall }
        );
        // A version-3 entry: the same without the clock's time.
        let v3 = encode_blob_v(MAGIC_JOURNAL, 3, &(Some(&ids), 3u64, 2u64, &moved[..]));
        assert_eq!(decode_journal(&v3).unwrap(), Journal { wall: None, ..read.clone() });
        assert_eq!(read.flushed_at(5), 2);
        // A version-2 entry: the ids and the count; its commit wrote its heads to meta.
        let v2 = encode_blob_v(MAGIC_JOURNAL, 2, &(Some(&ids), 3u64));
        let read = decode_journal(&v2).unwrap();
        assert_eq!(
            read,
            Journal { ids: Some(ids.clone()), visible: Some(3), flushed: None, heads: Vec::new(), wall: None }
        );
        assert_eq!(read.flushed_at(5), 5);
        // A version-1 entry: the ids alone.
        let v1 = auroradb_log::codec::encode_blob(MAGIC_JOURNAL, &ids);
        assert_eq!(
            decode_journal(&v1).unwrap(),
            Journal { ids: Some(ids.clone()), visible: None, flushed: None, heads: Vec::new(), wall: None }
        );
        // A long commit's ids are a record of their own.
        let long: Vec<OpId> = (0..65).map(|i| OpId::from_millis(1_700_000_000_000 + i, PeerId([1; 16]))).collect();
        let (entry, spilled) = encode_journal(&long, 7, 0, &[], 0);
        assert_eq!(decode_journal(&entry).unwrap().ids, None);
        assert_eq!(decode_journal_ids(&spilled.unwrap()).unwrap(), long);
        let me = Identity::from_secret(&[3; 32]);
        let stored = encode_identity(&me);
        assert_eq!((&stored[..4], stored[4], &stored[5..], stored.len()), (&MAGIC_IDENTITY[..], 1, &[3; 32][..], 37));
        assert_eq!(decode_identity(&stored).unwrap().peer(), me.peer());
        assert_eq!(identity_key(12), b"identity/12");
    }

    #[test]
    fn another_kinds_magic_is_refused() {
        let head = encode_head(&head());
        let schema = encode_schema(&schema());
        let journal = encode_journal(&[], 0, 0, &[], 0).0;
        assert!(bad_magic(decode_head(&relabel(&head, MAGIC_SCHEMA)).unwrap_err()));
        assert!(bad_magic(decode_schema(&relabel(&schema, MAGIC_JOURNAL)).unwrap_err()));
        assert!(bad_magic(decode_journal(&relabel(&journal, MAGIC_CHAIN_HEAD)).unwrap_err()));
        let identity = encode_identity(&Identity::from_secret(&[3; 32]));
        assert!(bad_magic(decode_identity(&relabel(&identity, MAGIC_SCHEMA)).unwrap_err()));
        assert!(bad_magic(decode_identity(&relabel(&identity, LEGACY_MAGIC_META)).unwrap_err()));
        assert!(bad_magic(decode_head(b"AUmt").unwrap_err()));
        assert!(bad_magic(decode_head(b"").unwrap_err()));
    }

    #[test]
    fn a_head_of_the_format_before_proofs_is_refused() {
        let mut old = encode_blob(MAGIC_CHAIN_HEAD, &head().head);
        assert!(matches!(
            decode_head(&old),
            Err(DbError::Log(LogError::UnsupportedVersion { what: "chain head", found: 1, supported: 2 }))
        ));
        old[..4].copy_from_slice(&LEGACY_MAGIC_META);
        assert!(matches!(decode_head(&old), Err(DbError::Log(LogError::UnsupportedVersion { found: 1, .. }))));
    }

    #[test]
    fn the_legacy_magic_is_read_with_its_version_checked() {
        let v1 = encode_blob(MAGIC_SCHEMA, &(2u32, Some("id"), vec![("email", true)]));
        let legacy = relabel(&v1, LEGACY_MAGIC_META);
        assert_eq!(decode_schema(&legacy).unwrap(), Schema { strategy: None, ..schema() });
        let mut future = legacy.clone();
        future[4] = FORMAT_VERSION + 1;
        assert!(matches!(decode_schema(&future), Err(DbError::Log(LogError::UnsupportedVersion { .. }))));
        let mut future = encode_schema(&schema());
        future[4] = SCHEMA_VERSION + 1;
        assert!(matches!(decode_schema(&future), Err(DbError::Log(LogError::UnsupportedVersion { .. }))));
        // A legacy schema body is still checked as a schema.
        let legacy_journal = relabel(&encode_blob(MAGIC_JOURNAL, &vec![head().head.id]), LEGACY_MAGIC_META);
        assert_eq!(decode_journal(&legacy_journal).unwrap().ids, Some(vec![head().head.id]));
        assert!(decode_schema(&legacy_journal).is_err());
    }
}
