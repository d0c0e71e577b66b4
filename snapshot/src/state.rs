//! [`State`]: the materialized view of the log under a strategy, updated one op at a time, with
//! its secondary indexes.

use core::fmt;
use std::collections::{BTreeMap, HashSet};

use auroradb_log::{Op, OpId, OpKind, PeerId, Value};
use serde::{Deserialize, Serialize};

use crate::error::{decode, encode};
use crate::index::{Index, IndexSpec};
use crate::order::render_value;
use crate::record::KeyRecord;
use crate::rule::Local;
use crate::rule::{self, Action, Ctx};
use crate::{Result, SnapshotError, Strategy};

/// Magic of an encoded [`StateMeta`].
pub const MAGIC_STATE_META: [u8; 4] = *b"AUsm";

/// How a state decides winners and what it indexes.
#[derive(Clone, Debug)]
pub struct StateConfig {
    /// The conflict strategy.
    pub strategy: Strategy,
    /// This peer: what `local-wins`, `remote-wins` and custom resolvers call local, with
    /// [`StateConfig::also_local`].
    pub local: PeerId,
    /// The other authors that count as local: those the same storage writes as (its other
    /// connections, and this one's earlier authors), so that every connection of a storage, and
    /// every reopen, computes the same state from the same ops.
    pub also_local: Vec<PeerId>,
    /// The secondary indexes. Names must be distinct (see [`StateConfig::validate`]).
    pub indexes: Vec<IndexSpec>,
}

impl StateConfig {
    /// A configuration with no indexes.
    pub fn new(strategy: Strategy, local: PeerId) -> StateConfig {
        StateConfig { strategy, local, also_local: Vec::new(), indexes: Vec::new() }
    }

    /// Also counts `authors` as local (see [`StateConfig::also_local`]).
    pub fn with_local(mut self, authors: impl IntoIterator<Item = PeerId>) -> StateConfig {
        self.also_local.extend(authors);
        self
    }

    /// Who counts as local.
    pub(crate) fn locals(&self) -> Local<'_> {
        Local { me: self.local, others: &self.also_local }
    }

    /// Adds an index over the top-level field `name`.
    pub fn with_index(mut self, name: impl Into<String>, unique: bool) -> StateConfig {
        self.indexes.push(IndexSpec::new(name, unique));
        self
    }

    /// Checks that index names are distinct and not empty. [`State::new`] does not fail: given two
    /// indexes with one name it keeps the first.
    pub fn validate(&self) -> Result<()> {
        for (i, spec) in self.indexes.iter().enumerate() {
            if spec.name.is_empty() {
                return Err(SnapshotError::InvalidConfig("an index with an empty name".into()));
            }
            if self.indexes[..i].iter().any(|s| s.name == spec.name) {
                return Err(SnapshotError::InvalidConfig(format!("two indexes named {:?}", spec.name)));
            }
        }
        Ok(())
    }
}

/// The global part of a state, persisted by the database next to the per-key records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateMeta {
    strategy: String,
    clear: Option<OpId>,
    applied: u64,
    high_water: Option<OpId>,
}

impl StateMeta {
    fn new(strategy: &Strategy) -> StateMeta {
        StateMeta { strategy: strategy.name().to_owned(), clear: None, applied: 0, high_water: None }
    }

    /// The name of the strategy the state was built with.
    pub fn strategy(&self) -> &str {
        &self.strategy
    }

    /// The latest clear applied: every op older than it is hidden.
    pub fn clear(&self) -> Option<OpId> {
        self.clear
    }

    /// How many distinct ops have been applied.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// The largest op id applied.
    pub fn high_water(&self) -> Option<OpId> {
        self.high_water
    }

    /// The meta with the counts of a log of `applied` ops whose largest id is `high_water`. A
    /// database derives them from its authors' chain heads (each chain holds every seq up to its
    /// head's, in id order), so it need not store the meta again when only they change.
    pub fn with_log(mut self, applied: u64, high_water: Option<OpId>) -> StateMeta {
        self.applied = applied;
        self.high_water = high_water;
        self
    }

    /// Encodes the meta (magic `AUsm` + format version + postcard body).
    pub fn encode(&self) -> Vec<u8> {
        encode(MAGIC_STATE_META, self)
    }

    /// Decodes meta made by [`StateMeta::encode`].
    pub fn decode(bytes: &[u8]) -> Result<StateMeta> {
        let meta: StateMeta = decode("state meta", MAGIC_STATE_META, bytes)?;
        if meta.applied == 0 && (meta.clear.is_some() || meta.high_water.is_some()) {
            return Err(SnapshotError::corrupt("state meta", "ids recorded without applied ops"));
        }
        if meta.clear.is_some() && meta.clear > meta.high_water {
            return Err(SnapshotError::corrupt("state meta", "clear newer than the high water"));
        }
        Ok(meta)
    }
}

/// One visible change made by an op.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The key.
    pub key: String,
    /// The value shown before (`None`: the key was absent, or, in a change another connection
    /// made to a record this one did not hold, not known).
    pub before: Option<Value>,
    /// The value shown after (`None`: the key is absent now).
    pub after: Option<Value>,
}

/// What one [`State::apply`] changed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Applied {
    /// Keys whose visible entry changed (its value, or the op that wrote it), in the order the op
    /// touched them.
    pub changes: Vec<Change>,
    /// Keys whose [`KeyRecord`] changed: the database writes [`State::record`] of each (or
    /// deletes it when that is `None`).
    pub touched: Vec<String>,
    /// Whether [`State::meta`] changed.
    pub meta_changed: bool,
}

/// The materialized state: key → visible entry under the configured strategy, updated
/// incrementally as ops arrive in any order (late ops included), with secondary indexes kept in
/// step.
///
/// ```
/// use auroradb_log::{Op, OpId, OpKind, PeerId, Hash, Value};
/// use auroradb_snapshot::{State, StateConfig, Strategy};
///
/// let (alice, bob) = (PeerId([1; 16]), PeerId([2; 16]));
/// let op = |ms, peer, kind| Op { id: OpId::from_millis(ms, peer), author: peer, seq: 1, prev: Hash::ZERO, kind };
/// let mut state = State::new(StateConfig::new(Strategy::Timestamp, alice).with_index("email", true));
/// state.apply(&op(20, bob, OpKind::Remove { key: "u1".into() }));
/// // A late put, older than the remove: the key stays deleted.
/// let applied = state.apply(&op(10, alice, OpKind::Put { key: "u1".into(), value: Value::from("x") }));
/// assert!(applied.changes.is_empty());
/// assert!(state.get("u1").is_none());
/// ```
#[derive(Clone)]
pub struct State {
    config: StateConfig,
    meta: StateMeta,
    records: BTreeMap<String, KeyRecord>,
    visible: usize,
    indexes: Vec<Index>,
    /// Ids applied by this value (not persisted; see [`State::remember`]).
    seen: HashSet<OpId>,
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("strategy", &self.config.strategy)
            .field("visible", &self.visible)
            .field("records", &self.records.len())
            .field("meta", &self.meta)
            .finish()
    }
}

impl State {
    /// An empty state.
    pub fn new(config: StateConfig) -> State {
        let mut indexes: Vec<Index> = Vec::with_capacity(config.indexes.len());
        for spec in &config.indexes {
            if !indexes.iter().any(|i| i.spec.name == spec.name) {
                indexes.push(Index::new(spec.clone()));
            }
        }
        let meta = StateMeta::new(&config.strategy);
        State { config, meta, records: BTreeMap::new(), visible: 0, indexes, seen: HashSet::default() }
    }

    /// A state rebuilt from persisted meta and per-key records (indexes are rebuilt from them).
    /// Fails if they were made under another strategy.
    ///
    /// A restored state does not know which op ids it applied: feed it only ops it has not seen
    /// (the database's log filters duplicates), or call [`State::remember`] with the log's ids.
    pub fn restore(
        config: StateConfig,
        meta: StateMeta,
        records: impl IntoIterator<Item = (String, KeyRecord)>,
    ) -> Result<State> {
        let mut state = State::new(config);
        if meta.strategy != state.config.strategy.name() {
            return Err(SnapshotError::StrategyMismatch {
                stored: meta.strategy,
                configured: state.config.strategy.name().to_owned(),
            });
        }
        state.meta = meta;
        for (key, record) in records {
            if !record.rule.fits(&state.config.strategy) {
                return Err(SnapshotError::corrupt("state", format!("record of key {key:?} is of another strategy")));
            }
            if let Some(entry) = &record.entry {
                state.visible += 1;
                for index in &mut state.indexes {
                    index.update(&key, None, Some(&entry.value));
                }
            }
            state.records.insert(key, record);
        }
        Ok(state)
    }

    /// A state that holds none of its records yet: `meta`, and `visible`, the number of visible
    /// records the storage holds. A database that reads records on demand starts with this and
    /// adds each record it reads with [`State::hold`], before applying an op to its key (an op
    /// applied to a key not held is applied as to a key that has no record). Until
    /// [`State::restore`] replaces it, its iteration, its indexes and [`State::check`] see only
    /// the records it holds; [`State::len`] is the storage's count. Fails if `meta` was made
    /// under another strategy.
    pub fn partial(config: StateConfig, meta: StateMeta, visible: usize) -> Result<State> {
        let mut state = State::restore(config, meta, [])?;
        state.visible = visible;
        Ok(state)
    }

    /// Adds a record read from storage to a state made by [`State::partial`], without counting
    /// it (it is in [`State::len`] already). A record of another strategy is refused.
    pub fn hold(&mut self, key: String, record: KeyRecord) -> Result<()> {
        if !record.rule.fits(&self.config.strategy) {
            return Err(SnapshotError::corrupt("state", format!("record of key {key:?} is of another strategy")));
        }
        if let Some(entry) = &record.entry {
            for index in &mut self.indexes {
                index.update(&key, None, Some(&entry.value));
            }
        }
        self.records.insert(key, record);
        Ok(())
    }

    /// Forgets a held record, keeping the count (the storage still holds it).
    pub fn forget(&mut self, key: &str) {
        if let Some(rec) = self.records.remove(key)
            && let Some(entry) = &rec.entry
        {
            for index in &mut self.indexes {
                index.update(key, Some(&entry.value), None);
            }
        }
    }

    /// Forgets every held record, keeping the meta and the count: the state becomes what
    /// [`State::partial`] makes, to hold records again on demand.
    pub fn forget_all(&mut self) {
        self.records.clear();
        for index in &mut self.indexes {
            *index = Index::new(index.spec.clone());
        }
    }

    /// Sets the meta and the count to the storage's, after another connection's commits that
    /// this partial state did not apply.
    pub fn set_stored(&mut self, meta: StateMeta, visible: usize) {
        self.meta = meta;
        self.visible = visible;
    }

    /// Number of records held (visible or not).
    pub fn held(&self) -> usize {
        self.records.len()
    }

    /// Marks op ids as already applied, so that applying them again is a no-op (for a restored
    /// state, from the log's ids).
    pub fn remember(&mut self, ids: impl IntoIterator<Item = OpId>) {
        self.seen.extend(ids);
    }

    /// Puts saved records and meta back, as they were before some ops were applied, and forgets
    /// those ops' ids: for a database whose commit of the ops failed. `records` holds, for every
    /// key the ops touched, its record before them (`None`: it had none).
    pub fn revert(
        &mut self,
        records: impl IntoIterator<Item = (String, Option<KeyRecord>)>,
        meta: StateMeta,
        ops: impl IntoIterator<Item = OpId>,
    ) {
        for (key, saved) in records {
            let now = self.records.get(&key).and_then(|r| r.entry.as_ref()).map(|e| e.value.clone());
            let then = saved.as_ref().and_then(|r| r.entry.as_ref()).map(|e| e.value.clone());
            match (now.is_some(), then.is_some()) {
                (false, true) => self.visible += 1,
                (true, false) => self.visible = self.visible.saturating_sub(1),
                _ => {}
            }
            if now != then {
                for index in &mut self.indexes {
                    index.update(&key, now.as_ref(), then.as_ref());
                }
            }
            match saved {
                Some(rec) => self.records.insert(key, rec),
                None => self.records.remove(&key),
            };
        }
        self.meta = meta;
        for id in ops {
            self.seen.remove(&id);
        }
    }

    /// The configuration.
    pub fn config(&self) -> &StateConfig {
        &self.config
    }

    /// Sets the other authors that count as local ([`StateConfig::also_local`]), for the ops
    /// applied from now on: the records already held were decided without those learned now.
    pub fn set_also_local(&mut self, authors: Vec<PeerId>) {
        self.config.also_local = authors;
    }

    /// The global part of the state.
    pub fn meta(&self) -> &StateMeta {
        &self.meta
    }

    /// The record of `key`, visible or not; `None` if no op ever wrote it.
    pub fn record(&self, key: &str) -> Option<&KeyRecord> {
        self.records.get(key)
    }

    /// Every record, in key order.
    pub fn records(&self) -> impl Iterator<Item = (&str, &KeyRecord)> {
        self.records.iter().map(|(k, r)| (k.as_str(), r))
    }

    /// The largest op id applied.
    pub fn high_water(&self) -> Option<OpId> {
        self.meta.high_water
    }

    /// How many distinct ops have been applied.
    pub fn applied_count(&self) -> u64 {
        self.meta.applied
    }

    pub(crate) fn indexes(&self) -> &[Index] {
        &self.indexes
    }

    pub(crate) fn index(&self, name: &str) -> Result<&Index> {
        self.indexes.iter().find(|i| i.spec.name == name).ok_or_else(|| SnapshotError::UnknownIndex(name.to_owned()))
    }

    /// Applies an op, local or remote, in any order. Applying an op id twice is a no-op. A
    /// transaction's steps apply under its one id, all at once. Never rejects: a remote op that
    /// gives two keys one value of a unique index is kept, and the conflict shows in
    /// [`State::index_conflicts`] (check local writes with [`State::check`] first).
    pub fn apply(&mut self, op: &Op) -> Applied {
        let mut out = Applied::default();
        if !self.seen.insert(op.id) {
            return out;
        }
        self.meta.applied = self.meta.applied.saturating_add(1);
        if self.meta.high_water.is_none_or(|h| op.id > h) {
            self.meta.high_water = Some(op.id);
        }
        out.meta_changed = true;
        match &op.kind {
            OpKind::Clear => self.apply_clear(op.id, &mut out),
            kind => {
                for (key, action) in rule::actions(&self.config.strategy, kind) {
                    self.apply_key(key, op.id, action, &mut out);
                }
            }
        }
        out
    }

    fn apply_key(&mut self, key: &str, id: OpId, action: Action, out: &mut Applied) {
        let dead = self.meta.clear.is_some_and(|c| id < c);
        let ctx = Ctx { strategy: &self.config.strategy, local: self.config.locals(), key };
        let (indexes, visible) = (&mut self.indexes, &mut self.visible);
        match self.records.get_mut(key) {
            Some(rec) => write_key(rec, &ctx, id, action, dead, indexes, visible, out),
            None => {
                let mut rec = KeyRecord::new(ctx.strategy);
                write_key(&mut rec, &ctx, id, action, dead, indexes, visible, out);
                self.records.insert(key.to_owned(), rec);
            }
        }
    }

    fn apply_clear(&mut self, c: OpId, out: &mut Applied) {
        if self.meta.clear.is_some_and(|old| c < old) {
            return;
        }
        self.meta.clear = Some(c);
        let (strategy, local) = (&self.config.strategy, self.config.locals());
        for (key, rec) in &mut self.records {
            let before = rec.entry.as_ref().map(|e| (e.id, e.value.clone()));
            if rule::prune(rec, c, strategy, local) {
                note_change(key, before, rec, &mut self.indexes, &mut self.visible, out);
                out.touched.push(key.clone());
            }
        }
    }

    /// Checks whether applying `op` as a local write would give a value of a unique index to two
    /// keys (counting the op's other writes, as a transaction applies them all); any number of
    /// keys may hold `null` in it. Changes nothing.
    /// Removes and clears never fail; neither does a write that leaves a key's indexed field as it
    /// was.
    pub fn check(&self, op: &Op) -> Result<()> {
        if !self.indexes.iter().any(|i| i.spec.unique)
            || self.seen.contains(&op.id)
            || self.meta.clear.is_some_and(|c| op.id < c)
        {
            return Ok(());
        }
        // The visible value of each written key, before and after, in key order (the order of
        // `actions`, each key once).
        let mut affected: Vec<(&str, Option<&Value>, Option<Value>)> = Vec::new();
        for (key, action) in rule::actions(&self.config.strategy, &op.kind) {
            let current = self.records.get(key);
            let mut rec = current.cloned().unwrap_or_else(|| KeyRecord::new(&self.config.strategy));
            let ctx = Ctx { strategy: &self.config.strategy, local: self.config.locals(), key };
            rule::apply(&mut rec, &ctx, op.id, action);
            let before = current.and_then(|r| r.entry.as_ref()).map(|e| &e.value);
            affected.push((key, before, rec.entry.map(|e| e.value)));
        }
        for index in self.indexes.iter().filter(|i| i.spec.unique) {
            for (key, before, after) in &affected {
                // A `null` field is no value to keep unique (as SQL's NULL; IndexedDB leaves it out).
                let Some(field) = after.as_ref().and_then(|v| index.field(v)).filter(|f| **f != Value::Null) else {
                    continue;
                };
                if before.and_then(|v| index.field(v)).is_some_and(|old| crate::compare_values(old, field).is_eq()) {
                    continue;
                }
                let outside =
                    index.holders(field).find(|h| h != key && affected.binary_search_by(|(k, ..)| k.cmp(h)).is_err());
                let inside = || {
                    affected.iter().find_map(|(other, _, v)| {
                        (other != key
                            && v.as_ref()
                                .and_then(|v| index.field(v))
                                .is_some_and(|f| crate::compare_values(f, field).is_eq()))
                        .then_some(*other)
                    })
                };
                if let Some(existing) = outside.or_else(inside) {
                    return Err(SnapshotError::UniqueViolation {
                        index: index.spec.name.clone(),
                        value: render_value(field),
                        key: (*key).to_owned(),
                        existing_key: existing.to_owned(),
                    });
                }
            }
        }
        Ok(())
    }

    pub(crate) fn visible_count(&self) -> usize {
        self.visible
    }

    pub(crate) fn record_map(&self) -> &BTreeMap<String, KeyRecord> {
        &self.records
    }
}

#[allow(clippy::too_many_arguments)]
fn write_key(
    rec: &mut KeyRecord,
    ctx: &Ctx<'_>,
    id: OpId,
    action: Action,
    dead: bool,
    indexes: &mut [Index],
    visible: &mut usize,
    out: &mut Applied,
) {
    if dead {
        rec.count_write();
    } else {
        let before = rec.entry.as_ref().map(|e| (e.id, e.value.clone()));
        rule::apply(rec, ctx, id, action);
        note_change(ctx.key, before, rec, indexes, visible, out);
    }
    out.touched.push(ctx.key.to_owned());
}

/// Records a visible change (if any) and keeps the indexes and the visible count in step.
fn note_change(
    key: &str,
    before: Option<(OpId, Value)>,
    rec: &KeyRecord,
    indexes: &mut [Index],
    visible: &mut usize,
    out: &mut Applied,
) {
    let after = rec.entry.as_ref();
    let changed = match (&before, after) {
        (None, None) => false,
        (Some((id, value)), Some(a)) => *id != a.id || *value != a.value,
        _ => true,
    };
    if !changed {
        return;
    }
    match (before.is_some(), after.is_some()) {
        (false, true) => *visible += 1,
        (true, false) => *visible = visible.saturating_sub(1),
        _ => {}
    }
    let before = before.map(|(_, v)| v);
    let after = after.map(|a| a.value.clone());
    for index in indexes.iter_mut() {
        index.update(key, before.as_ref(), after.as_ref());
    }
    out.changes.push(Change { key: key.to_owned(), before, after });
}
