//! The client's typed-event methods (see [`crate::event`]): thin layers
//! over `send`, `request`, `on` and `recv` whose payload, reply and handler
//! types come from the event's declaration.

use std::borrow::Borrow;
use std::time::Duration;

use super::context::ClientEvent;
use super::{Client, ClientOptions};
use crate::dispatch::{ForEvent, Handler, On};
use crate::error::Result;
use crate::event::{ToClient, ToServer};

impl Client {
    /// Sends the typed event `E` (see [`send`](Self::send) for when it
    /// returns and its errors).
    ///
    /// ```
    /// # async fn demo(client: hisock::Client) -> hisock::Result<()> {
    /// hisock::events! {
    ///     pub Chat { to_server { Say("say"): String } to_client {} }
    /// }
    /// client.send_event(Say, "hello".to_string()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_event<E: ToServer>(
        &self,
        _event: E,
        payload: impl Borrow<E::Payload>,
    ) -> Result<()> {
        self.send(E::NAME, payload.borrow()).await
    }

    /// Asks the server with the typed event `E` and waits up to `timeout`
    /// for its reply (see [`request`](Self::request) for the errors).
    pub async fn request_event<E: ToServer>(
        &self,
        _event: E,
        payload: impl Borrow<E::Payload>,
        timeout: Duration,
    ) -> Result<E::Reply> {
        self.request(E::NAME, payload.borrow(), timeout).await
    }

    /// Registers `handler` for the typed event `E`: its first argument is
    /// the payload (then up to four extractors, as with [`on`](Self::on));
    /// its return value, `E::Reply` or a `Result` of it, answers the
    /// server's requests. The same caveat as [`on`](Self::on) applies to
    /// events sent at join: register those in
    /// [`ClientOptions::on_event`].
    pub fn on_event<E: ToClient, Args: 'static, H>(&self, event: E, handler: H) -> &Self
    where
        ForEvent<E, H>: Handler<ClientEvent, Args>,
    {
        self.on_with(E::NAME, On::new(), ForEvent::new(event, handler))
    }

    /// Waits up to `timeout` for the next typed event `E` that no handler
    /// took (see [`recv`](Self::recv)).
    pub async fn recv_event<E: ToClient>(
        &self,
        _event: E,
        timeout: Duration,
    ) -> Result<E::Payload> {
        self.recv(E::NAME, timeout).await
    }
}

impl ClientOptions {
    /// Installs a handler of the typed event `E` before connecting (see
    /// [`Client::on_event`]).
    pub fn on_event<E: ToClient, Args: 'static, H>(self, event: E, handler: H) -> Self
    where
        ForEvent<E, H>: Handler<ClientEvent, Args>,
    {
        self.on_with(E::NAME, On::new(), ForEvent::new(event, handler))
    }
}
