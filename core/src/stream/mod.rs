//! Large payloads as streams of chunks.
//!
//! A sender splits a payload into `StreamChunk` frames that travel between
//! ordinary events, so a 256 MiB upload never holds up a chat message. The
//! receiver acknowledges what its application has consumed (`StreamAck`);
//! the sender keeps at most a window of unacknowledged bytes, which bounds
//! the bulk bytes sitting in queues and socket buffers ahead of any small
//! event. A receiver can refuse or drop a stream (`StreamCancel`), and a
//! stream cut off by a disconnect ends with an error, never with a silently
//! truncated payload.
//!
//! The receiving handler takes an [`IncomingStream`] argument: either it
//! reads the chunks as they come (it is a `Stream` of `Bytes`) or awaits the
//! whole payload with [`IncomingStream::into_bytes`].

mod incoming;
mod outgoing;

use std::fmt;

pub use incoming::IncomingStream;
pub(crate) use incoming::IncomingStreams;
pub(crate) use outgoing::{send_stream, OutgoingStreams};

use bytes::Bytes;

use crate::frame::{ErrorCode, Frame};
use crate::transport::MaybeSend;

/// Routes the frames that carry stream data and credit (chunks, ends, acks,
/// cancels) to a connection's stream tables, and hands every other frame
/// back. `bytes` is the buffer `frame` was decoded from, so chunks are
/// sliced out of it without a copy.
pub(crate) fn route_data_frame<'a>(
    frame: Frame<'a>,
    bytes: &Bytes,
    incoming: &mut IncomingStreams,
    outgoing: &OutgoingStreams,
) -> Option<Frame<'a>> {
    match frame {
        Frame::StreamChunk { stream_id, data } => incoming.chunk(stream_id, bytes.slice_ref(data)),
        Frame::StreamEnd { stream_id, error } => incoming.end(stream_id, error),
        Frame::StreamAck {
            stream_id,
            consumed,
        } => outgoing.ack(stream_id, consumed),
        Frame::StreamCancel {
            stream_id,
            code,
            message,
        } => outgoing.cancel(stream_id, ErrorCode::from_wire(code), message),
        other => return Some(other),
    }
    None
}

/// Bytes a receiver accepts in one stream unless configured otherwise
/// (1 GiB).
pub const DEFAULT_MAX_STREAM_LEN: u64 = 1 << 30;

/// How far a stream has got: bytes sent (or received) and the total when
/// known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes so far.
    pub bytes: u64,
    /// The total, when the sender announced it.
    pub total: Option<u64>,
}

#[cfg(not(target_arch = "wasm32"))]
type ProgressFn = Box<dyn FnMut(Progress) + Send>;
#[cfg(target_arch = "wasm32")]
type ProgressFn = Box<dyn FnMut(Progress)>;

/// How to send a stream.
pub struct StreamOptions {
    pub(crate) chunk_size: usize,
    pub(crate) window: usize,
    pub(crate) total_len: Option<u64>,
    pub(crate) progress: Option<ProgressFn>,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            chunk_size: 64 * 1024,
            window: 512 * 1024,
            total_len: None,
            progress: None,
        }
    }
}

impl fmt::Debug for StreamOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamOptions")
            .field("chunk_size", &self.chunk_size)
            .field("window", &self.window)
            .field("total_len", &self.total_len)
            .finish_non_exhaustive()
    }
}

impl StreamOptions {
    /// Defaults: 64 KiB chunks, at most 512 KiB unacknowledged.
    pub fn new() -> Self {
        Self::default()
    }

    /// Largest chunk, in bytes (at least 1).
    pub fn chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = bytes.max(1);
        self
    }

    /// Most bytes sent but not yet consumed by the receiver. Smaller keeps
    /// small events faster during the transfer; larger helps bandwidth on
    /// long round trips. At least one chunk.
    pub fn window(mut self, bytes: usize) -> Self {
        self.window = bytes.max(1);
        self
    }

    /// Announces the total length, so the receiver can check it up front and
    /// report progress against it.
    pub fn total_len(mut self, bytes: u64) -> Self {
        self.total_len = Some(bytes);
        self
    }

    /// Called after each chunk is queued with the bytes sent so far.
    pub fn on_progress(mut self, progress: impl FnMut(Progress) + MaybeSend + 'static) -> Self {
        self.progress = Some(Box::new(progress));
        self
    }
}
