//! [`history`]: every op on a key, with whether it won.

use auroradb_log::{Op, OpId, OpKind, PeerId, Value};

use crate::StateConfig;
use crate::record::KeyRecord;
use crate::rule::{self, Ctx};

/// What became of an op on a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Its effect is visible now: its value (or, under `merge`, one of its fields) is shown, or
    /// it is the remove or clear that hides the key.
    Current,
    /// It took effect when applied in id order and was replaced later.
    Superseded,
    /// It did not take effect when applied in id order: it lost a conflict under the strategy
    /// (for example a lower `version`, or a remote write under `local-wins`).
    Lost,
}

/// One op on a key, as [`history`] shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryItem {
    /// The op's id.
    pub id: OpId,
    /// The op's author.
    pub author: PeerId,
    /// `put`, `remove`, `clear` or `txn`.
    pub kind: &'static str,
    /// What the op wrote to the key (`None` for a remove or a clear; for a transaction, the net
    /// effect of its steps on the key).
    pub value: Option<Value>,
    /// What became of it.
    pub outcome: Outcome,
}

/// Replays `ops` (those that touch `key`, clears included; others are skipped; any order,
/// duplicates ignored) through the strategy in id order, and classifies each. A clear before
/// the key's first op is left out: it removed nothing of the key.
///
/// ```
/// use auroradb_log::{Hash, Op, OpId, OpKind, PeerId, Value};
/// use auroradb_snapshot::{Outcome, StateConfig, Strategy, history};
///
/// let (a, b) = (PeerId([1; 16]), PeerId([2; 16]));
/// let put = |ms, peer, v: i64| Op {
///     id: OpId::from_millis(ms, peer), author: peer, seq: 1, prev: Hash::ZERO,
///     kind: OpKind::Put { key: "item".into(), value: Value::map([("version", Value::Int(v))]) },
/// };
/// let items = history(&StateConfig::new(Strategy::Version, a), "item", [put(10, a, 2), put(20, b, 1)]);
/// // b wrote later, but with a lower version: it lost.
/// assert_eq!(items.iter().map(|i| i.outcome).collect::<Vec<_>>(), [Outcome::Current, Outcome::Lost]);
/// ```
pub fn history(config: &StateConfig, key: &str, ops: impl IntoIterator<Item = Op>) -> Vec<HistoryItem> {
    let mut ops: Vec<Op> = ops.into_iter().filter(|op| op.kind.touches(key)).collect();
    auroradb_log::sort_by_key(&mut ops, |op| op.id);
    ops.dedup_by_key(|op| op.id);

    let mut rec = KeyRecord::new(&config.strategy);
    let mut last_clear = None;
    // Per item: whether it took effect, and whether it deletes (remove or clear).
    let mut items: Vec<(HistoryItem, bool, bool)> = Vec::with_capacity(ops.len());
    for op in ops {
        let kind = op.kind.name();
        let (value, took, deletes) = match &op.kind {
            // A clear before the key's first op (in id order) removed nothing of it: a clear
            // only removes what is older than it.
            OpKind::Clear if items.is_empty() => continue,
            OpKind::Clear => {
                // In id order a clear is newer than everything before it: it always takes effect.
                rule::prune(&mut rec, op.id, &config.strategy, config.locals());
                last_clear = Some(op.id);
                (None, true, true)
            }
            other => {
                let Some(action) = rule::action_for(&config.strategy, other, key) else { continue };
                let value = action.value().cloned();
                let ctx = Ctx { strategy: &config.strategy, local: config.locals(), key };
                rule::apply(&mut rec, &ctx, op.id, action);
                let took = match value {
                    Some(_) => rec.shows(op.id),
                    None => rec.deleted_by() == Some(op.id),
                };
                (value.clone(), took, value.is_none())
            }
        };
        let item = HistoryItem { id: op.id, author: op.author, kind, value, outcome: Outcome::Lost };
        items.push((item, took, deletes));
    }

    items
        .into_iter()
        .map(|(mut item, took, deletes)| {
            let current = if item.kind == "clear" {
                last_clear == Some(item.id) && rec.visible().is_none() && rec.deleted_by().is_none()
            } else if deletes {
                rec.deleted_by() == Some(item.id)
            } else {
                rec.shows(item.id)
            };
            item.outcome = match (took, current) {
                (false, _) => Outcome::Lost,
                (true, true) => Outcome::Current,
                (true, false) => Outcome::Superseded,
            };
            item
        })
        .collect()
}
