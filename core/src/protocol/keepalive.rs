//! Keepalive timing as a plain state machine: the caller reports when it
//! heard from the peer and asks what to do at a given instant. The server's
//! connection task turns the answers into pings and disconnects.

use std::time::{Duration, Instant};

/// What the connection should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepaliveAction {
    /// Nothing until this instant.
    WaitUntil(Instant),
    /// Send a ping with this nonce, then ask again.
    SendPing(u64),
    /// The peer has been silent past the timeout: drop it.
    Expired,
}

/// Ping schedule and silence detection for one connection.
#[derive(Debug, Clone)]
pub struct Keepalive {
    interval: Duration,
    timeout: Duration,
    last_heard: Instant,
    next_ping: Instant,
    nonce: u64,
}

impl Keepalive {
    /// Pings every `interval`; the peer is dead when nothing at all was heard
    /// from it for `timeout`. Any frame counts as a sign of life, so a busy
    /// peer never needs to answer pings on time.
    pub fn new(interval: Duration, timeout: Duration, now: Instant) -> Self {
        Self {
            interval,
            timeout,
            last_heard: now,
            next_ping: now + interval,
            nonce: 0,
        }
    }

    /// Records that a frame arrived from the peer.
    pub fn heard(&mut self, now: Instant) {
        self.last_heard = now;
    }

    /// What to do at `now`.
    pub fn poll(&mut self, now: Instant) -> KeepaliveAction {
        let deadline = self.last_heard + self.timeout;
        if now >= deadline {
            return KeepaliveAction::Expired;
        }
        if now >= self.next_ping {
            self.next_ping = now + self.interval;
            self.nonce += 1;
            return KeepaliveAction::SendPing(self.nonce);
        }
        KeepaliveAction::WaitUntil(self.next_ping.min(deadline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn pings_on_schedule_and_expires_after_silence() {
        let t0 = Instant::now();
        let mut ka = Keepalive::new(100 * MS, 250 * MS, t0);
        assert_eq!(ka.poll(t0), KeepaliveAction::WaitUntil(t0 + 100 * MS));
        assert_eq!(ka.poll(t0 + 100 * MS), KeepaliveAction::SendPing(1));
        assert_eq!(
            ka.poll(t0 + 100 * MS),
            KeepaliveAction::WaitUntil(t0 + 200 * MS)
        );
        assert_eq!(ka.poll(t0 + 200 * MS), KeepaliveAction::SendPing(2));
        assert_eq!(
            ka.poll(t0 + 200 * MS),
            KeepaliveAction::WaitUntil(t0 + 250 * MS)
        );
        assert_eq!(ka.poll(t0 + 250 * MS), KeepaliveAction::Expired);
    }

    #[test]
    fn any_frame_from_the_peer_postpones_expiry() {
        let t0 = Instant::now();
        let mut ka = Keepalive::new(100 * MS, 250 * MS, t0);
        ka.heard(t0 + 200 * MS);
        assert_ne!(ka.poll(t0 + 300 * MS), KeepaliveAction::Expired);
        assert_eq!(ka.poll(t0 + 450 * MS), KeepaliveAction::Expired);
    }
}
