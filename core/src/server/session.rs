//! A joined client's connection on the server: the event loop that reads
//! frames and runs handlers, and the goodbye.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Buf, Bytes};
use futures::StreamExt;

use super::connection::Joined;
use super::context::{Extra, ServerEvent};
use super::peer::Peer;
use super::registry::Kick;
use super::{reserved, Server};
use crate::close::{codes, CloseReason};
use crate::dispatch::{CallSlot, HandlerSnapshot, HandlerTable, Outcome, Registered, Rejection};
use crate::error::Error;
use crate::frame::{ErrorCode, Frame, LookupKey};
use crate::info::{Change, ClientInfo};
use crate::keepalive::{Keepalive, KeepaliveAction};
use crate::outbox::Outbox;
use crate::pending::{route_answer, PendingRequests};
use crate::stream::{route_data_frame, IncomingStreams, OutgoingStreams};
use crate::transport::FrameStream;
use crate::value;

/// How a connection's event loop ended.
pub(crate) enum End {
    /// The client sent a close frame.
    PeerClosed {
        reason: CloseReason,
        run_leave: bool,
    },
    /// The connection ended without a close frame.
    Eof,
    /// The transport failed or the client broke the protocol.
    Failed(Error),
    /// The application disconnected the client.
    Kicked(Kick),
    /// The client was silent past the keepalive timeout.
    KeepaliveTimeout,
    /// The server is shutting down.
    Shutdown,
}

/// Most frames handled in one turn of the event loop: after a frame
/// arrives, the ones already waiting behind it are handled at once, so a
/// burst of small events costs one pass through the loop rather than one
/// each.
const READ_BATCH: usize = 64;

/// One handler run: the handler's future; its outcome is then sent back
/// by whoever polls it. A plain struct rather than a boxed `async` block:
/// one allocation less per event.
struct Job {
    call: CallSlot,
    command: Arc<str>,
    request_id: u64,
    /// The handler panicked: its slot holds a broken future, not to be
    /// reused.
    panicked: bool,
}

impl Job {
    fn new(registered: &Registered<ServerEvent>, call: CallSlot, request_id: u64) -> Self {
        Job {
            call,
            command: registered.name.clone(),
            request_id,
            panicked: false,
        }
    }

    /// Polls the handler (see [`poll_guarded`]).
    fn poll_outcome(&mut self, cx: &mut Context<'_>) -> Poll<Outcome> {
        poll_guarded(&mut self.call, cx, &mut self.panicked)
    }

    fn respond(&self, peer: &Peer, outcome: Outcome) {
        peer.respond(&self.command, self.request_id, outcome);
    }

    /// Runs the handler to the end and answers through `peer`.
    async fn run(mut self, peer: &Peer) {
        let outcome = poll_fn(|cx| self.poll_outcome(cx)).await;
        self.respond(peer, outcome);
    }
}

/// Polls a handler call. A panicking handler becomes a failed outcome (and
/// sets `panicked`); it never takes the connection down.
fn poll_guarded(call: &mut CallSlot, cx: &mut Context<'_>, panicked: &mut bool) -> Poll<Outcome> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call.as_mut().poll_call(cx))) {
        Ok(polled) => polled,
        Err(_) => {
            tracing::error!("handler panicked");
            *panicked = true;
            Poll::Ready(Err(Rejection::new(
                ErrorCode::HandlerFailed,
                "handler panicked",
            )))
        }
    }
}

/// A threaded handler's job: it runs on a task of its own, so it carries
/// the connection's sending side to answer through.
struct DetachedJob {
    job: Job,
    peer: Peer,
}

impl Future for DetachedJob {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let outcome = std::task::ready!(this.job.poll_outcome(cx));
        this.job.respond(&this.peer, outcome);
        Poll::Ready(())
    }
}

/// The context of one event from `client`.
fn event_context(
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

/// Largest handler future whose allocation a connection keeps for the next
/// call: W1's handlers need far less; a larger one is freed when it ends.
const MAX_SPARE_CALL_BYTES: usize = 512;

/// A connection's in-order handler runs: the current one and the queue
/// behind it.
#[derive(Default)]
struct Jobs {
    current: Option<Job>,
    queue: VecDeque<Job>,
    /// The allocation of the last run that finished, for the next run of
    /// the same handler.
    spare: Option<CallSlot>,
}

impl Jobs {
    /// Schedules a handler: in order, or on its own task when threaded.
    fn schedule(
        &mut self,
        server: &Server,
        peer: &Peer,
        registered: &Registered<ServerEvent>,
        ctx: &mut Option<ServerEvent>,
        request_id: u64,
    ) {
        if registered.threaded {
            let call = registered.handler.call_reusing(ctx, &mut None);
            let job = Job::new(registered, call, request_id);
            let peer = peer.clone();
            server.inner.tasks.spawn(DetachedJob { job, peer });
            return;
        }
        let mut call = registered.handler.call_reusing(ctx, &mut self.spare);
        if self.current.is_some() {
            self.queue.push_back(Job::new(registered, call, request_id));
            return;
        }
        // Nothing runs ahead of it: it runs now, as far as it gets. Most
        // handlers finish at once and then need no queue, and their
        // allocation serves the next event. One that waits becomes the
        // current job, which the event loop polls again, with its own
        // waker, before it sleeps.
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        let mut panicked = false;
        match poll_guarded(&mut call, &mut cx, &mut panicked) {
            Poll::Ready(outcome) => {
                peer.respond(&registered.name, request_id, outcome);
                self.keep(call, panicked);
            }
            Poll::Pending => self.current = Some(Job::new(registered, call, request_id)),
        }
    }

    /// Keeps a finished call's allocation for the next, unless the handler
    /// panicked in it or its future is large (an idle connection keeps its
    /// spare: a handler holding a big buffer across an `.await` would
    /// leave that much on every idle connection it last ran on).
    fn keep(&mut self, call: CallSlot, panicked: bool) {
        if !panicked && std::mem::size_of_val(call.as_ref().get_ref()) <= MAX_SPARE_CALL_BYTES {
            self.spare = Some(call);
        }
    }

    /// Polls the current job, and the ones behind it as long as each
    /// finishes at once, answering through `peer`. Ready when at least one
    /// finished.
    fn poll(&mut self, cx: &mut Context<'_>, peer: &Peer) -> Poll<()> {
        let mut finished = false;
        while let Some(job) = self.current.as_mut() {
            match job.poll_outcome(cx) {
                Poll::Ready(outcome) => {
                    let next = self.queue.pop_front();
                    if let Some(job) = std::mem::replace(&mut self.current, next) {
                        job.respond(peer, outcome);
                        self.keep(job.call, job.panicked);
                    }
                    finished = true;
                }
                Poll::Pending => break,
            }
        }
        if finished {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// What a client may change about itself.
#[derive(Clone, Copy)]
enum Field {
    Name,
    Group,
}

/// A joined client's connection.
pub(crate) struct Session {
    server: Server,
    info: ClientInfo,
    peer: Peer,
    pending: Arc<Mutex<PendingRequests>>,
    /// The server's handlers as of the last change this session saw.
    handlers: HandlerSnapshot<ServerEvent>,
    stream: std::pin::Pin<Box<dyn FrameStream>>,
    /// Streamed payloads this client is sending us.
    incoming: IncomingStreams,
    /// Streamed payloads we are sending this client.
    outgoing: Arc<OutgoingStreams>,
    /// In-order handler runs.
    jobs: Jobs,
    /// The context of the last ordinary event, used again for the next one
    /// (handlers whose arguments are extractors only borrow it).
    event: Option<ServerEvent>,
}

impl Session {
    pub(crate) fn new(
        server: Server,
        joined: Joined,
        outbox: Arc<Outbox>,
        stream: std::pin::Pin<Box<dyn FrameStream>>,
    ) -> Self {
        let max_stream_len = server.inner.config.max_stream_len;
        let handlers = server.inner.handlers.snapshot();
        Session {
            handlers,
            peer: Peer {
                outbox,
                control: joined.control,
            },
            server,
            info: joined.info,
            pending: joined.pending,
            outgoing: joined.outgoing,
            incoming: IncomingStreams::new(max_stream_len),
            stream,
            jobs: Jobs::default(),
            event: None,
        }
    }

    pub(crate) async fn run(&mut self) {
        self.tell_others(|this| this.presence_frame(true));
        self.reserved_event(reserved::JOIN, None, None);
        let end = self.event_loop().await;
        self.finish(end).await;
    }

    /// Sends a presence notice about this client to every other client
    /// that wants them, unless the server is configured without presence
    /// notices.
    fn tell_others(&self, notice: impl FnOnce(&Self) -> Bytes) {
        if self.server.inner.config.presence_notices {
            self.server
                .to_all()
                .except(self.info.id)
                .presence_notice()
                .send_frame(notice(self))
                .ok();
        }
    }

    /// The frame telling other clients that this one joined or left.
    fn presence_frame(&self, joined: bool) -> Bytes {
        let addr = self.info.addr.map(|a| a.to_string());
        let client = self.info.to_wire(&addr);
        if joined {
            Frame::ClientJoined(client).encode()
        } else {
            Frame::ClientLeft(client).encode()
        }
    }

    fn context(&self, command: Arc<str>, payload: Bytes) -> ServerEvent {
        event_context(&self.server, &self.info, command, payload)
    }

    /// Schedules a handler: in order, or on its own task when threaded.
    fn schedule(
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
    fn reserved_event(
        &mut self,
        name: &'static str,
        change: Option<Change>,
        close: Option<CloseReason>,
    ) {
        let handlers = self.handlers();
        if let Some(registered) = handlers.reserved(name) {
            let mut ctx = self.context(registered.name.clone(), Bytes::from_static(value::NIL));
            if change.is_some() || close.is_some() {
                let extra = ctx.extra_mut();
                extra.change = change;
                extra.close = close;
            }
            self.schedule(registered, ctx, 0);
        }
    }

    /// The server's current handlers (refreshing this session's snapshot
    /// if they changed), shared so that the caller can go on using `self`.
    fn handlers(&mut self) -> Arc<HandlerTable<ServerEvent>> {
        self.server.inner.handlers.refresh(&mut self.handlers);
        self.handlers.table.clone()
    }

    async fn event_loop(&mut self) -> End {
        let config = self.server.inner.config.clone();
        let mut keepalive = config
            .keepalive_interval
            .map(|interval| Keepalive::new(interval, config.keepalive_timeout, Instant::now()));
        // These futures live as long as the loop: making them anew for every
        // frame would register a timer and two waiters each time.
        let wake_at = tokio::time::sleep_until(Instant::now().into());
        tokio::pin!(wake_at);
        let control = self.peer.control.clone();
        let kicked = control.notified();
        tokio::pin!(kicked);
        let shutdown = self.server.inner.shutdown.clone();
        let shutting_down = shutdown.cancelled();
        tokio::pin!(shutting_down);
        loop {
            let can_read = self.jobs.queue.len() < config.handler_queue_len;
            tokio::select! {
                biased;
                _ = &mut kicked => {
                    if let Some(kick) = control.take() {
                        return End::Kicked(kick);
                    }
                    kicked.set(control.notified());
                }
                _ = &mut shutting_down => return End::Shutdown,
                _ = poll_fn(|cx| self.jobs.poll(cx, &self.peer)), if self.jobs.current.is_some() => {}
                _ = &mut wake_at, if keepalive.is_some() => {
                    if let Some(ka) = keepalive.as_mut() {
                        if !can_read {
                            // We stopped reading (handlers are behind); the
                            // client's frames are waiting in the socket, so
                            // it is not silent.
                            ka.heard(Instant::now());
                        }
                        loop {
                            match ka.poll(Instant::now()) {
                                KeepaliveAction::WaitUntil(at) => { wake_at.as_mut().reset(at.into()); break; }
                                KeepaliveAction::SendPing(nonce) => self.peer.send(Frame::Ping { nonce }.encode()),
                                KeepaliveAction::Expired => return End::KeepaliveTimeout,
                            }
                        }
                    }
                }
                frame = self.stream.next(), if can_read => {
                    if let Some(end) = self.on_frames(frame, config.handler_queue_len) {
                        return end;
                    }
                    if let Some(ka) = keepalive.as_mut() {
                        ka.heard(Instant::now());
                    }
                }
            }
        }
    }

    /// Handles `first`, then the frames already waiting behind it (up to
    /// [`READ_BATCH`], and while handlers are not too far behind).
    fn on_frames(
        &mut self,
        first: Option<Result<Bytes, crate::TransportError>>,
        queue_limit: usize,
    ) -> Option<End> {
        let mut next = first;
        for handled in 1..=READ_BATCH {
            match next {
                None => return Some(End::Eof),
                Some(Err(err)) => return Some(End::Failed(err.into())),
                Some(Ok(bytes)) => match self.on_frame(bytes) {
                    Ok(None) => {}
                    Ok(Some(end)) => return Some(end),
                    Err(err) => return Some(End::Failed(err)),
                },
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
        None
    }

    fn on_frame(&mut self, bytes: Bytes) -> Result<Option<End>, Error> {
        // The hot path: an event, decoded without building a `Frame`.
        let Some(bytes) = self.on_event(bytes)? else {
            return Ok(None);
        };
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
            Frame::SetName { request_id, name } => self.change(request_id, Field::Name, name),
            Frame::SetGroup { request_id, group } => self.change(request_id, Field::Group, group),
            Frame::Lookup { request_id, by } => {
                let found = {
                    let registry = self.server.inner.registry.read();
                    match by {
                        LookupKey::Id(id) => registry.get(id),
                        LookupKey::Name(name) => registry.by_name(name),
                        LookupKey::Addr(addr) => {
                            addr.parse().ok().and_then(|addr| registry.by_addr(addr))
                        }
                    }
                    .map(|entry| entry.info.clone())
                };
                self.reply(request_id, &found);
            }
            Frame::ListClients { request_id, group } => {
                let clients = match group {
                    Some(group) => self.server.group(group),
                    None => self.server.clients(),
                };
                self.reply(request_id, &clients);
            }
            Frame::Ping { nonce } => self.peer.send(Frame::Pong { nonce }.encode()),
            Frame::Pong { .. } => {}
            Frame::PresenceInterest { wanted } => self.peer.control.set_wants_presence(wanted),
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
                return Ok(Some(End::PeerClosed {
                    reason: CloseReason::new(code, reason),
                    run_leave,
                }))
            }
            other => {
                return Err(Error::Protocol(format!(
                    "a client may not send a {} frame here",
                    other.kind_name()
                )))
            }
        }
        Ok(None)
    }

    fn reply<T: serde::Serialize>(&self, request_id: u64, value: &T) {
        let outcome = value::encode(value).map_err(|err| {
            crate::dispatch::Rejection::new(ErrorCode::HandlerFailed, err.to_string())
        });
        self.peer.respond("", request_id, outcome);
    }

    /// Handles `frame` if it is an event; gives it back otherwise.
    fn on_event(&mut self, frame: Bytes) -> Result<Option<Bytes>, Error> {
        let Some((command, request_id, payload)) = Frame::decode_event_bytes(&frame)? else {
            return Ok(Some(frame));
        };
        let payload_at = payload.as_ptr() as usize - frame.as_ptr() as usize;
        // Field by field rather than through `&mut self` methods, so the
        // handler table is borrowed from the snapshot, not shared anew for
        // every event.
        self.server.inner.handlers.refresh(&mut self.handlers);
        let handlers = &self.handlers.table;
        let message = handlers.reserved(reserved::MESSAGE);
        // A registered name matched by its bytes is UTF-8; any other
        // command is checked here, as decoding the frame would have.
        let (command, target) = match handlers.command_bytes(command) {
            Some(registered) => (&*registered.name, Some((registered, false))),
            None => (
                Frame::command_text(command)?,
                handlers.wildcard().map(|r| (r, true)),
            ),
        };
        let Some((registered, wildcard)) = target else {
            let name: Arc<str> = Arc::from(command);
            if let Some(message) = message {
                let ctx = event_context(&self.server, &self.info, name, frame.slice_ref(payload));
                self.jobs
                    .schedule(&self.server, &self.peer, message, &mut Some(ctx), 0);
            }
            if request_id != 0 {
                let no_handler =
                    Rejection::new(ErrorCode::NoHandler, format!("no handler for {command:?}"));
                self.peer.respond(command, request_id, Err(no_handler));
            } else {
                tracing::debug!(command, "event without handler ignored");
            }
            return Ok(None);
        };
        // The context of the last event serves again: only its command
        // and payload change.
        let ctx = self.event.get_or_insert_with(|| {
            event_context(
                &self.server,
                &self.info,
                registered.name.clone(),
                Bytes::new(),
            )
        });
        if wildcard {
            if *ctx.command != *command {
                ctx.command = Arc::from(command);
            }
        } else if !Arc::ptr_eq(&ctx.command, &registered.name) {
            ctx.command = registered.name.clone();
        }
        // The payload is the end of the frame: the frame itself, advanced,
        // rather than a new reference to it.
        let mut payload = frame;
        payload.advance(payload_at);
        ctx.payload = payload;
        if let Some(message) = message {
            let ctx = event_context(
                &self.server,
                &self.info,
                ctx.command.clone(),
                ctx.payload.clone(),
            );
            self.jobs
                .schedule(&self.server, &self.peer, message, &mut Some(ctx), 0);
        }
        self.jobs.schedule(
            &self.server,
            &self.peer,
            registered,
            &mut self.event,
            request_id,
        );
        // Handlers take what they need while they are scheduled; the frame
        // is not kept for the next event.
        if let Some(ctx) = self.event.as_mut() {
            ctx.payload = Bytes::new();
        }
        Ok(None)
    }

    /// A client starts streaming a payload: its handler runs at once, on its
    /// own task (it lasts as long as the transfer, and the client's other
    /// events must not wait for it), reading the chunks as they come.
    fn on_stream_start(
        &mut self,
        stream_id: u64,
        command: &str,
        total_len: Option<u64>,
    ) -> Result<(), Error> {
        let target = {
            let handlers = self.handlers();
            handlers
                .command(command)
                .or_else(|| handlers.wildcard())
                .cloned()
        };
        let opened =
            self.incoming
                .open(&self.peer.outbox, stream_id, command, total_len, target)?;
        let Some((registered, incoming)) = opened else {
            return Ok(());
        };
        let mut ctx = self.context(incoming.command_name(), Bytes::from_static(value::NIL));
        ctx.extra = Some(Box::new(Extra {
            stream: Mutex::new(Some(incoming)),
            ..Extra::default()
        }));
        self.schedule(&registered, ctx, 0);
        Ok(())
    }

    /// A client renames itself or moves to another group: the registry
    /// changes, the client gets its confirmation, the other clients a
    /// `ClientChanged` notice, and the reserved handler runs. A change to
    /// the current value is confirmed and nothing else happens.
    fn change(&mut self, request_id: u64, field: Field, value: Option<&str>) {
        let new: Option<Arc<str>> = value.map(Arc::from);
        let (old_name, old_group) = (self.info.name.clone(), self.info.group.clone());
        let old = match field {
            Field::Name => old_name.clone(),
            Field::Group => old_group.clone(),
        };
        if old == new {
            self.reply(request_id, &());
            return;
        }
        let updated = {
            let mut registry = self.server.inner.registry.write();
            match field {
                Field::Name => registry.set_name(self.info.id, new.clone()),
                Field::Group => registry.set_group(self.info.id, new.clone()),
            }
        };
        if let Some(info) = updated {
            self.info = info;
            self.event = None;
        }
        self.reply(request_id, &());
        self.tell_others(|this| {
            let addr = this.info.addr.map(|a| a.to_string());
            Frame::ClientChanged {
                client: this.info.to_wire(&addr),
                old_name: old_name.as_deref(),
                old_group: old_group.as_deref(),
            }
            .encode()
        });
        let event = match field {
            Field::Name => reserved::NAME_CHANGE,
            Field::Group => reserved::GROUP_CHANGE,
        };
        self.reserved_event(event, Some(Change { old, new }), None);
    }

    async fn finish(&mut self, end: End) {
        let config = self.server.inner.config.clone();
        let (close_frame, reason, run_leave) = match end {
            End::PeerClosed { reason, run_leave } => (None, reason, run_leave),
            End::Eof => (
                None,
                CloseReason::new(codes::ABNORMAL, "connection closed without a close frame"),
                true,
            ),
            End::Failed(Error::Transport(crate::TransportError::Closed(reason))) => {
                (None, reason, true)
            }
            End::Failed(err) => match err.close_reason() {
                Some(reason) => {
                    tracing::info!(%err, "closing misbehaving client");
                    (Some(reason.clone()), reason, true)
                }
                None => {
                    tracing::debug!(%err, "connection failed");
                    (
                        None,
                        CloseReason::new(codes::ABNORMAL, err.to_string()),
                        true,
                    )
                }
            },
            End::Kicked(kick) => (Some(kick.reason.clone()), kick.reason, kick.run_leave),
            End::KeepaliveTimeout => {
                let reason = CloseReason::new(
                    codes::KEEPALIVE_TIMEOUT,
                    format!("silent for {:?}", config.keepalive_timeout),
                );
                (Some(reason.clone()), reason, true)
            }
            End::Shutdown => {
                let reason = CloseReason::new(codes::GOING_AWAY, "server shutting down");
                (Some(reason.clone()), reason, true)
            }
        };
        tracing::debug!(%reason, "leaving");

        // Events already read were accepted: let their handlers run.
        let current = self.jobs.current.take();
        let queue = std::mem::take(&mut self.jobs.queue);
        let peer = &self.peer;
        let drain = async move {
            for job in current.into_iter().chain(queue) {
                job.run(peer).await;
            }
        };
        if tokio::time::timeout(config.drain_timeout, drain)
            .await
            .is_err()
        {
            tracing::warn!("queued handlers still running after the drain timeout; dropped");
        }

        self.server.inner.registry.write().remove(self.info.id);
        self.tell_others(|this| this.presence_frame(false));
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .fail_all(|| Error::Closed(reason.clone()));
        self.incoming.close(&reason);
        self.outgoing.close(&reason);
        let close = close_frame.map(|r| {
            Frame::Close {
                code: r.code,
                reason: &r.reason,
                run_leave: true,
            }
            .encode()
        });
        self.peer.outbox.close_with(close);

        if run_leave {
            self.reserved_event(reserved::LEAVE, None, Some(reason));
            if let Some(job) = self.jobs.current.take() {
                if tokio::time::timeout(config.drain_timeout, job.run(&self.peer))
                    .await
                    .is_err()
                {
                    tracing::warn!("leave handler still running after the drain timeout");
                }
            }
        }
    }
}
