//! [`RawTcpPeer`]: a TCP peer that speaks hisock frames by hand, so tests
//! can send what no well-behaved client (or server) would.

use std::net::SocketAddr;

use bytes::Bytes;
use hisock::frame::Frame;
use hisock::CloseReason;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::raw::{tls_client, RawStream};
use crate::wait::{within, WAIT};

/// One end of a TCP connection carrying length-prefixed frames (a 4-byte
/// big-endian length, then the frame), as PROTOCOL.md describes.
pub struct RawTcpPeer {
    stream: RawStream,
}

impl RawTcpPeer {
    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = within("raw TCP connect", TcpStream::connect(addr))
            .await
            .expect("raw TCP connect");
        Self::from_tcp(stream)
    }

    /// Connects to `addr` over TLS, trusting the shared test CA.
    pub async fn connect_tls(addr: SocketAddr) -> Self {
        let stream = within("raw TCP connect", TcpStream::connect(addr))
            .await
            .expect("raw TCP connect");
        let _ = stream.set_nodelay(true);
        Self::from_stream(tls_client(stream).await)
    }

    /// Accepts the next connection on `listener`, as a fake server.
    pub async fn accept(listener: &TcpListener) -> Self {
        let (stream, _) = within("raw TCP accept", listener.accept())
            .await
            .expect("raw TCP accept");
        Self::from_tcp(stream)
    }

    /// Wraps an accepted or connected TCP stream.
    pub fn from_tcp(stream: TcpStream) -> Self {
        let _ = stream.set_nodelay(true);
        Self::from_stream(Box::new(stream))
    }

    /// Wraps any accepted or connected byte stream (a TLS stream, say).
    pub fn from_stream(stream: RawStream) -> Self {
        Self { stream }
    }

    /// Writes bytes exactly as given, no length prefix.
    pub async fn write_raw(&mut self, bytes: &[u8]) {
        within("raw write", self.stream.write_all(bytes))
            .await
            .expect("raw write");
    }

    /// Writes one frame's bytes behind their length prefix.
    pub async fn write_frame(&mut self, frame: &[u8]) {
        let len = u32::try_from(frame.len()).expect("frame length fits u32");
        let mut buf = Vec::with_capacity(4 + frame.len());
        buf.extend_from_slice(&len.to_be_bytes());
        buf.extend_from_slice(frame);
        self.write_raw(&buf).await;
    }

    /// Encodes and writes a frame.
    pub async fn send(&mut self, frame: &Frame<'_>) {
        self.write_frame(&frame.encode()).await;
    }

    /// Closes the writing half (TCP FIN); reading goes on.
    pub async fn finish_writing(&mut self) {
        within("raw shutdown", self.stream.shutdown())
            .await
            .expect("raw shutdown");
    }

    /// The next frame's bytes, or `None` when the peer closed (cleanly or by
    /// reset). Panics when nothing comes within [`WAIT`] or the peer closes
    /// in the middle of a frame.
    pub async fn read_frame(&mut self) -> Option<Bytes> {
        let read = async {
            let mut len = [0u8; 4];
            match self.stream.read_exact(&mut len).await {
                Ok(_) => {}
                Err(err) if is_closed(&err) => return None,
                Err(err) => panic!("raw read failed: {err}"),
            }
            let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
            self.stream
                .read_exact(&mut body)
                .await
                .expect("a whole frame after its length");
            Some(Bytes::from(body))
        };
        match tokio::time::timeout(WAIT, read).await {
            Ok(frame) => frame,
            Err(_) => panic!("raw peer: no frame and no close within {WAIT:?}"),
        }
    }

    /// Expects the next frame to be a refusal, then the end of the
    /// connection; returns the refusal's code and reason.
    pub async fn expect_refuse(&mut self) -> CloseReason {
        let bytes = self.read_frame().await.expect("a refusal, not a hang-up");
        let reason = match Frame::decode(&bytes).expect("the refusal decodes") {
            Frame::Refuse { code, reason } => CloseReason::new(code, reason),
            other => panic!("expected refuse, got {other:?}"),
        };
        self.expect_eof().await;
        reason
    }

    /// Reads past pings, presence notices and events until a close frame,
    /// then expects the end of the connection; returns the close reason.
    /// Pings are not answered.
    pub async fn expect_close(&mut self) -> CloseReason {
        loop {
            let bytes = self
                .read_frame()
                .await
                .expect("a close frame, not a hang-up");
            match Frame::decode(&bytes).expect("server frames decode") {
                Frame::Close { code, reason, .. } => {
                    let reason = CloseReason::new(code, reason);
                    self.expect_eof().await;
                    return reason;
                }
                Frame::Refuse { code, reason } => {
                    panic!("expected close, got refuse {code}: {reason}")
                }
                _ => continue,
            }
        }
    }

    /// Expects the peer to end the connection, skipping any frames before.
    pub async fn expect_eof(&mut self) {
        while let Some(bytes) = self.read_frame().await {
            if let Ok(frame @ (Frame::Close { .. } | Frame::Refuse { .. })) = Frame::decode(&bytes)
            {
                panic!("expected the end of the connection, got another {frame:?}");
            }
        }
    }
}

fn is_closed(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        err.kind(),
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe
    )
}
