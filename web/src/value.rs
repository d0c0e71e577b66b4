//! Values between JavaScript and the engine.
//!
//! | JavaScript | engine | back to JavaScript |
//! |---|---|---|
//! | `null` | `Null` | `null` |
//! | `true` / `false` | `Bool` | boolean |
//! | a number that is a safe integer (`Number.isSafeInteger`) | `Int` | number |
//! | any other number except `NaN` (`1.5`, `1e300`, `Infinity`) | `Float` | number |
//! | a `bigint` in the `i64` range | `Int` | number if safe, else `bigint` |
//! | string | `String` | string |
//! | `Uint8Array`, `ArrayBuffer` | `Bytes` | `Uint8Array` |
//! | array | `List` | array |
//! | plain object (prototype `Object.prototype` or `null`) | `Map` | plain object |
//!
//! Object fields holding `undefined` are left out, as `JSON.stringify` does. Everything else is
//! refused with an `InvalidInputError` naming where it is: `undefined` (alone or in an array),
//! `NaN`, functions, symbols (as values or keys), cycles, `__proto__` fields, other typed arrays,
//! and objects that are not plain (`Date`, `Map`, `Set`, class instances: store
//! `date.toISOString()` or `date.getTime()` instead of a `Date`). `-0` is stored as `0`.
//!
//! Strings (values, field names and record keys) must be well-formed UTF-16: a lone surrogate
//! (`'\uD800'` without its pair) has no UTF-8 form, and converting it would store U+FFFD in its
//! place, so `'x\uD800y'` and `'x\uFFFDy'` would become one key. Such a string is refused with
//! an `InvalidInputError` naming where it is and the offending code unit.
//!
//! Reading a value may run the application's code (a getter, a `Proxy`'s traps). Every such read
//! catches what it throws: the value is refused with an `InvalidInputError`, and nothing of the
//! write happens (an exception left to cross the engine's frames would leave the call unsettled).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use auroradb_log::Value;
use js_sys::{Array, BigInt, Function, JsString, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

// The reads of a value that may run the application's code, each catching what it throws.
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = Object, js_name = keys)]
    fn own_keys(obj: &JsValue) -> Result<Array, JsValue>;
    #[wasm_bindgen(catch, js_namespace = Object, js_name = getOwnPropertySymbols)]
    fn own_symbols(obj: &JsValue) -> Result<Array, JsValue>;
    #[wasm_bindgen(catch, js_namespace = Array, js_name = isArray)]
    fn is_array(v: &JsValue) -> Result<bool, JsValue>;
}

use auroradb::{DbError, MAX_DEPTH, MAX_KEY_LEN};

/// Largest integer a JavaScript number holds exactly.
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// One step of the path to a part of a value, for error messages.
enum Step {
    Field(String),
    Index(u32),
}

struct Walk<'a> {
    path: Vec<Step>,
    ancestors: Vec<JsValue>,
    root: &'a str,
    /// Bytes the strings and bytes still to be copied may hold: the value's encoding may not pass
    /// the limit (see [`from_js_within`]), so a value past it is refused before it is copied
    /// whole into the engine's memory.
    room: f64,
    limit: f64,
}

impl Walk<'_> {
    fn where_(&self) -> String {
        let mut out = self.root.to_owned();
        for s in &self.path {
            match s {
                Step::Field(f) if is_ident(f) => {
                    let _ = write!(out, ".{f}");
                }
                Step::Field(f) => {
                    let _ = write!(out, "[{f:?}]");
                }
                Step::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
            }
        }
        out
    }

    fn refuse(&self, what: &str) -> DbError {
        DbError::InvalidInput(format!(
            "{} {what}: only plain data can be stored (objects, arrays, strings, numbers, booleans, null, Uint8Array)",
            self.where_()
        ))
    }

    /// Takes `n` bytes of the room left; refuses the value once they pass it.
    fn spend(&mut self, n: f64) -> Result<(), DbError> {
        self.room -= n;
        if self.room < 0.0 { Err(DbError::ValueTooLarge { limit: self.limit as usize }) } else { Ok(()) }
    }

    fn value(&mut self, v: &JsValue) -> Result<Value, DbError> {
        if v.is_null() {
            return Ok(Value::Null);
        }
        if let Some(b) = v.as_bool() {
            return Ok(Value::Bool(b));
        }
        if let Some(n) = v.as_f64() {
            return number(n).ok_or_else(|| self.refuse("is NaN"));
        }
        if let Some(js) = v.dyn_ref::<JsString>() {
            // A string has at least as many UTF-8 bytes as UTF-16 units: one past the room is
            // refused before it is copied.
            self.spend(f64::from(js.length()))?;
            let text = exact_string(v).expect("a string").map_err(|lone| self.refuse(&lone.describe()))?;
            self.spend((text.len() - js.length() as usize) as f64)?;
            return Ok(Value::String(text));
        }
        if v.is_undefined() {
            return Err(self.refuse("is undefined"));
        }
        if v.is_bigint() {
            let big: &BigInt = v.unchecked_ref();
            return i64::try_from(big.clone())
                .map(Value::Int)
                .map_err(|_| self.refuse("is a bigint outside the 64-bit range"));
        }
        if v.is_symbol() {
            return Err(self.refuse("is a symbol"));
        }
        if v.is_function() {
            return Err(self.refuse("is a function"));
        }
        // Bytes, of this realm or another, are known and copied by the page, which catches what
        // reading them throws (a detached buffer, a proxy, an object that only has their
        // prototype): thrown through the engine, it would leave the call's promise unsettled.
        let copied = copy_bytes(v);
        if !copied.is_undefined() {
            return match copied.dyn_ref::<Uint8Array>() {
                Some(bytes) => {
                    self.spend(f64::from(bytes.length()))?;
                    Ok(Value::Bytes(bytes.to_vec()))
                }
                None => Err(self.refuse("holds bytes that cannot be read (a detached buffer, or not a real one)")),
            };
        }
        if self.path.len() >= MAX_DEPTH {
            return Err(self.refuse(&format!("nests deeper than {MAX_DEPTH} levels")));
        }
        if self.ancestors.iter().any(|a| Object::is(a, v)) {
            return Err(self.refuse("is a cycle (it contains itself)"));
        }
        let threw = |this: &Self| this.refuse("threw when read");
        if is_array(v).map_err(|_| threw(self))? {
            self.ancestors.push(v.clone());
            let length = Reflect::get(v, &field_name("length")).map_err(|_| threw(self))?;
            let length =
                length.as_f64().filter(|n| *n >= 0.0 && *n <= f64::from(u32::MAX)).ok_or_else(|| threw(self))?;
            let length = length as u32;
            let mut items = Vec::with_capacity(length.min(1 << 16) as usize);
            for i in 0..length {
                self.path.push(Step::Index(i));
                let item = Reflect::get_u32(v, i).map_err(|_| threw(self))?;
                let item = self.value(&item)?;
                self.path.pop();
                items.push(item);
            }
            self.ancestors.pop();
            return Ok(Value::List(items));
        }
        let obj: &Object = v.unchecked_ref();
        let kind = object_kind(obj).map_err(|_| threw(self))?;
        if kind != "plain" {
            let name = if kind.is_empty() { type_name(obj) } else { with_article(&kind) };
            return Err(self.refuse(&format!("is {name}")));
        }
        if own_symbols(obj).map_err(|_| threw(self))?.length() > 0 {
            return Err(self.refuse("has symbol keys"));
        }
        self.ancestors.push(v.clone());
        let mut fields = BTreeMap::new();
        let keys = own_keys(obj).map_err(|_| threw(self))?;
        // Every name is checked before any field is read, as the page's encoder does: a value
        // refused for a name is refused before its fields are copied.
        let mut names = Vec::with_capacity(keys.length() as usize);
        for i in 0..keys.length() {
            let name = keys.get(i);
            let key = match exact_string(&name) {
                Some(Ok(key)) => key,
                Some(Err(lone)) => return Err(self.refuse(&format!("has a field name that {}", lone.describe()))),
                None => String::new(),
            };
            if key == "__proto__" {
                self.path.push(Step::Field(key));
                return Err(self.refuse("is a field named __proto__"));
            }
            names.push((name, key));
        }
        for (name, key) in names {
            self.path.push(Step::Field(key.clone()));
            let field = Reflect::get(obj, &name).map_err(|_| self.refuse("threw when read"))?;
            if !field.is_undefined() {
                self.spend(key.len() as f64)?;
                let value = self.value(&field)?;
                fields.insert(key, value);
            }
            self.path.pop();
        }
        self.ancestors.pop();
        Ok(Value::Map(fields))
    }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// A number as a value: `Int` when it is a safe integer, `Float` otherwise; `None` for `NaN`.
pub(crate) fn number(n: f64) -> Option<Value> {
    if n.is_nan() {
        None
    } else if n.fract() == 0.0 && n.abs() <= MAX_SAFE {
        Some(Value::Int(n as i64))
    } else {
        Some(Value::Float(n))
    }
}

/// The two items of `item` if it is an array of two (a `[key, value]` pair), `None` if it is not;
/// an error if reading it threw (a `Proxy`).
pub(crate) fn pair_of(item: &JsValue) -> Result<Option<(JsValue, JsValue)>, JsValue> {
    if !is_array(item)? || Reflect::get(item, &field_name("length"))?.as_f64() != Some(2.0) {
        return Ok(None);
    }
    Ok(Some((Reflect::get_u32(item, 0)?, Reflect::get_u32(item, 1)?)))
}

/// The items of `v` if it is an array, `None` if it is not; an error if reading it threw.
pub(crate) fn array_items(v: &JsValue) -> Result<Option<Vec<JsValue>>, JsValue> {
    if !is_array(v)? {
        return Ok(None);
    }
    let length = Reflect::get(v, &field_name("length"))?.as_f64().unwrap_or(0.0) as u32;
    (0..length).map(|i| Reflect::get_u32(v, i)).collect::<Result<Vec<_>, _>>().map(Some)
}

/// The items of `v` if it is iterable (an array read by index, anything else through its
/// iterator), `None` if it is not; an error if reading it threw. Each step of the iteration
/// (`[Symbol.iterator]`, `next()`, `done`, `value`) is read through a catching call, so an
/// iterator or a getter of the application's that throws refuses the input instead of unwinding
/// through the engine.
pub(crate) fn iterable_items(v: &JsValue) -> Result<Option<Vec<JsValue>>, JsValue> {
    if let Some(items) = array_items(v)? {
        return Ok(Some(items));
    }
    if !v.is_object() {
        return Ok(None);
    }
    let Ok(start) = Reflect::get(v, &js_sys::Symbol::iterator())?.dyn_into::<Function>() else { return Ok(None) };
    let iter = start.call0(v)?;
    let next: Function = Reflect::get(&iter, &field_name("next"))?.dyn_into()?;
    let (done, value) = (field_name("done"), field_name("value"));
    let mut items = Vec::new();
    loop {
        let step = next.call0(&iter)?;
        if Reflect::get(&step, &done)?.is_truthy() {
            return Ok(Some(items));
        }
        items.push(Reflect::get(&step, &value)?);
    }
}

/// What kind of object `obj` is, with its article: `a Date object`, `an Element object`, `a
/// non-plain object`.
fn type_name(obj: &Object) -> String {
    let ctor = Reflect::get(obj, &JsValue::from_str("constructor")).ok();
    let name = ctor.and_then(|c| Reflect::get(&c, &JsValue::from_str("name")).ok()).and_then(|n| n.as_string());
    match name {
        Some(n) if !n.is_empty() => with_article(&n),
        _ => "a non-plain object".to_owned(),
    }
}

/// `a Date object`, `an Int8Array object`.
fn with_article(name: &str) -> String {
    let article = if name.starts_with(['A', 'E', 'I', 'O', 'U', 'a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {name} object")
}

/// Converts a JavaScript value to a stored value; `what` names it in error messages
/// (`"value"`, `"entries[2]"`...).
///
/// Plain data is encoded by the page in one call (`encodeValue`) and decoded here; anything else
/// (and anything refused) is walked here field by field, which names the reason and the path.
pub fn from_js(v: &JsValue, what: &str) -> Result<Value, DbError> {
    convert(v, what, f64::INFINITY)
}

/// [`from_js`] for a value a write stores: one whose encoding passes `max_op` bytes (so would the
/// write's op) is refused with [`DbError::ValueTooLarge`] before it is copied into the engine's
/// memory.
pub fn from_js_within(v: &JsValue, what: &str, max_op: usize) -> Result<Value, DbError> {
    convert(v, what, max_op as f64)
}

fn convert(v: &JsValue, what: &str, limit: f64) -> Result<Value, DbError> {
    if let Some(bytes) = encode_value(v, limit) {
        if bytes.is_empty() {
            return Err(DbError::ValueTooLarge { limit: limit as usize });
        }
        if let Ok((value, [])) = postcard::take_from_bytes::<Value>(&bytes) {
            return Ok(value);
        }
    }
    walk(v, what, limit)
}

/// The engine's own conversion of `v`, field by field.
fn walk(v: &JsValue, what: &str, limit: f64) -> Result<Value, DbError> {
    Walk { path: Vec::new(), ancestors: Vec::new(), root: what, room: limit, limit }.value(v)
}

/// Converts a stored value to a fresh JavaScript value.
pub fn to_js(v: &Value) -> JsValue {
    match v {
        Value::Null => JsValue::NULL,
        Value::Bool(b) => JsValue::from_bool(*b),
        Value::Int(i) if (*i as f64).abs() <= MAX_SAFE => JsValue::from_f64(*i as f64),
        Value::Int(i) => BigInt::from(*i).into(),
        Value::Float(f) => JsValue::from_f64(*f),
        Value::String(s) => js_string(s),
        Value::Bytes(b) => Uint8Array::from(b.as_slice()).into(),
        Value::List(items) => {
            let arr = Array::new_with_length(items.len() as u32);
            for (i, item) in items.iter().enumerate() {
                arr.set(i as u32, to_js(item));
            }
            arr.into()
        }
        Value::Map(fields) => {
            let obj = Object::new();
            for (k, v) in fields {
                let key = field_name(k);
                if k == "__proto__" {
                    // A peer's op may hold one: define it as an own field, never as the prototype.
                    let desc = Object::new();
                    let _ = Reflect::set(&desc, &"value".into(), &to_js(v));
                    let _ = Reflect::set(&desc, &"enumerable".into(), &JsValue::TRUE);
                    let _ = Reflect::set(&desc, &"writable".into(), &JsValue::TRUE);
                    let _ = Reflect::set(&desc, &"configurable".into(), &JsValue::TRUE);
                    let _ = Reflect::define_property(&obj, &key, &desc);
                } else {
                    set_field(&obj, &key, &to_js(v));
                }
            }
            obj.into()
        }
    }
}

#[wasm_bindgen(module = "/js/text.js")]
extern "C" {
    #[wasm_bindgen(js_name = useMemory)]
    fn use_memory(memory: &JsValue);
    #[wasm_bindgen(js_name = asciiString)]
    fn ascii_string(ptr: *const u8, len: usize) -> JsValue;
}

#[wasm_bindgen(module = "/js/objects.js")]
extern "C" {
    /// `object[name] = value` on a plain object the engine made (never a `__proto__` field):
    /// `Reflect::set` without the exception catcher, which cost more than the set.
    #[wasm_bindgen(js_name = setField)]
    pub(crate) fn set_field(object: &JsValue, name: &JsValue, value: &JsValue);
    /// A copy of the bytes of a `Uint8Array` or an `ArrayBuffer` of any realm, `null` if reading
    /// them throws, `undefined` if `v` is not bytes.
    #[wasm_bindgen(js_name = copyBytes)]
    fn copy_bytes(v: &JsValue) -> JsValue;
    /// What kind of object `v` is, by its internal slots (not its prototype): `"plain"`, or the
    /// built-in's name (`"Date"`, `"Map"`...), or `""` for an object of a class; an error if
    /// reading it threw (a `Proxy`).
    #[wasm_bindgen(catch, js_name = objectKind)]
    fn object_kind(v: &Object) -> Result<String, JsValue>;
    /// `{ key, value, record }`, a `state` store record whose value is decoded from `record`
    /// (a `Uint8Array`) at byte `at`.
    #[wasm_bindgen(js_name = stateRecordAt)]
    pub(crate) fn state_record_at(key: &JsValue, record: &JsValue, at: u32) -> JsValue;
    /// The log's value encoding of `v` if it is plain data (see `objects.js`), else `undefined`;
    /// no bytes when it would pass `limit` bytes.
    #[wasm_bindgen(js_name = encodeValue)]
    fn encode_value(v: &JsValue, limit: f64) -> Option<Vec<u8>>;
    /// `{ key, deleted: true, record }`, the `state` store record of a deleted key.
    #[wasm_bindgen(js_name = deletedRecord)]
    pub(crate) fn deleted_record(key: &JsValue, record: &JsValue) -> JsValue;
}

/// Longest string [`js_string`] makes without the text decoder.
const SHORT_ASCII: usize = 32;

thread_local! {
    /// Whether `text.js` holds the module's memory.
    static MEMORY_GIVEN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The JavaScript string of `s`: a short ASCII one is read from the module's memory by a
/// `String.fromCharCode` over its bytes, several times faster than the text decoder that
/// `JsValue::from_str` calls (whose fixed cost per call is most of a short string's), the rest
/// through the decoder.
pub(crate) fn js_string(s: &str) -> JsValue {
    if s.len() > SHORT_ASCII || !s.is_ascii() {
        return JsValue::from_str(s);
    }
    if !MEMORY_GIVEN.get() {
        use_memory(&wasm_bindgen::memory());
        MEMORY_GIVEN.set(true);
    }
    ascii_string(s.as_ptr(), s.len())
}

/// How many field names [`field_name`] keeps.
const NAMES: usize = 256;

/// A field name's text and its JavaScript string.
type Name = (Box<str>, JsValue);

thread_local! {
    /// Field names made before, by the hash of their text (FNV-1a), one per slot.
    static NAMES_MADE: std::cell::RefCell<Vec<Option<Name>>> = std::cell::RefCell::new((0..NAMES).map(|_| None).collect());
}

/// The JavaScript string of a field name (or any short name), made once and kept: the records of
/// one database share their field names, and making a string from the module's memory is a call
/// into the browser's text decoder, the most costly step of turning a record into an object.
/// Names longer than 64 bytes are made each time.
pub(crate) fn field_name(name: &str) -> JsValue {
    if name.len() > 64 {
        return JsValue::from_str(name);
    }
    let hash = name.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    NAMES_MADE.with(|names| {
        let mut slots = names.borrow_mut();
        let slot = &mut slots[hash as usize % NAMES];
        match slot {
            Some((text, js)) if **text == *name => js.clone(),
            _ => {
                let js = JsValue::from_str(name);
                *slot = Some((name.into(), js.clone()));
                js
            }
        }
    })
}

/// A lone surrogate in a JavaScript string: the UTF-16 code unit and where it is.
pub(crate) struct LoneSurrogate {
    unit: u16,
    at: u32,
}

impl LoneSurrogate {
    /// What is wrong, as the end of a sentence naming the string ("the key holds...").
    pub(crate) fn describe(&self) -> String {
        format!(
            "holds a lone surrogate (\\u{:04X} at index {}), which cannot be stored exactly: strings must be \
             well-formed UTF-16",
            self.unit, self.at
        )
    }
}

/// A JavaScript string as Rust text, exactly: `None` when `v` is not a string, an error when it
/// holds a lone surrogate. A lone surrogate turns into U+FFFD when converted, so only a string
/// whose conversion holds U+FFFD is looked at code unit by code unit (one call into JavaScript
/// each): text without U+FFFD costs nothing more.
pub(crate) fn exact_string(v: &JsValue) -> Option<Result<String, LoneSurrogate>> {
    let text = v.as_string()?;
    if !text.contains('\u{FFFD}') {
        return Some(Ok(text));
    }
    let js: &JsString = v.unchecked_ref();
    let mut at = 0u32;
    for decoded in core::char::decode_utf16(js.iter()) {
        match decoded {
            Ok(c) => at += c.len_utf16() as u32,
            Err(e) => return Some(Err(LoneSurrogate { unit: e.unpaired_surrogate(), at })),
        }
    }
    Some(Ok(text))
}

/// A record key from JavaScript: a string of well-formed UTF-16 that a write would take (see
/// [`auroradb::validate_key`]), else an `InvalidInputError`.
pub fn key_from_js(v: &JsValue) -> Result<String, DbError> {
    // A string of more UTF-16 units than a key has bytes cannot be a key: refused before it is
    // copied into the engine's memory (which would keep the room it took).
    if let Some(js) = v.dyn_ref::<JsString>()
        && js.length() as usize > MAX_KEY_LEN
    {
        return Err(DbError::InvalidInput(format!("key is more than {MAX_KEY_LEN} bytes")));
    }
    match exact_string(v) {
        // Within that many units but over that many bytes (characters of two to four): no key
        // either, refused by every call alike.
        Some(Ok(key)) if key.len() > MAX_KEY_LEN => {
            Err(DbError::InvalidInput(format!("key is more than {MAX_KEY_LEN} bytes ({} in UTF-8)", key.len())))
        }
        // Empty, or `__proto__`: no key either, refused by reads as by writes.
        Some(Ok(key)) => auroradb::validate_key(&key).map(|()| key),
        Some(Err(lone)) => Err(DbError::InvalidInput(format!("the key {}", lone.describe()))),
        None => Err(DbError::InvalidInput(format!("a key must be a string, not {}", describe(v)))),
    }
}

/// A short description of a JavaScript value's type, for error messages.
pub fn describe(v: &JsValue) -> String {
    if v.is_null() {
        "null".into()
    } else if v.is_undefined() {
        "undefined".into()
    } else if v.as_f64().is_some() {
        "a number".into()
    } else if v.as_bool().is_some() {
        "a boolean".into()
    } else if v.is_string() {
        "a string".into()
    } else if v.is_symbol() {
        "a symbol".into()
    } else if v.is_function() {
        "a function".into()
    } else if v.is_bigint() {
        "a bigint".into()
    } else if is_array(v).unwrap_or(false) {
        "an array".into()
    } else if v.is_object() {
        "an object".into()
    } else {
        "this value".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    /// The values of the JavaScript expression `list` (an array), made in the page.
    fn made(list: &str) -> Vec<JsValue> {
        let array: Array = js_sys::eval(list).expect("the expression runs").unchecked_into();
        array.iter().collect()
    }

    #[wasm_bindgen_test]
    fn the_page_encodes_plain_data_as_the_walk_converts_it() {
        let values = made(
            r#"(() => {
                const nested = (n) => (n === 0 ? 1 : { a: [nested(n - 1)] });
                const long = 'x'.repeat(64);
                return [
                    null, true, false, 0, -0, 1, -1, 63, -64, 64, 127, 128, 2 ** 31, -(2 ** 31), 2 ** 52 - 1,
                    -(2 ** 52), 2 ** 52, -(2 ** 52) - 1, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, -(2 ** 53), 2 ** 64,
                    0.5, -1.25, 1e300, -1e-300, Infinity, -Infinity, Number.MIN_VALUE,
                    0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n,
                    '', 'a', long, long + 'b', 'é', 'ascii then é', 'naïve ✓ 𝄞 \uFFFD'.repeat(9), '\u0000\u007f',
                    new Uint8Array(0), new Uint8Array([1, 2, 255]), new Uint8Array(300).fill(7), new ArrayBuffer(5),
                    new Uint8Array(new ArrayBuffer(8), 2, 3),
                    [], {}, [1, 'two', [3, [4]], { five: 5 }], { b: 1, a: 2, 10: 'ten', 2: 'two', 'é': null },
                    { skipped: undefined, kept: 1 }, Object.assign(Object.create(null), { bare: true }),
                    { list: Array.from({ length: 200 }, (_, i) => ({ i, s: 'v' + i })) },
                    // Past the buffer the page keeps between calls, then small ones again.
                    'y'.repeat(3 * 2 ** 20), { s: 'é'.repeat(2 ** 20), b: new Uint8Array(2 ** 21) }, 'small', { n: 1 },
                    nested(31),
                    { getter: 1, get computed() { return 'from a getter'; } },
                ];
            })()"#,
        );
        for v in &values {
            let fast = encode_value(v, f64::INFINITY).unwrap_or_else(|| panic!("{v:?} is encoded by the page"));
            let decoded = postcard::from_bytes::<Value>(&fast).expect("the page's encoding decodes");
            assert_eq!(decoded, walk(v, "value", f64::INFINITY).unwrap(), "{v:?}");
            assert_eq!(from_js(v, "value").unwrap(), decoded);
        }
    }

    /// Random values, made in the page from a fixed seed: the page's encoding and the walk give
    /// the same value, or the same refusal.
    #[wasm_bindgen_test]
    fn random_values_convert_alike_both_ways() {
        let values = made(
            r#"(() => {
                let seed = 20261130;
                const rnd = (n) => {
                    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
                    return (seed >>> 8) % n;
                };
                const chars = ['a', 'Z', '0', ' ', 'é', 'ß', '✓', '\uFFFD', '\uD834\uDD1E', '\uD800', '\uDC00', '\u0000', '\u007f', '\u0080', '\uE000', '\uFFFF'];
                const str = () => Array.from({ length: rnd(3) === 0 ? 40 + rnd(60) : rnd(8) }, () => chars[rnd(chars.length)]).join('');
                const nums = [0, -0, 1, -1, 0.1, -2.5, 1e21, 2 ** 52, -(2 ** 52), 2 ** 53, 2 ** 53 - 1, -(2 ** 53) + 1, 2 ** 63, NaN, Infinity, -Infinity, 127, 128, 16383, 16384];
                const value = (depth) => {
                    switch (rnd(depth > 4 ? 7 : 10)) {
                        case 0: return null;
                        case 1: return rnd(2) === 0;
                        case 2: return rnd(2) ? nums[rnd(nums.length)] : (rnd(2) ? -1 : 1) * rnd(1e9) / (rnd(2) ? 1 : 7);
                        case 3: return str();
                        case 4: return rnd(2) ? BigInt(rnd(1e9)) * 10000000000n * (rnd(2) ? 1n : -1n) : undefined;
                        case 5: return new Uint8Array(rnd(20)).map(() => rnd(256));
                        case 6: return rnd(10) === 0 ? new Date(0) : str();
                        case 7: return Array.from({ length: rnd(5) }, () => value(depth + 1));
                        default: {
                            const o = rnd(8) === 0 ? Object.create(null) : {};
                            for (let i = rnd(6); i > 0; i--) o[rnd(3) === 0 ? String(rnd(20)) : str()] = value(depth + 1);
                            return o;
                        }
                    }
                };
                return Array.from({ length: 3000 }, () => value(0));
            })()"#,
        );
        let (mut taken, mut refused) = (0, 0);
        for v in &values {
            let walk = walk(v, "value", f64::INFINITY).map_err(|e| e.to_string());
            let got = from_js(v, "value").map_err(|e| e.to_string());
            assert_eq!(got, walk, "{v:?}");
            match (&walk, encode_value(v, f64::INFINITY)) {
                (Ok(_), Some(_)) => taken += 1,
                (Err(_), None) => refused += 1,
                (Ok(_), None) => {}
                (Err(_), Some(_)) => panic!("{v:?} is encoded by the page but refused by the walk"),
            }
        }
        // The draw covers both sides.
        wasm_bindgen_test::console_log!("random values: {taken} taken by the page, {refused} refused");
        assert!(taken > 1000 && refused > 300, "taken {taken}, refused {refused}");
    }

    /// A getter that converts another value while its own value is being encoded (as a getter
    /// that writes to a database does) gets that value converted, and does not disturb the
    /// conversion it interrupted.
    #[wasm_bindgen_test]
    fn a_conversion_inside_a_getter_leaves_the_outer_one_intact() {
        use wasm_bindgen::closure::Closure;
        let inner = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let seen = inner.clone();
        let convert = Closure::<dyn Fn(JsValue)>::new(move |v: JsValue| {
            seen.borrow_mut().push(from_js(&v, "value").unwrap());
        });
        js_sys::Reflect::set(&js_sys::global(), &"__convertForTest".into(), convert.as_ref()).unwrap();
        let [outer] = made(
            r#"[{
                first: 'before the getter, long enough to be overwritten',
                get middle() { globalThis.__convertForTest({ inner: [1, 2, 3], text: 'x'.repeat(80) }); return 7; },
                last: [true, null],
            }]"#,
        )
        .try_into()
        .unwrap();
        let got = from_js(&outer, "value").unwrap();
        let want = Value::map([
            ("first", Value::from("before the getter, long enough to be overwritten")),
            ("middle", Value::Int(7)),
            ("last", Value::List(vec![Value::Bool(true), Value::Null])),
        ]);
        assert_eq!(got, want);
        let inner_want = Value::map([
            ("inner", Value::List(vec![Value::Int(1), Value::Int(2), Value::Int(3)])),
            ("text", Value::from("x".repeat(80))),
        ]);
        // Read once: the outer value's encoding was not spoiled into a second reading by the walk.
        assert_eq!(*inner.borrow(), [inner_want]);
        js_sys::Reflect::delete_property(&js_sys::global(), &"__convertForTest".into()).unwrap();
    }

    #[wasm_bindgen_test]
    fn what_the_page_does_not_encode_is_walked_and_refused_with_its_path() {
        let refused = made(
            r#"(() => {
                const cycle = { a: 1 };
                cycle.self = cycle;
                const nested = (n) => (n === 0 ? 1 : [nested(n - 1)]);
                return [
                    undefined, NaN, { a: { b: NaN } }, Symbol('s'), () => 1, [1, , 3], [undefined], 2n ** 63n,
                    -(2n ** 63n) - 1n, 'x\uD800y', { k: 'x\uDC00' }, { ['x\uD800']: 1 }, new Date(0), new Map(),
                    new Int8Array(2), { d: new Date(0) }, cycle, nested(65), { [Symbol('k')]: 1 },
                    JSON.parse('{"__proto__": 1}'), { get boom() { throw new Error('no'); } },
                    { ['x\uD800']: undefined, ok: 1 }, JSON.parse('{"__proto__": null}'),
                    new Proxy({}, { ownKeys() { throw new Error('no'); } }),
                ];
            })()"#,
        );
        for v in &refused {
            assert!(encode_value(v, f64::INFINITY).is_none(), "{v:?} is left to the walk");
            let walk = walk(v, "value", f64::INFINITY).err().map(|e| e.to_string());
            let err = from_js(v, "value").err().map(|e| e.to_string());
            assert!(err.is_some() && err == walk, "{v:?}: {err:?}");
        }
        // A value nested exactly as deep as allowed is encoded, one level more is not.
        let [ok, deep] = made("(() => { const n = (k) => (k === 0 ? 1 : [n(k - 1)]); return [n(64), n(65)]; })()")
            .try_into()
            .unwrap();
        assert_eq!(from_js(&ok, "value").unwrap().depth(), 64);
        assert!(encode_value(&ok, f64::INFINITY).is_some() && encode_value(&deep, f64::INFINITY).is_none());
    }

    #[wasm_bindgen_test]
    fn a_value_past_the_limit_is_given_no_bytes_and_refused_as_too_large() {
        for v in made("['x'.repeat(100), ['héllo', 'x'.repeat(50), { a: [1, 2, 3] }]]") {
            let whole = encode_value(&v, f64::INFINITY).unwrap();
            // The encoder reserves room a few bytes ahead (at most 11): within SLACK of the
            // limit, a value may be refused, whose op (id, author, previous hash: 50 bytes and
            // more besides the value) would pass the limit anyway.
            const SLACK: usize = 11;
            assert_eq!(encode_value(&v, (whole.len() + SLACK) as f64).unwrap(), whole);
            assert_eq!(encode_value(&v, (whole.len() - 1) as f64).unwrap(), Vec::<u8>::new());
            assert!(matches!(from_js_within(&v, "value", whole.len() - 1), Err(DbError::ValueTooLarge { .. })));
            assert!(from_js_within(&v, "value", whole.len() + SLACK).is_ok());
        }
    }

    #[wasm_bindgen_test]
    fn the_walk_refuses_a_name_before_it_copies_a_field_and_a_value_past_the_limit_as_too_large() {
        // A bad name after a field past the limit: refused for the name, the field never read.
        let [named] = made(
            r#"(() => {
                const v = { get big() { throw new Error('read before the names were checked'); } };
                v['x\uD800'] = 1;
                return [v];
            })()"#,
        )
        .try_into()
        .unwrap();
        let err = walk(&named, "value", 100.0).unwrap_err().to_string();
        assert!(err.contains("field name"), "{err}");
        // What the page gives up on (NaN last) after more bytes than the limit: too large, as the
        // page's encoder says of a value past the limit, before the NaN is reached.
        for v in made("[{ a: 'x'.repeat(200), b: NaN }, [new Uint8Array(300), NaN], { ['é'.repeat(60)]: 1, b: NaN }]")
        {
            assert!(matches!(walk(&v, "value", 100.0), Err(DbError::ValueTooLarge { limit: 100 })), "{v:?}");
            assert!(matches!(walk(&v, "value", 10_000.0), Err(DbError::InvalidInput(_))), "{v:?}");
        }
    }
}
