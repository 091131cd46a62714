//! The cluster tests' nodes: real servers with TCP and WebSocket
//! listeners, joined through a real `redis-server`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hisock::server::cluster::{Adapter, BoxFuture, ClusterNode, NodeId, Route, Unpublished};
use hisock::{Client, ClientOptions, Server, ServerBuilder};
use hisock_redis::{RedisAdapter, RedisConfig};
use hisock_test_support::{init_tracing, within, Transport, WAIT};

/// One node: a server in the cluster, listening on TCP and WebSocket.
pub struct Node {
    /// The node's server.
    pub server: Server,
    /// Its link to Redis (a clone of the one the server has).
    pub adapter: RedisAdapter,
    /// While set, what this node publishes is lost (see [`Lossy`]).
    losing: Arc<AtomicBool>,
    tcp: SocketAddr,
    ws: SocketAddr,
}

impl Node {
    /// A node of cluster `namespace` on the Redis at `url`, publishing its
    /// digest every `resync`.
    pub async fn start(url: &str, namespace: &str, heartbeat: Duration, resync: Duration) -> Node {
        Node::start_with(url, namespace, heartbeat, resync, |builder| builder).await
    }

    /// As [`start`](Self::start), with the server's builder passed through
    /// `configure` first.
    pub async fn start_with(
        url: &str,
        namespace: &str,
        heartbeat: Duration,
        resync: Duration,
        configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
    ) -> Node {
        init_tracing();
        let config = RedisConfig::new(url)
            .namespace(namespace)
            .heartbeat(heartbeat)
            .resync(resync)
            .max_backoff(Duration::from_millis(200));
        let adapter = within("joining the cluster", RedisAdapter::connect(config))
            .await
            .expect("Redis is up");
        let losing = Arc::new(AtomicBool::new(false));
        let lossy = Lossy {
            inner: adapter.clone(),
            losing: losing.clone(),
        };
        let server = configure(Server::builder().adapter(lossy)).build();
        let tcp = Transport::Tcp.listen(&server).await;
        let ws = Transport::Ws.listen(&server).await;
        Node {
            server,
            adapter,
            losing,
            tcp,
            ws,
        }
    }

    /// From now on (`true`) or no longer (`false`), what this node
    /// publishes is lost, while its link stays up.
    pub fn lose_publications(&self, lose: bool) {
        self.losing.store(lose, Ordering::Release);
    }

    /// Where this node listens for `transport` (TCP or WS).
    pub fn addr(&self, transport: Transport) -> SocketAddr {
        match transport {
            Transport::Ws => self.ws,
            _ => self.tcp,
        }
    }

    /// A client of this node over `transport` (TCP or WS).
    pub async fn connect(&self, transport: Transport, options: ClientOptions) -> Client {
        let addr = self.addr(transport);
        within("client connect", transport.connect(addr, options))
            .await
            .expect("the node accepts the client")
    }
}

/// Waits until `done` holds, checking every 10 ms, at most [`WAIT`].
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {WAIT:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until `done` resolves to true (an async check, re-run every
/// 10 ms), at most [`WAIT`].
pub async fn eventually_async<F: Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {WAIT:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The node's [`RedisAdapter`] with a switch that loses what the node
/// publishes, as a full queue toward Redis does (or pub/sub's at-most-once
/// delivery), while the link and the heartbeat stay up: announcements
/// lost with nothing else going wrong.
struct Lossy {
    inner: RedisAdapter,
    losing: Arc<AtomicBool>,
}

impl Adapter for Lossy {
    fn node_id(&self) -> NodeId {
        self.inner.node_id()
    }

    fn attach(&self, node: ClusterNode) {
        self.inner.attach(node);
    }

    fn publish(&self, route: Route, message: Bytes) -> Result<(), Unpublished> {
        if self.losing.load(Ordering::Acquire) {
            return Err(Unpublished::QueueFull);
        }
        self.inner.publish(route, message)
    }

    fn shutdown(&self) -> BoxFuture {
        self.inner.shutdown()
    }
}
