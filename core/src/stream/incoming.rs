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
use crate::protocol::stream_start::{self, StartRequest, StreamStart};

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

/// The streams a connection is receiving. Owned by the connection's reader;
/// memory is bounded because senders keep at most their window unacked.
pub(crate) struct IncomingStreams {
    entries: Map<u64, Entry>,
    limit: u64,
}

impl IncomingStreams {
    pub fn new(limit: u64) -> Self {
        Self {
            entries: Map::new(),
            limit,
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
        let decision = stream_start::decide(StartRequest {
            stream_id,
            command: &command,
            total_len: total,
            has_handler,
            already_open: self.entries.contains_key(&stream_id),
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

    /// A chunk arrived. Chunks of unknown (cancelled) streams are dropped.
    pub fn chunk(&mut self, stream_id: u64, data: Bytes) {
        let Some(entry) = self.entries.get_mut(&stream_id) else {
            return;
        };
        entry.received += data.len() as u64;
        if entry.received > self.limit {
            let message = format!("stream exceeds the maximum of {} bytes", self.limit);
            entry.acker.cancel(ErrorCode::TooLarge, &message);
            let _ = entry.tx.unbounded_send(Err(Error::Remote {
                code: ErrorCode::TooLarge,
                message,
            }));
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
            let failure = match (error, entry.total) {
                (Some(error), _) => Some(format!("sender aborted the stream: {error}")),
                // Ended short of the announced length: never a payload.
                (None, Some(total)) if entry.received < total => Some(format!(
                    "stream ended after {} of the announced {total} bytes",
                    entry.received
                )),
                (None, _) => None,
            };
            if let Some(message) = failure {
                let _ = entry.tx.unbounded_send(Err(Error::Remote {
                    code: ErrorCode::Cancelled,
                    message,
                }));
            }
        }
    }

    /// The connection ended: every unfinished stream fails with `reason`.
    pub fn close(&mut self, reason: &CloseReason) {
        for (_, entry) in self.entries.drain() {
            let _ = entry.tx.unbounded_send(Err(Error::Closed(reason.clone())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn setup(limit: u64) -> (IncomingStreams, Arc<Outbox>) {
        (IncomingStreams::new(limit), Arc::new(Outbox::new(1 << 20)))
    }

    #[test]
    fn chunks_arrive_whole_and_are_acked() {
        futures::executor::block_on(async {
            let (mut table, outbox) = setup(100);
            let stream = table
                .start(&outbox, 1, Arc::from("f"), Some(6))
                .expect("ok");
            table.chunk(1, Bytes::from_static(b"abc"));
            table.chunk(1, Bytes::from_static(b"def"));
            table.end(1, None);
            assert_eq!(&stream.into_bytes().await.expect("whole")[..], b"abcdef");
            assert!(outbox.queued_bytes() > 0, "acks were queued");
        });
    }

    #[test]
    fn a_cut_off_stream_is_an_error_not_a_short_payload() {
        futures::executor::block_on(async {
            let (mut table, outbox) = setup(100);
            let stream = table.start(&outbox, 1, Arc::from("f"), None).expect("ok");
            table.chunk(1, Bytes::from_static(b"abc"));
            table.close(&CloseReason::new(1006, "gone"));
            assert!(matches!(stream.into_bytes().await, Err(Error::Closed(_))));
        });
    }

    #[test]
    fn an_end_short_of_the_announced_length_is_an_error() {
        futures::executor::block_on(async {
            let (mut table, outbox) = setup(100);
            let stream = table
                .start(&outbox, 1, Arc::from("f"), Some(6))
                .expect("ok");
            table.chunk(1, Bytes::from_static(b"abc"));
            table.end(1, None);
            assert!(matches!(
                stream.into_bytes().await,
                Err(Error::Remote {
                    code: ErrorCode::Cancelled,
                    ..
                })
            ));
        });
    }

    #[test]
    fn all_announced_bytes_complete_the_stream_without_a_cancel() {
        futures::executor::block_on(async {
            let (mut table, outbox) = setup(100);
            let stream = table
                .start(&outbox, 1, Arc::from("f"), Some(3))
                .expect("ok");
            table.chunk(1, Bytes::from_static(b"abc"));
            assert_eq!(&stream.into_bytes().await.expect("whole")[..], b"abc");
            // Only the ack was queued: the dropped stream sent no cancel.
            let ack = Frame::StreamAck {
                stream_id: 1,
                consumed: 3,
            }
            .encode();
            assert_eq!(outbox.undelivered().frames, 1);
            assert_eq!(outbox.undelivered().queued_bytes, ack.len());
        });
    }

    #[test]
    fn over_the_limit_is_refused_up_front_or_midway() {
        futures::executor::block_on(async {
            let (mut table, outbox) = setup(4);
            assert!(table.start(&outbox, 1, Arc::from("f"), Some(5)).is_err());
            let mut stream = table.start(&outbox, 2, Arc::from("f"), None).expect("ok");
            table.chunk(2, Bytes::from_static(b"abcde"));
            let got = stream.next().await.expect("an item");
            assert!(matches!(
                got,
                Err(Error::Remote {
                    code: ErrorCode::TooLarge,
                    ..
                })
            ));
        });
    }
}
