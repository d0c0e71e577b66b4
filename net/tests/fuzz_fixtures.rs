//! Every input kept from fuzzing (`tests/fixtures/fuzz/<target>/`: crashers once fixed, and
//! seeds worth keeping) goes through what its fuzz target runs, in every test run.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/fuzz").join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        eprintln!("{target}: {}", path.display());
        run(&data);
        n += 1;
    }
    assert!(n > 0, "no inputs in {}", dir.display());
}

#[test]
fn decoder_inputs_replay() {
    replay("decoders", auroradb_net::fuzz::decoders);
}

#[test]
fn receive_inputs_replay() {
    replay("receive", auroradb_net::fuzz::receive);
}

/// With `AURORADB_BLESS=1`, writes the seed inputs (`seed-*`): well-formed frames (an
/// equivocation proof among them), a segment, an op and a hello, from which a fuzz run starts (`cargo +nightly fuzz run <target>
/// ../tests/fixtures/fuzz/<target>`).
#[test]
fn seeds() {
    use auroradb_log::segment::encode_segment;
    use auroradb_log::{Hlc, Log, LogConfig, OpKind, PeerId, Value, manual_clock, set_manual_clock};
    use auroradb_net::admission::Hello;
    use auroradb_net::frame::encode_frame;
    use auroradb_net::{Body, Message, Ops, Piece};

    set_manual_clock(1_700_000_000_000);
    let c = LogConfig::default();
    let mut log = Log::new(Hlc::new(PeerId([0x66; 16]), manual_clock, c.max_drift), c);
    let op = log.append(OpKind::Put { key: "k".into(), value: Value::String("v".repeat(40)) }).unwrap();
    let seg = encode_segment([(op.op.id, op.bytes.as_slice(), &op.hash)]).unwrap();
    let frame =
        |seq: u64, body: Body| encode_frame(seq, &Message { session: 0, initiator: true, body }, usize::MAX).unwrap();
    let push = frame(1, Body::Ops(Ops { segments: vec![seg.clone()], last: None }));
    let half = seg.len() / 2;
    let check = Piece::check_of(&seg);
    let total = seg.len() as u32;
    let pieces = [
        frame(2, Body::Piece(Piece { total, offset: half as u32, check, data: seg[half..].to_vec() })),
        frame(3, Body::Piece(Piece { total, offset: 0, check, data: seg[..half].to_vec() })),
    ];
    let hello = Hello { reply: true, group: auroradb_net::sim::GROUP.into(), nonce: [1; 8], time: 0 }.encode();
    let prefixed = |frames: &[&[u8]]| -> Vec<u8> {
        frames.iter().flat_map(|f| (f.len() as u16).to_le_bytes().into_iter().chain(f.iter().copied())).collect()
    };
    let proof = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/log/equivocation.bin"));
    let equivocation = frame(4, Body::Equivocation(proof.expect("the log's equivocation fixture")));
    let inputs: [(&str, &str, Vec<u8>); 9] = [
        ("decoders", "seed-frame", push.clone()),
        ("decoders", "seed-segment", seg.clone()),
        ("decoders", "seed-op", op.bytes.clone()),
        ("decoders", "seed-hello", hello.clone()),
        ("decoders", "seed-equivocation", equivocation.clone()),
        ("receive", "seed-push", prefixed(&[&push])),
        ("receive", "seed-pieces", prefixed(&[&pieces[0], &pieces[1]])),
        ("receive", "seed-hello-then-push", prefixed(&[&hello, &push])),
        ("receive", "seed-equivocation", prefixed(&[&equivocation])),
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/fuzz");
    for (target, name, bytes) in inputs {
        let path = dir.join(target).join(name);
        if std::env::var_os("AURORADB_BLESS").is_some() {
            std::fs::write(&path, &bytes).unwrap();
        }
        assert_eq!(std::fs::read(&path).ok(), Some(bytes), "{} (regenerate with AURORADB_BLESS=1)", path.display());
    }
}
