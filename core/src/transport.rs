//! The seam between the protocol and the network: a connection is a stream
//! of whole frames in and a sink of whole frames out.
//!
//! TCP (`hisock-tcp`) adds a length prefix, WebSocket (`hisock-ws`) sends one
//! binary message per frame, and the browser (`hisock-wasm`) wraps
//! `web_sys::WebSocket`. All reduce to a [`FrameStream`] + [`FrameSink`] pair.
//! Browser types are not `Send`, so the bounds use [`MaybeSend`]: `Send` on
//! native targets, no bound at all on wasm32.

use std::fmt;
use std::net::SocketAddr;
use std::pin::Pin;

use bytes::Bytes;
use futures::{Sink, Stream};

use crate::close::CloseReason;

// Defined with the crate's other differences between native and wasm32.
pub use crate::platform::send::{BoxFuture, MaybeSend, MaybeSync};

/// Why a transport failed. Transports map their own errors into this.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// An I/O error from the socket. (Not in the browser build: it has no
    /// sockets, and std's I/O error texts would only grow the `.wasm`.)
    #[cfg(not(target_arch = "wasm32"))]
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent a frame larger than the maximum frame length.
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    FrameTooBig {
        /// Announced length of the frame, if the transport knows it.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The connection ended in the middle of a frame.
    #[error("connection closed in the middle of a frame")]
    Truncated,
    /// The peer sent something the transport cannot carry as a hisock frame
    /// (a WebSocket text message, for example). The connection should be
    /// closed with the given reason.
    #[error("unsupported message: {0}")]
    Unsupported(CloseReason),
    /// The peer closed the underlying connection with a code (WebSocket close
    /// frames, browser `CloseEvent`s).
    #[error("closed by peer: {0}")]
    Closed(CloseReason),
    /// Any other transport-specific failure.
    #[error("{0}")]
    Other(String),
}

/// The receiving half of a connection: whole frames, in order. A clean end of
/// the connection is the end of the stream; EOF inside a frame is an error.
pub trait FrameStream: Stream<Item = Result<Bytes, TransportError>> + MaybeSend + Unpin {}
impl<T> FrameStream for T where T: Stream<Item = Result<Bytes, TransportError>> + MaybeSend + Unpin {}

/// The sending half of a connection: one `Bytes` is one whole frame. Callers
/// `feed` many frames and `flush` once, so the transport can batch writes.
pub trait FrameSink: Sink<Bytes, Error = TransportError> + MaybeSend + Unpin {}
impl<T> FrameSink for T where T: Sink<Bytes, Error = TransportError> + MaybeSend + Unpin {}

/// Which kind of transport carries a connection. Reported in
/// [`ClientInfo`](crate::ClientInfo) so applications can tell clients apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum TransportKind {
    /// Length-prefixed frames over TCP.
    Tcp,
    /// Length-prefixed frames over TLS over TCP.
    Tls,
    /// Binary WebSocket messages.
    Ws,
    /// Binary WebSocket messages over TLS.
    Wss,
    /// Anything else (an in-memory transport in tests, for example).
    Other,
}

impl TransportKind {
    /// The wire number of the transport kind (see PROTOCOL.md).
    pub fn to_wire(self) -> u8 {
        match self {
            TransportKind::Tcp => 0,
            TransportKind::Tls => 1,
            TransportKind::Ws => 2,
            TransportKind::Wss => 3,
            TransportKind::Other => 255,
        }
    }

    /// The transport kind for a wire number; unknown numbers map to `Other`.
    pub fn from_wire(n: u8) -> Self {
        match n {
            0 => TransportKind::Tcp,
            1 => TransportKind::Tls,
            2 => TransportKind::Ws,
            3 => TransportKind::Wss,
            _ => TransportKind::Other,
        }
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Tcp => "tcp",
            TransportKind::Tls => "tls",
            TransportKind::Ws => "ws",
            TransportKind::Wss => "wss",
            TransportKind::Other => "other",
        })
    }
}

/// One established connection, as a transport hands it to the protocol.
pub struct Connection {
    /// Frames from the peer.
    pub stream: Pin<Box<dyn FrameStream>>,
    /// Frames to the peer.
    pub sink: Pin<Box<dyn FrameSink>>,
    /// The peer's address, where the transport knows it.
    pub peer_addr: Option<SocketAddr>,
    /// This side's address, where the transport knows it.
    pub local_addr: Option<SocketAddr>,
    /// Which transport carries the connection.
    pub kind: TransportKind,
}

impl Connection {
    /// Wraps a stream/sink pair.
    pub fn new(
        stream: impl FrameStream + 'static,
        sink: impl FrameSink + 'static,
        kind: TransportKind,
    ) -> Self {
        Self {
            stream: Box::pin(stream),
            sink: Box::pin(sink),
            peer_addr: None,
            local_addr: None,
            kind,
        }
    }

    /// Sets the peer and local addresses.
    pub fn with_addrs(mut self, peer: Option<SocketAddr>, local: Option<SocketAddr>) -> Self {
        self.peer_addr = peer;
        self.local_addr = local;
        self
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("peer_addr", &self.peer_addr)
            .field("local_addr", &self.local_addr)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}
