//! Loading a log file: read it op by op, then import it into a database in memory.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::time::Duration;

use auroradb::PeerId;
use auroradb::log::{EncodedOp, OpId};
use auroradb::{Config, Database, DbError, MemoryStorage, Strategy};
use futures::executor::block_on;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::CliError;
use crate::file::{self, FileReport};

/// Files with more ops than this get a progress bar (when stderr is a terminal).
pub const PROGRESS_MIN_OPS: u64 = 10_000;

/// How far ahead of this machine's clock an op may be: a file is read, not synced, so ops from a
/// machine whose clock ran ahead are accepted.
const ANY_DRIFT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A log file read and imported.
pub struct Loaded {
    /// The file as named.
    pub path: String,
    /// What reading it found (intact).
    pub report: FileReport,
    /// A database holding exactly the file's ops.
    pub db: Database<MemoryStorage>,
    /// The ops' ids in id order.
    pub ids: Vec<OpId>,
}

/// A progress bar on stderr, shown only for large files on a terminal.
pub(crate) fn progress_bar(total: u64, what: &str) -> ProgressBar {
    if total <= PROGRESS_MIN_OPS || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ops ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

/// Reads `path` op by op. Unreadable files are errors; damaged ones are reported in the result.
pub fn read_report(path: &str) -> Result<FileReport, CliError> {
    let unreadable = |reason: String| CliError::Unreadable { file: path.to_owned(), reason };
    let bytes = read_file(path).map_err(unreadable)?;
    let mut bar: Option<ProgressBar> = None;
    let report = file::read(&bytes, |done, total| {
        let bar = bar.get_or_insert_with(|| progress_bar(total, "reading"));
        if done % 1024 == 0 {
            bar.set_position(done);
        }
    })
    .map_err(|e| unreadable(e.0));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    report
}

/// The most bytes read from what is not a regular file (a pipe, a device such as `/dev/zero`),
/// whose size is not known before it is read.
const MAX_STREAM_BYTES: u64 = 256 << 20;

/// The bytes of `path`: all of a regular file, at most [`MAX_STREAM_BYTES`] of anything else.
fn read_file(path: &str) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if meta.is_dir() {
        return Err("is a directory".into());
    }
    if meta.is_file() {
        return std::fs::read(path).map_err(|e| e.to_string());
    }
    let mut bytes = Vec::new();
    file.take(MAX_STREAM_BYTES + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_STREAM_BYTES {
        return Err(format!("more than {MAX_STREAM_BYTES} bytes, and not a regular file: save it to a file first"));
    }
    Ok(bytes)
}

/// How to materialize the state of a file: the strategy, and which author (if any) reads it.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// The strategy's name.
    pub strategy: &'a str,
    /// A hex prefix of the author whose ops count as local (`local-wins`, `remote-wins`); none:
    /// every op is remote.
    pub reader: Option<&'a str>,
}

/// A database in memory with the strategy named, for reading a file as `peer`.
pub fn database(strategy: &str, peer: Option<PeerId>) -> Result<Database<MemoryStorage>, DbError> {
    let mut config = Config::new("auroradb-cli", auroradb::log::system_clock);
    config.strategy = Strategy::from_name(strategy)?;
    config.max_drift = ANY_DRIFT;
    config.peer = peer;
    block_on(Database::open(MemoryStorage::new(), config))
}

/// The one author of the report whose hex id starts with `prefix`.
fn author(path: &str, report: &FileReport, prefix: &str) -> Result<PeerId, CliError> {
    let prefix = prefix.to_ascii_lowercase();
    let found: BTreeSet<PeerId> =
        report.ops.iter().map(|e| e.op.author).filter(|a| a.to_hex().starts_with(&prefix)).collect();
    match found.len() {
        1 => Ok(found.into_iter().next().expect("one author")),
        0 => Err(CliError::Usage(format!("--as {prefix}: no author of {path} starts with it"))),
        n => Err(CliError::Usage(format!("--as {prefix}: {n} authors of {path} start with it"))),
    }
}

/// Imports an intact report's ops into a fresh database, in one all-or-nothing commit: the
/// proofs of the authors' newest ops prove the rest through the chains, so the ops cannot be
/// taken in by parts.
pub fn import(path: &str, report: &FileReport, view: View<'_>) -> Result<Database<MemoryStorage>, CliError> {
    let damaged = |e: DbError| CliError::Damaged { file: path.to_owned(), reason: e.to_string() };
    let peer = view.reader.map(|p| author(path, report, p)).transpose()?;
    let mut db = database(view.strategy, peer).map_err(damaged)?;
    let mut ops: Vec<EncodedOp> = report.ops.clone();
    ops.sort_by_key(|e| e.op.id);
    let bar = progress_bar(ops.len() as u64, "importing");
    let count = ops.len() as u64;
    block_on(db.apply_remote(ops, &report.proofs)).map_err(damaged)?;
    bar.inc(count);
    bar.finish_and_clear();
    Ok(db)
}

/// Reads and imports `path`; a damaged file is an error naming the first damage.
pub fn open(path: &str, view: View<'_>) -> Result<Loaded, CliError> {
    let report = read_report(path)?;
    if let Some(first) = report.damage.first() {
        let more = match report.damage.len() + report.unlisted {
            1 => String::new(),
            n => format!(" (and {} more: run `auroradb verify`)", n - 1),
        };
        return Err(CliError::Damaged { file: path.to_owned(), reason: format!("{first}{more}") });
    }
    let db = import(path, &report, view)?;
    let mut ids: Vec<OpId> = report.ops.iter().map(|e| e.op.id).collect();
    ids.sort();
    Ok(Loaded { path: path.to_owned(), report, db, ids })
}
