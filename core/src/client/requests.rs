//! What a client asks and waits for: requests and their replies, the
//! server-answered requests (name and group changes, look-ups, lists) and
//! `recv`. Timeouts of requests are the shared deadline mechanism of
//! [`PendingRequests`](crate::pending::PendingRequests).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::inbox::{Ask, Message};
use super::{lock, with_timeout, Client};
use crate::error::{Error, Result};
use crate::frame::{Frame, LookupKey};
use crate::info::ClientInfo;
use crate::protocol::limits::{self, Limit};
use crate::value;

impl Client {
    /// Sends a request and waits up to `timeout` for the server handler's
    /// return value, decoded as `R`.
    ///
    /// Errors: [`Error::Timeout`], [`Error::Remote`] (no handler, bad
    /// payload, handler failed), [`Error::Decode`], [`Error::Closed`],
    /// [`Error::LimitExceeded`] when
    /// [`ClientOptions::max_pending_requests`](super::ClientOptions::max_pending_requests)
    /// requests are outstanding already (nothing is sent).
    ///
    /// A zero `timeout` fails at once with [`Error::Timeout`], and nothing
    /// is sent: a reply could never be waited for, and the server would
    /// run the handler for nobody. (To send without waiting for an answer,
    /// use [`send`](Self::send).)
    pub async fn request<R: DeserializeOwned, T: Serialize>(
        &self,
        command: &str,
        payload: T,
        timeout: Duration,
    ) -> Result<R> {
        let payload = value::encode(&payload)?;
        let reply = self.request_raw(command, &payload, timeout).await?;
        value::decode(&reply)
    }

    /// Like [`request`](Self::request) with raw MessagePack in and out.
    pub async fn request_raw(
        &self,
        command: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Bytes> {
        self.check_command(command)?;
        self.round_trip(timeout, |request_id| {
            Frame::Event {
                command,
                request_id,
                payload,
            }
            .encode()
        })
        .await
    }

    /// Sends a frame carrying a fresh request id and awaits its answer.
    /// Only the framing is generic: the waiting is one function that every
    /// kind of request shares (one copy of its state machine, which keeps
    /// the browser build small).
    pub(super) fn round_trip(
        &self,
        timeout: Duration,
        make: impl FnOnce(u64) -> Bytes,
    ) -> impl Future<Output = Result<Bytes>> + '_ {
        let registered = self.register_request(timeout);
        // On a refusal the frame is made (for id 0) but never sent: the
        // generic part of every kind of request stays this small.
        let request_id = registered.as_ref().map_or(0, |(id, _)| *id);
        self.await_reply(registered, make(request_id))
    }

    /// Registers a request, unless nothing should be sent: with no time to
    /// answer (the server would run the handler for a caller already
    /// gone), or past the limit of outstanding requests (the server would
    /// close the connection for it). The connection loop enforces the
    /// timeout (one timer for all requests): a request registers no timer
    /// of its own.
    fn register_request(&self, timeout: Duration) -> Result<crate::pending::Registration> {
        if timeout.is_zero() {
            return Err(Error::Timeout(timeout));
        }
        let mut pending = lock(&self.shared.pending);
        limits::admit_request(pending.len(), self.shared.max_pending_requests)
            .map_err(Error::LimitExceeded)?;
        Ok(pending.register_with_timeout(timeout, self.shared.clock.now()))
    }

    async fn await_reply(
        &self,
        registered: Result<crate::pending::Registration>,
        frame: Bytes,
    ) -> Result<Bytes> {
        let (request_id, rx) = registered?;
        let sent = match self.check_frame_len(frame.len()) {
            Ok(()) => self.push(frame).await,
            Err(err) => Err(err),
        };
        if let Err(err) = sent {
            lock(&self.shared.pending).cancel(request_id);
            return Err(err);
        }
        match rx.await {
            Ok(result) => result,
            Err(_) => Err(Error::Closed(self.close_reason())),
        }
    }

    /// Waits up to `timeout` for the next event of `command` and decodes it
    /// as `T` (HiSock's `recv`). An event that arrived earlier and was not
    /// taken by a handler is returned at once, so `send` then `recv` never
    /// misses a fast answer. While a `recv` waits for a command, it takes
    /// that command's events ahead of its handler.
    ///
    /// Errors: [`Error::Timeout`], [`Error::Decode`], [`Error::Closed`].
    pub async fn recv<T: DeserializeOwned>(&self, command: &str, timeout: Duration) -> Result<T> {
        self.recv_message(Some(command), timeout).await?.data()
    }

    /// Like [`recv`](Self::recv), returning the event undecoded (its
    /// payload is raw MessagePack).
    pub fn recv_raw<'a>(
        &'a self,
        command: &'a str,
        timeout: Duration,
    ) -> impl Future<Output = Result<Message>> + 'a {
        // No `async` wrapper: the future is `recv_message`'s own, shared
        // with `recv_any` (one state machine in the browser build).
        self.recv_message(Some(command), timeout)
    }

    /// Waits up to `timeout` for the next event that no handler took, of
    /// any command.
    pub fn recv_any(&self, timeout: Duration) -> impl Future<Output = Result<Message>> + '_ {
        self.recv_message(None, timeout)
    }

    async fn recv_message(&self, command: Option<&str>, timeout: Duration) -> Result<Message> {
        let (id, rx) = match lock(&self.shared.inbox).ask(command) {
            Ask::Ready(delivery) => return delivery.map_err(Error::Closed),
            Ask::Wait(id, rx) => (id, rx),
        };
        match with_timeout(self.shared.clock, timeout, rx).await {
            Some(Ok(delivery)) => delivery.map_err(Error::Closed),
            Some(Err(_)) => Err(Error::Closed(self.close_reason())),
            None => {
                lock(&self.shared.inbox).forget(id);
                Err(Error::Timeout(timeout))
            }
        }
    }

    /// The last received events (up to the configured cache size), oldest
    /// first.
    pub fn recent_messages(&self) -> Vec<Message> {
        lock(&self.shared.inbox).recent()
    }

    pub(super) const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

    /// Changes this client's name (`None` clears it). The server and every
    /// other client see the change. Returns once the server confirmed it.
    ///
    /// Errors: [`Error::LimitExceeded`] for a name longer than
    /// [`ClientOptions::max_name_len`](super::ClientOptions::max_name_len)
    /// (nothing is sent), and those of [`request`](Self::request).
    pub async fn change_name(&self, name: Option<&str>) -> Result<()> {
        limits::check_local(Limit::NameLen, name, self.shared.max_name_len)?;
        self.round_trip(Self::ADMIN_TIMEOUT, |request_id| {
            Frame::SetName { request_id, name }.encode()
        })
        .await?;
        lock(&self.shared.identity).name = name.map(str::to_owned);
        Ok(())
    }

    /// Changes this client's group (`None` leaves its group).
    ///
    /// Errors: [`Error::LimitExceeded`] for a group name longer than
    /// [`ClientOptions::max_group_len`](super::ClientOptions::max_group_len)
    /// (nothing is sent), and those of [`request`](Self::request).
    pub async fn change_group(&self, group: Option<&str>) -> Result<()> {
        limits::check_local(Limit::GroupLen, group, self.shared.max_group_len)?;
        self.round_trip(Self::ADMIN_TIMEOUT, |request_id| {
            Frame::SetGroup { request_id, group }.encode()
        })
        .await?;
        lock(&self.shared.identity).group = group.map(str::to_owned);
        Ok(())
    }

    async fn lookup(&self, by: LookupKey<'_>) -> Result<Option<ClientInfo>> {
        value::decode(&self.lookup_raw(by).await?)
    }

    /// Asks the server about one client and returns its answer undecoded:
    /// MessagePack of a `ClientInfo` map (`{id, name, group, addr,
    /// transport}`) or nil when there is no such client. For front-ends
    /// that decode payloads themselves (the browser's JS API).
    pub async fn lookup_raw(&self, by: LookupKey<'_>) -> Result<Bytes> {
        self.round_trip(Self::ADMIN_TIMEOUT, |request_id| {
            Frame::Lookup { request_id, by }.encode()
        })
        .await
    }

    /// Asks the server about the client with this id.
    pub async fn client_by_id(&self, id: u64) -> Result<Option<ClientInfo>> {
        self.lookup(LookupKey::Id(id)).await
    }

    /// Asks the server about the first client with this name.
    pub async fn client_by_name(&self, name: &str) -> Result<Option<ClientInfo>> {
        self.lookup(LookupKey::Name(name)).await
    }

    /// Asks the server about the client at this address.
    pub async fn client_by_addr(&self, addr: SocketAddr) -> Result<Option<ClientInfo>> {
        let addr = addr.to_string();
        self.lookup(LookupKey::Addr(&addr)).await
    }

    /// Asks the server for all clients, or one group's.
    pub async fn list_clients(&self, group: Option<&str>) -> Result<Vec<ClientInfo>> {
        value::decode(&self.list_clients_raw(group).await?)
    }

    /// Like [`list_clients`](Self::list_clients), returning the server's
    /// answer undecoded: MessagePack of an array of `ClientInfo` maps.
    pub async fn list_clients_raw(&self, group: Option<&str>) -> Result<Bytes> {
        self.round_trip(Self::ADMIN_TIMEOUT, |request_id| {
            Frame::ListClients { request_id, group }.encode()
        })
        .await
    }
}
