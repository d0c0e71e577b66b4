//! Author slots: a connection opened without an identity writes as the author of the lowest slot
//! of its storage that no other open connection holds, the same one on every reopen; an explicit
//! identity or author is used as it is and nothing is stored.

use std::cell::RefCell;
use std::rc::Rc;

use auroradb::log::Identity;
use auroradb::storage::{Claim, KeyRange, Mutation, ScanOptions, WriteBatch};
use auroradb::{AUTHOR_SLOTS, Config, Database, MemoryStorage, PeerId, Storage, StorageError, Store, Value};
use auroradb_log::{advance_manual_clock, manual_clock, set_manual_clock};
use futures::executor::block_on;

fn config() -> Config {
    set_manual_clock(1_700_000_000_000);
    Config::new("authors", manual_clock)
}

async fn open<S: Storage + Clone>(storage: &S) -> Database<S> {
    Database::open(storage.clone(), config()).await.unwrap()
}

async fn put(db: &mut Database<impl Storage>, key: &str, n: i64) {
    advance_manual_clock(5);
    db.put(key, Value::Int(n)).await.unwrap();
}

/// The stored identities: `(meta key, record)`.
async fn stored_identities(storage: &impl Storage) -> Vec<(Vec<u8>, Vec<u8>)> {
    storage.scan(Store::Meta, KeyRange::prefix(b"identity/"), ScanOptions::default()).await.unwrap()
}

#[test]
fn a_reopen_writes_as_the_same_author_and_continues_its_chain() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut db = open(&storage).await;
        put(&mut db, "a", 1).await;
        put(&mut db, "b", 2).await;
        let (author, secret) = (db.peer(), db.log().identity().unwrap().secret());
        assert_eq!(db.author_slot(), Some(0));
        assert!(storage.is_held("author/0"));
        drop(db);
        assert!(!storage.is_held("author/0"), "dropping the database releases its slot");

        let mut db = open(&storage).await;
        assert_eq!((db.peer(), db.author_slot()), (author, Some(0)));
        put(&mut db, "a", 3).await;
        assert_eq!(db.log().heads()[&author].seq, 3);
        assert_eq!(db.get("a"), Some(&Value::Int(3)));
        let report = db.verify().await.unwrap();
        assert_eq!((report.ops, report.authors, report.proven), (3, 1, 1));

        // Slot 0's identity, stored under `identity/0`: the secret key, in the clear.
        let stored = stored_identities(&storage).await;
        assert_eq!(stored.len(), 1);
        let (key, record) = &stored[0];
        assert_eq!(key, b"identity/0");
        assert_eq!((&record[..4], record[4], &record[5..]), (&b"AUid"[..], 1, &secret[..]));
    });
}

#[test]
fn connections_open_at_once_write_as_authors_of_their_own_and_a_freed_slot_is_taken_again() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut a = open(&storage).await;
        let mut b = open(&storage).await;
        assert_eq!((a.author_slot(), b.author_slot()), (Some(0), Some(1)));
        assert_ne!(a.peer(), b.peer(), "two writers never share a chain");
        for i in 0..4 {
            put(&mut a, &format!("a{i}"), i).await;
            put(&mut b, &format!("b{i}"), i).await;
        }
        b.catch_up().await.unwrap();
        assert_eq!(b.count(), 8, "nothing is lost");
        let (first, second) = (a.peer(), b.peer());

        drop(a);
        let mut c = open(&storage).await;
        assert_eq!((c.author_slot(), c.peer()), (Some(0), first), "the freed slot, with its author");
        put(&mut c, "c", 1).await;
        assert_eq!(c.log().heads()[&first].seq, 5, "and its chain");
        let d = open(&storage).await;
        assert_eq!(d.author_slot(), Some(2));
        drop(b);
        let e = open(&storage).await;
        assert_eq!((e.author_slot(), e.peer()), (Some(1), second));
        assert_eq!(stored_identities(&storage).await.len(), 3);
        let report = c.verify().await.unwrap();
        assert_eq!((report.ops, report.authors), (9, 2));
    });
}

#[test]
fn beyond_the_last_slot_a_connection_gets_a_fresh_identity_that_is_not_stored() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut open_ones = Vec::new();
        for slot in 0..AUTHOR_SLOTS {
            let db = open(&storage).await;
            assert_eq!(db.author_slot(), Some(slot));
            open_ones.push(db);
        }
        let extra = open(&storage).await;
        assert_eq!(extra.author_slot(), None);
        assert!(open_ones.iter().all(|db| db.peer() != extra.peer()));
        assert!(extra.log().identity().is_some(), "it still signs");
        assert_eq!(stored_identities(&storage).await.len(), AUTHOR_SLOTS as usize);
        drop(extra);
        open_ones.swap_remove(7);
        assert_eq!(open(&storage).await.author_slot(), Some(7));
    });
}

#[test]
fn an_explicit_identity_or_author_claims_no_slot_and_stores_nothing() {
    block_on(async {
        let storage = MemoryStorage::new();
        let me = Identity::from_secret(&[0x42; 32]);
        let mut cfg = config();
        cfg.identity = Some(me.clone());
        let mut db = Database::open(storage.clone(), cfg).await.unwrap();
        put(&mut db, "k", 1).await;
        assert_eq!((db.peer(), db.author_slot()), (me.peer(), None));
        assert!(!storage.is_held("author/0"));
        let mut cfg = config();
        cfg.peer = Some(PeerId([7; 16]));
        let restorer = Database::open(storage.clone(), cfg).await.unwrap();
        assert_eq!((restorer.peer(), restorer.author_slot()), (PeerId([7; 16]), None));
        assert!(stored_identities(&storage).await.is_empty());
        // The first connection without one takes slot 0, whatever the others wrote as.
        let slotted = open(&storage).await;
        assert_eq!(slotted.author_slot(), Some(0));
        assert_ne!(slotted.peer(), me.peer());
    });
}

/// A memory storage with three hooks: it can stop locking (as a browser without Web Locks),
/// let another connection store the identity of a slot between this connection's read of it
/// (absent) and its own commit of one (as a connection that could not lock would), and let
/// other futures run before each of its calls, saying whether it is new (as tabs opening one
/// database at once interleave their reads and writes).
#[derive(Clone, Default)]
struct Hooked {
    inner: MemoryStorage,
    /// [`Storage::hold`] answers [`Claim::Unsupported`].
    no_locks: bool,
    /// The other connection's commit, made just before this one's first identity commit.
    rival: Rc<RefCell<Option<WriteBatch>>>,
    /// Every call is pending once before it runs, and [`Storage::is_new`] is the memory
    /// storage's.
    interleaved: bool,
    /// Commits asked for, failed ones too.
    commits: Rc<std::cell::Cell<usize>>,
}

impl Hooked {
    /// Pending once, then ready, when interleaved: the futures joined with this one run in
    /// between.
    async fn turn(&self) {
        let mut yielded = !self.interleaved;
        futures::future::poll_fn(|cx| {
            if yielded {
                return std::task::Poll::Ready(());
            }
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        })
        .await
    }
}

impl Storage for Hooked {
    fn is_new(&self) -> bool {
        self.interleaved && self.inner.is_new()
    }

    async fn hold(&self, name: &str) -> Result<Claim, StorageError> {
        self.turn().await;
        if self.no_locks { Ok(Claim::Unsupported) } else { self.inner.hold(name).await }
    }

    async fn commit(&self, batch: WriteBatch) -> Result<(), StorageError> {
        self.turn().await;
        self.commits.set(self.commits.get() + 1);
        let stores_identity = batch
            .mutations
            .iter()
            .any(|m| matches!(m, Mutation::Put { store: Store::Meta, key, .. } if key.starts_with(b"identity/")));
        let rival = if stores_identity { self.rival.borrow_mut().take() } else { None };
        if let Some(rival) = rival {
            self.inner.commit(rival).await?;
        }
        self.inner.commit(batch).await
    }

    async fn get(&self, store: Store, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.turn().await;
        self.inner.get(store, key).await
    }

    async fn scan(
        &self,
        store: Store,
        range: KeyRange,
        options: ScanOptions,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError> {
        self.turn().await;
        self.inner.scan(store, range, options).await
    }

    async fn count(&self, store: Store, range: KeyRange) -> Result<u64, StorageError> {
        self.turn().await;
        self.inner.count(store, range).await
    }
}

#[test]
fn a_storage_that_cannot_lock_gives_each_connection_a_fresh_identity() {
    block_on(async {
        let storage = Hooked { no_locks: true, ..Hooked::default() };
        let first = open(&storage).await;
        let author = first.peer();
        drop(first);
        let again = open(&storage).await;
        assert_eq!(again.author_slot(), None);
        assert_ne!(again.peer(), author, "no slot can be told free: none is used");
        assert!(stored_identities(&storage).await.is_empty());
    });
}

#[test]
fn a_slot_stored_by_two_connections_at_once_keeps_the_first_identity() {
    block_on(async {
        // The other connection's identity record for slot 0, as it stores it.
        let elsewhere = MemoryStorage::new();
        let theirs = open(&elsewhere).await.peer();
        let [(key, record)] = <[_; 1]>::try_from(stored_identities(&elsewhere).await).unwrap();
        let mut rival = WriteBatch::default();
        rival.put(Store::Meta, key, record);

        let storage = Hooked { rival: Rc::new(RefCell::new(Some(rival))), ..Hooked::default() };
        let mut db = open(&storage).await;
        assert!(storage.rival.borrow().is_none(), "the other connection stored it first");
        assert_eq!((db.author_slot(), db.peer()), (Some(0), theirs), "this one reads theirs");
        assert_eq!(stored_identities(&storage).await.len(), 1);
        put(&mut db, "k", 1).await;
        drop(db);
        assert_eq!(open(&storage).await.peer(), theirs);
    });
}

/// A storage known to be new is opened without reading it; two connections opening one at once
/// (both told it is new) still take slots of their own and lose none of each other's writes.
#[test]
fn connections_that_open_a_new_storage_at_once_take_slots_of_their_own_and_lose_nothing() {
    block_on(async {
        let alone = MemoryStorage::new();
        let db = open(&alone).await;
        for store in Store::ALL {
            assert_eq!(alone.reads(store), 0, "the open of a new storage read {store:?}");
        }
        drop(db);

        let storage = Hooked { interleaved: true, ..Hooked::default() };
        let (mut a, mut b) = futures::future::join(open(&storage), open(&storage)).await;
        assert_eq!((a.author_slot().min(b.author_slot()), a.author_slot().max(b.author_slot())), (Some(0), Some(1)));
        assert_ne!(a.peer(), b.peer(), "two writers never share a chain");
        assert_eq!(stored_identities(&storage).await.len(), 2);
        for i in 0..4 {
            put(&mut a, &format!("a{i}"), i).await;
            put(&mut b, &format!("b{i}"), i).await;
        }
        a.catch_up().await.unwrap();
        b.catch_up().await.unwrap();
        assert_eq!((a.count(), b.count()), (8, 8), "nothing is lost");
        let report = a.verify().await.unwrap();
        assert_eq!((report.ops, report.authors), (8, 2));
        drop((a, b));
        let again = open(&storage).await;
        assert_eq!(again.count(), 8);
    });
}

/// The first open of a new storage stores slot 0's identity and the schema in one commit; if
/// another connection stored a schema in between, the identity is stored alone and the schema
/// checked against the one stored, as on any open.
#[test]
fn a_first_open_stores_its_identity_and_the_schema_in_one_commit() {
    block_on(async {
        let storage = Hooked { interleaved: true, ..Hooked::default() };
        let mut db = open(&storage).await;
        assert_eq!(storage.commits.get(), 1, "one commit for the identity and the schema");
        let schema = storage.inner.get(Store::Meta, b"schema").await.unwrap().expect("the schema is stored");
        assert_eq!((db.author_slot(), stored_identities(&storage).await.len()), (Some(0), 1));
        put(&mut db, "k", 1).await;
        let author = db.peer();
        drop(db);
        let again = open(&storage).await;
        assert_eq!((again.peer(), again.count()), (author, 1));
        drop(again);

        // Another connection's schema, stored just before this one's first commit.
        let mut rival = WriteBatch::default();
        rival.put(Store::Meta, b"schema".to_vec(), schema.clone());
        let storage = Hooked { interleaved: true, rival: Rc::new(RefCell::new(Some(rival))), ..Hooked::default() };
        let mut db = open(&storage).await;
        assert!(storage.rival.borrow().is_none());
        // The joint commit, the identity's alone, and the schema's, which finds the stored one.
        assert_eq!(storage.commits.get(), 3);
        assert_eq!(db.author_slot(), Some(0));
        assert_eq!(stored_identities(&storage).await.len(), 1);
        assert_eq!(storage.inner.get(Store::Meta, b"schema").await.unwrap(), Some(schema.clone()));
        put(&mut db, "k", 2).await;
        assert_eq!(db.verify().await.unwrap().ops, 1);

        // A newer schema stored meanwhile: this older configuration is refused, as on a reopen.
        let newer = {
            let elsewhere = MemoryStorage::new();
            Database::open(elsewhere.clone(), Config { version: 2, ..config() }).await.unwrap();
            elsewhere.get(Store::Meta, b"schema").await.unwrap().unwrap()
        };
        let mut rival = WriteBatch::default();
        rival.put(Store::Meta, b"schema".to_vec(), newer);
        let storage = Hooked { interleaved: true, rival: Rc::new(RefCell::new(Some(rival))), ..Hooked::default() };
        let err = Database::open(storage.clone(), config()).await.expect_err("an older version is refused");
        assert!(err.to_string().contains("older than the stored schema version 2"), "{err}");
    });
}

/// Another connection's first commit that seals the log's tail writes its chain head to meta,
/// not to its journal entry: a connection catching up with it still learns that author's slot
/// identity, and proves its ops (verify, an export another database takes in). It did not: its
/// `verify` failed with "ops of author … are not proven", and so did the import of its export.
#[test]
fn a_connection_proves_the_ops_of_another_ones_slot_whose_first_commit_sealed_the_tail() {
    block_on(async {
        for (segment_ops, before) in [(2, 1), (64, 63)] {
            let storage = MemoryStorage::new();
            let cfg = Config { segment_ops, ..config() };
            let mut a = Database::open(storage.clone(), cfg.clone()).await.unwrap();
            let mut b = Database::open(storage.clone(), cfg.clone()).await.unwrap();
            for i in 0..before {
                put(&mut a, &format!("a{i}"), i).await;
            }
            put(&mut b, "b", 1).await;
            a.catch_up().await.unwrap();
            assert_eq!(a.verify().await.unwrap().ops, before as u64 + 1, "segment_ops {segment_ops}");
            let file = a.export_log().await.unwrap();
            let mut other = Database::open(MemoryStorage::new(), cfg).await.unwrap();
            other.import_log(&file).await.unwrap();
            assert_eq!(other.get("b"), Some(&Value::Int(1)));
        }
    });
}
