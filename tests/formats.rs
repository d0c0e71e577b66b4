//! Golden fixtures of what the engine itself stores and exports, byte for byte, in
//! `tests/fixtures/db/`: the meta records (chain head, schema, an author slot's identity, a kept
//! proof), a journal entry and a log file. They are taken from a real database, so they show both the
//! formats and that the engine writes them (the identity with its random secret key replaced by
//! a fixed one).
//!
//! A change to any of these formats makes this test fail until the fixtures are regenerated on
//! purpose:
//!
//! ```text
//! AURORADB_BLESS=1 cargo test -p auroradb --test formats
//! ```
//!
//! `tests/fixtures/db/legacy/` holds records as an earlier release wrote them (one magic,
//! `AUmt`, for three record kinds). Blessing never rewrites them: they are history. The schema and
//! journal entries still read; the chain head, of the format before ops were signed, is refused
//! with `UnsupportedVersionError`.

use std::path::PathBuf;

use auroradb::log::{Identity, LogError, set_manual_clock};
use auroradb::{Config, Database, DbError, IndexSpec, MemoryStorage, PeerId, Storage, Store, Value};
use auroradb_log::{advance_manual_clock, manual_clock};
use futures::executor::block_on;

/// The sample's signing identities (fixed secrets, so the fixtures are reproducible).
fn identity(n: u8) -> Identity {
    Identity::from_secret(&[n; 32])
}
const ALICE: u8 = 0xa1;
const BOB: u8 = 0xb0;
const CAROL: u8 = 0xc0;
/// 2023-11-14T22:13:20Z.
const T0: u64 = 1_700_000_000_000;

fn peer(n: u8) -> PeerId {
    identity(n).peer()
}

/// Fixture file → (store, key) of the record it holds, in the sample database.
fn records() -> [(&'static str, Store, Vec<u8>); 3] {
    [
        ("meta_head.bin", Store::Meta, [&b"head/"[..], peer(ALICE).as_bytes()].concat()),
        ("meta_schema.bin", Store::Meta, b"schema".to_vec()),
        // The journal entry of commit 3: the import of Bob's two ops.
        ("journal.bin", Store::Journal, vec![0, 0, 0, 0, 0, 0, 0, 3]),
    ]
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/db")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn config(who: u8) -> Config {
    let mut c = Config::new("formats", manual_clock);
    c.identity = Some(identity(who));
    c.version = 2;
    c.key_path = Some("id".into());
    c.indexes = vec![IndexSpec::new("email", true), IndexSpec::new("team", false)];
    c
}

fn user(id: &str, email: &str) -> Value {
    Value::map([("id", Value::from(id)), ("email", Value::from(email)), ("team", Value::from("red"))])
}

/// Bob's log file: two puts.
async fn bobs_file() -> Vec<u8> {
    let mut bob = Database::open(MemoryStorage::new(), config(BOB)).await.unwrap();
    advance_manual_clock(7);
    bob.put("b1", user("b1", "b1@x")).await.unwrap();
    advance_manual_clock(7);
    bob.put("b2", user("b2", "b2@x")).await.unwrap();
    bob.export_log().await.unwrap()
}

/// The sample database: Alice adds a user (commit 1), removes a key (commit 2), imports Bob's
/// two ops (commit 3); `reader` is a second connection opened before the import.
struct Sample {
    storage: MemoryStorage,
    alice: Database<MemoryStorage>,
    reader: Database<MemoryStorage>,
}

async fn sample() -> Sample {
    set_manual_clock(T0);
    let bob = bobs_file().await;
    let storage = MemoryStorage::new();
    let mut alice = Database::open(storage.clone(), config(ALICE)).await.unwrap();
    advance_manual_clock(7);
    alice.add(user("a1", "a1@x")).await.unwrap();
    advance_manual_clock(7);
    alice.remove("gone").await.unwrap();
    let reader = Database::open(storage.clone(), config(CAROL)).await.unwrap();
    alice.import_log(&bob).await.unwrap();
    Sample { storage, alice, reader }
}

/// The secret key of the author slot identity fixture.
const SLOT_SECRET: [u8; 32] = [0x1d; 32];

/// The meta key of author slot 0's identity.
const SLOT_KEY: &[u8] = b"identity/0";

/// A storage's first connection without an identity, and the identity record it stored.
async fn slot_record() -> (Database<MemoryStorage>, Vec<u8>) {
    let storage = MemoryStorage::new();
    let mut c = config(ALICE);
    c.identity = None;
    let db = Database::open(storage.clone(), c).await.unwrap();
    let record = storage.get(Store::Meta, SLOT_KEY).await.unwrap().expect("slot 0's identity is stored");
    (db, record)
}

/// The kept proof of Bob's op at seq 256, the first at a multiple of the proof interval, as
/// the commit that adds the op stores it.
async fn proof_record() -> Vec<u8> {
    set_manual_clock(T0);
    let storage = MemoryStorage::new();
    let mut bob = Database::open(storage.clone(), config(BOB)).await.unwrap();
    let k = auroradb::log::PROOF_INTERVAL;
    for i in 0..k {
        advance_manual_clock(7);
        bob.add(user(&format!("p{i}"), &format!("p{i}@x"))).await.unwrap();
    }
    let key = [&b"proof/"[..], peer(BOB).as_bytes(), &k.to_be_bytes()].concat();
    storage.get(Store::Meta, &key).await.unwrap().expect("the proof of the op at the interval is stored")
}

/// Every fixture: file name and bytes.
fn fixtures() -> Vec<(String, Vec<u8>)> {
    block_on(async {
        let mut s = sample().await;
        let mut out = Vec::new();
        for (name, store, key) in records() {
            let bytes = s.storage.get(store, &key).await.unwrap().unwrap_or_else(|| panic!("{name} is not stored"));
            out.push((name.to_owned(), bytes));
        }
        out.push(("log_file.bin".to_owned(), s.alice.export_log().await.unwrap()));
        let (_, record) = slot_record().await;
        out.push(("meta_identity.bin".to_owned(), [&record[..5], &SLOT_SECRET[..]].concat()));
        out.push(("meta_proof.bin".to_owned(), proof_record().await));
        // The history mark once `history` wrote the rows of the sample's four ops.
        s.alice.history("a1").await.unwrap();
        let mark = s.storage.get(Store::Meta, b"history").await.unwrap().expect("the history mark is stored");
        out.push(("meta_history.bin".to_owned(), mark));
        out
    })
}

fn blessing() -> bool {
    std::env::var("AURORADB_BLESS").is_ok_and(|v| v == "1")
}

/// With `AURORADB_BLESS=1`, writes the fixtures (once per run, before any test reads them).
fn bless_if_asked() {
    static BLESS: std::sync::Once = std::sync::Once::new();
    BLESS.call_once(|| {
        if blessing() {
            std::fs::create_dir_all(dir()).unwrap();
            for (name, bytes) in fixtures() {
                std::fs::write(dir().join(name), bytes).unwrap();
            }
        }
    });
}

/// A copy of `bytes` with another magic.
fn with_magic(bytes: &[u8], magic: &[u8; 4]) -> Vec<u8> {
    [&magic[..], &bytes[4..]].concat()
}

/// Opens the sample's storage again (as Alice) after replacing the records named by `(store,
/// key, bytes)`.
async fn reopen_with(replaced: &[(Store, Vec<u8>, Vec<u8>)]) -> Result<Database<MemoryStorage>, DbError> {
    let s = sample().await;
    drop((s.alice, s.reader));
    for (store, key, bytes) in replaced {
        assert!(s.storage.tamper(*store, key, |v| *v = bytes.clone()), "{key:?} is stored");
    }
    Database::open(s.storage, config(ALICE)).await
}

/// The sample's second connection catches up with a commit whose journal entry is `entry`.
async fn catch_up_with(entry: Vec<u8>) -> Result<Database<MemoryStorage>, DbError> {
    let mut s = sample().await;
    let [.., (_, _, key)] = records();
    assert!(s.storage.tamper(Store::Journal, &key, |v| *v = entry));
    s.reader.catch_up().await?;
    Ok(s.reader)
}

#[test]
fn fixtures_match_byte_for_byte() {
    bless_if_asked();
    let mut stale = Vec::new();
    for (name, bytes) in fixtures() {
        match std::fs::read(dir().join(&name)) {
            Ok(on_disk) if on_disk == bytes => {}
            Ok(_) => stale.push(format!("{name} differs")),
            Err(e) => stale.push(format!("{name}: {e}")),
        }
    }
    assert!(
        stale.is_empty(),
        "the database formats changed: {stale:?}\nif deliberate, regenerate with AURORADB_BLESS=1 and update docs/formats.md"
    );
}

#[test]
fn each_record_kind_has_its_own_magic() {
    bless_if_asked();
    let magics: Vec<(&str, [u8; 4])> = [
        "meta_head.bin",
        "meta_schema.bin",
        "journal.bin",
        "log_file.bin",
        "meta_identity.bin",
        "meta_proof.bin",
        "meta_history.bin",
    ]
    .into_iter()
    .map(|name| (name, read(name)[..4].try_into().unwrap()))
    .collect();
    assert_eq!(
        magics,
        [
            ("meta_head.bin", *b"AUhd"),
            ("meta_schema.bin", *b"AUsc"),
            ("journal.bin", *b"AUjn"),
            ("log_file.bin", *b"AUlf"),
            ("meta_identity.bin", *b"AUid"),
            ("meta_proof.bin", *b"AUpk"),
            ("meta_history.bin", *b"AUhm"),
        ]
    );
    // No commit counter: the key of the last journal entry is the number of the newest commit.
    assert!(!dir().join("meta_commit.bin").exists());
}

#[test]
fn the_log_file_fixture_imports() {
    bless_if_asked();
    block_on(async {
        let s = sample().await;
        set_manual_clock(T0 + 1_000);
        let mut fresh = Database::open(MemoryStorage::new(), config(CAROL)).await.unwrap();
        let (info, _) = fresh.import_log(&read("log_file.bin")).await.unwrap();
        assert_eq!((info.ops, info.imported), (4, 4));
        assert_eq!(info.fingerprint, s.alice.log().fingerprint(..));
        assert_eq!(fresh.all(), s.alice.all());
        assert_eq!(fresh.verify().await.unwrap().authors, 2);

        // One changed byte anywhere is refused and imports nothing.
        let mut bad = read("log_file.bin");
        let at = bad.len() / 2;
        bad[at] ^= 1;
        let mut other = Database::open(MemoryStorage::new(), config(CAROL)).await.unwrap();
        assert!(other.import_log(&bad).await.is_err());
        assert_eq!(other.count(), 0);
    });
}

#[test]
fn the_record_fixtures_open() {
    bless_if_asked();
    block_on(async {
        let replaced: Vec<(Store, Vec<u8>, Vec<u8>)> =
            records().into_iter().map(|(name, store, key)| (store, key, read(name))).collect();
        let mut db = reopen_with(&replaced).await.unwrap();
        assert_eq!(db.log().heads()[&peer(ALICE)].seq, 2);
        assert_eq!(db.verify().await.unwrap().ops, 4);
        let reader = catch_up_with(read("journal.bin")).await.unwrap();
        assert_eq!(reader.get("b2").and_then(|v| v.field("email")), Some(&Value::from("b2@x")));
        // The entry an earlier release wrote for that commit (version 2: no `flushed`, no heads)
        // reads the same: its commit wrote its heads to meta.
        let v2 = read("legacy/journal_v2.bin");
        assert_eq!((&v2[..5], v2.len()), (&b"AUjn\x02"[..], 58));
        let mut reader = catch_up_with(v2.clone()).await.unwrap();
        assert_eq!(reader.get("b2").and_then(|v| v.field("email")), Some(&Value::from("b2@x")));
        assert_eq!(reader.log().heads()[&peer(BOB)].seq, 2);
        reader.verify().await.unwrap();
        // The same commit's entry of version 3 (no clock time): it reads the same too.
        let v3 = read("legacy/journal_v3.bin");
        assert_eq!((&v3[..5], v3.len()), (&b"AUjn\x03"[..], 60));
        let reader = catch_up_with(v3.clone()).await.unwrap();
        assert_eq!(reader.get("b2").and_then(|v| v.field("email")), Some(&Value::from("b2@x")));
        let db = reopen_with(&[(Store::Journal, records()[2].2.clone(), v3)]).await.unwrap();
        assert_eq!(db.log().heads()[&peer(BOB)].seq, 2);
        // ...also as the newest entry at open.
        let mut db = reopen_with(&[(Store::Journal, records()[2].2.clone(), v2)]).await.unwrap();
        assert_eq!((db.log().heads()[&peer(BOB)].seq, db.log().heads()[&peer(ALICE)].seq), (2, 2));
        assert_eq!(db.verify().await.unwrap().ops, 4);
    });
}

#[test]
fn the_identity_fixture_is_what_a_slot_stores_and_reads_as_its_author() {
    bless_if_asked();
    block_on(async {
        let fixture = read("meta_identity.bin");
        let (db, record) = slot_record().await;
        // What the engine stores: the fixture's header and length, the connection's own key.
        assert_eq!((&record[..5], record.len()), (&fixture[..5], fixture.len()));
        let secret: [u8; 32] = record[5..].try_into().unwrap();
        assert_eq!(Identity::from_secret(&secret).peer(), db.peer());
        // The fixture in a slot: the next connection writes as its author.
        let storage = db.storage().clone();
        drop(db);
        assert!(storage.tamper(Store::Meta, SLOT_KEY, |v| *v = fixture.clone()));
        let mut c = config(ALICE);
        c.identity = None;
        let db = Database::open(storage.clone(), c.clone()).await.unwrap();
        assert_eq!(db.peer(), Identity::from_secret(&SLOT_SECRET).peer());
        drop(db);
        // Under another kind's magic it is refused, never misread.
        assert!(storage.tamper(Store::Meta, SLOT_KEY, |v| *v = with_magic(&fixture, b"AUhd")));
        let err = Database::open(storage, c).await.unwrap_err();
        assert!(matches!(&err, DbError::Log(LogError::BadMagic { what: "identity", .. })), "{err:?}");
    });
}

#[test]
fn the_legacy_schema_is_the_current_one_of_format_1_without_the_strategy() {
    bless_if_asked();
    let (old, current) = (read("legacy/meta_schema.bin"), read("meta_schema.bin"));
    assert_eq!((&old[..4], old[4]), (&b"AUmt"[..], 1));
    assert_eq!((&current[..4], current[4]), (&b"AUsc"[..], 2));
    // Format 2 appends the strategy's name, `Some("timestamp")`.
    assert_eq!(current[5..], [&old[5..], &[1, 9][..], b"timestamp"].concat());
}

#[test]
fn legacy_records_still_read_and_a_head_from_before_signing_is_refused() {
    bless_if_asked();
    block_on(async {
        let [(_, _, head_key), (_, _, schema_key), ..] = records();
        let mut db = reopen_with(&[(Store::Meta, schema_key.clone(), read("legacy/meta_schema.bin"))]).await.unwrap();
        assert_eq!(db.verify().await.unwrap().ops, 4);
        // The schema is written again once, with the strategy the format of then did not hold.
        assert_eq!(db.storage().get(Store::Meta, &schema_key).await.unwrap().unwrap(), read("meta_schema.bin"));

        // A journal entry under the old magic reads as one: it names the ops of its commit (ops of
        // the earlier release's sample, which this one does not hold).
        let err = catch_up_with(read("legacy/journal.bin")).await.unwrap_err();
        assert!(matches!(&err, DbError::Corrupt(m) if m.contains("journal names op")), "{err:?}");

        // A chain head without a proof of authorship (format 1, old magic or new) is refused,
        // never misread: the database was written before ops were signed.
        let legacy_head = read("legacy/meta_head.bin");
        let renamed = with_magic(&legacy_head, b"AUhd");
        for old in [legacy_head, renamed] {
            let err = reopen_with(&[(Store::Meta, head_key.clone(), old)]).await.unwrap_err();
            assert!(
                matches!(
                    &err,
                    DbError::Log(LogError::UnsupportedVersion { what: "chain head", found: 1, supported: 2 })
                ),
                "{err:?}"
            );
            assert_eq!(err.name(), "UnsupportedVersionError");
        }
    });
}

#[test]
fn a_record_under_another_kinds_magic_is_refused() {
    bless_if_asked();
    block_on(async {
        let bad_magic = |e: &DbError, what: &str| {
            matches!(e, DbError::Log(LogError::BadMagic { what: w, .. }) if *w == what)
                && e.name() == "CorruptDataError"
        };
        let [(_, _, head_key), (_, _, schema_key), ..] = records();
        let head_as_schema = with_magic(&read("meta_head.bin"), b"AUsc");
        let err = reopen_with(&[(Store::Meta, head_key.clone(), head_as_schema)]).await.unwrap_err();
        assert!(bad_magic(&err, "chain head"), "{err:?}");
        let schema_as_journal = with_magic(&read("meta_schema.bin"), b"AUjn");
        let err = reopen_with(&[(Store::Meta, schema_key, schema_as_journal)]).await.unwrap_err();
        assert!(bad_magic(&err, "schema"), "{err:?}");
        let err = catch_up_with(with_magic(&read("journal.bin"), b"AUhd")).await.unwrap_err();
        assert!(bad_magic(&err, "journal entry"), "{err:?}");

        // The old magic with an unknown version is not a legacy record either.
        let mut future = read("legacy/meta_head.bin");
        future[4] = 9;
        let err = reopen_with(&[(Store::Meta, head_key, future)]).await.unwrap_err();
        assert_eq!(err.name(), "UnsupportedVersionError", "{err:?}");
    });
}
