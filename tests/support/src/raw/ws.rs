//! [`RawWsPeer`]: a WebSocket peer that speaks hisock frames by hand, as a
//! client or as a fake server, so tests can send what no well-behaved peer
//! would: text messages, bytes that are no frame, closes without a hisock
//! close frame.

use std::net::SocketAddr;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use hisock::frame::Frame;
use hisock::protocol::batch;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::handshake::server::{
    Request as UpgradeRequest, Response as UpgradeResponse,
};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::WebSocketStream;

use crate::raw::{tls_client, Duplex, Handshake, RawStream};
use crate::wait::{within, WAIT};

/// How the other end closed a raw WebSocket connection.
#[derive(Debug, PartialEq, Eq)]
pub struct WsClosed {
    /// The code of the hisock `Close` (or `Refuse`) frame, if one came.
    pub hisock_code: Option<u16>,
    /// The code of the WebSocket close frame, if one came.
    pub ws_code: Option<u16>,
}

/// One end of a WebSocket connection carrying one hisock frame per binary
/// message, as PROTOCOL.md describes.
pub struct RawWsPeer {
    /// The WebSocket itself, for what the methods do not cover (pings,
    /// fragments, a close without a code).
    pub ws: WebSocketStream<RawStream>,
}

impl RawWsPeer {
    /// Opens a WebSocket to `addr` at `/`, without the hisock handshake.
    pub async fn connect(addr: SocketAddr) -> Self {
        Self::connect_at(addr, "/").await
    }

    /// Opens a WebSocket to `path` on `addr`, without the hisock handshake.
    pub async fn connect_at(addr: SocketAddr, path: &str) -> Self {
        let request = format!("ws://{addr}{path}")
            .into_client_request()
            .expect("a WebSocket request");
        Self::connect_request(addr, request)
            .await
            .expect("the WebSocket upgrade")
    }

    /// Opens a WebSocket with a hand-made request; the error is the
    /// upgrade's (an HTTP refusal, say).
    pub async fn connect_request(addr: SocketAddr, request: Request) -> Result<Self, Error> {
        let stream = within("raw TCP connect", TcpStream::connect(addr))
            .await
            .expect("raw TCP connect");
        Self::upgrade(Box::new(stream), request).await
    }

    /// Opens a WebSocket over TLS to `addr` at `/` (`wss://`), trusting the
    /// shared test CA, without the hisock handshake.
    pub async fn connect_tls(addr: SocketAddr) -> Self {
        let stream = within("raw TCP connect", TcpStream::connect(addr))
            .await
            .expect("raw TCP connect");
        let request = format!("wss://{addr}/")
            .into_client_request()
            .expect("a WebSocket request");
        Self::upgrade(tls_client(stream).await, request)
            .await
            .expect("the WebSocket upgrade")
    }

    /// Opens a WebSocket to `path` on `addr` (a path without a query)
    /// offering batches (PROTOCOL.md section 1.2), without the hisock
    /// handshake. Whether the server agreed shows in its first message
    /// ([`read_frames`](Self::read_frames) says if it was a batch).
    pub async fn connect_offering_batches(addr: SocketAddr, path: &str) -> Self {
        Self::connect_at(addr, &format!("{path}?x=y&{}", batch::OFFER)).await
    }

    async fn upgrade(stream: RawStream, request: Request) -> Result<Self, Error> {
        let (ws, _) = within(
            "the WebSocket upgrade",
            tokio_tungstenite::client_async(request, stream),
        )
        .await?;
        Ok(Self { ws })
    }

    /// Opens a WebSocket to `addr` and completes the hisock handshake as
    /// `name`; returns the peer and its client id.
    pub async fn join(addr: SocketAddr, name: &str) -> (Self, u64) {
        Self::join_at(addr, "/", name).await
    }

    /// Like [`join`](Self::join), at `path` on `addr`.
    pub async fn join_at(addr: SocketAddr, path: &str, name: &str) -> (Self, u64) {
        let mut peer = Self::connect_at(addr, path).await;
        let id = peer.hello(Some(name)).await;
        (peer, id)
    }

    /// Completes the WebSocket upgrade of an accepted connection, as a fake
    /// server; returns the peer and the path the client asked for. Offers
    /// of batches are declined, as an older server's.
    pub async fn accept(stream: impl Duplex + 'static) -> (Self, String) {
        let (peer, path, _) = Self::accept_batches(stream, |_| false).await;
        (peer, path)
    }

    /// Like [`accept`](Self::accept), noting whether the client offered
    /// batches (PROTOCOL.md section 1.2) and `agree` says yes to the
    /// request's path: then the connection carries batches, and the fake
    /// server's first message must be one ([`send_batch`](Self::send_batch)).
    // The upgrade callback's error type is tungstenite's own (an HTTP
    // response).
    #[allow(clippy::result_large_err)]
    pub async fn accept_batches(
        stream: impl Duplex + 'static,
        agree: fn(&str) -> bool,
    ) -> (Self, String, bool) {
        let stream: RawStream = Box::new(stream);
        let mut path = String::new();
        let mut batches = false;
        let note_path = |request: &UpgradeRequest, response: UpgradeResponse| {
            path = request.uri().path().to_owned();
            batches = request.uri().query().is_some_and(batch::offered) && agree(&path);
            Ok(response)
        };
        let ws = within(
            "the WebSocket upgrade",
            tokio_tungstenite::accept_hdr_async(stream, note_path),
        )
        .await
        .expect("the WebSocket upgrade");
        (Self { ws }, path, batches)
    }

    /// Encodes and sends a frame as one binary message.
    pub async fn send(&mut self, frame: &Frame<'_>) {
        self.send_binary(frame.encode()).await;
    }

    /// Sends `frames` as binary messages fed one after the other and
    /// flushed once, so the other end reads them as one burst.
    pub async fn send_burst(&mut self, frames: &[Frame<'_>]) {
        for frame in frames {
            within("raw feed", self.ws.feed(Message::Binary(frame.encode())))
                .await
                .expect("raw feed");
        }
        within("raw flush", self.ws.flush())
            .await
            .expect("raw flush");
    }

    /// Sends `frames` as one batch message (PROTOCOL.md section 1.2), even
    /// a batch of one frame.
    pub async fn send_batch(&mut self, frames: &[Frame<'_>]) {
        let mut builder = batch::Builder::default();
        for frame in frames {
            builder.add(frame.encode());
        }
        let message = builder.take_batch().expect("frames");
        self.send_binary(message).await;
    }

    /// The frames of the next binary message, split when it is a batch
    /// (on a connection that took batches), and whether it was one;
    /// `None` when the other end closed. Panics on a malformed batch.
    pub async fn read_frames(&mut self) -> Option<(Vec<Bytes>, bool)> {
        let message = self.read_frame().await?;
        if !batch::is_batch(&message) {
            return Some((vec![message], false));
        }
        let mut rest = message.slice(1..);
        let mut frames = Vec::new();
        while frames.is_empty() || !rest.is_empty() {
            frames.push(batch::next_frame(&mut rest, usize::MAX).expect("a well-formed batch"));
        }
        Some((frames, true))
    }

    /// Sends one binary message exactly as given.
    pub async fn send_binary(&mut self, bytes: impl Into<Bytes>) {
        within("raw send", self.ws.send(Message::Binary(bytes.into())))
            .await
            .expect("raw send");
    }

    /// Sends a text message (hisock frames are binary).
    pub async fn send_text(&mut self, text: &str) {
        within("raw send", self.ws.send(Message::text(text)))
            .await
            .expect("raw send");
    }

    /// The next binary message, skipping WebSocket pings and pongs; `None`
    /// when the other end closed. Panics on a text message.
    pub async fn read_frame(&mut self) -> Option<Bytes> {
        loop {
            match within("raw read", self.ws.next()).await {
                Some(Ok(Message::Binary(bytes))) => return Some(bytes),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
                Some(Ok(other)) => panic!("expected a binary message, got {other:?}"),
            }
        }
    }

    /// Reads until the other end closes; returns the codes of the hisock
    /// close frame and of the WebSocket close frame it sent on the way.
    pub async fn read_until_closed(&mut self) -> WsClosed {
        let mut closed = WsClosed {
            hisock_code: None,
            ws_code: None,
        };
        loop {
            match within("the other end closes", self.ws.next()).await {
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

    /// Closes with a WebSocket close frame of `code` and `reason` (no hisock
    /// close frame first), then waits up to [`WAIT`] for the other end to
    /// finish the closing handshake. A peer already gone is no error: the
    /// connection is over either way.
    pub async fn close_with(&mut self, code: u16, reason: &str) {
        let close = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_owned().into(),
        };
        if self.ws.close(Some(close)).await.is_err() {
            return;
        }
        let _ = tokio::time::timeout(WAIT, async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }
}
