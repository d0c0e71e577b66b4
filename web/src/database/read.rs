//! Reads of the live database.

use std::ops::Bound;

use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;

use super::AuroraCore;
use crate::open_database::Db;
use crate::reads::{
    every_record, filter_records, function, index_name, record_keys, record_values, scan, slice_arg, slice_bounds,
    values,
};
use crate::value::{from_js, key_from_js, to_js};
use auroradb::DbError;

#[wasm_bindgen]
impl AuroraCore {
    /// The value of `key`, or `undefined`.
    pub fn get(&self, key: JsValue) -> Promise {
        self.spawn(|open| async move {
            let key = key_from_js(&key).map_err(|e| open.fail("get", &e))?;
            open.run("get", async move |db| {
                db.load_keys(&[&key]).await?;
                Ok(db.get(&key).map_or(JsValue::UNDEFINED, to_js))
            })
            .await
        })
    }

    /// Every value, in key order.
    pub fn all(&self) -> Promise {
        self.spawn(|open| async move {
            open.run("all", async move |db| {
                if let Some(records) = stored_visible(db).await? {
                    return Ok(record_values(&records).into());
                }
                db.load_state().await?;
                Ok(db.state().iter().map(|(_, e)| to_js(&e.value)).collect::<Array>().into())
            })
            .await
        })
    }

    /// Every key, in order.
    pub fn keys(&self) -> Promise {
        self.spawn(|open| async move {
            open.run("keys", async move |db| {
                if let Some(records) = stored_visible(db).await? {
                    return Ok(record_keys(&records).into());
                }
                db.load_state().await?;
                Ok(db.state().iter().map(|(k, _)| crate::value::js_string(k)).collect::<Array>().into())
            })
            .await
        })
    }

    /// Number of records.
    pub fn count(&self) -> Promise {
        self.spawn(
            |open| async move { open.run("count", async move |db| Ok(JsValue::from_f64(db.count() as f64))).await },
        )
    }

    /// The values for which `predicate(value, key)` is truthy, in key order.
    pub fn filter(&self, predicate: JsValue) -> Promise {
        self.spawn(|open| async move {
            let f = function(&predicate, "filter").map_err(|e| open.fail("filter", &e))?;
            // What the predicate throws rejects the promise as it is (no `error` event).
            open.run("filter", async move |db| {
                if let Some(records) = stored_visible(db).await? {
                    return Ok(filter_records(&records, &f).map(Into::into));
                }
                db.load_state().await?;
                Ok(scan(db.state(), &f, |_| true).map(|(list, _)| list.into()))
            })
            .await?
        })
    }

    /// Whether `predicate(value, key)` is truthy for every record (stops at the first falsy one).
    pub fn every(&self, predicate: JsValue) -> Promise {
        self.spawn(|open| async move {
            let f = function(&predicate, "every").map_err(|e| open.fail("every", &e))?;
            open.run("every", async move |db| {
                if let Some(records) = stored_visible(db).await? {
                    return Ok(every_record(&records, &f).map(JsValue::from_bool));
                }
                db.load_state().await?;
                Ok(scan(db.state(), &f, |v| v).map(|(_, all)| JsValue::from_bool(all)))
            })
            .await?
        })
    }

    /// Values `start..end` in key order (`Array.prototype.slice` rules, negatives included).
    pub fn slice(&self, start: JsValue, end: JsValue) -> Promise {
        let (start, end) = (slice_arg(&start), slice_arg(&end));
        self.spawn(|open| async move {
            open.run("slice", async move |db| {
                if let Some(records) = stored_visible(db).await? {
                    let (s, e) = slice_bounds(records.length() as usize, start, end);
                    return Ok(record_values(&records.slice(s as u32, e as u32)).into());
                }
                db.load_state().await?;
                let (s, e) = slice_bounds(db.count(), start, end);
                Ok(values(&db.slice(s, e)).into())
            })
            .await
        })
    }

    /// The values whose indexed field equals `value` (`UnknownIndexError` for an index not in
    /// the configuration).
    #[wasm_bindgen(js_name = findBy)]
    pub fn find_by(&self, index: JsValue, value: JsValue) -> Promise {
        self.spawn(|open| async move {
            let index = index_name(&index).map_err(|e| open.fail("findBy", &e))?;
            let v = from_js(&value, "value").map_err(|e| open.fail("findBy", &e))?;
            open.run("findBy", async move |db| {
                db.load_state().await?;
                Ok(values(&db.find_by(&index, &v)?).into())
            })
            .await
        })
    }

    /// The values whose indexed field is within `{ gt, gte, lt, lte }` (any of them), ordered by
    /// that field then key.
    #[wasm_bindgen(js_name = findRange)]
    pub fn find_range(&self, index: JsValue, range: JsValue) -> Promise {
        self.spawn(|open| async move {
            let index = index_name(&index).map_err(|e| open.fail("findRange", &e))?;
            let bound = |open: &str, closed: &str| -> Result<Bound<auroradb_log::Value>, DbError> {
                // Own bounds only, as the check below sees them: one inherited from the
                // prototype is not the caller's range (a read that throws still refuses it).
                let get = |k: &str| {
                    let key = JsValue::from_str(k);
                    let v = js_sys::Reflect::get(&range, &key)
                        .map_err(|_| DbError::InvalidInput(["range.", k, " threw when read"].concat()))?;
                    let own =
                        range.is_object() && js_sys::Object::has_own(range.unchecked_ref::<js_sys::Object>(), &key);
                    Ok::<_, DbError>(if own { v } else { JsValue::UNDEFINED })
                };
                let (o, c) = (get(open)?, get(closed)?);
                Ok(match (o.is_undefined(), c.is_undefined()) {
                    (false, false) => {
                        let why = ["a range takes one of ", open, " and ", closed].concat();
                        return Err(DbError::InvalidInput(why));
                    }
                    (false, true) => Bound::Excluded(from_js(&o, "range bound")?),
                    (true, false) => Bound::Included(from_js(&c, "range bound")?),
                    (true, true) => Bound::Unbounded,
                })
            };
            // An object of gt, gte, lt and lte alone: a misspelt bound would widen the range.
            let known = range.is_object()
                && !js_sys::Array::is_array(&range)
                && js_sys::Reflect::own_keys(&range).is_ok_and(|keys| {
                    keys.iter().all(|k| k.as_string().is_some_and(|k| ["gt", "gte", "lt", "lte"].contains(&k.as_str())))
                });
            if !known {
                let why = "findRange needs a range: an object with gt, gte, lt or lte, and nothing else";
                return Err(open.fail("findRange", &DbError::InvalidInput(why.into())));
            }
            let lo = bound("gt", "gte").map_err(|e| open.fail("findRange", &e))?;
            let hi = bound("lt", "lte").map_err(|e| open.fail("findRange", &e))?;
            // A range holds values of its bounds' kind (numbers, strings...): two kinds, none.
            if let (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) = (&lo, &hi)
                && !auroradb_snapshot::same_kind(a, b)
            {
                let why = "the bounds of a range must be of one kind (two numbers, two strings...)";
                return Err(open.fail("findRange", &DbError::InvalidInput(why.into())));
            }
            open.run("findRange", async move |db| {
                db.load_state().await?;
                Ok(values(&db.index_range(&index, lo.as_ref(), hi.as_ref())?).into())
            })
            .await
        })
    }
}

/// The readable records of every visible key, read straight from the `state` store, when reading
/// every record into the state would not leave them held (more than `cacheSize`, see
/// [`auroradb::Database::would_hold_whole_state`]): the values IndexedDB makes are the ones
/// returned, no record is decoded and no value converted. They are the state as this instance
/// sees it ([`auroradb::Database::read_as_seen`]). `None` when the state is read instead: it fits
/// the cache (and is then held for the next reads), or a record is not of the readable form, or
/// the store's count of visible records is not the journal's (the state's read says why).
async fn stored_visible(db: &mut Db) -> Result<Option<Array>, DbError> {
    if db.would_hold_whole_state() {
        return Ok(None);
    }
    let records = db.read_as_seen(async |storage| Ok(storage.visible_state().await?)).await?;
    Ok(records.filter(|r| r.length() as usize == db.count()))
}
