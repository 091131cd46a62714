//! The limits one peer must stay within (PROTOCOL.md section 12), as
//! plain checks: the length of names, groups and commands, requests
//! outstanding at once, streams open at once, and (in
//! [`rate_limit`](super::rate_limit)) how fast a client may send. A peer
//! past a limit is closed with the limit's own code
//! ([`Limit::close_code`]); a local call that would go past the same limit
//! fails with [`Error::LimitExceeded`](crate::Error::LimitExceeded) before
//! anything is sent, so a well-behaved hisock peer never trips the other
//! side.

use crate::close::codes;

/// Longest client name, in bytes, unless configured otherwise.
pub const DEFAULT_MAX_NAME_LEN: usize = 256;
/// Longest group name, in bytes, unless configured otherwise.
pub const DEFAULT_MAX_GROUP_LEN: usize = 256;
/// Longest command (event or stream name), in bytes, unless configured
/// otherwise.
pub const DEFAULT_MAX_COMMAND_LEN: usize = 256;
/// Most requests one side may have outstanding at the other at once,
/// unless configured otherwise.
pub const DEFAULT_MAX_PENDING_REQUESTS: usize = 1024;
/// Most streams one side may be sending to the other at once, unless
/// configured otherwise.
pub const DEFAULT_MAX_STREAMS: usize = 64;

/// A limit a peer can go past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// The length of a client name, in bytes (`Hello`, `SetName`).
    NameLen,
    /// The length of a group name, in bytes (`Hello`, `SetGroup`).
    GroupLen,
    /// The length of a command, in bytes (`Event`, `StreamStart`).
    CommandLen,
    /// Requests outstanding at once (sent and not yet answered).
    PendingRequests,
    /// Streams open at once in one direction.
    Streams,
    /// `Event` frames per second (a client's rate limit).
    EventRate,
    /// Bytes of frames per second (a client's rate limit).
    ByteRate,
}

impl Limit {
    /// The close code a peer past this limit gets (PROTOCOL.md section 8).
    pub fn close_code(self) -> u16 {
        match self {
            Limit::NameLen | Limit::GroupLen | Limit::CommandLen => codes::NAME_TOO_LONG,
            Limit::PendingRequests => codes::TOO_MANY_REQUESTS,
            Limit::Streams => codes::TOO_MANY_STREAMS,
            Limit::EventRate | Limit::ByteRate => codes::RATE_LIMITED,
        }
    }
}

/// A limit that was (or would have been) gone past, and its maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitExceeded {
    /// Which limit.
    pub limit: Limit,
    /// Its configured maximum (bytes, requests, streams, or per second).
    pub max: u64,
}

// One format call and a table of words rather than one call per limit:
// the browser build pays for every formatting call site.
impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (before, after) = match self.limit {
            Limit::NameLen => ("client name longer than", "bytes"),
            Limit::GroupLen => ("group name longer than", "bytes"),
            Limit::CommandLen => ("command longer than", "bytes"),
            Limit::PendingRequests => ("more than", "requests outstanding"),
            Limit::Streams => ("more than", "streams open at once"),
            Limit::EventRate => ("more than", "events per second"),
            Limit::ByteRate => ("more than", "bytes per second"),
        };
        write!(f, "{before} {} {after}", self.max)
    }
}

impl std::error::Error for LimitExceeded {}

fn exceeded(limit: Limit, max: usize) -> LimitExceeded {
    LimitExceeded {
        limit,
        max: max as u64,
    }
}

/// Checks the length of a name, group or command (`limit` says which)
/// against its maximum, in bytes. `None` (no name, no group) always fits.
#[inline]
pub fn check_len(limit: Limit, value: Option<&str>, max: usize) -> Result<(), LimitExceeded> {
    match value {
        Some(value) if value.len() > max => Err(exceeded(limit, max)),
        _ => Ok(()),
    }
}

/// [`check_len`] for a local call (a name, group or command this side
/// is about to send): past the limit the call fails with
/// [`Error::LimitExceeded`](crate::Error::LimitExceeded). Kept out of line:
/// the browser build calls it from several async functions.
#[inline(never)]
pub(crate) fn check_local(limit: Limit, value: Option<&str>, max: usize) -> crate::Result<()> {
    check_len(limit, value, max).map_err(crate::Error::LimitExceeded)
}

/// Whether one more request may be outstanding when `outstanding` already
/// are: at most `max` at once.
#[inline]
pub fn admit_request(outstanding: usize, max: usize) -> Result<(), LimitExceeded> {
    if outstanding >= max {
        return Err(exceeded(Limit::PendingRequests, max));
    }
    Ok(())
}

/// Whether one more stream may open when `open` already are: at most
/// `max` at once.
#[inline]
pub fn admit_stream(open: usize, max: usize) -> Result<(), LimitExceeded> {
    if open >= max {
        return Err(exceeded(Limit::Streams, max));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_of_exactly_the_maximum_fits_and_one_byte_more_does_not() {
        assert_eq!(check_len(Limit::NameLen, Some("abcd"), 4), Ok(()));
        assert_eq!(check_len(Limit::NameLen, None, 0), Ok(()));
        assert_eq!(
            check_len(Limit::GroupLen, Some("abcde"), 4),
            Err(LimitExceeded {
                limit: Limit::GroupLen,
                max: 4
            })
        );
        // Bytes, not characters: "é" is two.
        assert!(check_len(Limit::CommandLen, Some("éé"), 3).is_err());
    }

    #[test]
    fn the_request_and_stream_limits_allow_exactly_max_at_once() {
        assert!(admit_request(0, 2).is_ok());
        assert!(admit_request(1, 2).is_ok());
        assert_eq!(
            admit_request(2, 2),
            Err(LimitExceeded {
                limit: Limit::PendingRequests,
                max: 2
            })
        );
        assert!(admit_stream(1, 2).is_ok());
        assert_eq!(admit_stream(2, 2).map_err(|e| e.limit), Err(Limit::Streams));
        assert!(admit_stream(0, 0).is_err());
    }

    #[test]
    fn each_limit_has_its_documented_close_code() {
        let table = [
            (Limit::NameLen, 4008),
            (Limit::GroupLen, 4008),
            (Limit::CommandLen, 4008),
            (Limit::PendingRequests, 4009),
            (Limit::Streams, 4010),
            (Limit::EventRate, 4011),
            (Limit::ByteRate, 4011),
        ];
        for (limit, code) in table {
            assert_eq!(limit.close_code(), code, "{limit:?}");
        }
    }

    #[test]
    fn the_text_names_the_limit_and_its_maximum() {
        let text = exceeded(Limit::Streams, 64).to_string();
        assert_eq!(text, "more than 64 streams open at once");
    }
}
