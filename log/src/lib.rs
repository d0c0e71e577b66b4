//! # auroradb-log
//!
//! AuroraDB's operation log, pure Rust with no I/O: hybrid-logical-clock op ids ([`OpId`],
//! [`Hlc`]), the [`Op`] model with per-author blake3 hash chains, the postcard codec with a magic
//! and a format version in front of every blob ([`codec`]), segments ([`segment`]) and range
//! fingerprints answered in O(log n) ([`SumIndex`], [`Log::fingerprint`]).
//!
//! ```
//! use auroradb_log::{Hlc, Log, LogConfig, OpKind, PeerId, Value, system_clock};
//!
//! let config = LogConfig::default();
//! let mut alice = Log::new(Hlc::new(PeerId::random(), system_clock, config.max_drift), config);
//! let mut bob = Log::new(Hlc::new(PeerId::random(), system_clock, config.max_drift), config);
//! let a = alice.append(OpKind::Put { key: "k".into(), value: Value::Int(1) }).unwrap();
//! let b = bob.append(OpKind::Remove { key: "k".into() }).unwrap();
//! alice.insert_remote(vec![b.clone()]).unwrap();
//! bob.insert_remote(vec![a]).unwrap();
//! assert_eq!(alice.fingerprint(..), bob.fingerprint(..));
//! assert_eq!(alice.verify().unwrap().ops, 2);
//! ```

mod byte_array;
pub mod codec;
mod equivocation;
mod error;
mod hash;
mod hlc;
mod id_set;
mod identity;
mod index;
mod log;
mod op;
mod order;
mod peer;
pub mod segment;
mod value;

pub use byte_array::deserialize as deserialize_byte_array;
pub use codec::{EncodedOp, decode_op, encode_op};
pub use equivocation::{Equivocation, Fork, MAGIC_EQUIVOCATION, MAX_EVIDENCE_OPS};
pub use error::{LogError, Result};
pub use hash::{FINGERPRINT_LEN, Fingerprint, Hash, RangeSum, Sum256};
#[cfg(not(target_arch = "wasm32"))]
pub use hlc::system_clock;
pub use hlc::{
    ClockFn, DEFAULT_MAX_DRIFT, Hlc, MAX_MILLIS, OP_ID_LEN, OpId, advance_manual_clock, manual_clock, millis_to_ntp,
    ntp_to_millis, set_manual_clock, split_millis,
};
pub use id_set::IdSet;
pub use identity::{AuthorKey, Identity, PROOF_INTERVAL, Proof, SigBytes, must_prove, run_ends, shipped_proofs};
pub use index::SumIndex;
pub use log::{ChainHead, Conflict, Log, LogConfig, VerifyReport, verify_ops};
pub use op::{Op, OpKind, Step};
pub use order::{sort_by_key, sorted_indices};
pub use peer::PeerId;
pub use uhlc::NTP64;
pub use value::{MAX_VALUE_DEPTH, Value};

/// The default maximum size of one encoded op, in bytes (16 MiB): a database refuses to write a
/// larger op, and sync ships ops up to it (in pieces when larger than a frame).
pub const DEFAULT_MAX_OP: usize = 16 << 20;

/// The largest maximum op size a database or sync engine accepts: 1 GiB (a sync piece's
/// segment length is a u32).
pub const MAX_OP_CEILING: usize = 1 << 30;

/// The smallest maximum op size a database accepts: 8 KiB. Below it, the remove of a key of the
/// longest length (4,096 bytes) would make an op over the limit: a record could be written and
/// never removed.
pub const MAX_OP_FLOOR: usize = 8 << 10;
