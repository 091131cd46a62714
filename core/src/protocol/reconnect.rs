//! The client's reconnection rules (PROTOCOL.md section 13.8): how long to
//! wait before each attempt (exponential backoff with full jitter, a cap,
//! an optional number of attempts), which ends of a connection are worth
//! another attempt, and the states the application can read.
//!
//! Plain values: the jitter's randomness is handed in, so the rules are
//! tested without a clock or a random source. The client's driver asks
//! [`Reconnect::next_delay`] and sleeps.

use std::time::Duration;

use crate::close::codes;
use crate::error::Error;
use crate::protocol::closing::Ending;
use crate::transport::TransportError;

/// Where a client's connection stands ([`Client::state`](crate::Client::state)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectionState {
    /// The first connection's handshake is under way.
    Connecting,
    /// Connected: frames flow.
    Connected,
    /// The connection broke and the client is waiting or trying again.
    Reconnecting,
    /// For good: closed by the application, by a close that is not
    /// retried, or out of attempts.
    Closed,
}

/// How a client reconnects: on by giving one to
/// [`ClientOptions::reconnect`](crate::ClientOptions::reconnect); off by
/// default. The defaults: first delay up to 500 ms, doubling to at most
/// 30 s, attempts for ever, the retried closes of PROTOCOL.md section
/// 13.8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconnect {
    initial_delay: Duration,
    max_delay: Duration,
    max_attempts: Option<u32>,
    /// Close codes retried beyond the default ones.
    also_retry: Vec<u16>,
}

impl Default for Reconnect {
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_attempts: None,
            also_retry: Vec::new(),
        }
    }
}

/// How a connection ended, as far as reconnecting cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndCause {
    /// The application closed the client: never retried.
    ClosedByApplication,
    /// Connecting failed before any hisock frame (nothing listening, TLS or
    /// WebSocket handshake failed).
    ConnectFailed,
    /// The connection ended with no `Close` either way (end of stream,
    /// transport error, silence past the keepalive window).
    Broken,
    /// A `Close` or `Refuse` with this code, from either side.
    Code(u16),
}

impl EndCause {
    /// What ended a connection whose loop stopped with `ending`.
    pub fn of(ending: &Ending) -> EndCause {
        match ending {
            Ending::PeerClosed { reason, .. } => EndCause::Code(reason.code),
            Ending::Eof | Ending::Silent(_) => EndCause::Broken,
            // A WebSocket close frame with a code, and no hisock `Close`.
            Ending::Failed(Error::Transport(TransportError::Closed(reason))) => {
                EndCause::Code(reason.code)
            }
            // This side closes for the peer's fault (a protocol error, an
            // oversized frame) with that code; anything else broke.
            Ending::Failed(err) => match err.close_reason() {
                Some(reason) => EndCause::Code(reason.code),
                None => EndCause::Broken,
            },
            Ending::Local { reason, .. } if reason.code == codes::NORMAL => {
                EndCause::ClosedByApplication
            }
            Ending::Local { reason, .. } => EndCause::Code(reason.code),
        }
    }
}

impl Reconnect {
    /// The default policy (see the type's documentation).
    pub fn new() -> Self {
        Self::default()
    }

    /// The longest first delay (the delay before attempt n is random up to
    /// `initial × 2^(n-1)`, capped by [`max_delay`](Self::max_delay)).
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The cap on any one delay.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Give up after this many attempts in a row (the client is then
    /// closed); `None`, the default, tries for ever.
    pub fn max_attempts(mut self, attempts: Option<u32>) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Also retry after a close with `code`, which is not retried by
    /// default (for example 4000 kicked, or 4002 server full).
    pub fn retry_code(mut self, code: u16) -> Self {
        self.also_retry.push(code);
        self
    }

    /// Whether a connection that ended so is tried again.
    pub fn retries(&self, cause: EndCause) -> bool {
        match cause {
            EndCause::ClosedByApplication => false,
            EndCause::ConnectFailed | EndCause::Broken => true,
            EndCause::Code(code) => retried_by_default(code) || self.also_retry.contains(&code),
        }
    }

    /// The delay before attempt `attempt` (counting from 1 after each
    /// break), or `None` when the attempts are used up. `unit` is a random
    /// number in `[0, 1)`: full jitter spreads reconnecting clients over
    /// the whole interval, so that a server restart is not met by all its
    /// clients at once.
    pub fn next_delay(&self, attempt: u32, unit: f64) -> Option<Duration> {
        if attempt == 0 || self.max_attempts.is_some_and(|max| attempt > max) {
            return None;
        }
        let doublings = (attempt - 1).min(31);
        let ceiling = self
            .initial_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay);
        // In whole milliseconds through an f64: no `Duration::mul_f64`
        // (its panics and u128 arithmetic would grow the browser build).
        let ceiling_ms =
            ceiling.as_secs().saturating_mul(1000) + u64::from(ceiling.subsec_millis());
        let ms = (ceiling_ms as f64 * unit.clamp(0.0, 1.0)) as u64;
        Some(Duration::from_millis(ms.min(ceiling_ms)))
    }
}

/// The codes retried without configuration (PROTOCOL.md section 13.8): the
/// server going away, and ends that another connection may well not
/// repeat (timeouts, a slow moment, a session that overflowed).
pub fn retried_by_default(code: u16) -> bool {
    matches!(
        code,
        codes::ABNORMAL
            | codes::GOING_AWAY
            | codes::HANDSHAKE_TIMEOUT
            | codes::KEEPALIVE_TIMEOUT
            | codes::SLOW_CONSUMER
            | codes::SESSION_OVERFLOW
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn delays_double_up_to_the_cap_with_full_jitter() {
        let policy = Reconnect::new()
            .initial_delay(100 * MS)
            .max_delay(1000 * MS);
        let ceilings: Vec<Duration> = (1..=6)
            .map(|n| policy.next_delay(n, 1.0).expect("no limit"))
            .collect();
        assert_eq!(
            ceilings,
            [100 * MS, 200 * MS, 400 * MS, 800 * MS, 1000 * MS, 1000 * MS]
        );
        assert_eq!(policy.next_delay(3, 0.0), Some(Duration::ZERO));
        assert_eq!(policy.next_delay(3, 0.5), Some(200 * MS));
        // Out-of-range randomness is clamped, never a longer wait.
        assert_eq!(policy.next_delay(1, 7.0), Some(100 * MS));
        // Far attempts do not overflow.
        assert_eq!(policy.next_delay(u32::MAX, 1.0), Some(1000 * MS));
    }

    #[test]
    fn attempts_stop_at_the_maximum() {
        let policy = Reconnect::new().max_attempts(Some(2));
        assert!(policy.next_delay(1, 0.5).is_some());
        assert!(policy.next_delay(2, 0.5).is_some());
        assert_eq!(policy.next_delay(3, 0.5), None);
        assert_eq!(policy.next_delay(0, 0.5), None);
    }

    #[test]
    fn breaks_and_going_away_retry_refusals_and_kicks_do_not() {
        let policy = Reconnect::new();
        assert!(policy.retries(EndCause::Broken));
        assert!(policy.retries(EndCause::ConnectFailed));
        assert!(!policy.retries(EndCause::ClosedByApplication));
        for code in [
            codes::GOING_AWAY,
            codes::HANDSHAKE_TIMEOUT,
            codes::KEEPALIVE_TIMEOUT,
            codes::SLOW_CONSUMER,
            codes::SESSION_OVERFLOW,
        ] {
            assert!(policy.retries(EndCause::Code(code)), "{code}");
        }
        for code in [
            codes::NORMAL,
            codes::PROTOCOL_ERROR,
            codes::KICKED,
            codes::VERSION_MISMATCH,
            codes::SERVER_FULL,
            codes::AUTH_REFUSED,
            codes::RATE_LIMITED,
            codes::SESSION_MOVED,
            4999,
        ] {
            assert!(!policy.retries(EndCause::Code(code)), "{code}");
        }
        let kicked_too = Reconnect::new().retry_code(codes::KICKED);
        assert!(kicked_too.retries(EndCause::Code(codes::KICKED)));
        assert!(!kicked_too.retries(EndCause::ClosedByApplication));
    }

    #[test]
    fn endings_map_to_their_causes() {
        use crate::close::CloseReason;
        use crate::error::ProtocolFault;
        let peer = |code| Ending::PeerClosed {
            reason: CloseReason::new(code, ""),
            run_leave: true,
        };
        assert_eq!(EndCause::of(&peer(codes::GOING_AWAY)), EndCause::Code(1001));
        assert_eq!(EndCause::of(&Ending::Eof), EndCause::Broken);
        assert_eq!(EndCause::of(&Ending::Silent(MS)), EndCause::Broken);
        let io = Error::Transport(TransportError::Truncated);
        assert_eq!(EndCause::of(&Ending::Failed(io)), EndCause::Broken);
        let ws_close = Error::Transport(TransportError::Closed(CloseReason::new(4000, "")));
        assert_eq!(
            EndCause::of(&Ending::Failed(ws_close)),
            EndCause::Code(4000)
        );
        let fault = Error::Protocol(ProtocolFault::UnknownKind(200));
        assert_eq!(
            EndCause::of(&Ending::Failed(fault)),
            EndCause::Code(codes::UNKNOWN_FRAME_KIND)
        );
        let local = |code| Ending::Local {
            reason: CloseReason::new(code, ""),
            run_leave: true,
            close_queued: true,
        };
        assert_eq!(
            EndCause::of(&local(codes::NORMAL)),
            EndCause::ClosedByApplication
        );
        assert_eq!(
            EndCause::of(&local(codes::SLOW_CONSUMER)),
            EndCause::Code(codes::SLOW_CONSUMER)
        );
    }

    /// PROTOCOL.md section 13.8's table says the same: every code it puts
    /// in a "yes" row is retried, every code in a "no" row is not.
    #[test]
    fn the_retry_table_matches_protocol_md() {
        let section = include_str!("../../../PROTOCOL.md")
            .split("### 13.8")
            .nth(1)
            .expect("PROTOCOL.md has section 13.8");
        let mut checked = 0;
        for line in section.lines().filter(|line| line.starts_with("| ")) {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let (what, retried) = (cells[1], cells[2]);
            let yes = retried.starts_with("yes");
            for word in what.split(|c: char| !c.is_ascii_digit()) {
                let Ok(code) = word.parse::<u16>() else {
                    continue;
                };
                if !(1000..5000).contains(&code) {
                    continue;
                }
                assert_eq!(retried_by_default(code), yes, "{code}: {line}");
                checked += 1;
            }
        }
        assert!(checked >= 20, "{checked} codes found in the table");
    }
}
