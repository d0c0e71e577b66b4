//! Sorting with one instantiation of the sort for the whole program.
//!
//! `slice::sort_by_key` is generic over the element type and the key closure, so every call site
//! that sorts a different type carries a copy of the whole stable sort (about 10 KB of wasm
//! each). [`sort_by_key`] sorts the indices of the items instead, through one non-generic
//! function whose comparison is a `&dyn Fn`, then moves the items into that order: the only
//! per-type code left is the move. The result is the stable sort's: equal keys keep their order.

use core::cmp::Ordering;

/// The indices `0..n` ordered by `cmp`, equal ones in index order (as a stable sort leaves them).
/// Every caller shares this one instantiation of the sort.
pub fn sorted_indices(n: usize, cmp: &dyn Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    // The index breaks ties, so the order is total and an unstable sort gives the stable result.
    order.sort_unstable_by(|&a, &b| cmp(a, b).then(a.cmp(&b)));
    order
}

/// Sorts `items` by `key`, stably (the same result as `items.sort_by_key(key)`), through
/// [`sorted_indices`].
pub fn sort_by_key<T, K: Ord>(items: &mut Vec<T>, key: impl Fn(&T) -> K) {
    let order = sorted_indices(items.len(), &|a, b| key(&items[a]).cmp(&key(&items[b])));
    let mut slots: Vec<Option<T>> = core::mem::take(items).into_iter().map(Some).collect();
    items.extend(order.into_iter().filter_map(|i| slots[i].take()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn equal_keys_keep_their_order() {
        let mut v = vec![(2, 'a'), (1, 'b'), (2, 'c'), (1, 'd'), (0, 'e')];
        sort_by_key(&mut v, |p| p.0);
        assert_eq!(v, [(0, 'e'), (1, 'b'), (1, 'd'), (2, 'a'), (2, 'c')]);
    }

    proptest! {
        #[test]
        fn same_as_the_stable_sort(v in proptest::collection::vec((0u8..8, any::<u32>()), 0..200)) {
            let mut ours = v.clone();
            sort_by_key(&mut ours, |p| p.0);
            let mut std = v;
            std.sort_by_key(|p| p.0);
            prop_assert_eq!(ours, std);
        }
    }
}
