//! The transports every parity test runs over.
//!
//! Adding a transport (TLS, say) touches this file only:
//! 1. a variant in [`Transport`] and its entry in [`Transport::ALL`],
//! 2. its arms in [`Transport::listen`], [`Transport::connect`] and
//!    [`Transport::kind`],
//! 3. one more generated test in [`transport_tests!`](crate::transport_tests).
//!
//! Each place is marked `ADD-TRANSPORT`.

use std::net::SocketAddr;

use hisock::{Client, ClientOptions, Server, TransportKind};

/// A transport a test can run over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Length-prefixed frames over TCP (`hisock-tcp`).
    Tcp,
    /// One binary WebSocket message per frame (`hisock-ws`).
    Ws,
    // ADD-TRANSPORT: a variant here.
}

impl Transport {
    /// Every transport, in the order the macro generates tests.
    // ADD-TRANSPORT: append the new variant.
    pub const ALL: &'static [Transport] = &[Transport::Tcp, Transport::Ws];

    /// Starts a listener of this transport on `127.0.0.1:0` feeding
    /// `server`, in the background, and returns its address.
    pub async fn listen(self, server: &Server) -> SocketAddr {
        match self {
            Transport::Tcp => {
                let listener = hisock_tcp::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind a TCP listener on 127.0.0.1:0");
                server
                    .listen(listener)
                    .expect("a TCP listener has an address")
            }
            Transport::Ws => {
                let listener = hisock_ws::WsListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind a WebSocket listener on 127.0.0.1:0");
                server
                    .listen(listener)
                    .expect("a WebSocket listener has an address")
            } // ADD-TRANSPORT: an arm here.
        }
    }

    /// Connects a client of this transport to the server at `addr`.
    pub async fn connect(self, addr: SocketAddr, options: ClientOptions) -> hisock::Result<Client> {
        match self {
            Transport::Tcp => hisock_tcp::connect(addr, options).await,
            Transport::Ws => hisock_ws::connect(&format!("ws://{addr}/"), options).await,
            // ADD-TRANSPORT: an arm here.
        }
    }

    /// The kind the server records for clients of this transport.
    pub fn kind(self) -> TransportKind {
        match self {
            Transport::Tcp => TransportKind::Tcp,
            Transport::Ws => TransportKind::Ws,
            // ADD-TRANSPORT: an arm here.
        }
    }
}

/// Turns each `async fn name(t: Transport) { … }` into a module `name` with
/// one `#[tokio::test]` per transport (`name::tcp`, `name::ws`), each running the
/// body with its transport. Attributes and doc comments on the function go
/// on the module. The test file's imports are visible inside (`use
/// super::*`).
///
/// ```no_run
/// use hisock::{ClientOptions, Server};
/// use hisock_tests::{transport_tests, TestServer};
///
/// transport_tests! {
///     /// A client that connects is listed by the server.
///     async fn connected_client_is_listed(t: Transport) {
///         let test = TestServer::start(t, Server::new()).await;
///         let client = test.connect(ClientOptions::new()).await;
///         assert!(test.server.client(client.id()).is_some());
///     }
/// }
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! transport_tests {
    ($($(#[$attr:meta])* async fn $name:ident($t:ident: Transport) $body:block)*) => {
        $(
            $(#[$attr])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn body($t: $crate::Transport) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn tcp() {
                    body($crate::Transport::Tcp).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn ws() {
                    body($crate::Transport::Ws).await
                }

                // ADD-TRANSPORT: one more test here.
            }
        )*
    };
}
