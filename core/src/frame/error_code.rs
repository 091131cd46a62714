//! Error codes carried by `ReplyError`, `EventRejected` and `StreamCancel`
//! frames (PROTOCOL.md section 5.3).

/// Error codes carried by [`Frame::ReplyError`](super::Frame::ReplyError),
/// [`Frame::EventRejected`](super::Frame::EventRejected) and
/// [`Frame::StreamCancel`](super::Frame::StreamCancel).
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
    /// 8 — a stream's length disagrees with the `total_len` its sender
    /// announced: more bytes arrived (the receiver cancels it), or it ended
    /// with fewer.
    LengthMismatch,
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
            ErrorCode::LengthMismatch => "LengthMismatch",
            ErrorCode::Other(n) => return write!(f, "Other({})", u32::from(*n)),
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
            ErrorCode::LengthMismatch => 8,
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
            8 => ErrorCode::LengthMismatch,
            n => ErrorCode::Other(n),
        }
    }
}
