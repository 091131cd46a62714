//! Shared support for hisock's cross-crate integration tests.
//!
//! The tests themselves live in `tests/*.rs`, grouped by topic; everything
//! they have in common lives here, once:
//!
//! - [`Transport`] and [`transport_tests!`]: every parity test runs once per
//!   transport (`name::tcp`, `name::ws`).
//! - [`TestServer`]: a real server listening on `127.0.0.1:0`, and clients
//!   connected to it with options.
//! - [`Probe`]: handlers report what they saw; tests await it with a bound.
//!   [`record_joins`], [`record_leaves`] and [`record_departures`] install
//!   the usual recording handlers.
//! - [`RawPeer`]: a hand-rolled TCP peer that writes and reads
//!   length-prefixed frames, for bad-input tests.
//! - [`within`] and [`WAIT`]: every wait is bounded, so a bug fails fast
//!   instead of hanging.
//!
//! ```no_run
//! use hisock::{ClientInfo, ClientOptions, Server};
//! use hisock_tests::{Probe, TestServer, Transport};
//!
//! # async fn demo() {
//! let joined = Probe::new("join");
//! let server = Server::new();
//! let seen = joined.clone();
//! server.on("join", move |who: ClientInfo| {
//!     seen.push(who.name);
//!     async {}
//! });
//! let test = TestServer::start(Transport::Tcp, server).await;
//! let _client = test.connect(ClientOptions::new().name("ada")).await;
//! assert_eq!(joined.next().await.as_deref(), Some("ada"));
//! # }
//! ```
#![forbid(unsafe_code)]

mod payloads;
mod probe;
mod raw;
mod record;
mod server;
mod transport;
mod wait;

pub use payloads::Move;
pub use probe::Probe;
pub use raw::RawPeer;
pub use record::{record_departures, record_joins, record_leaves};
pub use server::TestServer;
pub use transport::Transport;
pub use wait::{init_tracing, within, WAIT};
