//! The wire type: every message between a client and a server is one
//! [`Frame`], encoded with postcard.
//!
//! Frames borrow from the buffer they were decoded from (`&str`, `&[u8]`), so
//! decoding an event allocates nothing; the payload can then be cut out of the
//! receive buffer without a copy with [`bytes::Bytes::slice_ref`].
//!
//! The variant order is the wire discriminant (a postcard varint) and must
//! never change: new kinds are appended. See PROTOCOL.md for the layout.
//! The codec is written by hand (see `codec.rs`); the serde impls give the
//! same bytes and stay for users who embed frames in their own formats.

mod codec;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The protocol version this crate speaks, sent in [`Frame::Hello`].
pub const PROTOCOL_VERSION: u16 = 1;

/// Number of frame kinds this version knows. A frame whose first byte is at
/// or above this is of an unknown kind.
pub const FRAME_KINDS: u8 = 23;

/// The kind byte of [`Frame::Event`].
const EVENT_KIND: u8 = 3;

/// Request id meaning "no reply expected".
pub const NO_REQUEST: u64 = 0;

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
    /// 22 — client → server: whether this client wants presence notices
    /// ([`Frame::ClientJoined`], [`Frame::ClientLeft`],
    /// [`Frame::ClientChanged`]). A client starts out wanting them; one
    /// with no handler for them declines them (the core client after 16
    /// unhandled notices).
    PresenceInterest {
        /// False: send no presence notices to this client; true: send them
        /// again.
        wanted: bool,
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
/// `Debug` writes the variant (`NoHandler`, `Other(42)`).
#[derive(Clone, Copy, PartialEq, Eq)]
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

// Written out rather than derived: the derived impl goes through
// `Formatter::debug_tuple`, which is all the browser build would use it for.
impl std::fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ErrorCode::NoHandler => "NoHandler",
            ErrorCode::BadPayload => "BadPayload",
            ErrorCode::HandlerFailed => "HandlerFailed",
            ErrorCode::Refused => "Refused",
            ErrorCode::ShuttingDown => "ShuttingDown",
            ErrorCode::TooLarge => "TooLarge",
            ErrorCode::Cancelled => "Cancelled",
            ErrorCode::Other(n) => return write!(f, "Other({n})"),
        })
    }
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

/// Size of a [`FrameBlock`]'s blocks. Small: a client keeps its current
/// block while idle.
#[cfg(not(target_arch = "wasm32"))]
const BLOCK_BYTES: usize = 4 * 1024;

/// Memory that one sender's small frames share, so that a frame costs no
/// allocation of its own: frames of at most 1/16 of a block are encoded
/// into the current block, which is split off for each. A frame keeps its
/// block alive until it is dropped; a block whose frames are all gone is
/// used again. One per client (never shared between senders): a stalled
/// connection's queued frames then pin only blocks of its own frames, so
/// its memory stays within its queue's byte limit plus one block.
///
/// In the browser (code size counts) frames are encoded on their own.
#[derive(Default)]
pub(crate) struct FrameBlock {
    #[cfg(not(target_arch = "wasm32"))]
    block: std::sync::Mutex<bytes::BytesMut>,
}

impl FrameBlock {
    /// Encodes `frame`, the same bytes as [`Frame::encode`].
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn encode(&self, frame: &Frame<'_>) -> Bytes {
        let len = frame.encoded_len();
        if len > BLOCK_BYTES / 16 {
            return frame.encode();
        }
        let mut block = self.block.lock().unwrap_or_else(|p| p.into_inner());
        if block.capacity() < len {
            // Reclaims the block when no frame holds it any more,
            // allocates a new one otherwise.
            block.reserve(BLOCK_BYTES);
        }
        frame.write_into(&mut block);
        block.split().freeze()
    }

    /// Encodes `frame` on its own ([`Frame::encode`]).
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn encode(&self, frame: &Frame<'_>) -> Bytes {
        frame.encode()
    }
}

/// An event's command (not yet checked to be UTF-8), request id and
/// payload, as [`Frame::decode_event_bytes`] finds them.
#[cfg(feature = "server")]
pub(crate) type EventBytes<'a> = (&'a [u8], u64, &'a [u8]);

/// Reads `rest` (a frame after its kind byte) with `fields`, which must
/// take all of it: faults and leftover bytes are [`Error::Malformed`].
#[inline]
fn read_whole<'a, T>(
    rest: &'a [u8],
    fields: impl FnOnce(&mut codec::Reader<'a>) -> std::result::Result<T, codec::Fault>,
) -> Result<T> {
    let mut reader = codec::Reader { rest };
    match fields(&mut reader) {
        Ok(value) if reader.rest.is_empty() => Ok(value),
        Ok(_) => Err(Error::Malformed("trailing bytes after frame".into())),
        Err(fault) => Err(Error::Malformed(fault.into())),
    }
}

impl Frame<'_> {
    /// Encodes the frame into a fresh buffer, ready for a transport.
    pub fn encode(&self) -> Bytes {
        // Exactly sized: one allocation, and the Vec becomes a `Bytes`
        // without another (a Vec with spare capacity would need a shared
        // header allocated on conversion).
        Bytes::from(self.to_vec())
    }

    /// Decodes one frame from a buffer holding exactly one frame.
    ///
    /// Errors: [`Error::UnknownFrameKind`] when the kind byte is beyond what
    /// this version knows (the peer is newer or broken), [`Error::Malformed`]
    /// for anything else that does not decode, including trailing bytes.
    pub fn decode(buf: &[u8]) -> Result<Frame<'_>> {
        let Some((&kind, rest)) = buf.split_first() else {
            return Err(Error::Malformed("empty frame".into()));
        };
        // Discriminants are postcard varints; every known kind fits in one
        // byte, so a first byte at or beyond FRAME_KINDS (including a varint
        // continuation bit) is a kind we do not know.
        if kind >= FRAME_KINDS {
            return Err(Error::UnknownFrameKind(kind));
        }
        read_whole(rest, |reader| reader.frame(kind))
    }

    /// Decodes `buf` if it is an [`Frame::Event`], without building a
    /// `Frame`: the server's hot path (the client keeps one decoder, which
    /// keeps the browser build small). `Ok(None)` when the frame is of
    /// another kind (decode it with [`Frame::decode`]); an event that does
    /// not decode is the same error as from [`Frame::decode`].
    #[inline]
    pub fn decode_event(buf: &[u8]) -> Result<Option<(&str, u64, &[u8])>> {
        match buf.split_first() {
            Some((&EVENT_KIND, rest)) => read_whole(rest, codec::Reader::event).map(Some),
            _ => Ok(None),
        }
    }

    /// [`decode_event`](Self::decode_event) with the command's UTF-8 left
    /// unchecked: the server looks the bytes up among its handlers' names
    /// first (a match is UTF-8) and checks the others with
    /// [`Frame::command_text`].
    #[cfg(feature = "server")]
    pub(crate) fn decode_event_bytes(buf: &[u8]) -> Result<Option<EventBytes<'_>>> {
        match buf.split_first() {
            Some((&EVENT_KIND, rest)) => read_whole(rest, codec::Reader::event_bytes).map(Some),
            _ => Ok(None),
        }
    }

    /// An event's command from [`Frame::decode_event_bytes`] as text: the
    /// error [`Frame::decode_event`] gives when it is not UTF-8.
    #[cfg(feature = "server")]
    pub(crate) fn command_text(command: &[u8]) -> Result<&str> {
        codec::utf8(command).map_err(|fault| Error::Malformed(fault.into()))
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
            Frame::PresenceInterest { .. } => "presence_interest",
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

    /// Varints around every length boundary.
    const VARINT_EDGES: [u64; 13] = [
        0,
        1,
        127,
        128,
        300,
        16_383,
        16_384,
        65_535,
        2_097_151,
        2_097_152,
        u32::MAX as u64,
        u32::MAX as u64 + 1,
        u64::MAX,
    ];

    /// postcard's serde decoding of a whole buffer, the reference.
    fn postcard_decode(buf: &[u8]) -> Option<Frame<'_>> {
        match postcard::take_from_bytes::<Frame<'_>>(buf) {
            Ok((frame, [])) => Some(frame),
            _ => None,
        }
    }

    /// The hand-written codec writes what postcard's serde encoding writes,
    /// sizes it exactly, and reads it back as postcard does.
    fn same_as_postcard(frame: &Frame<'_>) {
        let ours = frame.encode();
        let reference = postcard::to_allocvec(frame).expect("postcard encodes");
        assert_eq!(&ours[..], &reference[..], "bytes of {frame:?}");
        assert_eq!(frame.encoded_len(), ours.len(), "length of {frame:?}");
        assert_eq!(
            Frame::decode(&reference).ok().as_ref(),
            postcard_decode(&reference).as_ref()
        );
    }

    /// The decoder accepts exactly what postcard accepts, with the same
    /// result, for a buffer whose first byte is a known kind.
    fn decodes_like_postcard(buf: &[u8]) {
        let ours = Frame::decode(buf);
        let reference = postcard_decode(buf);
        match (&ours, &reference) {
            (Ok(a), Some(b)) => assert_eq!(a, b, "{buf:?}"),
            (Err(Error::Malformed(_)), None) => {}
            _ => panic!("{buf:?}: ours {ours:?}, postcard {reference:?}"),
        }
    }

    /// Frames of every kind with edge values: extreme numbers, empty and
    /// long strings, every option both ways.
    fn edge_frames(long: &str) -> Vec<Frame<'_>> {
        let mut frames = Vec::new();
        for n in VARINT_EDGES {
            let n16 = n.min(u16::MAX as u64) as u16;
            let n32 = n.min(u32::MAX as u64) as u32;
            let text = if n % 2 == 0 { long } else { "" };
            let opt = (n % 3 != 0).then_some(text);
            let client = WireClient {
                id: n,
                name: opt,
                group: Some(text),
                addr: None,
                transport: n as u8,
            };
            frames.extend([
                Frame::Hello {
                    version: n16,
                    name: opt,
                    group: None,
                    auth: opt.map(str::as_bytes),
                },
                Frame::Welcome {
                    client_id: n,
                    name: opt,
                    group: Some(text),
                    keepalive_interval_ms: n32,
                    keepalive_timeout_ms: n32 / 3,
                    max_frame_len: n32,
                    addr: opt,
                },
                Frame::Refuse {
                    code: n16,
                    reason: text,
                },
                Frame::Event {
                    command: text,
                    request_id: n,
                    payload: long.as_bytes(),
                },
                Frame::Reply {
                    request_id: n,
                    payload: text.as_bytes(),
                },
                Frame::ReplyError {
                    request_id: n,
                    code: n16,
                    message: text,
                },
                Frame::EventRejected {
                    command: text,
                    code: n16,
                    message: long,
                },
                Frame::ClientJoined(client.clone()),
                Frame::ClientLeft(client.clone()),
                Frame::ClientChanged {
                    client,
                    old_name: opt,
                    old_group: None,
                },
                Frame::SetName {
                    request_id: n,
                    name: opt,
                },
                Frame::SetGroup {
                    request_id: n,
                    group: opt,
                },
                Frame::Lookup {
                    request_id: n,
                    by: LookupKey::Id(n),
                },
                Frame::Lookup {
                    request_id: n,
                    by: LookupKey::Name(text),
                },
                Frame::Lookup {
                    request_id: n,
                    by: LookupKey::Addr(text),
                },
                Frame::ListClients {
                    request_id: n,
                    group: opt,
                },
                Frame::Ping { nonce: n },
                Frame::Pong { nonce: n },
                Frame::Close {
                    code: n16,
                    reason: text,
                    run_leave: n % 2 == 1,
                },
                Frame::StreamStart {
                    stream_id: n,
                    command: text,
                    total_len: opt.map(|_| n),
                },
                Frame::StreamChunk {
                    stream_id: n,
                    data: long.as_bytes(),
                },
                Frame::StreamEnd {
                    stream_id: n,
                    error: opt,
                },
                Frame::StreamAck {
                    stream_id: n,
                    consumed: u64::MAX - n,
                },
                Frame::StreamCancel {
                    stream_id: n,
                    code: n16,
                    message: text,
                },
                Frame::PresenceInterest { wanted: n % 2 == 1 },
            ]);
        }
        frames
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn a_block_holds_only_its_own_senders_frames() {
        // Two clients sending in turn on one thread: each one's frames sit
        // back to back in its own block, none of the other's in between
        // (so a stalled client cannot pin blocks full of others' frames).
        let (a, b) = (FrameBlock::default(), FrameBlock::default());
        let event = |payload: &'static [u8]| Frame::Event {
            command: "tick",
            request_id: NO_REQUEST,
            payload,
        };
        let mut last_a: Option<Bytes> = None;
        for _ in 0..20 {
            let frame_a = a.encode(&event(b"from a"));
            let frame_b = b.encode(&event(b"from b, a little longer"));
            if let Some(previous) = &last_a {
                let end_of_previous = previous.as_ptr() as usize + previous.len();
                assert_eq!(frame_a.as_ptr() as usize, end_of_previous);
            }
            assert!(frame_b.as_ptr() as usize != frame_a.as_ptr() as usize + frame_a.len());
            last_a = Some(frame_a);
        }
    }

    #[test]
    fn frames_encoded_in_blocks_are_the_same_bytes() {
        let block = FrameBlock::default();
        let long = "ß".repeat(100);
        let mut kept = Vec::new();
        for frame in edge_frames(&long) {
            let encoded = block.encode(&frame);
            assert_eq!(encoded, frame.encode(), "{frame:?}");
            kept.push(encoded);
        }
        // Frames that outlive many blocks keep their bytes.
        for (frame, encoded) in edge_frames(&long).iter().zip(&kept) {
            assert_eq!(encoded, &frame.encode(), "{frame:?}");
        }
        let payloads = [vec![], vec![7u8; 127], vec![7u8; 128], vec![7u8; 2000]];
        for request_id in VARINT_EDGES {
            for payload in &payloads {
                let event = Frame::Event {
                    command: &long,
                    request_id,
                    payload,
                };
                assert_eq!(block.encode(&event), event.encode());
            }
        }
    }

    #[test]
    fn decode_event_agrees_with_decode() {
        let event = Frame::Event {
            command: "tick",
            request_id: 300,
            payload: &[0x91, 0x01],
        }
        .encode();
        assert_eq!(
            Frame::decode_event(&event).expect("decodes"),
            Some(("tick", 300, &[0x91u8, 0x01][..]))
        );
        let ping = Frame::Ping { nonce: 1 }.encode();
        assert_eq!(Frame::decode_event(&ping).expect("not an event"), None);
        for cut in 1..event.len() {
            assert!(Frame::decode(&event[..cut]).is_err());
            assert!(Frame::decode_event(&event[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = event.to_vec();
        trailing.push(0);
        assert!(Frame::decode_event(&trailing).is_err());
    }

    #[cfg(feature = "server")]
    #[test]
    fn decode_event_bytes_agrees_with_decode_event() {
        let event = Frame::Event {
            command: "tick",
            request_id: 300,
            payload: &[0x91, 0x01],
        }
        .encode();
        let ping = Frame::Ping { nonce: 1 }.encode();
        let mut trailing = event.to_vec();
        trailing.push(0);
        assert!(Frame::decode_event_bytes(&trailing).is_err());
        for cut in 1..event.len() {
            assert!(
                Frame::decode_event_bytes(&event[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        assert_eq!(
            Frame::decode_event_bytes(&event).expect("decodes"),
            Some((&b"tick"[..], 300, &[0x91u8, 0x01][..]))
        );
        assert_eq!(
            Frame::decode_event_bytes(&ping).expect("not an event"),
            None
        );
        // A command that is not UTF-8: the same error either way.
        let bad = [EVENT_KIND, 2, 0xff, 0xfe, 0, 1, 0xc0];
        let whole = Frame::decode_event(&bad).expect_err("not UTF-8");
        let (command, _, _) = Frame::decode_event_bytes(&bad)
            .expect("decodes")
            .expect("an event");
        let text = Frame::command_text(command).expect_err("not UTF-8");
        assert_eq!(text.to_string(), whole.to_string());
    }

    #[test]
    fn encoding_matches_postcard_for_edge_values_of_every_kind() {
        let long = "ß".repeat(100); // 200 bytes: a two-byte length
        let frames = edge_frames(&long);
        let kinds: std::collections::BTreeSet<_> = frames.iter().map(|f| f.encode()[0]).collect();
        assert_eq!(kinds.len(), FRAME_KINDS as usize);
        for frame in frames {
            same_as_postcard(&frame);
            round_trip(frame);
        }
    }

    #[test]
    fn decoding_accepts_and_rejects_what_postcard_does() {
        let long = "é".repeat(70);
        for frame in edge_frames(&long) {
            let bytes = frame.encode().to_vec();
            // Every truncation.
            for len in 1..bytes.len() {
                decodes_like_postcard(&bytes[..len]);
            }
            // A trailing byte.
            let mut longer = bytes.clone();
            longer.push(0);
            decodes_like_postcard(&longer);
            // Every byte after the kind replaced by values that hit varint
            // limits, option and bool tags, and UTF-8 checks.
            for at in 1..bytes.len().min(40) {
                for value in [
                    0x00, 0x01, 0x02, 0x03, 0x04, 0x0f, 0x10, 0x7f, 0x80, 0xc3, 0xff,
                ] {
                    let mut changed = bytes.clone();
                    changed[at] = value;
                    decodes_like_postcard(&changed);
                }
            }
        }
        // Non-canonical (padded) varints are accepted, as postcard does,
        // up to each type's length limit.
        for buf in [
            &[14, 0x81, 0x80, 0x80, 0x00][..],
            &[
                14, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ],
            &[
                14, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
            ],
            &[
                14, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
            ],
            &[2, 0xff, 0xff, 0x03, 0],
            &[2, 0xff, 0xff, 0x04, 0],
            &[2, 0x80, 0x80, 0x80, 0],
            &[1, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0],
            &[1, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x1f, 0, 0, 0],
            &[12, 1, 0x80, 0x00, 5],
            &[12, 1, 3, 5],
            &[16, 1, 0, 2],
            &[3, 0x80, 0x00, 0, 0],
        ] {
            decodes_like_postcard(buf);
        }
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
            Frame::PresenceInterest { wanted: false },
        ];
        assert_eq!(frames.len(), FRAME_KINDS as usize);
        for (i, frame) in frames.into_iter().enumerate() {
            let bytes = frame.encode();
            assert_eq!(
                bytes[0] as usize,
                i,
                "discriminant of {}",
                frame.kind_name()
            );
            same_as_postcard(&frame);
            round_trip(frame);
        }
    }

    #[test]
    fn varint_lengths_match_postcard() {
        for value in VARINT_EDGES {
            let encoded = postcard::to_allocvec(&value).expect("encodes");
            assert_eq!(codec::varint_len(value), encoded.len(), "{value}");
        }
        let big = vec![7u8; 70_000];
        let frame = Frame::StreamChunk {
            stream_id: 1 << 40,
            data: &big,
        };
        same_as_postcard(&frame);
    }

    #[test]
    fn error_code_debug_names_the_variant() {
        let names: Vec<String> = (0..=8)
            .map(|n| format!("{:?}", ErrorCode::from_wire(n)))
            .collect();
        assert_eq!(
            names,
            [
                "Other(0)",
                "NoHandler",
                "BadPayload",
                "HandlerFailed",
                "Refused",
                "ShuttingDown",
                "TooLarge",
                "Cancelled",
                "Other(8)"
            ]
        );
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
