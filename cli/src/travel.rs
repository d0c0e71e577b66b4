//! `at`, `history`, `diff` and `replay`: the engine's time travel, printed.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use auroradb::log::Hash;
use auroradb::{HistoryItem, OpId, OpKind, Outcome, Value};
use futures::executor::block_on;
use serde_json::{Value as Json, json};

use crate::args::Cli;
use crate::commands::{engine, plural};
use crate::load::progress_bar;
use crate::render::{compact, op_cells, op_json, opt_json, table, value_json};
use crate::when::{When, id_time, rfc3339};
use crate::{CliError, Loaded};

/// A point as given, for output: RFC 3339 for a time, the id for an op.
fn label(w: When) -> String {
    match w {
        When::Millis(ms) => rfc3339(ms),
        When::Op(id) => id.to_string(),
    }
}

pub(crate) fn at(cli: &Cli, loaded: &mut Loaded, w: When, out: &mut dyn Write) -> Result<(), CliError> {
    let bound = w.upper();
    let state = block_on(loaded.db.state_at(bound)).map_err(engine(loaded))?;
    let applied = loaded.ids.partition_point(|id| *id <= bound);
    if cli.json {
        let records: serde_json::Map<String, Json> =
            state.iter().map(|(k, e)| (k.to_owned(), value_json(&e.value))).collect();
        let doc = json!({ "at": label(w), "ops": applied, "keys": records.len(), "state": records });
        writeln!(out, "{doc}")?;
        return Ok(());
    }
    writeln!(
        out,
        "state at {} ({} applied, {}, strategy {})",
        label(w),
        plural(applied, "op"),
        plural(state.len(), "key"),
        cli.strategy.as_str()
    )?;
    let rows: Vec<Vec<String>> = state
        .iter()
        .map(|(k, e)| {
            vec![k.to_owned(), compact(&value_json(&e.value), cli.width), id_time(&e.id), e.author.to_string()]
        })
        .collect();
    out.write_all(table(&["KEY", "VALUE", "WRITTEN", "BY"], &rows).as_bytes())?;
    Ok(())
}

fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Current => "current",
        Outcome::Superseded => "superseded",
        Outcome::Lost => "lost",
    }
}

/// The ops of a history that were concurrent edits: writes by different authors that carry the
/// same `version` field, so each started from the same version of the record (an app raises
/// `version` from the value its author saw; the demo's rule). Maps each such op to that version.
pub fn concurrent(items: &[HistoryItem]) -> BTreeMap<OpId, Json> {
    let mut groups: Vec<(Json, Vec<&HistoryItem>)> = Vec::new();
    for item in items {
        let Some(v) = item.value.as_ref().and_then(|v| v.field("version")) else { continue };
        let v = value_json(v);
        match groups.iter_mut().find(|(g, _)| *g == v) {
            Some((_, members)) => members.push(item),
            None => groups.push((v, vec![item])),
        }
    }
    let mut out = BTreeMap::new();
    for (v, members) in groups {
        if members.iter().any(|m| m.author != members[0].author) {
            out.extend(members.iter().map(|m| (m.id, v.clone())));
        }
    }
    out
}

pub(crate) fn history(cli: &Cli, loaded: &mut Loaded, key: &str, out: &mut dyn Write) -> Result<(), CliError> {
    let items = block_on(loaded.db.history(key)).map_err(engine(loaded))?;
    let conc = concurrent(&items);
    if cli.json {
        let items: Vec<Json> = items
            .iter()
            .map(|i| {
                json!({
                    "id": i.id.to_string(),
                    "time": id_time(&i.id),
                    "millis": i.id.millis(),
                    "author": i.author.to_hex(),
                    "kind": i.kind,
                    "value": opt_json(i.value.as_ref()),
                    "outcome": outcome(i.outcome),
                    "concurrent": conc.contains_key(&i.id),
                })
            })
            .collect();
        let doc = json!({ "key": key, "strategy": cli.strategy.as_str(), "items": items });
        writeln!(out, "{doc}")?;
        return Ok(());
    }
    let authors: std::collections::BTreeSet<_> = items.iter().map(|i| i.author).collect();
    let groups: std::collections::BTreeSet<String> = conc.values().map(Json::to_string).collect();
    writeln!(
        out,
        "{key}: {} by {}, {}, strategy {}",
        plural(items.len(), "op"),
        plural(authors.len(), "author"),
        plural(groups.len(), "concurrent edit group"),
        cli.strategy.as_str()
    )?;
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            let wrote = match &i.value {
                Some(v) => compact(&value_json(v), cli.width),
                None => "(deleted)".into(),
            };
            let note = conc.get(&i.id).map_or(String::new(), |v| format!("concurrent (version {v})"));
            vec![id_time(&i.id), i.author.to_string(), i.kind.into(), wrote, outcome(i.outcome).into(), note]
        })
        .collect();
    out.write_all(table(&["TIME", "AUTHOR", "KIND", "WROTE", "OUTCOME", "NOTE"], &rows).as_bytes())?;
    Ok(())
}

pub(crate) fn diff(cli: &Cli, loaded: &mut Loaded, a: When, b: When, out: &mut dyn Write) -> Result<(), CliError> {
    let d = block_on(loaded.db.diff(a.upper(), b.upper())).map_err(engine(loaded))?;
    if cli.json {
        let doc = json!({
            "from": label(a),
            "to": label(b),
            "added": d.added.iter().map(|(k, v)| json!({ "key": k, "value": value_json(v) })).collect::<Vec<_>>(),
            "changed": d.changed.iter().map(|(k, x, y)| json!({ "key": k, "before": value_json(x), "after": value_json(y) })).collect::<Vec<_>>(),
            "removed": d.removed.iter().map(|(k, v)| json!({ "key": k, "value": value_json(v) })).collect::<Vec<_>>(),
        });
        writeln!(out, "{doc}")?;
        return Ok(());
    }
    writeln!(
        out,
        "from {} to {}: {} added, {} changed, {} removed",
        label(a),
        label(b),
        d.added.len(),
        d.changed.len(),
        d.removed.len()
    )?;
    let w = cli.width;
    let mut rows: Vec<Vec<String>> = Vec::new();
    rows.extend(d.added.iter().map(|(k, v)| vec!["+".into(), k.clone(), String::new(), compact(&value_json(v), w)]));
    rows.extend(
        d.changed
            .iter()
            .map(|(k, x, y)| vec!["~".into(), k.clone(), compact(&value_json(x), w), compact(&value_json(y), w)]),
    );
    rows.extend(d.removed.iter().map(|(k, v)| vec!["-".into(), k.clone(), compact(&value_json(v), w), String::new()]));
    out.write_all(table(&["", "KEY", "BEFORE", "AFTER"], &rows).as_bytes())?;
    Ok(())
}

/// One key an op changed: `(key, before, after)`, `None` for absent.
type KeyChange = (String, Option<Value>, Option<Value>);

pub(crate) fn replay(
    cli: &Cli,
    loaded: &mut Loaded,
    from: Option<When>,
    to: Option<When>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    // The base is the state just before the first op replayed.
    let start = from.map_or(OpId::MIN, |w| w.lower());
    let base = loaded.ids[..loaded.ids.partition_point(|id| *id < start)].last().copied().unwrap_or(OpId::MIN);
    let end = to.map_or(OpId::MAX, |w| w.upper());
    if start > end {
        return Err(CliError::Usage("replay: --from is after --to".into()));
    }
    if end <= base {
        // Nothing to replay (and the engine's replay wants `to` after `from`).
        return Ok(());
    }
    let hashes: HashMap<OpId, Hash> = loaded.report.ops.iter().map(|e| (e.op.id, e.hash)).collect();
    let initial = block_on(loaded.db.state_at(base)).map_err(engine(loaded))?;
    let mut shown: BTreeMap<String, Value> = initial.iter().map(|(k, e)| (k.to_owned(), e.value.clone())).collect();
    let total = loaded.ids.iter().filter(|id| **id > base && **id <= end).count() as u64;
    let bar = progress_bar(total, "replaying");
    let mut result: Result<(), std::io::Error> = Ok(());
    let (json_out, width) = (cli.json, cli.width);
    let visit = |op: &auroradb::Op, state: &auroradb::State| {
        bar.inc(1);
        if result.is_err() {
            return;
        }
        let keys: Vec<String> = match &op.kind {
            OpKind::Put { key, .. } | OpKind::Remove { key } => vec![key.clone()],
            OpKind::Txn(steps) => steps.iter().map(|s| s.key().to_owned()).collect(),
            OpKind::Clear => shown.keys().cloned().collect(),
        };
        let mut changes: Vec<KeyChange> = Vec::new();
        for key in keys {
            let after = state.get(&key).map(|e| e.value.clone());
            let before = shown.get(&key).cloned();
            if before != after && !changes.iter().any(|c| c.0 == key) {
                match &after {
                    Some(v) => shown.insert(key.clone(), v.clone()),
                    None => shown.remove(&key),
                };
                changes.push((key, before, after));
            }
        }
        let hash = hashes.get(&op.id).copied().unwrap_or_default();
        result = if json_out {
            let mut m = op_json(op, &hash);
            let ch: Vec<Json> = changes
                .iter()
                .map(|(k, b, a)| json!({ "key": k, "before": opt_json(b.as_ref()), "after": opt_json(a.as_ref()) }))
                .collect();
            m.insert("changes".into(), Json::Array(ch));
            writeln!(out, "{}", Json::Object(m))
        } else {
            let (key, value) = op_cells(op, width);
            let mut text =
                format!("{}  {}  #{}  {}  {key}  {value}", id_time(&op.id), op.author, op.seq, op.kind.name());
            text = text.trim_end().to_owned();
            if changes.is_empty() {
                text.push_str("\n    (no visible change)");
            }
            for (k, b, a) in &changes {
                let show = |v: &Option<Value>| v.as_ref().map_or("(absent)".into(), |v| compact(&value_json(v), width));
                text.push_str(&format!("\n    {k}: {} -> {}", show(b), show(a)));
            }
            writeln!(out, "{text}")
        };
    };
    block_on(loaded.db.replay(base, end, visit)).map_err(engine(loaded))?;
    bar.finish_and_clear();
    result?;
    Ok(())
}
