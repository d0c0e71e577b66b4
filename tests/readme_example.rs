//! The Rust example of the README, compiled and run (keep the two in step).
use auroradb::{Config, Database, IndexSpec, MemoryStorage, Strategy, Value};

async fn example() -> auroradb::Result<()> {
    let mut config = Config::new("shop", auroradb::log::system_clock);
    config.key_path = Some("id".into());
    config.indexes = vec![IndexSpec::new("email", true), IndexSpec::new("role", false)];
    config.strategy = Strategy::Merge; // or Timestamp (default), Version, LocalWins, RemoteWins, Custom
    config.checkpoint_every = 1000; // a checkpoint every 1000 ops (0: only on demand)
    let mut db = Database::open(MemoryStorage::new(), config).await?;

    // Every write is one op in the log, committed with the state in one atomic batch.
    db.add(Value::map([("id", "u1".into()), ("email", "alice@example.org".into()), ("role", "dev".into())])).await?;
    db.put("u2", Value::map([("email", "bob@example.org".into()), ("role", "ops".into())])).await?;
    db.transaction(|tx| -> auroradb::Result<()> {
        let mut bob = tx.get("u2").unwrap_or_default();
        if let Value::Map(fields) = &mut bob {
            fields.insert("role".into(), "dev".into());
        }
        tx.put("u2", bob)?;
        tx.remove("u3")
    })
    .await?; // an error inside aborts: nothing is written
    db.batch_set(vec![("u4".to_string(), Value::Int(4)), ("u5".into(), Value::Int(5))]).await?;

    // Reads come from the materialized state.
    let devs = db.filter(|_, v| v.field("role") == Some(&Value::from("dev")));
    let bob = db.find_by("email", &Value::from("bob@example.org"))?;
    let page = db.slice(0, 10);

    // Time travel: the past stays queryable.
    let first = db.log().ids(..).next().map(|(id, _)| *id).unwrap();
    let then = db.state_at(first).await?; // nearest checkpoint <= t, then replay
    let history = db.history("u2").await?; // every op on the key, with its outcome
    let last = db.log().last_id().unwrap();
    let changes = db.diff(first, last).await?;
    db.replay(first, last, |op, state| println!("{} -> {} keys", op.id, state.len())).await?;

    // Integrity and bug reports.
    let report = db.verify().await?; // every hash, every chain, checkpoints, state vs log
    let file = db.export_log().await?; // self-describing, hashed: attach it to a bug report
    let mut elsewhere =
        Database::open(MemoryStorage::new(), Config::new("replay", auroradb::log::system_clock)).await?;
    elsewhere.import_log(&file).await?; // a corrupt file is an error and changes nothing

    let _ = (devs, bob, page, then, history, changes, report);
    Ok(())
}

#[test]
fn readme_example_runs() {
    futures::executor::block_on(example()).unwrap();
}
