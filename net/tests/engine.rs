//! The sync engine over the in-memory transport: connect, push, sync, anti-entropy, timeouts,
//! disconnects, replica failures, small frames, and an executor-driven run.

use std::rc::Rc;

use auroradb_log::{OpKind, Value};
use auroradb_net::sim::{Cluster, SimEvent, ready};
use auroradb_net::transport::memory::Faults;
use auroradb_net::{FrameLimits, NetError, SyncConfig, SyncError, SyncEvent, SyncReport};

fn put(key: &str, v: i64) -> OpKind {
    OpKind::Put { key: key.into(), value: Value::Int(v) }
}

fn quiet() -> SyncConfig {
    SyncConfig { auto_sync: false, sync_on_connect: false, ..SyncConfig::default() }
}

/// Writes at peer `i` without telling anyone.
fn offline_writes(c: &Cluster, i: usize, n: usize) {
    c.enter(i);
    for k in 0..n {
        c.peers[i].replica.append(put(&format!("{i}-{k}"), k as i64)).unwrap();
    }
}

fn events(c: &Cluster, i: usize) -> Vec<SimEvent> {
    c.events.borrow()[i].clone()
}

#[test]
fn peers_reconcile_when_they_connect() {
    let c = Cluster::simple(2, SyncConfig::default());
    offline_writes(&c, 0, 30);
    offline_writes(&c, 1, 20);
    c.connect_all();
    c.settle();
    c.check_converged(&[0, 1]).unwrap();
    c.check_same_state(&[0, 1]).unwrap();
    assert_eq!(c.peers[0].replica.log().len(), 50);
    for i in 0..2 {
        let ev = events(&c, i);
        assert!(ev.contains(&SyncEvent::Connection { peer: c.peers[1 - i].id }), "{ev:?}");
    }
    // The smaller id started the session and reports it.
    let (first, sent, received) = if c.peers[0].id < c.peers[1].id { (0, 30, 20) } else { (1, 20, 30) };
    assert!(events(&c, first).contains(&SyncEvent::Sync(SyncReport { peers: 1, sent, received })));
    let from_0 = |e: &SimEvent| matches!(e, SyncEvent::Post { peer, ops: 30, applied } if *peer == c.peers[0].id && applied.len() == 30);
    assert!(events(&c, 1).iter().any(from_0));
}

#[test]
fn sync_resolves_with_peers_sent_and_received() {
    let c = Cluster::simple(3, quiet());
    c.connect_all();
    c.settle();
    offline_writes(&c, 0, 10);
    offline_writes(&c, 1, 5);
    offline_writes(&c, 2, 7);
    let mut fut = Box::pin(c.peers[0].engine.sync());
    c.settle();
    let report = ready(fut.as_mut());
    assert_eq!(report, SyncReport { peers: 2, sent: 20, received: 12 });
    drop(fut);
    c.settle();
    assert_eq!(c.peers[0].replica.log().len(), 22);
    // Peer 1 may have missed what 0 got from 2 meanwhile: one more round closes the gap.
    let mut fut = Box::pin(c.peers[1].engine.sync());
    c.settle();
    assert_eq!(ready(fut.as_mut()).peers, 2);
    drop(fut);
    c.check_converged(&[0, 1, 2]).unwrap();
}

#[test]
fn a_round_abandoned_as_the_engine_stops_resolves_with_what_was_done() {
    let c = Cluster::simple(3, quiet());
    c.connect_all();
    c.settle();
    offline_writes(&c, 1, 5);
    // Peer 2 hears nothing more: its session with peer 0 cannot end.
    c.net.partition(&[vec![c.peers[0].id, c.peers[1].id], vec![c.peers[2].id]]);
    let mut fut = Box::pin(c.peers[0].engine.sync());
    c.settle();
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(fut.as_mut().poll(&mut cx).is_pending(), "still waiting for peer 2");
    c.peers[0].engine.abandon_all();
    let report = ready(fut.as_mut());
    assert_eq!(report, SyncReport { peers: 1, sent: 0, received: 5 });
    assert_eq!(c.peers[0].engine.stats().sessions_abandoned, 1);
}

#[test]
fn nothing_to_do_costs_one_round_trip_of_small_frames() {
    let c = Cluster::simple(2, quiet());
    offline_writes(&c, 0, 2000);
    c.connect_all();
    c.settle();
    c.peers[0].engine.fetch();
    c.settle();
    c.check_converged(&[0, 1]).unwrap();
    let before = (c.peers[0].engine.stats(), c.peers[1].engine.stats());
    let mut fut = Box::pin(c.peers[0].engine.sync());
    // Alice's turn, then Bob's answer and his (empty) shipment: the sync is done.
    assert_eq!(c.net.step(), Some(c.peers[1].id));
    c.pump(1);
    assert_eq!(c.net.step(), Some(c.peers[0].id));
    c.pump(0);
    assert_eq!(c.net.step(), Some(c.peers[0].id));
    c.pump(0);
    assert_eq!(ready(fut.as_mut()), SyncReport { peers: 1, sent: 0, received: 0 });
    drop(fut);
    c.settle();
    let after = (c.peers[0].engine.stats(), c.peers[1].engine.stats());
    let bytes = after.0.bytes_sent - before.0.bytes_sent + after.1.bytes_sent - before.1.bytes_sent;
    assert!(bytes < 200, "{bytes} bytes to learn that 2000 ops are equal");
}

#[test]
fn local_writes_are_pushed_at_once() {
    let c = Cluster::simple(3, quiet());
    c.connect_all();
    c.settle();
    let op = c.write(1, put("k", 1));
    c.settle();
    for i in 0..3 {
        assert!(c.peers[i].replica.log().contains(&op.op.id));
        assert_eq!(c.peers[i].state.borrow().get("k").map(|e| e.value.clone()), Some(Value::Int(1)));
    }
    // The event carries what the replica applied: the op itself.
    let from_1 = |e: &SimEvent| matches!(e, SyncEvent::Post { peer, ops: 1, applied } if *peer == c.peers[1].id && applied == std::slice::from_ref(&op));
    assert!(events(&c, 0).iter().any(from_1));
    assert_eq!(c.peers[0].engine.stats().sessions_completed, 0, "no session was needed");
}

#[test]
fn a_push_ahead_of_history_is_deferred_then_fetched() {
    let c = Cluster::simple(2, quiet());
    offline_writes(&c, 0, 5);
    c.connect_all();
    c.settle();
    // Peer 1 lacks peer 0's first five ops: the pushed sixth cannot be applied yet.
    c.write(0, put("late", 6));
    c.settle();
    c.check_converged(&[0, 1]).unwrap();
    assert!(c.peers[1].engine.stats().deferred >= 1);
    assert!(c.errors(1).is_empty(), "a gap is no one's fault: {:?}", c.errors(1));
}

#[test]
fn anti_entropy_runs_on_ticks() {
    let config = SyncConfig { auto_sync: true, sync_interval_ms: 1_000, sync_on_connect: false, ..quiet() };
    let mut c = Cluster::simple(3, config);
    c.connect_all();
    c.settle();
    offline_writes(&c, 2, 4);
    c.now_ms += 1_000;
    c.tick(0);
    c.settle();
    assert_eq!(c.peers[0].replica.log().len(), 4);
    assert!(events(&c, 0).iter().any(|e| matches!(e, SyncEvent::Sync(r) if r.received == 4)));
    // Not due again before the interval.
    offline_writes(&c, 2, 1);
    c.now_ms += 10;
    c.tick(0);
    c.settle();
    assert_eq!(c.peers[0].replica.log().len(), 4);
    c.now_ms += 1_000;
    c.tick(0);
    c.settle();
    assert_eq!(c.peers[0].replica.log().len(), 5);
}

#[test]
fn a_stalled_session_times_out_and_sync_resolves() {
    let mut c = Cluster::simple(2, quiet());
    c.connect_all();
    c.settle();
    offline_writes(&c, 1, 3);
    c.net.set_faults(Faults { drop: 1.0, ..Faults::NONE });
    let mut fut = Box::pin(c.peers[0].engine.sync());
    c.settle();
    assert!(fut.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())).is_pending());
    c.now_ms += quiet().session_timeout_ms + 1;
    c.tick(0);
    assert_eq!(ready(fut.as_mut()), SyncReport::default());
    assert_eq!(c.peers[0].engine.stats().sessions_abandoned, 1);
    drop(fut);
    // Once frames flow again, the next sync completes.
    c.net.set_faults(Faults::NONE);
    let mut fut = Box::pin(c.peers[0].engine.sync());
    c.settle();
    assert_eq!(ready(fut.as_mut()).received, 3);
}

#[test]
fn a_disconnect_ends_sessions_and_is_reported() {
    let c = Cluster::simple(2, quiet());
    c.connect_all();
    c.settle();
    offline_writes(&c, 1, 3);
    let mut fut = Box::pin(c.peers[0].engine.sync());
    c.net.disconnect(c.peers[0].id, c.peers[1].id);
    c.settle();
    assert_eq!(ready(fut.as_mut()), SyncReport::default());
    assert!(events(&c, 0).contains(&SyncEvent::Disconnect { peer: c.peers[1].id }));
    assert!(c.peers[0].engine.peers().is_empty());
    assert_eq!(c.peers[0].engine.post(&[]), 0);
}

#[test]
fn a_failing_store_applies_nothing_and_the_next_sync_heals() {
    let c = Cluster::simple(2, quiet());
    c.connect_all();
    c.settle();
    offline_writes(&c, 1, 10);
    c.peers[0].replica.fail_next_applies(1);
    c.peers[0].engine.fetch();
    c.settle();
    assert!(c.peers[0].replica.log().is_empty());
    let errors = c.errors(0);
    assert!(matches!(errors.as_slice(), [NetError::Replica { .. }]), "{errors:?}");
    // Reported as the replica's own error, typed as the replica reports it.
    assert!(events(&c, 0).iter().any(|e| matches!(e, SyncEvent::Error(SyncError::Replica(NetError::Replica { .. })))));
    c.peers[0].engine.fetch();
    c.settle();
    c.check_converged(&[0, 1]).unwrap();
}

#[test]
fn small_frames_and_segments_ship_everything() {
    let config =
        SyncConfig { limits: FrameLimits { max_frame: 4096, max_segment_ops: 3, ..FrameLimits::default() }, ..quiet() };
    let c = Cluster::simple(2, config);
    offline_writes(&c, 0, 700);
    offline_writes(&c, 1, 300);
    c.connect_all();
    c.settle();
    let mut fut = Box::pin(c.peers[1].engine.sync());
    c.settle();
    assert_eq!(ready(fut.as_mut()), SyncReport { peers: 1, sent: 300, received: 700 });
    drop(fut);
    c.check_converged(&[0, 1]).unwrap();
    let s = c.peers[0].engine.stats();
    assert!(s.frames_sent > 700 / 3 / 20, "many frames: {s:?}");
    assert!(s.bytes_sent / s.frames_sent <= 4096);
}

#[test]
fn engines_run_on_an_executor() {
    use futures::executor::LocalPool;
    use futures::task::LocalSpawnExt;

    let c = Rc::new(Cluster::simple(2, quiet()));
    c.net.set_auto_deliver(true);
    offline_writes(&c, 0, 40);
    offline_writes(&c, 1, 60);
    c.connect_all();
    let mut pool = LocalPool::new();
    for i in 0..2 {
        let c = c.clone();
        pool.spawner().spawn_local(async move { c.peers[i].engine.run().await }).unwrap();
    }
    pool.run_until_stalled();
    let c2 = c.clone();
    let report = pool.run_until(async move { c2.peers[0].engine.sync().await });
    assert_eq!(report, SyncReport { peers: 1, sent: 40, received: 60 });
    pool.run_until_stalled();
    c.check_converged(&[0, 1]).unwrap();
}

/// A put of a string of `n` bytes.
fn big(key: &str, n: usize) -> OpKind {
    OpKind::Put { key: key.into(), value: Value::String("x".repeat(n)) }
}

#[test]
fn ops_larger_than_a_frame_travel_in_pieces_shipped_and_pushed() {
    let config =
        SyncConfig { limits: FrameLimits { max_frame: 4096, max_segment_ops: 3, ..FrameLimits::default() }, ..quiet() };
    let c = Cluster::simple(2, config);
    // Shipped in a session: small ops, then one 50 KB op, then the same author's later ops.
    offline_writes(&c, 0, 5);
    c.enter(0);
    c.peers[0].replica.append(big("big", 50_000)).unwrap();
    offline_writes(&c, 0, 5);
    offline_writes(&c, 1, 4);
    c.connect_all();
    c.settle();
    let mut fut = Box::pin(c.peers[1].engine.sync());
    c.settle();
    assert_eq!(ready(fut.as_mut()), SyncReport { peers: 1, sent: 4, received: 11 });
    drop(fut);
    c.check_converged(&[0, 1]).unwrap();
    // Pushed outside any session, between small ops.
    c.write(1, put("before", 1));
    c.write(1, big("pushed", 20_000));
    c.write(1, put("after", 2));
    c.settle();
    c.check_converged(&[0, 1]).unwrap();
    c.check_same_state(&[0, 1]).unwrap();
    assert_eq!(c.peers[0].replica.log().len(), 18);
    for i in 0..2 {
        assert!(c.errors(i).is_empty(), "peer {i}: {:?}", c.errors(i));
        let s = c.peers[i].engine.stats();
        assert!(s.bytes_sent / s.frames_sent.max(1) <= 4096, "{s:?}");
    }
}

#[test]
fn an_op_over_the_maximum_op_size_is_not_shipped_and_is_reported() {
    let limits = FrameLimits { max_frame: 4096, max_op: 10_000, ..FrameLimits::default() };
    let c = Cluster::simple(2, SyncConfig { limits, ..quiet() });
    c.connect_all();
    c.settle();
    c.write(0, big("huge", 20_000));
    c.settle();
    let too_large = |e: &NetError| matches!(e, NetError::OpTooLarge { limit: 10_000, .. });
    assert!(c.errors(0).iter().any(too_large), "{:?}", c.errors(0));
    assert_eq!(c.peers[1].replica.log().len(), 0);
    // The peer that lacks the op is told, with the op and the reason.
    let huge = c.peers[0].replica.log().last_id();
    let told = |e: &NetError| {
        e.peer() == Some(c.peers[0].id)
            && matches!(e.inner(), NetError::Shipping { refused: false, op, name } if *op == huge && name == "OpTooLarge")
    };
    assert!(c.errors(1).iter().any(told), "{:?}", c.errors(1));
}

/// A peer whose clock runs 10 minutes ahead: both peers learn it from each other's hello as they
/// connect, before any op is exchanged; then the other refuses its ops (beyond the drift bound)
/// and says so, so the peer ahead learns that its ops were refused, which op, and why.
#[test]
fn a_refused_shipment_is_reported_to_the_peer_that_shipped_it() {
    use auroradb_net::sim::sim_identity;
    let ids = [sim_identity(1), sim_identity(2)];
    let c = Cluster::new(0, &ids, &[600_000, 0], quiet(), &auroradb_snapshot::Strategy::Timestamp);
    c.connect_all();
    c.settle();
    let skew = |local_ahead: bool, peer| {
        move |e: &NetError| {
            e.peer() == Some(peer)
                && matches!(e.inner(), NetError::ClockSkew { ahead_ms, local_ahead: l, .. } if *l == local_ahead && (600_000..601_000).contains(ahead_ms))
        }
    };
    assert!(c.errors(0).iter().any(skew(true, c.peers[1].id)), "{:?}", c.errors(0));
    assert!(c.errors(1).iter().any(skew(false, c.peers[0].id)), "{:?}", c.errors(1));
    assert_eq!((c.errors(0).len(), c.errors(1).len()), (1, 1));
    let op = c.write(0, put("k", 1));
    c.settle();
    assert_eq!(c.peers[1].replica.log().len(), 0);
    let drift = |e: &NetError| matches!(e.inner(), NetError::Log(auroradb_log::LogError::ClockDrift { .. }));
    assert!(c.errors(1).iter().any(|e| drift(e) && e.peer() == Some(c.peers[0].id)), "{:?}", c.errors(1));
    let told = |e: &NetError| {
        e.peer() == Some(c.peers[1].id)
            && matches!(e.inner(), NetError::Shipping { refused: true, op: Some(id), name } if *id == op.op.id && name == "ClockDrift")
    };
    assert!(c.errors(0).iter().any(told), "{:?}", c.errors(0));
    assert_eq!(c.errors(0).len(), 2, "{:?}", c.errors(0));
}

/// 64 peers, each linked to a few others only (a ring, so the mesh is connected, plus two random
/// chords each): every op crosses several peers that relay it with the proofs they received,
/// and with small segments an author's run arrives in many pieces, most of them proven only by
/// a later segment. Everyone converges to the same log and state, with no error.
#[test]
fn a_partial_mesh_of_64_peers_converges() {
    let limits = FrameLimits { max_segment_ops: 5, ..FrameLimits::default() };
    let config = SyncConfig { limits, sync_interval_ms: 1_000, ..SyncConfig::default() };
    let mut c = Cluster::simple(64, config);
    let n = c.peers.len();
    for i in 0..n {
        offline_writes(&c, i, 1 + i % 7);
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut links = 0;
    for i in 0..n {
        c.net.connect(c.peers[i].id, c.peers[(i + 1) % n].id);
        links += 1;
        for _ in 0..2 {
            let j = (next() % n as u64) as usize;
            if j != i && j != (i + 1) % n && (j + 1) % n != i {
                c.net.connect(c.peers[i].id, c.peers[j].id);
                links += 1;
            }
        }
    }
    assert!(links < 3 * n + 1, "a partial mesh: {links} links of {} possible", n * (n - 1) / 2);
    c.settle();
    let all: Vec<usize> = (0..n).collect();
    let mut rounds = 0;
    while c.check_converged(&all).is_err() {
        rounds += 1;
        assert!(rounds <= 40, "not converged after {rounds} anti-entropy rounds");
        // Writes go on while ops spread.
        if rounds <= 3 {
            for i in (0..n).step_by(9) {
                c.write(i, put(&format!("live-{i}-{rounds}"), rounds as i64));
            }
        }
        c.now_ms += 1_001;
        c.tick_all();
        c.settle();
    }
    c.check_same_state(&all).unwrap();
    let total: usize = (0..n).map(|i| 1 + i % 7).sum::<usize>() + 3 * n.div_ceil(9);
    assert_eq!(c.peers[0].replica.log().len(), total);
    for i in 0..n {
        assert_eq!(c.errors(i), Vec::<NetError>::new(), "peer {i}");
    }
    eprintln!("64 peers, {links} links: converged after {rounds} anti-entropy rounds");
}

/// A peer restarts (a reloaded page reopening its database) with its clock set back by four
/// minutes: its next writes still come after every op it wrote before, its peers see a new
/// attachment, and everyone converges, its own key included.
#[test]
fn a_peer_that_restarts_with_its_clock_set_back_writes_after_its_previous_ops() {
    let mut c = Cluster::simple(3, SyncConfig::default());
    c.connect_all();
    c.settle();
    let before: Vec<auroradb_log::OpId> = (0..5).map(|i| c.write(0, put("k", i)).op.id).collect();
    c.settle();
    c.restart(0, -240_000);
    c.settle();
    let after = c.write(0, put("k", 99));
    c.settle();
    assert!(after.op.id > *before.last().unwrap(), "{} after {}", after.op.id, before.last().unwrap());
    assert_eq!(after.op.seq, 6, "its chain goes on");
    c.check_converged(&[0, 1, 2]).unwrap();
    c.check_same_state(&[0, 1, 2]).unwrap();
    for i in 0..3 {
        assert_eq!(c.peers[i].state.borrow().get("k").map(|e| e.value.clone()), Some(Value::Int(99)), "peer {i}");
        assert!(c.errors(i).is_empty(), "peer {i}: {:?}", c.errors(i));
    }
    // Its peers saw it go and come back.
    let back = |i: usize| {
        events(&c, i).iter().filter(|e| matches!(e, SyncEvent::Connection { peer } if *peer == c.peers[0].id)).count()
    };
    assert_eq!((back(1), back(2)), (2, 2));
}

/// An author makes two ops under one id, both signed with its key (two instances given one
/// identity, or a key used on purpose): peer 0 keeps one, peer 1 the other. Reconciliation
/// compares ids, so this once went unnoticed; then it was reported and the replicas kept
/// differing. Now each peer that learns of it reports an equivocation naming the author, once,
/// and freezes the author before that op (peer 0, the author itself, too): every replica ends
/// with the same log and state, and everything else still syncs.
#[test]
fn the_same_id_with_another_body_freezes_its_author_on_every_peer() {
    use auroradb_log::{EncodedOp, Op};
    use auroradb_net::Replica;
    use auroradb_net::sim::sim_identity;
    let config = SyncConfig { sync_interval_ms: 1_000, ..SyncConfig::default() };
    let mut c = Cluster::simple(3, config);
    let x = c.write(0, put("k", 1));
    let other =
        EncodedOp::new(Op { id: x.op.id, author: x.op.author, seq: x.op.seq, prev: x.op.prev, kind: put("k", 2) });
    let proof = sim_identity(1).prove(&other.hash);
    c.enter(1);
    ready(c.peers[1].replica.apply_remote(c.peers[0].id, vec![other.clone()], vec![(other.op.id, proof)])).unwrap();
    for i in 1..3 {
        c.write(i, put(&format!("own-{i}"), i as i64));
    }
    c.connect_all();
    c.settle();
    for _ in 0..3 {
        c.now_ms += 1_001;
        c.tick_all();
        c.settle();
    }
    let author = c.peers[0].id;
    let equivocation = |e: &NetError| matches!(e.inner(), NetError::Equivocation { author: a, seq: 1, id } if *a == author && *id == x.op.id);
    for i in 0..3 {
        let errors = c.errors(i);
        assert_eq!(errors.iter().filter(|e| equivocation(e)).count(), 1, "peer {i}: {errors:?}");
        assert!(errors.iter().all(equivocation), "peer {i}: {errors:?}");
        for k in 1..3 {
            assert!(c.peers[i].state.borrow().get(&format!("own-{k}")).is_some(), "peer {i} lacks own-{k}");
        }
        assert_eq!(c.peers[i].state.borrow().get("k"), None, "peer {i}");
        assert_eq!(c.peers[i].replica.log().hash_of(&x.op.id), None, "peer {i}");
        assert_eq!(c.peers[i].replica.equivocation(&author).map(|e| e.fork().seq), Some(1));
    }
    c.check_converged(&[0, 1, 2]).unwrap();
    c.check_same_state(&[0, 1, 2]).unwrap();
    assert_eq!(c.errors(0)[0].name(), "Equivocation");
    // The frozen author writes no more; the others do, and it still syncs.
    c.enter(0);
    assert!(c.peers[0].replica.append(put("k", 3)).is_err());
    c.write(2, put("after", 1));
    c.settle();
    c.check_converged(&[0, 1, 2]).unwrap();
}

/// Mallory's ops from seq `from` after `prev`, one millisecond apart from `ms`.
fn mallory_run(
    who: &auroradb_log::Identity,
    from: u64,
    prev: auroradb_log::Hash,
    ms: u64,
    keys: &[&str],
) -> Vec<auroradb_log::EncodedOp> {
    use auroradb_log::{EncodedOp, Op, OpId};
    let mut out: Vec<EncodedOp> = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let prev = out.last().map_or(prev, |o| o.hash);
        let id = OpId::from_millis(ms + i as u64, who.peer());
        out.push(EncodedOp::new(Op { id, author: who.peer(), seq: from + i as u64, prev, kind: put(key, 1) }));
    }
    out
}

/// A frame pushing `ops` of Mallory in one segment, her last one signed.
fn mallory_push(who: &auroradb_log::Identity, seq: u64, ops: &[auroradb_log::EncodedOp]) -> Vec<u8> {
    use auroradb_log::segment::encode_proven_segment;
    use auroradb_net::{Body, Message, Ops};
    let last = ops.last().unwrap();
    let proofs = [(last.op.id, who.prove(&last.hash))];
    let seg = encode_proven_segment(ops.iter().map(|o| (o.op.id, o.bytes.as_slice(), &o.hash)), &proofs).unwrap();
    let msg = Message { session: 0, initiator: true, body: Body::Ops(Ops { segments: vec![seg], last: None }) };
    auroradb_net::frame::encode_frame(seq, &msg, usize::MAX).unwrap()
}

/// Three honest peers, all connected, and Mallory (of secret `secret`) connected to and admitted
/// by peers 1 and 2.
fn with_mallory(secret: u8) -> (Cluster, auroradb_log::Identity) {
    let config = SyncConfig { sync_interval_ms: 1_000, ..SyncConfig::default() };
    let c = Cluster::simple(3, config);
    c.connect_all();
    let mallory = auroradb_log::Identity::from_secret(&[secret; 32]);
    for i in [1, 2] {
        c.net.connect(mallory.peer(), c.peers[i].id);
        c.introduce(mallory.peer(), i);
    }
    c.settle();
    (c, mallory)
}

/// Whether an error is the equivocation of `m` at `seq` whose smaller op id is `id`.
fn equivocation_of(m: auroradb_log::PeerId, seq: u64, id: auroradb_log::OpId) -> impl Fn(&NetError) -> bool {
    move |e| matches!(e.inner(), NetError::Equivocation { author, seq: s, id: i } if *author == m && *s == seq && *i == id)
}

/// Peer `i` reported the equivocation once and nothing else, is frozen there, and holds exactly
/// `before` of the author's ops.
fn assert_frozen(c: &Cluster, i: usize, equivocation: &impl Fn(&NetError) -> bool, before: &[auroradb_log::EncodedOp]) {
    use auroradb_net::Replica;
    let errors = c.errors(i);
    assert_eq!(errors.iter().filter(|e| equivocation(e)).count(), 1, "peer {i}: {errors:?}");
    assert!(errors.iter().all(equivocation), "peer {i}: {errors:?}");
    let m = before[0].op.author;
    let theirs: Vec<_> = c.peers[i].replica.log().ids(..).filter(|(id, _)| id.peer == m).map(|(id, _)| *id).collect();
    assert_eq!(theirs, before.iter().map(|o| o.op.id).collect::<Vec<_>>(), "peer {i} keeps the ops before the fork");
    let seq = before.last().unwrap().op.seq + 1;
    assert_eq!(c.peers[i].replica.equivocation(&m).map(|eq| eq.fork().seq), Some(seq), "peer {i}");
}

/// A frame pushing Mallory's ops `ops` in one segment that proves those at multiples of the proof
/// interval, as a shipper must, and her last op in it if `end`.
fn mallory_segment(who: &auroradb_log::Identity, seq: u64, ops: &[auroradb_log::EncodedOp], end: bool) -> Vec<u8> {
    use auroradb_log::segment::encode_proven_segment;
    use auroradb_net::{Body, Message, Ops};
    let prove = |id: &auroradb_log::OpId| ops.iter().find(|o| o.op.id == *id).map(|o| who.prove(&o.hash));
    let mut proofs = auroradb_log::shipped_proofs(ops.iter().map(|o| (o.op.id, o.op.seq)), &prove);
    proofs.retain(|(id, _)| end || ops.iter().any(|o| o.op.id == *id && auroradb_log::must_prove(o.op.seq)));
    let seg = encode_proven_segment(ops.iter().map(|o| (o.op.id, o.bytes.as_slice(), &o.hash)), &proofs).unwrap();
    let msg = Message { session: 0, initiator: true, body: Body::Ops(Ops { segments: vec![seg], last: None }) };
    auroradb_net::frame::encode_frame(seq, &msg, usize::MAX).unwrap()
}

/// Mallory's ops from seq `from` on, after `prev`, one per key named `{p}{n}`.
fn mallory_branch(
    who: &auroradb_log::Identity,
    from: u64,
    prev: auroradb_log::Hash,
    ms: u64,
    p: &str,
    n: usize,
) -> Vec<auroradb_log::EncodedOp> {
    let keys: Vec<String> = (0..n).map(|i| format!("{p}{i}")).collect();
    mallory_run(who, from, prev, ms, &keys.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Four anti-entropy rounds, each after a write `live-{round}` of one of the first three peers;
/// then peers `all` hold the same log and state.
fn live_rounds_until_converged(c: &mut Cluster, all: &[usize]) {
    for round in 0..4 {
        c.now_ms += 1_001;
        c.write(round % 3, put(&format!("live-{round}"), 1));
        c.tick_all();
        c.settle();
    }
    c.check_converged(all).unwrap();
    c.check_same_state(all).unwrap();
}

/// As below, with branches longer than an equivocation proof's run may be (1,024 ops) and than
/// the proof interval, each to one peer. Each branch comes in two segments: the ops up to the
/// next multiple of the interval (no proof in it: they wait), then up to 1,024 more. When only
/// the newest op of a batch was proven and kept, each peer then held its branch's 1,000-odd ops
/// from the fork with one signature at their end, too far to prove the fork: it stayed
/// unresolved, fetched again on every tick. Now the peers keep the proof of every 256th op of
/// either branch, the first to meet the other branch proves the fork with short runs, and every
/// honest peer ends frozen alike and reports once.
#[test]
fn branches_longer_than_a_proof_run_are_proven_and_frozen_by_all() {
    use auroradb_log::{Hash, MAX_EVIDENCE_OPS};
    use auroradb_net::sim::START_MS;
    let (mut c, mallory) = with_mallory(0x98);
    let m = mallory.peer();
    let k = auroradb_log::PROOF_INTERVAL;
    let base = mallory_branch(&mallory, 1, Hash::ZERO, START_MS - 10_000, "m", k as usize);
    let fork = k + 1;
    let a = mallory_branch(&mallory, fork, base[k as usize - 1].hash, START_MS - 8_000, "a", MAX_EVIDENCE_OPS + 255);
    let b = mallory_branch(&mallory, fork, base[k as usize - 1].hash, START_MS - 6_000, "b", MAX_EVIDENCE_OPS + 120);
    for i in [1, 2] {
        c.net.inject(m, c.peers[i].id, mallory_segment(&mallory, 1, &base, true));
    }
    c.settle();
    for (i, branch) in [(1, &a), (2, &b)] {
        let cut = (k - 1) as usize;
        c.net.inject(m, c.peers[i].id, mallory_segment(&mallory, 2, &branch[..cut], false));
        c.net.inject(m, c.peers[i].id, mallory_segment(&mallory, 3, &branch[cut..], true));
    }
    c.settle();
    assert_eq!(c.peers[1].replica.log().heads()[&m].seq, k + a.len() as u64);
    assert_eq!(c.peers[2].replica.log().heads()[&m].seq, k + b.len() as u64);
    let all = [0, 1, 2];
    live_rounds_until_converged(&mut c, &all);
    let equivocation = equivocation_of(m, fork, a[0].op.id.min(b[0].op.id));
    for i in all {
        assert_frozen(&c, i, &equivocation, &base);
        let state = c.peers[i].state.borrow();
        assert!(state.get("m255").is_some() && state.get("a0").is_none() && state.get("b0").is_none(), "peer {i}");
    }
    // Once frozen, no peer fetches again for it: a quiet round adds no traffic of Mallory's.
    let sent: Vec<u64> = all.iter().map(|i| c.peers[*i].engine.stats().ops_sent).collect();
    c.now_ms += 1_001;
    c.tick_all();
    c.settle();
    assert_eq!(all.iter().map(|i| c.peers[*i].engine.stats().ops_sent).collect::<Vec<_>>(), sent);
}

/// Mallory, admitted by peers 1 and 2, writes two ops both get, then forks her chain at
/// seq 3: branch A (two ops) goes to peer 1 only, branch B (one op, another id) to peer 2 only.
/// Peers that took different branches once refused each other's ops and kept differing from
/// the fork on. Now the first peer to meet the other branch proves the fork, both branches'
/// ops from seq 3 leave every log and state, and the proof reaches peer 0 too, which Mallory
/// never spoke to: all three end with equal logs and states, each reports the equivocation
/// once, and writes of the honest peers made meanwhile are everywhere.
#[test]
fn an_author_that_sends_two_branches_to_two_peers_is_frozen_by_all() {
    use auroradb_log::{Hash, millis_to_ntp};
    use auroradb_net::sim::START_MS;
    let (mut c, mallory) = with_mallory(0x99);
    let m = mallory.peer();
    let base = mallory_run(&mallory, 1, Hash::ZERO, START_MS - 100, &["m1", "m2"]);
    let a = mallory_run(&mallory, 3, base[1].hash, START_MS - 50, &["a3", "a4"]);
    let b = mallory_run(&mallory, 3, base[1].hash, START_MS - 40, &["b3"]);
    c.net.inject(m, c.peers[1].id, mallory_push(&mallory, 1, &base));
    c.net.inject(m, c.peers[2].id, mallory_push(&mallory, 1, &base));
    c.settle();
    c.net.inject(m, c.peers[1].id, mallory_push(&mallory, 2, &a));
    c.net.inject(m, c.peers[2].id, mallory_push(&mallory, 2, &b));
    c.write(0, put("honest-0", 0));
    c.settle();
    for round in 0..3 {
        c.now_ms += 1_001;
        c.write(round, put(&format!("live-{round}"), 1));
        c.tick_all();
        c.settle();
    }
    let all = [0, 1, 2];
    c.check_converged(&all).unwrap();
    c.check_same_state(&all).unwrap();
    let equivocation = equivocation_of(m, 3, a[0].op.id);
    for i in all {
        assert_frozen(&c, i, &equivocation, &base);
        assert_eq!(c.peers[i].replica.log().heads()[&m].seq, 2);
        let state = c.peers[i].state.borrow();
        assert!(state.get("m2").is_some() && state.get("a3").is_none() && state.get("b3").is_none(), "peer {i}");
        for k in ["honest-0", "live-0", "live-1", "live-2"] {
            assert!(state.get(k).is_some(), "peer {i} lacks {k}");
        }
    }
    // Mallory's next ops on either branch are taken by no one, and blamed on no one.
    let a5 = mallory_run(&mallory, 5, a[1].hash, START_MS - 30, &["a5"]);
    c.net.inject(m, c.peers[1].id, mallory_push(&mallory, 3, &[a[0].clone(), a[1].clone(), a5[0].clone()]));
    c.settle();
    c.check_converged(&all).unwrap();
    assert!(c.peers[1].replica.log().ids(..).all(|(id, _)| id.time < millis_to_ntp(START_MS - 50) || id.peer != m));
    for i in all {
        assert!(c.errors(i).iter().all(&equivocation), "peer {i}: {:?}", c.errors(i));
    }
}

/// Mallory signs two ops under one id at seq 2: X goes to peer 1 with X3 after it, Y to peer 2
/// with two different ops after it at seq 3. Peer 2 proves the fork at seq 3 and passes the
/// proof on; peer 1 cannot apply it (it holds X at seq 2, not the op the proof's runs follow),
/// and reconciliation, which compares ids, never shows either side the other's op at seq 2.
/// Peer 1 once dropped that proof, and it and peer 2 kept differing for ever. Now it keeps the
/// proof aside: when peer 2 answers X3 with its side of the chain, that proof proves Y, peer 1
/// proves the fork at seq 2, and every peer ends frozen there.
#[test]
fn a_proof_after_an_earlier_fork_under_one_id_is_kept_until_that_fork_is_proven() {
    use auroradb_log::{EncodedOp, Hash, Op};
    use auroradb_net::Replica;
    use auroradb_net::sim::START_MS;
    let (mut c, mallory) = with_mallory(0x9a);
    let m = mallory.peer();
    let base = mallory_run(&mallory, 1, Hash::ZERO, START_MS - 100, &["m1"]);
    let x = mallory_run(&mallory, 2, base[0].hash, START_MS - 90, &["x2", "x3"]);
    let y2 = EncodedOp::new(Op { kind: put("y2", 1), ..x[0].op.clone() });
    let y3a = mallory_run(&mallory, 3, y2.hash, START_MS - 80, &["y3a"]);
    let y3b = mallory_run(&mallory, 3, y2.hash, START_MS - 70, &["y3b"]);
    c.net.inject(m, c.peers[1].id, mallory_push(&mallory, 1, &[base[0].clone(), x[0].clone(), x[1].clone()]));
    c.net.inject(m, c.peers[2].id, mallory_push(&mallory, 1, &[base[0].clone(), y2.clone(), y3a[0].clone()]));
    c.settle();
    c.net.inject(m, c.peers[2].id, mallory_push(&mallory, 2, &[y2.clone(), y3b[0].clone()]));
    c.settle();
    assert_eq!(c.peers[2].replica.equivocation(&m).map(|eq| eq.fork().seq), Some(3));
    let all = [0, 1, 2];
    live_rounds_until_converged(&mut c, &all);
    for i in all {
        assert_eq!(c.peers[i].replica.equivocation(&m).map(|eq| eq.fork().seq), Some(2), "peer {i}");
        let theirs: Vec<_> =
            c.peers[i].replica.log().ids(..).filter(|(id, _)| id.peer == m).map(|(id, _)| *id).collect();
        assert_eq!(theirs, vec![base[0].op.id], "peer {i} keeps Mallory's op before the fork");
        let errors = c.errors(i);
        let blamed = |e: &NetError| matches!(e.inner(), NetError::Equivocation { author, .. } if *author == m);
        assert!(errors.iter().all(blamed), "peer {i}: {errors:?}");
        let state = c.peers[i].state.borrow();
        assert!(state.get("m1").is_some() && state.get("x2").is_none() && state.get("y2").is_none(), "peer {i}");
        for k in ["live-0", "live-1", "live-2", "live-3"] {
            assert!(state.get(k).is_some(), "peer {i} lacks {k}");
        }
    }
}
