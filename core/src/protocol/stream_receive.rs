//! What a receiver does with the chunks and the end of a stream it
//! accepted (PROTOCOL.md section 9.4), one rule for both sides: a stream
//! delivers exactly the `total_len` it announced, never more, never less,
//! and never more than the receiver's maximum. No I/O: the receiving
//! side's stream table asks, then delivers, cancels or fails the stream.

use crate::error::Error;
use crate::frame::ErrorCode;

/// Why a stream failed for its receiver: the code and message its
/// handler sees (and, for a chunk, the `StreamCancel` its sender gets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamFault {
    /// Why.
    pub code: ErrorCode,
    /// In words.
    pub message: String,
}

impl StreamFault {
    /// The error the receiving handler gets.
    pub fn into_error(self) -> Error {
        Error::Remote {
            code: self.code,
            message: self.message,
        }
    }
}

/// Checks a chunk that brings the stream to `received` bytes in total:
/// past the announced `total_len` it is cancelled with `LengthMismatch`
/// (8), past the receiver's maximum `limit` with `TooLarge` (6). Either way
/// the chunk is not delivered.
pub fn check_chunk(received: u64, total_len: Option<u64>, limit: u64) -> Result<(), StreamFault> {
    let (code, words, max) = match total_len {
        Some(total) if received > total => (ErrorCode::LengthMismatch, "the announced", total),
        _ if received > limit => (ErrorCode::TooLarge, "the maximum of", limit),
        _ => return Ok(()),
    };
    Err(StreamFault {
        code,
        message: format!("stream longer than {words} {max} bytes"),
    })
}

/// Checks a `StreamEnd` after `received` bytes: an abort (`error`) is
/// `Cancelled` (7) with the sender's reason; a clean end short of the
/// announced `total_len` is `LengthMismatch` (8), never a short payload.
pub fn check_end(
    received: u64,
    total_len: Option<u64>,
    error: Option<&str>,
) -> Result<(), StreamFault> {
    match (error, total_len) {
        (Some(error), _) => Err(StreamFault {
            code: ErrorCode::Cancelled,
            message: format!("sender aborted the stream: {error}"),
        }),
        (None, Some(total)) if received < total => Err(StreamFault {
            code: ErrorCode::LengthMismatch,
            message: format!("stream ended after {received} of the announced {total} bytes"),
        }),
        (None, _) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_up_to_the_announced_length_are_delivered() {
        assert_eq!(check_chunk(3, Some(6), 100), Ok(()));
        assert_eq!(check_chunk(6, Some(6), 100), Ok(()));
        assert_eq!(check_chunk(100, None, 100), Ok(()));
    }

    #[test]
    fn a_byte_past_the_announced_length_is_cancel_8() {
        let fault = check_chunk(7, Some(6), 100).expect_err("over");
        assert_eq!(fault.code, ErrorCode::LengthMismatch);
        assert_eq!(fault.message, "stream longer than the announced 6 bytes");
    }

    #[test]
    fn a_byte_past_the_maximum_is_cancel_6() {
        let fault = check_chunk(101, None, 100).expect_err("over");
        assert_eq!(fault.code, ErrorCode::TooLarge);
        assert_eq!(fault.message, "stream longer than the maximum of 100 bytes");
    }

    #[test]
    fn an_end_short_of_the_announced_length_is_8_and_an_abort_is_7() {
        assert_eq!(check_end(6, Some(6), None), Ok(()));
        assert_eq!(check_end(6, None, None), Ok(()));
        let short = check_end(3, Some(6), None).expect_err("short");
        assert_eq!(short.code, ErrorCode::LengthMismatch);
        assert_eq!(
            short.message,
            "stream ended after 3 of the announced 6 bytes"
        );
        let aborted = check_end(6, Some(6), Some("disk full")).expect_err("aborted");
        assert_eq!(aborted.code, ErrorCode::Cancelled);
        assert_eq!(aborted.message, "sender aborted the stream: disk full");
    }
}
