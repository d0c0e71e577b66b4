//! Queries over the visible state: get, all, count, filter, slice, every, and lookups through the
//! secondary indexes.

use core::ops::Bound;

use auroradb_log::Value;

use crate::{Entry, Result, State};

impl State {
    /// The visible entry of `key`.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.record_map().get(key).and_then(|r| r.visible())
    }

    /// The number of visible keys.
    pub fn len(&self) -> usize {
        self.visible_count()
    }

    /// Whether no key is visible.
    pub fn is_empty(&self) -> bool {
        self.visible_count() == 0
    }

    /// The visible entries, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.record_map().iter().filter_map(|(k, r)| r.visible().map(|e| (k.as_str(), e)))
    }

    /// Every visible `(key, value)`, in key order.
    pub fn all(&self) -> Vec<(String, Value)> {
        self.iter().map(|(k, e)| (k.to_owned(), e.value.clone())).collect()
    }

    /// The visible `(key, value)` pairs for which `pred` holds, in key order.
    pub fn filter(&self, mut pred: impl FnMut(&str, &Value) -> bool) -> Vec<(String, Value)> {
        self.iter().filter(|(k, e)| pred(k, &e.value)).map(|(k, e)| (k.to_owned(), e.value.clone())).collect()
    }

    /// The visible `(key, value)` pairs at positions `start..end` in key order; the range is
    /// clamped to the state (an empty or inverted range gives nothing).
    pub fn slice(&self, start: usize, end: usize) -> Vec<(String, Value)> {
        let end = end.min(self.len());
        if start >= end {
            return Vec::new();
        }
        self.iter().skip(start).take(end - start).map(|(k, e)| (k.to_owned(), e.value.clone())).collect()
    }

    /// Whether `pred` holds for every visible record (true for an empty state).
    pub fn every(&self, mut pred: impl FnMut(&str, &Value) -> bool) -> bool {
        self.iter().all(|(k, e)| pred(k, &e.value))
    }

    /// The visible records whose indexed field equals `value` (by [`crate::compare_values`]), in
    /// key order.
    pub fn find_by(&self, index: &str, value: &Value) -> Result<Vec<(String, Value)>> {
        let index = self.index(index)?;
        Ok(index.holders(value).filter_map(|k| self.get(k).map(|e| (k.to_owned(), e.value.clone()))).collect())
    }

    /// The visible records whose indexed field lies within `lo..hi`, ordered by the field (by
    /// [`crate::compare_values`]) then by key. Inverted or empty bounds give nothing.
    pub fn index_range(&self, index: &str, lo: Bound<&Value>, hi: Bound<&Value>) -> Result<Vec<(String, Value)>> {
        let index = self.index(index)?;
        Ok(index
            .range(lo, hi)
            .into_iter()
            .flat_map(|(_, keys)| keys.iter())
            .filter_map(|k| self.get(k).map(|e| (k.clone(), e.value.clone())))
            .collect())
    }

    /// For each unique index, each value held by more than one key (remote writes are never
    /// rejected, so concurrent peers can create these), with the keys holding it.
    pub fn index_conflicts(&self) -> Vec<(String, Value, Vec<String>)> {
        self.indexes()
            .iter()
            .filter(|i| i.spec.unique)
            .flat_map(|i| {
                i.conflicts().map(|(value, keys)| (i.spec.name.clone(), value.clone(), keys.iter().cloned().collect()))
            })
            .collect()
    }
}
