//! Engine records as JavaScript objects: ops, history items, diffs, reports, and the time
//! arguments (`at`, `diff`, `log`) read from JavaScript.

use auroradb_log::{Hash, Op, OpId, OpKind, PeerId, Step, Value};
use auroradb_snapshot::{Change, Diff, HistoryItem, Outcome};
use js_sys::{Array, Object};
use wasm_bindgen::JsValue;

use crate::value::{describe, to_js};
use auroradb::{DbError, DbVerifyReport, upto_millis};

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

/// An op id as JavaScript sees it: 48 hex digits that sort like the ids.
pub fn id_hex(id: &OpId) -> String {
    hex(&id.to_bytes())
}

/// A small object builder.
pub struct Obj(Object);

impl Obj {
    /// An empty object.
    pub fn new() -> Obj {
        Obj(Object::new())
    }

    /// Sets a field.
    pub fn set(self, key: &str, value: impl Into<JsValue>) -> Obj {
        crate::value::set_field(&self.0, &crate::value::field_name(key), &value.into());
        self
    }

    /// Sets a field to a stored value.
    pub fn value(self, key: &str, value: &Value) -> Obj {
        self.set(key, to_js(value))
    }

    /// The object.
    pub fn build(self) -> JsValue {
        self.0.into()
    }
}

fn id_fields(obj: Obj, id: &OpId) -> Obj {
    obj.set("id", id_hex(id)).set("hlc", id.to_string()).set("time", id.millis() as f64).set("counter", id.counter())
}

pub(crate) fn peer_hex(peer: &PeerId) -> String {
    peer.to_hex()
}

fn step_js(step: &Step) -> JsValue {
    match step {
        Step::Put { key, value } => {
            Obj::new().set("kind", "put").set("key", key.as_str()).value("value", value).build()
        }
        Step::Remove { key } => Obj::new().set("kind", "remove").set("key", key.as_str()).build(),
    }
}

/// One op of the log: id, HLC, time, author, seq, kind, key / value / steps, hash, prev.
pub fn op_js(op: &Op, hash: &Hash) -> JsValue {
    let mut obj = id_fields(Obj::new(), &op.id).set("author", peer_hex(&op.author)).set("seq", op.seq as f64);
    obj = match &op.kind {
        OpKind::Put { key, value } => obj.set("kind", "put").set("key", key.as_str()).value("value", value),
        OpKind::Remove { key } => obj.set("kind", "remove").set("key", key.as_str()),
        OpKind::Clear => obj.set("kind", "clear"),
        OpKind::Txn(steps) => obj.set("kind", "txn").set("steps", steps.iter().map(step_js).collect::<Array>()),
    };
    obj.set("hash", hash.to_hex()).set("prev", op.prev.to_hex()).build()
}

/// One item of a key's history.
pub fn history_js(item: &HistoryItem) -> JsValue {
    let outcome = match item.outcome {
        Outcome::Current => "current",
        Outcome::Superseded => "superseded",
        Outcome::Lost => "lost",
    };
    let mut obj = id_fields(Obj::new(), &item.id).set("author", peer_hex(&item.author)).set("kind", item.kind);
    if let Some(v) = &item.value {
        obj = obj.value("value", v);
    }
    obj.set("outcome", outcome).build()
}

/// `{ added: [{key, value}], changed: [{key, before, after}], removed: [{key, value}] }`.
pub fn diff_js(d: &Diff) -> JsValue {
    let pairs = |list: &[(String, Value)]| -> Array {
        list.iter().map(|(k, v)| Obj::new().set("key", k.as_str()).value("value", v).build()).collect()
    };
    let changed: Array = d
        .changed
        .iter()
        .map(|(k, before, after)| {
            Obj::new().set("key", k.as_str()).value("before", before).value("after", after).build()
        })
        .collect();
    Obj::new().set("added", pairs(&d.added)).set("changed", changed).set("removed", pairs(&d.removed)).build()
}

/// What `verify()` checked.
pub fn verify_js(r: &DbVerifyReport) -> JsValue {
    Obj::new()
        .set("ok", true)
        .set("ops", r.ops as f64)
        .set("authors", r.authors as f64)
        .set("checkpoints", r.checkpoints as f64)
        .set("keys", r.keys as f64)
        .set("proven", r.proven as f64)
        .set("fingerprint", r.fingerprint.to_string())
        .build()
}

/// One visible change, as listed in a `change` event: `{ key, type: 'set' | 'delete', value }`.
pub fn change_js(c: &Change) -> JsValue {
    match &c.after {
        Some(v) => Obj::new().set("key", c.key.as_str()).set("type", "set").value("value", v).build(),
        None => Obj::new().set("key", c.key.as_str()).set("type", "delete").build(),
    }
}

/// The time a point argument names, if it is a time (milliseconds or a `Date`) and not an op id.
pub fn time_of(v: &JsValue) -> Option<f64> {
    if v.is_object() { date_time(v) } else { v.as_f64() }
}

#[wasm_bindgen::prelude::wasm_bindgen(module = "/js/objects.js")]
extern "C" {
    /// The time of a `Date` of any realm, NaN (refused as a time) for an object that only has
    /// `Date`'s prototype (a throw run through the engine would leave the call unsettled),
    /// `None` for another value.
    #[wasm_bindgen(js_name = dateTime)]
    fn date_time(v: &JsValue) -> Option<f64>;
}

/// A point in the log from JavaScript: milliseconds since the Unix epoch, a `Date`, or an op id
/// (48 hex digits, as `log()` and `history()` give). For times, `upper` picks the last id of that
/// millisecond (everything up to and including it), else the first.
pub fn point_from_js(v: &JsValue, what: &str, upper: bool) -> Result<OpId, DbError> {
    if let Some(ms) = time_of(v) {
        if !(ms.is_finite() && ms >= 0.0) {
            // The number as JavaScript writes it (`-1`, `NaN`, `-Infinity`): Rust's float
            // formatting would cost the wasm about 15 KB.
            let shown = String::from(js_sys::Number::from(ms).to_string_with_radix(10).unwrap_or_default());
            return Err(DbError::InvalidInput(format!(
                "{what} must be a time in milliseconds since 1970, not {shown}"
            )));
        }
        let ms = ms as u64;
        return Ok(if upper { upto_millis(ms) } else { OpId::from_millis(ms, PeerId([0; 16])) });
    }
    if let Some(s) = v.as_string()
        && let Some(bytes) = unhex(&s)
        && let Ok(id) = OpId::from_bytes(&bytes)
    {
        return Ok(id);
    }
    Err(DbError::InvalidInput(format!(
        "{what} must be a time (milliseconds or a Date) or an op id (48 hex digits), not {}",
        describe(v)
    )))
}
