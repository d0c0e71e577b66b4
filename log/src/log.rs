//! [`Log`]: the in-memory operation log.

use std::collections::{BTreeMap, HashMap};
use std::ops::{Bound, RangeBounds};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::segment::{DEFAULT_SEGMENT_OPS, SegmentChanges, SegmentRecord, Segments};
use crate::{
    DEFAULT_MAX_DRIFT, EncodedOp, Fingerprint, Hash, Hlc, LogError, Op, OpId, OpKind, PeerId, RangeSum, Result,
    SumIndex, decode_op,
};

/// How a log is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    /// How far ahead of the local clock a remote op may be.
    pub max_drift: Duration,
    /// Maximum ops in a persisted segment.
    pub segment_ops: usize,
    /// Whether the log keeps the ops' bytes in memory (a database backed by storage does not).
    pub keep_ops: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { max_drift: DEFAULT_MAX_DRIFT, segment_ops: DEFAULT_SEGMENT_OPS, keep_ops: true }
    }
}

/// The newest op of an author's hash chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// Its sequence number.
    pub seq: u64,
    /// Its hash.
    pub hash: Hash,
    /// Its id.
    pub id: OpId,
}

/// What [`Log::verify`] checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyReport {
    /// Ops whose hash and chain link were recomputed.
    pub ops: u64,
    /// Authors whose chains were walked.
    pub authors: usize,
    /// Fingerprint of the whole log, from the recomputed hashes.
    pub fingerprint: Fingerprint,
}

/// The operation log: ops by id, each author's hash chain, the fingerprint index and the segment
/// partition, plus the peer's hybrid logical clock.
///
/// ```
/// use auroradb_log::{Hlc, Log, LogConfig, OpKind, PeerId, Value, system_clock};
///
/// let peer = PeerId::random();
/// let mut log = Log::new(Hlc::new(peer, system_clock, LogConfig::default().max_drift), LogConfig::default());
/// let op = log.append(OpKind::Put { key: "user1".into(), value: Value::from("Alice") }).unwrap();
/// assert_eq!(op.op.seq, 1);
/// assert_eq!(log.verify().unwrap().ops, 1);
/// ```
#[derive(Debug)]
pub struct Log {
    clock: Hlc,
    config: LogConfig,
    hashes: BTreeMap<OpId, Hash>,
    bytes: BTreeMap<OpId, Vec<u8>>,
    index: SumIndex,
    heads: HashMap<PeerId, ChainHead>,
    segments: Segments,
}

impl Log {
    /// An empty log stamping local ops with `clock`.
    pub fn new(clock: Hlc, config: LogConfig) -> Log {
        Log {
            clock,
            config,
            hashes: BTreeMap::new(),
            bytes: BTreeMap::new(),
            index: SumIndex::new(),
            heads: HashMap::new(),
            segments: Segments::new(config.segment_ops),
        }
    }

    /// A log rebuilt from persisted segment records and chain heads, without decoding any op.
    /// Ops' bytes are not loaded: `config.keep_ops` should be false.
    pub fn restore(
        clock: Hlc,
        config: LogConfig,
        records: Vec<SegmentRecord>,
        heads: impl IntoIterator<Item = (PeerId, ChainHead)>,
    ) -> Result<Log> {
        let mut log = Log::new(clock, config);
        for rec in &records {
            for (id, hash) in &rec.members {
                if log.hashes.insert(*id, *hash).is_some() {
                    return Err(LogError::corrupt("segment record", format!("op {id} is in two segments")));
                }
                log.index.insert(*id, hash);
            }
        }
        log.heads = heads.into_iter().collect();
        for head in log.heads.values() {
            if log.hashes.get(&head.id) != Some(&head.hash) {
                return Err(LogError::corrupt("chain heads", format!("head {} is not in the segments", head.id)));
            }
            // The clock never goes back below what the log already holds.
            let _ = log.clock.observe(&head.id);
        }
        log.segments = Segments::restore(config.segment_ops, records);
        Ok(log)
    }

    /// The local peer.
    pub fn peer(&self) -> PeerId {
        self.clock.peer()
    }

    /// The clock.
    pub fn clock(&self) -> &Hlc {
        &self.clock
    }

    /// The configuration.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Number of ops.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Whether the log holds `id`.
    pub fn contains(&self, id: &OpId) -> bool {
        self.hashes.contains_key(id)
    }

    /// The hash of op `id`.
    pub fn hash_of(&self, id: &OpId) -> Option<&Hash> {
        self.hashes.get(id)
    }

    /// The encoded bytes of op `id`, when the log keeps ops in memory.
    pub fn bytes_of(&self, id: &OpId) -> Option<&[u8]> {
        self.bytes.get(id).map(Vec::as_slice)
    }

    /// Each author's chain head.
    pub fn heads(&self) -> &HashMap<PeerId, ChainHead> {
        &self.heads
    }

    /// The largest id in the log.
    pub fn last_id(&self) -> Option<OpId> {
        self.hashes.keys().next_back().copied()
    }

    /// `(id, hash)` of every op in `range`, in id order.
    pub fn ids(&self, range: impl RangeBounds<OpId>) -> impl DoubleEndedIterator<Item = (&OpId, &Hash)> {
        self.hashes.range(range)
    }

    /// `(id, bytes, hash)` of every op in `range` held in memory, in id order.
    pub fn range(&self, range: impl RangeBounds<OpId>) -> impl Iterator<Item = (OpId, &[u8], &Hash)> {
        self.bytes.range(range).map(|(id, b)| (*id, b.as_slice(), &self.hashes[id]))
    }

    /// Decodes the ops in `range` held in memory, in id order.
    pub fn ops(&self, range: impl RangeBounds<OpId>) -> impl Iterator<Item = Result<Op>> + '_ {
        self.bytes.range(range).map(|(_, b)| decode_op(b))
    }

    /// Count and hash sum of the ops in `range`, in O(log n).
    pub fn summary(&self, range: impl RangeBounds<OpId>) -> RangeSum {
        let upper = match range.end_bound() {
            Bound::Included(b) => self.index.prefix(b, true),
            Bound::Excluded(b) => self.index.prefix(b, false),
            Bound::Unbounded => self.index.total(),
        };
        let lower = match range.start_bound() {
            Bound::Included(b) => self.index.prefix(b, false),
            Bound::Excluded(b) => self.index.prefix(b, true),
            Bound::Unbounded => RangeSum::default(),
        };
        if upper.count < lower.count { RangeSum::default() } else { upper - lower }
    }

    /// The fingerprint of the ops in `range`, in O(log n).
    pub fn fingerprint(&self, range: impl RangeBounds<OpId>) -> Fingerprint {
        self.summary(range).fingerprint()
    }

    /// Makes the next local op for `kind` (id, seq, prev, hash) without adding it: a database
    /// commits it to storage first, then calls [`Log::insert_local`].
    pub fn prepare_local(&self, kind: OpKind) -> EncodedOp {
        let peer = self.peer();
        let head = self.heads.get(&peer);
        let mut id = self.clock.now();
        if let Some(h) = head
            && id <= h.id
        {
            // A restored log may hold ops newer than a clock that went backwards.
            let _ = self.clock.observe(&h.id);
            id = self.clock.now();
        }
        EncodedOp::new(Op {
            id,
            author: peer,
            seq: head.map_or(1, |h| h.seq + 1),
            prev: head.map_or(Hash::ZERO, |h| h.hash),
            kind,
        })
    }

    /// Adds an op made by [`Log::prepare_local`]; it must still extend the local chain.
    pub fn insert_local(&mut self, op: &EncodedOp) -> Result<()> {
        self.check_link(&op.op, self.heads.get(&op.op.author).copied())?;
        self.add(op);
        Ok(())
    }

    /// Makes a local op and adds it.
    pub fn append(&mut self, kind: OpKind) -> Result<EncodedOp> {
        let op = self.prepare_local(kind);
        self.insert_local(&op)?;
        Ok(op)
    }

    /// Checks a batch of remote ops (in any order) against the log without changing anything:
    /// each op's drift, and that with the batch's other ops it extends its author's chain.
    /// Returns, per op, whether it is new (false: already held, a no-op).
    pub fn check_remote(&self, ops: &[EncodedOp]) -> Result<Vec<bool>> {
        let mut order: Vec<usize> = (0..ops.len()).collect();
        order.sort_by_key(|&i| (ops[i].op.author, ops[i].op.seq));
        let mut heads: HashMap<PeerId, Option<ChainHead>> = HashMap::new();
        let mut fresh = vec![false; ops.len()];
        for i in order {
            let e = &ops[i];
            if let Some(held) = self.hashes.get(&e.op.id) {
                if *held == e.hash {
                    continue;
                }
                return Err(LogError::BrokenChain {
                    author: e.op.author,
                    seq: e.op.seq,
                    id: e.op.id,
                    reason: "a different op with the same id is in the log",
                });
            }
            crate::codec::check_op_shape(&e.op)?;
            self.clock.check(&e.op.id)?;
            let head = heads.entry(e.op.author).or_insert_with(|| self.heads.get(&e.op.author).copied());
            if let Some(h) = head
                && e.op.seq <= h.seq
                && fresh.iter().zip(ops).any(|(f, o)| *f && o.op.id == e.op.id)
            {
                continue; // the same op twice in one batch
            }
            self.check_link(&e.op, *head)?;
            *head = Some(ChainHead { seq: e.op.seq, hash: e.hash, id: e.op.id });
            fresh[i] = true;
        }
        Ok(fresh)
    }

    /// Checks and adds a batch of remote ops, all or nothing. Returns the ops that were new, in
    /// id order.
    pub fn insert_remote(&mut self, ops: Vec<EncodedOp>) -> Result<Vec<EncodedOp>> {
        let fresh = self.check_remote(&ops)?;
        let mut new: Vec<EncodedOp> = ops.into_iter().zip(fresh).filter_map(|(o, f)| f.then_some(o)).collect();
        new.sort_by_key(|o| o.op.id);
        new.dedup_by_key(|o| o.op.id);
        for op in &new {
            self.clock.observe(&op.op.id)?;
            self.add(op);
        }
        Ok(new)
    }

    fn check_link(&self, op: &Op, head: Option<ChainHead>) -> Result<()> {
        let (have, prev, last) = head.map_or((0, Hash::ZERO, None), |h| (h.seq, h.hash, Some(h.id)));
        let broken = |reason| LogError::BrokenChain { author: op.author, seq: op.seq, id: op.id, reason };
        if op.seq > have + 1 {
            return Err(LogError::ChainGap { author: op.author, seq: op.seq, have, id: op.id });
        }
        if op.seq <= have {
            return Err(broken("a different op already holds this seq"));
        }
        if op.prev != prev {
            return Err(broken("prev is not the hash of the author's previous op"));
        }
        if let Some(last) = last
            && op.id <= last
        {
            return Err(broken("id is not after the author's previous op"));
        }
        Ok(())
    }

    fn add(&mut self, op: &EncodedOp) {
        let id = op.op.id;
        self.hashes.insert(id, op.hash);
        if self.config.keep_ops {
            self.bytes.insert(id, op.bytes.clone());
        }
        self.index.insert(id, &op.hash);
        self.segments.insert(id, op.hash);
        self.heads.insert(op.op.author, ChainHead { seq: op.op.seq, hash: op.hash, id });
    }

    /// The segment partition.
    pub fn segments(&self) -> &Segments {
        &self.segments
    }

    /// The segment records that adding `new` ops would write or delete, without adding them: a
    /// database persists these in the same commit as the ops, then adds the ops and discards
    /// [`Log::take_segment_changes`].
    pub fn preview_segments(&self, new: &[(OpId, Hash)]) -> SegmentChanges {
        self.segments.preview(new)
    }

    /// The segments changed since the last call, for a database to persist.
    pub fn take_segment_changes(&mut self) -> SegmentChanges {
        self.segments.take_changes()
    }

    /// Recomputes every hash and every author chain of the ops held in memory; the first broken
    /// link is the error.
    pub fn verify(&self) -> Result<VerifyReport> {
        if !self.config.keep_ops {
            return Err(LogError::corrupt("log", "ops are not held in memory: verify them from storage"));
        }
        verify_ops(self.bytes.iter().map(|(id, b)| Ok((*id, b.as_slice()))), &self.hashes, &self.heads)
    }
}

/// Verifies a log given as `(id, encoded op)` in id order, against the recorded hashes and chain
/// heads: each op decodes, sits under its own id, hashes to its recorded hash, and links to its
/// author's previous op; every recorded op is present; each chain ends at its recorded head.
pub fn verify_ops<'a>(
    ops: impl IntoIterator<Item = Result<(OpId, &'a [u8])>>,
    recorded: &BTreeMap<OpId, Hash>,
    heads: &HashMap<PeerId, ChainHead>,
) -> Result<VerifyReport> {
    let mut chains: HashMap<PeerId, ChainHead> = HashMap::new();
    let mut total = RangeSum::default();
    let mut expected = recorded.iter();
    for item in ops {
        let (id, bytes) = item?;
        let hash = Hash::of(bytes);
        let op = decode_op(bytes).map_err(|e| match e {
            LogError::Corrupt { reason, .. } => LogError::corrupt("op", format!("op {id}: {reason}")),
            other => other,
        })?;
        let broken = |reason| LogError::BrokenChain { author: op.author, seq: op.seq, id, reason };
        match expected.next() {
            Some((rid, rhash)) if *rid == id => {
                if *rhash != hash {
                    return Err(broken("hash differs from the recorded hash"));
                }
            }
            Some((rid, _)) if *rid < id => {
                return Err(LogError::corrupt("log", format!("op {rid} is recorded but missing")));
            }
            _ => return Err(LogError::corrupt("log", format!("op {id} is not recorded"))),
        }
        if op.id != id {
            return Err(broken("op stored under another id"));
        }
        let head = chains.get(&op.author);
        let (seq, prev, last) = head.map_or((0, Hash::ZERO, OpId::MIN), |h| (h.seq, h.hash, h.id));
        if op.seq != seq + 1 {
            return Err(broken("seq does not follow the author's previous op"));
        }
        if op.prev != prev {
            return Err(broken("prev is not the hash of the author's previous op"));
        }
        if head.is_some() && op.id <= last {
            return Err(broken("id is not after the author's previous op"));
        }
        chains.insert(op.author, ChainHead { seq: op.seq, hash, id });
        total = total + RangeSum::one(&hash);
    }
    if let Some((rid, _)) = expected.next() {
        return Err(LogError::corrupt("log", format!("op {rid} is recorded but missing")));
    }
    for (author, head) in heads {
        if chains.get(author) != Some(head) {
            return Err(LogError::BrokenChain {
                author: *author,
                seq: head.seq,
                id: head.id,
                reason: "chain does not end at the recorded head",
            });
        }
    }
    Ok(VerifyReport { ops: total.count, authors: chains.len(), fingerprint: total.fingerprint() })
}
