//! [`IdSet`]: a small ordered set of op ids, kept as a sorted list.
//!
//! The sets of ids the engine keeps (the stored checkpoints, the segments changed since the last
//! commit) hold a few ids to a few thousand. A `BTreeSet<OpId>` would do, but every B-tree
//! instantiation brings its own copy of the B-tree code (insert, remove, rebalance, range, drop:
//! about 8 KB of wasm for this one); a sorted `Vec` with binary search is a few hundred bytes.
//! Inserting and removing move the ids after the slot, which at these sizes costs less than a
//! B-tree's node allocations.

use core::ops::{Bound, RangeBounds};

use crate::OpId;

/// An ordered set of op ids; iterates in id order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdSet {
    ids: Vec<OpId>,
}

impl IdSet {
    /// An empty set.
    pub fn new() -> IdSet {
        IdSet::default()
    }

    /// Adds `id`; returns whether it was absent.
    pub fn insert(&mut self, id: OpId) -> bool {
        match self.ids.binary_search(&id) {
            Ok(_) => false,
            Err(at) => {
                self.ids.insert(at, id);
                true
            }
        }
    }

    /// Removes `id`; returns whether it was there.
    pub fn remove(&mut self, id: &OpId) -> bool {
        match self.ids.binary_search(id) {
            Ok(at) => {
                self.ids.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: &OpId) -> bool {
        self.ids.binary_search(id).is_ok()
    }

    /// The ids within `range`, in order.
    pub fn range(&self, range: impl RangeBounds<OpId>) -> &[OpId] {
        let lo = match range.start_bound() {
            Bound::Included(id) => self.ids.partition_point(|x| x < id),
            Bound::Excluded(id) => self.ids.partition_point(|x| x <= id),
            Bound::Unbounded => 0,
        };
        let hi = match range.end_bound() {
            Bound::Included(id) => self.ids.partition_point(|x| x <= id),
            Bound::Excluded(id) => self.ids.partition_point(|x| x < id),
            Bound::Unbounded => self.ids.len(),
        };
        self.ids.get(lo..hi).unwrap_or_default()
    }

    /// Every id, in order.
    pub fn iter(&self) -> core::slice::Iter<'_, OpId> {
        self.ids.iter()
    }

    /// The greatest id.
    pub fn last(&self) -> Option<&OpId> {
        self.ids.last()
    }

    /// How many ids the set holds.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Removes every id.
    pub fn clear(&mut self) {
        self.ids.clear();
    }
}

impl FromIterator<OpId> for IdSet {
    fn from_iter<I: IntoIterator<Item = OpId>>(iter: I) -> IdSet {
        let mut ids: Vec<OpId> = iter.into_iter().collect();
        crate::sort_by_key(&mut ids, |id| *id);
        ids.dedup();
        IdSet { ids }
    }
}

impl IntoIterator for IdSet {
    type Item = OpId;
    type IntoIter = std::vec::IntoIter<OpId>;

    fn into_iter(self) -> Self::IntoIter {
        self.ids.into_iter()
    }
}

impl<'a> IntoIterator for &'a IdSet {
    type Item = &'a OpId;
    type IntoIter = core::slice::Iter<'a, OpId>;

    fn into_iter(self) -> Self::IntoIter {
        self.ids.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PeerId;
    use proptest::prelude::*;
    use std::collections::BTreeSet;
    use std::ops::Bound;

    fn id(time: u64) -> OpId {
        OpId { time, peer: PeerId([1; 16]) }
    }

    fn bound(kind: u8, t: u64) -> Bound<OpId> {
        match kind % 3 {
            0 => Bound::Included(id(t)),
            1 => Bound::Excluded(id(t)),
            _ => Bound::Unbounded,
        }
    }

    proptest! {
        /// The same answers as a `BTreeSet` given the same inserts and removes.
        #[test]
        fn behaves_as_a_btree_set(
            steps in proptest::collection::vec((any::<bool>(), 0u64..40), 0..200),
            lo in (0u8..3, 0u64..40),
            hi in (0u8..3, 0u64..40),
        ) {
            let (mut ours, mut model) = (IdSet::new(), BTreeSet::new());
            for (add, t) in steps {
                if add {
                    prop_assert_eq!(ours.insert(id(t)), model.insert(id(t)));
                } else {
                    prop_assert_eq!(ours.remove(&id(t)), model.remove(&id(t)));
                }
                prop_assert_eq!(ours.contains(&id(t)), model.contains(&id(t)));
            }
            prop_assert!(ours.iter().eq(model.iter()));
            prop_assert_eq!(ours.last(), model.last());
            prop_assert_eq!(ours.len(), model.len());
            let (lo, hi) = (bound(lo.0, lo.1), bound(hi.0, hi.1));
            // BTreeSet::range panics on inverted bounds; IdSet answers them with nothing.
            let inverted = matches!((lo, hi), (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b))
                if a > b || (a == b && !matches!((lo, hi), (Bound::Included(_), Bound::Included(_)))));
            if inverted {
                prop_assert!(ours.range((lo, hi)).is_empty());
            } else {
                prop_assert!(ours.range((lo, hi)).iter().eq(model.range((lo, hi))));
            }
            let collected: IdSet = model.iter().rev().copied().chain(model.iter().copied()).collect();
            prop_assert!(collected.iter().eq(model.iter()));
        }
    }
}
