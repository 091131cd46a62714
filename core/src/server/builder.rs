//! Building a [`Server`] with settings other than the defaults.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::cluster::{client_id_base, Adapter, Cluster, ClusterNode};
use super::registry::SharedRegistry;
use super::{reserved, Inner, Server, ServerConfig};
use crate::dispatch::{HandlerTable, SharedHandlers};

/// Builds a [`Server`] with non-default settings.
#[derive(Debug, Default, Clone)]
pub struct ServerBuilder {
    config: ServerConfig,
    states: super::state::States,
    adapter: AdapterSlot,
}

/// The adapter a builder was given, if any (a slot of its own, to be
/// `Debug`).
#[derive(Default, Clone)]
struct AdapterSlot(Option<Arc<dyn Adapter>>);

impl std::fmt::Debug for AdapterSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(adapter) => write!(f, "Adapter(node {})", adapter.node_id()),
            None => f.write_str("None"),
        }
    }
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

    /// Time a closing connection has to send what is queued for it (see
    /// [`ServerConfig::flush_timeout`]).
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        self.config.flush_timeout = timeout;
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

    /// Longest client name, in bytes (see
    /// [`ServerConfig::max_name_len`]). Default 256.
    pub fn max_name_len(mut self, bytes: usize) -> Self {
        self.config.max_name_len = bytes;
        self
    }

    /// Longest group name, in bytes. Default 256.
    pub fn max_group_len(mut self, bytes: usize) -> Self {
        self.config.max_group_len = bytes;
        self
    }

    /// Longest command of a client's events and streams, in bytes.
    /// Default 256.
    pub fn max_command_len(mut self, bytes: usize) -> Self {
        self.config.max_command_len = bytes;
        self
    }

    /// Most requests outstanding at once, each way, per client (see
    /// [`ServerConfig::max_pending_requests`]). Default 1024.
    pub fn max_pending_requests(mut self, requests: usize) -> Self {
        self.config.max_pending_requests = requests;
        self
    }

    /// Most streams open at once, each way, per client (see
    /// [`ServerConfig::max_streams`]). Default 64.
    pub fn max_streams(mut self, streams: usize) -> Self {
        self.config.max_streams = streams;
        self
    }

    /// Limits how fast each client may send events and bytes (see
    /// [`RateLimit`](crate::RateLimit)); a client past it is closed with
    /// [`RATE_LIMITED`](crate::close::codes::RATE_LIMITED). Default: no
    /// limit.
    pub fn rate_limit(mut self, limit: crate::RateLimit) -> Self {
        self.config.rate_limit = limit;
        self
    }

    /// How long a broken client's session is kept for it to resume (see
    /// [`ServerConfig::session_window`]); `Duration::ZERO` keeps none.
    /// Default 2 minutes.
    pub fn session_window(mut self, window: Duration) -> Self {
        self.config.session_window = window;
        self
    }

    /// The most memory a session's replay buffer may hold (see
    /// [`ServerConfig::replay_limit`]). Default 4 MiB.
    pub fn replay_limit(mut self, bytes: usize) -> Self {
        self.config.replay_limit = bytes;
        self
    }

    /// Whether the auth hook sees resuming clients too (see
    /// [`ServerConfig::auth_on_resume`]). Default on.
    pub fn auth_on_resume(mut self, on: bool) -> Self {
        self.config.auth_on_resume = on;
        self
    }

    /// Gives handlers `value` through the [`State<T>`](super::State)
    /// argument. One value per type; call again for other types.
    pub fn with_state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.states.insert(value);
        self
    }

    /// Joins a cluster through `adapter` (the Redis adapter in
    /// `hisock-redis`, for example): broadcasts, look-ups, presence,
    /// requests and disconnects then span every node, and client ids carry
    /// this node's number (see [`cluster`](super::cluster)).
    pub fn adapter(mut self, adapter: impl Adapter) -> Self {
        self.adapter = AdapterSlot(Some(Arc::new(adapter)));
        self
    }

    /// Replaces all settings at once.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// The server.
    pub fn build(self) -> Server {
        let cluster = self.adapter.0.clone().map(Cluster::new);
        let first_id = cluster.as_ref().map_or(1, |c| client_id_base(c.node));
        let sessions =
            std::sync::Mutex::new(super::resumption::Sessions::new(self.config.session_window));
        let server = Server {
            inner: Arc::new(Inner {
                sessions,
                config: self.config,
                handlers: SharedHandlers::new(HandlerTable::new(reserved::ALL)),
                registry: SharedRegistry::default(),
                auth: RwLock::new(None),
                next_id: AtomicU64::new(first_id),
                shutdown: CancellationToken::new(),
                tasks: TaskTracker::new(),
                addrs: RwLock::new(Vec::new()),
                undelivered: Default::default(),
                states: self.states,
                room_hook: RwLock::new(None),
                counters: Default::default(),
                #[cfg(feature = "metrics")]
                publishing: Default::default(),
                cluster,
            }),
        };
        if let Some(adapter) = self.adapter.0 {
            adapter.attach(ClusterNode {
                server: Arc::downgrade(&server.inner),
            });
        }
        server
    }
}
