//! # hisock
//!
//! Event-driven networking made simple: a server and its clients exchange
//! named events ("commands") carrying typed payloads, over TCP
//! (`hisock-tcp`), WebSocket (`hisock-ws`) or from a browser (`hisock-wasm`).
//! This crate is the transport-agnostic core: the wire protocol, payload
//! encoding, event dispatch, the [`Client`] and (with the default `server`
//! feature) the [`Server`].
//!
//! ```
//! # #[cfg(feature = "server")] mod example {
//! use std::time::Duration;
//! use hisock::{ClientInfo, Client, ClientOptions, Data, Server};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # pub async fn main() -> hisock::Result<()> {
//! // A server that greets whoever asks; the handler's return value is the reply.
//! let server = Server::new();
//! server.on("greet", |who: ClientInfo, Data(text): Data<String>| async move {
//!     format!("{} says {text}", who.name().unwrap_or("someone"))
//! });
//!
//! // Any transport works; an in-memory pair keeps this example self-contained.
//! let (client_side, server_side) = hisock::memory::pair(1 << 20);
//! let srv = server.clone();
//! tokio::spawn(async move { srv.serve_connection(server_side).await });
//!
//! let (client, driver) = Client::handshake(client_side, ClientOptions::new().name("ada")).await?;
//! tokio::spawn(driver);
//! let answer: String = client.request("greet", "hi", Duration::from_secs(5)).await?;
//! assert_eq!(answer, "ada says hi");
//! client.close().await;
//! # Ok(())
//! # }
//! # }
//! # #[cfg(feature = "server")] fn main() -> hisock::Result<()> { example::main() }
//! # #[cfg(not(feature = "server"))] fn main() {}
//! ```
#![forbid(unsafe_code)]

pub mod addr;
pub mod client;
pub mod close;
pub mod dispatch;
pub mod error;
pub mod event;
pub mod frame;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod info;
pub mod memory;
pub mod outbox;
pub mod pending;
mod platform;
pub mod protocol;
/// Keepalive timing (see [`protocol::keepalive`]), at its old path.
#[cfg(feature = "server")]
pub use protocol::keepalive;
#[cfg(feature = "server")]
pub mod server;
pub mod stream;
pub mod transport;
#[cfg(feature = "typescript")]
pub mod typescript;
pub mod value;

#[cfg(not(target_arch = "wasm32"))]
pub use addr::{local_ip, parse_addr};
pub use client::{Client, ClientEvent, ClientOptions, WhenFull};
pub use close::{codes, CloseReason};
pub use dispatch::{Command, Data, IntoReply, On, RawPayload, Rejection, Reply};
pub use error::{Error, Malformed, ProtocolFault, Result};
pub use event::{Event, EventMap, ToClient, ToServer};
pub use frame::ErrorCode;
pub use info::{Change, ClientInfo};
pub use protocol::limits::{Limit, LimitExceeded};
#[cfg(feature = "server")]
pub use protocol::rate_limit::RateLimit;
#[cfg(feature = "server")]
pub use server::{Server, ServerBuilder, ServerConfig, ServerEvent, ServerStats};
pub use stream::{IncomingStream, Progress, StreamOptions};
pub use transport::{Connection, TransportError, TransportKind};
pub use value::Value;
