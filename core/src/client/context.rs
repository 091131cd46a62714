//! What a client handler can ask for.

use std::sync::Arc;

use bytes::Bytes;

use super::Client;
use crate::close::CloseReason;
use crate::dispatch::{EventContext, FromEvent, Rejection};
use crate::frame::ErrorCode;
use crate::info::{Change, ClientInfo};
use crate::platform::locks::lock;
use crate::stream::IncomingStream;

/// The context of one event on a client. Handlers take extractors built from
/// it: `Data<T>`, [`Client`], [`Command`](crate::Command),
/// [`RawPayload`](crate::RawPayload), [`ClientInfo`] (the other client, in
/// `client_connect`, `client_disconnect` and the change events), [`Change`],
/// [`CloseReason`] (in `force_disconnect`), [`Rejection`] (in
/// `rejected`) and [`ConnectionChange`](super::ConnectionChange) (in
/// `disconnected`, `reconnecting`, `reconnected`).
pub struct ClientEvent {
    pub(crate) client: Client,
    pub(crate) command: Arc<str>,
    pub(crate) payload: Bytes,
    pub(crate) other: Option<ClientInfo>,
    pub(crate) change: Option<Change>,
    pub(crate) close: Option<CloseReason>,
    pub(crate) rejection: Option<Rejection>,
    pub(crate) connection: Option<super::ConnectionChange>,
    pub(crate) stream: std::sync::Mutex<Option<IncomingStream>>,
}

impl EventContext for ClientEvent {
    fn command(&self) -> &Arc<str> {
        &self.command
    }

    fn payload(&self) -> &Bytes {
        &self.payload
    }
}

fn only_in(what: &str, events: &str) -> Rejection {
    Rejection::new(
        ErrorCode::HandlerFailed,
        format!("{what} is only available in {events} handlers"),
    )
}

impl FromEvent<ClientEvent> for Client {
    fn from_event(ctx: &ClientEvent) -> Result<Self, Rejection> {
        Ok(ctx.client.clone())
    }
}

impl FromEvent<ClientEvent> for ClientInfo {
    fn from_event(ctx: &ClientEvent) -> Result<Self, Rejection> {
        ctx.other
            .clone()
            .ok_or_else(|| only_in("ClientInfo", "client_connect/client_disconnect/change"))
    }
}

impl FromEvent<ClientEvent> for Change {
    fn from_event(ctx: &ClientEvent) -> Result<Self, Rejection> {
        ctx.change
            .clone()
            .ok_or_else(|| only_in("Change", "client_name_change/client_group_change"))
    }
}

impl FromEvent<ClientEvent> for CloseReason {
    fn from_event(ctx: &ClientEvent) -> Result<Self, Rejection> {
        ctx.close
            .clone()
            .ok_or_else(|| only_in("CloseReason", "force_disconnect"))
    }
}

impl FromEvent<ClientEvent> for Rejection {
    fn from_event(ctx: &ClientEvent) -> Result<Self, Rejection> {
        ctx.rejection
            .clone()
            .ok_or_else(|| only_in("Rejection", "rejected"))
    }
}

impl FromEvent<ClientEvent> for IncomingStream {
    fn from_event(ctx: &ClientEvent) -> Result<Self, Rejection> {
        lock(&ctx.stream)
            .take()
            .ok_or_else(|| only_in("IncomingStream", "streamed-payload"))
    }
}
