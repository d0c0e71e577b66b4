//! `verify`, `log` and `stats`, and the dispatch of every subcommand.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use auroradb::OpKind;
use futures::executor::block_on;
use serde_json::{Value as Json, json};

use crate::args::{Cli, Command};
use crate::file::{Damage, MAX_LISTED};
use crate::load::{View, import, open, read_report};
use crate::render::{op_cells, op_json, table};
use crate::travel;
use crate::when::{When, id_time};
use crate::{CliError, Loaded};

/// Runs a parsed command line; returns the exit code.
pub(crate) fn run(cli: &Cli, out: &mut dyn Write) -> Result<i32, CliError> {
    let strategy = View { strategy: cli.strategy.as_str(), reader: cli.reader.as_deref() };
    match &cli.command {
        Command::Verify { file } => return verify(cli, file, out),
        Command::Log { file, key, author, kind, from, to } => {
            let loaded = open(file, strategy)?;
            let filter = Filter {
                key: key.clone(),
                author: author.as_ref().map(|a| a.to_ascii_lowercase()),
                kind: kind.map(|k| k.as_str()),
                from: from.as_deref().map(|t| when(t, &loaded)).transpose()?,
                to: to.as_deref().map(|t| when(t, &loaded)).transpose()?,
            };
            log(cli, &loaded, &filter, out)
        }
        Command::At { file, time } => {
            let mut loaded = open(file, strategy)?;
            let at = when(time, &loaded)?;
            travel::at(cli, &mut loaded, at, out)
        }
        Command::History { file, key } => travel::history(cli, &mut open(file, strategy)?, key, out),
        Command::Diff { file, from, to } => {
            let mut loaded = open(file, strategy)?;
            let (a, b) = (when(from, &loaded)?, when(to, &loaded)?);
            travel::diff(cli, &mut loaded, a, b, out)
        }
        Command::Replay { file, from, to } => {
            let mut loaded = open(file, strategy)?;
            let from = from.as_deref().map(|t| when(t, &loaded)).transpose()?;
            let to = to.as_deref().map(|t| when(t, &loaded)).transpose()?;
            travel::replay(cli, &mut loaded, from, to, out)
        }
        Command::Stats { file } => stats(cli, &open(file, strategy)?, out),
    }?;
    Ok(0)
}

/// `n thing` or `n things`.
pub(crate) fn plural(n: usize, thing: &str) -> String {
    if n == 1 { format!("1 {thing}") } else { format!("{n} {thing}s") }
}

/// Parses a time argument against the file's op ids.
pub(crate) fn when(text: &str, loaded: &Loaded) -> Result<When, CliError> {
    When::parse(text, &loaded.ids).map_err(CliError::Usage)
}

/// An engine error on a file that read as intact.
pub(crate) fn engine(loaded: &Loaded) -> impl Fn(auroradb::DbError) -> CliError + '_ {
    |e| CliError::Damaged { file: loaded.path.clone(), reason: e.to_string() }
}

fn damage_json(d: &Damage) -> Json {
    json!({
        "segment": d.segment,
        "op": d.op.map(|id| id.to_string()),
        "author": d.author.map(|(a, _)| a.to_hex()),
        "seq": d.author.map(|(_, s)| s),
        "reason": d.reason,
        "message": d.to_string(),
    })
}

fn verify(cli: &Cli, path: &str, out: &mut dyn Write) -> Result<i32, CliError> {
    let report = read_report(path)?;
    let mut engine = Json::Null;
    let mut damage: Vec<Json> = report.damage.iter().map(damage_json).collect();
    let mut messages: Vec<String> = report.damage.iter().map(ToString::to_string).collect();
    if report.intact() {
        let checked = import(path, &report, View { strategy: cli.strategy.as_str(), reader: cli.reader.as_deref() })
            .and_then(|mut db| {
                block_on(db.verify()).map_err(|e| CliError::Damaged { file: path.into(), reason: e.to_string() })
            });
        match checked {
            Ok(r) => {
                engine = json!({
                    "ops": r.ops,
                    "authors": r.authors,
                    "fingerprint": r.fingerprint.to_string(),
                    "checkpoints": r.checkpoints,
                    "keys": r.keys,
                    "strategy": cli.strategy.as_str(),
                });
            }
            Err(CliError::Damaged { reason, .. }) => {
                let reason = format!("the engine refused it: {reason}");
                damage.push(json!({ "segment": null, "op": null, "author": null, "seq": null, "reason": reason, "message": reason }));
                messages.push(reason);
            }
            Err(e) => return Err(e),
        }
    }
    let intact = damage.is_empty();
    if cli.json {
        let doc = json!({
            "file": path,
            "bytes": report.bytes,
            "format_version": auroradb::LOG_FILE_VERSION,
            "intact": intact,
            "file_hash_ok": report.hash_ok,
            "segments": report.segments,
            "ops": report.ops.len(),
            "claimed_ops": report.count,
            "authors": report.authors,
            "fingerprint": report.fingerprint.to_string(),
            "signatures": json!({ "authors": report.authors, "proven": report.proven }),
            "engine": engine,
            "damage": damage,
            "unlisted_damage": report.unlisted,
        });
        writeln!(out, "{doc}")?;
    } else {
        let ok = |b: bool| if b { "ok" } else { "DIFFERS" };
        let mut rows = vec![
            vec![
                "file".into(),
                format!("{path} ({} bytes, log file format {})", report.bytes, auroradb::LOG_FILE_VERSION),
            ],
            vec!["file hash".into(), format!("{} (blake3 of everything before it)", ok(report.hash_ok))],
            vec!["segments".into(), report.segments.to_string()],
            vec!["ops".into(), format!("{} read, {} claimed", report.ops.len(), report.count)],
            vec!["authors".into(), format!("{} chains walked", report.authors)],
            vec!["fingerprint".into(), report.fingerprint.to_string()],
            vec![
                "signatures".into(),
                format!("{} of {} authors proven by their key (each one's newest op)", report.proven, report.authors),
            ],
        ];
        if let Some(e) = engine.as_object() {
            rows.push(vec![
                "engine".into(),
                format!(
                    "imported and verified: {} ops, {} chains, {} checkpoints, {} live keys ({})",
                    e["ops"],
                    e["authors"],
                    e["checkpoints"],
                    e["keys"],
                    cli.strategy.as_str()
                ),
            ]);
        }
        out.write_all(table(&["CHECK", "RESULT"], &rows).as_bytes())?;
        if intact {
            writeln!(out, "intact")?;
        } else {
            let n = messages.len() + report.unlisted;
            writeln!(out, "DAMAGED: {n} problem{}", if n == 1 { "" } else { "s" })?;
            for m in messages {
                writeln!(out, "  {m}")?;
            }
            if report.unlisted > 0 {
                writeln!(out, "  ... and {} more, not listed (the first {} are)", report.unlisted, MAX_LISTED)?;
            }
        }
    }
    Ok(if intact { 0 } else { 1 })
}

/// The filters of `log`.
pub(crate) struct Filter {
    key: Option<String>,
    author: Option<String>,
    kind: Option<&'static str>,
    from: Option<When>,
    to: Option<When>,
}

impl Filter {
    fn keeps(&self, op: &auroradb::Op) -> bool {
        self.key.as_ref().is_none_or(|k| op.kind.touches(k))
            && self.author.as_ref().is_none_or(|a| op.author.to_hex().starts_with(a.as_str()))
            && self.kind.is_none_or(|k| op.kind.name() == k)
            && self.from.is_none_or(|w| op.id >= w.lower())
            && self.to.is_none_or(|w| op.id <= w.upper())
    }
}

fn log(cli: &Cli, loaded: &Loaded, filter: &Filter, out: &mut dyn Write) -> Result<(), CliError> {
    let mut ops: Vec<_> = loaded.report.ops.iter().filter(|e| filter.keeps(&e.op)).collect();
    ops.sort_by_key(|e| e.op.id);
    if cli.json {
        for e in ops {
            writeln!(out, "{}", Json::Object(op_json(&e.op, &e.hash)))?;
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = ops
        .iter()
        .map(|e| {
            let (key, value) = op_cells(&e.op, cli.width);
            vec![
                id_time(&e.op.id),
                e.op.author.to_string(),
                e.op.seq.to_string(),
                e.op.kind.name().into(),
                key,
                value,
                e.hash.to_string(),
            ]
        })
        .collect();
    out.write_all(table(&["TIME", "AUTHOR", "SEQ", "KIND", "KEY", "VALUE", "HASH"], &rows).as_bytes())?;
    Ok(())
}

fn stats(cli: &Cli, loaded: &Loaded, out: &mut dyn Write) -> Result<(), CliError> {
    let ops: Vec<&auroradb::Op> = loaded.report.ops.iter().map(|e| &e.op).collect();
    let mut kinds: BTreeMap<&str, u64> = ["put", "remove", "clear", "txn"].into_iter().map(|k| (k, 0)).collect();
    let mut authors: BTreeMap<auroradb::PeerId, (u64, auroradb::OpId, auroradb::OpId)> = BTreeMap::new();
    let mut keys = BTreeSet::new();
    for op in &ops {
        *kinds.entry(op.kind.name()).or_default() += 1;
        let a = authors.entry(op.author).or_insert((0, op.id, op.id));
        a.0 += 1;
        a.1 = a.1.min(op.id);
        a.2 = a.2.max(op.id);
        match &op.kind {
            OpKind::Put { key, .. } | OpKind::Remove { key } => {
                keys.insert(key.as_str());
            }
            OpKind::Txn(steps) => keys.extend(steps.iter().map(|s| s.key())),
            OpKind::Clear => {}
        }
    }
    let first = loaded.ids.first();
    let last = loaded.ids.last();
    let span_ms = match (first, last) {
        (Some(f), Some(l)) => l.millis().saturating_sub(f.millis()),
        _ => 0,
    };
    let live = loaded.db.count();
    let mut by_ops: Vec<_> = authors.iter().collect();
    by_ops.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
    if cli.json {
        let doc = json!({
            "file": loaded.path,
            "bytes": loaded.report.bytes,
            "segments": loaded.report.segments,
            "ops": ops.len(),
            "kinds": kinds,
            "authors": by_ops.iter().map(|(a, (n, f, l))| json!({
                "author": a.to_hex(), "ops": n, "first": id_time(f), "last": id_time(l),
            })).collect::<Vec<_>>(),
            "keys_written": keys.len(),
            "keys_live": live,
            "first": first.map(id_time),
            "last": last.map(id_time),
            "span_ms": span_ms,
            "strategy": cli.strategy.as_str(),
            "fingerprint": loaded.report.fingerprint.to_string(),
        });
        writeln!(out, "{doc}")?;
        return Ok(());
    }
    let kinds_text: Vec<String> =
        ["put", "remove", "clear", "txn"].iter().map(|k| format!("{} {k}", kinds[k])).collect();
    let span = match (first, last) {
        (Some(f), Some(l)) => format!("{} .. {} ({:.3} s)", id_time(f), id_time(l), span_ms as f64 / 1000.0),
        _ => "(no ops)".into(),
    };
    let rows = vec![
        vec![
            "file".into(),
            format!("{} ({} bytes, {})", loaded.path, loaded.report.bytes, plural(loaded.report.segments, "segment")),
        ],
        vec!["ops".into(), format!("{} ({})", ops.len(), kinds_text.join(", "))],
        vec!["authors".into(), authors.len().to_string()],
        vec!["keys".into(), format!("{} written, {live} live under {}", keys.len(), cli.strategy.as_str())],
        vec!["time span".into(), span],
        vec!["fingerprint".into(), loaded.report.fingerprint.to_string()],
        vec!["strategy".into(), format!("{} (a log file records none: --strategy)", cli.strategy.as_str())],
    ];
    out.write_all(table(&["STAT", "VALUE"], &rows).as_bytes())?;
    writeln!(out)?;
    let rows: Vec<Vec<String>> =
        by_ops.iter().map(|(a, (n, f, l))| vec![a.to_hex(), n.to_string(), id_time(f), id_time(l)]).collect();
    out.write_all(table(&["AUTHOR", "OPS", "FIRST", "LAST"], &rows).as_bytes())?;
    Ok(())
}
