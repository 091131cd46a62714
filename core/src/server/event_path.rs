//! The event hot path of a server connection: a client's `Event` is
//! decoded without building a `Frame`, routed by
//! [`route_event`](crate::protocol::event_route::route_event), and its
//! handler scheduled with the connection's reused event context. Streams a
//! client starts are accepted or refused here too (the rule is
//! [`stream_start`](crate::protocol::stream_start), shared with the
//! client).

use std::sync::{Arc, Mutex};

use bytes::{Buf, Bytes};

use super::context::Extra;
use super::reserved;
use super::session::{event_context, Session};
use crate::dispatch::Rejection;
use crate::error::{Error, ProtocolFault};
use crate::frame::{ErrorCode, Frame, NO_REQUEST};
use crate::protocol::event_route::{route_event, EventFacts, Target};
use crate::protocol::limits;
use crate::value;

impl Session {
    /// Handles `frame` if it is an event; gives it back otherwise.
    pub(super) fn on_event(&mut self, frame: Bytes) -> Result<Option<Bytes>, Error> {
        let Some((command, request_id, payload)) = Frame::decode_event_bytes(&frame)? else {
            return Ok(Some(frame));
        };
        if command.len() > self.limits.max_command_len {
            return Err(self.limits.command_too_long().into());
        }
        let payload_at = payload.as_ptr() as usize - frame.as_ptr() as usize;
        // Field by field rather than through `&mut self` methods, so the
        // handler table is borrowed from the snapshot, not shared anew for
        // every event.
        self.server.inner.handlers.refresh(&mut self.handlers);
        let handlers = &self.handlers.table;
        let message = handlers.reserved(reserved::MESSAGE);
        let own = handlers.command_bytes(command);
        // Looked up only when the command has no handler of its own.
        let wildcard = own.is_none().then(|| handlers.wildcard()).flatten();
        let route = route_event(EventFacts {
            is_request: request_id != NO_REQUEST,
            has_handler: own.is_some(),
            has_wildcard: wildcard.is_some(),
            has_message_hook: message.is_some(),
            has_recv: false,
        });
        // A registered name matched by its bytes is UTF-8; any other
        // command is checked here, as decoding the frame would have.
        let command = match own {
            Some(registered) => &*registered.name,
            None => Frame::command_text(command)?,
        };
        let registered = match route.target {
            Target::Handler => own,
            Target::Wildcard => wildcard,
            Target::NoHandler | Target::Nobody => None,
        };
        let Some(registered) = registered else {
            let name: Arc<str> = Arc::from(command);
            if let Some(message) = message {
                let ctx = event_context(&self.server, &self.info, name, frame.slice_ref(payload));
                self.jobs
                    .schedule(&self.server, &self.peer, message, &mut Some(ctx), 0);
            }
            if route.target == Target::NoHandler {
                let no_handler =
                    Rejection::new(ErrorCode::NoHandler, format!("no handler for {command:?}"));
                self.peer.respond(command, request_id, Err(no_handler));
            } else {
                tracing::debug!(command, "event without handler ignored");
            }
            return Ok(None);
        };
        // Only a request whose handler does not answer at once stays
        // outstanding (`Jobs` counts those); one past the limit closes the
        // connection.
        if request_id != NO_REQUEST {
            limits::admit_request(
                self.peer.control.requests_outstanding(),
                self.limits.max_pending_requests,
            )
            .map_err(ProtocolFault::from)?;
        }
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
        if route.target == Target::Wildcard {
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

    /// A client starts streaming a payload: if accepted, its handler runs
    /// at once, on its own task (it lasts as long as the transfer, and the
    /// client's other events must not wait for it), reading the chunks as
    /// they come.
    pub(super) fn on_stream_start(
        &mut self,
        stream_id: u64,
        command: &str,
        total_len: Option<u64>,
    ) -> Result<(), Error> {
        if command.len() > self.limits.max_command_len {
            return Err(self.limits.command_too_long().into());
        }
        let handlers = self.handlers();
        let opened =
            self.incoming
                .open(&self.peer.outbox, stream_id, command, total_len, &handlers)?;
        let Some((registered, incoming)) = opened else {
            return Ok(());
        };
        self.server.inner.counters.stream_in();
        let mut ctx = self.context(incoming.command_name(), Bytes::from_static(value::NIL));
        ctx.extra = Some(Box::new(Extra {
            stream: Mutex::new(Some(incoming)),
            ..Extra::default()
        }));
        self.schedule(&registered, ctx, 0);
        Ok(())
    }
}
