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
#[derive(Default)]
pub(crate) struct OutgoingStreams {
    state: Mutex<OutgoingState>,
    changed: Event,
}

#[derive(Default)]
struct OutgoingState {
    next_id: u64,
    streams: Map<u64, Credit>,
    closed: Option<CloseReason>,
}

impl OutgoingStreams {
    fn open(&self) -> Result<u64> {
        let mut state = lock(&self.state);
        if let Some(reason) = &state.closed {
            return Err(Error::Closed(reason.clone()));
        }
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
    let result = send_chunks(outbox, streams, id, command, source, &mut options).await;
    if let Err(err) = &result {
        if !matches!(err, Error::Closed(_) | Error::Remote { .. }) {
            // Tell the receiver why its payload will never be complete.
            let message = err.to_string();
            outbox.push_control(
                Frame::StreamEnd {
                    stream_id: id,
                    error: Some(&message),
                }
                .encode(),
            );
        }
    }
    streams.forget(id);
    result
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
            let streams = OutgoingStreams::default();
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
        let streams = OutgoingStreams::default();
        let id = streams.open().expect("open");
        streams.close(&CloseReason::new(1000, "bye"));
        assert!(streams.open().is_err());
        let err = futures::executor::block_on(streams.wait_consumed(id, 1));
        assert!(matches!(err, Err(Error::Closed(_))));
    }
}
