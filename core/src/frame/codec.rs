//! The postcard encoding of [`Frame`], written by hand.
//!
//! Past 450 lines on purpose: every kind's encoder and decoder sit side by
//! side, so that the byte layout of every kind is checked in one place
//! against PROTOCOL.md section 3.2; the tests live in `frame/tests.rs`.
//!
//! It produces and accepts exactly the bytes that postcard's serde encoding
//! of the derived `Serialize`/`Deserialize` impls does (`frame/tests.rs`
//! compares the two for edge values of every kind, every truncation and
//! corrupted bytes), without serde's generic machinery: one pass to size a
//! frame, one to write it, and a plain reader for decoding. PROTOCOL.md
//! section 2 describes the encoding.
//!
//! Why by hand, measured: an `Event` of a 4-byte command and an 80-byte
//! payload (about W1's) costs 453 instructions to encode into its own
//! exactly sized `Bytes` (allocation included) against 598 with
//! `postcard::to_slice` into the same buffer, and 207 to decode against 253
//! with `postcard::take_from_bytes` (callgrind, release build, a loop of
//! 100,000 and of 200,000 frames, the difference divided by 100,000, the
//! empty loop's 27 subtracted). The other reason, not measured here: the
//! browser build needs no serde (de)serializer for frames, which keeps the
//! `.wasm` small. The kind numbers come from [`FrameKind`].
//!
//! Longer than one sitting (about 640 lines): the writer and the reader of
//! all 27 kinds, one `match` each, stay in one file because they must
//! agree field for field.

use super::{Frame, FrameKind, LookupKey, WireClient};

/// Bytes of a postcard varint holding `value`.
pub(super) fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// Writes `value` as a postcard varint at the start of `out` (which has
/// room for it: up to 10 bytes), returning its length.
#[cfg(not(target_arch = "wasm32"))]
#[inline]
fn put_varint(out: &mut [u8], mut value: u64) -> usize {
    let mut n = 0;
    while value >= 0x80 {
        out[n] = value as u8 | 0x80;
        value >>= 7;
        n += 1;
    }
    out[n] = value as u8;
    n + 1
}

/// `bytes` as text, or the fault that a string field of a frame that is
/// not UTF-8 is.
pub(super) fn utf8(bytes: &[u8]) -> Result<&str, Fault> {
    std::str::from_utf8(bytes).map_err(|_| Fault::InvalidUtf8)
}

/// Where encoded bytes go: a counter (to size the buffer) or the buffer.
trait Sink {
    fn byte(&mut self, byte: u8);
    fn varint(&mut self, value: u64);
    fn raw(&mut self, bytes: &[u8]);

    /// A frame's kind: its number, one byte (a varint below 128).
    #[inline]
    fn kind(&mut self, kind: FrameKind) {
        self.byte(kind.number());
    }

    /// A `&str` or `&[u8]`: varint length, then the bytes.
    fn bytes(&mut self, bytes: &[u8]) {
        self.varint(bytes.len() as u64);
        self.raw(bytes);
    }

    /// An `Option<&str>` or `Option<&[u8]>`: tag byte, then the bytes.
    fn opt(&mut self, bytes: Option<&[u8]>) {
        match bytes {
            None => self.byte(0),
            Some(bytes) => {
                self.byte(1);
                self.bytes(bytes);
            }
        }
    }

    fn opt_str(&mut self, text: Option<&str>) {
        self.opt(text.map(str::as_bytes));
    }

    fn client(&mut self, client: &WireClient<'_>) {
        self.varint(client.id);
        self.opt_str(client.name);
        self.opt_str(client.group);
        self.opt_str(client.addr);
        self.byte(client.transport);
    }
}

/// Counts the bytes a frame encodes to.
struct Counter(usize);

impl Sink for Counter {
    fn byte(&mut self, _: u8) {
        self.0 += 1;
    }
    fn varint(&mut self, value: u64) {
        self.0 += varint_len(value);
    }
    fn raw(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
}

impl Sink for Vec<u8> {
    fn byte(&mut self, byte: u8) {
        self.push(byte);
    }
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.push(value as u8 | 0x80);
            value >>= 7;
        }
        self.push(value as u8);
    }
    fn raw(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Frame<'_> {
    /// The length of an `Event` frame, by arithmetic rather than a pass
    /// over it (the client's send path; equal to `encoded_len`).
    #[cfg(not(target_arch = "wasm32"))]
    #[inline]
    pub(super) fn event_len(command: &str, request_id: u64, payload_len: usize) -> usize {
        1 + varint_len(command.len() as u64)
            + command.len()
            + varint_len(request_id)
            + varint_len(payload_len as u64)
            + payload_len
    }

    /// Appends an `Event` frame to `buf`: the bytes `write` writes for
    /// one, in four appends rather than one per field and varint byte.
    /// The client's send path, measured: with `event_len` instead of a
    /// sizing pass, W1 went from 2,641 to 2,608 instructions per event
    /// (bench/README.md).
    #[cfg(not(target_arch = "wasm32"))]
    #[inline]
    pub(super) fn write_event(
        buf: &mut bytes::BytesMut,
        command: &str,
        request_id: u64,
        payload: &[u8],
    ) {
        // The kind and the command's length, then the request id and the
        // payload's length: at most 1 + 10 and 10 + 10 bytes.
        let mut head = [0u8; 11];
        head[0] = FrameKind::Event.number();
        let n = 1 + put_varint(&mut head[1..], command.len() as u64);
        buf.extend_from_slice(&head[..n]);
        buf.extend_from_slice(command.as_bytes());
        let mut mid = [0u8; 20];
        let m = put_varint(&mut mid, request_id);
        let m = m + put_varint(&mut mid[m..], payload.len() as u64);
        buf.extend_from_slice(&mid[..m]);
        buf.extend_from_slice(payload);
    }

    /// The exact number of bytes [`Frame::encode`] produces.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub(super) fn encoded_len(&self) -> usize {
        let mut counter = Counter(0);
        self.write(&mut counter);
        counter.0
    }

    /// Encodes into a buffer of exactly the right size.
    #[cfg(not(target_arch = "wasm32"))]
    pub(super) fn to_vec(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.encoded_len());
        self.write(&mut buf);
        buf
    }

    /// Encodes into a growing buffer: in the browser, code size matters
    /// more than the exact allocation (one pass instead of two).
    #[cfg(target_arch = "wasm32")]
    pub(super) fn to_vec(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        self.write(&mut buf);
        buf
    }

    /// The postcard encoding: the kind as a varint, then the fields in
    /// declaration order.
    fn write(&self, out: &mut impl Sink) {
        match self {
            Frame::Hello {
                version,
                name,
                group,
                auth,
            } => {
                out.kind(FrameKind::Hello);
                out.varint(u64::from(*version));
                out.opt_str(*name);
                out.opt_str(*group);
                out.opt(*auth);
            }
            Frame::Welcome {
                client_id,
                name,
                group,
                keepalive_interval_ms,
                keepalive_timeout_ms,
                max_frame_len,
                addr,
            } => {
                out.kind(FrameKind::Welcome);
                out.varint(*client_id);
                out.opt_str(*name);
                out.opt_str(*group);
                out.varint(u64::from(*keepalive_interval_ms));
                out.varint(u64::from(*keepalive_timeout_ms));
                out.varint(u64::from(*max_frame_len));
                out.opt_str(*addr);
            }
            Frame::Refuse { code, reason } => {
                out.kind(FrameKind::Refuse);
                out.varint(u64::from(*code));
                out.bytes(reason.as_bytes());
            }
            Frame::Event {
                command,
                request_id,
                payload,
            } => {
                out.kind(FrameKind::Event);
                out.bytes(command.as_bytes());
                out.varint(*request_id);
                out.bytes(payload);
            }
            Frame::Reply {
                request_id,
                payload,
            } => {
                out.kind(FrameKind::Reply);
                out.varint(*request_id);
                out.bytes(payload);
            }
            Frame::ReplyError {
                request_id,
                code,
                message,
            } => {
                out.kind(FrameKind::ReplyError);
                out.varint(*request_id);
                out.varint(u64::from(*code));
                out.bytes(message.as_bytes());
            }
            Frame::EventRejected {
                command,
                code,
                message,
            } => {
                out.kind(FrameKind::EventRejected);
                out.bytes(command.as_bytes());
                out.varint(u64::from(*code));
                out.bytes(message.as_bytes());
            }
            Frame::ClientJoined(client) => {
                out.kind(FrameKind::ClientJoined);
                out.client(client);
            }
            Frame::ClientLeft(client) => {
                out.kind(FrameKind::ClientLeft);
                out.client(client);
            }
            Frame::ClientChanged {
                client,
                old_name,
                old_group,
            } => {
                out.kind(FrameKind::ClientChanged);
                out.client(client);
                out.opt_str(*old_name);
                out.opt_str(*old_group);
            }
            Frame::SetName { request_id, name } => {
                out.kind(FrameKind::SetName);
                out.varint(*request_id);
                out.opt_str(*name);
            }
            Frame::SetGroup { request_id, group } => {
                out.kind(FrameKind::SetGroup);
                out.varint(*request_id);
                out.opt_str(*group);
            }
            Frame::Lookup { request_id, by } => {
                out.kind(FrameKind::Lookup);
                out.varint(*request_id);
                match by {
                    LookupKey::Id(id) => {
                        out.byte(0);
                        out.varint(*id);
                    }
                    LookupKey::Name(name) => {
                        out.byte(1);
                        out.bytes(name.as_bytes());
                    }
                    LookupKey::Addr(addr) => {
                        out.byte(2);
                        out.bytes(addr.as_bytes());
                    }
                }
            }
            Frame::ListClients { request_id, group } => {
                out.kind(FrameKind::ListClients);
                out.varint(*request_id);
                out.opt_str(*group);
            }
            Frame::Ping { nonce } => {
                out.kind(FrameKind::Ping);
                out.varint(*nonce);
            }
            Frame::Pong { nonce } => {
                out.kind(FrameKind::Pong);
                out.varint(*nonce);
            }
            Frame::Close {
                code,
                reason,
                run_leave,
            } => {
                out.kind(FrameKind::Close);
                out.varint(u64::from(*code));
                out.bytes(reason.as_bytes());
                out.byte(u8::from(*run_leave));
            }
            Frame::StreamStart {
                stream_id,
                command,
                total_len,
            } => {
                out.kind(FrameKind::StreamStart);
                out.varint(*stream_id);
                out.bytes(command.as_bytes());
                match total_len {
                    None => out.byte(0),
                    Some(len) => {
                        out.byte(1);
                        out.varint(*len);
                    }
                }
            }
            Frame::StreamChunk { stream_id, data } => {
                out.kind(FrameKind::StreamChunk);
                out.varint(*stream_id);
                out.bytes(data);
            }
            Frame::StreamEnd { stream_id, error } => {
                out.kind(FrameKind::StreamEnd);
                out.varint(*stream_id);
                out.opt_str(*error);
            }
            Frame::StreamAck {
                stream_id,
                consumed,
            } => {
                out.kind(FrameKind::StreamAck);
                out.varint(*stream_id);
                out.varint(*consumed);
            }
            Frame::StreamCancel {
                stream_id,
                code,
                message,
            } => {
                out.kind(FrameKind::StreamCancel);
                out.varint(*stream_id);
                out.varint(u64::from(*code));
                out.bytes(message.as_bytes());
            }
            Frame::PresenceInterest { wanted } => {
                out.kind(FrameKind::PresenceInterest);
                out.byte(u8::from(*wanted));
            }
            Frame::RoomRequest {
                request_id,
                room,
                join,
            } => {
                out.kind(FrameKind::RoomRequest);
                out.varint(*request_id);
                out.bytes(room.as_bytes());
                out.byte(u8::from(*join));
            }
            Frame::Resume { token, received } => {
                out.kind(FrameKind::Resume);
                out.bytes(token);
                out.varint(*received);
            }
            Frame::Session {
                token,
                outcome,
                received,
                window_ms,
            } => {
                out.kind(FrameKind::Session);
                out.bytes(token);
                out.byte(*outcome);
                out.varint(*received);
                out.varint(u64::from(*window_ms));
            }
            Frame::Ack { received } => {
                out.kind(FrameKind::Ack);
                out.varint(*received);
            }
        }
    }
}

/// Why a frame did not decode.
pub(super) type Fault = crate::error::Malformed;

/// Reads postcard values off the front of a buffer.
pub(super) struct Reader<'a> {
    /// What is left to read.
    pub(super) rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, Fault> {
        let (&byte, rest) = self.rest.split_first().ok_or(Fault::Truncated)?;
        self.rest = rest;
        Ok(byte)
    }

    /// A varint of at most `max_bytes` bytes whose last byte may be at most
    /// `last_max`: the rules postcard applies to u16, u32 and u64.
    #[inline]
    fn varint(&mut self, max_bytes: u32, last_max: u8) -> Result<u64, Fault> {
        // Most varints (kinds, lengths, small ids) are one byte.
        if let Some((&byte, rest)) = self.rest.split_first() {
            if byte < 0x80 {
                self.rest = rest;
                return Ok(u64::from(byte));
            }
        }
        self.long_varint(max_bytes, last_max)
    }

    #[inline(never)]
    fn long_varint(&mut self, max_bytes: u32, last_max: u8) -> Result<u64, Fault> {
        let mut value = 0;
        for i in 0..max_bytes {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                if i == max_bytes - 1 && byte > last_max {
                    break;
                }
                return Ok(value);
            }
        }
        Err(Fault::BadVarint)
    }

    fn u16(&mut self) -> Result<u16, Fault> {
        // Three bytes hold at most 2^16 - 1 once the last is at most 3.
        Ok(self.varint(3, 0x03)? as u16)
    }

    fn u32(&mut self) -> Result<u32, Fault> {
        Ok(self.varint(5, 0x0f)? as u32)
    }

    fn u64(&mut self) -> Result<u64, Fault> {
        self.varint(10, 0x01)
    }

    /// A `&[u8]`: varint length (postcard's usize) and the bytes.
    #[inline]
    fn bytes(&mut self) -> Result<&'a [u8], Fault> {
        let len = if usize::BITS == 64 {
            self.u64()?
        } else {
            u64::from(self.u32()?)
        };
        match self
            .rest
            .split_at_checked(usize::try_from(len).unwrap_or(usize::MAX))
        {
            Some((bytes, rest)) => {
                self.rest = rest;
                Ok(bytes)
            }
            None => Err(Fault::Truncated),
        }
    }

    #[inline]
    fn str(&mut self) -> Result<&'a str, Fault> {
        utf8(self.bytes()?)
    }

    /// An option's tag or a bool: `00` or `01`.
    fn flag(&mut self, fault: Fault) -> Result<bool, Fault> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(fault),
        }
    }

    fn some(&mut self) -> Result<bool, Fault> {
        self.flag(Fault::BadOptionTag)
    }

    fn opt_str(&mut self) -> Result<Option<&'a str>, Fault> {
        Ok(if self.some()? {
            Some(self.str()?)
        } else {
            None
        })
    }

    fn client(&mut self) -> Result<WireClient<'a>, Fault> {
        Ok(WireClient {
            id: self.u64()?,
            name: self.opt_str()?,
            group: self.opt_str()?,
            addr: self.opt_str()?,
            transport: self.byte()?,
        })
    }

    /// The fields of an `Event` frame: command, request id, payload.
    #[inline]
    pub(super) fn event(&mut self) -> Result<(&'a str, u64, &'a [u8]), Fault> {
        Ok((self.str()?, self.u64()?, self.bytes()?))
    }

    /// [`event`](Self::event) with the command's UTF-8 left unchecked.
    /// Inlined into the server's event path: left to itself, the compiler
    /// made it a call of its own once the server grew (+35 instructions
    /// per W1 event).
    #[cfg(feature = "server")]
    #[inline]
    pub(super) fn event_bytes(&mut self) -> Result<(&'a [u8], u64, &'a [u8]), Fault> {
        Ok((self.bytes()?, self.u64()?, self.bytes()?))
    }

    /// The fields of a frame of `kind` (the kind byte already read).
    pub(super) fn frame(&mut self, kind: FrameKind) -> Result<Frame<'a>, Fault> {
        Ok(match kind {
            // In the browser only the client decodes, and these kinds go
            // from client to server only (`Direction::ClientToServer`): their
            // fields are skipped, and the caller reports the kind as a
            // protocol violation, as for any other frame a server may not
            // send.
            #[cfg(target_arch = "wasm32")]
            FrameKind::Hello
            | FrameKind::SetName
            | FrameKind::SetGroup
            | FrameKind::Lookup
            | FrameKind::ListClients
            | FrameKind::PresenceInterest
            | FrameKind::RoomRequest
            | FrameKind::Resume => {
                self.rest = &[];
                match kind {
                    FrameKind::Hello => Frame::Hello {
                        version: 0,
                        name: None,
                        group: None,
                        auth: None,
                    },
                    FrameKind::SetName => Frame::SetName {
                        request_id: 0,
                        name: None,
                    },
                    FrameKind::SetGroup => Frame::SetGroup {
                        request_id: 0,
                        group: None,
                    },
                    FrameKind::Lookup => Frame::Lookup {
                        request_id: 0,
                        by: LookupKey::Id(0),
                    },
                    FrameKind::ListClients => Frame::ListClients {
                        request_id: 0,
                        group: None,
                    },
                    FrameKind::Resume => Frame::Resume {
                        token: &[],
                        received: 0,
                    },
                    _ => Frame::PresenceInterest { wanted: false },
                }
            }
            #[cfg(not(target_arch = "wasm32"))]
            FrameKind::Hello => Frame::Hello {
                version: self.u16()?,
                name: self.opt_str()?,
                group: self.opt_str()?,
                auth: if self.some()? {
                    Some(self.bytes()?)
                } else {
                    None
                },
            },
            FrameKind::Welcome => Frame::Welcome {
                client_id: self.u64()?,
                name: self.opt_str()?,
                group: self.opt_str()?,
                keepalive_interval_ms: self.u32()?,
                keepalive_timeout_ms: self.u32()?,
                max_frame_len: self.u32()?,
                addr: self.opt_str()?,
            },
            FrameKind::Refuse => Frame::Refuse {
                code: self.u16()?,
                reason: self.str()?,
            },
            FrameKind::Event => {
                let (command, request_id, payload) = self.event()?;
                Frame::Event {
                    command,
                    request_id,
                    payload,
                }
            }
            FrameKind::Reply => Frame::Reply {
                request_id: self.u64()?,
                payload: self.bytes()?,
            },
            FrameKind::ReplyError => Frame::ReplyError {
                request_id: self.u64()?,
                code: self.u16()?,
                message: self.str()?,
            },
            FrameKind::EventRejected => Frame::EventRejected {
                command: self.str()?,
                code: self.u16()?,
                message: self.str()?,
            },
            FrameKind::ClientJoined => Frame::ClientJoined(self.client()?),
            FrameKind::ClientLeft => Frame::ClientLeft(self.client()?),
            FrameKind::ClientChanged => Frame::ClientChanged {
                client: self.client()?,
                old_name: self.opt_str()?,
                old_group: self.opt_str()?,
            },
            #[cfg(not(target_arch = "wasm32"))]
            FrameKind::SetName => Frame::SetName {
                request_id: self.u64()?,
                name: self.opt_str()?,
            },
            #[cfg(not(target_arch = "wasm32"))]
            FrameKind::SetGroup => Frame::SetGroup {
                request_id: self.u64()?,
                group: self.opt_str()?,
            },
            #[cfg(not(target_arch = "wasm32"))]
            FrameKind::Lookup => Frame::Lookup {
                request_id: self.u64()?,
                by: match self.u32()? {
                    0 => LookupKey::Id(self.u64()?),
                    1 => LookupKey::Name(self.str()?),
                    2 => LookupKey::Addr(self.str()?),
                    _ => return Err(Fault::UnknownLookupKey),
                },
            },
            #[cfg(not(target_arch = "wasm32"))]
            FrameKind::ListClients => Frame::ListClients {
                request_id: self.u64()?,
                group: self.opt_str()?,
            },
            FrameKind::Ping => Frame::Ping { nonce: self.u64()? },
            FrameKind::Pong => Frame::Pong { nonce: self.u64()? },
            FrameKind::Close => Frame::Close {
                code: self.u16()?,
                reason: self.str()?,
                run_leave: self.flag(Fault::BadBool)?,
            },
            FrameKind::StreamStart => Frame::StreamStart {
                stream_id: self.u64()?,
                command: self.str()?,
                total_len: if self.some()? {
                    Some(self.u64()?)
                } else {
                    None
                },
            },
            FrameKind::StreamChunk => Frame::StreamChunk {
                stream_id: self.u64()?,
                data: self.bytes()?,
            },
            FrameKind::StreamEnd => Frame::StreamEnd {
                stream_id: self.u64()?,
                error: self.opt_str()?,
            },
            FrameKind::StreamAck => Frame::StreamAck {
                stream_id: self.u64()?,
                consumed: self.u64()?,
            },
            FrameKind::StreamCancel => Frame::StreamCancel {
                stream_id: self.u64()?,
                code: self.u16()?,
                message: self.str()?,
            },
            #[cfg(not(target_arch = "wasm32"))]
            FrameKind::PresenceInterest => Frame::PresenceInterest {
                wanted: self.flag(Fault::BadBool)?,
            },
            #[cfg(not(target_arch = "wasm32"))]
            FrameKind::RoomRequest => Frame::RoomRequest {
                request_id: self.u64()?,
                room: self.str()?,
                join: self.flag(Fault::BadBool)?,
            },
            #[cfg(not(target_arch = "wasm32"))]
            FrameKind::Resume => Frame::Resume {
                token: self.bytes()?,
                received: self.u64()?,
            },
            FrameKind::Session => Frame::Session {
                token: self.bytes()?,
                outcome: self.byte()?,
                received: self.u64()?,
                window_ms: self.u32()?,
            },
            FrameKind::Ack => Frame::Ack {
                received: self.u64()?,
            },
        })
    }
}
