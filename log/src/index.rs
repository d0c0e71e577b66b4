//! [`SumIndex`]: an ordered index of op ids with aggregated hash sums (a treap), answering the
//! summary of any id range in O(log n).

use crate::{Hash, OpId, RangeSum};

const NIL: u32 = u32::MAX;

#[derive(Clone)]
struct Node {
    id: OpId,
    one: RangeSum,
    /// Heap priority: taken from the op's hash, so the tree's shape is deterministic.
    prio: u64,
    left: u32,
    right: u32,
    /// Summary of the subtree rooted here.
    agg: RangeSum,
}

/// An ordered set of `(op id, op hash)` with subtree sums: insertion, membership and the
/// [`RangeSum`] of every id below a bound in O(log n) expected time, hence of any range.
#[derive(Clone, Default)]
pub struct SumIndex {
    nodes: Vec<Node>,
    root: Option<u32>,
}

impl core::fmt::Debug for SumIndex {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SumIndex").field("len", &self.nodes.len()).finish()
    }
}

impl SumIndex {
    /// An empty index.
    pub fn new() -> SumIndex {
        SumIndex::default()
    }

    /// Number of ids held.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn agg(&self, n: u32) -> RangeSum {
        if n == NIL { RangeSum::default() } else { self.nodes[n as usize].agg }
    }

    fn fix(&mut self, n: u32) {
        let node = &self.nodes[n as usize];
        let agg = self.agg(node.left) + node.one + self.agg(node.right);
        self.nodes[n as usize].agg = agg;
    }

    /// Inserts `id` with `hash`. Returns false (and changes nothing) if `id` is already present.
    pub fn insert(&mut self, id: OpId, hash: &Hash) -> bool {
        let mut prio_bytes = [0u8; 8];
        prio_bytes.copy_from_slice(&hash.0[24..32]);
        let new = self.nodes.len() as u32;
        self.nodes.push(Node {
            id,
            one: RangeSum::one(hash),
            prio: u64::from_le_bytes(prio_bytes),
            left: NIL,
            right: NIL,
            agg: RangeSum::one(hash),
        });
        let root = self.root.unwrap_or(NIL);
        match self.insert_at(root, new) {
            Some(r) => {
                self.root = Some(r);
                true
            }
            None => {
                self.nodes.pop();
                false
            }
        }
    }

    /// Inserts node `new` under `at`; returns the subtree's new root, or None if the id exists.
    fn insert_at(&mut self, at: u32, new: u32) -> Option<u32> {
        if at == NIL {
            return Some(new);
        }
        let id = self.nodes[new as usize].id;
        let here = self.nodes[at as usize].id;
        if id == here {
            return None;
        }
        if id < here {
            let l = self.insert_at(self.nodes[at as usize].left, new)?;
            self.nodes[at as usize].left = l;
            if self.nodes[l as usize].prio > self.nodes[at as usize].prio {
                // rotate right
                self.nodes[at as usize].left = self.nodes[l as usize].right;
                self.nodes[l as usize].right = at;
                self.fix(at);
                self.fix(l);
                return Some(l);
            }
        } else {
            let r = self.insert_at(self.nodes[at as usize].right, new)?;
            self.nodes[at as usize].right = r;
            if self.nodes[r as usize].prio > self.nodes[at as usize].prio {
                // rotate left
                self.nodes[at as usize].right = self.nodes[r as usize].left;
                self.nodes[r as usize].left = at;
                self.fix(at);
                self.fix(r);
                return Some(r);
            }
        }
        self.fix(at);
        Some(at)
    }

    /// Whether `id` is held.
    pub fn contains(&self, id: &OpId) -> bool {
        let mut n = self.root.unwrap_or(NIL);
        while n != NIL {
            let node = &self.nodes[n as usize];
            match id.cmp(&node.id) {
                core::cmp::Ordering::Equal => return true,
                core::cmp::Ordering::Less => n = node.left,
                core::cmp::Ordering::Greater => n = node.right,
            }
        }
        false
    }

    /// The summary of every id strictly below `bound`.
    pub fn below(&self, bound: &OpId) -> RangeSum {
        self.prefix(bound, false)
    }

    /// The summary of every id below `bound`, and of `bound` itself if `inclusive`.
    pub fn prefix(&self, bound: &OpId, inclusive: bool) -> RangeSum {
        let mut acc = RangeSum::default();
        let mut n = self.root.unwrap_or(NIL);
        while n != NIL {
            let node = &self.nodes[n as usize];
            if *bound < node.id || (*bound == node.id && !inclusive) {
                n = node.left;
            } else {
                acc = acc + self.agg(node.left) + node.one;
                n = node.right;
            }
        }
        acc
    }

    /// The summary of the ids in `[lo, hi)`.
    pub fn range(&self, lo: &OpId, hi: &OpId) -> RangeSum {
        if hi <= lo {
            return RangeSum::default();
        }
        self.below(hi) - self.below(lo)
    }

    /// The summary of every id.
    pub fn total(&self) -> RangeSum {
        self.agg(self.root.unwrap_or(NIL))
    }

    /// How many ids are strictly below `id`, in O(log n).
    pub fn rank(&self, id: &OpId) -> u64 {
        self.below(id).count
    }

    /// The `k`-th smallest id (from 0), in O(log n); `None` when `k >= len`.
    pub fn select(&self, k: u64) -> Option<OpId> {
        let mut k = k;
        let mut n = self.root.unwrap_or(NIL);
        while n != NIL {
            let node = &self.nodes[n as usize];
            let left = self.agg(node.left).count;
            if k < left {
                n = node.left;
            } else if k == left {
                return Some(node.id);
            } else {
                k -= left + 1;
                n = node.right;
            }
        }
        None
    }

    /// The `k`-th smallest id (from 0) and the summary of the `k` ids below it, in one O(log n)
    /// walk; `None` when `k >= len`.
    pub fn select_with_prefix(&self, k: u64) -> Option<(OpId, RangeSum)> {
        let mut k = k;
        let mut acc = RangeSum::default();
        let mut n = self.root.unwrap_or(NIL);
        while n != NIL {
            let node = &self.nodes[n as usize];
            let left = self.agg(node.left);
            if k < left.count {
                n = node.left;
            } else if k == left.count {
                return Some((node.id, acc + left));
            } else {
                k -= left.count + 1;
                acc = acc + left + node.one;
                n = node.right;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PeerId;

    fn id(t: u64) -> OpId {
        OpId { time: t, peer: PeerId([3; 16]) }
    }

    #[test]
    fn inserts_once_and_sums_ranges() {
        let mut index = SumIndex::new();
        assert!(index.is_empty());
        let hashes: Vec<Hash> = (0..50u64).map(|t| Hash::of(&t.to_le_bytes())).collect();
        // Insert out of order.
        for t in (0..50u64).rev().step_by(2).chain((0..50).step_by(2)) {
            assert!(index.insert(id(t * 10), &hashes[t as usize]));
        }
        assert_eq!(index.len(), 50);
        assert!(!index.insert(id(30), &hashes[0]), "a second insert of an id is refused");
        assert_eq!(index.len(), 50);
        assert!(index.contains(&id(30)) && !index.contains(&id(31)));
        let naive = |lo: u64, hi: u64| {
            (0..50u64)
                .filter(|t| (lo..hi).contains(&(t * 10)))
                .fold(RangeSum::default(), |acc, t| acc + RangeSum::one(&hashes[t as usize]))
        };
        assert_eq!(index.total(), naive(0, 1000));
        assert_eq!(index.range(&id(25), &id(105)), naive(25, 105));
        assert_eq!(index.range(&id(30), &id(30)), RangeSum::default());
        assert_eq!(index.range(&id(40), &id(30)), RangeSum::default());
        assert_eq!(index.prefix(&id(30), true), naive(0, 31));
        assert_eq!(index.below(&id(30)), naive(0, 30));
        assert_eq!(index.below(&OpId::MIN), RangeSum::default());
        assert_eq!(index.prefix(&OpId::MAX, true), index.total());
    }

    #[test]
    fn selects_and_ranks_by_position() {
        let mut index = SumIndex::new();
        assert_eq!(index.select(0), None);
        for t in (0..40u64).rev() {
            index.insert(id(t * 2), &Hash::of(&t.to_le_bytes()));
        }
        for k in 0..40u64 {
            assert_eq!(index.select(k), Some(id(k * 2)));
            assert_eq!(index.rank(&id(k * 2)), k);
            assert_eq!(index.rank(&id(k * 2 + 1)), k + 1);
        }
        assert_eq!(index.select(40), None);
        for k in [0u64, 1, 17, 39] {
            let (id, below) = index.select_with_prefix(k).unwrap();
            assert_eq!((id, below), (index.select(k).unwrap(), index.below(&id)));
        }
        assert_eq!(index.select_with_prefix(40), None);
    }
}
