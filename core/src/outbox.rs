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

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::Mutex;
use std::task::Poll;

use bytes::Bytes;
use event_listener::Event;
use futures::task::AtomicWaker;
use futures::SinkExt;

use crate::platform::lock;
use crate::transport::{FrameSink, TransportError};

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

/// Queue slots an idle connection keeps allocated (each holds one `Bytes`).
const IDLE_SLOTS: usize = 8;

/// Most queue slots a busy connection keeps between batches (32 bytes
/// each).
const SPARE_SLOTS: usize = 16 * 1024;

#[derive(Default)]
struct State {
    queue: VecDeque<Bytes>,
    bytes: usize,
    /// No more pushes; the writer drains what is queued and closes.
    closing: bool,
    /// The writer is gone (transport failed or closed).
    closed: bool,
}

/// A byte-bounded queue of outgoing frames. Shared between senders and the
/// connection's writer.
pub struct Outbox {
    state: Mutex<State>,
    limit: usize,
    writer: AtomicWaker,
    room: Event,
    drained: Event,
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
        }
    }

    /// Queues a frame if it fits, without waiting.
    pub fn try_push(&self, frame: Bytes) -> Result<(), PushError> {
        self.offer(frame).map_err(|(err, _)| err)
    }

    /// Like `try_push`, handing the frame back when it was not queued.
    pub(crate) fn offer(&self, frame: Bytes) -> Result<(), (PushError, Bytes)> {
        let mut state = lock(&self.state);
        if state.closing || state.closed {
            return Err((PushError::Closed, frame));
        }
        if state.bytes > 0 && state.bytes + frame.len() > self.limit {
            let full = PushError::Full {
                queued: state.bytes,
                limit: self.limit,
            };
            return Err((full, frame));
        }
        let writer_woken = !state.queue.is_empty();
        state.bytes += frame.len();
        state.queue.push_back(frame);
        drop(state);
        // The push that made the queue non-empty woke the writer, which
        // takes everything queued when it runs; later pushes need not.
        if !writer_woken {
            self.writer.wake();
        }
        Ok(())
    }

    /// Queues a small control frame (a reply, a pong) even when the queue is
    /// over its limit; dropped only when the connection is closing.
    pub fn force_push(&self, frame: Bytes) {
        let mut state = lock(&self.state);
        if state.closing || state.closed {
            return;
        }
        state.bytes += frame.len();
        state.queue.push_back(frame);
        drop(state);
        self.writer.wake();
    }

    /// Queues a frame, waiting for room when the queue is full.
    pub async fn push(&self, mut frame: Bytes) -> Result<(), PushError> {
        // Usually there is room: try before setting up a listener, which
        // costs an allocation and a lock.
        match self.offer(frame) {
            Ok(()) => return Ok(()),
            Err((PushError::Closed, _)) => return Err(PushError::Closed),
            Err((PushError::Full { .. }, back)) => frame = back,
        }
        loop {
            // Listen before checking again, so a wake-up between the check
            // and the wait is not missed.
            let listener = self.room.listen();
            match self.offer(frame) {
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
            state.bytes += frame.len();
            state.queue.push_back(frame);
        }
        state.closing = true;
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

    /// Bytes currently queued.
    pub fn queued_bytes(&self) -> usize {
        lock(&self.state).bytes
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
        state.bytes = 0;
        Poll::Ready(Some(std::mem::replace(
            &mut state.queue,
            std::mem::take(spare),
        )))
    }

    fn finish(&self) {
        let mut state = lock(&self.state);
        state.closed = true;
        state.closing = true;
        state.queue.clear();
        state.bytes = 0;
        drop(state);
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
            for frame in batch.drain(..) {
                sink.feed(frame).await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use futures::channel::mpsc;
    use futures::StreamExt;

    #[test]
    fn try_push_respects_the_byte_limit() {
        let outbox = Outbox::new(10);
        outbox.try_push(Bytes::from_static(&[0; 6])).expect("fits");
        assert_eq!(
            outbox.try_push(Bytes::from_static(&[0; 6])),
            Err(PushError::Full {
                queued: 6,
                limit: 10
            })
        );
        outbox
            .try_push(Bytes::from_static(&[0; 4]))
            .expect("fits exactly");
    }

    #[test]
    fn an_oversized_frame_travels_alone() {
        let outbox = Outbox::new(10);
        outbox
            .try_push(Bytes::from_static(&[0; 100]))
            .expect("empty queue accepts");
        assert!(outbox.try_push(Bytes::from_static(&[0; 1])).is_err());
    }

    #[test]
    fn the_writer_is_woken_once_for_a_burst_and_takes_all_of_it() {
        struct Count(std::sync::atomic::AtomicUsize);
        impl futures::task::ArcWake for Count {
            fn wake_by_ref(arc_self: &std::sync::Arc<Self>) {
                arc_self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let count = std::sync::Arc::new(Count(Default::default()));
        let waker = futures::task::waker(count.clone());
        let mut cx = std::task::Context::from_waker(&waker);
        let outbox = Outbox::new(1024);
        let mut spare = VecDeque::new();
        assert!(outbox.poll_batch(&mut cx, &mut spare).is_pending());
        for i in 0..3u8 {
            outbox.try_push(Bytes::from(vec![i])).expect("fits");
        }
        assert_eq!(count.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        match outbox.poll_batch(&mut cx, &mut spare) {
            Poll::Ready(Some(batch)) => assert_eq!(batch.len(), 3),
            _ => panic!("the burst is ready"),
        }
        assert!(outbox.poll_batch(&mut cx, &mut spare).is_pending());
        outbox.try_push(Bytes::from_static(b"next")).expect("fits");
        assert_eq!(count.0.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn writer_sends_everything_in_order_then_closes() {
        futures::executor::block_on(async {
            let outbox = Outbox::new(1024);
            let (tx, rx) = mpsc::unbounded::<Bytes>();
            let mut sink = tx.sink_map_err(|_| TransportError::Other("gone".into()));
            for i in 0..5u8 {
                outbox.try_push(Bytes::from(vec![i])).expect("fits");
            }
            outbox.close_with(Some(Bytes::from_static(b"bye")));
            assert_eq!(outbox.try_push(Bytes::new()), Err(PushError::Closed));
            outbox.run_writer(&mut sink).await.expect("writes");
            let got: Vec<Bytes> = rx.collect().await;
            assert_eq!(got.len(), 6);
            assert_eq!(&got[5][..], b"bye");
            assert!(outbox.is_closed());
        });
    }
}
