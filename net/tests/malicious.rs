//! A malicious peer against an honest one: every attack is rejected with a typed error naming
//! the attacker, the honest peer's log and state are untouched, and honest peers keep syncing.

use auroradb_log::segment::{encode_proven_segment, encode_segment};
use auroradb_log::{EncodedOp, Fingerprint, Hash, Identity, Log, LogError, Op, OpId, OpKind, PeerId, Proof, Value};
use auroradb_net::frame::{PREFIX_LEN, encode_frame};
use auroradb_net::sim::{Cluster, signing_log};
use auroradb_net::{Body, FrameLimits, Message, Mode, NetError, Ops, Piece, RangeItem, Reconcile, SyncConfig};
use auroradb_net::{RangeIndex, Replica, SHIP_SLACK};

/// Mallory's signing identity: her own ops are proven like anyone's.
#[allow(non_snake_case)]
fn MALLORY() -> PeerId {
    mallory().peer()
}

fn mallory() -> Identity {
    Identity::from_secret(&[0x99; 32])
}

struct Mallory {
    log: Log,
    seq: u64,
}

impl Mallory {
    fn new() -> Mallory {
        Mallory { log: signing_log(mallory()), seq: 0 }
    }

    fn frame(&mut self, session: u32, initiator: bool, body: Body) -> Vec<u8> {
        self.seq += 1;
        encode_frame(self.seq, &Message { session, initiator, body }, usize::MAX).unwrap()
    }

    /// A push of `ops` in one segment, with Mallory's proof of the last of her own.
    fn push(&mut self, ops: &[(OpId, Vec<u8>, Hash)]) -> Vec<u8> {
        self.push_proven(ops, &[])
    }

    /// A push of `ops` in one segment, with `proofs` and Mallory's proof of the last of her own.
    fn push_proven(&mut self, ops: &[(OpId, Vec<u8>, Hash)], proofs: &[(OpId, Proof)]) -> Vec<u8> {
        let mut proofs = proofs.to_vec();
        if let Some((id, _, h)) = ops.iter().rev().find(|(id, _, _)| id.peer == MALLORY()) {
            proofs.push((*id, mallory().prove(h)));
        }
        let seg = encode_proven_segment(ops.iter().map(|(id, b, h)| (*id, b.as_slice(), h)), &proofs).unwrap();
        self.frame(0, true, Body::Ops(Ops { segments: vec![seg], last: None }))
    }

    fn valid_op(&mut self, v: i64) -> EncodedOp {
        self.log.append(OpKind::Put { key: "m".into(), value: Value::Int(v) }).unwrap()
    }
}

/// A segment of Mallory's op `op`, with her proof of it.
fn proven_seg(op: &EncodedOp) -> Vec<u8> {
    encode_proven_segment([(op.op.id, op.bytes.as_slice(), &op.hash)], &[(op.op.id, mallory().prove(&op.hash))])
        .unwrap()
}

fn shipped(op: &EncodedOp) -> (OpId, Vec<u8>, Hash) {
    (op.op.id, op.bytes.clone(), op.hash)
}

/// Three honest peers, in sync, with some history; Mallory connected to peer 0 and admitted
/// (it said hello in the group: what admission cannot tell from honesty).
fn setup(config: SyncConfig) -> (Cluster, Mallory) {
    let c = Cluster::simple(3, config);
    c.connect_all();
    c.net.connect(MALLORY(), c.peers[0].id);
    c.introduce(MALLORY(), 0);
    for i in 0..12 {
        c.write(i % 3, OpKind::Put { key: format!("k{}", i % 4), value: Value::Int(i as i64) });
    }
    c.settle();
    c.check_converged(&[0, 1, 2]).unwrap();
    assert!(c.peers[0].engine.peers().contains(&MALLORY()));
    c.enter(0);
    (c, Mallory::new())
}

/// Delivers `frames` from Mallory to peer 0 and returns peer 0's new errors; peer 0's log and
/// state must not change.
fn attack(c: &Cluster, frames: Vec<Vec<u8>>) -> Vec<NetError> {
    let before_errors = c.errors(0).len();
    let fp = c.peers[0].replica.log().fingerprint(..);
    let state: Vec<_> = c.peers[0].state.borrow().iter().map(|(k, e)| (k.to_string(), e.clone())).collect();
    for f in frames {
        c.net.inject(MALLORY(), c.peers[0].id, f);
    }
    c.settle();
    assert_eq!(c.peers[0].replica.log().fingerprint(..), fp, "the log changed");
    let after: Vec<_> = c.peers[0].state.borrow().iter().map(|(k, e)| (k.to_string(), e.clone())).collect();
    assert_eq!(after, state, "the state changed");
    c.errors(0)[before_errors..].to_vec()
}

/// Every error names Mallory, and its inner error matches.
fn assert_blamed(errors: &[NetError], what: impl Fn(&NetError) -> bool) {
    assert!(!errors.is_empty(), "nothing was reported");
    for e in errors {
        assert_eq!(e.peer(), Some(MALLORY()), "{e}");
        assert!(what(e.inner()), "unexpected error: {e:?}");
    }
}

/// Honest peers still sync: a write at peer 2 made offline reaches peer 0 by a session.
fn honest_still_sync(c: &Cluster) {
    c.enter(2);
    c.peers[2].replica.append(OpKind::Remove { key: "k1".into() }).unwrap();
    c.peers[0].engine.fetch();
    c.settle();
    c.check_converged(&[0, 1, 2]).unwrap_or_else(|e| {
        c.peers[1].engine.fetch();
        c.settle();
        c.check_converged(&[0, 1, 2]).map_err(|f| format!("{e}; then {f}")).unwrap()
    });
    c.check_same_state(&[0, 1, 2]).unwrap();
}

#[test]
fn tampered_op_is_rejected() {
    let (c, mut m) = setup(SyncConfig::default());
    let (id, mut bytes, hash) = {
        let log = c.peers[1].replica.log();
        let (id, b, h) = log.range(..).last().unwrap();
        (id, b.to_vec(), *h)
    };
    // Change the value inside the op (the encoding stays valid, the hash does not).
    let at = bytes.len() - 1;
    bytes[at] ^= 0x01;
    // Without a proof it waits for one, applying nothing; proven by Mallory's key, it is a
    // forgery: it is not peer 1's.
    let errors = attack(&c, vec![m.push(&[(id, bytes.clone(), hash)])]);
    assert_eq!(errors, vec![]);
    let tampered = EncodedOp::decode(bytes.clone()).unwrap();
    let signed = m.push_proven(&[(id, bytes, hash)], &[(id, mallory().prove(&tampered.hash))]);
    let errors = attack(&c, vec![signed]);
    assert_blamed(&errors, |e| matches!(e, NetError::Log(LogError::BadProof { .. })));
    honest_still_sync(&c);
}

#[test]
fn op_proven_under_another_hash_is_rejected() {
    let (c, mut m) = setup(SyncConfig::default());
    let op = m.valid_op(1);
    // The op is fine, the hash its proof signs is not: the receiver hashes the op it rebuilds.
    let errors = attack(&c, vec![m.push(&[(op.op.id, op.bytes.clone(), Hash::of(b"forged"))])]);
    assert_blamed(&errors, |e| matches!(e, NetError::Log(LogError::BadProof { .. })));
    honest_still_sync(&c);
}

#[test]
fn forged_range_fingerprints_cost_nothing() {
    let (mut c, mut m) = setup(SyncConfig { auto_sync: false, ..SyncConfig::default() });
    // Mallory answers a session that does not exist, and opens one with lies in it.
    let lie = || {
        Body::Reconcile(Reconcile {
            ranges: vec![RangeItem { upper: None, mode: Mode::Fingerprint(Fingerprint([7; 16])) }],
            want: vec![],
            more_want: false,
        })
    };
    let errors = attack(&c, vec![m.frame(41, false, lie())]);
    assert_blamed(&errors, |e| matches!(e, NetError::Unexpected { .. }));
    let errors = attack(&c, vec![m.frame(5, true, lie())]);
    assert!(errors.is_empty(), "a lie is indistinguishable from a difference: {errors:?}");
    // The session Mallory opened and never finishes is abandoned in time.
    assert!(c.peers[0].engine.is_syncing_with(&MALLORY()));
    c.now_ms += SyncConfig::default().session_timeout_ms + 1;
    c.tick(0);
    honest_still_sync(&c);
}

#[test]
fn far_future_timestamp_is_rejected() {
    let (c, mut m) = setup(SyncConfig::default());
    let op = EncodedOp::new(Op {
        id: OpId::from_millis(auroradb_net::sim::START_MS + 3_600_000, MALLORY()),
        author: MALLORY(),
        seq: 1,
        prev: Hash::ZERO,
        kind: OpKind::Clear,
    });
    let errors = attack(&c, vec![m.push(&[shipped(&op)])]);
    assert_blamed(&errors, |e| matches!(e, NetError::Log(LogError::ClockDrift { .. })));
    honest_still_sync(&c);
}

#[test]
fn oversized_frame_is_rejected_before_reading_it() {
    let (c, mut m) = setup(SyncConfig::default());
    let mut f = m.frame(0, true, Body::Ops(Ops::default()));
    f[..PREFIX_LEN].copy_from_slice(&(u32::MAX - 4).to_le_bytes());
    let errors = attack(&c, vec![f]);
    assert_blamed(&errors, |e| matches!(e, NetError::FrameTooLarge { .. }));
    // A real frame over the limit, too.
    let op = m.valid_op(2);
    let huge = vec![m.push(&[shipped(&op)]); 1].into_iter().map(|mut f| {
        f.resize(SyncConfig::default().limits.max_frame + 10, 0);
        let len = (f.len() - PREFIX_LEN) as u32;
        f[..PREFIX_LEN].copy_from_slice(&len.to_le_bytes());
        f
    });
    let errors = attack(&c, huge.collect());
    assert_blamed(&errors, |e| matches!(e, NetError::FrameTooLarge { .. }));
    honest_still_sync(&c);
}

#[test]
fn truncated_frame_is_rejected() {
    let (c, mut m) = setup(SyncConfig::default());
    let op = m.valid_op(3);
    let mut f = m.push(&[shipped(&op)]);
    f.truncate(f.len() - 3);
    let errors = attack(&c, vec![f, vec![1, 0]]);
    assert_blamed(&errors, |e| matches!(e, NetError::Truncated { .. }));
    honest_still_sync(&c);
}

#[test]
fn garbage_is_rejected() {
    let (c, mut m) = setup(SyncConfig::default());
    let mut frames = vec![b"\x05\0\0\0hello".to_vec(), vec![0; 64]];
    let mut bad_version = m.frame(0, true, Body::Ops(Ops::default()));
    bad_version[PREFIX_LEN + 4] = 99;
    frames.push(bad_version);
    let errors = attack(&c, frames);
    assert_eq!(errors.len(), 3);
    assert_blamed(&errors, |e| {
        matches!(
            e,
            NetError::Corrupt { .. } | NetError::Log(LogError::BadMagic { .. } | LogError::UnsupportedVersion { .. })
        )
    });
    honest_still_sync(&c);
}

#[test]
fn frames_of_a_session_that_ended_are_dropped_without_blame() {
    let (c, mut m) = setup(SyncConfig { auto_sync: false, ..SyncConfig::default() });
    // Peer 0 opened session 1 with Mallory on meeting her. She ends it: her log is peer 0's.
    let same = Mode::Fingerprint(c.peers[0].replica.log().fingerprint(..));
    let end = Body::Reconcile(Reconcile {
        ranges: vec![RangeItem { upper: None, mode: same }],
        want: vec![],
        more_want: false,
    });
    assert!(attack(&c, vec![m.frame(1, false, end)]).is_empty());
    // Ops for that session once it is dropped are a frame that was on its way when it ended (a
    // transport may deliver such frames after a reconnection): dropped, and no one is blamed.
    let turn = || Body::Reconcile(Reconcile { ranges: vec![], want: vec![], more_want: false });
    let op = m.valid_op(1);
    let seg = encode_segment([(op.op.id, op.bytes.as_slice(), &op.hash)]).unwrap();
    let ops = || Body::Ops(Ops { segments: vec![seg.clone()], last: Some(1) });
    // A turn after its end is still the sender's fault, and drops the session.
    let errors = attack(&c, vec![m.frame(1, false, turn())]);
    assert_blamed(&errors, |e| matches!(e, NetError::Unexpected { .. }));
    let errors = attack(&c, vec![m.frame(1, false, ops())]);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(!c.peers[0].replica.log().contains(&op.op.id));
    // A session peer 0 never opened is the sender's fault.
    let errors = attack(&c, vec![m.frame(1 << 30, false, turn())]);
    assert_blamed(&errors, |e| matches!(e, NetError::Unexpected { .. }));
    let errors = attack(&c, vec![m.frame(1 << 30, false, ops())]);
    assert_blamed(&errors, |e| matches!(e, NetError::Unexpected { .. }));
    honest_still_sync(&c);
}

#[test]
fn replayed_segment_is_rejected() {
    let (c, mut m) = setup(SyncConfig::default());
    // A valid op, delivered once: accepted like anyone's.
    let op = m.valid_op(4);
    let f = m.push(&[shipped(&op)]);
    c.net.inject(MALLORY(), c.peers[0].id, f.clone());
    c.settle();
    assert!(c.peers[0].replica.log().contains(&op.op.id));
    // The same frame again is taken for a transport's resend: dropped, counted, nobody blamed.
    let duplicates = c.peers[0].engine.stats().duplicates;
    let errors = attack(&c, vec![f.clone()]);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(c.peers[0].engine.stats().duplicates, duplicates + 1);
    // Other bytes under a number already seen are a replay.
    let turn = Body::Reconcile(Reconcile { ranges: vec![], want: vec![], more_want: false });
    let other = encode_frame(m.seq, &Message { session: 1 << 30, initiator: false, body: turn }, usize::MAX).unwrap();
    assert_ne!(other, f);
    let errors = attack(&c, vec![other]);
    assert_blamed(&errors, |e| matches!(e, NetError::Replay { .. }));
    // Re-sent in a new frame for an old session: unexpected.
    let seg = encode_segment([(op.op.id, op.bytes.as_slice(), &op.hash)]).unwrap();
    let errors = attack(&c, vec![m.frame(999, false, Body::Ops(Ops { segments: vec![seg], last: Some(1) }))]);
    assert_blamed(&errors, |e| matches!(e, NetError::Unexpected { .. }));
    honest_still_sync(&c);
}

#[test]
fn forked_chain_is_rejected() {
    let (c, mut m) = setup(SyncConfig::default());
    // Mallory forges another op at a seq of peer 1's chain that peer 0 already holds: without a
    // proof it waits for one, applying nothing; proven by her key, it is not peer 1's.
    let original = c.peers[0].replica.log().ops(..).map(Result::unwrap).find(|o| o.author == c.peers[1].id).unwrap();
    let forged =
        EncodedOp::new(Op { kind: OpKind::Clear, id: OpId { time: original.id.time + 16, ..original.id }, ..original });
    let errors = attack(&c, vec![m.push(&[shipped(&forged)])]);
    assert_eq!(errors, vec![]);
    let signed = m.push_proven(&[shipped(&forged)], &[(forged.op.id, mallory().prove(&forged.hash))]);
    let errors = attack(&c, vec![signed]);
    assert_blamed(&errors, |e| matches!(e, NetError::Log(LogError::BadProof { .. })));
    assert!(c.peers[0].replica.equivocation(&c.peers[1].id).is_none(), "no equivocation of peer 1");
    honest_still_sync(&c);
}

#[test]
fn flood_is_cut_off_for_the_tick() {
    let config = SyncConfig { max_frames_per_tick: 50, ..SyncConfig::default() };
    let (mut c, mut m) = setup(config);
    let frames: Vec<Vec<u8>> = (0..500).map(|_| m.frame(0, true, Body::Ops(Ops::default()))).collect();
    let errors = attack(&c, frames);
    assert_blamed(&errors, |e| matches!(e, NetError::Flood { limit: 50 }));
    assert_eq!(errors.len(), 1, "reported once per tick");
    assert!(c.peers[0].engine.stats().rejected >= 450);
    // Even a valid op is dropped for the rest of the tick ...
    let op = m.valid_op(5);
    let f = m.push(&[shipped(&op)]);
    c.net.inject(MALLORY(), c.peers[0].id, f);
    c.settle();
    assert!(!c.peers[0].replica.log().contains(&op.op.id));
    // ... and honest peers are not affected.
    honest_still_sync(&c);
    // Next tick Mallory is heard again.
    c.now_ms += 1;
    c.tick(0);
    let next = m.valid_op(6);
    let f = m.push(&[shipped(&op), shipped(&next)]);
    c.net.inject(MALLORY(), c.peers[0].id, f);
    c.settle();
    assert!(c.peers[0].replica.log().contains(&op.op.id) && c.peers[0].replica.log().contains(&next.op.id));
}

/// `seg` in pieces of `size` bytes, announcing `total` and the segment's check.
fn pieces_of(seg: &[u8], size: usize, total: u32) -> Vec<Piece> {
    let check = Piece::check_of(seg);
    seg.chunks(size)
        .enumerate()
        .map(|(i, d)| Piece { total, offset: (i * size) as u32, check, data: d.to_vec() })
        .collect()
}

fn piece_frames(m: &mut Mallory, pieces: Vec<Piece>) -> Vec<Vec<u8>> {
    pieces.into_iter().map(|p| m.frame(0, true, Body::Piece(p))).collect()
}

#[test]
fn pieces_over_the_limit_overlapping_or_not_matching_their_check_are_rejected() {
    let limits = FrameLimits { max_op: 8192, ..FrameLimits::default() };
    let (c, mut m) = setup(SyncConfig { limits, ..SyncConfig::default() });
    // A segment larger than the receiver's maximum op size (of an op from another log of
    // Mallory's, so that the one below is seq 1 of this one).
    let big = Value::String("y".repeat(20_000));
    let op = Mallory::new().log.append(OpKind::Put { key: "m".into(), value: big }).unwrap();
    let seg = encode_segment([(op.op.id, op.bytes.as_slice(), &op.hash)]).unwrap();
    let frames = piece_frames(&mut m, pieces_of(&seg, 4000, seg.len() as u32));
    assert_eq!(frames.len(), 6);
    let sent = c.peers[0].engine.stats().frames_sent;
    let errors = attack(&c, frames);
    assert_blamed(&errors, |e| matches!(e, NetError::Log(LogError::TooLarge { what: "segment", .. })));
    assert_eq!(errors.len(), 1, "one error for the segment, not one per piece: {errors:?}");
    assert_eq!(c.peers[0].engine.stats().frames_sent, sent + 1, "and one report to the shipper");
    // Pieces of one segment that overlap with other bytes.
    let small = m.valid_op(1);
    let seg = encode_segment([(small.op.id, small.bytes.as_slice(), &small.hash)]).unwrap();
    let mut overlapping = pieces_of(&seg, 20, seg.len() as u32);
    overlapping[1].offset -= 1;
    let frames = piece_frames(&mut m, overlapping);
    assert_blamed(&attack(&c, frames), |e| matches!(e, NetError::Corrupt { .. }));
    // Pieces that tile a segment other than the one their check names.
    let mut wrong = pieces_of(&seg, 20, seg.len() as u32);
    for p in &mut wrong {
        p.check ^= 1;
    }
    let frames = piece_frames(&mut m, wrong);
    assert_blamed(&attack(&c, frames), |e| matches!(e, NetError::Log(LogError::HashMismatch { .. })));
    // A tampered op under a check of the tampered bytes: the segment is checked whole (the op
    // rebuilt from it is another op, which the proof of the original does not prove).
    let mut bad = small.bytes.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let proof = [(small.op.id, mallory().prove(&small.hash))];
    let tampered = encode_proven_segment([(small.op.id, bad.as_slice(), &small.hash)], &proof).unwrap();
    let frames = piece_frames(&mut m, pieces_of(&tampered, 10, tampered.len() as u32));
    assert!(!attack(&c, frames).is_empty());
    honest_still_sync(&c);
}

#[test]
fn pieces_out_of_order_and_twice_still_make_their_segment() {
    let (c, mut m) = setup(SyncConfig::default());
    let before = c.peers[0].replica.log().len();
    let op = m.valid_op(5);
    let seg = proven_seg(&op);
    let mut pieces = pieces_of(&seg, 16, seg.len() as u32);
    pieces.reverse();
    pieces.insert(2, pieces[0].clone());
    let errors_before = c.errors(0).len();
    for f in piece_frames(&mut m, pieces) {
        c.net.inject(MALLORY(), c.peers[0].id, f);
    }
    c.settle();
    assert_eq!(&c.errors(0)[errors_before..], &[] as &[NetError]);
    assert_eq!(c.peers[0].replica.log().len(), before + 1);
}

/// Three ops peer 2 writes while cut off from the others (Mallory relays them); then the
/// clock is peer 0's again.
fn written_cut_off(c: &Cluster) -> Vec<EncodedOp> {
    c.net.disconnect(c.peers[0].id, c.peers[2].id);
    c.net.disconnect(c.peers[1].id, c.peers[2].id);
    let honest = (0..3).map(|i| c.write(2, OpKind::Put { key: format!("h{i}"), value: Value::Int(i) })).collect();
    c.enter(0);
    honest
}

#[test]
fn a_bad_segment_does_not_cost_the_segments_after_it_nor_other_authors() {
    let (c, mut m) = setup(SyncConfig::default());
    let before = c.peers[0].replica.log().len();
    // Peer 2 writes while cut off; Mallory relays those ops in one segment with an op of its own
    // and a fork of peer 1's chain. Then a garbage segment and a good one in one frame.
    let honest = written_cut_off(&c);
    let mine = m.valid_op(7);
    // A second op at peer 1's first seq, which peer 0 already holds: a fork of peer 1's chain.
    let original = c.peers[0].replica.log().ops(..).map(Result::unwrap).find(|o| o.author == c.peers[1].id).unwrap();
    let forged =
        EncodedOp::new(Op { kind: OpKind::Clear, id: OpId { time: original.id.time + 16, ..original.id }, ..original });
    let mut mixed: Vec<(OpId, Vec<u8>, Hash)> = honest.iter().map(shipped).collect();
    mixed.push(shipped(&mine));
    mixed.push(shipped(&forged));
    mixed.sort_by_key(|o| o.0);
    // Peer 2's ops go with peer 2's proof of the last one, as any relay passes it on; the fork
    // with Mallory's proof of it.
    let last = honest.last().unwrap().op.id;
    let proof = c.peers[2].replica.proof_of(&last).unwrap();
    let f1 = m.push_proven(&mixed, &[(last, proof), (forged.op.id, mallory().prove(&forged.hash))]);
    let errors_before = c.errors(0).len();
    c.net.inject(MALLORY(), c.peers[0].id, f1);
    c.settle();
    // Peer 2's ops and Mallory's genuine op applied; only the fork was refused.
    let log = c.peers[0].replica.log();
    assert_eq!(log.len(), before + 4, "peer 2's three ops and Mallory's genuine one");
    drop(log);
    let errors = &c.errors(0)[errors_before..];
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].peer(), Some(MALLORY()));
    // A garbage segment, then a good one, in one frame: the good one applies.
    let next = m.valid_op(9);
    let good = proven_seg(&next);
    let f2 = m.frame(0, true, Body::Ops(Ops { segments: vec![b"garbage".to_vec(), good], last: None }));
    c.net.inject(MALLORY(), c.peers[0].id, f2);
    c.settle();
    assert_eq!(c.peers[0].replica.log().len(), before + 5);
}

/// The bytes of an equivocation proof of `runs` and `proofs`, whether or not they prove anything
/// (`docs/formats.md`: the magic, the version, then the postcard body).
fn proof_bytes(runs: [&[&EncodedOp]; 2], proofs: [Proof; 2]) -> Vec<u8> {
    let runs = runs.map(|r| r.iter().map(|o| o.bytes.clone()).collect::<Vec<_>>());
    let mut bytes = b"AUeq\x01".to_vec();
    bytes.extend(postcard::to_allocvec(&(runs, proofs)).unwrap());
    bytes
}

/// Forged equivocation proofs (a bad signature, one op twice, ops of two authors, a fork of
/// an honest peer signed by another key, bytes that are no proof) are dropped whole and blamed
/// on the peer that sent them: no author is frozen, nothing changes. Mallory's true proof of her
/// own fork is taken like anyone's.
#[test]
fn forged_equivocation_proofs_are_dropped_and_blamed_on_their_sender() {
    let (c, mut m) = setup(SyncConfig::default());
    let honest = c.peers[1].id;
    let original = c.peers[0].replica.log().ops(..).map(Result::unwrap).find(|o| o.author == honest).unwrap();
    let original = EncodedOp::new(original);
    let other = EncodedOp::new(Op {
        kind: OpKind::Clear,
        id: OpId { time: original.op.id.time + 16, ..original.op.id },
        ..original.op.clone()
    });
    let mine = m.valid_op(1);
    let twin = EncodedOp::new(Op { kind: OpKind::Clear, ..mine.op.clone() });
    let p = |o: &EncodedOp| mallory().prove(&o.hash);
    let true_proof = proof_bytes([&[&mine], &[&twin]], [p(&mine), p(&twin)]);
    let mut bad_sig = true_proof.clone();
    let last = bad_sig.len() - 1;
    bad_sig[last] ^= 1;
    let forgeries = [
        bad_sig,
        proof_bytes([&[&mine], &[&mine]], [p(&mine), p(&mine)]),
        proof_bytes([&[&mine], &[&other]], [p(&mine), p(&other)]),
        proof_bytes([&[&original], &[&other]], [p(&original), p(&other)]),
        b"AUeq\x01junk".to_vec(),
    ];
    for forged in forgeries {
        let errors = attack(&c, vec![m.frame(0, true, Body::Equivocation(forged))]);
        assert_blamed(&errors, |e| matches!(e, NetError::Log(LogError::BadProof { .. } | LogError::Corrupt { .. })));
        assert!(c.peers[0].replica.equivocation(&honest).is_none());
        assert!(c.peers[0].replica.equivocation(&MALLORY()).is_none());
    }
    let before = c.errors(0).len();
    c.net.inject(MALLORY(), c.peers[0].id, m.frame(0, true, Body::Equivocation(true_proof)));
    c.settle();
    assert_eq!(c.peers[0].replica.equivocation(&MALLORY()).map(|e| e.fork().seq), Some(1));
    let errors = &c.errors(0)[before..];
    assert!(matches!(errors, [e] if matches!(e.inner(), NetError::Equivocation { seq: 1, .. })), "{errors:?}");
    // Passed on: the other peers know it too, and everyone still syncs.
    for i in 1..3 {
        assert!(c.peers[i].replica.equivocation(&MALLORY()).is_some(), "peer {i}");
    }
    honest_still_sync(&c);
}

/// Mallory pushes a segment holding ops of peer 2 and the other branch of a fork of her own
/// chain (peer 0 holds the first): the fork freezes her, and peer 2's ops of the same segment
/// apply. Rejection hits only the guilty.
#[test]
fn a_fork_in_a_segment_costs_only_its_author() {
    let (c, mut m) = setup(SyncConfig::default());
    let honest = written_cut_off(&c);
    let first = m.valid_op(1);
    c.net.inject(MALLORY(), c.peers[0].id, m.push(&[shipped(&first)]));
    c.settle();
    let a = m.valid_op(2);
    c.net.inject(MALLORY(), c.peers[0].id, m.push(&[shipped(&a)]));
    c.settle();
    assert!(c.peers[0].replica.log().contains(&a.op.id));
    // Branch B: another op at seq 2, after the same first op.
    let b = EncodedOp::new(Op { id: OpId { time: a.op.id.time + 5, ..a.op.id }, kind: OpKind::Clear, ..a.op.clone() });
    let mut mixed: Vec<(OpId, Vec<u8>, Hash)> = honest.iter().map(shipped).collect();
    mixed.push(shipped(&b));
    mixed.sort_by_key(|o| o.0);
    let last = honest.last().unwrap().op.id;
    let proof = c.peers[2].replica.proof_of(&last).unwrap();
    let before = c.errors(0).len();
    c.net.inject(MALLORY(), c.peers[0].id, m.push_proven(&mixed, &[(last, proof)]));
    c.settle();
    let log = c.peers[0].replica.log();
    assert!(honest.iter().all(|o| log.contains(&o.op.id)), "peer 2's ops of the segment applied");
    assert!(log.contains(&first.op.id) && !log.contains(&a.op.id) && !log.contains(&b.op.id));
    assert_eq!(log.equivocation(&MALLORY()).map(|e| e.fork().seq), Some(2));
    drop(log);
    let errors = &c.errors(0)[before..];
    assert!(matches!(errors, [e] if matches!(e.inner(), NetError::Equivocation { seq: 2, .. })), "{errors:?}");
}

/// Every op at a multiple of the proof interval must carry its own proof: a run longer than the
/// interval proven at its end only, or with a forged or misplaced proof of such an op, is refused
/// whole, blamed on its sender and naming its author; with its proofs it goes in.
#[test]
fn a_missing_or_forged_interval_proof_is_rejected() {
    let (c, mut m) = setup(SyncConfig::default());
    let k = auroradb_log::PROOF_INTERVAL;
    let ops: Vec<EncodedOp> = (0..k + 20).map(|i| m.valid_op(i as i64)).collect();
    let at = (k - 1) as usize;
    let whole: Vec<_> = ops.iter().map(shipped).collect();
    let bad_proof =
        |e: &NetError| matches!(e, NetError::Log(LogError::BadProof { author, .. }) if *author == MALLORY());
    // Proven at its end only.
    let frame = m.push(&whole);
    assert_blamed(&attack(&c, vec![frame]), bad_proof);
    // A forged proof of the op at the interval, or another op's proof under its id.
    let mut forged = mallory().prove(&ops[at].hash);
    forged.sig.0[7] ^= 1;
    let misplaced = mallory().prove(&ops[at - 1].hash);
    for proof in [forged, misplaced] {
        let frame = m.push_proven(&whole, &[(ops[at].op.id, proof)]);
        assert_blamed(&attack(&c, vec![frame]), bad_proof);
    }
    assert!(!c.peers[0].replica.log().heads().contains_key(&MALLORY()));
    // With it, the run goes in, and peer 0 keeps the proof to pass on.
    let frame = m.push_proven(&whole, &[(ops[at].op.id, mallory().prove(&ops[at].hash))]);
    c.net.inject(MALLORY(), c.peers[0].id, frame);
    c.settle();
    assert_eq!(c.peers[0].replica.log().heads()[&MALLORY()].seq, k + 20);
    assert_eq!(c.peers[0].replica.proof_of(&ops[at].op.id), Some(mallory().prove(&ops[at].hash)));
    honest_still_sync(&c);
}

#[test]
fn a_peer_asking_for_the_whole_log_in_session_after_session_is_shipped_it_within_the_budget() {
    let (mut c, mut m) = setup(SyncConfig { auto_sync: false, ..SyncConfig::default() });
    let held = c.peers[0].replica.below(None).count;
    let limit = 2 * held + SHIP_SLACK;
    // "I hold nothing", in a session of Mallory's: a 21-byte frame that asks for every op.
    let nothing = || {
        Body::Reconcile(Reconcile {
            ranges: vec![RangeItem { upper: None, mode: Mode::IdList(vec![]) }],
            want: vec![],
            more_want: false,
        })
    };
    let sessions = limit / held + 50;
    let sent = |c: &Cluster| c.peers[0].engine.stats().ops_sent;
    let before = sent(&c);
    let frames = (1..=sessions).map(|sid| m.frame(sid as u32, true, nothing())).collect();
    let errors = attack(&c, frames);
    assert_blamed(&errors, |e| matches!(e, NetError::Reshipping { .. }));
    assert_eq!(errors.len(), 1, "reported once in the window: {errors:?}");
    let shipped = sent(&c) - before;
    assert!(shipped <= limit && shipped > limit - held, "{shipped} ops shipped, the budget is {limit}");
    honest_still_sync(&c);
    // A minute later, she is shipped what she asks for again.
    c.now_ms += 60_000;
    c.tick(0);
    let before = sent(&c);
    assert!(attack(&c, vec![m.frame(sessions as u32 + 1, true, nothing())]).is_empty());
    assert!(sent(&c) - before >= held, "shipped again once the window passed");
}
