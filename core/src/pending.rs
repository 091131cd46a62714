//! Requests awaiting their reply: request ids and the channels that carry
//! each answer back to whoever awaits it. No I/O, no timers: either the
//! caller decides how long to wait and calls [`PendingRequests::cancel`] on
//! timeout, or it registers a deadline and whoever owns the table calls
//! `PendingRequests::expire` when the earliest deadline comes (the client
//! does this from its connection loop, with one timer for all requests).

use std::time::Duration;

use crate::small_map::Map;
use crate::timer::Instant;

use bytes::Bytes;
use futures::channel::oneshot;

use crate::error::Error;
use crate::frame::{ErrorCode, Frame};

/// Delivers `frame` to its requester if it is an answer (`Reply` or
/// `ReplyError`; `bytes` is the buffer it was decoded from) and hands any
/// other frame back. The lock is taken for answers only.
pub(crate) fn route_answer<'a>(
    frame: Frame<'a>,
    bytes: &Bytes,
    pending: &std::sync::Mutex<PendingRequests>,
) -> Option<Frame<'a>> {
    let (request_id, result) = match frame {
        Frame::Reply {
            request_id,
            payload,
        } => (request_id, Ok(bytes.slice_ref(payload))),
        Frame::ReplyError {
            request_id,
            code,
            message,
        } => {
            let remote = Error::Remote {
                code: ErrorCode::from_wire(code),
                message: message.to_owned(),
            };
            (request_id, Err(remote))
        }
        other => return Some(other),
    };
    let mut pending = pending.lock().unwrap_or_else(|p| p.into_inner());
    if !pending.resolve(request_id, result) {
        tracing::debug!(
            request_id,
            "answer to a request nobody waits for (timed out?)"
        );
    }
    None
}

/// The answer a request gets: the reply payload or why there is none.
pub type ReplyResult = Result<Bytes, Error>;

/// Outstanding requests of one connection, keyed by request id.
#[derive(Default)]
pub struct PendingRequests {
    next_id: u64,
    waiting: Map<u64, Waiter>,
    /// The earliest deadline registered since the owner last looked (see
    /// [`take_new_deadline`](Self::take_new_deadline)).
    new_deadline: Option<Instant>,
}

struct Waiter {
    /// `None` once answered (while [`PendingRequests::expire`] sweeps).
    tx: Option<oneshot::Sender<ReplyResult>>,
    /// When to give up, and the timeout the requester asked for.
    deadline: Option<(Instant, Duration)>,
}

impl PendingRequests {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allocates a request id (never 0, which means "no reply wanted") and
    /// the receiver its answer will arrive on.
    pub fn register(&mut self) -> (u64, oneshot::Receiver<ReplyResult>) {
        self.insert(None)
    }

    /// Like [`register`](Self::register), with a deadline: unless answered
    /// within `timeout`, the request fails with [`Error::Timeout`] when the
    /// owner expires it (the client does so from its connection loop). A `timeout` too large to
    /// represent never expires.
    pub fn register_with_timeout(
        &mut self,
        timeout: Duration,
    ) -> (u64, oneshot::Receiver<ReplyResult>) {
        let deadline = Instant::now().checked_add(timeout);
        if let Some(at) = deadline {
            if self.new_deadline.is_none_or(|earliest| at < earliest) {
                self.new_deadline = Some(at);
            }
        }
        self.insert(deadline.map(|at| (at, timeout)))
    }

    fn insert(
        &mut self,
        deadline: Option<(Instant, Duration)>,
    ) -> (u64, oneshot::Receiver<ReplyResult>) {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        while self.waiting.contains_key(&self.next_id) {
            self.next_id = self.next_id.wrapping_add(1).max(1);
        }
        let (tx, rx) = oneshot::channel();
        let waiter = Waiter {
            tx: Some(tx),
            deadline,
        };
        self.waiting.insert(self.next_id, waiter);
        (self.next_id, rx)
    }

    /// The earliest deadline registered since the last call, if any: the
    /// owner's timer must fire no later than that.
    pub(crate) fn take_new_deadline(&mut self) -> Option<Instant> {
        self.new_deadline.take()
    }

    /// Fails every request whose deadline is at or before `now` with
    /// [`Error::Timeout`]. Returns the earliest deadline still pending.
    pub(crate) fn expire(&mut self, now: Instant) -> Option<Instant> {
        let mut earliest: Option<Instant> = None;
        self.waiting.retain(|_, waiter| match waiter.deadline {
            Some((at, timeout)) if at <= now => {
                if let Some(tx) = waiter.tx.take() {
                    let _ = tx.send(Err(Error::Timeout(timeout)));
                }
                false
            }
            Some((at, _)) => {
                earliest = Some(earliest.map_or(at, |e| e.min(at)));
                true
            }
            None => true,
        });
        earliest
    }

    /// Delivers the answer to request `id`. Returns false when nobody waits
    /// for it (unknown id, or the requester gave up).
    pub fn resolve(&mut self, id: u64, result: ReplyResult) -> bool {
        match self.waiting.remove(&id).and_then(|waiter| waiter.tx) {
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
        for (_, waiter) in self.waiting.drain() {
            if let Some(tx) = waiter.tx {
                let _ = tx.send(Err(make_error()));
            }
        }
        self.new_deadline = None;
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
    fn deadlines_expire_only_what_is_due() {
        let mut pending = PendingRequests::new();
        let (_, mut soon) = pending.register_with_timeout(Duration::from_millis(10));
        let (_, mut later) = pending.register_with_timeout(Duration::from_secs(60));
        let (_, mut never) = pending.register();
        let first = pending
            .take_new_deadline()
            .expect("a deadline was registered");
        assert!(pending.take_new_deadline().is_none(), "taken once");
        let left = pending.expire(first);
        assert!(matches!(
            soon.try_recv().expect("open"),
            Some(Err(Error::Timeout(t))) if t == Duration::from_millis(10)
        ));
        assert!(
            left.is_some_and(|at| at > first),
            "the 60 s deadline is left"
        );
        assert!(later.try_recv().expect("open").is_none());
        assert!(never.try_recv().expect("open").is_none());
        assert_eq!(pending.len(), 2);
    }

    #[test]
    fn a_later_deadline_does_not_move_the_timer() {
        let mut pending = PendingRequests::new();
        let _a = pending.register_with_timeout(Duration::from_secs(1));
        let first = pending.take_new_deadline().expect("armed");
        let _b = pending.register_with_timeout(Duration::from_secs(5));
        let _c = pending.register_with_timeout(Duration::from_millis(500));
        let moved = pending.take_new_deadline().expect("an earlier one came");
        assert!(moved < first);
        let _d = pending.register_with_timeout(Duration::from_secs(9));
        let later = pending.take_new_deadline().expect("reported");
        assert!(
            later > moved,
            "reported, and the timer keeps its earlier deadline"
        );
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
