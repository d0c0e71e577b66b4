//! Queries, secondary indexes, and the unique check on local writes.

mod common;

use core::ops::Bound::{Excluded, Included, Unbounded};

use auroradb_log::Value;
use auroradb_snapshot::{SnapshotError, State, StateConfig, Strategy};
use common::*;

fn user(email: &str, age: i64) -> Value {
    Value::map([("email", Value::from(email)), ("age", Value::Int(age))])
}

fn users() -> State {
    let config = StateConfig::new(Strategy::Timestamp, peer(1)).with_index("email", true).with_index("age", false);
    let mut s = State::new(config);
    s.apply(&put(10, 1, "u1", user("a@x", 30)));
    s.apply(&put(11, 1, "u2", user("b@x", 20)));
    s.apply(&put(12, 1, "u3", user("c@x", 30)));
    s.apply(&put(13, 1, "u4", Value::from("not a map")));
    s.apply(&put(14, 1, "u5", Value::map([("age", Value::Float(25.0))])));
    s
}

fn keys(rows: &[(String, Value)]) -> Vec<&str> {
    rows.iter().map(|(k, _)| k.as_str()).collect()
}

#[test]
fn basic_queries() {
    let s = users();
    assert_eq!(s.len(), 5);
    assert!(!s.is_empty());
    assert_eq!(s.get("u2").unwrap().value, user("b@x", 20));
    assert!(s.get("nope").is_none());
    assert_eq!(keys(&s.all()), ["u1", "u2", "u3", "u4", "u5"]);
    let thirty = s.filter(|_, v| v.field("age") == Some(&Value::Int(30)));
    assert_eq!(keys(&thirty), ["u1", "u3"]);
    assert_eq!(keys(&s.slice(1, 3)), ["u2", "u3"]);
    assert_eq!(keys(&s.slice(3, 100)), ["u4", "u5"]);
    assert!(s.slice(4, 2).is_empty());
    assert!(s.slice(9, 12).is_empty());
    assert!(s.every(|k, _| k.starts_with('u')));
    assert!(!s.every(|_, v| v.field("email").is_some()));
    assert!(State::new(StateConfig::new(Strategy::Timestamp, peer(1))).every(|_, _| false));
}

#[test]
fn removed_keys_leave_queries() {
    let mut s = users();
    s.apply(&remove(20, 2, "u2"));
    assert_eq!(s.len(), 4);
    assert_eq!(keys(&s.slice(0, 2)), ["u1", "u3"]);
    assert!(s.find_by("email", &Value::from("b@x")).unwrap().is_empty());
    assert!(s.record("u2").unwrap().visible().is_none());
    assert_eq!(s.record("u2").unwrap().writes(), 2);
}

#[test]
fn find_by_and_ranges() {
    let s = users();
    assert_eq!(keys(&s.find_by("age", &Value::Int(30)).unwrap()), ["u1", "u3"]);
    // Ints and floats are one index key.
    assert_eq!(keys(&s.find_by("age", &Value::Int(25)).unwrap()), ["u5"]);
    assert_eq!(keys(&s.find_by("email", &Value::from("c@x")).unwrap()), ["u3"]);
    let age = |lo, hi| keys(&s.index_range("age", lo, hi).unwrap()).join(",");
    assert_eq!(age(Unbounded, Unbounded), "u2,u5,u1,u3");
    assert_eq!(age(Included(&Value::Int(25)), Unbounded), "u5,u1,u3");
    assert_eq!(age(Excluded(&Value::Float(25.0)), Included(&Value::Int(30))), "u1,u3");
    assert_eq!(age(Unbounded, Excluded(&Value::Int(30))), "u2,u5");
    // Empty and inverted ranges give nothing (and do not panic).
    assert_eq!(age(Excluded(&Value::Int(30)), Excluded(&Value::Int(30))), "");
    assert_eq!(age(Included(&Value::Int(30)), Excluded(&Value::Int(30))), "");
    assert_eq!(age(Included(&Value::Int(40)), Included(&Value::Int(10))), "");
    assert_eq!(age(Included(&Value::Int(30)), Included(&Value::Int(30))), "u1,u3");
    assert_eq!(s.find_by("nope", &Value::Null), Err(SnapshotError::UnknownIndex("nope".into())));
    assert!(matches!(s.index_range("nope", Unbounded, Unbounded), Err(SnapshotError::UnknownIndex(_))));
}

#[test]
fn a_range_holds_values_of_its_bounds_kind() {
    let mut s = State::new(StateConfig::new(Strategy::Timestamp, peer(1)).with_index("f", false));
    let fields = [
        ("null", Value::Null),
        ("false", Value::Bool(false)),
        ("neg", Value::Int(-5)),
        ("half", Value::Float(0.5)),
        ("a", Value::from("a")),
        ("z", Value::from("z")),
        ("bytes", Value::Bytes(vec![1])),
        ("list", Value::List(vec![Value::Int(1)])),
    ];
    for (i, (key, f)) in fields.iter().enumerate() {
        s.apply(&put(10 + i as u64, 1, key, Value::map([("f", f.clone())])));
    }
    let range = |lo, hi| keys(&s.index_range("f", lo, hi).unwrap()).join(",");
    let (a, z) = (Value::from("a"), Value::from("z"));
    // Below a number: numbers only, not the null and boolean that sort below every number.
    assert_eq!(range(Unbounded, Excluded(&Value::Int(0))), "neg");
    assert_eq!(range(Included(&Value::Int(-10)), Unbounded), "neg,half");
    // Above a string: strings only, not the bytes and lists that sort above every string.
    assert_eq!(range(Included(&a), Unbounded), "a,z");
    assert_eq!(range(Excluded(&z), Unbounded), "");
    // Bounds of two kinds hold nothing; no bound, everything in index order.
    assert_eq!(range(Included(&Value::Int(0)), Included(&z)), "");
    assert_eq!(range(Unbounded, Unbounded), "null,false,neg,half,a,z,bytes,list");
}

#[test]
fn indexes_follow_updates() {
    let mut s = users();
    s.apply(&put(20, 2, "u1", user("z@x", 20)));
    assert!(s.find_by("email", &Value::from("a@x")).unwrap().is_empty());
    assert_eq!(keys(&s.find_by("age", &Value::Int(20)).unwrap()), ["u1", "u2"]);
    // A late write that loses changes no index.
    s.apply(&put(5, 3, "u1", user("q@x", 99)));
    assert!(s.find_by("email", &Value::from("q@x")).unwrap().is_empty());
    s.apply(&clear(30, 2));
    assert!(s.index_range("age", Unbounded, Unbounded).unwrap().is_empty());
}

#[test]
fn check_rejects_a_local_write_that_breaks_a_unique_index() {
    let s = users();
    let before = s.all();
    let dup = put(20, 1, "u9", user("a@x", 1));
    assert_eq!(
        s.check(&dup),
        Err(SnapshotError::UniqueViolation {
            index: "email".into(),
            value: "\"a@x\"".into(),
            key: "u9".into(),
            existing_key: "u1".into()
        })
    );
    assert_eq!(s.all(), before);
    // Rewriting a key with its own email, another field changed, is fine.
    s.check(&put(20, 1, "u1", user("a@x", 31))).unwrap();
    // Non-unique indexes never fail; neither do removes and clears.
    s.check(&put(20, 1, "u9", user("new@x", 30))).unwrap();
    s.check(&remove(20, 1, "u1")).unwrap();
    s.check(&clear(20, 1)).unwrap();
    // A value that is not a map, or has no such field, is not indexed.
    s.check(&put(20, 1, "u9", Value::from("a@x"))).unwrap();
}

#[test]
fn a_unique_index_lets_any_number_of_keys_hold_null() {
    let mut s = users();
    let no_email = || Value::map([("email", Value::Null), ("age", Value::Int(1))]);
    for (t, key) in [(20, "n1"), (21, "n2")] {
        let op = put(t, 1, key, no_email());
        s.check(&op).unwrap();
        s.apply(&op);
    }
    s.check(&txn(22, 1, vec![step_put("n3", no_email()), step_put("n4", no_email())])).unwrap();
    // Found by it all the same, and listed as no conflict.
    assert_eq!(keys(&s.find_by("email", &Value::Null).unwrap()), ["n1", "n2"]);
    assert!(s.index_conflicts().is_empty());
    // A value is still unique next to them.
    assert!(s.check(&put(23, 1, "n1", user("a@x", 1))).is_err());
}

#[test]
fn check_sees_a_transaction_as_a_whole() {
    let s = users();
    // Swapping two emails in one transaction is fine.
    s.check(&txn(20, 1, vec![step_put("u1", user("b@x", 30)), step_put("u2", user("a@x", 20))])).unwrap();
    // Freeing a value and reusing it in one transaction is fine.
    s.check(&txn(20, 1, vec![step_remove("u1"), step_put("u9", user("a@x", 1))])).unwrap();
    // Two keys of one transaction taking one new value is not.
    let both = txn(20, 1, vec![step_put("u8", user("n@x", 1)), step_put("u9", user("n@x", 1))]);
    assert!(matches!(
        s.check(&both),
        Err(SnapshotError::UniqueViolation { key, existing_key, .. }) if key == "u8" && existing_key == "u9"
    ));
    // Taking a value that a key untouched by the transaction keeps is not.
    let steal = txn(20, 1, vec![step_put("u9", user("c@x", 1)), step_put("u1", user("a@x", 0))]);
    assert!(
        matches!(s.check(&steal), Err(SnapshotError::UniqueViolation { existing_key, .. }) if existing_key == "u3")
    );
}

#[test]
fn check_follows_the_strategy() {
    let config = StateConfig::new(Strategy::Version, peer(1)).with_index("email", true);
    let mut s = State::new(config);
    let rec = |email: &str, version| Value::map([("email", Value::from(email)), ("version", Value::Int(version))]);
    s.apply(&put(10, 1, "a", rec("x", 1)));
    s.apply(&put(10, 2, "b", rec("y", 5)));
    // A write of b with a lower version loses, so it cannot take "x" from a.
    s.check(&put(20, 1, "b", rec("x", 1))).unwrap();
    assert!(s.check(&put(20, 1, "b", rec("x", 6))).is_err());
    // An op older than the latest clear is hidden: it cannot break anything.
    s.apply(&clear(30, 2));
    s.apply(&put(40, 1, "a", rec("x", 1)));
    s.check(&put(25, 1, "b", rec("x", 1))).unwrap();
    assert!(s.check(&put(35, 1, "b", rec("x", 1))).is_err());
}

#[test]
fn remote_writes_are_never_rejected_and_conflicts_are_listed() {
    let mut s = users();
    // A remote peer wrote the same email concurrently.
    let applied = s.apply(&put(20, 2, "r1", user("a@x", 40)));
    assert_eq!(applied.changes.len(), 1);
    assert_eq!(keys(&s.find_by("email", &Value::from("a@x")).unwrap()), ["r1", "u1"]);
    assert_eq!(
        s.index_conflicts(),
        vec![("email".to_owned(), Value::from("a@x"), vec!["r1".to_owned(), "u1".to_owned()])]
    );
    // Non-unique indexes have no conflicts; a fix clears the conflict.
    s.apply(&put(30, 1, "u1", user("a2@x", 30)));
    assert!(s.index_conflicts().is_empty());
}

#[test]
fn config_validation() {
    let ok = StateConfig::new(Strategy::Timestamp, peer(1)).with_index("a", true).with_index("b", false);
    ok.validate().unwrap();
    let twice = ok.clone().with_index("a", false);
    assert!(matches!(twice.validate(), Err(SnapshotError::InvalidConfig(_))));
    assert!(StateConfig::new(Strategy::Timestamp, peer(1)).with_index("", false).validate().is_err());
    // State::new keeps the first of two indexes with one name.
    let mut s = State::new(twice);
    s.apply(&put(1, 1, "k", Value::map([("a", Value::Int(1))])));
    s.apply(&put(2, 1, "j", Value::map([("a", Value::Int(1))])));
    assert_eq!(s.index_conflicts().len(), 1);
}
