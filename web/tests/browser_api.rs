//! The JavaScript API's engine (`AuroraCore`, what the `AuroraDB` class delegates to), called
//! the way the class calls it, in headless Chromium: values in and out, refused input, events,
//! atomic transactions and their conflicts, the `beforeSet` hook, unique indexes, time travel,
//! log files, two instances on one database, reopening and closing.

#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use auroradb_web::{AuroraCore, delete_database};
use js_sys::{Array, JSON, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{CustomEvent, Event, EventTarget};

wasm_bindgen_test_configure!(run_in_browser);

const EVENTS: [&str; 6] = ["open", "close", "error", "change", "set", "delete"];

/// A database name no other test uses.
fn fresh(name: &str) -> String {
    format!("api-{name}-{}-{}", js_sys::Date::now(), (js_sys::Math::random() * 1e9) as u64)
}

/// Evaluates a JavaScript expression.
fn js(src: &str) -> JsValue {
    js_sys::eval(&format!("({src})")).unwrap_or_else(|e| panic!("bad test source {src}: {e:?}"))
}

fn json(v: &JsValue) -> String {
    if v.is_undefined() {
        return "undefined".into();
    }
    JSON::stringify(v).map(String::from).unwrap_or_else(|_| format!("{v:?}"))
}

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).unwrap()
}

/// Calls method `m` of `v` (a JavaScript object, such as the view `at()` gives).
#[cfg(feature = "travel")]
fn call(v: &JsValue, m: &str, args: &[JsValue]) -> JsValue {
    let f: js_sys::Function = get(v, m).unchecked_into();
    f.apply(v, &args.iter().collect::<Array>()).unwrap_or_else(|e| panic!("{m} threw {}", name_of(&e)))
}

fn name_of(e: &JsValue) -> String {
    get(e, "name").as_string().unwrap_or_default()
}

async fn ok(p: Promise) -> JsValue {
    JsFuture::from(p).await.unwrap_or_else(|e| panic!("rejected: {} {:?}", name_of(&e), get(&e, "message")))
}

async fn err(p: Promise) -> JsValue {
    match JsFuture::from(p).await {
        Ok(v) => panic!("resolved with {}", json(&v)),
        Err(e) => e,
    }
}

async fn sleep(ms: u32) {
    let p: Promise = js(&format!("new Promise((r) => setTimeout(r, {ms}))")).unchecked_into();
    JsFuture::from(p).await.unwrap();
}

/// An event target that records every AuroraDB event with its detail.
struct Recorder {
    target: EventTarget,
    seen: Rc<RefCell<Vec<(String, JsValue)>>>,
    _listeners: Vec<Closure<dyn FnMut(Event)>>,
}

impl Recorder {
    fn new() -> Recorder {
        let target = EventTarget::new().unwrap();
        let seen = Rc::new(RefCell::new(Vec::new()));
        let mut listeners = Vec::new();
        for kind in EVENTS {
            let seen = seen.clone();
            let f = Closure::<dyn FnMut(Event)>::new(move |e: Event| {
                let detail = e.dyn_ref::<CustomEvent>().map(|c| c.detail()).unwrap_or(JsValue::NULL);
                seen.borrow_mut().push((e.type_(), detail));
            });
            target.add_event_listener_with_callback(kind, f.as_ref().unchecked_ref()).unwrap();
            listeners.push(f);
        }
        Recorder { target, seen, _listeners: listeners }
    }

    fn kinds(&self) -> Vec<String> {
        self.seen.borrow().iter().map(|(k, _)| k.clone()).collect()
    }

    fn take(&self) -> Vec<(String, JsValue)> {
        std::mem::take(&mut *self.seen.borrow_mut())
    }
}

async fn open_with(config: &str, rec: &Recorder, hooks: &JsValue) -> AuroraCore {
    AuroraCore::open(js(config), rec.target.clone(), hooks.clone(), None, None)
        .await
        .unwrap_or_else(|e| panic!("open failed: {} {:?}", name_of(&e), get(&e, "message")))
}

async fn open(name: &str, rec: &Recorder) -> AuroraCore {
    open_with(&format!("{{ name: {name:?}, keyPath: 'id' }}"), rec, &Object::new().into()).await
}

async fn destroy(core: AuroraCore) {
    ok(core.destroy()).await;
}

#[wasm_bindgen_test]
async fn core_operations_round_trip_plain_data() {
    let name = fresh("core");
    let rec = Recorder::new();
    let db = open(&name, &rec).await;
    assert_eq!(rec.kinds(), ["open"]);
    let alice = js("{ name: 'Alice', age: 30, tags: ['a', 'b'], score: 1.5, ok: true, none: null }");
    assert_eq!(ok(db.put("user1".into(), alice)).await.as_string().as_deref(), Some("user1"));
    ok(db.put("user2".into(), js("{ name: 'Bob', age: 25 }"))).await;
    ok(db.put("user3".into(), js("{ name: 'Alice Smith', age: 17 }"))).await;
    assert_eq!(
        json(&ok(db.get("user1".into())).await),
        r#"{"age":30,"name":"Alice","none":null,"ok":true,"score":1.5,"tags":["a","b"]}"#
    );
    assert!(ok(db.get("nobody".into())).await.is_undefined());
    assert_eq!(ok(db.count()).await.as_f64(), Some(3.0));
    assert_eq!(json(&ok(db.keys()).await), r#"["user1","user2","user3"]"#);
    assert_eq!(ok(db.all()).await.unchecked_into::<Array>().length(), 3);

    let adults = ok(db.filter(js("(u) => u.age >= 18"))).await;
    assert_eq!(
        json(&adults.unchecked_into::<Array>().map(&mut |u, _, _| get(&u, "name")).into()),
        r#"["Alice","Bob"]"#
    );
    let by_key = ok(db.filter(js("(u, key) => key.endsWith('3')"))).await;
    assert_eq!(by_key.unchecked_into::<Array>().length(), 1);
    assert_eq!(ok(db.every(js("(u) => u.age > 10"))).await, JsValue::TRUE);
    assert_eq!(ok(db.every(js("(u) => u.age >= 18"))).await, JsValue::FALSE);
    let thrown = err(db.filter(js("() => { throw new TypeError('in filter') }"))).await;
    assert_eq!(name_of(&thrown), "TypeError");
    assert_eq!(json(&ok(db.slice(0.0.into(), 2.0.into())).await.unchecked_into::<Array>().length().into()), "2");
    assert_eq!(
        get(&ok(db.slice((-1.0).into(), JsValue::UNDEFINED)).await.unchecked_into::<Array>().get(0), "name"),
        "Alice Smith"
    );

    // Update is the same as add.
    ok(db.put("user1".into(), js("{ name: 'Alice Smith', age: 31 }"))).await;
    assert_eq!(get(&ok(db.get("user1".into())).await, "age").as_f64(), Some(31.0));
    assert_eq!(ok(db.remove("user1".into())).await, JsValue::TRUE);
    assert_eq!(ok(db.remove("user1".into())).await, JsValue::FALSE);
    assert_eq!(ok(db.clear()).await.as_f64(), Some(2.0));
    assert_eq!(ok(db.count()).await.as_f64(), Some(0.0));

    // add(value) takes the key at keyPath.
    assert_eq!(ok(db.add(js("{ id: 'p1', n: 1 }"))).await.as_string().as_deref(), Some("p1"));
    assert_eq!(name_of(&err(db.add(js("{ n: 1 }"))).await), "InvalidInputError");
    assert_eq!(name_of(&err(db.add(js("{ id: 5 }"))).await), "InvalidInputError");
    destroy(db).await;
}

#[wasm_bindgen_test]
async fn values_convert_both_ways() {
    let name = fresh("values");
    let rec = Recorder::new();
    let db = open(&name, &rec).await;
    let v = js("{ int: 42, neg: -7, float: 0.25, big: 2 ** 60, inf: Infinity, bigint: 2n ** 60n, small: 5n, \
          bytes: new Uint8Array([1, 2, 255]), buf: new Uint8Array([9]).buffer, nested: { list: [[1], { a: null }] }, \
          skipped: undefined, nullProto: Object.assign(Object.create(null), { x: 1 }) }");
    ok(db.put("v".into(), v)).await;
    let back = ok(db.get("v".into())).await;
    assert_eq!(get(&back, "int").as_f64(), Some(42.0));
    assert_eq!(get(&back, "neg").as_f64(), Some(-7.0));
    assert_eq!(get(&back, "float").as_f64(), Some(0.25));
    assert_eq!(get(&back, "big").as_f64(), Some(2f64.powi(60)));
    assert_eq!(get(&back, "inf").as_f64(), Some(f64::INFINITY));
    assert!(get(&back, "bigint").is_bigint(), "a bigint beyond 2^53 comes back as a bigint");
    assert_eq!(get(&back, "small").as_f64(), Some(5.0));
    let bytes = get(&back, "bytes");
    assert!(bytes.is_instance_of::<Uint8Array>());
    assert_eq!(bytes.unchecked_into::<Uint8Array>().to_vec(), [1, 2, 255]);
    assert_eq!(get(&back, "buf").unchecked_into::<Uint8Array>().to_vec(), [9]);
    assert_eq!(json(&get(&back, "nested")), r#"{"list":[[1],{"a":null}]}"#);
    assert!(!Reflect::has(&back, &"skipped".into()).unwrap());
    assert_eq!(json(&get(&back, "nullProto")), r#"{"x":1}"#);
    // Scalars and arrays are values too.
    ok(db.put("s".into(), "text".into())).await;
    ok(db.put("a".into(), js("[1, 'two', false]"))).await;
    assert_eq!(ok(db.get("s".into())).await.as_string().as_deref(), Some("text"));
    assert_eq!(json(&ok(db.get("a".into())).await), r#"[1,"two",false]"#);
    destroy(db).await;
}

#[wasm_bindgen_test]
async fn bad_input_is_refused_with_a_stable_name_and_writes_nothing() {
    let name = fresh("bad");
    let rec = Recorder::new();
    let db = open(&name, &rec).await;
    ok(db.put("keep".into(), js("{ n: 1 }"))).await;
    let bad_values = [
        "{ f: () => 1 }",
        "{ s: Symbol('x') }",
        "(() => { const o = { a: {} }; o.a.self = o; return o; })()",
        "JSON.parse('{\"__proto__\": {\"polluted\": true}}')",
        "{ when: new Date() }",
        "{ m: new Map() }",
        "{ set: new Set([1]) }",
        "{ n: NaN }",
        "[1, undefined]",
        "undefined",
        "new (class Point { constructor() { this.x = 1 } })()",
        "{ f32: new Float32Array(2) }",
        "{ [Symbol('k')]: 1 }",
        "{ huge: 2n ** 70n }",
        // Reads that run the application's code and throw: refused, not left to unwind.
        "{ get x() { throw new Error('getter') } }",
        "new Proxy({ a: 1 }, { ownKeys() { throw new Error('ownKeys') } })",
        "new Proxy({ a: 1 }, { getPrototypeOf() { throw new Error('getPrototypeOf') } })",
        "{ inner: new Proxy({ a: 1 }, { get() { throw new Error('get') } }) }",
        "new Proxy([1, 2], { get() { throw new Error('array get') } })",
        "(() => { const r = Proxy.revocable({}, {}); r.revoke(); return { r: r.proxy }; })()",
    ];
    for src in bad_values {
        let e = err(db.put("k".into(), js(src))).await;
        assert_eq!(name_of(&e), "InvalidInputError", "{src}");
        assert!(e.is_instance_of::<js_sys::Error>(), "{src}");
    }
    let nested = err(db.put("k".into(), js("{ list: [0, { cb: function named() {} }] }"))).await;
    let message = get(&nested, "message").as_string().unwrap();
    assert!(message.contains("value.list[1].cb is a function"), "{message}");
    for (src, says) in [("new (class Item {})()", "value is an Item object"), ("new Date(0)", "value is a Date object")]
    {
        let message = get(&err(db.put("k".into(), js(src))).await, "message").as_string().unwrap();
        assert!(message.contains(says), "{message}");
    }
    for key in ["5", "null", "undefined", "({})", "Symbol('k')", "''", "'__proto__'"] {
        let e = err(db.put(js(key), js("{ n: 1 }"))).await;
        assert_eq!(name_of(&e), "InvalidInputError", "key {key}");
    }
    // A bad pair anywhere in a batch refuses the whole batch.
    let batch = js("[['b1', { n: 1 }], ['b2', { f() {} }], ['b3', { n: 3 }]]");
    assert_eq!(name_of(&err(db.batch_set(batch)).await), "InvalidInputError");
    assert_eq!(name_of(&err(db.batch_set(js("[['only-key']]"))).await), "InvalidInputError");
    assert_eq!(name_of(&err(db.batch_set(js("42"))).await), "InvalidInputError");
    let proxied = js("[new Proxy(['p', 1], { get() { throw new Error('pair') } })]");
    assert_eq!(name_of(&err(db.batch_set(proxied)).await), "InvalidInputError");
    // Iterables of the application's whose iteration throws at any step: refused, not left to
    // unwind through the engine (which would leave the promise unsettled).
    for src in [
        "({ [Symbol.iterator]() { throw new Error('start') } })",
        "({ [Symbol.iterator]() { return { next() { throw new Error('next') } } } })",
        "({ [Symbol.iterator]() { return { next() { return { get done() { throw new Error('done') } } } } } })",
        "({ [Symbol.iterator]() { return { next() { return { done: false, get value() { throw new Error('value') } } } } } })",
        "({ [Symbol.iterator]() { return { next: 5 } } })",
        "({ [Symbol.iterator]() { return { next() { return 7 } } } })",
        "(function* () { yield ['g1', { n: 1 }]; throw new Error('generator') })()",
        "'ab'",
    ] {
        assert_eq!(name_of(&err(db.batch_set(js(src))).await), "InvalidInputError", "{src}");
    }

    assert_eq!(json(&ok(db.keys()).await), r#"["keep"]"#);
    assert_eq!(get(&db.stats(), "ops").as_f64(), Some(1.0), "nothing refused reached the log");
    assert!(js("({}).polluted === undefined").is_truthy(), "no prototype was touched");
    let errors = rec.take().into_iter().filter(|(k, _)| k == "error").count();
    assert!(errors >= bad_values.len() + 8, "every refusal is an error event ({errors})");
    // Any well-behaved iterable of pairs is taken: a Map, a generator.
    assert_eq!(ok(db.batch_set(js("new Map([['m1', 1], ['m2', 2]])"))).await.as_f64(), Some(2.0));
    assert_eq!(ok(db.batch_set(js("(function* () { yield ['g1', { n: 1 }] })()"))).await.as_f64(), Some(1.0));
    assert_eq!(json(&ok(db.keys()).await), r#"["g1","keep","m1","m2"]"#);
    destroy(db).await;
}

#[wasm_bindgen_test]
async fn lone_surrogates_are_refused_and_nothing_is_merged() {
    let name = fresh("surrogates");
    let rec = Recorder::new();
    let db = open(&name, &rec).await;
    // Well-formed text is stored exactly, a real U+FFFD and a surrogate pair included.
    ok(db.put(js("'x\\uFFFDy'"), js("{ s: 'a\\uFFFDb', pair: '\\uD83D\\uDE00' }"))).await;
    ok(db.put(js("'\\uD83D\\uDE00'"), js("1"))).await;
    assert_eq!(json(&ok(db.keys()).await), "[\"x\u{FFFD}y\",\"\u{1F600}\"]");
    let back = ok(db.get(js("'x\\uFFFDy'"))).await;
    assert_eq!(get(&back, "s").as_string().as_deref(), Some("a\u{FFFD}b"));
    assert_eq!(get(&back, "pair").as_string().as_deref(), Some("\u{1F600}"));
    // A lone surrogate has no exact UTF-8 form: as a key, a value, a field name or the keyPath
    // field, it is refused, so 'x\uD800y' can never overwrite 'x\uFFFDy'.
    for key in ["'x\\uD800y'", "'x\\uDC00y'", "'\\uD800'", "'ab\\uDBFF'"] {
        let e = err(db.put(js(key), js("1"))).await;
        assert_eq!(name_of(&e), "InvalidInputError", "key {key}");
        let message = get(&e, "message").as_string().unwrap();
        assert!(message.contains("lone surrogate"), "{message}");
    }
    for value in ["'\\uD800'", "{ s: 'x\\uDC00' }", "{ list: ['ok', 'a\\uD800'] }", "{ ['f\\uD800']: 1 }"] {
        let e = err(db.put("k".into(), js(value))).await;
        assert_eq!(name_of(&e), "InvalidInputError", "value {value}");
    }
    let nested = err(db.put("k".into(), js("{ list: ['ok', 'a\\uD800'] }"))).await;
    let message = get(&nested, "message").as_string().unwrap();
    assert!(message.contains("value.list[1]") && message.contains("\\uD800 at index 1"), "{message}");
    assert_eq!(json(&ok(db.keys()).await), "[\"x\u{FFFD}y\",\"\u{1F600}\"]");
    assert_eq!(get(&db.stats(), "ops").as_f64(), Some(2.0), "nothing refused reached the log");
    destroy(db).await;

    // Every ASCII code unit, short strings at and past the length made without the text decoder
    // (32 bytes), and short non-ASCII ones come back exactly, in values and in keys.
    let name = fresh("strings");
    let db = open(&name, &rec).await;
    let strings = js(
        "[...Array.from({ length: 8 }, (_, i) => String.fromCharCode(...Array.from({ length: 16 }, (_, j) => i * 16 + j))), \
          '', '\\0', 'a'.repeat(31), 'b'.repeat(32), 'c'.repeat(33), '\\u00e9', 'x\\u00ffy', '\\u{1F600}', '\\u007f']",
    );
    ok(db.put("all".into(), strings.clone())).await;
    let back = ok(db.get("all".into())).await;
    assert_eq!(json(&back), json(&strings));
    for (i, s) in
        js_sys::Array::from(&strings).iter().enumerate().filter(|(_, s)| s.as_string().is_some_and(|s| !s.is_empty()))
    {
        ok(db.put(s.clone(), JsValue::from_f64(i as f64))).await;
    }
    let keys = js_sys::Array::from(&ok(db.keys()).await);
    let mut want: Vec<String> =
        js_sys::Array::from(&strings).iter().filter_map(|s| s.as_string()).filter(|s| !s.is_empty()).collect();
    want.push("all".into());
    want.sort();
    assert_eq!(keys.iter().map(|k| k.as_string().unwrap()).collect::<Vec<_>>(), want);
    destroy(db).await;

    let name = fresh("surrogates-keypath");
    let db = open_with(&format!("{{ name: '{name}', keyPath: 'id' }}"), &rec, &JsValue::UNDEFINED).await;
    let e = err(db.add(js("{ id: 'a\\uD800' }"))).await;
    assert_eq!(name_of(&e), "InvalidInputError");
    assert!(get(&e, "message").as_string().unwrap().contains("keyPath"));
    assert_eq!(json(&ok(db.keys()).await), "[]");
    destroy(db).await;
}

#[wasm_bindgen_test]
async fn a_write_over_max_op_bytes_is_refused_and_writes_nothing() {
    let name = fresh("max-op");
    let rec = Recorder::new();
    let db = open_with(&format!("{{ name: '{name}', maxOpBytes: 8192 }}"), &rec, &JsValue::UNDEFINED).await;
    ok(db.put("small".into(), js("'s'.repeat(7000)"))).await;
    let e = err(db.put("big".into(), js("'b'.repeat(9000)"))).await;
    assert_eq!(name_of(&e), "OpTooLargeError");
    let message = get(&e, "message").as_string().unwrap();
    assert!(message.contains("8192"), "{message}");
    let pairs = js("Array.from({ length: 100 }, (_, i) => ['k' + i, 'v'.repeat(90)])");
    assert_eq!(name_of(&err(db.batch_set(pairs)).await), "OpTooLargeError");
    assert_eq!(json(&ok(db.keys()).await), "[\"small\"]");
    assert_eq!(get(&db.stats(), "ops").as_f64(), Some(1.0), "nothing refused reached the log");
    destroy(db).await;
}

#[wasm_bindgen_test]
async fn events_carry_their_details() {
    let name = fresh("events");
    let rec = Recorder::new();
    let db = open(&name, &rec).await;
    let opened = rec.take();
    assert_eq!(opened[0].0, "open");
    assert_eq!(get(&opened[0].1, "name").as_string(), Some(name.clone()));
    assert_eq!(get(&opened[0].1, "peerId").as_string(), Some(db.peer_id()));

    ok(db.put("a".into(), js("{ n: 1 }"))).await;
    let seen = rec.take();
    assert_eq!(seen.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["set", "change"]);
    assert_eq!(json(&seen[0].1), r#"{"key":"a","source":"local","value":{"n":1}}"#);
    assert_eq!(json(&seen[1].1), r#"{"source":"local","changes":[{"key":"a","type":"set","value":{"n":1}}]}"#);

    ok(db.batch_set(js("[['b', 1], ['c', 2]]"))).await;
    assert_eq!(rec.kinds(), ["set", "set", "change"]);
    rec.take();
    ok(db.remove("a".into())).await;
    ok(db.remove("missing".into())).await;
    let seen = rec.take();
    assert_eq!(seen.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["delete", "change"]);
    assert_eq!(json(&seen[0].1), r#"{"key":"a","source":"local"}"#);
    ok(db.clear()).await;
    assert_eq!(rec.kinds(), ["delete", "delete", "change"]);
    rec.take();

    let e = err(db.put(JsValue::from_f64(1.0), js("{}"))).await;
    let seen = rec.take();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, "error");
    assert_eq!(get(&seen[0].1, "type").as_string().as_deref(), Some("InvalidInputError"));
    assert_eq!(get(&seen[0].1, "operation").as_string().as_deref(), Some("put"));
    assert!(js_sys::Object::is(&get(&seen[0].1, "error"), &e));
    err(db.add_pair(JsValue::from_f64(1.0), js("{}"))).await;
    let seen = rec.take();
    assert_eq!(get(&seen[0].1, "operation").as_string().as_deref(), Some("add"));

    ok(db.close()).await;
    let seen = rec.take();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].0.as_str(), json(&seen[0].1).as_str()), ("close", r#"{"reason":"close"}"#));
    assert!(db.closed());
    assert_eq!(name_of(&err(db.get("b".into())).await), "DatabaseClosedError");
    assert_eq!(name_of(&err(db.put("b".into(), 1.into())).await), "DatabaseClosedError");
    ok(db.destroy()).await;
}

#[wasm_bindgen_test]
async fn a_transaction_is_all_or_nothing() {
    let name = fresh("txn");
    let rec = Recorder::new();
    let db = open(&name, &rec).await;
    ok(db.put("user3".into(), js("{ name: 'Old' }"))).await;
    ok(db.put("prod1".into(), js("{ stock: 5, version: 1 }"))).await;
    let ops = get(&db.stats(), "ops");
    rec.take();

    // Throwing after writes: nothing is written, the error comes back as thrown.
    let cb = js("async (db) => { db.entries['user1'] = { name: 'Alice' }; delete db.entries['user3']; \
                 throw new Error('Insufficient stock'); }");
    let e = err(db.transaction(cb)).await;
    assert_eq!(get(&e, "message").as_string().as_deref(), Some("Insufficient stock"));
    let sync_throw = js("(db) => { db.entries.user1 = { n: 1 }; throw new RangeError('sync'); }");
    assert_eq!(name_of(&err(db.transaction(sync_throw)).await), "RangeError");
    let bad_write = js("(db) => { db.entries.user1 = { n: 1 }; db.entries.user2 = { f() {} }; }");
    assert_eq!(name_of(&err(db.transaction(bad_write)).await), "InvalidInputError");
    assert_eq!(get(&db.stats(), "ops"), ops, "no op was logged");
    assert!(ok(db.get("user1".into())).await.is_undefined());
    assert_eq!(json(&ok(db.get("user3".into())).await), r#"{"name":"Old"}"#);
    assert!(rec.kinds().iter().all(|k| k == "error"), "no change event: {:?}", rec.kinds());
    rec.take();

    // The seed's examples.
    let cb = js("async (db) => { db.entries['user1'] = { name: 'Alice', role: 'admin' }; \
                 db.entries['user2'] = { name: 'Bob', role: 'user' }; delete db.entries['user3']; }");
    ok(db.transaction(cb)).await;
    assert_eq!(json(&ok(db.keys()).await), r#"["prod1","user1","user2"]"#);
    assert_eq!(get(&db.stats(), "ops").as_f64(), Some(ops.as_f64().unwrap() + 1.0), "one op for the whole transaction");
    assert_eq!(rec.kinds(), ["set", "set", "delete", "change"]);
    let purchase = js("async (db) => { const p = await db.entries['prod1']; \
                       if (p.stock >= 2) { p.stock -= 2; p.version += 1; db.entries['prod1'] = p; } \
                       else { throw new Error('Insufficient stock'); } \
                       const again = await db.entries['prod1']; return again.stock; }");
    assert_eq!(ok(db.transaction(purchase.clone())).await.as_f64(), Some(3.0), "reads see the transaction's writes");
    ok(db.transaction(purchase.clone())).await;
    assert_eq!(get(&err(db.transaction(purchase)).await, "message").as_string().as_deref(), Some("Insufficient stock"));
    assert_eq!(json(&ok(db.get("prod1".into())).await), r#"{"stock":1,"version":3}"#);

    // Methods and keyPath inside, and writing after the end is refused.
    let cb = js(
        "async (tx) => { tx.put('m1', 1); tx.add({ id: 'm2' }); tx.remove('m1'); globalThis.__late = tx; return 'done'; }",
    );
    assert_eq!(ok(db.transaction(cb)).await.as_string().as_deref(), Some("done"));
    assert!(ok(db.get("m1".into())).await.is_undefined());
    assert_eq!(json(&ok(db.get("m2".into())).await), r#"{"id":"m2"}"#);
    let late =
        js("(() => { try { globalThis.__late.entries.x = 1; return 'written'; } catch (e) { return e.name; } })()");
    assert_eq!(late.as_string().as_deref(), Some("TransactionAbortedError"));
    assert!(ok(db.get("x".into())).await.is_undefined());
    destroy(db).await;
}

#[wasm_bindgen_test]
async fn a_transaction_whose_read_changed_meanwhile_conflicts() {
    let name = fresh("conflict");
    let rec = Recorder::new();
    let db = Rc::new(open(&name, &rec).await);
    ok(db.put("k".into(), JsValue::from_f64(1.0))).await;
    let outer = db.clone();
    let write = Closure::<dyn FnMut() -> Promise>::new(move || outer.put("k".into(), JsValue::from_f64(100.0)));
    Reflect::set(&js_sys::global(), &"__outerWrite".into(), write.as_ref()).unwrap();
    let cb =
        js("async (tx) => { const v = await tx.entries.k; await globalThis.__outerWrite(); tx.entries.k = v + 1; }");
    rec.take();
    let e = err(db.transaction(cb)).await;
    assert_eq!(name_of(&e), "ConflictError");
    let message = get(&e, "message").as_string().unwrap_or_default();
    assert!(message.contains("\"k\"") && message.contains("retry"), "names the record: {message}");
    let errors: Vec<JsValue> = rec.take().into_iter().filter(|(k, _)| k == "error").map(|(_, d)| d).collect();
    assert_eq!(errors.len(), 1, "one error event");
    assert_eq!(get(&errors[0], "type").as_string().as_deref(), Some("ConflictError"));
    assert_eq!(get(&errors[0], "operation").as_string().as_deref(), Some("transaction"));
    assert_eq!(ok(db.get("k".into())).await.as_f64(), Some(100.0), "the transaction wrote nothing");
    // Without a read of the key, the same interleaving commits.
    let cb = js("async (tx) => { await globalThis.__outerWrite(); tx.entries.k = 7; }");
    ok(db.transaction(cb)).await;
    assert_eq!(ok(db.get("k".into())).await.as_f64(), Some(7.0));
    drop(write);
    let db = Rc::try_unwrap(db).ok().expect("the test holds the last reference");
    destroy(db).await;
}

#[wasm_bindgen_test]
async fn the_before_set_hook_sanitizes_or_refuses() {
    let name = fresh("hook");
    let rec = Recorder::new();
    let hooks = js("{ beforeSet: null }");
    let db = open_with(&format!("{{ name: {name:?} }}"), &rec, &hooks).await;
    ok(db.put("plain".into(), js("{ a: 1 }"))).await;
    let hook = js("(key, value) => { if (!/^[a-zA-Z0-9_-]+$/.test(key)) throw new Error('Invalid key format'); \
                   const s = { ...value }; delete s.constructor; \
                   if (s.content) s.content = s.content.replace(/</g, '&lt;'); return s; }");
    Reflect::set(&hooks, &"beforeSet".into(), &hook).unwrap();
    ok(db.put("post".into(), js("{ content: '<b>hi</b>', constructor: 'x' }"))).await;
    assert_eq!(json(&ok(db.get("post".into())).await), r#"{"content":"&lt;b>hi&lt;/b>"}"#);
    let e = err(db.put("bad key!".into(), js("{ a: 1 }"))).await;
    assert_eq!(get(&e, "message").as_string().as_deref(), Some("Invalid key format"));
    ok(db.batch_set(js("[['b1', { content: '<i>' }]]"))).await;
    assert_eq!(json(&ok(db.get("b1".into())).await), r#"{"content":"&lt;i>"}"#);
    ok(db.transaction(js("(tx) => { tx.entries.t1 = { content: '<' }; }"))).await;
    assert_eq!(json(&ok(db.get("t1".into())).await), r#"{"content":"&lt;"}"#);
    // A hook returning undefined stores the value as given.
    Reflect::set(&hooks, &"beforeSet".into(), &js("() => undefined")).unwrap();
    ok(db.put("u".into(), js("{ content: '<' }"))).await;
    assert_eq!(json(&ok(db.get("u".into())).await), r#"{"content":"<"}"#);
    assert_eq!(json(&ok(db.keys()).await), r#"["b1","plain","post","t1","u"]"#);
    destroy(db).await;
}

#[wasm_bindgen_test]
async fn unique_indexes_refuse_duplicates_and_index_lookups_work() {
    let name = fresh("unique");
    let rec = Recorder::new();
    let config = format!(
        "{{ name: {name:?}, version: 1, keyPath: 'id', indexes: [{{ name: 'email', unique: true }}, {{ name: 'age', unique: false }}] }}"
    );
    let db = open_with(&config, &rec, &Object::new().into()).await;
    ok(db.add(js("{ id: 'u1', email: 'a@x', age: 30 }"))).await;
    ok(db.add(js("{ id: 'u2', email: 'b@x', age: 25 }"))).await;
    rec.take();
    let e = err(db.add(js("{ id: 'u3', email: 'a@x', age: 40 }"))).await;
    assert_eq!(name_of(&e), "UniqueConstraintError");
    assert_eq!(get(&e, "index").as_string().as_deref(), Some("email"));
    assert_eq!(get(&e, "key").as_string().as_deref(), Some("u3"));
    assert_eq!(get(&e, "existingKey").as_string().as_deref(), Some("u1"));
    assert_eq!(rec.kinds(), ["error"]);
    let tx = js("(tx) => { tx.entries.u4 = { email: 'c@x' }; tx.entries.u5 = { email: 'b@x' }; }");
    assert_eq!(name_of(&err(db.transaction(tx)).await), "UniqueConstraintError");
    assert_eq!(ok(db.count()).await.as_f64(), Some(2.0));

    assert_eq!(json(&ok(db.find_by("email".into(), "b@x".into())).await), r#"[{"age":25,"email":"b@x","id":"u2"}]"#);
    let range = ok(db.find_range("age".into(), js("{ gte: 26 }"))).await;
    assert_eq!(json(&range.unchecked_into::<Array>().map(&mut |v, _, _| get(&v, "id")).into()), r#"["u1"]"#);
    assert_eq!(name_of(&err(db.find_by("nope".into(), 1.into())).await), "UnknownIndexError");
    destroy(db).await;
}

// The log's tools are in the build with the `travel` feature only.
#[cfg(feature = "travel")]
#[wasm_bindgen_test]
async fn time_travel_history_log_and_log_files() {
    let name = fresh("travel");
    let rec = Recorder::new();
    let db = open(&name, &rec).await;
    ok(db.put("doc".into(), js("{ v: 1 }"))).await;
    ok(db.put("other".into(), js("{ v: 0 }"))).await;
    sleep(5).await;
    let t1 = js_sys::Date::now();
    sleep(5).await;
    ok(db.put("doc".into(), js("{ v: 2 }"))).await;
    ok(db.remove("other".into())).await;
    ok(db.put("new".into(), js("{ v: 3 }"))).await;

    let then = ok(db.at(t1.into())).await;
    assert_eq!(json(&call(&then, "get", &["doc".into()])), r#"{"v":1}"#);
    assert_eq!(call(&then, "count", &[]).as_f64(), Some(2.0));
    assert_eq!(json(&call(&then, "filter", &[js("(v) => v.v > 0")])), r#"[{"v":1}]"#);
    assert_eq!(call(&then, "every", &[js("(v) => v.v >= 0")]), JsValue::TRUE);
    assert_eq!(json(&call(&then, "keys", &[])), r#"["doc","other"]"#);
    assert_eq!(json(&call(&then, "slice", &[JsValue::from_f64(1.0)])), r#"[{"v":0}]"#);
    assert!(call(&then, "get", &["new".into()]).is_undefined());
    assert_eq!(get(&then, "time").as_f64(), Some(t1));
    let before_all = ok(db.at(JsValue::from_f64(0.0))).await;
    assert_eq!(call(&before_all, "count", &[]).as_f64(), Some(0.0));

    let d = ok(db.diff(t1.into(), js_sys::Date::now().into())).await;
    assert_eq!(
        json(&d),
        r#"{"added":[{"key":"new","value":{"v":3}}],"changed":[{"key":"doc","before":{"v":1},"after":{"v":2}}],"removed":[{"key":"other","value":{"v":0}}]}"#
    );

    let h: Array = ok(db.history("doc".into())).await.unchecked_into();
    assert_eq!(h.length(), 2);
    assert_eq!(get(&h.get(0), "outcome").as_string().as_deref(), Some("superseded"));
    assert_eq!(get(&h.get(1), "outcome").as_string().as_deref(), Some("current"));
    assert_eq!(get(&h.get(1), "author").as_string(), Some(db.author()));

    let log: Array = ok(db.log(JsValue::UNDEFINED)).await.unchecked_into();
    assert_eq!(log.length(), 5);
    let first = log.get(0);
    for field in ["id", "hlc", "time", "author", "seq", "kind", "key", "value", "hash", "prev"] {
        assert!(!get(&first, field).is_undefined(), "op field {field}");
    }
    assert_eq!(get(&first, "seq").as_f64(), Some(1.0));
    assert_eq!(get(&log.get(1), "prev"), get(&first, "hash"), "each op links to its author's previous one");
    let later: Array = ok(db.log(js(&format!("{{ from: {t1} }}")))).await.unchecked_into();
    assert_eq!(later.length(), 3);
    let upto: Array = ok(db.log(js(&format!("{{ to: {t1} }}")))).await.unchecked_into();
    assert_eq!(upto.length(), 2);
    // An op id is a point too.
    let at_second = ok(db.at(get(&log.get(2), "id"))).await;
    assert_eq!(json(&call(&at_second, "get", &["doc".into()])), r#"{"v":2}"#);
    assert_eq!(get(&at_second, "id"), get(&log.get(2), "id"));
    assert_eq!(name_of(&err(db.at("yesterday".into())).await), "InvalidInputError");

    let report = ok(db.verify()).await;
    assert_eq!((get(&report, "ok"), get(&report, "ops").as_f64()), (JsValue::TRUE, Some(5.0)));
    assert!(ok(db.checkpoint()).await.as_string().is_some());

    let file: Uint8Array = ok(db.export_log()).await.unchecked_into();
    let copy_name = fresh("travel-copy");
    let copy_rec = Recorder::new();
    let copy = open(&copy_name, &copy_rec).await;
    copy_rec.take();
    let info = ok(copy.import_log(file.clone().into())).await;
    assert_eq!((get(&info, "ops").as_f64(), get(&info, "imported").as_f64()), (Some(5.0), Some(5.0)));
    assert_eq!(json(&ok(copy.all()).await), json(&ok(db.all()).await));
    assert_eq!(get(&copy_rec.take().last().unwrap().1, "source").as_string().as_deref(), Some("import"));
    let again = ok(copy.import_log(file.clone().into())).await;
    assert_eq!(get(&again, "imported").as_f64(), Some(0.0));
    let bytes = file.to_vec();
    let mut tampered = bytes.clone();
    let mid = tampered.len() / 2;
    tampered[mid] ^= 1;
    let e = err(copy.import_log(Uint8Array::from(tampered.as_slice()).into())).await;
    assert!(["HashMismatchError", "CorruptDataError"].contains(&name_of(&e).as_str()), "{}", name_of(&e));
    destroy(copy).await;
    destroy(db).await;
}

/// Two databases given one identity write apart (a fork of that author at seq 1); a third
/// imports both log files. The second import proves the fork: the author is frozen (both
/// writes leave the state), the import resolves with the fork in `frozen`, and an `error` event
/// of type `equivocation` names the author, as a peer's proof would. It once failed whole
/// with `BrokenChainError`.
// The log's tools are in the build with the `travel` feature only.
#[cfg(feature = "travel")]
#[wasm_bindgen_test]
async fn a_log_file_that_forks_a_held_chain_freezes_its_author() {
    let secret = "new Uint8Array(32).map((_, i) => i * 7 + 1)";
    let rec = Recorder::new();
    let none = JsValue::from(Object::new());
    let open_as = |name: String| format!("{{ name: {name:?}, identity: {secret} }}");
    let (xn, yn, zn) = (fresh("fork-x"), fresh("fork-y"), fresh("fork-z"));
    let x = open_with(&open_as(xn), &rec, &none).await;
    ok(x.put("k".into(), js("'from x'"))).await;
    let y = open_with(&open_as(yn), &rec, &none).await;
    ok(y.put("k".into(), js("'from y'"))).await;
    ok(y.put("y2".into(), js("2"))).await;
    let author = get(&x.identity(), "author").as_string().unwrap();
    let z_rec = Recorder::new();
    let z = open_with(&format!("{{ name: {zn:?} }}"), &z_rec, &none).await;
    ok(z.put("own".into(), js("1"))).await;
    let first = ok(z.import_log(ok(x.export_log()).await)).await;
    assert_eq!(json(&get(&first, "frozen")), "[]");
    assert_eq!(json(&ok(z.get("k".into())).await), r#""from x""#);
    z_rec.take();
    let second = ok(z.import_log(ok(y.export_log()).await)).await;
    assert_eq!(json(&get(&second, "frozen")), format!(r#"[{{"author":"{author}","seq":1}}]"#));
    assert_eq!(json(&ok(z.keys()).await), r#"["own"]"#);
    let seen = z_rec.take();
    let errors: Vec<&JsValue> = seen.iter().filter(|(k, _)| k == "error").map(|(_, d)| d).collect();
    assert_eq!(errors.len(), 1, "{:?}", seen.iter().map(|(k, _)| k).collect::<Vec<_>>());
    assert_eq!(get(errors[0], "type").as_string().as_deref(), Some("equivocation"));
    assert_eq!(get(errors[0], "name").as_string().as_deref(), Some("EquivocationError"));
    assert!(get(errors[0], "message").as_string().unwrap().contains(&author[..8]));
    assert!(seen.iter().any(|(k, d)| k == "delete" && get(d, "key").as_string().as_deref() == Some("k")));
    assert_eq!(get(&ok(z.verify()).await, "ok").as_bool(), Some(true));
    for db in [x, y, z] {
        destroy(db).await;
    }
}

#[wasm_bindgen_test]
async fn data_survives_reopen_without_decoding_the_log() {
    let name = fresh("reopen");
    let rec = Recorder::new();
    let db = open(&name, &rec).await;
    for i in 0..20 {
        ok(db.put(format!("k{i}").into(), js(&format!("{{ i: {i} }}")))).await;
    }
    let before = json(&ok(db.all()).await);
    ok(db.close()).await;
    let db = open(&name, &rec).await;
    assert_eq!(json(&ok(db.all()).await), before);
    let stats = db.stats();
    assert_eq!(get(&stats, "opsDecoded").as_f64(), Some(0.0));
    assert_eq!(get(&stats, "ops").as_f64(), Some(20.0));
    assert_eq!(get(&stats, "records").as_f64(), Some(20.0));
    destroy(db).await;
}

#[wasm_bindgen_test]
async fn a_schema_upgrade_through_the_config_keeps_data() {
    let name = fresh("upgrade");
    let rec = Recorder::new();
    let none = JsValue::from(Object::new());
    let v1 = format!("{{ name: {name:?}, version: 1, indexes: [{{ name: 'email', unique: true }}] }}");
    let db = open_with(&v1, &rec, &none).await;
    ok(db.put("u1".into(), js("{ email: 'a@x', team: 'red' }"))).await;
    ok(db.close()).await;
    let same_version = format!("{{ name: {name:?}, version: 1, indexes: ['email', 'team'] }}");
    let e = AuroraCore::open(js(&same_version), rec.target.clone(), none.clone(), None, None).await.err().unwrap();
    assert_eq!(name_of(&e), "InvalidConfigError");
    let v2 = format!("{{ name: {name:?}, version: 2, indexes: [{{ name: 'email', unique: true }}, 'team'] }}");
    let db = open_with(&v2, &rec, &none).await;
    assert_eq!(json(&ok(db.find_by("team".into(), "red".into())).await), r#"[{"email":"a@x","team":"red"}]"#);
    assert_eq!(get(&db.stats(), "version").as_f64(), Some(2.0));
    destroy(db).await;
}

#[wasm_bindgen_test]
async fn bad_configurations_are_refused() {
    let rec = Recorder::new();
    let none = JsValue::from(Object::new());
    for config in [
        "{}",
        "{ name: '' }",
        "{ name: 'x', version: 0 }",
        "{ name: 'x', version: 1.5 }",
        "{ name: 'x', keyPath: 3 }",
        "{ name: 'x', indexes: 'email' }",
        "{ name: 'x', indexes: [{ name: 'a' }, 'a'] }",
        "{ name: 'x', syncStrategy: 'random' }",
        "{ name: 'x', syncStrategy: () => 1 }",
        "{ name: 'x', maxOpBytes: 0 }",
        "{ name: 'x', maxOpBytes: 2 ** 30 + 1 }",
        "{ name: 'x', maxOpBytes: '1000' }",
        "{ name: 'x', indexes: new Proxy(['a'], { get() { throw new Error('indexes') } }) }",
        "null",
    ] {
        let e = AuroraCore::open(js(config), rec.target.clone(), none.clone(), None, None).await.err().unwrap();
        assert_eq!(name_of(&e), "InvalidConfigError", "{config}");
    }
    assert_eq!(rec.kinds().iter().filter(|k| *k == "error").count(), 14);
}

#[wasm_bindgen_test]
async fn strategies_and_options_are_kept() {
    let name = fresh("options");
    let rec = Recorder::new();
    let config = format!(
        "{{ name: {name:?}, syncStrategy: 'version', distributed: true, p2pAdapter: 'peerjs', autoSync: true, syncInterval: 10000 }}"
    );
    let db = AuroraCore::open(js(&config), rec.target.clone(), Object::new().into(), None, Some("custom-id".into()))
        .await
        .unwrap();
    assert_eq!(db.peer_id(), "custom-id");
    assert_ne!(db.author(), "custom-id");
    assert!(db.distributed());
    let stats = db.stats();
    assert_eq!(get(&stats, "syncStrategy").as_string().as_deref(), Some("version"));
    assert_eq!(get(&stats, "connections").as_f64(), Some(0.0));
    // Under `version`, the highest version field wins whatever the order.
    ok(db.put("p".into(), js("{ version: 5, name: 'five' }"))).await;
    ok(db.put("p".into(), js("{ version: 3, name: 'three' }"))).await;
    assert_eq!(get(&ok(db.get("p".into())).await, "name").as_string().as_deref(), Some("five"));
    destroy(db).await;
}

/// Resolves once `rec` has seen an event of type `kind` (or after about two seconds).
async fn seen(rec: &Recorder, kind: &str) -> bool {
    for _ in 0..100 {
        if rec.kinds().iter().any(|k| k == kind) {
            return true;
        }
        sleep(20).await;
    }
    false
}

#[wasm_bindgen_test]
async fn two_instances_on_one_database_see_each_other() {
    let name = fresh("tabs");
    let (ra, rb) = (Recorder::new(), Recorder::new());
    let a = open(&name, &ra).await;
    let b = open(&name, &rb).await;
    assert_ne!(a.author(), b.author());
    rb.take();
    ok(a.put("from-a".into(), js("{ n: 1 }"))).await;
    assert!(seen(&rb, "change").await, "b heard of a's write");
    let changes = rb.take();
    let change = &changes.iter().find(|(k, _)| k == "change").unwrap().1;
    assert_eq!(get(change, "source").as_string().as_deref(), Some("tab"));
    assert_eq!(json(&ok(b.get("from-a".into())).await), r#"{"n":1}"#);

    // Concurrent writes from both: nothing is lost.
    let writes = Array::new();
    for i in 0..10 {
        writes.push(&a.put(format!("a{i}").into(), JsValue::from_f64(f64::from(i))));
        writes.push(&b.put(format!("b{i}").into(), JsValue::from_f64(f64::from(i))));
    }
    ok(Promise::all(&writes)).await;
    ok(a.catch_up(JsValue::UNDEFINED)).await;
    ok(b.catch_up(JsValue::UNDEFINED)).await;
    assert_eq!(ok(a.count()).await.as_f64(), Some(21.0));
    assert_eq!(json(&ok(a.all()).await), json(&ok(b.all()).await));
    #[cfg(feature = "travel")]
    assert_eq!(get(&ok(b.verify()).await, "authors").as_f64(), Some(2.0));
    ok(a.close()).await;
    destroy(b).await;
}

#[wasm_bindgen_test]
async fn a_reopen_writes_as_the_same_author_and_instances_open_at_once_as_their_own() {
    let name = fresh("authors");
    let (ra, rb, rc) = (Recorder::new(), Recorder::new(), Recorder::new());
    let a = open(&name, &ra).await;
    let first = a.author();
    assert_eq!(get(&a.identity(), "author").as_string(), Some(first.clone()));
    ok(a.put("k".into(), js("{ n: 1 }"))).await;
    ok(a.close()).await;

    // close() then open of the same name: the same author, its secret key kept in the database.
    let a = open(&name, &ra).await;
    assert_eq!(get(&a.stats(), "author").as_string(), Some(first.clone()));
    let identity = a.identity();
    assert_eq!(get(&identity, "author").as_string(), Some(first.clone()));
    // Open at the same time: an author of its own.
    let b = open(&name, &rb).await;
    let second = b.author();
    assert_ne!(second, first);
    ok(a.put("k".into(), js("{ n: 2 }"))).await;
    ok(b.put("j".into(), js("{ n: 3 }"))).await;
    ok(a.catch_up(JsValue::UNDEFINED)).await;
    #[cfg(feature = "travel")]
    {
        let report = ok(a.verify()).await;
        assert_eq!((get(&report, "ops").as_f64(), get(&report, "authors").as_f64()), (Some(3.0), Some(2.0)));
    }

    // Closing the first frees its author for the next instance.
    ok(a.close()).await;
    let c = open(&name, &rc).await;
    assert_eq!(c.author(), first);
    assert_eq!(json(&ok(c.get("k".into())).await), r#"{"n":2}"#);
    ok(b.close()).await;
    destroy(c).await;
}

#[wasm_bindgen_test]
async fn destroy_deletes_and_closes_other_instances() {
    let name = fresh("destroy");
    let (ra, rb) = (Recorder::new(), Recorder::new());
    let a = open(&name, &ra).await;
    let b = open(&name, &rb).await;
    ok(a.put("k".into(), 1.into())).await;
    ok(a.destroy()).await;
    assert!(seen(&rb, "close").await);
    let close = rb.take().into_iter().find(|(k, _)| k == "close").unwrap().1;
    assert_eq!(get(&close, "reason").as_string().as_deref(), Some("versionchange"));
    assert_eq!(name_of(&err(b.put("k".into(), 2.into())).await), "DatabaseClosedError");
    let c = open(&name, &Recorder::new()).await;
    assert_eq!(ok(c.count()).await.as_f64(), Some(0.0), "the database was deleted");
    destroy(c).await;
    delete_database(name).await.unwrap();
}
