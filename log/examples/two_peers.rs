//! Two peers write to their own operation logs, exchange their ops as wire segments, and end
//! with the same log: printed, verified on both sides, and then tampered with to show that
//! verification names the broken link.
//!
//! `cargo run -p auroradb-log --example two_peers`

use std::collections::BTreeMap;
use std::process::ExitCode;

use auroradb_log::segment::{SegmentLimits, decode_segment, encode_segment};
use auroradb_log::{
    EncodedOp, Hash, Hlc, Log, LogConfig, LogError, OpId, OpKind, PeerId, Step, Value, system_clock, verify_ops,
};

fn put(key: &str, value: Value) -> OpKind {
    OpKind::Put { key: key.into(), value }
}

/// The keys an op writes, for the table.
fn keys(kind: &OpKind) -> String {
    match kind {
        OpKind::Put { key, .. } | OpKind::Remove { key } => key.clone(),
        OpKind::Clear => "(all)".into(),
        OpKind::Txn(steps) => steps.iter().map(Step::key).collect::<Vec<_>>().join(","),
    }
}

fn print_log(log: &Log) {
    println!(
        "{:<44} {:<8} {:>3}  {:<6} {:<32} {:<16} {:<16}",
        "HLC id", "author", "seq", "kind", "key", "hash", "prev"
    );
    println!("{}", "-".repeat(44 + 9 + 5 + 7 + 33 + 17 + 16));
    for op in log.ops(..) {
        let op = op.expect("the log holds only ops it decoded");
        let hash = log.hash_of(&op.id).expect("held");
        let prev = if op.prev == Hash::ZERO { "-".to_string() } else { op.prev.to_string() };
        println!(
            "{:<44} {:<8} {:>3}  {:<6} {:<32} {:<16} {}",
            op.id.to_string(),
            op.author.to_string(),
            op.seq,
            op.kind.name(),
            keys(&op.kind),
            hash.to_string(),
            prev
        );
    }
}

/// Sends every op `from` wrote to `to` as one wire segment.
fn send(from: &Log, to: &mut Log) -> Result<usize, LogError> {
    let mine: Vec<(OpId, &[u8], &Hash)> = from.range(..).filter(|(id, _, _)| id.peer == from.peer()).collect();
    let segment = encode_segment(mine.iter().copied())?;
    let ops = decode_segment(&segment, SegmentLimits::default())?;
    println!("  {} -> {}: one segment of {} ops, {} bytes", from.peer(), to.peer(), ops.len(), segment.len());
    Ok(to.insert_remote(ops)?.len())
}

/// verify_ops over a copy of `log`'s stored ops, with `recorded` as the recorded hashes.
fn verify_copy(
    log: &Log,
    stored: &BTreeMap<OpId, Vec<u8>>,
    recorded: &BTreeMap<OpId, Hash>,
) -> Result<auroradb_log::VerifyReport, LogError> {
    verify_ops(stored.iter().map(|(id, b)| Ok((*id, b.as_slice()))), recorded, log.heads())
}

fn run() -> Result<bool, LogError> {
    let config = LogConfig::default();
    let mut alice = Log::new(Hlc::new(PeerId::random(), system_clock, config.max_drift), config);
    let mut bob = Log::new(Hlc::new(PeerId::random(), system_clock, config.max_drift), config);
    println!("alice is peer {:#}\nbob   is peer {:#}\n", alice.peer(), bob.peer());

    // Each peer writes to its own log, turn by turn.
    alice.append(put("user:1", Value::map([("name", Value::from("Ada")), ("age", Value::Int(36))])))?;
    bob.append(put("user:2", Value::map([("name", Value::from("Grace"))])))?;
    alice.append(put("user:3", Value::map([("name", Value::from("Edsger"))])))?;
    bob.append(OpKind::Txn(vec![
        Step::Put { key: "account:a".into(), value: Value::Int(90) },
        Step::Put { key: "account:b".into(), value: Value::Int(110) },
        Step::Remove { key: "pending:1".into() },
    ]))?;
    alice.append(OpKind::Remove { key: "user:3".into() })?;
    bob.append(OpKind::Clear)?;
    bob.append(put("user:4", Value::List(vec![Value::from("tag"), Value::Bytes(vec![0xca, 0xfe])])))?;
    println!("alice wrote {} ops, bob wrote {} ops; exchanging:", alice.len(), bob.len());

    let to_bob = send(&alice, &mut bob)?;
    let to_alice = send(&bob, &mut alice)?;
    println!("  bob took {to_bob} new ops, alice took {to_alice}");
    // Sending again changes nothing: inserting an op twice is a no-op.
    let again = send(&alice, &mut bob)?;
    println!("  sent again: bob took {again} new ops\n");

    println!("the merged log (alice's copy), in HLC order:");
    print_log(&alice);

    let a = alice.verify()?;
    let b = bob.verify()?;
    println!("\nverify alice: {} ops, {} author chains, fingerprint {}", a.ops, a.authors, a.fingerprint);
    println!("verify bob:   {} ops, {} author chains, fingerprint {}", b.ops, b.authors, b.fingerprint);
    let same = a.fingerprint == b.fingerprint && alice.fingerprint(..) == bob.fingerprint(..);
    println!("fingerprints match: {same}");
    if !same {
        return Ok(false);
    }

    // Tamper with one byte of a copy of one stored op: bob's second op.
    let stored: BTreeMap<OpId, Vec<u8>> = alice.range(..).map(|(id, b, _)| (id, b.to_vec())).collect();
    let recorded: BTreeMap<OpId, Hash> = alice.ids(..).map(|(id, h)| (*id, *h)).collect();
    let target = alice.ids(..).map(|(id, _)| *id).filter(|id| id.peer == bob.peer()).nth(1).expect("bob wrote 4 ops");
    let mut tampered = stored.clone();
    let bytes = tampered.get_mut(&target).expect("held");
    let at = bytes.len() - 1;
    bytes[at] ^= 0x01;
    println!("\ntampering: flipped one bit of byte {at} of a copy of op {target}");
    if let Ok(op) = auroradb_log::decode_op(&tampered[&target]) {
        println!("  the copy still decodes, now as: {} {}", op.kind.name(), keys(&op.kind));
    }
    let caught_1 = match verify_copy(&alice, &tampered, &recorded) {
        Ok(_) => false,
        Err(e) => {
            println!("  verify_ops: {e}");
            true
        }
    };

    // Even with its recorded hash rewritten to match, the next op's prev link gives it away.
    let mut forged = recorded.clone();
    forged.insert(target, EncodedOp::decode(tampered[&target].clone())?.hash);
    println!("tampering: also rewrote the recorded hash of op {target}");
    let caught_2 = match verify_copy(&alice, &tampered, &forged) {
        Ok(_) => false,
        Err(e) => {
            println!("  verify_ops: {e}");
            true
        }
    };
    println!("the untouched copy still verifies: {}", verify_copy(&alice, &stored, &recorded).is_ok());
    Ok(caught_1 && caught_2)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("the demo did not go as it should");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
