//! The wire type: every message between a client and a server is one
//! [`Frame`], encoded with postcard.
//!
//! Frames borrow from the buffer they were decoded from (`&str`, `&[u8]`), so
//! decoding an event allocates nothing; the payload can then be cut out of the
//! receive buffer without a copy with [`bytes::Bytes::slice_ref`].
//!
//! The variant order is the wire discriminant (a postcard varint) and must
//! never change: new kinds are appended. See PROTOCOL.md for the layout.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The protocol version this crate speaks, sent in [`Frame::Hello`].
pub const PROTOCOL_VERSION: u16 = 1;

/// Number of frame kinds this version knows. A frame whose first byte is at
/// or above this is of an unknown kind.
pub const FRAME_KINDS: u8 = 22;

/// Request id meaning "no reply expected".
pub const NO_REQUEST: u64 = 0;

/// Bytes of a postcard varint holding `value`.
fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// Bytes of a postcard byte string or string of `len` bytes.
fn bytes_len(len: usize) -> usize {
    varint_len(len as u64) + len
}

/// One protocol message. See PROTOCOL.md for the meaning of each field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Frame<'a> {
    /// 0 — client → server, first frame of a connection.
    Hello {
        /// [`PROTOCOL_VERSION`] of the client.
        version: u16,
        /// Requested name.
        #[serde(borrow)]
        name: Option<&'a str>,
        /// Requested group.
        #[serde(borrow)]
        group: Option<&'a str>,
        /// Auth data for the server's auth hook, a MessagePack value.
        #[serde(borrow, serialize_with = "serde_bytes::serialize")]
        auth: Option<&'a [u8]>,
    },
    /// 1 — server → client, the handshake succeeded.
    Welcome {
        /// The client's id, unique on this server.
        client_id: u64,
        /// The name the server recorded.
        #[serde(borrow)]
        name: Option<&'a str>,
        /// The group the server recorded.
        #[serde(borrow)]
        group: Option<&'a str>,
        /// How often the server pings, in milliseconds (0 = never).
        keepalive_interval_ms: u32,
        /// How long the server waits for any frame before dropping the
        /// client, in milliseconds (0 = never).
        keepalive_timeout_ms: u32,
        /// The largest frame the server accepts, in bytes.
        max_frame_len: u32,
        /// The client's address as the server sees it, if known.
        #[serde(borrow)]
        addr: Option<&'a str>,
    },
    /// 2 — server → client, the handshake failed; the server closes next.
    Refuse {
        /// A close code (see [`crate::close::codes`]).
        code: u16,
        /// Why, for humans.
        #[serde(borrow)]
        reason: &'a str,
    },
    /// 3 — either way: a named event with a MessagePack payload.
    Event {
        /// The command name.
        #[serde(borrow)]
        command: &'a str,
        /// Non-zero when the sender awaits a [`Frame::Reply`].
        request_id: u64,
        /// MessagePack-encoded payload.
        #[serde(borrow, serialize_with = "serde_bytes::serialize")]
        payload: &'a [u8],
    },
    /// 4 — either way: the successful answer to a request.
    Reply {
        /// The id from the request.
        request_id: u64,
        /// MessagePack-encoded payload.
        #[serde(borrow, serialize_with = "serde_bytes::serialize")]
        payload: &'a [u8],
    },
    /// 5 — either way: a request failed.
    ReplyError {
        /// The id from the request.
        request_id: u64,
        /// An [`ErrorCode`] number.
        code: u16,
        /// Why, for humans.
        #[serde(borrow)]
        message: &'a str,
    },
    /// 6 — either way: an event without request id could not be handled
    /// (its payload did not fit the handler's type, the handler failed).
    EventRejected {
        /// The command of the rejected event.
        #[serde(borrow)]
        command: &'a str,
        /// An [`ErrorCode`] number.
        code: u16,
        /// Why, for humans.
        #[serde(borrow)]
        message: &'a str,
    },
    /// 7 — server → client: another client joined.
    ClientJoined(#[serde(borrow)] WireClient<'a>),
    /// 8 — server → client: another client left.
    ClientLeft(#[serde(borrow)] WireClient<'a>),
    /// 9 — server → client: a client changed its name or group.
    ClientChanged {
        /// The client as it is now.
        #[serde(borrow)]
        client: WireClient<'a>,
        /// Its name before the change.
        #[serde(borrow)]
        old_name: Option<&'a str>,
        /// Its group before the change.
        #[serde(borrow)]
        old_group: Option<&'a str>,
    },
    /// 10 — client → server: change my name (`None` clears it). Answered by
    /// a [`Frame::Reply`] with a nil payload, or a [`Frame::ReplyError`].
    SetName {
        /// Request id for the answer.
        request_id: u64,
        /// The new name.
        #[serde(borrow)]
        name: Option<&'a str>,
    },
    /// 11 — client → server: change my group (`None` leaves all groups).
    SetGroup {
        /// Request id for the answer.
        request_id: u64,
        /// The new group.
        #[serde(borrow)]
        group: Option<&'a str>,
    },
    /// 12 — client → server: look a client up. Answered by a
    /// [`Frame::Reply`] whose payload is a MessagePack map describing the
    /// client, or nil when there is none.
    Lookup {
        /// Request id for the answer.
        request_id: u64,
        /// What to look for.
        #[serde(borrow)]
        by: LookupKey<'a>,
    },
    /// 13 — client → server: list clients, all or one group's. Answered by
    /// a [`Frame::Reply`] whose payload is a MessagePack array of clients.
    ListClients {
        /// Request id for the answer.
        request_id: u64,
        /// Only this group's clients, or all when `None`.
        #[serde(borrow)]
        group: Option<&'a str>,
    },
    /// 14 — either way: are you there? Answered by [`Frame::Pong`].
    Ping {
        /// Echoed in the pong.
        nonce: u64,
    },
    /// 15 — either way: the answer to a ping.
    Pong {
        /// The ping's nonce.
        nonce: u64,
    },
    /// 16 — either way: the sender is closing the connection.
    Close {
        /// A close code (see [`crate::close::codes`]).
        code: u16,
        /// Why, for humans.
        #[serde(borrow)]
        reason: &'a str,
        /// Client → server only: when false, the server skips its `leave`
        /// handler for this client (HiSock's `close(emit_leave=False)`).
        run_leave: bool,
    },
    /// 17 — either way: a streamed payload begins (large payloads sent in
    /// chunks that interleave with events; see PROTOCOL.md).
    StreamStart {
        /// Stream id, unique per sender and connection.
        stream_id: u64,
        /// The command the whole payload is for.
        #[serde(borrow)]
        command: &'a str,
        /// Total length in bytes, when the sender knows it.
        total_len: Option<u64>,
    },
    /// 18 — either way: a chunk of a streamed payload.
    StreamChunk {
        /// Stream id from [`Frame::StreamStart`].
        stream_id: u64,
        /// The bytes of this chunk.
        #[serde(borrow, serialize_with = "serde_bytes::serialize")]
        data: &'a [u8],
    },
    /// 19 — either way: a streamed payload ends; `error` set when the sender
    /// aborted it.
    StreamEnd {
        /// Stream id from [`Frame::StreamStart`].
        stream_id: u64,
        /// Why the sender gave up, or `None` when the payload is complete.
        #[serde(borrow)]
        error: Option<&'a str>,
    },
    /// 20 — either way, receiver → sender of a stream: the receiving
    /// application has consumed `consumed` bytes of the stream in total. The
    /// sender keeps at most its window of bytes unacknowledged, which bounds
    /// the bulk bytes in flight ahead of small events.
    StreamAck {
        /// Stream id from [`Frame::StreamStart`].
        stream_id: u64,
        /// Total bytes consumed so far.
        consumed: u64,
    },
    /// 21 — either way, receiver → sender of a stream: stop sending; the
    /// stream was refused (no handler, over the size limit) or dropped.
    StreamCancel {
        /// Stream id from [`Frame::StreamStart`].
        stream_id: u64,
        /// An [`ErrorCode`] number.
        code: u16,
        /// Why, for humans.
        #[serde(borrow)]
        message: &'a str,
    },
}

/// A client as other peers see it, on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireClient<'a> {
    /// The client's id.
    pub id: u64,
    /// Its name, if any.
    #[serde(borrow)]
    pub name: Option<&'a str>,
    /// Its group, if any.
    #[serde(borrow)]
    pub group: Option<&'a str>,
    /// Its address as the server sees it, if known.
    #[serde(borrow)]
    pub addr: Option<&'a str>,
    /// Its transport ([`crate::TransportKind::to_wire`]).
    pub transport: u8,
}

/// How a [`Frame::Lookup`] names the client it wants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LookupKey<'a> {
    /// 0 — by id.
    Id(u64),
    /// 1 — by name (the first client with that name).
    Name(#[serde(borrow)] &'a str),
    /// 2 — by address, `ip:port` as the server sees it.
    Addr(#[serde(borrow)] &'a str),
}

/// Error codes carried by [`Frame::ReplyError`] and [`Frame::EventRejected`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 1 — no handler for the command.
    NoHandler,
    /// 2 — the payload did not decode into the handler's type.
    BadPayload,
    /// 3 — the handler returned an error.
    HandlerFailed,
    /// 4 — the request was refused (name change refused, for example).
    Refused,
    /// 5 — the peer is shutting down and dropped the request.
    ShuttingDown,
    /// 6 — a streamed payload exceeds the receiver's maximum stream length.
    TooLarge,
    /// 7 — a stream was dropped by its receiver or aborted by its sender.
    Cancelled,
    /// Any other number.
    Other(u16),
}

impl ErrorCode {
    /// The wire number.
    pub fn to_wire(self) -> u16 {
        match self {
            ErrorCode::NoHandler => 1,
            ErrorCode::BadPayload => 2,
            ErrorCode::HandlerFailed => 3,
            ErrorCode::Refused => 4,
            ErrorCode::ShuttingDown => 5,
            ErrorCode::TooLarge => 6,
            ErrorCode::Cancelled => 7,
            ErrorCode::Other(n) => n,
        }
    }

    /// The code for a wire number.
    pub fn from_wire(n: u16) -> Self {
        match n {
            1 => ErrorCode::NoHandler,
            2 => ErrorCode::BadPayload,
            3 => ErrorCode::HandlerFailed,
            4 => ErrorCode::Refused,
            5 => ErrorCode::ShuttingDown,
            6 => ErrorCode::TooLarge,
            7 => ErrorCode::Cancelled,
            n => ErrorCode::Other(n),
        }
    }
}

impl Frame<'_> {
    /// Encodes the frame into a fresh buffer, ready for a transport.
    pub fn encode(&self) -> Bytes {
        // The hot kinds know their exact size: one allocation, and the Vec
        // becomes a `Bytes` without another (a Vec with spare capacity
        // would need a shared header allocated on conversion).
        let encoded = match self.exact_len() {
            Some(len) => self.encode_exact(len),
            None => postcard::to_io(self, Vec::with_capacity(64)),
        };
        // Serializing into memory only fails if serde itself fails (or the
        // size is wrong), which our plain types never do; the error is
        // logged rather than hidden.
        match encoded {
            Ok(buf) => Bytes::from(buf),
            Err(err) => {
                tracing::error!(%err, "frame encoding failed");
                Bytes::new()
            }
        }
    }

    fn encode_exact(&self, len: usize) -> postcard::Result<Vec<u8>> {
        let mut buf = vec![0; len];
        let used = postcard::to_slice(self, &mut buf)?.len();
        debug_assert_eq!(used, len, "exact_len is exact");
        Ok(buf)
    }

    /// The encoded length of the frequent kinds, computed without encoding.
    fn exact_len(&self) -> Option<usize> {
        Some(match self {
            Frame::Event {
                command,
                request_id,
                payload,
            } => 1 + bytes_len(command.len()) + varint_len(*request_id) + bytes_len(payload.len()),
            Frame::Reply {
                request_id,
                payload,
            } => 1 + varint_len(*request_id) + bytes_len(payload.len()),
            Frame::StreamChunk { stream_id, data } => {
                1 + varint_len(*stream_id) + bytes_len(data.len())
            }
            Frame::StreamAck {
                stream_id,
                consumed,
            } => 1 + varint_len(*stream_id) + varint_len(*consumed),
            Frame::Ping { nonce } | Frame::Pong { nonce } => 1 + varint_len(*nonce),
            _ => return None,
        })
    }

    /// Decodes one frame from a buffer holding exactly one frame.
    ///
    /// Errors: [`Error::UnknownFrameKind`] when the kind byte is beyond what
    /// this version knows (the peer is newer or broken), [`Error::Malformed`]
    /// for anything else that does not decode, including trailing bytes.
    pub fn decode(buf: &[u8]) -> Result<Frame<'_>> {
        let Some(&kind) = buf.first() else {
            return Err(Error::Malformed("empty frame".into()));
        };
        // Discriminants are postcard varints; every known kind fits in one
        // byte, so a first byte at or beyond FRAME_KINDS (including a varint
        // continuation bit) is a kind we do not know.
        if kind >= FRAME_KINDS {
            return Err(Error::UnknownFrameKind(kind));
        }
        let (frame, rest) = postcard::take_from_bytes::<Frame<'_>>(buf)
            .map_err(|err| Error::Malformed(err.to_string()))?;
        if !rest.is_empty() {
            return Err(Error::Malformed(format!(
                "{} trailing bytes after frame",
                rest.len()
            )));
        }
        Ok(frame)
    }

    /// The frame's kind, for logs.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Frame::Hello { .. } => "hello",
            Frame::Welcome { .. } => "welcome",
            Frame::Refuse { .. } => "refuse",
            Frame::Event { .. } => "event",
            Frame::Reply { .. } => "reply",
            Frame::ReplyError { .. } => "reply_error",
            Frame::EventRejected { .. } => "event_rejected",
            Frame::ClientJoined(_) => "client_joined",
            Frame::ClientLeft(_) => "client_left",
            Frame::ClientChanged { .. } => "client_changed",
            Frame::SetName { .. } => "set_name",
            Frame::SetGroup { .. } => "set_group",
            Frame::Lookup { .. } => "lookup",
            Frame::ListClients { .. } => "list_clients",
            Frame::Ping { .. } => "ping",
            Frame::Pong { .. } => "pong",
            Frame::Close { .. } => "close",
            Frame::StreamStart { .. } => "stream_start",
            Frame::StreamChunk { .. } => "stream_chunk",
            Frame::StreamEnd { .. } => "stream_end",
            Frame::StreamAck { .. } => "stream_ack",
            Frame::StreamCancel { .. } => "stream_cancel",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(frame: Frame<'_>) {
        let bytes = frame.encode();
        let back = Frame::decode(&bytes).expect("decodes");
        assert_eq!(back, frame);
    }

    #[test]
    fn every_kind_round_trips() {
        let client = WireClient {
            id: 7,
            name: Some("bob"),
            group: None,
            addr: Some("127.0.0.1:9"),
            transport: 0,
        };
        let frames = vec![
            Frame::Hello {
                version: PROTOCOL_VERSION,
                name: Some("a"),
                group: Some("g"),
                auth: Some(&[0xc0]),
            },
            Frame::Welcome {
                client_id: 1,
                name: None,
                group: Some("g"),
                keepalive_interval_ms: 1000,
                keepalive_timeout_ms: 3000,
                max_frame_len: 1 << 20,
                addr: None,
            },
            Frame::Refuse {
                code: 4002,
                reason: "full",
            },
            Frame::Event {
                command: "chat",
                request_id: 3,
                payload: &[1, 2, 3],
            },
            Frame::Reply {
                request_id: 3,
                payload: &[0xc0],
            },
            Frame::ReplyError {
                request_id: 3,
                code: 1,
                message: "no",
            },
            Frame::EventRejected {
                command: "x",
                code: 2,
                message: "bad",
            },
            Frame::ClientJoined(client.clone()),
            Frame::ClientLeft(client.clone()),
            Frame::ClientChanged {
                client,
                old_name: None,
                old_group: Some("old"),
            },
            Frame::SetName {
                request_id: 1,
                name: Some("n"),
            },
            Frame::SetGroup {
                request_id: 1,
                group: None,
            },
            Frame::Lookup {
                request_id: 2,
                by: LookupKey::Addr("1.2.3.4:5"),
            },
            Frame::ListClients {
                request_id: 2,
                group: Some("g"),
            },
            Frame::Ping { nonce: 9 },
            Frame::Pong { nonce: 9 },
            Frame::Close {
                code: 1000,
                reason: "bye",
                run_leave: true,
            },
            Frame::StreamStart {
                stream_id: 1,
                command: "file",
                total_len: Some(10),
            },
            Frame::StreamChunk {
                stream_id: 1,
                data: &[9; 10],
            },
            Frame::StreamEnd {
                stream_id: 1,
                error: None,
            },
            Frame::StreamAck {
                stream_id: 1,
                consumed: 10,
            },
            Frame::StreamCancel {
                stream_id: 1,
                code: 2,
                message: "too big",
            },
        ];
        assert_eq!(frames.len(), FRAME_KINDS as usize);
        for (i, frame) in frames.into_iter().enumerate() {
            let bytes = frame.encode();
            if let Some(len) = frame.exact_len() {
                assert_eq!(len, bytes.len(), "exact length of {}", frame.kind_name());
            }
            assert_eq!(
                bytes[0] as usize,
                i,
                "discriminant of {}",
                frame.kind_name()
            );
            round_trip(frame);
        }
    }

    #[test]
    fn varint_lengths_match_postcard() {
        for value in [
            0,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u32::MAX as u64,
            u64::MAX,
        ] {
            let encoded = postcard::to_allocvec(&value).expect("encodes");
            assert_eq!(varint_len(value), encoded.len(), "{value}");
        }
        let big = vec![7u8; 70_000];
        let frame = Frame::StreamChunk {
            stream_id: 1 << 40,
            data: &big,
        };
        assert_eq!(frame.exact_len(), Some(frame.encode().len()));
    }

    #[test]
    fn event_layout_is_as_documented() {
        let bytes = Frame::Event {
            command: "hi",
            request_id: 0,
            payload: &[0xa1, b'x'],
        }
        .encode();
        assert_eq!(&bytes[..], &[3, 2, b'h', b'i', 0, 2, 0xa1, b'x']);
    }

    #[test]
    fn unknown_kind_is_reported_as_such() {
        assert!(matches!(
            Frame::decode(&[FRAME_KINDS, 0, 0]),
            Err(Error::UnknownFrameKind(k)) if k == FRAME_KINDS
        ));
        assert!(matches!(
            Frame::decode(&[0xff, 0x01]),
            Err(Error::UnknownFrameKind(0xff))
        ));
    }

    #[test]
    fn garbage_and_truncation_are_malformed() {
        assert!(matches!(Frame::decode(&[]), Err(Error::Malformed(_))));
        // Event with a command length running past the end.
        assert!(matches!(
            Frame::decode(&[3, 50, b'a']),
            Err(Error::Malformed(_))
        ));
        // Trailing bytes.
        let mut bytes = Frame::Ping { nonce: 1 }.encode().to_vec();
        bytes.push(0);
        assert!(matches!(Frame::decode(&bytes), Err(Error::Malformed(_))));
        // Invalid UTF-8 in a command name.
        assert!(matches!(
            Frame::decode(&[3, 1, 0xff, 0, 0]),
            Err(Error::Malformed(_))
        ));
    }
}
