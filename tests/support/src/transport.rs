//! The transports tests run over, listed once.
//!
//! Adding a transport (TLS, WSS) is one edit: a line in the list at
//! [`transports!`]'s call below. That adds the [`Transport`] variant, its
//! place in [`Transport::ALL`] and one more generated test in every
//! [`transport_tests!`](crate::transport_tests) module; the compiler then
//! names each `match` that needs an arm for it ([`Transport::listen`],
//! [`Transport::connect`], [`Transport::kind`] and
//! [`RawPeer`](crate::RawPeer)'s constructors).

use std::net::SocketAddr;

use hisock::{Client, ClientOptions, Server, TransportKind};

/// Declares the [`Transport`] enum from the list of transports, and the
/// hidden macro that writes one test per transport for
/// [`transport_tests!`](crate::transport_tests). The first token is a `$`,
/// handed over so that the macro it defines can have `$crate` in it.
macro_rules! transports {
    ($dollar:tt $($(#[doc = $doc:literal])* $variant:ident => $test:ident,)+) => {
        /// A transport a test can run over.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Transport {
            $($(#[doc = $doc])* $variant,)+
        }

        impl Transport {
            /// Every transport, in the order of the list.
            pub const ALL: &'static [Transport] = &[$(Transport::$variant),+];
        }

        /// One test per transport, each running the `body` function that
        /// [`transport_tests!`](crate::transport_tests) wrote next to it.
        #[doc(hidden)]
        #[macro_export]
        macro_rules! __one_test_per_transport {
            () => {$(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    body($dollar crate::Transport::$variant).await
                }
            )+};
        }
    };
}

// The transport list, one line each: `Variant => name of its tests`. TLS and
// WSS (`Tls => tls`, `Wss => wss`) go here once hisock has them.
transports! {$
    /// Length-prefixed frames over TCP (`hisock-tcp`).
    Tcp => tcp,
    /// One binary WebSocket message per frame (`hisock-ws`).
    Ws => ws,
}

impl Transport {
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
            Transport::Ws => listen_ws_with(server, hisock_ws::WsConfig::new()).await,
        }
    }

    /// Connects a client of this transport to the server at `addr`.
    pub async fn connect(self, addr: SocketAddr, options: ClientOptions) -> hisock::Result<Client> {
        match self {
            Transport::Tcp => hisock_tcp::connect(addr, options).await,
            Transport::Ws => hisock_ws::connect(&ws_url(addr), options).await,
        }
    }

    /// The kind the server records for clients of this transport.
    pub fn kind(self) -> TransportKind {
        match self {
            Transport::Tcp => TransportKind::Tcp,
            Transport::Ws => TransportKind::Ws,
        }
    }
}

/// Starts a WebSocket listener with `config` on `127.0.0.1:0` feeding
/// `server`, in the background, and returns its address.
pub async fn listen_ws_with(server: &Server, config: hisock_ws::WsConfig) -> SocketAddr {
    let listener = hisock_ws::WsListener::bind("127.0.0.1:0")
        .await
        .expect("bind a WebSocket listener on 127.0.0.1:0")
        .with_config(config);
    server
        .listen(listener)
        .expect("a WebSocket listener has an address")
}

/// The `ws://` URL of a WebSocket listener at `addr`.
pub fn ws_url(addr: SocketAddr) -> String {
    format!("ws://{addr}/")
}

/// Turns each `async fn name(t: Transport) { … }` into a module `name` with
/// one `#[tokio::test]` per transport (`name::tcp`, `name::ws`, named as in
/// the transport list), each running the body with its transport.
/// Attributes and doc comments on the function go on the module. The test
/// file's imports are visible inside (`use super::*`).
///
/// ```no_run
/// use hisock::{ClientOptions, Server};
/// use hisock_test_support::{transport_tests, TestServer};
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

                $crate::__one_test_per_transport!();
            }
        )*
    };
}
