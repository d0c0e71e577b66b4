//! The `auroradb` command against log files made here with the engine (a manual clock and fixed
//! peers, so every run makes the same bytes) and against the committed fixtures in
//! `tests/fixtures/cli/`: a good file, one with a byte flipped inside an op, a truncated one and
//! a file that is not a log file. Each subcommand's JSON is checked against what the Rust API
//! says about the same file; exit codes and error lines against the built binary.
//!
//! The fixtures are regenerated on purpose only:
//!
//! ```text
//! AURORADB_BLESS=1 cargo test -p auroradb-cli --test cli
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

use auroradb::log::{advance_manual_clock, manual_clock, set_manual_clock};
use auroradb::{Config, Database, MemoryStorage, OpId, PeerId, Strategy, Value};
use futures::executor::block_on;
use serde_json::{Value as Json, json};

/// The sample's signing identities (fixed secrets, so the fixtures are reproducible).
fn identity(n: u8) -> auroradb::log::Identity {
    auroradb::log::Identity::from_secret(&[n; 32])
}

fn alice() -> PeerId {
    identity(0xa1).peer()
}

fn bob() -> PeerId {
    identity(0xb0).peer()
}
/// 2025-11-29T10:00:00Z.
const T0: u64 = 1_764_410_400_000;

fn config(who: Option<u8>, strategy: &str) -> Config {
    let mut c = Config::new("cli-test", manual_clock);
    c.identity = who.map(identity);
    c.strategy = Strategy::from_name(strategy).unwrap();
    c
}

fn incident(title: &str, status: &str, version: i64) -> Value {
    Value::map([("title", title.into()), ("status", status.into()), ("version", Value::Int(version))])
}

/// Two peers edit incidents; both edit `inc1` from version 1 while apart (concurrent edits);
/// Bob removes `inc2`; Alice writes a transaction; they exchange logs. Alice's export.
fn sample_file() -> Vec<u8> {
    block_on(async {
        set_manual_clock(T0);
        let mut alice = Database::open(MemoryStorage::new(), config(Some(0xa1), "timestamp")).await.unwrap();
        let mut bob = Database::open(MemoryStorage::new(), config(Some(0xb0), "timestamp")).await.unwrap();
        alice.put("inc1", incident("Disk full", "open", 1)).await.unwrap();
        advance_manual_clock(1_000);
        alice.put("inc2", incident("Login slow", "open", 1)).await.unwrap();
        advance_manual_clock(1_000);
        bob.import_log(&alice.export_log().await.unwrap()).await.unwrap();
        advance_manual_clock(1_000);
        alice.put("inc1", incident("Disk full", "investigating", 2)).await.unwrap();
        advance_manual_clock(500);
        bob.put("inc1", incident("Disk full", "resolved", 2)).await.unwrap();
        advance_manual_clock(500);
        bob.remove("inc2").await.unwrap();
        advance_manual_clock(1_000);
        alice
            .transaction(|tx| -> auroradb::Result<()> {
                tx.put("inc3", incident("Cert expires", "open", 1))?;
                tx.put("note", Value::from("on call: alice"))
            })
            .await
            .unwrap();
        advance_manual_clock(1_000);
        alice.import_log(&bob.export_log().await.unwrap()).await.unwrap();
        advance_manual_clock(1_000);
        alice.put("inc1", incident("Disk full", "closed", 3)).await.unwrap();
        advance_manual_clock(1_000);
        alice.put("bytes", Value::Bytes(vec![0, 1, 0xff])).await.unwrap();
        alice.export_log().await.unwrap()
    })
}

/// The sample with one byte flipped inside Alice's first op (in the title "Disk full").
fn tampered(good: &[u8]) -> Vec<u8> {
    let at = good.windows(9).position(|w| w == b"Disk full").expect("the title is in the file");
    let mut bad = good.to_vec();
    bad[at + 8] ^= 0x20; // "Disk fulL"
    bad
}

fn fixtures() -> Vec<(&'static str, Vec<u8>)> {
    let good = sample_file();
    let truncated = good[..good.len() * 2 / 3].to_vec();
    vec![
        ("tampered.aulf", tampered(&good)),
        ("truncated.aulf", truncated),
        ("not-a-log.aulf", b"{\"this\": \"is JSON, not a log file\"}\n".to_vec()),
        ("good.aulf", good),
    ]
}

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/cli")
}

fn fixture(name: &str) -> String {
    bless_if_asked();
    fixture_dir().join(name).to_string_lossy().into_owned()
}

fn bless_if_asked() {
    static BLESS: std::sync::Once = std::sync::Once::new();
    BLESS.call_once(|| {
        if std::env::var("AURORADB_BLESS").is_ok_and(|v| v == "1") {
            std::fs::create_dir_all(fixture_dir()).unwrap();
            for (name, bytes) in fixtures() {
                std::fs::write(fixture_dir().join(name), bytes).unwrap();
            }
        }
    });
}

/// Runs the command in-process: (exit code, stdout, stderr).
fn cli(args: &[&str]) -> (i32, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = auroradb_cli::run(std::iter::once("auroradb").chain(args.iter().copied()), &mut out, &mut err);
    (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

/// Runs the command and parses its JSON output (one document).
fn json_of(args: &[&str]) -> Json {
    let (code, out, err) = cli(args);
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

/// Runs the command and parses its JSON lines.
fn json_lines(args: &[&str]) -> Vec<Json> {
    let (code, out, err) = cli(args);
    assert_eq!(code, 0, "{args:?}: {err}");
    out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The file imported with the Rust API.
fn imported(path: &str, strategy: &str) -> Database<MemoryStorage> {
    set_manual_clock(T0 + 3_600_000);
    block_on(async {
        let mut db = Database::open(MemoryStorage::new(), config(None, strategy)).await.unwrap();
        db.import_log(&std::fs::read(path).unwrap()).await.unwrap();
        db
    })
}

fn all_ids(db: &mut Database<MemoryStorage>) -> Vec<OpId> {
    db.log().ids(..).map(|(id, _)| *id).collect()
}

fn value_json(v: &Value) -> Json {
    auroradb_cli::render::value_json(v)
}

#[test]
fn fixtures_are_current() {
    bless_if_asked();
    for (name, bytes) in fixtures() {
        let on_disk = std::fs::read(fixture_dir().join(name)).unwrap_or_default();
        assert!(on_disk == bytes, "{name} is stale: if the change is deliberate, regenerate with AURORADB_BLESS=1");
    }
}

#[test]
fn verify_passes_a_good_file_with_the_engines_counts() {
    let path = fixture("good.aulf");
    let doc = json_of(&["verify", &path, "--json"]);
    let mut db = imported(&path, "timestamp");
    let report = block_on(db.verify()).unwrap();
    assert_eq!(doc["intact"], true);
    assert_eq!(doc["file_hash_ok"], true);
    assert_eq!(doc["damage"], json!([]));
    assert_eq!(doc["ops"], report.ops);
    assert_eq!(doc["authors"], report.authors);
    assert_eq!(doc["fingerprint"], report.fingerprint.to_string());
    assert_eq!(doc["engine"]["ops"], report.ops);
    assert_eq!(doc["engine"]["keys"], report.keys);
    assert_eq!(doc["engine"]["fingerprint"], db.log().fingerprint(..).to_string());
    assert_eq!(doc["format_version"], 2);
    // Both authors' newest ops are proven by their keys, by the file and by the engine.
    assert_eq!(doc["signatures"], json!({ "authors": 2, "proven": 2 }));
    assert_eq!(report.proven, 2);
    let (code, out, _) = cli(&["verify", &path]);
    assert_eq!(code, 0);
    assert!(out.contains("2 of 2 authors proven by their key"), "{out}");
    assert!(out.ends_with("intact\n"), "{out}");
}

#[test]
fn verify_names_the_altered_op_of_a_tampered_file() {
    let path = fixture("tampered.aulf");
    let good = imported(&fixture("good.aulf"), "timestamp");
    let first = *good.log().ids(..).next().unwrap().0;
    let (code, out, err) = cli(&["verify", &path, "--json"]);
    assert_eq!(code, 1, "{err}");
    let doc: Json = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["intact"], false);
    assert_eq!(doc["file_hash_ok"], false);
    let damage = doc["damage"].as_array().unwrap();
    assert!(!damage.is_empty());
    // Alice's second op no longer links to her first, the one altered.
    let message = damage[0]["message"].as_str().unwrap();
    assert!(message.contains(&format!("op {first}")), "{message}");
    assert!(message.contains("that op or this link was altered"), "{message}");
    assert_eq!(damage[0]["seq"], 2);
    assert_eq!(damage[0]["author"], alice().to_hex());
    // The engine refuses the same file.
    let mut db = block_on(Database::open(MemoryStorage::new(), config(None, "timestamp"))).unwrap();
    assert!(block_on(db.import_log(&std::fs::read(&path).unwrap())).is_err());

    let (code, out, _) = cli(&["verify", &path]);
    assert_eq!(code, 1);
    assert!(out.contains("DAMAGED: "), "{out}");
}

#[test]
fn damaged_and_unreadable_files_are_one_line_errors() {
    let cases = [
        ("tampered.aulf", 1, "damaged: segment 0: op "),
        ("truncated.aulf", 2, "truncated"),
        ("not-a-log.aulf", 2, "not an AuroraDB log file"),
        ("missing.aulf", 2, ""),
    ];
    for (name, want, text) in cases {
        let path = fixture(name);
        for args in [
            vec!["log", &path],
            vec!["at", &path, "2025-11-29T10:00:00Z"],
            vec!["history", &path, "inc1"],
            vec!["diff", &path, "0", "1"],
            vec!["replay", &path],
            vec!["stats", &path, "--json"],
        ] {
            let (code, out, err) = cli(&args);
            assert_eq!(code, want, "{args:?}: {err}");
            assert!(out.is_empty(), "{args:?}: {out}");
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
            assert!(err.starts_with(&format!("auroradb: {path}: ")) && err.contains(text), "{args:?}: {err}");
        }
    }
    let (code, _, err) = cli(&["verify", &fixture("truncated.aulf")]);
    assert_eq!((code, err.lines().count()), (2, 1), "{err}");

    // Another format version, older (before ops were signed) or newer: unreadable, whatever
    // follows.
    let dir = std::env::temp_dir().join(format!("auroradb-cli-version-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for version in [1u8, 3] {
        let mut other = std::fs::read(fixture("good.aulf")).unwrap();
        other[4] = version;
        let path = write_temp(&dir, &format!("v{version}.aulf"), &other);
        let (code, _, err) = cli(&["verify", &path]);
        assert_eq!(code, 2);
        assert!(
            err.starts_with(&format!(
                "auroradb: {path}: unsupported log file format version {version} (this build reads version 2"
            )),
            "{err}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_binary_exits_with_the_documented_codes() {
    let bin = env!("CARGO_BIN_EXE_auroradb");
    let run = |args: &[&str]| {
        let o = Command::new(bin).args(args).output().unwrap();
        (o.status.code(), String::from_utf8(o.stdout).unwrap(), String::from_utf8(o.stderr).unwrap())
    };
    let (code, out, _) = run(&["verify", &fixture("good.aulf")]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out, _) = run(&["verify", &fixture("tampered.aulf")]);
    assert_eq!(code, Some(1), "{out}");
    for name in ["truncated.aulf", "not-a-log.aulf"] {
        let path = fixture(name);
        let (code, out, err) = run(&["verify", &path]);
        assert_eq!(code, Some(2));
        assert!(out.is_empty());
        assert!(err.starts_with(&format!("auroradb: {path}: ")) && err.lines().count() == 1, "{err}");
    }
    let (code, _, err) = run(&["at", &fixture("good.aulf"), "yesterday"]);
    assert_eq!(code, Some(2));
    assert!(err.starts_with("auroradb: time \"yesterday\""), "{err}");
    let (code, _, _) = run(&["frobnicate"]);
    assert_eq!(code, Some(2));
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("verify") && out.contains("replay"), "{out}");
}

#[test]
fn log_lists_the_ops_of_the_rust_api_with_filters() {
    let path = fixture("good.aulf");
    let mut db = imported(&path, "timestamp");
    let ops = block_on(db.load_ops(std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)).unwrap();
    let lines = json_lines(&["log", &path, "--json"]);
    assert_eq!(lines.len(), ops.len());
    for (line, op) in lines.iter().zip(&ops) {
        assert_eq!(line["id"], op.id.to_string());
        assert_eq!(line["author"], op.author.to_hex());
        assert_eq!(line["seq"], op.seq);
        assert_eq!(line["kind"], op.kind.name());
        assert_eq!(line["hash"], db.log().hash_of(&op.id).unwrap().to_hex());
        assert_eq!(line["prev"], op.prev.to_hex());
        assert_eq!(line["millis"], op.id.millis());
    }
    let count = |args: &[&str]| json_lines(&[&["log", &path, "--json"], args].concat()).len();
    let n = |pred: &dyn Fn(&auroradb::Op) -> bool| ops.iter().filter(|o| pred(o)).count();
    assert_eq!(count(&["--key", "inc1"]), n(&|o| o.kind.touches("inc1")));
    assert_eq!(count(&["--key", "note"]), 1);
    let (b, a) = (bob().to_hex()[..4].to_owned(), alice().to_hex()[..2].to_uppercase());
    assert_eq!(count(&["--author", &b]), n(&|o| o.author == bob()));
    assert_eq!(count(&["--author", &a]), n(&|o| o.author == alice()));
    assert_eq!(count(&["--kind", "txn"]), 1);
    assert_eq!(count(&["--kind", "remove"]), 1);
    let third = ops[2].id.to_string();
    assert_eq!(count(&["--from", &third]), ops.len() - 2);
    assert_eq!(count(&["--to", &third]), 3);
    let ms = (T0 + 2_000).to_string();
    assert_eq!(count(&["--to", &ms]), n(&|o| o.id.millis() <= T0 + 2_000));
    assert_eq!(count(&["--from", "2025-11-29T10:00:03Z", "--to", "2025-11-29T10:00:04Z"]), 3);
    let (code, out, _) = cli(&["log", &path]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), ops.len() + 1);
    assert!(out.starts_with("TIME "), "{out}");
}

#[test]
fn at_is_the_state_of_the_rust_api() {
    let path = fixture("good.aulf");
    let mut db = imported(&path, "timestamp");
    for id in all_ids(&mut db) {
        let want = block_on(db.state_at(id)).unwrap();
        let want: serde_json::Map<String, Json> =
            want.iter().map(|(k, e)| (k.to_owned(), value_json(&e.value))).collect();
        for time in [id.to_string(), id.millis().to_string()] {
            let doc = json_of(&["at", &path, &time, "--json"]);
            if time.contains('@') || all_ids(&mut db).iter().filter(|i| i.millis() == id.millis()).count() == 1 {
                assert_eq!(doc["state"], Json::Object(want.clone()), "at {time}");
            }
        }
    }
    let doc = json_of(&["at", &path, "2025-11-29T10:00:01Z", "--json"]);
    assert_eq!(doc["ops"], 2);
    assert_eq!(doc["state"]["inc2"]["title"], "Login slow");
    let before = json_of(&["at", &path, "1000", "--json"]);
    assert_eq!(before["state"], json!({}));
}

#[test]
fn history_is_the_rust_apis_with_concurrent_edits_marked() {
    let path = fixture("good.aulf");
    for strategy in ["timestamp", "version"] {
        let mut db = imported(&path, strategy);
        let items = block_on(db.history("inc1")).unwrap();
        let doc = json_of(&["history", &path, "inc1", "--json", "--strategy", strategy]);
        let got = doc["items"].as_array().unwrap();
        assert_eq!(got.len(), items.len());
        for (g, i) in got.iter().zip(&items) {
            assert_eq!(g["id"], i.id.to_string());
            assert_eq!(g["author"], i.author.to_hex());
            assert_eq!(g["kind"], i.kind);
            assert_eq!(g["value"], i.value.as_ref().map_or(Json::Null, value_json));
            assert_eq!(g["outcome"], format!("{:?}", i.outcome).to_lowercase());
        }
        // Alice and Bob both edited version 1 into version 2.
        let concurrent: Vec<i64> =
            got.iter().filter(|g| g["concurrent"] == true).map(|g| g["value"]["version"].as_i64().unwrap()).collect();
        assert_eq!(concurrent, [2, 2], "{strategy}");
    }
    let (code, out, _) = cli(&["history", &fixture("good.aulf"), "inc1"]);
    assert_eq!(code, 0);
    assert_eq!(out.matches("concurrent (version 2)").count(), 2, "{out}");
    let empty = json_of(&["history", &fixture("good.aulf"), "nobody", "--json"]);
    assert_eq!(empty["items"], json!([]));
}

#[test]
fn diff_is_the_rust_apis() {
    let path = fixture("good.aulf");
    let mut db = imported(&path, "timestamp");
    let ids = all_ids(&mut db);
    for (a, b) in [(0, ids.len() - 1), (2, 5), (5, 2), (3, 3)] {
        let want = block_on(db.diff(ids[a], ids[b])).unwrap();
        let doc = json_of(&["diff", &path, &ids[a].to_string(), &ids[b].to_string(), "--json"]);
        let pairs = |v: &[(String, Value)]| {
            v.iter().map(|(k, v)| json!({"key": k, "value": value_json(v)})).collect::<Vec<_>>()
        };
        assert_eq!(doc["added"], json!(pairs(&want.added)));
        assert_eq!(doc["removed"], json!(pairs(&want.removed)));
        let changed: Vec<Json> = want
            .changed
            .iter()
            .map(|(k, x, y)| json!({"key": k, "before": value_json(x), "after": value_json(y)}))
            .collect();
        assert_eq!(doc["changed"], json!(changed));
    }
}

#[test]
fn replay_steps_through_the_rust_apis_replay() {
    let path = fixture("good.aulf");
    let mut db = imported(&path, "timestamp");
    let ids = all_ids(&mut db);
    let mut want = Vec::new();
    let last = *ids.last().unwrap();
    block_on(db.replay(OpId::MIN, last, |op, state| want.push((op.id, state.all())))).unwrap();
    let lines = json_lines(&["replay", &path, "--json"]);
    assert_eq!(lines.len(), want.len());
    // Applying each line's changes to a map gives the API's state after each op.
    let mut shown = serde_json::Map::new();
    for (line, (id, state)) in lines.iter().zip(&want) {
        assert_eq!(line["id"], id.to_string());
        for c in line["changes"].as_array().unwrap() {
            let key = c["key"].as_str().unwrap().to_owned();
            assert_eq!(shown.get(&key).cloned().unwrap_or(Json::Null), c["before"]);
            match &c["after"] {
                Json::Null => shown.remove(&key),
                v => shown.insert(key, v.clone()),
            };
        }
        let state: serde_json::Map<String, Json> = state.iter().map(|(k, v)| (k.clone(), value_json(v))).collect();
        assert_eq!(shown, state, "after {id}");
    }
    // A window: from the third op to the fifth.
    let part = json_lines(&["replay", &path, "--json", "--from", &ids[2].to_string(), "--to", &ids[4].to_string()]);
    let got: Vec<&Json> = part.iter().map(|l| &l["id"]).collect();
    assert_eq!(got, ids[2..5].iter().map(|i| Json::from(i.to_string())).collect::<Vec<_>>().iter().collect::<Vec<_>>());
    let (code, out, _) = cli(&["replay", &path]);
    assert_eq!(code, 0);
    assert!(out.contains("inc2: {\"status\":\"open\",\"title\":\"Login slow\",\"version\":1} -> (absent)"), "{out}");
}

#[test]
fn stats_count_what_the_rust_api_holds() {
    let path = fixture("good.aulf");
    let mut db = imported(&path, "timestamp");
    let ops = block_on(db.load_ops(std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)).unwrap();
    let doc = json_of(&["stats", &path, "--json"]);
    assert_eq!(doc["ops"], ops.len());
    assert_eq!(doc["keys_live"], db.count());
    assert_eq!(doc["bytes"], std::fs::metadata(&path).unwrap().len());
    assert_eq!(doc["kinds"], json!({"put": 6, "remove": 1, "clear": 0, "txn": 1}));
    let authors = doc["authors"].as_array().unwrap();
    assert_eq!(authors.len(), 2);
    assert_eq!(authors[0]["author"], alice().to_hex());
    assert_eq!(authors[0]["ops"], ops.iter().filter(|o| o.author == alice()).count());
    assert_eq!(authors[1]["ops"], ops.iter().filter(|o| o.author == bob()).count());
    assert_eq!(doc["first"], "2025-11-29T10:00:00.000Z");
    assert_eq!(doc["fingerprint"], db.log().fingerprint(..).to_string());
}

fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn progress_counts_every_op_against_the_claimed_count() {
    let good = std::fs::read(fixture("good.aulf")).unwrap();
    let mut seen = Vec::new();
    let report = auroradb_cli::file::read(&good, |done, total| seen.push((done, total))).unwrap();
    assert_eq!(seen.last(), Some(&(report.ops.len() as u64, report.count)));
    assert_eq!(seen.len(), report.ops.len());
}

#[test]
fn no_truncation_flip_or_garbage_panics() {
    let good = std::fs::read(fixture("good.aulf")).unwrap();
    let dir = std::env::temp_dir().join(format!("auroradb-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for len in 0..good.len() {
        let path = write_temp(&dir, "cut.aulf", &good[..len]);
        let (code, _, err) = cli(&["verify", &path]);
        assert!(code == 1 || code == 2, "{len}: {code}");
        assert_eq!(err.lines().count(), usize::from(code == 2), "{len}: {err}");
    }
    for at in 0..good.len() {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        let path = write_temp(&dir, "flip.aulf", &bad);
        let (code, _, _) = cli(&["verify", &path]);
        assert!(code == 1 || code == 2, "a flip at {at} went unnoticed");
        let (code, _, _) = cli(&["stats", &path]);
        assert!(code == 1 || code == 2, "stats on a flip at {at}");
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..300 {
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let len = (next() % 2048) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if round % 2 == 0 && bytes.len() > 5 {
            bytes[..5].copy_from_slice(b"AUlf\x01");
        }
        let _ = auroradb_cli::file::read(&bytes, |_, _| {});
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_file_rehashed_after_tampering_still_names_the_op() {
    // Someone who alters an op and recomputes the file hash: the chain gives it away.
    let mut bad = tampered(&std::fs::read(fixture("good.aulf")).unwrap());
    let body = bad.len() - 32;
    let hash = auroradb::log::Hash::of(&bad[..body]);
    bad[body..].copy_from_slice(&hash.0);
    let report = auroradb_cli::file::read(&bad, |_, _| {}).unwrap();
    assert!(report.hash_ok);
    let first = &report.ops[0].op;
    assert!(report.damage[0].to_string().contains(&format!("op {}", first.id)), "{:?}", report.damage);
    // The last op of an author has no later op to link to it: the segment's sum names the suspects.
    let mut bad = std::fs::read(fixture("good.aulf")).unwrap();
    let at = bad.windows(3).position(|w| w == [0, 1, 0xff]).expect("the bytes value, Alice's last op");
    bad[at + 2] = 0xfe;
    let report = auroradb_cli::file::read(&bad, |_, _| {}).unwrap();
    let last = report.ops.iter().rev().find(|e| e.op.author == alice()).unwrap().op.id;
    assert_eq!(report.damage.len(), 2, "{:?}", report.damage);
    assert!(report.damage[0].reason.contains(&last.to_string()), "{}", report.damage[0]);
    // And its author's signature over it no longer verifies: the altered op is named.
    assert_eq!(report.damage[1].op, Some(last), "{}", report.damage[1]);
    assert!(report.damage[1].reason.contains("the signature does not verify"), "{}", report.damage[1]);
}

#[test]
fn an_empty_log_and_empty_windows() {
    set_manual_clock(T0);
    let empty = block_on(async {
        let mut db = Database::open(MemoryStorage::new(), config(Some(0xa1), "timestamp")).await.unwrap();
        db.export_log().await.unwrap()
    });
    let dir = std::env::temp_dir().join(format!("auroradb-cli-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = write_temp(&dir, "empty.aulf", &empty);
    assert_eq!(json_of(&["verify", &path, "--json"])["intact"], true);
    assert_eq!(json_of(&["stats", &path, "--json"])["ops"], 0);
    assert_eq!(json_lines(&["replay", &path, "--json"]).len(), 0);
    assert_eq!(json_lines(&["log", &path, "--json"]).len(), 0);
    assert_eq!(json_of(&["at", &path, "0", "--json"])["state"], json!({}));
    std::fs::remove_dir_all(&dir).unwrap();

    let good = fixture("good.aulf");
    let (code, _, err) = cli(&["replay", &good, "--from", "2025-11-29T10:00:05Z", "--to", "2025-11-29T10:00:01Z"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err, "auroradb: replay: --from is after --to\n");
    // A window between two ops replays nothing.
    assert!(json_lines(&["replay", &good, "--json", "--from", "1764410401500", "--to", "1764410402500"]).is_empty());
}

/// The authors of the hand-made files, by the byte of their secret.
const SIGNERS: [u8; 3] = [0xa1, 0xb0, 0x01];

/// A log file of `ops` (one author chain each, in id order, authors among [`SIGNERS`]), written
/// as `export_log` writes one: each author's last op proven.
fn file_of(ops: &[auroradb::Op]) -> Vec<u8> {
    use auroradb::log::codec::encode_blob_v;
    use auroradb::log::segment::encode_file_segment;
    use auroradb::log::{EncodedOp, RangeSum, run_ends};
    let enc: Vec<EncodedOp> = ops.iter().cloned().map(EncodedOp::new).collect();
    let proofs: Vec<_> = run_ends(enc.iter().map(|e| e.op.id))
        .into_iter()
        .map(|id| {
            let signer = SIGNERS.iter().map(|n| identity(*n)).find(|i| i.peer() == id.peer).expect("a signer");
            let e = enc.iter().find(|e| e.op.id == id).expect("the op");
            (id, signer.prove(&e.hash))
        })
        .collect();
    let seg = encode_file_segment(enc.iter().map(|e| (e.op.id, e.bytes.as_slice(), &e.hash)), &proofs);
    let sum = enc.iter().fold(RangeSum::default(), |acc, e| acc + RangeSum::one(&e.hash));
    let body = (sum.count, sum.fingerprint(), vec![serde_bytes::ByteBuf::from(seg)]);
    let mut out = encode_blob_v(auroradb::MAGIC_LOG_FILE, auroradb::LOG_FILE_VERSION, &body);
    let hash = auroradb::log::Hash::of(&out);
    out.extend_from_slice(&hash.0);
    out
}

#[test]
fn ops_at_the_ends_of_time_are_shown_not_panicked_on() {
    use auroradb::log::{EncodedOp, Hash};
    use auroradb::{Op, OpKind};
    let first = Op {
        id: OpId { time: 0, peer: alice() },
        author: alice(),
        seq: 1,
        prev: Hash::ZERO,
        kind: OpKind::Put { key: "k".into(), value: Value::Float(f64::NAN) },
    };
    let last = Op {
        id: OpId { time: u64::MAX - 1, peer: alice() },
        author: alice(),
        seq: 2,
        prev: EncodedOp::new(first.clone()).hash,
        kind: OpKind::Clear,
    };
    let dir = std::env::temp_dir().join(format!("auroradb-cli-ends-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = write_temp(&dir, "ends.aulf", &file_of(&[first, last]));
    assert_eq!(json_of(&["verify", &path, "--json"])["intact"], true);
    assert_eq!(json_lines(&["log", &path, "--json"])[0]["value"], "NaN");
    assert_eq!(json_of(&["at", &path, "0", "--json"])["state"], json!({"k": "NaN"}));
    assert_eq!(json_of(&["at", &path, "2106-02-07T06:28:15Z", "--json"])["state"], json!({"k": "NaN"}));
    assert_eq!(json_lines(&["replay", &path, "--json"]).len(), 2);
    assert_eq!(json_of(&["history", &path, "k", "--json"])["items"].as_array().unwrap().len(), 2);
    assert_eq!(json_of(&["stats", &path, "--json"])["keys_live"], 0);
    for cmd in ["log", "replay", "stats"] {
        assert_eq!(cli(&[cmd, &path]).0, 0, "{cmd}");
    }
    // The very last instant: refused as damage, since no clock can move past it.
    let end =
        Op { id: OpId { time: u64::MAX, peer: bob() }, author: bob(), seq: 1, prev: Hash::ZERO, kind: OpKind::Clear };
    let path = write_temp(&dir, "end.aulf", &file_of(&[end]));
    let (code, _, err) = cli(&["stats", &path]);
    assert_eq!(code, 1);
    assert!(err.contains("the last instant an id can hold"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn random_well_formed_files_run_every_command() {
    use auroradb::log::{EncodedOp, Hash};
    use auroradb::{Op, OpKind, Step};
    let dir = std::env::temp_dir().join(format!("auroradb-cli-random-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..40 {
        let authors = SIGNERS.map(|n| identity(n).peer());
        let mut heads: Vec<(u64, Hash, u64)> = vec![(0, Hash::ZERO, 0); authors.len()];
        let mut ops = Vec::new();
        for _ in 0..(next() % 12) {
            let a = (next() % 3) as usize;
            let (seq, prev, last) = heads[a];
            let time = match next() % 4 {
                0 => last.saturating_add(1 + next() % 3),
                1 => last.max(millis_of(T0)).saturating_add(next() % 50_000_000_000),
                2 => last.saturating_add(1).max(u64::MAX - 64 + next() % 32),
                _ => last.saturating_add(1 + next() % (1 << 40)),
            };
            if time <= last || time == u64::MAX {
                continue;
            }
            let key = format!("k{}", next() % 3);
            let value = match next() % 4 {
                0 => Value::map([("version", Value::Int((next() % 3) as i64))]),
                1 => Value::Float(-0.0),
                2 => Value::List(vec![Value::Null, Value::Bytes(vec![1])]),
                _ => Value::from("x"),
            };
            let kind = match next() % 5 {
                0 => OpKind::Remove { key },
                1 => OpKind::Clear,
                2 => OpKind::Txn(vec![Step::Put { key: key.clone(), value }, Step::Remove { key }]),
                _ => OpKind::Put { key, value },
            };
            let op = Op { id: OpId { time, peer: authors[a] }, author: authors[a], seq: seq + 1, prev, kind };
            heads[a] = (seq + 1, EncodedOp::new(op.clone()).hash, time);
            ops.push(op);
        }
        ops.sort_by_key(|o| o.id);
        let path = write_temp(&dir, "random.aulf", &file_of(&ops));
        let ids: Vec<String> = ops.iter().map(|o| o.id.to_string()).collect();
        let t = ids.first().cloned().unwrap_or_else(|| "0".into());
        let u = ids.last().cloned().unwrap_or_else(|| "2106-02-07T06:28:15Z".into());
        for strategy in ["timestamp", "version", "merge", "local-wins", "remote-wins"] {
            for args in [
                vec!["verify", &path],
                vec!["log", &path, "--from", &t, "--to", &u],
                vec!["at", &path, &u],
                vec!["history", &path, "k1"],
                vec!["diff", &path, &t, &u],
                vec!["replay", &path],
                vec!["stats", &path],
            ] {
                let args = [&args[..], &["--strategy", strategy]].concat();
                let (code, _, err) = cli(&args);
                assert_eq!(code, 0, "round {round}: {args:?}: {err}");
                let (code, _, err) = cli(&[&args[..], &["--json"]].concat());
                assert_eq!(code, 0, "round {round}: {args:?} --json: {err}");
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn millis_of(ms: u64) -> u64 {
    auroradb::log::millis_to_ntp(ms)
}

#[test]
fn reading_as_an_author_makes_its_ops_local() {
    let path = fixture("good.aulf");
    set_manual_clock(T0 + 3_600_000);
    let mut bobs_db = block_on(async {
        // Opened as Bob without his key, as the command's --as does: it takes Bob's ops in.
        let mut config = config(None, "local-wins");
        config.peer = Some(bob());
        let mut db = Database::open(MemoryStorage::new(), config).await.unwrap();
        db.import_log(&std::fs::read(&path).unwrap()).await.unwrap();
        db
    });
    let items = block_on(bobs_db.history("inc1")).unwrap();
    let bob_upper = bob().to_hex()[..4].to_uppercase();
    let doc = json_of(&["history", &path, "inc1", "--json", "--strategy", "local-wins", "--as", &bob_upper]);
    let outcomes: Vec<&str> = doc["items"].as_array().unwrap().iter().map(|i| i["outcome"].as_str().unwrap()).collect();
    let want: Vec<String> = items.iter().map(|i| format!("{:?}", i.outcome).to_lowercase()).collect();
    assert_eq!(outcomes, want);
    // Bob's own edit wins for him, though Alice wrote later.
    let bobs = doc["items"].as_array().unwrap().iter().find(|i| i["author"] == bob().to_hex()).unwrap();
    assert_eq!(bobs["outcome"], "current");
    let b = &bob().to_hex()[..2];
    let at = json_of(&["at", &path, "2106-02-07T06:28:15Z", "--json", "--strategy", "local-wins", "--as", b]);
    assert_eq!(at["state"]["inc1"], value_json(bobs_db.get("inc1").unwrap()));
    let nobody = (0..=255u8)
        .map(|b| format!("{b:02x}"))
        .find(|p| ![alice(), bob()].iter().any(|a| a.to_hex().starts_with(p.as_str())))
        .unwrap();
    let (code, _, err) = cli(&["stats", &path, "--as", &nobody]);
    assert_eq!(code, 2);
    assert!(err.starts_with(&format!("auroradb: --as {nobody}: no author of ")), "{err}");
}

/// An op at a multiple of the proof interval needs its own proof, as `import_log` requires: a
/// file that proves only its author's last op is damaged there (and the engine refuses it), an
/// export proves it.
#[test]
fn verify_names_an_interval_op_without_its_proof() {
    use auroradb::log::{Hash, PROOF_INTERVAL};
    use auroradb::{Op, OpKind};
    let mut ops: Vec<Op> = Vec::new();
    for seq in 1..=PROOF_INTERVAL + 3 {
        let prev = ops.last().map_or(Hash::ZERO, |o| auroradb::EncodedOp::new(o.clone()).hash);
        let id = OpId::from_millis(T0 + seq, alice());
        ops.push(Op {
            id,
            author: alice(),
            seq,
            prev,
            kind: OpKind::Put { key: format!("k{seq}"), value: Value::Int(1) },
        });
    }
    let bytes = file_of(&ops);
    let report = auroradb_cli::file::read(&bytes, |_, _| {}).unwrap();
    assert_eq!(report.damage.len(), 1, "{:?}", report.damage);
    assert_eq!(report.damage[0].op, Some(ops[PROOF_INTERVAL as usize - 1].id));
    assert!(report.damage[0].reason.contains("no proof of its own"), "{}", report.damage[0].reason);
    let mut db = block_on(Database::open(MemoryStorage::new(), config(None, "timestamp"))).unwrap();
    assert!(block_on(db.import_log(&bytes)).is_err());
    // The engine's export of such a chain proves it.
    let mut a = block_on(Database::open(MemoryStorage::new(), config(Some(0xa1), "timestamp"))).unwrap();
    for seq in 0..PROOF_INTERVAL + 3 {
        block_on(a.put(format!("k{seq}"), Value::Int(1))).unwrap();
    }
    let file = block_on(a.export_log()).unwrap();
    assert!(auroradb_cli::file::read(&file, |_, _| {}).unwrap().damage.is_empty());
    block_on(db.import_log(&file)).unwrap();
}

/// A log file's parts (magic `AUlf`: count, fingerprint, segments), for files made by hand.
type FileBody = (u64, auroradb::log::Fingerprint, Vec<serde_bytes::ByteBuf>);

/// A file segment's parts (magic `AUsg`): first and last id, hash sum, ops, proofs.
type Segment = (OpId, OpId, auroradb::log::RangeSum, Vec<serde_bytes::ByteBuf>, Vec<(u32, auroradb::log::Proof)>);

/// The good fixture's parts.
fn good_file_body() -> FileBody {
    let good = std::fs::read(fixture("good.aulf")).unwrap();
    let body = &good[..good.len() - 32];
    auroradb::log::codec::decode_blob_v("log file", auroradb::MAGIC_LOG_FILE, auroradb::LOG_FILE_VERSION, body).unwrap()
}

/// `body` as a log file: its blob, then the blake3 hash of it.
fn log_file(body: &FileBody) -> Vec<u8> {
    let blob = auroradb::log::codec::encode_blob_v(auroradb::MAGIC_LOG_FILE, auroradb::LOG_FILE_VERSION, body);
    let hash = auroradb::log::Hash::of(&blob);
    [blob, hash.0.to_vec()].concat()
}

/// What `verify` says of a file the engine refuses is what `importLog` says: a segment whose
/// proofs are out of order read whole here once, and was "intact" (exit 0).
#[test]
fn verify_refuses_what_the_engine_refuses() {
    let (count, fingerprint, mut segments) = good_file_body();
    let (magic, version) = (auroradb::log::codec::MAGIC_SEGMENT, auroradb::log::segment::FILE_SEGMENT_VERSION);
    let at = segments
        .iter()
        .position(|s| auroradb::log::codec::decode_blob_v::<Segment>("segment", magic, version, s).unwrap().4.len() > 1)
        .expect("a segment with two proofs");
    let mut seg: Segment = auroradb::log::codec::decode_blob_v("segment", magic, version, &segments[at]).unwrap();
    seg.4.reverse();
    segments[at] = serde_bytes::ByteBuf::from(auroradb::log::codec::encode_blob_v(magic, version, &seg));
    let file = log_file(&(count, fingerprint, segments));
    assert!(
        block_on(async {
            Database::open(MemoryStorage::new(), config(None, "timestamp")).await.unwrap().import_log(&file).await
        })
        .is_err()
    );
    let dir = std::env::temp_dir().join(format!("auroradb-cli-engine-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = write_temp(&dir, "reversed-proofs.aulf", &file);
    let (code, out, _) = cli(&["verify", &path]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("the engine refuses it: corrupt segment: proofs out of order"), "{out}");
    let (code, _, err) = cli(&["log", &path]);
    assert_eq!(code, 1, "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A small hostile file: two hundred thousand segments of one byte each, every one unreadable.
/// `verify` lists the first thousand problems and counts the rest (it once kept a description
/// of each: gigabytes for a file of a few megabytes).
#[test]
fn verify_lists_a_thousand_problems_and_counts_the_rest() {
    let empty = vec![serde_bytes::ByteBuf::new(); 200_000];
    let file = log_file(&(0, auroradb::log::RangeSum::default().fingerprint(), empty));
    let dir = std::env::temp_dir().join(format!("auroradb-cli-many-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = write_temp(&dir, "many.aulf", &file);
    let (code, out, _) = cli(&["verify", &path]);
    assert_eq!(code, 1);
    assert!(out.contains("DAMAGED: 200000 problems"), "{}", &out[..out.len().min(2000)]);
    assert!(out.contains("segment 0: bad magic for segment: expected \"AUsg\", found \"\""), "{}", &out[..2000]);
    assert!(out.contains("... and 199000 more, not listed (the first 1000 are)"));
    assert_eq!(out.lines().filter(|l| l.starts_with("  segment ")).count(), 1000);
    let doc = json_of_code(&["verify", &path, "--json"], 1);
    assert_eq!((doc["damage"].as_array().unwrap().len(), doc["unlisted_damage"].as_u64()), (1000, Some(199_000)));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs the command, expecting exit `code`, and parses its JSON output.
fn json_of_code(args: &[&str], code: i32) -> Json {
    let (got, out, err) = cli(args);
    assert_eq!(got, code, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

/// An op of a segment that does not decode takes only its own proof with it: the other authors'
/// heads in the segment are still proven (every proof of the segment was dropped once, and each
/// author was reported "no proof of authorship" besides the op itself).
#[test]
fn an_op_that_does_not_decode_leaves_the_other_proofs_of_its_segment() {
    let (count, fingerprint, mut segments) = good_file_body();
    let (magic, version) = (auroradb::log::codec::MAGIC_SEGMENT, auroradb::log::segment::FILE_SEGMENT_VERSION);
    let mut seg: Segment = auroradb::log::codec::decode_blob_v("segment", magic, version, &segments[0]).unwrap();
    assert!(seg.4.len() >= 2 && seg.4.iter().all(|(at, _)| *at != 0), "two heads proven, not op #0");
    // Op #0 (Alice's first) cut to its header: it no longer decodes.
    seg.3[0] = serde_bytes::ByteBuf::from(seg.3[0][..5].to_vec());
    segments[0] = serde_bytes::ByteBuf::from(auroradb::log::codec::encode_blob_v(magic, version, &seg));
    let file = log_file(&(count, fingerprint, segments));
    let dir = std::env::temp_dir().join(format!("auroradb-cli-undecoded-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = write_temp(&dir, "undecoded.aulf", &file);
    let (code, out, _) = cli(&["verify", &path]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("op #0 of the segment does not decode"), "{out}");
    assert!(!out.contains("no proof of authorship") && !out.contains("a proof names op"), "{out}");
    assert!(out.contains("2 of 2 authors proven"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}
