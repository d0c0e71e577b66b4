//! Connections sharing one storage (the tabs of a browser): each write holds the storage's write
//! lock around its catch-up and commit, a write that lost to another connection's commit catches
//! up and retries, a transaction's reads are checked again after that catch-up, and what was
//! caught up is kept apart from the write's own changes.

use std::cell::Cell;
use std::rc::Rc;

use auroradb::storage::{Claim, Fault, KeyRange, ScanOptions, WriteBatch, WriteLock, retry_delay_ms};
use auroradb::{
    Config, Database, DbError, FaultyStorage, MemoryStorage, Storage, StorageError, Store, Transaction, Value,
};
use auroradb_log::{advance_manual_clock, manual_clock, set_manual_clock};
use futures::executor::block_on;

fn config(name: &str) -> Config {
    set_manual_clock(1_700_000_000_000);
    Config::new(name, manual_clock)
}

fn tick() {
    advance_manual_clock(5);
}

/// A storage with a write lock shared by every connection made over it, which records how it is
/// used: a commit outside the lock, or a lock taken while held (which a lock across tabs would
/// never grant), is counted as a misuse.
#[derive(Clone)]
struct Locking<S> {
    inner: S,
    held: Rc<Cell<bool>>,
    taken: Rc<Cell<u32>>,
    misuses: Rc<Cell<u32>>,
    /// Commits checked only once the connections are open (opening writes the schema alone).
    checking: Rc<Cell<bool>>,
}

struct Guard(Rc<Cell<bool>>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl<S: Storage> Locking<S> {
    fn new(inner: S) -> Locking<S> {
        Locking { inner, held: Rc::default(), taken: Rc::default(), misuses: Rc::default(), checking: Rc::default() }
    }
}

impl<S: Storage> Storage for Locking<S> {
    async fn commit(&self, batch: WriteBatch) -> Result<(), StorageError> {
        if self.checking.get() && !self.held.get() {
            self.misuses.set(self.misuses.get() + 1);
        }
        self.inner.commit(batch).await
    }

    async fn get(&self, store: Store, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.get(store, key).await
    }

    async fn scan(
        &self,
        store: Store,
        range: KeyRange,
        options: ScanOptions,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError> {
        self.inner.scan(store, range, options).await
    }

    async fn count(&self, store: Store, range: KeyRange) -> Result<u64, StorageError> {
        self.inner.count(store, range).await
    }

    async fn lock_writes(&self) -> Result<WriteLock, StorageError> {
        if self.held.replace(true) {
            self.misuses.set(self.misuses.get() + 1);
        }
        self.taken.set(self.taken.get() + 1);
        Ok(WriteLock::held(Guard(self.held.clone())))
    }

    async fn hold(&self, name: &str) -> Result<Claim, StorageError> {
        self.inner.hold(name).await
    }
}

#[test]
fn every_write_commits_under_the_lock_and_releases_it() {
    block_on(async {
        let storage = Locking::new(FaultyStorage::new(MemoryStorage::new()));
        let mut a = Database::open(storage.clone(), config("locked")).await.unwrap();
        let mut b = Database::open(storage.clone(), config("locked")).await.unwrap();
        let mut c = Database::open(MemoryStorage::new(), config("elsewhere")).await.unwrap();
        storage.checking.set(true);
        tick();
        a.put("x", Value::Int(1)).await.unwrap();
        tick();
        b.put("y", Value::Int(2)).await.unwrap();
        tick();
        // a has not caught up with b: its commit loses once, catches up and wins, all under one
        // lock.
        let taken = storage.taken.get();
        a.remove("x").await.unwrap();
        assert_eq!(storage.taken.get(), taken + 1);
        assert_eq!(a.stats().catch_ups, 1);
        tick();
        a.batch_set([("z".to_owned(), Value::Int(3))]).await.unwrap();
        tick();
        b.transaction(|tx| tx.put("w", Value::Int(4))).await.unwrap();
        tick();
        a.checkpoint().await.unwrap();
        tick();
        b.clear().await.unwrap();
        // Ops from elsewhere (a log file, or a peer) go through the same path.
        tick();
        c.put("r", Value::Int(7)).await.unwrap();
        let file = c.export_log().await.unwrap();
        let taken = storage.taken.get();
        let (info, _) = a.import_log(&file).await.unwrap();
        assert_eq!(info.imported, 1);
        assert_eq!(storage.taken.get(), taken + 1);

        // A commit that fails inside the lock releases it, and its error is the storage's.
        storage.inner.fail_commit(0, Fault::Fail(StorageError::QuotaExceeded("full".into())));
        tick();
        let err = a.put("q", Value::Int(5)).await.unwrap_err();
        assert_eq!(err.name(), "QuotaExceededError");
        assert!(!storage.held.get(), "the lock was released after the failed write");
        tick();
        a.put("q", Value::Int(6)).await.unwrap();

        assert_eq!(storage.misuses.get(), 0, "a commit outside the lock, or a lock taken twice");
        assert!(!storage.held.get());
        b.catch_up().await.unwrap();
        assert_eq!(a.all(), [("q".to_owned(), Value::Int(6)), ("r".to_owned(), Value::Int(7))]);
        assert_eq!(a.all(), b.all());
        assert_eq!(a.verify().await.unwrap().authors, 3);
    });
}

#[test]
fn a_transaction_conflicts_on_a_read_another_connection_changed_unseen() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut a = Database::open(storage.clone(), config("txn")).await.unwrap();
        let mut b = Database::open(storage.clone(), config("txn")).await.unwrap();
        tick();
        a.put("stock", Value::Int(5)).await.unwrap();
        b.catch_up().await.unwrap();
        let mut tx = Transaction::new();
        assert_eq!(tx.read(a.state(), "stock"), Some(&Value::Int(5)));
        tx.put("stock", Value::Int(4)).unwrap();
        tx.put("order", Value::Int(1)).unwrap();
        // b sells the last items; a has not heard of it when it commits.
        tick();
        b.put("stock", Value::Int(0)).await.unwrap();
        tick();
        let before = storage.dump();
        let err = a.commit_transaction(tx).await.unwrap_err();
        assert!(matches!(err, DbError::Conflict { ref key } if key == "stock"), "{err}");
        assert_eq!(storage.dump(), before, "nothing of the transaction was written");
        assert_eq!(a.get("stock"), Some(&Value::Int(0)), "a caught up with b");
        assert_eq!(a.get("order"), None);
        let caught = a.take_caught_up();
        assert_eq!(caught.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(), ["stock"]);
        assert_eq!(caught[0].after, Some(Value::Int(0)));
        assert!(a.take_caught_up().is_empty(), "taken once");

        // Reads another connection left alone: it catches up and commits.
        let mut tx = Transaction::new();
        tx.read(a.state(), "stock");
        tx.put("order", Value::Int(2)).unwrap();
        tick();
        b.put("other", Value::Int(1)).await.unwrap();
        tick();
        let out = a.commit_transaction(tx).await.unwrap();
        assert_eq!(out.changes.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(), ["order"]);
        assert_eq!(a.take_caught_up().iter().map(|c| c.key.as_str()).collect::<Vec<_>>(), ["other"]);
    });
}

#[test]
fn a_write_that_loads_the_index_checks_its_reads_after_the_catch_up_that_loading_does() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut cfg = config("txn-load");
        cfg.checkpoint_every = 2;
        let mut a = Database::open(storage.clone(), cfg.clone()).await.unwrap();
        tick();
        a.put("stock", Value::Int(5)).await.unwrap();
        drop(a);
        // Reopened without the log's index, one op after the last checkpoint: its next write is
        // due to make one, so it loads the index, catching up first.
        let mut a = Database::open(storage.clone(), cfg.clone()).await.unwrap();
        let mut b = Database::open(storage.clone(), cfg).await.unwrap();
        let mut tx = Transaction::new();
        tx.read(a.state(), "stock");
        tx.put("stock", Value::Int(4)).unwrap();
        tick();
        b.put("stock", Value::Int(0)).await.unwrap();
        tick();
        let err = a.commit_transaction(tx).await.unwrap_err();
        assert!(matches!(err, DbError::Conflict { ref key } if key == "stock"), "{err}");
        assert!(a.log().is_indexed());
        assert_eq!(a.get("stock"), Some(&Value::Int(0)));
    });
}

#[test]
fn a_write_reports_its_own_changes_and_keeps_those_caught_up_apart() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut a = Database::open(storage.clone(), config("apart")).await.unwrap();
        let mut b = Database::open(storage.clone(), config("apart")).await.unwrap();
        tick();
        b.put("k1", Value::Int(1)).await.unwrap();
        tick();
        b.put("k2", Value::Int(2)).await.unwrap();
        tick();
        // Removing an absent key changes nothing of a's own, whatever a caught up with.
        let out = a.remove("absent").await.unwrap();
        assert!(out.changes.is_empty(), "{:?}", out.changes);
        assert_eq!(out.ops.len(), 1);
        let caught = a.take_caught_up();
        assert_eq!(caught.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(), ["k1", "k2"]);
        tick();
        b.put("k3", Value::Int(3)).await.unwrap();
        tick();
        // clear() reports the records it deleted: the three b wrote, each once.
        let out = a.clear().await.unwrap();
        assert_eq!(out.changes.len(), 3);
        assert_eq!(a.take_caught_up().len(), 1);
        assert_eq!(a.count(), 0);
    });
}

/// A transaction of many writes that loses its commit to another connection is retried with the
/// same writes: the retry takes the op's kind back from the lost try's encoding (nested maps,
/// lists, floats, bytes, a remove among the puts), and the transaction still sees its own writes
/// before the commit.
#[test]
fn a_transaction_that_lost_its_commit_is_retried_with_the_same_writes() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut a = Database::open(storage.clone(), config("retried")).await.unwrap();
        let mut b = Database::open(storage.clone(), config("retried")).await.unwrap();
        let value = |i: i64| {
            Value::map([
                ("n", Value::Int(i)),
                ("x", Value::Float(i as f64 + 0.25)),
                ("tags", Value::List(vec![Value::String(format!("t{i}")), Value::Bytes(vec![i as u8, 0xff])])),
                ("inner", Value::map([("deep", Value::map([("i", Value::Int(-i))]))])),
            ])
        };
        let mut tx = Transaction::new();
        for i in 0..200 {
            tx.put(format!("k{i:03}"), value(i)).unwrap();
        }
        tx.remove("k007").unwrap();
        tx.put("k010", Value::Null).unwrap();
        assert_eq!(tx.written("k007"), Some(None));
        assert_eq!(tx.written("k010"), Some(Some(&Value::Null)));
        assert_eq!(tx.written("k011"), Some(Some(&value(11))));
        assert_eq!(tx.written("absent"), None);
        // b commits meanwhile: a's commit claims a number b took, loses, catches up and retries.
        tick();
        b.put("other", Value::Int(1)).await.unwrap();
        tick();
        let out = a.commit_transaction(tx).await.unwrap();
        assert_eq!(out.ops.len(), 1);
        assert_eq!(a.take_caught_up().len(), 1, "a caught up with b's write");
        // Both connections, and a third opened afterwards, hold exactly the transaction's writes.
        tick();
        b.put("after", Value::Int(2)).await.unwrap();
        let c = Database::open(storage.clone(), config("retried")).await.unwrap();
        for db in [&a, &b, &c] {
            assert_eq!(db.get("k007"), None);
            assert_eq!(db.get("k010"), Some(&Value::Null));
            assert_eq!(db.get("k199"), Some(&value(199)));
            assert_eq!(db.get("k000"), Some(&value(0)));
            assert_eq!(db.get("other"), Some(&Value::Int(1)));
        }
        assert_eq!(c.count(), 200 - 1 + 2);
    });
}

#[test]
fn retries_without_a_lock_back_off_exponentially_with_jitter_and_are_bounded() {
    assert_eq!(retry_delay_ms(1, 0.0), 0.0, "the first retry only catches up");
    assert_eq!(retry_delay_ms(1, 0.99), 0.0);
    for attempt in 2..40 {
        let full = f64::from(1u32 << (attempt - 1).min(8));
        let (lo, hi) = (retry_delay_ms(attempt, 0.0), retry_delay_ms(attempt, 0.999_999));
        assert_eq!(lo, full / 2.0, "attempt {attempt}");
        assert!(hi < full && hi > lo, "attempt {attempt}: {lo}..{hi}");
        assert!(hi < 256.0);
    }
    assert!(retry_delay_ms(3, 0.5) > retry_delay_ms(2, 0.5));
    // Out-of-range randomness is clamped, never a negative or unbounded wait.
    assert_eq!(retry_delay_ms(5, -1.0), 8.0);
    assert_eq!(retry_delay_ms(5, 7.0), 16.0);
}

/// The clock is set back an hour while two connections are open, after one of them wrote: the
/// other catches up with that write (part of the database's history, not a peer's op: no drift
/// bound) and writes after it. Its catch-up once failed with `ClockDriftError`, and so did every
/// write of it until the clock caught up.
#[test]
fn a_connection_catches_up_and_writes_after_another_ones_ops_with_the_clock_set_back() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut a = Database::open(storage.clone(), config("back")).await.unwrap();
        let mut b = Database::open(storage.clone(), config("back")).await.unwrap();
        tick();
        a.put("k", Value::from("a")).await.unwrap();
        let written = a.log().heads()[&a.peer()].id;
        set_manual_clock(1_700_000_000_000 - 3_600_000);
        b.put("k", Value::from("b")).await.unwrap();
        let mine = b.log().heads()[&b.peer()].id;
        assert!(mine > written, "{mine} is not after {written}");
        assert_eq!(b.get("k"), Some(&Value::from("b")));
        // The first connection catches up with it the same way, and so does a fresh one.
        a.catch_up().await.unwrap();
        assert_eq!(a.get("k"), Some(&Value::from("b")));
        tick();
        a.put("j", Value::Int(1)).await.unwrap();
        assert!(a.log().heads()[&a.peer()].id > mine);
        b.catch_up().await.unwrap();
        a.verify().await.unwrap();
        b.verify().await.unwrap();
    });
}

/// A storage that lets another connection write once, just before the first read of every state
/// record (the whole state an open reads when the journal has no count for it).
struct WritesBeforeStateScan {
    inner: MemoryStorage,
    rival: std::cell::RefCell<Option<Database<MemoryStorage>>>,
}

impl Storage for WritesBeforeStateScan {
    async fn commit(&self, batch: WriteBatch) -> Result<(), StorageError> {
        self.inner.commit(batch).await
    }

    async fn get(&self, store: Store, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.get(store, key).await
    }

    async fn scan(
        &self,
        store: Store,
        range: KeyRange,
        options: ScanOptions,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError> {
        let rival = if store == Store::State { self.rival.borrow_mut().take() } else { None };
        if let Some(mut rival) = rival {
            rival.put("theirs", Value::Int(1)).await.unwrap();
        }
        self.inner.scan(store, range, options).await
    }

    async fn count(&self, store: Store, range: KeyRange) -> Result<u64, StorageError> {
        self.inner.count(store, range).await
    }
}

/// Found with five tabs opening one database: a tab's open read no commit, another tab made the
/// first one, and the open then read its state record without the state meta it had read as
/// missing ("state records without state meta"). The open reads again instead.
#[test]
fn an_open_that_reads_the_whole_state_reads_again_if_another_connection_committed_meanwhile() {
    block_on(async {
        for first in [false, true] {
            let storage = MemoryStorage::new();
            let mut rival = Database::open(storage.clone(), config("race")).await.unwrap();
            if first {
                // A commit before the open too: the state meta is there, and the open's reads
                // must still be of one commit.
                rival.put("before", Value::Int(0)).await.unwrap();
            }
            tick();
            let hooked = WritesBeforeStateScan { inner: storage.clone(), rival: Some(rival).into() };
            let mut db = Database::open(hooked, config("race")).await.unwrap();
            assert!(db.storage().rival.borrow().is_none(), "the other connection wrote during the open");
            assert_eq!(db.get("theirs"), Some(&Value::Int(1)));
            tick();
            db.put("mine", Value::Int(2)).await.unwrap();
            assert_eq!(db.count(), if first { 3 } else { 2 });
            db.verify().await.unwrap();
            let mut again = Database::open(storage, config("race")).await.unwrap();
            again.load_state().await.unwrap();
            assert_eq!(again.get("theirs"), Some(&Value::Int(1)));
            assert_eq!(again.count(), db.count());
            again.verify().await.unwrap();
        }
    });
}

/// Every open connection applies one strategy: while another connection is open, one configured
/// with another strategy is refused unless it raises the version (which, in a browser, closes
/// the connections of the old one first); alone, it changes it. Found with two tabs of different
/// strategies writing one database: each wrote records of its own rule, and reads of the
/// other's failed as corrupt.
#[test]
fn a_connection_with_another_strategy_is_refused_unless_it_raises_the_version() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut a = Database::open(storage.clone(), config("rules")).await.unwrap();
        a.put("k", Value::Int(1)).await.unwrap();
        let mut other = config("rules");
        other.strategy = auroradb::Strategy::LocalWins;
        let err = Database::open(storage.clone(), other.clone()).await.unwrap_err();
        assert_eq!(err.name(), "InvalidConfigError");
        assert!(err.to_string().contains("open elsewhere with the \"timestamp\" strategy"), "{err}");
        // Nothing was written by the refused open: the first connection goes on.
        tick();
        a.put("k", Value::Int(2)).await.unwrap();
        a.verify().await.unwrap();
        other.version += 1;
        let b = Database::open(storage.clone(), other.clone()).await.unwrap();
        assert_eq!(b.get("k"), Some(&Value::Int(2)));
        assert_eq!(b.config().strategy.name(), "local-wins");
        // Alone, a connection changes it at the same version.
        drop((a, b));
        let mut back = config("rules");
        back.version = other.version;
        let c = Database::open(storage.clone(), back).await.unwrap();
        assert_eq!((c.get("k"), c.config().strategy.name()), (Some(&Value::Int(2)), "timestamp"));

        // Two connections that make a new database at once: the second sees the first's schema.
        let fresh = MemoryStorage::new();
        let mut local_wins = config("new");
        local_wins.strategy = auroradb::Strategy::LocalWins;
        let (first, second) =
            futures::future::join(Database::open(fresh.clone(), config("new")), Database::open(fresh, local_wins))
                .await;
        first.unwrap();
        assert_eq!(second.unwrap_err().name(), "InvalidConfigError");
    });
}

/// Under `local-wins` and `remote-wins`, every author of the storage is local: two connections
/// (two slots), a connection given an identity of its own, a reopen and ops imported from
/// elsewhere all give one state, the same in every connection and after a reopen, and
/// `history()` calls current the op `get()` shows.
#[test]
fn sided_strategies_count_every_author_of_the_storage_as_local() {
    block_on(async {
        for (strategy, winner) in [(auroradb::Strategy::LocalWins, "b"), (auroradb::Strategy::RemoteWins, "remote")] {
            let storage = MemoryStorage::new();
            let mut cfg = config("sided");
            cfg.strategy = strategy.clone();
            // Ops from another database, written before the local ones.
            let mut elsewhere = Database::open(MemoryStorage::new(), cfg.clone()).await.unwrap();
            elsewhere.put("k", Value::String("remote".into())).await.unwrap();
            let file = elsewhere.export_log().await.unwrap();
            tick();
            let mut a = Database::open(storage.clone(), cfg.clone()).await.unwrap();
            a.put("k", Value::String("a".into())).await.unwrap();
            tick();
            let mut b = Database::open(storage.clone(), cfg.clone()).await.unwrap();
            assert_ne!(a.peer(), b.peer());
            b.put("k", Value::String("b".into())).await.unwrap();
            tick();
            a.import_log(&file).await.unwrap();
            b.put("other", Value::Int(1)).await.unwrap();
            for (name, db) in [("a", &mut a), ("b", &mut b)] {
                assert_eq!(db.get("k"), Some(&Value::String(winner.into())), "{} in {name}", strategy.name());
                let history = db.history("k").await.unwrap();
                let current: Vec<_> = history.iter().filter(|h| h.outcome == auroradb::Outcome::Current).collect();
                assert_eq!(current.len(), 1, "{} in {name}: {history:?}", strategy.name());
                assert_eq!(current[0].value, Some(Value::String(winner.into())), "{} in {name}", strategy.name());
            }
            // A connection given its identity: its first write marks its author as the storage's,
            // and the others learn it when they catch up with it.
            let mut c = cfg.clone();
            c.identity = Some(auroradb_log::Identity::generate());
            let mut c = Database::open(storage.clone(), c).await.unwrap();
            tick();
            c.put("k", Value::String("c".into())).await.unwrap();
            tick();
            a.put("other", Value::Int(2)).await.unwrap();
            let after_c = if strategy.name() == "local-wins" { "c" } else { "remote" };
            assert_eq!(a.get("k"), Some(&Value::String(after_c.into())), "{} in a after c", strategy.name());
            assert_eq!(c.get("k"), Some(&Value::String(after_c.into())), "{} in c", strategy.name());
            // Reopened (each connection gone, then one alone): the same state.
            drop((a, b, c));
            let mut again = Database::open(storage.clone(), cfg.clone()).await.unwrap();
            assert_eq!(again.get("k"), Some(&Value::String(after_c.into())), "{} after reopen", strategy.name());
            again.verify().await.unwrap();
        }
    });
}
