//! What a server's writers sent, for its operators' figures: the outbox's
//! writer adds each batch it takes (see [`Outbox::counting_into`]).
//!
//! [`Outbox::counting_into`]: super::Outbox::counting_into

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

/// What writers sent, added once per batch the writer takes (a server's figures
/// for its operators; shared by all its connections' outboxes).
#[derive(Debug, Default)]
pub struct Sent {
    /// Frames written.
    pub frames: AtomicU64,
    /// Of those, events (the first byte is the event kind).
    pub events: AtomicU64,
    /// Their bytes, without the transport's framing.
    pub bytes: AtomicU64,
}

/// Adds a batch the writer took to `sent` (before writing it: a batch cut
/// short by a failed write still counts, as the outbox's own accounting
/// does until the connection ends).
pub(super) fn count_sent(sent: &Sent, batch: &VecDeque<Bytes>) {
    let (mut bytes, mut events) = (0, 0);
    for frame in batch {
        bytes += frame.len() as u64;
        events += u64::from(frame.first() == Some(&EVENT_KIND));
    }
    sent.frames.fetch_add(batch.len() as u64, Ordering::Relaxed);
    sent.events.fetch_add(events, Ordering::Relaxed);
    sent.bytes.fetch_add(bytes, Ordering::Relaxed);
}

/// The first byte of an event frame.
const EVENT_KIND: u8 = crate::frame::FrameKind::Event.number();
