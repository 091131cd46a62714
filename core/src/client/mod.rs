//! The client: connects through any transport, sends events, runs handlers,
//! awaits replies. Runtime-agnostic: [`Client::handshake`] returns the
//! client and a [`Driver`] future that the caller spawns on its runtime
//! (`tokio::spawn` natively, `wasm_bindgen_futures::spawn_local` in the
//! browser). Timeouts use `futures-timer`, which works on both.

mod context;
mod driver;
mod inbox;
mod options;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use event_listener::Event;
use futures::task::AtomicWaker;
use futures::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use context::ClientEvent;
pub use inbox::Message;
pub use options::ClientOptions;

use crate::close::{codes, CloseReason};
use crate::dispatch::{erase, Handler, HandlerTable, On, SharedHandlers};
use crate::error::{Error, Result};
use crate::frame::{Frame, LookupKey, NO_REQUEST, PROTOCOL_VERSION};
use crate::info::ClientInfo;
use crate::outbox::{Outbox, PushError};
use crate::pending::PendingRequests;
use crate::transport::{BoxFuture, Connection, TransportKind};
use crate::value;
use inbox::{Ask, Inbox};

/// Reserved event names on the client.
pub mod reserved {
    /// Another client joined the server. Extractors: `ClientInfo`.
    pub const CLIENT_CONNECT: &str = "client_connect";
    /// Another client left. Extractors: `ClientInfo`.
    pub const CLIENT_DISCONNECT: &str = "client_disconnect";
    /// Another client changed its name. Extractors: `ClientInfo`, `Change`.
    pub const CLIENT_NAME_CHANGE: &str = "client_name_change";
    /// Another client changed its group. Extractors: `ClientInfo`, `Change`.
    pub const CLIENT_GROUP_CHANGE: &str = "client_group_change";
    /// The server closed this connection (kicked, shutting down, keepalive,
    /// protocol error). Extractors: `CloseReason`.
    pub const FORCE_DISCONNECT: &str = "force_disconnect";
    /// Every event from the server, before its own handler. Extractors:
    /// `Command`, `Data<T>`, `RawPayload`.
    pub const MESSAGE: &str = "message";
    /// The server could not handle an event this client sent (no request id,
    /// so there was nobody to answer). Extractors: `Command`, `Rejection`.
    pub const REJECTED: &str = "rejected";
    /// Events whose command has no handler.
    pub const WILDCARD: &str = crate::dispatch::WILDCARD;
    /// All of the above.
    pub const ALL: &[&str] = &[
        CLIENT_CONNECT,
        CLIENT_DISCONNECT,
        CLIENT_NAME_CHANGE,
        CLIENT_GROUP_CHANGE,
        FORCE_DISCONNECT,
        MESSAGE,
        REJECTED,
        WILDCARD,
    ];
    /// The events that presence notices feed: a client without a handler
    /// for any of them tells the server not to send it presence notices.
    pub(crate) const PRESENCE: &[&str] = &[
        CLIENT_CONNECT,
        CLIENT_DISCONNECT,
        CLIENT_NAME_CHANGE,
        CLIENT_GROUP_CHANGE,
    ];
}

/// The client's own identity, as the server recorded it.
#[derive(Debug, Clone)]
struct Identity {
    id: u64,
    name: Option<String>,
    group: Option<String>,
}

/// Session parameters from the server's welcome.
#[derive(Debug, Clone, Copy)]
pub struct SessionParams {
    /// How often the server pings; `None` when it does not.
    pub keepalive_interval: Option<Duration>,
    /// How long the server tolerates silence.
    pub keepalive_timeout: Option<Duration>,
    /// The largest frame the server accepts.
    pub max_frame_len: usize,
}

pub(crate) struct Shared {
    outbox: Arc<Outbox>,
    /// Where this client's small event frames are encoded.
    frame_block: crate::frame::FrameBlock,
    outgoing: crate::stream::OutgoingStreams,
    max_stream_len: u64,
    handlers: SharedHandlers<ClientEvent>,
    inbox: Mutex<Inbox>,
    pending: Mutex<PendingRequests>,
    /// Held while the handler table changes, so that declining and
    /// re-enabling presence notices reach the server in the right order.
    presence: Mutex<PresenceInterest>,
    identity: Mutex<Identity>,
    session: SessionParams,
    local_addr: Option<SocketAddr>,
    server_addr: Option<SocketAddr>,
    seen_addr: Option<SocketAddr>,
    transport: TransportKind,
    handler_queue_len: usize,
    /// Set by `close` to end the reader.
    stop: AtomicBool,
    stop_waker: AtomicWaker,
    close_reason: Mutex<Option<CloseReason>>,
    /// Set by the driver when it has finished.
    finished: AtomicBool,
    closed: Event,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A connected client. Cheap to clone; all clones share one connection.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

/// Drives a client's connection: reads frames, runs handlers, writes the
/// outgoing queue. Spawn it on your runtime; it finishes when the connection
/// ends.
#[must_use = "the client does nothing until its driver is spawned"]
pub struct Driver {
    fut: BoxFuture<'static, ()>,
}

impl Future for Driver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.fut.as_mut().poll(cx)
    }
}

/// Presence notices a client takes without a handler for any of them
/// before it asks the server to stop sending them. Not at the first one:
/// handlers registered right after connecting (as JavaScript code does)
/// would otherwise race the request back on.
pub(crate) const PRESENCE_DECLINE_AFTER: u32 = 16;

/// Whether this client asked the server to stop presence notices.
#[derive(Default)]
pub(crate) struct PresenceInterest {
    /// Notices taken without a handler since connecting.
    unhandled: u32,
    /// The server was told `PresenceInterest { wanted: false }`.
    declined: bool,
}

/// True when the table has a handler that presence notices feed.
pub(crate) fn wants_presence(table: &HandlerTable<ClientEvent>) -> bool {
    reserved::PRESENCE
        .iter()
        .any(|name| table.reserved(name).is_some())
}

/// Waits for `fut` at most `timeout`.
pub(crate) async fn with_timeout<F: Future>(timeout: Duration, fut: F) -> Option<F::Output> {
    // A poll_fn rather than `select`: no `Either` of both outputs to build
    // and take apart (smaller in the browser build).
    let mut fut = std::pin::pin!(fut);
    let mut delay = crate::timer::Delay::new(timeout);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        Pin::new(&mut delay).poll(cx).map(|()| None)
    })
    .await
}

impl Client {
    /// Performs the handshake over an established connection: sends the
    /// hello, waits for the welcome. Returns the client and the driver to
    /// spawn. Register handlers on the client before spawning the driver (or
    /// in the options) to be sure to see the very first events.
    ///
    /// Errors: [`Error::Refused`] with the server's code and reason,
    /// [`Error::Timeout`], [`Error::Closed`] if the server hung up,
    /// [`Error::Transport`], [`Error::Protocol`] for an unexpected answer.
    pub async fn handshake(conn: Connection, options: ClientOptions) -> Result<(Client, Driver)> {
        let Connection {
            mut stream,
            mut sink,
            peer_addr,
            local_addr,
            kind,
        } = conn;
        let hello = Frame::Hello {
            version: PROTOCOL_VERSION,
            name: options.name.as_deref(),
            group: options.group.as_deref(),
            auth: options.auth.as_deref(),
        }
        .encode();
        sink.send(hello).await?;
        let first = with_timeout(options.handshake_timeout, stream.next())
            .await
            .ok_or(Error::Timeout(options.handshake_timeout))?;
        let bytes = match first {
            None => {
                return Err(Error::Closed(CloseReason::new(
                    codes::ABNORMAL,
                    "server closed the connection during the handshake",
                )))
            }
            Some(frame) => frame?,
        };
        let (identity, session, seen_addr) = match Frame::decode(&bytes)? {
            Frame::Welcome {
                client_id,
                name,
                group,
                keepalive_interval_ms,
                keepalive_timeout_ms,
                max_frame_len,
                addr,
            } => (
                Identity {
                    id: client_id,
                    name: name.map(str::to_owned),
                    group: group.map(str::to_owned),
                },
                SessionParams {
                    keepalive_interval: (keepalive_interval_ms > 0)
                        .then(|| Duration::from_millis(keepalive_interval_ms.into())),
                    keepalive_timeout: (keepalive_timeout_ms > 0)
                        .then(|| Duration::from_millis(keepalive_timeout_ms.into())),
                    max_frame_len: max_frame_len as usize,
                },
                addr.and_then(crate::addr::parse_socket_addr),
            ),
            Frame::Refuse { code, reason } => {
                return Err(Error::Refused(CloseReason::new(code, reason)))
            }
            Frame::Close { code, reason, .. } => {
                return Err(Error::Closed(CloseReason::new(code, reason)))
            }
            other => {
                return Err(Error::Protocol(format!(
                    "expected welcome, got {}",
                    other.kind_name()
                )))
            }
        };
        // In the browser nothing is Send and there is one thread; the Arc is
        // for sharing between the handle and the driver, not across threads.
        #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
        let shared = Arc::new(Shared {
            outbox: Arc::new(Outbox::new(options.outbox_limit)),
            frame_block: Default::default(),
            outgoing: Default::default(),
            max_stream_len: options.max_stream_len,
            handlers: SharedHandlers::new(options.handlers),
            inbox: Mutex::new(Inbox::new(options.unhandled_limit, options.cache_size)),
            pending: Mutex::new(PendingRequests::new()),
            presence: Mutex::new(PresenceInterest::default()),
            identity: Mutex::new(identity),
            session,
            local_addr,
            server_addr: peer_addr,
            seen_addr,
            transport: kind,
            handler_queue_len: options.handler_queue_len,
            stop: AtomicBool::new(false),
            stop_waker: AtomicWaker::new(),
            close_reason: Mutex::new(None),
            finished: AtomicBool::new(false),
            closed: Event::new(),
        });
        let client = Client { shared };
        let driver = Driver {
            fut: Box::pin(driver::drive(client.clone(), stream, sink)),
        };
        Ok((client, driver))
    }

    /// Registers `handler` for `command` or a reserved event
    /// ("client_connect", "client_disconnect", "client_name_change",
    /// "client_group_change", "force_disconnect", "message", "rejected",
    /// "*"). A handler's return value answers server requests.
    pub fn on<Args: 'static, H: Handler<ClientEvent, Args>>(
        &self,
        command: &str,
        handler: H,
    ) -> &Self {
        self.on_with(command, On::new(), handler)
    }

    /// Registers a handler with options (threaded, override a reserved name).
    pub fn on_with<Args: 'static, H: Handler<ClientEvent, Args>>(
        &self,
        command: &str,
        on: On,
        handler: H,
    ) -> &Self {
        let mut handler = Some(erase(handler));
        self.update_handlers(&mut |table| {
            if let Some(handler) = handler.take() {
                table.insert(command, handler, on);
            }
        });
        self
    }

    /// Removes the handler for `command`. True if there was one.
    pub fn off(&self, command: &str) -> bool {
        let mut removed = false;
        self.update_handlers(&mut |table| removed = table.remove(command));
        removed
    }

    /// Changes the handler table; when the client had declined presence
    /// notices and now has a handler for them, asks for them again. (Not
    /// generic: one copy in the browser build.)
    fn update_handlers(&self, change: &mut dyn FnMut(&mut HandlerTable<ClientEvent>)) {
        let mut presence = lock(&self.shared.presence);
        let mut wanted = false;
        self.shared.handlers.update_with(&mut |table| {
            change(table);
            wanted = wants_presence(table);
        });
        if presence.declined && wanted {
            *presence = PresenceInterest::default();
            let frame = Frame::PresenceInterest { wanted: true }.encode();
            self.shared.outbox.force_push(frame);
        }
    }

    /// The connection loop took a presence notice that no handler wanted.
    /// After [`PRESENCE_DECLINE_AFTER`] of them the server is asked to stop
    /// sending them (a server with many clients would otherwise send each
    /// client every other one's comings and goings).
    pub(crate) fn unhandled_presence_notice(&self) {
        let mut presence = lock(&self.shared.presence);
        if presence.declined || wants_presence(&self.shared.handlers.current()) {
            return;
        }
        presence.unhandled += 1;
        if presence.unhandled >= PRESENCE_DECLINE_AFTER {
            presence.declined = true;
            let frame = Frame::PresenceInterest { wanted: false }.encode();
            self.shared.outbox.force_push(frame);
        }
    }

    /// This client's id on the server.
    pub fn id(&self) -> u64 {
        lock(&self.shared.identity).id
    }

    /// This client's current name.
    pub fn name(&self) -> Option<String> {
        lock(&self.shared.identity).name.clone()
    }

    /// This client's current group.
    pub fn group(&self) -> Option<String> {
        lock(&self.shared.identity).group.clone()
    }

    /// The local address of the connection, where the transport knows it.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.shared.local_addr
    }

    /// The server's address, where the transport knows it.
    pub fn server_addr(&self) -> Option<SocketAddr> {
        self.shared.server_addr
    }

    /// This client's address as the server sees it.
    pub fn addr_seen_by_server(&self) -> Option<SocketAddr> {
        self.shared.seen_addr
    }

    /// The transport this client uses.
    pub fn transport(&self) -> TransportKind {
        self.shared.transport
    }

    /// The session parameters the server announced.
    pub fn session(&self) -> SessionParams {
        self.shared.session
    }

    async fn push(&self, frame: Bytes) -> Result<()> {
        // Usually there is room at once. Natively, waiting for room is
        // boxed, so that this future, created and moved for every event,
        // stays small (the browser build keeps the smaller code).
        #[cfg(not(target_arch = "wasm32"))]
        let pushed = match self.shared.outbox.offer(frame) {
            Err((PushError::Full { .. }, frame)) => Box::pin(self.shared.outbox.push(frame)).await,
            other => other.map_err(|(err, _)| err),
        };
        #[cfg(target_arch = "wasm32")]
        let pushed = self.shared.outbox.push(frame).await;
        match pushed {
            Ok(()) => Ok(()),
            Err(PushError::Closed) => Err(Error::Closed(self.close_reason())),
            Err(PushError::Full { queued, limit }) => Err(Error::QueueFull { queued, limit }),
        }
    }

    fn check_frame_len(&self, len: usize) -> Result<()> {
        let max = self.shared.session.max_frame_len;
        if len > max {
            return Err(Error::Transport(crate::TransportError::FrameTooBig {
                len,
                max,
            }));
        }
        Ok(())
    }

    /// Sends `command` with `payload` to the server. Waits only while the
    /// outgoing queue is full; returns once the event is queued. Everything
    /// queued is written before [`close`](Self::close) finishes.
    ///
    /// Errors: [`Error::Encode`], [`Error::Closed`], and
    /// [`Error::Transport`] with `FrameTooBig` when the frame exceeds the
    /// server's limit (checked here, so the connection is not lost).
    pub async fn send<T: Serialize + ?Sized>(&self, command: &str, payload: &T) -> Result<()> {
        // The payload is encoded straight into the frame's only buffer.
        let frame = value::with_encoded(payload, |payload| {
            self.shared.frame_block.encode(&Frame::Event {
                command,
                request_id: NO_REQUEST,
                payload,
            })
        })?;
        self.check_frame_len(frame.len())?;
        self.push(frame).await
    }

    /// Like [`send`](Self::send) with an already-encoded MessagePack payload.
    pub async fn send_raw(&self, command: &str, payload: &[u8]) -> Result<()> {
        let frame = self.shared.frame_block.encode(&Frame::Event {
            command,
            request_id: NO_REQUEST,
            payload,
        });
        self.check_frame_len(frame.len())?;
        self.push(frame).await
    }

    /// Streams a large payload to the server under `command`: chunks that
    /// interleave with this client's other events, with at most the
    /// window's worth of bytes unconsumed by the server (see
    /// [`crate::stream`]). `source` is any stream of byte chunks (a
    /// `tokio_util::io::ReaderStream` over a file, for example). Returns once
    /// the server's handler has consumed all of it.
    ///
    /// Errors: [`Error::Remote`] when the server has no handler, refuses the
    /// size ([`ErrorCode::TooLarge`](crate::ErrorCode::TooLarge)) or drops
    /// the stream; [`Error::Closed`]; [`Error::Handler`] when `source` fails
    /// (the server then gets an error, never a short payload).
    pub async fn send_stream<S, E>(
        &self,
        command: &str,
        source: S,
        options: crate::stream::StreamOptions,
    ) -> Result<()>
    where
        S: futures::Stream<Item = std::result::Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        // A chunk frame must fit the server's frame limit.
        let max_chunk = self.shared.session.max_frame_len.saturating_sub(64).max(1);
        let chunk_size = options.chunk_size.min(max_chunk);
        let options = options.chunk_size(chunk_size);
        crate::stream::send_stream(
            &self.shared.outbox,
            &self.shared.outgoing,
            command,
            source,
            options,
        )
        .await
    }

    /// Streams one in-memory payload (see [`send_stream`](Self::send_stream));
    /// the chunks are slices of `payload`, not copies.
    pub async fn send_bytes_streamed(
        &self,
        command: &str,
        payload: Bytes,
        options: crate::stream::StreamOptions,
    ) -> Result<()> {
        let options = options.total_len(payload.len() as u64);
        let source = futures::stream::iter([Ok::<_, std::convert::Infallible>(payload)]);
        self.send_stream(command, source, options).await
    }

    /// Sends a request and waits up to `timeout` for the server handler's
    /// return value, decoded as `R`.
    ///
    /// Errors: [`Error::Timeout`], [`Error::Remote`] (no handler, bad
    /// payload, handler failed), [`Error::Decode`], [`Error::Closed`].
    pub async fn request<R: DeserializeOwned, T: Serialize + ?Sized>(
        &self,
        command: &str,
        payload: &T,
        timeout: Duration,
    ) -> Result<R> {
        let payload = value::encode(payload)?;
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
    fn round_trip(
        &self,
        timeout: Duration,
        make: impl FnOnce(u64) -> Bytes,
    ) -> impl Future<Output = Result<Bytes>> + '_ {
        // The connection loop enforces the timeout (one timer for all
        // requests): a request registers no timer of its own.
        let (request_id, rx) = lock(&self.shared.pending).register_with_timeout(timeout);
        self.await_reply(request_id, rx, make(request_id))
    }

    async fn await_reply(
        &self,
        request_id: u64,
        rx: futures::channel::oneshot::Receiver<crate::pending::ReplyResult>,
        frame: Bytes,
    ) -> Result<Bytes> {
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
        match with_timeout(timeout, rx).await {
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

    const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

    /// Changes this client's name (`None` clears it). The server and every
    /// other client see the change. Returns once the server confirmed it.
    pub async fn change_name(&self, name: Option<&str>) -> Result<()> {
        self.round_trip(Self::ADMIN_TIMEOUT, |request_id| {
            Frame::SetName { request_id, name }.encode()
        })
        .await?;
        lock(&self.shared.identity).name = name.map(str::to_owned);
        Ok(())
    }

    /// Changes this client's group (`None` leaves its group).
    pub async fn change_group(&self, group: Option<&str>) -> Result<()> {
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

    /// Closes the connection: everything queued is written, then a close
    /// frame; the server runs its `leave` handler. Returns when the
    /// connection is closed (at most a few seconds if the server does not
    /// answer).
    pub fn close(&self) -> impl Future<Output = ()> + '_ {
        // No `async` wrapper: both ways to close share one future type.
        self.close_with(true)
    }

    /// Closes like [`close`](Self::close) but asks the server not to run
    /// its `leave` handler (HiSock's `close(emit_leave=False)`). Other
    /// clients still see this client leave.
    pub fn close_without_leave(&self) -> impl Future<Output = ()> + '_ {
        self.close_with(false)
    }

    async fn close_with(&self, run_leave: bool) {
        let shared = &self.shared;
        {
            let mut reason = lock(&shared.close_reason);
            if reason.is_none() {
                *reason = Some(CloseReason::new(codes::NORMAL, "closed by client"));
            }
        }
        shared.outbox.close_with(Some(
            Frame::Close {
                code: codes::NORMAL,
                reason: "closed by client",
                run_leave,
            }
            .encode(),
        ));
        with_timeout(Duration::from_secs(5), shared.outbox.closed()).await;
        // Give the server a moment to hang up, then stop reading anyway.
        with_timeout(Duration::from_secs(2), self.closed()).await;
        shared.stop.store(true, Ordering::Release);
        shared.stop_waker.wake();
        self.closed().await;
    }

    /// True until the connection has ended.
    pub fn is_connected(&self) -> bool {
        !self.shared.outbox.is_closing()
    }

    /// Waits until the connection has ended and says why.
    pub async fn closed(&self) -> CloseReason {
        loop {
            let listener = self.shared.closed.listen();
            if self.shared.finished.load(Ordering::Acquire) {
                return self.close_reason();
            }
            listener.await;
        }
    }

    /// Why the connection ended, or a placeholder while it is open.
    fn close_reason(&self) -> CloseReason {
        lock(&self.shared.close_reason)
            .clone()
            .unwrap_or_else(|| CloseReason::new(codes::ABNORMAL, "connection closed"))
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let identity = lock(&self.shared.identity);
        f.debug_struct("Client")
            .field("id", &identity.id)
            .field("name", &identity.name)
            .field("group", &identity.group)
            .field("transport", &self.shared.transport)
            .finish()
    }
}
