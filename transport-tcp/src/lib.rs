//! # hisock-tcp
//!
//! The TCP transport for [hisock]: each frame travels with a 4-byte
//! big-endian length prefix (tokio-util's `LengthDelimitedCodec`). The
//! receiving side checks the announced length against the maximum frame
//! length before allocating anything; the sending side batches frames into
//! one write per flush.
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
#![forbid(unsafe_code)]

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::BytesMut;
use futures::SinkExt;
use hisock::server::{ConnectionLimits, Incoming, Listener};
use hisock::transport::BoxFuture;
use hisock::{Client, ClientOptions, Connection, TransportError, TransportKind};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio_util::codec::{FramedWrite, LengthDelimitedCodec};

mod read;
use read::FrameReader;

/// Largest frame a client accepts from its server unless told otherwise.
pub const DEFAULT_MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// Frames are gathered up to this many bytes before a write; larger batches
/// mean fewer syscalls under load.
const WRITE_BATCH_BYTES: usize = 16 * 1024;

/// A TCP listener that feeds a [`hisock::Server`].
pub struct TcpListener {
    inner: tokio::net::TcpListener,
}

impl TcpListener {
    /// Binds to `addr` (port 0 picks a free port).
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<Self> {
        Ok(Self {
            inner: tokio::net::TcpListener::bind(addr).await?,
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
    // The sender checks sizes against the peer's announced limit itself;
    // the encoder only guards the 4-byte length field.
    let encoder = LengthDelimitedCodec::builder()
        .max_frame_length(u32::MAX as usize)
        .new_codec();
    let frames_in = FrameReader::new(read, max_frame_len);
    let mut framed_out = FramedWrite::new(write, encoder);
    framed_out.set_backpressure_boundary(WRITE_BATCH_BYTES);
    let frames_out = SinkExt::<bytes::Bytes>::sink_map_err(
        ReleasingWriter { framed: framed_out },
        TransportError::Io,
    );
    Connection::new(frames_in, frames_out, kind)
}

/// Bytes reserved for the write buffer when a batch of frames starts.
const WRITE_BUFFER_START: usize = 8 * 1024;

/// A `FramedWrite` that lets go of its buffer once a flush has written
/// everything, so an idle connection holds no write buffer (tokio-util keeps
/// the buffer's largest size for good otherwise, 8 KiB at least).
struct ReleasingWriter<W> {
    framed: FramedWrite<W, LengthDelimitedCodec>,
}

impl<W: tokio::io::AsyncWrite + Unpin> futures::Sink<bytes::Bytes> for ReleasingWriter<W> {
    type Error = io::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        futures::Sink::<bytes::Bytes>::poll_ready(Pin::new(&mut self.framed), cx)
    }

    fn start_send(mut self: Pin<&mut Self>, frame: bytes::Bytes) -> Result<(), Self::Error> {
        let buffer = self.framed.write_buffer_mut();
        if buffer.capacity() == 0 {
            buffer.reserve(WRITE_BUFFER_START.max(frame.len() + 4));
        }
        futures::Sink::<bytes::Bytes>::start_send(Pin::new(&mut self.framed), frame)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let flushed = ready!(futures::Sink::<bytes::Bytes>::poll_flush(
            Pin::new(&mut self.framed),
            cx
        ));
        let buffer = self.framed.write_buffer_mut();
        if flushed.is_ok() && buffer.is_empty() && buffer.capacity() > 0 {
            *buffer = BytesMut::new();
        }
        Poll::Ready(flushed)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        futures::Sink::<bytes::Bytes>::poll_close(Pin::new(&mut self.framed), cx)
    }
}

/// Connects to a hisock server over TCP, performs the handshake and spawns
/// the client's driver on the current tokio runtime.
///
/// Errors: I/O errors as [`hisock::Error::Transport`], and everything
/// [`Client::handshake`] reports (refusal, timeout, …).
pub async fn connect(addr: impl ToSocketAddrs, options: ClientOptions) -> hisock::Result<Client> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|err| hisock::Error::Transport(TransportError::Io(err)))?;
    let conn = tcp_connection(stream, DEFAULT_MAX_FRAME_LEN, TransportKind::Tcp);
    let (client, driver) = Client::handshake(conn, options).await?;
    tokio::spawn(driver);
    Ok(client)
}
