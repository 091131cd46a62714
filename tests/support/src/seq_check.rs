//! Delivery accounting for one sender's stream of sequence numbers, as one
//! receiver sees it inside a window: the numbers after `start` up to the
//! last one the sender was told was accepted. Everything the soak
//! (`bench/src/soak`) and the resumption chaos test
//! (`tests/tests/resume_chaos.rs`) check goes through this one type: lost,
//! duplicated, out of order, unexpected.

use std::collections::BTreeSet;
use std::ops::AddAssign;

use serde::{Deserialize, Serialize};

/// How many duplicated numbers a check remembers, to name them when it
/// reports (where a stream went wrong tells more than how often).
const DUPLICATES_KEPT: usize = 8;

/// A jump ahead larger than this is not a gap but a corrupt number: it is
/// counted as unexpected instead of filling memory with missing numbers.
const MAX_GAP: u64 = 1 << 24;

/// What one receiver saw of one sender's stream.
#[derive(Debug, Clone)]
pub struct SeqCheck {
    /// The window holds the numbers after this one.
    start: u64,
    /// The next number in order.
    next: u64,
    /// Numbers skipped over that have not arrived (yet).
    missing: BTreeSet<u64>,
    received: u64,
    duplicated: u64,
    /// The first [`DUPLICATES_KEPT`] duplicated numbers.
    duplicates: Vec<u64>,
    out_of_order: u64,
    unexpected: u64,
}

impl SeqCheck {
    /// A window holding the numbers after `start`.
    pub fn after(start: u64) -> Self {
        Self {
            start,
            next: start + 1,
            missing: BTreeSet::new(),
            received: 0,
            duplicated: 0,
            duplicates: Vec::new(),
            out_of_order: 0,
            unexpected: 0,
        }
    }

    /// One delivery of `seq`.
    pub fn see(&mut self, seq: u64) {
        if seq == self.next {
            self.next += 1;
            self.received += 1;
        } else if seq > self.next {
            if seq - self.next > MAX_GAP {
                self.unexpected += 1;
                return;
            }
            self.missing.extend(self.next..seq);
            self.next = seq + 1;
            self.received += 1;
        } else if self.missing.remove(&seq) {
            self.out_of_order += 1;
            self.received += 1;
        } else if seq <= self.start {
            // Before the window opened: the mark that opened it came after
            // every such delivery on the same connection, so this one is
            // out of place.
            self.unexpected += 1;
        } else {
            self.duplicated += 1;
            if self.duplicates.len() < DUPLICATES_KEPT {
                self.duplicates.push(seq);
            }
        }
    }

    /// The first few numbers that arrived more than once, in the order
    /// their repeats arrived.
    pub fn duplicates(&self) -> &[u64] {
        &self.duplicates
    }

    /// Closes the window at `last`, the last number the sender was told
    /// was accepted for this receiver.
    pub fn close(&self, last: u64) -> Tally {
        let highest_seen = self.next - 1;
        let missing_in_window = self.missing.range(..=last).count() as u64;
        let lost = missing_in_window + last.saturating_sub(highest_seen);
        // Numbers past `last` that arrived: the sender never sent them as
        // far as it knows.
        let beyond = if highest_seen > last {
            (highest_seen - last) - self.missing.range(last + 1..).count() as u64
        } else {
            0
        };
        Tally {
            expected: last.saturating_sub(self.start),
            received: self.received - beyond,
            lost,
            duplicated: self.duplicated,
            out_of_order: self.out_of_order,
            unexpected: self.unexpected + beyond,
        }
    }
}

/// Counts over one or many windows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Deliveries the senders were told were accepted, for receivers
    /// connected for the whole window.
    pub expected: u64,
    /// Distinct deliveries inside the windows.
    pub received: u64,
    /// Expected but never delivered.
    pub lost: u64,
    /// Delivered again.
    pub duplicated: u64,
    /// Delivered after a later number of the same sender.
    pub out_of_order: u64,
    /// Delivered but never accepted, from before the window, or absurd.
    pub unexpected: u64,
}

impl Tally {
    /// True when nothing went wrong.
    pub fn is_clean(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.out_of_order == 0 && self.unexpected == 0
    }
}

impl AddAssign for Tally {
    fn add_assign(&mut self, other: Self) {
        self.expected += other.expected;
        self.received += other.received;
        self.lost += other.lost;
        self.duplicated += other.duplicated;
        self.out_of_order += other.out_of_order;
        self.unexpected += other.unexpected;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(start: u64, seqs: &[u64], last: u64) -> Tally {
        let mut check = SeqCheck::after(start);
        for &seq in seqs {
            check.see(seq);
        }
        check.close(last)
    }

    #[test]
    fn a_whole_stream_in_order_is_clean() {
        let tally = seen(10, &[11, 12, 13], 13);
        assert_eq!(tally.expected, 3);
        assert_eq!(tally.received, 3);
        assert!(tally.is_clean(), "{tally:?}");
    }

    #[test]
    fn an_empty_window_expects_nothing() {
        assert_eq!(seen(5, &[], 5), Tally::default());
    }

    #[test]
    fn a_missing_number_and_a_missing_tail_are_lost() {
        let tally = seen(0, &[1, 3], 5);
        assert_eq!(tally.lost, 3, "2, 4 and 5: {tally:?}");
        assert_eq!(tally.received, 2);
    }

    #[test]
    fn a_late_number_is_out_of_order_not_lost() {
        let tally = seen(0, &[1, 3, 2], 3);
        assert_eq!(tally.out_of_order, 1);
        assert_eq!(tally.lost, 0);
        assert_eq!(tally.received, 3);
    }

    #[test]
    fn a_repeat_is_duplicated() {
        let tally = seen(0, &[1, 2, 2, 1], 2);
        assert_eq!(tally.duplicated, 2);
        let mut check = SeqCheck::after(0);
        for seq in [1, 2, 2, 1] {
            check.see(seq);
        }
        assert_eq!(check.duplicates(), [2, 1]);
        assert_eq!(tally.received, 2);
    }

    #[test]
    fn numbers_from_before_the_window_or_past_the_last_are_unexpected() {
        let tally = seen(5, &[3, 6, 7, 8], 6);
        assert_eq!(tally.unexpected, 3, "3, 7 and 8: {tally:?}");
        assert_eq!(tally.received, 1);
        assert_eq!(tally.lost, 0);
    }

    #[test]
    fn an_absurd_jump_is_unexpected_and_allocates_nothing() {
        let mut check = SeqCheck::after(0);
        check.see(u64::MAX / 2);
        assert!(check.missing.is_empty());
        assert_eq!(check.close(0).unexpected, 1);
    }
}
