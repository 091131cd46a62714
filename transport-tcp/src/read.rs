//! The receiving side: length-prefixed frames out of a byte stream, into a
//! read buffer that grows while the peer keeps it busy.
//!
//! Hand-written instead of tokio-util's `FramedRead` + `LengthDelimitedCodec`
//! because that costs instructions on every small event: in W1 TCP (one
//! client pipelining 64-byte events; callgrind instructions per event, see
//! bench/README.md), putting `FramedRead` back (with the same adaptive
//! buffer) takes 2,536 to 2,761 (+225); the writer in `write.rs` saves 168
//! more. Both were part of the pass that took W1 TCP from 3,821 to 2,557.
//! It reads exactly what `LengthDelimitedCodec` writes (4-byte big-endian
//! length, then the frame): `tests/length_delimited.rs` checks that against
//! the codec itself, in both directions and at the length limit.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use hisock::TransportError;
use tokio::io::AsyncRead;

use crate::http_answer::HttpPeer;

/// Initial read buffer per connection (it grows for larger frames).
/// tokio-util's default is 8 KiB; measured with 10,000 connections in three
/// connect/disconnect waves, 8 KiB buffers left the heap fragmented (RSS
/// grew 1.5x from the first wave to the third) and 4 KiB ones did not.
pub(crate) const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Frames received in a row (without the socket running dry) after which a
/// connection counts as busy and reads into [`BUSY_READ_BUFFER_BYTES`].
const BUSY_STREAK: u32 = 256;

/// Read buffer of a busy connection: one read takes in up to this much, so
/// a stream of small events costs a read syscall per ~1,000 events rather
/// than per ~50. It goes back to [`READ_BUFFER_BYTES`] once the socket runs
/// dry, so idle connections keep the small buffer.
pub(crate) const BUSY_READ_BUFFER_BYTES: usize = 64 * 1024;

/// Bytes of the length prefix: a 4-byte big-endian frame length.
const HEAD_BYTES: usize = 4;

/// Frames read from `read`: each a 4-byte big-endian length, then that many
/// bytes (what tokio-util's `LengthDelimitedCodec` reads, without its
/// generality). The announced length is checked against the maximum before
/// any room is made for the frame. A frame is a slice of the read buffer,
/// not a copy.
pub(crate) struct FrameReader<R> {
    read: R,
    buffer: BytesMut,
    max_frame_len: usize,
    /// Frames delivered since the socket last ran dry.
    streak: u32,
    /// The stream ended (cleanly or with an error): nothing more is read.
    done: bool,
    /// Set when the peer turns out to speak HTTP (the writer answers it).
    http_peer: Option<HttpPeer>,
}

impl<R> FrameReader<R> {
    pub(crate) fn new(read: R, max_frame_len: usize) -> Self {
        Self {
            read,
            buffer: BytesMut::with_capacity(READ_BUFFER_BYTES),
            max_frame_len,
            streak: 0,
            done: false,
            http_peer: None,
        }
    }

    /// Flags `http_peer` when an HTTP request arrives where a frame should
    /// (see `http_answer.rs`).
    pub(crate) fn noticing_http(mut self, http_peer: HttpPeer) -> Self {
        self.http_peer = Some(http_peer);
        self
    }

    /// The next whole frame in the buffer, if there is one. Otherwise makes
    /// room for the rest of a partly read frame.
    fn next_frame(&mut self) -> Result<Option<Bytes>, TransportError> {
        let Some(&[a, b, c, d]) = self.buffer.get(..HEAD_BYTES) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([a, b, c, d]) as usize;
        if len > self.max_frame_len {
            if let Some(http_peer) = &self.http_peer {
                http_peer.notice([a, b, c, d], self.max_frame_len);
            }
            return Err(TransportError::FrameTooBig {
                len,
                max: self.max_frame_len,
            });
        }
        let missing = (HEAD_BYTES + len).saturating_sub(self.buffer.len());
        if missing > 0 {
            self.buffer.reserve(missing);
            return Ok(None);
        }
        // Advancing the frozen frame is cheaper than advancing the buffer.
        let mut frame = self.buffer.split_to(HEAD_BYTES + len).freeze();
        frame.advance(HEAD_BYTES);
        Ok(Some(frame))
    }

    /// Makes room for a read: a busy connection reads up to
    /// [`BUSY_READ_BUFFER_BYTES`] at a time. Called only when no whole frame
    /// is buffered, so growing moves at most one partial frame.
    fn make_room(&mut self) {
        let spare = self.buffer.capacity() - self.buffer.len();
        if self.streak >= BUSY_STREAK && spare < BUSY_READ_BUFFER_BYTES / 2 {
            self.buffer.reserve(BUSY_READ_BUFFER_BYTES);
        } else if spare == 0 {
            // A read into no room would look like the end of the stream.
            self.buffer.reserve(READ_BUFFER_BYTES);
        }
    }

    /// Bytes the read buffer holds room for (the fuzz target bounds it).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn buffer_capacity(&self) -> usize {
        self.buffer.capacity()
    }

    /// The socket ran dry: the connection is no longer busy, and an empty
    /// buffer goes back to the small size.
    fn ran_dry(&mut self) {
        self.streak = 0;
        if self.buffer.is_empty() && self.buffer.capacity() > READ_BUFFER_BYTES {
            self.buffer = BytesMut::with_capacity(READ_BUFFER_BYTES);
        }
    }
}

impl<R: AsyncRead + Unpin> futures::Stream for FrameReader<R> {
    type Item = Result<Bytes, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match this.next_frame() {
                Ok(Some(frame)) => {
                    this.streak = this.streak.saturating_add(1);
                    return Poll::Ready(Some(Ok(frame)));
                }
                Ok(None) => {}
                Err(err) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(err)));
                }
            }
            this.make_room();
            let read =
                tokio_util::io::poll_read_buf(Pin::new(&mut this.read), cx, &mut this.buffer);
            match read {
                Poll::Pending => {
                    this.ran_dry();
                    return Poll::Pending;
                }
                Poll::Ready(Ok(0)) => {
                    this.done = true;
                    if this.buffer.is_empty() {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Err(TransportError::Truncated)));
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(err)) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(TransportError::Io(err))));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;

    fn framed(payloads: &[&[u8]]) -> Vec<u8> {
        let mut wire = Vec::new();
        for payload in payloads {
            wire.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            wire.extend_from_slice(payload);
        }
        wire
    }

    #[tokio::test]
    async fn frames_split_anywhere_arrive_whole_and_in_order() {
        let big = vec![7u8; 3 * READ_BUFFER_BYTES];
        let wire = framed(&[b"a", b"", &big, b"bcd"]);
        let (mut tx, rx) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            for chunk in wire.chunks(5) {
                tx.write_all(chunk).await.expect("write");
            }
        });
        let frames: Vec<_> = FrameReader::new(rx, 1 << 20).collect().await;
        writer.await.expect("writer");
        let frames: Vec<Bytes> = frames.into_iter().map(|f| f.expect("frame")).collect();
        assert_eq!(frames.len(), 4);
        assert_eq!(&frames[0][..], b"a");
        assert!(frames[1].is_empty());
        assert_eq!(frames[2], big);
        assert_eq!(&frames[3][..], b"bcd");
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(256))]

        /// However the stream is cut into reads (0: the socket runs dry
        /// once), the reader yields the frames that were written, in
        /// order, and then a clean end.
        #[test]
        fn any_chunking_of_a_valid_stream_yields_the_same_frames(
            payloads in proptest::collection::vec(
                proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
                0..12,
            ),
            chunks in proptest::collection::vec(0usize..700, 1..12),
        ) {
            use crate::fuzzing::{read_in_chunks, reference, Item};
            let slices: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
            let wire = framed(&slices);
            let written: Vec<Item> = payloads
                .iter()
                .map(|payload| Item::Frame(Bytes::copy_from_slice(payload)))
                .collect();
            proptest::prop_assert_eq!(&reference(&wire, 300), &written);
            let chunks = if chunks.iter().all(|&size| size == 0) { vec![1] } else { chunks };
            proptest::prop_assert_eq!(read_in_chunks(&wire, &chunks, 300), written);
        }
    }

    #[tokio::test]
    async fn an_announced_length_over_the_limit_is_refused_before_reading_it() {
        let wire = 1000u32.to_be_bytes();
        let mut reader = FrameReader::new(&wire[..], 999);
        match reader.next().await {
            Some(Err(TransportError::FrameTooBig { len, max })) => {
                assert_eq!((len, max), (1000, 999));
            }
            other => panic!("expected FrameTooBig, got {other:?}"),
        }
        assert!(reader.next().await.is_none(), "nothing after the error");
    }

    #[tokio::test]
    async fn an_end_inside_a_frame_is_an_error_and_a_clean_end_is_none() {
        let mut wire = framed(&[b"whole"]);
        wire.extend_from_slice(&framed(&[b"cut"])[..5]);
        let mut reader = FrameReader::new(&wire[..], 100);
        assert_eq!(
            &reader.next().await.expect("a frame").expect("ok")[..],
            b"whole"
        );
        assert!(matches!(
            reader.next().await,
            Some(Err(TransportError::Truncated))
        ));
        assert!(reader.next().await.is_none());
        let wire = framed(&[b"x"]);
        let mut reader = FrameReader::new(&wire[..], 100);
        assert!(reader.next().await.expect("a frame").is_ok());
        assert!(reader.next().await.is_none(), "a clean end");
    }

    #[tokio::test]
    async fn an_idle_connection_lets_go_of_a_large_frames_allocation() {
        let (mut writer, accepted) = crate::loopback_pair().await;
        let mut frames = FrameReader::new(accepted, 8 << 20);
        let large = vec![7u8; 4 << 20];
        // Written while it is read: more than the socket buffers hold.
        let wire = framed(&[&large]);
        let (frame, written) = tokio::join!(frames.next(), writer.write_all(&wire));
        written.expect("writes");
        let frame = frame.expect("open").expect("a frame");
        assert!(frame == large);
        // The application is done with the frame before the next read.
        drop(frame);
        assert!(
            futures::poll!(frames.next()).is_pending(),
            "nothing more sent"
        );

        // Reading the next frame must not take the 4 MiB allocation back.
        writer
            .write_all(&framed(&[b"small"]))
            .await
            .expect("writes");
        let small = tokio::time::timeout(std::time::Duration::from_secs(10), frames.next())
            .await
            .expect("in time")
            .expect("open")
            .expect("a frame");
        assert_eq!(&small[..], b"small");
        let capacity = frames.buffer.capacity();
        assert!(
            capacity <= BUSY_READ_BUFFER_BYTES,
            "an idle read buffer of {capacity} bytes"
        );
    }
}
