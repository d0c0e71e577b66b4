//! Op builders shared by the snapshot tests.
#![allow(dead_code)]

use auroradb_log::{Hash, Op, OpId, OpKind, PeerId, Step, Value};

/// Peer `n` (all 16 bytes set to `n`).
pub fn peer(n: u8) -> PeerId {
    PeerId([n; 16])
}

/// An op at `ms` by peer `p`. Seq and prev do not matter to the state.
pub fn op(ms: u64, p: u8, kind: OpKind) -> Op {
    Op { id: OpId::from_millis(ms, peer(p)), author: peer(p), seq: 1, prev: Hash::ZERO, kind }
}

pub fn put(ms: u64, p: u8, key: &str, value: Value) -> Op {
    op(ms, p, OpKind::Put { key: key.into(), value })
}

pub fn remove(ms: u64, p: u8, key: &str) -> Op {
    op(ms, p, OpKind::Remove { key: key.into() })
}

pub fn clear(ms: u64, p: u8) -> Op {
    op(ms, p, OpKind::Clear)
}

pub fn txn(ms: u64, p: u8, steps: Vec<Step>) -> Op {
    op(ms, p, OpKind::Txn(steps))
}

pub fn step_put(key: &str, value: Value) -> Step {
    Step::Put { key: key.into(), value }
}

pub fn step_remove(key: &str) -> Step {
    Step::Remove { key: key.into() }
}

/// A map value from `(field, int)` pairs.
pub fn fields(pairs: &[(&str, i64)]) -> Value {
    Value::map(pairs.iter().map(|(k, v)| (*k, Value::Int(*v))))
}

/// Every permutation of `items` (for small lists).
pub fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first.clone());
            out.push(tail);
        }
    }
    out
}
