//! # hisock-tcp
//!
//! The TCP transport for [hisock]: each frame travels with a 4-byte
//! big-endian length prefix (the framing of tokio-util's
//! `LengthDelimitedCodec`). The receiving side checks the announced length
//! against the maximum frame length before allocating anything; the sending
//! side batches frames into one write per flush.
//!
//! ```
//! use std::time::Duration;
//! use hisock::{ClientInfo, ClientOptions, Data, Server};
//!
//! # #[tokio::main]
//! # async fn main() -> hisock::Result<()> {
//! let server = Server::new();
//! server.on("add", |Data((a, b)): Data<(i64, i64)>| async move { a + b });
//! let addr = server
//!     .listen(hisock_tcp::TcpListener::bind("127.0.0.1:0").await?)
//!     .expect("bound");
//!
//! let client = hisock_tcp::connect(addr, ClientOptions::new().name("calc")).await?;
//! let sum: i64 = client.request("add", &(2, 3), Duration::from_secs(5)).await?;
//! assert_eq!(sum, 5);
//! client.close().await;
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! TCP+TLS (rustls) is behind the cargo feature `tls`: see the `tls`
//! module.
#![forbid(unsafe_code)]

use std::io;
use std::net::SocketAddr;

use hisock::server::{ConnectionLimits, Incoming, Listener};
use hisock::transport::BoxFuture;
use hisock::{Connection, TransportError, TransportKind};
use tokio::net::{TcpStream, ToSocketAddrs};

mod bind;
mod connect;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod http_answer;
mod read;
#[cfg(feature = "tls")]
pub mod tls;
mod write;
pub use bind::{bind_listener, DEFAULT_LISTEN_BACKLOG};
pub use connect::connect;
pub use http_answer::TCP_PORT_NOTICE;
use read::FrameReader;
use write::FrameWriter;

/// Largest frame a client accepts from its server unless told otherwise
/// (the server's default limit too).
pub use hisock::frame::DEFAULT_MAX_FRAME_LEN;

/// A TCP listener that feeds a [`hisock::Server`].
pub struct TcpListener {
    inner: tokio::net::TcpListener,
}

impl TcpListener {
    /// Binds to `addr` (port 0 picks a free port), with a listen backlog
    /// of [`DEFAULT_LISTEN_BACKLOG`] so that a burst of connections waits
    /// to be accepted instead of being dropped and retried.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<Self> {
        Self::bind_with_backlog(addr, DEFAULT_LISTEN_BACKLOG).await
    }

    /// Binds like [`bind`](Self::bind) with a listen backlog of `backlog`
    /// connections (the OS clamps it).
    pub async fn bind_with_backlog(addr: impl ToSocketAddrs, backlog: u32) -> io::Result<Self> {
        Ok(Self {
            inner: bind_listener(addr, backlog).await?,
        })
    }

    /// Wraps an already-bound tokio listener.
    pub fn from_tokio(inner: tokio::net::TcpListener) -> Self {
        Self { inner }
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl Listener for TcpListener {
    fn accept(
        &mut self,
        limits: ConnectionLimits,
    ) -> BoxFuture<'_, Result<Incoming, TransportError>> {
        Box::pin(async move {
            let (stream, _) = self.inner.accept().await?;
            let conn = tcp_connection(stream, limits.max_frame_len, TransportKind::Tcp);
            let incoming: Incoming = Box::pin(async move { Ok(conn) });
            Ok(incoming)
        })
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.inner.local_addr().ok()
    }
}

/// Turns a connected TCP stream into a hisock [`Connection`]: length-prefixed
/// frames, at most `max_frame_len` bytes each on the way in.
pub fn tcp_connection(stream: TcpStream, max_frame_len: usize, kind: TransportKind) -> Connection {
    // Small events must not wait for Nagle's algorithm; batching is ours.
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().ok();
    let local = stream.local_addr().ok();
    let (read, write) = stream.into_split();
    framed_connection(read, write, max_frame_len, kind).with_addrs(peer, local)
}

/// Frames any byte stream pair (a TLS stream's halves, for example) the same
/// way as [`tcp_connection`].
pub fn framed_connection<R, W>(
    read: R,
    write: W,
    max_frame_len: usize,
    kind: TransportKind,
) -> Connection
where
    R: tokio::io::AsyncRead + Send + Unpin + 'static,
    W: tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    // An HTTP request read where a frame should be is answered in HTTP by
    // the writer (see http_answer.rs): the two halves share one flag.
    let http_peer = http_answer::HttpPeer::default();
    let frames_in = FrameReader::new(read, max_frame_len).noticing_http(http_peer.clone());
    let frames_out = FrameWriter::new(write).answering_http(http_peer);
    Connection::new(frames_in, frames_out, kind)
}

/// A connected pair of loopback sockets: (connecting side, accepted side).
#[cfg(test)]
async fn loopback_pair() -> (TcpStream, TcpStream) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("has an address");
    let (connected, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    (connected.expect("connects"), accepted.expect("accepts").0)
}
