//! [`SumIndex`]: an ordered index of op ids with aggregated hash sums (a B+ tree whose inner
//! nodes keep each child's summary), answering the summary of any id range in O(log n).

use crate::{Hash, OpId, RangeSum, Sum256};

/// Most entries a node holds: ids in a leaf, children in an inner node. A node is a few cache
/// lines of ids and sums, so a walk from the root touches about four nodes for a million ids
/// (a binary tree's walk touched some forty, each a cache miss on a large log).
const FANOUT: usize = 32;

#[derive(Clone)]
enum Node {
    Leaf {
        ids: Vec<OpId>,
        sums: Vec<Sum256>,
    },
    Inner {
        /// The least id of each child's subtree when it was made; child `i > 0` holds the ids from
        /// `firsts[i]` up to `firsts[i + 1]` (excluded). `firsts[0]` only marks where the node
        /// starts for its parent.
        firsts: Vec<OpId>,
        children: Vec<u32>,
        /// Each child's summary.
        sums: Vec<RangeSum>,
    },
}

impl Node {
    /// The least id the node held when it was made (what its parent routes by).
    fn first(&self) -> OpId {
        match self {
            Node::Leaf { ids, .. } => ids[0],
            Node::Inner { firsts, .. } => firsts[0],
        }
    }

    fn summary(&self) -> RangeSum {
        match self {
            Node::Leaf { sums, .. } => leaf_prefix(sums, sums.len()),
            Node::Inner { sums, .. } => sums.iter().fold(RangeSum::default(), |acc, s| acc + *s),
        }
    }
}

/// The summary of a leaf's first `n` entries.
fn leaf_prefix(sums: &[Sum256], n: usize) -> RangeSum {
    RangeSum { count: n as u64, sum: sums[..n].iter().fold(Sum256::ZERO, |acc, s| acc + *s) }
}

/// Which child of an inner node holds (or would hold) `id`.
fn route(firsts: &[OpId], id: &OpId) -> usize {
    firsts[1..].partition_point(|f| f <= id)
}

/// Where a node that overflowed splits: an insert at its end (ids arrive mostly in order) leaves
/// it full and starts a new node with the last entry; any other splits it in halves.
fn split_at(at_end: bool) -> usize {
    if at_end { FANOUT } else { FANOUT.div_ceil(2) }
}

/// An ordered set of `(op id, op hash)` with subtree sums: insertion, membership and the
/// [`RangeSum`] of every id below a bound in O(log n), hence of any range.
#[derive(Clone)]
pub struct SumIndex {
    nodes: Vec<Node>,
    root: u32,
    len: usize,
}

impl Default for SumIndex {
    fn default() -> SumIndex {
        SumIndex { nodes: vec![Node::Leaf { ids: Vec::new(), sums: Vec::new() }], root: 0, len: 0 }
    }
}

impl core::fmt::Debug for SumIndex {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SumIndex").field("len", &self.len).finish()
    }
}

impl SumIndex {
    /// An empty index.
    pub fn new() -> SumIndex {
        SumIndex::default()
    }

    /// Number of ids held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Inserts `id` with `hash`. Returns false (and changes nothing) if `id` is already present.
    pub fn insert(&mut self, id: OpId, hash: &Hash) -> bool {
        let Some(split) = self.insert_under(self.root, id, Sum256::of_hash(hash)) else { return false };
        if let Some((first, right)) = split {
            // The root split: a new root above the two halves.
            let left = self.root;
            let left_first = self.nodes[left as usize].first();
            let sums = vec![self.nodes[left as usize].summary(), self.nodes[right as usize].summary()];
            self.nodes.push(Node::Inner { firsts: vec![left_first, first], children: vec![left, right], sums });
            self.root = self.nodes.len() as u32 - 1;
        }
        self.len += 1;
        true
    }

    /// Inserts under node `n`: `None` if `id` is held; otherwise `Some` of the new right sibling
    /// (its first id and node) if `n` split.
    fn insert_under(&mut self, n: u32, id: OpId, sum: Sum256) -> Option<Option<(OpId, u32)>> {
        let half = match &mut self.nodes[n as usize] {
            Node::Leaf { ids, sums } => {
                let at = ids.binary_search(&id).err()?;
                ids.insert(at, id);
                sums.insert(at, sum);
                if ids.len() <= FANOUT {
                    return Some(None);
                }
                let at = split_at(at + 1 == ids.len());
                Node::Leaf { ids: ids.split_off(at), sums: sums.split_off(at) }
            }
            Node::Inner { firsts, children, .. } => {
                let i = route(firsts, &id);
                let child = children[i];
                let split = self.insert_under(child, id, sum)?;
                let Some((first, right)) = split else {
                    if let Node::Inner { sums, .. } = &mut self.nodes[n as usize] {
                        sums[i] = sums[i] + RangeSum { count: 1, sum };
                    }
                    return Some(None);
                };
                let (left_sum, right_sum) =
                    (self.nodes[child as usize].summary(), self.nodes[right as usize].summary());
                let Node::Inner { firsts, children, sums } = &mut self.nodes[n as usize] else { unreachable!() };
                sums[i] = left_sum;
                firsts.insert(i + 1, first);
                children.insert(i + 1, right);
                sums.insert(i + 1, right_sum);
                if children.len() <= FANOUT {
                    return Some(None);
                }
                let at = split_at(i + 2 == children.len());
                Node::Inner { firsts: firsts.split_off(at), children: children.split_off(at), sums: sums.split_off(at) }
            }
        };
        let first = half.first();
        self.nodes.push(half);
        Some(Some((first, self.nodes.len() as u32 - 1)))
    }

    /// Whether `id` is held.
    pub fn contains(&self, id: &OpId) -> bool {
        let mut n = self.root;
        loop {
            match &self.nodes[n as usize] {
                Node::Leaf { ids, .. } => return ids.binary_search(id).is_ok(),
                Node::Inner { firsts, children, .. } => n = children[route(firsts, id)],
            }
        }
    }

    /// The summary of every id strictly below `bound`.
    pub fn below(&self, bound: &OpId) -> RangeSum {
        self.prefix(bound, false)
    }

    /// The summary of every id below `bound`, and of `bound` itself if `inclusive`.
    pub fn prefix(&self, bound: &OpId, inclusive: bool) -> RangeSum {
        let mut acc = RangeSum::default();
        let mut n = self.root;
        loop {
            match &self.nodes[n as usize] {
                Node::Leaf { ids, sums } => {
                    let at = ids.partition_point(|x| x < bound || (inclusive && x == bound));
                    return acc + leaf_prefix(sums, at);
                }
                Node::Inner { firsts, children, sums } => {
                    let i = route(firsts, bound);
                    acc = sums[..i].iter().fold(acc, |acc, s| acc + *s);
                    n = children[i];
                }
            }
        }
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
        self.nodes[self.root as usize].summary()
    }

    /// How many ids are strictly below `id`, in O(log n).
    pub fn rank(&self, id: &OpId) -> u64 {
        self.below(id).count
    }

    /// The `k`-th smallest id (from 0), in O(log n); `None` when `k >= len`.
    pub fn select(&self, k: u64) -> Option<OpId> {
        self.select_with_prefix(k).map(|(id, _)| id)
    }

    /// The `k`-th smallest id (from 0) and the summary of the `k` ids below it, in one O(log n)
    /// walk; `None` when `k >= len`.
    pub fn select_with_prefix(&self, k: u64) -> Option<(OpId, RangeSum)> {
        if k >= self.len as u64 {
            return None;
        }
        let mut k = k;
        let mut acc = RangeSum::default();
        let mut n = self.root;
        loop {
            match &self.nodes[n as usize] {
                Node::Leaf { ids, sums } => {
                    let at = k as usize;
                    return Some((ids[at], acc + leaf_prefix(sums, at)));
                }
                Node::Inner { children, sums, .. } => {
                    let mut i = 0;
                    while k >= sums[i].count {
                        k -= sums[i].count;
                        acc = acc + sums[i];
                        i += 1;
                    }
                    n = children[i];
                }
            }
        }
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

    /// Checks every query against a sorted list, for `order` of inserts of ids `t * 3`.
    fn against_a_list(order: &[u64]) {
        let mut index = SumIndex::new();
        let mut list: Vec<(OpId, Hash)> = Vec::new();
        for &t in order {
            let h = Hash::of(&t.to_le_bytes());
            let at = list.binary_search_by_key(&id(t * 3), |(i, _)| *i);
            assert_eq!(index.insert(id(t * 3), &h), at.is_err());
            if let Err(at) = at {
                list.insert(at, (id(t * 3), h));
            }
        }
        assert_eq!(index.len(), list.len());
        // The summaries of the list's prefixes: `sums[k]` of its first `k` ids.
        let sums: Vec<RangeSum> = core::iter::once(RangeSum::default())
            .chain(list.iter().scan(RangeSum::default(), |acc, (_, h)| {
                *acc = *acc + RangeSum::one(h);
                Some(*acc)
            }))
            .collect();
        assert_eq!(index.total(), sums[list.len()]);
        let top = order.iter().max().map_or(0, |t| t * 3 + 3);
        for b in 0..=top {
            let below = list.partition_point(|(i, _)| *i < id(b));
            let through = list.partition_point(|(i, _)| *i <= id(b));
            assert_eq!(index.below(&id(b)), sums[below], "below {b}");
            assert_eq!(index.prefix(&id(b), true), sums[through], "through {b}");
            assert_eq!(index.contains(&id(b)), through > below);
        }
        for (k, (i, _)) in list.iter().enumerate() {
            assert_eq!(index.select_with_prefix(k as u64), Some((*i, sums[k])));
        }
        assert_eq!(index.select_with_prefix(list.len() as u64), None);
    }

    #[test]
    fn agrees_with_a_sorted_list_for_any_insert_order() {
        // Enough for three levels of nodes.
        let n = 1_500u64;
        // In order (each node left full), reversed, interleaved, and shuffled with repeats.
        against_a_list(&(0..n).collect::<Vec<_>>());
        against_a_list(&(0..n).rev().collect::<Vec<_>>());
        against_a_list(&(0..n / 2).flat_map(|t| [t, n - 1 - t]).collect::<Vec<_>>());
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let shuffled: Vec<u64> = (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x % (n / 2)
            })
            .collect();
        against_a_list(&shuffled);
        against_a_list(&[]);
    }
}
