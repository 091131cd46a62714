//! The sending half of [`WsFrames`]: one binary message per frame (large
//! ones in fragments), or, with batches, the small frames written between
//! two flushes as one message; and the WebSocket close frame that repeats
//! the last hisock close (see the parent module's docs).

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures::Sink;
use hisock::frame::{Frame, FrameKind};
use hisock::protocol::batch;
use hisock::{codes, CloseReason, TransportError};

use super::{WsError, WsFrames, WsMessage};

/// A WebSocket close reason fits in a control frame: 125 bytes minus the
/// 2-byte code (RFC 6455 section 5.5).
const MAX_CLOSE_REASON_LEN: usize = 123;

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
fn sendable_close(reason: Option<CloseReason>) -> (u16, String) {
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
