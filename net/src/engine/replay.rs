//! Anti-replay window over a peer's frame sequence numbers.

use std::collections::BTreeMap;

/// How far behind the newest sequence number a frame may arrive (reordered) and still count.
pub const REPLAY_WINDOW: u64 = 4096;

/// What a frame's sequence number says of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Not seen before: handle it.
    Fresh,
    /// The same frame again, within the window: a transport's resend of a frame it had
    /// delivered (Socket.IO resends one whose acknowledgement came late). Dropped without blame.
    Again,
    /// A number seen with other bytes, or too old to tell: a replay.
    Replay,
}

/// Accepts each sequence number once, within [`REPLAY_WINDOW`] of the newest seen, and tells a
/// resend of the same frame (by a digest of its bytes) from a replay.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReplayWindow {
    newest: Option<u64>,
    seen: BTreeMap<u64, u64>,
}

impl ReplayWindow {
    /// Whether the frame numbered `seq`, whose bytes digest to `digest`, is fresh; records it if
    /// so.
    pub(crate) fn accept(&mut self, seq: u64, digest: u64) -> Seen {
        if let Some(newest) = self.newest {
            // `newest - seq`, not `seq + REPLAY_WINDOW`: the peer picks `seq`, up to u64::MAX.
            if seq < newest && newest - seq >= REPLAY_WINDOW {
                return Seen::Replay;
            }
            if let Some(held) = self.seen.get(&seq) {
                return if *held == digest { Seen::Again } else { Seen::Replay };
            }
            if seq > newest {
                self.newest = Some(seq);
                let floor = seq.saturating_sub(REPLAY_WINDOW);
                while self.seen.first_key_value().is_some_and(|(s, _)| *s <= floor) {
                    self.seen.pop_first();
                }
            }
        } else {
            self.newest = Some(seq);
        }
        self.seen.insert(seq, digest);
        Seen::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_each_number_once_within_the_window() {
        let mut w = ReplayWindow::default();
        assert_eq!(w.accept(10, 1), Seen::Fresh);
        assert_eq!(w.accept(10, 1), Seen::Again, "the same frame resent");
        assert_eq!(w.accept(10, 2), Seen::Replay, "another frame under a number seen");
        assert_eq!(w.accept(5, 3), Seen::Fresh, "reordered but new");
        assert_eq!(w.accept(5, 4), Seen::Replay);
        assert_eq!(w.accept(10 + REPLAY_WINDOW, 5), Seen::Fresh);
        assert_eq!(w.accept(10, 1), Seen::Replay, "too old to tell");
        assert_eq!(w.accept(9, 6), Seen::Replay);
        assert_eq!(w.accept(11 + REPLAY_WINDOW / 2, 7), Seen::Fresh);
    }

    #[test]
    fn the_largest_sequence_numbers_are_taken_without_overflow() {
        let mut w = ReplayWindow::default();
        assert_eq!(w.accept(1, 0), Seen::Fresh);
        assert_eq!(w.accept(u64::MAX - 1, 0), Seen::Fresh);
        assert_eq!(w.accept(u64::MAX - 1, 1), Seen::Replay);
        assert_eq!(w.accept(u64::MAX, 0), Seen::Fresh);
        assert_eq!(w.accept(1, 0), Seen::Replay, "too old to tell");
        assert_eq!(w.accept(u64::MAX - 2, 0), Seen::Fresh, "reordered but new");
    }
}
