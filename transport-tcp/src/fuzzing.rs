//! The body of the `tcp_reader` fuzz target in `fuzz/` (feature
//! `fuzzing`), shared with the stable test that replays its committed
//! corpus and with the chunking property in `read.rs`'s tests. Not part of
//! the API.
//!
//! The `FrameReader` is driven over an in-memory reader that hands out
//! the stream in chunks of chosen sizes (and "nothing yet" in between),
//! polled by hand with a no-op waker: no runtime, no socket, and every
//! split of the stream is reachable.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use hisock::TransportError;
use tokio::io::{AsyncRead, ReadBuf};

use crate::read::FrameReader;

/// An `AsyncRead` over `wire` that returns at most `chunks[i]` bytes on its
/// i-th ready read (cycling through `chunks`); a chunk of 0 is one
/// `Pending` (the socket ran dry) instead of a read.
struct Chunked<'a> {
    wire: &'a [u8],
    chunks: &'a [usize],
    next: usize,
}

impl AsyncRead for Chunked<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let size = match this.chunks.get(this.next % this.chunks.len().max(1)) {
            Some(&size) => size,
            None => usize::MAX,
        };
        this.next = this.next.wrapping_add(1);
        if size == 0 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let n = size.min(this.wire.len()).min(buf.remaining());
        let (head, rest) = this.wire.split_at(n);
        buf.put_slice(head);
        this.wire = rest;
        Poll::Ready(Ok(()))
    }
}

/// One item the reader yields, comparable: a frame or how it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A whole frame.
    Frame(Bytes),
    /// The announced length was over the limit.
    TooBig {
        /// The announced length.
        len: usize,
    },
    /// The stream ended inside a frame.
    Truncated,
    /// Any other error (none is expected from an in-memory reader).
    Other(String),
}

impl From<Result<Bytes, TransportError>> for Item {
    fn from(read: Result<Bytes, TransportError>) -> Self {
        match read {
            Ok(frame) => Item::Frame(frame),
            Err(TransportError::FrameTooBig { len, .. }) => Item::TooBig { len },
            Err(TransportError::Truncated) => Item::Truncated,
            Err(other) => Item::Other(other.to_string()),
        }
    }
}

/// What the reader yields for `wire` delivered in `chunks` (see
/// `Chunked`), up to the end of the stream. Panics if the read buffer
/// ever holds more than the frame limit and the reader's own buffer sizes
/// explain.
pub fn read_in_chunks(wire: &[u8], chunks: &[usize], max_frame_len: usize) -> Vec<Item> {
    let mut reader = FrameReader::new(
        Chunked {
            wire,
            chunks,
            next: 0,
        },
        max_frame_len,
    );
    let bound = capacity_bound(max_frame_len);
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    let mut items = Vec::new();
    loop {
        match Pin::new(&mut reader).poll_next(&mut cx) {
            Poll::Ready(Some(item)) => items.push(Item::from(item)),
            Poll::Ready(None) => break,
            Poll::Pending => {}
        }
        let capacity = reader.buffer_capacity();
        assert!(
            capacity <= bound,
            "a read buffer of {capacity} bytes for frames of at most {max_frame_len}"
        );
    }
    items
}

/// The most a reader's buffer may hold for frames of `max_frame_len`: a
/// busy read's room plus one whole frame, doubled for `BytesMut`'s growth.
fn capacity_bound(max_frame_len: usize) -> usize {
    2 * (crate::read::BUSY_READ_BUFFER_BYTES + 4 + max_frame_len)
}

/// What a correct reader yields for `wire`, read all at once: frames until
/// the stream ends, a length over the limit, or an end inside a frame.
pub fn reference(mut wire: &[u8], max_frame_len: usize) -> Vec<Item> {
    let mut items = Vec::new();
    while !wire.is_empty() {
        let Some((head, rest)) = wire.split_first_chunk::<4>() else {
            items.push(Item::Truncated);
            break;
        };
        let len = u32::from_be_bytes(*head) as usize;
        if len > max_frame_len {
            items.push(Item::TooBig { len });
            break;
        }
        let Some((frame, rest)) = rest.split_at_checked(len) else {
            items.push(Item::Truncated);
            break;
        };
        items.push(Item::Frame(Bytes::copy_from_slice(frame)));
        wire = rest;
    }
    items
}

/// The fuzz target: `data` is one byte of frame limit (0 to 255 bytes),
/// one byte `n`, `n` chunk sizes (0: the socket runs dry once), and the
/// byte stream. Whatever the chunking, the reader yields what
/// [`reference`] reads from the whole stream.
pub fn tcp_reader(data: &[u8]) {
    let Some((&max, rest)) = data.split_first() else {
        return;
    };
    let Some((&n, rest)) = rest.split_first() else {
        return;
    };
    let (sizes, wire) = rest.split_at(usize::from(n).min(rest.len()));
    let chunks: Vec<usize> = sizes.iter().map(|&size| usize::from(size)).collect();
    // Chunk sizes of only zeros would never deliver a byte.
    let chunks = if chunks.iter().all(|&size| size == 0) {
        vec![usize::MAX]
    } else {
        chunks
    };
    let max_frame_len = usize::from(max);
    assert_eq!(
        read_in_chunks(wire, &chunks, max_frame_len),
        reference(wire, max_frame_len)
    );
}
