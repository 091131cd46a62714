//! The queue toward Redis: bounded in bytes; what does not fit is dropped
//! (see the crate docs for why dropping, not waiting).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use hisock::server::cluster::Unpublished;

/// What one queued message costs beyond its bytes: the channel name, the
/// deque slot, the `Bytes` handle.
const MESSAGE_OVERHEAD: usize = 64;

pub(crate) struct Queue {
    items: VecDeque<(String, Bytes)>,
    bytes: usize,
    limit: usize,
    dropped: u64,
    /// A drop was logged and the queue has not drained since: one warning
    /// per episode, not one per message.
    warned: bool,
}

impl Queue {
    pub fn new(limit: usize) -> Self {
        Queue {
            items: VecDeque::new(),
            bytes: 0,
            limit,
            dropped: 0,
            warned: false,
        }
    }

    pub fn push(&mut self, channel: String, message: Bytes) -> Result<(), Unpublished> {
        let cost = cost(&channel, &message);
        if self.bytes + cost > self.limit {
            self.dropped += 1;
            if !self.warned {
                self.warned = true;
                tracing::warn!(
                    queued = self.bytes,
                    limit = self.limit,
                    "queue toward Redis full: dropping cluster messages until it drains"
                );
            }
            return Err(Unpublished::QueueFull);
        }
        self.bytes += cost;
        self.items.push_back((channel, message));
        Ok(())
    }

    /// Takes up to `max_bytes` worth of messages (at least one), in order.
    pub fn take_batch(&mut self, max_bytes: usize) -> Vec<(String, Bytes)> {
        let mut batch = Vec::new();
        let mut taken = 0;
        while let Some((channel, message)) = self.items.front() {
            let cost = cost(channel, message);
            if !batch.is_empty() && taken + cost > max_bytes {
                break;
            }
            taken += cost;
            self.bytes -= cost;
            if let Some(item) = self.items.pop_front() {
                batch.push(item);
            }
        }
        if self.items.is_empty() {
            self.warned = false;
        }
        batch
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Forgets everything queued (the link is down: these would reach
    /// nobody who has not been sent a snapshot since).
    pub fn clear(&mut self) -> usize {
        let n = self.items.len();
        self.dropped += n as u64;
        self.items.clear();
        self.bytes = 0;
        self.warned = false;
        n
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

fn cost(channel: &str, message: &Bytes) -> usize {
    channel.len() + message.len() + MESSAGE_OVERHEAD
}

/// Locks a mutex, shrugging off poisoning (the data stays consistent: no
/// critical section here panics half-way).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_new_messages_and_counts_them() {
        let mut queue = Queue::new(2 * (1 + 10 + MESSAGE_OVERHEAD));
        let message = Bytes::from_static(&[0; 10]);
        assert!(queue.push("c".into(), message.clone()).is_ok());
        assert!(queue.push("c".into(), message.clone()).is_ok());
        assert_eq!(
            queue.push("c".into(), message.clone()),
            Err(Unpublished::QueueFull)
        );
        assert_eq!(queue.dropped(), 1);
        assert_eq!(queue.take_batch(1).len(), 1, "at least one");
        assert!(queue.push("c".into(), message).is_ok(), "room again");
        assert_eq!(queue.take_batch(usize::MAX).len(), 2);
        assert!(queue.is_empty());
    }
}
