//! What hisock's tests share, once: the tests of `tests/`, of
//! `transport-ws` and of `examples` use it as a dev-dependency, and its
//! binary `hisock-test-server` is the native server of the browser tests.
//!
//! - [`Transport`] and [`transport_tests!`]: the one list of transports;
//!   every parity test runs once per transport (`name::tcp`, `name::tls`,
//!   `name::ws`, `name::wss`).
//! - [`TestServer`]: a real server listening on `127.0.0.1:0`, and clients
//!   connected to it with options.
//! - [`Probe`]: handlers report what they saw; tests await it with a bound.
//!   [`record_joins`], [`record_leaves`] and [`record_departures`] install
//!   the usual recording handlers.
//! - [`RawTcpPeer`], [`RawWsPeer`] and [`RawPeer`] (either): hand-rolled
//!   peers that send and read hisock frames (or anything else) by hand, as a
//!   client or as a fake server, for bad-input tests.
//! - [`within`] and [`WAIT`]: every wait is bounded, so a bug fails fast
//!   instead of hanging; [`Watchdog`] bounds a whole test on a plain
//!   thread, for when a deadlock stops the runtime's timers too.
//! - [`Program`]: a binary run as a child process, its output read with
//!   bounded waits (the examples' smoke tests).
//! - [`Move`], [`patterned_bytes`]: payloads whose content can be checked.
//! - [`FaultProxy`]: a loopback proxy in front of a server that cuts,
//!   delays and stalls its connections on command, one [`Link`] or a
//!   random subset at a time (for reconnection tests, any transport);
//!   [`recording_changes`] and [`next_change`]: a reconnecting client's
//!   options and what it went through.
//! - [`SeqCheck`] and [`Tally`]: what a receiver saw of a sender's
//!   numbered stream: lost, duplicated, out of order, unexpected;
//!   [`DeliveryReport`]: those per client and direction, with how each
//!   side's requests ended (the resumption chaos test's checker).
//! - [`TestCerts`]: a test CA and a `localhost` certificate it signed,
//!   generated at run time (rcgen), for the TLS and WSS transports.
//!
//! ```no_run
//! use hisock::{ClientInfo, ClientOptions, Server};
//! use hisock_test_support::{Probe, TestServer, Transport};
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

mod delivery;
mod fault_proxy;
pub mod mapping;
mod payloads;
mod probe;
mod program;
pub mod raw;
mod reconnecting;
mod record;
mod redis;
mod seq_check;
mod server;
mod tls;
mod transport;
mod wait;
mod watchdog;

pub use delivery::{error_kind, DeliveryReport, RequestTally, StreamReport, Totals};
pub use fault_proxy::{
    AfterStall, CutAt, Direction, FaultProxy, Link, CUT_AT_THE_LATEST, RANDOM_CUT_MAX_BYTES,
};
pub use payloads::{patterned_bytes, patterned_pieces, Move};
pub use probe::Probe;
pub use program::{http_get, Program};
pub use raw::{loopback_pair, Handshake, RawPeer, RawStream, RawTcpPeer, RawWsPeer, WsClosed};
pub use reconnecting::{
    connect_through, next_change, next_disconnect, quick_reconnect, recording_changes,
};
pub use record::{record_departures, record_joins, record_leaves};
pub use redis::RedisServer;
pub use seq_check::{SeqCheck, Tally};
pub use server::TestServer;
pub use tls::TestCerts;
pub use transport::{listen_ws_with, ws_url, wss_url, Transport};
pub use wait::{init_tracing, within, WAIT};
pub use watchdog::Watchdog;
