//! Databases syncing through the sync engine over the in-memory transport: reconcile on connect,
//! local writes pushed at once (each applied batch's outcome in its `post` event), partitions and
//! message faults healed by anti-entropy, a bad segment from a peer rejected whole, a storage
//! failure during a remote apply leaving nothing half-applied and reported with its type, and
//! every replica's storage reopening to the same state.

use std::rc::Rc;

use auroradb::storage::Fault;
use auroradb::{
    Config, Database, DbError, DbReplica, FaultyStorage, MemoryStorage, OpKind, PeerId, Step, StorageError, Strategy,
    Value,
};
use auroradb_log::segment::encode_proven_segment;
use auroradb_log::{advance_manual_clock, manual_clock, set_manual_clock};
use auroradb_net::frame::encode_frame;
use auroradb_net::transport::memory::{Faults, MemoryNetwork, MemoryTransport};
use auroradb_net::{Body, EngineEvent, Message, Ops, SyncConfig, SyncEngine, SyncError, SyncEvent};
use futures::executor::block_on;

type Backend = FaultyStorage<MemoryStorage>;

struct Replica {
    id: PeerId,
    storage: Backend,
    engine: SyncEngine<DbReplica<Backend>, MemoryTransport>,
    events: Vec<EngineEvent<DbReplica<Backend>>>,
}

impl Replica {
    fn write(&mut self, kind: OpKind) {
        advance_manual_clock(3);
        let out = block_on(async {
            let mut guard = self.engine.replica().database().lock().await;
            guard.as_mut().unwrap().commit_local(kind).await.unwrap()
        });
        self.engine.post(&out.encoded);
    }

    fn with_db<T>(&self, f: impl FnOnce(&Database<Backend>) -> T) -> T {
        block_on(async { f(self.engine.replica().database().lock().await.as_ref().unwrap()) })
    }
}

fn cluster(n: u8, strategy: Strategy, seed: u64, sync: SyncConfig) -> (MemoryNetwork, Vec<Replica>) {
    set_manual_clock(1_700_000_000_000);
    let net = MemoryNetwork::new(seed);
    let replicas = (1..=n)
        .map(|i| {
            let id = PeerId([i; 16]);
            let storage = FaultyStorage::new(MemoryStorage::new());
            let mut config = Config::new(format!("r{i}"), manual_clock);
            config.strategy = strategy.clone();
            config.checkpoint_every = 16;
            let db = block_on(Database::open(storage.clone(), config)).unwrap();
            let log = db.log_handle();
            let replica = DbReplica::new(Rc::new(auroradb::Turns::new(Some(db))), log, id);
            Replica { id, storage, engine: SyncEngine::new(replica, net.endpoint(id), sync), events: Vec::new() }
        })
        .collect();
    (net, replicas)
}

fn settle(net: &MemoryNetwork, rs: &mut [Replica]) {
    for _ in 0..200_000 {
        let mut moved = 0;
        for r in rs.iter_mut() {
            moved += block_on(r.engine.pump());
            r.events.extend(r.engine.drain_events());
        }
        if net.step().is_some() {
            moved += 1;
        }
        if moved == 0 {
            return;
        }
    }
    panic!("the network did not settle");
}

fn assert_converged(rs: &[Replica], strategy: &Strategy) {
    let fp = rs[0].with_db(|db| db.log().fingerprint(..));
    let all = rs[0].with_db(|db| db.all());
    for r in rs {
        assert_eq!(r.with_db(|db| db.log().fingerprint(..)), fp, "log of {:?}", r.id);
        assert_eq!(r.with_db(|db| db.all()), all, "state of {:?}", r.id);
        block_on(async {
            let mut g = r.engine.replica().database().lock().await;
            g.as_mut().unwrap().verify().await.unwrap();
        });
        // What each replica persisted reopens to the same state, without replaying the log.
        let mut config = Config::new("x", manual_clock);
        config.strategy = strategy.clone();
        let reopened = block_on(Database::open(r.storage.inner().clone(), config));
        let reopened = match reopened {
            Ok(db) => db,
            Err(e) => panic!("reopen of {:?}: {e}", r.id),
        };
        assert_eq!(reopened.all(), all);
        assert_eq!(reopened.stats().ops_decoded, 0);
    }
}

fn mixed_writes(r: &mut Replica, n: usize, tag: u8) {
    for i in 0..n {
        let key = format!("k{}", (i * 7 + tag as usize) % 11);
        let kind = match i % 9 {
            4 => OpKind::Remove { key },
            7 => OpKind::Txn(vec![
                Step::Put { key, value: Value::Int(i as i64) },
                Step::Put { key: format!("t{tag}"), value: Value::from("txn") },
            ]),
            _ => OpKind::Put {
                key,
                value: Value::map([
                    ("by", Value::Int(tag as i64)),
                    ("n", Value::Int(i as i64)),
                    ("version", Value::Int((i % 4) as i64)),
                ]),
            },
        };
        r.write(kind);
    }
}

#[test]
fn replicas_reconcile_on_connect_and_push_local_writes() {
    for strategy in [Strategy::Timestamp, Strategy::Version, Strategy::Merge] {
        let (net, mut rs) = cluster(3, strategy.clone(), 1, SyncConfig::default());
        for (i, r) in rs.iter_mut().enumerate() {
            mixed_writes(r, 40, i as u8);
        }
        rs[1].write(OpKind::Clear);
        mixed_writes(&mut rs[2], 5, 9);
        let ids: Vec<PeerId> = rs.iter().map(|r| r.id).collect();
        for a in 0..ids.len() {
            for b in a + 1..ids.len() {
                net.connect(ids[a], ids[b]);
            }
        }
        settle(&net, &mut rs);
        assert_converged(&rs, &strategy);
        // Connected: a local write reaches the others at once, as a push.
        rs[0].write(OpKind::Put { key: "live".into(), value: Value::from(strategy.name()) });
        settle(&net, &mut rs);
        for r in &rs[1..] {
            assert_eq!(r.with_db(|db| db.get("live").cloned()), Some(Value::from(strategy.name())));
            // The commit's outcome comes with the event that reports it: one op, the key it set.
            let post = r.events.iter().rev().find_map(|e| match e {
                SyncEvent::Post { peer, ops, applied } if *peer == ids[0] => Some((*ops, applied)),
                _ => None,
            });
            let (ops, applied) = post.expect("a post from the writer");
            assert_eq!((ops, applied.ops.len()), (1, 1));
            assert!(applied.changes.iter().any(|c| c.key == "live"), "{:?}", applied.changes);
        }
        assert_converged(&rs, &strategy);
    }
}

#[test]
fn partitions_and_faults_heal_by_anti_entropy() {
    for seed in 0..6u64 {
        let sync = SyncConfig { sync_interval_ms: 1_000, ..SyncConfig::default() };
        let (net, mut rs) = cluster(4, Strategy::Timestamp, seed, sync);
        let ids: Vec<PeerId> = rs.iter().map(|r| r.id).collect();
        for a in 0..ids.len() {
            for b in a + 1..ids.len() {
                net.connect(ids[a], ids[b]);
            }
        }
        settle(&net, &mut rs);
        net.partition(&[vec![ids[0], ids[1]], vec![ids[2], ids[3]]]);
        net.set_faults(Faults { drop: 0.2, duplicate: 0.1, reorder: 0.3, max_delay: 5 });
        for (i, r) in rs.iter_mut().enumerate() {
            mixed_writes(r, 25, i as u8 + seed as u8);
            settle(&net, std::slice::from_mut(r));
        }
        settle(&net, &mut rs);
        net.heal();
        net.set_faults(Faults::NONE);
        // Anti-entropy: each replica ticks past its sync interval.
        for round in 1..=4u64 {
            for r in &rs {
                r.engine.tick(round * 2_000);
            }
            settle(&net, &mut rs);
        }
        assert_converged(&rs, &Strategy::Timestamp);
        assert_eq!(rs[0].with_db(|db| db.log().len()), 100);
    }
}

#[test]
fn a_tampered_segment_is_rejected_whole() {
    let (net, mut rs) = cluster(2, Strategy::Timestamp, 3, SyncConfig::default());
    let (a, b) = (rs[0].id, rs[1].id);
    let mallory = PeerId([0x99; 16]);
    net.connect(a, b);
    net.connect(mallory, b);
    mixed_writes(&mut rs[0], 10, 0);
    settle(&net, &mut rs);
    let before = (rs[1].with_db(|db| db.log().fingerprint(..)), rs[1].with_db(|db| db.all()));
    // A valid new op of `a`'s, with `a`'s proof, relayed by mallory with one byte changed: the
    // receiver rebuilds another op, which the proof does not prove.
    let op = rs[0].with_db(|db| db.log().prepare_local(OpKind::Put { key: "evil".into(), value: Value::Int(1) }));
    let proof = rs[0].with_db(|db| db.log().identity().expect("a signing identity").prove(&op.hash));
    let mut bytes = op.bytes.clone();
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    let seg = encode_proven_segment([(op.op.id, bytes.as_slice(), &op.hash)], &[(op.op.id, proof)]).unwrap();
    let frame = encode_frame(
        1_000_000,
        &Message { session: 0, initiator: true, body: Body::Ops(Ops { segments: vec![seg], last: None }) },
        usize::MAX,
    )
    .unwrap();
    net.inject(mallory, b, frame);
    settle(&net, &mut rs);
    assert_eq!((rs[1].with_db(|db| db.log().fingerprint(..)), rs[1].with_db(|db| db.all())), before);
    assert!(
        rs[1].events.iter().any(|e| matches!(e, SyncEvent::Error(err) if err.peer() == Some(mallory))),
        "{:?}",
        rs[1].events
    );
    // Honest sync goes on.
    rs[0].write(OpKind::Put { key: "after".into(), value: Value::Int(2) });
    settle(&net, &mut rs);
    assert_eq!(rs[1].with_db(|db| db.get("after").cloned()), Some(Value::Int(2)));
}

#[test]
fn a_failed_remote_commit_applies_nothing_and_sync_retries() {
    let sync = SyncConfig { sync_interval_ms: 1_000, ..SyncConfig::default() };
    let (net, mut rs) = cluster(2, Strategy::Timestamp, 4, sync);
    let (a, b) = (rs[0].id, rs[1].id);
    mixed_writes(&mut rs[0], 30, 0);
    let before = rs[1].storage.inner().dump();
    rs[1].storage.fail_commit(0, Fault::Fail(auroradb::StorageError::QuotaExceeded("test".into())));
    net.connect(a, b);
    settle(&net, &mut rs);
    assert_eq!(rs[1].storage.failures(), 1);
    // The failed commit wrote nothing: memory and storage still agree (segments that arrived
    // after it may have landed, in both).
    let mut reopened =
        block_on(Database::open(rs[1].storage.inner().deep_clone(), Config::new("x", manual_clock))).unwrap();
    block_on(reopened.load_log()).unwrap();
    assert_eq!(reopened.all(), rs[1].with_db(|db| db.all()));
    assert_eq!(reopened.log().fingerprint(..), rs[1].with_db(|db| db.log().fingerprint(..)));
    assert!(rs[1].with_db(|db| db.log().len()) < 30 || rs[1].storage.inner().dump() != before);
    for round in 1..=3u64 {
        rs[0].engine.tick(round * 2_000);
        rs[1].engine.tick(round * 2_000);
        settle(&net, &mut rs);
    }
    assert_converged(&rs, &Strategy::Timestamp);
}

#[test]
fn a_full_quota_during_a_remote_apply_is_reported_with_its_type() {
    let (net, mut rs) = cluster(2, Strategy::Timestamp, 5, SyncConfig::default());
    let (a, b) = (rs[0].id, rs[1].id);
    mixed_writes(&mut rs[0], 10, 0);
    rs[1].storage.fail_commit(0, Fault::Fail(StorageError::QuotaExceeded("no room".into())));
    net.connect(a, b);
    settle(&net, &mut rs);
    assert_eq!(rs[1].storage.failures(), 1);
    let errors: Vec<_> = rs[1]
        .events
        .iter()
        .filter_map(|e| match e {
            SyncEvent::Error(e) => Some(e),
            _ => None,
        })
        .collect();
    // The database's own error, not a string: a binding names it `QuotaExceededError`.
    let [SyncError::Replica(e)] = errors.as_slice() else { panic!("{errors:?}") };
    assert!(matches!(e, DbError::Storage(StorageError::QuotaExceeded(m)) if m == "no room"), "{e:?}");
    assert_eq!(e.name(), "QuotaExceededError");
    assert_eq!(errors[0].peer(), None, "no peer is to blame");
    // The sender is not blamed either, and the next round brings what failed.
    assert!(!rs[0].events.iter().any(|e| matches!(e, SyncEvent::Error(_))), "{:?}", rs[0].events);
    for round in 1..=3u64 {
        rs[0].engine.tick(round * 40_000);
        rs[1].engine.tick(round * 40_000);
        settle(&net, &mut rs);
    }
    assert_converged(&rs, &Strategy::Timestamp);
}

#[test]
fn any_write_accepted_is_synced_a_10k_record_batch_and_a_1_mb_value() {
    let (net, mut rs) = cluster(2, Strategy::Timestamp, 7, SyncConfig::default());
    net.connect(rs[0].id, rs[1].id);
    settle(&net, &mut rs);
    // One op of about 380 KB (10,000 records in one transaction), then one of 1 MB, each more
    // than a 256 KB frame, then a small write of the same author: all reach the peer.
    let batch = (0..10_000)
        .map(|i| Step::Put {
            key: format!("item-{i:05}"),
            value: Value::map([("n", Value::Int(i)), ("name", Value::from("a record of a batch"))]),
        })
        .collect();
    rs[0].write(OpKind::Txn(batch));
    rs[0].write(OpKind::Put { key: "blob".into(), value: Value::String("z".repeat(1 << 20)) });
    rs[0].write(OpKind::Put { key: "after".into(), value: Value::Int(1) });
    settle(&net, &mut rs);
    assert_eq!(rs[1].with_db(|db| db.get("after").cloned()), Some(Value::Int(1)));
    assert_eq!(rs[1].with_db(|db| db.all().len()), 10_002);
    assert!(rs[1].events.iter().all(|e| !matches!(e, SyncEvent::Error(_))));
    assert_converged(&rs, &Strategy::Timestamp);
    // The same through a session, for a peer that was away.
    let (net, mut late) = cluster(2, Strategy::Timestamp, 8, SyncConfig::default());
    late[0].write(OpKind::Put { key: "blob".into(), value: Value::String("w".repeat(600_000)) });
    late[0].write(OpKind::Put { key: "after".into(), value: Value::Int(2) });
    net.connect(late[0].id, late[1].id);
    settle(&net, &mut late);
    assert_converged(&late, &Strategy::Timestamp);
    assert_eq!(late[1].with_db(|db| db.get("after").cloned()), Some(Value::Int(2)));
}
