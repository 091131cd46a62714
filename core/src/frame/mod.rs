//! The wire type: every message between a client and a server is one
//! [`Frame`], encoded with postcard.
//!
//! Frames borrow from the buffer they were decoded from (`&str`, `&[u8]`), so
//! decoding an event allocates nothing; the payload can then be cut out of the
//! receive buffer without a copy with [`bytes::Bytes::slice_ref`].
//!
//! The variant order is the wire discriminant (a postcard varint) and must
//! never change: new kinds are appended. See PROTOCOL.md for the layout.
//!
//! The parts, one file each: this file holds the types and the entry points
//! ([`Frame::encode`], [`Frame::decode`] and the event fast paths);
//! `kind.rs` the table of kinds ([`FrameKind`]); `codec.rs` the encoding,
//! written by hand (the serde impls give the same bytes and stay for users
//! who embed frames in their own formats); `block.rs` where a client's small
//! frames are encoded; `error_code.rs` the error codes frames carry.

mod block;
mod codec;
mod error_code;
mod kind;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{Malformed, ProtocolFault, Result};

pub(crate) use block::FrameBlock;
pub use error_code::ErrorCode;
pub use kind::{Direction, FrameKind};

/// The protocol version this crate speaks, sent in [`Frame::Hello`].
pub const PROTOCOL_VERSION: u16 = 1;

/// Number of frame kinds this version knows. A frame whose first byte is at
/// or above this is of an unknown kind.
pub const FRAME_KINDS: u8 = FrameKind::ALL.len() as u8;

/// Request id meaning "no reply expected".
pub const NO_REQUEST: u64 = 0;

/// The largest frame, in bytes, that a side accepts unless configured
/// otherwise: the server's [`max_frame_len`](crate::ServerConfig) default,
/// and what the native and browser clients accept from their server
/// (16 MiB, PROTOCOL.md section 1).
pub const DEFAULT_MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

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
    /// 23 — client → server: put me in `room` (`join`), or take me out of
    /// it. Answered by a [`Frame::Reply`] whose payload is a bool (whether
    /// that changed anything), or a [`Frame::ReplyError`] with
    /// [`ErrorCode::Refused`] when the server's room hook (or its absence)
    /// says no.
    RoomRequest {
        /// Request id for the answer.
        request_id: u64,
        /// The room.
        #[serde(borrow)]
        room: &'a str,
        /// True: join; false: leave.
        join: bool,
    },
    /// 24 — client → server, sent just before [`Frame::Hello`] by a client
    /// that uses resumable sessions (PROTOCOL.md section 13.1).
    Resume {
        /// Empty: a new session; otherwise the token of the session to
        /// resume, from its [`Frame::Session`].
        #[serde(borrow, serialize_with = "serde_bytes::serialize")]
        token: &'a [u8],
        /// Counted frames the client received from the server in that
        /// session (0 for a new one).
        received: u64,
    },
    /// 25 — server → client, right after [`Frame::Welcome`], only to a
    /// client that sent [`Frame::Resume`].
    Session {
        /// The session's token, to present in a later [`Frame::Resume`].
        #[serde(borrow, serialize_with = "serde_bytes::serialize")]
        token: &'a [u8],
        /// 0: resumed; otherwise why not (a
        /// [`ResumeOutcome`](crate::protocol::resume::ResumeOutcome)).
        outcome: u8,
        /// Counted frames the server received from the client in the
        /// resumed session (0 when not resumed).
        received: u64,
        /// How long the server keeps the session after a break, in
        /// milliseconds; 0: it keeps none.
        window_ms: u32,
    },
    /// 26 — either way, on a resumable session: the sender has received
    /// this many counted frames from the peer in the session.
    Ack {
        /// Counted frames received so far.
        received: u64,
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

/// An event's command (not yet checked to be UTF-8), request id and
/// payload, as [`Frame::decode_event_bytes`] finds them.
#[cfg(feature = "server")]
pub(crate) type EventBytes<'a> = (&'a [u8], u64, &'a [u8]);

/// Reads `rest` (a frame after its kind byte) with `fields`, which must
/// take all of it: faults and leftover bytes are [`Malformed`](crate::error::Malformed).
#[inline]
fn read_whole<'a, T>(
    rest: &'a [u8],
    fields: impl FnOnce(&mut codec::Reader<'a>) -> std::result::Result<T, codec::Fault>,
) -> Result<T> {
    let mut reader = codec::Reader { rest };
    match fields(&mut reader) {
        Ok(value) if reader.rest.is_empty() => Ok(value),
        Ok(_) => Err(Malformed::TrailingBytes.into()),
        Err(fault) => Err(fault.into()),
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
    /// Errors: [`Error::Protocol`](crate::Error::Protocol) with [`ProtocolFault::UnknownKind`] when
    /// the kind byte is beyond what this version knows (the peer is newer
    /// or broken), [`ProtocolFault::Malformed`] for anything else that does
    /// not decode, including trailing bytes.
    pub fn decode(buf: &[u8]) -> Result<Frame<'_>> {
        let Some((&number, rest)) = buf.split_first() else {
            return Err(Malformed::Empty.into());
        };
        // Discriminants are postcard varints; every known kind fits in one
        // byte, so a first byte at or beyond FRAME_KINDS (including a varint
        // continuation bit) is a kind we do not know.
        let Some(kind) = FrameKind::from_number(number) else {
            return Err(ProtocolFault::UnknownKind(number).into());
        };
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
            Some((&kind, rest)) if kind == FrameKind::Event.number() => {
                read_whole(rest, codec::Reader::event).map(Some)
            }
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
            Some((&kind, rest)) if kind == FrameKind::Event.number() => {
                read_whole(rest, codec::Reader::event_bytes).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// An event's command from [`Frame::decode_event_bytes`] as text: the
    /// error [`Frame::decode_event`] gives when it is not UTF-8.
    #[cfg(feature = "server")]
    pub(crate) fn command_text(command: &[u8]) -> Result<&str> {
        codec::utf8(command).map_err(crate::Error::from)
    }

    /// The frame's kind.
    pub fn kind(&self) -> FrameKind {
        match self {
            Frame::Hello { .. } => FrameKind::Hello,
            Frame::Welcome { .. } => FrameKind::Welcome,
            Frame::Refuse { .. } => FrameKind::Refuse,
            Frame::Event { .. } => FrameKind::Event,
            Frame::Reply { .. } => FrameKind::Reply,
            Frame::ReplyError { .. } => FrameKind::ReplyError,
            Frame::EventRejected { .. } => FrameKind::EventRejected,
            Frame::ClientJoined(_) => FrameKind::ClientJoined,
            Frame::ClientLeft(_) => FrameKind::ClientLeft,
            Frame::ClientChanged { .. } => FrameKind::ClientChanged,
            Frame::SetName { .. } => FrameKind::SetName,
            Frame::SetGroup { .. } => FrameKind::SetGroup,
            Frame::Lookup { .. } => FrameKind::Lookup,
            Frame::ListClients { .. } => FrameKind::ListClients,
            Frame::Ping { .. } => FrameKind::Ping,
            Frame::Pong { .. } => FrameKind::Pong,
            Frame::Close { .. } => FrameKind::Close,
            Frame::StreamStart { .. } => FrameKind::StreamStart,
            Frame::StreamChunk { .. } => FrameKind::StreamChunk,
            Frame::StreamEnd { .. } => FrameKind::StreamEnd,
            Frame::StreamAck { .. } => FrameKind::StreamAck,
            Frame::StreamCancel { .. } => FrameKind::StreamCancel,
            Frame::PresenceInterest { .. } => FrameKind::PresenceInterest,
            Frame::RoomRequest { .. } => FrameKind::RoomRequest,
            Frame::Resume { .. } => FrameKind::Resume,
            Frame::Session { .. } => FrameKind::Session,
            Frame::Ack { .. } => FrameKind::Ack,
        }
    }

    /// The frame's kind, for logs and close reasons (`"reply_error"`; see
    /// [`FrameKind::log_name`]).
    pub fn kind_name(&self) -> &'static str {
        self.kind().log_name()
    }
}

#[cfg(test)]
mod tests;
