//! The one error type of the `hisock` crate.

use std::time::Duration;

use crate::close::CloseReason;
use crate::frame::ErrorCode;
use crate::protocol::limits::LimitExceeded;
use crate::transport::TransportError;

/// Everything that can go wrong in hisock's core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed (socket error, oversized or truncated frame).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The peer broke the wire protocol (a frame that does not decode, an
    /// unknown kind, a frame not allowed here). Not something an
    /// application handles beyond logging: the connection closes with the
    /// fault's [`close_code`](ProtocolFault::close_code).
    #[error(transparent)]
    Protocol(#[from] ProtocolFault),
    /// A payload could not be encoded as MessagePack.
    #[error("payload could not be encoded: {0}")]
    Encode(String),
    /// A payload did not decode into the requested type.
    #[error("payload does not fit the expected type: {0}")]
    Decode(String),
    /// The server refused the handshake.
    #[error("refused by server: {0}")]
    Refused(CloseReason),
    /// The connection is closed; the reason says who closed it and why.
    #[error("connection closed: {0}")]
    Closed(CloseReason),
    /// The connection broke while this request was on its way or waiting
    /// for its answer, and the client reconnected to a new session, not
    /// the old one (PROTOCOL.md section 13.6): the server may or may not
    /// have handled it. `outcome` says why the session was not resumed.
    #[error("connection broke and the session was not resumed ({outcome}): the request may or may not have been handled")]
    SessionLost {
        /// Why the server did not resume the session.
        outcome: crate::protocol::resume::ResumeOutcome,
    },
    /// A reconnecting client is between connections and its offline queue
    /// is full ([`ClientOptions::offline_queue`](crate::ClientOptions::offline_queue)):
    /// nothing was queued.
    #[error("offline queue full ({frames} frames, {bytes} bytes queued; bound {max_frames} frames, {max_bytes} bytes)")]
    OfflineQueueFull {
        /// Frames queued.
        frames: usize,
        /// What they cost, in bytes (each its length plus 80).
        bytes: usize,
        /// The bound in frames.
        max_frames: usize,
        /// The bound in bytes.
        max_bytes: usize,
    },
    /// The request waited in the offline queue past its time-to-live and
    /// was dropped, never sent.
    #[error("dropped after waiting offline past its time-to-live of {} ms", .0.as_millis() as u64)]
    Expired(Duration),
    /// An operation did not finish in time.
    #[error("timed out after {} ms", .0.as_millis() as u64)]
    Timeout(Duration),
    /// The peer answered a request with an error.
    #[error("peer answered with an error ({code:?}): {message}")]
    Remote {
        /// Why the peer failed.
        code: ErrorCode,
        /// The peer's message.
        message: String,
    },
    /// The outgoing queue is full (see the queue limits in the options).
    #[error("outgoing queue full ({queued} bytes queued, limit {limit})")]
    QueueFull {
        /// Bytes already queued.
        queued: usize,
        /// The configured limit.
        limit: usize,
    },
    /// No client with that id is connected.
    #[error("no client with id {0}")]
    NoSuchClient(u64),
    /// An address could not be parsed.
    #[error("invalid address \"{input}\": {reason}")]
    InvalidAddress {
        /// What was given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A handler returned an error.
    #[error("handler failed: {0}")]
    Handler(String),
    /// A local limit refused the call before anything was sent: the peer
    /// would have closed the connection for it (PROTOCOL.md section 12).
    #[error("limit exceeded: {0}")]
    LimitExceeded(LimitExceeded),
    /// A native client could not reach a hisock server at `to`: nothing
    /// listens there, the address does not resolve, the peer is not a
    /// hisock server of that transport (it never answered the handshake,
    /// it is an HTTP server or a TCP port where a WebSocket was expected).
    /// `reason` says which, in words. (Not in the browser build, whose
    /// connect errors come from the browser.)
    #[cfg(not(target_arch = "wasm32"))]
    #[error("cannot connect to {to}: {reason}")]
    Connect {
        /// The address or URL the client tried.
        to: String,
        /// What went wrong.
        reason: String,
    },
}

#[cfg(not(target_arch = "wasm32"))]
impl Error {
    /// For transports' `connect`: an error from
    /// [`Client::handshake`](crate::Client::handshake) with the peer at
    /// `to`, said in words where it means the peer is no hisock server of
    /// this transport (`what`, e.g. "a hisock TCP port"): no answer in
    /// time, bytes that are no hisock frame, or a hang-up without `Refuse`.
    /// A server's `Refuse` and other errors are kept as they are.
    pub fn in_handshake_with(self, to: &str, what: &str) -> Error {
        let reason = match &self {
            Error::Timeout(waited) => format!(
                "no answer to the hisock handshake within {} ms: is it {what}?",
                waited.as_millis()
            ),
            Error::Transport(err) => {
                format!(
                    "the answer to the hisock handshake was no hisock frame ({err}): is it {what}?"
                )
            }
            Error::Protocol(fault) => {
                format!("the answer to the hisock handshake broke the protocol ({fault}): is it {what}?")
            }
            Error::Closed(reason) if reason.code == crate::close::codes::ABNORMAL => {
                format!("the peer hung up without answering the hisock handshake: is it {what}?")
            }
            _ => return self,
        };
        Error::Connect {
            to: to.to_owned(),
            reason,
        }
    }
}

/// How a peer broke the wire protocol: typed, so that the close code and a
/// test can tell the cases apart without reading text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolFault {
    /// A frame did not decode.
    Malformed(Malformed),
    /// A frame's kind byte is unknown to this protocol version.
    UnknownKind(u8),
    /// The handshake's first frame is not the one it must be.
    Expected {
        /// The kind that must come (`hello`, `welcome`).
        expected: &'static str,
        /// The kind that came.
        got: &'static str,
    },
    /// A frame of a kind the peer may not send after the handshake (the
    /// other side's kinds, a second `Hello`).
    NotAllowed {
        /// Who sent it: `client` or `server`.
        sender: &'static str,
        /// Its kind.
        kind: &'static str,
    },
    /// A `StreamStart` for an id that is still open.
    StreamStartedTwice(u64),
    /// The peer went past one of the limits (names, requests, streams,
    /// rate); closed with the limit's own code.
    LimitExceeded(LimitExceeded),
    /// A session's `Ack` (or the count in `Session`) that cannot be right
    /// (PROTOCOL.md section 13.3): it acknowledges frames never sent, or
    /// fewer than before.
    BadCount(crate::protocol::resume::CountFault),
}

impl std::fmt::Display for ProtocolFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The prefix, then the close reason's words: each text is written
        // once, in `reason`.
        f.write_str(match self {
            ProtocolFault::Malformed(_) => "malformed frame: ",
            ProtocolFault::UnknownKind(_) => "",
            ProtocolFault::LimitExceeded(_) => "limit exceeded: ",
            _ => "protocol violation: ",
        })?;
        f.write_str(&self.reason())
    }
}

impl std::error::Error for ProtocolFault {}

impl ProtocolFault {
    /// The close code for this fault (PROTOCOL.md section 8): 4007 for an
    /// unknown kind, the limit's own code (4008–4011) for a limit, 1002 for
    /// everything else.
    pub fn close_code(&self) -> u16 {
        use crate::close::codes;
        match self {
            ProtocolFault::UnknownKind(_) => codes::UNKNOWN_FRAME_KIND,
            ProtocolFault::LimitExceeded(exceeded) => exceeded.limit.close_code(),
            _ => codes::PROTOCOL_ERROR,
        }
    }

    /// The reason text a `Close` for this fault carries: the fault in a few
    /// words, without the "malformed frame:" / "protocol violation:"
    /// prefix of its `Display`.
    pub fn reason(&self) -> String {
        match self {
            ProtocolFault::Malformed(what) => what.text().to_owned(),
            ProtocolFault::UnknownKind(kind) => format!("unknown frame kind {}", u32::from(*kind)),
            ProtocolFault::Expected { expected, got } => format!("expected {expected}, got {got}"),
            ProtocolFault::NotAllowed { sender, kind } => {
                format!("a {sender} may not send a {kind} frame here")
            }
            ProtocolFault::StreamStartedTwice(id) => format!("stream {id} started twice"),
            ProtocolFault::LimitExceeded(exceeded) => format!("{exceeded}"),
            ProtocolFault::BadCount(fault) => format!("{fault}"),
        }
    }
}

/// What exactly was wrong with a frame that did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformed {
    /// A frame of zero bytes.
    Empty,
    /// The frame ended in the middle of a field.
    Truncated,
    /// A varint that is too long or too large for its field.
    BadVarint,
    /// A string that is not UTF-8.
    InvalidUtf8,
    /// An `Option` tag other than 0 or 1.
    BadOptionTag,
    /// A bool other than 0 or 1.
    BadBool,
    /// A `LookupKey` tag other than 0, 1 or 2.
    UnknownLookupKey,
    /// Bytes left over after the frame's last field.
    TrailingBytes,
}

impl Malformed {
    /// What is wrong, in a few words.
    pub fn text(self) -> &'static str {
        match self {
            Malformed::Empty => "empty frame",
            Malformed::Truncated => "truncated frame",
            Malformed::BadVarint => "bad varint",
            Malformed::InvalidUtf8 => "invalid UTF-8",
            Malformed::BadOptionTag => "bad option tag",
            Malformed::BadBool => "bad bool",
            Malformed::UnknownLookupKey => "unknown lookup key",
            Malformed::TrailingBytes => "trailing bytes after frame",
        }
    }
}

// By hand rather than derived: one table of texts is smaller in the
// browser build than a formatting call per variant.
impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

impl std::error::Error for Malformed {}

impl From<LimitExceeded> for ProtocolFault {
    fn from(exceeded: LimitExceeded) -> Self {
        ProtocolFault::LimitExceeded(exceeded)
    }
}

impl From<Malformed> for Error {
    fn from(malformed: Malformed) -> Self {
        Error::Protocol(ProtocolFault::Malformed(malformed))
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::Transport(TransportError::Io(err))
    }
}

/// Shorthand for results with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The close reason to send to a peer that caused this error, when the
    /// error is the peer's fault.
    pub fn close_reason(&self) -> Option<CloseReason> {
        use crate::close::codes;
        Some(match self {
            Error::Protocol(fault) => CloseReason::new(fault.close_code(), fault.reason()),
            Error::Transport(TransportError::FrameTooBig { len, max }) => CloseReason::new(
                codes::TOO_BIG,
                format!("frame of {len} bytes exceeds the maximum of {max}"),
            ),
            Error::Transport(TransportError::Unsupported(reason)) => reason.clone(),
            _ => return None,
        })
    }
}
