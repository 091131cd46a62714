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

use crate::tls::TestCerts;

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

// The transport list, one line each: `Variant => name of its tests`.
transports! {$
    /// Length-prefixed frames over TCP (`hisock-tcp`).
    Tcp => tcp,
    /// Length-prefixed frames over TLS (`hisock-tcp`'s `tls` feature), with
    /// the [`TestCerts::shared`] certificate.
    Tls => tls,
    /// One binary WebSocket message per frame (`hisock-ws`).
    Ws => ws,
    /// WebSocket over TLS (`hisock-ws`'s `tls` feature), with the
    /// [`TestCerts::shared`] certificate.
    Wss => wss,
}

impl Transport {
    /// Starts a listener of this transport on `127.0.0.1:0` feeding
    /// `server`, in the background, and returns its address.
    pub async fn listen(self, server: &Server) -> SocketAddr {
        self.listen_at(server, "127.0.0.1:0").await
    }

    /// Starts a listener of this transport on `at` (a restarted server on
    /// its old port, say) feeding `server`, and returns its address.
    pub async fn listen_at(self, server: &Server, at: &str) -> SocketAddr {
        match self {
            Transport::Tcp => {
                let listener = hisock_tcp::TcpListener::bind(at)
                    .await
                    .expect("bind a TCP listener on 127.0.0.1:0");
                server
                    .listen(listener)
                    .expect("a TCP listener has an address")
            }
            Transport::Tls => {
                let listener =
                    hisock_tcp::tls::TlsListener::bind(at, TestCerts::shared().server_tls())
                        .await
                        .expect("bind a TLS listener on 127.0.0.1:0");
                server
                    .listen(listener)
                    .expect("a TLS listener has an address")
            }
            Transport::Ws => {
                let listener = hisock_ws::WsListener::bind(at)
                    .await
                    .expect("bind a WebSocket listener")
                    .with_config(hisock_ws::WsConfig::new());
                server
                    .listen(listener)
                    .expect("a WebSocket listener has an address")
            }
            Transport::Wss => {
                let listener = hisock_ws::WsListener::bind(at)
                    .await
                    .expect("bind a WSS listener on 127.0.0.1:0")
                    .with_tls(TestCerts::shared().server_tls());
                server
                    .listen(listener)
                    .expect("a WSS listener has an address")
            }
        }
    }

    /// Connects a client of this transport to the server at `addr`.
    pub async fn connect(self, addr: SocketAddr, options: ClientOptions) -> hisock::Result<Client> {
        match self {
            Transport::Tcp => hisock_tcp::connect(addr, options).await,
            Transport::Tls => {
                let tls = TestCerts::shared().client_tls();
                hisock_tcp::tls::connect_tls(&addr.to_string(), options, &tls).await
            }
            Transport::Ws => hisock_ws::connect(&ws_url(addr), options).await,
            Transport::Wss => {
                let config = hisock_ws::WsConfig::new().tls(TestCerts::shared().client_tls());
                hisock_ws::connect_with(wss_url(addr).as_str(), options, &config).await
            }
        }
    }

    /// The kind the server records for clients of this transport.
    pub fn kind(self) -> TransportKind {
        match self {
            Transport::Tcp => TransportKind::Tcp,
            Transport::Tls => TransportKind::Tls,
            Transport::Ws => TransportKind::Ws,
            Transport::Wss => TransportKind::Wss,
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

/// The `wss://` URL of a WSS listener at `addr`.
pub fn wss_url(addr: SocketAddr) -> String {
    format!("wss://{addr}/")
}

/// Turns each `async fn name(t: Transport) { … }` into a module `name` with
/// one `#[tokio::test]` per transport (`name::tcp`, `name::tls`, `name::ws`,
/// `name::wss`, named as in
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
