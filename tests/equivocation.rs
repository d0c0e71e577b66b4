//! A proven equivocation in the database: the author's ops from the fork on leave the stored
//! log, the history and the state in one commit, the proof is stored, and none of those ops
//! comes in again, also after reopening.

use auroradb::{Config, Database, DbError, MemoryStorage, OpId, Value};
use auroradb_log::{EncodedOp, Equivocation, Identity, LogError, advance_manual_clock, manual_clock, set_manual_clock};
use futures::executor::block_on;

fn config(name: &str, identity: &Identity) -> Config {
    let mut c = Config::new(name, manual_clock);
    c.identity = Some(identity.clone());
    c
}

/// The op `id` of `db`, encoded, with `db`'s proof of it.
async fn signed(db: &mut Database<MemoryStorage>, id: OpId) -> (EncodedOp, auroradb_log::Proof) {
    let op = db.load_encoded(&[id]).await.unwrap().remove(0);
    let proof = db.log().proof_of(&id).unwrap();
    (op, proof)
}

#[test]
fn a_proven_fork_removes_the_authors_ops_from_there_and_keeps_them_out() {
    block_on(async {
        set_manual_clock(1_700_000_000_000);
        let mallory = Identity::from_secret(&[0x99; 32]);
        let alice = Identity::from_secret(&[0xa1; 32]);
        // Mallory writes twice, then two instances of her identity each write an op at seq 3.
        let storage = MemoryStorage::new();
        let mut m = Database::open(storage.clone(), config("m", &mallory)).await.unwrap();
        m.put("m1", Value::Int(1)).await.unwrap();
        advance_manual_clock(5);
        m.put("m2", Value::Int(2)).await.unwrap();
        let mut twin = Database::open(storage.deep_clone(), config("m", &mallory)).await.unwrap();
        advance_manual_clock(5);
        let a3 = m.put("a3", Value::Int(3)).await.unwrap().ops[0];
        advance_manual_clock(5);
        let b3 = twin.put("b3", Value::Int(3)).await.unwrap().ops[0];

        // Alice took branch A, and writes too.
        let astore = MemoryStorage::new();
        let mut a = Database::open(astore.clone(), config("a", &alice)).await.unwrap();
        let ids: Vec<OpId> = m.log().ids(..).map(|(id, _)| *id).collect();
        let ops = m.load_encoded(&ids).await.unwrap();
        let proofs = m.proofs_for(&ops);
        a.apply_remote(ops, &proofs).await.unwrap();
        advance_manual_clock(5);
        a.put("alice", Value::Int(7)).await.unwrap();
        assert_eq!(a.get("a3"), Some(&Value::Int(3)));

        let (op_a, proof_a) = signed(&mut m, a3).await;
        let (op_b, proof_b) = signed(&mut twin, b3).await;
        let eq =
            Equivocation::new((std::slice::from_ref(&op_a), proof_a), (std::slice::from_ref(&op_b), proof_b)).unwrap();
        let out = a.freeze(eq.clone()).await.unwrap().unwrap();
        assert_eq!(out.changes.len(), 1);
        assert_eq!((out.changes[0].key.as_str(), out.changes[0].after.as_ref()), ("a3", None));
        assert_eq!(a.get("a3"), None);
        assert_eq!(a.get("m2"), Some(&Value::Int(2)));
        assert_eq!(a.get("alice"), Some(&Value::Int(7)));
        assert_eq!(a.log().heads()[&mallory.peer()].seq, 2);
        assert_eq!(a.log().len(), 3);
        assert!(a.history("a3").await.unwrap().is_empty());
        a.verify().await.unwrap();
        assert!(a.freeze(eq.clone()).await.unwrap().is_none(), "the same proof again changes nothing");

        // Reopened, the database still holds the proof and takes neither branch's op.
        drop(a);
        let mut a = Database::open(astore, config("a", &alice)).await.unwrap();
        assert_eq!(a.log().equivocation(&mallory.peer()), Some(&eq));
        let back = (op_a.clone(), proof_a);
        for (op, proof) in [(op_a, proof_a), (op_b, proof_b)] {
            let id = op.op.id;
            assert!(a.apply_remote(vec![op], &[(id, proof)]).await.unwrap().ops.is_empty());
        }
        assert_eq!((a.get("a3"), a.get("b3"), a.log().len()), (None, None, 3));
        a.verify().await.unwrap();

        // The author itself, once frozen, writes no more, and takes its removed op back from a
        // peer that does not know yet without calling it a forgery.
        assert!(m.freeze(eq).await.unwrap().is_some());
        assert_eq!(m.get("a3"), None);
        let (id, op) = (back.0.op.id, back.0);
        assert!(m.apply_remote(vec![op], &[(id, back.1)]).await.unwrap().ops.is_empty());
        let err = m.put("again", Value::Int(1)).await.unwrap_err();
        assert!(matches!(err, DbError::Log(LogError::Fork { seq: 3, .. })), "{err:?}");
        m.verify().await.unwrap();
    });
}
