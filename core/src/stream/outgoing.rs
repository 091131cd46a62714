//! The sending side of streams: credit from the receiver's acks, and the
//! send loop.

use std::fmt::Display;
use std::sync::Mutex;

use bytes::Bytes;
use event_listener::Event;
use futures::{Stream, StreamExt};

use super::{Progress, StreamOptions};
use crate::close::CloseReason;
use crate::error::{Error, Result};
use crate::frame::{ErrorCode, Frame};
use crate::outbox::{Outbox, PushError};
use crate::platform::lock;
use crate::platform::map::Map;
use crate::protocol::limits;

#[derive(Debug, Default)]
struct Credit {
    consumed: u64,
    failed: Option<Failure>,
}

#[derive(Debug, Clone)]
enum Failure {
    Cancelled(ErrorCode, String),
    Closed(CloseReason),
}

impl Failure {
    fn into_error(self) -> Error {
        match self {
            Failure::Cancelled(code, message) => Error::Remote { code, message },
            Failure::Closed(reason) => Error::Closed(reason),
        }
    }
}

/// The streams a connection is sending, with what the receiver has acked.
pub(crate) struct OutgoingStreams {
    state: Mutex<OutgoingState>,
    changed: Event,
    /// Most streams open at once: the receiver closes the connection past
    /// its own limit, so a sender refuses locally past the same number.
    max_streams: usize,
}

#[derive(Default)]
struct OutgoingState {
    next_id: u64,
    streams: Map<u64, Credit>,
    closed: Option<CloseReason>,
}

impl OutgoingStreams {
    /// No streams yet; at most `max_streams` open at once.
    pub fn new(max_streams: usize) -> Self {
        Self {
            state: Mutex::default(),
            changed: Event::new(),
            max_streams,
        }
    }

    /// Streams open now (for the server's figures).
    #[cfg(feature = "server")]
    pub fn open_count(&self) -> usize {
        lock(&self.state).streams.len()
    }

    /// The ids of the streams open now.
    #[cfg(feature = "server")]
    pub fn open_ids(&self) -> Vec<u64> {
        lock(&self.state).streams.keys().copied().collect()
    }

    fn open(&self) -> Result<u64> {
        let mut state = lock(&self.state);
        if let Some(reason) = &state.closed {
            return Err(Error::Closed(reason.clone()));
        }
        limits::admit_stream(state.streams.len(), self.max_streams)
            .map_err(Error::LimitExceeded)?;
        state.next_id += 1;
        let id = state.next_id;
        state.streams.insert(id, Credit::default());
        Ok(id)
    }

    fn forget(&self, id: u64) {
        lock(&self.state).streams.remove(&id);
    }

    /// The receiver consumed `consumed` bytes of stream `id`.
    pub fn ack(&self, id: u64, consumed: u64) {
        if let Some(credit) = lock(&self.state).streams.get_mut(&id) {
            credit.consumed = credit.consumed.max(consumed);
        }
        self.changed.notify(usize::MAX);
    }

    /// The receiver refused or dropped stream `id`.
    pub fn cancel(&self, id: u64, code: ErrorCode, message: &str) {
        if let Some(credit) = lock(&self.state).streams.get_mut(&id) {
            credit.failed = Some(Failure::Cancelled(code, message.to_owned()));
        }
        self.changed.notify(usize::MAX);
    }

    /// The connection ended: every sender stops with this reason.
    pub fn close(&self, reason: &CloseReason) {
        let mut state = lock(&self.state);
        state.closed = Some(reason.clone());
        for credit in state.streams.values_mut() {
            credit.failed.get_or_insert(Failure::Closed(reason.clone()));
        }
        drop(state);
        self.changed.notify(usize::MAX);
    }

    /// Waits until the receiver has consumed at least `target` bytes.
    async fn wait_consumed(&self, id: u64, target: u64) -> Result<()> {
        loop {
            let listener = self.changed.listen();
            {
                let state = lock(&self.state);
                let credit = state.streams.get(&id).ok_or_else(|| {
                    // Forgotten without a failure recorded: only a
                    // connection that is gone forgets its streams.
                    Error::Closed(crate::close::CloseReason::new(
                        crate::close::codes::ABNORMAL,
                        format!("stream {id} ended with its connection"),
                    ))
                })?;
                if let Some(failure) = &credit.failed {
                    return Err(failure.clone().into_error());
                }
                if credit.consumed >= target {
                    return Ok(());
                }
            }
            listener.await;
        }
    }
}

/// Whether `sent` bytes keep the promise of the announced `total_len`:
/// never more, and (once the source has `ended`) exactly as many. Not
/// generic, so the send loop's copies per source type share it.
fn keeps_total_len(sent: u64, total_len: Option<u64>, ended: bool) -> Result<()> {
    match total_len {
        Some(total) if sent > total || (ended && sent < total) => Err(Error::Handler(format!(
            "stream source length differs from the announced total_len of {total} bytes"
        ))),
        _ => Ok(()),
    }
}

/// Lets the other tasks of the runtime thread run: pending once, with an
/// immediate wake-up (runtime-agnostic, like the rest of the client).
async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await
}

fn push_error(err: PushError, streams: &OutgoingStreams) -> Error {
    match err {
        PushError::Closed => Error::Closed(
            lock(&streams.state)
                .closed
                .clone()
                .unwrap_or_else(|| CloseReason::new(crate::codes::ABNORMAL, "connection closed")),
        ),
        PushError::Full { queued, limit } => Error::QueueFull { queued, limit },
    }
}

/// Sends `source` as stream chunks under `command` and returns once the
/// receiving application has consumed all of it.
pub(crate) async fn send_stream<S, E>(
    outbox: &Outbox,
    streams: &OutgoingStreams,
    command: &str,
    source: S,
    mut options: StreamOptions,
) -> Result<()>
where
    S: Stream<Item = std::result::Result<Bytes, E>>,
    E: Display,
{
    let id = streams.open()?;
    let mut open = OpenStream {
        outbox,
        streams,
        id,
        abort: Some("the sender dropped the stream".to_owned()),
    };
    let result = send_chunks(outbox, streams, id, command, source, &mut options).await;
    open.abort = match &result {
        // Done, or nothing left to tell: the receiver cancelled it or the
        // connection is gone.
        Ok(()) | Err(Error::Closed(_) | Error::Remote { .. }) => None,
        // Tell the receiver why its payload will never be complete.
        Err(err) => Some(err.to_string()),
    };
    result
}

/// A stream being sent. However its sending ends (finished, failed, or
/// its future dropped half-way), the id is forgotten, which frees its
/// place under the limit of streams open at once; unless it finished or
/// the receiver already knows why not, the receiver gets
/// `StreamEnd{error}`, which frees the stream's place on its side too.
struct OpenStream<'a> {
    outbox: &'a Outbox,
    streams: &'a OutgoingStreams,
    id: u64,
    abort: Option<String>,
}

impl Drop for OpenStream<'_> {
    fn drop(&mut self) {
        if let Some(message) = &self.abort {
            self.outbox.push_control(
                Frame::StreamEnd {
                    stream_id: self.id,
                    error: Some(message),
                }
                .encode(),
            );
        }
        self.streams.forget(self.id);
    }
}

async fn send_chunks<S, E>(
    outbox: &Outbox,
    streams: &OutgoingStreams,
    id: u64,
    command: &str,
    source: S,
    options: &mut StreamOptions,
) -> Result<()>
where
    S: Stream<Item = std::result::Result<Bytes, E>>,
    E: Display,
{
    let start = Frame::StreamStart {
        stream_id: id,
        command,
        total_len: options.total_len,
    };
    outbox
        .push(start.encode())
        .await
        .map_err(|e| push_error(e, streams))?;
    let window = options.window as u64;
    let mut sent: u64 = 0;
    let mut source = std::pin::pin!(source);
    while let Some(piece) = source.next().await {
        let mut piece =
            piece.map_err(|err| Error::Handler(format!("stream source failed: {err}")))?;
        while !piece.is_empty() {
            let chunk = piece.split_to(piece.len().min(options.chunk_size));
            let len = chunk.len() as u64;
            // The receiver would cancel the stream at the first byte past
            // the announced length (LengthMismatch): fail here instead.
            keeps_total_len(sent + len, options.total_len, false)?;
            // Keep at most `window` bytes unconsumed by the receiver.
            streams
                .wait_consumed(id, (sent + len).saturating_sub(window))
                .await?;
            let frame = Frame::StreamChunk {
                stream_id: id,
                data: &chunk,
            }
            .encode();
            outbox
                .push(frame)
                .await
                .map_err(|e| push_error(e, streams))?;
            sent += len;
            if let Some(progress) = options.progress.as_mut() {
                progress(Progress {
                    bytes: sent,
                    total: options.total_len,
                });
            }
            // While acks keep coming, nothing above waits: without this the
            // loop would keep its runtime thread to itself for the whole
            // transfer, and the tasks queued behind it (small events,
            // timers) would wait tens of milliseconds.
            yield_now().await;
        }
    }
    // An end short of the announced length would fail at the receiver
    // while this call reported success.
    keeps_total_len(sent, options.total_len, true)?;
    outbox
        .push(
            Frame::StreamEnd {
                stream_id: id,
                error: None,
            }
            .encode(),
        )
        .await
        .map_err(|e| push_error(e, streams))?;
    streams.wait_consumed(id, sent).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_release_waiters_and_cancel_fails_them() {
        futures::executor::block_on(async {
            let streams = OutgoingStreams::new(4);
            let id = streams.open().expect("open");
            streams.ack(id, 10);
            streams.wait_consumed(id, 10).await.expect("acked");
            streams.cancel(id, ErrorCode::TooLarge, "too big");
            assert!(matches!(
                streams.wait_consumed(id, 20).await,
                Err(Error::Remote {
                    code: ErrorCode::TooLarge,
                    ..
                })
            ));
        });
    }

    #[test]
    fn closing_fails_new_and_open_streams() {
        let streams = OutgoingStreams::new(4);
        let id = streams.open().expect("open");
        streams.close(&CloseReason::new(1000, "bye"));
        assert!(streams.open().is_err());
        let err = futures::executor::block_on(streams.wait_consumed(id, 1));
        assert!(matches!(err, Err(Error::Closed(_))));
    }

    #[test]
    fn past_the_maximum_open_at_once_a_new_stream_is_refused_locally() {
        let streams = OutgoingStreams::new(2);
        let first = streams.open().expect("open");
        streams.open().expect("open");
        match streams.open() {
            Err(Error::LimitExceeded(exceeded)) => {
                assert_eq!(exceeded.limit, crate::Limit::Streams);
                assert_eq!(exceeded.max, 2);
            }
            other => panic!("expected a local refusal, got {other:?}"),
        }
        streams.forget(first);
        streams.open().expect("a finished stream frees its slot");
    }
}
