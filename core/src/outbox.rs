//! The outgoing queue of one connection, bounded in bytes, and the writer
//! loop that drains it.
//!
//! Senders push encoded frames; the writer takes *everything* queued at once,
//! `feed`s it to the transport and flushes once, so a burst of small events
//! leaves in one write. The queue never grows past its byte limit: a sender
//! either waits for room ([`Outbox::push`], what clients do) or is told the
//! queue is full ([`Outbox::try_push`], what the server does, disconnecting
//! the slow reader with [`SLOW_CONSUMER`](crate::close::codes::SLOW_CONSUMER)).
//! An idle connection's queue holds no buffer.
//!
//! The limit counts memory, not payload bytes: each frame costs its length
//! plus [`FRAME_OVERHEAD`] (its queue slot and its allocation). Control frames
//! that answer the peer (pongs, stream acks and cancels, a client's replies)
//! never wait, but they are bounded too: they may use
//! [`control_headroom`] past the limit, and the push that would go beyond
//! it *overflows* the outbox. The owner is told once (the hook given to
//! [`Outbox::with_overflow_hook`]; [`Outbox::has_overflowed`] for owners that
//! look), and ends the connection: a peer that sends requests for answers
//! and never reads them cannot grow the queue without limit.
//!
//! Closing: once [`close_with`](Outbox::close_with) is called the writer
//! flushes after every frame, so that when the connection has to be cut
//! before its queue is drained, [`undelivered`](Outbox::undelivered) counts
//! exactly the frames that never reached the transport whole.
//!
//! (Past 450 lines: the queue, its byte limits and the writer that drains
//! it are one concept; the unit tests and the server's send counters live
//! in sibling files.)

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use bytes::Bytes;
use event_listener::Event;
use futures::task::AtomicWaker;
use futures::SinkExt;

use crate::platform::lock;
use crate::transport::{FrameSink, TransportError};

#[path = "outbox_sent.rs"]
mod sent;
use sent::count_sent;
pub use sent::Sent;

/// Why a push was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// The queue holds `queued` bytes and the frame does not fit in `limit`.
    Full {
        /// Bytes already queued.
        queued: usize,
        /// The byte limit.
        limit: usize,
    },
    /// The connection is closing or closed; nothing more is sent.
    Closed,
}

/// What one queued frame costs beside its bytes, counted against the
/// limit: its 32-byte queue slot (up to twice that while the queue grows)
/// and the allocator's minimum block for the frame itself. Measured:
/// 5-byte frames against a 4 MiB limit took 68 MiB when only frame bytes
/// were counted, about 85 bytes a frame.
pub const FRAME_OVERHEAD: usize = 80;

/// How far past the limit control frames (pongs, stream acks and cancels, a
/// client's replies) may go before the outbox overflows: a quarter of the
/// limit, at least 16 KiB.
pub fn control_headroom(limit: usize) -> usize {
    (limit / 4).max(16 * 1024)
}

/// Told, once, that a control frame did not fit even in the headroom:
/// `(queued, limit)`, in counted bytes.
pub type OverflowHook = Box<dyn Fn(usize, usize) + Send + Sync>;

/// What a frame costs against the limit.
#[inline(always)]
fn cost(frame: &Bytes) -> usize {
    frame.len() + FRAME_OVERHEAD
}

/// Frames a connection was cut with: never sent, or not sent whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Undelivered {
    /// Frames that did not reach the transport whole.
    pub frames: usize,
    /// The bytes of those still queued (the one being written is not
    /// counted).
    pub queued_bytes: usize,
}

/// Queue slots an idle connection keeps allocated (each holds one `Bytes`).
const IDLE_SLOTS: usize = 8;

/// Most queue slots a busy connection keeps between batches (32 bytes
/// each).
const SPARE_SLOTS: usize = 16 * 1024;

#[derive(Default)]
struct State {
    queue: VecDeque<Bytes>,
    /// What the queued frames cost: their bytes plus [`FRAME_OVERHEAD`] each.
    bytes: usize,
    /// Frames the writer took and has not yet seen flushed: lost, with the
    /// queue, if the writer is stopped now.
    in_flight: usize,
    /// No more pushes; the writer drains what is queued and closes.
    closing: bool,
    /// The writer is gone (transport failed or closed).
    closed: bool,
    /// A resumable session's kept frames (`outbox_replay.rs`); `None`
    /// for a connection without one.
    replay: Option<Box<replay::Replay>>,
}

/// A byte-bounded queue of outgoing frames. Shared between senders and the
/// connection's writer.
pub struct Outbox {
    state: Mutex<State>,
    limit: usize,
    writer: AtomicWaker,
    room: Event,
    drained: Event,
    /// Set with `State::closing`, read by the writer after every frame
    /// without taking the lock.
    closing: AtomicBool,
    overflowed: AtomicBool,
    /// The work beside the writer stepped aside for it (see
    /// [`writer_turn`](Self::writer_turn)).
    #[cfg(any(test, feature = "server"))]
    writer_turn: AtomicBool,
    on_overflow: Option<OverflowHook>,
    /// Where the writer adds what it sent, if anyone counts.
    sent: Option<Arc<Sent>>,
}

impl Outbox {
    /// A queue that holds at most `limit_bytes` of frames. A single frame
    /// larger than the limit is still accepted when the queue is empty, so
    /// large payloads are possible; they just travel alone.
    pub fn new(limit_bytes: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            limit: limit_bytes.max(1),
            writer: AtomicWaker::new(),
            room: Event::new(),
            drained: Event::new(),
            closing: AtomicBool::new(false),
            overflowed: AtomicBool::new(false),
            #[cfg(any(test, feature = "server"))]
            writer_turn: AtomicBool::new(false),
            on_overflow: None,
            sent: None,
        }
    }

    /// Has the writer add what it sends to `sent`, once per batch.
    pub fn counting_into(mut self, sent: Arc<Sent>) -> Self {
        self.sent = Some(sent);
        self
    }

    /// Like [`new`](Self::new), calling `hook` the first time a control
    /// frame overflows the queue (see the module's documentation).
    pub fn with_overflow_hook(limit_bytes: usize, hook: OverflowHook) -> Self {
        Self {
            on_overflow: Some(hook),
            ..Self::new(limit_bytes)
        }
    }

    /// Queues a frame if it fits, without waiting.
    pub fn try_push(&self, frame: Bytes) -> Result<(), PushError> {
        self.offer(frame).map_err(|(err, _)| err)
    }

    /// Queues a frame only while the queue holds at most `threshold`
    /// counted bytes (what volatile events do): `Ok(false)` when it was
    /// dropped for that. Never overflows: past the limit it is dropped too.
    pub fn try_push_if_below(&self, frame: Bytes, threshold: usize) -> Result<bool, PushError> {
        match self.offer_below(frame, threshold, false) {
            Ok(()) => Ok(true),
            Err((PushError::Full { .. }, _)) => Ok(false),
            Err((err, _)) => Err(err),
        }
    }

    /// Like `try_push`, handing the frame back when it was not queued.
    pub(crate) fn offer(&self, frame: Bytes) -> Result<(), (PushError, Bytes)> {
        self.offer_below(frame, usize::MAX, false)
    }

    /// Like `offer`, for a sender that waits for room when refused (as
    /// [`push`](Self::push) does): while a session's replay buffer holds
    /// the writer back, it is refused sooner (`outbox_replay.rs`).
    pub(crate) fn offer_to_wait(&self, frame: Bytes) -> Result<(), (PushError, Bytes)> {
        self.offer_below(frame, usize::MAX, true)
    }

    /// Like `offer`, refusing with `Full` too when the queue already holds
    /// more than `threshold` counted bytes (one lock for both checks);
    /// `waits`: see [`offer_to_wait`](Self::offer_to_wait).
    #[inline(always)]
    fn offer_below(
        &self,
        frame: Bytes,
        threshold: usize,
        waits: bool,
    ) -> Result<(), (PushError, Bytes)> {
        let mut state = lock(&self.state);
        if state.closing || state.closed {
            return Err((PushError::Closed, frame));
        }
        let limit = match waits {
            true => self.limit_for_waiting(&state),
            false => self.limit,
        };
        if state.bytes > threshold || (state.bytes > 0 && state.bytes + cost(&frame) > limit) {
            let full = PushError::Full {
                queued: state.bytes,
                limit: self.limit,
            };
            return Err((full, frame));
        }
        let writer_woken = !state.queue.is_empty();
        state.bytes += cost(&frame);
        state.queue.push_back(frame);
        drop(state);
        // The push that made the queue non-empty woke the writer, which
        // takes everything queued when it runs; later pushes need not.
        if !writer_woken {
            self.writer.wake();
        }
        Ok(())
    }

    /// Queues a control frame (a pong, a stream ack or cancel, a client's
    /// reply) without waiting: it may use [`control_headroom`] past the
    /// limit (and travels alone when the queue is empty, however large).
    /// Past that the frame is dropped and the outbox *overflows*: the
    /// overflow hook is called once and [`has_overflowed`](Self::has_overflowed)
    /// turns true; the owner ends the connection. Dropped silently when the
    /// connection is closing.
    pub fn push_control(&self, frame: Bytes) {
        let mut state = lock(&self.state);
        if state.closing || state.closed {
            return;
        }
        let cost = cost(&frame);
        if state.bytes > 0 && state.bytes + cost > self.limit + control_headroom(self.limit) {
            let queued = state.bytes;
            drop(state);
            self.overflow(queued);
            return;
        }
        state.bytes += cost;
        state.queue.push_back(frame);
        drop(state);
        self.writer.wake();
    }

    fn overflow(&self, queued: usize) {
        if self.overflowed.swap(true, Ordering::Relaxed) {
            return;
        }
        if let Some(hook) = &self.on_overflow {
            hook(queued, self.limit);
        }
    }

    /// True once a control frame did not fit (see
    /// [`push_control`](Self::push_control)).
    pub fn has_overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Relaxed)
    }

    /// Queues a frame, waiting for room when the queue is full.
    pub async fn push(&self, mut frame: Bytes) -> Result<(), PushError> {
        // Usually there is room: try before setting up a listener, which
        // costs an allocation and a lock.
        match self.offer_to_wait(frame) {
            Ok(()) => return Ok(()),
            Err((PushError::Closed, _)) => return Err(PushError::Closed),
            Err((PushError::Full { .. }, back)) => frame = back,
        }
        loop {
            // Listen before checking again, so a wake-up between the check
            // and the wait is not missed.
            let listener = self.room.listen();
            match self.offer_to_wait(frame) {
                Ok(()) => return Ok(()),
                Err((PushError::Closed, _)) => return Err(PushError::Closed),
                Err((PushError::Full { .. }, back)) => frame = back,
            }
            listener.await;
        }
    }

    /// Queues a last frame (a close frame) regardless of the limit and stops
    /// accepting more. The writer sends everything queued, then closes.
    pub fn close_with(&self, last: Option<Bytes>) {
        let mut state = lock(&self.state);
        if state.closing || state.closed {
            return;
        }
        if let Some(frame) = last {
            state.bytes += cost(&frame);
            state.queue.push_back(frame);
        }
        state.closing = true;
        self.closing.store(true, Ordering::Relaxed);
        drop(state);
        self.writer.wake();
        self.room.notify(usize::MAX);
    }

    /// Tells the outbox that its writer will be polled before the current
    /// task sleeps, so frames pushed until then need not wake anyone.
    ///
    /// A task that runs the writer beside other work (the connection loop
    /// of a client or a server session) calls this before polling that
    /// work, and polls the writer after it: a reply pushed by a handler is
    /// then written in the same turn, and the task does not wake itself,
    /// which a multi-threaded runtime answers by rescheduling the task and
    /// waking another worker thread for it. The writer registers its waker
    /// again whenever it finds the queue empty.
    pub fn writer_polls_next(&self) {
        drop(self.writer.take());
    }

    /// Lets the writer run in the middle of the work beside it, within the
    /// same turn of their task: pending once, without a wake-up, after
    /// which the task's loop polls the writer and then this work again
    /// (it asks [`took_writer_turn`](Self::took_writer_turn)). Only for
    /// work polled by such a loop: another poller would not come back.
    ///
    /// Why: that loop polls the writer when the work is pending, which a
    /// peer that keeps sending puts off until its socket runs dry. An
    /// `Ack` queued meanwhile would wait all that time, and a peer whose
    /// replay buffer filled would stop until it came (PROTOCOL.md section
    /// 13.3): the two sides would take turns instead of working at once.
    /// A wake-up instead (a runtime's `yield_now`) reschedules the task
    /// and took W1 with resumption on from 3.8 M to 1.3 M events/s.
    #[cfg(any(test, feature = "server"))]
    pub(crate) fn writer_turn(&self) -> impl std::future::Future<Output = ()> + '_ {
        let mut stepped_aside = false;
        poll_fn(move |_| {
            if stepped_aside {
                return Poll::Ready(());
            }
            stepped_aside = true;
            self.writer_turn.store(true, Ordering::Relaxed);
            Poll::Pending
        })
    }

    /// Whether the work asked for a [`writer_turn`](Self::writer_turn)
    /// since the last call: then poll it again after the writer.
    #[cfg(any(test, feature = "server"))]
    pub(crate) fn took_writer_turn(&self) -> bool {
        self.writer_turn.swap(false, Ordering::Relaxed)
    }

    /// What the queued frames cost against the limit: their bytes plus
    /// [`FRAME_OVERHEAD`] each.
    pub fn queued_bytes(&self) -> usize {
        lock(&self.state).bytes
    }

    /// Frames that have not reached the transport whole: those still queued
    /// and those the writer took but has not flushed. Asked when a
    /// connection is cut before its queue drained (once it is closing, the
    /// writer flushes after every frame, so the count is exact).
    pub fn undelivered(&self) -> Undelivered {
        let state = lock(&self.state);
        Undelivered {
            frames: state.queue.len() + state.in_flight,
            queued_bytes: state.queue.iter().map(Bytes::len).sum(),
        }
    }

    /// True once the writer has stopped.
    pub fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    /// True once no more frames are accepted.
    pub fn is_closing(&self) -> bool {
        let state = lock(&self.state);
        state.closing || state.closed
    }

    /// Waits until the writer has sent everything and stopped.
    pub async fn closed(&self) {
        loop {
            let listener = self.drained.listen();
            if self.is_closed() {
                return;
            }
            listener.await;
        }
    }

    /// Waits until all frames queued so far have been handed to the transport
    /// and flushed, or the writer stopped.
    pub async fn flushed(&self) {
        loop {
            let listener = self.drained.listen();
            {
                let state = lock(&self.state);
                if state.closed || state.queue.is_empty() {
                    return;
                }
            }
            listener.await;
        }
    }

    /// Takes everything queued, or registers the writer's waker. `None` when
    /// the queue is empty and closing: time to close the transport.
    fn poll_batch(
        &self,
        cx: &mut std::task::Context<'_>,
        spare: &mut VecDeque<Bytes>,
    ) -> Poll<Option<VecDeque<Bytes>>> {
        let mut state = lock(&self.state);
        // The last batch, if any, was flushed before the writer asked again.
        state.in_flight = 0;
        if state.queue.is_empty() {
            if state.closing {
                return Poll::Ready(None);
            }
            drop(state);
            self.writer.register(cx.waker());
            state = lock(&self.state);
            if state.queue.is_empty() {
                if state.closing {
                    return Poll::Ready(None);
                }
                // Going idle: let go of queues that grew during a burst (a
                // wave of presence notices, say), so that an idle
                // connection holds no more than a few slots.
                if state.queue.capacity() > IDLE_SLOTS {
                    state.queue = VecDeque::new();
                }
                if spare.capacity() > IDLE_SLOTS {
                    *spare = VecDeque::new();
                }
                return Poll::Pending;
            }
        }
        if state.replay.is_some() {
            return self.take_session_batch(&mut state, cx, spare);
        }
        state.bytes = 0;
        state.in_flight = state.queue.len();
        Poll::Ready(Some(std::mem::replace(
            &mut state.queue,
            std::mem::take(spare),
        )))
    }

    /// The writer flushed: only the frames of its batch not yet fed are
    /// still in flight.
    fn flushed_all_but(&self, left: usize) {
        lock(&self.state).in_flight = left;
    }

    fn finish(&self) {
        let mut state = lock(&self.state);
        state.closed = true;
        state.closing = true;
        state.queue.clear();
        state.bytes = 0;
        state.in_flight = 0;
        state.replay = None;
        drop(state);
        self.closing.store(true, Ordering::Relaxed);
        self.room.notify(usize::MAX);
        self.drained.notify(usize::MAX);
    }

    /// The writer loop: drains the queue into `sink` in batches (feed all,
    /// flush once) until [`close_with`](Self::close_with) is called and the
    /// queue is empty, then closes the sink. Returns the transport's error if
    /// a write fails; queued frames are then dropped and senders see
    /// [`PushError::Closed`].
    pub async fn run_writer<S: FrameSink + ?Sized>(
        &self,
        sink: &mut S,
    ) -> Result<(), TransportError> {
        let result = self.write_all(sink).await;
        self.finish();
        result
    }

    async fn write_all<S: FrameSink + ?Sized>(&self, sink: &mut S) -> Result<(), TransportError> {
        // Reused between batches so a busy connection allocates no deque.
        let mut spare: VecDeque<Bytes> = VecDeque::new();
        loop {
            let Some(mut batch) = poll_fn(|cx| self.poll_batch(cx, &mut spare)).await else {
                return sink.close().await;
            };
            if let Some(sent) = &self.sent {
                count_sent(sent, &batch);
            }
            let mut left = batch.len();
            for frame in batch.drain(..) {
                sink.feed(frame).await?;
                left -= 1;
                // Closing: flush each frame, so that what `undelivered`
                // counts when the connection is cut is exact. (Checked per
                // frame: closing may begin in the middle of a batch.)
                if self.closing.load(Ordering::Relaxed) {
                    sink.flush().await?;
                    self.flushed_all_but(left);
                }
            }
            sink.flush().await?;
            // Swap the (now empty) deque back in for the next batch, so a busy
            // connection does not allocate (and grow) one per batch; a very
            // large one is dropped, and an idle connection lets go of its
            // spare in `poll_batch`.
            if batch.capacity() <= SPARE_SLOTS {
                spare = batch;
            }
            self.room.notify(usize::MAX);
            self.drained.notify(usize::MAX);
        }
    }
}

/// What a reconnecting client does with its queue between connections.
#[path = "outbox_between.rs"]
mod between;

/// What a resumable session keeps of what it sent.
#[path = "outbox_replay.rs"]
mod replay;

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
