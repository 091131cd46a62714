//! Whether a receiver accepts a stream a peer starts (PROTOCOL.md section
//! 9.4), one rule for both sides. No I/O: the receiving side's stream table
//! asks it, then sends the cancel or opens the stream.

use crate::error::ProtocolFault;
use crate::frame::ErrorCode;

/// What a receiver does with a `StreamStart`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamStart {
    /// Open the stream; its handler runs at once, concurrently.
    Accept,
    /// Answer `StreamCancel{code, message}`; no handler runs, the
    /// connection stays open.
    Refuse {
        /// Why (`NoHandler` or `TooLarge`).
        code: ErrorCode,
        /// The cancel's message.
        message: String,
    },
    /// The sender broke the protocol: close the connection with 1002.
    Violation(ProtocolFault),
}

/// The facts a receiver decides on.
#[derive(Debug, Clone, Copy)]
pub struct StartRequest<'a> {
    /// The stream's id.
    pub stream_id: u64,
    /// Its command.
    pub command: &'a str,
    /// The length the sender announced.
    pub total_len: Option<u64>,
    /// The command (or the wildcard) has a handler.
    pub has_handler: bool,
    /// A stream with this id from this sender is still open.
    pub already_open: bool,
    /// The receiver's maximum stream length.
    pub limit: u64,
}

/// Decides, in this order: no handler (cancel 1), an id still open
/// (protocol error), an announced length over the limit (cancel 6).
#[inline]
pub fn decide(request: StartRequest<'_>) -> StreamStart {
    if !request.has_handler {
        return StreamStart::Refuse {
            code: ErrorCode::NoHandler,
            message: format!("no handler for \"{}\"", request.command),
        };
    }
    if request.already_open {
        return StreamStart::Violation(ProtocolFault::StreamStartedTwice(request.stream_id));
    }
    match request.total_len {
        Some(total) if total > request.limit => StreamStart::Refuse {
            code: ErrorCode::TooLarge,
            message: format!(
                "stream of {total} bytes exceeds the maximum of {}",
                request.limit
            ),
        },
        _ => StreamStart::Accept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> StartRequest<'static> {
        StartRequest {
            stream_id: 3,
            command: "up",
            total_len: Some(100),
            has_handler: true,
            already_open: false,
            limit: 100,
        }
    }

    #[test]
    fn a_stream_with_a_handler_within_the_limit_is_accepted() {
        assert_eq!(decide(request()), StreamStart::Accept);
        let unannounced = StartRequest {
            total_len: None,
            ..request()
        };
        assert_eq!(decide(unannounced), StreamStart::Accept);
    }

    #[test]
    fn no_handler_is_cancel_1_naming_the_command() {
        let refused = decide(StartRequest {
            has_handler: false,
            ..request()
        });
        assert_eq!(
            refused,
            StreamStart::Refuse {
                code: ErrorCode::NoHandler,
                message: "no handler for \"up\"".into(),
            }
        );
    }

    #[test]
    fn an_announced_length_over_the_limit_is_cancel_6() {
        let refused = decide(StartRequest {
            total_len: Some(101),
            ..request()
        });
        assert_eq!(
            refused,
            StreamStart::Refuse {
                code: ErrorCode::TooLarge,
                message: "stream of 101 bytes exceeds the maximum of 100".into(),
            }
        );
    }

    #[test]
    fn an_id_still_open_is_a_protocol_violation() {
        let twice = decide(StartRequest {
            already_open: true,
            ..request()
        });
        assert_eq!(
            twice,
            StreamStart::Violation(ProtocolFault::StreamStartedTwice(3))
        );
    }

    #[test]
    fn no_handler_is_checked_before_the_id_and_the_size() {
        let refused = decide(StartRequest {
            has_handler: false,
            already_open: true,
            total_len: Some(u64::MAX),
            ..request()
        });
        assert!(matches!(
            refused,
            StreamStart::Refuse {
                code: ErrorCode::NoHandler,
                ..
            }
        ));
    }
}
