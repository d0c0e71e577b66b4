//! [`Equivocation`]: the proof that an author signed two different ops at one seq, which a peer
//! holding neither op can check on its own.
//!
//! An author signs its chain head, not each op, so the op at the fork may not carry a signature
//! of its own: each side of the proof is a **run** of the author's ops from the fork's seq up to
//! a signed op, whose signature covers the run through the hash chain. Both runs start at the
//! same seq with the same `prev` (the fork is exactly there: the ops before it are the author's
//! one history) and with different hashes.
//!
//! ```text
//! +------+---------+------------------------------------------------------------+
//! | AUeq | version | postcard { runs: [[op bytes], [op bytes]], proofs: [Proof; 2] } |
//! | 4 B  | 1 B     |                                                              |
//! +------+---------+------------------------------------------------------------+
//! ```

use serde::{Deserialize, Serialize};

use crate::codec::{decode_blob, encode_blob};
use crate::{EncodedOp, Hash, LogError, OpId, PeerId, Proof, Result};

/// Magic of an equivocation proof.
pub const MAGIC_EQUIVOCATION: [u8; 4] = *b"AUeq";

/// The most ops one run of an equivocation proof may hold.
pub const MAX_EVIDENCE_OPS: usize = 1024;

/// Where an author's chain forks, as an [`Equivocation`] proves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fork {
    /// The author.
    pub author: PeerId,
    /// The seq at which the author signed two different ops.
    pub seq: u64,
    /// The hash of the author's op before the fork (both ops name it as `prev`; zero at seq 1):
    /// the proof proves the author's ops up to that one.
    pub prev: Hash,
    /// The ids of the two ops at the fork, the smaller first (equal when one id has two bodies).
    pub ids: [OpId; 2],
}

/// An equivocation proof: its encoded bytes (what peers pass on) and the fork they prove, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Equivocation {
    bytes: Vec<u8>,
    fork: Fork,
    runs: [(Vec<EncodedOp>, Proof); 2],
}

#[derive(Serialize, Deserialize)]
struct Wire {
    runs: [Vec<serde_bytes::ByteBuf>; 2],
    proofs: [Proof; 2],
}

impl Equivocation {
    /// The proof made of two runs of ops (each from the fork's seq up to the op its proof
    /// signs), checked as a receiver checks it. The runs are stored in the order of their first
    /// op's hash, so one fork proven by the same runs has one encoding.
    pub fn new(a: (&[EncodedOp], Proof), b: (&[EncodedOp], Proof)) -> Result<Equivocation> {
        let (a, b) = if b.0.first().map(|o| o.hash) < a.0.first().map(|o| o.hash) { (b, a) } else { (a, b) };
        let run = |r: &[EncodedOp]| r.iter().map(|o| serde_bytes::ByteBuf::from(o.bytes.clone())).collect();
        let bytes = encode_blob(MAGIC_EQUIVOCATION, &Wire { runs: [run(a.0), run(b.0)], proofs: [a.1, b.1] });
        Equivocation::decode(bytes)
    }

    /// Decodes and checks a proof: each run decodes into ops of one author that follow each
    /// other (consecutive seqs, each `prev` the hash of the op before, ascending ids), both runs
    /// start at one seq with one `prev` and differ there, and each run's last op is proven by
    /// its proof. Anything else is an error, and nothing of the proof counts.
    pub fn decode(bytes: Vec<u8>) -> Result<Equivocation> {
        let wire: Wire = decode_blob("equivocation", MAGIC_EQUIVOCATION, &bytes)?;
        let bad = |reason: &str| LogError::corrupt("equivocation", reason);
        let mut runs: Vec<(Vec<EncodedOp>, Proof)> = Vec::with_capacity(2);
        for (run, proof) in wire.runs.into_iter().zip(&wire.proofs) {
            if run.is_empty() || run.len() > MAX_EVIDENCE_OPS {
                return Err(bad("a run is empty or too long"));
            }
            let ops = run.into_iter().map(|b| EncodedOp::decode(b.into_vec())).collect::<Result<Vec<_>>>()?;
            for w in ops.windows(2) {
                let (x, y) = (&w[0].op, &w[1].op);
                if y.author != x.author || y.seq != x.seq + 1 || y.prev != w[0].hash || y.id <= x.id {
                    return Err(bad("a run's ops do not follow each other"));
                }
            }
            let last = ops.last().expect("not empty");
            proof.check(last.op.author, &last.hash)?;
            runs.push((ops, *proof));
        }
        let (a, b) = (&runs[0].0[0], &runs[1].0[0]);
        if a.op.author != b.op.author {
            return Err(bad("the runs are of two authors"));
        }
        if a.op.seq != b.op.seq || a.op.prev != b.op.prev {
            return Err(bad("the runs do not start at one seq after one op"));
        }
        if a.hash == b.hash {
            return Err(bad("the runs start with the same op"));
        }
        let ids = [a.op.id.min(b.op.id), a.op.id.max(b.op.id)];
        let fork = Fork { author: a.op.author, seq: a.op.seq, prev: a.op.prev, ids };
        // Without `expect`, whose message would format the runs: the float formatting that
        // brings is a few KB of the browser's module.
        let Ok(runs) = <[(Vec<EncodedOp>, Proof); 2]>::try_from(runs) else { unreachable!() };
        Ok(Equivocation { bytes, fork, runs })
    }

    /// A run of the proof (from the fork on, up to a signed op) and the proof of its last op:
    /// it proves the op before the fork too (`fork().prev`), through its first op's `prev`.
    pub fn run(&self) -> (&[EncodedOp], Proof) {
        (&self.runs[0].0, self.runs[0].1)
    }

    /// The fork it proves.
    pub fn fork(&self) -> &Fork {
        &self.fork
    }

    /// Its encoding.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Identity, Op, OpKind, Value};

    const T0: u64 = 1_700_000_000_000;

    fn op(who: &Identity, ms: u64, seq: u64, prev: Hash, v: i64) -> EncodedOp {
        let kind = OpKind::Put { key: "k".into(), value: Value::Int(v) };
        EncodedOp::new(Op { id: OpId::from_millis(T0 + ms, who.peer()), author: who.peer(), seq, prev, kind })
    }

    /// A common op at seq 1, then branch A (two ops) and branch B (one op) at seq 2.
    fn forked(who: &Identity) -> (EncodedOp, Vec<EncodedOp>, Vec<EncodedOp>) {
        let base = op(who, 1, 1, Hash::ZERO, 0);
        let a2 = op(who, 2, 2, base.hash, 1);
        let a3 = op(who, 3, 3, a2.hash, 2);
        let b2 = op(who, 5, 2, base.hash, 9);
        (base, vec![a2, a3], vec![b2])
    }

    #[test]
    fn a_proof_names_the_fork_and_round_trips() {
        let mallory = Identity::from_secret(&[5; 32]);
        let (base, a, b) = forked(&mallory);
        let eq = Equivocation::new((&a, mallory.prove(&a[1].hash)), (&b, mallory.prove(&b[0].hash))).unwrap();
        let fork = *eq.fork();
        assert_eq!((fork.author, fork.seq, fork.prev), (mallory.peer(), 2, base.hash));
        assert_eq!(fork.ids, [a[0].op.id, b[0].op.id]);
        assert_eq!(Equivocation::decode(eq.bytes().to_vec()).unwrap(), eq);
        // The order of the runs does not change the proof.
        let again = Equivocation::new((&b, mallory.prove(&b[0].hash)), (&a, mallory.prove(&a[1].hash))).unwrap();
        assert_eq!(again, eq);
        assert_eq!(&eq.bytes()[..5], b"AUeq\x01");
    }

    #[test]
    fn one_id_with_two_bodies_is_a_fork_too() {
        let mallory = Identity::from_secret(&[5; 32]);
        let (base, a, _) = forked(&mallory);
        let twin = EncodedOp::new(Op { kind: OpKind::Clear, ..a[0].op.clone() });
        let eq = Equivocation::new(
            (&a[..1], mallory.prove(&a[0].hash)),
            (std::slice::from_ref(&twin), mallory.prove(&twin.hash)),
        )
        .unwrap();
        assert_eq!(eq.fork().ids, [a[0].op.id; 2]);
        assert_eq!(eq.fork().prev, base.hash);
    }

    #[test]
    fn forged_proofs_are_refused() {
        let mallory = Identity::from_secret(&[5; 32]);
        let bob = Identity::from_secret(&[6; 32]);
        let (base, a, b) = forked(&mallory);
        let pa = mallory.prove(&a[1].hash);
        let pb = mallory.prove(&b[0].hash);
        // A bad signature, or one by another key.
        let mut bad = pb;
        bad.sig.0[3] ^= 1;
        assert!(matches!(Equivocation::new((&a, pa), (&b, bad)), Err(LogError::BadProof { .. })));
        assert!(matches!(Equivocation::new((&a, pa), (&b, bob.prove(&b[0].hash))), Err(LogError::BadProof { .. })));
        // The same op twice.
        assert!(Equivocation::new((&a, pa), (&a, pa)).is_err());
        // Ops of two authors.
        let other = op(&bob, 5, 2, base.hash, 9);
        assert!(Equivocation::new((&a, pa), (std::slice::from_ref(&other), bob.prove(&other.hash))).is_err());
        // Two ops at different seqs, or after different ops.
        assert!(Equivocation::new((&a[1..], pa), (&b, pb)).is_err());
        let elsewhere = op(&mallory, 5, 2, Hash([3; 32]), 9);
        assert!(
            Equivocation::new((&a, pa), (std::slice::from_ref(&elsewhere), mallory.prove(&elsewhere.hash))).is_err()
        );
        // A run with a hole, or an empty one.
        let hole = vec![base.clone(), a[1].clone()];
        assert!(Equivocation::new((&hole, pa), (&b, pb)).is_err());
        assert!(Equivocation::new((&[], pa), (&b, pb)).is_err());
        // Bytes that are not a proof.
        assert!(Equivocation::decode(b"AUeq\x01junk".to_vec()).is_err());
        assert!(matches!(Equivocation::decode(b"AUxx\x01".to_vec()), Err(LogError::BadMagic { .. })));
    }
}
