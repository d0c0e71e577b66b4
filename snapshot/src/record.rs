//! [`KeyRecord`]: everything the state keeps about one key, and [`Entry`]: what it shows.
//!
//! A record holds the visible entry (if any) plus only what its strategy needs to place later and
//! late ops correctly: the newest tombstone, the field stamps of a merged map, the undominated
//! runners-up of the `version` rule, the other side's latest write for `local-wins` and
//! `remote-wins`. For `timestamp`, `version` and `merge` the record is a function of the set of
//! ops applied to the key, whatever their order (see `rule.rs`).
//!
//! Encoded record (magic `AUkr`), postcard body:
//!
//! ```text
//! +------+---+--------------------------------------------------------+
//! | AUkr | 1 | writes: varint | shown: Option<(OpId, Value)> | rule  |
//! +------+---+--------------------------------------------------------+
//! ```

use std::collections::BTreeMap;

use auroradb_log::{OpId, PeerId, Value};
use serde::{Deserialize, Serialize};

use crate::error::{body, decode, encode};
use crate::order::compare_values;
use crate::strategy::version_of;
use crate::{Result, SnapshotError, Strategy};

/// Magic of an encoded [`KeyRecord`].
pub const MAGIC_KEY_RECORD: [u8; 4] = *b"AUkr";

/// A visible record: what `get` returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The value shown.
    pub value: Value,
    /// The winning op: the latest op that contributed to the value.
    pub id: OpId,
    /// That op's author.
    pub author: PeerId,
    /// How many ops (puts and removes, a transaction counting once) have written this key so
    /// far, over its whole history.
    pub version: u64,
}

/// Everything the state keeps about one key, visible or deleted: enough to apply later and late
/// ops incrementally. The database persists one per key (see [`crate::Applied::touched`]).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RecordRepr")]
pub struct KeyRecord {
    pub(crate) writes: u64,
    pub(crate) entry: Option<Entry>,
    pub(crate) rule: Rule,
}

/// The strategy-specific part of a record. The winner, when it is a put, lives in the record's
/// entry; everything else a strategy needs lives here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Rule {
    /// The entry is the latest op if that is a put; `removed` is the latest op if it is a remove.
    Timestamp { removed: Option<OpId> },
    /// `removed` is the newest remove. The live puts (newer than it) that no newer put with an
    /// equal or higher version dominates form a frontier: ids ascending, versions strictly
    /// descending. Its first element is the entry; `runners` are the rest.
    Version { removed: Option<OpId>, runners: Vec<(OpId, Value)> },
    /// `barrier` is the newest remove or non-map put. `last_map` is the newest map put after it;
    /// `fields` stamps each shown field with the newest map put (after the barrier) that set it.
    /// With `last_map`, the entry is the map of those fields; without, it is the barrier's value
    /// if the barrier is a non-map put, else nothing.
    Merge { barrier: Option<OpId>, last_map: Option<OpId>, fields: BTreeMap<String, OpId> },
    /// `local-wins` / `remote-wins`: the winner is the latest op of the preferred side if it has
    /// one, else of the other side (the entry if a put, `removed` if a remove). `other` is the
    /// latest op of the side not shown (`None` value: a remove).
    Sided { removed: Option<OpId>, other: Option<(OpId, Option<Value>)> },
    /// The resolver's current winner: the entry if a put, `removed` if a remove.
    Custom { removed: Option<OpId> },
}

impl Rule {
    pub(crate) fn empty(strategy: &Strategy) -> Rule {
        match strategy {
            Strategy::Timestamp => Rule::Timestamp { removed: None },
            Strategy::Version => Rule::Version { removed: None, runners: Vec::new() },
            Strategy::Merge => Rule::Merge { barrier: None, last_map: None, fields: BTreeMap::new() },
            Strategy::LocalWins | Strategy::RemoteWins => Rule::Sided { removed: None, other: None },
            Strategy::Custom(_) => Rule::Custom { removed: None },
        }
    }

    /// Whether a record with this rule can belong to a state under `strategy`.
    pub(crate) fn fits(&self, strategy: &Strategy) -> bool {
        matches!(
            (self, strategy),
            (Rule::Timestamp { .. }, Strategy::Timestamp)
                | (Rule::Version { .. }, Strategy::Version)
                | (Rule::Merge { .. }, Strategy::Merge)
                | (Rule::Sided { .. }, Strategy::LocalWins | Strategy::RemoteWins)
                | (Rule::Custom { .. }, Strategy::Custom(_))
        )
    }
}

impl KeyRecord {
    /// An empty record for a key under `strategy`.
    pub(crate) fn new(strategy: &Strategy) -> KeyRecord {
        KeyRecord { writes: 0, entry: None, rule: Rule::empty(strategy) }
    }

    /// The visible entry, `None` if the key is deleted.
    pub fn entry(&self) -> Option<Entry> {
        self.entry.clone()
    }

    /// The visible entry by reference.
    pub fn visible(&self) -> Option<&Entry> {
        self.entry.as_ref()
    }

    /// How many ops have written the key (see [`Entry::version`]).
    pub fn writes(&self) -> u64 {
        self.writes
    }

    /// Encodes the record (magic `AUkr` + format version + postcard body).
    pub fn encode(&self) -> Vec<u8> {
        encode(MAGIC_KEY_RECORD, self)
    }

    /// Decodes a record made by [`KeyRecord::encode`]. Bad bytes and records whose parts do not
    /// fit together are typed errors.
    pub fn decode(bytes: &[u8]) -> Result<KeyRecord> {
        decode("key record", MAGIC_KEY_RECORD, bytes)
    }

    /// Where the visible value's encoding (the log's value encoding) starts in `bytes`, a record
    /// made by [`KeyRecord::encode`]; `None` if the key shows nothing or the bytes are not such a
    /// record. A reader that keeps values in its own form takes the value from there without
    /// decoding the record (the browser's `state` store builds its readable record so).
    pub fn shown_value_at(bytes: &[u8]) -> Option<usize> {
        let body = body("key record", MAGIC_KEY_RECORD, bytes).ok()?;
        // writes: varint, shown: Option<(id, value)>, an id being (time: varint, peer: [16]).
        let mut at = skip_varint(body, 0)?;
        if *body.get(at)? != 1 {
            return None;
        }
        at = skip_varint(body, at + 1)? + 16;
        (at < body.len()).then_some(bytes.len() - body.len() + at)
    }

    /// Whether the key's visible value holds something written by op `id` (the entry's op, or a
    /// merged field it set).
    pub(crate) fn shows(&self, id: OpId) -> bool {
        if self.entry.as_ref().is_some_and(|e| e.id == id) {
            return true;
        }
        match &self.rule {
            Rule::Merge { fields, .. } => fields.values().any(|f| *f == id),
            _ => false,
        }
    }

    /// The op whose outcome the record shows: the visible entry's, or the remove that hides the
    /// key (`None` for a key hidden by a clear, or never written).
    pub fn shown_by(&self) -> Option<OpId> {
        self.entry.as_ref().map(|e| e.id).or_else(|| self.deleted_by())
    }

    /// The remove that hides the key, if it is hidden by one (not by a clear, not never written).
    pub(crate) fn deleted_by(&self) -> Option<OpId> {
        if self.entry.is_some() {
            return None;
        }
        match &self.rule {
            Rule::Timestamp { removed }
            | Rule::Version { removed, .. }
            | Rule::Sided { removed, .. }
            | Rule::Custom { removed } => *removed,
            Rule::Merge { barrier, .. } => *barrier,
        }
    }

    /// Sets the entry for a winning op, keeping `version` in step with the write count.
    pub(crate) fn show(&mut self, id: OpId, value: Value) {
        self.entry = Some(Entry { value, id, author: id.peer, version: self.writes });
    }

    /// Counts one more write of the key.
    pub(crate) fn count_write(&mut self) {
        self.writes = self.writes.saturating_add(1);
        if let Some(e) = &mut self.entry {
            e.version = self.writes;
        }
    }

    /// Checks that the parts of a decoded record fit together.
    fn validate(&self) -> Result<()> {
        let bad = |reason: &str| Err(SnapshotError::corrupt("key record", reason));
        let shown = self.entry.as_ref().map(|e| e.id);
        match &self.rule {
            Rule::Timestamp { removed } | Rule::Custom { removed } | Rule::Sided { removed, .. } => {
                if removed.is_some() && shown.is_some() {
                    return bad("both a shown value and a remove as the winner");
                }
                if let Rule::Sided { other: Some(_), .. } = &self.rule
                    && shown.or(*removed).is_none()
                {
                    return bad("a second side without a winner");
                }
            }
            Rule::Version { removed, runners } => {
                let Some(head) = &self.entry else {
                    return if runners.is_empty() { Ok(()) } else { bad("runners-up without a winner") };
                };
                if removed.is_some_and(|r| head.id < r) {
                    return bad("winner older than the remove");
                }
                let mut prev = (head.id, &head.value);
                for (id, value) in runners {
                    if *id <= prev.0 || compare_values(version_of(value), version_of(prev.1)).is_ge() {
                        return bad("runners-up out of order");
                    }
                    prev = (*id, value);
                }
            }
            Rule::Merge { barrier, last_map, fields } => match (last_map, &self.entry) {
                (Some(m), Some(e)) => {
                    let Value::Map(shown_fields) = &e.value else { return bad("merged value is not a map") };
                    if e.id != *m || barrier.is_some_and(|b| *m < b) {
                        return bad("merged map stamp out of place");
                    }
                    if shown_fields.len() != fields.len()
                        || fields.iter().any(|(name, id)| {
                            *id > *m || barrier.is_some_and(|b| *id < b) || !shown_fields.contains_key(name)
                        })
                    {
                        return bad("field stamps do not match the shown map");
                    }
                }
                (Some(_), None) => return bad("merged map stamp without a value"),
                (None, shown) => {
                    if !fields.is_empty() {
                        return bad("field stamps without a merged map");
                    }
                    if let Some(e) = shown
                        && (Some(e.id) != *barrier || matches!(e.value, Value::Map(_)))
                    {
                        return bad("whole value out of place");
                    }
                }
            },
        }
        if let Some(e) = &self.entry
            && (e.version != self.writes || e.author != e.id.peer || self.writes == 0)
        {
            return bad("entry does not match the record");
        }
        Ok(())
    }
}

/// The stored form: the entry without its derived parts (author is the id's peer, version is the
/// write count).
#[derive(Deserialize)]
struct RecordRepr {
    writes: u64,
    shown: Option<(OpId, Value)>,
    rule: Rule,
}

/// [`RecordRepr`] by reference, so encoding clones nothing. Same wire form.
#[derive(Serialize)]
struct RecordReprRef<'a> {
    writes: u64,
    shown: Option<(OpId, &'a Value)>,
    rule: &'a Rule,
}

/// The position after the varint at `at`, if it ends within `bytes`.
fn skip_varint(bytes: &[u8], at: usize) -> Option<usize> {
    let len = bytes.get(at..)?.iter().position(|b| b & 0x80 == 0)?;
    Some(at + len + 1)
}

impl Serialize for KeyRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> core::result::Result<S::Ok, S::Error> {
        RecordReprRef { writes: self.writes, shown: self.entry.as_ref().map(|e| (e.id, &e.value)), rule: &self.rule }
            .serialize(serializer)
    }
}

impl TryFrom<RecordRepr> for KeyRecord {
    type Error = SnapshotError;

    fn try_from(r: RecordRepr) -> Result<Self> {
        let record = KeyRecord {
            writes: r.writes,
            entry: r.shown.map(|(id, value)| Entry { value, id, author: id.peer, version: r.writes }),
            rule: r.rule,
        };
        record.validate()?;
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64) -> OpId {
        OpId::from_millis(ms, PeerId([2; 16]))
    }

    fn entry(ms: u64, value: Value, writes: u64) -> Option<Entry> {
        Some(Entry { value, id: id(ms), author: PeerId([2; 16]), version: writes })
    }

    fn rejected(record: KeyRecord) -> bool {
        matches!(KeyRecord::decode(&record.encode()), Err(SnapshotError::Corrupt { what: "key record", .. }))
    }

    #[test]
    fn the_shown_value_is_found_in_the_encoding() {
        let values = [
            Value::Null,
            Value::Int(-1),
            Value::String("é".repeat(200)),
            Value::map([("a", Value::List(vec![Value::Float(0.5), Value::Bytes(vec![1; 300])]))]),
        ];
        for (i, value) in values.into_iter().enumerate() {
            // Small and large write counts and times, so the varints before the value vary in length.
            for (writes, ms) in [(1, 10), (300, 1 << 40), (u64::MAX / 3, 5)] {
                let mut record = KeyRecord { writes, entry: None, rule: Rule::Timestamp { removed: None } };
                record.entry = entry(ms, value.clone(), writes);
                let bytes = record.encode();
                let at = KeyRecord::shown_value_at(&bytes).expect("a shown value");
                let (found, rest) = postcard::take_from_bytes::<Value>(&bytes[at..]).unwrap();
                assert_eq!((found, i), (value.clone(), i));
                // The rule follows the value: Timestamp with no remove.
                assert_eq!(rest, [0, 0]);
            }
        }
        let removed = KeyRecord { writes: 2, entry: None, rule: Rule::Timestamp { removed: Some(id(10)) } };
        assert_eq!(KeyRecord::shown_value_at(&removed.encode()), None);
        assert_eq!(KeyRecord::shown_value_at(b"AUkr"), None);
        assert_eq!(KeyRecord::shown_value_at(b"AUsm\x01\x01\x01"), None);
    }

    #[test]
    fn records_whose_parts_do_not_fit_are_corrupt() {
        let ok = KeyRecord { writes: 1, entry: entry(10, Value::Int(1), 1), rule: Rule::Timestamp { removed: None } };
        assert_eq!(KeyRecord::decode(&ok.encode()).unwrap(), ok);
        assert!(rejected(KeyRecord { rule: Rule::Timestamp { removed: Some(id(5)) }, ..ok.clone() }));
        assert!(rejected(KeyRecord { writes: 0, entry: entry(10, Value::Int(1), 0), ..ok.clone() }));
        let version = |v: i64| Value::map([("version", Value::Int(v))]);
        let runners = |list: Vec<(u64, i64)>| list.into_iter().map(|(ms, v)| (id(ms), version(v))).collect();
        let good = KeyRecord {
            writes: 2,
            entry: entry(10, version(5), 2),
            rule: Rule::Version { removed: None, runners: runners(vec![(20, 3)]) },
        };
        assert_eq!(KeyRecord::decode(&good.encode()).unwrap(), good);
        let higher_runner = Rule::Version { removed: None, runners: runners(vec![(20, 6)]) };
        assert!(rejected(KeyRecord { rule: higher_runner, ..good.clone() }));
        let older_runner = Rule::Version { removed: None, runners: runners(vec![(5, 3)]) };
        assert!(rejected(KeyRecord { rule: older_runner, ..good.clone() }));
        let merged = KeyRecord {
            writes: 1,
            entry: entry(10, Value::map([("a", Value::Int(1))]), 1),
            rule: Rule::Merge { barrier: None, last_map: Some(id(10)), fields: [("a".to_owned(), id(10))].into() },
        };
        assert_eq!(KeyRecord::decode(&merged.encode()).unwrap(), merged);
        let wrong_field =
            Rule::Merge { barrier: None, last_map: Some(id(10)), fields: [("b".to_owned(), id(10))].into() };
        assert!(rejected(KeyRecord { rule: wrong_field, ..merged.clone() }));
        let whole_map = Rule::Merge { barrier: Some(id(10)), last_map: None, fields: BTreeMap::new() };
        assert!(rejected(KeyRecord { rule: whole_map, ..merged }));
        let lone_other = Rule::Sided { removed: None, other: Some((id(3), None)) };
        assert!(rejected(KeyRecord { writes: 1, entry: None, rule: lone_other }));
    }
}
