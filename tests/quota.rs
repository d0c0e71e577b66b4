//! The database near its storage quota, over `FaultyStorage::set_quota` (a commit whose puts
//! take more than what is left fails with `QuotaExceeded` and writes nothing, as IndexedDB does):
//! a checkpoint that does not fit waits while the write commits without it; a write that does not
//! fit fails, typed, and changes nothing; removes and a clear still work; once space is freed,
//! writes work again and the checkpoint that waited is written.

use auroradb::{Config, Database, FaultyStorage, MemoryStorage, Value};
use auroradb_log::{advance_manual_clock, manual_clock, set_manual_clock};
use futures::executor::block_on;

fn config() -> Config {
    set_manual_clock(1_700_000_000_000);
    let mut c = Config::new("quota", manual_clock);
    c.checkpoint_every = 10;
    c
}

fn tick() {
    advance_manual_clock(5);
}

/// A record of about 4 KB.
fn big(i: i64) -> Value {
    Value::map([("n", Value::Int(i)), ("pad", Value::from("x".repeat(4000)))])
}

#[test]
fn near_the_quota_checkpoints_wait_and_a_write_that_does_not_fit_changes_nothing() {
    block_on(async {
        let storage = FaultyStorage::new(MemoryStorage::new());
        let mut db = Database::open(storage.clone(), config()).await.unwrap();
        for i in 0..8 {
            tick();
            db.put(format!("k{i}"), big(i)).await.unwrap();
        }
        // What one put of a new record takes.
        storage.set_quota(Some(1 << 30));
        tick();
        db.put("k8", big(8)).await.unwrap();
        let one_put = (1 << 30) - storage.quota_left().unwrap();
        assert_eq!(db.stats().checkpoints_written, 0);

        // The 10th op is due for a checkpoint of 10 records, which does not fit: the put commits
        // without it.
        storage.set_quota(Some(one_put * 3 / 2));
        tick();
        db.put("k9", big(9)).await.expect("the put commits without the checkpoint that does not fit");
        assert_eq!(storage.failures(), 1, "the commit with the checkpoint was tried and refused");
        assert_eq!(db.stats().checkpoints_written, 0);
        assert_eq!(db.checkpoint_ids().count(), 0);
        assert_eq!(db.count(), 10);

        // The next put does not fit: a typed error, and nothing changed, in memory or stored.
        let dump = storage.inner().dump();
        let (fp, all, len) = (db.log().fingerprint(..), db.all(), db.log().len());
        tick();
        let err = db.put("k10", big(10)).await.unwrap_err();
        assert_eq!(err.name(), "QuotaExceededError");
        assert_eq!(storage.failures(), 2, "the checkpoint waits: only the put itself was tried");
        assert_eq!(storage.inner().dump(), dump, "storage changed");
        assert_eq!((db.log().fingerprint(..), db.all(), db.log().len()), (fp, all, len));
        // So does an explicit checkpoint.
        let err = db.checkpoint().await.unwrap_err();
        assert_eq!(err.name(), "QuotaExceededError");
        assert_eq!(storage.inner().dump(), dump, "storage changed");
        assert_eq!(db.checkpoint_ids().count(), 0);

        // Removes and a clear take a few hundred bytes, whatever the records' size: they fit.
        tick();
        assert_eq!(db.remove("k0").await.unwrap().changes.len(), 1);
        tick();
        db.remove("k1").await.unwrap();
        tick();
        assert_eq!(db.clear().await.unwrap().changes.len(), 8);
        assert_eq!(db.count(), 0);
        assert_eq!(db.stats().checkpoints_written, 0);
        db.verify().await.unwrap();
        let reopened = Database::open(storage.inner().clone(), config()).await.unwrap();
        assert_eq!((reopened.op_count(), reopened.count()), (db.log().len() as u64, 0));

        // Space freed: writes work again, and the checkpoint that waited is written within an
        // interval of ops.
        storage.set_quota(Some(1 << 30));
        for i in 0..20 {
            tick();
            db.put(format!("again{i}"), big(i)).await.unwrap();
        }
        assert_eq!(db.stats().checkpoints_written, 1);
        assert_eq!(db.count(), 20);
        let report = db.verify().await.unwrap();
        assert_eq!(report.checkpoints, 1);
        let mut reopened = Database::open(storage.inner().clone(), config()).await.unwrap();
        assert_eq!(reopened.all(), db.all());
        reopened.verify().await.unwrap();
    });
}

/// The room kept for removes: near the quota, the writes that store values are refused while
/// what is left is under the reserve, and removes, a clear and a transaction that only removes
/// still commit in it; so do they after records were added one at a time until one was refused.
#[test]
fn the_room_kept_for_removes_takes_writes_that_store_values_only() {
    block_on(async {
        let storage = FaultyStorage::new(MemoryStorage::new());
        let mut db = Database::open(storage.clone(), config()).await.unwrap();
        storage.set_quota(Some(1 << 30));
        tick();
        db.put("k0", big(0)).await.unwrap();
        let one_put = (1 << 30) - storage.quota_left().unwrap();
        // Room for a few puts above a reserve of two puts.
        storage.set_quota(Some(one_put * 5));
        storage.set_reserve(one_put * 2);
        let mut added = 1;
        let refused = loop {
            tick();
            match db.put(format!("k{added}"), big(added)).await {
                Ok(_) => added += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(refused.name(), "QuotaExceededError");
        assert_eq!(added, 4, "three puts fit above the reserve");
        assert_eq!(db.count(), added as usize);
        let dump = storage.inner().dump();
        // Neither a transaction that puts nor a checkpoint takes the reserve.
        tick();
        let err = db.transaction(|tx| tx.put("t", big(99))).await.map(|_| ()).unwrap_err();
        assert_eq!(err.name(), "QuotaExceededError");
        let err = db.checkpoint().await.unwrap_err();
        assert_eq!(err.name(), "QuotaExceededError");
        assert_eq!(storage.inner().dump(), dump, "the refused writes stored nothing");
        // What only removes does.
        tick();
        db.remove("k0").await.unwrap();
        tick();
        db.transaction(|tx| tx.remove("k1")).await.unwrap();
        tick();
        assert_eq!(db.clear().await.unwrap().changes.len(), 2);
        assert_eq!(db.count(), 0);
        db.verify().await.unwrap();
        // Without a reserve, the room is the puts' again.
        storage.set_reserve(0);
        tick();
        db.put("after", big(1)).await.unwrap();
        assert_eq!(db.count(), 1);
    });
}
