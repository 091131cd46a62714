//! The one error type of the `hisock` crate.

use std::time::Duration;

use crate::close::CloseReason;
use crate::frame::ErrorCode;
use crate::transport::TransportError;

/// Everything that can go wrong in hisock's core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed (socket error, oversized or truncated frame).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A frame did not decode.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// A frame's kind byte is unknown to this protocol version.
    #[error("unknown frame kind {0}")]
    UnknownFrameKind(u8),
    /// A frame arrived that is not allowed at this point of the protocol.
    #[error("protocol violation: {0}")]
    Protocol(String),
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
            Error::Malformed(msg) => CloseReason::new(codes::PROTOCOL_ERROR, msg.clone()),
            Error::Protocol(msg) => CloseReason::new(codes::PROTOCOL_ERROR, msg.clone()),
            Error::UnknownFrameKind(kind) => CloseReason::new(
                codes::UNKNOWN_FRAME_KIND,
                format!("unknown frame kind {kind}"),
            ),
            Error::Transport(TransportError::FrameTooBig { len, max }) => CloseReason::new(
                codes::TOO_BIG,
                format!("frame of {len} bytes exceeds the maximum of {max}"),
            ),
            Error::Transport(TransportError::Unsupported(reason)) => reason.clone(),
            _ => return None,
        })
    }
}
