//! The server: accepts clients from any number of listeners, runs handlers,
//! and sends events to one client, a group or everyone.
//!
//! Each connection runs on its own task: it reads frames, answers protocol
//! frames (pings, look-ups, name changes) itself, and runs handlers — in
//! order per client by default, concurrently for handlers registered with
//! [`On::threaded`]. A second task per connection writes the outgoing queue
//! in batches.

mod admission;
mod auth;
mod broadcast_request;
mod builder;
pub mod cluster;
mod config;
mod connection;
mod context;
mod emit;
mod event_path;
mod goodbye;
mod jobs;
mod listener;
mod membership;
#[cfg(feature = "metrics")]
mod metrics;
mod peer;
mod registry;
mod requests;
mod resumption;
mod rooms;
mod session;
mod session_break;
mod session_move;
mod shutdown;
mod state;
mod stats;
mod typed;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use auth::AuthHook;
pub use auth::AuthRequest;
pub use broadcast_request::Replies;
pub use builder::ServerBuilder;
pub use config::{ConnectionLimits, ServerConfig};
pub use context::ServerEvent;
pub use emit::{Emit, EmitReport};
pub use listener::{Incoming, Listener};
pub use rooms::RoomRequest;
pub use shutdown::{ShutdownReport, UndeliveredTo};
pub use state::{Ext, Extensions, State};
pub use stats::{ByTransport, ServerStats};

use crate::close::{codes, CloseReason};
use crate::dispatch::{erase, Handler, On, SharedHandlers};
use crate::error::{Error, Result};
use crate::info::ClientInfo;
use crate::platform::locks::{read_lock, write_lock};
use crate::transport::Connection;
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
    /// A broken client's session ended without a resume: its window
    /// passed (the reason's code is 1006), or what was queued for it
    /// during the break went past the outgoing queue's limit (4012).
    /// `leave` follows. Extractors: `ClientInfo`, `CloseReason`.
    pub const SESSION_EXPIRED: &str = "session_expired";
    /// All of the above.
    pub const ALL: &[&str] = &[
        JOIN,
        LEAVE,
        MESSAGE,
        NAME_CHANGE,
        GROUP_CHANGE,
        WILDCARD,
        SESSION_EXPIRED,
    ];
}

pub(crate) struct Inner {
    pub config: ServerConfig,
    pub handlers: SharedHandlers<ServerEvent>,
    pub registry: SharedRegistry,
    pub auth: RwLock<Option<AuthHook>>,
    pub next_id: AtomicU64,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
    pub addrs: RwLock<Vec<SocketAddr>>,
    /// Connections cut during shutdown before their queues drained.
    pub undelivered: std::sync::Mutex<Vec<UndeliveredTo>>,
    /// What `State<T>` extractors take, by type.
    pub states: state::States,
    /// Decides clients' requests to join and leave rooms.
    pub room_hook: RwLock<Option<rooms::RoomHook>>,
    /// What the server has done, for [`Server::stats`].
    pub counters: stats::Counters,
    /// The task that hands the figures to the `metrics` facade runs.
    #[cfg(feature = "metrics")]
    pub publishing: std::sync::atomic::AtomicBool,
    /// The other nodes, when built with an adapter (see [`cluster`]).
    pub cluster: Option<cluster::Cluster>,
    /// Resumable sessions, by token.
    pub sessions: std::sync::Mutex<resumption::Sessions>,
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
    ///
    /// Returns `None` when the listener cannot tell its address (a custom
    /// [`Listener`] whose `local_addr` gives none); the server listens
    /// all the same.
    ///
    /// The server then serves until [`shutdown`](Self::shutdown): the
    /// listener's task holds a handle of its own, so dropping every
    /// `Server` handle does not stop it. Keep one, and call `shutdown` (or
    /// wait in [`run`](Self::run)).
    pub fn listen<L: Listener>(&self, mut listener: L) -> Option<SocketAddr> {
        #[cfg(feature = "metrics")]
        metrics::start_publishing(self);
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
        #[cfg(feature = "metrics")]
        metrics::start_publishing(self);
        connection::serve(self.clone(), conn).await
    }

    /// The client with this id (on any node of the cluster).
    pub fn client(&self, id: u64) -> Option<ClientInfo> {
        let local = self.inner.registry.read().get(id).map(|e| e.info.clone());
        local.or_else(|| self.remote(|dir| dir.get(id).cloned()).flatten())
    }

    /// The connection data of client `id` (see [`Extensions`]), while it is
    /// connected (to this node: extensions do not cross nodes).
    pub fn extensions(&self, id: u64) -> Option<Extensions> {
        self.inner
            .registry
            .read()
            .get(id)
            .map(|e| e.extensions.clone())
    }

    /// The client with this name and the lowest id (on any node).
    pub fn client_by_name(&self, name: &str) -> Option<ClientInfo> {
        let local = self
            .inner
            .registry
            .read()
            .by_name(name)
            .map(|e| e.info.clone());
        let remote = self.remote(|dir| dir.by_name(name).cloned()).flatten();
        match (local, remote) {
            (Some(l), Some(r)) => Some(if r.id < l.id { r } else { l }),
            (l, r) => l.or(r),
        }
    }

    /// The client connected from this address (to any node).
    pub fn client_by_addr(&self, addr: SocketAddr) -> Option<ClientInfo> {
        let local = self
            .inner
            .registry
            .read()
            .by_addr(addr)
            .map(|e| e.info.clone());
        local.or_else(|| self.remote(|dir| dir.by_addr(addr).cloned()).flatten())
    }

    /// All connected clients (of every node), by id.
    pub fn clients(&self) -> Vec<ClientInfo> {
        let registry = self.inner.registry.read();
        let mut infos = registry::Registry::infos(registry.all());
        drop(registry);
        self.merge_remote(&mut infos, |dir, out| out.extend(dir.infos().cloned()));
        infos
    }

    /// The clients of one group (on every node), by id.
    pub fn group(&self, group: &str) -> Vec<ClientInfo> {
        let registry = self.inner.registry.read();
        let mut infos = registry::Registry::infos(registry.group(group));
        drop(registry);
        self.merge_remote(&mut infos, |dir, out| out.extend(dir.group(group).cloned()));
        infos
    }

    /// A snapshot of what the server is doing and has done: connections by
    /// transport, refused handshakes, events and bytes in and out, request
    /// times, queued bytes, slow-client kicks, keepalive drops, streams.
    /// The same figures go to the `metrics` facade with the `metrics`
    /// feature (README, "Watching a server"); this needs no recorder.
    pub fn stats(&self) -> ServerStats {
        self.inner.counters.snapshot(&self.inner.registry.read())
    }

    /// Number of connected clients (of every node).
    pub fn client_count(&self) -> usize {
        self.inner.registry.read().len() + self.remote(|dir| dir.len()).unwrap_or(0)
    }

    /// Adds the remote clients `pick` chooses to `infos`, sorted by id.
    fn merge_remote(
        &self,
        infos: &mut Vec<ClientInfo>,
        pick: impl FnOnce(&cluster::Directory, &mut Vec<ClientInfo>),
    ) {
        if self.remote(|dir| pick(dir, infos)).is_some() {
            infos.sort_by_key(|i| i.id);
        }
    }

    /// Disconnects client `id` with [`KICKED`](codes::KICKED) and `reason`;
    /// its `leave` handler runs.
    pub fn disconnect(&self, id: u64, reason: &str) -> Result<()> {
        self.disconnect_with(id, CloseReason::new(codes::KICKED, reason), true)
    }

    /// Disconnects client `id` with any close reason, choosing whether its
    /// `leave` handler runs. Frames already queued for it are still sent
    /// before the close frame. A client of another node is disconnected
    /// by its node (the call returns once that is asked).
    pub fn disconnect_with(&self, id: u64, reason: CloseReason, run_leave: bool) -> Result<()> {
        match self.disconnect_local(id, reason.clone(), run_leave) {
            Err(Error::NoSuchClient(_)) if self.inner.cluster.is_some() => self.to_node_of(
                id,
                cluster::Message::Disconnect {
                    client: id,
                    code: reason.code,
                    reason: reason.reason,
                    run_leave,
                },
            ),
            done => done,
        }
    }

    pub(crate) fn disconnect_local(
        &self,
        id: u64,
        reason: CloseReason,
        run_leave: bool,
    ) -> Result<()> {
        let registry = self.inner.registry.read();
        let entry = registry.get(id).ok_or(Error::NoSuchClient(id))?;
        entry.control.kick(Kick { reason, run_leave });
        Ok(())
    }

    /// Disconnects every client (of every node) with
    /// [`KICKED`](codes::KICKED); their `leave` handlers run. The server
    /// keeps accepting new clients.
    pub fn disconnect_all(&self, reason: &str) {
        let reason = CloseReason::new(codes::KICKED, reason);
        self.disconnect_all_local(reason.clone());
        if let Some(cluster) = &self.inner.cluster {
            let _ = cluster.publish(
                cluster::Route::All,
                cluster::Message::DisconnectAll {
                    code: reason.code,
                    reason: reason.reason,
                },
            );
        }
    }

    pub(crate) fn disconnect_all_local(&self, reason: CloseReason) {
        for entry in self.inner.registry.read().all() {
            entry.control.kick(Kick {
                reason: reason.clone(),
                run_leave: true,
            });
        }
    }

    /// This node's number in its cluster; `None` for a server built
    /// without an adapter.
    pub fn cluster_node(&self) -> Option<cluster::NodeId> {
        self.inner.cluster.as_ref().map(|c| c.node)
    }

    /// Installs the hook told when the link to the cluster is lost
    /// ([`ClusterStatus::Degraded`](cluster::ClusterStatus::Degraded)) and
    /// when it returns. Local delivery goes on meanwhile; a `tracing`
    /// warning is logged either way. Does nothing on a server without an
    /// adapter.
    pub fn on_cluster_status<F>(&self, hook: F) -> &Self
    where
        F: Fn(&cluster::ClusterStatus) + Send + Sync + 'static,
    {
        if let Some(cluster) = &self.inner.cluster {
            *write_lock(&cluster.status_hook) = Some(Arc::new(hook));
        }
        self
    }

    pub(crate) fn next_client_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }
}
