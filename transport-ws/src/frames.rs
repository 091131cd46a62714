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
use hisock::frame::{Frame, FrameKind};
use hisock::protocol::batch;
use hisock::{codes, CloseReason, Connection, TransportError, TransportKind};

/// A WebSocket close reason fits in a control frame: 125 bytes minus the
/// 2-byte code (RFC 6455 section 5.5).
const MAX_CLOSE_REASON_LEN: usize = 123;

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

/// The close reason to announce in a WebSocket close frame for a hisock
/// `Close`/`Refuse` frame, or `None` for any other frame.
///
/// Every outgoing frame passes here, so the kind byte is compared in the
/// caller (inlined) and only the rare close or refusal is decoded: W1 WS
/// spent 31 instructions per event in this check when it looked the kind
/// up in a call of its own (callgrind, `--only W1 --transport ws`).
#[inline]
fn close_reason_of(frame: &[u8]) -> Option<CloseReason> {
    let kind = *frame.first()?;
    if kind != FrameKind::Refuse.number() && kind != FrameKind::Close.number() {
        return None;
    }
    decode_close_reason(frame)
}

/// The code and reason of a `Close` or `Refuse` frame (see
/// [`close_reason_of`]).
#[cold]
fn decode_close_reason(frame: &[u8]) -> Option<CloseReason> {
    match Frame::decode(frame).ok()? {
        Frame::Close { code, reason, .. } | Frame::Refuse { code, reason } => {
            Some(CloseReason::new(code, reason))
        }
        _ => None,
    }
}

/// A code and reason that RFC 6455 allows in a close frame: codes 1004–1006
/// and 1015 are reserved (1006 "abnormal" is only ever reported, never
/// sent), so those become 1000; the reason is cut to 123 bytes at a
/// character boundary.
pub(crate) fn sendable_close(reason: Option<CloseReason>) -> (u16, String) {
    let Some(CloseReason { code, mut reason }) = reason else {
        return (codes::NORMAL, String::new());
    };
    let code = match code {
        1000..=1003 | 1007..=1014 | 3000..=4999 => code,
        _ => codes::NORMAL,
    };
    if reason.len() > MAX_CLOSE_REASON_LEN {
        let mut end = MAX_CLOSE_REASON_LEN;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    (code, reason)
}

/// A sink error that only says "closed" still fails the send.
fn send_error<E: WsError>(err: E) -> TransportError {
    err.into_transport().unwrap_or_else(|| {
        TransportError::Io(std::io::Error::new(
            std::io::ErrorKind::BrokenPipe,
            "websocket is closed",
        ))
    })
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

impl<S, M> Sink<Bytes> for WsFrames<S, M>
where
    S: Sink<M> + Unpin,
    S::Error: WsError,
    M: WsMessage,
{
    type Error = TransportError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = &mut *self;
        loop {
            ready!(Pin::new(&mut this.socket).poll_ready(cx)).map_err(send_error)?;
            if let Some(frame) = this.waiting.take() {
                Pin::new(&mut *this).send_whole(frame)?;
                continue;
            }
            if this.unsent.is_empty() {
                return Poll::Ready(Ok(()));
            }
            // The next fragment of the frame being sent; the socket was
            // ready, so its write buffer is at most its size before this.
            let last = this.unsent.len() <= this.fragment_len;
            let piece = match last {
                true => std::mem::take(&mut this.unsent),
                false => this.unsent.split_to(this.fragment_len),
            };
            Pin::new(&mut this.socket)
                .start_send(M::fragment(piece, false, last))
                .map_err(send_error)?;
        }
    }

    fn start_send(mut self: Pin<&mut Self>, frame: Bytes) -> Result<(), Self::Error> {
        if let Some(reason) = close_reason_of(&frame) {
            self.close_reason = Some(reason);
        }
        if !self.batches {
            return self.send_whole(frame);
        }
        let this = &mut *self;
        if this.held.fits(&frame, batch::MAX_BATCH_LEN) {
            let ends_handshake = batch::ends_handshake(&frame);
            this.held.add(frame);
            if !ends_handshake {
                return Ok(());
            }
            // What follows the handshake goes in a later message (see
            // `batch::ends_handshake`); the socket is ready for this one.
            return match this.take_held() {
                Some(held) => Pin::new(&mut this.socket)
                    .start_send(M::binary(held))
                    .map_err(send_error),
                None => Ok(()),
            };
        }
        // What is held goes now (`poll_ready` saw the socket ready); a
        // small frame starts the next batch, a large one goes after it.
        let held = this.take_held();
        if batch::batchable(&frame, batch::MAX_BATCH_LEN) {
            this.held.add(frame);
        } else if held.is_some() {
            this.waiting = Some(frame);
        } else {
            return self.send_whole(frame);
        }
        match held {
            Some(held) => Pin::new(&mut this.socket)
                .start_send(M::binary(held))
                .map_err(send_error),
            None => Ok(()),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The rest of a fragmented frame and what is held first.
        ready!(self.as_mut().poll_send_held(cx))?;
        Pin::new(&mut self.socket)
            .poll_flush(cx)
            .map_err(send_error)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = &mut *self;
        if !this.close_queued {
            // The peer may have closed first or the socket may be broken:
            // then there is no close frame to send, only the socket to close.
            // Otherwise the rest of a fragmented frame and what is held go
            // first.
            if ready!(Pin::new(&mut *this).poll_send_held(cx)).is_ok() {
                let (code, reason) = sendable_close(this.close_reason.take());
                if let Err(err) = Pin::new(&mut this.socket).start_send(M::close(code, reason)) {
                    if let Some(err) = err.into_transport() {
                        tracing::debug!(%err, "could not queue the websocket close frame");
                    }
                }
            }
            this.close_queued = true;
        }
        match ready!(Pin::new(&mut this.socket).poll_close(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(err) => Poll::Ready(err.into_transport().map_or(Ok(()), Err)),
        }
    }
}

impl<S, M> WsFrames<S, M>
where
    S: Sink<M> + Unpin,
    S::Error: WsError,
    M: WsMessage,
{
    /// What is held, as the next message: the first one a batch even of
    /// one frame.
    fn take_held(&mut self) -> Option<Bytes> {
        match self.agreed {
            true => self.held.take(),
            false => {
                self.agreed = true;
                self.held.take_batch()
            }
        }
    }

    /// Sends `frame` as a message of its own (in fragments if it is large);
    /// the socket must be ready.
    fn send_whole(mut self: Pin<&mut Self>, mut frame: Bytes) -> Result<(), TransportError> {
        let message = match frame.len() > self.fragment_len.saturating_mul(2) {
            true => {
                let first = frame.split_to(self.fragment_len);
                // poll_ready and poll_flush send the rest.
                self.unsent = frame;
                M::fragment(first, true, false)
            }
            false => M::binary(frame),
        };
        Pin::new(&mut self.socket)
            .start_send(message)
            .map_err(send_error)
    }

    /// Sends the rest of a fragmented frame, a waiting one and what is
    /// held, without flushing.
    fn poll_send_held(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        ready!(self.as_mut().poll_ready(cx))?;
        if self.held.is_empty() {
            return Poll::Ready(Ok(()));
        }
        let this = &mut *self;
        ready!(Pin::new(&mut this.socket).poll_ready(cx)).map_err(send_error)?;
        if let Some(held) = this.take_held() {
            Pin::new(&mut this.socket)
                .start_send(M::binary(held))
                .map_err(send_error)?;
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_and_refuse_frames_give_their_code_to_the_websocket_close() {
        let close = Frame::Close {
            code: codes::TOO_BIG,
            reason: "too big",
            run_leave: true,
        }
        .encode();
        assert_eq!(
            close_reason_of(&close),
            Some(CloseReason::new(codes::TOO_BIG, "too big"))
        );
        let refuse = Frame::Refuse {
            code: codes::SERVER_FULL,
            reason: "full",
        }
        .encode();
        assert_eq!(
            close_reason_of(&refuse),
            Some(CloseReason::new(codes::SERVER_FULL, "full"))
        );
        let ping = Frame::Ping { nonce: 16 }.encode();
        assert_eq!(close_reason_of(&ping), None);
        assert_eq!(close_reason_of(&[FrameKind::Close.number(), 0xff]), None);
    }

    #[test]
    fn reserved_codes_become_normal_and_long_reasons_are_cut() {
        assert_eq!(sendable_close(None), (codes::NORMAL, String::new()));
        let abnormal = sendable_close(Some(CloseReason::new(codes::ABNORMAL, "x")));
        assert_eq!(abnormal.0, codes::NORMAL);
        let kicked = sendable_close(Some(CloseReason::new(codes::KICKED, "é".repeat(100))));
        assert_eq!(kicked.0, codes::KICKED);
        assert!(kicked.1.len() <= MAX_CLOSE_REASON_LEN);
        assert!(kicked.1.chars().all(|c| c == 'é'));
    }
}
