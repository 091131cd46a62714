//! What a server handler can ask for: the event and its sender.

use std::sync::Arc;

use bytes::Bytes;

use super::Server;
use crate::close::CloseReason;
use crate::dispatch::{EventContext, FromEvent, Rejection};
use crate::frame::ErrorCode;
use crate::info::{Change, ClientInfo};
use crate::platform::lock;
use crate::stream::IncomingStream;

/// The context of one event on the server. Handlers do not take it directly;
/// they take extractors built from it: `Data<T>`, [`ClientInfo`] (the
/// sender), [`Server`], [`Command`](crate::Command),
/// [`RawPayload`](crate::RawPayload), [`Change`] (in `name_change` and
/// `group_change`), [`CloseReason`] (in `leave`) and [`IncomingStream`]
/// (in handlers of streamed payloads).
pub struct ServerEvent {
    pub(crate) server: Server,
    pub(crate) client: ClientInfo,
    pub(crate) command: Arc<str>,
    pub(crate) payload: Bytes,
    /// What only reserved events and streamed payloads carry, boxed: an
    /// ordinary event's context stays small (it is built and moved for
    /// every event).
    pub(crate) extra: Option<Box<Extra>>,
}

/// The parts of a [`ServerEvent`] that ordinary events do not have.
#[derive(Default)]
pub(crate) struct Extra {
    pub(crate) change: Option<Change>,
    pub(crate) close: Option<CloseReason>,
    pub(crate) stream: std::sync::Mutex<Option<IncomingStream>>,
    /// The client's connection data, in `leave` (it has left the registry).
    pub(crate) extensions: Option<super::Extensions>,
}

impl ServerEvent {
    /// The extra parts, added if missing.
    pub(crate) fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }
}

impl EventContext for ServerEvent {
    fn command(&self) -> &Arc<str> {
        &self.command
    }

    fn payload(&self) -> &Bytes {
        &self.payload
    }
}

impl FromEvent<ServerEvent> for ClientInfo {
    fn from_event(ctx: &ServerEvent) -> Result<Self, Rejection> {
        Ok(ctx.client.clone())
    }
}

impl FromEvent<ServerEvent> for Server {
    fn from_event(ctx: &ServerEvent) -> Result<Self, Rejection> {
        Ok(ctx.server.clone())
    }
}

impl FromEvent<ServerEvent> for Change {
    fn from_event(ctx: &ServerEvent) -> Result<Self, Rejection> {
        ctx.extra
            .as_ref()
            .and_then(|e| e.change.clone())
            .ok_or_else(|| {
                Rejection::new(
                    ErrorCode::HandlerFailed,
                    "Change is only available in name_change and group_change handlers",
                )
            })
    }
}

impl FromEvent<ServerEvent> for CloseReason {
    fn from_event(ctx: &ServerEvent) -> Result<Self, Rejection> {
        ctx.extra
            .as_ref()
            .and_then(|e| e.close.clone())
            .ok_or_else(|| {
                Rejection::new(
                    ErrorCode::HandlerFailed,
                    "CloseReason is only available in leave handlers",
                )
            })
    }
}

impl FromEvent<ServerEvent> for IncomingStream {
    fn from_event(ctx: &ServerEvent) -> Result<Self, Rejection> {
        ctx.extra
            .as_ref()
            .and_then(|e| lock(&e.stream).take())
            .ok_or_else(|| {
                Rejection::new(
                    ErrorCode::BadPayload,
                    format!(
                        "{:?} expects a streamed payload (send_stream), got a plain event",
                        ctx.command
                    ),
                )
            })
    }
}
