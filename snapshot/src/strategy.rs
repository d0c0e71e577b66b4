//! Conflict strategies: the rule that decides, per key, which writes the state shows.
//!
//! | strategy | winner for a key | converges |
//! |---|---|---|
//! | [`Strategy::Timestamp`] (default) | highest HLC | yes |
//! | [`Strategy::Version`] | highest `version` field of the (map) value (missing = 0), HLC breaks ties | yes |
//! | [`Strategy::Merge`] | per top-level field of map values, highest HLC that set it | yes |
//! | [`Strategy::LocalWins`] | latest local op if this peer wrote the key, else latest remote | no |
//! | [`Strategy::RemoteWins`] | latest remote op if any, else latest local | no |
//! | [`Strategy::Custom`] | a [`Resolver`] picks between the current and the incoming write | if the resolver is commutative and associative |
//!
//! In every strategy, `Remove` and `Clear` are tombstones at their HLC: a `Clear` hides every op
//! older than it, and under `timestamp`, `version` and `merge` a `Remove` hides every older op on
//! its key (`merge`: every field set before it), so a late op older than a tombstone stays hidden.

use core::fmt;
use std::sync::Arc;

use auroradb_log::{OpId, PeerId, Value};

use crate::{Result, SnapshotError};

/// One of two writes of a key that a [`Resolver`] chooses between.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate<'a> {
    /// The op's id.
    pub id: OpId,
    /// The op's author.
    pub author: PeerId,
    /// The value written; `None` for a remove.
    pub value: Option<&'a Value>,
    /// Whether the op was written by the local peer.
    pub local: bool,
}

/// Which candidate a [`Resolver`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// Keep the current winner.
    Current,
    /// The incoming write wins.
    Incoming,
}

/// Decides, for a custom strategy, which of two writes of one key wins.
///
/// The state calls `pick` with the key's current winner and each newly applied write (in the
/// order ops arrive, which differs between peers). For peers to converge, the choice must not
/// depend on that order: `pick` must behave like a commutative and associative "max" over the
/// candidates (for example: compare a field, then the id). Ops older than the latest `Clear` never
/// reach the resolver.
///
/// The state keeps only the current winner of each key, not the writes that lost to it: when a
/// `Clear` newer than the winner arrives, the key is empty until its next write, even if a write
/// newer than the clear had lost to the hidden winner.
pub trait Resolver: Send + Sync {
    /// Chooses between the `current` winner of `key` and an `incoming` write.
    fn pick(&self, key: &str, current: &Candidate<'_>, incoming: &Candidate<'_>) -> Pick;
}

/// A conflict strategy.
#[derive(Clone, Default)]
pub enum Strategy {
    /// Highest HLC wins (the default).
    #[default]
    Timestamp,
    /// Highest `version` field wins, HLC breaks ties.
    Version,
    /// Per top-level field, highest HLC wins.
    Merge,
    /// The local peer's latest write wins if it wrote the key.
    LocalWins,
    /// The latest remote write wins if there is one.
    RemoteWins,
    /// A user-supplied rule.
    Custom(Arc<dyn Resolver>),
}

impl Strategy {
    /// The strategy called `name`: `timestamp`, `version`, `merge`, `local-wins` or
    /// `remote-wins`. A custom strategy has no name to look up: build [`Strategy::Custom`].
    pub fn from_name(name: &str) -> Result<Strategy> {
        Ok(match name {
            "timestamp" => Strategy::Timestamp,
            "version" => Strategy::Version,
            "merge" => Strategy::Merge,
            "local-wins" => Strategy::LocalWins,
            "remote-wins" => Strategy::RemoteWins,
            other => return Err(SnapshotError::UnknownStrategy(other.to_owned())),
        })
    }

    /// The strategy's name (`custom` for a custom one).
    pub fn name(&self) -> &str {
        match self {
            Strategy::Timestamp => "timestamp",
            Strategy::Version => "version",
            Strategy::Merge => "merge",
            Strategy::LocalWins => "local-wins",
            Strategy::RemoteWins => "remote-wins",
            Strategy::Custom(_) => "custom",
        }
    }

    /// Whether peers holding the same ops always show the same state under this strategy, whatever
    /// the order the ops arrived in. False for `local-wins` and `remote-wins` (by design) and for
    /// custom resolvers (it depends on the resolver).
    pub fn converges(&self) -> bool {
        matches!(self, Strategy::Timestamp | Strategy::Version | Strategy::Merge)
    }
}

impl fmt::Debug for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Strategy({})", self.name())
    }
}

/// The `version` of a value under [`Strategy::Version`]: its top-level `version` field if that is
/// a number, else 0.
pub(crate) fn version_of(value: &Value) -> &Value {
    static ZERO: Value = Value::Int(0);
    match value.field("version") {
        Some(v @ (Value::Int(_) | Value::Float(_))) => v,
        _ => &ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in ["timestamp", "version", "merge", "local-wins", "remote-wins"] {
            assert_eq!(Strategy::from_name(name).unwrap().name(), name);
        }
        assert_eq!(Strategy::from_name("custom").unwrap_err(), SnapshotError::UnknownStrategy("custom".into()));
        assert_eq!(Strategy::default().name(), "timestamp");
    }

    #[test]
    fn only_the_three_deterministic_rules_converge() {
        let converging: Vec<_> = ["timestamp", "version", "merge", "local-wins", "remote-wins"]
            .into_iter()
            .filter(|n| Strategy::from_name(n).unwrap().converges())
            .collect();
        assert_eq!(converging, ["timestamp", "version", "merge"]);
    }

    #[test]
    fn version_field_defaults_to_zero() {
        assert_eq!(version_of(&Value::map([("version", Value::Int(3))])), &Value::Int(3));
        assert_eq!(version_of(&Value::map([("version", Value::from("3"))])), &Value::Int(0));
        assert_eq!(version_of(&Value::Int(9)), &Value::Int(0));
    }
}
