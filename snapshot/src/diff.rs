//! [`diff`]: the difference between the visible contents of two states.

use core::cmp::Ordering;

use auroradb_log::Value;

use crate::State;

/// The difference between two states' visible records, each list in key order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Diff {
    /// Keys visible only in `after`, with their value.
    pub added: Vec<(String, Value)>,
    /// Keys visible in both with different values: `(key, before, after)`.
    pub changed: Vec<(String, Value, Value)>,
    /// Keys visible only in `before`, with their value there.
    pub removed: Vec<(String, Value)>,
}

impl Diff {
    /// Whether the two states showed the same records.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// What changed from `before` to `after`, in one merge walk over both in key order (values are
/// compared with `==`; a rewrite with an equal value is not a change).
pub fn diff(before: &State, after: &State) -> Diff {
    let mut out = Diff::default();
    let mut a = before.iter().peekable();
    let mut b = after.iter().peekable();
    loop {
        let order = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((ka, _)), Some((kb, _))) => ka.cmp(kb),
        };
        match order {
            Ordering::Less => {
                if let Some((k, e)) = a.next() {
                    out.removed.push((k.to_owned(), e.value.clone()));
                }
            }
            Ordering::Greater => {
                if let Some((k, e)) = b.next() {
                    out.added.push((k.to_owned(), e.value.clone()));
                }
            }
            Ordering::Equal => {
                if let (Some((k, ea)), Some((_, eb))) = (a.next(), b.next())
                    && ea.value != eb.value
                {
                    out.changed.push((k.to_owned(), ea.value.clone(), eb.value.clone()));
                }
            }
        }
    }
    out
}
