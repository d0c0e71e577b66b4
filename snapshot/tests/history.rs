//! `history(key)` outcomes under each strategy, and `diff` of two states.

mod common;

use auroradb_log::{Op, Value};
use auroradb_snapshot::{Diff, Outcome, State, StateConfig, Strategy, diff, history};
use common::*;

use Outcome::{Current, Lost, Superseded};

/// The test time an id was made from (`OpId::millis` can round down).
fn ms_of(id: auroradb_log::OpId) -> u64 {
    (0..1000).find(|ms| auroradb_log::OpId::from_millis(*ms, id.peer) == id).expect("a test id")
}

fn outcomes(strategy: Strategy, key: &str, ops: &[Op]) -> Vec<(u64, &'static str, Outcome)> {
    history(&StateConfig::new(strategy, peer(1)), key, ops.iter().cloned())
        .into_iter()
        .map(|i| (ms_of(i.id), i.kind, i.outcome))
        .collect()
}

#[test]
fn timestamp_history_in_id_order() {
    let ops = [
        put(30, 2, "k", Value::Int(3)),
        put(10, 1, "k", Value::Int(1)),
        put(20, 1, "other", Value::Int(0)),
        remove(40, 1, "k"),
        put(10, 1, "k", Value::Int(1)), // duplicate
        put(50, 3, "k", Value::Int(5)),
    ];
    assert_eq!(
        outcomes(Strategy::Timestamp, "k", &ops),
        [(10, "put", Superseded), (30, "put", Superseded), (40, "remove", Superseded), (50, "put", Current)]
    );
    let items = history(&StateConfig::new(Strategy::Timestamp, peer(1)), "k", ops.iter().cloned());
    assert_eq!(items[1].author, peer(2));
    assert_eq!(items[1].value, Some(Value::Int(3)));
    assert_eq!(items[2].value, None);
    // The remove is current when it is the last word.
    assert_eq!(outcomes(Strategy::Timestamp, "k", &ops[..4]).last(), Some(&(40, "remove", Current)));
}

#[test]
fn clears_and_transactions_in_history() {
    let ops = [
        put(10, 1, "k", Value::Int(1)),
        clear(20, 2),
        txn(30, 1, vec![step_put("a", Value::Int(0)), step_put("k", Value::Int(3))]),
        clear(40, 3),
    ];
    assert_eq!(
        outcomes(Strategy::Timestamp, "k", &ops),
        [(10, "put", Superseded), (20, "clear", Superseded), (30, "txn", Superseded), (40, "clear", Current)]
    );
    let items = history(&StateConfig::new(Strategy::Timestamp, peer(1)), "k", ops[..3].iter().cloned());
    assert_eq!(items[2].value, Some(Value::Int(3)));
    assert_eq!(items[2].outcome, Current);
    // A clear followed by a remove: the remove is what hides the key now.
    let ops = [put(10, 1, "k", Value::Int(1)), clear(20, 2), remove(30, 1, "k")];
    assert_eq!(
        outcomes(Strategy::Timestamp, "k", &ops),
        [(10, "put", Superseded), (20, "clear", Superseded), (30, "remove", Current)]
    );
}

#[test]
fn clears_before_a_keys_first_op_are_not_in_its_history() {
    // Ops in any order: what counts is id order. The clears at 5 and 7 came before the key's
    // first op and removed nothing of it; the one at 20 removed its put.
    let ops =
        [clear(20, 2), put(10, 1, "k", Value::Int(1)), clear(5, 3), put(8, 1, "other", Value::Int(0)), clear(7, 2)];
    for strategy in [Strategy::Timestamp, Strategy::Version] {
        assert_eq!(outcomes(strategy.clone(), "k", &ops), [(10, "put", Superseded), (20, "clear", Current)]);
        // A key never written has no history, however many clears the log holds.
        assert_eq!(outcomes(strategy, "never", &ops), []);
    }
}

#[test]
fn losing_ops_show_as_lost() {
    let v = |n| fields(&[("version", n)]);
    let ops = [
        put(10, 1, "k", v(5)),
        put(20, 2, "k", v(3)),
        put(30, 3, "k", v(7)),
        remove(40, 2, "k"),
        put(50, 1, "k", v(1)),
    ];
    assert_eq!(
        outcomes(Strategy::Version, "k", &ops),
        [
            (10, "put", Superseded),
            (20, "put", Lost),
            (30, "put", Superseded),
            (40, "remove", Superseded),
            (50, "put", Current)
        ]
    );
    // local-wins with peer 1 local: remote writes after a local one lose.
    let ops = [
        put(10, 2, "k", Value::Int(0)),
        put(20, 1, "k", Value::Int(1)),
        put(30, 2, "k", Value::Int(2)),
        remove(40, 3, "k"),
    ];
    assert_eq!(
        outcomes(Strategy::LocalWins, "k", &ops),
        [(10, "put", Superseded), (20, "put", Current), (30, "put", Lost), (40, "remove", Lost)]
    );
}

#[test]
fn merge_history_keeps_every_contributing_write_current() {
    let ops = [
        put(10, 1, "k", fields(&[("a", 1), ("b", 1)])),
        put(20, 2, "k", fields(&[("b", 2)])),
        put(30, 3, "k", fields(&[("c", 3)])),
        put(40, 1, "k", fields(&[("b", 4), ("c", 4)])),
    ];
    assert_eq!(
        outcomes(Strategy::Merge, "k", &ops),
        [(10, "put", Current), (20, "put", Superseded), (30, "put", Superseded), (40, "put", Current)]
    );
}

#[test]
fn history_of_an_unknown_key_is_empty() {
    assert!(outcomes(Strategy::Timestamp, "k", &[put(1, 1, "x", Value::Null)]).is_empty());
}

fn state_of(ops: &[Op]) -> State {
    let mut s = State::new(StateConfig::new(Strategy::Timestamp, peer(1)));
    for op in ops {
        s.apply(op);
    }
    s
}

#[test]
fn diff_lists_added_changed_and_removed_keys() {
    let early = [put(10, 1, "a", Value::Int(1)), put(11, 1, "b", Value::Int(2)), put(12, 1, "c", Value::Int(3))];
    let mut late = early.to_vec();
    late.extend([
        remove(20, 1, "a"),
        put(21, 1, "b", Value::Int(20)),
        put(22, 1, "c", Value::Int(3)),
        put(23, 1, "d", Value::Int(4)),
    ]);
    let (before, after) = (state_of(&early), state_of(&late));
    assert_eq!(
        diff(&before, &after),
        Diff {
            added: vec![("d".into(), Value::Int(4))],
            changed: vec![("b".into(), Value::Int(2), Value::Int(20))],
            removed: vec![("a".into(), Value::Int(1))],
        }
    );
    assert!(diff(&after, &after).is_empty());
    let back = diff(&after, &before);
    assert_eq!((back.added.len(), back.changed.len(), back.removed.len()), (1, 1, 1));
}

#[test]
fn a_diff_sees_a_value_by_its_encoding() {
    // A NaN read from a peer or a file is the same value in both states: not a change. A zero
    // that became a negative zero is stored differently: a change.
    let nan = Value::Float(f64::NAN);
    let early = [put(10, 1, "n", nan.clone()), put(11, 1, "z", Value::Float(0.0))];
    let mut late = early.to_vec();
    late.extend([put(20, 1, "other", Value::Int(1)), put(21, 1, "z", Value::Float(-0.0))]);
    let d = diff(&state_of(&early), &state_of(&late));
    assert_eq!(d.added, vec![("other".into(), Value::Int(1))]);
    assert_eq!(d.changed, vec![("z".into(), Value::Float(0.0), Value::Float(-0.0))]);
    assert!(d.removed.is_empty());
}
