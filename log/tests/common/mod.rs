//! Shared pieces of the log's property tests: strategies for values and ops, and logs built from
//! a random script of writes by a few authors.
#![allow(dead_code)]

use auroradb_log::{
    DEFAULT_MAX_DRIFT, EncodedOp, Hlc, Log, LogConfig, OpKind, PeerId, Step, Value, advance_manual_clock, manual_clock,
    set_manual_clock,
};
use proptest::prelude::*;

/// The manual clock's start: 2023-11-14.
pub const T0: u64 = 1_700_000_000_000;

/// Sets the manual clock (milliseconds since the Unix epoch).
pub fn set_clock(ms: u64) {
    set_manual_clock(ms);
}

/// Moves the manual clock forward.
pub fn tick(ms: u64) {
    advance_manual_clock(ms);
}

/// The `i`th author.
pub fn peer(i: u8) -> PeerId {
    PeerId([i.wrapping_add(1); 16])
}

/// A log of `peer` on the manual clock.
pub fn log_of(peer: PeerId, config: LogConfig) -> Log {
    Log::new(Hlc::new(peer, manual_clock, DEFAULT_MAX_DRIFT), config)
}

/// Any value, a few levels deep.
pub fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<f64>().prop_map(Value::Float),
        "[a-z]{0,8}".prop_map(Value::String),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..4).prop_map(Value::Map),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    "[a-d]{1,2}"
}

/// Any op kind.
pub fn kind() -> impl Strategy<Value = OpKind> {
    let step = prop_oneof![
        (key(), value()).prop_map(|(key, value)| Step::Put { key, value }),
        key().prop_map(|key| Step::Remove { key }),
    ];
    prop_oneof![
        4 => (key(), value()).prop_map(|(key, value)| OpKind::Put { key, value }),
        2 => key().prop_map(|key| OpKind::Remove { key }),
        1 => Just(OpKind::Clear),
        2 => prop::collection::vec(step, 0..4).prop_map(OpKind::Txn),
    ]
}

/// One write: which author (of `authors`), how many milliseconds pass before it, what it does.
pub type Write = (u8, u64, OpKind);

/// Up to `max` writes by up to `authors` authors.
pub fn script(authors: u8, max: usize) -> impl Strategy<Value = Vec<Write>> {
    prop::collection::vec((0..authors, 0..3u64, kind()), 0..max)
}

/// Runs the script: each author appends to its own log. Returns every op in the order written.
pub fn build(script: &[Write]) -> Vec<EncodedOp> {
    set_manual_clock(T0);
    let authors = script.iter().map(|w| w.0).max().map_or(0, |m| m as usize + 1);
    let mut logs: Vec<Log> = (0..authors).map(|i| log_of(peer(i as u8), LogConfig::default())).collect();
    script
        .iter()
        .map(|(author, dt, kind)| {
            advance_manual_clock(*dt);
            logs[*author as usize].append(kind.clone()).expect("a local append")
        })
        .collect()
}

/// A small deterministic generator for shuffles.
pub struct Rng(pub u64);

impl Rng {
    /// The next number below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    /// Shuffles `items`.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// A log of a peer that wrote nothing, holding `ops` received as remote batches: the ops are cut
/// into chunks in the order written and each chunk arrives shuffled.
pub fn merged(ops: &[EncodedOp], seed: u64, config: LogConfig) -> Log {
    let mut rng = Rng(seed | 1);
    let mut log = log_of(peer(200), config);
    let mut rest = ops;
    while !rest.is_empty() {
        let n = 1 + rng.below(rest.len().min(8));
        let mut chunk = rest[..n].to_vec();
        rng.shuffle(&mut chunk);
        log.insert_remote(chunk).expect("remote ops in chain order");
        rest = &rest[n..];
    }
    log
}
