//! Raw peers: one end of a connection that speaks hisock frames by hand, so
//! tests can send what no well-behaved client or server would, and see
//! exactly what comes back.
//!
//! - [`RawTcpPeer`]: length-prefixed frames on a TCP socket; can also write
//!   bytes that are no frame at all.
//! - [`RawWsPeer`]: binary WebSocket messages; can also send text, pings and
//!   fragments, and close with any code.
//! - [`RawPeer`]: either one, chosen by [`Transport`], for tests that run
//!   over every transport.

pub mod handshake;
mod tcp;
mod ws;

use std::net::SocketAddr;

use bytes::Bytes;
use hisock::frame::Frame;
use hisock::CloseReason;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

use crate::tls::TestCerts;
use crate::transport::Transport;
use crate::wait::within;

pub use tcp::RawTcpPeer;
pub use ws::{RawWsPeer, WsClosed};

/// The byte stream under a raw peer: a TCP stream, or a TLS stream over
/// one (with the [`TestCerts::shared`] certificate).
pub type RawStream = Box<dyn Duplex>;

/// What a raw peer's byte stream can do: read and write.
pub trait Duplex: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Duplex for T {}

/// The client side of TLS on a connected stream, trusting the shared test
/// CA and expecting `127.0.0.1`.
pub async fn tls_client(stream: TcpStream) -> RawStream {
    let tls = TestCerts::shared().client_tls();
    let stream = within("raw TLS connect", tls.connect("127.0.0.1", stream))
        .await
        .expect("raw TLS connect");
    Box::new(stream)
}

/// The server side of TLS on an accepted stream, with the shared test
/// certificate.
pub async fn tls_server(stream: TcpStream) -> RawStream {
    let tls = TestCerts::shared().server_tls();
    let stream = within("raw TLS accept", tls.accept(stream, None))
        .await
        .expect("raw TLS accept");
    Box::new(stream)
}

/// Two ends of one TCP connection on loopback, for tests that put a
/// transport on one end and read or write raw bytes on the other.
pub async fn loopback_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let (connected, accepted) = within("a loopback connection", async {
        tokio::join!(TcpStream::connect(addr), listener.accept())
    })
    .await;
    (connected.expect("connect"), accepted.expect("accept").0)
}

/// A raw peer over any [`Transport`]: the frame-level operations all
/// transports share (TLS and WSS are the TCP and WebSocket peers over a
/// TLS stream).
// A test has a few of them at most: their size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum RawPeer {
    /// Over TCP (or TCP+TLS).
    Tcp(RawTcpPeer),
    /// Over WebSocket (or WSS).
    Ws(RawWsPeer),
}

impl RawPeer {
    /// Connects to the server at `addr` over `transport` (completing the
    /// WebSocket upgrade, not the hisock handshake).
    pub async fn connect(transport: Transport, addr: SocketAddr) -> Self {
        match transport {
            Transport::Tcp => RawPeer::Tcp(RawTcpPeer::connect(addr).await),
            Transport::Tls => RawPeer::Tcp(RawTcpPeer::connect_tls(addr).await),
            Transport::Ws => RawPeer::Ws(RawWsPeer::connect(addr).await),
            Transport::Wss => RawPeer::Ws(RawWsPeer::connect_tls(addr).await),
        }
    }

    /// Accepts the next connection on `listener` over `transport`, as a fake
    /// server (completing the WebSocket upgrade, not the hisock handshake).
    pub async fn accept(transport: Transport, listener: &TcpListener) -> Self {
        match transport {
            Transport::Tcp => RawPeer::Tcp(RawTcpPeer::accept(listener).await),
            Transport::Tls => {
                let stream = tls_server(raw_accept(listener).await).await;
                RawPeer::Tcp(RawTcpPeer::from_stream(stream))
            }
            Transport::Ws => RawPeer::Ws(RawWsPeer::accept(raw_accept(listener).await).await.0),
            Transport::Wss => {
                let stream = tls_server(raw_accept(listener).await).await;
                RawPeer::Ws(RawWsPeer::accept(stream).await.0)
            }
        }
    }

    /// Encodes and sends a frame.
    pub async fn send(&mut self, frame: &Frame<'_>) {
        match self {
            RawPeer::Tcp(peer) => peer.send(frame).await,
            RawPeer::Ws(peer) => peer.send(frame).await,
        }
    }

    /// The next frame's bytes, or `None` when the other end closed.
    pub async fn read_frame(&mut self) -> Option<Bytes> {
        match self {
            RawPeer::Tcp(peer) => peer.read_frame().await,
            RawPeer::Ws(peer) => peer.read_frame().await,
        }
    }

    /// Sends `frames` in one write (one TCP write, or WebSocket messages
    /// fed and then flushed once), so the other end reads them as one
    /// burst.
    pub async fn send_burst(&mut self, frames: &[Frame<'_>]) {
        match self {
            RawPeer::Tcp(peer) => {
                let mut buf = Vec::new();
                for frame in frames {
                    let bytes = frame.encode();
                    let len = u32::try_from(bytes.len()).expect("frame length fits u32");
                    buf.extend_from_slice(&len.to_be_bytes());
                    buf.extend_from_slice(&bytes);
                }
                peer.write_raw(&buf).await;
            }
            RawPeer::Ws(peer) => peer.send_burst(frames).await,
        }
    }

    /// Reads past any other frames until a `Close` or `Refuse`, then
    /// expects the end of the connection; returns its code and reason.
    /// Pings are not answered.
    pub async fn expect_end(&mut self) -> CloseReason {
        loop {
            let bytes = self
                .read_frame()
                .await
                .expect("a close or refuse frame, not a hang-up");
            match Frame::decode(&bytes).expect("frames decode") {
                Frame::Close { code, reason, .. } | Frame::Refuse { code, reason } => {
                    let reason = CloseReason::new(code, reason);
                    if let Some(bytes) = self.read_frame().await {
                        let after = Frame::decode(&bytes);
                        panic!("expected the end of the connection after {reason}, got {after:?}");
                    }
                    return reason;
                }
                _ => continue,
            }
        }
    }
}

async fn raw_accept(listener: &TcpListener) -> TcpStream {
    let (stream, _) = within("raw accept", listener.accept())
        .await
        .expect("raw accept");
    let _ = stream.set_nodelay(true);
    stream
}

/// The handshake steps every raw peer takes the same way, on top of its
/// own `send` and `read_frame`.
#[allow(async_fn_in_trait)] // test code: no Send bound needed
pub trait Handshake {
    /// Encodes and sends a frame.
    async fn send_frame(&mut self, frame: &Frame<'_>);
    /// The next frame's bytes, or `None` when the other end closed.
    async fn next_frame(&mut self) -> Option<Bytes>;

    /// Sends a valid hello and expects the welcome; returns the client id.
    async fn hello(&mut self, name: Option<&str>) -> u64 {
        self.send_frame(&handshake::hello(name)).await;
        handshake::welcomed_client_id(self.next_frame().await)
    }

    /// As a fake server: expects a hello and answers with
    /// [`handshake::fake_welcome`].
    async fn welcome_the_hello(&mut self) {
        handshake::expect_hello(self.next_frame().await);
        self.send_frame(&handshake::fake_welcome()).await;
    }
}

macro_rules! handshake_for {
    ($($peer:ty),*) => {$(
        impl Handshake for $peer {
            async fn send_frame(&mut self, frame: &Frame<'_>) {
                self.send(frame).await
            }
            async fn next_frame(&mut self) -> Option<Bytes> {
                self.read_frame().await
            }
        }
    )*};
}
handshake_for!(RawPeer, RawTcpPeer, RawWsPeer);
