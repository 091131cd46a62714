//! # hisock-ws
//!
//! The WebSocket transport for [hisock]: each frame travels as one
//! binary WebSocket message (tokio-tungstenite handles pings, pongs and
//! fragmentation per RFC 6455). Browsers connect through it, and so can
//! native clients; one [`hisock::Server`] serves WebSocket and TCP clients
//! at once, with names, groups and broadcasts spanning both.
//!
//! Batches: a client that offers them (the query parameter
//! `hisock-batch=1` in its URL; the browser client does) gets them from
//! [`WsListener`] and the axum route, and then its connection carries
//! several frames per message both ways (PROTOCOL.md section 1.2): the
//! server sends the frames it writes at once as one message. Other clients
//! see one frame per message.
//!
//! - Server: [`WsListener`] (its own port), or `axum::route` to mount the
//!   endpoint in an axum app (cargo feature `axum`).
//! - Client: [`connect`] / [`connect_with`].
//! - Lower level: [`ws_connection`] turns any tokio-tungstenite WebSocket
//!   into a hisock [`Connection`](hisock::Connection);
//!   [`accept_connection`] runs the server side of the upgrade on any
//!   stream (a TLS stream, say).
//!
//! Per-connection memory: tungstenite's default read buffer is 128 KiB,
//! allocated up front for each connection; [`WsConfig`] defaults to 4 KiB
//! (and an 8 KiB write threshold, allocated only as used). Incoming messages
//! larger than the server's `max_frame_len` are refused from their header,
//! before allocation, and close the connection with code 1009.
//!
//! Bad input: a text message closes the connection with 1003, and every
//! close carries its hisock code twice: in the hisock `Close` frame and in
//! the WebSocket close frame that follows it (what a browser's `CloseEvent`
//! shows).
//!
//! ```
//! use std::time::Duration;
//! use hisock::{ClientOptions, Data, Server};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::new();
//! server.on("add", |Data((a, b)): Data<(i64, i64)>| async move { a + b });
//! let addr = server
//!     .listen(hisock_ws::WsListener::bind("127.0.0.1:0").await?)
//!     .expect("bound");
//!
//! let client = hisock_ws::connect(&format!("ws://{addr}/"), ClientOptions::new()).await?;
//! let sum: i64 = client.request("add", &(2, 3), Duration::from_secs(5)).await?;
//! assert_eq!(sum, 5);
//! client.close().await;
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

#[cfg(feature = "axum")]
pub mod axum;
mod client;
mod config;
mod connection;
mod frames;
mod listener;
mod read_ahead;

pub use client::{connect, connect_with, DEFAULT_MAX_FRAME_LEN};
pub use config::{UpgradeCheck, WsConfig, DEFAULT_READ_BUFFER_SIZE, DEFAULT_WRITE_BUFFER_SIZE};
pub use connection::{accept_connection, ws_connection};
pub use listener::WsListener;
/// Turns a URL into a request whose headers can be edited before
/// [`connect_with`].
pub use tokio_tungstenite::tungstenite::client::IntoClientRequest;
/// The `http` crate types the upgrade checks use (`Request`, `StatusCode`).
pub use tokio_tungstenite::tungstenite::http;
