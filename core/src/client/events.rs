//! What the client's driver does with what arrives: handler runs (in
//! order, or concurrently when threaded), reserved and presence events,
//! events routed by [`route_event`] (the rule the server shares), and
//! streams accepted by the rule the server shares too.

use std::sync::Arc;

use bytes::Bytes;

use super::context::ClientEvent;
use super::driver::{Job, Reader};
use super::inbox::Message;
use super::{lock, reserved, wants_presence, Client};
use crate::close::CloseReason;
use crate::dispatch::{guarded, outcome_frame, HandlerTable, Outcome, Registered, Rejection};
use crate::error::Error;
use crate::frame::{ErrorCode, NO_REQUEST};
use crate::info::{Change, ClientInfo};
use crate::protocol::event_route::{route_event, EventFacts, Target};
use crate::value;

impl Reader {
    pub(super) fn context(&self, command: Arc<str>, payload: Bytes) -> ClientEvent {
        ClientEvent {
            client: self.client.clone(),
            command,
            payload,
            other: None,
            change: None,
            close: None,
            rejection: None,
            connection: None,
            stream: std::sync::Mutex::new(None),
        }
    }

    pub(super) fn schedule(
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
    pub(super) fn handlers(&mut self) -> Arc<HandlerTable<ClientEvent>> {
        self.client.shared.handlers.refresh(&mut self.handlers);
        self.handlers.table.clone()
    }

    /// Schedules the handler of reserved event `name`, if there is one,
    /// with `extras` in its context. (Not generic over a closure that fills
    /// the context: one copy of this in the browser build, not one per
    /// event.)
    ///
    /// Returns the handlers it looked in, for callers that need more.
    pub(super) fn reserved_event(
        &mut self,
        name: &str,
        extras: Extras,
    ) -> Arc<HandlerTable<ClientEvent>> {
        let handlers = self.handlers();
        if let Some(registered) = handlers.reserved(name) {
            let command = extras.command.unwrap_or_else(|| registered.name.clone());
            let mut ctx = self.context(command, Bytes::from_static(value::NIL));
            ctx.other = extras.other;
            ctx.change = extras.change;
            ctx.close = extras.close;
            ctx.rejection = extras.rejection;
            ctx.connection = extras.connection;
            self.schedule(registered, ctx, 0);
        }
        handlers
    }

    /// A presence notice: its handler runs if there is one; when the client
    /// has no presence handler at all, it counts the notice, to decline
    /// notices nobody handles.
    pub(super) fn presence_event(&mut self, name: &str, extras: Extras) {
        let handlers = self.reserved_event(name, extras);
        if !wants_presence(&handlers) {
            self.client.unhandled_presence_notice();
        }
    }

    /// The server starts streaming a payload: if accepted (the rule is
    /// shared with the server), its handler runs at once, concurrently with
    /// other events, reading chunks as they come.
    pub(super) fn on_stream_start(
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
    pub(super) fn on_event(&mut self, command: &str, request_id: u64, payload: Bytes) {
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
}

/// What a reserved event's context carries besides the client (see
/// [`Reader::reserved_event`]); its command is the event's name unless set.
#[derive(Default)]
pub(super) struct Extras {
    pub(super) command: Option<Arc<str>>,
    pub(super) other: Option<ClientInfo>,
    pub(super) change: Option<Change>,
    pub(super) close: Option<CloseReason>,
    pub(super) rejection: Option<Rejection>,
    pub(super) connection: Option<super::ConnectionChange>,
}

impl Extras {
    /// Another client's presence notice.
    pub(super) fn other(info: ClientInfo, change: Option<Change>) -> Self {
        Self {
            other: Some(info),
            change,
            ..Self::default()
        }
    }
}

/// Sends a handler's outcome to the server (see [`outcome_frame`]).
pub(super) fn respond(client: &Client, command: &str, request_id: u64, outcome: Outcome) {
    let Some(frame) = outcome_frame(command, request_id, outcome) else {
        return;
    };
    // A reply never waits for room: the server is waiting for it, and there
    // is at most one per request the server made.
    client.shared.outbox.push_control(frame);
}
