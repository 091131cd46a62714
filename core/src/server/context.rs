//! What a server handler can ask for: the event and its sender.

use std::sync::Arc;

use bytes::Bytes;

use super::Server;
use crate::close::CloseReason;
use crate::dispatch::{EventContext, FromEvent, Rejection};
use crate::frame::ErrorCode;
use crate::info::{Change, ClientInfo};

/// The context of one event on the server. Handlers do not take it directly;
/// they take extractors built from it: `Data<T>`, [`ClientInfo`] (the
/// sender), [`Server`], [`Command`](crate::Command),
/// [`RawPayload`](crate::RawPayload), [`Change`] (in `name_change` and
/// `group_change`) and [`CloseReason`] (in `leave`).
pub struct ServerEvent {
    pub(crate) server: Server,
    pub(crate) client: ClientInfo,
    pub(crate) command: Arc<str>,
    pub(crate) payload: Bytes,
    pub(crate) change: Option<Change>,
    pub(crate) close: Option<CloseReason>,
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
        ctx.change.clone().ok_or_else(|| {
            Rejection::new(
                ErrorCode::HandlerFailed,
                "Change is only available in name_change and group_change handlers",
            )
        })
    }
}

impl FromEvent<ServerEvent> for CloseReason {
    fn from_event(ctx: &ServerEvent) -> Result<Self, Rejection> {
        ctx.close.clone().ok_or_else(|| {
            Rejection::new(
                ErrorCode::HandlerFailed,
                "CloseReason is only available in leave handlers",
            )
        })
    }
}
