//! Author slots: the identity a connection signs with when it is given none, stable for its
//! storage.
//!
//! A storage keeps up to [`AUTHOR_SLOTS`] identities, one per slot, in `meta` under
//! `identity/<n>`. A connection opened without an identity claims the lowest slot whose lock
//! (`author/<n>`, [`Storage::hold`]) is free, and holds that lock for as long as it is open: so
//! the first connection of a storage always writes as slot 0's author, the same one on every
//! reopen, while connections open at the same time (two tabs) each write as an author of their
//! own, as they must (two writers of one author would fork its chain). A slot freed by a closed
//! connection is taken again by the next one.
//!
//! A slot's identity is made by the first connection that claims it: one commit that expects the
//! record to be absent. Under the slot's lock no other connection stores it meanwhile; if one
//! did anyway (a connection of a storage that stopped locking), the commit fails and the
//! identity stored first is read back, so a slot never has two.
//!
//! Where the storage cannot lock (no Web Locks, an opaque origin), nobody can tell which slots
//! are in use: the connection gets a fresh identity that is not stored, as when every slot is
//! taken.
//!
//! A slot whose author is frozen (a proven equivocation, `fork`: its key signed two branches,
//! say because a copy of the storage wrote as it too) is retired: no peer takes that author's
//! ops any more, so a connection passes it by and claims the next slot.

use auroradb_log::{Identity, PeerId};

use super::keys;
use crate::storage::{Claim, Held, KeyRange, ScanOptions, Storage, Store, WriteBatch};
use crate::{DbError, Result, StorageError};

/// How many author slots a storage keeps: as many connections as this can be open at once, each
/// with an author of its own that the next connection takes over; more get a fresh identity.
pub const AUTHOR_SLOTS: u32 = 64;

/// The name of slot `slot`'s lock ([`Storage::hold`]): an open that claims a slot asks for
/// `slot_lock(0)` first.
pub fn slot_lock(slot: u32) -> String {
    format!("author/{slot}")
}

/// A claimed slot: its number, its identity, and its lock.
pub(super) struct Slot {
    pub number: u32,
    pub identity: Identity,
    /// Whether a lower slot was held by another connection when this one was claimed (another
    /// connection of the storage is open).
    pub others: bool,
    /// Released when the slot is dropped.
    _lock: Held,
}

/// Claims the lowest free author slot of `storage` (see the module docs); `None` where the
/// storage cannot lock or every slot is taken. `empty`: the storage is known to hold nothing
/// ([`Storage::is_new`]), so no identity or frozen author is read.
///
/// Slot 0's lock is asked for while the stored identities and the frozen authors are read, so a
/// first open costs two round trips (the lock, then the new identity's commit) and a reopen one.
/// Reading before holding is safe: a slot's identity, once stored, never changes; a slot found
/// without one gets one by a commit that expects it absent, and takes the one stored meanwhile
/// if that fails ([`slot_identity`]); and a newly made identity cannot be frozen.
///
/// `schema`, given for an empty storage, is the schema record to store in the commit of a new
/// identity, if that commit can take it (it expects the record absent); the second value returned
/// says whether it was stored.
pub(super) async fn claim(
    storage: &impl Storage,
    empty: bool,
    mut schema: Option<&[u8]>,
) -> Result<(Option<Slot>, bool)> {
    let (first, stored, frozen) = if empty {
        (storage.hold(&slot_lock(0)).await, Vec::new(), Vec::new())
    } else {
        let keys_only = ScanOptions { keys_only: true, ..ScanOptions::default() };
        let (first, stored, frozen) = futures::future::join3(
            storage.hold(&slot_lock(0)),
            storage.scan(Store::Meta, KeyRange::prefix(keys::META_IDENTITY), ScanOptions::default()),
            storage.scan(Store::Meta, KeyRange::prefix(super::fork::META_FORK), keys_only),
        )
        .await;
        (first, stored?, frozen?)
    };
    let mut first = Some(first?);
    let mut others = false;
    for number in 0..AUTHOR_SLOTS {
        let claim = match first.take() {
            Some(claim) => claim,
            None => storage.hold(&slot_lock(number)).await?,
        };
        match claim {
            Claim::Held(held) => {
                let key = keys::identity_key(number);
                let (identity, with_schema) = match stored.iter().find(|(k, _)| *k == key) {
                    Some((_, bytes)) => (keys::decode_identity(bytes)?, false),
                    None => slot_identity(storage, key, schema.take()).await?,
                };
                let fork = super::fork::fork_key(&identity.peer());
                if frozen.iter().any(|(k, _)| *k == fork) {
                    continue;
                }
                return Ok((Some(Slot { number, identity, others, _lock: held }), with_schema));
            }
            Claim::Taken => others = true,
            Claim::Unsupported => return Ok((None, false)),
        }
    }
    Ok((None, false))
}

/// The identity of the slot whose identity record is `key`, found absent: made and stored by a
/// commit that expects the record absent, or, if it is there after all (stored since it was
/// read), the one stored. With `schema`, the schema record goes in the same commit if it is
/// absent too (else the identity is committed alone); the second value says whether it went.
async fn slot_identity(storage: &impl Storage, key: Vec<u8>, mut schema: Option<&[u8]>) -> Result<(Identity, bool)> {
    let identity = Identity::generate();
    loop {
        let mut batch = WriteBatch::default();
        batch.expect(Store::Meta, key.clone(), None);
        batch.put(Store::Meta, key.clone(), keys::encode_identity(&identity));
        if let Some(schema) = schema {
            batch.expect(Store::Meta, keys::META_SCHEMA, None);
            batch.put(Store::Meta, keys::META_SCHEMA, schema.to_vec());
        }
        // One commit call for both tries (a second would be compiled into the wasm again).
        match storage.commit(batch).await {
            Ok(()) => return Ok((identity, schema.is_some())),
            // Another connection stored a schema (or this identity's record) first: the
            // identity alone.
            Err(StorageError::Conflict) if schema.is_some() => schema = None,
            Err(StorageError::Conflict) => {
                return match storage.get(Store::Meta, &key).await? {
                    Some(bytes) => Ok((keys::decode_identity(&bytes)?, false)),
                    None => Err(StorageError::Conflict.into()),
                };
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The identities of every slot of `storage` (at most [`AUTHOR_SLOTS`]): any connection of the
/// storage can sign for them, and so proves the ops of a slot's author when they leave the
/// database (they are not signed each when written: see `Database::commit_local_if`).
pub(super) async fn slot_identities(storage: &impl Storage) -> Result<Vec<Identity>> {
    let rows = storage.scan(Store::Meta, KeyRange::prefix(keys::META_IDENTITY), ScanOptions::default()).await?;
    rows.iter().map(|(_, v)| keys::decode_identity(v)).collect()
}

/// Every author that writes on `storage`, once each: the slots' authors, and the authors its
/// connections wrote as without a slot (marked in meta by their first write,
/// [`keys::META_LOCAL`]).
/// What `local-wins`, `remote-wins` and custom resolvers call local, whichever connection asks,
/// so that all of them (and every reopen) compute the same state.
pub(super) async fn local_authors(storage: &impl Storage) -> Result<Vec<PeerId>> {
    let keys_only = ScanOptions { keys_only: true, ..ScanOptions::default() };
    let (slots, marked) = futures::future::join(
        slot_identities(storage),
        storage.scan(Store::Meta, KeyRange::prefix(keys::META_LOCAL), keys_only),
    )
    .await;
    let mut authors: Vec<PeerId> = slots?.iter().map(Identity::peer).collect();
    // A few: no sort (its code would be one more copy in the wasm).
    for (k, _) in marked? {
        let bytes = k[keys::META_LOCAL.len()..]
            .try_into()
            .map_err(|_| DbError::Corrupt("a local author's mark is not 16 bytes".into()))?;
        if !authors.contains(&PeerId(bytes)) {
            authors.push(PeerId(bytes));
        }
    }
    Ok(authors)
}
