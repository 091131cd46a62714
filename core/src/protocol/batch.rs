//! Batches: several frames in one WebSocket message, on connections where
//! the client offered them (the query parameter `hisock-batch=1` in its
//! URL) and the server agreed (its first message is a batch): PROTOCOL.md
//! section 1.2.
//!
//! A browser pays for every WebSocket message (a call into the browser, an
//! IPC to its network process, a `MessageEvent` and an `ArrayBuffer` per
//! message received); a batch carries many small frames for one such cost.
//! Connections that did not negotiate it, and every TCP connection, carry
//! one frame per message as before.
//!
//! A batch is the byte [`MARKER`] (`ff`, never the first byte of a
//! version-1 frame), then one or more frames, each preceded by its length
//! as on TCP (4 bytes, big-endian). Any other message is one frame.

use bytes::Bytes;

use crate::close::{codes, CloseReason};
use crate::frame::FrameKind;
use crate::transport::TransportError;

/// The query parameter by which a client offers batches. (Not a
/// WebSocket subprotocol: browsers fail the connection when a server does
/// not echo an offered subprotocol, and older servers would not.)
pub const OFFER: &str = "hisock-batch=1";

/// The first byte of a batch message.
pub const MARKER: u8 = 0xff;

/// Senders put frames in a batch while it stays within this many bytes and
/// within the receiver's limit (a client: `Welcome.max_frame_len`); a
/// larger frame goes as a message of its own.
pub const MAX_BATCH_LEN: usize = 64 * 1024;

/// The bytes each frame adds to a batch: its length.
pub const LEN_PREFIX: usize = 4;

/// Whether the query of an upgrade request's URI offers batches.
pub fn offered(query: &str) -> bool {
    query.split('&').any(|param| param == OFFER)
}

/// `url` with the offer of batches added to its query.
pub fn offer(url: &str) -> String {
    let separator = match url.contains('?') {
        true => '&',
        false => '?',
    };
    format!("{url}{separator}{OFFER}")
}

/// Whether a message received on a connection with batches is a batch
/// (then [`next_frame`] takes its frames from the bytes after the marker).
pub fn is_batch(message: &[u8]) -> bool {
    message.first() == Some(&MARKER)
}

/// Whether a server ends its batch after `frame` (a `Welcome` or a
/// `Session`): the frames after the handshake go in a later message, so
/// that a client whose application learns of the connection when the
/// handshake ends (a browser: in the task of the message that ended it)
/// can add its listeners before any event of the connection arrives.
pub fn ends_handshake(frame: &[u8]) -> bool {
    let kind = frame.first().copied();
    kind == Some(FrameKind::Welcome.number()) || kind == Some(FrameKind::Session.number())
}

/// Whether `frame` may go in a batch at all: a batch of it alone is within
/// `limit` ([`MAX_BATCH_LEN`] or less).
pub fn batchable(frame: &[u8], limit: usize) -> bool {
    1 + LEN_PREFIX + frame.len() <= limit
}

/// The most a client puts in one batch to a server that announced
/// `max_frame_len` in its `Welcome`: a batch is one message, which the
/// server takes up to that size.
pub fn client_limit(max_frame_len: u32) -> usize {
    MAX_BATCH_LEN.min(max_frame_len as usize)
}

/// Frames that will go as one message: the first one alone as it is, or a
/// batch once a second joins it (what senders on both sides hold between
/// their flushes).
#[derive(Debug, Default)]
pub struct Builder {
    first: Option<Bytes>,
    batch: Vec<u8>,
}

impl Builder {
    /// Nothing is held.
    pub fn is_empty(&self) -> bool {
        self.first.is_none() && self.batch.is_empty()
    }

    /// Whether `frame` still fits in a batch of at most `limit` bytes with
    /// the held frames (when nothing is held: whether it is
    /// [`batchable`]).
    pub fn fits(&self, frame: &[u8], limit: usize) -> bool {
        let len = match &self.first {
            Some(first) => 1 + LEN_PREFIX + first.len(),
            None => self.batch.len().max(1),
        };
        len + LEN_PREFIX + frame.len() <= limit
    }

    /// Adds a frame after the held ones (the caller checked [`fits`]).
    ///
    /// [`fits`]: Builder::fits
    pub fn add(&mut self, frame: Bytes) {
        if self.is_empty() {
            self.first = Some(frame);
            return;
        }
        if let Some(first) = self.first.take() {
            push(&mut self.batch, &first);
        }
        push(&mut self.batch, &frame);
    }

    /// The held frames as a batch even if there is only one (a server's
    /// first message, which tells the client it agreed), or `None`.
    pub fn take_batch(&mut self) -> Option<Bytes> {
        if let Some(first) = self.first.take() {
            push(&mut self.batch, &first);
        }
        self.take()
    }

    /// The message to send (a frame, or a batch of several), or `None`
    /// when nothing is held.
    pub fn take(&mut self) -> Option<Bytes> {
        self.first
            .take()
            .or_else(|| (!self.batch.is_empty()).then(|| std::mem::take(&mut self.batch).into()))
    }
}

/// Appends `frame` with its length to a batch being built in `out`, after
/// the marker when `out` is empty.
fn push(out: &mut Vec<u8>, frame: &[u8]) {
    if out.is_empty() {
        out.push(MARKER);
    }
    out.extend_from_slice(&(frame.len() as u32).to_be_bytes());
    out.extend_from_slice(frame);
}

/// Takes the next frame off `rest`, the part of a batch after its marker
/// and the frames already taken; the caller stops when `rest` is empty.
///
/// Errors: a length that runs past the message or is zero (frames are
/// never empty), and a batch of no frames at all, are protocol errors
/// (1002); a frame over `max_frame_len` is [`TransportError::FrameTooBig`]
/// (1009), as it would be alone.
pub fn next_frame(rest: &mut Bytes, max_frame_len: usize) -> Result<Bytes, TransportError> {
    let malformed = |what: &str| {
        TransportError::Unsupported(CloseReason::new(
            codes::PROTOCOL_ERROR,
            format!("malformed batch: {what}"),
        ))
    };
    let Some(prefix) = rest.get(..LEN_PREFIX) else {
        return Err(malformed("a frame length is cut short"));
    };
    let mut len = [0; LEN_PREFIX];
    len.copy_from_slice(prefix);
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 {
        return Err(malformed("an empty frame"));
    }
    if len > max_frame_len {
        return Err(TransportError::FrameTooBig {
            len,
            max: max_frame_len,
        });
    }
    if rest.len() - LEN_PREFIX < len {
        return Err(malformed("a frame runs past the end of the message"));
    }
    let mut frame = rest.split_to(LEN_PREFIX + len);
    Ok(frame.split_off(LEN_PREFIX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Frame;

    fn frames_of(batch: &[u8], max: usize) -> Result<Vec<Bytes>, TransportError> {
        assert!(is_batch(batch));
        let mut rest = Bytes::copy_from_slice(&batch[1..]);
        let mut frames = Vec::new();
        loop {
            frames.push(next_frame(&mut rest, max)?);
            if rest.is_empty() {
                return Ok(frames);
            }
        }
    }

    fn protocol_error(result: Result<Vec<Bytes>, TransportError>) -> String {
        match result {
            Err(TransportError::Unsupported(reason)) => {
                assert_eq!(reason.code, codes::PROTOCOL_ERROR);
                reason.reason
            }
            other => panic!("not a protocol error: {other:?}"),
        }
    }

    /// PROTOCOL.md section 1.2's worked example.
    #[test]
    fn batch_example_is_as_documented() {
        let ping = Frame::Ping { nonce: 1 }.encode();
        let pong = Frame::Pong { nonce: 2 }.encode();
        let mut builder = Builder::default();
        builder.add(ping.clone());
        builder.add(pong.clone());
        let batch = builder.take().expect("held frames");
        assert!(builder.is_empty() && builder.take().is_none());
        assert_eq!(
            batch,
            [0xff, 0, 0, 0, 2, 0x0e, 0x01, 0, 0, 0, 2, 0x0f, 0x02][..]
        );
        assert_eq!(
            frames_of(&batch, 16).expect("a well-formed batch"),
            vec![ping, pong]
        );
    }

    #[test]
    fn no_version_1_frame_starts_with_the_marker() {
        // Frame kinds are postcard varints below 27 (PROTOCOL.md section
        // 11): a frame's first byte is never `ff`.
        assert!(crate::frame::FrameKind::from_number(u8::MAX).is_none());
        assert!(!is_batch(&Frame::Ping { nonce: 0xff }.encode()));
        assert!(!is_batch(&[]));
    }

    #[test]
    fn a_frame_alone_goes_as_itself_and_batches_stay_within_the_limit() {
        let mut builder = Builder::default();
        let ping = Frame::Ping { nonce: 1 }.encode();
        builder.add(ping.clone());
        assert_eq!(builder.take(), Some(ping));

        let frame = Bytes::from(vec![7; 1000]);
        let mut added = 0;
        while builder.fits(&frame, MAX_BATCH_LEN) {
            builder.add(frame.clone());
            added += 1;
        }
        let batch = builder.take().expect("held frames");
        assert_eq!(added, (MAX_BATCH_LEN - 1) / (LEN_PREFIX + 1000));
        assert_eq!(batch.len(), 1 + added * (LEN_PREFIX + 1000));
        assert_eq!(
            frames_of(&batch, 1000).expect("a well-formed batch").len(),
            added
        );

        assert!(batchable(&vec![0; MAX_BATCH_LEN - 5], MAX_BATCH_LEN));
        assert!(!batchable(&vec![0; MAX_BATCH_LEN - 4], MAX_BATCH_LEN));
        assert!(builder.fits(&vec![0; MAX_BATCH_LEN - 5], MAX_BATCH_LEN));
        assert!(!builder.fits(&[0; 20], client_limit(24)));
        assert!(builder.fits(&[0; 19], client_limit(24)));
        assert_eq!(client_limit(16 << 20), MAX_BATCH_LEN);
    }

    #[test]
    fn malformed_batches_are_protocol_errors() {
        assert!(protocol_error(frames_of(&[0xff], 16)).contains("cut short"));
        assert!(protocol_error(frames_of(&[0xff, 0, 0, 0], 16)).contains("cut short"));
        assert!(protocol_error(frames_of(&[0xff, 0, 0, 0, 0], 16)).contains("empty frame"));
        let past_end = [0xff, 0, 0, 0, 3, 0x0e, 0x01];
        assert!(protocol_error(frames_of(&past_end, 16)).contains("past the end"));
        // A whole frame, then the start of a length.
        let trailing = [0xff, 0, 0, 0, 1, 0x0e, 0, 0];
        assert!(protocol_error(frames_of(&trailing, 16)).contains("cut short"));
    }

    #[test]
    fn a_frame_over_the_limit_is_too_big_before_it_is_read() {
        let big = [0xff, 0x7f, 0xff, 0xff, 0xff];
        match frames_of(&big, 16) {
            Err(TransportError::FrameTooBig { len, max }) => {
                assert_eq!((len, max), (0x7fff_ffff, 16));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_offer_is_a_query_parameter() {
        assert_eq!(offer("ws://h:1/"), "ws://h:1/?hisock-batch=1");
        assert_eq!(offer("ws://h:1/x?a=b"), "ws://h:1/x?a=b&hisock-batch=1");
        assert!(offered("hisock-batch=1"));
        assert!(offered("a=b&hisock-batch=1"));
        assert!(!offered("hisock-batch=0"));
        assert!(!offered("xhisock-batch=1"));
        assert!(!offered(""));
    }

    #[test]
    fn a_first_message_is_a_batch_even_of_one_frame() {
        let ping = Frame::Ping { nonce: 1 }.encode();
        let mut builder = Builder::default();
        builder.add(ping.clone());
        let batch = builder.take_batch().expect("held frames");
        assert_eq!(batch, [0xff, 0, 0, 0, 2, 0x0e, 0x01][..]);
        assert_eq!(
            frames_of(&batch, 16).expect("a well-formed batch"),
            vec![ping]
        );
        assert!(builder.take_batch().is_none());
    }
}
