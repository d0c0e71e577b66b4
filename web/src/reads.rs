//! What the live database's reads (`AuroraCore`) and the time-travel view's reads (`PastView`)
//! share: `slice` arguments, predicate callbacks and value lists; and the live database's reads
//! of the `state` store's readable records (`web/js/state.js`).

use auroradb_log::Value;
use auroradb_snapshot::State;
use js_sys::{Array, Function};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use crate::value::to_js;
use auroradb::DbError;

#[wasm_bindgen(module = "/js/state.js")]
extern "C" {
    /// The records of `records` (from the `state` store) that hold a value, or `null` if one is
    /// not a readable record.
    #[wasm_bindgen(js_name = visibleRecords)]
    pub(crate) fn visible_records(records: &Array) -> JsValue;
    /// The values of readable records.
    #[wasm_bindgen(js_name = recordValues)]
    pub(crate) fn record_values(records: &Array) -> Array;
    /// The keys of readable records.
    #[wasm_bindgen(js_name = recordKeys)]
    pub(crate) fn record_keys(records: &Array) -> Array;
    /// The values of readable records for which `predicate(value, key)` is truthy.
    #[wasm_bindgen(js_name = filterRecords, catch)]
    pub(crate) fn filter_records(records: &Array, predicate: &Function) -> Result<Array, JsValue>;
    /// A `slice()` bound converted as `Array.prototype.slice` converts it (`undefined`: left
    /// out); throws for a symbol, a BigInt, or a `valueOf` that throws.
    #[wasm_bindgen(js_name = sliceBound, catch)]
    pub(crate) fn slice_bound(v: &JsValue) -> Result<JsValue, JsValue>;
    /// Whether two readable records hold the same: key, value (deeply, of the same kinds) and
    /// `deleted`, and no other field.
    #[wasm_bindgen(js_name = sameRecord)]
    pub(crate) fn same_record(a: &JsValue, b: &JsValue) -> bool;
    /// Whether `predicate(value, key)` is truthy for every readable record.
    #[wasm_bindgen(js_name = everyRecord, catch)]
    pub(crate) fn every_record(records: &Array, predicate: &Function) -> Result<bool, JsValue>;
}

/// A `slice()` argument as `Array.prototype.slice` takes it: `None` when left out (undefined),
/// else its number as JavaScript converts it (`null` is 0, `'2'` is 2, `true` 1; NaN counts as
/// 0 below). Anything else (an object, a symbol) counts as NaN: converting it could run the
/// caller's code or throw.
pub fn slice_arg(v: &JsValue) -> Option<f64> {
    match v.as_f64() {
        Some(n) => Some(n),
        None if v.is_undefined() => None,
        None if v.is_null() || v.is_string() => Some(v.unchecked_into_f64()),
        None => Some(v.as_bool().map_or(f64::NAN, |b| f64::from(u8::from(b)))),
    }
}

/// Normalizes `slice(start, end)` arguments like `Array.prototype.slice`.
pub fn slice_bounds(len: usize, start: Option<f64>, end: Option<f64>) -> (usize, usize) {
    let at = |v: f64| -> usize {
        let len = len as f64;
        let v = if v.is_nan() { 0.0 } else { v.trunc() };
        (if v < 0.0 { (len + v).max(0.0) } else { v.min(len) }) as usize
    };
    let s = start.map_or(0, at);
    let e = end.map_or(len, at);
    (s, e.max(s))
}

/// The callback `op` (`filter`, `every`...) was given, or an `InvalidInputError`.
pub fn function(f: &JsValue, op: &str) -> Result<Function, DbError> {
    f.dyn_ref::<Function>().cloned().ok_or_else(|| DbError::InvalidInput(format!("{op} needs a function")))
}

/// The values of `(key, value)` pairs, as a JavaScript array.
pub fn values(list: &[(String, Value)]) -> Array {
    list.iter().map(|(_, v)| to_js(v)).collect()
}

/// Calls `f(value, key)` for each record of `state` in key order while `keep` says so,
/// converting each value once. Returns the values for which `f` returned a truthy value and
/// whether every record was visited, or what `f` threw.
pub fn scan(state: &State, f: &Function, mut keep: impl FnMut(bool) -> bool) -> Result<(Array, bool), JsValue> {
    let out = Array::new();
    for (key, entry) in state.iter() {
        let value = to_js(&entry.value);
        let verdict = f.call2(&JsValue::UNDEFINED, &value, &crate::value::js_string(key))?.is_truthy();
        if verdict {
            out.push(&value);
        }
        if !keep(verdict) {
            return Ok((out, false));
        }
    }
    Ok((out, true))
}

/// An index name given to `findBy` or `findRange`: a string.
pub(crate) fn index_name(index: &JsValue) -> Result<String, DbError> {
    index.as_string().ok_or_else(|| DbError::InvalidInput("an index name must be a string".into()))
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::slice_bounds;

    #[wasm_bindgen_test]
    fn slice_like_arrays() {
        assert_eq!(slice_bounds(5, Some(0.0), Some(10.0)), (0, 5));
        assert_eq!(slice_bounds(5, Some(1.0), None), (1, 5));
        assert_eq!(slice_bounds(5, Some(-2.0), None), (3, 5));
        assert_eq!(slice_bounds(5, None, Some(-1.0)), (0, 4));
        assert_eq!(slice_bounds(5, Some(4.0), Some(2.0)), (4, 4));
        assert_eq!(slice_bounds(5, Some(f64::NAN), Some(2.5)), (0, 2));
    }
}
