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

/// The meta keys of the kept proofs in `storage`, as (author, seq).
fn kept_proof_keys(storage: &MemoryStorage) -> Vec<(auroradb::PeerId, u64)> {
    let mut keys: Vec<_> = storage
        .dump()
        .into_iter()
        .filter(|(s, k, _)| *s == auroradb::Store::Meta && k.starts_with(b"proof/"))
        .map(|(_, k, _)| {
            let peer = auroradb::PeerId(k[6..22].try_into().unwrap());
            (peer, u64::from_be_bytes(k[22..30].try_into().unwrap()))
        })
        .collect();
    keys.sort();
    keys
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// An equivocation proof against `at`: another op of its author at its seq after the same op (a
/// clear), both signed by `author`.
fn fork_at(author: &Identity, at: &EncodedOp) -> Equivocation {
    let other = {
        let mut op = at.op.clone();
        op.kind = auroradb::OpKind::Clear;
        EncodedOp::new(op)
    };
    Equivocation::new(
        (std::slice::from_ref(at), author.prove(&at.hash)),
        (std::slice::from_ref(&other), author.prove(&other.hash)),
    )
    .unwrap()
}

/// Deletes the records of `storage` for which `pred` holds, behind the database's back; returns
/// how many.
async fn delete_where(storage: &MemoryStorage, pred: impl Fn(auroradb::Store, &[u8]) -> bool) -> usize {
    let mut batch = auroradb::storage::WriteBatch::default();
    for (store, key, _) in storage.dump() {
        if pred(store, &key) {
            batch.delete(store, key);
        }
    }
    let n = batch.len();
    auroradb::Storage::commit(storage, batch).await.unwrap();
    n
}

/// `n` writes of `db`, one millisecond apart.
async fn writes(db: &mut Database<MemoryStorage>, prefix: &str, n: u64) -> Vec<EncodedOp> {
    let mut out = Vec::new();
    for i in 0..n {
        advance_manual_clock(1);
        out.extend(db.put(format!("{prefix}{i}"), Value::Int(i as i64)).await.unwrap().encoded);
    }
    out
}

/// The proof of each op at a multiple of the proof interval is stored with the op (the author's
/// own, and those received), survives a reopen, is dropped with its op by a freeze, and travels
/// in log files, which must carry it.
#[test]
fn the_proofs_of_every_interval_op_are_kept_and_survive_a_reopen() {
    block_on(async {
        set_manual_clock(1_700_000_000_000);
        let k = auroradb_log::PROOF_INTERVAL;
        let mallory = Identity::from_secret(&[0x99; 32]);
        let alice = Identity::from_secret(&[0xa1; 32]);
        let mstore = MemoryStorage::new();
        let mut m = Database::open(mstore.clone(), config("m", &mallory)).await.unwrap();
        let mops = writes(&mut m, "m", 2 * k + 5).await;
        let mp = mallory.peer();
        assert_eq!(kept_proof_keys(&mstore), vec![(mp, k), (mp, 2 * k)], "the author's own, at each commit");

        // Alice takes them (with their proofs), and writes past the interval herself.
        let astore = MemoryStorage::new();
        let mut a = Database::open(astore.clone(), config("a", &alice)).await.unwrap();
        let mut reader =
            Database::open(astore.clone(), config("r", &Identity::from_secret(&[0xd0; 32]))).await.unwrap();
        let proofs = m.proofs_for(&mops);
        assert_eq!(proofs.len(), 3, "the two intervals and the head");
        // Without the interval proofs the batch is refused whole, naming the author.
        let head_only = [*proofs.last().unwrap()];
        let err = a.apply_remote(mops.clone(), &head_only).await.unwrap_err();
        assert!(matches!(err, DbError::Log(LogError::BadProof { author, .. }) if author == mp), "{err:?}");
        assert_eq!((a.log().len(), a.count()), (0, 0));
        a.apply_remote(mops.clone(), &proofs).await.unwrap();
        // Another connection on the storage catches up with them.
        reader.catch_up().await.unwrap();
        assert_eq!(reader.proofs_for(&mops), proofs);
        writes(&mut a, "a", k).await;
        let ap = alice.peer();
        assert_eq!(kept_proof_keys(&astore), sorted(vec![(mp, k), (mp, 2 * k), (ap, k)]));

        // Reopened (open reads none of them), the index brings them back: Alice passes
        // Mallory's ops on with them.
        drop(a);
        let mut a = Database::open(astore.clone(), config("a", &alice)).await.unwrap();
        assert_eq!(a.log().proof_of(&mops[k as usize - 1].op.id), None, "not read at open");
        a.load_log().await.unwrap();
        assert_eq!(a.proofs_for(&mops), proofs);
        // A log file carries them, and a fresh database imports it.
        let file = a.export_log().await.unwrap();
        let mut carol =
            Database::open(MemoryStorage::new(), config("c", &Identity::from_secret(&[0xc0; 32]))).await.unwrap();
        carol.import_log(&file).await.unwrap();
        assert_eq!(carol.log().len(), a.log().len());
        assert_eq!(carol.proofs_for(&mops), proofs);

        // A fork at seq k + 1 drops Mallory's kept proofs from there, in the freeze's commit.
        let eq = fork_at(&mallory, &mops[k as usize]);
        a.freeze(eq).await.unwrap().unwrap();
        assert_eq!(kept_proof_keys(&astore), sorted(vec![(mp, k), (ap, k)]));
        drop(a);
        let mut a = Database::open(astore, config("a", &alice)).await.unwrap();
        a.load_log().await.unwrap();
        assert_eq!(a.log().heads()[&mp].seq, k);
        assert_eq!(a.proofs_for(&mops[..k as usize]), proofs[..1]);
        a.verify().await.unwrap();
    });
}

/// A database written before the interval proofs were kept (no `proof/` record) opens and works.
/// Its own ops are signed again on demand, so they still travel; other authors' ops it holds from
/// then lack the proofs of their ops at multiples of the interval, and a peer refuses them
/// whole, naming their author (the sync engine does not ship them, see `Packer::push`): they
/// reach new peers from their author, or from a peer that holds the proofs.
#[test]
fn a_database_without_kept_proofs_still_opens_and_works() {
    block_on(async {
        set_manual_clock(1_700_000_000_000);
        let k = auroradb_log::PROOF_INTERVAL;
        let mallory = Identity::from_secret(&[0x99; 32]);
        let alice = Identity::from_secret(&[0xa1; 32]);
        let mut m = Database::open(MemoryStorage::new(), config("m", &mallory)).await.unwrap();
        let mops = writes(&mut m, "m", k + 5).await;
        let astore = MemoryStorage::new();
        let mut a = Database::open(astore.clone(), config("a", &alice)).await.unwrap();
        let proofs = m.proofs_for(&mops);
        a.apply_remote(mops.clone(), &proofs).await.unwrap();
        let aops = writes(&mut a, "a", k + 5).await;
        drop(a);
        // The layout of the previous release: the same records, without the kept proofs.
        let stripped = delete_where(&astore, |store, key| store == auroradb::Store::Meta && key.starts_with(b"proof/"));
        assert_eq!(stripped.await, 2);
        assert!(kept_proof_keys(&astore).is_empty());

        let mut a = Database::open(astore.clone(), config("a", &alice)).await.unwrap();
        assert_eq!(a.get("m3"), Some(&Value::Int(3)));
        a.load_log().await.unwrap();
        a.verify().await.unwrap();
        let more = writes(&mut a, "b", 1).await;
        assert_eq!(more[0].op.seq, k + 6);
        // Its own ops: proven on demand, taken by a new peer.
        let mut carol =
            Database::open(MemoryStorage::new(), config("c", &Identity::from_secret(&[0xc0; 32]))).await.unwrap();
        let own: Vec<EncodedOp> = aops.iter().chain(&more).cloned().collect();
        let own_proofs = a.proofs_for(&own);
        assert_eq!(own_proofs.len(), 2, "the interval op, signed again, and the head");
        carol.apply_remote(own, &own_proofs).await.unwrap();
        assert_eq!(carol.log().heads()[&alice.peer()].seq, k + 6);
        // Mallory's: only her head is proven now, which a new peer does not take.
        let legacy = a.proofs_for(&mops);
        assert_eq!(legacy, proofs[1..]);
        let err = carol.apply_remote(mops.clone(), &legacy).await.unwrap_err();
        assert!(matches!(err, DbError::Log(LogError::BadProof { author, .. }) if author == mallory.peer()), "{err:?}");
        assert!(!carol.log().heads().contains_key(&mallory.peer()));
        // From their author, with the proofs, they go in.
        carol.apply_remote(mops, &proofs).await.unwrap();
        assert_eq!(carol.log().heads()[&mallory.peer()].seq, k + 5);
    });
}

/// Two log files whose ops fork an author's chain, both branches signed, are an equivocation
/// proof, as when peers send them: importing the second one freezes the author at the fork and
/// imports the file's other ops. The import once failed whole with `BrokenChainError`, other
/// authors' ops with it. The author's own instance, importing the other branch, freezes itself
/// and refuses its next write.
#[test]
fn a_log_file_that_forks_a_held_chain_freezes_its_author_and_the_rest_is_imported() {
    block_on(async {
        set_manual_clock(1_700_000_000_000);
        let mallory = Identity::from_secret(&[0x9a; 32]);
        let bob = Identity::from_secret(&[0xb0; 32]);
        // Two instances of Mallory's identity each write seq 1 and 2, apart.
        let mut x = Database::open(MemoryStorage::new(), config("x", &mallory)).await.unwrap();
        x.put("x1", Value::Int(1)).await.unwrap();
        advance_manual_clock(5);
        x.put("x2", Value::Int(2)).await.unwrap();
        let mut y = Database::open(MemoryStorage::new(), config("y", &mallory)).await.unwrap();
        advance_manual_clock(5);
        y.put("y1", Value::Int(1)).await.unwrap();
        // Bob imports Mallory's branch from x, then writes; his file holds branch y too.
        let mut b = Database::open(MemoryStorage::new(), config("b", &bob)).await.unwrap();
        advance_manual_clock(5);
        b.put("bob", Value::Int(7)).await.unwrap();
        let (info, _) = y.import_log(&b.export_log().await.unwrap()).await.unwrap();
        assert!(info.frozen.is_empty());
        let with_y = y.export_log().await.unwrap();

        let mut z =
            Database::open(MemoryStorage::new(), config("z", &Identity::from_secret(&[0xc0; 32]))).await.unwrap();
        let (info, _) = z.import_log(&x.export_log().await.unwrap()).await.unwrap();
        assert_eq!((info.imported, info.frozen.len()), (2, 0));
        let (info, out) = z.import_log(&with_y).await.unwrap();
        assert_eq!(info.frozen.len(), 1);
        let fork = info.frozen[0];
        assert_eq!((fork.author, fork.seq), (mallory.peer(), 1));
        assert_eq!(info.imported, 1, "Bob's op is imported");
        let mut gone: Vec<&str> = out.changes.iter().filter(|c| c.after.is_none()).map(|c| c.key.as_str()).collect();
        gone.sort_unstable();
        assert_eq!(gone, ["x1", "x2"]);
        assert_eq!((z.get("x1"), z.get("y1"), z.get("bob")), (None, None, Some(&Value::Int(7))));
        assert_eq!(z.log().equivocation(&mallory.peer()).map(|e| e.fork().seq), Some(1));
        z.verify().await.unwrap();
        // Again: nothing new, and no second freeze.
        let (info, _) = z.import_log(&with_y).await.unwrap();
        assert_eq!((info.imported, info.frozen.len()), (0, 0));
        // The author's own instance imports the other branch: it freezes itself.
        let (info, _) = x.import_log(&with_y).await.unwrap();
        assert_eq!(info.frozen.len(), 1);
        assert_eq!((x.get("x1"), x.get("bob")), (None, Some(&Value::Int(7))));
        let err = x.put("x3", Value::Int(3)).await.unwrap_err();
        assert_eq!(err.error_name(), auroradb::ErrorName::BrokenChain, "{err:?}");
    });
}

/// A freeze replays from the newest checkpoint before the first removed op, not from the start:
/// it decodes only the ops after that checkpoint, keeps the checkpoints before the op and drops
/// the later ones, and leaves the stored state, meta and journal exactly as a full replay
/// (the same database without its checkpoints) leaves them. The count of ops since the newest
/// checkpoint is the one a reopen counts: the next automatic checkpoint comes at the same write.
#[test]
fn a_freeze_replays_from_the_newest_checkpoint_before_the_fork() {
    block_on(async {
        set_manual_clock(1_700_000_000_000);
        let mallory = Identity::from_secret(&[0x99; 32]);
        let alice = Identity::from_secret(&[0xa1; 32]);
        let mut m = Database::open(MemoryStorage::new(), config("m", &mallory)).await.unwrap();
        let astore = MemoryStorage::new();
        let mut aconfig = config("a", &alice);
        aconfig.checkpoint_every = 16;
        let mut a = Database::open(astore.clone(), aconfig.clone()).await.unwrap();

        // Alice writes, checkpoint; Mallory's seq 1-3 and Alice again, checkpoint; Mallory's
        // seq 4-6 (the fork, at seq 4, writes m0 again) and Alice again, checkpoint; two more.
        writes(&mut a, "x", 4).await;
        let cp1 = a.checkpoint().await.unwrap().unwrap();
        let before = writes(&mut m, "m", 3).await;
        a.apply_remote(before.clone(), &m.proofs_for(&before)).await.unwrap();
        writes(&mut a, "x", 2).await;
        let cp2 = a.checkpoint().await.unwrap().unwrap();
        advance_manual_clock(1);
        let mut after = m.put("m0", Value::Int(100)).await.unwrap().encoded;
        after.extend(m.put("m3", Value::Int(3)).await.unwrap().encoded);
        after.extend(m.put("m4", Value::Int(4)).await.unwrap().encoded);
        a.apply_remote(after.clone(), &m.proofs_for(&after)).await.unwrap();
        writes(&mut a, "x", 2).await;
        let cp3 = a.checkpoint().await.unwrap().unwrap();
        writes(&mut a, "y", 1).await;
        advance_manual_clock(1);
        a.put("x0", Value::Int(9)).await.unwrap();
        assert_eq!(a.checkpoint_ids().copied().collect::<Vec<_>>(), [cp1, cp2, cp3]);
        assert_eq!(a.get("m0"), Some(&Value::Int(100)));
        let after_cp2 = a.log().ids(..).filter(|(id, _)| **id > cp2).count() as u64;
        assert_eq!(after_cp2, 7);

        assert_eq!(after[0].op.seq, 4);
        let eq = fork_at(&mallory, &after[0]);

        // The same database without its checkpoints: its freeze replays the whole log.
        let full = astore.deep_clone();
        assert_eq!(delete_where(&full, |store, _| store == auroradb::Store::Checkpoints).await, 3);
        let mut f = Database::open(full.clone(), aconfig.clone()).await.unwrap();
        f.load_log().await.unwrap();
        let decoded = f.stats().ops_decoded;
        f.freeze(eq.clone()).await.unwrap().unwrap();
        assert_eq!(f.stats().ops_decoded - decoded, 16, "no checkpoint: the whole log");

        let decoded = a.stats().ops_decoded;
        let out = a.freeze(eq).await.unwrap().unwrap();
        assert_eq!(a.stats().ops_decoded - decoded, after_cp2, "only the ops after the checkpoint before the fork");
        assert_eq!(a.checkpoint_ids().copied().collect::<Vec<_>>(), [cp1, cp2]);
        let mut moved: Vec<&str> = out.changes.iter().map(|c| c.key.as_str()).collect();
        moved.sort_unstable();
        assert_eq!(moved, ["m0", "m3", "m4"]);
        assert_eq!((a.get("m0"), a.get("m3"), a.get("m4")), (Some(&Value::Int(0)), None, None));
        assert_eq!(
            (a.get("x0"), a.get("x1"), a.get("y0")),
            (Some(&Value::Int(9)), Some(&Value::Int(1)), Some(&Value::Int(0)))
        );
        assert_eq!(a.all(), f.all());
        // Byte for byte what the full replay stored: the records, the meta, the journal entry.
        // Byte for byte what the full replay stored: the records, the meta, the journal entry, the
        // log (all but the frozen author's chain head, whose proof is the one the connection's
        // index holds: `a` still holds it from receiving that op, `f` read its index from
        // storage, which keeps the proof of a head only while it is the head).
        let frozen_head = [b"head/".as_slice(), mallory.peer().as_bytes()].concat();
        let stored = |storage: &MemoryStorage| {
            let mut rows = storage.dump();
            rows.retain(|(s, k, _)| *s != auroradb::Store::Checkpoints && *k != frozen_head);
            rows
        };
        assert_eq!(stored(&astore), stored(&full));
        let report = a.verify().await.unwrap();
        assert_eq!((report.checkpoints, report.ops), (2, 13));
        assert_eq!(a.state_at(cp2).await.unwrap().get("m0").map(|e| &e.value), Some(&Value::Int(0)));

        // Reopened: the same state and checkpoints.
        let mut reopened = Database::open(astore.deep_clone(), aconfig.clone()).await.unwrap();
        assert_eq!(reopened.checkpoint_ids().copied().collect::<Vec<_>>(), [cp1, cp2]);
        assert_eq!(reopened.all(), a.all());
        assert_eq!(reopened.verify().await.unwrap().checkpoints, 2);

        // 4 ops after cp2 are kept, and 8 keys: the next checkpoint is due 12 writes on, in
        // the database that froze and in the reopened one.
        for db in [&mut a, &mut reopened] {
            for i in 0..12 {
                assert_eq!(db.checkpoint_ids().count(), 2, "write {i}");
                advance_manual_clock(1);
                db.put("x0", Value::Int(i)).await.unwrap();
            }
            assert_eq!(db.checkpoint_ids().count(), 3);
            db.verify().await.unwrap();
        }
        drop(a);
        let mut a = Database::open(astore, aconfig).await.unwrap();
        assert_eq!(a.checkpoint_ids().count(), 3);
        assert_eq!(a.all(), reopened.all());
        assert_eq!(a.verify().await.unwrap().checkpoints, 3);
    });
}
