//! The offline queue of a reconnecting client: what the application sends
//! while the client is between connections waits in the outgoing queue,
//! under a bound of its own in bytes and in frames (past it the call fails
//! at once with [`Error::OfflineQueueFull`]), and, with a time-to-live, is
//! dropped when it is still waiting past it (a request then fails with
//! [`Error::Expired`]; events are counted in
//! [`ConnectionChange::Reconnected`](super::ConnectionChange)). A
//! request's own timeout keeps running while it waits.

use std::time::Duration;

use bytes::Bytes;

use super::{lock, Client};
use crate::error::{Error, Result};
use crate::outbox::{PushError, FRAME_OVERHEAD};
use crate::platform::timer::Instant;

/// The bound and the time-to-live of a reconnecting client's offline
/// queue ([`ClientOptions::offline_queue`](super::ClientOptions::offline_queue)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfflineQueue {
    max_bytes: usize,
    max_frames: usize,
    ttl: Option<Duration>,
}

impl Default for OfflineQueue {
    /// 1 MiB (counting each frame as its length plus 80 bytes, as the
    /// outgoing queue does), 1024 frames, no time-to-live.
    fn default() -> Self {
        Self {
            max_bytes: 1024 * 1024,
            max_frames: 1024,
            ttl: None,
        }
    }
}

impl OfflineQueue {
    /// The default bound (see [`Default`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Most bytes queued while disconnected (each frame its length plus
    /// 80). What was queued before the connection broke counts too.
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// Most frames queued while disconnected.
    pub fn max_frames(mut self, frames: usize) -> Self {
        self.max_frames = frames;
        self
    }

    /// Drop what waited longer than `ttl` when the client is connected
    /// again, instead of sending it late.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

/// What the client keeps about frames queued while it was offline.
#[derive(Default)]
pub(crate) struct OfflineStamps {
    /// `(deadline, frame address, frame length)` of each frame queued with
    /// a time-to-live, oldest first: the frame is recognised in the queue
    /// by its bytes' address, which no other queued frame shares.
    stamps: Vec<(Instant, usize, usize)>,
}

fn identity(frame: &Bytes) -> (usize, usize) {
    (frame.as_ptr() as usize, frame.len())
}

impl Client {
    /// Queues `frame` while the client is between connections, within the
    /// offline bound.
    pub(super) fn push_offline(&self, frame: Bytes) -> Result<()> {
        let shared = &self.shared;
        let bound = shared.offline;
        let (frames, bytes) = shared.outbox.queued();
        if frames >= bound.max_frames || bytes + frame.len() + FRAME_OVERHEAD > bound.max_bytes {
            return Err(Error::OfflineQueueFull {
                frames,
                bytes,
                max_frames: bound.max_frames,
                max_bytes: bound.max_bytes,
            });
        }
        let stamp = bound.ttl.and_then(|ttl| {
            let (address, len) = identity(&frame);
            Some((shared.clock.now().checked_add(ttl)?, address, len))
        });
        match shared.outbox.try_push(frame) {
            Ok(()) => {
                lock(&shared.offline_stamps).stamps.extend(stamp);
                Ok(())
            }
            Err(PushError::Closed) => Err(Error::Closed(self.close_reason())),
            Err(PushError::Full { queued, limit }) => Err(Error::QueueFull { queued, limit }),
        }
    }

    /// Connected again: drops what waited past its time-to-live (requests
    /// among it fail with [`Error::Expired`]) and returns how many frames
    /// were dropped. Everything else queued goes out now.
    pub(super) fn expire_offline(&self) -> usize {
        let shared = &self.shared;
        let stamps = std::mem::take(&mut lock(&shared.offline_stamps).stamps);
        let now = shared.clock.now();
        let expired: Vec<(usize, usize)> = stamps
            .iter()
            .filter(|(deadline, ..)| *deadline <= now)
            .map(|&(_, address, len)| (address, len))
            .collect();
        if expired.is_empty() {
            return 0;
        }
        let dropped = shared
            .outbox
            .remove_queued(|frame| expired.contains(&identity(frame)));
        let ids: Vec<u64> = dropped
            .iter()
            .filter_map(|frame| super::reconnect::request_id(frame))
            .collect();
        let ttl = shared.offline.ttl.unwrap_or_default();
        lock(&shared.pending).fail_unless(|id| !ids.contains(&id), || Error::Expired(ttl));
        tracing::debug!(
            frames = dropped.len(),
            "dropped what waited offline past its time-to-live"
        );
        dropped.len()
    }
}
