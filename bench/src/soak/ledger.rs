//! Direct messages between clients are checked across two clients: the
//! sender knows which numbers the server accepted (queued for the
//! receiver), the receiver knows which arrived. Both live in this process,
//! so they meet here and are compared once every client has left.
//!
//! The server accepts nothing for a receiver once it has closed its
//! windows (the close mark), and every accepted message was queued before
//! that mark, so a receiver that left normally got every accepted number.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use hisock_test_support::{SeqCheck, Tally};

/// (sender, receiver), by soak id.
type Pair = (u64, u64);

/// The shared record of direct messages.
#[derive(Default)]
pub struct Ledger {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The last number accepted per pair (numbers are only used up when
    /// accepted, so the accepted ones are 1..=last).
    accepted: HashMap<Pair, u64>,
    /// Pairs with a relay whose outcome is unknown (timed out or failed).
    uncertain: HashSet<Pair>,
    /// What each receiver that left normally saw, per sender.
    received: HashMap<Pair, SeqCheck>,
    /// Receivers that left normally.
    closed: HashSet<u64>,
}

/// The comparison of everything recorded.
#[derive(Debug, Default, Clone, Copy)]
pub struct DirectTally {
    /// Pairs whose receiver left normally and whose outcome is known.
    pub tally: Tally,
    /// Pairs left out: the receiver's connection ended unexpectedly, or a
    /// relay's outcome is unknown.
    pub pairs_skipped: u64,
}

impl Ledger {
    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The server queued number `seq` from `from` for `to`.
    pub fn accepted(&self, from: u64, to: u64, seq: u64) {
        self.inner().accepted.insert((from, to), seq);
    }

    /// A relay from `from` to `to` may or may not have been queued.
    pub fn uncertain(&self, from: u64, to: u64) {
        self.inner().uncertain.insert((from, to));
    }

    /// Receiver `to` left normally, having seen `direct` (by sender).
    pub fn receiver_closed(&self, to: u64, direct: HashMap<u64, SeqCheck>) {
        let mut inner = self.inner();
        inner.closed.insert(to);
        inner
            .received
            .extend(direct.into_iter().map(|(from, check)| ((from, to), check)));
    }

    /// Compares accepted with received, pair by pair.
    pub fn settle(&self) -> DirectTally {
        let inner = self.inner();
        let mut out = DirectTally::default();
        let pairs: HashSet<Pair> = inner
            .accepted
            .keys()
            .chain(inner.received.keys())
            .copied()
            .collect();
        for pair in pairs {
            if !inner.closed.contains(&pair.1) || inner.uncertain.contains(&pair) {
                out.pairs_skipped += 1;
                continue;
            }
            let last = inner.accepted.get(&pair).copied().unwrap_or(0);
            out.tally += match inner.received.get(&pair) {
                Some(check) => check.close(last),
                None => SeqCheck::after(0).close(last),
            };
        }
        out
    }
}

/// The clients that can be sent direct messages: connected, windows open,
/// not leaving. A vector for picking at random, with each id's index for
/// removing in constant time.
#[derive(Default)]
pub struct Live {
    inner: Mutex<(Vec<u64>, HashMap<u64, usize>)>,
}

impl Live {
    fn inner(&self) -> MutexGuard<'_, (Vec<u64>, HashMap<u64, usize>)> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `id` can be sent messages.
    pub fn insert(&self, id: u64) {
        let mut inner = self.inner();
        let (ids, index) = &mut *inner;
        if let std::collections::hash_map::Entry::Vacant(slot) = index.entry(id) {
            slot.insert(ids.len());
            ids.push(id);
        }
    }

    /// `id` is leaving.
    pub fn remove(&self, id: u64) {
        let mut inner = self.inner();
        let (ids, index) = &mut *inner;
        if let Some(at) = index.remove(&id) {
            ids.swap_remove(at);
            if let Some(&moved) = ids.get(at) {
                index.insert(moved, at);
            }
        }
    }

    /// A random live client other than `me`.
    pub fn pick_other(&self, me: u64) -> Option<u64> {
        let inner = self.inner();
        let ids = &inner.0;
        match ids.len() {
            0 => None,
            1 if ids[0] == me => None,
            n => loop {
                let id = ids[fastrand::usize(..n)];
                if id != me {
                    return Some(id);
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(seqs: &[u64]) -> SeqCheck {
        let mut check = SeqCheck::after(0);
        for &seq in seqs {
            check.see(seq);
        }
        check
    }

    #[test]
    fn an_accepted_message_the_receiver_never_saw_is_lost() {
        let ledger = Ledger::default();
        ledger.accepted(1, 2, 3);
        ledger.receiver_closed(2, HashMap::from([(1, seen(&[1, 2]))]));
        let out = ledger.settle();
        assert_eq!(out.tally.lost, 1);
        assert_eq!(out.tally.received, 2);
    }

    #[test]
    fn receivers_that_did_not_leave_normally_and_unknown_relays_are_skipped() {
        let ledger = Ledger::default();
        ledger.accepted(1, 2, 3); // 2 never closed
        ledger.accepted(1, 3, 1);
        ledger.uncertain(1, 3);
        ledger.receiver_closed(3, HashMap::new());
        let out = ledger.settle();
        assert_eq!(out.pairs_skipped, 2);
        assert_eq!(out.tally, Tally::default());
    }

    #[test]
    fn live_clients_are_picked_and_removed() {
        let live = Live::default();
        for id in 1..=3 {
            live.insert(id);
        }
        live.remove(1);
        for _ in 0..20 {
            assert_eq!(live.pick_other(2), Some(3));
        }
        live.remove(3);
        assert_eq!(live.pick_other(2), None);
    }
}
