//! Sync messages ([`Message`]) and their compact wire form.
//!
//! Op ids never go on the wire as fixed 24-byte values. Inside one message the 16-byte peer ids
//! are listed once in a table and referenced by index, and times are delta-coded against the
//! previous id of the same list (postcard writes every integer as a varint): in milliseconds
//! and the clock's counter when the time is a millisecond plus 0 to 15 (as the clock makes them),
//! so an id usually costs 2 or 3 bytes. See `docs/formats.md`, section "Sync wire formats".

use std::collections::HashMap;

use auroradb_log::{Fingerprint, MAX_MILLIS, OpId, PeerId, millis_to_ntp, split_millis};
use serde::{Deserialize, Serialize};

use crate::{NetError, Result};

/// One message of the sync protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The session it belongs to; 0 for ops pushed outside any session.
    pub session: u32,
    /// Whether the sender started the session (each side of a pair may run a session it started
    /// and one the other side started, both numbered by their initiator).
    pub initiator: bool,
    /// What it says.
    pub body: Body,
}

/// The kinds of message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A reconciliation turn.
    Reconcile(Reconcile),
    /// Ops shipped as segments.
    Ops(Ops),
    /// A piece of a segment too large for one frame (one op larger than a frame).
    Piece(Piece),
    /// What became of ops the other side shipped, or could not ship.
    Report(Report),
    /// An equivocation proof ([`auroradb_log::Equivocation`], encoded): an author signed two
    /// different ops at one seq. Passed on to every peer, and sent ahead of the ops of that
    /// author that it proves.
    Equivocation(Vec<u8>),
}

/// Tells a peer that ops it shipped were refused, or that ops it lacks could not be shipped to
/// it: a shipping failure is known on both sides, not only where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// `true`: the sender of the report refused ops the receiver shipped; `false`: the sender of
    /// the report could not ship ops the receiver lacks.
    pub refused: bool,
    /// The op concerned (its id names its author), when one can be named.
    pub op: Option<OpId>,
    /// The error's stable name ([`NetError::name`]), at most [`MAX_REPORT_NAME`] bytes.
    pub name: String,
}

/// The longest error name a [`Report`] carries.
pub const MAX_REPORT_NAME: usize = 64;

/// A piece of a segment that does not fit in a frame (one op larger than a frame). The pieces of
/// a segment are sent in a row; each says where its bytes go, so pieces that arrive out of order
/// or twice still make the segment, which is checked whole once every byte is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// The whole segment's length in bytes.
    pub total: u32,
    /// Where this piece's bytes start in the segment.
    pub offset: u32,
    /// The first 8 bytes of the segment's blake3 hash, little-endian: which segment the piece is
    /// of (the same in all its pieces), checked once the segment is whole.
    pub check: u64,
    /// The bytes: never empty, and within `total` from `offset`.
    pub data: Vec<u8>,
}

impl Piece {
    /// The `check` of a whole segment.
    pub fn check_of(segment: &[u8]) -> u64 {
        let h = auroradb_log::Hash::of(segment);
        u64::from_le_bytes(h.0[..8].try_into().expect("8 bytes"))
    }
}

/// A reconciliation turn: range verdicts covering the id space from [`OpId::MIN`] upwards (what
/// lies above the last range is settled), plus ids the sender asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reconcile {
    /// Consecutive ranges: each starts where the previous ended (the first at [`OpId::MIN`]) and
    /// ends before its `upper` bound.
    pub ranges: Vec<RangeItem>,
    /// Ids the sender lacks and asks the receiver to ship, ascending.
    pub want: Vec<OpId>,
    /// Whether the sender has more ids to ask for than fitted in this message.
    pub more_want: bool,
}

impl Reconcile {
    /// Whether the turn leaves nothing for the receiver to answer: no open range and no more
    /// wants to come.
    pub fn is_closed(&self) -> bool {
        !self.more_want && self.ranges.iter().all(|r| r.mode == Mode::Skip)
    }
}

/// One range of a reconciliation turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeItem {
    /// The first id above the range, or `None` when the range runs to the end of the id space.
    pub upper: Option<OpId>,
    /// What the sender says about the range.
    pub mode: Mode,
}

/// What a reconciliation turn says about a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Settled: nothing to do.
    Skip,
    /// The sender's fingerprint of the range: the receiver compares it with its own.
    Fingerprint(Fingerprint),
    /// Every id the sender holds in the range, ascending: the receiver works out the difference.
    IdList(Vec<OpId>),
}

/// Ops shipped in a session (or pushed, in session 0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ops {
    /// Encoded segments ([`auroradb_log::segment::encode_segment`]), each in ascending id order;
    /// segments follow each other in ascending id order too.
    pub segments: Vec<Vec<u8>>,
    /// On the last ops message of a session's shipment: how many ops messages the shipment has,
    /// this one included.
    pub last: Option<u32>,
}

// ---------------------------------------------------------------------------------------------
// Wire form.

/// Peer reference for the all-zero peer id.
const PEER_ZERO: u32 = 0;
/// Peer reference for the all-0xff peer id.
const PEER_FF: u32 = 1;
/// First peer reference that points into the table.
const PEER_TABLE: u32 = 2;

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WireId {
    /// The time, from the time of the previous id of the same list ([`time_code`]).
    dt: u128,
    /// Peer reference.
    peer: u32,
}

#[derive(Serialize, Deserialize, Debug)]
pub(crate) enum WireMode {
    Skip,
    Fingerprint(Fingerprint),
    IdList(Vec<WireId>),
}

#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct WireRange {
    upper: Option<WireId>,
    mode: WireMode,
}

#[derive(Serialize, Deserialize, Debug)]
pub(crate) enum WireBody<'a> {
    Reconcile {
        peers: Vec<[u8; 16]>,
        ranges: Vec<WireRange>,
        want: Vec<WireId>,
        more_want: bool,
    },
    Ops {
        #[serde(borrow)]
        segments: Vec<&'a serde_bytes::Bytes>,
        last: Option<u32>,
    },
    // New kinds go last: a variant's index is its tag on the wire.
    Piece {
        total: u32,
        offset: u32,
        check: u64,
        #[serde(borrow)]
        data: &'a serde_bytes::Bytes,
    },
    Report {
        refused: bool,
        op: Option<OpId>,
        name: &'a str,
    },
    Equivocation {
        #[serde(borrow)]
        proof: &'a serde_bytes::Bytes,
    },
}

#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct WireMessage<'a> {
    pub(crate) seq: u64,
    pub(crate) session: u32,
    pub(crate) initiator: bool,
    #[serde(borrow)]
    pub(crate) body: WireBody<'a>,
}

/// Peers a table finds by scanning its list; past that many it keeps a hash index.
const SCANNED_PEERS: usize = 16;

/// The peer table of one message, as it is built.
#[derive(Default)]
pub(crate) struct PeerTable {
    peers: Vec<[u8; 16]>,
    /// Filled once the table holds more than [`SCANNED_PEERS`] peers.
    index: HashMap<PeerId, u32>,
    /// The peer of the last call and its reference: runs of ids of one author are the rule.
    last: Option<(PeerId, u32)>,
}

impl PeerTable {
    /// The reference for `peer`, and whether it was added to the table by this call.
    pub(crate) fn reference(&mut self, peer: &PeerId) -> (u32, bool) {
        if peer.0 == [0; 16] {
            return (PEER_ZERO, false);
        }
        if peer.0 == [0xff; 16] {
            return (PEER_FF, false);
        }
        if let Some((p, r)) = self.last
            && p == *peer
        {
            return (r, false);
        }
        let held = if self.peers.len() <= SCANNED_PEERS {
            self.peers.iter().position(|p| *p == peer.0).map(|i| PEER_TABLE + i as u32)
        } else {
            self.index.get(peer).copied()
        };
        let (r, added) = match held {
            Some(r) => (r, false),
            None => {
                let r = PEER_TABLE + self.peers.len() as u32;
                self.peers.push(peer.0);
                if self.peers.len() > SCANNED_PEERS {
                    if self.index.is_empty() {
                        self.index = self.peers.iter().zip(PEER_TABLE..).map(|(p, r)| (PeerId(*p), r)).collect();
                    } else {
                        self.index.insert(*peer, r);
                    }
                }
                (r, true)
            }
        };
        self.last = Some((*peer, r));
        (r, added)
    }

    fn wire_id(&mut self, base: u64, id: &OpId) -> Result<WireId> {
        if id.time < base {
            return Err(NetError::corrupt("sync message", "ids out of order"));
        }
        Ok(WireId { dt: time_code(base, id.time), peer: self.reference(&id.peer).0 })
    }
}

/// The code of `time` after `base` (`time >= base`): `(dms << 5) | (rest << 1)` when `time` is
/// a millisecond `dms` after `base`'s plus a `rest` of 0 to 15 (the clock's counter); else
/// `((time - base) << 1) | 1`, the exact NTP64 delta.
fn time_code(base: u64, time: u64) -> u128 {
    let (mb, _) = split_millis(base);
    let (mt, rest) = split_millis(time);
    if mt >= mb && (0..16).contains(&rest) {
        (u128::from(mt - mb) << 5) | ((rest as u128) << 1)
    } else {
        (u128::from(time - base) << 1) | 1
    }
}

/// The time of `code` after `base` ([`time_code`]).
fn time_of(base: u64, code: u128) -> Result<u64> {
    let overflow = || NetError::corrupt("sync message", "time overflows");
    if code & 1 == 1 {
        let dt = u64::try_from(code >> 1).map_err(|_| overflow())?;
        return base.checked_add(dt).ok_or_else(overflow);
    }
    let dms = u64::try_from(code >> 5).map_err(|_| overflow())?;
    let ms = split_millis(base).0.checked_add(dms).filter(|ms| *ms <= MAX_MILLIS).ok_or_else(overflow)?;
    millis_to_ntp(ms).checked_add(((code >> 1) & 0xf) as u64).ok_or_else(overflow)
}

fn resolve(peers: &[[u8; 16]], base: u64, w: &WireId) -> Result<OpId> {
    let time = time_of(base, w.dt)?;
    let peer = match w.peer {
        PEER_ZERO => PeerId([0; 16]),
        PEER_FF => PeerId([0xff; 16]),
        r => PeerId(
            *peers
                .get((r - PEER_TABLE) as usize)
                .ok_or_else(|| NetError::corrupt("sync message", "peer reference out of the table"))?,
        ),
    };
    Ok(OpId { time, peer })
}

/// Number of bytes postcard uses for `v` as a varint.
pub(crate) fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Number of bytes postcard uses for `v` as a varint (a `u128`).
fn varint_len_u128(v: u128) -> usize {
    (128 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Encodes an ascending list of ids, delta-coded from `base`.
fn encode_ids(table: &mut PeerTable, base: u64, ids: &[OpId]) -> Result<Vec<WireId>> {
    let mut prev: Option<&OpId> = None;
    let mut base = base;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if prev.is_some_and(|p| p >= id) {
            return Err(NetError::corrupt("sync message", "ids not strictly ascending"));
        }
        out.push(table.wire_id(base, id)?);
        base = id.time;
        prev = Some(id);
    }
    Ok(out)
}

/// Decodes an id list made by [`encode_ids`], checking it is strictly ascending and within
/// `[lo, hi)`.
fn decode_ids(peers: &[[u8; 16]], lo: OpId, hi: Option<OpId>, wire: &[WireId]) -> Result<Vec<OpId>> {
    let mut base = lo.time;
    let mut prev: Option<OpId> = None;
    let mut out = Vec::with_capacity(wire.len());
    for w in wire {
        let id = resolve(peers, base, w)?;
        if id < lo || hi.is_some_and(|hi| id >= hi) {
            return Err(NetError::corrupt("sync message", "id outside its range"));
        }
        if prev.is_some_and(|p| p >= id) {
            return Err(NetError::corrupt("sync message", "ids not strictly ascending"));
        }
        base = id.time;
        prev = Some(id);
        out.push(id);
    }
    Ok(out)
}

/// A report names its error with at most [`MAX_REPORT_NAME`] bytes of ASCII letters.
fn check_report_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_REPORT_NAME || !name.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(NetError::corrupt("sync message", "a report's error name is not a short name"));
    }
    Ok(())
}

/// A piece carries at least one byte, all within its segment's length.
fn check_piece(total: u32, offset: u32, data: &[u8]) -> Result<()> {
    if data.is_empty() || u64::from(offset) + data.len() as u64 > u64::from(total) {
        return Err(NetError::corrupt("sync message", "a piece empty or past the end of its segment"));
    }
    Ok(())
}

impl Message {
    pub(crate) fn to_wire(&self, seq: u64) -> Result<WireMessage<'_>> {
        let body = match &self.body {
            Body::Reconcile(r) => {
                let mut table = PeerTable::default();
                let mut ranges = Vec::with_capacity(r.ranges.len());
                let mut lo = OpId::MIN;
                let mut ended = false;
                for item in &r.ranges {
                    if ended {
                        return Err(NetError::corrupt("sync message", "a range after the open-ended one"));
                    }
                    let mode = match &item.mode {
                        Mode::Skip => WireMode::Skip,
                        Mode::Fingerprint(f) => WireMode::Fingerprint(*f),
                        Mode::IdList(ids) => {
                            if ids.first().is_some_and(|f| *f < lo)
                                || ids.last().zip(item.upper).is_some_and(|(l, u)| *l >= u)
                            {
                                return Err(NetError::corrupt("sync message", "id outside its range"));
                            }
                            WireMode::IdList(encode_ids(&mut table, lo.time, ids)?)
                        }
                    };
                    let upper = match item.upper {
                        Some(u) => {
                            if u <= lo {
                                return Err(NetError::corrupt("sync message", "ranges not ascending"));
                            }
                            let w = table.wire_id(lo.time, &u)?;
                            lo = u;
                            Some(w)
                        }
                        None => {
                            ended = true;
                            None
                        }
                    };
                    ranges.push(WireRange { upper, mode });
                }
                let want = encode_ids(&mut table, 0, &r.want)?;
                WireBody::Reconcile { peers: table.peers, ranges, want, more_want: r.more_want }
            }
            Body::Ops(o) => WireBody::Ops {
                segments: o.segments.iter().map(|s| serde_bytes::Bytes::new(s)).collect(),
                last: o.last,
            },
            Body::Piece(p) => {
                check_piece(p.total, p.offset, &p.data)?;
                WireBody::Piece {
                    total: p.total,
                    offset: p.offset,
                    check: p.check,
                    data: serde_bytes::Bytes::new(&p.data),
                }
            }
            Body::Report(r) => {
                check_report_name(&r.name)?;
                WireBody::Report { refused: r.refused, op: r.op, name: &r.name }
            }
            Body::Equivocation(proof) => WireBody::Equivocation { proof: serde_bytes::Bytes::new(proof) },
        };
        Ok(WireMessage { seq, session: self.session, initiator: self.initiator, body })
    }

    pub(crate) fn from_wire(wire: WireMessage<'_>) -> Result<(u64, Message)> {
        let body = match wire.body {
            WireBody::Reconcile { peers, ranges, want, more_want } => {
                let mut out = Vec::with_capacity(ranges.len());
                let mut lo = OpId::MIN;
                let mut ended = false;
                for r in ranges {
                    if ended {
                        return Err(NetError::corrupt("sync message", "a range after the open-ended one"));
                    }
                    let upper = match &r.upper {
                        Some(w) => {
                            let u = resolve(&peers, lo.time, w)?;
                            if u <= lo {
                                return Err(NetError::corrupt("sync message", "ranges not ascending"));
                            }
                            Some(u)
                        }
                        None => {
                            ended = true;
                            None
                        }
                    };
                    let mode = match r.mode {
                        WireMode::Skip => Mode::Skip,
                        WireMode::Fingerprint(f) => Mode::Fingerprint(f),
                        WireMode::IdList(ids) => Mode::IdList(decode_ids(&peers, lo, upper, &ids)?),
                    };
                    if let Some(u) = upper {
                        lo = u;
                    }
                    out.push(RangeItem { upper, mode });
                }
                let want = decode_ids(&peers, OpId::MIN, None, &want)?;
                Body::Reconcile(Reconcile { ranges: out, want, more_want })
            }
            WireBody::Ops { segments, last } => {
                Body::Ops(Ops { segments: segments.into_iter().map(|s| s.to_vec()).collect(), last })
            }
            WireBody::Piece { total, offset, check, data } => {
                check_piece(total, offset, data)?;
                Body::Piece(Piece { total, offset, check, data: data.to_vec() })
            }
            WireBody::Report { refused, op, name } => {
                check_report_name(name)?;
                Body::Report(Report { refused, op, name: name.to_owned() })
            }
            WireBody::Equivocation { proof } => Body::Equivocation(proof.to_vec()),
        };
        Ok((wire.seq, Message { session: wire.session, initiator: wire.initiator, body }))
    }
}

/// Counts, while a reconciliation turn is built, the bytes its wire form takes (the same peer
/// table and delta coding as the encoder), so a turn can stop before it outgrows a frame.
#[derive(Default)]
pub(crate) struct SizeCounter {
    table: PeerTable,
    bytes: usize,
}

impl SizeCounter {
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Bytes an id would take, delta-coded from `base`; adds them when `commit`.
    pub(crate) fn id(&mut self, base: u64, id: &OpId) -> usize {
        let (r, new) = self.table.reference(&id.peer);
        let code = if id.time >= base { time_code(base, id.time) } else { u128::from(u64::MAX) << 1 | 1 };
        let n = varint_len_u128(code) + varint_len(r as u64) + if new { 16 } else { 0 };
        self.bytes += n;
        n
    }

    /// Adds `n` bytes.
    pub(crate) fn add(&mut self, n: usize) {
        self.bytes += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_lengths_match_postcard() {
        for v in [0u64, 1, 127, 128, 16383, 16384, u32::MAX as u64, u64::MAX] {
            assert_eq!(varint_len(v), postcard::to_allocvec(&v).unwrap().len(), "{v}");
            assert_eq!(varint_len_u128(u128::from(v)), postcard::to_allocvec(&u128::from(v)).unwrap().len(), "{v}");
        }
        let big = (u128::from(u64::MAX) << 1) | 1;
        assert_eq!(varint_len_u128(big), postcard::to_allocvec(&big).unwrap().len());
    }

    #[test]
    fn times_code_as_milliseconds_and_a_counter_and_come_back_exactly() {
        let ms = 1_764_000_000_000u64;
        let clock = |ms: u64, counter: u64| millis_to_ntp(ms) + counter;
        // The clock's times: a millisecond and a counter of 0 to 15, in 1 or 2 bytes apart.
        for (base, time, bytes) in [
            (clock(ms, 0), clock(ms, 0), 1),
            (clock(ms, 0), clock(ms, 15), 1),
            (clock(ms, 3), clock(ms + 2, 1), 1),
            (clock(ms, 3), clock(ms + 40, 0), 2),
            (clock(ms, 3), clock(ms + 511, 7), 2),
            (clock(ms, 3), clock(ms + 600, 7), 3),
        ] {
            let code = time_code(base, time);
            assert_eq!(code & 1, 0, "compact");
            assert_eq!(varint_len_u128(code), bytes, "{base} {time}");
            assert_eq!(time_of(base, code).unwrap(), time);
        }
        // Any other time takes the exact delta, and comes back too.
        for (base, time) in [
            (0, clock(ms, 0)),
            (clock(ms, 0), clock(ms, 0) + 16),
            (clock(ms, 0), clock(ms, 0) + 1_000_000),
            (0, u64::MAX),
            (u64::MAX - 1, u64::MAX),
            (millis_to_ntp(MAX_MILLIS), u64::MAX),
        ] {
            let code = time_code(base, time);
            assert_eq!(time_of(base, code).unwrap(), time, "{base} {time}");
        }
        // Codes that overflow are refused.
        for (base, code) in [(u64::MAX, 3u128), (1, u128::MAX), (0, (u128::from(MAX_MILLIS) + 1) << 5)] {
            assert!(time_of(base, code).is_err(), "{base} {code}");
        }
    }

    #[test]
    fn peer_references_are_shared_within_a_message() {
        let mut t = PeerTable::default();
        let p = PeerId([7; 16]);
        assert_eq!(t.reference(&p), (PEER_TABLE, true));
        assert_eq!(t.reference(&p), (PEER_TABLE, false));
        assert_eq!(t.reference(&PeerId([0; 16])), (PEER_ZERO, false));
        assert_eq!(t.reference(&PeerId([0xff; 16])), (PEER_FF, false));
        assert_eq!(t.reference(&PeerId([8; 16])), (PEER_TABLE + 1, true));
        assert_eq!(t.reference(&p), (PEER_TABLE, false));
    }

    #[test]
    fn a_table_past_its_scanned_length_keeps_every_reference() {
        let mut t = PeerTable::default();
        let peer = |i: u8| PeerId([i + 1; 16]);
        let n = 3 * SCANNED_PEERS as u8;
        // In first-seen order, each added once, then the same references in any order.
        for i in 0..n {
            assert_eq!(t.reference(&peer(i)), (PEER_TABLE + u32::from(i), true), "{i}");
            assert_eq!(t.reference(&peer(i / 2)), (PEER_TABLE + u32::from(i / 2), false), "{i}");
        }
        for i in (0..n).rev().chain(0..n) {
            assert_eq!(t.reference(&peer(i)), (PEER_TABLE + u32::from(i), false), "{i}");
        }
    }
}
