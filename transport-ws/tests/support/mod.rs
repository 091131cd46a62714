//! Helpers shared by the integration tests: a server with TCP and WebSocket
//! listeners, a probe for what handlers saw, and a raw WebSocket client that
//! speaks hisock frames by hand (to send what a real client never would).

#![allow(dead_code)] // each test file uses its own subset

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use hisock::frame::{Frame, PROTOCOL_VERSION};
use hisock::Server;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Mutex};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// The longest any single wait in a test may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// Awaits `fut`, failing the test with `what` if it takes longer than
/// [`WAIT`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {WAIT:?}: {what}"))
}

/// A `ws://` URL for a listener address.
pub fn ws_url(addr: SocketAddr) -> String {
    format!("ws://{addr}/")
}

/// The addresses of a server listening on TCP and WebSocket at once.
pub struct Mixed {
    pub tcp: SocketAddr,
    pub ws: SocketAddr,
}

/// Starts a TCP listener and a WebSocket listener (default config) on
/// 127.0.0.1 feeding `server`.
pub async fn listen_mixed(server: &Server) -> Mixed {
    let tcp = hisock_tcp::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind tcp");
    let ws = hisock_ws::WsListener::bind("127.0.0.1:0")
        .await
        .expect("bind ws");
    Mixed {
        tcp: server.listen(tcp).expect("tcp address"),
        ws: server.listen(ws).expect("ws address"),
    }
}

/// Starts a WebSocket listener with `config` feeding `server`.
pub async fn listen_ws(server: &Server, config: hisock_ws::WsConfig) -> SocketAddr {
    let ws = hisock_ws::WsListener::bind("127.0.0.1:0")
        .await
        .expect("bind ws")
        .with_config(config);
    server.listen(ws).expect("ws address")
}

/// A cloneable record of what handlers saw; the test awaits entries.
pub struct Probe<T> {
    tx: mpsc::UnboundedSender<T>,
    rx: std::sync::Arc<Mutex<mpsc::UnboundedReceiver<T>>>,
}

impl<T> Clone for Probe<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            rx: self.rx.clone(),
        }
    }
}

impl<T: Send + 'static> Probe<T> {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            tx,
            rx: std::sync::Arc::new(Mutex::new(rx)),
        }
    }

    pub fn push(&self, value: T) {
        let _ = self.tx.send(value);
    }

    /// The next recorded value; fails the test after [`WAIT`].
    pub async fn next(&self, what: &str) -> T {
        let mut rx = self.rx.lock().await;
        within(what, rx.recv()).await.expect("probe open")
    }
}

/// How a raw client's connection was closed by the server.
#[derive(Debug, PartialEq, Eq)]
pub struct Closed {
    /// The code of the hisock `Close` (or `Refuse`) frame, if one came.
    pub hisock_code: Option<u16>,
    /// The code of the WebSocket close frame, if one came.
    pub ws_code: Option<u16>,
}

/// A WebSocket client that sends hisock frames (or anything else) by hand.
pub struct RawWs {
    pub ws: WebSocketStream<TcpStream>,
}

impl RawWs {
    /// Opens a WebSocket to `addr` without the hisock handshake.
    pub async fn connect(addr: SocketAddr) -> Self {
        Self::connect_at(addr, "/").await
    }

    /// Opens a WebSocket to `path` on `addr` without the hisock handshake.
    pub async fn connect_at(addr: SocketAddr, path: &str) -> Self {
        let request = format!("ws://{addr}{path}")
            .into_client_request()
            .expect("request");
        Self::connect_request(addr, request)
            .await
            .expect("websocket upgrade")
    }

    /// Opens a WebSocket with a hand-made request; the error is the
    /// upgrade's (an HTTP refusal, say).
    pub async fn connect_request(
        addr: SocketAddr,
        request: tokio_tungstenite::tungstenite::handshake::client::Request,
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let stream = within("tcp connect", TcpStream::connect(addr))
            .await
            .expect("tcp connect");
        let (ws, _) = within(
            "websocket upgrade",
            tokio_tungstenite::client_async(request, stream),
        )
        .await?;
        Ok(Self { ws })
    }

    /// Opens a WebSocket and completes the hisock handshake as `name`;
    /// returns the client id from the welcome.
    pub async fn join(addr: SocketAddr, name: &str) -> (Self, u64) {
        Self::join_at(addr, "/", name).await
    }

    /// Like [`join`](Self::join), at `path` on `addr`.
    pub async fn join_at(addr: SocketAddr, path: &str, name: &str) -> (Self, u64) {
        let mut raw = Self::connect_at(addr, path).await;
        raw.send_binary(
            Frame::Hello {
                version: PROTOCOL_VERSION,
                name: Some(name),
                group: None,
                auth: None,
            }
            .encode(),
        )
        .await;
        let welcome = raw.next_binary().await;
        match Frame::decode(&welcome).expect("welcome decodes") {
            Frame::Welcome { client_id, .. } => (raw, client_id),
            other => panic!("expected a welcome, got {other:?}"),
        }
    }

    pub async fn send_binary(&mut self, frame: impl Into<Bytes>) {
        within("send", self.ws.send(Message::Binary(frame.into())))
            .await
            .expect("send binary");
    }

    pub async fn send_text(&mut self, text: &str) {
        within("send", self.ws.send(Message::text(text)))
            .await
            .expect("send text");
    }

    /// The next binary message, skipping hisock pings.
    pub async fn next_binary(&mut self) -> Bytes {
        loop {
            match within("next message", self.ws.next()).await {
                Some(Ok(Message::Binary(bytes))) => {
                    if !matches!(Frame::decode(&bytes), Ok(Frame::Ping { .. })) {
                        return bytes;
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("expected a binary message, got {other:?}"),
            }
        }
    }

    /// Reads until the server closes: the hisock close frame's code and the
    /// WebSocket close frame's code.
    pub async fn closed_by_server(&mut self) -> Closed {
        let mut closed = Closed {
            hisock_code: None,
            ws_code: None,
        };
        loop {
            match within("server closes", self.ws.next()).await {
                Some(Ok(Message::Binary(bytes))) => {
                    if let Ok(Frame::Close { code, .. } | Frame::Refuse { code, .. }) =
                        Frame::decode(&bytes)
                    {
                        closed.hisock_code = Some(code);
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    closed.ws_code = frame.map(|f| u16::from(f.code));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return closed,
            }
        }
    }
}
