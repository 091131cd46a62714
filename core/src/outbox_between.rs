//! The outgoing queue of a client that reconnects (see
//! `client/reconnect.rs`), between its connections: the writer of one
//! connection may fail without closing the queue, what waits is kept for
//! the next writer, restored state goes first, and the offline queue's
//! checks look at what is queued. In a file of its own: the server and a
//! client with one connection use none of it.

use std::collections::VecDeque;

use bytes::Bytes;

use super::{cost, Outbox};
use crate::platform::lock;
use crate::transport::{FrameSink, TransportError};

impl Outbox {
    /// One connection's writer for a client that reconnects: as
    /// [`run_writer`](Self::run_writer), but a failed write leaves the
    /// queue open, with what was still queued, for the next connection's
    /// writer; the caller ends the queue with
    /// [`finish_writer`](Self::finish_writer) when there is none. Frames
    /// of the batch being written when the connection broke are gone
    /// (what the peer had of them is unknowable without a resumed session).
    pub(crate) async fn write_connection<S: FrameSink + ?Sized>(
        &self,
        sink: &mut S,
    ) -> Result<(), TransportError> {
        self.write_all(sink).await
    }

    /// The writer stopped for good: see [`run_writer`](Self::run_writer).
    pub(crate) fn finish_writer(&self) {
        self.finish();
    }

    /// A connection broke and its writer was dropped: nothing is in
    /// flight any more; what is queued waits for the next writer.
    pub(crate) fn writer_dropped(&self) {
        lock(&self.state).in_flight = 0;
    }

    /// Queues `frames` ahead of everything queued, in their order,
    /// regardless of the limit (a reconnecting client's restored state:
    /// a handful of small frames that must precede what waited).
    pub(crate) fn push_first(&self, frames: Vec<Bytes>) {
        if frames.is_empty() {
            return;
        }
        let mut state = lock(&self.state);
        if state.closing || state.closed {
            return;
        }
        for frame in frames.into_iter().rev() {
            state.bytes += cost(&frame);
            state.queue.push_front(frame);
        }
        drop(state);
        self.writer.wake();
    }

    /// Frames queued, and what they cost against the limit.
    pub(crate) fn queued(&self) -> (usize, usize) {
        let state = lock(&self.state);
        (state.queue.len(), state.bytes)
    }

    /// Takes the queued frames `drop_it` picks out of the queue, in order.
    pub(crate) fn remove_queued(&self, mut drop_it: impl FnMut(&Bytes) -> bool) -> Vec<Bytes> {
        let mut state = lock(&self.state);
        let mut removed = Vec::new();
        let mut kept = VecDeque::with_capacity(state.queue.len());
        for frame in state.queue.drain(..) {
            match drop_it(&frame) {
                true => removed.push(frame),
                false => kept.push_back(frame),
            }
        }
        state.queue = kept;
        state.bytes -= removed.iter().map(cost).sum::<usize>();
        drop(state);
        self.room.notify(usize::MAX);
        removed
    }

    /// Looks at every queued frame, oldest first (a client reconnecting
    /// to a new session reads which requests are still unsent).
    pub(crate) fn for_each_queued(&self, mut look: impl FnMut(&Bytes)) {
        for frame in &lock(&self.state).queue {
            look(frame);
        }
    }
}
