//! Mounting hisock in an axum 0.8 application (cargo feature `axum`).
//!
//! [`route`] gives a [`MethodRouter`] that upgrades `GET` requests to
//! WebSocket and serves each connection with a shared [`hisock::Server`],
//! the same server that may also listen on TCP or on its own WebSocket
//! port. The [`WsConfig`] upgrade checks (allowed origins, the upgrade
//! hook) run before the upgrade; a refusal is an ordinary HTTP response.
//! The client address comes from axum's [`ConnectInfo`] when the app is
//! served with `into_make_service_with_connect_info::<SocketAddr>()`.
//!
//! Behind TLS: serve the app with `axum-server`'s rustls support (see the
//! `axum_tls` example) and mount [`route_behind_tls`], which reports its
//! clients as `wss`.
//!
//! ```no_run
//! use std::net::SocketAddr;
//! use axum::{routing::get, Router};
//! use hisock::{Data, Server};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let hisock = Server::new();
//! hisock.on("echo", |Data(text): Data<String>| async move { text });
//!
//! let app = Router::new()
//!     .route("/", get(|| async { "hello from axum" }))
//!     .route("/ws", hisock_ws::axum::route(hisock.clone()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use ::axum::extract::ws::{CloseFrame, Message, WebSocketUpgrade};
use ::axum::extract::{ConnectInfo, FromRequestParts, Request};
use ::axum::response::{IntoResponse, Response};
use ::axum::routing::{get, MethodRouter};
use bytes::Bytes;
use hisock::protocol::batch;
use hisock::{CloseReason, Server, TransportError, TransportKind};

use crate::config::WsConfig;
use crate::frames::{self, map_tungstenite_error, Received, WsError, WsMessage};

/// A `GET` route that upgrades to WebSocket and serves hisock clients with
/// `server`, using the default [`WsConfig`].
pub fn route<S>(server: Server) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    route_with_config(server, WsConfig::default())
}

/// Like [`route`], with buffer sizes and upgrade checks from `config`.
pub fn route_with_config<S>(server: Server, config: WsConfig) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    route_as(server, config, TransportKind::Ws)
}

/// Like [`route_with_config`], for an app served over TLS (axum-server with
/// rustls, or a TLS-terminating proxy in front): its clients are reported
/// as [`TransportKind::Wss`]. TLS itself is the app's server's business;
/// the `axum_tls` example serves it with `axum-server` and the certificate
/// of a `hisock_tcp::tls::ServerTls` (cargo feature `tls`).
pub fn route_behind_tls<S>(server: Server, config: WsConfig) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    route_as(server, config, TransportKind::Wss)
}

fn route_as<S>(server: Server, config: WsConfig, kind: TransportKind) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    let shared = Arc::new((server, config));
    get(move |request: Request| {
        let shared = shared.clone();
        async move { serve_upgrade_as(&shared.0, &shared.1, request, kind).await }
    })
}

/// The handler behind [`route`], for apps that write their own handler
/// (with their own extractors or state) and hand the request over: checks
/// the request, answers the upgrade, and serves the connection with
/// `server` on the task axum spawns for it.
///
/// Responses: the upgrade (101) on success; the [`WsConfig`] check's status
/// and reason when refused; axum's rejection (400, 405, 426, …) for a
/// request that is not a WebSocket upgrade.
pub async fn serve_upgrade(server: &Server, config: &WsConfig, request: Request) -> Response {
    serve_upgrade_as(server, config, request, TransportKind::Ws).await
}

/// Like [`serve_upgrade`], reporting the clients as `kind`
/// ([`TransportKind::Wss`] when the app is served over TLS).
pub async fn serve_upgrade_as(
    server: &Server,
    config: &WsConfig,
    request: Request,
    kind: TransportKind,
) -> Response {
    let (mut parts, _body) = request.into_parts();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    // PROTOCOL.md section 1.2.
    let batches = parts.uri.query().is_some_and(batch::offered);
    let head = Request::from_parts(parts, ());
    if let Err((status, reason)) = config.check_upgrade_request(&head) {
        tracing::debug!(%status, reason, "websocket upgrade refused");
        return (status, reason).into_response();
    }
    let max_frame_len = server.config().max_frame_len;
    let buffers = config.websocket_config(max_frame_len);
    let server = server.clone();
    // axum's default read buffer is tungstenite's 128 KiB; ours is small.
    upgrade
        .read_buffer_size(buffers.read_buffer_size)
        .write_buffer_size(buffers.write_buffer_size)
        // axum sends every message whole, so its write buffer must hold the
        // largest frame; the cap still bounds the pongs of a ping flood.
        .max_write_buffer_size(frames::max_write_buffer(
            buffers.write_buffer_size,
            max_frame_len,
        ))
        .max_message_size(max_frame_len)
        .max_frame_size(max_frame_len)
        .on_upgrade(move |socket| async move {
            let conn = frames::connection(socket, max_frame_len, usize::MAX, batches, kind)
                .with_addrs(peer, None);
            server.serve_connection(conn).await;
        })
}

impl WsMessage for Message {
    fn binary(frame: Bytes) -> Self {
        Message::Binary(frame)
    }

    /// axum's messages have no raw frames: large frames go out whole (and
    /// tungstenite below axum keeps a write buffer as large as the largest).
    const FRAGMENTS: bool = false;

    fn fragment(payload: Bytes, _first: bool, _last: bool) -> Self {
        Message::Binary(payload)
    }

    fn close(code: u16, reason: String) -> Self {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    }

    fn received(self) -> Received {
        match self {
            Message::Binary(frame) => Received::Binary(frame),
            Message::Text(_) => Received::Text,
            Message::Close(frame) => {
                Received::Close(frame.map(|f| CloseReason::new(f.code, f.reason.as_str())))
            }
            Message::Ping(_) | Message::Pong(_) => Received::Control,
        }
    }
}

impl WsError for ::axum::Error {
    fn into_transport(self) -> Option<TransportError> {
        match self.into_inner().downcast::<tungstenite_axum::Error>() {
            Ok(err) => map_tungstenite_error!(*err, tungstenite_axum),
            Err(other) => Some(TransportError::Other(other.to_string())),
        }
    }
}
