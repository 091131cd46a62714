//! Requests awaiting their reply, on either side: request ids, the
//! channels that carry each answer back, and their deadlines. One
//! mechanism for both sides (PROTOCOL.md section 5.1): a request registers
//! with its timeout and the time it was made; the connection that owns the
//! table keeps **one** timer, armed for the earliest deadline, and calls
//! `PendingRequests::expire` with the time when it fires (`drive_deadlines`
//! is that shell, used by the server's connection task and the client's
//! driver alike). The table itself reads no clock.

use std::task::{Context, Waker};
use std::time::Duration;

use crate::close::CloseReason;
use crate::platform::map::Map;
use crate::platform::timer::{DeadlineTimer, Instant};

use bytes::Bytes;
use futures::channel::oneshot;

use crate::error::Error;
use crate::frame::{ErrorCode, Frame};
use crate::platform::locks::lock;

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
    let mut pending = lock(pending);
    if !pending.resolve(request_id, result) {
        tracing::debug!(
            request_id,
            "answer to a request nobody waits for (timed out?)"
        );
    }
    None
}

/// Fails the requests whose deadline has passed, with one timer for all
/// of them (armed for the earliest deadline) rather than one per request.
/// Called in every turn of a connection's task; registers the task's waker
/// so that a request with an earlier deadline, made on another task, wakes
/// it to re-arm.
pub(crate) fn drive_deadlines(
    pending: &std::sync::Mutex<PendingRequests>,
    timer: &mut DeadlineTimer,
    cx: &mut Context<'_>,
) {
    loop {
        {
            let mut table = lock(pending);
            table.watch(cx.waker());
            if let Some(deadline) = table.take_new_deadline() {
                timer.arm(deadline);
            }
        }
        if timer.poll_fired(cx).is_pending() {
            return;
        }
        if let Some(next) = lock(pending).expire(timer.clock().now()) {
            timer.arm(next);
        }
    }
}

/// The answer a request gets: the reply payload or why there is none.
pub type ReplyResult = Result<Bytes, Error>;

/// A request id and the receiver its answer will arrive on.
pub type Registration = (u64, oneshot::Receiver<ReplyResult>);

/// Outstanding requests of one connection, keyed by request id.
#[derive(Default)]
pub struct PendingRequests {
    next_id: u64,
    waiting: Map<u64, Waiter>,
    /// The earliest deadline the owner's timer is (or is about to be)
    /// armed for; a request due later needs nothing from the owner.
    armed: Option<Instant>,
    /// A deadline earlier than `armed`, not yet taken by the owner (see
    /// [`take_new_deadline`](Self::take_new_deadline)).
    new_deadline: Option<Instant>,
    /// The owner's task, woken when `new_deadline` is set.
    owner: Option<Waker>,
    /// Set once the connection ended: nothing new is registered. (Server
    /// side only: the application's requests come from other tasks, which
    /// may still hold the connection's table after its goodbye. A client's
    /// late request fails to queue its frame instead, as the outgoing queue
    /// is closed by then, and the browser build stays smaller.)
    #[cfg(feature = "server")]
    closed: Option<CloseReason>,
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
    /// the receiver its answer will arrive on. The request never times
    /// out by itself. Once the connection has ended, the receiver holds
    /// [`Error::Closed`] at once.
    pub fn register(&mut self) -> Registration {
        self.insert(None)
    }

    /// Like [`register`](Self::register), with a deadline `timeout` after
    /// `now`: unless answered by then, the request fails with
    /// [`Error::Timeout`] when the owner expires it. A `timeout` too large
    /// to represent never expires.
    pub(crate) fn register_with_timeout(
        &mut self,
        timeout: Duration,
        now: Instant,
    ) -> Registration {
        let deadline = now.checked_add(timeout);
        let registered = self.insert(deadline.map(|at| (at, timeout)));
        if let Some(at) = deadline {
            let earlier = |than: Option<Instant>| than.is_none_or(|t| at < t);
            if earlier(self.armed) && earlier(self.new_deadline) {
                self.new_deadline = Some(at);
                if let Some(owner) = &self.owner {
                    owner.wake_by_ref();
                }
            }
        }
        registered
    }

    fn insert(&mut self, deadline: Option<(Instant, Duration)>) -> Registration {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        while self.waiting.contains_key(&self.next_id) {
            self.next_id = self.next_id.wrapping_add(1).max(1);
        }
        let (tx, rx) = oneshot::channel();
        #[cfg(feature = "server")]
        if let Some(reason) = &self.closed {
            // Answered at once: nothing is left to answer it later.
            let _ = tx.send(Err(Error::Closed(reason.clone())));
            return (self.next_id, rx);
        }
        let waiter = Waiter {
            tx: Some(tx),
            deadline,
        };
        self.waiting.insert(self.next_id, waiter);
        (self.next_id, rx)
    }

    /// Remembers the owner's task, to wake it for an earlier deadline.
    #[inline]
    pub(crate) fn watch(&mut self, waker: &Waker) {
        if !self.owner.as_ref().is_some_and(|w| w.will_wake(waker)) {
            self.owner = Some(waker.clone());
        }
    }

    /// A deadline earlier than any the owner's timer knows, if one was
    /// registered since the last call: the timer must fire no later.
    pub(crate) fn take_new_deadline(&mut self) -> Option<Instant> {
        let new = self.new_deadline.take()?;
        self.armed = Some(new);
        Some(new)
    }

    /// Fails every request whose deadline is at or before `now` with
    /// [`Error::Timeout`]. Returns the earliest deadline still pending,
    /// which the owner's timer is then armed for.
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
        self.armed = earliest;
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

    /// Forgets request `id` (its requester gave up or could not send it).
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
        self.armed = None;
    }

    /// Fails every outstanding request whose id `keep` does not hold (a
    /// client reconnected to a new session fails what the old one may have
    /// handled and keeps requests still queued, which the new one will
    /// get).
    pub(crate) fn fail_unless(
        &mut self,
        keep: impl Fn(u64) -> bool,
        make_error: impl Fn() -> Error,
    ) {
        self.waiting.retain(|id, waiter| {
            if keep(*id) {
                return true;
            }
            if let Some(tx) = waiter.tx.take() {
                let _ = tx.send(Err(make_error()));
            }
            false
        });
    }

    /// The connection ended with `reason`: every outstanding request fails
    /// with [`Error::Closed`], and (with the `server` feature) so does every
    /// later registration, at once: a request made while the connection was
    /// ending would otherwise wait for an answer that cannot come, with no
    /// timer left to end it.
    pub fn close(&mut self, reason: &CloseReason) {
        self.fail_all(|| Error::Closed(reason.clone()));
        #[cfg(feature = "server")]
        self.closed.get_or_insert_with(|| reason.clone());
        self.owner = None;
    }

    /// What a session moving to another node takes along (`handover.rs`
    /// in the server's cluster code): the id counter and the ids still
    /// waiting for the client's answer.
    #[cfg(feature = "server")]
    pub(crate) fn waiting_ids(&self) -> (u64, Vec<u64>) {
        let ids = self
            .waiting
            .iter()
            .filter(|(_, waiter)| waiter.tx.is_some())
            .map(|(id, _)| *id)
            .collect();
        (self.next_id, ids)
    }

    /// The other side of [`waiting_ids`](Self::waiting_ids), on the node
    /// the session moved to: ids go on from `next_id`, and each of `ids`
    /// gets a waiter without a deadline (the node that asked keeps its
    /// own), whose answer the caller passes back to that node.
    #[cfg(feature = "server")]
    pub(crate) fn adopt(&mut self, next_id: u64, ids: &[u64]) -> Vec<Registration> {
        self.next_id = next_id;
        let mut adopted = Vec::with_capacity(ids.len());
        for &id in ids {
            if id == 0 || self.waiting.contains_key(&id) {
                continue;
            }
            let (tx, rx) = oneshot::channel();
            let waiter = Waiter {
                tx: Some(tx),
                deadline: None,
            };
            self.waiting.insert(id, waiter);
            adopted.push((id, rx));
        }
        adopted
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
    use crate::close::codes;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    const MS: Duration = Duration::from_millis(1);

    fn register(pending: &mut PendingRequests, timeout: Duration, now: Instant) -> Registration {
        pending.register_with_timeout(timeout, now)
    }

    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

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
    fn ids_skip_zero_and_ids_in_use_when_they_wrap() {
        let mut pending = PendingRequests::new();
        let (first, _keep) = pending.register();
        assert_eq!(first, 1);
        pending.next_id = u64::MAX - 1;
        let (last, _a) = pending.register();
        assert_eq!(last, u64::MAX);
        let (wrapped, _b) = pending.register();
        assert_eq!(wrapped, 2, "0 is never an id, 1 is still in use");
    }

    #[test]
    fn deadlines_expire_only_what_is_due() {
        let t0 = Instant::now();
        let mut pending = PendingRequests::new();
        let (_, mut soon) = register(&mut pending, 10 * MS, t0);
        let (_, mut later) = register(&mut pending, 60_000 * MS, t0);
        let (_, mut never) = pending.register();
        assert_eq!(pending.take_new_deadline(), Some(t0 + 10 * MS));
        assert!(pending.take_new_deadline().is_none(), "taken once");
        assert_eq!(pending.expire(t0 + 9 * MS), Some(t0 + 10 * MS), "not yet");
        assert!(soon.try_recv().expect("open").is_none());
        let left = pending.expire(t0 + 10 * MS);
        assert!(matches!(
            soon.try_recv().expect("open"),
            Some(Err(Error::Timeout(t))) if t == 10 * MS
        ));
        assert_eq!(left, Some(t0 + 60_000 * MS), "the 60 s deadline is left");
        assert!(later.try_recv().expect("open").is_none());
        assert!(never.try_recv().expect("open").is_none());
        assert_eq!(pending.len(), 2);
    }

    #[test]
    fn only_a_deadline_earlier_than_the_armed_one_is_reported() {
        let t0 = Instant::now();
        let mut pending = PendingRequests::new();
        let _a = register(&mut pending, 1_000 * MS, t0);
        assert_eq!(pending.take_new_deadline(), Some(t0 + 1_000 * MS));
        let _b = register(&mut pending, 5_000 * MS, t0);
        assert_eq!(
            pending.take_new_deadline(),
            None,
            "later: the timer is fine"
        );
        let _c = register(&mut pending, 500 * MS, t0);
        assert_eq!(pending.take_new_deadline(), Some(t0 + 500 * MS));
        // After expiry the timer is armed for what is left.
        assert_eq!(pending.expire(t0 + 500 * MS), Some(t0 + 1_000 * MS));
        let _d = register(&mut pending, 900 * MS, t0 + 500 * MS);
        assert_eq!(pending.take_new_deadline(), None, "1.4 s is after 1 s");
        let _e = register(&mut pending, 100 * MS, t0 + 500 * MS);
        assert_eq!(pending.take_new_deadline(), Some(t0 + 600 * MS));
    }

    #[test]
    fn an_earlier_deadline_wakes_the_owner_and_a_later_one_does_not() {
        let t0 = Instant::now();
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(counter.clone());
        let mut pending = PendingRequests::new();
        pending.watch(&waker);
        let _a = register(&mut pending, 1_000 * MS, t0);
        assert_eq!(counter.0.load(Ordering::Relaxed), 1);
        pending.take_new_deadline();
        let _b = register(&mut pending, 2_000 * MS, t0);
        assert_eq!(counter.0.load(Ordering::Relaxed), 1, "no wake for later");
        let _c = register(&mut pending, 10 * MS, t0);
        assert_eq!(counter.0.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn closing_fails_everything_outstanding_and_everything_later() {
        let mut pending = PendingRequests::new();
        let (_, mut rx) = pending.register();
        pending.close(&CloseReason::new(codes::NORMAL, "bye"));
        assert!(matches!(
            rx.try_recv().expect("open"),
            Some(Err(Error::Closed(r))) if r.reason == "bye"
        ));
        #[cfg(feature = "server")]
        {
            let (_, mut late) = pending.register_with_timeout(MS, Instant::now());
            assert!(matches!(
                late.try_recv().expect("answered"),
                Some(Err(Error::Closed(r))) if r.code == codes::NORMAL
            ));
            assert!(pending.is_empty(), "nothing kept for it");
        }
    }
}
