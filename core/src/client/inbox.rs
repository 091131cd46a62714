//! Received events that no handler took: the buffer behind `recv` and
//! `recv_any`, the waiters, and the cache of recent messages. No I/O.
//!
//! Routing order for an incoming event (see `driver.rs`): a `recv(command)`
//! waiting for exactly that command takes it first; otherwise its handler;
//! otherwise it is "unhandled": the wildcard handler sees it, and it is kept
//! here for `recv(command)` / `recv_any()`. Because events are kept until
//! asked for, `send` followed by `recv` never loses a fast answer.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use futures::channel::oneshot;
use serde::de::DeserializeOwned;

use crate::close::CloseReason;
use crate::error::Result;
use crate::value;

/// One received event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its command.
    pub command: Arc<str>,
    /// Its MessagePack payload.
    pub payload: Bytes,
}

impl Message {
    /// The payload decoded as `T`.
    pub fn data<T: DeserializeOwned>(&self) -> Result<T> {
        value::decode(&self.payload)
    }
}

/// What a waiter gets: the message, or why none will come.
pub(crate) type Delivery = std::result::Result<Message, CloseReason>;

struct Waiter {
    id: u64,
    /// `None` waits for any unhandled command.
    command: Option<Arc<str>>,
    tx: oneshot::Sender<Delivery>,
}

/// Unhandled events, waiters and the recent-message cache of one client.
pub(crate) struct Inbox {
    unhandled: VecDeque<Message>,
    unhandled_limit: usize,
    waiters: Vec<Waiter>,
    next_waiter: u64,
    cache: VecDeque<Message>,
    cache_size: usize,
    closed: Option<CloseReason>,
}

/// The result of asking for a message: one was ready, or wait on this.
pub(crate) enum Ask {
    Ready(Delivery),
    Wait(u64, oneshot::Receiver<Delivery>),
}

impl Inbox {
    pub fn new(unhandled_limit: usize, cache_size: usize) -> Self {
        Self {
            unhandled: VecDeque::new(),
            unhandled_limit: unhandled_limit.max(1),
            waiters: Vec::new(),
            next_waiter: 0,
            cache: VecDeque::new(),
            cache_size,
            closed: None,
        }
    }

    /// Records an event in the recent-message cache.
    pub fn remember(&mut self, message: &Message) {
        if self.cache_size == 0 {
            return;
        }
        if self.cache.len() == self.cache_size {
            self.cache.pop_front();
        }
        self.cache.push_back(message.clone());
    }

    /// The cached recent messages, oldest first.
    pub fn recent(&self) -> Vec<Message> {
        self.cache.iter().cloned().collect()
    }

    /// Hands the event to a `recv(command)` waiting for exactly this command.
    /// Gives the message back when nobody waits.
    pub fn give_to_waiter(&mut self, message: Message) -> Option<Message> {
        self.deliver(message, |w, m| w.command.as_deref() == Some(&*m.command))
    }

    /// Keeps an unhandled event: a waiter for its command or for any
    /// command gets it now, else it is buffered (dropping the oldest past
    /// the limit). A `recv(command)` may have started waiting after
    /// [`give_to_waiter`](Self::give_to_waiter) looked (the driver does not
    /// hold the lock in between), so command waiters are checked again here;
    /// otherwise the event would sit in the buffer while `recv` times out.
    pub fn unhandled(&mut self, message: Message) {
        let Some(message) = self.deliver(message, |w, m| {
            w.command.is_none() || w.command.as_deref() == Some(&*m.command)
        }) else {
            return;
        };
        if self.unhandled.len() >= self.unhandled_limit {
            if let Some(dropped) = self.unhandled.pop_front() {
                tracing::warn!(
                    command = &*dropped.command,
                    limit = self.unhandled_limit,
                    "unhandled-message buffer full; dropping the oldest (call recv or add a handler)"
                );
            }
        }
        self.unhandled.push_back(message);
    }

    fn deliver(
        &mut self,
        mut message: Message,
        wants: impl Fn(&Waiter, &Message) -> bool,
    ) -> Option<Message> {
        while let Some(pos) = self.waiters.iter().position(|w| wants(w, &message)) {
            let waiter = self.waiters.remove(pos);
            match waiter.tx.send(Ok(message)) {
                Ok(()) => return None,
                // The waiter gave up (timed out); try the next one.
                Err(Ok(back)) => message = back,
                Err(Err(_)) => return None,
            }
        }
        Some(message)
    }

    /// Asks for the next event of `command` (or any unhandled event).
    pub fn ask(&mut self, command: Option<&str>) -> Ask {
        let pos = match command {
            Some(command) => self.unhandled.iter().position(|m| &*m.command == command),
            None => (!self.unhandled.is_empty()).then_some(0),
        };
        if let Some(message) = pos.and_then(|pos| self.unhandled.remove(pos)) {
            return Ask::Ready(Ok(message));
        }
        if let Some(reason) = &self.closed {
            return Ask::Ready(Err(reason.clone()));
        }
        let (tx, rx) = oneshot::channel();
        self.next_waiter += 1;
        self.waiters.push(Waiter {
            id: self.next_waiter,
            command: command.map(Arc::from),
            tx,
        });
        Ask::Wait(self.next_waiter, rx)
    }

    /// Forgets a waiter that timed out.
    pub fn forget(&mut self, id: u64) {
        self.waiters.retain(|w| w.id != id);
    }

    /// The connection ended: every waiter learns why.
    pub fn close(&mut self, reason: &CloseReason) {
        self.closed = Some(reason.clone());
        for waiter in self.waiters.drain(..) {
            let _ = waiter.tx.send(Err(reason.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(command: &str, n: u8) -> Message {
        Message {
            command: Arc::from(command),
            payload: Bytes::from(vec![n]),
        }
    }

    #[test]
    fn an_event_arriving_before_recv_is_kept_for_it() {
        let mut inbox = Inbox::new(10, 0);
        inbox.unhandled(msg("answer", 1));
        match inbox.ask(Some("answer")) {
            Ask::Ready(Ok(m)) => assert_eq!(m, msg("answer", 1)),
            _ => panic!("buffered message not returned"),
        }
    }

    #[test]
    fn a_waiting_recv_gets_its_command_only() {
        let mut inbox = Inbox::new(10, 0);
        let Ask::Wait(_, mut rx) = inbox.ask(Some("a")) else {
            panic!("nothing buffered yet")
        };
        assert!(inbox.give_to_waiter(msg("b", 1)).is_some());
        assert!(inbox.give_to_waiter(msg("a", 2)).is_none());
        assert_eq!(rx.try_recv().expect("open"), Some(Ok(msg("a", 2))));
    }

    #[test]
    fn a_recv_that_starts_while_an_event_is_routed_still_gets_it() {
        let mut inbox = Inbox::new(10, 0);
        // The driver found no waiter, released the lock to look for
        // handlers, found none; meanwhile `recv("a")` started waiting.
        let message = inbox.give_to_waiter(msg("a", 1)).expect("no waiter yet");
        let Ask::Wait(_, mut rx) = inbox.ask(Some("a")) else {
            panic!("nothing buffered yet")
        };
        inbox.unhandled(message);
        assert_eq!(rx.try_recv().expect("open"), Some(Ok(msg("a", 1))));
    }

    #[test]
    fn timed_out_waiters_are_skipped() {
        let mut inbox = Inbox::new(10, 0);
        let Ask::Wait(id, rx) = inbox.ask(Some("a")) else {
            panic!()
        };
        drop(rx);
        inbox.forget(id);
        assert!(inbox.give_to_waiter(msg("a", 1)).is_some());
    }

    #[test]
    fn buffer_and_cache_are_bounded() {
        let mut inbox = Inbox::new(2, 2);
        for n in 0..5 {
            inbox.remember(&msg("x", n));
            inbox.unhandled(msg("x", n));
        }
        assert_eq!(inbox.recent(), vec![msg("x", 3), msg("x", 4)]);
        assert!(matches!(inbox.ask(None), Ask::Ready(Ok(m)) if m == msg("x", 3)));
    }

    #[test]
    fn closing_wakes_waiters_with_the_reason() {
        let mut inbox = Inbox::new(2, 0);
        let Ask::Wait(_, mut rx) = inbox.ask(None) else {
            panic!()
        };
        inbox.close(&CloseReason::new(1000, "bye"));
        assert!(matches!(rx.try_recv(), Ok(Some(Err(_)))));
        assert!(matches!(inbox.ask(Some("x")), Ask::Ready(Err(_))));
    }
}
