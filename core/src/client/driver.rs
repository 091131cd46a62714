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
use super::inbox::Message;
use super::{lock, reserved, wants_presence, Client};
use crate::close::{codes, CloseReason};
use crate::dispatch::{
    guarded, outcome_frame, HandlerSnapshot, HandlerTable, Outcome, Registered, Rejection,
};
use crate::error::{Error, ProtocolFault};
use crate::frame::{ErrorCode, Frame, NO_REQUEST};
use crate::info::{Change, ClientInfo};
use crate::pending::{drive_deadlines, route_answer};
use crate::platform::timer::DeadlineTimer;
use crate::protocol::closing::{self, Ending, Side};
use crate::protocol::event_route::{route_event, EventFacts, Target};
use crate::stream::{route_data_frame, IncomingStreams};
use crate::transport::{BoxFuture, FrameSink, FrameStream};
use crate::value;

type Job = BoxFuture<'static, ()>;

struct Reader {
    client: Client,
    stream: Pin<Box<dyn FrameStream>>,
    current: Option<Job>,
    queue: VecDeque<Job>,
    concurrent: FuturesUnordered<Job>,
    watchdog: Option<(crate::platform::timer::Delay, Duration)>,
    /// The client's handlers as of the last change this loop saw.
    handlers: HandlerSnapshot<ClientEvent>,
    heard: bool,
    incoming: IncomingStreams,
}

/// Runs the connection until it ends, then tells everyone waiting.
pub(crate) async fn drive(
    client: Client,
    stream: Pin<Box<dyn FrameStream>>,
    mut sink: Pin<Box<dyn FrameSink>>,
) {
    let shared = client.shared.clone();
    let writer = async {
        if let Err(err) = shared.outbox.run_writer(&mut sink).await {
            tracing::debug!(%err, "client writer stopped");
        }
    };
    let reader = async {
        // The server pings every interval; silence for the timeout plus an
        // interval means it is gone.
        let watchdog = match (
            shared.session.keepalive_interval,
            shared.session.keepalive_timeout,
        ) {
            (Some(interval), Some(timeout)) => {
                let window = timeout + interval;
                Some((crate::platform::timer::Delay::new(window), window))
            }
            _ => None,
        };
        let mut reader = Reader {
            client: client.clone(),
            stream,
            current: None,
            queue: VecDeque::new(),
            concurrent: FuturesUnordered::new(),
            watchdog,
            handlers: shared.handlers.snapshot(),
            heard: false,
            incoming: IncomingStreams::new(shared.max_stream_len),
        };
        let end = poll_fn(|cx| reader.poll(cx)).await;
        reader.finish(end).await;
    };
    let mut reader = std::pin::pin!(reader);
    let mut writer = std::pin::pin!(writer);
    let (mut reader_done, mut writer_done) = (false, false);
    let mut request_deadlines = DeadlineTimer::new();
    poll_fn(|cx| {
        // The reader first, then the writer, in every turn: replies and
        // pongs the reader queued leave in the same turn, without a
        // wake-up of their own.
        shared.outbox.writer_polls_next();
        if !reader_done {
            reader_done = reader.as_mut().poll(cx).is_ready();
        }
        if !writer_done {
            writer_done = writer.as_mut().poll(cx).is_ready();
        }
        // After the writer: a request registered while this turn ran has
        // pushed its frame, which the writer saw or will be woken for.
        drive_deadlines(&shared.pending, &mut request_deadlines, cx);
        match reader_done && writer_done {
            true => Poll::Ready(()),
            false => Poll::Pending,
        }
    })
    .await;
    shared.finished.store(true, Ordering::Release);
    // A request made while the connection was ending may have registered
    // after the reader failed the others; its push was refused or is lost.
    let reason = client.close_reason();
    lock(&shared.pending).close(&reason);
    shared.closed.notify(usize::MAX);
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
            // In-order handlers, one at a time.
            while let Some(job) = self.current.as_mut() {
                match job.poll_unpin(cx) {
                    Poll::Ready(()) => self.current = self.queue.pop_front(),
                    Poll::Pending => break,
                }
            }
            // Threaded handlers, all at once.
            while let Poll::Ready(Some(())) = self.concurrent.poll_next_unpin(cx) {}

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
                return Poll::Pending;
            }
        }
    }

    fn context(&self, command: Arc<str>, payload: Bytes) -> ClientEvent {
        ClientEvent {
            client: self.client.clone(),
            command,
            payload,
            other: None,
            change: None,
            close: None,
            rejection: None,
            stream: std::sync::Mutex::new(None),
        }
    }

    fn schedule(
        &mut self,
        registered: &Registered<ClientEvent>,
        ctx: ClientEvent,
        request_id: u64,
    ) {
        let fut = registered.handler.call(ctx);
        let client = self.client.clone();
        let command = registered.name.clone();
        let job: Job = Box::pin(async move {
            let outcome = guarded(fut).await;
            respond(&client, &command, request_id, outcome);
        });
        if registered.threaded {
            self.concurrent.push(job);
        } else if self.current.is_none() {
            self.current = Some(job);
        } else {
            self.queue.push_back(job);
        }
    }

    /// The client's current handlers (refreshing the snapshot if they
    /// changed), shared so that the caller can go on using `self`.
    fn handlers(&mut self) -> Arc<HandlerTable<ClientEvent>> {
        self.client.shared.handlers.refresh(&mut self.handlers);
        self.handlers.table.clone()
    }

    /// Schedules the handler of reserved event `name`, if there is one,
    /// with `extras` in its context. (Not generic over a closure that fills
    /// the context: one copy of this in the browser build, not one per
    /// event.)
    ///
    /// Returns the handlers it looked in, for callers that need more.
    fn reserved_event(&mut self, name: &str, extras: Extras) -> Arc<HandlerTable<ClientEvent>> {
        let handlers = self.handlers();
        if let Some(registered) = handlers.reserved(name) {
            let command = extras.command.unwrap_or_else(|| registered.name.clone());
            let mut ctx = self.context(command, Bytes::from_static(value::NIL));
            ctx.other = extras.other;
            ctx.change = extras.change;
            ctx.close = extras.close;
            ctx.rejection = extras.rejection;
            self.schedule(registered, ctx, 0);
        }
        handlers
    }

    /// A presence notice: its handler runs if there is one; when the client
    /// has no presence handler at all, it counts the notice, to decline
    /// notices nobody handles.
    fn presence_event(&mut self, name: &str, extras: Extras) {
        let handlers = self.reserved_event(name, extras);
        if !wants_presence(&handlers) {
            self.client.unhandled_presence_notice();
        }
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
                shared.outbox.force_push(Frame::Pong { nonce }.encode());
            }
            Frame::Pong { .. } => {}
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

    /// The server starts streaming a payload: if accepted (the rule is
    /// shared with the server), its handler runs at once, concurrently with
    /// other events, reading chunks as they come.
    fn on_stream_start(
        &mut self,
        stream_id: u64,
        command: &str,
        total_len: Option<u64>,
    ) -> Result<(), Error> {
        let handlers = self.handlers();
        let outbox = self.client.shared.outbox.clone();
        let opened = self
            .incoming
            .open(&outbox, stream_id, command, total_len, &handlers)?;
        let Some((registered, incoming)) = opened else {
            return Ok(());
        };
        let ctx = self.context(incoming.command_name(), Bytes::from_static(value::NIL));
        lock(&ctx.stream).replace(incoming);
        self.schedule(&registered, ctx, 0);
        Ok(())
    }

    /// An event from the server, routed by the rule both sides share.
    fn on_event(&mut self, command: &str, request_id: u64, payload: Bytes) {
        let handlers = self.handlers();
        let (message_handler, handler, wildcard) = (
            handlers.reserved(reserved::MESSAGE),
            handlers.command(command),
            handlers.wildcard(),
        );
        let route = route_event(EventFacts {
            is_request: request_id != NO_REQUEST,
            has_handler: handler.is_some(),
            has_wildcard: wildcard.is_some(),
            has_message_hook: message_handler.is_some(),
            has_recv: true,
        });
        let name: Arc<str> = match &handler {
            Some(registered) => registered.name.clone(),
            None => Arc::from(command),
        };
        let message = Message {
            command: name.clone(),
            payload: payload.clone(),
        };
        let shared = self.client.shared.clone();
        let mut inbox = lock(&shared.inbox);
        inbox.remember(&message);
        if let Some(registered) = message_handler.filter(|_| route.message_hook) {
            let ctx = self.context(name.clone(), payload.clone());
            self.schedule(registered, ctx, 0);
        }
        let message = if route.offer_to_recv {
            match inbox.give_to_waiter(message) {
                None => return,
                Some(message) => message,
            }
        } else {
            message
        };
        drop(inbox);
        let target = match route.target {
            Target::Handler => handler,
            Target::Wildcard => wildcard,
            Target::NoHandler => {
                let no_handler = Rejection::new(
                    ErrorCode::NoHandler,
                    format!("no handler for \"{command}\""),
                );
                respond(&self.client, command, request_id, Err(no_handler));
                None
            }
            Target::Nobody => None,
        };
        if let Some(registered) = target {
            let ctx = self.context(name, payload);
            self.schedule(registered, ctx, request_id);
        }
        if route.keep_for_recv {
            lock(&shared.inbox).unhandled(message);
        }
    }

    async fn finish(&mut self, ending: Ending) {
        let shared = self.client.shared.clone();
        let plan = closing::plan(Side::Client, ending);
        let reason = plan.reason.clone();
        {
            let mut slot = lock(&shared.close_reason);
            if slot.is_none() {
                *slot = Some(reason.clone());
            }
        }
        tracing::debug!(%reason, "client connection ended");
        lock(&shared.pending).close(&reason);
        lock(&shared.inbox).close(&reason);
        self.incoming.close(&reason);
        shared.outgoing.close(&reason);
        shared.outbox.close_with(plan.close_frame());
        if plan.by_peer {
            let extras = Extras {
                close: Some(reason.clone()),
                ..Extras::default()
            };
            self.reserved_event(reserved::FORCE_DISCONNECT, extras);
        }
        // Events already received still get their handlers.
        if let Some(job) = self.current.take() {
            job.await;
        }
        while let Some(job) = self.queue.pop_front() {
            job.await;
        }
        while self.concurrent.next().await.is_some() {}
    }
}

/// What a reserved event's context carries besides the client (see
/// [`Reader::reserved_event`]); its command is the event's name unless set.
#[derive(Default)]
struct Extras {
    command: Option<Arc<str>>,
    other: Option<ClientInfo>,
    change: Option<Change>,
    close: Option<CloseReason>,
    rejection: Option<Rejection>,
}

impl Extras {
    /// Another client's presence notice.
    fn other(info: ClientInfo, change: Option<Change>) -> Self {
        Self {
            other: Some(info),
            change,
            ..Self::default()
        }
    }
}

/// Sends a handler's outcome to the server (see [`outcome_frame`]).
fn respond(client: &Client, command: &str, request_id: u64, outcome: Outcome) {
    let Some(frame) = outcome_frame(command, request_id, outcome) else {
        return;
    };
    // A reply never waits for room: the server is waiting for it, and there
    // is at most one per request the server made.
    client.shared.outbox.force_push(frame);
}
