//! Hybrid logical clock timestamps ([`OpId`]) and the clock that makes them ([`Hlc`]), on top of
//! `uhlc`.
//!
//! A timestamp is a 64-bit NTP time (32 bits of seconds since the Unix epoch, 32 bits of
//! fraction) whose lowest 4 bits are the logical counter, plus the peer id that made it. Ids are
//! totally ordered: by time, then by peer.

use core::fmt;
use core::time::Duration;
use std::cell::Cell;

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

    fn timestamp(&self) -> uhlc::Timestamp {
        uhlc::Timestamp::new(NTP64(self.time), self.peer.to_uhlc())
    }
}

impl fmt::Display for OpId {
    /// `2026-11-26T10:31:00.123456789Z+2@ab12cd34`: time, logical counter, peer.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wall = NTP64(self.time & !0xf);
        write!(f, "{}+{}@{}", wall.to_string_rfc3339_lossy(), self.counter(), self.peer)
    }
}

impl fmt::Debug for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpId({self})")
    }
}

/// Milliseconds since the Unix epoch to NTP64 (with a zero counter).
pub fn millis_to_ntp(ms: u64) -> u64 {
    NTP64::from(Duration::from_millis(ms)).0 & !0xf
}

/// NTP64 to whole milliseconds since the Unix epoch.
pub fn ntp_to_millis(t: u64) -> u64 {
    NTP64(t).to_duration().as_millis() as u64
}

/// A hybrid logical clock for one peer: wraps `uhlc::HLC`, keeps the drift bound, and can check a
/// remote timestamp without adopting it.
pub struct Hlc {
    inner: uhlc::HLC,
    clock: ClockFn,
    max_drift: Duration,
    peer: PeerId,
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
        let inner = uhlc::HLCBuilder::new().with_id(peer.to_uhlc()).with_clock(clock).with_max_delta(max_drift).build();
        Hlc { inner, clock, max_drift, peer }
    }

    /// The peer this clock stamps ids for.
    pub fn peer(&self) -> PeerId {
        self.peer
    }

    /// The drift bound.
    pub fn max_drift(&self) -> Duration {
        self.max_drift
    }

    /// A new id, greater than every id this clock made or observed.
    pub fn now(&self) -> OpId {
        let ts = self.inner.new_timestamp();
        OpId { time: ts.get_time().0, peer: self.peer }
    }

    /// The current physical time of the clock, in milliseconds since the Unix epoch.
    pub fn physical_millis(&self) -> u64 {
        ntp_to_millis((self.clock)().0)
    }

    /// Checks that `id` is within the drift bound, without moving the clock.
    pub fn check(&self, id: &OpId) -> Result<()> {
        let now = (self.clock)().0 & !0xf;
        let bound = NTP64::from(self.max_drift).0;
        if id.time > now && id.time - now > bound {
            return Err(LogError::ClockDrift {
                id: *id,
                ahead_ms: ntp_to_millis(id.time - now),
                bound_ms: self.max_drift.as_millis() as u64,
            });
        }
        Ok(())
    }

    /// Checks `id` and, if it is within the bound, moves the clock past it.
    pub fn observe(&self, id: &OpId) -> Result<()> {
        self.check(id)?;
        self.inner.update_with_timestamp(&id.timestamp()).map_err(|_| LogError::ClockDrift {
            id: *id,
            ahead_ms: ntp_to_millis(id.time.saturating_sub((self.clock)().0)),
            bound_ms: self.max_drift.as_millis() as u64,
        })
    }
}

/// The operating system's clock. Not available on wasm32, where the `auroradb` crate supplies a
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
