//! Transactions: the one model of a transaction's writes and reads, and its commit.
//!
//! A [`Transaction`] buffers writes as steps (validated as they are made), shows reads the
//! transaction's own writes first, and remembers which op each record it read came from. It does
//! not borrow the database, so it can live while other calls use the database (the JavaScript
//! `transaction(async (tx) => ...)` callback awaits other work between its reads and writes).
//! [`Database::commit_transaction`] then writes every step as one op, all or nothing, after
//! checking that no record the transaction read changed meanwhile.
//!
//! [`Txn`] is the same model for a synchronous closure ([`Database::transaction`]).

use std::collections::BTreeMap;

use auroradb_log::{OpId, OpKind, Step, Value};
use auroradb_snapshot::State;

use super::{Database, WriteOutcome, validate_key, validate_value};
use crate::storage::Storage;
use crate::{DbError, Result};

/// The writes and reads of one transaction, kept apart from the database until it commits.
#[derive(Debug, Clone, Default)]
pub struct Transaction {
    steps: Vec<Step>,
    /// What the transaction did with each key it wrote or read (one map for both: a B-tree
    /// instantiation fewer in the `.wasm`).
    keys: BTreeMap<String, Seen>,
}

/// What a transaction did with one key.
#[derive(Debug, Clone, Copy)]
struct Seen {
    /// Its latest write: the index in `steps` (the value is not copied: a bulk write's values are
    /// most of its work).
    written: Option<usize>,
    /// The op its record came from at its first read before any write of it (`Some(None)`: it
    /// was absent).
    read: Option<Option<OpId>>,
}

impl Transaction {
    /// An empty transaction.
    pub fn new() -> Transaction {
        Transaction::default()
    }

    /// The transaction's own write of `key`, if it wrote it: `Some(None)` if it removed it.
    pub fn written(&self, key: &str) -> Option<Option<&Value>> {
        self.keys.get(key).and_then(|k| k.written).map(|i| match &self.steps[i] {
            Step::Put { value, .. } => Some(value),
            Step::Remove { .. } => None,
        })
    }

    /// The value of `key` as the transaction sees it: its own write, else `state`'s value.
    /// Nothing is recorded; see [`Transaction::read`].
    pub fn get<'a>(&'a self, state: &'a State, key: &str) -> Option<&'a Value> {
        match self.written(key) {
            Some(v) => v,
            None => state.get(key).map(|e| &e.value),
        }
    }

    /// Like [`Transaction::get`], and a value that came from `state` is remembered with the op
    /// it came from (at its first read), so the commit fails if it changes before then.
    pub fn read<'a>(&'a mut self, state: &'a State, key: &str) -> Option<&'a Value> {
        // A key already here was written (its reads see that write) or read before.
        if !self.keys.contains_key(key) {
            let seen = state.get(key).map(|e| e.id);
            self.keys.insert(key.to_owned(), Seen { written: None, read: Some(seen) });
        }
        self.get(state, key)
    }

    /// Sets `key` to `value`; a key or value the database refuses is refused here, before
    /// anything is buffered.
    pub fn put(&mut self, key: impl Into<String>, value: Value) -> Result<()> {
        let key = key.into();
        validate_key(&key)?;
        validate_value(&value)?;
        self.write(Step::Put { key, value });
        Ok(())
    }

    /// Deletes `key`.
    pub fn remove(&mut self, key: impl Into<String>) -> Result<()> {
        let key = key.into();
        validate_key(&key)?;
        self.write(Step::Remove { key });
        Ok(())
    }

    /// Buffers `step`. A key keeps one step, its latest write: the op carries only what the
    /// transaction leaves in the key, as a strategy applies each step of an op on its own (under
    /// `version`, a second write of lower version would lose to the first; under `merge`, the
    /// first write's fields would join the second's).
    fn write(&mut self, step: Step) {
        let at = self.steps.len();
        match self.keys.get_mut(step.key()) {
            Some(Seen { written: Some(i), .. }) => self.steps[*i] = step,
            Some(k) => {
                k.written = Some(at);
                self.steps.push(step);
            }
            None => {
                self.keys.insert(step.key().to_owned(), Seen { written: Some(at), read: None });
                self.steps.push(step);
            }
        }
    }

    /// Number of keys written so far.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The first record read whose op in `state` is no longer the one the transaction saw.
    fn stale_read(&self, state: &State) -> Option<&str> {
        self.keys
            .iter()
            .find(|(key, k)| k.read.is_some_and(|seen| state.get(key).map(|e| e.id) != seen))
            .map(|(key, _)| key.as_str())
    }
}

/// The writes of a transaction, collected by the closure given to [`Database::transaction`].
/// Reads see the transaction's own writes.
#[derive(Debug)]
pub struct Txn<'a> {
    base: &'a State,
    key_path: Option<&'a str>,
    tx: Transaction,
}

impl Txn<'_> {
    /// The value of `key` as this transaction sees it.
    pub fn get(&self, key: &str) -> Option<Value> {
        // The closure runs while the database is borrowed, so nothing it reads can change before
        // the commit: reads need not be recorded.
        self.tx.get(self.base, key).cloned()
    }

    /// Sets `key` to `value`.
    pub fn put(&mut self, key: impl Into<String>, value: Value) -> Result<()> {
        self.tx.put(key, value)
    }

    /// Sets the value under the key found at the configured key path.
    pub fn add(&mut self, value: Value) -> Result<String> {
        let key = key_from_path(self.key_path, &value)?;
        self.put(key.clone(), value)?;
        Ok(key)
    }

    /// Deletes `key`.
    pub fn remove(&mut self, key: impl Into<String>) -> Result<()> {
        self.tx.remove(key)
    }

    /// Number of writes so far.
    pub fn len(&self) -> usize {
        self.tx.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.tx.is_empty()
    }
}

/// The key of `value` at `key_path`.
pub(super) fn key_from_path(key_path: Option<&str>, value: &Value) -> Result<String> {
    let path = key_path.ok_or_else(|| DbError::InvalidInput("no keyPath is configured: give a key".into()))?;
    match value.field(path) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(DbError::InvalidInput(format!("the value's {path:?} field is not a string"))),
        None => Err(DbError::InvalidInput(format!("the value has no {path:?} field (the keyPath)"))),
    }
}

impl<S: Storage> Database<S> {
    /// Runs `f` over a [`Txn`] and commits its writes as one op, all or nothing. An error from
    /// `f` aborts: nothing is written and the error is returned as [`DbError::Aborted`] (or as
    /// itself if it is a [`DbError`]).
    pub async fn transaction<T, E: std::fmt::Display>(
        &mut self,
        f: impl FnOnce(&mut Txn<'_>) -> Result<T, E>,
    ) -> Result<(T, WriteOutcome)> {
        // `f` may read any record.
        self.load_state().await?;
        let mut txn = Txn { base: &self.state, key_path: self.config.key_path.as_deref(), tx: Transaction::new() };
        let value = f(&mut txn).map_err(|e| DbError::Aborted(e.to_string()))?;
        let tx = txn.tx;
        let out = self.commit_transaction(tx).await?;
        Ok((value, out))
    }

    /// Writes `entries` as one atomic op.
    pub async fn batch_set(&mut self, entries: impl IntoIterator<Item = (String, Value)>) -> Result<WriteOutcome> {
        let mut tx = Transaction::new();
        for (key, value) in entries {
            tx.put(key, value)?;
        }
        self.commit_transaction(tx).await
    }

    /// Commits what `tx` wrote as one op, all or nothing. If a record it read changed since
    /// ([`Transaction::read`]), nothing is written and the error is [`DbError::Conflict`]. A
    /// transaction that wrote nothing commits nothing and cannot conflict.
    ///
    /// The reads are checked against the state as this connection last saw it, and again after
    /// catching up with another connection that committed meanwhile: a record another tab
    /// changed conflicts too, whichever tab learnt of it first.
    pub async fn commit_transaction(&mut self, mut tx: Transaction) -> Result<WriteOutcome> {
        if tx.is_empty() {
            return Ok(WriteOutcome::default());
        }
        let steps = std::mem::take(&mut tx.steps);
        let check = |state: &State| match tx.stale_read(state) {
            Some(key) => Err(DbError::Conflict { key: key.to_owned() }),
            None => Ok(()),
        };
        let reads: Vec<String> = tx.keys.iter().filter(|(_, k)| k.read.is_some()).map(|(key, _)| key.clone()).collect();
        self.commit_local_if(OpKind::Txn(steps), &reads, &check).await
    }
}
