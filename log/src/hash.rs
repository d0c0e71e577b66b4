//! Hashes, the 256-bit sums that range fingerprints are made of, and fingerprints.

use core::fmt;
use core::ops::{Add, Sub};

use serde::{Deserialize, Serialize};

use crate::peer::hex;

/// A blake3 hash.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Hash(#[serde(deserialize_with = "crate::byte_array::deserialize")] pub [u8; 32]);

impl Hash {
    /// The all-zero hash: the `prev` of an author's first op.
    pub const ZERO: Hash = Hash([0; 32]);

    /// blake3 of `bytes`.
    pub fn of(bytes: &[u8]) -> Hash {
        Hash(*blake3::hash(bytes).as_bytes())
    }

    /// All 64 hex digits.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl fmt::Display for Hash {
    /// The first 8 bytes in hex; `{:#}` shows all 32.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() { f.write_str(&self.to_hex()) } else { f.write_str(&hex(&self.0[..8])) }
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

/// A 256-bit unsigned integer used as a sum of hashes modulo 2^256 (hashes read little-endian).
/// Addition is commutative and invertible, so the sum of a range is a difference of prefix sums.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Sum256(pub [u64; 4]);

impl Sum256 {
    /// Zero.
    pub const ZERO: Sum256 = Sum256([0; 4]);

    /// A hash read as a little-endian 256-bit integer.
    pub fn of_hash(h: &Hash) -> Sum256 {
        let mut limbs = [0u64; 4];
        for (i, limb) in limbs.iter_mut().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&h.0[i * 8..i * 8 + 8]);
            *limb = u64::from_le_bytes(b);
        }
        Sum256(limbs)
    }

    /// The 32 little-endian bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, limb) in self.0.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&limb.to_le_bytes());
        }
        out
    }
}

impl Add for Sum256 {
    type Output = Sum256;
    fn add(self, rhs: Sum256) -> Sum256 {
        let mut out = [0u64; 4];
        let mut carry = false;
        for (i, o) in out.iter_mut().enumerate() {
            let (s1, c1) = self.0[i].overflowing_add(rhs.0[i]);
            let (s2, c2) = s1.overflowing_add(carry as u64);
            *o = s2;
            carry = c1 || c2;
        }
        Sum256(out)
    }
}

impl Sub for Sum256 {
    type Output = Sum256;
    fn sub(self, rhs: Sum256) -> Sum256 {
        let mut out = [0u64; 4];
        let mut borrow = false;
        for (i, o) in out.iter_mut().enumerate() {
            let (d1, b1) = self.0[i].overflowing_sub(rhs.0[i]);
            let (d2, b2) = d1.overflowing_sub(borrow as u64);
            *o = d2;
            borrow = b1 || b2;
        }
        Sum256(out)
    }
}

impl fmt::Debug for Sum256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sum256({})", hex(&self.to_bytes()[..8]))
    }
}

/// Length of a [`Fingerprint`] in bytes.
pub const FINGERPRINT_LEN: usize = 16;

/// The fingerprint of a set of ops: `blake3(sum mod 2^256 of their hashes || count as u64 LE)`,
/// truncated to 16 bytes. Equal sets have equal fingerprints; it does not depend on order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Fingerprint(#[serde(deserialize_with = "crate::byte_array::deserialize")] pub [u8; FINGERPRINT_LEN]);

impl Fingerprint {
    /// The fingerprint of a set with this hash sum and count.
    pub fn new(sum: Sum256, count: u64) -> Fingerprint {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&sum.to_bytes());
        hasher.update(&count.to_le_bytes());
        let mut out = [0u8; FINGERPRINT_LEN];
        out.copy_from_slice(&hasher.finalize().as_bytes()[..FINGERPRINT_LEN]);
        Fingerprint(out)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// A range's summary: how many ops, and the sum of their hashes. Summaries of adjacent ranges
/// add up to the summary of their union.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug, Serialize, Deserialize)]
pub struct RangeSum {
    /// Number of ops.
    pub count: u64,
    /// Sum of their hashes mod 2^256.
    pub sum: Sum256,
}

impl RangeSum {
    /// The summary of one op.
    pub fn one(h: &Hash) -> RangeSum {
        RangeSum { count: 1, sum: Sum256::of_hash(h) }
    }

    /// The range's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::new(self.sum, self.count)
    }
}

impl Add for RangeSum {
    type Output = RangeSum;
    fn add(self, rhs: RangeSum) -> RangeSum {
        RangeSum { count: self.count + rhs.count, sum: self.sum + rhs.sum }
    }
}

impl Sub for RangeSum {
    type Output = RangeSum;
    fn sub(self, rhs: RangeSum) -> RangeSum {
        RangeSum { count: self.count - rhs.count, sum: self.sum - rhs.sum }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Sum256 = Sum256([u64::MAX; 4]);

    #[test]
    fn sums_wrap_modulo_2_pow_256() {
        let one = Sum256([1, 0, 0, 0]);
        assert_eq!(MAX + one, Sum256::ZERO);
        assert_eq!(Sum256::ZERO - one, MAX);
        // Carries and borrows cross limbs.
        assert_eq!(Sum256([u64::MAX, 0, 0, 0]) + one, Sum256([0, 1, 0, 0]));
        assert_eq!(Sum256([0, 0, 0, 1]) - one, Sum256([u64::MAX, u64::MAX, u64::MAX, 0]));
        let a = Sum256::of_hash(&Hash::of(b"a"));
        let b = Sum256::of_hash(&Hash::of(b"b"));
        assert_eq!(a + b - b, a);
        assert_eq!(a + b, b + a);
    }

    #[test]
    fn hashes_read_little_endian() {
        let mut h = Hash::ZERO;
        h.0[0] = 1;
        h.0[8] = 2;
        assert_eq!(Sum256::of_hash(&h), Sum256([1, 2, 0, 0]));
        let h = Hash::of(b"x");
        assert_eq!(Sum256::of_hash(&h).to_bytes(), h.0);
    }

    #[test]
    fn fingerprint_is_truncated_blake3_of_sum_and_count() {
        let h = Hash::of(b"op");
        let rs = RangeSum::one(&h) + RangeSum::one(&h);
        let mut input = Sum256::of_hash(&h).add(Sum256::of_hash(&h)).to_bytes().to_vec();
        input.extend_from_slice(&2u64.to_le_bytes());
        assert_eq!(rs.fingerprint().0[..], blake3::hash(&input).as_bytes()[..FINGERPRINT_LEN]);
        assert_ne!(RangeSum::default().fingerprint(), rs.fingerprint());
        assert_eq!((rs - RangeSum::one(&h)), RangeSum::one(&h));
    }

    #[test]
    fn display_forms() {
        let h = Hash([0xab; 32]);
        assert_eq!(h.to_string(), "abababababababab");
        assert_eq!(format!("{h:#}").len(), 64);
        assert_eq!(format!("{h:?}"), "Hash(abababababababab)");
        assert_eq!(Fingerprint([1; 16]).to_string(), "01".repeat(16));
    }
}
