//! Reading a log file op by op, to say *what* is damaged.
//!
//! The engine's `Database::import_log` refuses a damaged file whole, with one error. `verify`
//! needs more: which segment, which op, which author's chain. So this module reads the layout
//! documented in `docs/formats.md` ("Log file" and "Wire segment") itself, with the log crate's
//! own decoders for the blobs inside, and keeps going past the first problem where it can:
//!
//! ```text
//! +------+---+-------------------------------------------------------+-------------+
//! | AUlf | 2 | postcard { count, fingerprint, segments: [AUsg blob] } | blake3 [32] |
//! +------+---+-------------------------------------------------------+-------------+
//!   AUsg | 2 | postcard { first: OpId, last: OpId, sum: RangeSum, ops: [AUop blob],
//!        |   |            proofs: [(op index, Proof)] }
//! ```
//!
//! A file whose layout does not parse (another magic, another version, truncated) is
//! [`Unreadable`]; one that parses but whose hashes, ops or chains do not hold is read into a
//! [`FileReport`] with its [`Damage`]. The tests check that a file this module finds intact is
//! one `import_log` accepts, with the same ops.

use std::collections::HashMap;

use auroradb::log::codec::{MAGIC_SEGMENT, decode_blob_v};
use auroradb::log::segment::FILE_SEGMENT_VERSION;
use auroradb::log::{
    ChainHead, EncodedOp, Fingerprint, Hash, LogError, OpId, PROOF_INTERVAL, PeerId, Proof, RangeSum, must_prove,
};
use auroradb::{LOG_FILE_VERSION, MAGIC_LOG_FILE};
use serde::Deserialize;

/// Length of the blake3 hash at the end of the file.
const HASH_LEN: usize = 32;

/// Why a file is not a log file this build can read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable(pub String);

impl core::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The most damage a report lists: a small hostile file (two million one-byte segments, each
/// unreadable) would otherwise fill gigabytes with its descriptions. The rest is counted.
pub const MAX_LISTED: usize = 1000;

/// What was found damaged: the first [`MAX_LISTED`] things, and a count of the others.
#[derive(Default)]
struct Found {
    listed: Vec<Damage>,
    unlisted: usize,
}

impl Found {
    fn push(&mut self, d: Damage) {
        if self.listed.len() < MAX_LISTED {
            self.listed.push(d);
        } else {
            self.unlisted += 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }

    fn iter(&self) -> impl Iterator<Item = &Damage> {
        self.listed.iter()
    }
}

/// One thing found damaged in a file that otherwise parses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The segment (from 0) it was found in, if it is inside one.
    pub segment: Option<usize>,
    /// The op concerned, if one can be named.
    pub op: Option<OpId>,
    /// That op's author and seq, if it decoded.
    pub author: Option<(PeerId, u64)>,
    /// What is wrong, in a sentence.
    pub reason: String,
}

impl core::fmt::Display for Damage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if let Some(s) = self.segment {
            write!(f, "segment {s}: ")?;
        }
        if let Some(op) = &self.op {
            write!(f, "op {op}")?;
            if let Some((author, seq)) = &self.author {
                write!(f, " (author {author}, seq {seq})")?;
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.reason)
    }
}

/// What reading a file found.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// Size of the file in bytes.
    pub bytes: usize,
    /// Whether the blake3 hash at the end matches the rest of the file.
    pub hash_ok: bool,
    /// The op count the file claims.
    pub count: u64,
    /// The fingerprint the file claims.
    pub fingerprint: Fingerprint,
    /// Number of segments.
    pub segments: usize,
    /// The ops that decoded, in file order.
    pub ops: Vec<EncodedOp>,
    /// The proofs of authorship the segments carry, by op (not all checked: `read` checks each
    /// author's newest op's).
    pub proofs: Vec<(OpId, Proof)>,
    /// Authors whose chains were walked, with their op counts.
    pub authors: usize,
    /// Authors whose newest op's proof of authorship checked (which proves all their ops).
    pub proven: usize,
    /// What was found damaged, in file order (empty: intact): the first [`MAX_LISTED`].
    pub damage: Vec<Damage>,
    /// How many more things were found damaged than `damage` lists.
    pub unlisted: usize,
}

impl FileReport {
    /// Whether nothing was found damaged.
    pub fn intact(&self) -> bool {
        self.damage.is_empty()
    }
}

#[derive(Deserialize)]
struct LogFile {
    count: u64,
    fingerprint: Fingerprint,
    segments: Vec<serde_bytes::ByteBuf>,
}

#[derive(Deserialize)]
struct WireSegment {
    first: OpId,
    last: OpId,
    sum: RangeSum,
    ops: Vec<serde_bytes::ByteBuf>,
    proofs: Vec<(u32, Proof)>,
}

/// Reads `bytes` as a log file, calling `progress` with the number of ops read so far and the
/// number the file claims.
pub fn read(bytes: &[u8], mut progress: impl FnMut(u64, u64)) -> Result<FileReport, Unreadable> {
    if bytes.len() < 5 || bytes[..4] != MAGIC_LOG_FILE {
        return Err(Unreadable("not an AuroraDB log file (it does not start with \"AUlf\")".into()));
    }
    if bytes[4] != LOG_FILE_VERSION {
        return Err(Unreadable(format!(
            "unsupported log file format version {} (this build reads version {LOG_FILE_VERSION}; version 1 files, \
             written before ops were signed, prove no authorship)",
            bytes[4]
        )));
    }
    if bytes.len() < 5 + HASH_LEN {
        return Err(Unreadable(format!("truncated: {} bytes, too short for a log file", bytes.len())));
    }
    let (body, tail) = bytes.split_at(bytes.len() - HASH_LEN);
    let file: LogFile = match decode_blob_v("log file", MAGIC_LOG_FILE, LOG_FILE_VERSION, body) {
        Ok(file) => file,
        Err(LogError::Corrupt { reason, .. }) if reason.contains("end of") || reason.contains("EOF") => {
            // Most likely cut short; a length prefix inside it altered to a larger one reads the same.
            return Err(Unreadable(format!("truncated: the file ends inside its body ({} bytes)", bytes.len())));
        }
        Err(e) => return Err(Unreadable(format!("corrupt layout: {e}"))),
    };
    let hash_ok = Hash::of(body).0 == tail;

    let mut damage = Found::default();
    let mut ops: Vec<EncodedOp> = Vec::new();
    let mut proofs: Vec<(OpId, Proof)> = Vec::new();
    // Per segment: the index of its first op in `ops`, and whether its sum held.
    let mut seg_starts = Vec::with_capacity(file.segments.len());
    let mut bad_sums = Vec::new();
    for (s, seg) in file.segments.iter().enumerate() {
        seg_starts.push(ops.len());
        let wire: WireSegment = match decode_blob_v("segment", MAGIC_SEGMENT, FILE_SEGMENT_VERSION, seg) {
            Ok(w) => w,
            Err(e) => {
                damage.push(Damage { segment: Some(s), op: None, author: None, reason: e.to_string() });
                continue;
            }
        };
        let start = ops.len();
        let mut sum = RangeSum::default();
        let mut all_decoded = true;
        // Where each of the segment's ops went in `ops` (none: it did not decode), so that the
        // proofs of the others still count.
        let mut placed: Vec<Option<usize>> = Vec::with_capacity(wire.ops.len());
        for (i, blob) in wire.ops.iter().enumerate() {
            match EncodedOp::decode(blob.to_vec()) {
                Ok(op) => {
                    placed.push(Some(ops.len()));
                    if let Some(prev) = ops.last()
                        && prev.op.id >= op.op.id
                    {
                        damage.push(Damage {
                            segment: Some(s),
                            op: Some(op.op.id),
                            author: Some((op.op.author, op.op.seq)),
                            reason: format!("out of order: not after op {}", prev.op.id),
                        });
                    }
                    sum = sum + RangeSum::one(&op.hash);
                    ops.push(op);
                }
                Err(e) => {
                    placed.push(None);
                    all_decoded = false;
                    let after = ops.last().map_or_else(String::new, |p: &EncodedOp| format!(", after op {}", p.op.id));
                    let id = match e {
                        LogError::InvalidOp { id, .. } => Some(id),
                        _ => None,
                    };
                    damage.push(Damage {
                        segment: Some(s),
                        op: id,
                        author: None,
                        reason: format!("op #{i} of the segment{after} does not decode: {e}"),
                    });
                }
            }
            progress(ops.len() as u64, file.count);
        }
        let seg_ops = &ops[start..];
        for (at, proof) in &wire.proofs {
            match placed.get(*at as usize) {
                Some(Some(j)) => proofs.push((ops[*j].op.id, *proof)),
                // The op did not decode (reported above): its proof proves nothing.
                Some(None) => {}
                None => damage.push(Damage {
                    segment: Some(s),
                    op: None,
                    author: None,
                    reason: format!("a proof names op #{at} of a segment of {} ops", wire.ops.len()),
                }),
            }
        }
        let range_ok = seg_ops.first().map_or(OpId::MAX, |o| o.op.id) == wire.first
            && seg_ops.last().map_or(OpId::MIN, |o| o.op.id) == wire.last;
        if all_decoded && (sum != wire.sum || !range_ok) {
            bad_sums.push(s);
        }
    }

    // Walk every author's chain in id order, as `verify_ops` does.
    let mut chains: HashMap<PeerId, ChainHead> = HashMap::new();
    let mut order: Vec<usize> = (0..ops.len()).collect();
    order.sort_by_key(|&i| ops[i].op.id);
    for &i in &order {
        let e = &ops[i];
        let op = &e.op;
        let head = chains.get(&op.author);
        let (seq, prev, last) = head.map_or((0, Hash::ZERO, None), |h| (h.seq, h.hash, Some(h.id)));
        let reason = if op.id.time == u64::MAX {
            // The clock the engine observes remote ids with (uhlc) moves past an id by adding 1,
            // which overflows here; no honest clock makes this id before 2106.
            Some("its time is the last instant an id can hold (2106), past which no clock can move".to_owned())
        } else if op.seq != seq + 1 {
            Some(format!("seq does not follow the author's previous op (seq {seq})"))
        } else if op.prev != prev {
            let before = last.map_or_else(String::new, |l| format!(", op {l}"));
            Some(format!("prev is not the hash of the author's op seq {seq}{before}: that op or this link was altered"))
        } else if last.is_some_and(|l| op.id <= l) {
            Some("id is not after the author's previous op".to_owned())
        } else {
            None
        };
        if let Some(reason) = reason {
            let segment = seg_starts.partition_point(|&st| st <= i).checked_sub(1);
            damage.push(Damage { segment, op: Some(op.id), author: Some((op.author, op.seq)), reason });
        }
        chains.insert(op.author, ChainHead { seq: op.seq, hash: e.hash, id: op.id });
    }

    // A segment whose ops decode but whose sum differs holds an altered op that no later op of its
    // author links to: one of the authors' last ops in that segment.
    let chain_damage = damage.iter().any(|d| d.author.is_some());
    for s in bad_sums {
        let end = seg_starts.get(s + 1).copied().unwrap_or(ops.len());
        let suspects: Vec<String> = ops[seg_starts[s]..end]
            .iter()
            .filter(|e| chains.get(&e.op.author).is_some_and(|h| h.id == e.op.id))
            .map(|e| e.op.id.to_string())
            .collect();
        let reason = if chain_damage || suspects.is_empty() {
            "the segment's recorded hash sum or id range differs from its ops".to_owned()
        } else {
            format!(
                "the segment's recorded hash sum differs from its ops: an altered op that no later op links to, one of {}",
                suspects.join(", ")
            )
        };
        damage.push(Damage { segment: Some(s), op: None, author: None, reason });
    }

    // Where each op is, and the first proof of each (looked up, not searched: a file of one op by
    // each of 40,000 authors took seconds that way).
    let at: HashMap<OpId, usize> = ops.iter().enumerate().map(|(i, e)| (e.op.id, i)).collect();
    let mut proof_of: HashMap<OpId, Proof> = HashMap::new();
    for (id, proof) in &proofs {
        proof_of.entry(*id).or_insert(*proof);
    }

    // Each author's newest op in the file is proven by its author's key, which proves the
    // author's ops before it through the chain.
    let mut proven = 0;
    let mut authors: Vec<(&PeerId, &ChainHead)> = chains.iter().collect();
    authors.sort_by_key(|(a, _)| **a);
    for (author, head) in authors {
        let Some(&i) = at.get(&head.id) else { continue };
        let e = &ops[i];
        let reason = match proof_of.get(&head.id) {
            None => Some("no proof of authorship: nothing shows that its author wrote it".to_owned()),
            Some(proof) => proof.check(*author, &e.hash).err().map(|err| err.to_string()),
        };
        proven += usize::from(reason.is_none());
        if let Some(reason) = reason {
            let segment = seg_starts.partition_point(|&st| st <= i).checked_sub(1);
            damage.push(Damage { segment, op: Some(head.id), author: Some((*author, head.seq)), reason });
        }
    }

    // And each op at a multiple of the proof interval carries its own proof, as an importer
    // requires (an author's head was checked above).
    for (i, e) in ops.iter().enumerate().filter(|(_, e)| must_prove(e.op.seq)) {
        if chains.get(&e.op.author).is_some_and(|h| h.id == e.op.id) {
            continue;
        }
        let reason = match proof_of.get(&e.op.id) {
            None => Some(format!("no proof of its own, which an op at a multiple of {PROOF_INTERVAL} needs")),
            Some(proof) => proof.check(e.op.author, &e.hash).err().map(|err| err.to_string()),
        };
        if let Some(reason) = reason {
            let segment = seg_starts.partition_point(|&st| st <= i).checked_sub(1);
            damage.push(Damage { segment, op: Some(e.op.id), author: Some((e.op.author, e.op.seq)), reason });
        }
    }

    let total = ops.iter().fold(RangeSum::default(), |acc, e| acc + RangeSum::one(&e.hash));
    if damage.is_empty() && (total.count != file.count || total.fingerprint() != file.fingerprint) {
        damage.push(Damage {
            segment: None,
            op: None,
            author: None,
            reason: format!(
                "the file claims {} ops with fingerprint {}, its ops are {} with fingerprint {}",
                file.count,
                file.fingerprint,
                total.count,
                total.fingerprint()
            ),
        });
    }
    if !hash_ok && damage.is_empty() {
        damage.push(Damage {
            segment: None,
            op: None,
            author: None,
            reason: "the file hash differs: bytes outside the ops were altered".into(),
        });
    }
    // What this reading found whole, the engine's own reading (the one `import_log` makes) takes
    // whole too: its limits and orderings (ops per segment, proofs in order) are the verdict's.
    if damage.is_empty()
        && let Err(e) = auroradb::decode_file(bytes)
    {
        damage.push(Damage { segment: None, op: None, author: None, reason: format!("the engine refuses it: {e}") });
    }
    Ok(FileReport {
        bytes: bytes.len(),
        hash_ok,
        count: file.count,
        fingerprint: file.fingerprint,
        segments: file.segments.len(),
        authors: chains.len(),
        proven,
        ops,
        proofs,
        damage: damage.listed,
        unlisted: damage.unlisted,
    })
}
