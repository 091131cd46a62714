//! The adapter between a WebSocket (a stream and sink of messages) and a
//! hisock [`Connection`] (a stream and sink of whole frames): one binary
//! message per frame, or, on a connection whose client offered batches
//! ([`hisock::protocol::batch`]), batches of frames: the first message is
//! a batch (which tells the client the server agreed), then the small
//! frames written between two flushes go as one message (a frame alone as
//! itself), and received batches are split again.
//!
//! It is generic over the WebSocket type, so tokio-tungstenite's
//! `WebSocketStream` and axum's `WebSocket` share it; [`WsMessage`] and
//! [`WsError`] say how to read each one's messages and errors.
//!
//! Large frames: a frame longer than twice the fragment size (64 KiB, or
//! the socket's write buffer size if larger) goes out as one WebSocket
//! message in fragments of that size (RFC 6455 section 5.4), one fragment
//! per `poll_ready`. tungstenite copies every outgoing frame into a write
//! buffer that never shrinks, and its peer reads every frame whole into a
//! read buffer that never shrinks either: whole 16 MiB messages would leave
//! 16 MiB buffers on both connections for as long as they live. With
//! fragments, those buffers stay within a few hundred KiB. Receivers
//! reassemble fragments (browsers and tungstenite do), so the peer still
//! sees one message. Frames up to twice the fragment size (stream chunks
//! among them: 64 KiB by default) go whole: fragments cost the receiver a
//! copy, and smaller ones more system calls (8 KiB fragments halved the
//! throughput of large transfers).
//!
//! Closing: when the sink closes, it sends a WebSocket close frame. Its code
//! and reason repeat those of the last hisock `Close` or `Refuse` frame sent
//! through the sink (the server always sends one before closing), so a
//! browser sees the hisock close code in its `CloseEvent`. Without one the
//! code is 1000 (normal).

use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures::{Sink, Stream};
use hisock::protocol::batch;
use hisock::{codes, CloseReason, Connection, TransportError, TransportKind};

/// What a received WebSocket message means for hisock.
pub(crate) enum Received {
    /// A binary message: one hisock frame.
    Binary(Bytes),
    /// A text message, which hisock does not use.
    Text,
    /// The peer's close frame, with its code and reason if it sent them.
    Close(Option<CloseReason>),
    /// Ping, pong or anything else the WebSocket library handles itself.
    Control,
}

/// A WebSocket message type the adapter can read and write.
pub(crate) trait WsMessage: Sized {
    /// A binary message carrying one frame.
    fn binary(frame: Bytes) -> Self;
    /// Whether the socket type can send raw fragments ([`fragment`]);
    /// without, frames go out whole.
    ///
    /// [`fragment`]: WsMessage::fragment
    const FRAGMENTS: bool;
    /// One fragment of a binary message: the first (opcode binary) or a
    /// continuation, final or not. Only called when [`Self::FRAGMENTS`].
    fn fragment(payload: Bytes, first: bool, last: bool) -> Self;
    /// A close message with a code and a reason (already valid to send).
    fn close(code: u16, reason: String) -> Self;
    /// What the message means.
    fn received(self) -> Received;
}

/// A WebSocket error type the adapter can map into [`TransportError`].
pub(crate) trait WsError {
    /// The transport error, or `None` when the error only says that the
    /// connection is closed (the end of the stream).
    fn into_transport(self) -> Option<TransportError>;
}

/// Close code for a text message or close reason that is not valid UTF-8
/// (RFC 6455 section 7.4.1, "invalid frame payload data").
pub(crate) const INVALID_PAYLOAD: u16 = 1007;

/// Maps a tungstenite error into a transport error (`None`: the connection
/// is closed, which ends the stream). A macro because axum's WebSocket is
/// built on another tungstenite version than ours: `$($ts)::+` names the
/// tungstenite crate to match on.
macro_rules! map_tungstenite_error {
    ($err:expr, $($ts:ident)::+) => {{
        use $($ts)::+::error::{CapacityError, Error, ProtocolError};
        use hisock::{codes, CloseReason, TransportError};
        match $err {
            Error::ConnectionClosed
            | Error::AlreadyClosed
            // TCP closed at a message boundary without a WebSocket close
            // frame: like a TCP transport's clean EOF.
            | Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
            Error::Io(err) => Some(TransportError::Io(err)),
            Error::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
                Some(TransportError::FrameTooBig {
                    len: size,
                    max: max_size,
                })
            }
            Error::Utf8(err) => Some(TransportError::Unsupported(CloseReason::new(
                $crate::frames::INVALID_PAYLOAD,
                format!("invalid UTF-8: {err}"),
            ))),
            Error::Protocol(err) => Some(TransportError::Unsupported(CloseReason::new(
                codes::PROTOCOL_ERROR,
                format!("websocket protocol error: {err}"),
            ))),
            other => Some(TransportError::Other(other.to_string())),
        }
    }};
}
pub(crate) use map_tungstenite_error;

/// A WebSocket seen as a stream and a sink of hisock frames.
pub(crate) struct WsFrames<S, M> {
    socket: S,
    /// The message type the socket is a sink of (a socket may be a sink
    /// of several).
    message: PhantomData<fn(M) -> M>,
    max_frame_len: usize,
    /// Frames longer than twice this go out in fragments of this size.
    fragment_len: usize,
    /// The rest of a frame being sent in fragments (empty: none).
    unsent: Bytes,
    /// The code and reason of the last hisock close or refusal sent, to
    /// repeat in the WebSocket close frame.
    close_reason: Option<CloseReason>,
    /// Our WebSocket close frame is queued; only flushing remains.
    close_queued: bool,
    /// Nothing more will be read: the peer closed or the stream failed.
    read_done: bool,
    /// Batches were agreed on: received ones are split, and small frames
    /// written between flushes go together.
    batches: bool,
    /// The frames of a received batch not yet taken (after its marker).
    batch_in: Bytes,
    /// Small frames written since the last flush (only with `batches`).
    held: batch::Builder,
    /// A frame too large to batch, written after held frames: it goes
    /// once those are sent and the socket is ready again.
    waiting: Option<Bytes>,
    /// A batch went out (with `batches`): the client knows we agreed.
    agreed: bool,
}

/// The smallest fragment: smaller ones would mean more system calls per
/// byte than whole frames.
const MIN_FRAGMENT_LEN: usize = 64 * 1024;

/// The fragment size for a socket whose write buffer is `write_buffer_len`
/// bytes: that or [`MIN_FRAGMENT_LEN`], whichever is larger. Frames up to
/// twice this go whole.
pub(crate) fn fragment_len(write_buffer_len: usize) -> usize {
    write_buffer_len.max(MIN_FRAGMENT_LEN)
}

/// Room in tungstenite's write buffer for the control frames it queues on
/// its own while reading (a pong per ping, the close frame), beyond the
/// largest message hisock writes at once.
const CONTROL_ROOM: usize = 16 * 1024;

/// The cap on tungstenite's write buffer for a socket that writes messages
/// of at most `largest_message` bytes at once. tungstenite answers every
/// ping with a pong in that buffer, even while the peer reads nothing: a
/// peer that floods pings and never reads grew it without limit (400 MiB
/// of pings, +394 MiB). With the cap, a pong that does not fit waits in
/// tungstenite's single pending-pong slot (a newer pong replaces it), and
/// if pongs fill the room a hisock frame needs, that write fails and the
/// connection ends.
pub(crate) fn max_write_buffer(write_buffer_len: usize, largest_message: usize) -> usize {
    // 14: the largest WebSocket frame header.
    write_buffer_len
        .saturating_add(largest_message)
        .saturating_add(14 + CONTROL_ROOM)
}

impl<S, M: WsMessage> WsFrames<S, M> {
    /// `write_buffer_len`: the socket's write buffer size; the fragment
    /// size is that or [`MIN_FRAGMENT_LEN`], whichever is larger.
    /// `batches`: the peer agreed on batches (module docs).
    pub(crate) fn new(
        socket: S,
        max_frame_len: usize,
        write_buffer_len: usize,
        batches: bool,
    ) -> Self {
        Self {
            socket,
            message: PhantomData,
            max_frame_len,
            fragment_len: match M::FRAGMENTS {
                true => fragment_len(write_buffer_len),
                false => usize::MAX,
            },
            unsent: Bytes::new(),
            close_reason: None,
            close_queued: false,
            read_done: false,
            batches,
            batch_in: Bytes::new(),
            held: batch::Builder::default(),
            waiting: None,
            agreed: false,
        }
    }
}

/// Splits a WebSocket into a hisock [`Connection`] without addresses.
/// `write_buffer_len`: the socket's write buffer size, `batches`: whether
/// the peer agreed on batches (see [`WsFrames::new`]).
pub(crate) fn connection<S, M, E>(
    socket: S,
    max_frame_len: usize,
    write_buffer_len: usize,
    batches: bool,
    kind: TransportKind,
) -> Connection
where
    S: Stream<Item = Result<M, E>> + Sink<M, Error = E> + Send + Unpin + 'static,
    M: WsMessage + Send + 'static,
    E: WsError + Send + 'static,
{
    use futures::StreamExt;
    let (sink, stream) =
        WsFrames::<S, M>::new(socket, max_frame_len, write_buffer_len, batches).split::<Bytes>();
    Connection::new(stream, sink, kind)
}

impl<S, M, E> Stream for WsFrames<S, M>
where
    S: Stream<Item = Result<M, E>> + Unpin,
    M: WsMessage,
    E: WsError,
{
    type Item = Result<Bytes, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.read_done {
                return Poll::Ready(None);
            }
            if !this.batch_in.is_empty() {
                let frame = batch::next_frame(&mut this.batch_in, this.max_frame_len);
                if frame.is_err() {
                    this.batch_in.clear();
                    this.read_done = true;
                }
                return Poll::Ready(Some(frame));
            }
            let message = match ready!(Pin::new(&mut this.socket).poll_next(cx)) {
                None => None,
                Some(Err(err)) => err.into_transport().map(Err),
                Some(Ok(message)) => match message.received() {
                    Received::Binary(frame) if frame.len() > this.max_frame_len => {
                        // The socket should have refused it from its header
                        // (see `WsConfig::websocket_config`); this catches
                        // sockets configured otherwise.
                        Some(Err(TransportError::FrameTooBig {
                            len: frame.len(),
                            max: this.max_frame_len,
                        }))
                    }
                    Received::Binary(frame) if this.batches && batch::is_batch(&frame) => {
                        // The first frame now (a batch holds at least one),
                        // the others on the next polls.
                        let mut rest = frame.slice(1..);
                        match batch::next_frame(&mut rest, this.max_frame_len) {
                            Ok(first) => {
                                this.batch_in = rest;
                                return Poll::Ready(Some(Ok(first)));
                            }
                            Err(err) => Some(Err(err)),
                        }
                    }
                    Received::Binary(frame) => return Poll::Ready(Some(Ok(frame))),
                    Received::Text => Some(Err(TransportError::Unsupported(CloseReason::new(
                        codes::UNSUPPORTED_DATA,
                        "text messages are not supported: hisock frames travel as binary messages",
                    )))),
                    Received::Close(None) => None,
                    Received::Close(Some(reason)) if reason.code == codes::NORMAL => None,
                    Received::Close(Some(reason)) => Some(Err(TransportError::Closed(reason))),
                    Received::Control => continue,
                },
            };
            // Anything but a binary message ends the stream.
            this.read_done = true;
            return Poll::Ready(message);
        }
    }
}

/// The sending half, in a file of its own.
#[path = "frames_sink.rs"]
mod sink;
