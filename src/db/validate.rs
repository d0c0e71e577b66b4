//! Input checks made before anything is written.

use auroradb_log::{LogError, Op, OpKind, Step, Value};

use crate::{DbError, Result};

/// Longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 4096;
/// Deepest nesting of lists and maps accepted in a value.
pub const MAX_DEPTH: usize = 64;

/// Field names and keys that would reach an object's prototype when turned back into JavaScript.
const FORBIDDEN: &[&str] = &["__proto__"];

/// Checks a record key: non-empty, at most [`MAX_KEY_LEN`] bytes, not `__proto__`.
pub fn validate_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(DbError::InvalidInput("key is empty".into()));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(DbError::InvalidInput(format!("key is {} bytes, more than {MAX_KEY_LEN}", key.len())));
    }
    if FORBIDDEN.contains(&key) {
        return Err(DbError::InvalidInput(format!("key {key:?} is not allowed")));
    }
    Ok(())
}

/// Checks a value: nesting at most [`MAX_DEPTH`], no `__proto__` field names.
pub fn validate_value(value: &Value) -> Result<()> {
    fn walk(v: &Value, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(DbError::InvalidInput(format!("value nests deeper than {MAX_DEPTH} levels")));
        }
        match v {
            Value::List(items) => items.iter().try_for_each(|i| walk(i, depth + 1)),
            Value::Map(fields) => fields.iter().try_for_each(|(k, v)| {
                if FORBIDDEN.contains(&k.as_str()) {
                    return Err(DbError::InvalidInput(format!("field name {k:?} is not allowed")));
                }
                walk(v, depth + 1)
            }),
            _ => Ok(()),
        }
    }
    walk(value, 0)
}

/// Checks what a remote op (a peer's, a file's) writes as a local write's input is checked: its
/// keys and values. So every record a database holds can be written and removed again.
pub(crate) fn validate_op(op: &Op) -> std::result::Result<(), LogError> {
    let check = |key: &str, value: Option<&Value>| {
        validate_key(key)?;
        value.map_or(Ok(()), validate_value)
    };
    let checked = match &op.kind {
        OpKind::Put { key, value } => check(key, Some(value)),
        OpKind::Remove { key } => check(key, None),
        OpKind::Txn(steps) => steps.iter().try_for_each(|step| match step {
            Step::Put { key, value } => check(key, Some(value)),
            Step::Remove { key } => check(key, None),
        }),
        _ => Ok(()),
    };
    checked.map_err(|e| LogError::InvalidContent {
        id: op.id,
        reason: match e {
            DbError::InvalidInput(why) => why,
            other => other.to_string(),
        },
    })
}
