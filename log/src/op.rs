//! The [`Op`] model: one entry of the log.

use serde::{Deserialize, Serialize};

use crate::{Hash, OpId, PeerId, Value};

/// One write in a transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Step {
    /// Set `key` to `value`.
    Put {
        /// The record's key.
        key: String,
        /// The new value.
        value: Value,
    },
    /// Delete `key`.
    Remove {
        /// The record's key.
        key: String,
    },
}

impl Step {
    /// The key the step writes.
    pub fn key(&self) -> &str {
        match self {
            Step::Put { key, .. } | Step::Remove { key } => key,
        }
    }
}

/// What an op does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OpKind {
    /// Set `key` to `value`.
    Put {
        /// The record's key.
        key: String,
        /// The new value.
        value: Value,
    },
    /// Delete `key` (a tombstone at the op's time).
    Remove {
        /// The record's key.
        key: String,
    },
    /// Delete every key (a tombstone over everything older).
    Clear,
    /// Several steps under one id, applied all or nothing.
    Txn(Vec<Step>),
}

impl OpKind {
    /// A short name: `put`, `remove`, `clear` or `txn`.
    pub fn name(&self) -> &'static str {
        match self {
            OpKind::Put { .. } => "put",
            OpKind::Remove { .. } => "remove",
            OpKind::Clear => "clear",
            OpKind::Txn(_) => "txn",
        }
    }

    /// Whether the op writes `key` (a clear writes every key).
    pub fn touches(&self, key: &str) -> bool {
        match self {
            OpKind::Put { key: k, .. } | OpKind::Remove { key: k } => k == key,
            OpKind::Clear => true,
            OpKind::Txn(steps) => steps.iter().any(|s| s.key() == key),
        }
    }
}

/// One entry of the log: who wrote what, when, and where it sits in its author's hash chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// The HLC id: the op's place in the log's total order.
    pub id: OpId,
    /// The peer that wrote the op (always `id.peer`).
    pub author: PeerId,
    /// The author's sequence number of this op, from 1.
    pub seq: u64,
    /// The hash of the author's previous op ([`Hash::ZERO`] for seq 1).
    pub prev: Hash,
    /// What the op does.
    pub kind: OpKind,
}
