//! Authorship: an author's signing [`Identity`] (ed25519), the [`AuthorKey`] its author id derives
//! from, and the [`Proof`] that an op (and, through the hash chain, every earlier op of its author)
//! was written by the holder of that key.
//!
//! An author signs the hash of its chain head, never each op: an op's hash covers its `prev`,
//! which is the hash of the author's previous op, so one valid signature on an op proves the
//! author's whole chain up to it. A receiver checks one proof per run of an author's ops.

use core::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::de::{Error as _, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Hash, LogError, PeerId, Result};

/// The blake3 key-derivation context of author ids.
const AUTHOR_CONTEXT: &str = "AuroraDB 2026-11 author id from ed25519 public key";
/// What a proof signs, before the op's hash: a magic and a version of its own, so a signature
/// over an op hash can never be taken for a signature over anything else.
const SIGNED_PREFIX: [u8; 5] = *b"AUpf\x01";

/// An author's public key (ed25519, 32 bytes). The author's [`PeerId`] is derived from it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AuthorKey(#[serde(deserialize_with = "crate::byte_array::deserialize")] pub [u8; 32]);

impl AuthorKey {
    /// The author id this key stands for: the first 16 bytes of blake3's key derivation over the
    /// key, under a context of AuroraDB's own.
    pub fn peer(&self) -> PeerId {
        let derived = blake3::derive_key(AUTHOR_CONTEXT, &self.0);
        let mut id = [0u8; 16];
        id.copy_from_slice(&derived[..16]);
        PeerId(id)
    }

    /// All 64 hex digits.
    pub fn to_hex(&self) -> String {
        crate::peer::hex(&self.0)
    }
}

impl fmt::Debug for AuthorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthorKey({})", crate::peer::hex(&self.0[..4]))
    }
}

/// A signing identity: the secret half of an [`AuthorKey`]. Whoever holds it writes as its
/// author; a database keeps it with its storage.
#[derive(Clone)]
pub struct Identity {
    key: SigningKey,
}

impl Identity {
    /// A fresh identity from the platform's secure random source.
    pub fn generate() -> Identity {
        let mut secret = [0u8; 32];
        getrandom::getrandom(&mut secret).expect("the platform's secure random source");
        Identity::from_secret(&secret)
    }

    /// The identity whose secret key is `secret` (any 32 bytes).
    pub fn from_secret(secret: &[u8; 32]) -> Identity {
        Identity { key: SigningKey::from_bytes(secret) }
    }

    /// The secret key, to keep or to move the identity elsewhere.
    pub fn secret(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The public key.
    pub fn key(&self) -> AuthorKey {
        AuthorKey(self.key.verifying_key().to_bytes())
    }

    /// The author id: [`AuthorKey::peer`] of the public key.
    pub fn peer(&self) -> PeerId {
        self.key().peer()
    }

    /// Signs the op whose hash is `hash` (the author's chain head up to which the proof holds).
    pub fn prove(&self, hash: &Hash) -> Proof {
        Proof { key: self.key(), sig: SigBytes(self.key.sign(&signed_message(hash)).to_bytes()) }
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({:?})", self.peer())
    }
}

fn signed_message(hash: &Hash) -> [u8; 37] {
    let mut msg = [0u8; 37];
    msg[..5].copy_from_slice(&SIGNED_PREFIX);
    msg[5..].copy_from_slice(&hash.0);
    msg
}

/// A signature's 64 bytes (serialized as 64 raw bytes, no length).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SigBytes(pub [u8; 64]);

impl Serialize for SigBytes {
    fn serialize<S: Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(64)?;
        for b in &self.0 {
            t.serialize_element(b)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for SigBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SigBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("64 bytes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> core::result::Result<SigBytes, A::Error> {
                let mut out = [0u8; 64];
                for (i, b) in out.iter_mut().enumerate() {
                    *b = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(i, &self))?;
                }
                Ok(SigBytes(out))
            }
        }
        d.deserialize_tuple(64, V)
    }
}

/// The proof that an op was written by its author: the author's public key and its signature
/// over the op's hash. Because ops are hash-chained, it proves every earlier op of the author too.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    /// The author's public key.
    pub key: AuthorKey,
    /// The ed25519 signature over `"AUpf" 0x01 || op hash`.
    pub sig: SigBytes,
}

impl Proof {
    /// Checks that this proves the op of `author` whose hash is `hash`: the key is the author's
    /// (its derived id is `author`) and the signature is valid (strict ed25519 verification: no
    /// weak keys, no malleable signatures).
    pub fn check(&self, author: PeerId, hash: &Hash) -> Result<()> {
        let bad = |reason| LogError::BadProof { author, reason };
        if self.key.peer() != author {
            return Err(bad("the key is not the author's"));
        }
        let key = VerifyingKey::from_bytes(&self.key.0).map_err(|_| bad("the key is not a valid ed25519 key"))?;
        key.verify_strict(&signed_message(hash), &Signature::from_bytes(&self.sig.0))
            .map_err(|_| bad("the signature does not verify"))
    }
}

impl fmt::Debug for Proof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Proof({:?}, {})", self.key.peer(), crate::peer::hex(&self.sig.0[..4]))
    }
}

/// Every op whose seq is a multiple of this is proven on its own, besides the newest op of each
/// author that a batch brings: a receiver requires its proof and keeps it
/// ([`Log::check_proofs`](crate::Log::check_proofs)), senders and log files carry it. So no peer
/// holds more than this many ops of an author in a row without a signature among them, and each
/// side of a fork reaches a signed op within this many ops: every fork is provable with runs of
/// at most this length ([`Equivocation`](crate::Equivocation)), whatever the branches' lengths.
/// It costs one signature check and 96 bytes per this many ops.
pub const PROOF_INTERVAL: u64 = 256;

const _: () = assert!(PROOF_INTERVAL as usize <= crate::MAX_EVIDENCE_OPS);

/// Whether the op at `seq` of its author's chain must carry its own proof ([`PROOF_INTERVAL`]).
pub fn must_prove(seq: u64) -> bool {
    seq.is_multiple_of(PROOF_INTERVAL)
}

/// The newest id of each author among `ids` (the ops a run's proofs must cover), in author
/// order. Sorted, not looked up author by author: a file of one op by each of 40,000 authors
/// took seconds that way.
pub fn run_ends(ids: impl IntoIterator<Item = crate::OpId>) -> Vec<crate::OpId> {
    let mut all: Vec<crate::OpId> = ids.into_iter().collect();
    crate::sort_by_key(&mut all, |id| (id.peer, *id));
    let mut ends: Vec<crate::OpId> = Vec::new();
    for id in all {
        match ends.last_mut() {
            Some(end) if end.peer == id.peer => *end = id,
            _ => ends.push(id),
        }
    }
    ends
}

/// The proofs a run of ops carries, given as `(id, seq)`: of each author's newest op, and of each
/// op whose seq is a multiple of [`PROOF_INTERVAL`], where `prove` has one (in id order). A
/// receiver applies an author's ops up to a proven one, and one proof proves the ops before it
/// through their chain.
pub fn shipped_proofs(
    ops: impl IntoIterator<Item = (crate::OpId, u64)>,
    prove: &dyn Fn(&crate::OpId) -> Option<Proof>,
) -> Vec<(crate::OpId, Proof)> {
    let mut ids: Vec<crate::OpId> = Vec::new();
    let mut all: Vec<crate::OpId> = Vec::new();
    for (id, seq) in ops {
        if must_prove(seq) {
            ids.push(id);
        }
        all.push(id);
    }
    ids.extend(run_ends(all));
    crate::sort_by_key(&mut ids, |id| *id);
    ids.dedup();
    ids.into_iter().filter_map(|id| Some((id, prove(&id)?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_checks_only_for_its_author_and_hash() {
        let alice = Identity::from_secret(&[1; 32]);
        let bob = Identity::from_secret(&[2; 32]);
        let h = Hash::of(b"op");
        let p = alice.prove(&h);
        p.check(alice.peer(), &h).unwrap();
        assert!(matches!(p.check(bob.peer(), &h), Err(LogError::BadProof { .. })));
        assert!(p.check(alice.peer(), &Hash::of(b"other op")).is_err());
        let mut forged = p;
        forged.sig.0[10] ^= 1;
        assert!(forged.check(alice.peer(), &h).is_err());
        // Bob's key under Alice's id: the id does not derive from it.
        let swapped = Proof { key: bob.key(), sig: bob.prove(&h).sig };
        assert!(swapped.check(alice.peer(), &h).is_err());
    }

    #[test]
    fn ids_derive_from_keys_and_identities_round_trip() {
        let a = Identity::from_secret(&[7; 32]);
        assert_eq!(Identity::from_secret(&a.secret()).peer(), a.peer());
        assert_ne!(Identity::generate().peer(), Identity::generate().peer());
        let p = a.prove(&Hash::ZERO);
        let bytes = postcard::to_allocvec(&p).unwrap();
        assert_eq!(bytes.len(), 96);
        assert_eq!(postcard::from_bytes::<Proof>(&bytes).unwrap(), p);
    }
}
