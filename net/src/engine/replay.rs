//! Anti-replay window over a peer's frame sequence numbers.

use std::collections::BTreeSet;

/// How far behind the newest sequence number a frame may arrive (reordered) and still count.
pub const REPLAY_WINDOW: u64 = 4096;

/// Accepts each sequence number once, within [`REPLAY_WINDOW`] of the newest seen.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReplayWindow {
    newest: Option<u64>,
    seen: BTreeSet<u64>,
}

impl ReplayWindow {
    /// Whether `seq` is fresh; records it if so.
    pub(crate) fn accept(&mut self, seq: u64) -> bool {
        if let Some(newest) = self.newest {
            // `newest - seq`, not `seq + REPLAY_WINDOW`: the peer picks `seq`, up to u64::MAX.
            if (seq < newest && newest - seq >= REPLAY_WINDOW) || self.seen.contains(&seq) {
                return false;
            }
            if seq > newest {
                self.newest = Some(seq);
                let floor = seq.saturating_sub(REPLAY_WINDOW);
                while self.seen.first().is_some_and(|s| *s <= floor) {
                    self.seen.pop_first();
                }
            }
        } else {
            self.newest = Some(seq);
        }
        self.seen.insert(seq);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_each_number_once_within_the_window() {
        let mut w = ReplayWindow::default();
        assert!(w.accept(10));
        assert!(!w.accept(10));
        assert!(w.accept(5), "reordered but new");
        assert!(!w.accept(5));
        assert!(w.accept(10 + REPLAY_WINDOW));
        assert!(!w.accept(10), "too old to tell");
        assert!(!w.accept(9));
        assert!(w.accept(11 + REPLAY_WINDOW / 2));
    }

    #[test]
    fn the_largest_sequence_numbers_are_taken_without_overflow() {
        let mut w = ReplayWindow::default();
        assert!(w.accept(1));
        assert!(w.accept(u64::MAX - 1));
        assert!(!w.accept(u64::MAX - 1));
        assert!(w.accept(u64::MAX));
        assert!(!w.accept(1), "too old to tell");
        assert!(w.accept(u64::MAX - 2), "reordered but new");
    }
}
