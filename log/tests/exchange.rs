//! Several peers write and exchange random subsets of their ops. A batch is accepted exactly when
//! it extends every author's chain without a gap; a refused batch changes nothing; every log
//! verifies after every step; and after a full exchange all logs are the same.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use auroradb_log::{EncodedOp, Log, LogConfig, OpId, OpKind, PeerId};
use common::{Rng, T0, kind, log_of, peer};
use proptest::prelude::*;

const PEERS: u8 = 3;

#[derive(Debug, Clone)]
enum Action {
    Write(u8, OpKind),
    /// Send from one peer to another the ops picked by a seed (any subset, gaps included).
    Send(u8, u8, u64),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => (0..PEERS, kind()).prop_map(|(p, k)| Action::Write(p, k)),
        2 => (0..PEERS, 0..PEERS, any::<u64>()).prop_map(|(a, b, s)| Action::Send(a, b, s)),
    ]
}

fn all_ops(log: &Log) -> Vec<EncodedOp> {
    log.range(..).map(|(_, b, _)| EncodedOp::decode(b.to_vec()).expect("held ops decode")).collect()
}

/// Whether `to` must accept `batch`: per author, the ops it lacks continue its chain exactly.
fn acceptable(to: &Log, batch: &[EncodedOp]) -> bool {
    let mut lacking: BTreeMap<PeerId, BTreeSet<u64>> = BTreeMap::new();
    for op in batch.iter().filter(|o| !to.contains(&o.op.id)) {
        lacking.entry(op.op.author).or_default().insert(op.op.seq);
    }
    lacking.iter().all(|(author, seqs)| {
        let have = to.heads().get(author).map_or(0, |h| h.seq);
        seqs.iter().copied().eq(have + 1..have + 1 + seqs.len() as u64)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn peers_exchanging_ops_converge(actions in prop::collection::vec(action(), 1..60)) {
        common::set_clock(T0);
        let config = LogConfig { segment_ops: 4, ..LogConfig::default() };
        let mut logs: Vec<Log> = (0..PEERS).map(|i| log_of(peer(i), config)).collect();
        let mut written: BTreeSet<OpId> = BTreeSet::new();
        for action in actions {
            match action {
                Action::Write(p, kind) => {
                    common::tick(1);
                    written.insert(logs[p as usize].append(kind).unwrap().op.id);
                }
                Action::Send(from, to, seed) => {
                    let mut rng = Rng(seed | 1);
                    let mut batch: Vec<EncodedOp> =
                        all_ops(&logs[from as usize]).into_iter().filter(|_| rng.below(3) != 0).collect();
                    rng.shuffle(&mut batch);
                    let to = &mut logs[to as usize];
                    let (len, fingerprint) = (to.len(), to.fingerprint(..));
                    let expect = acceptable(to, &batch);
                    let lacking = batch.iter().filter(|o| !to.contains(&o.op.id)).map(|o| o.op.id).collect::<BTreeSet<_>>();
                    match to.insert_remote(batch) {
                        Ok(new) => {
                            prop_assert!(expect, "a batch with a gap was accepted");
                            prop_assert_eq!(new.iter().map(|o| o.op.id).collect::<BTreeSet<_>>(), lacking);
                            prop_assert_eq!(to.len(), len + new.len());
                        }
                        Err(e) => {
                            prop_assert!(!expect, "a gap-free batch was refused: {}", e);
                            prop_assert_eq!((to.len(), to.fingerprint(..)), (len, fingerprint));
                        }
                    }
                    prop_assert!(to.verify().is_ok());
                }
            }
        }
        // Everyone sends everything to everyone: whole chains, so every batch is accepted.
        for from in 0..PEERS as usize {
            for to in 0..PEERS as usize {
                let batch = all_ops(&logs[from]);
                logs[to].insert_remote(batch).unwrap();
            }
        }
        for from in 0..PEERS as usize {
            for to in 0..PEERS as usize {
                let batch = all_ops(&logs[from]);
                prop_assert!(logs[to].insert_remote(batch).unwrap().is_empty());
            }
        }
        for log in &logs {
            prop_assert_eq!(log.ids(..).map(|(i, _)| *i).collect::<BTreeSet<_>>(), written.clone());
            prop_assert_eq!(log.fingerprint(..), logs[0].fingerprint(..));
            prop_assert_eq!(log.verify().unwrap(), logs[0].verify().unwrap());
        }
    }
}
