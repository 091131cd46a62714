//! A client's rate limit (PROTOCOL.md section 12): token buckets for
//! `Event` frames and for frame bytes, handed the time. Off by default; the
//! server's connection loop keeps a [`RateLimiter`] only when one is
//! configured, so a server without one pays one branch per frame. A client
//! past its rate is closed with
//! [`RATE_LIMITED`](crate::close::codes::RATE_LIMITED): nothing it sent is
//! dropped silently.

use std::time::Instant;

use super::limits::{Limit, LimitExceeded};
use crate::frame::FrameKind;

/// Nanoseconds per second: the bucket counts tokens in billionths so that
/// refilling at any rate over any interval loses nothing to rounding.
const NANOS: u128 = 1_000_000_000;

/// A sustained rate and the burst allowed above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Tokens added per second.
    pub per_second: u64,
    /// Most tokens held at once: what may be spent in one burst.
    pub burst: u64,
}

/// A per-client rate limit, off by default: each part is a token bucket
/// that starts full. Configure it with
/// [`ServerBuilder::rate_limit`](crate::ServerBuilder::rate_limit).
///
/// ```
/// use hisock::RateLimit;
/// // 1,000 events/s with bursts of 2,000, and 1 MiB/s with 4 MiB bursts.
/// let limit = RateLimit::new()
///     .events(1_000, 2_000)
///     .bytes(1 << 20, 4 << 20);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimit {
    /// `Event` frames (requests included).
    pub events: Option<Rate>,
    /// Bytes of every frame a client sends after its `Hello`.
    pub bytes: Option<Rate>,
}

impl RateLimit {
    /// No limit yet: add one with [`events`](Self::events) or
    /// [`bytes`](Self::bytes).
    pub fn new() -> Self {
        Self::default()
    }

    /// At most `per_second` `Event` frames per second, `burst` at once.
    pub fn events(mut self, per_second: u64, burst: u64) -> Self {
        self.events = Some(Rate { per_second, burst });
        self
    }

    /// At most `per_second` bytes of frames per second, `burst` at once. A
    /// frame larger than `burst` passes only when the bucket is full.
    pub fn bytes(mut self, per_second: u64, burst: u64) -> Self {
        self.bytes = Some(Rate { per_second, burst });
        self
    }
}

/// One token bucket: refills at its rate up to its burst; spending more
/// than it holds fails.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: Rate,
    /// Tokens held, in billionths.
    level: u128,
    /// When `level` was last refilled.
    refilled: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(rate: Rate, now: Instant) -> Self {
        Self {
            rate,
            level: u128::from(rate.burst) * NANOS,
            refilled: now,
        }
    }

    /// Spends `tokens` at `now` if the bucket holds them (a request larger
    /// than the burst needs a full bucket). Returns whether it did.
    pub fn take(&mut self, tokens: u64, now: Instant) -> bool {
        let capacity = u128::from(self.rate.burst) * NANOS;
        let elapsed = now.saturating_duration_since(self.refilled).as_nanos();
        self.refilled = self.refilled.max(now);
        let added = elapsed.saturating_mul(u128::from(self.rate.per_second));
        self.level = self.level.saturating_add(added).min(capacity);
        let wanted = (u128::from(tokens) * NANOS).min(capacity);
        if wanted > self.level {
            return false;
        }
        self.level -= wanted;
        true
    }
}

/// A client's buckets, as its connection loop keeps them.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    events: Option<TokenBucket>,
    bytes: Option<TokenBucket>,
}

impl RateLimiter {
    /// The buckets for `limit`, full at `now`; `None` when it limits
    /// nothing.
    pub fn new(limit: RateLimit, now: Instant) -> Option<Self> {
        if limit.events.is_none() && limit.bytes.is_none() {
            return None;
        }
        Some(Self {
            events: limit.events.map(|rate| TokenBucket::new(rate, now)),
            bytes: limit.bytes.map(|rate| TokenBucket::new(rate, now)),
        })
    }

    /// Counts one frame received at `now` (`frame` is its bytes; byte 0
    /// is its kind): its length against the byte bucket, and one event if
    /// it is an `Event`. Err names the bucket that ran dry.
    pub fn admit(&mut self, frame: &[u8], now: Instant) -> Result<(), LimitExceeded> {
        if let Some(bytes) = self.bytes.as_mut() {
            if !bytes.take(frame.len() as u64, now) {
                return Err(LimitExceeded {
                    limit: Limit::ByteRate,
                    max: bytes.rate.per_second,
                });
            }
        }
        if let Some(events) = self.events.as_mut() {
            let is_event = frame.first() == Some(&FrameKind::Event.number());
            if is_event && !events.take(1, now) {
                return Err(LimitExceeded {
                    limit: Limit::EventRate,
                    max: events.rate.per_second,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Frame;
    use std::time::Duration;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_full_bucket_allows_its_burst_then_refuses() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(
            Rate {
                per_second: 10,
                burst: 3,
            },
            t0,
        );
        assert!(bucket.take(1, t0));
        assert!(bucket.take(2, t0));
        assert!(!bucket.take(1, t0));
    }

    #[test]
    fn the_bucket_refills_at_its_rate_without_rounding_loss() {
        let t0 = Instant::now();
        let rate = Rate {
            per_second: 10,
            burst: 1,
        };
        let mut bucket = TokenBucket::new(rate, t0);
        assert!(bucket.take(1, t0));
        // 10 per second: one token every 100 ms, built up from pieces.
        assert!(!bucket.take(1, t0 + ms(99)));
        assert!(bucket.take(1, t0 + ms(100)));
        for step in 1..=3 {
            assert!(!bucket.take(1, t0 + ms(100 + 33 * step)));
        }
        assert!(bucket.take(1, t0 + ms(200)));
    }

    #[test]
    fn the_bucket_never_holds_more_than_its_burst() {
        let t0 = Instant::now();
        let rate = Rate {
            per_second: 1_000,
            burst: 5,
        };
        let mut bucket = TokenBucket::new(rate, t0);
        let later = t0 + Duration::from_secs(3600);
        assert!(bucket.take(5, later));
        assert!(!bucket.take(1, later));
    }

    #[test]
    fn a_request_larger_than_the_burst_needs_a_full_bucket() {
        let t0 = Instant::now();
        let rate = Rate {
            per_second: 100,
            burst: 10,
        };
        let mut bucket = TokenBucket::new(rate, t0);
        assert!(bucket.take(50, t0));
        assert!(!bucket.take(50, t0 + ms(50)));
        assert!(bucket.take(50, t0 + ms(100)));
    }

    #[test]
    fn time_going_backwards_adds_nothing() {
        let t0 = Instant::now() + Duration::from_secs(1);
        let rate = Rate {
            per_second: 1,
            burst: 1,
        };
        let mut bucket = TokenBucket::new(rate, t0);
        assert!(bucket.take(1, t0));
        assert!(!bucket.take(1, t0 - ms(500)));
        assert!(!bucket.take(1, t0 + ms(999)));
        assert!(bucket.take(1, t0 + ms(1000)));
    }

    #[test]
    fn no_limit_configured_is_no_limiter() {
        assert!(RateLimiter::new(RateLimit::new(), Instant::now()).is_none());
    }

    #[test]
    fn the_limiter_counts_events_and_the_bytes_of_every_frame() {
        let t0 = Instant::now();
        let event = Frame::Event {
            command: "e",
            request_id: 0,
            payload: &[0xc0],
        }
        .encode();
        let ping = Frame::Ping { nonce: 1 }.encode();

        let events_only = RateLimit::new().events(1, 2);
        let mut limiter = RateLimiter::new(events_only, t0).expect("a limiter");
        assert_eq!(limiter.admit(&event, t0), Ok(()));
        assert_eq!(limiter.admit(&event, t0), Ok(()));
        // Pings are no events.
        assert_eq!(limiter.admit(&ping, t0), Ok(()));
        assert_eq!(
            limiter.admit(&event, t0),
            Err(LimitExceeded {
                limit: Limit::EventRate,
                max: 1
            })
        );

        let bytes_only = RateLimit::new().bytes(100, event.len() as u64 + ping.len() as u64);
        let mut limiter = RateLimiter::new(bytes_only, t0).expect("a limiter");
        assert_eq!(limiter.admit(&event, t0), Ok(()));
        assert_eq!(limiter.admit(&ping, t0), Ok(()));
        assert_eq!(
            limiter.admit(&ping, t0).map_err(|e| e.limit),
            Err(Limit::ByteRate)
        );
    }
}
