//! The database facade over in-memory storage: writes, queries, reopen, fault injection,
//! time travel, export/import, and two connections on one storage.

use std::ops::Bound;

use auroradb::storage::Fault;
use auroradb::{
    Config, Database, DbError, FaultyStorage, IndexSpec, MemoryStorage, OpId, Outcome, Storage, StorageError, Store,
    Strategy, Transaction, Value,
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
fn a_key_written_twice_in_one_transaction_keeps_its_last_write_under_every_strategy() {
    block_on(async {
        let doc = |fields: &[(&str, i64)]| Value::map(fields.iter().map(|(k, v)| (*k, Value::Int(*v))));
        for strategy in [Strategy::Timestamp, Strategy::Version, Strategy::Merge, Strategy::LocalWins] {
            let mut cfg = config("twice");
            cfg.strategy = strategy.clone();
            let mut db = Database::open(MemoryStorage::new(), cfg).await.unwrap();
            db.put("gone", Value::Int(0)).await.unwrap();
            tick();
            let ((), out) = db
                .transaction(|tx| -> Result<(), DbError> {
                    tx.put("t", doc(&[("version", 9), ("a", 1)]))?;
                    tx.put("t", doc(&[("version", 1), ("b", 2)]))?;
                    tx.put("gone", Value::Int(5))?;
                    tx.remove("gone")?;
                    tx.remove("back")?;
                    tx.put("back", Value::Int(7))?;
                    Ok(())
                })
                .await
                .unwrap();
            let last = doc(&[("version", 1), ("b", 2)]);
            assert_eq!(db.get("t"), Some(&last), "{strategy:?}");
            assert_eq!(db.get("gone"), None, "{strategy:?}");
            assert_eq!(db.get("back"), Some(&Value::Int(7)), "{strategy:?}");
            // The op carries one step per key, and the history shows what the key was left with.
            let op = db.load_encoded(&out.ops).await.unwrap().remove(0).op;
            assert!(matches!(&op.kind, auroradb_log::OpKind::Txn(steps) if steps.len() == 3), "{op:?}");
            assert_eq!(db.history("t").await.unwrap()[0].value, Some(last.clone()), "{strategy:?}");
            tick();
            db.batch_set([("b".to_owned(), doc(&[("version", 9), ("a", 1)])), ("b".to_owned(), last.clone())])
                .await
                .unwrap();
            assert_eq!(db.get("b"), Some(&last), "batch_set, {strategy:?}");
        }
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
        assert_eq!(db.peer(), peer, "a reopen of the storage writes as the same author");
        assert_eq!(db.op_count(), 201);
        db.load_log().await.unwrap();
        assert_eq!(db.stats().ops_decoded, 0, "the index is loaded from the segment records");
        assert_eq!(db.log().fingerprint(..), fp);
        assert_eq!(db.all(), all);
        assert!(db.checkpoint_ids().count() >= 3);
        tick();
        db.put("after", Value::Null).await.unwrap();
        let report = db.verify().await.unwrap();
        assert_eq!(report.ops, 202);
        assert_eq!(report.authors, 1);
        assert_eq!(db.log().heads()[&peer].seq, 202, "the author's chain went on");
        assert!(report.checkpoints >= 3);
    });
}

/// Every kind of write, failed at commit, leaves storage and memory as they were; the next
/// attempt succeeds. Each write runs with the log's index loaded, then on a reopened database
/// without it.
#[test]
fn failed_commits_change_nothing() {
    for reopen in [false, true] {
        failed_commits_change_nothing_when(reopen);
    }
}

fn failed_commits_change_nothing_when(reopen: bool) {
    block_on(async {
        let storage = FaultyStorage::new(MemoryStorage::new());
        let mut cfg = config("faults");
        cfg.checkpoint_every = 3;
        cfg.indexes = vec![IndexSpec { name: "email".into(), unique: true }];
        let mut db = Database::open(storage.clone(), cfg.clone()).await.unwrap();
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
            if reopen {
                db = Database::open(storage.clone(), cfg.clone()).await.unwrap();
                assert!(!db.log().is_indexed());
            }
            let dump = storage.inner().dump();
            // A write due to make a checkpoint loads the index before it fails: only a loaded
            // index is compared.
            let fp = db.log().is_indexed().then(|| db.log().fingerprint(..));
            let (all, len, cps) = (db.all(), db.op_count(), db.checkpoint_ids().count());
            // (A quota failure is retried without the checkpoint it carries: tests/quota.rs.)
            storage.fail_commit(0, Fault::Fail(StorageError::CommitFailed("test".into())));
            let err = write(&mut db).await.unwrap_err();
            assert_eq!(err.name(), "StorageError", "{name}");
            assert_eq!(storage.inner().dump(), dump, "{name}: storage changed");
            if let Some(fp) = fp {
                assert_eq!(db.log().fingerprint(..), fp, "{name}: log changed");
            }
            assert_eq!(db.op_count(), len, "{name}");
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
        // The same on a reopened database, without the log's index.
        drop((db, reopened));
        let mut db = Database::open(storage.clone(), config("ack")).await.unwrap();
        storage.fail_commit(0, Fault::LoseAck);
        tick();
        assert!(db.put("d", Value::Int(4)).await.is_err());
        tick();
        db.put("e", Value::Int(5)).await.unwrap();
        assert_eq!((db.get("d"), db.log().is_indexed(), db.op_count()), (Some(&Value::Int(4)), false, 5));
        assert_eq!(db.verify().await.unwrap().ops, 5);
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
        assert_eq!(c.op_count(), 80);
        let mut c = c;
        c.load_log().await.unwrap();
        assert_eq!(c.log().len(), 80);
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
fn writes_stamped_in_the_last_millisecond_ntp64_can_say_are_seen_as_of_that_time() {
    block_on(async {
        let mut db = Database::open(MemoryStorage::new(), config("end-of-time")).await.unwrap();
        db.put("a", Value::Int(1)).await.unwrap();
        // A clock in the year 2200: NTP64 ends in 2106, so the clock stamps its last millisecond,
        // and so does every later write (the clock never goes back below its history).
        set_manual_clock(7_258_118_400_000);
        let b = db.put("b", Value::Int(2)).await.unwrap().ops[0];
        set_manual_clock(1_700_000_001_000);
        let c = db.put("c", Value::Int(3)).await.unwrap().ops[0];
        assert_eq!((b.millis(), c.millis()), (auroradb_log::MAX_MILLIS, auroradb_log::MAX_MILLIS));
        for ms in [b.millis(), auroradb_log::MAX_MILLIS, u64::MAX] {
            let keys: Vec<String> =
                db.state_at(auroradb::upto_millis(ms)).await.unwrap().all().into_iter().map(|(k, _)| k).collect();
            assert_eq!(keys, ["a", "b", "c"], "as of {ms}");
        }
        let before = db.state_at(auroradb::upto_millis(auroradb_log::MAX_MILLIS - 1)).await.unwrap();
        assert_eq!(before.all().len(), 1);
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

/// Both peers' clocks are set back an hour while neither database is open (a wrong time put
/// right before the browser started again). Each reopened instance counts its drift bound from
/// the time its clock read before, kept with its newest commit, and takes the other's next op,
/// stamped just past the history they share. Without that time, the op was refused with
/// `ClockDriftError` until the clocks caught up again; one read by neither instance still is.
#[test]
fn peers_reopened_with_their_clocks_set_back_take_each_others_next_ops() {
    block_on(async {
        let cfg = config("back");
        let (sa, sb) = (MemoryStorage::new(), MemoryStorage::new());
        let mut a = Database::open(sa.clone(), cfg.clone()).await.unwrap();
        let mut b = Database::open(sb.clone(), cfg.clone()).await.unwrap();
        async fn newest_of(
            b: &mut Database<MemoryStorage>,
        ) -> (Vec<auroradb_log::EncodedOp>, Vec<(OpId, auroradb_log::Proof)>) {
            // As sync does before it sends: the index, with the slot identities that sign.
            b.load_log().await.unwrap();
            let id = b.log().heads()[&b.peer()].id;
            let ops = b.load_encoded(&[id]).await.unwrap();
            let proofs = b.proofs_for(&ops);
            (ops, proofs)
        }
        tick();
        b.put("x", Value::from("b1")).await.unwrap();
        let (ops, proofs) = newest_of(&mut b).await;
        a.apply_remote(ops, &proofs).await.unwrap();
        drop((a, b));
        set_manual_clock(1_700_000_000_000 - 3_600_000);
        let mut a = Database::open(sa, cfg.clone()).await.unwrap();
        let mut b = Database::open(sb, cfg.clone()).await.unwrap();
        b.put("x", Value::from("b2")).await.unwrap();
        let (ops, proofs) = newest_of(&mut b).await;
        assert!(ops[0].op.id.millis() >= 1_700_000_000_000, "stamped past the shared history");
        a.apply_remote(ops.clone(), &proofs).await.unwrap();
        assert_eq!(a.get("x"), Some(&Value::from("b2")));
        // A new replica whose clock never read that time refuses it: the bound is the clock's own.
        let mut fresh = Database::open(MemoryStorage::new(), cfg).await.unwrap();
        let refused = fresh.apply_remote(ops, &proofs).await.unwrap_err();
        assert_eq!(refused.error_name().as_str(), "ClockDriftError", "{refused}");
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
        let proofs = b.proofs_for(&from_b);
        a.apply_remote(from_b, &proofs).await.unwrap();
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
        // Cut to its first bytes, it is said to be cut off, not to lack its magic.
        for n in [1, 4, 32, 36] {
            let err = c.import_log(&file[..n]).await.unwrap_err();
            assert!(err.to_string().contains("too short"), "{n} bytes: {err}");
        }
        assert_eq!(c.storage().dump(), before);
    });
}

#[test]
fn a_log_file_holds_its_ops_in_id_order_across_segments_each_once() {
    block_on(async {
        // More ops than a file segment holds (1,024), so the file has two segments.
        let mut a = Database::open(MemoryStorage::new(), config("file-order")).await.unwrap();
        let mut encoded = Vec::new();
        for i in 0..1_030 {
            tick();
            encoded.extend(a.put(format!("k{}", i % 10), Value::Int(i)).await.unwrap().encoded);
        }
        let proofs = a.proofs_for(&encoded);
        let prove = |id: &OpId| proofs.iter().find(|(p, _)| p == id).map(|(_, p)| *p);
        let file_of = |ops: &[&auroradb::EncodedOp]| {
            let entries: Vec<_> = ops.iter().map(|o| (o.op.id, o.bytes.as_slice(), o.hash)).collect();
            auroradb::encode_log_file(&entries, &prove).unwrap()
        };
        let all: Vec<&auroradb::EncodedOp> = encoded.iter().collect();
        let mut b = Database::open(MemoryStorage::new(), config("file-order-b")).await.unwrap();
        let before = b.storage().dump();
        // The second segment (each in order itself) repeats an op of the first, or holds ops
        // older than the first's.
        let repeated: Vec<_> = all[..1_024].iter().chain([&all[1_000]]).chain(&all[1_024..]).copied().collect();
        let swapped: Vec<_> = all[6..].iter().chain(&all[..6]).copied().collect();
        for (what, ops) in [("repeated", repeated), ("out of order", swapped)] {
            let refused = b.import_log(&file_of(&ops)).await.unwrap_err();
            assert_eq!(refused.error_name().as_str(), "CorruptDataError", "{what}: {refused}");
            assert_eq!(b.storage().dump(), before, "{what}");
        }
        let (info, _) = b.import_log(&file_of(&all)).await.unwrap();
        assert_eq!((info.ops, info.imported), (1_030, 1_030));
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
        let ops = b.load_encoded(&ids).await.unwrap();
        let proofs = b.proofs_for(&ops);
        a.apply_remote(ops, &proofs).await.unwrap();
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
        let proofs = b.proofs_for(&late);
        a.apply_remote(late, &proofs).await.unwrap();
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
        for bad in [0, 1, auroradb::MAX_OP_FLOOR - 1, auroradb::MAX_OP_CEILING + 1] {
            let mut cfg = config("max-op-bad");
            cfg.max_op = bad;
            assert!(matches!(Database::open(MemoryStorage::new(), cfg).await, Err(DbError::InvalidConfig(_))));
        }
    });
}

#[test]
fn at_the_smallest_maximum_op_size_a_record_of_the_longest_key_is_written_and_removed() {
    block_on(async {
        let mut cfg = config("max-op-floor");
        cfg.max_op = auroradb::MAX_OP_FLOOR;
        let mut db = Database::open(MemoryStorage::new(), cfg).await.unwrap();
        let key = "k".repeat(auroradb::MAX_KEY_LEN);
        db.put(key.clone(), Value::from("v".repeat(1_000))).await.unwrap();
        let mut tx = Transaction::new();
        tx.remove(key.clone()).unwrap();
        db.commit_transaction(tx).await.unwrap();
        assert_eq!(db.get(&key), None);
        db.put(key.clone(), Value::Int(1)).await.unwrap();
        db.remove(&key).await.unwrap();
        assert_eq!((db.get(&key), db.count()), (None, 0));
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
        let author = db.peer();
        drop(db);
        // The clock is set back ten minutes (twice the drift bound) before the database reopens,
        // which writes as the same author (its storage's first author slot).
        set_manual_clock(1_700_000_000_000 - 600_000);
        let mut db = Database::open(storage.clone(), Config::new("clock-back", manual_clock)).await.unwrap();
        assert_eq!((db.peer(), db.author_slot()), (author, Some(0)));
        let mut last = newest;
        for seq in 3..=5 {
            let written = match seq {
                3 => db.put("a", Value::Int(2)).await,
                4 => db.remove("b").await,
                _ => db.put("c", Value::Int(3)).await,
            };
            let id = written.unwrap().ops[0];
            assert_eq!(id.peer, author);
            assert!(id > last, "each op is ordered after every op held");
            assert_eq!(db.log().heads()[&author].seq, seq, "the author's chain goes on");
            last = id;
        }
        assert_eq!(db.get("a"), Some(&Value::Int(2)), "the put took effect");
        assert_eq!(db.get("b"), None, "the remove took effect");
        // The writes ran without the log's index: the clock was restored from the chain heads.
        assert!(!db.log().is_indexed());
        assert_eq!(db.log().heads()[&author].id, last);
        assert_eq!(db.log().heads().len(), 1);
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
        let refused = db.apply_remote(vec![forged.clone()], &[]).await;
        assert!(matches!(refused, Err(DbError::Log(auroradb::log::LogError::InvalidOp { .. }))), "{refused:?}");
        // No database takes it in, so no log file can carry it: without the author's key there is
        // no proof of it.
        let mut carrier = Database::open(MemoryStorage::new(), config("carrier")).await.unwrap();
        let proofs = db.proofs_for([&genuine]);
        let refused = carrier.apply_remote(vec![genuine.clone(), forged], &proofs).await;
        assert!(matches!(refused, Err(DbError::Log(auroradb::log::LogError::BadProof { .. }))), "{refused:?}");
        carrier.apply_remote(vec![genuine], &proofs).await.unwrap();
        assert_eq!(db.storage().dump(), before);
        assert_eq!(db.get("a"), Some(&Value::Int(1)));
        // The genuine next write chains onto the genuine head.
        tick();
        db.put("a", Value::Int(2)).await.unwrap();
        assert_eq!(db.verify().await.unwrap().ops, 2);
    });
}

#[test]
fn ops_from_a_file_or_a_peer_that_local_writes_could_not_make_are_refused() {
    use auroradb::log::{Identity, LogError};
    block_on(async {
        let mut cfg = config("remote-input");
        cfg.max_op = auroradb::MAX_OP_FLOOR;
        let mut db = Database::open(MemoryStorage::new(), cfg).await.unwrap();
        db.put("kept", Value::Int(1)).await.unwrap();
        let before = db.storage().dump();
        let mallory = Identity::from_secret(&[0x77; 32]);
        let signed = |kind| {
            let op = auroradb::EncodedOp::new(auroradb::Op {
                id: OpId { time: auroradb_log::millis_to_ntp(1_700_000_000_000), peer: mallory.peer() },
                author: mallory.peer(),
                seq: 1,
                prev: auroradb::log::Hash::ZERO,
                kind,
            });
            let proofs = vec![(op.op.id, mallory.prove(&op.hash))];
            (op, proofs)
        };
        let deep = (0..70).fold(Value::Int(0), |v, _| Value::List(vec![v]));
        let proto = Value::map([("__proto__", Value::Int(1))]);
        let cases = [
            (auroradb::OpKind::Put { key: String::new(), value: Value::Int(1) }, "InvalidInputError"),
            (auroradb::OpKind::Remove { key: "__proto__".into() }, "InvalidInputError"),
            (auroradb::OpKind::Put { key: "k".repeat(4097), value: Value::Int(1) }, "InvalidInputError"),
            (auroradb::OpKind::Put { key: "deep".into(), value: deep }, "InvalidInputError"),
            (
                auroradb::OpKind::Txn(vec![
                    auroradb::Step::Put { key: "fine".into(), value: Value::Int(1) },
                    auroradb::Step::Put { key: "proto".into(), value: proto },
                ]),
                "InvalidInputError",
            ),
            (auroradb::OpKind::Put { key: "big".into(), value: Value::from("x".repeat(9_000)) }, "TooLargeError"),
        ];
        for (kind, name) in cases {
            // A fresh author's first op, signed: nothing else about it is wrong.
            let (op, proofs) = signed(kind);
            let refused = db.apply_remote(vec![op], &proofs).await.unwrap_err();
            assert_eq!(refused.error_name().as_str(), name, "{refused}");
            assert!(
                matches!(refused, DbError::Log(LogError::InvalidContent { .. } | LogError::TooLarge { .. })),
                "{refused:?}"
            );
            assert_eq!(db.storage().dump(), before);
        }
        // The same author's valid op is taken in.
        let (op, proofs) = signed(auroradb::OpKind::Put { key: "fine".into(), value: Value::Int(2) });
        assert_eq!(db.apply_remote(vec![op], &proofs).await.unwrap().ops.len(), 1);
        assert_eq!(db.get("fine"), Some(&Value::Int(2)));
    });
}

#[test]
fn an_op_in_another_authors_name_is_refused_and_the_author_keeps_writing() {
    use auroradb::log::{Identity, LogError};
    block_on(async {
        let mut alice = Database::open(MemoryStorage::new(), config("alice")).await.unwrap();
        let mut carol = Database::open(MemoryStorage::new(), config("carol")).await.unwrap();
        let first = alice.put("a", Value::Int(1)).await.unwrap().encoded.remove(0);
        carol.apply_remote(vec![first.clone()], &alice.proofs_for([&first])).await.unwrap();
        // Mallory has seen Alice's chain head and writes Alice's next op: without a proof, with
        // a proof by her own key, and with Alice's proof of another op.
        let mallory = Identity::from_secret(&[0x99; 32]);
        let forged = auroradb::EncodedOp::new(auroradb::Op {
            id: OpId { time: first.op.id.time + 1_000_000, ..first.op.id },
            author: first.op.author,
            seq: 2,
            prev: first.hash,
            kind: auroradb::OpKind::Clear,
        });
        let before = carol.storage().dump();
        let attempts = [
            vec![],
            vec![(forged.op.id, mallory.prove(&forged.hash))],
            vec![(forged.op.id, alice.proofs_for([&first])[0].1)],
        ];
        for proofs in attempts {
            let refused = carol.apply_remote(vec![forged.clone()], &proofs).await;
            assert!(
                matches!(&refused, Err(DbError::Log(LogError::BadProof { author, .. })) if *author == first.op.author),
                "{refused:?}"
            );
            assert_eq!(refused.unwrap_err().error_name().as_str(), "AuthorshipError");
        }
        assert_eq!(carol.storage().dump(), before, "nothing of the forgery was stored");
        // Alice's genuine next op is taken, from her or from a file of her log.
        tick();
        let second = alice.put("b", Value::Int(2)).await.unwrap().encoded.remove(0);
        let file = alice.export_log().await.unwrap();
        let mut dave = Database::open(MemoryStorage::new(), config("dave")).await.unwrap();
        dave.import_log(&file).await.unwrap();
        carol.apply_remote(vec![second.clone()], &alice.proofs_for([&second])).await.unwrap();
        for db in [&mut carol, &mut dave] {
            assert_eq!(db.log().heads()[&first.op.author].hash, second.hash);
            assert_eq!(db.get("a"), Some(&Value::Int(1)));
            assert_eq!(db.verify().await.unwrap().proven, 1, "Alice's head, proven by her key");
        }
        // Reopened, Carol still holds Alice's proof and passes it on.
        let proof = carol.proofs_for([&second]);
        let carol = Database::open(carol.storage().clone(), config("carol")).await.unwrap();
        assert_eq!(carol.proofs_for([&second]), proof);
        assert_eq!(proof.len(), 1);
    });
}

#[test]
fn a_reopened_database_without_its_index_tells_its_own_ops_from_forged_ones() {
    block_on(async {
        // Opened as a chosen author (the command-line tool's --as), so the reopened connection
        // writes under the author whose ops it holds.
        let mut cfg = config("own-chain-reopened");
        cfg.peer = Some(auroradb::PeerId([9; 16]));
        let storage = MemoryStorage::new();
        let mut db = Database::open(storage.clone(), cfg.clone()).await.unwrap();
        let mut genuine = db.put("a", Value::Int(1)).await.unwrap().encoded;
        tick();
        genuine.extend(db.put("b", Value::Int(2)).await.unwrap().encoded);
        drop(db);
        let forged = auroradb::EncodedOp::new(auroradb::Op {
            id: OpId { time: genuine[1].op.id.time + 1_000_000, ..genuine[1].op.id },
            author: genuine[1].op.author,
            seq: 3,
            prev: genuine[1].hash,
            kind: auroradb::OpKind::Put { key: "a".into(), value: Value::from("forged") },
        });
        let mut db = Database::open(storage.clone(), cfg).await.unwrap();
        assert!(!db.log().is_indexed());
        let before = storage.dump();
        // Its own ops, which only the index knows it holds, come back as a no-op...
        assert!(db.apply_remote(genuine, &[]).await.unwrap().ops.is_empty());
        // ...and the next op of its chain, which it never wrote, is refused.
        let refused = db.apply_remote(vec![forged], &[]).await;
        assert!(matches!(refused, Err(DbError::Log(auroradb::log::LogError::InvalidOp { .. }))), "{refused:?}");
        assert_eq!(storage.dump(), before);
        assert_eq!(db.get("a"), Some(&Value::Int(1)));
    });
}

#[test]
fn a_database_given_an_identity_restores_that_author_s_ops_while_it_holds_none() {
    block_on(async {
        let me = auroradb::log::Identity::from_secret(&[5; 32]);
        let mut cfg = config("identity-restore");
        cfg.identity = Some(me.clone());
        let mut first = Database::open(MemoryStorage::new(), cfg.clone()).await.unwrap();
        let mut ops = first.put("x", Value::Int(1)).await.unwrap().encoded;
        tick();
        ops.extend(first.put("y", Value::Int(2)).await.unwrap().encoded);
        let proofs = first.proofs_for(&ops);
        // A fresh database given the same identity takes them in (a restore), and goes on with
        // the chain.
        let mut restored = Database::open(MemoryStorage::new(), cfg.clone()).await.unwrap();
        assert_eq!(restored.apply_remote(ops.clone(), &proofs).await.unwrap().ops.len(), 2);
        tick();
        let next = restored.put("z", Value::Int(3)).await.unwrap().encoded;
        assert_eq!((next[0].op.author, next[0].op.seq), (me.peer(), 3));
        assert_eq!(restored.get("y"), Some(&Value::Int(2)));
        // One that wrote as the author already holds its chain: what it did not write is refused.
        let mut other = Database::open(MemoryStorage::new(), cfg).await.unwrap();
        tick();
        other.put("q", Value::Int(9)).await.unwrap();
        let refused = other.apply_remote(ops[1..].to_vec(), &proofs).await;
        assert!(matches!(refused, Err(DbError::Log(auroradb::log::LogError::InvalidOp { .. }))), "{refused:?}");
        assert_eq!(other.get("q"), Some(&Value::Int(9)));
    });
}

/// `cfg` with a checkpoint every 100 ops and 16 ops a segment.
/// Damage to what the log's tools trust and the log does not prove by itself: a kept proof of
/// authorship (which goes out in every export), a history row, and a journal entry holding the
/// last commit number there is.
#[test]
fn damage_to_kept_proofs_history_rows_and_the_journal_s_numbers_is_found() {
    use auroradb::storage::{KeyRange, ScanOptions, WriteBatch};
    block_on(async {
        let storage = MemoryStorage::new();
        let cfg = history_config(config("derived"));
        let mut db = Database::open(storage.clone(), cfg.clone()).await.unwrap();
        for i in 0..auroradb_log::PROOF_INTERVAL as i64 + 20 {
            tick();
            db.put(format!("k{}", i % 7), Value::Int(i)).await.unwrap();
        }
        tick();
        db.clear().await.unwrap();
        tick();
        db.put("k1", Value::Int(-1)).await.unwrap();
        assert_eq!(db.history("k1").await.unwrap().len(), 42, "every op on k1, the clear, and the last put");
        db.verify().await.unwrap();
        drop(db);
        let keys_only = ScanOptions { keys_only: true, ..Default::default() };
        let reopened = |storage: MemoryStorage| Database::open(storage, cfg.clone());

        // One bit of the kept proof at the interval: found by verify() as the import would find it.
        let proofs = storage.scan(Store::Meta, KeyRange::prefix(b"proof/"), ScanOptions::default()).await.unwrap();
        assert_eq!(proofs.len(), 1, "the op at the interval has its proof kept");
        let copy = storage.deep_clone();
        assert!(copy.tamper(Store::Meta, &proofs[0].0, |v| *v.last_mut().unwrap() ^= 1));
        let mut damaged = reopened(copy).await.unwrap();
        let err = damaged.verify().await.unwrap_err();
        assert_eq!(err.name(), "AuthorshipError", "{err}");
        let file = damaged.export_log().await.unwrap();
        let mut fresh = Database::open(MemoryStorage::new(), config("restore")).await.unwrap();
        assert_eq!(fresh.import_log(&file).await.unwrap_err().name(), "AuthorshipError");

        // A history row taken away, or one laid under another key: history() would be short, or
        // list an op that never wrote the key.
        let rows = storage.scan(Store::History, KeyRange::all(), keys_only).await.unwrap();
        assert!(rows.len() > 40);
        for (i, (row, _)) in rows.iter().enumerate().step_by(9) {
            let copy = storage.deep_clone();
            let mut batch = WriteBatch::default();
            batch.delete(Store::History, row.clone());
            copy.commit(batch).await.unwrap();
            let err = reopened(copy).await.unwrap().verify().await.unwrap_err();
            assert_eq!(err.name(), "CorruptDataError", "row {i}: {err}");
            assert!(err.to_string().contains("lacks op"), "row {i}: {err}");
        }
        let mut moved = rows[0].0.clone();
        let at = moved.len() - auroradb_log::OP_ID_LEN - 1;
        moved[at] ^= 1;
        let copy = storage.deep_clone();
        let mut batch = WriteBatch::default();
        batch.put(Store::History, moved, Vec::new());
        copy.commit(batch).await.unwrap();
        let err = reopened(copy).await.unwrap().verify().await.unwrap_err();
        assert!(err.to_string().contains("which the log does not give it"), "{err}");

        // The newest journal entry copied to the last number a database makes: the database
        // opens, and a write that would claim the number after it is refused with nothing written.
        let newest = storage.scan(Store::Journal, KeyRange::all(), ScanOptions::default()).await.unwrap();
        let (_, entry) = newest.last().unwrap().clone();
        let copy = storage.deep_clone();
        let mut batch = WriteBatch::default();
        batch.put(Store::Journal, ((1u64 << 63) - 1).to_be_bytes().to_vec(), entry);
        copy.commit(batch).await.unwrap();
        let mut damaged = reopened(copy.clone()).await.unwrap();
        let before = copy.dump();
        let err = damaged.put("k2", Value::Int(7)).await.unwrap_err();
        assert_eq!(err.name(), "CorruptDataError", "{err}");
        assert!(err.to_string().contains("leaves no number for the next commit"), "{err}");
        assert_eq!(copy.dump(), before, "nothing written");
        drop(damaged);
        let mut again = reopened(copy).await.unwrap();
        again.verify().await.unwrap();
        assert_eq!(again.get("k1"), Some(&Value::Int(-1)));
    });
}

fn history_config(mut cfg: Config) -> Config {
    cfg.checkpoint_every = 100;
    cfg.segment_ops = 16;
    cfg
}

/// A database of `10 × rounds` ops on the same 10 keys, reopened with its read counters at 0.
async fn reopened_after(rounds: i64) -> (MemoryStorage, Database<MemoryStorage>) {
    let cfg = history_config(config("history"));
    let storage = MemoryStorage::new();
    let mut db = Database::open(storage.clone(), cfg.clone()).await.unwrap();
    for r in 0..rounds {
        for k in 0..10 {
            tick();
            db.put(format!("k{k}"), Value::Int(r)).await.unwrap();
        }
    }
    drop(db);
    storage.reset_reads();
    let db = Database::open(storage.clone(), cfg).await.unwrap();
    (storage, db)
}

#[test]
fn what_open_reads_does_not_grow_with_the_history() {
    block_on(async {
        let (short, _) = reopened_after(2).await;
        let (long, mut db) = reopened_after(500).await;
        assert_eq!((long.len(Store::Log), db.count(), db.op_count()), (5000, 10, 5000));
        // No segment record, history record, op or op key (the ops after the newest checkpoint
        // are counted by the storage); the last journal entry (the number of the newest commit,
        // the count of records), read again with the heads, and the entries after the last
        // commit that wrote the chain heads to meta (those of the log's tail: at most a segment's
        // worth); the same meta and state records; checkpoint ids only.
        for store in [Store::Segments, Store::History, Store::Log] {
            assert_eq!(long.reads(store), 0, "{store:?}");
        }
        for reads in [long.reads(Store::Journal), short.reads(Store::Journal)] {
            assert!(reads <= 2 + 16, "{reads} journal entries read");
        }
        assert_eq!(long.reads(Store::Meta), short.reads(Store::Meta));
        assert_eq!(long.reads(Store::State), short.reads(Store::State));
        assert!(long.reads(Store::Checkpoints) <= 5000 / 100, "{} checkpoint ids", long.reads(Store::Checkpoints));
        assert_eq!(db.stats().ops_decoded, 0);
        // Nothing of the history is held in memory after open.
        assert!(!db.log().is_indexed());
        assert_eq!(db.log().len(), 0);
        // The history ends on a checkpoint (one every 100 ops), and its last 8 ops are the tail,
        // after 312 segment records of 16 ops. The next 99 writes do not load the index. Each
        // writes its op, the state record and a journal entry (which holds its author's chain
        // head), and no segment record, history row or chain head record: the segment record
        // and the chain heads are written by the write that brings the tail to 16 ops (the 8th,
        // then every 16th: 6 of them), in one record of 16 ops, after reading the last record
        // and the tail's other 15 ops, with the history mark as read (`history` writes the
        // history rows, no write does). The first write reads the last record to count the tail.
        long.reset_reads();
        for i in 0..99 {
            tick();
            db.put("k0", Value::Int(-i)).await.unwrap();
        }
        assert_eq!((db.stats().index_loads, db.log().is_indexed()), (0, false));
        for store in [Store::Log, Store::State, Store::Journal] {
            assert_eq!(long.writes(store), 99, "{store:?}");
        }
        assert_eq!(long.writes(Store::Meta), 6, "the chain head, with the tail's records");
        assert_eq!((long.writes(Store::Segments), long.writes(Store::History)), (6, 0));
        assert_eq!((long.reads(Store::Segments), long.reads(Store::Log)), (1 + 6, 6 * 15));
        assert_eq!(long.len(Store::Segments), 312 + 6);
        // Reopened, it counts those 99 ops: the 100th makes a checkpoint, whose fingerprint
        // covers the whole log, so it loads the index.
        drop(db);
        let cfg = history_config(Config::new("history", manual_clock));
        let mut db = Database::open(long.clone(), cfg).await.unwrap();
        assert_eq!(db.stats().checkpoints_written, 0);
        tick();
        db.put("k1", Value::Int(-1)).await.unwrap();
        assert_eq!((db.stats().index_loads, db.stats().checkpoints_written), (1, 1));
        assert_eq!((db.log().len(), db.op_count()), (5100, 5100));
        let report = db.verify().await.unwrap();
        assert_eq!((report.ops, report.checkpoints), (5100, 51));
    });
}

#[test]
fn history_verify_and_the_index_cover_the_ops_after_the_last_segment_record() {
    block_on(async {
        let mut cfg = config("tail");
        cfg.segment_ops = 4;
        cfg.checkpoint_every = 0;
        // b writes first, offline, in storage of its own: its op reaches a late.
        let mut b = Database::open(MemoryStorage::new(), cfg.clone()).await.unwrap();
        b.put("x", Value::Int(-1)).await.unwrap();
        let storage = MemoryStorage::new();
        let mut a = Database::open(storage.clone(), cfg.clone()).await.unwrap();
        let mut a2 = Database::open(storage.clone(), cfg.clone()).await.unwrap();
        let mut on_x = Vec::new();
        for i in 0..10 {
            tick();
            let db = if i % 3 == 0 { &mut a2 } else { &mut a };
            let key = if i % 2 == 0 { "x" } else { "y" };
            let id = db.put(key, Value::Int(i)).await.unwrap().ops[0];
            if key == "x" {
                on_x.push(id);
            }
        }
        // Two connections, 10 ops: two records of 4 ops, and a tail of 2 with no segment
        // record; no history row, which `history` writes, for every op up to the newest.
        assert_eq!((storage.len(Store::Segments), storage.len(Store::History)), (2, 0));
        a.catch_up().await.unwrap();
        let history = |items: Vec<auroradb::HistoryItem>| items.iter().map(|h| h.id).collect::<Vec<_>>();
        assert_eq!(history(a.history("x").await.unwrap()), on_x);
        assert_eq!(storage.len(Store::History), 10);
        assert_eq!(history(a2.history("x").await.unwrap()), on_x);
        assert_eq!(storage.len(Store::History), 10);
        assert_eq!(a.verify().await.unwrap().ops, 10);
        // The late op lands among the records: its commit places it there, seals the tail, and
        // writes its history row (it is below the mark).
        let ids: Vec<_> = b.log().ids(..).map(|(id, _)| *id).collect();
        let late = b.load_encoded(&ids).await.unwrap();
        let proofs = b.proofs_for(&late);
        a.apply_remote(late, &proofs).await.unwrap();
        assert_eq!(storage.len(Store::History), 11);
        on_x.insert(0, ids[0]);
        assert_eq!(history(a.history("x").await.unwrap()), on_x);
        assert_eq!(a.verify().await.unwrap().ops, 11);
        // A connection loads its index from the records and the tail.
        tick();
        a2.put("z", Value::Null).await.unwrap();
        let mut c = Database::open(storage.clone(), cfg).await.unwrap();
        c.load_log().await.unwrap();
        a.catch_up().await.unwrap();
        assert_eq!((c.log().len(), c.log().fingerprint(..)), (12, a.log().fingerprint(..)));
        assert_eq!(c.verify().await.unwrap().ops, 12);
        // A segment record that lost an op does not pass for the tail.
        let first = storage.dump().into_iter().find(|(s, _, _)| *s == Store::Segments).map(|(_, k, _)| k).unwrap();
        storage.tamper(Store::Segments, &first, |v| {
            let mut rec = auroradb_log::segment::SegmentRecord::decode(v).unwrap();
            rec.members.pop();
            *v = rec.encode();
        });
        assert!(matches!(c.verify().await, Err(DbError::Corrupt(_))));
    });
}

#[test]
fn a_connection_loads_its_index_after_another_one_wrote() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut a = Database::open(storage.clone(), config("late-index")).await.unwrap();
        tick();
        a.put("one", Value::Int(1)).await.unwrap();
        let mut b = Database::open(storage.clone(), config("late-index")).await.unwrap();
        tick();
        a.put("two", Value::Int(2)).await.unwrap();
        // b has not seen "two" and has no index: its write conflicts, catches up and commits.
        assert_eq!(b.get("two"), None);
        tick();
        b.put("three", Value::Int(3)).await.unwrap();
        assert_eq!(b.get("two"), Some(&Value::Int(2)));
        assert_eq!((b.log().is_indexed(), b.op_count()), (false, 3));
        assert_eq!(b.verify().await.unwrap().ops, 3);
        assert_eq!(b.log().len(), 3);
        a.catch_up().await.unwrap();
        assert_eq!(a.get("three"), Some(&Value::Int(3)));
        assert_eq!(a.log().fingerprint(..), b.log().fingerprint(..));
        // Catching up does not load the index.
        let mut c = Database::open(storage.clone(), config("late-index")).await.unwrap();
        tick();
        a.put("four", Value::Int(4)).await.unwrap();
        c.catch_up().await.unwrap();
        assert_eq!((c.get("four"), c.op_count(), c.log().is_indexed()), (Some(&Value::Int(4)), 4, false));
        assert_eq!(c.verify().await.unwrap().ops, 4);
    });
}

#[test]
fn writes_without_the_index_store_what_writes_with_it_store() {
    block_on(async {
        let mut cfg = config("same");
        cfg.segment_ops = 4;
        cfg.checkpoint_every = 0;
        cfg.peer = Some(auroradb::PeerId([7; 16]));
        let storage = MemoryStorage::new();
        let mut db = Database::open(storage.clone(), cfg.clone()).await.unwrap();
        for i in 0..9 {
            tick();
            db.put(format!("k{i}"), Value::Int(i)).await.unwrap();
        }
        drop(db);
        // The same author, clock and writes on two copies: the same ops, so the same records.
        let copy = storage.deep_clone();
        let mut plain = Database::open(storage.clone(), cfg.clone()).await.unwrap();
        let mut loaded = Database::open(copy.clone(), cfg.clone()).await.unwrap();
        loaded.load_log().await.unwrap();
        for i in 0..23 {
            tick();
            for db in [&mut plain, &mut loaded] {
                match i % 5 {
                    0 => db.remove(format!("k{}", i % 9)).await.unwrap(),
                    1 => db.batch_set([(format!("t{i}"), Value::Int(i)), ("k1".into(), Value::Null)]).await.unwrap(),
                    2 if i == 17 => db.clear().await.unwrap(),
                    _ => db.put(format!("n{i}"), Value::Int(i)).await.unwrap(),
                };
            }
        }
        assert!(!plain.log().is_indexed() && loaded.log().is_indexed());
        assert_eq!(storage.dump(), copy.dump());
        assert_eq!(plain.verify().await.unwrap(), loaded.verify().await.unwrap());
    });
}

#[test]
fn the_state_meta_is_stored_by_the_first_commit_and_again_only_when_a_clear_changes_it() {
    block_on(async {
        let storage = MemoryStorage::new();
        let stored_meta = |s: &MemoryStorage| {
            s.dump().into_iter().find(|(store, k, _)| *store == Store::Meta && k == b"state").map(|(_, _, v)| v)
        };
        let mut db = Database::open(storage.clone(), config("meta")).await.unwrap();
        assert_eq!(stored_meta(&storage), None);
        tick();
        db.put("a", Value::Int(1)).await.unwrap();
        let first = stored_meta(&storage).expect("the first commit stores it");
        for i in 0..5 {
            tick();
            db.put(format!("k{i}"), Value::Int(i)).await.unwrap();
        }
        tick();
        db.remove("k0").await.unwrap();
        assert_eq!(stored_meta(&storage).as_ref(), Some(&first), "puts and removes leave it");
        // Its counts come from the chain heads on reopen: the same meta as in memory.
        let live = db.state().meta().clone();
        assert_eq!((live.applied(), live.high_water()), (7, db.log().heads().values().map(|h| h.id).max()));
        drop(db);
        let mut db = Database::open(storage.clone(), config("meta")).await.unwrap();
        assert_eq!(db.state().meta(), &live);
        tick();
        db.clear().await.unwrap();
        let cleared = db.state().meta().clone();
        assert_ne!(stored_meta(&storage).as_ref(), Some(&first), "a clear stores it");
        tick();
        db.put("b", Value::Int(2)).await.unwrap();
        let live = db.state().meta().clone();
        assert_eq!(live.clear(), cleared.clear());
        drop(db);
        let db = Database::open(storage, config("meta")).await.unwrap();
        assert_eq!(db.state().meta(), &live);
        assert_eq!(db.all(), vec![("b".to_string(), Value::Int(2))]);
    });
}

/// A local write leaves its author's chain head in its journal entry only (meta holds the heads as
/// of the last commit that wrote derived records): opening, another connection's catch-up, the
/// proofs it passes on, a freeze of nothing and a crash between writes all see the newest head.
#[test]
fn a_chain_head_held_by_the_journal_only_is_read_by_open_and_catch_up() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut cfg = config("heads");
        cfg.segment_ops = 16;
        let mut a = Database::open(storage.clone(), cfg.clone()).await.unwrap();
        let mut b = Database::open(storage.clone(), cfg.clone()).await.unwrap();
        for i in 0..5 {
            tick();
            a.put(format!("k{i}"), Value::Int(i)).await.unwrap();
        }
        let head_key = [&b"head/"[..], a.peer().as_bytes()].concat();
        assert_eq!(storage.get(Store::Meta, &head_key).await.unwrap(), None, "no head record yet");

        // Another connection takes the head and its proof from the entries, and passes the ops on
        // with it.
        b.catch_up().await.unwrap();
        assert_eq!(b.log().heads()[&a.peer()].seq, 5);
        let ids: Vec<OpId> = a.log().ids(..).map(|(id, _)| *id).collect();
        let ops = b.load_encoded(&ids).await.unwrap();
        let proofs = b.proofs_for(&ops);
        assert_eq!(proofs.len(), 1, "{proofs:?}");
        let mut peer = Database::open(MemoryStorage::new(), config("heads-peer")).await.unwrap();
        peer.apply_remote(ops, &proofs).await.unwrap();
        assert_eq!(peer.count(), 5);

        // Reopened (the writer gone without closing; its author slot is free again), it links its
        // next op to the newest head.
        let author = a.peer();
        drop(a);
        let mut reopened = Database::open(storage.clone(), cfg.clone()).await.unwrap();
        assert_eq!(reopened.log().heads()[&author].seq, 5);
        reopened.verify().await.unwrap();
        tick();
        b.put("from-b", Value::Int(1)).await.unwrap();
        tick();
        reopened.put("k9", Value::Int(9)).await.unwrap();
        reopened.verify().await.unwrap();
        b.verify().await.unwrap();

        // The write that brings the tail to a segment's worth writes every head to meta: the
        // entries after it hold none.
        for i in 0..16 {
            tick();
            b.put(format!("b{i}"), Value::Int(i)).await.unwrap();
        }
        assert!(storage.get(Store::Meta, &head_key).await.unwrap().is_some());
        let again = Database::open(storage.clone(), cfg).await.unwrap();
        assert_eq!(again.log().heads(), b.log().heads());
        assert_eq!(again.op_count(), 5 + 1 + 1 + 16);
    });
}

/// The chain heads the newest journal entry of `storage` names, with whether each has a proof.
fn newest_entry_heads(storage: &MemoryStorage) -> Vec<(auroradb::PeerId, bool)> {
    type Heads = Vec<(auroradb::PeerId, (auroradb_log::ChainHead, Option<auroradb_log::Proof>))>;
    let (_, _, entry) = storage.dump().into_iter().rfind(|(s, _, _)| *s == Store::Journal).unwrap();
    let (_, _, _, heads, _wall): (Option<Vec<OpId>>, u64, u64, Heads, u64) =
        auroradb_log::codec::decode_blob_v("journal entry", *b"AUjn", 4, &entry).unwrap();
    heads.into_iter().map(|(p, (_, proof))| (p, proof.is_some())).collect()
}

/// An author slot's write is not signed: the storage keeps the slot's key, and any connection of
/// it signs the ops when they leave (sync, a log file, `verify`), also once the writer is gone.
/// An identity the application gives signs each write, and every 256th op of a chain is signed
/// when written.
#[test]
fn an_author_slots_writes_are_signed_when_they_leave_the_database() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut a = Database::open(storage.clone(), config("lazy")).await.unwrap();
        let mut b = Database::open(storage.clone(), config("lazy")).await.unwrap();
        assert_ne!(a.peer(), b.peer());
        for i in 0..3 {
            tick();
            a.put(format!("a{i}"), Value::Int(i)).await.unwrap();
        }
        assert_eq!(newest_entry_heads(&storage), vec![(a.peer(), false)]);
        let author = a.peer();
        drop(a);

        // `b` proves them (its log's index loaded): a peer takes them, and a log file of its
        // imports with the author proven.
        b.load_log().await.unwrap();
        tick();
        b.put("b", Value::Int(1)).await.unwrap();
        let ids: Vec<OpId> = b.log().ids(..).map(|(id, _)| *id).collect();
        let ops = b.load_encoded(&ids).await.unwrap();
        let proofs = b.proofs_for(&ops);
        let mut peer = Database::open(MemoryStorage::new(), config("lazy-peer")).await.unwrap();
        peer.apply_remote(ops, &proofs).await.unwrap();
        assert_eq!((peer.count(), peer.log().heads()[&author].seq), (4, 3));
        let file = b.export_log().await.unwrap();
        let mut fresh = Database::open(MemoryStorage::new(), config("lazy-file")).await.unwrap();
        fresh.import_log(&file).await.unwrap();
        assert_eq!(fresh.verify().await.unwrap().authors, 2);
        assert_eq!(b.verify().await.unwrap().authors, 2);

        // An identity of the application's signs each write.
        let mut given = config("lazy");
        given.identity = Some(auroradb::log::Identity::from_secret(&[0x42; 32]));
        let mut c = Database::open(storage.clone(), given).await.unwrap();
        tick();
        c.put("c", Value::Int(1)).await.unwrap();
        assert_eq!(newest_entry_heads(&storage), vec![(c.peer(), true)]);

        // A slot first taken after `b` loaded its index: its catch-up learns that slot's key.
        let d = Database::open(storage.clone(), config("lazy")).await.unwrap();
        let mut e = Database::open(storage.clone(), config("lazy")).await.unwrap();
        assert!(![author, b.peer(), d.peer()].contains(&e.peer()));
        tick();
        let id = e.put("e", Value::Int(1)).await.unwrap().ops[0];
        assert!(b.log().proof_of(&id).is_none());
        b.catch_up().await.unwrap();
        let proof = b.log().proof_of(&id).expect("b signs for e's slot");
        proof.check(e.peer(), b.log().hash_of(&id).unwrap()).unwrap();
        drop(d);
    });
}

#[test]
fn an_import_drops_the_checkpoints_another_connection_made_after_its_ops() {
    block_on(async {
        let (older, shared) = (config("older"), config("shared"));
        // A file of an op older than everything below.
        set_manual_clock(1_699_999_000_000);
        let mut old = Database::open(MemoryStorage::new(), older).await.unwrap();
        old.put("old", Value::Int(0)).await.unwrap();
        let file = old.export_log().await.unwrap();
        set_manual_clock(1_700_000_001_000);
        let storage = MemoryStorage::new();
        let mut a = Database::open(storage.clone(), shared.clone()).await.unwrap();
        a.put("new", Value::Int(1)).await.unwrap();
        let mut b = Database::open(storage.clone(), shared.clone()).await.unwrap();
        b.verify().await.unwrap();
        // A checkpoint made by the other connection: it moves no commit number.
        tick();
        a.checkpoint().await.unwrap();
        b.import_log(&file).await.unwrap();
        b.verify().await.unwrap();
        let mut c = Database::open(storage.clone(), shared).await.unwrap();
        c.verify().await.unwrap();
        assert_eq!(c.count(), 2);
    });
}

/// The ids of `db`'s history of `key`.
async fn history_ids<S: Storage>(db: &mut Database<S>, key: &str) -> Vec<OpId> {
    db.history(key).await.unwrap().iter().map(|h| h.id).collect()
}

#[test]
fn history_rows_are_written_by_history_only_in_chunks_up_to_the_newest_op() {
    block_on(async {
        let mut cfg = config("rows");
        cfg.segment_ops = 16;
        let storage = MemoryStorage::new();
        let mut db = Database::open(storage.clone(), cfg.clone()).await.unwrap();
        // 2,500 ops over five keys, a clear among them, and a transaction writing two keys.
        let mut on_k0 = Vec::new();
        for i in 0..2_500 {
            tick();
            let out = match i {
                700 => db.clear().await.unwrap(),
                900 => {
                    let mut tx = Transaction::new();
                    tx.put("k0", Value::Int(-1)).unwrap();
                    tx.put("k1", Value::Int(-1)).unwrap();
                    db.commit_transaction(tx).await.unwrap()
                }
                _ => db.put(format!("k{}", i % 5), Value::Int(i)).await.unwrap(),
            };
            if matches!(i, 700 | 900) || i % 5 == 0 {
                on_k0.push(out.ops[0]);
            }
        }
        assert_eq!(storage.len(Store::History), 0, "no write makes a history row");
        assert_eq!(history_ids(&mut db, "k0").await, on_k0);
        // One row per key an op wrote (two for the transaction), one for the clear; written
        // in four commits, of 256, 512, 1,024 and the last 708 ops.
        assert_eq!(storage.len(Store::History), 2_500 + 1);
        assert_eq!(storage.writes(Store::History), 2_501);
        // Later writes are read after the mark, then get their rows from the next call.
        for i in 0..7 {
            tick();
            on_k0.push(db.put("k0", Value::Int(i)).await.unwrap().ops[0]);
        }
        storage.reset_reads();
        let mut other = Database::open(storage.clone(), cfg).await.unwrap();
        assert_eq!(history_ids(&mut other, "k0").await, on_k0);
        assert_eq!((storage.len(Store::History), storage.writes(Store::History)), (2_508, 7));
        assert_eq!(history_ids(&mut db, "k0").await, on_k0);
        assert_eq!(storage.writes(Store::History), 7, "nothing to index again");
        assert_eq!(db.verify().await.unwrap().ops, 2_507);
    });
}

#[test]
fn a_database_without_a_history_mark_has_its_rows_up_to_its_last_segment_record() {
    block_on(async {
        let mut cfg = config("legacy-rows");
        cfg.segment_ops = 4;
        cfg.checkpoint_every = 0;
        let storage = MemoryStorage::new();
        let mut db = Database::open(storage.clone(), cfg.clone()).await.unwrap();
        let mut on_x = Vec::new();
        for i in 0..10 {
            tick();
            let key = if i % 2 == 0 { "x" } else { "y" };
            let id = db.put(key, Value::Int(i)).await.unwrap().ops[0];
            if key == "x" {
                on_x.push(id);
            }
        }
        // As an earlier release left it: rows for the 8 ops of the two segment records, none
        // for the tail's 2, and no mark.
        assert_eq!(history_ids(&mut db, "x").await, on_x);
        let mut batch = auroradb::storage::WriteBatch::default();
        batch.delete(Store::Meta, b"history".to_vec());
        let rows: Vec<Vec<u8>> = storage
            .dump()
            .into_iter()
            .filter(|(s, k, _)| *s == Store::History && k.ends_with(&on_x[4].to_bytes()))
            .map(|(_, k, _)| k)
            .collect();
        assert_eq!(rows.len(), 1, "the 10th op, on x, is in the tail");
        batch.delete(Store::History, rows[0].clone());
        let y_last: Vec<Vec<u8>> = storage
            .dump()
            .into_iter()
            .filter(|(s, k, _)| *s == Store::History && k.starts_with(&[0, 0, 0, 1, b'y']))
            .map(|(_, k, _)| k)
            .collect();
        batch.delete(Store::History, y_last.last().unwrap().clone());
        storage.commit(batch).await.unwrap();
        assert_eq!(storage.len(Store::History), 8);
        let mut old = Database::open(storage.clone(), cfg).await.unwrap();
        // Its writes up to the next sealing store the mark it had (the last record's end)...
        for i in 0..2 {
            tick();
            on_x.push(old.put("x", Value::Int(100 + i)).await.unwrap().ops[0]);
        }
        assert!(storage.dump().iter().any(|(s, k, _)| *s == Store::Meta && k == b"history"));
        assert_eq!(storage.len(Store::History), 8);
        // ...and `history` reads the rows up to it and indexes the ops after it.
        assert_eq!(history_ids(&mut old, "x").await, on_x);
        assert_eq!(storage.len(Store::History), 12);
        assert_eq!(history_ids(&mut db, "x").await, on_x);
    });
}

#[test]
fn history_reads_the_ops_after_the_mark_when_their_rows_do_not_fit() {
    block_on(async {
        let storage = FaultyStorage::new(MemoryStorage::new());
        let mut db = Database::open(storage.clone(), config("full")).await.unwrap();
        let mut on_k = Vec::new();
        for i in 0..40 {
            tick();
            let out = db.put(if i % 4 == 0 { "k" } else { "other" }, Value::Int(i)).await.unwrap();
            if i % 4 == 0 {
                on_k.push(out.ops[0]);
            }
        }
        storage.set_quota(Some(10));
        assert_eq!(history_ids(&mut db, "k").await, on_k);
        assert_eq!(storage.inner().len(Store::History), 0);
        storage.set_quota(None);
        assert_eq!(history_ids(&mut db, "k").await, on_k);
        assert_eq!(storage.inner().len(Store::History), 40);
    });
}

/// An upgrade that makes an index unique while two records share one of its values is refused,
/// as IndexedDB refuses a unique index over records that break it, and leaves the database as
/// it was; once the records differ, the same upgrade goes through.
/// Indexes change with a new version only: at the stored one, an index added or removed (of any
/// name: IndexedDB only sees those named like identifiers) or made unique or not is an
/// `InvalidConfigError`, and nothing changes; the same indexes in another order are the same.
/// Two connections at one version once disagreed on whether an index was unique, and the one that
/// thought not wrote a value the other's unique index then held twice.
#[test]
fn indexes_change_only_with_a_new_version() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut v1 = config("same-version");
        v1.indexes = vec![IndexSpec::new("a", false), IndexSpec::new("first name", false)];
        let mut db = Database::open(storage.clone(), v1.clone()).await.unwrap();
        db.put("x", Value::map([("a", Value::Int(1))])).await.unwrap();
        drop(db);
        let before = storage.dump();
        let with = |indexes: Vec<IndexSpec>| Config { indexes, ..v1.clone() };
        for indexes in [
            vec![IndexSpec::new("a", false)],
            vec![IndexSpec::new("a", false), IndexSpec::new("first name", false), IndexSpec::new("x-y", false)],
            vec![IndexSpec::new("a", true), IndexSpec::new("first name", false)],
            vec![],
        ] {
            let err = Database::open(storage.clone(), with(indexes.clone())).await.unwrap_err();
            assert_eq!(err.name(), "InvalidConfigError", "{indexes:?}: {err}");
            assert!(err.to_string().contains("raise version"), "{err}");
            assert_eq!(storage.dump(), before);
        }
        Database::open(storage.clone(), with(vec![IndexSpec::new("first name", false), IndexSpec::new("a", false)]))
            .await
            .unwrap();
        let raised = Config { version: 2, ..with(vec![IndexSpec::new("a", true)]) };
        Database::open(storage.clone(), raised).await.unwrap();
    });
}

#[test]
fn an_index_made_unique_over_records_that_share_a_value_is_refused_and_changes_nothing() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut v1 = config("made-unique");
        v1.indexes = vec![IndexSpec::new("age", false), IndexSpec::new("email", false)];
        let mut db = Database::open(storage.clone(), v1.clone()).await.unwrap();
        db.batch_set([
            ("x".to_string(), user("x", "dup@x.org", 1)),
            ("y".into(), user("y", "dup@x.org", 2)),
            ("z".into(), user("z", "z@x.org", 2)),
        ])
        .await
        .unwrap();
        drop(db);
        let before = storage.dump();
        let added = Config {
            version: 2,
            indexes: vec![IndexSpec::new("age", false), IndexSpec::new("email", false), IndexSpec::new("name", true)],
            ..v1.clone()
        };
        // A new unique index that the records keep is fine; the schema then names it.
        let db = Database::open(storage.clone(), added.clone()).await.unwrap();
        drop(db);
        let made_unique = |version, state_cache, strategy| Config {
            version,
            state_cache,
            strategy,
            indexes: vec![IndexSpec::new("age", false), IndexSpec::new("email", true), IndexSpec::new("name", true)],
            ..v1.clone()
        };
        let upgraded = storage.dump();
        assert_ne!(upgraded, before);
        // Made unique at a new version, with records read on demand or all at open, and with a
        // new strategy (the check is made on the state the log gives under it).
        for (version, state_cache, strategy) in
            [(3, Some(10), Strategy::default()), (3, None, Strategy::default()), (3, Some(10), Strategy::Version)]
        {
            let err = Database::open(storage.clone(), made_unique(version, state_cache, strategy)).await.unwrap_err();
            assert_eq!(err.name(), "UniqueConstraintError", "{err}");
            let message = err.to_string();
            assert!(
                message.contains("\"email\"") && message.contains("\"x\"") && message.contains("\"y\""),
                "{message}"
            );
            assert_eq!(storage.dump(), upgraded, "a refused upgrade changes nothing");
        }
        // At the same version, the indexes cannot change at all.
        let err = Database::open(storage.clone(), made_unique(2, Some(10), Strategy::default())).await.unwrap_err();
        assert_eq!(err.name(), "InvalidConfigError", "{err}");
        assert_eq!(storage.dump(), upgraded);
        // The records fixed under the schema they have, the same upgrade goes through, and the
        // index refuses a local write that breaks it.
        let mut db = Database::open(storage.clone(), added).await.unwrap();
        tick();
        db.put("y", user("y", "y@x.org", 2)).await.unwrap();
        drop(db);
        let mut db = Database::open(storage.clone(), made_unique(3, Some(10), Strategy::default())).await.unwrap();
        tick();
        assert_eq!(db.put("y", user("y", "dup@x.org", 2)).await.unwrap_err().name(), "UniqueConstraintError");
        // A unique index that was unique before is not checked again at open.
        drop(db);
        Database::open(storage.clone(), made_unique(3, Some(10), Strategy::default())).await.unwrap();
    });
}

#[test]
fn a_journal_that_lost_its_newest_entry_is_reported_not_read_again_forever() {
    block_on(async {
        let storage = MemoryStorage::new();
        let cfg = Config { state_cache: Some(1), ..config("lost-journal") };
        let mut db = Database::open(storage.clone(), cfg).await.unwrap();
        for k in ["a", "b", "c"] {
            db.put(k, Value::Int(1)).await.unwrap();
        }
        // The newest journal entry goes, as a tool (or another tab) with the storage can remove
        // it: a read that waits for the stored commit to be the one it saw would wait forever.
        let newest =
            storage.dump().into_iter().filter(|(s, _, _)| *s == Store::Journal).map(|(_, k, _)| k).max().unwrap();
        let mut batch = auroradb::storage::WriteBatch::default();
        batch.delete(Store::Journal, newest);
        storage.commit(batch).await.unwrap();
        let err = db.load_state().await.unwrap_err();
        assert_eq!(err.name(), "CorruptDataError", "{err}");
        let err = db.read_as_seen(async |_| Ok(())).await.unwrap_err();
        assert_eq!(err.name(), "CorruptDataError", "{err}");
    });
}

#[test]
fn a_commit_number_no_database_makes_is_refused() {
    block_on(async {
        let storage = MemoryStorage::new();
        let mut db = Database::open(storage.clone(), config("huge-commit")).await.unwrap();
        db.put("a", Value::Int(1)).await.unwrap();
        // An entry copied under the largest number: the next commit's number would overflow.
        let (_, _, entry) = storage.dump().into_iter().find(|(s, _, _)| *s == Store::Journal).unwrap();
        let mut batch = auroradb::storage::WriteBatch::default();
        batch.put(Store::Journal, u64::MAX.to_be_bytes().to_vec(), entry);
        storage.commit(batch).await.unwrap();
        drop(db);
        let Err(err) = Database::open(storage.clone(), config("huge-commit")).await else { panic!("opened") };
        assert_eq!(err.name(), "CorruptDataError", "{err}");
    });
}
