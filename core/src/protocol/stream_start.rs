//! Whether a receiver accepts a stream a peer starts (PROTOCOL.md sections
//! 9.2 and 9.4), one rule for both sides. No I/O: the receiving side's
//! stream table asks it, then sends the cancel or opens the stream.

use super::limits;
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
    /// The sender broke the protocol (close 1002) or went past the
    /// receiver's stream limit (close 4010).
    Violation(ProtocolFault),
}

/// What the receiver holds under the id a `StreamStart` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviousStream {
    /// Nothing: the id is new, or its stream ended, was refused, or was
    /// cut off by the receiver's limits.
    None,
    /// A stream still open: started, neither ended by its sender nor
    /// cancelled by the receiver.
    Open,
    /// A stream the receiver's application dropped before its end (the
    /// receiver sent `StreamCancel` 7). It is no longer open: for its
    /// sender it ended with that cancel, so the sender may use the id
    /// again, and every frame it sent under the old stream arrives before
    /// the new `StreamStart` (frames stay in order).
    Cancelled,
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
    /// What the receiver holds under this id.
    pub previous: PreviousStream,
    /// Streams from this sender open now, not counting a `previous` one.
    pub open: usize,
    /// Most streams from one sender open at once.
    pub max_streams: usize,
    /// The receiver's maximum stream length.
    pub limit: u64,
}

/// Decides, in this order: no handler (cancel 1), an id still open
/// (protocol error 1002), one stream more than `max_streams` open at once
/// (close 4010), an announced length over the limit (cancel 6). An id the
/// receiver cancelled is free again.
#[inline]
pub fn decide(request: StartRequest<'_>) -> StreamStart {
    if !request.has_handler {
        return StreamStart::Refuse {
            code: ErrorCode::NoHandler,
            message: format!("no handler for \"{}\"", request.command),
        };
    }
    if request.previous == PreviousStream::Open {
        return StreamStart::Violation(ProtocolFault::StreamStartedTwice(request.stream_id));
    }
    if let Err(exceeded) = limits::admit_stream(request.open, request.max_streams) {
        return StreamStart::Violation(exceeded.into());
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
            previous: PreviousStream::None,
            open: 0,
            max_streams: 2,
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
            previous: PreviousStream::Open,
            ..request()
        });
        assert_eq!(
            twice,
            StreamStart::Violation(ProtocolFault::StreamStartedTwice(3))
        );
    }

    /// PROTOCOL.md section 9.2: a stream the receiver dropped (cancel 7)
    /// is not open any more, so its sender may start that id again.
    #[test]
    fn an_id_the_receiver_cancelled_may_start_again() {
        let again = decide(StartRequest {
            previous: PreviousStream::Cancelled,
            ..request()
        });
        assert_eq!(again, StreamStart::Accept);
    }

    #[test]
    fn one_stream_past_the_maximum_open_at_once_is_close_4010() {
        let within = decide(StartRequest {
            open: 1,
            ..request()
        });
        assert_eq!(within, StreamStart::Accept);
        let past = decide(StartRequest {
            open: 2,
            ..request()
        });
        let StreamStart::Violation(fault) = past else {
            panic!("expected a violation, got {past:?}");
        };
        assert_eq!(fault.close_code(), crate::close::codes::TOO_MANY_STREAMS);
        assert_eq!(fault.reason(), "more than 2 streams open at once");
    }

    #[test]
    fn no_handler_is_checked_before_the_id_and_the_size() {
        let refused = decide(StartRequest {
            has_handler: false,
            previous: PreviousStream::Open,
            open: 2,
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
