//! The database facade over in-memory storage: writes, queries, reopen, fault injection,
//! time travel, export/import, and two connections on one storage.

use std::ops::Bound;

use auroradb::storage::Fault;
use auroradb::{
    Config, Database, DbError, FaultyStorage, IndexSpec, MemoryStorage, OpId, Outcome, StorageError, Store, Strategy,
    Transaction, Value,
};
use auroradb_log::{advance_manual_clock, manual_clock, set_manual_clock};
use futures::executor::block_on;

fn config(name: &str) -> Config {
    set_manual_clock(1_700_000_000_000);
    Config::new(name, manual_clock)
}

fn user(name: &str, email: &str, age: i64) -> Value {
    Value::map([("name", Value::from(name)), ("email", Value::from(email)), ("age", Value::Int(age))])
}

fn tick() {
    advance_manual_clock(5);
}

#[test]
fn writes_and_queries() {
    block_on(async {
        let mut db = Database::open(MemoryStorage::new(), config("q")).await.unwrap();
        for (i, n) in ["alice", "bob", "carol", "dave"].iter().enumerate() {
            tick();
            db.put(*n, user(n, &format!("{n}@x.org"), 20 + i as i64 * 10)).await.unwrap();
        }
        assert_eq!(db.count(), 4);
        assert_eq!(db.get("bob").and_then(|v| v.field("age")), Some(&Value::Int(30)));
        let adults = db.filter(|_, v| v.field("age").and_then(Value::as_f64).unwrap_or(0.0) >= 35.0);
        assert_eq!(adults.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["carol", "dave"]);
        assert_eq!(db.slice(1, 3).iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["bob", "carol"]);
        assert!(db.every(|_, v| v.field("email").is_some()));
        assert!(!db.every(|_, v| v.field("age") == Some(&Value::Int(20))));
        tick();
        db.remove("bob").await.unwrap();
        assert_eq!(db.get("bob"), None);
        assert_eq!(db.count(), 3);
        tick();
        db.clear().await.unwrap();
        assert_eq!(db.count(), 0);
        assert_eq!(db.log().len(), 6);
        assert_eq!(db.verify().await.unwrap().ops, 6);
    });
}

#[test]
fn key_path_add_and_bad_input_write_nothing() {
    block_on(async {
        let mut cfg = config("kp");
        cfg.key_path = Some("id".into());
        let mut db = Database::open(MemoryStorage::new(), cfg).await.unwrap();
        let (key, _) = db.add(Value::map([("id", Value::from("u1")), ("n", Value::Int(1))])).await.unwrap();
        assert_eq!(key, "u1");
        let before = db.storage().dump();
        for bad in [
            db.add(Value::map([("n", Value::Int(1))])).await,
            db.add(Value::map([("id", Value::Int(7))])).await,
            db.add(Value::from("scalar")).await,
        ] {
            assert!(matches!(bad, Err(DbError::InvalidInput(_))), "{bad:?}");
        }
        assert!(matches!(db.put("", Value::Null).await, Err(DbError::InvalidInput(_))));
        assert!(matches!(db.put("__proto__", Value::Null).await, Err(DbError::InvalidInput(_))));
        let proto = Value::map([("__proto__", Value::map([("admin", Value::Bool(true))]))]);
        assert!(matches!(db.put("k", proto).await, Err(DbError::InvalidInput(_))));
        let mut deep = Value::Null;
        for _ in 0..100 {
            deep = Value::List(vec![deep]);
        }
        assert!(matches!(db.put("k", deep).await, Err(DbError::InvalidInput(_))));
        assert_eq!(db.storage().dump(), before);
        assert_eq!(db.log().len(), 1);
    });
}

#[test]
fn transaction_is_all_or_nothing() {
    block_on(async {
        let mut db = Database::open(MemoryStorage::new(), config("tx")).await.unwrap();
        db.put("user3", Value::Int(3)).await.unwrap();
        tick();
        let ((), out) = db
            .transaction(|tx| -> Result<(), DbError> {
                tx.put("user1", Value::Int(1))?;
                tx.put("user2", Value::Int(2))?;
                assert_eq!(tx.get("user1"), Some(Value::Int(1)));
                tx.remove("user3")?;
                assert_eq!(tx.get("user3"), None);
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(out.ops.len(), 1);
        assert_eq!(db.all().len(), 2);
        let before = db.storage().dump();
        tick();
        let err = db
            .transaction(|tx| {
                tx.put("user9", Value::Int(9)).unwrap();
                Err::<(), _>("insufficient stock")
            })
            .await
            .unwrap_err();
        assert!(matches!(err, DbError::Aborted(ref m) if m == "insufficient stock"));
        assert_eq!(db.storage().dump(), before);
        assert_eq!(db.get("user9"), None);
    });
}

#[test]
fn a_transaction_outside_the_database_commits_only_if_what_it_read_is_unchanged() {
    block_on(async {
        let mut db = Database::open(MemoryStorage::new(), config("otx")).await.unwrap();
        db.put("stock", Value::Int(5)).await.unwrap();
        tick();

        // Reads see the transaction's own writes; a write before the first read is not a read.
        let mut tx = Transaction::new();
        assert_eq!(tx.read(db.state(), "stock"), Some(&Value::Int(5)));
        tx.put("stock", Value::Int(4)).unwrap();
        tx.put("order", Value::Int(1)).unwrap();
        assert_eq!(tx.read(db.state(), "order"), Some(&Value::Int(1)));
        assert_eq!(tx.written("order"), Some(Some(&Value::Int(1))));
        tx.remove("gone").unwrap();
        assert_eq!(tx.written("gone"), Some(None));
        assert_eq!(tx.get(db.state(), "gone"), None);
        assert_eq!(tx.len(), 3);
        let out = db.commit_transaction(tx).await.unwrap();
        assert_eq!(out.ops.len(), 1);
        assert_eq!(db.get("stock"), Some(&Value::Int(4)));
        assert_eq!(db.get("order"), Some(&Value::Int(1)));

        // Another write to a record it read, between its read and its commit: nothing written.
        tick();
        let mut tx = Transaction::new();
        assert_eq!(tx.read(db.state(), "stock"), Some(&Value::Int(4)));
        assert_eq!(tx.read(db.state(), "absent"), None);
        tx.put("stock", Value::Int(3)).unwrap();
        db.put("stock", Value::Int(10)).await.unwrap();
        let before = db.storage().dump();
        let err = db.commit_transaction(tx).await.unwrap_err();
        assert!(matches!(err, DbError::Conflict { ref key } if key == "stock"), "{err}");
        assert_eq!(err.name(), "ConflictError");
        assert_eq!(db.storage().dump(), before);
        assert_eq!(db.get("stock"), Some(&Value::Int(10)));

        // A record that was absent when read and was created since is a conflict too.
        tick();
        let mut tx = Transaction::new();
        assert_eq!(tx.read(db.state(), "absent"), None);
        tx.put("other", Value::Int(1)).unwrap();
        db.put("absent", Value::Int(1)).await.unwrap();
        assert!(matches!(db.commit_transaction(tx).await, Err(DbError::Conflict { ref key }) if key == "absent"));

        // Writes to what it did not read, and reads without writes, never conflict.
        let mut tx = Transaction::new();
        tx.put("stock", Value::Int(0)).unwrap();
        db.put("stock", Value::Int(11)).await.unwrap();
        assert_eq!(db.commit_transaction(tx).await.unwrap().ops.len(), 1);
        let mut tx = Transaction::new();
        tx.read(db.state(), "stock");
        db.put("stock", Value::Int(12)).await.unwrap();
        let ops = db.log().len();
        assert_eq!(db.commit_transaction(tx).await.unwrap(), auroradb::WriteOutcome::default());
        assert_eq!(db.log().len(), ops);
    });
}

#[test]
fn a_transaction_refuses_bad_input_as_it_is_written() {
    let mut tx = Transaction::new();
    assert_eq!(tx.put("", Value::Int(1)).unwrap_err().name(), "InvalidInputError");
    assert_eq!(tx.put("__proto__", Value::Int(1)).unwrap_err().name(), "InvalidInputError");
    assert_eq!(tx.put("k", Value::map([("__proto__", Value::Int(1))])).unwrap_err().name(), "InvalidInputError");
    assert_eq!(tx.remove("").unwrap_err().name(), "InvalidInputError");
    assert!(tx.is_empty());
}

#[test]
fn unique_index_violation_changes_nothing() {
    block_on(async {
        let mut cfg = config("ix");
        cfg.indexes =
            vec![IndexSpec { name: "email".into(), unique: true }, IndexSpec { name: "age".into(), unique: false }];
        let mut db = Database::open(MemoryStorage::new(), cfg).await.unwrap();
        db.put("a", user("a", "a@x.org", 30)).await.unwrap();
        tick();
        db.put("b", user("b", "b@x.org", 40)).await.unwrap();
        let before = db.storage().dump();
        tick();
        let err = db.put("c", user("c", "a@x.org", 50)).await.unwrap_err();
        assert_eq!(err.name(), "UniqueConstraintError");
        tick();
        let err =
            db.batch_set([("d".to_string(), user("d", "d@x.org", 1)), ("e".into(), user("e", "b@x.org", 1))]).await;
        assert!(err.is_err());
        assert_eq!(db.storage().dump(), before);
        // Re-writing the same record with its own email is fine.
        tick();
        db.put("a", user("a", "a@x.org", 31)).await.unwrap();
        assert_eq!(db.find_by("email", &Value::from("b@x.org")).unwrap()[0].0, "b");
        let range = db.index_range("age", Bound::Included(&Value::Int(31)), Bound::Unbounded).unwrap();
        assert_eq!(range.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    });
}

#[test]
fn reopen_restores_without_decoding_the_log() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut cfg = config("reopen");
        cfg.checkpoint_every = 50;
        cfg.segment_ops = 16;
        let (fp, all, peer) = {
            let mut db = Database::open(storage.clone(), cfg.clone()).await.unwrap();
            for i in 0..200 {
                tick();
                db.put(format!("k{:03}", i % 70), Value::Int(i)).await.unwrap();
            }
            tick();
            db.remove("k005").await.unwrap();
            (db.log().fingerprint(..), db.all(), db.peer())
        };
        let mut db = Database::open(storage.clone(), cfg.clone()).await.unwrap();
        assert_eq!(db.stats().ops_decoded, 0);
        assert_ne!(db.peer(), peer, "each connection writes under its own author id");
        assert_eq!(db.log().fingerprint(..), fp);
        assert_eq!(db.all(), all);
        assert!(db.checkpoint_ids().count() >= 3);
        tick();
        db.put("after", Value::Null).await.unwrap();
        let report = db.verify().await.unwrap();
        assert_eq!(report.ops, 202);
        assert_eq!(report.authors, 2);
        assert!(report.checkpoints >= 3);
    });
}

/// Every kind of write, failed at commit, leaves storage and memory as they were; the next
/// attempt succeeds.
#[test]
fn failed_commits_change_nothing() {
    block_on(async {
        let storage = FaultyStorage::new(MemoryStorage::new());
        let mut cfg = config("faults");
        cfg.checkpoint_every = 3;
        cfg.indexes = vec![IndexSpec { name: "email".into(), unique: true }];
        let mut db = Database::open(storage.clone(), cfg).await.unwrap();
        db.put("a", user("a", "a@x.org", 1)).await.unwrap();
        tick();
        db.put("b", user("b", "b@x.org", 2)).await.unwrap();
        type Write = fn(
            &mut Database<FaultyStorage<MemoryStorage>>,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = auroradb::Result<()>> + '_>>;
        let writes: Vec<(&str, Write)> = vec![
            ("put", |db| Box::pin(async { db.put("c", user("c", "c@x.org", 3)).await.map(drop) })),
            ("update", |db| Box::pin(async { db.put("a", user("a", "a2@x.org", 9)).await.map(drop) })),
            ("remove", |db| Box::pin(async { db.remove("a").await.map(drop) })),
            ("clear", |db| Box::pin(async { db.clear().await.map(drop) })),
            ("batch", |db| {
                Box::pin(async {
                    db.batch_set([("x".to_string(), user("x", "x@x.org", 1)), ("y".into(), Value::Int(2))])
                        .await
                        .map(drop)
                })
            }),
            ("transaction", |db| {
                Box::pin(async {
                    db.transaction(|tx| -> Result<(), DbError> {
                        tx.put("t", Value::Int(1))?;
                        tx.remove("b")
                    })
                    .await
                    .map(drop)
                })
            }),
            ("checkpoint", |db| Box::pin(async { db.checkpoint().await.map(drop) })),
        ];
        for (name, write) in writes {
            tick();
            let dump = storage.inner().dump();
            let (fp, all, len, cps) = (db.log().fingerprint(..), db.all(), db.log().len(), db.checkpoint_ids().count());
            // (A quota failure is retried without the checkpoint it carries: tests/quota.rs.)
            storage.fail_commit(0, Fault::Fail(StorageError::CommitFailed("test".into())));
            let err = write(&mut db).await.unwrap_err();
            assert_eq!(err.name(), "StorageError", "{name}");
            assert_eq!(storage.inner().dump(), dump, "{name}: storage changed");
            assert_eq!(db.log().fingerprint(..), fp, "{name}: log changed");
            assert_eq!(db.log().len(), len, "{name}");
            assert_eq!(db.all(), all, "{name}: state changed");
            assert_eq!(db.checkpoint_ids().count(), cps, "{name}: checkpoints changed");
            assert_eq!(
                db.find_by("email", &Value::from("c@x.org")).unwrap().len(),
                all.iter().filter(|(k, _)| k == "c").count()
            );
            write(&mut db).await.unwrap();
            db.verify().await.unwrap();
        }
        assert_eq!(storage.failures(), 7);
    });
}

/// A commit that became durable although the caller saw an error is found again by the next
/// write, and nothing is lost or duplicated.
#[test]
fn lost_acknowledgement_is_recovered() {
    block_on(async {
        let storage = FaultyStorage::new(MemoryStorage::new());
        let mut db = Database::open(storage.clone(), config("ack")).await.unwrap();
        db.put("a", Value::Int(1)).await.unwrap();
        storage.fail_commit(0, Fault::LoseAck);
        tick();
        assert!(db.put("b", Value::Int(2)).await.is_err());
        assert_eq!(db.get("b"), None);
        tick();
        db.put("c", Value::Int(3)).await.unwrap();
        assert_eq!(db.get("b"), Some(&Value::Int(2)));
        assert_eq!(db.log().len(), 3);
        db.verify().await.unwrap();
        let reopened = Database::open(storage.inner().clone(), config("ack")).await.unwrap();
        assert_eq!(reopened.all(), db.all());
    });
}

#[test]
fn two_connections_lose_none_of_each_others_writes() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut a = Database::open(storage.clone(), config("shared")).await.unwrap();
        let mut b = Database::open(storage.clone(), config("shared")).await.unwrap();
        assert_ne!(a.peer(), b.peer());
        for i in 0..20 {
            tick();
            a.put(format!("a{i}"), Value::Int(i)).await.unwrap();
            tick();
            b.put(format!("b{i}"), Value::Int(i)).await.unwrap();
            tick();
            a.put("shared", Value::Int(i)).await.unwrap();
            tick();
            b.put("shared", Value::Int(100 + i)).await.unwrap();
        }
        a.catch_up().await.unwrap();
        assert_eq!(a.all(), b.all());
        assert_eq!(a.count(), 41);
        assert_eq!(a.get("shared"), Some(&Value::Int(119)));
        let c = Database::open(storage.clone(), config("shared")).await.unwrap();
        assert_eq!(c.all(), a.all());
        assert_eq!(c.log().len(), 80);
        let mut c = c;
        assert_eq!(c.verify().await.unwrap().authors, 2);
    });
}

#[test]
fn time_travel() {
    block_on(async {
        let mut cfg = config("tt");
        cfg.checkpoint_every = 4;
        let mut db = Database::open(MemoryStorage::new(), cfg).await.unwrap();
        let mut marks: Vec<(OpId, Vec<(String, Value)>)> = Vec::new();
        for i in 0..30i64 {
            tick();
            let out = match i % 7 {
                3 => db.remove(format!("k{}", i % 5)).await.unwrap(),
                6 if i == 20 => db.clear().await.unwrap(),
                _ => db.put(format!("k{}", i % 5), Value::Int(i)).await.unwrap(),
            };
            marks.push((out.ops[0], db.all()));
        }
        for (at, want) in &marks {
            let state = db.state_at(*at).await.unwrap();
            assert_eq!(&state.all(), want, "state_at({at})");
        }
        let (t5, s5) = &marks[5];
        assert_eq!(db.get_at("k0", *t5).await.unwrap(), s5.iter().find(|(k, _)| k == "k0").map(|(_, v)| v.clone()));
        let d = db.diff(marks[2].0, marks[9].0).await.unwrap();
        assert!(!d.added.is_empty() || !d.changed.is_empty() || !d.removed.is_empty());
        let mut seen = 0;
        let end = db.replay(marks[10].0, marks[15].0, |_, _| seen += 1).await.unwrap();
        assert_eq!(seen, 5);
        assert_eq!(end.all(), marks[15].1);
        let h = db.history("k1").await.unwrap();
        assert!(h.iter().any(|i| i.outcome == Outcome::Current));
        assert!(h.windows(2).all(|w| w[0].id < w[1].id));
        // as-of wall-clock time
        let t = auroradb::upto_millis(marks[7].0.millis());
        assert_eq!(db.state_at(t).await.unwrap().all(), marks[7].1);
        // A window given backwards replays nothing (it is empty, not a failure), and an "as of"
        // time past what an HLC can hold means the whole log.
        let mut backwards = 0;
        let at_start = db.replay(marks[15].0, marks[10].0, |_, _| backwards += 1).await.unwrap();
        assert_eq!((backwards, at_start.all()), (0, marks[15].1.clone()));
        assert!(db.load_ops(Bound::Included(marks[9].0), Bound::Excluded(marks[3].0)).await.unwrap().is_empty());
        let last = marks.last().unwrap();
        assert_eq!(db.state_at(auroradb::upto_millis(u64::MAX)).await.unwrap().all(), last.1);
    });
}

#[test]
fn no_checkpoint_rides_on_a_remove_or_a_clear() {
    block_on(async {
        let mut c = config("frees");
        c.checkpoint_every = 1;
        let mut db = Database::open(MemoryStorage::new(), c).await.unwrap();
        for i in 0..4 {
            tick();
            db.put(format!("k{i}"), Value::Int(i)).await.unwrap();
        }
        let before = db.stats().checkpoints_written;
        assert!(before > 0, "puts write checkpoints when due");
        // Removes and a clear only free space: the due checkpoint waits.
        for i in 0..3 {
            tick();
            db.remove(format!("k{i}")).await.unwrap();
        }
        tick();
        db.clear().await.unwrap();
        assert_eq!(db.stats().checkpoints_written, before, "a remove or a clear wrote a checkpoint");
        // The next write that adds takes it.
        tick();
        db.put("after", Value::Int(1)).await.unwrap();
        assert_eq!(db.stats().checkpoints_written, before + 1);
        assert_eq!(db.verify().await.unwrap().ops, 9);
    });
}

#[test]
fn conflicting_writes_show_in_history() {
    block_on(async {
        let mut cfg = config("hist");
        cfg.strategy = Strategy::Version;
        let mut a = Database::open(MemoryStorage::new(), cfg.clone()).await.unwrap();
        let mut b = Database::open(MemoryStorage::new(), cfg).await.unwrap();
        let doc = |v: i64, s: &str| Value::map([("version", Value::Int(v)), ("s", Value::from(s))]);
        a.put("doc", doc(2, "a")).await.unwrap();
        tick();
        b.put("doc", doc(1, "b")).await.unwrap();
        let ids: Vec<_> = b.log().ids(..).map(|(id, _)| *id).collect();
        let from_b = b.load_encoded(&ids).await.unwrap();
        a.apply_remote(from_b).await.unwrap();
        assert_eq!(a.get("doc").and_then(|v| v.field("s")), Some(&Value::from("a")));
        let h = a.history("doc").await.unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h.iter().filter(|i| i.outcome == Outcome::Lost).count(), 1);
    });
}

#[test]
fn export_import_round_trip_and_corrupt_files() {
    block_on(async {
        let mut a = Database::open(MemoryStorage::new(), config("exp")).await.unwrap();
        for i in 0..50 {
            tick();
            a.put(format!("k{}", i % 9), Value::Int(i)).await.unwrap();
        }
        tick();
        a.clear().await.unwrap();
        tick();
        a.put("z", Value::from("last")).await.unwrap();
        let file = a.export_log().await.unwrap();
        let mut b = Database::open(MemoryStorage::new(), config("imp")).await.unwrap();
        let (info, _) = b.import_log(&file).await.unwrap();
        assert_eq!(info.ops, 52);
        assert_eq!(info.imported, 52);
        assert_eq!(b.all(), a.all());
        assert_eq!(b.log().fingerprint(..), a.log().fingerprint(..));
        // importing again is a no-op
        assert_eq!(b.import_log(&file).await.unwrap().0.imported, 0);

        let mut c = Database::open(MemoryStorage::new(), config("bad")).await.unwrap();
        c.put("mine", Value::Int(1)).await.unwrap();
        let before = c.storage().dump();
        for i in [0, 4, 10, file.len() / 2, file.len() - 1] {
            let mut bad = file.clone();
            bad[i] ^= 0x40;
            let err = c.import_log(&bad).await.unwrap_err();
            assert!(
                matches!(err.name(), "CorruptDataError" | "HashMismatchError" | "UnsupportedVersionError"),
                "byte {i}: {err:?}"
            );
        }
        assert!(c.import_log(&file[..file.len() - 7]).await.is_err());
        assert!(c.import_log(b"").await.is_err());
        assert_eq!(c.storage().dump(), before);
    });
}

#[test]
fn tampered_storage_fails_verify() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut db = Database::open(storage.clone(), config("tamper")).await.unwrap();
        for i in 0..10 {
            tick();
            db.put(format!("k{i}"), Value::Int(i)).await.unwrap();
        }
        db.verify().await.unwrap();
        let victim = db.log().ids(..).nth(4).map(|(id, _)| *id).unwrap();
        let copy = storage.deep_clone();
        assert!(copy.tamper(Store::Log, &victim.to_bytes(), |v| {
            let n = v.len();
            v[n - 1] ^= 1
        }));
        let mut tampered = Database::open(copy, config("tamper")).await.unwrap();
        assert!(tampered.verify().await.is_err());
        let copy = storage.deep_clone();
        copy.tamper(Store::State, b"k3", |v| {
            let n = v.len();
            v[n - 1] ^= 1
        });
        match Database::open(copy, config("tamper")).await {
            Err(_) => {}
            Ok(mut t) => assert!(t.verify().await.is_err()),
        }
    });
}

#[test]
fn changing_the_strategy_rebuilds_the_state_from_the_log() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut a = Database::open(storage.clone(), config("strat")).await.unwrap();
        let mut b = Database::open(MemoryStorage::new(), config("strat")).await.unwrap();
        let doc = |v: i64, s: &str| Value::map([("version", Value::Int(v)), ("s", Value::from(s))]);
        a.put("doc", doc(5, "old but high version")).await.unwrap();
        tick();
        b.put("doc", doc(1, "newer, low version")).await.unwrap();
        let ids: Vec<_> = b.log().ids(..).map(|(id, _)| *id).collect();
        a.apply_remote(b.load_encoded(&ids).await.unwrap()).await.unwrap();
        a.checkpoint().await.unwrap();
        assert_eq!(a.get("doc").and_then(|v| v.field("s")), Some(&Value::from("newer, low version")));
        drop(a);
        let mut cfg = config("strat");
        cfg.strategy = Strategy::Version;
        let mut a = Database::open(storage.clone(), cfg.clone()).await.unwrap();
        assert_eq!(a.get("doc").and_then(|v| v.field("s")), Some(&Value::from("old but high version")));
        assert_eq!(a.checkpoint_ids().count(), 0);
        a.verify().await.unwrap();
        // Reopened with the same strategy: restored, not rebuilt.
        let again = Database::open(storage, cfg).await.unwrap();
        assert_eq!(again.stats().ops_decoded, 0);
        assert_eq!(again.all(), a.all());
    });
}

/// A late op older than some checkpoints invalidates exactly those; the past stays right, and
/// index lookups work on past states too.
#[test]
fn late_ops_invalidate_later_checkpoints() {
    block_on(async {
        let mut cfg = config("late");
        cfg.checkpoint_every = 3;
        cfg.indexes = vec![IndexSpec { name: "email".into(), unique: false }];
        let mut a = Database::open(MemoryStorage::new(), cfg.clone()).await.unwrap();
        // b writes first, offline; its op reaches a much later.
        let mut b = Database::open(MemoryStorage::new(), cfg.clone()).await.unwrap();
        b.put("k1", user("late", "late@x.org", 1)).await.unwrap();
        let mut marks = Vec::new();
        for i in 0..12 {
            tick();
            let out = a.put(format!("k{}", i % 4), user("a", &format!("a{i}@x.org"), i)).await.unwrap();
            marks.push(out.ops[0]);
        }
        let cps: Vec<OpId> = a.checkpoint_ids().copied().collect();
        assert!(cps.len() >= 3, "{cps:?}");
        let ids: Vec<_> = b.log().ids(..).map(|(id, _)| *id).collect();
        let late = b.load_encoded(&ids).await.unwrap();
        let late_id = late[0].op.id;
        assert!(late_id < cps[0]);
        a.apply_remote(late).await.unwrap();
        assert!(a.checkpoint_ids().all(|at| *at < late_id), "checkpoints after the late op must go");
        assert_eq!(a.storage().len(Store::Checkpoints), a.checkpoint_ids().count());
        // The past, recomputed, includes the late op where it belongs.
        let s = a.state_at(late_id).await.unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s.find_by("email", &Value::from("late@x.org")).unwrap().len(), 1);
        let s = a.state_at(marks[0]).await.unwrap();
        assert_eq!(s.find_by("email", &Value::from("a0@x.org")).unwrap().len(), 1);
        assert_eq!(s.find_by("email", &Value::from("late@x.org")).unwrap().len(), 1, "k1 still holds the late value");
        a.verify().await.unwrap();
    });
}

#[test]
fn a_write_over_the_maximum_op_size_is_refused_and_writes_nothing() {
    block_on(async {
        let mut cfg = config("max-op");
        cfg.max_op = 10_000;
        let mut db = Database::open(MemoryStorage::new(), cfg).await.unwrap();
        db.put("small", Value::from("x".repeat(9_000))).await.unwrap();
        let before = db.storage().dump();
        tick();
        let big = db.put("big", Value::from("x".repeat(10_001))).await;
        assert!(matches!(big, Err(DbError::OpTooLarge { limit: 10_000, size }) if size > 10_001), "{big:?}");
        assert_eq!(big.unwrap_err().error_name().as_str(), "OpTooLargeError");
        let mut tx = Transaction::new();
        for i in 0..20 {
            tx.put(format!("t{i}"), Value::from("y".repeat(600))).unwrap();
        }
        assert!(matches!(db.commit_transaction(tx).await, Err(DbError::OpTooLarge { .. })));
        assert_eq!(db.storage().dump(), before);
        assert_eq!((db.log().len(), db.count()), (1, 1));
        // The limit is checked when the database opens.
        for bad in [0, auroradb::MAX_OP_CEILING + 1] {
            let mut cfg = config("max-op-bad");
            cfg.max_op = bad;
            assert!(matches!(Database::open(MemoryStorage::new(), cfg).await, Err(DbError::InvalidConfig(_))));
        }
    });
}

#[test]
fn index_names_that_are_empty_or_repeated_are_refused() {
    block_on(async {
        let open = |names: &[&str]| {
            let mut cfg = config("index-names");
            cfg.indexes = names.iter().map(|n| IndexSpec::new(*n, false)).collect();
            Database::open(MemoryStorage::new(), cfg)
        };
        for bad in [&["a", "b", "a"][..], &["a", "b", "b"], &[""], &["a", ""]] {
            match open(bad).await {
                Err(DbError::InvalidConfig(why)) => assert!(why.contains("is empty or repeated"), "{why}"),
                other => panic!("{bad:?}: {:?}", other.err()),
            }
        }
        assert!(open(&["a", "b", "c"]).await.is_ok());
    });
}

#[test]
fn writes_after_a_reopen_with_the_clock_set_back_are_not_lost() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut db = Database::open(storage.clone(), config("clock-back")).await.unwrap();
        db.put("a", Value::Int(1)).await.unwrap();
        db.put("b", Value::Int(1)).await.unwrap();
        let newest = db.log().last_id().unwrap();
        drop(db);
        // The clock is set back ten minutes (twice the drift bound) before the database reopens.
        set_manual_clock(1_700_000_000_000 - 600_000);
        let mut db = Database::open(storage.clone(), Config::new("clock-back", manual_clock)).await.unwrap();
        db.put("a", Value::Int(2)).await.unwrap();
        db.remove("b").await.unwrap();
        db.put("c", Value::Int(3)).await.unwrap();
        assert_eq!(db.get("a"), Some(&Value::Int(2)), "the put took effect");
        assert_eq!(db.get("b"), None, "the remove took effect");
        assert!(db.log().last_id().unwrap() > newest);
        drop(db);
        let db = Database::open(storage, Config::new("clock-back", manual_clock)).await.unwrap();
        assert_eq!((db.get("a"), db.get("b"), db.get("c")), (Some(&Value::Int(2)), None, Some(&Value::Int(3))));
    });
}

#[test]
fn ops_of_the_local_author_from_a_file_or_a_peer_are_refused() {
    block_on(async {
        let mut db = Database::open(MemoryStorage::new(), config("own-chain")).await.unwrap();
        let genuine = db.put("a", Value::Int(1)).await.unwrap().encoded.remove(0);
        // Anyone who has seen the chain head (its seq, hash and id are public) can make the next
        // op of this author.
        let forged = auroradb::EncodedOp::new(auroradb::Op {
            id: OpId { time: genuine.op.id.time + 1_000_000, ..genuine.op.id },
            author: genuine.op.author,
            seq: 2,
            prev: genuine.hash,
            kind: auroradb::OpKind::Put { key: "a".into(), value: Value::from("forged") },
        });
        let before = db.storage().dump();
        let refused = db.apply_remote(vec![forged.clone()]).await;
        assert!(matches!(refused, Err(DbError::Log(auroradb::log::LogError::InvalidOp { .. }))), "{refused:?}");
        // The same op in a log file made by a database that took both ops in.
        let mut carrier = Database::open(MemoryStorage::new(), config("carrier")).await.unwrap();
        carrier.apply_remote(vec![genuine, forged]).await.unwrap();
        let file = carrier.export_log().await.unwrap();
        let refused = db.import_log(&file).await;
        assert!(matches!(refused, Err(DbError::Log(auroradb::log::LogError::InvalidOp { .. }))), "{refused:?}");
        assert_eq!(db.storage().dump(), before);
        assert_eq!(db.get("a"), Some(&Value::Int(1)));
        // The genuine next write chains onto the genuine head.
        tick();
        db.put("a", Value::Int(2)).await.unwrap();
        assert_eq!(db.verify().await.unwrap().ops, 2);
    });
}
