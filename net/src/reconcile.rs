//! Range-based set reconciliation (Meyer, "Range-Based Set Reconciliation", arXiv 2212.13567),
//! sans-IO: a [`Reconciler`] turns the peer's [`Reconcile`] turn into its answer.
//!
//! A turn lists consecutive id ranges, each with a verdict: settled ([`Mode::Skip`]), the sender's
//! fingerprint ([`Mode::Fingerprint`]) or the sender's ids ([`Mode::IdList`]). The receiver
//! answers each range:
//!
//! - a fingerprint equal to its own: settled;
//! - a different fingerprint over a range where it holds at most `id_list_max` ids: its ids;
//! - a different fingerprint over a larger range: `branch` sub-ranges of equal counts (of its own
//!   ids), each with its fingerprint;
//! - an id list: it computes both differences at once — the ids the peer lacks go to
//!   [`Reconciler::have`] (to ship), the ids it lacks go to [`Reconciler::need`] and are asked for
//!   in the `want` part of its turns — and the range is settled.
//!
//! A range this side sent as a fingerprint and the peer answers with an id list holding exactly
//! this side's ids cannot differ by ids: the fingerprints differ because an op differs under one
//! id (its author made two ops with one id). This side then asks for every op of that range,
//! so that the engine compares the bodies and reports the one that differs.
//!
//! Each split divides a side's count in the range by `branch`, so reconciliation takes
//! O(log n) turns; when nothing differs it takes one round trip whose two messages do not grow
//! with the log. A turn that would outgrow the frame limit stops early and sends the fingerprint
//! of everything after the last range it answered: a small frame limit costs more turns, never a
//! failure.

use std::collections::BTreeSet;

use auroradb_log::{OpId, PeerId, RangeSum};

use crate::index::{IdRange, RangeIndex};
use crate::message::{SizeCounter, varint_len};
use crate::{Mode, NetError, RangeItem, Reconcile, Result};

/// Bytes a frame needs besides the turn's ranges and wants (prefix, header, sequence number,
/// session, flags, list lengths).
const TURN_OVERHEAD: usize = 64;

/// Tuning of reconciliation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileConfig {
    /// Into how many sub-ranges a differing range is split (2 to 64).
    pub branch: usize,
    /// Ranges holding at most this many ids are answered with the ids themselves (at least
    /// `branch`, at most 256).
    pub id_list_max: usize,
    /// The frame limit the turns must fit in.
    pub max_frame: usize,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        ReconcileConfig { branch: 16, id_list_max: 32, max_frame: crate::FrameLimits::default().max_frame }
    }
}

impl ReconcileConfig {
    /// The configuration with every field brought into its allowed interval, and the frame limit
    /// raised so that one answer always fits.
    pub fn clamped(self) -> ReconcileConfig {
        let branch = self.branch.clamp(2, 64);
        let id_list_max = self.id_list_max.clamp(branch, 256);
        let max_frame = self.max_frame.max(crate::frame::MIN_FRAME).max(2 * worst_answer(branch, id_list_max));
        ReconcileConfig { branch, id_list_max, max_frame }
    }
}

/// The most bytes one range's answer can take: a bound (varint time, peer reference, a new
/// table entry) plus either `branch` fingerprinted sub-ranges or an id list.
fn worst_answer(branch: usize, id_list_max: usize) -> usize {
    const ID: usize = 10 + 5 + 16 + 1;
    let split = branch * (ID + 1 + 16);
    let list = ID + 1 + 5 + id_list_max * ID;
    split.max(list) + TURN_OVERHEAD
}

/// One side of a reconciliation between two peers.
///
/// The initiator calls [`Reconciler::initiate`] and sends the turn; then each side passes every
/// turn it receives to [`Reconciler::handle`] and sends the answer, if any, until
/// [`Reconciler::is_done`]. Then each side ships the ops in [`Reconciler::have`]; the ops in
/// [`Reconciler::need`] are what the peer ships back.
#[derive(Debug, Clone)]
pub struct Reconciler {
    config: ReconcileConfig,
    initiator: bool,
    started: bool,
    done: bool,
    /// Appended as found, in no set order (a B-tree insert per id cost more than the rest of the
    /// comparison); sorted and deduplicated when taken, and whenever it doubles, so a peer that
    /// asks for the same ids turn after turn cannot grow it past twice the ids held.
    have: Vec<OpId>,
    /// Length of `have` after it was last deduplicated.
    have_unique: usize,
    need: BTreeSet<OpId>,
    want_queue: BTreeSet<OpId>,
    /// The ranges (`lo`, `upper`) this side's last turn sent as fingerprints.
    sent_fingerprints: Vec<(OpId, Option<OpId>)>,
    turns: u32,
}

impl Reconciler {
    /// A reconciler for the side that starts (`initiator`) or answers.
    pub fn new(config: ReconcileConfig, initiator: bool) -> Reconciler {
        Reconciler {
            config: config.clamped(),
            initiator,
            started: false,
            done: false,
            have: Vec::new(),
            have_unique: 0,
            need: BTreeSet::new(),
            want_queue: BTreeSet::new(),
            sent_fingerprints: Vec::new(),
            turns: 0,
        }
    }

    /// The configuration in force (clamped).
    pub fn config(&self) -> &ReconcileConfig {
        &self.config
    }

    /// Whether this side started the reconciliation.
    pub fn is_initiator(&self) -> bool {
        self.initiator
    }

    /// The first turn: the fingerprint of the whole log (constant size), or its (empty) id list
    /// when it holds nothing. A small log is sent as a fingerprint too, not as its ids: an id
    /// list answered by an equal one would settle a range whose ops differ under one id.
    pub fn initiate(&mut self, index: &impl RangeIndex) -> Reconcile {
        self.started = true;
        let sum = index.summary(IdRange::ALL);
        let mode = if sum.count == 0 { Mode::IdList(Vec::new()) } else { Mode::Fingerprint(sum.fingerprint()) };
        let ranges = vec![RangeItem { upper: None, mode }];
        self.sent_fingerprints = fingerprint_ranges(&ranges);
        Reconcile { ranges, want: Vec::new(), more_want: false }
    }

    /// Whether reconciliation is over: both sides know every difference.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Ids this side holds and the peer lacks (what this side ships), ascending.
    pub fn have(&self) -> Vec<OpId> {
        sorted_ids(self.have.clone())
    }

    /// Takes [`Reconciler::have`], ascending.
    pub fn take_have(&mut self) -> Vec<OpId> {
        self.have_unique = 0;
        sorted_ids(std::mem::take(&mut self.have))
    }

    fn add_have(&mut self, id: OpId) {
        self.have.push(id);
        if self.have.len() > 2 * self.have_unique.max(1024) {
            self.have = sorted_ids(std::mem::take(&mut self.have));
            self.have_unique = self.have.len();
        }
    }

    /// Ids the peer holds and this side lacks: what the peer ships.
    pub fn need(&self) -> &BTreeSet<OpId> {
        &self.need
    }

    /// Number of turns received so far.
    pub fn turns(&self) -> u32 {
        self.turns
    }

    /// Answers the peer's turn. Returns the turn to send back, or `None` when the peer's turn
    /// ended the reconciliation and needs no answer. A turn that breaks the protocol (ranges out of
    /// order, a turn after the end) is an error and leaves the reconciliation unfinished.
    pub fn handle(&mut self, index: &impl RangeIndex, msg: &Reconcile) -> Result<Option<Reconcile>> {
        if self.done {
            return Err(NetError::Unexpected { reason: "a reconciliation turn after the end" });
        }
        if !self.started && self.initiator {
            return Err(NetError::Unexpected { reason: "a reconciliation turn before the first" });
        }
        self.started = true;
        self.turns += 1;
        for id in &msg.want {
            if index.contains(id) {
                self.add_have(*id);
            }
        }
        let budget = self.config.max_frame - TURN_OVERHEAD;
        let worst = worst_answer(self.config.branch, self.config.id_list_max);
        let mut size = SizeCounter::default();
        let mut out: Vec<RangeItem> = Vec::new();
        let mut answered_open = false;
        let mut cached: Option<(Option<OpId>, RangeSum)> = None;
        let mut lo = OpId::MIN;
        for item in &msg.ranges {
            if item.upper.is_some_and(|u| u <= lo) {
                return Err(NetError::corrupt("reconcile turn", "ranges not ascending"));
            }
            let range = IdRange::new(lo, item.upper);
            if item.mode != Mode::Skip && answered_open && size.bytes() + worst > budget {
                // Out of room: everything from here on is answered by one fingerprint.
                push(&mut out, &mut size, lo, None, Mode::Fingerprint(index.fingerprint(IdRange::new(lo, None))));
                lo = OpId::MAX;
                break;
            }
            match &item.mode {
                Mode::Skip => push(&mut out, &mut size, lo, item.upper, Mode::Skip),
                Mode::Fingerprint(theirs) => {
                    answered_open = true;
                    // Ranges are consecutive: the sum below this one's start is often the sum
                    // below the previous one's end, computed already.
                    let below_lo = match cached {
                        Some((b, sum)) if b == Some(range.lo) => sum,
                        _ => index.below(Some(&range.lo)),
                    };
                    let below_hi = index.below(range.hi.as_ref());
                    cached = Some((range.hi, below_hi));
                    let ours = if below_hi.count < below_lo.count { RangeSum::default() } else { below_hi - below_lo };
                    if ours.fingerprint() == *theirs {
                        push(&mut out, &mut size, lo, item.upper, Mode::Skip);
                    } else if ours.count as usize <= self.config.id_list_max {
                        push(&mut out, &mut size, lo, item.upper, Mode::IdList(index.ids(range)));
                    } else {
                        self.split(index, range, ours.count, &mut out, &mut size);
                    }
                }
                Mode::IdList(theirs) => {
                    answered_open = true;
                    let ours = index.ids(range);
                    let differs = self.compare(&ours, theirs);
                    if !differs && self.sent_fingerprints.contains(&(lo, item.upper)) {
                        // Same ids, different fingerprints: some op differs under one id.
                        self.want_queue.extend(ours);
                    }
                    push(&mut out, &mut size, lo, item.upper, Mode::Skip);
                }
            }
            match item.upper {
                Some(u) => lo = u,
                None => {
                    lo = OpId::MAX;
                    break;
                }
            }
        }
        let _ = lo;
        while out.last().is_some_and(|r| r.mode == Mode::Skip) {
            out.pop();
        }
        let mut want = Vec::new();
        let mut base = 0u64;
        while let Some(id) = self.want_queue.first().copied() {
            if size.bytes() + 32 > budget {
                break;
            }
            size.id(base, &id);
            base = id.time;
            want.push(id);
            self.want_queue.pop_first();
        }
        self.sent_fingerprints = fingerprint_ranges(&out);
        let answer = Reconcile { ranges: out, want, more_want: !self.want_queue.is_empty() };
        if msg.is_closed() && answer.ranges.is_empty() && answer.want.is_empty() && !answer.more_want {
            self.done = true;
            return Ok(None);
        }
        self.done = answer.is_closed() && !msg.more_want;
        Ok(Some(answer))
    }

    /// Splits `range` (holding `count` of our ids) into `branch` sub-ranges of equal counts. Each
    /// inner bound costs two selections and no other tree walk: the summary below the bound comes
    /// with the selection of the id it stops at.
    fn split(
        &self,
        index: &impl RangeIndex,
        range: IdRange,
        count: u64,
        out: &mut Vec<RangeItem>,
        size: &mut SizeCounter,
    ) {
        let branch = self.config.branch as u64;
        let first = index.below(Some(&range.lo));
        let (mut lo, mut below_lo) = (range.lo, first);
        for i in 1..=branch {
            let (upper, below_upper) = if i == branch {
                (range.hi, first + index.summary(range))
            } else {
                let k = first.count + i * count / branch;
                match (index.select(k - 1), index.select(k)) {
                    (Some((a, _)), Some((b, below_b))) => {
                        // Between `a` and `b` lie no ids: any bound in (a, b] has `below_b` below
                        // it. Prefer the one that codes shortest.
                        let bound = if a.time < b.time { OpId { time: b.time, peer: PeerId([0; 16]) } } else { b };
                        (Some(bound), below_b)
                    }
                    _ => (range.hi, first + index.summary(range)),
                }
            };
            if upper.is_some_and(|u| u <= lo) {
                continue;
            }
            let fp = (below_upper - below_lo).fingerprint();
            push(out, size, lo, upper, Mode::Fingerprint(fp));
            match upper {
                Some(u) => {
                    lo = u;
                    below_lo = below_upper;
                }
                None => break,
            }
        }
    }

    /// Compares our ids with the peer's in one range (both ascending); returns whether they
    /// differ.
    fn compare(&mut self, ours: &[OpId], theirs: &[OpId]) -> bool {
        let mut differs = false;
        let mut t = theirs.iter().peekable();
        for &id in ours {
            while let Some(x) = t.next_if(|x| **x < id) {
                self.lack(*x);
                differs = true;
            }
            if t.next_if(|x| **x == id).is_none() {
                self.add_have(id);
                differs = true;
            }
        }
        for x in t {
            self.lack(*x);
            differs = true;
        }
        differs
    }

    fn lack(&mut self, id: OpId) {
        if self.need.insert(id) {
            self.want_queue.insert(id);
        }
    }
}

/// `ids` ascending, each once.
fn sorted_ids(mut ids: Vec<OpId>) -> Vec<OpId> {
    auroradb_log::sort_by_key(&mut ids, |id| *id);
    ids.dedup();
    ids
}

/// The ranges (`lo`, `upper`) of a turn's items that are fingerprints.
fn fingerprint_ranges(items: &[RangeItem]) -> Vec<(OpId, Option<OpId>)> {
    let mut lo = OpId::MIN;
    let mut out = Vec::new();
    for item in items {
        if matches!(item.mode, Mode::Fingerprint(_)) {
            out.push((lo, item.upper));
        }
        if let Some(u) = item.upper {
            lo = u;
        }
    }
    out
}

/// Appends a range verdict, merging it into the previous one when both are settled, and counts
/// its wire size.
fn push(out: &mut Vec<RangeItem>, size: &mut SizeCounter, lo: OpId, upper: Option<OpId>, mode: Mode) {
    if mode == Mode::Skip
        && let Some(last) = out.last_mut()
        && last.mode == Mode::Skip
    {
        // Counted as if coded from time 0: never less than the real delta.
        size.add(1);
        if let Some(u) = &upper {
            size.id(0, u);
        }
        last.upper = upper;
        return;
    }
    // The bound's delta is taken from the range's lower end, as the encoder does.
    // Option tag of the bound, the bound, the mode's tag.
    size.add(1);
    if let Some(u) = &upper {
        size.id(lo.time, u);
    }
    size.add(1);
    match &mode {
        Mode::Skip => {}
        Mode::Fingerprint(_) => size.add(auroradb_log::FINGERPRINT_LEN),
        Mode::IdList(ids) => {
            size.add(varint_len(ids.len() as u64));
            let mut base = lo.time;
            for id in ids {
                size.id(base, id);
                base = id.time;
            }
        }
    }
    out.push(RangeItem { upper, mode });
}

/// What [`reconcile_pair`] found and what it cost.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PairOutcome {
    /// Ids only `a` holds (what `a` ships), ascending.
    pub a_have: Vec<OpId>,
    /// Ids only `b` holds (what `b` ships), ascending.
    pub b_have: Vec<OpId>,
    /// Round trips: turns sent by `a` (the initiator).
    pub round_trips: u32,
    /// Frames sent by `a`.
    pub frames_a: u32,
    /// Frames sent by `b`.
    pub frames_b: u32,
    /// Bytes of the frames `a` sent.
    pub bytes_a_to_b: u64,
    /// Bytes of the frames `b` sent.
    pub bytes_b_to_a: u64,
    /// The largest frame either side sent.
    pub largest_frame: usize,
}

/// Runs a whole reconciliation between two local indexes, `a` initiating, every turn encoded as
/// a frame and decoded again: the differences and what finding them cost on the wire. For tests
/// and benchmarks; gives up with [`NetError::Unexpected`] after 10 000 turns.
pub fn reconcile_pair(a: &impl RangeIndex, b: &impl RangeIndex, config: ReconcileConfig) -> Result<PairOutcome> {
    use crate::frame::{decode_frame, encode_frame};
    use crate::{Body, Message};

    let mut ra = Reconciler::new(config, true);
    let mut rb = Reconciler::new(config, false);
    let max_frame = ra.config().max_frame;
    let mut out = PairOutcome::default();
    let mut turn = ra.initiate(a);
    let mut from_a = true;
    for _ in 0..10_000 {
        let msg = Message { session: 1, initiator: from_a, body: Body::Reconcile(turn) };
        let frame = encode_frame(0, &msg, max_frame)?;
        out.largest_frame = out.largest_frame.max(frame.len());
        if from_a {
            out.round_trips += 1;
            out.frames_a += 1;
            out.bytes_a_to_b += frame.len() as u64;
        } else {
            out.frames_b += 1;
            out.bytes_b_to_a += frame.len() as u64;
        }
        let Body::Reconcile(received) = decode_frame(&frame, max_frame)?.1.body else {
            return Err(NetError::Unexpected { reason: "not a turn" });
        };
        let answer = if from_a { rb.handle(b, &received)? } else { ra.handle(a, &received)? };
        match answer {
            Some(t) => {
                turn = t;
                from_a = !from_a;
            }
            None => {
                if !(ra.is_done() && rb.is_done()) {
                    return Err(NetError::Unexpected { reason: "one side stopped before the other" });
                }
                out.a_have = ra.take_have();
                out.b_have = rb.take_have();
                return Ok(out);
            }
        }
    }
    Err(NetError::Unexpected { reason: "reconciliation did not end" })
}
