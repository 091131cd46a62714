//! The sending side: frames with their length prefix, gathered in a buffer
//! that is written out once it holds a batch or on flush, and let go of
//! when everything is written.
//!
//! Hand-written instead of tokio-util's `FramedWrite` + `LengthDelimitedCodec`
//! because that costs instructions on every small event: in W1 TCP (one
//! client pipelining 64-byte events; callgrind instructions per event, see
//! bench/README.md), putting `FramedWrite` back (with the same batching and
//! buffer release) takes 2,536 to 2,704 (+168); the reader in `read.rs`
//! saves 225 more. Both were part of the pass that took W1 TCP from 3,821
//! to 2,557 (in which the client's writer task, with other changes, went
//! from 548 to 179). It writes exactly the bytes `LengthDelimitedCodec`
//! writes: `tests/length_delimited.rs` checks that against the codec itself.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use hisock::TransportError;
use tokio::io::AsyncWrite;

use crate::http_answer::HttpPeer;

/// Frames are gathered up to this many bytes before a write; larger batches
/// mean fewer syscalls under load.
const WRITE_BATCH_BYTES: usize = 16 * 1024;

/// Bytes reserved for the write buffer when a batch of frames starts, at
/// least; after a batch that needed more, the next one starts with what
/// that one needed (up to [`WRITE_BUFFER_MAX_START`]), so a busy
/// connection does not grow (and copy) its buffer in every batch.
const WRITE_BUFFER_START: usize = 8 * 1024;

/// Most bytes reserved for the write buffer when a batch starts.
const WRITE_BUFFER_MAX_START: usize = WRITE_BATCH_BYTES + 4 * 1024;

/// Writes frames to `write`, each after its 4-byte big-endian length (what
/// tokio-util's `LengthDelimitedCodec` writes). The buffer is dropped once a
/// flush has written everything, so an idle connection holds no write
/// buffer (tokio-util keeps the largest size its buffer ever reached).
pub(crate) struct FrameWriter<W> {
    write: W,
    buffer: BytesMut,
    /// Bytes gathered since the last flush.
    gathered: usize,
    /// What the buffer starts with after a flush.
    start: usize,
    /// Set by the reader when the peer speaks HTTP: then the HTTP answer
    /// goes out instead of frames (see `http_answer.rs`).
    http_peer: Option<HttpPeer>,
}

impl<W> FrameWriter<W> {
    pub(crate) fn new(write: W) -> Self {
        Self {
            write,
            buffer: BytesMut::new(),
            gathered: 0,
            start: WRITE_BUFFER_START,
            http_peer: None,
        }
    }

    /// Writes the HTTP answer instead of frames once the reader flags
    /// `http_peer`.
    pub(crate) fn answering_http(mut self, http_peer: HttpPeer) -> Self {
        self.http_peer = Some(http_peer);
        self
    }
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    /// Writes the whole buffer out. The buffer is kept for the next frames
    /// (a flush lets go of it).
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // One relaxed load per batch, not per frame.
        if let Some(http_peer) = &self.http_peer {
            http_peer.replace_frames(&mut self.buffer);
        }
        while !self.buffer.is_empty() {
            let written = ready!(tokio_util::io::poll_write_buf(
                Pin::new(&mut self.write),
                cx,
                &mut self.buffer
            ))?;
            if written == 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "failed to write frame to transport",
                )));
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Writes the whole buffer out, flushes `write` and lets go of the
    /// buffer.
    fn poll_write_all(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_write_out(cx))?;
        ready!(Pin::new(&mut self.write).poll_flush(cx))?;
        // Whatever its capacity says: once everything is written, the
        // buffer is the empty end of its allocation (capacity 0 after a
        // frame that filled it), and BytesMut would take the whole
        // allocation back on the next reserve. BytesMut::new allocates
        // nothing.
        self.buffer = BytesMut::new();
        self.start = self
            .gathered
            .clamp(WRITE_BUFFER_START, WRITE_BUFFER_MAX_START);
        self.gathered = 0;
        Poll::Ready(Ok(()))
    }
}

impl<W: AsyncWrite + Unpin> futures::Sink<Bytes> for FrameWriter<W> {
    type Error = TransportError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.buffer.len() < WRITE_BATCH_BYTES {
            return Poll::Ready(Ok(()));
        }
        self.poll_write_out(cx).map_err(TransportError::Io)
    }

    fn start_send(mut self: Pin<&mut Self>, frame: Bytes) -> Result<(), Self::Error> {
        // The sender checks sizes against the peer's limit itself; this
        // only guards the 4-byte length field.
        let Ok(len) = u32::try_from(frame.len()) else {
            return Err(TransportError::FrameTooBig {
                len: frame.len(),
                max: u32::MAX as usize,
            });
        };
        let needed = 4 + frame.len();
        if self.buffer.capacity() == 0 {
            let start = self.start.max(needed);
            self.buffer.reserve(start);
        }
        self.gathered += needed;
        self.buffer.reserve(needed);
        self.buffer.put_u32(len);
        self.buffer.extend_from_slice(&frame);
        Ok(())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.poll_write_all(cx).map_err(TransportError::Io)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        ready!(self.poll_write_all(cx)).map_err(TransportError::Io)?;
        Pin::new(&mut self.write)
            .poll_shutdown(cx)
            .map_err(TransportError::Io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::SinkExt;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn frames_go_out_length_prefixed_and_in_order() {
        let (tx, mut rx) = tokio::io::duplex(1 << 20);
        let mut writer = FrameWriter::new(tx);
        let big = Bytes::from(vec![9u8; 3 * WRITE_BATCH_BYTES]);
        for frame in [Bytes::from_static(b"ab"), Bytes::new(), big.clone()] {
            writer.feed(frame).await.expect("feed");
        }
        writer.close().await.expect("close");
        assert_eq!(writer.buffer.capacity(), 0, "the buffer is let go");
        let mut wire = Vec::new();
        rx.read_to_end(&mut wire).await.expect("read");
        let mut expected = vec![0, 0, 0, 2, b'a', b'b', 0, 0, 0, 0];
        expected.extend_from_slice(&(big.len() as u32).to_be_bytes());
        expected.extend_from_slice(&big);
        assert_eq!(wire, expected);
    }

    #[tokio::test]
    async fn a_busy_connection_starts_its_batches_big_enough_and_an_idle_one_small() {
        let (tx, mut rx) = tokio::io::duplex(1 << 20);
        let reader = tokio::spawn(async move {
            let mut sink = Vec::new();
            rx.read_to_end(&mut sink).await.map(|_| sink.len())
        });
        let mut writer = FrameWriter::new(tx);
        let frame = Bytes::from(vec![1u8; 60]);
        for _ in 0..1000 {
            writer.feed(frame.clone()).await.expect("feed");
        }
        writer.flush().await.expect("flush");
        writer.feed(frame.clone()).await.expect("feed");
        assert!(writer.buffer.capacity() > WRITE_BATCH_BYTES, "starts big");
        writer.flush().await.expect("flush");
        writer.feed(frame.clone()).await.expect("feed");
        assert!(
            writer.buffer.capacity() < WRITE_BATCH_BYTES,
            "back to small"
        );
        writer.close().await.expect("close");
        assert_eq!(reader.await.expect("reader").expect("read"), 1002 * 64);
    }

    #[tokio::test]
    async fn an_idle_writer_holds_no_part_of_a_large_frames_allocation() {
        let (mut reader, accepted) = crate::loopback_pair().await;
        let mut writer = FrameWriter::new(accepted);
        let large = Bytes::from(vec![7u8; 4 << 20]);
        let mut received = vec![0u8; 4 + large.len()];
        let (sent, read) = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            tokio::join!(writer.send(large.clone()), reader.read_exact(&mut received))
        })
        .await
        .expect("in time");
        sent.expect("sends");
        read.expect("reads");
        assert!(received[4..] == large[..]);

        // The next frame must not take the 4 MiB allocation back.
        writer
            .feed(Bytes::from_static(b"small"))
            .await
            .expect("queues");
        let capacity = writer.buffer.capacity();
        assert!(capacity <= 64 * 1024, "a write buffer of {capacity} bytes");
    }
}
