//! A joined client's connection on the server: the event loop. It reads
//! frames, hands each to the rule or path that owns it, and sleeps until
//! the next frame, handler, keepalive deadline, kick or shutdown. The
//! event hot path is in `event_path.rs`, names, groups and look-ups in
//! `membership.rs`, the end in `goodbye.rs`, handler runs in `jobs.rs`,
//! a resumable session's breaks in `session_break.rs`.
//!
//! (Past 450 lines: the loop's one `select!` and the per-frame router it
//! feeds are one piece, read together; what a session adds to them is a
//! few lines each, its rules in `resumption.rs`.)

use std::future::poll_fn;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::StreamExt;

use super::admission::Joined;
use super::context::ServerEvent;
use super::jobs::Jobs;
use super::peer::Peer;
use super::resumption::{count_frame, poll_handover, Resumable, Takeover};
use super::stats::ReadTally;
use super::{reserved, Server};
use crate::close::{codes, CloseReason};
use crate::dispatch::{HandlerSnapshot, HandlerTable, Registered};
use crate::error::{Error, ProtocolFault};
use crate::frame::Frame;
use crate::info::{Change, ClientInfo};
use crate::keepalive::{Keepalive, KeepaliveAction};
use crate::outbox::Outbox;
use crate::pending::{route_answer, PendingRequests};
use crate::platform::locks::lock;
use crate::protocol::closing::{self, Ending};
use crate::protocol::limits::{self, Limit, LimitExceeded};
use crate::protocol::rate_limit::RateLimiter;
use crate::protocol::resume::{self, ResumeOutcome, ACK_DELAY};
use crate::stream::{route_data_frame, IncomingStreams, OutgoingStreams};
use crate::transport::FrameStream;
use crate::value;

/// Most frames handled in one turn of the event loop: after a frame
/// arrives, the ones already waiting behind it are handled at once, so a
/// burst of small events costs one pass through the loop rather than one
/// each.
const READ_BATCH: usize = 64;

use crate::platform::timer::Clock;

/// `Ack`s a busy connection queues before its writer gets a turn in the
/// middle of reading (`Outbox::writer_turn`): 1,024 counted frames at the
/// default cadence. Without turns, `Ack`s waited until the client's
/// frames ran out (the server sent them 140 at a time), the client's
/// replay buffer filled meanwhile and held its writer back, and the two
/// sides took turns instead of working at once: W1 with resumption on
/// ran at 0.75–0.87 × W1 without it. With a turn every 8 `Ack`s (and the
/// client's waiting sender held to part of its queue meanwhile,
/// `outbox_replay.rs`) 0.90–0.92 over TCP and 0.93–1.00 over WS; a turn after
/// every `Ack` did worse (0.83–0.87, a write per 128 events), every 16
/// or 32 the same within the noise (bench/README.md).
const ACKS_PER_WRITER_TURN: u64 = 8;

/// A joined client's connection.
pub(crate) struct Session {
    pub(super) server: Server,
    pub(super) info: ClientInfo,
    pub(super) peer: Peer,
    pub(super) pending: Arc<Mutex<PendingRequests>>,
    /// The server's handlers as of the last change this session saw.
    pub(super) handlers: HandlerSnapshot<ServerEvent>,
    pub(super) stream: std::pin::Pin<Box<dyn FrameStream>>,
    /// Streamed payloads this client is sending us.
    pub(super) incoming: IncomingStreams,
    /// Streamed payloads we are sending this client.
    pub(super) outgoing: Arc<OutgoingStreams>,
    /// In-order handler runs.
    pub(super) jobs: Jobs,
    /// The context of the last ordinary event, used again for the next one
    /// (handlers whose arguments are extractors only borrow it).
    pub(super) event: Option<ServerEvent>,
    /// The goodbye removed the client and closed its requests: nothing
    /// is left for `Drop` to do.
    pub(super) left: bool,
    /// The client's connection data, kept for its `leave` handler.
    pub(super) extensions: super::Extensions,
    /// The limits checked per frame, copied out of the config.
    pub(super) limits: SessionLimits,
    /// The client's rate limit: `None` (the default) costs one branch
    /// per frame.
    rate: Option<RateLimiter>,
    /// Frames of the current read batch that were not events (counted on
    /// their slow path, so that the event path counts nothing of its own:
    /// events are the batch's frames less these).
    other_frames: u64,
    /// The client's resumable session, if it asked for one
    /// (`resumption.rs`): `None` costs one branch per frame.
    pub(super) resumable: Option<Resumable>,
}

/// How one connection of a session ended.
pub(super) enum LoopEnd {
    /// The connection ended so (for a session: a break, or its end).
    Ended(Ending),
    /// A resuming connection took the session over while this one was
    /// still open (PROTOCOL.md section 13.5).
    Moved(Takeover),
}

/// The limits the event loop checks for every event or change, copied out
/// of the server's config so that the hot path reads them without going
/// through it.
pub(super) struct SessionLimits {
    pub max_command_len: usize,
    pub max_pending_requests: usize,
    pub max_name_len: usize,
    pub max_group_len: usize,
}

impl SessionLimits {
    /// The fault of a command over the limit (close 4008).
    pub fn command_too_long(&self) -> ProtocolFault {
        ProtocolFault::LimitExceeded(LimitExceeded {
            limit: Limit::CommandLen,
            max: self.max_command_len as u64,
        })
    }
}

impl Session {
    pub(crate) fn new(
        server: Server,
        joined: Joined,
        outbox: Arc<Outbox>,
        stream: std::pin::Pin<Box<dyn FrameStream>>,
    ) -> Self {
        let config = &server.inner.config;
        let incoming = IncomingStreams::new(config.max_stream_len, config.max_streams);
        let limits = SessionLimits {
            max_command_len: config.max_command_len,
            max_pending_requests: config.max_pending_requests,
            max_name_len: config.max_name_len,
            max_group_len: config.max_group_len,
        };
        let rate = RateLimiter::new(config.rate_limit, Clock::Tokio.now());
        let handlers = server.inner.handlers.snapshot();
        Session {
            handlers,
            peer: Peer {
                outbox,
                control: joined.control,
                client: joined.info.id,
                request_times: server.inner.counters.requests.clone(),
            },
            server,
            info: joined.info,
            pending: joined.pending,
            outgoing: joined.outgoing,
            incoming,
            stream,
            jobs: Jobs::default(),
            event: None,
            left: false,
            extensions: joined.extensions,
            limits,
            rate,
            other_frames: 0,
            resumable: joined.resumable,
        }
    }

    /// The client joined: the others and the application hear of it.
    pub(crate) fn begin(&mut self) {
        self.tell_others(|this| this.presence_frame(true));
        self.server.announce(|| super::cluster::Message::Joined {
            client: self.info.clone(),
        });
        self.reserved_event(reserved::JOIN, None, None);
    }

    /// Runs the current connection until it ends or is taken over.
    pub(crate) async fn run_connection(&mut self) -> LoopEnd {
        self.event_loop().await
    }

    /// Whether the session outlives a connection that ended so: a break
    /// (no `Close` either way) of a client with a session.
    pub(crate) fn keeps_session(&self, ending: &Ending) -> bool {
        let code = match ending {
            Ending::Eof => None,
            Ending::Failed(crate::Error::Transport(crate::TransportError::Closed(reason))) => {
                Some(reason.code)
            }
            Ending::Failed(err) => err.close_reason().map(|reason| reason.code),
            Ending::Silent(_) => Some(codes::KEEPALIVE_TIMEOUT),
            Ending::PeerClosed { .. } | Ending::Local { .. } => return false,
        };
        self.resumable.is_some() && resume::session_end(code) == resume::SessionEnd::Break
    }

    /// The context of one event from this client.
    pub(super) fn context(&self, command: Arc<str>, payload: Bytes) -> ServerEvent {
        event_context(&self.server, &self.info, command, payload)
    }

    /// Schedules a handler: in order, or on its own task when threaded.
    pub(super) fn schedule(
        &mut self,
        registered: &Registered<ServerEvent>,
        ctx: ServerEvent,
        request_id: u64,
    ) {
        let ctx = &mut Some(ctx);
        self.jobs
            .schedule(&self.server, &self.peer, registered, ctx, request_id);
    }

    /// Schedules a reserved event's handler, if one is registered.
    pub(super) fn reserved_event(
        &mut self,
        name: &'static str,
        change: Option<Change>,
        close: Option<CloseReason>,
    ) {
        let handlers = self.handlers();
        if let Some(registered) = handlers.reserved(name) {
            let mut ctx = self.context(registered.name.clone(), Bytes::from_static(value::NIL));
            if change.is_some() || close.is_some() {
                let leaving = close.is_some();
                let extra = ctx.extra_mut();
                extra.change = change;
                extra.close = close;
                if leaving {
                    extra.extensions = Some(self.extensions.clone());
                }
            }
            self.schedule(registered, ctx, 0);
        }
    }

    /// The server's current handlers (refreshing this session's snapshot
    /// if they changed), shared so that the caller can go on using `self`.
    pub(super) fn handlers(&mut self) -> Arc<HandlerTable<ServerEvent>> {
        self.server.inner.handlers.refresh(&mut self.handlers);
        self.handlers.table.clone()
    }

    async fn event_loop(&mut self) -> LoopEnd {
        let config = self.server.inner.config.clone();
        let mut keepalive = config
            .keepalive_interval
            .map(|interval| Keepalive::new(interval, config.keepalive_timeout, Clock::Tokio.now()));
        // These futures live as long as the loop: making them anew for every
        // frame would register a timer and two waiters each time.
        let wake_at = tokio::time::sleep_until(tokio::time::Instant::now());
        tokio::pin!(wake_at);
        let control = self.peer.control.clone();
        let kicked = control.notified();
        tokio::pin!(kicked);
        let shutdown = self.server.inner.shutdown.clone();
        let shutting_down = shutdown.cancelled();
        tokio::pin!(shutting_down);
        // A session's acknowledgement timer (PROTOCOL.md section 13.3).
        let ack_at = tokio::time::sleep_until(tokio::time::Instant::now());
        tokio::pin!(ack_at);
        let mut ack_armed = false;
        // `Ack`s made due when the writer last had a turn.
        let mut acks_at_turn = 0;
        loop {
            let can_read = self.jobs.queue.len() < config.handler_queue_len;
            tokio::select! {
                biased;
                _ = &mut kicked => {
                    if let Some(kick) = control.take() {
                        return LoopEnd::Ended(Ending::Local {
                            reason: kick.reason,
                            run_leave: kick.run_leave,
                            close_queued: false,
                        });
                    }
                    kicked.set(control.notified());
                }
                _ = &mut shutting_down => return LoopEnd::Ended(closing::shutdown()),
                handover = poll_fn(|cx| poll_handover(&mut self.resumable, cx)) => {
                    return LoopEnd::Moved(handover);
                }
                _ = poll_fn(|cx| self.jobs.poll(cx, &self.peer)), if self.jobs.current.is_some() => {}
                _ = &mut ack_at, if ack_armed => {
                    ack_armed = false;
                    if let Some(received) = self.resumable.as_mut().and_then(|r| r.acks.timer_fired()) {
                        self.peer.outbox.push_control(Frame::Ack { received }.encode());
                    }
                }
                _ = &mut wake_at, if keepalive.is_some() => {
                    if let Some(ka) = keepalive.as_mut() {
                        if !can_read {
                            // We stopped reading (handlers are behind); the
                            // client's frames are waiting in the socket, so
                            // it is not silent.
                            ka.heard(Clock::Tokio.now());
                        }
                        loop {
                            match ka.poll(Clock::Tokio.now()) {
                                KeepaliveAction::WaitUntil(at) => { wake_at.as_mut().reset(at.into()); break; }
                                KeepaliveAction::SendPing(nonce) => self.peer.send(Frame::Ping { nonce }.encode()),
                                KeepaliveAction::Expired => return LoopEnd::Ended(Ending::Silent(config.keepalive_timeout)),
                            }
                        }
                    }
                }
                frame = self.stream.next(), if can_read => {
                    if let Some(ending) = self.on_frames(frame, config.handler_queue_len) {
                        return LoopEnd::Ended(ending);
                    }
                    if let Some(ka) = keepalive.as_mut() {
                        ka.heard(Clock::Tokio.now());
                    }
                    if let Some(resumable) = self.resumable.as_mut() {
                        if std::mem::take(&mut resumable.arm_ack_timer) && !ack_armed {
                            ack_at.as_mut().reset(tokio::time::Instant::now() + ACK_DELAY);
                            ack_armed = true;
                        }
                        // While the client keeps sending, this loop is
                        // never pending and the writer beside it does not
                        // run: the `Ack`s it queued would wait until the
                        // socket runs dry. See `ACKS_PER_WRITER_TURN`.
                        let due = resumable.acks.acks_due();
                        if due >= acks_at_turn + ACKS_PER_WRITER_TURN {
                            acks_at_turn = due;
                            self.peer.outbox.writer_turn().await;
                        }
                    }
                }
            }
        }
    }

    /// Handles `first`, then the frames already waiting behind it (up to
    /// [`READ_BATCH`], and while handlers are not too far behind), then
    /// adds what it read to the server's counters, once for the batch.
    fn on_frames(
        &mut self,
        first: Option<Result<Bytes, crate::TransportError>>,
        queue_limit: usize,
    ) -> Option<Ending> {
        // Locals, so that the per-frame counts stay in registers.
        let mut read = ReadTally::default();
        let mut next = first;
        let mut ending = None;
        for handled in 1..=READ_BATCH {
            let bytes = match next {
                None => Err(Ending::Eof),
                Some(Err(err)) => Err(Ending::Failed(err.into())),
                Some(Ok(bytes)) => Ok(bytes),
            };
            match bytes.and_then(|bytes| {
                read.frames += 1;
                read.bytes += bytes.len() as u64;
                self.on_frame_limited(bytes)
            }) {
                Ok(()) => {}
                Err(end) => {
                    ending = Some(end);
                    break;
                }
            }
            if handled == READ_BATCH || self.jobs.queue.len() >= queue_limit {
                break;
            }
            // Not waiting here: the event loop polls the stream again with
            // its own waker when nothing is ready.
            let mut cx = Context::from_waker(futures::task::noop_waker_ref());
            match self.stream.poll_next_unpin(&mut cx) {
                Poll::Ready(frame) => next = frame,
                Poll::Pending => break,
            }
        }
        read.events = read.frames - std::mem::take(&mut self.other_frames);
        self.server.inner.counters.add_read(&read);
        ending
    }

    /// One frame, after the client's rate limit.
    #[inline(always)]
    fn on_frame_limited(&mut self, bytes: Bytes) -> Result<(), Ending> {
        if let Some(rate) = self.rate.as_mut() {
            if let Err(exceeded) = rate.admit(&bytes, Clock::Tokio.now()) {
                tracing::debug!(%exceeded, "client over its rate limit");
                return Err(Ending::Failed(ProtocolFault::from(exceeded).into()));
            }
        }
        if let Some(resumable) = self.resumable.as_mut() {
            count_frame(resumable, &bytes, &self.peer);
        }
        match self.on_frame(bytes) {
            Ok(None) => Ok(()),
            Ok(Some(ending)) => Err(ending),
            Err(err) => Err(Ending::Failed(err)),
        }
    }

    /// Routes one frame from the client to whatever owns it.
    fn on_frame(&mut self, bytes: Bytes) -> Result<Option<Ending>, Error> {
        // The hot path: an event, decoded without building a `Frame`.
        let Some(bytes) = self.on_event(bytes)? else {
            return Ok(None);
        };
        self.other_frames += 1;
        let bytes = &bytes;
        let Some(frame) = route_data_frame(
            Frame::decode(bytes)?,
            bytes,
            &mut self.incoming,
            &self.outgoing,
        )
        .and_then(|frame| route_answer(frame, bytes, &self.pending)) else {
            return Ok(None);
        };
        // Events took the fast path above.
        match frame {
            Frame::EventRejected {
                command,
                code,
                message,
            } => {
                tracing::warn!(command, code, message, "client rejected an event");
            }
            Frame::SetName { request_id, name } => {
                limits::check_len(Limit::NameLen, name, self.limits.max_name_len)
                    .map_err(ProtocolFault::from)?;
                self.change(request_id, super::membership::Field::Name, name)
            }
            Frame::SetGroup { request_id, group } => {
                limits::check_len(Limit::GroupLen, group, self.limits.max_group_len)
                    .map_err(ProtocolFault::from)?;
                self.change(request_id, super::membership::Field::Group, group)
            }
            Frame::Lookup { request_id, by } => self.lookup(request_id, by),
            Frame::ListClients { request_id, group } => self.list_clients(request_id, group),
            Frame::Ping { nonce } => self.peer.send(Frame::Pong { nonce }.encode()),
            Frame::Pong { .. } => {}
            Frame::Ack { received } => self
                .peer
                .outbox
                .acknowledged(received)
                .map_err(ProtocolFault::BadCount)?,
            Frame::PresenceInterest { wanted } => self.peer.control.set_wants_presence(wanted),
            Frame::RoomRequest {
                request_id,
                room,
                join,
            } => {
                limits::check_len(Limit::GroupLen, Some(room), self.limits.max_group_len)
                    .map_err(ProtocolFault::from)?;
                self.room_request(request_id, room, join)
            }
            Frame::StreamStart {
                stream_id,
                command,
                total_len,
            } => self.on_stream_start(stream_id, command, total_len)?,
            Frame::Close {
                code,
                reason,
                run_leave,
            } => {
                return Ok(Some(Ending::PeerClosed {
                    reason: CloseReason::new(code, reason),
                    run_leave,
                }))
            }
            other => {
                return Err(ProtocolFault::NotAllowed {
                    sender: "client",
                    kind: other.kind_name(),
                }
                .into())
            }
        }
        Ok(None)
    }
}

/// A session that ends without its goodbye (its task aborted or dropped,
/// a panic) still leaves the registry, and its pending requests fail at
/// once rather than waiting for a timer nobody drives any more. After a
/// goodbye both are no-ops.
impl Drop for Session {
    fn drop(&mut self) {
        if self.left {
            return;
        }
        if let Some(resumable) = &self.resumable {
            self.server
                .session_ended(&resumable.token, ResumeOutcome::Ended);
        }
        self.server.inner.registry.write().remove(self.info.id);
        let id = self.info.id;
        self.server
            .announce(|| super::cluster::Message::Left { client: id });
        lock(&self.pending).close(&CloseReason::new(
            codes::ABNORMAL,
            "the connection's task ended",
        ));
    }
}

/// The context of one event from `client`.
pub(super) fn event_context(
    server: &Server,
    client: &ClientInfo,
    command: Arc<str>,
    payload: Bytes,
) -> ServerEvent {
    ServerEvent {
        server: server.clone(),
        client: client.clone(),
        command,
        payload,
        extra: None,
    }
}
