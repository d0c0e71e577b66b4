//! [`PastView`]: the read-only view `at(time)` returns (`Snapshot` to JavaScript).

use auroradb_log::OpId;
use auroradb_snapshot::State;
use js_sys::Array;
use wasm_bindgen::prelude::*;

use crate::error::to_js_error;
use crate::events::Events;
use crate::reads::{function, scan, slice_bound, slice_bounds, values};
use crate::records::id_hex;
use crate::value::{from_js, key_from_js, to_js};
use auroradb::DbError;

/// The database as it was at a point of its log: the same reads as the live database, answered
/// synchronously (awaiting them works too), and no writes. JavaScript knows the class as
/// `Snapshot` (the name in `auroradb.d.ts`).
#[wasm_bindgen(js_name = Snapshot)]
pub struct PastView {
    state: State,
    at: OpId,
    time: f64,
    key_path: Option<String>,
    /// The database's events: a refused call is dispatched as an `error` event, as the live
    /// database's are.
    events: Events,
}

impl PastView {
    /// A view of `state`, the state at `at`, asked for as of `time` (milliseconds; the time of
    /// `at` when `None`), whose refusals are dispatched through `events`.
    pub fn new(state: State, at: OpId, time: Option<f64>, key_path: Option<String>, events: Events) -> PastView {
        PastView { state, at, time: time.unwrap_or(at.millis() as f64), key_path, events }
    }

    /// Dispatches an `error` event of operation `op` for `err` and returns it as a JavaScript error.
    fn fail(&self, op: &str, err: &DbError) -> JsValue {
        let e = to_js_error(err);
        self.events.emit_error(op, &e);
        e
    }
}

#[wasm_bindgen(js_class = Snapshot)]
impl PastView {
    /// The time of the view in milliseconds since the Unix epoch (as asked for).
    #[wasm_bindgen(getter)]
    pub fn time(&self) -> f64 {
        self.time
    }

    /// The op id the view is at (every op up to and including it is applied).
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        id_hex(&self.at)
    }

    /// The configured key path, as the live database has it.
    #[wasm_bindgen(getter, js_name = keyPath)]
    pub fn key_path(&self) -> Option<String> {
        self.key_path.clone()
    }

    /// The value of `key` then, or `undefined`.
    pub fn get(&self, key: JsValue) -> Result<JsValue, JsValue> {
        let key = key_from_js(&key).map_err(|e| self.fail("get", &e))?;
        Ok(self.state.get(&key).map_or(JsValue::UNDEFINED, |e| to_js(&e.value)))
    }

    /// Every value then, in key order.
    pub fn all(&self) -> Array {
        self.state.iter().map(|(_, e)| to_js(&e.value)).collect()
    }

    /// Every key then, in order.
    pub fn keys(&self) -> Array {
        self.state.iter().map(|(k, _)| crate::value::js_string(k)).collect()
    }

    /// Number of records then.
    pub fn count(&self) -> f64 {
        self.state.len() as f64
    }

    /// The values then for which `predicate(value, key)` is truthy.
    pub fn filter(&self, predicate: JsValue) -> Result<Array, JsValue> {
        let f = function(&predicate, "filter").map_err(|e| self.fail("filter", &e))?;
        Ok(scan(&self.state, &f, |_| true)?.0)
    }

    /// Whether `predicate(value, key)` was truthy for every record then (stops at the first
    /// falsy one).
    pub fn every(&self, predicate: JsValue) -> Result<bool, JsValue> {
        let f = function(&predicate, "every").map_err(|e| self.fail("every", &e))?;
        Ok(scan(&self.state, &f, |v| v)?.1)
    }

    /// Values `start..end` in key order then (`Array.prototype.slice` rules: its arguments
    /// converted as it converts them). A bound it refuses (a symbol, a BigInt, a `valueOf` that
    /// throws) is an `InvalidInputError`, as in the live database's `slice()`.
    pub fn slice(&self, start: JsValue, end: JsValue) -> Result<Array, JsValue> {
        let bound = |v: &JsValue| {
            slice_bound(v).map(|n| n.as_f64()).map_err(|e| {
                let why =
                    e.dyn_ref::<js_sys::Error>().map_or_else(|| "not a number".into(), |e| String::from(e.message()));
                self.fail("slice", &DbError::InvalidInput(format!("slice() needs numbers: {why}")))
            })
        };
        let (s, e) = slice_bounds(self.state.len(), bound(&start)?, bound(&end)?);
        Ok(values(&self.state.slice(s, e)))
    }

    /// The values then whose indexed field equals `value`.
    #[wasm_bindgen(js_name = findBy)]
    pub fn find_by(&self, index: JsValue, value: JsValue) -> Result<Array, JsValue> {
        let index = crate::reads::index_name(&index).map_err(|e| self.fail("findBy", &e))?;
        let v = from_js(&value, "value").map_err(|e| self.fail("findBy", &e))?;
        let found = self.state.find_by(&index, &v).map_err(|e| self.fail("findBy", &DbError::Snapshot(e)))?;
        Ok(values(&found))
    }
}
