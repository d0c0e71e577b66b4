//! A freeze (a proven equivocation) committed by one connection reaches the other connections
//! of the same storage (other tabs) at their next catch-up: they drop the frozen author's ops from
//! their log and state as if they had reopened, report the changes of the records they held, and
//! write on from there with `verify()` passing.

use auroradb::{Config, Database, MemoryStorage, OpId, Value};
use auroradb_log::{EncodedOp, Equivocation, Identity, Proof, advance_manual_clock, manual_clock, set_manual_clock};
use futures::executor::block_on;

fn config(name: &str, identity: &Identity, cache: Option<usize>) -> Config {
    let mut c = Config::new(name, manual_clock);
    c.identity = Some(identity.clone());
    c.state_cache = cache;
    c
}

fn tick() {
    advance_manual_clock(5);
}

/// The op `id` of `db`, encoded, with `db`'s proof of it (signed now for an author slot's op,
/// with the log's index).
async fn signed(db: &mut Database<MemoryStorage>, id: OpId) -> (EncodedOp, Proof) {
    db.load_log().await.unwrap();
    let op = db.load_encoded(&[id]).await.unwrap().remove(0);
    let proof = db.log().proof_of(&id).unwrap();
    (op, proof)
}

/// Mallory's three ops (`m1`, `m2`, then `a3` on one branch), and the proof that she also wrote
/// `b3` at seq 3 on another.
async fn mallory_forks() -> (Vec<EncodedOp>, Vec<(OpId, Proof)>, Equivocation) {
    let mallory = Identity::from_secret(&[0x99; 32]);
    let storage = MemoryStorage::new();
    let mut m = Database::open(storage.clone(), config("m", &mallory, None)).await.unwrap();
    tick();
    m.put("m1", Value::Int(1)).await.unwrap();
    tick();
    m.put("m2", Value::Int(2)).await.unwrap();
    let mut twin = Database::open(storage.deep_clone(), config("m", &mallory, None)).await.unwrap();
    tick();
    let a3 = m.put("a3", Value::Int(3)).await.unwrap().ops[0];
    tick();
    m.put("m2", Value::Int(22)).await.unwrap();
    tick();
    let b3 = twin.put("b3", Value::Int(3)).await.unwrap().ops[0];
    let ids: Vec<OpId> = m.log().ids(..).map(|(id, _)| *id).collect();
    let ops = m.load_encoded(&ids).await.unwrap();
    let proofs = m.proofs_for(&ops);
    let (op_a, proof_a) = signed(&mut m, a3).await;
    let (op_b, proof_b) = signed(&mut twin, b3).await;
    let eq = Equivocation::new((std::slice::from_ref(&op_a), proof_a), (std::slice::from_ref(&op_b), proof_b)).unwrap();
    (ops, proofs, eq)
}

/// One run: `a` takes Mallory's ops and writes, `b` (another connection of the same storage,
/// holding every record or a few on demand, its log's index loaded or not) catches up, `a`
/// freezes Mallory, and `b` learns of it at its next catch-up.
fn run(b_cache: Option<usize>, b_indexed: bool) {
    block_on(async {
        set_manual_clock(1_700_000_000_000);
        let (ops, proofs, eq) = mallory_forks().await;
        let alice = Identity::from_secret(&[0xa1; 32]);
        let bob = Identity::from_secret(&[0xb0; 32]);
        let storage = MemoryStorage::new();
        let mut a = Database::open(storage.clone(), config("a", &alice, None)).await.unwrap();
        a.apply_remote(ops, &proofs).await.unwrap();
        let mut b = Database::open(storage.clone(), config("a", &bob, b_cache)).await.unwrap();
        tick();
        a.put("alice", Value::Int(7)).await.unwrap();
        tick();
        b.put("bob", Value::Int(8)).await.unwrap();
        if b_indexed {
            b.load_log().await.unwrap();
        }
        b.load_keys(&["a3", "m2", "alice"]).await.unwrap();
        assert_eq!((b.get("a3"), b.get("m2")), (Some(&Value::Int(3)), Some(&Value::Int(22))));
        assert_eq!(b.op_count(), 6);

        let out = a.freeze(eq.clone()).await.unwrap().unwrap();
        assert_eq!(out.changes.len(), 2, "{:?}", out.changes);

        // `b` learns of it at its next catch-up, with the changes of the records it held.
        let mut changes = b.catch_up().await.unwrap();
        changes.sort_by(|x, y| x.key.cmp(&y.key));
        let seen: Vec<(&str, Option<&Value>, Option<&Value>)> =
            changes.iter().map(|c| (c.key.as_str(), c.before.as_ref(), c.after.as_ref())).collect();
        assert_eq!(
            seen,
            vec![("a3", Some(&Value::Int(3)), None), ("m2", Some(&Value::Int(22)), Some(&Value::Int(2)))],
            "cache {b_cache:?}, indexed {b_indexed}"
        );
        assert_eq!(b.stats().restarts, 1);
        assert_eq!(b.log().is_indexed(), b_indexed);
        assert_eq!(b.op_count(), 4, "Mallory's ops from seq 3 on are gone");
        assert!(b.log().equivocation(&eq.fork().author).is_some());
        b.load_keys(&["a3", "m2", "alice", "bob"]).await.unwrap();
        assert_eq!(b.get("a3"), None);
        assert_eq!(b.get("m2"), Some(&Value::Int(2)));
        assert_eq!((b.get("alice"), b.get("bob")), (Some(&Value::Int(7)), Some(&Value::Int(8))));
        assert_eq!(b.count(), 4);

        // Both write on: each links its op to its own chain, and the log checks out everywhere.
        tick();
        b.put("m2", Value::Int(9)).await.unwrap();
        tick();
        a.put("after", Value::Int(1)).await.unwrap();
        b.verify().await.unwrap();
        a.verify().await.unwrap();
        let mut c = Database::open(storage, config("a", &Identity::from_secret(&[0xc0; 32]), None)).await.unwrap();
        c.verify().await.unwrap();
        let all = c.all();
        assert_eq!(
            all.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["after", "alice", "bob", "m1", "m2"],
            "cache {b_cache:?}, indexed {b_indexed}"
        );
        assert_eq!(c.get("m2"), Some(&Value::Int(9)));
    });
}

#[test]
fn another_connection_holding_every_record_learns_of_a_freeze() {
    run(None, false);
    run(None, true);
}

#[test]
fn another_connection_reading_on_demand_learns_of_a_freeze() {
    run(Some(2), false);
    run(Some(2), true);
}

/// A connection opened without an identity writes as an author slot's. When a copy of the storage
/// wrote as that author too, the fork freezes it: its writes are refused from then on, and the
/// next open passes the retired slot by and writes as the next one's author.
#[test]
fn a_frozen_slot_author_is_retired_at_the_next_open() {
    block_on(async {
        set_manual_clock(1_700_000_000_000);
        let slots = || Config::new("slots", manual_clock);
        let storage = MemoryStorage::new();
        let mut db = Database::open(storage.clone(), slots()).await.unwrap();
        tick();
        db.put("kept", Value::Int(1)).await.unwrap();
        let frozen = db.peer();
        let mut copy = Database::open(storage.deep_clone(), slots()).await.unwrap();
        assert_eq!(copy.peer(), frozen, "the copy holds the same slot identity");
        tick();
        let ours = db.put("ours", Value::Int(2)).await.unwrap().ops[0];
        tick();
        let theirs = copy.put("theirs", Value::Int(3)).await.unwrap().ops[0];
        let (op_a, proof_a) = signed(&mut db, ours).await;
        let (op_b, proof_b) = signed(&mut copy, theirs).await;
        let eq =
            Equivocation::new((std::slice::from_ref(&op_a), proof_a), (std::slice::from_ref(&op_b), proof_b)).unwrap();
        db.freeze(eq).await.unwrap().unwrap();
        tick();
        let refused = db.put("more", Value::Int(4)).await.unwrap_err();
        assert!(matches!(refused, auroradb::DbError::Log(auroradb_log::LogError::Fork { seq: 2, .. })), "{refused:?}");
        drop(db);

        let mut again = Database::open(storage.clone(), slots()).await.unwrap();
        assert_ne!(again.peer(), frozen);
        tick();
        again.put("more", Value::Int(4)).await.unwrap();
        assert_eq!(
            (again.get("kept"), again.get("ours"), again.get("more")),
            (Some(&Value::Int(1)), None, Some(&Value::Int(4)))
        );
        again.verify().await.unwrap();
        drop(again);
        // And on every later open.
        let reopened = Database::open(storage, slots()).await.unwrap();
        assert_ne!(reopened.peer(), frozen);
    });
}
