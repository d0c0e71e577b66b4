//! # auroradb-snapshot
//!
//! AuroraDB's materialized state, pure Rust with no I/O: the [`State`] that shows the log under a
//! conflict [`Strategy`], updated one op at a time in any order (late ops included), its secondary
//! indexes and queries, [`Checkpoint`]s, [`history`] of a key and [`diff`] of two states.
//!
//! ```
//! use auroradb_log::{Hash, Op, OpId, OpKind, PeerId, Step, Value};
//! use auroradb_snapshot::{Checkpoint, SnapshotError, State, StateConfig, Strategy};
//!
//! let (alice, bob) = (PeerId([1; 16]), PeerId([2; 16]));
//! let op = |ms, peer, kind| Op { id: OpId::from_millis(ms, peer), author: peer, seq: 1, prev: Hash::ZERO, kind };
//! let user = |email: &str| Value::map([("email", Value::from(email))]);
//!
//! let config = StateConfig::new(Strategy::Timestamp, alice).with_index("email", true);
//! let mut state = State::new(config.clone());
//! state.apply(&op(10, alice, OpKind::Txn(vec![
//!     Step::Put { key: "u1".into(), value: user("a@x") },
//!     Step::Put { key: "u2".into(), value: user("b@x") },
//! ])));
//! assert_eq!(state.len(), 2);
//!
//! // A local write that would reuse a unique value is refused before it is applied.
//! let dup = op(20, alice, OpKind::Put { key: "u3".into(), value: user("a@x") });
//! assert!(matches!(state.check(&dup), Err(SnapshotError::UniqueViolation { .. })));
//!
//! // A late remote remove, older than the transaction, changes nothing.
//! assert!(state.apply(&op(5, bob, OpKind::Remove { key: "u1".into() })).changes.is_empty());
//!
//! // Checkpoints are hashed; a damaged one is refused.
//! let at = state.high_water().unwrap();
//! let mut bytes = Checkpoint::encode(&state, at, Default::default());
//! assert_eq!(Checkpoint::decode(&bytes, config.clone()).unwrap().state.all(), state.all());
//! bytes[12] ^= 1;
//! assert!(matches!(Checkpoint::decode(&bytes, config), Err(SnapshotError::HashMismatch { .. })));
//! ```

mod checkpoint;
mod diff;
mod error;
mod history;
mod index;
mod order;
mod query;
mod record;
mod rule;
mod shortest;
mod state;
mod strategy;

pub use checkpoint::{Checkpoint, MAGIC_CHECKPOINT};
pub use diff::{Diff, diff};
pub use error::{Result, SnapshotError};
pub use history::{HistoryItem, Outcome, history};
pub use index::IndexSpec;
pub use order::{compare_values, render_value, same_kind};
pub use record::{Entry, KeyRecord, MAGIC_KEY_RECORD};
pub use state::{Applied, Change, MAGIC_STATE_META, State, StateConfig, StateMeta};
pub use strategy::{Candidate, Pick, Resolver, Strategy};
