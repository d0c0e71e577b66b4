//! The winner rules: how one op's effect on one key changes that key's [`KeyRecord`], and how a
//! clear prunes it.
//!
//! Every rule is incremental: an op costs work proportional to the record, never a replay. For
//! `timestamp`, `version` and `merge` the record after a set of ops does not depend on the order
//! they were applied in (each rule is a join: latest wins, newest tombstone wins, a frontier of
//! undominated puts, per-field latest stamps).
//!
//! The caller drops ops older than the latest clear before they get here (they only count as
//! writes), and prunes every record when a newer clear arrives, so a record only ever describes
//! ops newer than the latest clear.

use std::collections::BTreeMap;

use auroradb_log::{OpId, OpKind, PeerId, Step, Value};

use crate::Entry;
use crate::order::compare_values;
use crate::record::{KeyRecord, Rule};
use crate::strategy::version_of;
use crate::{Candidate, Pick, Resolver, Strategy};

/// The net effect of one op on one key. A transaction's steps on one key fold into one action
/// under the op's single id.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// Write a value.
    Put(Value),
    /// Delete the key (a tombstone at the op's id).
    Remove,
    /// A tombstone at the op's id followed, in the same transaction, by a write that survives it.
    Reset(Value),
}

impl Action {
    /// The value the op leaves for the key (`None` for a remove).
    pub(crate) fn value(&self) -> Option<&Value> {
        match self {
            Action::Put(v) | Action::Reset(v) => Some(v),
            Action::Remove => None,
        }
    }

    fn into_value(self) -> Option<Value> {
        match self {
            Action::Put(v) | Action::Reset(v) => Some(v),
            Action::Remove => None,
        }
    }
}

/// The per-key actions of a put, a remove or a transaction (keys in order, each once); empty for
/// a clear.
pub(crate) fn actions<'a>(strategy: &Strategy, kind: &'a OpKind) -> Vec<(&'a str, Action)> {
    match kind {
        OpKind::Put { key, value } => vec![(key.as_str(), Action::Put(value.clone()))],
        OpKind::Remove { key } => vec![(key.as_str(), Action::Remove)],
        OpKind::Clear => Vec::new(),
        OpKind::Txn(steps) => {
            // Grouped by key through the program's one sort (stable: a key's steps keep their
            // order) rather than a map of its own, whose B-tree code would be one more copy.
            let mut steps: Vec<&Step> = steps.iter().collect();
            auroradb_log::sort_by_key(&mut steps, |s| Step::key(s));
            steps.chunk_by(|a, b| a.key() == b.key()).map(|run| (run[0].key(), compose(strategy, run))).collect()
        }
    }
}

/// The action of one op on `key`, if it writes that key (a clear has none: see [`prune`]).
pub(crate) fn action_for(strategy: &Strategy, kind: &OpKind, key: &str) -> Option<Action> {
    match kind {
        OpKind::Put { key: k, value } if k == key => Some(Action::Put(value.clone())),
        OpKind::Remove { key: k } if k == key => Some(Action::Remove),
        OpKind::Txn(steps) => {
            let steps: Vec<&Step> = steps.iter().filter(|s| s.key() == key).collect();
            (!steps.is_empty()).then(|| compose(strategy, &steps))
        }
        _ => None,
    }
}

/// The action of one key's steps in a transaction, applied in order under one id.
fn compose(strategy: &Strategy, steps: &[&Step]) -> Action {
    match strategy {
        Strategy::Version => {
            // Later steps win version ties, as later writes of the same HLC would.
            let mut reset = false;
            let mut best: Option<&Value> = None;
            for step in steps {
                match step {
                    Step::Remove { .. } => (reset, best) = (true, None),
                    Step::Put { value, .. } => {
                        if best.is_none_or(|b| compare_values(version_of(value), version_of(b)).is_ge()) {
                            best = Some(value);
                        }
                    }
                }
            }
            finish(reset, best.cloned())
        }
        Strategy::Merge => {
            // Map puts merge field by field; a remove or a non-map put cuts everything before it.
            let mut reset = false;
            let mut acc: Option<Value> = None;
            for step in steps {
                match step {
                    Step::Remove { .. } => (reset, acc) = (true, None),
                    Step::Put { value: Value::Map(m), .. } => match &mut acc {
                        Some(Value::Map(a)) => a.extend(m.iter().map(|(k, v)| (k.clone(), v.clone()))),
                        Some(_) => (reset, acc) = (true, Some(Value::Map(m.clone()))),
                        None => acc = Some(Value::Map(m.clone())),
                    },
                    Step::Put { value, .. } => acc = Some(value.clone()),
                }
            }
            finish(reset, acc)
        }
        _ => match steps.last() {
            Some(Step::Put { value, .. }) => Action::Put(value.clone()),
            _ => Action::Remove,
        },
    }
}

fn finish(reset: bool, value: Option<Value>) -> Action {
    match (reset, value) {
        (_, None) => Action::Remove,
        (false, Some(v)) => Action::Put(v),
        (true, Some(v)) => Action::Reset(v),
    }
}

/// Who counts as local: this peer and the other authors of its storage
/// ([`crate::StateConfig::also_local`]).
#[derive(Clone, Copy)]
pub(crate) struct Local<'a> {
    pub(crate) me: PeerId,
    pub(crate) others: &'a [PeerId],
}

impl Local<'_> {
    pub(crate) fn has(self, peer: PeerId) -> bool {
        peer == self.me || self.others.contains(&peer)
    }
}

/// What a rule needs besides the record.
pub(crate) struct Ctx<'a> {
    pub(crate) strategy: &'a Strategy,
    pub(crate) local: Local<'a>,
    pub(crate) key: &'a str,
}

/// Applies one op's action on the key (an op newer than the latest clear) and counts the write.
pub(crate) fn apply(rec: &mut KeyRecord, ctx: &Ctx<'_>, id: OpId, action: Action) {
    rec.count_write();
    match ctx.strategy {
        Strategy::Timestamp => timestamp(rec, id, action),
        Strategy::Version => version(rec, id, action),
        Strategy::Merge => merge(rec, id, action),
        Strategy::LocalWins => sided(rec, id, action.into_value(), ctx.local, true),
        Strategy::RemoteWins => sided(rec, id, action.into_value(), ctx.local, false),
        Strategy::Custom(resolver) => custom(rec, ctx, resolver.as_ref(), id, action.into_value()),
    }
}

/// Drops everything older than a clear at `c`. Returns whether the record changed.
pub(crate) fn prune(rec: &mut KeyRecord, c: OpId, strategy: &Strategy, local: Local<'_>) -> bool {
    let old = |id: &OpId| *id < c;
    match &mut rec.rule {
        Rule::Timestamp { removed } | Rule::Custom { removed } => {
            let mut changed = false;
            if removed.is_some_and(|r| old(&r)) {
                *removed = None;
                changed = true;
            }
            if rec.entry.as_ref().is_some_and(|e| old(&e.id)) {
                rec.entry = None;
                changed = true;
            }
            changed
        }
        Rule::Version { removed, runners } => {
            let mut changed = false;
            if removed.is_some_and(|r| old(&r)) {
                *removed = None;
                changed = true;
            }
            if rec.entry.as_ref().is_some_and(|e| old(&e.id)) {
                runners.retain(|(id, _)| !old(id));
                let promoted = (!runners.is_empty()).then(|| runners.remove(0));
                rec.entry = None;
                if let Some((id, value)) = promoted {
                    rec.show(id, value);
                }
                changed = true;
            }
            changed
        }
        Rule::Merge { barrier, last_map, fields } => {
            let mut changed = false;
            if barrier.is_some_and(|b| old(&b)) {
                *barrier = None;
                changed = true;
            }
            match *last_map {
                Some(m) if old(&m) => {
                    fields.clear();
                    *last_map = None;
                    rec.entry = None;
                    changed = true;
                }
                Some(_) => {
                    if let Some(Value::Map(shown)) = rec.entry.as_mut().map(|e| &mut e.value) {
                        fields.retain(|name, id| {
                            let keep = !old(id);
                            if !keep {
                                shown.remove(name);
                                changed = true;
                            }
                            keep
                        });
                    }
                }
                None => {
                    if rec.entry.as_ref().is_some_and(|e| old(&e.id)) {
                        rec.entry = None;
                        changed = true;
                    }
                }
            }
            changed
        }
        Rule::Sided { .. } => {
            let prefer_local = matches!(strategy, Strategy::LocalWins);
            let (mut mine, mut theirs) = explode_sided(rec, local);
            let before = (mine.as_ref().map(|s| s.0), theirs.as_ref().map(|s| s.0));
            mine = mine.filter(|s| !old(&s.0));
            theirs = theirs.filter(|s| !old(&s.0));
            let changed = before != (mine.as_ref().map(|s| s.0), theirs.as_ref().map(|s| s.0));
            implode_sided(rec, mine, theirs, prefer_local);
            changed
        }
    }
}

fn timestamp(rec: &mut KeyRecord, id: OpId, action: Action) {
    let Rule::Timestamp { removed } = &mut rec.rule else { return };
    let latest = rec.entry.as_ref().map(|e| e.id).max(*removed);
    if latest.is_some_and(|l| id <= l) {
        return;
    }
    match action.into_value() {
        Some(v) => {
            *removed = None;
            rec.show(id, v);
        }
        None => {
            *removed = Some(id);
            rec.entry = None;
        }
    }
}

fn version(rec: &mut KeyRecord, id: OpId, action: Action) {
    let (reset, put) = match action {
        Action::Put(v) => (false, Some(v)),
        Action::Remove => (true, None),
        Action::Reset(v) => (true, Some(v)),
    };
    if reset {
        version_remove(rec, id);
    }
    if let Some(v) = put {
        version_put(rec, id, v);
    }
}

fn version_remove(rec: &mut KeyRecord, id: OpId) {
    let Rule::Version { removed, runners } = &mut rec.rule else { return };
    if removed.is_some_and(|r| id <= r) {
        return;
    }
    *removed = Some(id);
    // The frontier is ascending by id: if its head survives, so does the rest.
    if rec.entry.as_ref().is_some_and(|e| e.id < id) {
        runners.retain(|(rid, _)| *rid >= id);
        let promoted = (!runners.is_empty()).then(|| runners.remove(0));
        rec.entry = None;
        if let Some((rid, value)) = promoted {
            rec.show(rid, value);
        }
    }
}

fn version_put(rec: &mut KeyRecord, id: OpId, value: Value) {
    let Rule::Version { removed, runners } = &mut rec.rule else { return };
    if removed.is_some_and(|r| id < r) {
        return;
    }
    let Some(head) = rec.entry.take() else {
        rec.show(id, value);
        return;
    };
    let mut frontier = Vec::with_capacity(runners.len() + 2);
    frontier.push((head.id, head.value));
    frontier.append(runners);
    insert_frontier(&mut frontier, id, value);
    let mut it = frontier.into_iter();
    if let Some((hid, hvalue)) = it.next() {
        runners.extend(it);
        rec.show(hid, hvalue);
    }
}

/// Inserts a put into a frontier (ids ascending, versions strictly descending), unless a newer put
/// with an equal or higher version dominates it; drops the older puts it dominates.
fn insert_frontier(frontier: &mut Vec<(OpId, Value)>, id: OpId, value: Value) {
    let pos = frontier.partition_point(|(q, _)| *q < id);
    if let Some((next_id, next)) = frontier.get(pos)
        && (*next_id == id || compare_values(version_of(next), version_of(&value)).is_ge())
    {
        return;
    }
    let mut start = pos;
    while start > 0 && compare_values(version_of(&frontier[start - 1].1), version_of(&value)).is_le() {
        start -= 1;
    }
    frontier.splice(start..pos, [(id, value)]);
}

fn merge(rec: &mut KeyRecord, id: OpId, action: Action) {
    match action {
        Action::Remove => merge_cut(rec, id, None),
        Action::Put(Value::Map(fields)) => merge_fields(rec, id, fields),
        Action::Reset(Value::Map(fields)) => {
            merge_cut(rec, id, None);
            merge_fields(rec, id, fields);
        }
        Action::Put(v) | Action::Reset(v) => merge_cut(rec, id, Some(v)),
    }
}

/// A remove (`base: None`) or a non-map put at `id`: hides every field set before it.
fn merge_cut(rec: &mut KeyRecord, id: OpId, base: Option<Value>) {
    let Rule::Merge { barrier, last_map, fields } = &mut rec.rule else { return };
    if barrier.is_some_and(|b| id <= b) {
        return;
    }
    *barrier = Some(id);
    match *last_map {
        Some(m) if m > id => {
            // A newer map put still shows: only its older fields go.
            if let Some(Value::Map(shown)) = rec.entry.as_mut().map(|e| &mut e.value) {
                fields.retain(|name, fid| {
                    let keep = *fid >= id;
                    if !keep {
                        shown.remove(name);
                    }
                    keep
                });
            }
        }
        _ => {
            fields.clear();
            *last_map = None;
            rec.entry = None;
            if let Some(v) = base {
                rec.show(id, v);
            }
        }
    }
}

/// A map put at `id`: sets each field whose stamp is older.
fn merge_fields(rec: &mut KeyRecord, id: OpId, incoming: BTreeMap<String, Value>) {
    let Rule::Merge { barrier, last_map, fields } = &mut rec.rule else { return };
    if barrier.is_some_and(|b| id < b) {
        return;
    }
    match *last_map {
        None => {
            // Replaces a whole (non-map) value, which is older than `id` since `id` passed the
            // barrier.
            *last_map = Some(id);
            rec.entry = Some(Entry { value: Value::Map(BTreeMap::new()), id, author: id.peer, version: rec.writes });
        }
        Some(m) if id > m => {
            *last_map = Some(id);
            if let Some(e) = &mut rec.entry {
                e.id = id;
                e.author = id.peer;
            }
        }
        Some(_) => {}
    }
    let Some(Value::Map(shown)) = rec.entry.as_mut().map(|e| &mut e.value) else { return };
    for (name, value) in incoming {
        match fields.get_mut(&name) {
            Some(stamp) if *stamp >= id => {}
            Some(stamp) => {
                *stamp = id;
                shown.insert(name, value);
            }
            None => {
                fields.insert(name.clone(), id);
                shown.insert(name, value);
            }
        }
    }
}

type Slot = (OpId, Option<Value>);

/// Splits a sided record into the local side's and the remote side's latest ops.
fn explode_sided(rec: &mut KeyRecord, local: Local<'_>) -> (Option<Slot>, Option<Slot>) {
    let Rule::Sided { removed, other } = &mut rec.rule else { return (None, None) };
    let winner = match rec.entry.take() {
        Some(e) => Some((e.id, Some(e.value))),
        None => removed.take().map(|r| (r, None)),
    };
    let (mut mine, mut theirs) = (None, None);
    for slot in [winner, other.take()].into_iter().flatten() {
        if local.has(slot.0.peer) {
            mine = Some(slot);
        } else {
            theirs = Some(slot);
        }
    }
    (mine, theirs)
}

fn implode_sided(rec: &mut KeyRecord, mine: Option<Slot>, theirs: Option<Slot>, prefer_local: bool) {
    let (preferred, fallback) = if prefer_local { (mine, theirs) } else { (theirs, mine) };
    let (winner, runner) = match preferred {
        Some(p) => (Some(p), fallback),
        None => (fallback, None),
    };
    let Rule::Sided { removed, other } = &mut rec.rule else { return };
    *other = runner;
    *removed = None;
    rec.entry = None;
    match winner {
        Some((id, Some(v))) => rec.show(id, v),
        Some((id, None)) => *removed = Some(id),
        None => {}
    }
}

fn sided(rec: &mut KeyRecord, id: OpId, value: Option<Value>, local: Local<'_>, prefer_local: bool) {
    let (mut mine, mut theirs) = explode_sided(rec, local);
    let slot = if local.has(id.peer) { &mut mine } else { &mut theirs };
    if slot.as_ref().is_none_or(|(sid, _)| id > *sid) {
        *slot = Some((id, value));
    }
    implode_sided(rec, mine, theirs, prefer_local);
}

fn custom(rec: &mut KeyRecord, ctx: &Ctx<'_>, resolver: &dyn Resolver, id: OpId, value: Option<Value>) {
    let Rule::Custom { removed } = &mut rec.rule else { return };
    let current = match &rec.entry {
        Some(e) => Some((e.id, Some(&e.value))),
        None => removed.map(|r| (r, None)),
    };
    let incoming_wins = match current {
        None => true,
        Some((cid, cvalue)) => {
            let current = Candidate { id: cid, author: cid.peer, value: cvalue, local: ctx.local.has(cid.peer) };
            let incoming = Candidate { id, author: id.peer, value: value.as_ref(), local: ctx.local.has(id.peer) };
            resolver.pick(ctx.key, &current, &incoming) == Pick::Incoming
        }
    };
    if incoming_wins {
        match value {
            Some(v) => {
                *removed = None;
                rec.show(id, v);
            }
            None => {
                *removed = Some(id);
                rec.entry = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use auroradb_log::PeerId;

    use super::*;

    fn put(key: &str, value: Value) -> Step {
        Step::Put { key: key.into(), value }
    }

    fn rm(key: &str) -> Step {
        Step::Remove { key: key.into() }
    }

    fn ver(v: i64) -> Value {
        Value::map([("version", Value::Int(v))])
    }

    fn field(name: &str, v: i64) -> Value {
        Value::map([(name, Value::Int(v))])
    }

    fn id(ms: u64) -> OpId {
        OpId::from_millis(ms, PeerId([1; 16]))
    }

    #[test]
    fn transaction_steps_compose_per_strategy() {
        let compose_all = |s: &Strategy, steps: &[Step]| compose(s, &steps.iter().collect::<Vec<_>>());
        let t = Strategy::Timestamp;
        assert_eq!(compose_all(&t, &[rm("k"), put("k", Value::Int(1))]), Action::Put(Value::Int(1)));
        assert_eq!(compose_all(&t, &[put("k", Value::Int(1)), rm("k")]), Action::Remove);
        let v = Strategy::Version;
        assert_eq!(compose_all(&v, &[put("k", ver(3)), put("k", ver(2))]), Action::Put(ver(3)));
        assert_eq!(compose_all(&v, &[put("k", ver(3)), rm("k"), put("k", ver(1))]), Action::Reset(ver(1)));
        let m = Strategy::Merge;
        let ab = Value::map([("a", Value::Int(1)), ("b", Value::Int(2))]);
        assert_eq!(compose_all(&m, &[put("k", field("a", 1)), put("k", field("b", 2))]), Action::Put(ab));
        assert_eq!(compose_all(&m, &[put("k", Value::Int(0)), put("k", field("a", 1))]), Action::Reset(field("a", 1)));
        assert_eq!(compose_all(&m, &[rm("k"), put("k", Value::Int(5))]), Action::Reset(Value::Int(5)));
        assert_eq!(compose_all(&m, &[put("k", field("a", 1)), rm("k")]), Action::Remove);
    }

    #[test]
    fn transactions_split_by_key() {
        let kind = OpKind::Txn(vec![put("b", Value::Int(1)), put("a", Value::Int(2)), rm("b")]);
        let got = actions(&Strategy::Timestamp, &kind);
        assert_eq!(got, [("a", Action::Put(Value::Int(2))), ("b", Action::Remove)]);
        assert_eq!(action_for(&Strategy::Timestamp, &kind, "b"), Some(Action::Remove));
        assert_eq!(action_for(&Strategy::Timestamp, &kind, "c"), None);
        assert!(actions(&Strategy::Timestamp, &OpKind::Clear).is_empty());
    }

    #[test]
    fn the_version_frontier_keeps_only_undominated_puts() {
        let mut f = Vec::new();
        for (ms, v) in [(10, 5), (20, 3), (30, 4), (25, 9), (40, 1), (35, 1)] {
            insert_frontier(&mut f, id(ms), ver(v));
        }
        // (25, v9) dominates everything older; (30, v4) dominates (20, v3); (40, v1) dominates
        // (35, v1).
        let got: Vec<_> = f.iter().map(|(i, v)| (*i, v.clone())).collect();
        assert_eq!(got, [(id(25), ver(9)), (id(30), ver(4)), (id(40), ver(1))]);
    }

    #[test]
    fn prune_reports_whether_anything_changed() {
        let strategy = Strategy::Timestamp;
        let ctx = Ctx { strategy: &strategy, local: Local { me: PeerId([1; 16]), others: &[] }, key: "k" };
        let mut rec = KeyRecord::new(&strategy);
        apply(&mut rec, &ctx, id(20), Action::Put(Value::Int(1)));
        assert!(!prune(&mut rec, id(10), &strategy, ctx.local));
        assert!(rec.entry.is_some());
        assert!(prune(&mut rec, id(30), &strategy, ctx.local));
        assert!(rec.entry.is_none());
        assert_eq!(rec.writes, 1);
    }
}
