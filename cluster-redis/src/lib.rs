//! Several hisock server nodes joined through **Redis** (or Valkey): build
//! each node's [`Server`](hisock::Server) with a [`RedisAdapter`], and
//! broadcasts, look-ups, presence notices, requests and disconnects span
//! every node (see [`hisock::server::cluster`] for what crosses nodes and
//! how).
//!
//! ```no_run
//! use hisock::Server;
//! use hisock_redis::{RedisAdapter, RedisConfig};
//!
//! # async fn demo() -> Result<(), hisock_redis::Error> {
//! let adapter = RedisAdapter::connect(RedisConfig::new("redis://127.0.0.1:6379/")).await?;
//! let server = Server::builder().adapter(adapter).build();
//! // server.listen(...) as on one node; to_all() now reaches every node.
//! # Ok(())
//! # }
//! ```
//!
//! # Why the `redis` crate
//!
//! `redis` (redis-rs) is the most used Redis client for Rust and is kept by
//! Redis itself; with only its `tokio-comp` feature it is a small
//! dependency, and its pub/sub stream and multiplexed connection are all
//! this adapter needs. `fred` reconnects by itself, but this adapter must
//! know when the link drops and comes back anyway (to report the degraded
//! state and rebuild the cluster directory), so that would not save code,
//! and `fred` brings more. The adapter uses plain `PUBLISH`/`SUBSCRIBE`,
//! `SET … PX`, `SADD`, `SMEMBERS` and `EXISTS`: any Redis 5+ or Valkey.
//!
//! # What is in Redis
//!
//! Under the namespace (default `hisock`): the channels `{ns}:all` (to every
//! node) and `{ns}:node:{n}` (to node `n`); the heartbeat key
//! `{ns}:alive:{n}` of each live node, set every third of the heartbeat
//! window with the window as its TTL; the set `{ns}:nodes` of node numbers
//! seen; the counter `{ns}:node-seq` that hands out node numbers. Nothing
//! else is stored: the directory of clients is rebuilt from snapshots the
//! nodes send each other, so a Redis that restarts empty loses nothing.
//! A resumable session that follows its client to another node crosses as
//! one message on that node's channel: at most the server's
//! `replay_limit` plus its `outbox_limit` (8 MiB with the defaults, within
//! the default [`RedisConfig::queue_bytes`]); a session larger than the
//! queue's room is not moved, and its client gets a new session.
//!
//! # Failures
//!
//! - **Redis unavailable at start:** [`RedisAdapter::connect`] fails with
//!   [`Error::Unavailable`]; nothing is started.
//! - **Redis lost mid-run:** local delivery goes on; the server's
//!   degraded hook and a `tracing` warning report it; messages for other
//!   nodes are dropped meanwhile (not buffered: the link may stay down for
//!   long); requests to remote clients fail with `Error::Closed`. The
//!   adapter reconnects with exponential backoff (100 ms doubling up to
//!   [`RedisConfig::max_backoff`]); when it is back, every node sends its
//!   snapshot again and the directories (and presence) are rebuilt.
//! - **A message lost on a live link** (a full queue below, or Redis
//!   pub/sub's at-most-once delivery): every [`RedisConfig::resync`]
//!   period each node publishes a digest of its clients, and a node whose
//!   directory differs asks for that node's snapshot, so a ghost of a
//!   client that left, or a client whose join was lost, lasts at most
//!   about one period.
//! - **A node dies:** its heartbeat key expires; within one heartbeat
//!   window (plus one check interval) the others drop its clients, and
//!   each of their clients hears of each leave once.
//! - **Redis or the network is slow:** messages toward Redis wait in a
//!   queue bounded in bytes ([`RedisConfig::queue_bytes`]); when it is
//!   full, new messages are dropped (counted, with one warning per
//!   episode), so a slow link never holds memory without bound nor stalls
//!   this node's clients, and other nodes never wait for this one. A node
//!   that reads too slowly is disconnected by Redis itself
//!   (`client-output-buffer-limit pubsub`), which this adapter handles as a
//!   lost link: it reconnects and rebuilds.

#![forbid(unsafe_code)]

mod keys;
mod link;
mod queue;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hisock::server::cluster::{Adapter, BoxFuture, ClusterNode, NodeId, Route, Unpublished};
use tokio::sync::Notify;

use keys::Keys;
use queue::Queue;

/// How a node reaches Redis and how it behaves there.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// The Redis URL, `redis://host:port/db`.
    pub url: String,
    /// Prefix of every key and channel: nodes with the same namespace form
    /// one cluster. Default `hisock`.
    pub namespace: String,
    /// How long a node may be silent before the others count it gone (its
    /// heartbeat key's TTL); it refreshes the key every third of this.
    /// Default 3 s.
    pub heartbeat: Duration,
    /// Bytes of messages waiting to be sent to Redis before new ones are
    /// dropped (each message counts its length plus 64). Default 16 MiB.
    pub queue_bytes: usize,
    /// The longest wait between two reconnect attempts. Default 2 s.
    pub max_backoff: Duration,
    /// How often this node publishes the digest of its clients, so that
    /// the other nodes repair what lost announcements left wrong in their
    /// directories (a client that left still listed, one that joined
    /// missing): the longest such an error lasts while the link stays up.
    /// A digest is a few dozen bytes; computing it walks this node's
    /// clients once. Default 5 s.
    pub resync: Duration,
}

impl RedisConfig {
    /// The defaults, with Redis at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            namespace: "hisock".to_owned(),
            heartbeat: Duration::from_secs(3),
            queue_bytes: 16 << 20,
            max_backoff: Duration::from_secs(2),
            resync: Duration::from_secs(5),
        }
    }

    /// Sets [`namespace`](Self::namespace).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Sets [`heartbeat`](Self::heartbeat) (at least 30 ms).
    pub fn heartbeat(mut self, window: Duration) -> Self {
        self.heartbeat = window.max(Duration::from_millis(30));
        self
    }

    /// Sets [`queue_bytes`](Self::queue_bytes).
    pub fn queue_bytes(mut self, bytes: usize) -> Self {
        self.queue_bytes = bytes;
        self
    }

    /// Sets [`max_backoff`](Self::max_backoff).
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }

    /// Sets [`resync`](Self::resync) (at least 10 ms).
    pub fn resync(mut self, period: Duration) -> Self {
        self.resync = period.max(Duration::from_millis(10));
        self
    }
}

/// What can go wrong joining the cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL is not a Redis URL.
    #[error("invalid Redis URL {url:?}: {source}")]
    Url {
        /// What was given.
        url: String,
        /// Why it is invalid.
        source: redis::RedisError,
    },
    /// Redis could not be reached or refused a command.
    #[error("Redis at {url} is unavailable: {source}")]
    Unavailable {
        /// Where it was looked for.
        url: String,
        /// What went wrong.
        source: redis::RedisError,
    },
    /// Every node number of the namespace is taken by a live node.
    #[error("no free node number in namespace {namespace:?}")]
    NoNodeNumber {
        /// The namespace.
        namespace: String,
    },
}

/// What the adapter's handle and its link task share.
struct Shared {
    config: RedisConfig,
    node: NodeId,
    keys: Keys,
    client: redis::Client,
    /// Messages toward Redis, bounded in bytes.
    queue: Mutex<Queue>,
    /// Something was queued, or the adapter is stopping.
    wake: Notify,
    /// The link is up: `publish` queues rather than refuses.
    up: AtomicBool,
    /// `shutdown` was called: send what is queued, then leave.
    stopping: AtomicBool,
    /// The connection `connect` opened, for the link's first round.
    first: Mutex<Option<redis::aio::MultiplexedConnection>>,
    /// The link task, once attached.
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The runtime `connect` ran on, where the link task runs (the server
    /// may be built outside of it).
    runtime: tokio::runtime::Handle,
}

/// A node's link to the cluster through Redis. Give it to
/// [`ServerBuilder::adapter`](hisock::ServerBuilder::adapter). Cheap to
/// clone: clones are the same link (keep one to call
/// [`abort`](Self::abort) or [`dropped`](Self::dropped)).
#[derive(Clone)]
pub struct RedisAdapter {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("node", &self.shared.node)
            .field("url", &self.shared.config.url)
            .finish()
    }
}

impl RedisAdapter {
    /// Connects to Redis and takes a node number (unique among the live
    /// nodes of the namespace). Errors: [`Error::Url`],
    /// [`Error::Unavailable`] (Redis is not there: nothing is retried),
    /// [`Error::NoNodeNumber`].
    pub async fn connect(config: RedisConfig) -> Result<Self, Error> {
        let client = redis::Client::open(config.url.as_str()).map_err(|source| Error::Url {
            url: config.url.clone(),
            source,
        })?;
        let unavailable = |source| Error::Unavailable {
            url: config.url.clone(),
            source,
        };
        let mut conn = link::open(&client, &config).await.map_err(unavailable)?;
        let keys = Keys::new(&config.namespace);
        let node = link::take_node_number(&mut conn, &keys, config.heartbeat)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| Error::NoNodeNumber {
                namespace: config.namespace.clone(),
            })?;
        tracing::info!(node, url = %config.url, "joined the cluster through Redis");
        Ok(RedisAdapter {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue::new(config.queue_bytes)),
                config,
                node,
                keys,
                client,
                wake: Notify::new(),
                up: AtomicBool::new(false),
                stopping: AtomicBool::new(false),
                first: Mutex::new(Some(conn)),
                task: Mutex::new(None),
                runtime: tokio::runtime::Handle::current(),
            }),
        })
    }

    /// Messages dropped so far because the queue toward Redis was full.
    pub fn dropped(&self) -> u64 {
        queue::lock(&self.shared.queue).dropped()
    }

    /// Stops at once, as if the process had died: no goodbye, nothing
    /// more is sent; the other nodes drop this node's clients when its
    /// heartbeat expires. For failure drills and tests.
    pub fn abort(&self) {
        self.shared.up.store(false, Ordering::Release);
        self.shared.stopping.store(true, Ordering::Release);
        if let Some(task) = queue::lock(&self.shared.task).take() {
            task.abort();
        }
    }
}

impl Adapter for RedisAdapter {
    fn node_id(&self) -> NodeId {
        self.shared.node
    }

    fn attach(&self, node: ClusterNode) {
        let first = queue::lock(&self.shared.first).take();
        let shared = self.shared.clone();
        let task = self.shared.runtime.spawn(link::run(shared, node, first));
        *queue::lock(&self.shared.task) = Some(task);
    }

    fn publish(&self, route: Route, message: Bytes) -> Result<(), Unpublished> {
        if !self.shared.up.load(Ordering::Acquire) {
            return Err(Unpublished::LinkDown);
        }
        let channel = self.shared.keys.channel(route);
        queue::lock(&self.shared.queue).push(channel, message)?;
        self.shared.wake.notify_one();
        Ok(())
    }

    fn shutdown(&self) -> BoxFuture {
        self.shared.stopping.store(true, Ordering::Release);
        self.shared.wake.notify_one();
        let task = queue::lock(&self.shared.task).take();
        Box::pin(async move {
            if let Some(task) = task {
                // Bounded: a Redis that does not answer does not hold the
                // server's shutdown.
                let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
            }
        })
    }
}
