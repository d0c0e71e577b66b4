//! The past of the live database: history, time travel, diffs, the log itself, its verification,
//! its export and the import of an exported log. In the build with the `travel` feature only: a
//! local-only page's engine leaves them out, and `web/js/auroradb.js` runs them on a helper
//! instance of the engine with sync (see [`AuroraCore::open_js`]).

use std::ops::Bound;

use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::prelude::*;

use super::AuroraCore;
use crate::events::Source;
use crate::records::{Obj, diff_js, history_js, op_js, point_from_js, time_of, verify_js};
use crate::value::key_from_js;
use crate::view::PastView;
use auroradb::DbError;

#[wasm_bindgen]
impl AuroraCore {
    /// Every op that wrote `key` (and every clear), oldest first: `{ id, hlc, time, author, kind,
    /// value, outcome: 'current' | 'superseded' | 'lost' }`.
    pub fn history(&self, key: JsValue) -> Promise {
        self.spawn(|open| async move {
            let key = key_from_js(&key).map_err(|e| open.fail("history", &e))?;
            open.run("history", async move |db| {
                Ok(db.history(&key).await?.iter().map(history_js).collect::<Array>().into())
            })
            .await
        })
    }

    /// A read-only view of the database as it was at `time` (milliseconds, a `Date`, or an op id):
    /// every op up to it applied.
    pub fn at(&self, time: JsValue) -> Promise {
        self.spawn(|open| async move {
            let at = point_from_js(&time, "at(time)", true).map_err(|e| open.fail("at", &e))?;
            let (ms, key_path, events) = (time_of(&time), open.key_path.clone(), open.events.clone());
            open.run("at", async move |db| Ok(PastView::new(db.state_at(at).await?, at, ms, key_path, events).into()))
                .await
        })
    }

    /// What changed between the state at `from` and the state at `to`: `{ added, changed,
    /// removed }`.
    pub fn diff(&self, from: JsValue, to: JsValue) -> Promise {
        self.spawn(|open| async move {
            let a = point_from_js(&from, "diff(from)", true).map_err(|e| open.fail("diff", &e))?;
            let b = point_from_js(&to, "diff(to)", true).map_err(|e| open.fail("diff", &e))?;
            open.run("diff", async move |db| Ok(diff_js(&db.diff(a, b).await?))).await
        })
    }

    /// The ops of the log between `from` and `to` (both optional, inclusive), oldest first:
    /// `{ id, hlc, time, counter, author, seq, kind, key, value, steps, hash, prev }`.
    pub fn log(&self, options: JsValue) -> Promise {
        self.spawn(|open| async move {
            let get = |k: &str| {
                if options.is_object() {
                    js_sys::Reflect::get(&options, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
                } else {
                    JsValue::UNDEFINED
                }
            };
            let point = |k: &str, upper: bool| -> Result<Bound<auroradb_log::OpId>, DbError> {
                let v = get(k);
                if v.is_undefined() || v.is_null() {
                    Ok(Bound::Unbounded)
                } else {
                    Ok(Bound::Included(point_from_js(&v, k, upper)?))
                }
            };
            if !options.is_undefined() && !options.is_null() && !options.is_object() {
                let why = "log() takes { from, to } or nothing";
                return Err(open.fail("log", &DbError::InvalidInput(why.into())));
            }
            let from = point("from", false).map_err(|e| open.fail("log", &e))?;
            let to = point("to", true).map_err(|e| open.fail("log", &e))?;
            open.run("log", async move |db| {
                let ops = db.load_ops(from, to).await?;
                let list = Array::new();
                for op in &ops {
                    let hash = match db.log().hash_of(&op.id) {
                        Some(h) => *h,
                        None => auroradb_log::EncodedOp::new(op.clone()).hash,
                    };
                    list.push(&op_js(op, &hash));
                }
                Ok(list.into())
            })
            .await
        })
    }

    /// Recomputes every hash and chain, checks segments, checkpoints and that the state is what
    /// the log says, and each author's proof of authorship: `{ ok: true, ops, authors,
    /// checkpoints, keys, proven, fingerprint }`, or rejects with a `HashMismatchError`,
    /// `BrokenChainError`, `AuthorshipError`, `CorruptDataError`...
    pub fn verify(&self) -> Promise {
        self.spawn(|open| async move {
            open.run("verify", async move |db| {
                let report = db.verify().await?;
                db.storage().check_readable().await?;
                Ok(verify_js(&report))
            })
            .await
        })
    }

    /// The whole log as one self-checking file (`Uint8Array`).
    #[wasm_bindgen(js_name = exportLog)]
    pub fn export_log(&self) -> Promise {
        self.spawn(|open| async move {
            open.run("exportLog", async move |db| Ok(Uint8Array::from(db.export_log().await?.as_slice()).into())).await
        })
    }

    /// Merges a log file made by `exportLog()` (as if synced from a peer), all or nothing:
    /// resolves to `{ ops, imported, fingerprint }`.
    #[wasm_bindgen(js_name = importLog)]
    pub fn import_log(&self, bytes: JsValue) -> Promise {
        self.spawn(|open| async move {
            let bytes = match bytes.dyn_ref::<Uint8Array>() {
                Some(b) => b.to_vec(),
                None => match bytes.dyn_ref::<js_sys::ArrayBuffer>() {
                    Some(b) => Uint8Array::new(b).to_vec(),
                    None => {
                        return Err(open.fail(
                            "importLog",
                            &DbError::InvalidInput("importLog needs a Uint8Array or ArrayBuffer".into()),
                        ));
                    }
                },
            };
            let (info, _) =
                open.write("importLog", Source::Import, async move |db| db.import_log(&bytes).await).await?;
            // Each fork the file proved froze its author: reported as a peer's proof is.
            let frozen = js_sys::Array::new();
            for fork in &info.frozen {
                let author = crate::records::peer_hex(&fork.author);
                let message = format!(
                    "author {} signed two different ops at seq {} (op {}): its ops from there on are not taken",
                    fork.author, fork.seq, fork.ids[0]
                );
                let error = crate::error::js_error(auroradb::ErrorName::Equivocation, &message);
                let detail = Obj::new()
                    .set("type", "equivocation")
                    .set("name", "EquivocationError")
                    .set("message", message.as_str())
                    .set("peerId", JsValue::NULL)
                    .set("error", error)
                    .set("operation", "importLog");
                open.events.emit("error", &detail.build());
                frozen.push(&Obj::new().set("author", author).set("seq", fork.seq as f64).build());
            }
            Ok(Obj::new()
                .set("ops", info.ops as f64)
                .set("imported", info.imported as f64)
                .set("fingerprint", info.fingerprint.to_string())
                .set("frozen", frozen)
                .build())
        })
    }
}
