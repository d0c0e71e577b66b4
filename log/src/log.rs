//! [`Log`]: the in-memory operation log.

use std::collections::{BTreeMap, HashMap};
use std::ops::{Bound, RangeBounds};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::segment::{DEFAULT_SEGMENT_OPS, SegmentChanges, SegmentRecord, Segments};
use crate::{
    DEFAULT_MAX_DRIFT, EncodedOp, Equivocation, Fingerprint, Hash, Hlc, Identity, LogError, MAX_EVIDENCE_OPS, Op, OpId,
    OpKind, PeerId, Proof, RangeSum, Result, SumIndex, decode_op,
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

/// How a run of an author's ops conflicts with the author's chain a log holds
/// ([`Log::conflict`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// The run's op at `index` forks the held chain right there: it follows the held op before
    /// it, and another op is held at its seq. `held` are the held ops of the author from that seq
    /// on, ascending: the other branch.
    At {
        /// Where the fork is in the run.
        index: usize,
        /// The held ops of the other branch, `(id, hash)` ascending.
        held: Vec<(OpId, Hash)>,
    },
    /// The run conflicts with the held chain, but not at its first op that is not held: the
    /// fork is before it, and the peer that sent it lacks the held side or this log lacks the
    /// ops between. `held` are the held ops of the author from [`MAX_EVIDENCE_OPS`] seqs before
    /// that op (from seq 1 if fewer) up to the first one at or after the seq before it that the
    /// log can prove (its head if none), ascending: what the other side needs to find the fork.
    Earlier {
        /// The seq of the run's first op that is not held.
        seq: u64,
        /// The held ops, `(id, hash)` ascending.
        held: Vec<(OpId, Hash)>,
    },
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
    identity: Option<Identity>,
    /// Other authors' identities the log may sign with on demand ([`Log::add_signer`]).
    signers: Vec<Identity>,
    proofs: HashMap<OpId, Proof>,
    /// The proven equivocations, by author: the author's ops from the fork's seq on are not
    /// taken (see [`Log::freeze`]).
    forks: HashMap<PeerId, Equivocation>,
    /// False for a log made by [`Log::unindexed`] until [`Log::load_index`]: it then holds the
    /// chain heads only.
    indexed: bool,
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
            identity: None,
            signers: Vec::new(),
            proofs: HashMap::new(),
            forks: HashMap::new(),
            indexed: true,
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
        log.load_index(records, heads)?;
        Ok(log)
    }

    /// A log that knows each author's chain head and nothing else: enough to make the next local
    /// op and to check that an op extends its author's chain, at a cost independent of the
    /// history's length. Its ids, hashes, fingerprints and segments are empty (and
    /// [`Log::len`] is 0) until [`Log::load_index`] fills them; ops added meanwhile move the
    /// heads only. A database opens with this and loads the index the first time something
    /// needs it.
    pub fn unindexed(clock: Hlc, config: LogConfig, heads: impl IntoIterator<Item = (PeerId, ChainHead)>) -> Log {
        let mut log = Log::new(clock, config);
        log.indexed = false;
        log.heads = heads.into_iter().collect();
        log.restore_clock();
        log
    }

    /// Moves the clock's floor past every chain head, so it never goes back below what the log
    /// already holds, however far behind the physical clock is now (each author's head is its
    /// newest op).
    fn restore_clock(&self) {
        for head in self.heads.values() {
            self.clock.restore(&head.id);
        }
    }

    /// Whether the log holds its index (false for a log made by [`Log::unindexed`] until
    /// [`Log::load_index`]).
    pub fn is_indexed(&self) -> bool {
        self.indexed
    }

    /// Replaces the index and the chain heads with those rebuilt from persisted segment records
    /// and heads, keeping the clock. On error the log is unchanged.
    pub fn load_index(
        &mut self,
        records: Vec<SegmentRecord>,
        heads: impl IntoIterator<Item = (PeerId, ChainHead)>,
    ) -> Result<()> {
        let mut hashes = BTreeMap::new();
        let mut index = SumIndex::new();
        for rec in &records {
            for (id, hash) in &rec.members {
                if hashes.insert(*id, *hash).is_some() {
                    return Err(LogError::corrupt("segment record", format!("op {id} is in two segments")));
                }
                index.insert(*id, hash);
            }
        }
        let heads: HashMap<PeerId, ChainHead> = heads.into_iter().collect();
        for head in heads.values() {
            if hashes.get(&head.id) != Some(&head.hash) {
                return Err(LogError::corrupt("chain heads", format!("head {} is not in the segments", head.id)));
            }
        }
        self.hashes = hashes;
        self.bytes = BTreeMap::new();
        self.index = index;
        self.heads = heads;
        self.restore_clock();
        self.segments = Segments::restore(self.config.segment_ops, records);
        self.indexed = true;
        Ok(())
    }

    /// Makes the log sign as `identity`, whose author id must be the log's peer.
    pub fn set_identity(&mut self, identity: Identity) -> Result<()> {
        if identity.peer() != self.peer() {
            return Err(LogError::BadProof { author: self.peer(), reason: "the identity is another author's" });
        }
        self.identity = Some(identity);
        Ok(())
    }

    /// Adds `identity` to those the log signs with on demand ([`Log::proof_of`]): another author
    /// whose secret key its owner shares, such as the author slots of one database, whose ops
    /// then need no proof of their own until they leave it.
    pub fn add_signer(&mut self, identity: Identity) {
        if !self.signers.iter().any(|s| s.peer() == identity.peer()) {
            self.signers.push(identity);
        }
    }

    /// Whether the log can sign for `author` ([`Log::set_identity`], [`Log::add_signer`]).
    pub fn signs_for(&self, author: &PeerId) -> bool {
        self.identity.iter().chain(&self.signers).any(|i| i.peer() == *author)
    }

    /// The identity local ops are signed with, if the log has one.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// Keeps `proof` for the op `id` (a proven run end or an op at a multiple of
    /// [`PROOF_INTERVAL`](crate::PROOF_INTERVAL) received from a peer, or a persisted one), to
    /// pass on with the op and to prove a fork with. It is not checked here: callers check it
    /// first.
    pub fn keep_proof(&mut self, id: OpId, proof: Proof) {
        self.proofs.insert(id, proof);
    }

    /// The proof for op `id`: one held for it, or, for an op of the local author or of a signer
    /// ([`Log::add_signer`]), a fresh signature (which needs the index: the op's hash). `None` if
    /// the log can prove neither.
    pub fn proof_of(&self, id: &OpId) -> Option<Proof> {
        if let Some(p) = self.proofs.get(id) {
            return Some(*p);
        }
        let identity = self.identity.iter().chain(&self.signers).find(|i| i.peer() == id.peer)?;
        Some(identity.prove(self.hashes.get(id)?))
    }

    /// Checks that `proofs` prove the new ops of a batch (`ops` with `fresh` from
    /// [`Log::check_remote`]): for each author with new ops, the proof of its newest one checks
    /// (the hash chain carries it back to the others), and so does the proof of each new op whose
    /// seq is a multiple of [`PROOF_INTERVAL`](crate::PROOF_INTERVAL), which must be among
    /// `proofs` itself. Returns those proofs, to keep: with them the log can prove any of its ops
    /// with a run of at most that many ops (see [`Equivocation`]).
    pub fn check_proofs(
        &self,
        ops: &[EncodedOp],
        fresh: &[bool],
        proofs: &[(OpId, Proof)],
    ) -> Result<Vec<(OpId, Proof)>> {
        let given: HashMap<OpId, Proof> = proofs.iter().copied().collect();
        // The op before a proven fork is proven by the equivocation's signed runs.
        let fork_prev = |op: &EncodedOp| self.forks.get(&op.op.author).is_some_and(|eq| eq.fork().prev == op.hash);
        let mut newest: HashMap<PeerId, &EncodedOp> = HashMap::new();
        let mut out = Vec::new();
        for (op, _) in ops.iter().zip(fresh).filter(|(_, f)| **f) {
            let slot = newest.entry(op.op.author).or_insert(op);
            if op.op.seq > slot.op.seq {
                *slot = op;
            }
            if crate::must_prove(op.op.seq) && !fork_prev(op) {
                let author = op.op.author;
                let proof = given.get(&op.op.id).ok_or(LogError::BadProof {
                    author,
                    reason: "no proof for its op at a multiple of the interval",
                })?;
                proof.check(author, &op.hash)?;
                out.push((op.op.id, *proof));
            }
        }
        for (author, op) in newest {
            if fork_prev(op) || out.iter().any(|(id, _)| *id == op.op.id) {
                continue;
            }
            // The proof may be of a later op of the batch that the log does not take (its author
            // is frozen there), whose chain runs back to this one.
            let mut end = op;
            let proof = loop {
                if let Some(p) = given.get(&end.op.id) {
                    break *p;
                }
                let next =
                    ops.iter().find(|o| o.op.author == author && o.op.seq == end.op.seq + 1 && o.op.prev == end.hash);
                end = next.ok_or(LogError::BadProof { author, reason: "no proof for the newest of its ops" })?;
            };
            proof.check(author, &end.hash)?;
            if end.op.id == op.op.id {
                out.push((op.op.id, proof));
            }
        }
        Ok(out)
    }

    /// Every proof the log keeps, by op id: the proven chain heads and the ops at multiples of
    /// [`PROOF_INTERVAL`](crate::PROOF_INTERVAL) received, and the local author's signed ops.
    pub fn kept_proofs(&self) -> impl Iterator<Item = (&OpId, &Proof)> {
        self.proofs.iter()
    }

    /// Checks and adds a batch of remote ops with the proofs of their authorship, all or nothing
    /// ([`Log::check_remote`], then [`Log::check_proofs`]). Returns the ops that were new, in id
    /// order.
    pub fn insert_proven(&mut self, ops: Vec<EncodedOp>, proofs: &[(OpId, Proof)]) -> Result<Vec<EncodedOp>> {
        let fresh = self.check_remote(&ops)?;
        let keep = self.check_proofs(&ops, &fresh, proofs)?;
        let new = self.add_checked(ops, fresh, true)?;
        for (id, p) in keep {
            self.keep_proof(id, p);
        }
        Ok(new)
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

    /// `(id, hash)` of every op in `range`, in id order. An inverted range is empty.
    pub fn ids(&self, range: impl RangeBounds<OpId>) -> impl DoubleEndedIterator<Item = (&OpId, &Hash)> {
        self.hashes.range(checked(&range))
    }

    /// `(id, bytes, hash)` of every op in `range` held in memory, in id order.
    pub fn range(&self, range: impl RangeBounds<OpId>) -> impl Iterator<Item = (OpId, &[u8], &Hash)> {
        self.bytes.range(checked(&range)).map(|(id, b)| (*id, b.as_slice(), &self.hashes[id]))
    }

    /// Decodes the ops in `range` held in memory, in id order.
    pub fn ops(&self, range: impl RangeBounds<OpId>) -> impl Iterator<Item = Result<Op>> + '_ {
        self.bytes.range(checked(&range)).map(|(_, b)| decode_op(b))
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

    /// The id of the `k`-th op (from 0) of `range`, in O(log n); `None` when the range holds `k`
    /// ops or fewer. Lets a peer split a range into sub-ranges of equal counts.
    pub fn nth_id(&self, range: impl RangeBounds<OpId>, k: u64) -> Option<OpId> {
        let start = match range.start_bound() {
            Bound::Included(b) => self.index.rank(b),
            Bound::Excluded(b) => self.index.prefix(b, true).count,
            Bound::Unbounded => 0,
        };
        let id = self.index.select(start.checked_add(k)?)?;
        range.contains(&id).then_some(id)
    }

    /// The `k`-th op id of the whole log (from 0) and the summary of the `k` ops before it, in
    /// O(log n); `None` when the log holds `k` ops or fewer.
    pub fn select(&self, k: u64) -> Option<(OpId, RangeSum)> {
        self.index.select_with_prefix(k)
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
            if id <= h.id {
                // The head is beyond the drift bound of a clock set far back: step past it anyway,
                // so the local chain stays in id order.
                id = OpId { time: h.id.time.saturating_add(1), peer };
            }
        }
        EncodedOp::new(Op {
            id,
            author: peer,
            seq: head.map_or(1, |h| h.seq + 1),
            prev: head.map_or(Hash::ZERO, |h| h.hash),
            kind,
        })
    }

    /// Checks that an op made by [`Log::prepare_local`] can be added: it still extends the local
    /// chain, and the local author is not frozen there by a proven equivocation of its own (two
    /// instances writing with one identity): its peers would take no such op.
    pub fn check_local(&self, op: &EncodedOp) -> Result<()> {
        crate::codec::check_op_shape(&op.op)?;
        if self.forks.get(&op.op.author).is_some_and(|eq| op.op.seq >= eq.fork().seq) {
            return Err(LogError::Fork { author: op.op.author, seq: op.op.seq, id: op.op.id });
        }
        self.check_link(&op.op, self.heads.get(&op.op.author).copied())
    }

    /// Adds an op made by [`Log::prepare_local`] ([`Log::check_local`] first).
    pub fn insert_local(&mut self, op: &EncodedOp) -> Result<()> {
        self.check_local(op)?;
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
        self.check_batch(ops, true)
    }

    /// [`Log::check_remote`], with the drift bound checked only if `drift`.
    fn check_batch(&self, ops: &[EncodedOp], drift: bool) -> Result<Vec<bool>> {
        let order = crate::sorted_indices(ops.len(), &|a, b| {
            (ops[a].op.author, ops[a].op.seq).cmp(&(ops[b].op.author, ops[b].op.seq))
        });
        let mut heads: HashMap<PeerId, Option<ChainHead>> = HashMap::new();
        // The author whose head in `heads` is an op of the batch, not the log's: the ops come
        // author by author (in `order`), so only the current author's can be.
        let mut extended: Option<PeerId> = None;
        let mut fresh = vec![false; ops.len()];
        for i in order {
            let e = &ops[i];
            let fork = LogError::Fork { author: e.op.author, seq: e.op.seq, id: e.op.id };
            if self.forks.get(&e.op.author).is_some_and(|eq| e.op.seq >= eq.fork().seq) {
                continue; // the author is frozen from its fork on
            }
            if let Some(held) = self.hashes.get(&e.op.id) {
                if *held == e.hash {
                    continue;
                }
                return Err(fork);
            }
            crate::codec::check_op_shape(&e.op)?;
            if drift {
                self.clock.check(&e.op.id)?;
            }
            let head = heads.entry(e.op.author).or_insert_with(|| self.heads.get(&e.op.author).copied());
            if let Some(h) = head
                && e.op.seq <= h.seq
                && fresh.iter().zip(ops).any(|(f, o)| *f && o.op.id == e.op.id && o.hash == e.hash)
            {
                continue; // the same op twice in one batch
            }
            if let Some(h) = head
                && extended != Some(e.op.author)
                && (e.op.seq <= h.seq || (e.op.seq == h.seq + 1 && e.op.prev != h.hash))
            {
                return Err(fork);
            }
            self.check_link(&e.op, *head)?;
            *head = Some(ChainHead { seq: e.op.seq, hash: e.hash, id: e.op.id });
            extended = Some(e.op.author);
            fresh[i] = true;
        }
        Ok(fresh)
    }

    /// Checks and adds a batch of ops from a trusted source (this database's own storage, a test),
    /// all or nothing: chains and drift, not authorship ([`Log::insert_proven`] checks that too).
    /// Returns the ops that were new, in id order.
    pub fn insert_remote(&mut self, ops: Vec<EncodedOp>) -> Result<Vec<EncodedOp>> {
        let fresh = self.check_remote(&ops)?;
        self.add_checked(ops, fresh, true)
    }

    /// [`Log::insert_remote`] for ops another connection already committed to this database's
    /// storage: they are part of the local history, as the ops a log is restored over, so the
    /// drift bound does not apply and the clock moves past them whatever it reads (a write of
    /// this connection comes after them, even with its clock set far back since they were
    /// written).
    pub fn insert_stored(&mut self, ops: Vec<EncodedOp>) -> Result<Vec<EncodedOp>> {
        let fresh = self.check_batch(&ops, false)?;
        self.add_checked(ops, fresh, false)
    }

    /// Adds the ops of a checked batch that `fresh` marks new; the clock observes them (within
    /// the drift bound) if `observe`, else moves its floor past them.
    fn add_checked(&mut self, ops: Vec<EncodedOp>, fresh: Vec<bool>, observe: bool) -> Result<Vec<EncodedOp>> {
        let mut new: Vec<EncodedOp> = ops.into_iter().zip(fresh).filter_map(|(o, f)| f.then_some(o)).collect();
        crate::sort_by_key(&mut new, |o| o.op.id);
        new.dedup_by_key(|o| o.op.id);
        for op in &new {
            if observe {
                self.clock.observe(&op.op.id)?;
            } else {
                self.clock.restore(&op.op.id);
            }
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
        if self.indexed {
            self.hashes.insert(id, op.hash);
            if self.config.keep_ops {
                self.bytes.insert(id, op.bytes.clone());
            }
            self.index.insert(id, &op.hash);
            self.segments.insert(id, op.hash);
        }
        // The proof of the head it replaces goes if the log can sign that op again (its own
        // author's, or a signer's) and it need not carry one: a writer keeps its heads' proofs,
        // not one per commit. Other authors' proofs stay: a relay ships their ops up to the last
        // op it can prove (such as the one before a fork, when the author is frozen there).
        if let Some(old) = self.heads.insert(op.op.author, ChainHead { seq: op.op.seq, hash: op.hash, id })
            && !crate::identity::must_prove(old.seq)
            && self.signs_for(&op.op.author)
        {
            self.proofs.remove(&old.id);
        }
    }

    /// The proven equivocation of `author`, if the log holds one.
    pub fn equivocation(&self, author: &PeerId) -> Option<&Equivocation> {
        self.forks.get(author)
    }

    /// Every proven equivocation the log holds.
    pub fn equivocations(&self) -> impl Iterator<Item = &Equivocation> {
        self.forks.values()
    }

    /// The held ops of `author` from seq `from` on (`(id, hash)`, ascending), and the held op
    /// just before them (at seq `from - 1`), if any. The log keeps no seqs, so this walks back
    /// from the author's head over every op since the first one returned: it is for forks,
    /// which are rare. Empty on a log whose index is not loaded.
    pub fn held_from(&self, author: &PeerId, from: u64) -> (Vec<(OpId, Hash)>, Option<ChainHead>) {
        let Some(head) = self.heads.get(author).filter(|_| self.indexed) else { return (Vec::new(), None) };
        let mut after = Vec::new();
        let mut seq = head.seq;
        for (id, hash) in self.hashes.range(..=head.id).rev().filter(|(id, _)| id.peer == *author) {
            if seq < from {
                after.reverse();
                return (after, Some(ChainHead { seq, hash: *hash, id: *id }));
            }
            after.push((*id, *hash));
            seq -= 1;
        }
        after.reverse();
        (after, None)
    }

    /// How `run` (ops of one author, ascending seqs, such as a segment brings) conflicts with the
    /// author's chain held here, if it does. Ops of the run the log holds are skipped; the first
    /// one it does not hold either extends the held chain, comes after a gap (no conflict: the
    /// ops between are missing), or conflicts.
    pub fn conflict(&self, run: &[EncodedOp]) -> Option<Conflict> {
        let index = run.iter().position(|o| self.hashes.get(&o.op.id) != Some(&o.hash))?;
        let op = &run[index];
        let head = self.heads.get(&op.op.author)?;
        if op.op.seq > head.seq + 1 || (op.op.seq == head.seq + 1 && op.op.prev == head.hash) {
            return None;
        }
        let (held, before) = self.held_from(&op.op.author, op.op.seq);
        let prev = before.map_or(Hash::ZERO, |b| b.hash);
        if op.op.seq > head.seq || op.op.prev != prev || held.is_empty() {
            let from = op.op.seq.saturating_sub(MAX_EVIDENCE_OPS as u64).max(1);
            let mut held = self.held_from(&op.op.author, from).0;
            let before = (op.op.seq - 1).saturating_sub(from) as usize;
            if let Some(end) = held.iter().skip(before).position(|(id, _)| self.proof_of(id).is_some()) {
                held.truncate(before + end + 1);
            }
            return Some(Conflict::Earlier { seq: op.op.seq, held });
        }
        Some(Conflict::At { index, held })
    }

    /// Keeps `eq` as its author's equivocation if the log has none for that author or one at a
    /// later seq, without touching the ops (a database restoring what it stored). Returns whether
    /// it was kept.
    pub fn keep_equivocation(&mut self, eq: Equivocation) -> bool {
        let fork = *eq.fork();
        if self.forks.get(&fork.author).is_some_and(|held| held.fork().seq <= fork.seq) {
            return false;
        }
        self.forks.insert(fork.author, eq);
        true
    }

    /// Applies a proven equivocation: its author is frozen from the fork's seq on, on either
    /// branch. The author's held ops at that seq and after are removed (with their proofs, from
    /// the fingerprint index and the segments), its chain head goes back to the op before the
    /// fork, and from now on [`Log::check_remote`] takes none of its ops at or after that seq.
    /// Returns the ids removed, ascending, or `None` if the log already holds an equivocation of
    /// the author at that seq or before (nothing changes). Needs the index.
    pub fn freeze(&mut self, eq: Equivocation) -> Result<Option<Vec<OpId>>> {
        if !self.indexed {
            return Err(LogError::corrupt("log", "a fork needs the log's index"));
        }
        let fork = *eq.fork();
        if !self.keep_equivocation(eq) {
            return Ok(None);
        }
        let (removed, before) = self.held_from(&fork.author, fork.seq);
        if removed.is_empty() {
            return Ok(Some(Vec::new()));
        }

        for (id, _) in &removed {
            self.hashes.remove(id);
            self.bytes.remove(id);
            self.proofs.remove(id);
            self.segments.remove(id);
        }
        self.index = SumIndex::new();
        for (id, hash) in &self.hashes {
            self.index.insert(*id, hash);
        }
        match before {
            Some(h) => self.heads.insert(fork.author, h),
            None => self.heads.remove(&fork.author),
        };
        Ok(Some(removed.into_iter().map(|(id, _)| id).collect()))
    }

    /// The segment records that removing the ops `ids` (held ones) would write or delete, without
    /// removing them: what [`Log::freeze`] changes, for a database to persist first.
    pub fn preview_removal(&self, ids: &[OpId]) -> SegmentChanges {
        self.segments.preview_removal(ids)
    }

    /// The segment partition.
    pub fn segments(&self) -> &Segments {
        &self.segments
    }

    /// The segment records that adding `new` ops would write or delete, without adding them: a
    /// database persists these in the same commit as the ops, then adds the ops and discards
    /// [`Log::take_segment_changes`].
    ///
    /// `new` may be in any order and hold ops the log already has: like [`Log::insert_remote`],
    /// the preview adds the ops not held yet, once each, in id order.
    pub fn preview_segments(&self, new: &[(OpId, Hash)]) -> SegmentChanges {
        let mut fresh: Vec<(OpId, Hash)> =
            new.iter().filter(|(id, _)| !self.hashes.contains_key(id)).copied().collect();
        crate::sort_by_key(&mut fresh, |(id, _)| *id);
        fresh.dedup_by_key(|(id, _)| *id);
        self.segments.preview(&fresh)
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

/// `range` as bounds a `BTreeMap` accepts: an inverted or empty-exclusive range (which would make
/// `BTreeMap::range` panic) becomes an empty one.
fn checked(range: &impl RangeBounds<OpId>) -> (Bound<OpId>, Bound<OpId>) {
    let (start, end) = (range.start_bound().cloned(), range.end_bound().cloned());
    let empty = match (start, end) {
        (Bound::Excluded(s), Bound::Excluded(e)) => s >= e,
        (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) => s > e,
        _ => false,
    };
    if empty { (Bound::Included(OpId::MIN), Bound::Excluded(OpId::MIN)) } else { (start, end) }
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
        let recorded_hash = match expected.next() {
            Some((rid, rhash)) if *rid == id => *rhash,
            Some((rid, _)) if *rid < id => {
                return Err(LogError::corrupt("log", format!("op {rid} is recorded but missing")));
            }
            _ => return Err(LogError::corrupt("log", format!("op {id} is not recorded"))),
        };
        let op = match decode_op(bytes) {
            Ok(op) => op,
            Err(LogError::InvalidOp { reason, .. }) => return Err(LogError::InvalidOp { id, reason }),
            Err(e) if hash != recorded_hash => {
                return Err(LogError::corrupt("op", format!("op {id}: hash differs from the recorded hash ({e})")));
            }
            Err(e) => return Err(LogError::corrupt("op", format!("op {id}: {e}"))),
        };
        let broken = |reason| LogError::BrokenChain { author: op.author, seq: op.seq, id, reason };
        if hash != recorded_hash {
            return Err(broken("hash differs from the recorded hash"));
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::{Equivocation, Identity};
    use crate::{Step, Value, advance_manual_clock, manual_clock, set_manual_clock};

    const T0: u64 = 1_700_000_000_000;
    const ALICE: PeerId = PeerId([0xa1; 16]);
    const BOB: PeerId = PeerId([0xb0; 16]);

    fn log_of(peer: PeerId) -> Log {
        Log::new(Hlc::new(peer, manual_clock, DEFAULT_MAX_DRIFT), LogConfig::default())
    }

    fn put(key: &str, v: i64) -> OpKind {
        OpKind::Put { key: key.into(), value: Value::Int(v) }
    }

    /// `n` ops appended by `peer`, one millisecond apart.
    fn written(peer: PeerId, n: i64) -> (Log, Vec<EncodedOp>) {
        let mut log = log_of(peer);
        let ops = (0..n)
            .map(|i| {
                advance_manual_clock(1);
                log.append(put("k", i)).unwrap()
            })
            .collect();
        (log, ops)
    }

    fn stored(log: &Log) -> BTreeMap<OpId, Vec<u8>> {
        log.range(..).map(|(id, b, _)| (id, b.to_vec())).collect()
    }

    fn verify_stored(log: &Log, ops: &BTreeMap<OpId, Vec<u8>>) -> Result<VerifyReport> {
        let recorded: BTreeMap<OpId, Hash> = log.ids(..).map(|(i, h)| (*i, *h)).collect();
        verify_ops(ops.iter().map(|(i, b)| Ok((*i, b.as_slice()))), &recorded, log.heads())
    }

    #[test]
    fn append_assigns_ids_seqs_and_the_prev_chain() {
        set_manual_clock(T0);
        let (log, ops) = written(ALICE, 5);
        for (i, op) in ops.iter().enumerate() {
            assert_eq!(op.op.seq, i as u64 + 1);
            assert_eq!(op.op.author, ALICE);
            assert_eq!(op.op.id.peer, ALICE);
            assert_eq!(op.op.prev, if i == 0 { Hash::ZERO } else { ops[i - 1].hash });
            assert_eq!(op.hash, Hash::of(&op.bytes));
            assert_eq!(log.hash_of(&op.op.id), Some(&op.hash));
            assert_eq!(log.bytes_of(&op.op.id), Some(op.bytes.as_slice()));
        }
        assert!(ops.windows(2).all(|w| w[0].op.id < w[1].op.id));
        assert_eq!(log.len(), 5);
        assert_eq!(log.last_id(), Some(ops[4].op.id));
        assert_eq!(log.heads()[&ALICE], ChainHead { seq: 5, hash: ops[4].hash, id: ops[4].op.id });
        let decoded: Vec<Op> = log.ops(..).collect::<Result<_>>().unwrap();
        assert_eq!(decoded, ops.iter().map(|o| o.op.clone()).collect::<Vec<_>>());
        let report = log.verify().unwrap();
        assert_eq!((report.ops, report.authors, report.fingerprint), (5, 1, log.fingerprint(..)));
    }

    #[test]
    fn ids_keep_increasing_when_the_clock_stands_still() {
        set_manual_clock(T0);
        let mut log = log_of(ALICE);
        let a = log.append(OpKind::Clear).unwrap();
        let b = log.append(OpKind::Clear).unwrap();
        assert!(b.op.id > a.op.id);
        assert_eq!(b.op.id.millis(), a.op.id.millis());
    }

    #[test]
    fn inserting_an_op_twice_is_a_no_op() {
        set_manual_clock(T0);
        let (_, ops) = written(ALICE, 3);
        let mut bob = log_of(BOB);
        let new = bob.insert_remote(ops.clone()).unwrap();
        assert_eq!(new, ops);
        let fp = bob.fingerprint(..);
        assert_eq!(bob.insert_remote(ops.clone()).unwrap(), vec![]);
        assert_eq!(bob.insert_remote(vec![ops[1].clone()]).unwrap(), vec![]);
        assert_eq!((bob.len(), bob.fingerprint(..)), (3, fp));

        // The same op twice in one batch is inserted once.
        let mut carol = log_of(PeerId([0xc0; 16]));
        let twice = vec![ops[0].clone(), ops[1].clone(), ops[0].clone(), ops[1].clone()];
        assert_eq!(carol.insert_remote(twice).unwrap().len(), 2);
        assert_eq!(carol.len(), 2);
        carol.verify().unwrap();
    }

    #[test]
    fn batches_may_come_in_any_order() {
        set_manual_clock(T0);
        let (alice, ops) = written(ALICE, 6);
        let mut bob = log_of(BOB);
        let mut shuffled = ops.clone();
        shuffled.reverse();
        shuffled.swap(0, 3);
        assert_eq!(bob.insert_remote(shuffled).unwrap(), ops, "new ops come back in id order");
        assert_eq!(bob.fingerprint(..), alice.fingerprint(..));
        assert_eq!(bob.heads(), alice.heads());
    }

    #[test]
    fn a_gap_is_reported() {
        set_manual_clock(T0);
        let (_, ops) = written(ALICE, 3);
        let mut bob = log_of(BOB);
        let err = bob.insert_remote(vec![ops[1].clone()]).unwrap_err();
        assert_eq!(err, LogError::ChainGap { author: ALICE, seq: 2, have: 0, id: ops[1].op.id });
        bob.insert_remote(vec![ops[0].clone()]).unwrap();
        let err = bob.insert_remote(vec![ops[2].clone()]).unwrap_err();
        assert!(matches!(err, LogError::ChainGap { seq: 3, have: 1, .. }), "{err:?}");
        assert_eq!(bob.len(), 1);
    }

    #[test]
    fn forks_and_wrong_prevs_break_the_chain() {
        set_manual_clock(T0);
        let (_, ops) = written(ALICE, 2);
        let mut bob = log_of(BOB);
        bob.insert_remote(ops.clone()).unwrap();

        // A second history of the same author: another op with seq 2.
        let mut fork = ops[1].op.clone();
        fork.kind = OpKind::Clear;
        fork.id.time += 1;
        let fork = EncodedOp::new(fork);
        let err = bob.insert_remote(vec![fork]).unwrap_err();
        assert!(matches!(err, LogError::Fork { seq: 2, .. }), "{err:?}");

        // Another op under an id the log already holds.
        let mut same_id = ops[1].op.clone();
        same_id.kind = OpKind::Clear;
        let err = bob.insert_remote(vec![EncodedOp::new(same_id)]).unwrap_err();
        assert!(matches!(err, LogError::Fork { seq: 2, .. }), "{err:?}");

        // A next op whose prev is not the head's hash.
        let next = Op {
            id: OpId { time: ops[1].op.id.time + 16, peer: ALICE },
            author: ALICE,
            seq: 3,
            prev: ops[0].hash,
            kind: OpKind::Clear,
        };
        // Against the log's own head, that is a fork of the chain it holds; within a batch, a
        // broken chain.
        let err = bob.insert_remote(vec![EncodedOp::new(next.clone())]).unwrap_err();
        assert_eq!(err, LogError::Fork { author: ALICE, seq: 3, id: next.id });
        let good = Op { prev: ops[1].hash, ..next.clone() };
        let after = Op { id: OpId { time: next.id.time + 1, peer: ALICE }, seq: 4, prev: ops[0].hash, ..next.clone() };
        let err = bob.insert_remote(vec![EncodedOp::new(good), EncodedOp::new(after.clone())]).unwrap_err();
        let reason = "prev is not the hash of the author's previous op";
        assert_eq!(err, LogError::BrokenChain { author: ALICE, seq: 4, id: after.id, reason });

        // A next op whose id goes back in time.
        let back = Op { id: OpId { time: ops[0].op.id.time - 1, peer: ALICE }, prev: ops[1].hash, ..next };
        let err = bob.insert_remote(vec![EncodedOp::new(back)]).unwrap_err();
        assert!(matches!(err, LogError::BrokenChain { seq: 3, .. }), "{err:?}");
        assert_eq!(bob.len(), 2);
    }

    #[test]
    fn two_different_ops_with_one_id_in_one_batch_are_a_fork() {
        set_manual_clock(T0);
        let (_, ops) = written(ALICE, 1);
        let mut twin = ops[0].op.clone();
        twin.kind = OpKind::Clear;
        let mut bob = log_of(BOB);
        let err = bob.insert_remote(vec![ops[0].clone(), EncodedOp::new(twin)]).unwrap_err();
        assert!(matches!(err, LogError::BrokenChain { seq: 1, .. }), "{err:?}");
        assert!(bob.is_empty());
    }

    /// Mallory's chain of `n` ops from `from` (seq `from`, after `prev`), one millisecond apart
    /// from `ms`, with values from `v`.
    fn chain(who: &Identity, from: u64, prev: Hash, ms: u64, n: u64, v: i64) -> Vec<EncodedOp> {
        let mut out: Vec<EncodedOp> = Vec::new();
        for i in 0..n {
            let prev = out.last().map_or(prev, |o| o.hash);
            out.push(EncodedOp::new(Op {
                id: OpId::from_millis(ms + i, who.peer()),
                author: who.peer(),
                seq: from + i,
                prev,
                kind: put("k", v + i as i64),
            }));
        }
        out
    }

    #[test]
    fn a_proven_fork_freezes_its_author_and_removes_its_ops_from_the_fork_on() {
        set_manual_clock(T0 + 100);
        let mallory = Identity::from_secret(&[9; 32]);
        let m = mallory.peer();
        let base = chain(&mallory, 1, Hash::ZERO, T0, 2, 0);
        let a = chain(&mallory, 3, base[1].hash, T0 + 10, 3, 10);
        let b = chain(&mallory, 3, base[1].hash, T0 + 20, 2, 20);
        let (_, bob_ops) = written(BOB, 3);
        let mut alice = log_of(ALICE);
        alice.insert_remote(bob_ops.clone()).unwrap();
        alice.insert_remote(base.iter().chain(&a).cloned().collect()).unwrap();

        // Ops the log holds, the next op, or one after a gap: no conflict.
        assert_eq!(alice.conflict(&a), None);
        assert_eq!(alice.conflict(&chain(&mallory, 6, a[2].hash, T0 + 30, 1, 0)), None);
        assert_eq!(alice.conflict(&chain(&mallory, 8, Hash([1; 32]), T0 + 30, 1, 0)), None);
        // Branch B forks at seq 3, right after the op the log holds at seq 2.
        let held: Vec<(OpId, Hash)> = a.iter().map(|o| (o.op.id, o.hash)).collect();
        let with_base: Vec<EncodedOp> = base.iter().chain(&b).cloned().collect();
        assert_eq!(alice.conflict(&with_base), Some(Conflict::At { index: 2, held: held.clone() }));
        assert_eq!(alice.conflict(&b), Some(Conflict::At { index: 0, held: held.clone() }));
        // Without its first op, B forks before the run: the held ops from seq 1 are the other
        // side of it.
        let all: Vec<(OpId, Hash)> = base.iter().chain(&a).map(|o| (o.op.id, o.hash)).collect();
        assert_eq!(alice.conflict(&b[1..]), Some(Conflict::Earlier { seq: 4, held: all.clone() }));
        // So is a next op after another head.
        let c5 = chain(&mallory, 6, b[1].hash, T0 + 30, 1, 0);
        assert_eq!(alice.conflict(&c5), Some(Conflict::Earlier { seq: 6, held: all }));
        assert!(matches!(alice.check_remote(&b), Err(LogError::Fork { seq: 3, .. })));
        let (from_2, before) = alice.held_from(&m, 2);
        assert_eq!(from_2[0], (base[1].op.id, base[1].hash));
        assert_eq!(from_2[1..], held[..]);
        assert_eq!(before, Some(ChainHead { seq: 1, hash: base[0].hash, id: base[0].op.id }));

        let eq = Equivocation::new((&a, mallory.prove(&a[2].hash)), (&b, mallory.prove(&b[1].hash))).unwrap();
        let before_fp = {
            let mut clean = log_of(ALICE);
            clean.insert_remote(bob_ops.iter().chain(&base).cloned().collect()).unwrap();
            clean.fingerprint(..)
        };
        let changes = alice.preview_removal(&held.iter().map(|(id, _)| *id).collect::<Vec<_>>());
        let _ = alice.take_segment_changes();
        let removed = alice.freeze(eq.clone()).unwrap().unwrap();
        assert_eq!(removed, held.iter().map(|(id, _)| *id).collect::<Vec<_>>());
        assert_eq!(alice.take_segment_changes(), changes);
        assert_eq!(alice.len(), 5);
        assert_eq!(alice.fingerprint(..), before_fp);
        assert_eq!(alice.heads()[&m], ChainHead { seq: 2, hash: base[1].hash, id: base[1].op.id });
        assert_eq!(alice.equivocation(&m), Some(&eq));
        alice.verify().unwrap();
        // The same proof again changes nothing; ops of either branch from the fork on are not
        // taken, and those before it are.
        assert_eq!(alice.freeze(eq.clone()).unwrap(), None);
        assert_eq!(alice.insert_remote(a.clone()).unwrap(), vec![]);
        assert_eq!(alice.insert_remote(b.clone()).unwrap(), vec![]);
        assert_eq!(alice.len(), 5);

        // A log that holds nothing of Mallory's takes its ops up to the fork, proven by the
        // equivocation alone.
        let mut carol = log_of(PeerId([0xc0; 16]));
        carol.keep_equivocation(eq);
        let fresh = carol.check_remote(&base).unwrap();
        assert!(carol.check_proofs(&base, &fresh, &[]).unwrap().is_empty());
        carol.insert_proven(base.clone(), &[]).unwrap();
        assert_eq!(carol.len(), 2);
        // Without it, the same ops need a proof.
        let mut dave = log_of(PeerId([0xd0; 16]));
        assert!(matches!(dave.insert_proven(base.clone(), &[]), Err(LogError::BadProof { .. })));
    }

    #[test]
    fn ops_before_a_fork_are_proven_by_a_later_op_the_log_does_not_take() {
        set_manual_clock(T0 + 100);
        let mallory = Identity::from_secret(&[9; 32]);
        let base = chain(&mallory, 1, Hash::ZERO, T0, 2, 0);
        // Branch X forks at seq 5 (proven), branch Y left the chain at seq 3.
        let x = chain(&mallory, 3, base[1].hash, T0 + 10, 4, 10);
        let x5b = chain(&mallory, 5, x[1].hash, T0 + 30, 1, 30);
        let y = chain(&mallory, 3, base[1].hash, T0 + 40, 3, 40);
        let eq = Equivocation::new((&x[2..3], mallory.prove(&x[2].hash)), (&x5b, mallory.prove(&x5b[0].hash))).unwrap();
        let mut alice = log_of(ALICE);
        alice.keep_equivocation(eq);
        alice.insert_remote(base.clone()).unwrap();
        // Y's ops at seq 3 and 4 are taken, its op at seq 5 is not, and its proof proves them.
        let proofs = [(y[2].op.id, mallory.prove(&y[2].hash))];
        let new = alice.insert_proven(y.clone(), &proofs).unwrap();
        assert_eq!(new, y[..2].to_vec());
        assert_eq!(alice.heads()[&mallory.peer()].seq, 4);
        // A proof of nothing in the chain proves nothing.
        let mut bob = log_of(BOB);
        bob.keep_equivocation(alice.equivocation(&mallory.peer()).unwrap().clone());
        bob.insert_remote(base).unwrap();
        let broken = [y[0].clone(), y[1].clone(), x5b[0].clone()];
        let err = bob.insert_proven(broken.to_vec(), &[(x5b[0].op.id, mallory.prove(&x5b[0].hash))]).unwrap_err();
        assert!(matches!(err, LogError::BadProof { .. }), "{err:?}");
    }

    #[test]
    fn the_kept_proofs_of_an_author_the_log_signs_for_are_its_heads_and_intervals() {
        set_manual_clock(T0 + 10_000);
        let mallory = Identity::from_secret(&[9; 32]);
        let k = crate::PROOF_INTERVAL;
        let ops = chain(&mallory, 1, Hash::ZERO, T0, 2 * k + 10, 0);
        let at = |seq: u64| ops[seq as usize - 1].op.id;
        // One op a batch, each proven, as a writer of one op a commit keeps them.
        let kept_by = |signer: bool| {
            let mut alice = log_of(ALICE);
            if signer {
                alice.add_signer(mallory.clone());
            }
            for op in &ops {
                let proof = mallory.prove(&op.hash);
                alice.insert_proven(vec![op.clone()], &[(op.op.id, proof)]).unwrap();
                alice.keep_proof(op.op.id, proof);
            }
            let mut kept: Vec<OpId> = alice.kept_proofs().map(|(id, _)| *id).collect();
            kept.sort();
            kept
        };
        // A log that can sign the author's ops again keeps the heads' and the intervals' only...
        assert_eq!(kept_by(true), vec![at(k), at(2 * k), at(2 * k + 10)]);
        // ...one that cannot keeps them all, to ship runs that end anywhere.
        assert_eq!(kept_by(false).len(), ops.len());
    }

    #[test]
    fn every_op_at_a_multiple_of_the_interval_is_proven_on_its_own() {
        set_manual_clock(T0 + 10_000);
        let mallory = Identity::from_secret(&[9; 32]);
        let k = crate::PROOF_INTERVAL;
        let ops = chain(&mallory, 1, Hash::ZERO, T0, 2 * k + 10, 0);
        let last = ops.last().unwrap();
        let end = (last.op.id, mallory.prove(&last.hash));
        let at = |seq: u64| (ops[seq as usize - 1].op.id, mallory.prove(&ops[seq as usize - 1].hash));
        let mut alice = log_of(ALICE);
        // The newest op's proof alone no longer proves the ops before it.
        let err = alice.insert_proven(ops.clone(), &[end]).unwrap_err();
        assert!(matches!(err, LogError::BadProof { author, .. } if author == mallory.peer()), "{err:?}");
        // Nor one missing interval proof, nor a forged one, nor one of another op.
        let mut forged = at(2 * k);
        forged.1.sig.0[5] ^= 1;
        let elsewhere = (at(2 * k).0, at(2 * k - 1).1);
        for proofs in [vec![at(k), end], vec![at(k), forged, end], vec![at(k), elsewhere, end]] {
            let err = alice.insert_proven(ops.clone(), &proofs).unwrap_err();
            assert!(matches!(err, LogError::BadProof { author, .. } if author == mallory.peer()), "{err:?}");
            assert!(alice.is_empty() && alice.heads().is_empty() && alice.kept_proofs().next().is_none());
        }
        // With them, the batch goes in and the log keeps them, to pass on.
        let proofs = [at(k), at(2 * k), end];
        assert_eq!(alice.insert_proven(ops.clone(), &proofs).unwrap().len(), ops.len());
        let mut kept: Vec<OpId> = alice.kept_proofs().map(|(id, _)| *id).collect();
        kept.sort();
        assert_eq!(kept, proofs.iter().map(|(id, _)| *id).collect::<Vec<_>>());
        // A batch that ends before the interval needs none but its newest op's.
        let mut bob = log_of(BOB);
        let short = &ops[..k as usize - 1];
        bob.insert_proven(short.to_vec(), &[(short[k as usize - 2].op.id, mallory.prove(&short[k as usize - 2].hash))])
            .unwrap();
        // The senders' choice: each author's newest op and the ops at multiples of the interval.
        let positions = ops.iter().map(|o| (o.op.id, o.op.seq));
        let shipped: Vec<OpId> =
            crate::shipped_proofs(positions, &|id| Some(at(1).1).filter(|_| id.peer == mallory.peer()))
                .into_iter()
                .map(|(id, _)| id)
                .collect();
        assert_eq!(shipped, vec![at(k).0, at(2 * k).0, end.0]);
    }

    #[test]
    fn a_frozen_local_author_writes_no_more() {
        set_manual_clock(T0 + 100);
        let mallory = Identity::from_secret(&[9; 32]);
        let mut log = Log::new(Hlc::new(mallory.peer(), manual_clock, DEFAULT_MAX_DRIFT), LogConfig::default());
        log.set_identity(mallory.clone()).unwrap();
        let a = log.append(put("k", 1)).unwrap();
        let b = chain(&mallory, 1, Hash::ZERO, T0 + 50, 1, 7);
        let eq = Equivocation::new((std::slice::from_ref(&a), mallory.prove(&a.hash)), (&b, mallory.prove(&b[0].hash)))
            .unwrap();
        assert_eq!(log.freeze(eq).unwrap().unwrap(), vec![a.op.id]);
        let next = log.prepare_local(put("k", 2));
        assert!(matches!(log.check_local(&next), Err(LogError::Fork { seq: 1, .. })));
        assert!(matches!(log.append(put("k", 2)), Err(LogError::Fork { .. })));
        assert!(log.is_empty());
    }

    #[test]
    fn an_earlier_fork_freezes_from_there() {
        set_manual_clock(T0 + 100);
        let mallory = Identity::from_secret(&[9; 32]);
        let base = chain(&mallory, 1, Hash::ZERO, T0, 1, 0);
        let a = chain(&mallory, 2, base[0].hash, T0 + 10, 4, 10);
        let b = chain(&mallory, 4, a[1].hash, T0 + 20, 1, 20);
        let c = chain(&mallory, 2, base[0].hash, T0 + 30, 1, 30);
        let mut alice = log_of(ALICE);
        alice.insert_remote(base.iter().chain(&a).cloned().collect()).unwrap();
        let late = Equivocation::new((&a[2..], mallory.prove(&a[3].hash)), (&b, mallory.prove(&b[0].hash))).unwrap();
        assert_eq!(alice.freeze(late.clone()).unwrap().unwrap().len(), 2);
        let early = Equivocation::new((&a[..1], mallory.prove(&a[0].hash)), (&c, mallory.prove(&c[0].hash))).unwrap();
        assert_eq!(alice.freeze(early.clone()).unwrap().unwrap(), vec![a[0].op.id, a[1].op.id]);
        assert_eq!(alice.freeze(late).unwrap(), None, "a later fork adds nothing");
        assert_eq!((alice.len(), alice.equivocation(&mallory.peer())), (1, Some(&early)));
        alice.verify().unwrap();
        // A fork at seq 1 leaves nothing of the author.
        let d = chain(&mallory, 1, Hash::ZERO, T0 + 40, 1, 40);
        let first = Equivocation::new((&base, mallory.prove(&base[0].hash)), (&d, mallory.prove(&d[0].hash))).unwrap();
        assert_eq!(alice.freeze(first).unwrap().unwrap(), vec![base[0].op.id]);
        assert!(alice.is_empty() && alice.heads().is_empty());
    }

    #[test]
    fn a_batch_is_all_or_nothing() {
        set_manual_clock(T0);
        let (_, alice_ops) = written(ALICE, 3);
        let (_, carol_ops) = written(PeerId([0xc0; 16]), 2);
        let mut bad = alice_ops[2].op.clone();
        bad.prev = Hash([9; 32]);
        let mut batch: Vec<EncodedOp> = alice_ops[..2].iter().chain(&carol_ops).cloned().collect();
        batch.push(EncodedOp::new(bad));
        let mut bob = log_of(BOB);
        assert!(matches!(bob.insert_remote(batch.clone()), Err(LogError::BrokenChain { seq: 3, .. })));
        assert!(bob.is_empty());
        assert_eq!(bob.fingerprint(..), RangeSum::default().fingerprint());
        assert!(bob.heads().is_empty());
        assert_eq!(bob.take_segment_changes(), SegmentChanges::default());
        // Without the bad op the rest goes in.
        batch.pop();
        assert_eq!(bob.insert_remote(batch).unwrap().len(), 4);
    }

    #[test]
    fn ops_too_far_ahead_are_rejected_and_not_adopted() {
        set_manual_clock(T0 + 3_600_000);
        let (_, ops) = written(ALICE, 1);
        set_manual_clock(T0);
        let mut bob = log_of(BOB);
        let err = bob.insert_remote(ops.clone()).unwrap_err();
        assert!(matches!(err, LogError::ClockDrift { id, .. } if id == ops[0].op.id), "{err:?}");
        assert!(bob.is_empty());
        let mine = bob.append(OpKind::Clear).unwrap();
        assert!(mine.op.id < ops[0].op.id);
        // Once the local clock catches up the op is accepted.
        set_manual_clock(T0 + 3_600_000);
        bob.insert_remote(ops).unwrap();
        assert_eq!(bob.len(), 2);
    }

    #[test]
    fn local_ops_must_extend_the_local_chain() {
        set_manual_clock(T0);
        let mut log = log_of(ALICE);
        let first = log.prepare_local(OpKind::Clear);
        let stale = log.prepare_local(OpKind::Clear);
        log.insert_local(&first).unwrap();
        assert!(matches!(log.insert_local(&stale), Err(LogError::BrokenChain { seq: 1, .. })));
        let mut deep = Value::Null;
        for _ in 0..=crate::MAX_VALUE_DEPTH {
            deep = Value::List(vec![deep]);
        }
        let err = log.append(OpKind::Txn(vec![Step::Put { key: "k".into(), value: deep }])).unwrap_err();
        assert!(matches!(err, LogError::TooLarge { what: "value nesting", .. }), "{err:?}");
        assert_eq!(log.len(), 1);
    }

    #[test]
    fn summaries_honour_every_kind_of_bound() {
        set_manual_clock(T0);
        let (log, ops) = written(ALICE, 5);
        let ids: Vec<OpId> = ops.iter().map(|o| o.op.id).collect();
        let one = |i: usize| RangeSum::one(&ops[i].hash);
        assert_eq!(log.summary(..), (0..5).map(one).fold(RangeSum::default(), |a, b| a + b));
        assert_eq!(log.summary(ids[1]..ids[3]), one(1) + one(2));
        assert_eq!(log.summary(ids[1]..=ids[3]), one(1) + one(2) + one(3));
        assert_eq!(log.summary(..=ids[0]), one(0));
        assert_eq!(log.summary(ids[4]..), one(4));
        assert_eq!(log.summary((Bound::Excluded(ids[0]), Bound::Excluded(ids[2]))), one(1));
        assert_eq!(log.summary(ids[3]..ids[1]), RangeSum::default());
        assert_eq!(log.summary((Bound::Excluded(ids[2]), Bound::Included(ids[2]))), RangeSum::default());
        assert_eq!(log.fingerprint(ids[1]..ids[3]), (one(1) + one(2)).fingerprint());
        assert_eq!(log.ids(ids[1]..ids[3]).count(), 2);
        assert_eq!(log.range(ids[1]..=ids[3]).map(|(id, _, _)| id).collect::<Vec<_>>(), ids[1..=3]);
    }

    #[test]
    fn restore_gives_the_same_log_and_continues_the_chain() {
        set_manual_clock(T0);
        let config = LogConfig { segment_ops: 4, ..LogConfig::default() };
        let mut alice = Log::new(Hlc::new(ALICE, manual_clock, config.max_drift), config);
        let (_, bob_ops) = written(BOB, 7);
        let mut store: BTreeMap<OpId, Vec<u8>> = BTreeMap::new();
        let mut persist = |log: &mut Log| {
            let changes = log.take_segment_changes();
            for key in changes.delete {
                store.remove(&key);
            }
            for (key, rec) in changes.put {
                store.insert(key, rec.encode());
            }
        };
        for (i, op) in bob_ops.iter().enumerate() {
            advance_manual_clock(1);
            alice.append(put("a", i as i64)).unwrap();
            alice.insert_remote(vec![op.clone()]).unwrap();
            if i % 3 == 0 {
                persist(&mut alice);
            }
        }
        persist(&mut alice);
        assert!(store.len() >= 4, "{} segments", store.len());

        let records: Vec<SegmentRecord> = store.values().map(|b| SegmentRecord::decode(b).unwrap()).collect();
        let heads: Vec<(PeerId, ChainHead)> = alice.heads().iter().map(|(p, h)| (*p, *h)).collect();
        let restored_config = LogConfig { keep_ops: false, ..config };
        let clock = Hlc::new(ALICE, manual_clock, config.max_drift);
        let mut restored = Log::restore(clock, restored_config, records.clone(), heads.clone()).unwrap();
        assert_eq!(restored.len(), alice.len());
        assert_eq!(restored.fingerprint(..), alice.fingerprint(..));
        let ids: Vec<OpId> = alice.ids(..).map(|(i, _)| *i).collect();
        assert_eq!(restored.ids(..).map(|(i, _)| *i).collect::<Vec<_>>(), ids);
        for w in ids.windows(3) {
            assert_eq!(restored.fingerprint(w[0]..=w[2]), alice.fingerprint(w[0]..=w[2]));
        }
        assert!(matches!(restored.verify(), Err(LogError::Corrupt { what: "log", .. })));

        // The chains go on where they stopped, on both sides.
        let a = restored.append(OpKind::Clear).unwrap();
        assert_eq!((a.op.seq, a.op.prev), (8, alice.heads()[&ALICE].hash));
        assert!(a.op.id > alice.last_id().unwrap());
        let mut bob = log_of(BOB);
        bob.insert_remote(bob_ops.clone()).unwrap();
        let b = bob.append(OpKind::Clear).unwrap();
        restored.insert_remote(vec![b.clone()]).unwrap();
        alice.insert_remote(vec![b, a]).unwrap();
        assert_eq!(restored.fingerprint(..), alice.fingerprint(..));
        alice.verify().unwrap();

        // Heads must be in the segments, and an op in only one segment.
        let clock = || Hlc::new(ALICE, manual_clock, config.max_drift);
        let mut bad_heads = heads.clone();
        bad_heads[0].1.hash = Hash([1; 32]);
        assert!(Log::restore(clock(), restored_config, records.clone(), bad_heads).is_err());
        let mut twice = records.clone();
        twice.push(records[0].clone());
        assert!(Log::restore(clock(), restored_config, twice, heads).is_err());
    }

    #[test]
    fn an_unindexed_log_moves_its_heads_and_loads_its_index_later() {
        set_manual_clock(T0);
        let config = LogConfig { keep_ops: false, ..LogConfig::default() };
        let (mut alice, _) = written(ALICE, 3);
        let records: Vec<SegmentRecord> = alice.take_segment_changes().put.into_iter().map(|(_, r)| r).collect();
        let heads: Vec<(PeerId, ChainHead)> = alice.heads().iter().map(|(p, h)| (*p, *h)).collect();
        let mut log = Log::unindexed(Hlc::new(ALICE, manual_clock, config.max_drift), config, heads.clone());
        assert!(!log.is_indexed());
        assert_eq!((log.len(), log.heads()), (0, alice.heads()));
        // The next local op continues the chain.
        let next = log.prepare_local(OpKind::Clear);
        assert_eq!((next.op.seq, next.op.prev), (4, alice.heads()[&ALICE].hash));
        assert!(next.op.id > alice.last_id().unwrap());
        // An op added meanwhile moves its author's head only.
        let (_, bob_ops) = written(BOB, 1);
        log.insert_remote(bob_ops.clone()).unwrap();
        assert_eq!((log.len(), log.heads()[&BOB].seq), (0, 1));
        // A bad index changes nothing; a good one replaces the heads.
        let mut bad = heads.clone();
        bad[0].1.hash = Hash([1; 32]);
        assert!(log.load_index(records.clone(), bad).is_err());
        assert!(!log.is_indexed());
        log.load_index(records, heads).unwrap();
        assert!(log.is_indexed());
        assert_eq!((log.len(), log.fingerprint(..)), (3, alice.fingerprint(..)));
        assert_eq!(log.heads(), alice.heads());
    }

    #[test]
    fn a_restored_log_writes_even_when_the_clock_went_far_back() {
        set_manual_clock(T0);
        let config = LogConfig::default();
        let (mut alice, _) = written(ALICE, 2);
        let records: Vec<SegmentRecord> = alice.take_segment_changes().put.into_iter().map(|(_, r)| r).collect();
        let heads: Vec<(PeerId, ChainHead)> = alice.heads().iter().map(|(p, h)| (*p, *h)).collect();
        set_manual_clock(T0 - 3_600_000);
        let clock = Hlc::new(ALICE, manual_clock, config.max_drift);
        let mut restored = Log::restore(clock, LogConfig { keep_ops: false, ..config }, records, heads).unwrap();
        let a = restored.append(OpKind::Clear).unwrap();
        let b = restored.append(OpKind::Clear).unwrap();
        let head = alice.heads()[&ALICE];
        assert!(head.id < a.op.id && a.op.id < b.op.id);
        assert_eq!((a.op.seq, b.op.seq), (3, 4));
    }

    #[test]
    fn verify_names_the_first_broken_link() {
        set_manual_clock(T0);
        let (mut alice, _) = written(ALICE, 3);
        let (_, bob_ops) = written(BOB, 3);
        alice.insert_remote(bob_ops.clone()).unwrap();
        let good = stored(&alice);
        assert_eq!(verify_stored(&alice, &good).unwrap(), alice.verify().unwrap());

        // A changed value byte: the op decodes, its hash differs.
        let target = bob_ops[1].op.id;
        let mut ops = good.clone();
        let bytes = ops.get_mut(&target).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 2;
        let err = verify_stored(&alice, &ops).unwrap_err();
        let reason = "hash differs from the recorded hash";
        assert_eq!(err, LogError::BrokenChain { author: BOB, seq: 2, id: target, reason });

        // A changed magic: the op does not decode, and the error names it.
        let mut ops = good.clone();
        ops.get_mut(&target).unwrap()[0] ^= 1;
        match verify_stored(&alice, &ops).unwrap_err() {
            LogError::Corrupt { what: "op", reason } => assert!(reason.contains(&target.to_string()), "{reason}"),
            other => panic!("{other:?}"),
        }

        // A missing op, and an op nobody recorded.
        let mut ops = good.clone();
        ops.remove(&target);
        assert!(matches!(verify_stored(&alice, &ops), Err(LogError::Corrupt { what: "log", .. })));
        let mut ops = good.clone();
        let extra = EncodedOp::new(Op { id: OpId::from_millis(T0 + 99, BOB), ..bob_ops[0].op.clone() });
        ops.insert(extra.op.id, extra.bytes);
        assert!(matches!(verify_stored(&alice, &ops), Err(LogError::Corrupt { what: "log", .. })));
    }
}
