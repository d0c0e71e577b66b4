//! Output: values and ops as JSON, and aligned tables for people.

use std::fmt::Write as _;

use auroradb::log::Hash;
use auroradb::{Op, OpKind, Step, Value};
use serde_json::{Map, Value as Json, json};

use crate::when::id_time;

/// A value as JSON. Bytes become `{"$bytes": "<hex>"}`; a float that JSON cannot hold (NaN,
/// infinities) becomes the string `"NaN"`, `"inf"` or `"-inf"`.
pub fn value_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or_else(|| Json::String(f.to_string()), Json::Number),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => json!({ "$bytes": hex(b) }),
        Value::List(items) => Json::Array(items.iter().map(value_json).collect()),
        Value::Map(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), value_json(v))).collect()),
    }
}

/// An optional value as JSON (`None`: absent, `null` in JSON).
pub fn opt_json(v: Option<&Value>) -> Json {
    v.map_or(Json::Null, value_json)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// An op as JSON: `id` (as the engine prints it, usable as a time), `time` (RFC 3339), `millis`,
/// `author` (32 hex digits), `seq`, `kind`, `hash` and `prev` (64 hex digits), and what it wrote:
/// `key` and `value` for a put, `key` for a remove, `steps` for a transaction.
pub fn op_json(op: &Op, hash: &Hash) -> Map<String, Json> {
    let mut m = Map::new();
    m.insert("id".into(), json!(op.id.to_string()));
    m.insert("time".into(), json!(id_time(&op.id)));
    m.insert("millis".into(), json!(op.id.millis()));
    m.insert("author".into(), json!(op.author.to_hex()));
    m.insert("seq".into(), json!(op.seq));
    m.insert("kind".into(), json!(op.kind.name()));
    match &op.kind {
        OpKind::Put { key, value } => {
            m.insert("key".into(), json!(key));
            m.insert("value".into(), value_json(value));
        }
        OpKind::Remove { key } => {
            m.insert("key".into(), json!(key));
        }
        OpKind::Clear => {}
        OpKind::Txn(steps) => {
            let steps: Vec<Json> = steps
                .iter()
                .map(|s| match s {
                    Step::Put { key, value } => json!({ "op": "put", "key": key, "value": value_json(value) }),
                    Step::Remove { key } => json!({ "op": "remove", "key": key }),
                })
                .collect();
            m.insert("steps".into(), Json::Array(steps));
        }
    }
    m.insert("hash".into(), json!(hash.to_hex()));
    m.insert("prev".into(), json!(op.prev.to_hex()));
    m
}

/// What an op wrote, for a table: `(keys, value)`.
pub fn op_cells(op: &Op, width: usize) -> (String, String) {
    match &op.kind {
        OpKind::Put { key, value } => (key.clone(), compact(&value_json(value), width)),
        OpKind::Remove { key } => (key.clone(), String::new()),
        OpKind::Clear => ("*".into(), String::new()),
        OpKind::Txn(steps) => {
            let keys: Vec<&str> = steps.iter().map(Step::key).collect();
            let what: Vec<String> = steps
                .iter()
                .map(|s| match s {
                    Step::Put { key, value } => format!("{key}={}", compact(&value_json(value), usize::MAX)),
                    Step::Remove { key } => format!("-{key}"),
                })
                .collect();
            (cut(&keys.join(","), width), cut(&what.join(" "), width))
        }
    }
}

/// Compact JSON cut to `width` characters (an ellipsis marks the cut).
pub fn compact(v: &Json, width: usize) -> String {
    cut(&v.to_string(), width)
}

/// `s` cut to `width` characters.
pub fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// An aligned table: a header row and rows, columns separated by two spaces, the last column
/// not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let cols = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, cell) in cells.enumerate() {
            if i + 1 < cols {
                let pad = widths[i] - cell.chars().count();
                let _ = write!(l, "{cell}{:pad$}  ", "");
            } else {
                l.push_str(cell);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_values_are_cut() {
        let t = table(&["A", "LONGER"], &[vec!["xyz".into(), "1".into()], vec!["".into(), "22".into()]]);
        assert_eq!(t, "A    LONGER\nxyz  1\n     22\n");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(
            compact(&value_json(&Value::map([("a", Value::Bytes(vec![1, 255]))])), 80),
            r#"{"a":{"$bytes":"01ff"}}"#
        );
        assert_eq!(value_json(&Value::Float(f64::NAN)), Json::String("NaN".into()));
    }
}
