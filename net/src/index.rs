//! What reconciliation reads from a replica: [`IdRange`]s of op ids and the [`RangeIndex`] trait
//! that answers their summaries, implemented for [`auroradb_log::Log`].

use core::ops::{Bound, RangeBounds};

use auroradb_log::{Fingerprint, Log, OpId, RangeSum};

/// A half-open range of op ids, `[lo, hi)`; `hi == None` means the range has no upper end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdRange {
    /// Smallest id in the range (included).
    pub lo: OpId,
    /// First id above the range (excluded), or `None` for no upper end.
    pub hi: Option<OpId>,
}

impl IdRange {
    /// Every id.
    pub const ALL: IdRange = IdRange { lo: OpId::MIN, hi: None };

    /// `[lo, hi)`.
    pub fn new(lo: OpId, hi: Option<OpId>) -> IdRange {
        IdRange { lo, hi }
    }

    /// Whether the range holds no id at all (`hi <= lo`).
    pub fn is_empty(&self) -> bool {
        self.hi.is_some_and(|hi| hi <= self.lo)
    }
}

impl RangeBounds<OpId> for IdRange {
    fn start_bound(&self) -> Bound<&OpId> {
        Bound::Included(&self.lo)
    }

    fn end_bound(&self) -> Bound<&OpId> {
        match &self.hi {
            Some(hi) => Bound::Excluded(hi),
            None => Bound::Unbounded,
        }
    }
}

/// An ordered set of op ids with O(log n) prefix summaries: what a peer reconciles. Implemented
/// for [`Log`]; a database implements it over its own log.
///
/// Three methods are required; the rest derive from them.
pub trait RangeIndex {
    /// Count and hash sum of the ids strictly below `bound` (of every id when `None`).
    fn below(&self, bound: Option<&OpId>) -> RangeSum;

    /// The `k`-th smallest id (from 0) and the summary of the `k` ids below it.
    fn select(&self, k: u64) -> Option<(OpId, RangeSum)>;

    /// Every id of `range`, ascending.
    fn ids(&self, range: IdRange) -> Vec<OpId>;

    /// Count and hash sum of the ids in `range`.
    fn summary(&self, range: IdRange) -> RangeSum {
        if range.is_empty() {
            return RangeSum::default();
        }
        let (lo, hi) = (self.below(Some(&range.lo)), self.below(range.hi.as_ref()));
        if hi.count < lo.count { RangeSum::default() } else { hi - lo }
    }

    /// The fingerprint of `range`.
    fn fingerprint(&self, range: IdRange) -> Fingerprint {
        self.summary(range).fingerprint()
    }

    /// The `k`-th id (from 0) of `range`, if the range holds more than `k` ids.
    fn nth_id(&self, range: IdRange, k: u64) -> Option<OpId> {
        if range.is_empty() {
            return None;
        }
        let (id, _) = self.select(self.below(Some(&range.lo)).count.checked_add(k)?)?;
        range.contains(&id).then_some(id)
    }

    /// Whether `id` is held.
    fn contains(&self, id: &OpId) -> bool {
        self.select(self.below(Some(id)).count).is_some_and(|(x, _)| x == *id)
    }
}

impl RangeIndex for Log {
    fn below(&self, bound: Option<&OpId>) -> RangeSum {
        match bound {
            Some(b) => Log::summary(self, ..*b),
            None => Log::summary(self, ..),
        }
    }

    fn select(&self, k: u64) -> Option<(OpId, RangeSum)> {
        Log::select(self, k)
    }

    fn ids(&self, range: IdRange) -> Vec<OpId> {
        if range.is_empty() { Vec::new() } else { Log::ids(self, range).map(|(id, _)| *id).collect() }
    }

    fn contains(&self, id: &OpId) -> bool {
        Log::contains(self, id)
    }
}

impl<T: RangeIndex + ?Sized> RangeIndex for &T {
    fn below(&self, bound: Option<&OpId>) -> RangeSum {
        (**self).below(bound)
    }

    fn select(&self, k: u64) -> Option<(OpId, RangeSum)> {
        (**self).select(k)
    }

    fn ids(&self, range: IdRange) -> Vec<OpId> {
        (**self).ids(range)
    }

    fn contains(&self, id: &OpId) -> bool {
        (**self).contains(id)
    }
}
