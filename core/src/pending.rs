//! Requests awaiting their reply: request ids and the channels that carry
//! each answer back to whoever awaits it. No I/O, no timers: the caller
//! decides how long to wait and calls [`PendingRequests::cancel`] on timeout.

use crate::small_map::Map;

use bytes::Bytes;
use futures::channel::oneshot;

use crate::error::Error;

/// The answer a request gets: the reply payload or why there is none.
pub type ReplyResult = Result<Bytes, Error>;

/// Outstanding requests of one connection, keyed by request id.
#[derive(Default)]
pub struct PendingRequests {
    next_id: u64,
    waiting: Map<u64, oneshot::Sender<ReplyResult>>,
}

impl PendingRequests {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allocates a request id (never 0, which means "no reply wanted") and
    /// the receiver its answer will arrive on.
    pub fn register(&mut self) -> (u64, oneshot::Receiver<ReplyResult>) {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        while self.waiting.contains_key(&self.next_id) {
            self.next_id = self.next_id.wrapping_add(1).max(1);
        }
        let (tx, rx) = oneshot::channel();
        self.waiting.insert(self.next_id, tx);
        (self.next_id, rx)
    }

    /// Delivers the answer to request `id`. Returns false when nobody waits
    /// for it (unknown id, or the requester gave up).
    pub fn resolve(&mut self, id: u64, result: ReplyResult) -> bool {
        match self.waiting.remove(&id) {
            Some(tx) => tx.send(result).is_ok(),
            None => false,
        }
    }

    /// Forgets request `id` (its requester timed out).
    pub fn cancel(&mut self, id: u64) {
        self.waiting.remove(&id);
    }

    /// Fails every outstanding request, e.g. because the connection closed.
    pub fn fail_all(&mut self, make_error: impl Fn() -> Error) {
        for (_, tx) in self.waiting.drain() {
            let _ = tx.send(Err(make_error()));
        }
    }

    /// Number of requests awaiting an answer.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// True when no request awaits an answer.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::close::{codes, CloseReason};

    #[test]
    fn replies_reach_their_requester_only() {
        let mut pending = PendingRequests::new();
        let (a, mut rx_a) = pending.register();
        let (b, mut rx_b) = pending.register();
        assert_ne!(a, b);
        assert_ne!(a, 0);
        assert!(pending.resolve(b, Ok(Bytes::from_static(b"b"))));
        assert!(!pending.resolve(b, Ok(Bytes::new())), "answered twice");
        assert!(rx_a.try_recv().expect("open").is_none());
        let got = rx_b.try_recv().expect("open").expect("answered");
        assert_eq!(&got.expect("ok")[..], b"b");
    }

    #[test]
    fn cancelled_and_unknown_ids_are_ignored() {
        let mut pending = PendingRequests::new();
        let (a, _rx) = pending.register();
        pending.cancel(a);
        assert!(!pending.resolve(a, Ok(Bytes::new())));
        assert!(!pending.resolve(999, Ok(Bytes::new())));
        assert!(pending.is_empty());
    }

    #[test]
    fn closing_fails_everything_outstanding() {
        let mut pending = PendingRequests::new();
        let (_, mut rx) = pending.register();
        pending.fail_all(|| Error::Closed(CloseReason::new(codes::NORMAL, "bye")));
        assert!(matches!(
            rx.try_recv().expect("open"),
            Some(Err(Error::Closed(_)))
        ));
    }
}
