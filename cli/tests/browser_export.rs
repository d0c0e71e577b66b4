//! The `auroradb` command on a log exported in the browser (`exportLog()` in headless Chromium,
//! kept as `tests/fixtures/cli/browser.aulf` by `tests/web/export.test.mjs`; rewrite it with
//! `AURORADB_BLESS=1 ./scripts/web-test.sh`), whole, with a byte flipped inside an op, and cut
//! short: each answer against what the Rust API says about the same bytes.

use auroradb::{Config, Database, MemoryStorage};
use futures::executor::block_on;
use serde_json::Value as Json;

fn fixture() -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/cli/browser.aulf");
    std::fs::read(path).expect("tests/fixtures/cli/browser.aulf, exported by tests/web/export.test.mjs")
}

fn write_temp(name: &str, bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("auroradb-cli-browser-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}

fn cli(args: &[&str]) -> (i32, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = auroradb_cli::run(std::iter::once("auroradb").chain(args.iter().copied()), &mut out, &mut err);
    (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

fn imported(bytes: &[u8]) -> Database<MemoryStorage> {
    block_on(async {
        let mut config = Config::new("browser-export", auroradb::log::system_clock);
        // The file was written whenever it was blessed: its times are all in the past.
        config.max_drift = std::time::Duration::from_secs(100 * 365 * 24 * 3600);
        let mut db = Database::open(MemoryStorage::new(), config).await.unwrap();
        db.import_log(bytes).await.unwrap();
        db
    })
}

#[test]
fn a_browser_export_verifies_and_reads_as_the_rust_api_reads_it() {
    let bytes = fixture();
    let path = write_temp("browser.aulf", &bytes);
    let mut db = imported(&bytes);
    let report = block_on(db.verify()).unwrap();

    let (code, out, err) = cli(&["verify", &path, "--json"]);
    assert_eq!(code, 0, "{err}");
    let doc: Json = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["intact"], true);
    assert_eq!(doc["ops"], report.ops);
    assert_eq!(doc["fingerprint"], report.fingerprint.to_string());

    let (code, out, err) = cli(&["stats", &path, "--json"]);
    assert_eq!(code, 0, "{err}");
    let stats: Json = serde_json::from_str(&out).unwrap();
    assert_eq!(stats["keys_live"], db.count());
    assert_eq!(stats["ops"], report.ops);

    // The state at the end is the database's.
    let last = db.log().ids(..).last().map(|(id, _)| id.to_string()).unwrap();
    let (code, out, err) = cli(&["at", &path, &last, "--json"]);
    assert_eq!(code, 0, "{err}");
    let state: Json = serde_json::from_str(&out).unwrap();
    let want: serde_json::Map<String, Json> =
        db.all().iter().map(|(k, v)| (k.clone(), auroradb_cli::render::value_json(v))).collect();
    assert_eq!(state["state"], Json::Object(want));
    assert_eq!(state["ops"], report.ops);
    assert_eq!(state["keys"], db.count());
}

#[test]
fn a_browser_export_damaged_or_cut_short_is_named() {
    let bytes = fixture();
    // A byte inside the first op's value ("héllo" is written in the second op; flip one of its
    // bytes), the file hash left as it was.
    let at = bytes.windows(5).position(|w| w == "héll".as_bytes()).expect("the text is in the file");
    let mut flipped = bytes.clone();
    flipped[at] ^= 0x01;
    let (code, out, err) = cli(&["verify", &write_temp("flipped.aulf", &flipped)]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("DAMAGED"), "{out}");

    for cut in [4, 8, bytes.len() / 2, bytes.len() - 1] {
        let path = write_temp(&format!("cut-{cut}.aulf"), &bytes[..cut]);
        let (code, out, err) = cli(&["stats", &path]);
        assert_eq!(code, 2, "cut at {cut}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "cut at {cut}: {err}");
        assert!(err.starts_with(&format!("auroradb: {path}: ")), "{err}");
    }
}
