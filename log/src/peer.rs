//! [`PeerId`]: who wrote an op.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::LogError;

/// A peer's identity: 16 random bytes. Displays as its first 4 bytes in hex (`{:#}` or
/// [`PeerId::to_hex`] give all 16).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PeerId(#[serde(deserialize_with = "crate::byte_array::deserialize")] pub [u8; 16]);

impl PeerId {
    /// A fresh random peer id from the platform's secure random source.
    pub fn random() -> PeerId {
        loop {
            let id = uhlc::ID::rand().to_le_bytes();
            if id != [0; 16] {
                return PeerId(id);
            }
        }
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// All 32 hex digits.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    pub(crate) fn to_uhlc(self) -> uhlc::ID {
        // uhlc ids are non-zero; an all-zero peer id maps to 1 (it never comes from `random`).
        uhlc::ID::try_from(self.0).unwrap_or_else(|_| uhlc::ID::try_from(1u8).expect("1 is non-zero"))
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() { f.write_str(&self.to_hex()) } else { f.write_str(&hex(&self.0[..4])) }
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({})", hex(&self.0[..4]))
    }
}

impl FromStr for PeerId {
    type Err = LogError;

    /// Parses the 32-digit hex form.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || LogError::corrupt("peer id", "expected 32 hex digits");
        if s.len() != 32 || !s.is_ascii() {
            return Err(bad());
        }
        let mut out = [0u8; 16];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(PeerId(out))
    }
}
