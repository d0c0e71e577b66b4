//! Hybrid logical clock timestamps ([`OpId`]) and the clock that makes them ([`Hlc`]), on top of
//! `uhlc`.
//!
//! A timestamp is a 64-bit NTP time (32 bits of seconds since the Unix epoch, 32 bits of
//! fraction) whose lowest 4 bits are the logical counter, plus the peer id that made it. Ids are
//! totally ordered: by time, then by peer.

use core::fmt;
use core::time::Duration;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use uhlc::NTP64;

use crate::{LogError, PeerId, Result};

/// The default bound on how far a remote timestamp may be ahead of the local clock.
pub const DEFAULT_MAX_DRIFT: Duration = Duration::from_secs(5 * 60);

/// A physical clock: returns the current time as NTP64. Plain function pointers, as `uhlc` takes.
pub type ClockFn = fn() -> NTP64;

/// The unique, totally ordered id of an op: its HLC time, then the peer that made it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OpId {
    /// NTP64 time; the low 4 bits are the HLC's logical counter.
    pub time: u64,
    /// The peer whose clock made the id.
    pub peer: PeerId,
}

/// Length of [`OpId::to_bytes`].
pub const OP_ID_LEN: usize = 24;

impl OpId {
    /// The smallest id.
    pub const MIN: OpId = OpId { time: 0, peer: PeerId([0; 16]) };
    /// The largest id.
    pub const MAX: OpId = OpId { time: u64::MAX, peer: PeerId([0xff; 16]) };

    /// An id from a time in milliseconds since the Unix epoch and a peer.
    pub fn from_millis(ms: u64, peer: PeerId) -> OpId {
        OpId { time: millis_to_ntp(ms), peer }
    }

    /// The physical part of the time in milliseconds since the Unix epoch.
    pub fn millis(&self) -> u64 {
        ntp_to_millis(self.time)
    }

    /// The logical counter (the low 4 bits of the time).
    pub fn counter(&self) -> u8 {
        (self.time & 0xf) as u8
    }

    /// Big-endian bytes that sort like the ids: 8 bytes of time, then 16 of peer.
    pub fn to_bytes(&self) -> [u8; OP_ID_LEN] {
        let mut out = [0u8; OP_ID_LEN];
        out[..8].copy_from_slice(&self.time.to_be_bytes());
        out[8..].copy_from_slice(&self.peer.0);
        out
    }

    /// The inverse of [`OpId::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<OpId> {
        if bytes.len() != OP_ID_LEN {
            return Err(LogError::corrupt("op id", format!("{} bytes, expected 24", bytes.len())));
        }
        let mut time = [0u8; 8];
        time.copy_from_slice(&bytes[..8]);
        let mut peer = [0u8; 16];
        peer.copy_from_slice(&bytes[8..]);
        Ok(OpId { time: u64::from_be_bytes(time), peer: PeerId(peer) })
    }
}

impl fmt::Display for OpId {
    /// `2026-11-26T10:31:00.123000000Z+2@ab12cd34`: time, logical counter, peer. The time of an
    /// id the clock made is its millisecond (the one [`OpId::millis`] gives; NTP64 cannot hold
    /// most milliseconds exactly, and its own rendering truncates them a nanosecond short); any
    /// other id's, to the nanosecond.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (ms, rest) = split_millis(self.time);
        let wall = match u64::try_from(rest) {
            Ok(0..16) => {
                let second = NTP64::from(Duration::from_secs(ms / 1000)).to_string_rfc3339_lossy();
                match second.strip_suffix(".000000000Z") {
                    Some(head) => format!("{head}.{:03}000000Z", ms % 1000),
                    None => NTP64(self.time & !0xf).to_string_rfc3339_lossy(),
                }
            }
            _ => NTP64(self.time & !0xf).to_string_rfc3339_lossy(),
        };
        write!(f, "{wall}+{}@{}", self.counter(), self.peer)
    }
}

impl fmt::Debug for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpId({self})")
    }
}

/// The last millisecond NTP64 can hold (2106-02-07T06:28:15.999Z): its seconds are 32 bits.
pub const MAX_MILLIS: u64 = u32::MAX as u64 * 1000 + 999;

/// Milliseconds since the Unix epoch to NTP64 (with a zero counter). Times past [`MAX_MILLIS`]
/// are taken as [`MAX_MILLIS`]: NTP64 cannot say them, and a caller's "as of" bound that far out
/// means "everything".
pub fn millis_to_ntp(ms: u64) -> u64 {
    NTP64::from(Duration::from_millis(ms.min(MAX_MILLIS))).0 & !0xf
}

/// `time` as a millisecond and the rest, such that `millis_to_ntp(ms) + rest == time`: for a
/// time the clock made, the millisecond and its counter (0 to 15). Compact wire forms code times
/// this way.
pub fn split_millis(time: u64) -> (u64, i64) {
    let ms = ntp_to_millis(time).min(MAX_MILLIS);
    // Within 2^32 either way: the rounding to a millisecond, or the clamp at the end of time.
    (ms, (i128::from(time) - i128::from(millis_to_ntp(ms))) as i64)
}

/// NTP64 to milliseconds since the Unix epoch, rounded to the nearest millisecond (so that
/// `ntp_to_millis(millis_to_ntp(ms)) == ms`).
pub fn ntp_to_millis(t: u64) -> u64 {
    ((u128::from(t) * 1000 + (1u128 << 31)) >> 32) as u64
}

/// An NTP64 duration in milliseconds, rounded up (so a time past a bound never reads as on it).
fn ceil_millis(t: u64) -> u64 {
    let d = NTP64(t).to_duration();
    d.as_millis() as u64 + u64::from(!d.subsec_nanos().is_multiple_of(1_000_000))
}

/// A hybrid logical clock for one peer: wraps `uhlc::HLC`, keeps the drift bound, and can check a
/// remote timestamp without adopting it.
pub struct Hlc {
    inner: uhlc::HLC,
    clock: ClockFn,
    max_drift: Duration,
    peer: PeerId,
    /// The last time this clock gave out, or the newest time of the history it was restored
    /// over or observed, if greater: every new id is above it, whatever the physical clock says.
    floor: AtomicU64,
    /// The latest physical time this clock has read (NTP64, counter bits clear). The drift bound
    /// counts from it, not from the physical clock alone: a clock set back (an NTP step, a
    /// wrong time put right) is still past what it read before, and so are its peers' clocks
    /// set back with it, whose new ids are stamped just past the history they share. Only the
    /// physical clock moves it, never a remote id, so peers cannot push the bound forward.
    wall_high: AtomicU64,
}

impl fmt::Debug for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hlc").field("peer", &self.peer).field("max_drift", &self.max_drift).finish()
    }
}

impl Hlc {
    /// A clock for `peer` reading physical time from `clock`, rejecting remote timestamps more
    /// than `max_drift` ahead of it.
    pub fn new(peer: PeerId, clock: ClockFn, max_drift: Duration) -> Hlc {
        // The drift bound is this clock's own (`check`): `uhlc` only makes timestamps.
        let inner = uhlc::HLCBuilder::new().with_id(peer.to_uhlc()).with_clock(clock).build();
        Hlc { inner, clock, max_drift, peer, floor: AtomicU64::new(0), wall_high: AtomicU64::new(0) }
    }

    /// The peer this clock stamps ids for.
    pub fn peer(&self) -> PeerId {
        self.peer
    }

    /// The drift bound.
    pub fn max_drift(&self) -> Duration {
        self.max_drift
    }

    /// A new id, greater than every id this clock made, observed or was restored past.
    pub fn now(&self) -> OpId {
        // At least the physical time: `uhlc` never gives out less than it read.
        let t = self.inner.new_timestamp().get_time().0;
        self.wall_high.fetch_max(t & !0xf, Ordering::Relaxed);
        let floor = self.floor.load(Ordering::Relaxed);
        // Behind the floor (a clock set back under the history it was restored over), the clock
        // steps one counter tick past it.
        let time = if t > floor { t } else { floor.saturating_add(1) };
        self.floor.store(time, Ordering::Relaxed);
        OpId { time, peer: self.peer }
    }

    /// Moves the clock past `id`, an id of the local history (the log it is restored over),
    /// whatever the drift bound: every id made after it is greater, even with the physical clock
    /// far behind. Remote ids go through [`Hlc::observe`] instead.
    pub fn restore(&self, id: &OpId) {
        self.floor.fetch_max(id.time, Ordering::Relaxed);
    }

    /// The latest physical time this clock has read, reading it now (NTP64, counter bits clear,
    /// as in an id): what a database stores with each commit, for [`Hlc::restore_wall`].
    pub fn wall_time(&self) -> u64 {
        self.wall()
    }

    /// Moves the latest physical time this clock has read up to `time` (NTP64), a time a clock
    /// of the same machine read before (a database's newest commit stored it): a clock set back
    /// while no instance was open counts its drift bound from it, as the instance open at the
    /// time would. Never from a remote id.
    pub fn restore_wall(&self, time: u64) {
        self.wall_high.fetch_max(time & !0xf, Ordering::Relaxed);
    }

    /// The current physical time of the clock, in milliseconds since the Unix epoch.
    pub fn physical_millis(&self) -> u64 {
        ntp_to_millis((self.clock)().0)
    }

    /// The physical time now, or the latest this clock read before, if later (NTP64).
    fn wall(&self) -> u64 {
        let now = (self.clock)().0 & !0xf;
        self.wall_high.fetch_max(now, Ordering::Relaxed).max(now)
    }

    /// Checks that `id` is within the drift bound of the latest physical time this clock has
    /// read, without moving the clock.
    pub fn check(&self, id: &OpId) -> Result<()> {
        let now = self.wall();
        let bound = NTP64::from(self.max_drift).0;
        if id.time > now && id.time - now > bound {
            return Err(LogError::ClockDrift {
                id: *id,
                ahead_ms: ceil_millis(id.time - now),
                bound_ms: self.max_drift.as_millis() as u64,
            });
        }
        Ok(())
    }

    /// Checks `id` and, if it is within the bound, moves the clock past it.
    pub fn observe(&self, id: &OpId) -> Result<()> {
        self.check(id)?;
        // Not through `uhlc`'s own update, whose bound counts from the physical clock alone.
        self.floor.fetch_max(id.time, Ordering::Relaxed);
        Ok(())
    }
}

/// The operating system's clock. Not available on wasm32, where the `auroradb-web` crate supplies a
/// clock reading `Date.now()`.
#[cfg(not(target_arch = "wasm32"))]
pub fn system_clock() -> NTP64 {
    uhlc::system_time_clock()
}

thread_local! {
    static MANUAL_MS: Cell<u64> = const { Cell::new(0) };
}

/// A settable clock for tests and simulations: [`manual_clock`] returns what [`set_manual_clock`]
/// last set on this thread.
pub fn manual_clock() -> NTP64 {
    NTP64(millis_to_ntp(MANUAL_MS.with(Cell::get)))
}

/// Sets the time (milliseconds since the Unix epoch) that [`manual_clock`] returns on this thread.
pub fn set_manual_clock(ms: u64) {
    MANUAL_MS.with(|c| c.set(ms));
}

/// Moves the [`manual_clock`] of this thread forward by `ms`.
pub fn advance_manual_clock(ms: u64) {
    MANUAL_MS.with(|c| c.set(c.get() + ms));
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000;
    const PEER: PeerId = PeerId([1; 16]);
    const REMOTE: PeerId = PeerId([2; 16]);

    fn clock() -> Hlc {
        set_manual_clock(T0);
        Hlc::new(PEER, manual_clock, DEFAULT_MAX_DRIFT)
    }

    #[test]
    fn times_past_ntp64_are_clamped_not_a_panic() {
        assert_eq!(ntp_to_millis(millis_to_ntp(MAX_MILLIS)), MAX_MILLIS);
        assert_eq!(millis_to_ntp(MAX_MILLIS + 1), millis_to_ntp(MAX_MILLIS));
        assert_eq!(millis_to_ntp(u64::MAX), millis_to_ntp(MAX_MILLIS));
    }

    #[test]
    fn ids_strictly_increase_whatever_the_clock_does() {
        let hlc = clock();
        let mut last = hlc.now();
        assert_eq!(last.peer, PEER);
        assert_eq!(last.millis(), T0);
        for step in 0..200u64 {
            match step % 4 {
                0 => {}                            // frozen: the counter moves
                1 => advance_manual_clock(1),      // forward
                2 => set_manual_clock(T0 - 1_000), // backwards
                _ => set_manual_clock(T0 + step),
            }
            let id = hlc.now();
            assert!(id > last, "{id} after {last}");
            last = id;
        }
    }

    #[test]
    fn a_clock_restored_past_its_history_stays_past_it_with_the_clock_far_behind() {
        let hlc = clock();
        // History written with a clock an hour ahead of this one: beyond the drift bound.
        let newest = OpId::from_millis(T0 + 3_600_000, REMOTE);
        assert!(hlc.observe(&newest).is_err(), "a remote id this far ahead is refused");
        hlc.restore(&newest);
        let mut last = newest;
        for _ in 0..40 {
            let id = hlc.now();
            assert!(id > last, "{id} after {last}");
            last = id;
        }
        // Once the physical clock passes the history, ids follow it again.
        set_manual_clock(T0 + 7_200_000);
        assert_eq!(hlc.now().millis(), T0 + 7_200_000);
        // Restoring past something older changes nothing.
        hlc.restore(&OpId::from_millis(T0, REMOTE));
        assert!(hlc.now().millis() >= T0 + 7_200_000);
    }

    #[test]
    fn remote_ids_beyond_the_bound_are_rejected_and_not_adopted() {
        let hlc = clock();
        let bound = DEFAULT_MAX_DRIFT.as_millis() as u64;
        let too_far = OpId::from_millis(T0 + bound + 1, REMOTE);
        let err = LogError::ClockDrift { id: too_far, ahead_ms: bound + 1, bound_ms: bound };
        assert_eq!(hlc.check(&too_far), Err(err.clone()));
        assert_eq!(hlc.observe(&too_far), Err(err));
        let next = hlc.now();
        assert!(next < too_far, "{next} adopted {too_far}");
        assert_eq!(next.millis(), T0);
    }

    #[test]
    fn remote_ids_within_the_bound_are_adopted() {
        let hlc = clock();
        let bound = DEFAULT_MAX_DRIFT.as_millis() as u64;
        let at_bound = OpId::from_millis(T0 + bound, REMOTE);
        hlc.check(&at_bound).unwrap();
        assert!(hlc.now() < at_bound, "check alone does not move the clock");
        hlc.observe(&at_bound).unwrap();
        let next = hlc.now();
        assert!(next > at_bound, "{next} not after {at_bound}");
        // Past ids are always fine.
        hlc.observe(&OpId::from_millis(1, REMOTE)).unwrap();
        assert!(hlc.now() > next);
    }

    #[test]
    fn the_bound_counts_from_the_latest_time_the_clock_read_when_it_is_set_back() {
        let hlc = clock();
        let bound = DEFAULT_MAX_DRIFT.as_millis() as u64;
        let mine = hlc.now();
        // The clock is set back an hour, here and at a peer that shares this history: the peer's
        // next id is stamped just past it, an hour ahead of the physical clock.
        set_manual_clock(T0 - 3_600_000);
        let theirs = OpId { time: mine.time + 1, peer: REMOTE };
        hlc.observe(&theirs).unwrap();
        assert!(hlc.now() > theirs);
        // The bound still holds, from the latest time read...
        assert!(hlc.check(&OpId::from_millis(T0 + bound, REMOTE)).is_ok());
        let too_far = OpId::from_millis(T0 + bound + 1, REMOTE);
        assert!(matches!(hlc.check(&too_far), Err(LogError::ClockDrift { ahead_ms, .. }) if ahead_ms == bound + 1));
        // ...and remote ids never move it: observing one at the bound allows nothing further.
        hlc.observe(&OpId::from_millis(T0 + bound, REMOTE)).unwrap();
        assert!(hlc.check(&too_far).is_err());
        // A check alone reads the clock too: one set back after it is read counts from it.
        let fresh = clock();
        set_manual_clock(T0 + 10_000);
        fresh.check(&OpId::from_millis(T0, REMOTE)).unwrap();
        set_manual_clock(T0 - 3_600_000);
        assert!(fresh.check(&OpId::from_millis(T0 + 10_000 + bound, REMOTE)).is_ok());
    }

    #[test]
    fn the_bound_is_configurable() {
        set_manual_clock(T0);
        let hlc = Hlc::new(PEER, manual_clock, Duration::from_secs(1));
        assert_eq!(hlc.max_drift(), Duration::from_secs(1));
        assert_eq!(hlc.physical_millis(), T0);
        assert!(hlc.check(&OpId::from_millis(T0 + 1_000, REMOTE)).is_ok());
        assert!(matches!(hlc.check(&OpId::from_millis(T0 + 1_001, REMOTE)), Err(LogError::ClockDrift { .. })));
    }

    #[test]
    fn id_bytes_sort_like_ids() {
        let ids = [
            OpId::MIN,
            OpId { time: 1, peer: PeerId([0xff; 16]) },
            OpId { time: 2, peer: PeerId([0; 16]) },
            OpId { time: 2, peer: PeerId([1; 16]) },
            OpId::from_millis(T0, PEER),
            OpId::MAX,
        ];
        for w in ids.windows(2) {
            assert!(w[0] < w[1]);
            assert!(w[0].to_bytes() < w[1].to_bytes());
        }
        for id in ids {
            assert_eq!(OpId::from_bytes(&id.to_bytes()).unwrap(), id);
        }
        assert!(matches!(OpId::from_bytes(&[0; 23]), Err(LogError::Corrupt { what: "op id", .. })));
    }

    #[test]
    fn millis_and_counter() {
        let id = OpId::from_millis(T0, PEER);
        assert_eq!(id.millis(), T0);
        assert_eq!(id.counter(), 0);
        let later = OpId { time: id.time + 3, ..id };
        assert_eq!(later.counter(), 3);
        assert_eq!(later.millis(), T0);
        assert_eq!(ntp_to_millis(millis_to_ntp(T0 + 123)), T0 + 123);
        assert!(later.to_string().ends_with("+3@01010101"), "{later}");
        // The millisecond shown is the one millis() gives, for every millisecond of a second
        // (NTP64 holds most of them a fraction of a nanosecond short).
        for ms in T0 - T0 % 1000..T0 - T0 % 1000 + 1000 {
            let shown = OpId { time: millis_to_ntp(ms) + 5, peer: PEER }.to_string();
            assert!(shown.contains(&format!(".{:03}000000Z+5@", ms % 1000)), "{ms}: {shown}");
        }
    }
}
