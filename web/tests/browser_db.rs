//! The IndexedDB backend and the database over it, in headless Chromium: atomic commits and
//! their preconditions, scans, the readable `state` store and its indexes, reopening (without
//! decoding the log), unique indexes, schema upgrades, blocked upgrades, closed connections, and
//! two connections writing to one database.

#![cfg(target_arch = "wasm32")]

use std::ops::Bound;

use auroradb::storage::{KeyRange, ScanOptions, Storage, Store, WriteBatch};
use auroradb::{Config, Database, DbError, IndexSpec, StorageError, Value};
use auroradb_web::IdbStorage;
use auroradb_web::js_clock;
use js_sys::{Array, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// A database name no other test uses.
fn fresh(name: &str) -> String {
    format!("test-{name}-{}-{}", js_sys::Date::now(), (js_sys::Math::random() * 1e9) as u64)
}

fn config(name: &str, version: u32, indexes: &[(&str, bool)]) -> Config {
    let mut c = Config::new(name, js_clock);
    c.version = version;
    c.indexes = indexes.iter().map(|(n, u)| IndexSpec { name: (*n).into(), unique: *u }).collect();
    c
}

async fn open(name: &str, version: u32, indexes: &[(&str, bool)]) -> Database<IdbStorage> {
    let c = config(name, version, indexes);
    let storage = IdbStorage::open(name, version, &c.indexes).await.expect("open storage");
    Database::open(storage, c).await.expect("open database")
}

fn user(name: &str, email: &str) -> Value {
    Value::map([("name", Value::from(name)), ("email", Value::from(email))])
}

async fn drop_db(name: &str) {
    IdbStorage::delete(name).await.expect("delete database");
}

/// Awaits an IndexedDB request made directly on the connection.
async fn request(req: web_sys::IdbRequest) -> JsValue {
    let p = Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
    });
    JsFuture::from(p).await.expect("request succeeds");
    req.result().expect("request result")
}

fn field(obj: &JsValue, name: &str) -> JsValue {
    Reflect::get(obj, &name.into()).unwrap()
}

/// The readable value of the `state` store's record of `key`, as IndexedDB returns it.
async fn readable_value(db: &Database<IdbStorage>, key: &str) -> JsValue {
    let tx = db.storage().connection().transaction_with_str("state").unwrap();
    let state = tx.object_store("state").unwrap();
    field(&request(state.get(&Uint8Array::from(key.as_bytes()).into()).unwrap()).await, "value")
}

#[wasm_bindgen_test]
async fn commits_gets_scans_and_counts() {
    let name = fresh("scan");
    let s = IdbStorage::open(&name, 1, &[]).await.unwrap();
    let mut batch = WriteBatch::default();
    for i in 0u8..10 {
        batch.put(Store::Log, vec![1, i], vec![i; 3]);
    }
    batch.put(Store::Meta, b"a".to_vec(), b"meta".to_vec());
    batch.put(Store::Journal, vec![0xff, 0xff], vec![]);
    s.commit(batch).await.unwrap();

    assert_eq!(s.get(Store::Log, &[1, 4]).await.unwrap(), Some(vec![4; 3]));
    assert_eq!(s.get(Store::Log, &[9]).await.unwrap(), None);
    assert_eq!(s.get(Store::Meta, b"a").await.unwrap(), Some(b"meta".to_vec()));
    assert_eq!(s.get(Store::Journal, &[0xff, 0xff]).await.unwrap(), Some(vec![]));

    let keys = |rows: Vec<(Vec<u8>, Vec<u8>)>| rows.into_iter().map(|(k, _)| k[1]).collect::<Vec<u8>>();
    let all = s.scan(Store::Log, KeyRange::all(), ScanOptions::default()).await.unwrap();
    assert_eq!(all.len(), 10);
    assert_eq!(all[7], (vec![1, 7], vec![7; 3]));
    let range = KeyRange { start: Bound::Excluded(vec![1, 2]), end: Bound::Included(vec![1, 5]) };
    assert_eq!(keys(s.scan(Store::Log, range.clone(), ScanOptions::default()).await.unwrap()), [3, 4, 5]);
    let rev = ScanOptions { reverse: true, ..Default::default() };
    assert_eq!(keys(s.scan(Store::Log, range.clone(), rev).await.unwrap()), [5, 4, 3]);
    assert_eq!(s.count(Store::Log, range.clone()).await.unwrap(), 3);
    assert_eq!(s.count(Store::Log, KeyRange::all()).await.unwrap(), 10);
    let rev2 = ScanOptions { reverse: true, limit: Some(2), ..Default::default() };
    assert_eq!(keys(s.scan(Store::Log, KeyRange::all(), rev2).await.unwrap()), [9, 8]);
    let first3 = ScanOptions { limit: Some(3), keys_only: true, ..Default::default() };
    let rows = s.scan(Store::Log, KeyRange::prefix(&[1]), first3).await.unwrap();
    assert_eq!(rows, vec![(vec![1, 0], vec![]), (vec![1, 1], vec![]), (vec![1, 2], vec![])]);
    let rev_keys = ScanOptions { reverse: true, keys_only: true, limit: Some(1) };
    assert_eq!(s.scan(Store::Log, KeyRange::all(), rev_keys).await.unwrap(), vec![(vec![1, 9], vec![])]);
    let empty = KeyRange { start: Bound::Included(vec![1, 5]), end: Bound::Excluded(vec![1, 5]) };
    assert!(s.scan(Store::Log, empty.clone(), ScanOptions::default()).await.unwrap().is_empty());
    assert_eq!(s.count(Store::Log, empty).await.unwrap(), 0);
    let none = ScanOptions { limit: Some(0), ..Default::default() };
    assert!(s.scan(Store::Log, KeyRange::all(), none).await.unwrap().is_empty());
    assert!(s.scan(Store::Checkpoints, KeyRange::all(), ScanOptions::default()).await.unwrap().is_empty());
    assert_eq!(s.count(Store::Checkpoints, KeyRange::all()).await.unwrap(), 0);

    let mut batch = WriteBatch::default();
    batch.delete(Store::Log, vec![1, 0]);
    batch.delete(Store::Log, vec![7, 7]);
    s.commit(batch).await.unwrap();
    assert_eq!(s.get(Store::Log, &[1, 0]).await.unwrap(), None);
    assert_eq!(s.scan(Store::Log, KeyRange::all(), ScanOptions::default()).await.unwrap().len(), 9);
    assert_eq!(s.count(Store::Log, KeyRange::prefix(&[1])).await.unwrap(), 9);
    drop(s);
    drop_db(&name).await;
}

#[wasm_bindgen_test]
async fn a_failed_precondition_writes_nothing() {
    let name = fresh("expect");
    let s = IdbStorage::open(&name, 1, &[]).await.unwrap();
    let mut first = WriteBatch::default();
    first.expect(Store::Meta, b"counter".to_vec(), None);
    first.put(Store::Meta, b"counter".to_vec(), vec![1]);
    first.put(Store::Log, vec![1], vec![1]);
    s.commit(first).await.unwrap();

    // A stale precondition: the puts before and after it, in several stores, are all dropped.
    let mut stale = WriteBatch::default();
    stale.put(Store::Log, vec![2], vec![2]);
    stale.put(Store::History, vec![2], vec![]);
    stale.expect(Store::Meta, b"counter".to_vec(), None);
    stale.put(Store::Meta, b"counter".to_vec(), vec![2]);
    stale.delete(Store::Log, vec![1]);
    assert_eq!(s.commit(stale).await, Err(StorageError::Conflict));
    assert_eq!(s.get(Store::Log, &[2]).await.unwrap(), None);
    assert_eq!(s.get(Store::History, &[2]).await.unwrap(), None);
    assert_eq!(s.get(Store::Log, &[1]).await.unwrap(), Some(vec![1]));
    assert_eq!(s.get(Store::Meta, b"counter").await.unwrap(), Some(vec![1]));

    // A wrong value also conflicts; the right one commits.
    let mut wrong = WriteBatch::default();
    wrong.expect(Store::Meta, b"counter".to_vec(), Some(vec![9]));
    wrong.put(Store::Log, vec![3], vec![3]);
    assert_eq!(s.commit(wrong).await, Err(StorageError::Conflict));
    let mut right = WriteBatch::default();
    right.expect(Store::Meta, b"counter".to_vec(), Some(vec![1]));
    right.expect(Store::Log, vec![5], None);
    right.put(Store::Meta, b"counter".to_vec(), vec![2]);
    right.put(Store::Log, vec![3], vec![3]);
    s.commit(right).await.unwrap();
    assert_eq!(s.get(Store::Log, &[3]).await.unwrap(), Some(vec![3]));
    assert_eq!(s.get(Store::Meta, b"counter").await.unwrap(), Some(vec![2]));
    drop(s);
    drop_db(&name).await;
}

#[wasm_bindgen_test]
async fn an_insert_over_a_record_is_a_conflict_and_writes_nothing() {
    let name = fresh("insert");
    let s = IdbStorage::open(&name, 1, &[]).await.unwrap();
    let mut first = WriteBatch::default();
    first.insert(Store::Journal, vec![0, 1], vec![1]);
    first.put(Store::Log, vec![1], vec![1]);
    s.commit(first).await.unwrap();

    // The key is taken: the puts and deletes before and after the insert, in several stores,
    // are all dropped, and the record inserted first stays.
    let mut second = WriteBatch::default();
    second.put(Store::Log, vec![2], vec![2]);
    second.put(Store::History, vec![2], vec![]);
    second.insert(Store::Journal, vec![0, 1], vec![2]);
    second.put(Store::State, b"k".to_vec(), vec![2]);
    second.delete(Store::Log, vec![1]);
    assert_eq!(s.commit(second).await, Err(StorageError::Conflict));
    assert_eq!(s.get(Store::Log, &[2]).await.unwrap(), None);
    assert_eq!(s.get(Store::History, &[2]).await.unwrap(), None);
    assert_eq!(s.get(Store::State, b"k").await.unwrap(), None);
    assert_eq!(s.get(Store::Log, &[1]).await.unwrap(), Some(vec![1]));
    assert_eq!(s.get(Store::Journal, &[0, 1]).await.unwrap(), Some(vec![1]));

    // A free key commits, with an expectation in the same batch.
    let mut third = WriteBatch::default();
    third.expect(Store::Log, vec![1], Some(vec![1]));
    third.insert(Store::Journal, vec![0, 2], vec![3]);
    third.put(Store::Log, vec![3], vec![3]);
    s.commit(third).await.unwrap();
    assert_eq!(s.get(Store::Journal, &[0, 2]).await.unwrap(), Some(vec![3]));
    assert_eq!(s.get(Store::Log, &[3]).await.unwrap(), Some(vec![3]));
    drop(s);
    drop_db(&name).await;
}

#[wasm_bindgen_test]
async fn state_records_are_readable_and_indexed() {
    let name = fresh("state");
    let mut db = open(&name, 1, &[("email", true), ("created-at", false)]).await;
    db.put("u1", user("Alice", "a@x")).await.unwrap();
    db.put("u2", user("Bob", "b@x")).await.unwrap();
    db.put("u3", Value::Int(7)).await.unwrap();
    db.remove("u3").await.unwrap();

    let conn = db.storage().connection();
    let tx = conn.transaction_with_str("state").unwrap();
    let state = tx.object_store("state").unwrap();
    // Only identifier names get an IndexedDB index; the engine indexes both.
    let names = state.index_names();
    assert_eq!((names.length(), names.contains("email")), (1, true));
    let rec = request(state.index("email").unwrap().get(&"b@x".into()).unwrap()).await;
    assert_eq!(field(&rec, "key").as_string().as_deref(), Some("u2"));
    let value = field(&rec, "value");
    assert_eq!(field(&value, "name").as_string().as_deref(), Some("Bob"));
    assert!(field(&rec, "record").is_instance_of::<Uint8Array>());

    let tx = conn.transaction_with_str("state").unwrap();
    let all: Array = request(tx.object_store("state").unwrap().get_all().unwrap()).await.unchecked_into();
    assert_eq!(all.length(), 3);
    let tomb = all.iter().find(|r| field(r, "key").as_string().as_deref() == Some("u3")).unwrap();
    assert_eq!(field(&tomb, "deleted"), JsValue::TRUE);
    assert!(field(&tomb, "value").is_undefined());
    drop(db);
    drop_db(&name).await;
}

/// Whether two JavaScript values are the same data: `Object.is` for primitives (so `-0` is not
/// `0`), equal bigints, equal bytes, and arrays and plain objects with the same own fields in the
/// same order, each the same data.
fn same_data(a: &JsValue, b: &JsValue) -> bool {
    if a.is_bigint() || b.is_bigint() {
        return a.is_bigint() && b.is_bigint() && a.loose_eq(b);
    }
    if !a.is_object() || !b.is_object() {
        return js_sys::Object::is(a, b);
    }
    if let (Some(x), Some(y)) = (a.dyn_ref::<Uint8Array>(), b.dyn_ref::<Uint8Array>()) {
        return x.to_vec() == y.to_vec();
    }
    if Array::is_array(a) != Array::is_array(b) {
        return false;
    }
    let (ka, kb) = (js_sys::Reflect::own_keys(a).unwrap(), js_sys::Reflect::own_keys(b).unwrap());
    let plain =
        |o: &JsValue| js_sys::Object::get_prototype_of(o) == js_sys::Object::get_prototype_of(&js_sys::Object::new());
    (Array::is_array(a) || (plain(a) && plain(b)))
        && ka.length() == kb.length()
        && ka.iter().zip(kb.iter()).all(|(x, y)| {
            x == y && {
                let da = js_sys::Object::get_own_property_descriptor(a.unchecked_ref::<js_sys::Object>(), &x);
                let db = js_sys::Object::get_own_property_descriptor(b.unchecked_ref::<js_sys::Object>(), &y);
                ["enumerable", "writable", "configurable"].iter().all(|f| field(&da, f) == field(&db, f))
                    && same_data(&field(&da, "value"), &field(&db, "value"))
            }
        })
}

#[wasm_bindgen_test]
async fn state_records_hold_the_value_as_the_engine_gives_it() {
    let name = fresh("readable");
    let mut db = open(&name, 1, &[]).await;
    let long = "a".repeat(32);
    let values = vec![
        Value::Null,
        Value::Bool(true),
        Value::Bool(false),
        Value::Int(0),
        Value::Int(-1),
        Value::Int(63),
        Value::Int(-64),
        Value::Int(1 << 48),
        Value::Int(-(1 << 48) - 1),
        Value::Int(9_007_199_254_740_991),
        Value::Int(-9_007_199_254_740_991),
        Value::Int(9_007_199_254_740_992),
        Value::Int(i64::MAX),
        Value::Int(i64::MIN),
        Value::Float(0.5),
        Value::Float(-0.0),
        Value::Float(f64::INFINITY),
        Value::Float(-1e300),
        Value::Float(f64::MIN_POSITIVE),
        Value::String(String::new()),
        Value::String(long.clone()),
        Value::String(format!("{long}b")),
        Value::String("é".into()),
        Value::String("naïve ✓ 𝄞 \u{FFFD}".repeat(20)),
        Value::Bytes(vec![]),
        Value::Bytes((0..=255).collect()),
        Value::List(vec![]),
        Value::Map(Default::default()),
        Value::map([
            ("10", Value::Int(1)),
            ("2", Value::Int(2)),
            ("a", Value::List(vec![Value::Null, Value::map([("ü", Value::Bytes(vec![7; 40]))])])),
            ("constructor", Value::String("x".into())),
        ]),
    ];
    for (i, v) in values.iter().enumerate() {
        db.put(format!("k{i:02}"), v.clone()).await.unwrap();
    }
    let deep = (0..60).fold(Value::Int(1), |v, _| Value::List(vec![v]));
    db.put("deep", deep.clone()).await.unwrap();
    for (i, v) in values.iter().chain([&deep]).enumerate() {
        let key = if i < values.len() { format!("k{i:02}") } else { "deep".into() };
        let readable = readable_value(&db, &key).await;
        assert!(same_data(&readable, &auroradb_web::value::to_js(v)), "{key}: {v:?} is stored as {readable:?}");
    }
    drop(db);
    drop_db(&name).await;
}

/// A peer's op may hold a field named `__proto__` (only local writes refuse one): its readable
/// record holds it as an own field, never as the object's prototype.
#[wasm_bindgen_test]
async fn a_field_named_proto_is_an_own_field_of_the_readable_record() {
    let name = fresh("proto");
    let db = open(&name, 1, &[]).await;
    let value = Value::map([("__proto__", Value::map([("polluted", Value::Bool(true))])), ("a", Value::Int(2))]);
    // A key record as the engine writes it (docs/formats.md): magic, version, writes 1, the shown
    // entry (time 1, peer 7..7, the value), the timestamp rule with no remove.
    let mut record = b"AUkr\x01\x01\x01\x01".to_vec();
    record.extend([7; 16]);
    record.extend(postcard::to_allocvec(&value).unwrap());
    record.extend([0, 0]);
    assert_eq!(auroradb_snapshot::KeyRecord::decode(&record).unwrap().visible().unwrap().value, value);
    let mut batch = WriteBatch::default();
    batch.put(Store::State, b"p".to_vec(), record.clone());
    db.storage().commit(batch).await.unwrap();
    assert_eq!(db.storage().get(Store::State, b"p").await.unwrap(), Some(record));

    let readable = readable_value(&db, "p").await;
    assert_eq!(js_sys::Object::get_prototype_of(&readable), js_sys::Object::get_prototype_of(&js_sys::Object::new()));
    let own =
        js_sys::Object::get_own_property_descriptor(readable.unchecked_ref::<js_sys::Object>(), &"__proto__".into());
    assert_eq!(field(&field(&own, "value"), "polluted"), JsValue::TRUE);
    assert_eq!(field(&readable, "a").as_f64(), Some(2.0));
    assert!(same_data(&readable, &auroradb_web::value::to_js(&value)));
    drop(db);
    drop_db(&name).await;
}

#[wasm_bindgen_test]
async fn data_survives_reopen_without_decoding_the_log() {
    let name = fresh("reopen");
    let mut db = open(&name, 1, &[("email", false)]).await;
    for i in 0..50 {
        db.put(format!("k{i:02}"), user(&format!("n{i}"), &format!("{i}@x"))).await.unwrap();
    }
    db.remove("k07").await.unwrap();
    db.batch_set([("k99".to_string(), Value::Int(99)), ("k98".to_string(), Value::Bool(true))]).await.unwrap();
    let before = db.all();
    let ops = db.log().len();
    drop(db);

    let mut db = open(&name, 1, &[("email", false)]).await;
    assert_eq!(db.stats().ops_decoded, 0, "opening decodes no op");
    assert!(!db.log().is_indexed(), "opening reads no segment record");
    assert_eq!(db.all(), before);
    assert_eq!(db.op_count() as usize, ops);
    assert_eq!(db.find_by("email", &Value::from("12@x")).unwrap().len(), 1);
    db.put("k00", Value::Null).await.unwrap();
    let report = db.verify().await.unwrap();
    assert_eq!(report.ops as usize, ops + 1);
    assert_eq!(db.get("k00"), Some(&Value::Null));
    drop(db);
    drop_db(&name).await;
}

#[wasm_bindgen_test]
async fn a_unique_index_violation_writes_nothing() {
    let name = fresh("unique");
    let mut db = open(&name, 1, &[("email", true)]).await;
    db.put("u1", user("Alice", "a@x")).await.unwrap();
    let err = db.put("u2", user("Eve", "a@x")).await.unwrap_err();
    assert_eq!(err.name(), "UniqueConstraintError");
    let err = db.batch_set([("u3".into(), user("C", "c@x")), ("u4".into(), user("D", "a@x"))]).await.unwrap_err();
    assert_eq!(err.name(), "UniqueConstraintError");
    assert_eq!(db.count(), 1);
    assert_eq!(db.log().len(), 1);
    let logged = db.storage().scan(Store::Log, KeyRange::all(), ScanOptions::default()).await.unwrap();
    assert_eq!(logged.len(), 1);
    // Moving the value to another key is fine once the first one lets it go.
    db.put("u1", user("Alice", "a2@x")).await.unwrap();
    db.put("u2", user("Eve", "a@x")).await.unwrap();
    assert_eq!(db.count(), 2);
    drop(db);
    drop_db(&name).await;
}

/// On a reopened database whose records are read on demand, a put of a key not held guesses it
/// absent and the commit checks the guess against IndexedDB: right, nothing is read first; wrong,
/// nothing is written, the key is read and the put made again.
#[wasm_bindgen_test]
async fn a_put_guessing_its_key_absent_is_checked_by_its_commit() {
    let name = fresh("guess");
    let mut db = open(&name, 1, &[]).await;
    db.put("old", Value::Int(1)).await.unwrap();
    drop(db);
    let mut c = config(&name, 1, &[]);
    c.state_cache = Some(100);
    let storage = IdbStorage::open(&name, 1, &c.indexes).await.unwrap();
    let mut db = Database::open(storage, c).await.unwrap();
    assert!(!db.holds_whole_state());
    let out = db.put("old", Value::Int(2)).await.unwrap();
    assert_eq!(out.changes.len(), 1);
    assert_eq!((out.changes[0].before.clone(), db.count()), (Some(Value::Int(1)), 1));
    db.put("new", Value::Int(3)).await.unwrap();
    let out = db.put("newer", Value::Int(4)).await.unwrap();
    assert_eq!((out.changes[0].before.clone(), db.count()), (None, 3));
    let entries = db.storage().scan(Store::Journal, KeyRange::all(), ScanOptions::default()).await.unwrap();
    assert_eq!(entries.len(), 4, "one commit per put");
    db.verify().await.unwrap();
    drop(db);
    let mut db = open(&name, 1, &[]).await;
    db.load_state().await.unwrap();
    assert_eq!(
        db.all(),
        vec![("new".into(), Value::Int(3)), ("newer".into(), Value::Int(4)), ("old".into(), Value::Int(2))]
    );
    drop(db);
    drop_db(&name).await;
}

#[wasm_bindgen_test]
async fn a_schema_upgrade_keeps_the_data() {
    let name = fresh("upgrade");
    let mut db = open(&name, 1, &[("email", false)]).await;
    db.put("u1", Value::map([("email", Value::from("a@x")), ("team", Value::from("red"))])).await.unwrap();
    db.put("u2", Value::map([("email", Value::from("b@x")), ("team", Value::from("blue"))])).await.unwrap();
    drop(db);

    // Changing the indexes needs a new version.
    let c = config(&name, 1, &[("email", false), ("team", false)]);
    let err = IdbStorage::open(&name, 1, &c.indexes).await.unwrap_err();
    assert!(matches!(err, StorageError::InvalidSchema(_)), "{err}");

    let mut db = open(&name, 2, &[("email", false), ("team", false)]).await;
    assert_eq!(db.storage().version(), 2);
    assert_eq!(db.count(), 2);
    assert_eq!(db.find_by("team", &Value::from("blue")).unwrap().len(), 1);
    let tx = db.storage().connection().transaction_with_str("state").unwrap();
    let team = tx.object_store("state").unwrap().index("team").unwrap();
    let found = request(team.get_all_with_key(&"red".into()).unwrap()).await;
    assert_eq!(found.unchecked_into::<Array>().length(), 1, "the new IndexedDB index holds the old records");
    db.put("u3", Value::map([("team", Value::from("red"))])).await.unwrap();
    drop(db);

    // An older version is refused; dropping an index in a newer one keeps the data too.
    let err = IdbStorage::open(&name, 1, &[]).await.unwrap_err();
    assert_eq!(err, StorageError::VersionTooOld { name: name.clone(), requested: 1 }, "{err}");
    let db = open(&name, 3, &[("team", false)]).await;
    assert_eq!(db.count(), 3);
    assert!(db.find_by("email", &Value::from("a@x")).is_err());
    drop(db);
    drop_db(&name).await;
}

/// Makes database `name` at version 1 and holds a plain IndexedDB connection to it that does not
/// close when asked to.
async fn made_and_held(name: &str) -> web_sys::IdbDatabase {
    drop(open(name, 1, &[]).await);
    let factory: web_sys::IdbFactory = Reflect::get(&js_sys::global(), &"indexedDB".into()).unwrap().unchecked_into();
    request(factory.open(name).unwrap().unchecked_into()).await.unchecked_into()
}

#[wasm_bindgen_test]
async fn an_upgrade_blocked_by_another_connection_fails_and_writes_nothing() {
    let name = fresh("blocked");
    let holder = made_and_held(&name).await;
    let err = IdbStorage::open(&name, 2, &[]).await.unwrap_err();
    assert!(matches!(err, StorageError::Blocked(_)), "{err}");
    assert_eq!(DbError::from(err).name(), "UpgradeBlockedError");
    // The abandoned request stays queued, and IndexedDB queues every later one behind it,
    // without a `blocked` event: they are reported blocked too, rather than wait in silence.
    let err = IdbStorage::open(&name, 1, &[]).await.unwrap_err();
    assert!(matches!(err, StorageError::Blocked(_)), "an open behind it: {err}");
    let err = IdbStorage::delete(&name).await.unwrap_err();
    assert!(matches!(err, StorageError::Blocked(_)), "a delete behind it: {err}");
    holder.close();
    // Once the holder closed, the queue runs: the upgrade aborts, the open closes what it got,
    // the delete deletes. A new open then makes the database afresh, at version 1.
    let db = open(&name, 1, &[]).await;
    assert_eq!(db.storage().version(), 1);
    assert_eq!(db.count(), 0, "deleted by the delete that was queued");
    drop(db);
    drop_db(&name).await;
}

#[wasm_bindgen_test]
async fn an_upgrade_blocked_then_given_up_leaves_the_version_as_it_was() {
    let name = fresh("blocked-alone");
    let holder = made_and_held(&name).await;
    let err = IdbStorage::open(&name, 2, &[]).await.unwrap_err();
    assert!(matches!(err, StorageError::Blocked(_)), "{err}");
    holder.close();
    // The abandoned upgrade did not happen: version 1 still opens.
    let db = open(&name, 1, &[]).await;
    assert_eq!(db.storage().version(), 1);
    drop(db);
    drop_db(&name).await;
}

#[wasm_bindgen_test]
async fn a_connection_closed_by_an_upgrade_elsewhere_reports_closed() {
    let name = fresh("closed");
    let mut old = open(&name, 1, &[]).await;
    old.put("a", Value::Int(1)).await.unwrap();
    let closed = std::rc::Rc::new(std::cell::Cell::new(false));
    let flag = closed.clone();
    old.storage().on_closed(move || flag.set(true));
    let mut new = open(&name, 2, &[]).await;
    assert!(closed.get() && old.storage().is_closed());
    let err = old.put("b", Value::Int(2)).await.unwrap_err();
    assert_eq!(err.name(), "DatabaseClosedError");
    assert_eq!(old.count(), 1, "the failed write left the state as it was");
    new.put("c", Value::Int(3)).await.unwrap();
    assert_eq!(new.count(), 2);
    drop((old, new));
    drop_db(&name).await;
}

#[wasm_bindgen_test]
async fn two_connections_lose_nothing() {
    let name = fresh("two");
    let mut a = open(&name, 1, &[]).await;
    let mut b = open(&name, 1, &[]).await;
    assert_ne!(a.peer(), b.peer());
    for i in 0..10 {
        a.put(format!("a{i}"), Value::Int(i)).await.unwrap();
        b.put(format!("b{i}"), Value::Int(i)).await.unwrap();
    }
    // Writes racing each other: one of each pair conflicts, catches up and retries.
    for i in 10..20 {
        let (ra, rb) =
            futures::future::join(a.put(format!("a{i}"), Value::Int(i)), b.put(format!("b{i}"), Value::Int(i))).await;
        ra.unwrap();
        rb.unwrap();
    }
    a.catch_up().await.unwrap();
    b.catch_up().await.unwrap();
    assert_eq!(a.count(), 40);
    assert_eq!(a.all(), b.all());
    assert_eq!(a.log().len(), 40);
    assert_eq!(a.log().fingerprint(..), b.log().fingerprint(..));
    assert_eq!(a.verify().await.unwrap().authors, 2);
    drop((a, b));
    let c = open(&name, 1, &[]).await;
    assert_eq!(c.count(), 40);
    drop(c);
    drop_db(&name).await;
}

#[wasm_bindgen_test]
async fn a_failed_commit_leaves_the_database_usable() {
    let name = fresh("bad-value");
    let mut db = open(&name, 1, &[]).await;
    let deep = (0..100).fold(Value::Int(0), |v, _| Value::List(vec![v]));
    assert_eq!(db.put("deep", deep).await.unwrap_err().name(), "InvalidInputError");
    assert_eq!(db.put("__proto__", Value::Int(1)).await.unwrap_err().name(), "InvalidInputError");
    assert_eq!(db.log().len(), 0);
    db.put("ok", Value::Int(1)).await.unwrap();
    assert_eq!(db.count(), 1);
    drop(db);
    drop_db(&name).await;
}

#[wasm_bindgen_test]
async fn a_thrown_transaction_leaves_nothing() {
    let name = fresh("txn");
    let mut db = open(&name, 1, &[]).await;
    db.put("keep", Value::Int(1)).await.unwrap();
    let err = db
        .transaction(|t| {
            t.put("x", Value::Int(1))?;
            t.remove("keep")?;
            Err::<(), _>(DbError::InvalidInput("refused".into()))
        })
        .await
        .unwrap_err();
    assert_eq!(err.name(), "TransactionAbortedError");
    assert_eq!(db.get("x"), None);
    assert_eq!(db.get("keep"), Some(&Value::Int(1)));
    assert_eq!(db.log().len(), 1);
    drop(db);
    let db = open(&name, 1, &[]).await;
    assert_eq!((db.count(), db.op_count()), (1, 1));
    drop(db);
    drop_db(&name).await;
}

/// The names of the Web Locks held in this origin, once what was released meanwhile is.
async fn held_locks() -> Vec<String> {
    let pause = Promise::new(&mut |resolve, _| {
        let set_timeout: js_sys::Function = field(&js_sys::global(), "setTimeout").unchecked_into();
        set_timeout.call2(&JsValue::UNDEFINED, &resolve, &JsValue::from(20)).unwrap();
    });
    JsFuture::from(pause).await.unwrap();
    let locks = field(&field(&js_sys::global(), "navigator"), "locks");
    let query: js_sys::Function = field(&locks, "query").unchecked_into();
    let snapshot = JsFuture::from(query.call0(&locks).unwrap().unchecked_into::<Promise>()).await.unwrap();
    let held: Array = field(&snapshot, "held").unchecked_into();
    held.iter().filter_map(|l| field(&l, "name").as_string()).collect()
}

#[wasm_bindgen_test]
async fn each_connection_holds_an_author_slot_of_the_database_until_it_closes() {
    let name = fresh("slots");
    let slot = |n: u32| format!("auroradb-author/{n}:{name}");
    let mut a = open(&name, 1, &[]).await;
    a.put("a", Value::Int(1)).await.unwrap();
    let first = a.peer();
    assert_eq!(a.author_slot(), Some(0));
    assert!(held_locks().await.contains(&slot(0)), "slot 0's Web Lock is held");
    drop(a);
    assert!(!held_locks().await.contains(&slot(0)), "and released with the connection");

    // A reopen writes as the same author, and goes on with its chain.
    let mut a = open(&name, 1, &[]).await;
    assert_eq!((a.peer(), a.author_slot()), (first, Some(0)));
    a.put("a", Value::Int(2)).await.unwrap();
    assert_eq!(a.log().heads()[&first].seq, 2);

    // Two at once: two authors, and nothing of either is lost.
    let mut b = open(&name, 1, &[]).await;
    assert_eq!(b.author_slot(), Some(1));
    assert_ne!(b.peer(), first);
    let second = b.peer();
    for i in 0..5 {
        let (ra, rb) =
            futures::future::join(a.put(format!("a{i}"), Value::Int(i)), b.put(format!("b{i}"), Value::Int(i))).await;
        ra.unwrap();
        rb.unwrap();
    }
    a.catch_up().await.unwrap();
    assert_eq!(a.count(), 11);
    assert_eq!(a.verify().await.unwrap().authors, 2);

    // Closing a connection frees its slot for the next one, with its author.
    a.storage().close();
    assert!(!held_locks().await.contains(&slot(0)));
    assert!(held_locks().await.contains(&slot(1)));
    let c = open(&name, 1, &[]).await;
    assert_eq!((c.author_slot(), c.peer()), (Some(0), first));
    drop((a, b, c));
    let d = open(&name, 1, &[]).await;
    assert_eq!((d.author_slot(), d.peer()), (Some(0), first));
    let e = open(&name, 1, &[]).await;
    assert_eq!((e.author_slot(), e.peer()), (Some(1), second));
    drop((d, e));
    drop_db(&name).await;
}

#[wasm_bindgen_test]
async fn an_explicit_identity_stores_no_identity() {
    let name = fresh("explicit");
    let mut cfg = config(&name, 1, &[]);
    let me = auroradb::log::Identity::from_secret(&[9; 32]);
    cfg.identity = Some(me.clone());
    let storage = IdbStorage::open(&name, 1, &[]).await.unwrap();
    let mut db = Database::open(storage, cfg).await.unwrap();
    db.put("k", Value::Int(1)).await.unwrap();
    assert_eq!((db.peer(), db.author_slot()), (me.peer(), None));
    let stored = db.storage().scan(Store::Meta, KeyRange::prefix(b"identity/"), ScanOptions::default()).await;
    assert!(stored.unwrap().is_empty());
    assert!(!held_locks().await.iter().any(|l| l.ends_with(&format!(":{name}")) && l.starts_with("auroradb-author")));
    drop(db);
    drop_db(&name).await;
}
