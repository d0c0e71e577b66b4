//! Writes the log of a long history as log files, for the browser bench's open of a database
//! whose log is far longer than its records (`benches/web/run.mjs --open-import`):
//!
//! ```text
//! cargo run --release -p auroradb-benches --example make_log -- OPS KEYS FILE_OPS DIR
//! ```
//!
//! Write `i` of `OPS` sets record `i % KEYS` to the value the bench page writes for it (`record`
//! in `benches/web/bench.js`, with `n: i`), as one author's signed ops; the log goes to
//! `DIR/0.aulog`, `DIR/1.aulog`... of `FILE_OPS` ops each, which a database imports in turn
//! (`importLog`), each extending the chain the one before ended.

use std::time::Duration;

use auroradb::encode_log_file;
use auroradb_log::{Hlc, Identity, Log, LogConfig, OpId, OpKind, Value, system_clock};

/// The page's `key(i)`.
fn key(i: u64) -> String {
    format!("k{i:06}")
}

/// The page's `{ ...record(i), n }`.
fn record(i: u64, n: u64) -> Value {
    let i64 = |v: u64| Value::Int(v as i64);
    Value::map([
        ("id", Value::from(key(i).as_str())),
        ("name", Value::from(format!("user {i}").as_str())),
        ("email", Value::from(format!("user{i}@example.com").as_str())),
        ("n", i64(n)),
        ("group", i64(i % 10)),
        ("active", Value::Bool(i.is_multiple_of(3))),
        ("tags", Value::List(vec![Value::from("alpha"), Value::from(if i % 2 == 1 { "odd" } else { "even" })])),
        ("profile", Value::map([("score", i64((i * 7919) % 1000)), ("joined", i64(1_700_000_000_000 + i))])),
    ])
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [ops, keys, file_ops, dir] = args.as_slice() else {
        eprintln!("usage: make_log OPS KEYS FILE_OPS DIR");
        std::process::exit(2);
    };
    let number = |s: &str| s.parse::<u64>().unwrap_or_else(|_| panic!("{s:?} is not a number"));
    let (ops, keys, file_ops) = (number(ops), number(keys).max(1), number(file_ops).max(1));
    std::fs::create_dir_all(dir).expect("the output directory");

    let identity = Identity::generate();
    let clock = Hlc::new(identity.peer(), system_clock, Duration::from_secs(600));
    let mut log = Log::new(clock, LogConfig { keep_ops: false, ..LogConfig::default() });
    log.set_identity(identity).expect("the log's own identity");
    let mut chunk = Vec::new();
    let mut files = 0;
    for n in 0..ops {
        let i = n % keys;
        let op = log.prepare_local(OpKind::Put { key: key(i), value: record(i, n) });
        log.insert_local(&op).expect("a local op extends the chain");
        chunk.push(op);
        if chunk.len() as u64 == file_ops || n + 1 == ops {
            let items: Vec<(OpId, &[u8], _)> = chunk.iter().map(|o| (o.op.id, o.bytes.as_slice(), o.hash)).collect();
            let file = encode_log_file(&items, &|id| log.proof_of(id)).expect("ops the log made");
            std::fs::write(format!("{dir}/{files}.aulog"), file).expect("writing a log file");
            files += 1;
            chunk.clear();
        }
    }
    println!("{files} files of up to {file_ops} ops: {ops} ops on {keys} records in {dir}");
}
