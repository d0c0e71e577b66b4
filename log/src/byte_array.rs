//! Byte arrays (`[u8; N]`) read back from serde through one loop.
//!
//! serde writes a `[u8; N]` as a tuple of `N` bytes (in postcard: the `N` bytes as they are) and
//! reads it through a visitor that makes `N` unrolled reads, one copy per array length and
//! format: about 2 KB of wasm for a hash's 32 bytes. [`deserialize`] reads the same tuple, with the
//! same errors, in a loop; the written form is serde's own, so stored and sent bytes do not change.

use core::fmt;

use serde::Deserializer;
use serde::de::{Error, SeqAccess, Visitor};

/// Reads a `[u8; N]` as serde writes it, for `#[serde(deserialize_with = "...")]`.
pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<[u8; N], D::Error> {
    d.deserialize_tuple(N, ArrayVisitor::<N>)
}

struct ArrayVisitor<const N: usize>;

impl<'de, const N: usize> Visitor<'de> for ArrayVisitor<N> {
    type Value = [u8; N];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array of length {N}")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<[u8; N], A::Error> {
        let mut out = [0u8; N];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(i, &self))?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::{AuthorKey, Fingerprint, Hash, PeerId};

    #[test]
    fn reads_what_serde_writes_and_refuses_short_input() {
        let hash = Hash::of(b"x");
        let bytes = postcard::to_allocvec(&hash).unwrap();
        assert_eq!(bytes, hash.0, "serde's form: the 32 bytes as they are");
        assert_eq!(postcard::from_bytes::<Hash>(&bytes).unwrap(), hash);
        assert!(postcard::from_bytes::<Hash>(&bytes[..31]).is_err());
        let fp = Fingerprint([7; 16]);
        assert_eq!(postcard::from_bytes::<Fingerprint>(&postcard::to_allocvec(&fp).unwrap()).unwrap(), fp);
        let peer = PeerId([9; 16]);
        assert_eq!(postcard::from_bytes::<PeerId>(&postcard::to_allocvec(&peer).unwrap()).unwrap(), peer);
        let key = AuthorKey([5; 32]);
        let bytes = postcard::to_allocvec(&key).unwrap();
        assert_eq!(bytes, [5; 32], "an author key: its 32 bytes, as serde writes them");
        assert_eq!(postcard::from_bytes::<AuthorKey>(&bytes).unwrap(), key);
        assert!(postcard::from_bytes::<AuthorKey>(&bytes[..31]).is_err());
    }
}
