//! [`Value`]: the JSON-like tree that records hold.

use core::fmt;
use std::collections::BTreeMap;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};
use serde::{Deserialize, Serialize};

/// A JSON-like value: what a record holds. Maps keep their keys sorted, so a value has exactly
/// one encoding and therefore one hash. Lists and maps nest at most [`MAX_VALUE_DEPTH`] deep.
///
/// Two values are equal when their encodings are: floats compare by their bits, so a NaN equals
/// the same NaN (a record holding one is not seen as changed by a diff or a replay) and `0.0`
/// differs from `-0.0` (the two are stored apart).
#[derive(Debug, Clone, Serialize, Default)]
pub enum Value {
    /// Nothing.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A floating point number.
    Float(f64),
    /// Text.
    String(String),
    /// Raw bytes.
    Bytes(#[serde(with = "serde_bytes")] Vec<u8>),
    /// An ordered list.
    List(Vec<Value>),
    /// A map from field names to values, in key order.
    Map(BTreeMap<String, Value>),
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl Value {
    /// The field `name` of a map, or `None` for other values and missing fields.
    pub fn field(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m.get(name),
            _ => None,
        }
    }

    /// The map inside, if this is a map.
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The text inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number inside as an `f64`, for ints and floats.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// Builds a map value from `(field, value)` pairs.
    pub fn map<K: Into<String>>(fields: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(fields.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

/// The deepest nesting of lists and maps a [`Value`] may have. Decoding rejects deeper values (so
/// hostile bytes cannot exhaust the stack), and the log refuses to write them.
pub const MAX_VALUE_DEPTH: usize = 128;

impl Value {
    /// How deeply lists and maps nest inside: 0 for a scalar, 1 for a list or map of scalars.
    /// Computed without recursion, so it is safe on any value.
    pub fn depth(&self) -> usize {
        if !matches!(self, Value::List(_) | Value::Map(_)) {
            return 0;
        }
        let mut deepest = 0;
        let mut stack = vec![(self, 0usize)];
        while let Some((v, d)) = stack.pop() {
            deepest = deepest.max(d);
            match v {
                Value::List(items) => stack.extend(items.iter().map(|i| (i, d + 1))),
                Value::Map(fields) => stack.extend(fields.values().map(|i| (i, d + 1))),
                _ => {}
            }
            if matches!(v, Value::List(_) | Value::Map(_)) {
                deepest = deepest.max(d + 1);
            }
        }
        deepest
    }

    /// Whether lists and maps nest more than `limit` deep ([`Value::depth`] `> limit`), found
    /// without allocating: the recursion stops one level below `limit`, so it is as safe as
    /// `limit` is small (the check of every written value, against [`MAX_VALUE_DEPTH`]).
    pub fn nests_deeper_than(&self, limit: usize) -> bool {
        match self {
            Value::List(items) => limit == 0 || items.iter().any(|v| v.nests_deeper_than(limit - 1)),
            Value::Map(fields) => limit == 0 || fields.values().any(|v| v.nests_deeper_than(limit - 1)),
            _ => false,
        }
    }
}

const VARIANTS: &[&str] = &["Null", "Bool", "Int", "Float", "String", "Bytes", "List", "Map"];

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        ValueSeed { levels_left: MAX_VALUE_DEPTH }.deserialize(deserializer)
    }
}

/// Deserializes a value that may hold at most `levels_left` more levels of lists and maps. The
/// encoding is exactly the one `#[derive(Deserialize)]` would read.
#[derive(Clone, Copy)]
struct ValueSeed {
    levels_left: usize,
}

impl ValueSeed {
    fn enter<E: de::Error>(self) -> Result<ValueSeed, E> {
        match self.levels_left.checked_sub(1) {
            Some(levels_left) => Ok(ValueSeed { levels_left }),
            None => Err(E::custom(format_args!("value nested deeper than {MAX_VALUE_DEPTH} levels"))),
        }
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_enum("Value", VARIANTS, self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("enum Value")
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (tag, variant) = data.variant::<Tag>()?;
        Ok(match tag {
            Tag::Null => {
                variant.unit_variant()?;
                Value::Null
            }
            Tag::Bool => Value::Bool(variant.newtype_variant()?),
            Tag::Int => Value::Int(variant.newtype_variant()?),
            Tag::Float => Value::Float(variant.newtype_variant()?),
            Tag::String => Value::String(variant.newtype_variant()?),
            Tag::Bytes => Value::Bytes(variant.newtype_variant::<serde_bytes::ByteBuf>()?.into_vec()),
            Tag::List => Value::List(variant.newtype_variant_seed(ListSeed(self.enter()?))?),
            Tag::Map => Value::Map(variant.newtype_variant_seed(MapSeed(self.enter()?))?),
        })
    }
}

/// The variant of a [`Value`], by index or by name.
enum Tag {
    Null,
    Bool,
    Int,
    Float,
    String,
    Bytes,
    List,
    Map,
}

const TAGS: [Tag; 8] = [Tag::Null, Tag::Bool, Tag::Int, Tag::Float, Tag::String, Tag::Bytes, Tag::List, Tag::Map];

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Tag, D::Error> {
        struct TagVisitor;
        impl Visitor<'_> for TagVisitor {
            type Value = Tag;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Value variant")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Tag, E> {
                let bad = || E::invalid_value(de::Unexpected::Unsigned(v), &"variant index 0 <= i < 8");
                let i = usize::try_from(v).map_err(|_| bad())?;
                TAGS.into_iter().nth(i).ok_or_else(bad)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Tag, E> {
                match VARIANTS.iter().position(|name| *name == v) {
                    Some(i) => self.visit_u64(i as u64),
                    None => Err(E::unknown_variant(v, VARIANTS)),
                }
            }

            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Tag, E> {
                match core::str::from_utf8(v) {
                    Ok(s) => self.visit_str(s),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Bytes(v), &"a Value variant name")),
                }
            }
        }
        deserializer.deserialize_identifier(TagVisitor)
    }
}

struct ListSeed(ValueSeed);

impl<'de> DeserializeSeed<'de> for ListSeed {
    type Value = Vec<Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<Value>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
        // The length comes from the input: cap the preallocation.
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(v) = seq.next_element_seed(self.0)? {
            out.push(v);
        }
        Ok(out)
    }
}

struct MapSeed(ValueSeed);

impl<'de> DeserializeSeed<'de> for MapSeed {
    type Value = BTreeMap<String, Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MapSeed {
    type Value = BTreeMap<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(k) = map.next_key::<String>()? {
            let v = map.next_value_seed(self.0)?;
            out.insert(k, v);
        }
        Ok(out)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_nested_containers() {
        assert_eq!(Value::Int(1).depth(), 0);
        assert_eq!(Value::List(vec![]).depth(), 1);
        assert_eq!(Value::map([("a", Value::List(vec![Value::Null]))]).depth(), 2);
        let lopsided = Value::List(vec![Value::Null, Value::List(vec![Value::map([("x", Value::List(vec![]))])])]);
        assert_eq!(lopsided.depth(), 4);
    }

    #[test]
    fn nests_deeper_than_agrees_with_depth() {
        let lopsided = Value::List(vec![Value::Null, Value::List(vec![Value::map([("x", Value::List(vec![]))])])]);
        for v in [Value::Int(1), Value::List(vec![]), Value::map([("a", Value::List(vec![Value::Null]))]), lopsided] {
            for limit in 0..6 {
                assert_eq!(v.nests_deeper_than(limit), v.depth() > limit, "{v:?} against {limit}");
            }
        }
        // Far deeper than any limit: answered from the first levels, without deep recursion.
        let mut deep = Value::Null;
        for _ in 0..1_000_000 {
            deep = Value::List(vec![deep]);
        }
        assert!(deep.nests_deeper_than(MAX_VALUE_DEPTH));
        assert!(!Value::List(vec![Value::Null; 3]).nests_deeper_than(1));
        // A deep value's drop recurses: take it apart level by level.
        while let Value::List(mut items) = deep {
            deep = items.pop().unwrap_or(Value::Null);
        }
    }

    #[test]
    fn accessors() {
        let v = Value::map([("name", Value::from("Ada")), ("age", Value::from(36i64))]);
        assert_eq!(v.field("name").and_then(Value::as_str), Some("Ada"));
        assert_eq!(v.field("age").and_then(Value::as_f64), Some(36.0));
        assert_eq!(v.field("none"), None);
        assert_eq!(Value::from(true).as_map(), None);
        assert_eq!(Value::from(0.5).as_f64(), Some(0.5));
        assert_eq!(Value::default(), Value::Null);
    }

    #[test]
    fn values_are_equal_when_their_encodings_are() {
        let nan = Value::map([("x", Value::Float(f64::NAN))]);
        assert_eq!(nan, nan.clone(), "a NaN equals itself");
        assert_eq!(postcard::to_allocvec(&nan).unwrap(), postcard::to_allocvec(&nan.clone()).unwrap());
        assert_ne!(Value::Float(0.0), Value::Float(-0.0), "stored apart");
        assert_ne!(
            postcard::to_allocvec(&Value::Float(0.0)).unwrap(),
            postcard::to_allocvec(&Value::Float(-0.0)).unwrap()
        );
        assert_ne!(Value::Int(1), Value::Float(1.0));
        assert_eq!(Value::List(vec![Value::Float(1.5)]), Value::List(vec![Value::Float(1.5)]));
        assert_ne!(Value::Bytes(vec![1]), Value::List(vec![Value::Int(1)]));
    }
}
