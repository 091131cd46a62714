//! The server's typed-event methods (see [`crate::event`]): thin layers
//! over `on`, `emit`, `emit_report`, `request` and the broadcast request
//! whose payload, reply and handler types come from the event's
//! declaration.
//!
//! What the compiler refuses (each of these fails to build; the same
//! lines with the declared types build, in the last block):
//!
//! ```compile_fail
//! # hisock::events! { pub Calc { to_server { Add("add"): i64 => i64 } to_client { Sum("sum"): i64 } } }
//! // The handler's payload argument is not the declared payload.
//! hisock::Server::new().on_event(Add, |n: String| async move { 0_i64 });
//! ```
//!
//! ```compile_fail
//! # hisock::events! { pub Calc { to_server { Add("add"): i64 => i64 } to_client { Sum("sum"): i64 } } }
//! // The handler's return value is not the declared reply.
//! hisock::Server::new().on_event(Add, |n: i64| async move { n.to_string() });
//! ```
//!
//! ```compile_fail
//! # hisock::events! { pub Calc { to_server { Add("add"): i64 => i64 } to_client { Sum("sum"): i64 } } }
//! // The server does not send events declared for clients to send.
//! hisock::Server::new().to_all().emit_event(Add, 1_i64);
//! ```
//!
//! ```
//! # hisock::events! { pub Calc { to_server { Add("add"): i64 => i64 } to_client { Sum("sum"): i64 } } }
//! # fn main() -> hisock::Result<()> {
//! let server = hisock::Server::new();
//! server.on_event(Add, |n: i64| async move { n + 1 });
//! server.to_all().emit_event(Sum, 1_i64)?;
//! # Ok(()) }
//! ```

use std::borrow::Borrow;
use std::time::Duration;

use super::{Emit, EmitReport, Replies, Server, ServerEvent};
use crate::dispatch::{ForEvent, Handler, On};
use crate::error::Result;
use crate::event::{ToClient, ToServer};

impl Server {
    /// Registers `handler` for the typed event `E`: its first argument is
    /// the payload, decoded as `E::Payload` (a payload that does not fit
    /// is answered with `BadPayload`, as for `Data<T>`), then up to four
    /// extractors as with [`on`](Self::on); it returns `E::Reply`, or a
    /// `Result` of it, which answers requests.
    ///
    /// ```
    /// use hisock::{ClientInfo, Server};
    /// hisock::events! {
    ///     pub Counter { to_server { Add("add"): i64 => i64 } to_client {} }
    /// }
    /// let server = Server::new();
    /// server.on_event(Add, |n: i64, from: ClientInfo| async move {
    ///     n + from.id() as i64
    /// });
    /// ```
    pub fn on_event<E: ToServer, Args: 'static, H>(&self, event: E, handler: H) -> &Self
    where
        ForEvent<E, H>: Handler<ServerEvent, Args>,
    {
        self.on_with(E::NAME, On::new(), ForEvent::new(event, handler))
    }

    /// Like [`on_event`](Self::on_event), with options (threaded).
    pub fn on_event_with<E: ToServer, Args: 'static, H>(
        &self,
        event: E,
        on: On,
        handler: H,
    ) -> &Self
    where
        ForEvent<E, H>: Handler<ServerEvent, Args>,
    {
        self.on_with(E::NAME, on, ForEvent::new(event, handler))
    }

    /// Asks client `id` with the typed event `E` and waits up to `timeout`
    /// for its reply (see [`request`](Self::request) for the errors).
    pub async fn request_event<E: ToClient>(
        &self,
        id: u64,
        _event: E,
        payload: impl Borrow<E::Payload>,
        timeout: Duration,
    ) -> Result<E::Reply> {
        self.request(id, E::NAME, payload.borrow(), timeout).await
    }
}

impl Emit<'_> {
    /// Sends the typed event `E` to every recipient (see
    /// [`emit`](Self::emit)).
    pub fn emit_event<E: ToClient>(
        self,
        _event: E,
        payload: impl Borrow<E::Payload>,
    ) -> Result<usize> {
        self.emit(E::NAME, payload.borrow())
    }

    /// Like [`emit_event`](Self::emit_event), reporting each recipient's
    /// outcome (see [`emit_report`](Self::emit_report)).
    pub fn emit_event_report<E: ToClient>(
        self,
        _event: E,
        payload: impl Borrow<E::Payload>,
    ) -> Result<EmitReport> {
        self.emit_report(E::NAME, payload.borrow())
    }

    /// Asks every recipient with the typed event `E` at once (see
    /// [`request`](Self::request)).
    pub async fn request_event<E: ToClient>(
        self,
        _event: E,
        payload: impl Borrow<E::Payload>,
        timeout: Duration,
    ) -> Result<Replies<E::Reply>> {
        self.request(E::NAME, payload.borrow(), timeout).await
    }
}
