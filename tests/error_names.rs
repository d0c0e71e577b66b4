//! The one table of JavaScript error names ([`ErrorName`]) against what JavaScript sees: every
//! name must be in the `AuroraErrorName` union of `web/js/auroradb.d.ts`, and every error name
//! the JavaScript sources (`web/js/`) make must be in the table. A name added on one side only
//! fails here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use auroradb::{DbError, ErrorName, StorageError};
use auroradb_log::{LogError, PeerId};
use auroradb_net::NetError;

fn web_js() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web/js")
}

/// The quoted names of `export type AuroraErrorName = | 'A' | 'B' ...;` in the `.d.ts`.
fn declared_names() -> BTreeSet<String> {
    let dts = std::fs::read_to_string(web_js().join("auroradb.d.ts")).expect("web/js/auroradb.d.ts");
    let start = dts.find("export type AuroraErrorName =").expect("the .d.ts declares AuroraErrorName");
    let union = &dts[start..];
    let union = &union[..union.find(';').expect("the AuroraErrorName union ends with ';'")];
    union.split('|').skip(1).map(|part| part.trim().trim_matches('\'').to_owned()).collect()
}

/// The JavaScript sources under `web/js/` (not the `.d.ts`).
fn js_sources(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).expect("web/js is readable") {
        let path = entry.unwrap().path();
        if path.is_dir() {
            js_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "js") {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((path, text));
        }
    }
}

/// The string literal right after each occurrence of `prefix` (`namedError('X'` gives `X`).
fn names_after(text: &str, prefix: &str) -> Vec<String> {
    text.match_indices(prefix)
        .filter_map(|(at, _)| {
            let rest = &text[at + prefix.len()..];
            let quote = rest.chars().next().filter(|c| matches!(c, '\'' | '"'))?;
            let rest = &rest[1..];
            Some(rest[..rest.find(quote)?].to_owned())
        })
        .collect()
}

#[test]
fn every_name_is_declared_in_the_dts() {
    let declared = declared_names();
    let missing: Vec<&str> = ErrorName::ALL.iter().map(|n| n.as_str()).filter(|n| !declared.contains(*n)).collect();
    assert!(missing.is_empty(), "missing from AuroraErrorName in web/js/auroradb.d.ts: {missing:?}");
    let table: BTreeSet<&str> = ErrorName::ALL.iter().map(|n| n.as_str()).collect();
    let unknown: Vec<&String> = declared.iter().filter(|n| !table.contains(n.as_str())).collect();
    assert!(unknown.is_empty(), "AuroraErrorName lists names that are not in ErrorName: {unknown:?}");
}

#[test]
fn javascript_makes_only_names_of_the_table() {
    let table: BTreeSet<&str> = ErrorName::ALL.iter().map(|n| n.as_str()).collect();
    let mut sources = Vec::new();
    js_sources(&web_js(), &mut sources);
    let mut seen = 0;
    for (path, text) in &sources {
        for prefix in ["namedError(", ".name = ", "name: "] {
            for name in names_after(text, prefix) {
                // `name: '...'` is also a field of plain objects; only error names matter here.
                if prefix == "name: " && !name.ends_with("Error") {
                    continue;
                }
                seen += 1;
                assert!(table.contains(name.as_str()), "{}: error name {name:?} is not in ErrorName", path.display());
            }
        }
    }
    assert!(seen >= 4, "the scan found the JavaScript error names ({seen})");
}

#[test]
fn names_are_distinct_and_end_in_error() {
    let names: BTreeSet<&str> = ErrorName::ALL.iter().map(|n| n.as_str()).collect();
    assert_eq!(names.len(), ErrorName::ALL.len(), "a name is listed twice");
    for name in names {
        assert!(name.ends_with("Error"), "{name}");
    }
}

#[test]
fn engine_and_sync_errors_take_their_names_from_the_table() {
    assert_eq!(DbError::InvalidInput("x".into()).error_name(), ErrorName::InvalidInput);
    assert_eq!(DbError::Storage(StorageError::Closed).name(), "DatabaseClosedError");
    assert_eq!(DbError::Conflict { key: "k".into() }.error_name(), ErrorName::Conflict);
    assert_eq!(DbError::Storage(StorageError::Conflict).error_name(), ErrorName::Conflict);
    assert_eq!(DbError::Aborted("x".into()).name(), "TransactionAbortedError");

    let peer = PeerId([7; 16]);
    let hash = NetError::Log(LogError::HashMismatch { what: "op" });
    assert_eq!(ErrorName::of_sync(&hash.from_peer(peer)), ErrorName::HashMismatch);
    assert_eq!(ErrorName::of_sync(&NetError::Flood { limit: 1 }), ErrorName::Flood);
    assert_eq!(ErrorName::of_sync(&NetError::Truncated { expected: 2, got: 1 }).as_str(), "TruncatedFrameError");
    assert_eq!(ErrorName::of_sync(&NetError::Transport { reason: "x".into() }), ErrorName::Transport);
    // The names sync errors have always had in `error` events.
    for (e, name) in [
        (NetError::Corrupt { what: "hello", reason: "x".into() }, "CorruptMessageError"),
        (NetError::FrameTooLarge { size: 2, limit: 1 }, "FrameTooLargeError"),
        (NetError::Replay { seq: 1 }, "ReplayError"),
        (NetError::Unexpected { reason: "x" }, "UnexpectedMessageError"),
        (NetError::NotConnected(peer), "NotConnectedError"),
        (NetError::OpTooLarge { size: 2, limit: 1 }, "OpTooLargeError"),
        (NetError::Replica { reason: "x".into() }, "StoreError"),
        (NetError::Log(LogError::TooLarge { what: "segment", size: 2, limit: 1 }), "TooLargeError"),
    ] {
        assert_eq!(ErrorName::of_sync(&e).as_str(), name, "{e}");
    }
}
