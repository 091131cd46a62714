//! Close codes: why a connection ended.
//!
//! The numbers follow WebSocket's conventions (RFC 6455 §7.4) so that a
//! browser sees the same code in its `CloseEvent` as a native client sees in
//! a [`Close`](crate::frame::Frame::Close) frame. Codes 4000–4999 are
//! hisock's own.

use std::fmt;

/// A close code with a human-readable reason, as carried by a
/// [`Frame::Close`](crate::frame::Frame::Close) or a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReason {
    /// The numeric code (see the constants in [`codes`]).
    pub code: u16,
    /// Free text for humans; may be empty.
    pub reason: String,
}

impl CloseReason {
    /// A close reason from a code and a message.
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for CloseReason {
    /// `"{reason} ({code name})"`, or the code's name alone when there is no
    /// reason (browsers report 1006 with none): never a dangling space.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reason.is_empty() {
            return f.write_str(codes::name(self.code));
        }
        write!(f, "{} ({})", self.reason, codes::name(self.code))
    }
}

/// The close codes hisock sends.
pub mod codes {
    /// The peer closed on purpose, all is well.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// A frame could not be decoded, or a frame arrived that is not allowed
    /// in the current state (e.g. an event before the handshake).
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A WebSocket text message arrived; hisock speaks binary only.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// The connection broke without a close frame (never sent, only reported).
    pub const ABNORMAL: u16 = 1006;
    /// A frame exceeded the negotiated maximum frame length.
    pub const TOO_BIG: u16 = 1009;
    /// The server disconnected this client on purpose.
    pub const KICKED: u16 = 4000;
    /// The client speaks a protocol version this server does not.
    pub const VERSION_MISMATCH: u16 = 4001;
    /// The server already has its maximum number of clients.
    pub const SERVER_FULL: u16 = 4002;
    /// The server's auth hook refused the client.
    pub const AUTH_REFUSED: u16 = 4003;
    /// No hello arrived within the handshake timeout.
    pub const HANDSHAKE_TIMEOUT: u16 = 4004;
    /// The peer did not answer keepalive pings in time.
    pub const KEEPALIVE_TIMEOUT: u16 = 4005;
    /// The peer read too slowly: its outgoing queue overflowed.
    pub const SLOW_CONSUMER: u16 = 4006;
    /// A frame of a kind this side does not know arrived.
    pub const UNKNOWN_FRAME_KIND: u16 = 4007;
    /// A client name, group name or command was longer than the server's
    /// limit for it.
    pub const NAME_TOO_LONG: u16 = 4008;
    /// The peer had more requests outstanding than the limit.
    pub const TOO_MANY_REQUESTS: u16 = 4009;
    /// The peer had more streams open at once than the limit.
    pub const TOO_MANY_STREAMS: u16 = 4010;
    /// The client sent events or bytes faster than the server's rate limit.
    pub const RATE_LIMITED: u16 = 4011;

    /// A short name for a code, for logs and error messages.
    pub fn name(code: u16) -> &'static str {
        match code {
            NORMAL => "normal",
            GOING_AWAY => "going away",
            PROTOCOL_ERROR => "protocol error",
            UNSUPPORTED_DATA => "unsupported data",
            ABNORMAL => "abnormal closure",
            TOO_BIG => "frame too big",
            KICKED => "kicked",
            VERSION_MISMATCH => "version mismatch",
            SERVER_FULL => "server full",
            AUTH_REFUSED => "auth refused",
            HANDSHAKE_TIMEOUT => "handshake timeout",
            KEEPALIVE_TIMEOUT => "keepalive timeout",
            SLOW_CONSUMER => "slow consumer",
            UNKNOWN_FRAME_KIND => "unknown frame kind",
            NAME_TOO_LONG => "name too long",
            TOO_MANY_REQUESTS => "too many requests",
            TOO_MANY_STREAMS => "too many streams",
            RATE_LIMITED => "rate limited",
            _ => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_code_and_never_leaves_a_space_for_a_missing_reason() {
        assert_eq!(CloseReason::new(4000, "bye").to_string(), "bye (kicked)");
        assert_eq!(
            CloseReason::new(codes::ABNORMAL, "").to_string(),
            "abnormal closure"
        );
        let closed = crate::Error::Closed(CloseReason::new(codes::ABNORMAL, ""));
        assert_eq!(closed.to_string(), "connection closed: abnormal closure");
    }
}
