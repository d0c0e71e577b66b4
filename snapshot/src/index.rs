//! Secondary indexes: for each configured [`IndexSpec`], the keys of the visible records by the
//! value of one top-level field, ordered by [`crate::compare_values`].
//!
//! Records whose value is not a map, or has no such field, are not in the index. A unique index
//! lets any number of keys hold `null`, and keeps the other values held by more than one key (only remote ops, which are never rejected, can
//! cause that) so that [`crate::State::index_conflicts`] is cheap.

use core::ops::Bound;
use std::collections::{BTreeMap, BTreeSet};

use auroradb_log::Value;
use serde::{Deserialize, Serialize};

use crate::order::{IndexKey, compare_values};

/// A secondary index over the top-level field `name` of map values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexSpec {
    /// The index's name, which is also the field it indexes.
    pub name: String,
    /// Whether two keys may not hold the same value in this field.
    pub unique: bool,
}

impl IndexSpec {
    /// An index over `name`.
    pub fn new(name: impl Into<String>, unique: bool) -> IndexSpec {
        IndexSpec { name: name.into(), unique }
    }
}

/// One live index.
#[derive(Clone, Debug)]
pub(crate) struct Index {
    pub(crate) spec: IndexSpec,
    entries: BTreeMap<IndexKey, BTreeSet<String>>,
    /// For a unique index: the values held by more than one key, sorted. Only remote ops make
    /// them, so there are few: a sorted list, rather than a set whose B-tree code would be one
    /// more copy in the wasm.
    conflicts: Vec<IndexKey>,
}

impl Index {
    pub(crate) fn new(spec: IndexSpec) -> Index {
        Index { spec, entries: BTreeMap::new(), conflicts: Vec::new() }
    }

    /// The indexed field of a value, if it has one.
    pub(crate) fn field<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        value.field(&self.spec.name)
    }

    fn insert(&mut self, key: &str, field: &Value) {
        let k = IndexKey(field.clone());
        let keys = self.entries.entry(k.clone()).or_default();
        keys.insert(key.to_owned());
        if self.spec.unique
            && keys.len() > 1
            && *field != Value::Null
            && let Err(at) = self.conflicts.binary_search(&k)
        {
            self.conflicts.insert(at, k);
        }
    }

    fn remove(&mut self, key: &str, field: &Value) {
        let k = IndexKey(field.clone());
        if let Some(keys) = self.entries.get_mut(&k) {
            keys.remove(key);
            let left = keys.len();
            if left == 0 {
                self.entries.remove(&k);
            }
            if left <= 1
                && let Ok(at) = self.conflicts.binary_search(&k)
            {
                self.conflicts.remove(at);
            }
        }
    }

    /// Moves `key` from its old field value to its new one.
    pub(crate) fn update(&mut self, key: &str, old: Option<&Value>, new: Option<&Value>) {
        let (old, new) = (old.and_then(|v| self.field(v)), new.and_then(|v| self.field(v)));
        match (old, new) {
            (Some(o), Some(n)) if compare_values(o, n).is_eq() => {}
            _ => {
                if let Some(o) = old {
                    self.remove(key, o);
                }
                if let Some(n) = new {
                    self.insert(key, n);
                }
            }
        }
    }

    /// The keys whose field equals `value`, in key order.
    pub(crate) fn holders(&self, value: &Value) -> impl Iterator<Item = &str> {
        self.entries.get(&IndexKey(value.clone())).into_iter().flatten().map(String::as_str)
    }

    /// `(field value, keys)` for field values within the bounds, in index order, of the kind of
    /// the bounds: a range of numbers holds no `null`, boolean or string, however the kinds sort
    /// (bounds of two kinds hold nothing). Empty (never a panic) when the bounds are inverted or
    /// empty.
    pub(crate) fn range(&self, lo: Bound<&Value>, hi: Bound<&Value>) -> Vec<(&Value, &BTreeSet<String>)> {
        let bounds: Vec<&Value> = [lo, hi]
            .into_iter()
            .filter_map(|b| match b {
                Bound::Included(v) | Bound::Excluded(v) => Some(v),
                Bound::Unbounded => None,
            })
            .collect();
        let own = |b: Bound<&Value>| match b {
            Bound::Included(v) => Bound::Included(IndexKey(v.clone())),
            Bound::Excluded(v) => Bound::Excluded(IndexKey(v.clone())),
            Bound::Unbounded => Bound::Unbounded,
        };
        let (lo, hi) = (own(lo), own(hi));
        if let (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) = (&lo, &hi) {
            let both_included = matches!((&lo, &hi), (Bound::Included(_), Bound::Included(_)));
            if a > b || (a == b && !both_included) {
                return Vec::new();
            }
        }
        self.entries
            .range((lo, hi))
            .filter(|(k, _)| bounds.iter().all(|b| crate::same_kind(&k.0, b)))
            .map(|(k, keys)| (&k.0, keys))
            .collect()
    }

    /// The values held by more than one key, with those keys.
    pub(crate) fn conflicts(&self) -> impl Iterator<Item = (&Value, &BTreeSet<String>)> {
        self.conflicts.iter().filter_map(|k| self.entries.get(k).map(|keys| (&k.0, keys)))
    }
}
