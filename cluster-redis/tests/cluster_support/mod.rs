//! The cluster tests' nodes: real servers with TCP and WebSocket
//! listeners, joined through a real `redis-server`.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use hisock::{Client, ClientOptions, Server};
use hisock_redis::{RedisAdapter, RedisConfig};
use hisock_test_support::{init_tracing, within, Transport, WAIT};

/// One node: a server in the cluster, listening on TCP and WebSocket.
pub struct Node {
    /// The node's server.
    pub server: Server,
    /// Its link to Redis (a clone of the one the server has).
    pub adapter: RedisAdapter,
    tcp: SocketAddr,
    ws: SocketAddr,
}

impl Node {
    /// A node of cluster `namespace` on the Redis at `url`.
    pub async fn start(url: &str, namespace: &str, heartbeat: Duration) -> Node {
        init_tracing();
        let config = RedisConfig::new(url)
            .namespace(namespace)
            .heartbeat(heartbeat)
            .max_backoff(Duration::from_millis(200));
        let adapter = within("joining the cluster", RedisAdapter::connect(config))
            .await
            .expect("Redis is up");
        let server = Server::builder().adapter(adapter.clone()).build();
        let tcp = Transport::Tcp.listen(&server).await;
        let ws = Transport::Ws.listen(&server).await;
        Node {
            server,
            adapter,
            tcp,
            ws,
        }
    }

    /// A client of this node over `transport` (TCP or WS).
    pub async fn connect(&self, transport: Transport, options: ClientOptions) -> Client {
        let addr = match transport {
            Transport::Ws => self.ws,
            _ => self.tcp,
        };
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
