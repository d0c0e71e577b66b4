//! The total order on [`Value`]s that indexes use, and a short JSON-like rendering of a value for
//! error messages.

use core::cmp::Ordering;
use core::fmt::Write;

use auroradb_log::Value;

/// A total order on values, used by indexes and by the `version` strategy.
///
/// Kinds sort as `Null < Bool < numbers < String < Bytes < List < Map`. Within a kind:
/// - `false < true`;
/// - `Int` and `Float` are compared by their numeric value, exactly (so `Int(1)` equals
///   `Float(1.0)`, `0.0` equals `-0.0`, and an `i64` beyond 2^53 is not rounded); NaN is greater
///   than every other number and equal to itself;
/// - strings by their UTF-8 bytes, bytes lexicographically;
/// - lists element by element with this order, a prefix first;
/// - maps entry by entry in key order (field name, then value), a prefix first.
///
/// ```
/// use auroradb_log::Value;
/// use auroradb_snapshot::compare_values;
/// use std::cmp::Ordering;
///
/// assert_eq!(compare_values(&Value::Int(2), &Value::Float(2.0)), Ordering::Equal);
/// assert_eq!(compare_values(&Value::Int(3), &Value::from("a")), Ordering::Less);
/// assert_eq!(compare_values(&Value::Null, &Value::Bool(false)), Ordering::Less);
/// ```
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    use Value::*;
    match (a, b) {
        (Null, Null) => Ordering::Equal,
        (Bool(x), Bool(y)) => x.cmp(y),
        (Int(x), Int(y)) => x.cmp(y),
        (Float(x), Float(y)) => compare_floats(*x, *y),
        (Int(x), Float(y)) => compare_int_float(*x, *y),
        (Float(x), Int(y)) => compare_int_float(*y, *x).reverse(),
        (String(x), String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Bytes(x), Bytes(y)) => x.cmp(y),
        (List(x), List(y)) => {
            for (p, q) in x.iter().zip(y) {
                let o = compare_values(p, q);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (Map(x), Map(y)) => {
            for ((kp, vp), (kq, vq)) in x.iter().zip(y) {
                let o = kp.as_bytes().cmp(kq.as_bytes()).then_with(|| compare_values(vp, vq));
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Whether `a` and `b` are of one kind in the order of [`compare_values`] (an `Int` and a `Float`
/// are: both numbers).
pub fn same_kind(a: &Value, b: &Value) -> bool {
    rank(a) == rank(b)
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Int(_) | Value::Float(_) => 2,
        Value::String(_) => 3,
        Value::Bytes(_) => 4,
        Value::List(_) => 5,
        Value::Map(_) => 6,
    }
}

fn compare_floats(x: f64, y: f64) -> Ordering {
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
    }
}

/// Compares an integer with a float exactly.
fn compare_int_float(i: i64, f: f64) -> Ordering {
    // 2^63 as f64 is exact; every finite float at or beyond it is larger than any i64.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() || f >= TWO_63 {
        return Ordering::Less;
    }
    if f < -TWO_63 {
        return Ordering::Greater;
    }
    // Here -2^63 <= trunc(f) < 2^63, so the cast is exact.
    let whole = f.trunc();
    let t = whole as i64;
    match i.cmp(&t) {
        Ordering::Equal => {
            let frac = f - whole;
            if frac > 0.0 {
                Ordering::Less
            } else if frac < 0.0 {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        }
        o => o,
    }
}

/// A value ordered by [`compare_values`]: the key type of an index. Two keys are equal when
/// `compare_values` says so (`Int(1)` and `Float(1.0)` are one key).
#[derive(Debug, Clone)]
pub(crate) struct IndexKey(pub(crate) Value);

impl PartialEq for IndexKey {
    fn eq(&self, other: &Self) -> bool {
        compare_values(&self.0, &other.0) == Ordering::Equal
    }
}
impl Eq for IndexKey {}
impl PartialOrd for IndexKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for IndexKey {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_values(&self.0, &other.0)
    }
}

/// Renders a value JSON-like (bytes as `b"hex"`), for messages. Long values are cut at about 200
/// characters.
pub fn render_value(v: &Value) -> String {
    let mut out = String::new();
    render(v, &mut out);
    if out.len() > 200 {
        let mut cut = 200;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

fn render(v: &Value, out: &mut String) {
    if out.len() > 220 {
        return;
    }
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => crate::shortest::write_float(*f, out),
        Value::String(s) => {
            let _ = write!(out, "{s:?}");
        }
        Value::Bytes(b) => {
            out.push_str("b\"");
            for byte in b {
                let _ = write!(out, "{byte:02x}");
            }
            out.push('"');
        }
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render(item, out);
            }
            out.push(']');
        }
        Value::Map(fields) => {
            out.push('{');
            for (i, (k, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{k:?}: ");
                render(item, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_exactly_across_kinds() {
        assert_eq!(compare_values(&Value::Int(1), &Value::Float(1.5)), Ordering::Less);
        assert_eq!(compare_values(&Value::Int(-1), &Value::Float(-1.5)), Ordering::Greater);
        assert_eq!(compare_values(&Value::Float(-0.0), &Value::Int(0)), Ordering::Equal);
        assert_eq!(compare_values(&Value::Int(i64::MAX), &Value::Float(9.3e18)), Ordering::Less);
        assert_eq!(compare_values(&Value::Int(i64::MIN), &Value::Float(-9.3e18)), Ordering::Greater);
        // 2^53 + 1 is not a float; it is greater than 2^53 as a float.
        assert_eq!(
            compare_values(&Value::Int((1 << 53) + 1), &Value::Float(9_007_199_254_740_992.0)),
            Ordering::Greater
        );
        assert_eq!(compare_values(&Value::Float(f64::NAN), &Value::Float(f64::INFINITY)), Ordering::Greater);
        assert_eq!(compare_values(&Value::Float(f64::NAN), &Value::Int(i64::MAX)), Ordering::Greater);
        assert_eq!(compare_values(&Value::Float(f64::NAN), &Value::Float(f64::NAN)), Ordering::Equal);
        assert_eq!(compare_values(&Value::Float(f64::NEG_INFINITY), &Value::Int(i64::MIN)), Ordering::Less);
    }

    #[test]
    fn kinds_sort_in_the_documented_order() {
        let ladder = [
            Value::Null,
            Value::Bool(false),
            Value::Bool(true),
            Value::Int(-5),
            Value::Float(2.5),
            Value::from("a"),
            Value::from("b"),
            Value::Bytes(vec![0]),
            Value::List(vec![]),
            Value::List(vec![Value::Int(1)]),
            Value::map([("a", Value::Int(1))]),
            Value::map([("a", Value::Int(1)), ("b", Value::Null)]),
            Value::map([("b", Value::Null)]),
        ];
        for (i, a) in ladder.iter().enumerate() {
            for (j, b) in ladder.iter().enumerate() {
                assert_eq!(compare_values(a, b), i.cmp(&j), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn render_is_json_like_and_bounded() {
        let v = Value::map([("a", Value::List(vec![Value::Int(1), Value::Null])), ("b", Value::Bytes(vec![0xab]))]);
        assert_eq!(render_value(&v), r#"{"a": [1, null], "b": b"ab"}"#);
        let long = Value::String("é".repeat(500));
        assert!(render_value(&long).chars().count() <= 202);
    }
}
