//! [`TestServer`]: a real server on a loopback port, and its clients.

use std::net::SocketAddr;

use hisock::{Client, ClientOptions, Server};

use crate::transport::Transport;
use crate::wait::{init_tracing, within, WAIT};

/// A server listening on `127.0.0.1:0` over one transport.
pub struct TestServer {
    /// The server under test (cheap to clone).
    pub server: Server,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Over which transport.
    pub transport: Transport,
}

impl TestServer {
    /// Starts `server` listening on a free loopback port, in the background.
    /// Register handlers before or after; both work.
    pub async fn start(transport: Transport, server: Server) -> Self {
        init_tracing();
        let addr = transport.listen(&server).await;
        Self {
            server,
            addr,
            transport,
        }
    }

    /// Connects a client with `options`; panics if the server refuses it.
    pub async fn connect(&self, options: ClientOptions) -> Client {
        self.try_connect(options)
            .await
            .unwrap_or_else(|err| panic!("client could not connect: {err}"))
    }

    /// Connects a client with `options`, returning the error on refusal.
    pub async fn try_connect(&self, options: ClientOptions) -> hisock::Result<Client> {
        within("client connect", self.transport.connect(self.addr, options)).await
    }

    /// Connects a client with a name and default options.
    pub async fn connect_named(&self, name: &str) -> Client {
        self.connect(ClientOptions::new().name(name)).await
    }

    /// Proves the server still serves: a fresh client joins, finds itself in
    /// the server's client list, and leaves.
    pub async fn assert_serves_new_client(&self) {
        let client = self.connect_named("health-check").await;
        let listed = client
            .list_clients(None)
            .await
            .expect("a fresh client can list clients");
        assert!(
            listed.iter().any(|c| c.id == client.id()),
            "a fresh client is listed by the server"
        );
        within("health-check close", client.close()).await;
    }

    /// Shuts the server down cleanly; all handlers, `leave` included, have
    /// run when this returns.
    pub async fn shutdown(&self) {
        within("server shutdown", self.server.shutdown()).await;
    }

    /// Waits until the server has exactly `n` clients registered.
    pub async fn wait_for_client_count(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.server.client_count() != n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "server has {} clients, expected {n}",
                self.server.client_count()
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}
