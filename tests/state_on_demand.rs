//! The state on demand (`Config::state_cache`): opening reads no record, reads and writes read
//! the records of their keys, at most about the configured number are held, and everything
//! (writes, clears, unique indexes, transactions, other connections' commits, peers' ops) gives
//! the state a database holding every record gives.

use auroradb::{Change, Config, Database, DbError, IndexSpec, MemoryStorage, Store, Transaction, Value};
use auroradb_log::{advance_manual_clock, manual_clock, set_manual_clock};
use futures::executor::block_on;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn config(name: &str, cache: Option<usize>) -> Config {
    set_manual_clock(1_700_000_000_000);
    let mut cfg = Config::new(name, manual_clock);
    cfg.state_cache = cache;
    cfg
}

fn tick() {
    advance_manual_clock(5);
}

/// Every visible record, read through `load_state`.
async fn everything(db: &mut Database<MemoryStorage>) -> Vec<(String, Value)> {
    db.load_state().await.unwrap();
    db.all()
}

#[test]
fn opening_reads_no_record_and_reads_hold_at_most_the_cache() {
    block_on(async {
        let storage = MemoryStorage::new();
        {
            let mut db = Database::open(storage.clone(), config("open", Some(50))).await.unwrap();
            for i in 0..300 {
                tick();
                db.put(format!("k{i:03}"), Value::Int(i)).await.unwrap();
            }
            tick();
            db.remove("k007").await.unwrap();
            assert!(db.state().held() <= 51, "{} held", db.state().held());
        }
        storage.reset_reads();
        let mut db = Database::open(storage.clone(), config("open", Some(50))).await.unwrap();
        assert_eq!(storage.reads(Store::State), 0);
        assert_eq!((db.count(), db.state().held(), db.holds_whole_state()), (299, 0, false));
        db.load_keys(&["k010", "k007", "nope"]).await.unwrap();
        assert_eq!(storage.reads(Store::State), 2, "one read a record held in storage");
        assert_eq!((db.get("k010"), db.get("k007"), db.get("nope")), (Some(&Value::Int(10)), None, None));
        // Reading them all holds them all, until records are read again past the bound.
        assert_eq!(everything(&mut db).await.len(), 299);
        assert!(db.holds_whole_state());
        db.load_keys(&["k001"]).await.unwrap();
        assert_eq!((db.holds_whole_state(), db.state().held()), (false, 1));
        // Writes read their keys' records only.
        storage.reset_reads();
        for i in 0..20 {
            tick();
            db.put(format!("k{i:03}"), Value::Int(-i)).await.unwrap();
        }
        assert_eq!(storage.reads(Store::State), 19, "k001 was held");
        assert_eq!(db.count(), 300, "k007 is back");
        tick();
        db.put("new", Value::Null).await.unwrap();
        assert_eq!(db.count(), 301);
        db.verify().await.unwrap();
    });
}

/// One write of a random mix, on key `k{0..40}`.
async fn random_write(db: &mut Database<MemoryStorage>, rng: &mut SmallRng) -> Result<(), DbError> {
    let key = format!("k{}", rng.gen_range(0..40));
    match rng.gen_range(0..20) {
        0 => db.clear().await.map(drop),
        1..=4 => db.remove(key).await.map(drop),
        5..=6 => {
            let entries = (0..3).map(|j| (format!("k{}", rng.gen_range(0..40)), Value::Int(j)));
            db.batch_set(entries).await.map(drop)
        }
        7 => {
            let mut tx = Transaction::new();
            tx.put(key.clone(), Value::from("tx")).unwrap();
            tx.remove(format!("k{}", rng.gen_range(0..40))).unwrap();
            db.commit_transaction(tx).await.map(drop)
        }
        _ => db.put(key, Value::map([("n", Value::Int(rng.gen_range(0..1000)))])).await.map(drop),
    }
}

#[test]
fn on_demand_and_whole_states_agree_through_random_writes_from_two_connections() {
    for seed in 0..12 {
        block_on(async {
            let mut rng = SmallRng::seed_from_u64(seed);
            let storage = MemoryStorage::new();
            // Two connections on one storage, one on demand with a tiny cache, one whole; and a
            // third storage written with the same ops' effects through a whole connection only.
            let mut lazy = Database::open(storage.clone(), config("mix", Some(5))).await.unwrap();
            let mut whole = Database::open(storage.clone(), config("mix", None)).await.unwrap();
            for step in 0..150 {
                tick();
                let db = if rng.gen_bool(0.5) { &mut lazy } else { &mut whole };
                random_write(db, &mut rng).await.unwrap();
                if step % 17 == 0 {
                    // Reopened on demand: a fresh connection with nothing held.
                    lazy = Database::open(storage.clone(), config("mix", Some(5))).await.unwrap();
                }
            }
            lazy.catch_up().await.unwrap();
            whole.catch_up().await.unwrap();
            let want = everything(&mut whole).await;
            assert_eq!(lazy.count(), want.len(), "seed {seed}");
            assert_eq!(everything(&mut lazy).await, want, "seed {seed}");
            lazy.verify().await.unwrap();
            // A whole reopen agrees too.
            let mut fresh = Database::open(storage.clone(), config("mix", None)).await.unwrap();
            assert_eq!(fresh.all(), want, "seed {seed}");
            fresh.verify().await.unwrap();
        });
    }
}

#[test]
fn catching_up_reports_what_another_connection_changed() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut a = Database::open(storage.clone(), config("tabs", Some(10))).await.unwrap();
        let mut b = Database::open(storage.clone(), config("tabs", None)).await.unwrap();
        a.put("x", Value::Int(1)).await.unwrap();
        b.catch_up().await.unwrap();
        // Reopened, it holds no record (a new database holds them all while they fit).
        drop(a);
        let mut a = Database::open(storage.clone(), config("tabs", Some(10))).await.unwrap();
        a.load_keys(&["x"]).await.unwrap();
        tick();
        b.put("x", Value::Int(2)).await.unwrap();
        tick();
        b.put("y", Value::Int(3)).await.unwrap();
        let changes = a.catch_up().await.unwrap();
        let seen: Vec<_> = changes.iter().map(|c| (c.key.as_str(), c.before.clone(), c.after.clone())).collect();
        assert_eq!(seen, [("x", Some(Value::Int(1)), Some(Value::Int(2))), ("y", None, Some(Value::Int(3)))]);
        assert_eq!(a.count(), 2);
        a.load_keys(&["x"]).await.unwrap();
        assert_eq!(a.get("x"), Some(&Value::Int(2)));
        tick();
        b.clear().await.unwrap();
        let changes = a.catch_up().await.unwrap();
        assert_eq!(changes.iter().map(|c| (c.key.as_str(), c.after.clone())).collect::<Vec<_>>(), [("x", None)]);
        assert_eq!((a.count(), a.state().held()), (0, 0));
        assert!(everything(&mut a).await.is_empty());
    });
}

#[test]
fn a_unique_index_is_checked_against_every_record() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut cfg = config("unique", Some(2));
        cfg.indexes = vec![IndexSpec { name: "email".into(), unique: true }];
        {
            let mut db = Database::open(storage.clone(), cfg.clone()).await.unwrap();
            for i in 0..10 {
                tick();
                db.put(format!("u{i}"), Value::map([("email", Value::from(format!("{i}@x").as_str()))])).await.unwrap();
            }
        }
        let mut db = Database::open(storage.clone(), cfg).await.unwrap();
        assert_eq!(db.state().held(), 0);
        tick();
        let taken = db.put("other", Value::map([("email", Value::from("3@x"))])).await;
        assert!(matches!(&taken, Err(e) if e.error_name().as_str() == "UniqueConstraintError"), "{taken:?}");
        tick();
        db.put("other", Value::map([("email", Value::from("new@x"))])).await.unwrap();
        assert_eq!(db.find_by("email", &Value::from("new@x")).unwrap().len(), 1);
        assert_eq!(db.count(), 11);
        // Past the cache, the records stay held: the next write needs them all again.
        db.release_excess();
        db.load_keys(&["u1"]).await.unwrap();
        assert_eq!((db.holds_whole_state(), db.state().held()), (true, 11));
    });
}

#[test]
fn peers_ops_and_a_journal_entry_without_a_count() {
    block_on(async {
        // A peer's ops land in a database on demand: their keys' records are read first.
        let storage = MemoryStorage::new();
        let mut db = Database::open(storage.clone(), config("peer", Some(3))).await.unwrap();
        for i in 0..8 {
            tick();
            db.put(format!("k{i}"), Value::Int(i)).await.unwrap();
        }
        let mut reopen = Config::new("peer", manual_clock);
        reopen.state_cache = Some(3);
        let mut db = Database::open(storage.clone(), reopen).await.unwrap();
        // The same clock, not set back: the peer writes after this database.
        let mut peer = Database::open(MemoryStorage::new(), Config::new("peer-b", manual_clock)).await.unwrap();
        tick();
        peer.put("k1", Value::from("theirs")).await.unwrap();
        tick();
        peer.put("k9", Value::from("new")).await.unwrap();
        let ids: Vec<_> = peer.log().ids(..).map(|(id, _)| *id).collect();
        let ops = peer.load_encoded(&ids).await.unwrap();
        let proofs = peer.proofs_for(&ops);
        db.apply_remote(ops, &proofs).await.unwrap();
        assert_eq!(db.count(), 9);
        db.load_keys(&["k1", "k9"]).await.unwrap();
        assert_eq!((db.get("k1"), db.get("k9")), (Some(&Value::from("theirs")), Some(&Value::from("new"))));
        db.verify().await.unwrap();
        drop(db);
        // The newest journal entry written by an earlier release holds no count: the open reads
        // every record.
        let (_, last, _) = storage.dump().into_iter().rfind(|(s, _, _)| *s == Store::Journal).unwrap();
        storage.tamper(Store::Journal, &last, |v| {
            type Heads = Vec<(auroradb::PeerId, (auroradb_log::ChainHead, Option<auroradb_log::Proof>))>;
            let (ids, _visible, _flushed, _heads, _wall): (Option<Vec<auroradb::OpId>>, u64, u64, Heads, u64) =
                auroradb_log::codec::decode_blob_v("journal entry", *b"AUjn", 4, v).unwrap();
            *v = auroradb_log::codec::encode_blob(*b"AUjn", &ids.unwrap());
        });
        storage.reset_reads();
        let db = Database::open(storage.clone(), config("peer", Some(3))).await.unwrap();
        assert!(db.holds_whole_state());
        assert_eq!((db.count(), storage.reads(Store::State)), (9, 9));
    });
}

#[test]
fn a_long_commit_keeps_the_newest_journal_entry_small() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut a = Database::open(storage.clone(), config("long", Some(10))).await.unwrap();
        let mut b = Database::open(storage.clone(), config("long", Some(10))).await.unwrap();
        // A peer's 200 ops in one commit: their ids go to a record of their own.
        let mut peer = Database::open(MemoryStorage::new(), Config::new("long-peer", manual_clock)).await.unwrap();
        for i in 0..200 {
            tick();
            peer.put(format!("p{i}"), Value::Int(i)).await.unwrap();
        }
        let ids: Vec<_> = peer.log().ids(..).map(|(id, _)| *id).collect();
        let ops = peer.load_encoded(&ids).await.unwrap();
        let proofs = peer.proofs_for(&ops);
        a.apply_remote(ops, &proofs).await.unwrap();
        let entry = storage.dump().into_iter().rfind(|(s, _, _)| *s == Store::Journal).unwrap().2;
        assert!(entry.len() < 24, "the newest journal entry is {} bytes", entry.len());
        // Another connection catches up through that record.
        let changes = b.catch_up().await.unwrap();
        assert_eq!((changes.len(), b.count(), b.op_count()), (200, 200, 200));
        let reopened = Database::open(storage.clone(), config("long", Some(10))).await.unwrap();
        assert_eq!((reopened.count(), reopened.state().held()), (200, 0));
    });
}

/// A record read on demand that another connection wrote since this one last caught up: the
/// commit is caught up first, so its change is reported (it used to be taken in unseen, and the
/// tab never heard of it).
#[test]
fn a_record_read_ahead_of_the_catch_up_is_reported_as_another_connections_change() {
    block_on(async {
        let pairs = |changes: &[auroradb::Change]| {
            changes.iter().map(|c| (c.key.clone(), c.before.clone(), c.after.clone())).collect::<Vec<_>>()
        };
        let storage = MemoryStorage::new();
        let mut b = Database::open(storage.clone(), config("ahead", None)).await.unwrap();
        b.put("x", Value::Int(1)).await.unwrap();
        let mut a = Database::open(storage.clone(), config("ahead", Some(10))).await.unwrap();
        tick();
        b.put("x", Value::Int(2)).await.unwrap();
        tick();
        b.put("y", Value::Int(5)).await.unwrap();
        tick();
        // A write reads x's record, which shows b's op that a has not seen. (The records a did
        // not hold come without a value before.)
        let out = a.put("x", Value::Int(3)).await.unwrap();
        let x = |before: Option<i64>, after: i64| ("x".to_owned(), before.map(Value::Int), Some(Value::Int(after)));
        assert_eq!(pairs(&a.take_caught_up()), [x(None, 2), ("y".to_owned(), None, Some(Value::Int(5)))]);
        assert_eq!(pairs(&out.changes), [x(Some(2), 3)]);
        a.verify().await.unwrap();

        // A read alone, by a connection that holds nothing.
        let mut c = Database::open(storage.clone(), config("ahead", Some(10))).await.unwrap();
        tick();
        b.catch_up().await.unwrap();
        b.put("x", Value::Int(4)).await.unwrap();
        c.load_keys(&["x"]).await.unwrap();
        assert_eq!(pairs(&c.take_caught_up()), [x(None, 4)]);
        assert_eq!((c.get("x"), c.count()), (Some(&Value::Int(4)), 2));
    });
}

/// Another connection's removes of records this one does not hold are reported as deletes
/// (`before` is `None`: without the record, the value is not known), except of a key never
/// written before.
#[test]
fn removes_of_records_not_held_are_reported_as_deletes() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut b = Database::open(storage.clone(), config("gone", None)).await.unwrap();
        for k in ["p", "q", "r"] {
            tick();
            b.put(k, Value::Int(1)).await.unwrap();
        }
        let mut a = Database::open(storage.clone(), config("gone", Some(10))).await.unwrap();
        a.load_keys(&["r"]).await.unwrap();
        tick();
        b.remove("p").await.unwrap();
        tick();
        let mut tx = Transaction::default();
        tx.remove("q").unwrap();
        tx.put("s", Value::Int(2)).unwrap();
        b.commit_transaction(tx).await.unwrap();
        tick();
        b.remove("r").await.unwrap();
        // A key never written: removing it changes nothing, here as there.
        tick();
        b.remove("never").await.unwrap();
        let changes = a.catch_up().await.unwrap();
        let seen: Vec<_> = changes.iter().map(|c| (c.key.as_str(), c.before.clone(), c.after.clone())).collect();
        assert_eq!(
            seen,
            [("p", None, None), ("q", None, None), ("r", Some(Value::Int(1)), None), ("s", None, Some(Value::Int(2))),]
        );
        assert_eq!(a.count(), 1);
    });
}

/// A put of a key whose record is not held guesses the key absent while the last such key was: it
/// reads nothing before its commit, which checks the guess. A wrong guess (the key holds a record,
/// written before or by another connection) commits nothing: the key is read and the put made
/// again, once, and the change it reports is the true one.
#[test]
fn puts_of_keys_not_held_guess_them_absent_and_the_commit_checks() {
    block_on(async {
        let storage = MemoryStorage::new();
        {
            let mut db = Database::open(storage.clone(), config("guess", Some(50))).await.unwrap();
            for i in 0..10 {
                tick();
                db.put(format!("k{i}"), Value::Int(i)).await.unwrap();
            }
        }
        let mut db = Database::open(storage.clone(), config("guess", Some(50))).await.unwrap();
        storage.reset_reads();
        for i in 0..20 {
            tick();
            let out = db.put(format!("new{i}"), Value::Int(i)).await.unwrap();
            let change = Change { key: format!("new{i}"), before: None, after: Some(Value::Int(i)) };
            assert_eq!(out.changes, vec![change]);
        }
        assert_eq!((storage.reads(Store::State), db.count()), (0, 30));
        // A key that holds a record: one commit, with the true change.
        let entries = storage.len(Store::Journal);
        tick();
        let out = db.put("k3", Value::Int(-3)).await.unwrap();
        let change = Change { key: "k3".into(), before: Some(Value::Int(3)), after: Some(Value::Int(-3)) };
        assert_eq!(out.changes, vec![change]);
        assert_eq!((storage.len(Store::Journal), db.count()), (entries + 1, 30));
        // No guess until a key written is found absent: the next put reads its key first.
        storage.reset_reads();
        tick();
        db.put("k4", Value::Int(-4)).await.unwrap();
        assert_eq!(storage.reads(Store::State), 1);
        tick();
        db.put("fresh", Value::Int(0)).await.unwrap();
        storage.reset_reads();
        tick();
        db.put("fresh2", Value::Int(0)).await.unwrap();
        assert_eq!((storage.reads(Store::State), db.count()), (0, 32));
        // Another connection writes the key first.
        let mut other = Database::open(storage.clone(), config("guess", Some(50))).await.unwrap();
        tick();
        other.put("race", Value::Int(1)).await.unwrap();
        tick();
        let out = db.put("race", Value::Int(2)).await.unwrap();
        let change = Change { key: "race".into(), before: Some(Value::Int(1)), after: Some(Value::Int(2)) };
        assert_eq!(out.changes, vec![change]);
        assert_eq!(db.count(), 33);
        db.verify().await.unwrap();
        drop((db, other));
        let mut db = Database::open(storage.clone(), config("guess", None)).await.unwrap();
        assert_eq!((db.count(), db.get("race"), db.get("k3")), (33, Some(&Value::Int(2)), Some(&Value::Int(-3))));
        db.verify().await.unwrap();
    });
}
