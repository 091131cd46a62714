//! The receiving side of streams: routing chunks to the handler that reads
//! them, enforcing the size limit, acknowledging consumption.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::channel::mpsc;
use futures::Stream;

use super::Progress;
use crate::close::CloseReason;
use crate::dispatch::{HandlerTable, Registered};
use crate::error::{Error, Result};
use crate::frame::{ErrorCode, Frame};
use crate::outbox::Outbox;
use crate::platform::map::Map;
use crate::protocol::stream_receive;
use crate::protocol::stream_start::{self, PreviousStream, StartRequest, StreamStart};

/// Sends acknowledgements and cancellations for one stream back to its
/// sender.
#[derive(Clone)]
pub(crate) struct Acker {
    outbox: Arc<Outbox>,
    stream_id: u64,
}

impl Acker {
    fn ack(&self, consumed: u64) {
        self.outbox.push_control(
            Frame::StreamAck {
                stream_id: self.stream_id,
                consumed,
            }
            .encode(),
        );
    }

    fn cancel(&self, code: ErrorCode, message: &str) {
        self.outbox.push_control(
            Frame::StreamCancel {
                stream_id: self.stream_id,
                code: code.to_wire(),
                message,
            }
            .encode(),
        );
    }
}

type Chunk = std::result::Result<Bytes, Error>;

/// A payload arriving in chunks, as a handler receives it.
///
/// It is a `Stream` of `Result<Bytes>`: chunks in order, then the end. If
/// the sender aborts, the connection drops, or the payload outgrows the
/// limit, the stream yields an error before it ends: a payload that did not
/// arrive whole is never presented as complete. Dropping it early tells the
/// sender to stop.
pub struct IncomingStream {
    command: Arc<str>,
    total: Option<u64>,
    received: u64,
    rx: mpsc::UnboundedReceiver<Chunk>,
    acker: Acker,
    finished: bool,
    limit: u64,
}

impl IncomingStream {
    /// The command the stream was sent under.
    pub fn command(&self) -> &str {
        &self.command
    }

    pub(crate) fn command_name(&self) -> Arc<str> {
        self.command.clone()
    }

    /// The total length the sender announced, if any.
    pub fn total_len(&self) -> Option<u64> {
        self.total
    }

    /// Bytes received so far, with the total when known.
    pub fn progress(&self) -> Progress {
        Progress {
            bytes: self.received,
            total: self.total,
        }
    }

    /// Reads the whole payload into one buffer.
    ///
    /// Errors: [`Error::Remote`] when the sender aborted or the payload
    /// exceeds the maximum stream length ([`ErrorCode::TooLarge`]),
    /// [`Error::Closed`] when the connection ended first.
    pub async fn into_bytes(mut self) -> Result<Bytes> {
        use futures::StreamExt;
        let capacity = self.total.unwrap_or(0).min(self.limit) as usize;
        let mut buf = BytesMut::with_capacity(capacity);
        while let Some(chunk) = self.next().await {
            let chunk = chunk?;
            if buf.is_empty() && chunk.len() as u64 == self.total.unwrap_or(u64::MAX) {
                // The whole payload in one chunk: no copy.
                return Ok(chunk);
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }
}

impl Stream for IncomingStream {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.rx).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.received += chunk.len() as u64;
                self.acker.ack(self.received);
                // All the announced bytes are here: the payload is complete
                // even before the end frame, so dropping the stream now must
                // not cancel it (that would fail a finished transfer).
                if self.total == Some(self.received) {
                    self.finished = true;
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(err))) => {
                self.finished = true;
                Poll::Ready(Some(Err(err)))
            }
            Poll::Ready(None) => {
                self.finished = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for IncomingStream {
    fn drop(&mut self) {
        if !self.finished {
            // Closed before the cancel leaves: by the time the sender can
            // start this id again, the reader sees the stream as cancelled
            // (PROTOCOL.md section 9.2).
            self.rx.close();
            self.acker
                .cancel(ErrorCode::Cancelled, "the receiver dropped the stream");
        }
    }
}

struct Entry {
    tx: mpsc::UnboundedSender<Chunk>,
    received: u64,
    total: Option<u64>,
    acker: Acker,
}

impl Entry {
    /// The receiving application dropped the stream before it was
    /// complete (and cancelled it with code 7): it is no longer open.
    /// A stream whose announced bytes all arrived is complete, not
    /// cancelled, even once its handler let go of it.
    fn cancelled(&self) -> bool {
        self.tx.is_closed() && self.total != Some(self.received)
    }
}

/// The streams a connection is receiving. Owned by the connection's reader;
/// memory is bounded because senders keep at most their window unacked,
/// and at most `max_streams` are open at once.
pub(crate) struct IncomingStreams {
    entries: Map<u64, Entry>,
    limit: u64,
    max_streams: usize,
}

impl IncomingStreams {
    /// Streams of at most `limit` bytes, at most `max_streams` at once.
    pub fn new(limit: u64, max_streams: usize) -> Self {
        Self {
            entries: Map::new(),
            limit,
            max_streams,
        }
    }

    /// A stream starts, for a handler that exists: decided by
    /// [`stream_start::decide`]. Returns the handle for its handler, or
    /// the reason it was refused (the refusal has been sent to the sender).
    #[cfg(test)]
    pub fn start(
        &mut self,
        outbox: &Arc<Outbox>,
        stream_id: u64,
        command: Arc<str>,
        total: Option<u64>,
    ) -> Result<IncomingStream> {
        self.start_for(outbox, stream_id, command, total, true)
    }

    fn start_for(
        &mut self,
        outbox: &Arc<Outbox>,
        stream_id: u64,
        command: Arc<str>,
        total: Option<u64>,
        has_handler: bool,
    ) -> Result<IncomingStream> {
        let acker = Acker {
            outbox: outbox.clone(),
            stream_id,
        };
        let previous = match self.entries.get(&stream_id) {
            None => PreviousStream::None,
            Some(entry) if entry.cancelled() => PreviousStream::Cancelled,
            Some(_) => PreviousStream::Open,
        };
        // Streams the application dropped are no longer open: forget
        // them (their sender may never send another frame for them).
        self.entries.retain(|_, entry| !entry.cancelled());
        let decision = stream_start::decide(StartRequest {
            stream_id,
            command: &command,
            total_len: total,
            has_handler,
            previous,
            open: self.entries.len(),
            max_streams: self.max_streams,
            limit: self.limit,
        });
        match decision {
            StreamStart::Accept => {}
            StreamStart::Refuse { code, message } => {
                acker.cancel(code, &message);
                return Err(Error::Remote { code, message });
            }
            StreamStart::Violation(fault) => return Err(fault.into()),
        }
        let (tx, rx) = mpsc::unbounded();
        self.entries.insert(
            stream_id,
            Entry {
                tx,
                received: 0,
                total,
                acker: acker.clone(),
            },
        );
        Ok(IncomingStream {
            command,
            total,
            received: 0,
            rx,
            acker,
            finished: false,
            limit: self.limit,
        })
    }

    /// A peer starts a stream under `command`: the one place both sides
    /// handle a `StreamStart`. The handler is the command's own or the
    /// wildcard (never `message`). Refused streams (no handler, too large)
    /// are cancelled toward the sender and give `None`; an accepted one
    /// comes with its handler set to run concurrently: it lasts as long
    /// as the transfer, and the peer's other events must not wait for it.
    /// Errors only on a protocol violation.
    pub fn open<C>(
        &mut self,
        outbox: &Arc<Outbox>,
        stream_id: u64,
        command: &str,
        total_len: Option<u64>,
        handlers: &HandlerTable<C>,
    ) -> Result<Option<(Registered<C>, IncomingStream)>> {
        let handler = handlers.command(command).or_else(|| handlers.wildcard());
        let started = self.start_for(
            outbox,
            stream_id,
            Arc::from(command),
            total_len,
            handler.is_some(),
        );
        match (started, handler) {
            (Ok(incoming), Some(registered)) => Ok(Some((
                Registered {
                    threaded: true,
                    ..registered.clone()
                },
                incoming,
            ))),
            (Ok(_), None) | (Err(Error::Remote { .. }), _) => Ok(None),
            (Err(err), _) => Err(err),
        }
    }

    /// A chunk arrived. Chunks of unknown (cancelled) streams are dropped;
    /// one past the announced length or the maximum cancels its stream
    /// ([`stream_receive::check_chunk`]).
    pub fn chunk(&mut self, stream_id: u64, data: Bytes) {
        let Some(entry) = self.entries.get_mut(&stream_id) else {
            return;
        };
        if entry.cancelled() {
            self.entries.remove(&stream_id);
            return;
        }
        entry.received += data.len() as u64;
        if let Err(fault) = stream_receive::check_chunk(entry.received, entry.total, self.limit) {
            entry.acker.cancel(fault.code, &fault.message);
            let _ = entry.tx.unbounded_send(Err(fault.into_error()));
            self.entries.remove(&stream_id);
            return;
        }
        if entry.tx.unbounded_send(Ok(data)).is_err() {
            // The handler dropped the stream; its drop already cancelled it.
            self.entries.remove(&stream_id);
        }
    }

    /// The sender finished the stream, or aborted it with `error`.
    pub fn end(&mut self, stream_id: u64, error: Option<&str>) {
        if let Some(entry) = self.entries.remove(&stream_id) {
            if let Err(fault) = stream_receive::check_end(entry.received, entry.total, error) {
                let _ = entry.tx.unbounded_send(Err(fault.into_error()));
            }
        }
    }

    /// The connection ended: every unfinished stream fails with `reason`.
    pub fn close(&mut self, reason: &CloseReason) {
        for (_, entry) in self.entries.drain() {
            let _ = entry.tx.unbounded_send(Err(Error::Closed(reason.clone())));
        }
    }

    /// The connection goes on elsewhere (a session that moved to another
    /// node): each stream is cancelled toward its sender, whose later
    /// chunks nobody would read, and ends for its reader with `reason`.
    #[cfg(feature = "server")]
    pub fn cancel_all(&mut self, message: &str, reason: &CloseReason) {
        for (_, entry) in self.entries.drain() {
            entry
                .acker
                .cancel(crate::frame::ErrorCode::Cancelled, message);
            let _ = entry.tx.unbounded_send(Err(Error::Closed(reason.clone())));
        }
    }
}

#[cfg(test)]
#[path = "incoming_tests.rs"]
mod tests;
