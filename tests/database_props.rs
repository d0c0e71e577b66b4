//! Property tests of the database facade: the state as of any op equals a naive replay of the ops
//! up to it, and a reopened database equals the live one.

use std::collections::BTreeMap;

use auroradb::{Config, Database, MemoryStorage, OpId, Value};
use auroradb_log::{advance_manual_clock, manual_clock, set_manual_clock};
use futures::executor::block_on;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum W {
    Put(u8, i64),
    Remove(u8),
    Clear,
    Txn(Vec<(u8, Option<i64>)>),
}

fn write() -> impl Strategy<Value = W> {
    prop_oneof![
        6 => (0u8..8, any::<i64>()).prop_map(|(k, v)| W::Put(k, v)),
        2 => (0u8..8).prop_map(W::Remove),
        1 => Just(W::Clear),
        2 => proptest::collection::vec((0u8..8, proptest::option::of(any::<i64>())), 1..4).prop_map(W::Txn),
    ]
}

/// The model: a map replayed in order (ops here are all local, so id order is write order).
fn model_apply(m: &mut BTreeMap<String, Value>, w: &W) {
    match w {
        W::Put(k, v) => {
            m.insert(format!("k{k}"), Value::Int(*v));
        }
        W::Remove(k) => {
            m.remove(&format!("k{k}"));
        }
        W::Clear => m.clear(),
        W::Txn(steps) => {
            for (k, v) in steps {
                match v {
                    Some(v) => m.insert(format!("k{k}"), Value::Int(*v)),
                    None => m.remove(&format!("k{k}")),
                };
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn state_at_equals_naive_replay(writes in proptest::collection::vec(write(), 1..60), every in 0u64..7) {
        block_on(async {
            set_manual_clock(1_700_000_000_000);
            let storage = MemoryStorage::new();
            let mut cfg = Config::new("props", manual_clock);
            cfg.checkpoint_every = every;
            cfg.segment_ops = 4;
            let mut db = Database::open(storage.clone(), cfg.clone()).await.unwrap();
            let mut model = BTreeMap::new();
            let mut marks: Vec<(OpId, BTreeMap<String, Value>)> = Vec::new();
            for w in &writes {
                advance_manual_clock(1);
                let out = match w {
                    W::Put(k, v) => db.put(format!("k{k}"), Value::Int(*v)).await.unwrap(),
                    W::Remove(k) => db.remove(format!("k{k}")).await.unwrap(),
                    W::Clear => db.clear().await.unwrap(),
                    W::Txn(steps) => db.transaction(|tx| -> auroradb::Result<()> {
                        for (k, v) in steps {
                            match v {
                                Some(v) => tx.put(format!("k{k}"), Value::Int(*v))?,
                                None => tx.remove(format!("k{k}"))?,
                            }
                        }
                        Ok(())
                    }).await.unwrap().1,
                };
                model_apply(&mut model, w);
                marks.push((out.ops[0], model.clone()));
            }
            let live: BTreeMap<String, Value> = db.all().into_iter().collect();
            prop_assert_eq!(&live, &model);
            for (at, want) in &marks {
                let got: BTreeMap<String, Value> = db.state_at(*at).await.unwrap().all().into_iter().collect();
                prop_assert_eq!(&got, want);
            }
            let mut reopened = Database::open(storage, cfg).await.unwrap();
            prop_assert_eq!(reopened.stats().ops_decoded, 0);
            prop_assert_eq!(reopened.all(), db.all());
            prop_assert_eq!(reopened.op_count(), db.log().len() as u64);
            reopened.load_log().await.unwrap();
            prop_assert_eq!(reopened.stats().ops_decoded, 0);
            prop_assert_eq!(reopened.log().fingerprint(..), db.log().fingerprint(..));
            Ok(())
        })?;
    }
}
