//! Each strategy's winner rule, including late ops (older than what the state has seen),
//! tombstones, transactions and custom resolvers.

mod common;

use std::sync::Arc;

use auroradb_log::{Op, Value};
use auroradb_snapshot::{Candidate, Pick, Resolver, State, StateConfig, Strategy};
use common::*;

fn state(strategy: Strategy) -> State {
    State::new(StateConfig::new(strategy, peer(1)))
}

fn run(strategy: Strategy, ops: &[Op]) -> State {
    let mut s = state(strategy);
    for op in ops {
        s.apply(op);
    }
    s
}

fn shown(s: &State, key: &str) -> Option<Value> {
    s.get(key).map(|e| e.value.clone())
}

/// Applies every order of `ops` and checks that `key` always shows `expected` and that the
/// records are identical.
fn all_orders(strategy: Strategy, ops: &[Op], key: &str, expected: Option<Value>) {
    let reference = run(strategy.clone(), ops);
    assert_eq!(shown(&reference, key), expected, "in the given order");
    for order in permutations(ops) {
        let s = run(strategy.clone(), &order);
        assert_eq!(shown(&s, key), expected, "order {:?}", order.iter().map(|o| o.id.time).collect::<Vec<_>>());
        assert!(s.records().eq(reference.records()), "records differ between orders");
    }
}

// ---------------------------------------------------------------- timestamp

#[test]
fn timestamp_highest_hlc_wins_in_any_order() {
    let ops = [put(10, 1, "k", Value::Int(1)), put(30, 2, "k", Value::Int(3)), put(20, 3, "k", Value::Int(2))];
    all_orders(Strategy::Timestamp, &ops, "k", Some(Value::Int(3)));
    let s = run(Strategy::Timestamp, &ops);
    let e = s.get("k").unwrap();
    assert_eq!((e.id, e.author, e.version), (ops[1].id, peer(2), 3));
}

#[test]
fn timestamp_late_put_older_than_remove_stays_deleted() {
    let mut s = state(Strategy::Timestamp);
    s.apply(&remove(20, 2, "k"));
    let applied = s.apply(&put(10, 1, "k", Value::Int(1)));
    assert!(applied.changes.is_empty());
    assert_eq!(applied.touched, ["k"]);
    assert!(s.get("k").is_none());
    assert_eq!(s.len(), 0);
    // A put newer than the remove shows.
    let applied = s.apply(&put(30, 1, "k", Value::Int(3)));
    assert_eq!(applied.changes.len(), 1);
    assert_eq!(shown(&s, "k"), Some(Value::Int(3)));
    assert_eq!(s.get("k").unwrap().version, 3);
}

#[test]
fn timestamp_remove_older_than_the_put_does_nothing() {
    let ops = [put(20, 1, "k", Value::Int(1)), remove(10, 2, "k")];
    all_orders(Strategy::Timestamp, &ops, "k", Some(Value::Int(1)));
}

#[test]
fn timestamp_late_put_older_than_clear_stays_cleared() {
    let ops =
        [put(10, 1, "a", Value::Int(1)), put(30, 1, "b", Value::Int(2)), clear(20, 2), put(15, 3, "c", Value::Int(3))];
    for order in permutations(&ops) {
        let s = run(Strategy::Timestamp, &order);
        assert_eq!(s.all(), vec![("b".to_owned(), Value::Int(2))]);
    }
}

#[test]
fn clear_reports_every_visible_key() {
    let mut s = state(Strategy::Timestamp);
    s.apply(&put(10, 1, "a", Value::Int(1)));
    s.apply(&put(11, 1, "b", Value::Int(2)));
    s.apply(&put(40, 1, "c", Value::Int(3)));
    let applied = s.apply(&clear(20, 2));
    let cleared: Vec<_> = applied.changes.iter().map(|c| (c.key.as_str(), c.after.clone())).collect();
    assert_eq!(cleared, [("a", None), ("b", None)]);
    assert_eq!(applied.touched, ["a", "b"]);
    assert_eq!(s.meta().clear(), Some(common::op(20, 2, auroradb_log::OpKind::Clear).id));
    // An older clear is dominated: nothing changes.
    let applied = s.apply(&clear(15, 3));
    assert!(applied.changes.is_empty() && applied.touched.is_empty());
    assert_eq!(s.len(), 1);
}

#[test]
fn duplicates_are_no_ops() {
    let mut s = state(Strategy::Timestamp);
    let p = put(10, 1, "k", Value::Int(1));
    assert!(s.apply(&p).meta_changed);
    let again = s.apply(&p);
    assert_eq!(again, Default::default());
    assert_eq!(s.applied_count(), 1);
    assert_eq!(s.get("k").unwrap().version, 1);
    // A late, losing op still counts as a write of the key, once.
    let late = put(5, 2, "k", Value::Int(0));
    s.apply(&late);
    s.apply(&late);
    assert_eq!(s.get("k").unwrap().version, 2);
    assert_eq!(s.applied_count(), 2);
    assert_eq!(s.high_water(), Some(p.id));
}

#[test]
fn txn_applies_all_steps_under_one_id() {
    let mut s = state(Strategy::Timestamp);
    s.apply(&remove(20, 2, "b"));
    let t = txn(
        10,
        1,
        vec![
            step_put("a", Value::Int(1)),
            step_put("b", Value::Int(2)),
            step_put("c", Value::Int(3)),
            step_remove("c"),
            step_put("a", Value::Int(4)),
        ],
    );
    let applied = s.apply(&t);
    // b is hidden by the newer remove, c was put then removed, a got its last step.
    assert_eq!(s.all(), vec![("a".to_owned(), Value::Int(4))]);
    assert_eq!(s.get("a").unwrap().id, t.id);
    assert_eq!(s.get("a").unwrap().version, 1);
    assert_eq!(applied.touched, ["a", "b", "c"]);
    assert_eq!(applied.changes.len(), 1);
}

// ---------------------------------------------------------------- version

fn v(version: i64, tag: i64) -> Value {
    fields(&[("version", version), ("tag", tag)])
}

#[test]
fn version_highest_version_wins_then_hlc() {
    let ops = [put(10, 1, "k", v(5, 1)), put(20, 2, "k", v(3, 2)), put(30, 3, "k", v(4, 3))];
    all_orders(Strategy::Version, &ops, "k", Some(v(5, 1)));
    let ties = [put(10, 1, "k", v(2, 1)), put(20, 2, "k", v(2, 2))];
    all_orders(Strategy::Version, &ties, "k", Some(v(2, 2)));
}

#[test]
fn version_missing_or_non_numeric_is_zero() {
    let ops = [
        put(30, 1, "k", Value::Int(7)),
        put(20, 2, "k", fields(&[("version", 1)])),
        put(40, 3, "k", Value::map([("version", Value::from("9"))])),
    ];
    all_orders(Strategy::Version, &ops, "k", Some(fields(&[("version", 1)])));
    // Ints and floats compare numerically.
    let mixed =
        [put(10, 1, "k", Value::map([("version", Value::Float(2.5))])), put(20, 2, "k", fields(&[("version", 2)]))];
    all_orders(Strategy::Version, &mixed, "k", Some(Value::map([("version", Value::Float(2.5))])));
}

#[test]
fn version_remove_hides_older_puts_even_with_higher_versions() {
    let ops = [put(10, 1, "k", v(9, 1)), remove(20, 2, "k"), put(30, 3, "k", v(1, 3)), put(15, 1, "k", v(20, 4))];
    all_orders(Strategy::Version, &ops, "k", Some(v(1, 3)));
    let gone = [put(10, 1, "k", v(9, 1)), remove(20, 2, "k")];
    all_orders(Strategy::Version, &gone, "k", None);
}

#[test]
fn version_keeps_undominated_runners_up_for_later_tombstones() {
    // v5 @10 wins over v3 @30 ... until a clear @20 hides v5; v3 must still be known.
    let ops = [put(10, 1, "k", v(5, 1)), put(30, 2, "k", v(3, 2)), put(25, 3, "k", v(2, 3)), clear(20, 3)];
    all_orders(Strategy::Version, &ops, "k", Some(v(3, 2)));
    let without_clear = &ops[..3];
    all_orders(Strategy::Version, without_clear, "k", Some(v(5, 1)));
    // Same with a remove in the middle.
    let ops = [put(10, 1, "k", v(5, 1)), put(30, 2, "k", v(3, 2)), remove(20, 3, "k")];
    all_orders(Strategy::Version, &ops, "k", Some(v(3, 2)));
}

#[test]
fn version_txn_remove_then_put_survives_its_own_tombstone() {
    let ops = [put(10, 1, "k", v(9, 1)), txn(20, 2, vec![step_remove("k"), step_put("k", v(1, 2))])];
    all_orders(Strategy::Version, &ops, "k", Some(v(1, 2)));
    // Within a transaction the higher version wins; the later step wins a tie.
    let t = [txn(20, 2, vec![step_put("k", v(3, 1)), step_put("k", v(2, 2)), step_put("k", v(3, 3))])];
    all_orders(Strategy::Version, &t, "k", Some(v(3, 3)));
}

// ---------------------------------------------------------------- merge

#[test]
fn merge_combines_fields_from_concurrent_writers() {
    let ops = [
        put(10, 1, "k", fields(&[("a", 1), ("b", 1)])),
        put(20, 2, "k", fields(&[("b", 2)])),
        put(15, 3, "k", fields(&[("c", 3), ("b", 3)])),
    ];
    all_orders(Strategy::Merge, &ops, "k", Some(fields(&[("a", 1), ("b", 2), ("c", 3)])));
    let s = run(Strategy::Merge, &ops);
    assert_eq!(s.get("k").unwrap().id, ops[1].id);
}

#[test]
fn merge_remove_clears_only_older_fields() {
    let ops = [
        put(10, 1, "k", fields(&[("a", 1), ("b", 1)])),
        remove(20, 2, "k"),
        put(30, 3, "k", fields(&[("b", 3)])),
        put(15, 1, "k", fields(&[("c", 9)])),
    ];
    all_orders(Strategy::Merge, &ops, "k", Some(fields(&[("b", 3)])));
    all_orders(Strategy::Merge, &ops[..2], "k", None);
}

#[test]
fn merge_non_map_values_replace_as_a_whole() {
    let ops =
        [put(10, 1, "k", fields(&[("a", 1)])), put(20, 2, "k", Value::Int(5)), put(15, 3, "k", fields(&[("b", 2)]))];
    all_orders(Strategy::Merge, &ops, "k", Some(Value::Int(5)));
    let mut after = ops.to_vec();
    after.push(put(30, 1, "k", fields(&[("c", 3)])));
    all_orders(Strategy::Merge, &after, "k", Some(fields(&[("c", 3)])));
}

#[test]
fn merge_txn_steps_merge_or_reset() {
    let base = put(10, 1, "k", fields(&[("a", 1)]));
    let merged = txn(20, 2, vec![step_put("k", fields(&[("b", 2)])), step_put("k", fields(&[("c", 3), ("b", 4)]))]);
    all_orders(Strategy::Merge, &[base.clone(), merged], "k", Some(fields(&[("a", 1), ("b", 4), ("c", 3)])));
    let reset = txn(20, 2, vec![step_remove("k"), step_put("k", fields(&[("b", 2)]))]);
    all_orders(Strategy::Merge, &[base.clone(), reset], "k", Some(fields(&[("b", 2)])));
    let whole_then_map = txn(20, 2, vec![step_put("k", Value::Int(1)), step_put("k", fields(&[("d", 4)]))]);
    all_orders(Strategy::Merge, &[base, whole_then_map], "k", Some(fields(&[("d", 4)])));
}

#[test]
fn merge_clear_in_the_middle() {
    let ops = [put(10, 1, "k", fields(&[("a", 1)])), put(30, 2, "k", fields(&[("b", 2)])), clear(20, 3)];
    all_orders(Strategy::Merge, &ops, "k", Some(fields(&[("b", 2)])));
}

// ---------------------------------------------------------------- local-wins / remote-wins

#[test]
fn local_wins_prefers_the_local_peers_latest_write() {
    // Peer 1 is local.
    let local_then_remote = [put(10, 1, "k", Value::Int(1)), put(20, 2, "k", Value::Int(2))];
    all_orders(Strategy::LocalWins, &local_then_remote, "k", Some(Value::Int(1)));
    all_orders(Strategy::LocalWins, &local_then_remote[1..], "k", Some(Value::Int(2)));
    let local_remove = [remove(10, 1, "k"), put(20, 2, "k", Value::Int(2))];
    all_orders(Strategy::LocalWins, &local_remove, "k", None);
    // A clear newer than the local write but older than the remote one: the remote one shows.
    let mut s = run(Strategy::LocalWins, &local_then_remote);
    s.apply(&clear(15, 3));
    assert_eq!(shown(&s, "k"), Some(Value::Int(2)));
}

#[test]
fn remote_wins_prefers_the_latest_remote_write() {
    let ops = [put(20, 1, "k", Value::Int(1)), put(10, 2, "k", Value::Int(2)), put(5, 3, "k", Value::Int(3))];
    all_orders(Strategy::RemoteWins, &ops, "k", Some(Value::Int(2)));
    all_orders(Strategy::RemoteWins, &ops[..1], "k", Some(Value::Int(1)));
    let mut s = run(Strategy::RemoteWins, &ops);
    s.apply(&clear(15, 3));
    assert_eq!(shown(&s, "k"), Some(Value::Int(1)));
}

#[test]
fn every_author_of_the_storage_is_local() {
    // Peers 1 and 4 write on this storage (two connections); peer 2 is a remote peer.
    let ops = [put(10, 1, "k", Value::Int(1)), put(20, 4, "k", Value::Int(4)), put(30, 2, "k", Value::Int(2))];
    let both = |strategy: Strategy, me| {
        let mut s = State::new(StateConfig::new(strategy, peer(me)).with_local([peer(if me == 1 { 4 } else { 1 })]));
        for op in &ops {
            s.apply(op);
        }
        s
    };
    for me in [1, 4] {
        // Whichever of the two connections computes it, the state is the same: the latest of
        // the storage's writes under local-wins, the remote one under remote-wins.
        assert_eq!(shown(&both(Strategy::LocalWins, me), "k"), Some(Value::Int(4)), "connection of peer {me}");
        assert_eq!(shown(&both(Strategy::RemoteWins, me), "k"), Some(Value::Int(2)), "connection of peer {me}");
    }
    assert!(both(Strategy::LocalWins, 1).records().eq(both(Strategy::LocalWins, 4).records()));
    // Learned later, the other author counts from then on.
    let mut s = state(Strategy::LocalWins);
    s.set_also_local(vec![peer(4)]);
    for op in &ops {
        s.apply(op);
    }
    assert_eq!(shown(&s, "k"), Some(Value::Int(4)));
}

// ---------------------------------------------------------------- custom

/// Highest `score` field wins, then the higher id; removes never win.
struct HighScore;

impl Resolver for HighScore {
    fn pick(&self, _key: &str, current: &Candidate<'_>, incoming: &Candidate<'_>) -> Pick {
        let score = |c: &Candidate<'_>| c.value.and_then(|v| v.field("score")).and_then(Value::as_f64);
        match (score(current), score(incoming)) {
            (_, None) => Pick::Current,
            (None, Some(_)) => Pick::Incoming,
            (Some(a), Some(b)) if b > a || (b == a && incoming.id > current.id) => Pick::Incoming,
            _ => Pick::Current,
        }
    }
}

#[test]
fn custom_resolver_decides_and_converges_when_commutative() {
    let strategy = Strategy::Custom(Arc::new(HighScore));
    assert_eq!(strategy.name(), "custom");
    assert!(!strategy.converges());
    let ops = [
        put(10, 1, "k", fields(&[("score", 5)])),
        put(20, 2, "k", fields(&[("score", 2)])),
        remove(30, 3, "k"),
        put(5, 3, "k", fields(&[("score", 7)])),
    ];
    all_orders(strategy.clone(), &ops, "k", Some(fields(&[("score", 7)])));
    // A clear hides everything older than it, whatever the resolver says. Only the winner is
    // kept, so a newer write that had lost to it does not come back; the next write wins.
    let mut s = run(strategy, &ops);
    s.apply(&clear(15, 2));
    assert_eq!(shown(&s, "k"), None);
    s.apply(&put(12, 2, "k", fields(&[("score", 9)])));
    assert_eq!(shown(&s, "k"), None);
    s.apply(&put(40, 2, "k", fields(&[("score", 1)])));
    assert_eq!(shown(&s, "k"), Some(fields(&[("score", 1)])));
}

/// Records which candidates it saw.
struct Spy(std::sync::Mutex<Vec<(bool, bool)>>);

impl Resolver for Spy {
    fn pick(&self, key: &str, current: &Candidate<'_>, incoming: &Candidate<'_>) -> Pick {
        assert_eq!(key, "k");
        assert_eq!(incoming.author, incoming.id.peer);
        self.0.lock().unwrap().push((current.local, incoming.value.is_some()));
        Pick::Current
    }
}

#[test]
fn custom_resolver_sees_local_flag_and_removes() {
    let spy = Arc::new(Spy(Default::default()));
    let s = run(Strategy::Custom(spy.clone()), &[put(10, 1, "k", Value::Int(1)), remove(20, 2, "k")]);
    assert_eq!(shown(&s, "k"), Some(Value::Int(1)));
    assert_eq!(*spy.0.lock().unwrap(), [(true, false)]);
}
