//! The server: accepts clients from any number of listeners, runs handlers,
//! and sends events to one client, a group or everyone.
//!
//! Each connection runs on its own task: it reads frames, answers protocol
//! frames (pings, look-ups, name changes) itself, and runs handlers — in
//! order per client by default, concurrently for handlers registered with
//! [`On::threaded`]. A second task per connection writes the outgoing queue
//! in batches.

mod config;
mod connection;
mod context;
mod emit;
mod event_path;
mod goodbye;
mod jobs;
mod listener;
mod membership;
mod peer;
mod registry;
mod session;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::{ConnectionLimits, ServerConfig};
pub use context::ServerEvent;
pub use emit::Emit;
pub use listener::{Incoming, Listener};

use crate::close::{codes, CloseReason};
use crate::dispatch::{erase, Handler, HandlerTable, On, SharedHandlers};
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::info::ClientInfo;
use crate::platform::locks::{lock, read_lock, write_lock};
use crate::transport::{BoxFuture, Connection, TransportKind};
use crate::value;
use registry::{Kick, SharedRegistry};

/// Reserved event names on the server.
pub mod reserved {
    /// A client finished its handshake. Extractors: `ClientInfo`.
    pub const JOIN: &str = "join";
    /// A client left (closed, was disconnected, timed out). Extractors:
    /// `ClientInfo`, `CloseReason`.
    pub const LEAVE: &str = "leave";
    /// Every event from a client, before its own handler. Extractors:
    /// `ClientInfo`, `Command`, `Data<T>`, `RawPayload`.
    pub const MESSAGE: &str = "message";
    /// A client changed its name. Extractors: `ClientInfo` (after), `Change`.
    pub const NAME_CHANGE: &str = "name_change";
    /// A client changed its group. Extractors: `ClientInfo` (after), `Change`.
    pub const GROUP_CHANGE: &str = "group_change";
    /// Events whose command has no handler.
    pub const WILDCARD: &str = crate::dispatch::WILDCARD;
    /// All of the above.
    pub const ALL: &[&str] = &[JOIN, LEAVE, MESSAGE, NAME_CHANGE, GROUP_CHANGE, WILDCARD];
}

/// What the auth hook sees of a client asking to join.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    /// The name the client asks for.
    pub name: Option<String>,
    /// The group the client asks for.
    pub group: Option<String>,
    /// The client's address.
    pub addr: Option<SocketAddr>,
    /// The client's transport.
    pub transport: TransportKind,
    auth: Option<Bytes>,
}

impl AuthRequest {
    /// The auth data the client sent, decoded as `T`; `None` when it sent
    /// none. Errors when it does not fit `T`.
    pub fn data<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        self.auth.as_deref().map(value::decode).transpose()
    }
}

type AuthHook = Arc<dyn Fn(AuthRequest) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

pub(crate) struct Inner {
    pub config: ServerConfig,
    pub handlers: SharedHandlers<ServerEvent>,
    pub registry: SharedRegistry,
    pub auth: RwLock<Option<AuthHook>>,
    pub next_id: AtomicU64,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
    pub addrs: RwLock<Vec<SocketAddr>>,
}

/// A hisock server. Cheap to clone: all clones are the same server.
///
/// ```no_run
/// use hisock::{ClientInfo, Data, Server};
///
/// # async fn demo(listener: impl hisock::server::Listener) {
/// let server = Server::new();
/// server.on("join", |client: ClientInfo| async move {
///     tracing::info!(id = client.id, "joined");
/// });
/// server.on("greet", |client: ClientInfo, Data(text): Data<String>| async move {
///     format!("hello {}, you said {text}", client.name().unwrap_or("stranger"))
/// });
/// server.listen(listener);
/// server.run().await;
/// # }
/// ```
#[derive(Clone)]
pub struct Server {
    pub(crate) inner: Arc<Inner>,
}

/// Builds a [`Server`] with non-default settings.
#[derive(Debug, Default, Clone)]
pub struct ServerBuilder {
    config: ServerConfig,
}

impl ServerBuilder {
    /// Most clients at once; more are refused with a reason.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.config.max_connections = Some(max);
        self
    }

    /// Largest accepted frame, in bytes.
    pub fn max_frame_len(mut self, bytes: usize) -> Self {
        self.config.max_frame_len = bytes;
        self
    }

    /// Bytes queued per client before it is dropped as a slow reader.
    pub fn outbox_limit(mut self, bytes: usize) -> Self {
        self.config.outbox_limit = bytes;
        self
    }

    /// Events queued per client for in-order handlers before reading pauses.
    pub fn handler_queue_len(mut self, events: usize) -> Self {
        self.config.handler_queue_len = events.max(1);
        self
    }

    /// Ping every `interval`; drop clients silent for `timeout`.
    pub fn keepalive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.config.keepalive_interval = Some(interval);
        self.config.keepalive_timeout = timeout;
        self
    }

    /// Never ping, never drop silent clients.
    pub fn no_keepalive(mut self) -> Self {
        self.config.keepalive_interval = None;
        self
    }

    /// Time a new connection has to send its hello.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.config.handshake_timeout = timeout;
        self
    }

    /// Time queued handlers may still run when a connection ends.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.config.drain_timeout = timeout;
        self
    }

    /// Largest streamed payload accepted from a client, in bytes.
    pub fn max_stream_len(mut self, bytes: u64) -> Self {
        self.config.max_stream_len = bytes;
        self
    }

    /// Whether clients are told when others join, leave or change (see
    /// [`ServerConfig::presence_notices`]). Default true.
    pub fn presence_notices(mut self, on: bool) -> Self {
        self.config.presence_notices = on;
        self
    }

    /// Replaces all settings at once.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// The server.
    pub fn build(self) -> Server {
        Server {
            inner: Arc::new(Inner {
                config: self.config,
                handlers: SharedHandlers::new(HandlerTable::new(reserved::ALL)),
                registry: SharedRegistry::default(),
                auth: RwLock::new(None),
                next_id: AtomicU64::new(1),
                shutdown: CancellationToken::new(),
                tasks: TaskTracker::new(),
                addrs: RwLock::new(Vec::new()),
            }),
        }
    }
}

impl Default for Server {
    fn default() -> Self {
        Self::new()
    }
}

impl Server {
    /// A server with default settings.
    pub fn new() -> Self {
        ServerBuilder::default().build()
    }

    /// A builder for a server with other settings.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The server's settings.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// Registers `handler` for `command` (or a reserved event: "join",
    /// "leave", "message", "name_change", "group_change", "*"). Handlers for
    /// one client run in order. Replaces an earlier handler for the name.
    pub fn on<Args: 'static, H: Handler<ServerEvent, Args>>(
        &self,
        command: &str,
        handler: H,
    ) -> &Self {
        self.on_with(command, On::new(), handler)
    }

    /// Registers a handler with options: [`On::threaded`] to run it
    /// concurrently, [`On::override_reserved`] to use a reserved name as an
    /// ordinary command.
    pub fn on_with<Args: 'static, H: Handler<ServerEvent, Args>>(
        &self,
        command: &str,
        on: On,
        handler: H,
    ) -> &Self {
        let handler = erase(handler);
        self.inner
            .handlers
            .update(|table| table.insert(command, handler, on));
        self
    }

    /// Removes the handler for `command`. True if there was one.
    pub fn off(&self, command: &str) -> bool {
        self.inner.handlers.update(|table| table.remove(command))
    }

    /// Installs the auth hook: it sees every hello before the client joins
    /// and refuses it by returning `Err(reason)`; the client then gets
    /// [`AUTH_REFUSED`](codes::AUTH_REFUSED) with that reason.
    pub fn auth<F, Fut>(&self, hook: F) -> &Self
    where
        F: Fn(AuthRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let hook: AuthHook = Arc::new(move |req| Box::pin(hook(req)));
        *write_lock(&self.inner.auth) = Some(hook);
        self
    }

    /// Starts accepting clients from `listener` on a background task and
    /// returns its address. Call it once per listener: TCP, WebSocket, TLS
    /// listeners all feed the same server, and names, groups and broadcasts
    /// span them all.
    pub fn listen<L: Listener>(&self, mut listener: L) -> Option<SocketAddr> {
        let addr = listener.local_addr();
        if let Some(addr) = addr {
            write_lock(&self.inner.addrs).push(addr);
        }
        let server = self.clone();
        let limits = ConnectionLimits {
            max_frame_len: self.inner.config.max_frame_len,
        };
        self.inner.tasks.spawn(async move {
            loop {
                let incoming = tokio::select! {
                    _ = server.inner.shutdown.cancelled() => break,
                    incoming = listener.accept(limits) => incoming,
                };
                match incoming {
                    Ok(incoming) => {
                        let server = server.clone();
                        server.inner.tasks.clone().spawn(async move {
                            let timeout = server.inner.config.handshake_timeout;
                            match tokio::time::timeout(timeout, incoming).await {
                                Ok(Ok(conn)) => server.serve_connection(conn).await,
                                Ok(Err(err)) => tracing::debug!(%err, "incoming connection failed"),
                                Err(_) => tracing::debug!("transport handshake timed out"),
                            }
                        });
                    }
                    Err(err) => {
                        // Out of file descriptors and the like: back off a
                        // little and keep serving.
                        tracing::warn!(%err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
        addr
    }

    /// The addresses of the listeners started with [`listen`](Self::listen).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        read_lock(&self.inner.addrs).clone()
    }

    /// Serves one already-established connection until it ends: the
    /// handshake, then events. Use it to mount hisock inside another server
    /// (an axum route upgrading to WebSocket, for example).
    pub async fn serve_connection(&self, conn: Connection) {
        if self.inner.shutdown.is_cancelled() {
            return;
        }
        let _guard = self.inner.tasks.token();
        connection::serve(self.clone(), conn).await
    }

    /// The client with this id.
    pub fn client(&self, id: u64) -> Option<ClientInfo> {
        self.inner.registry.read().get(id).map(|e| e.info.clone())
    }

    /// The first client with this name.
    pub fn client_by_name(&self, name: &str) -> Option<ClientInfo> {
        self.inner
            .registry
            .read()
            .by_name(name)
            .map(|e| e.info.clone())
    }

    /// The client connected from this address.
    pub fn client_by_addr(&self, addr: SocketAddr) -> Option<ClientInfo> {
        self.inner
            .registry
            .read()
            .by_addr(addr)
            .map(|e| e.info.clone())
    }

    /// All connected clients, by id.
    pub fn clients(&self) -> Vec<ClientInfo> {
        let registry = self.inner.registry.read();
        registry::Registry::infos(registry.all())
    }

    /// The clients of one group, by id.
    pub fn group(&self, group: &str) -> Vec<ClientInfo> {
        let registry = self.inner.registry.read();
        registry::Registry::infos(registry.group(group))
    }

    /// Number of connected clients.
    pub fn client_count(&self) -> usize {
        self.inner.registry.read().len()
    }

    /// Sends a request to client `id` and waits up to `timeout` for the
    /// reply its handler returns, decoded as `R`.
    ///
    /// Errors: [`Error::NoSuchClient`], [`Error::Timeout`],
    /// [`Error::Remote`] when the client's handler failed or has no handler,
    /// [`Error::Decode`] when the reply does not fit `R`, [`Error::Closed`]
    /// when the client left before answering.
    pub async fn request<R: DeserializeOwned, T: Serialize + ?Sized>(
        &self,
        id: u64,
        command: &str,
        payload: &T,
        timeout: Duration,
    ) -> Result<R> {
        let payload = value::encode(payload)?;
        let reply = self.request_raw(id, command, &payload, timeout).await?;
        value::decode(&reply)
    }

    /// Like [`request`](Self::request) with raw MessagePack in and out.
    pub async fn request_raw(
        &self,
        id: u64,
        command: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Bytes> {
        let entry = self
            .inner
            .registry
            .read()
            .get(id)
            .cloned()
            .ok_or(Error::NoSuchClient(id))?;
        // The client's connection task enforces the timeout, with one
        // timer for all of its requests (as the client does for its own).
        let (request_id, rx) =
            lock(&entry.pending).register_with_timeout(timeout, crate::platform::timer::now())?;
        let frame = Frame::Event {
            command,
            request_id,
            payload,
        }
        .encode();
        if let Err(err) = emit::push_or_kick(&entry, frame) {
            lock(&entry.pending).cancel(request_id);
            return Err(err);
        }
        match rx.await {
            Ok(result) => result,
            Err(_) => Err(Error::Closed(CloseReason::new(
                codes::ABNORMAL,
                "client left before answering",
            ))),
        }
    }

    /// Streams a large payload to client `id` under `command`, in chunks
    /// that interleave with other events (see [`crate::stream`]). Returns
    /// once the client's handler has consumed all of it.
    ///
    /// Errors: [`Error::NoSuchClient`], [`Error::Remote`] when the client has
    /// no handler, refuses the size or drops the stream, [`Error::Closed`]
    /// when the connection ends first, [`Error::Handler`] when `source`
    /// fails (the client then gets an error, not a short payload).
    pub async fn send_stream<S, E>(
        &self,
        id: u64,
        command: &str,
        source: S,
        options: crate::stream::StreamOptions,
    ) -> Result<()>
    where
        S: futures::Stream<Item = std::result::Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let entry = self
            .inner
            .registry
            .read()
            .get(id)
            .cloned()
            .ok_or(Error::NoSuchClient(id))?;
        crate::stream::send_stream(&entry.outbox, &entry.outgoing, command, source, options).await
    }

    /// Disconnects client `id` with [`KICKED`](codes::KICKED) and `reason`;
    /// its `leave` handler runs.
    pub fn disconnect(&self, id: u64, reason: &str) -> Result<()> {
        self.disconnect_with(id, CloseReason::new(codes::KICKED, reason), true)
    }

    /// Disconnects client `id` with any close reason, choosing whether its
    /// `leave` handler runs. Frames already queued for it are still sent
    /// before the close frame.
    pub fn disconnect_with(&self, id: u64, reason: CloseReason, run_leave: bool) -> Result<()> {
        let registry = self.inner.registry.read();
        let entry = registry.get(id).ok_or(Error::NoSuchClient(id))?;
        entry.control.kick(Kick { reason, run_leave });
        Ok(())
    }

    /// Disconnects every client with [`KICKED`](codes::KICKED); their
    /// `leave` handlers run. The server keeps accepting new clients.
    pub fn disconnect_all(&self, reason: &str) {
        for entry in self.inner.registry.read().all() {
            entry.control.kick(Kick {
                reason: CloseReason::new(codes::KICKED, reason),
                run_leave: true,
            });
        }
    }

    /// Runs until [`shutdown`](Self::shutdown) is called (HiSock's blocking
    /// `start()`). Listeners already run in the background after
    /// [`listen`](Self::listen); this only waits.
    pub async fn run(&self) {
        self.inner.shutdown.cancelled().await;
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }

    /// Closes the server cleanly: stops accepting, lets each connection
    /// finish the handlers already queued (up to the drain timeout), sends
    /// every queued frame followed by a close frame with
    /// [`GOING_AWAY`](codes::GOING_AWAY), runs `leave` handlers, and returns
    /// when all connections are gone.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }

    /// True once [`shutdown`](Self::shutdown) has been called.
    pub fn is_shut_down(&self) -> bool {
        self.inner.shutdown.is_cancelled()
    }

    pub(crate) fn next_client_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }
}
