//! The client's connection loop: read frames, route them, run handlers,
//! write the outgoing queue. Runtime-agnostic: it is one future, polled by
//! whatever runtime the caller spawns it on.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};

use super::context::ClientEvent;
use super::events::Extras;
use super::lifecycle::Reconnects;
use super::{lock, reserved, Client};
use crate::close::{codes, CloseReason};
use crate::dispatch::{HandlerSnapshot, Rejection};
use crate::error::{Error, ProtocolFault};
use crate::frame::{ErrorCode, Frame};
use crate::info::{Change, ClientInfo};
use crate::pending::{drive_deadlines, route_answer};
use crate::platform::timer::DeadlineTimer;
use crate::protocol::closing::Ending;
use crate::protocol::reconnect::{ConnectionState, EndCause};
use crate::stream::{route_data_frame, IncomingStreams};
use crate::transport::{BoxFuture, FrameSink, FrameStream};

pub(super) type Job = BoxFuture<'static, ()>;

/// How long the client's last frames and its `Close` may take to leave
/// once the connection ended (what `close` waits for, too).
pub(super) const CLIENT_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// The reading half of the driver: routes what arrives, runs handlers.
/// It outlives a connection when the client reconnects: its handlers go on,
/// and the next connection's stream replaces `stream`.
pub(super) struct Reader {
    pub(super) client: Client,
    pub(super) stream: Pin<Box<dyn FrameStream>>,
    /// The in-order handler running now, and the ones waiting behind it.
    pub(super) current: Option<Job>,
    pub(super) queue: VecDeque<Job>,
    /// Threaded handlers and streams' handlers, all at once.
    pub(super) concurrent: FuturesUnordered<Job>,
    /// The server pings: silence for this long means it is gone.
    pub(super) watchdog: Option<(crate::platform::timer::Delay, Duration)>,
    /// The client's handlers as of the last change this loop saw.
    pub(super) handlers: HandlerSnapshot<ClientEvent>,
    pub(super) heard: bool,
    pub(super) incoming: IncomingStreams,
    /// The resumable session, for a reconnecting client whose server keeps
    /// them (`None` costs one branch per frame).
    pub(super) session: Option<super::session::ClientSession>,
}

/// The watchdog for a connection with `session`'s keepalive: the server
/// pings every interval, so silence for the timeout plus an interval
/// means it is gone.
pub(super) fn watchdog_for(
    clock: crate::platform::timer::Clock,
    session: &crate::protocol::handshake::SessionParams,
) -> Option<(crate::platform::timer::Delay, Duration)> {
    match (session.keepalive_interval, session.keepalive_timeout) {
        (Some(interval), Some(timeout)) => {
            let window = timeout + interval;
            Some((clock.delay(window), window))
        }
        _ => None,
    }
}

/// Runs the client until it is closed for good, then tells everyone
/// waiting: one connection, or (with reconnection) one after another.
///
/// `R` is [`OneConnection`](super::lifecycle::OneConnection) for a client that has one connection
/// ([`Client::handshake`](super::Client::handshake)): its driver holds none
/// of the reconnecting code. Measured: the npm package, whose client comes
/// this way, was 6.4 KB gzipped larger with it (72,921 against 66,561
/// bytes, `scripts/build-npm.sh`). (A `const bool` parameter
/// is not enough: an `.await` in a dead branch still makes the awaited
/// future a state of the async fn, and its code stays reachable.)
pub(crate) async fn drive<R: Reconnects>(
    client: Client,
    stream: Pin<Box<dyn FrameStream>>,
    mut sink: Pin<Box<dyn FrameSink>>,
    answer: Option<super::handshake::SessionAnswer>,
) {
    let shared = client.shared.clone();
    let session = lock(&shared.link).session;
    let resumable = match (answer, shared.reconnect.as_ref()) {
        (Some(answer), Some(how)) if R::RESUMES && !answer.window.is_zero() => {
            shared.outbox.start_session(how.replay_limit);
            Some(super::session::ClientSession::new(answer.token))
        }
        _ => None,
    };
    let mut reader = Reader {
        client: client.clone(),
        stream,
        current: None,
        queue: VecDeque::new(),
        concurrent: FuturesUnordered::new(),
        watchdog: watchdog_for(shared.clock, &session),
        handlers: shared.handlers.snapshot(),
        heard: false,
        incoming: IncomingStreams::new(shared.max_stream_len, shared.max_streams),
        session: resumable,
    };
    let mut request_deadlines = DeadlineTimer::new(shared.clock);
    while let Some(broken) =
        connection::<R>(&client, &mut reader, &mut sink, &mut request_deadlines).await
    {
        match R::reconnect(&mut reader, broken, &mut request_deadlines).await {
            Some(next) => sink = next,
            None => break,
        }
    }
    shared.finished.store(true, Ordering::Release);
    client.set_state(ConnectionState::Closed);
    // A request made while the connection was ending may have registered
    // after the reader failed the others; its push was refused or is lost.
    let reason = client.close_reason();
    lock(&shared.pending).close(&reason);
    shared.closed.notify(usize::MAX);
}

/// Runs one connection: reads, writes, runs handlers. `Some(ending)` when
/// it broke in a way the client's reconnection policy retries (nothing is
/// closed then: the queue and the handlers wait for the next connection);
/// `None` when the client is done.
async fn connection<R: Reconnects>(
    client: &Client,
    reader: &mut Reader,
    sink: &mut Pin<Box<dyn FrameSink>>,
    request_deadlines: &mut DeadlineTimer,
) -> Option<Ending> {
    let shared = client.shared.clone();
    let policy = match R::RESUMES {
        true => shared.reconnect.as_ref().map(|how| &how.policy),
        false => None,
    };
    let writer = shared.outbox.write_connection(sink);
    let reader = async {
        let end = poll_fn(|cx| reader.poll(cx)).await;
        // A connection that ends after the client's own `close` queued its
        // `Close` is over, however the server hangs up.
        if R::RESUMES
            && !shared.outbox.is_closing()
            && policy.is_some_and(|policy| policy.retries(EndCause::of(&end)))
        {
            return Some(end);
        }
        reader.finish::<R>(end).await;
        None
    };
    let mut reader = std::pin::pin!(reader);
    let mut writer = std::pin::pin!(writer);
    let (mut reader_done, mut writer_done) = (false, false);
    // Once the reader is done, the writer has this long to send what is
    // queued and the `Close`: a server that stopped reading must not keep
    // the client open for ever.
    let mut writer_deadline = None;
    poll_fn(|cx| {
        // The reader first, then the writer, in every turn: replies and
        // pongs the reader queued leave in the same turn, without a
        // wake-up of their own.
        shared.outbox.writer_polls_next();
        if !reader_done {
            if let Poll::Ready(broken) = reader.as_mut().poll(cx) {
                if broken.is_some() {
                    return Poll::Ready(broken);
                }
                reader_done = true;
            }
        }
        if !writer_done {
            if let Poll::Ready(written) = writer.as_mut().poll(cx) {
                writer_done = true;
                if let Err(err) = written {
                    tracing::debug!(%err, "client writer stopped");
                    // A reconnecting client tries again at once; the reader
                    // would only notice the broken transport later.
                    if policy.is_some() && !reader_done {
                        return Poll::Ready(Some(Ending::Failed(err.into())));
                    }
                }
                shared.outbox.finish_writer();
            }
        }
        if reader_done && !writer_done {
            let deadline =
                writer_deadline.get_or_insert_with(|| shared.clock.delay(CLIENT_FLUSH_TIMEOUT));
            if deadline.poll_unpin(cx).is_ready() {
                tracing::debug!(
                    frames = shared.outbox.undelivered().frames,
                    "server did not read the client's last frames; cut"
                );
                writer_done = true;
            }
        }
        // After the writer: a request registered while this turn ran has
        // pushed its frame, which the writer saw or will be woken for.
        drive_deadlines(&shared.pending, request_deadlines, cx);
        match reader_done && writer_done {
            true => Poll::Ready(None),
            false => Poll::Pending,
        }
    })
    .await
}

/// The server does not read what it asked for (pongs, replies, stream
/// acks): past the queue's headroom for them the client ends the
/// connection with [`SLOW_CONSUMER`](codes::SLOW_CONSUMER), as the server
/// would with a client.
fn overflow_ending(outbox: &crate::outbox::Outbox) -> Option<Ending> {
    outbox.has_overflowed().then(|| Ending::Local {
        reason: CloseReason::new(
            codes::SLOW_CONSUMER,
            "server not reading: the client's outgoing queue is full",
        ),
        run_leave: false,
        close_queued: false,
    })
}

impl Reader {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Ending> {
        let shared = self.client.shared.clone();
        shared.stop_waker.register(cx.waker());
        if shared.stop.load(Ordering::Acquire) {
            return Poll::Ready(Ending::Local {
                reason: CloseReason::new(codes::NORMAL, "closed by client"),
                run_leave: true,
                // `close` queued it behind everything the client sent.
                close_queued: true,
            });
        }
        loop {
            self.poll_jobs(cx);
            // Pongs, acks and handlers' replies may have overflowed the
            // queue (checked once a turn: past the overflow every control
            // frame is dropped, so memory stays bounded until then).
            if let Some(ending) = overflow_ending(&shared.outbox) {
                return Poll::Ready(ending);
            }

            if let Some(session) = self.session.as_mut() {
                session.poll_ack_timer(cx, &shared.outbox);
            }

            if let Some((delay, window)) = self.watchdog.as_mut() {
                if delay.poll_unpin(cx).is_ready() {
                    if !self.heard {
                        return Poll::Ready(Ending::Silent(*window));
                    }
                    self.heard = false;
                    delay.reset(*window);
                    continue;
                }
            }

            let mut progressed = false;
            while self.queue.len() < shared.handler_queue_len {
                match self.stream.poll_next_unpin(cx) {
                    Poll::Pending => break,
                    Poll::Ready(None) => return Poll::Ready(Ending::Eof),
                    Poll::Ready(Some(Err(err))) => return Poll::Ready(Ending::Failed(err.into())),
                    Poll::Ready(Some(Ok(bytes))) => {
                        self.heard = true;
                        if let Some(session) = self.session.as_mut() {
                            session.count(&bytes, &shared.outbox, shared.clock);
                        }
                        let had_current = self.current.is_some();
                        let concurrent = self.concurrent.len();
                        match self.on_frame(&bytes) {
                            Ok(None) => {}
                            Ok(Some(ending)) => return Poll::Ready(ending),
                            Err(err) => return Poll::Ready(Ending::Failed(err)),
                        }
                        // A new job needs its first poll before we sleep.
                        if (!had_current && self.current.is_some())
                            || self.concurrent.len() > concurrent
                        {
                            progressed = true;
                            break;
                        }
                    }
                }
            }
            if !progressed {
                return match overflow_ending(&shared.outbox) {
                    Some(ending) => Poll::Ready(ending),
                    None => Poll::Pending,
                };
            }
        }
    }

    /// Runs the handlers: the in-order ones one at a time, the threaded
    /// ones all at once.
    pub(super) fn poll_jobs(&mut self, cx: &mut Context<'_>) {
        while let Some(job) = self.current.as_mut() {
            match job.poll_unpin(cx) {
                Poll::Ready(()) => self.current = self.queue.pop_front(),
                Poll::Pending => break,
            }
        }
        while let Poll::Ready(Some(())) = self.concurrent.poll_next_unpin(cx) {}
    }

    fn on_frame(&mut self, bytes: &Bytes) -> Result<Option<Ending>, Error> {
        let shared = self.client.shared.clone();
        let Some(frame) = route_data_frame(
            Frame::decode(bytes)?,
            bytes,
            &mut self.incoming,
            &shared.outgoing,
        )
        .and_then(|frame| route_answer(frame, bytes, &shared.pending)) else {
            return Ok(None);
        };
        match frame {
            Frame::Event {
                command,
                request_id,
                payload,
            } => self.on_event(command, request_id, bytes.slice_ref(payload)),
            Frame::EventRejected {
                command,
                code,
                message,
            } => {
                tracing::warn!(command, code, message, "server rejected an event");
                let rejection = Rejection::new(ErrorCode::from_wire(code), message);
                let extras = Extras {
                    command: Some(Arc::from(command)),
                    rejection: Some(rejection),
                    ..Extras::default()
                };
                self.reserved_event(reserved::REJECTED, extras);
            }
            Frame::ClientJoined(wire) => {
                let info = ClientInfo::from_wire(&wire);
                self.presence_event(reserved::CLIENT_CONNECT, Extras::other(info, None));
            }
            Frame::ClientLeft(wire) => {
                let info = ClientInfo::from_wire(&wire);
                self.presence_event(reserved::CLIENT_DISCONNECT, Extras::other(info, None));
            }
            Frame::ClientChanged {
                client,
                old_name,
                old_group,
            } => {
                let info = ClientInfo::from_wire(&client);
                if old_name != client.name {
                    let change = Change {
                        old: old_name.map(Arc::from),
                        new: info.name.clone(),
                    };
                    let extras = Extras::other(info.clone(), Some(change));
                    self.presence_event(reserved::CLIENT_NAME_CHANGE, extras);
                }
                if old_group != client.group {
                    let change = Change {
                        old: old_group.map(Arc::from),
                        new: info.group.clone(),
                    };
                    let extras = Extras::other(info, Some(change));
                    self.presence_event(reserved::CLIENT_GROUP_CHANGE, extras);
                }
            }
            Frame::Ping { nonce } => {
                shared.outbox.push_control(Frame::Pong { nonce }.encode());
            }
            Frame::Pong { .. } => {}
            Frame::Ack { received } => shared
                .outbox
                .acknowledged(received)
                .map_err(ProtocolFault::BadCount)?,
            Frame::StreamStart {
                stream_id,
                command,
                total_len,
            } => self.on_stream_start(stream_id, command, total_len)?,
            Frame::Close { code, reason, .. } => {
                return Ok(Some(Ending::PeerClosed {
                    reason: CloseReason::new(code, reason),
                    run_leave: true,
                }))
            }
            other => {
                return Err(ProtocolFault::NotAllowed {
                    sender: "server",
                    kind: other.kind_name(),
                }
                .into())
            }
        }
        Ok(None)
    }
}
