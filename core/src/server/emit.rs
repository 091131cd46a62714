//! "Send to whom": one builder for every target —
//! `server.to_group("lobby").except(id).emit("chat", &msg)`.

use bytes::Bytes;
use serde::Serialize;

use super::registry::ClientEntry;
use super::Server;
use crate::error::{Error, Result};
use crate::frame::{Frame, NO_REQUEST};
use crate::outbox::PushError;
use crate::value;

#[derive(Debug, Clone)]
enum Target {
    All,
    Group(String),
    Client(u64),
}

/// A set of recipients; finish with [`emit`](Emit::emit).
#[must_use = "nothing is sent until .emit() is called"]
pub struct Emit<'a> {
    server: &'a Server,
    target: Target,
    except: Vec<u64>,
    /// Presence notices: skip clients that said they ignore them.
    presence: bool,
}

impl Server {
    /// Every connected client.
    pub fn to_all(&self) -> Emit<'_> {
        self.target(Target::All)
    }

    /// Every client in `group`.
    pub fn to_group(&self, group: impl Into<String>) -> Emit<'_> {
        self.target(Target::Group(group.into()))
    }

    /// One client.
    pub fn to_client(&self, id: u64) -> Emit<'_> {
        self.target(Target::Client(id))
    }

    fn target(&self, target: Target) -> Emit<'_> {
        Emit {
            server: self,
            target,
            except: Vec::new(),
            presence: false,
        }
    }
}

impl Emit<'_> {
    /// Leaves out one client (typically the sender of the event being
    /// relayed). Can be called several times.
    pub fn except(mut self, id: u64) -> Self {
        self.except.push(id);
        self
    }

    /// Sends `command` with `payload` to every recipient. The frame is
    /// encoded once and shared. Returns how many clients it was queued for.
    ///
    /// A recipient whose outgoing queue is full is disconnected with
    /// [`SLOW_CONSUMER`](crate::close::codes::SLOW_CONSUMER) and not counted; the others
    /// still get the event. Errors: [`Error::Encode`] if the payload cannot
    /// be encoded, [`Error::NoSuchClient`] for `to_client` with an unknown id,
    /// [`Error::QueueFull`] when that single client's queue is full.
    pub fn emit<T: Serialize + ?Sized>(self, command: &str, payload: &T) -> Result<usize> {
        value::with_encoded(payload, |payload| self.emit_raw(command, payload))?
    }

    /// Like [`emit`](Self::emit) with an already-encoded MessagePack payload.
    pub fn emit_raw(self, command: &str, payload: &[u8]) -> Result<usize> {
        let frame = Frame::Event {
            command,
            request_id: NO_REQUEST,
            payload,
        }
        .encode();
        self.send_frame(frame)
    }

    /// Marks this as a presence notice: clients that told the server they
    /// ignore presence notices do not get it.
    pub(crate) fn presence_notice(mut self) -> Self {
        self.presence = true;
        self
    }

    pub(crate) fn send_frame(self, frame: Bytes) -> Result<usize> {
        let registry = self.server.inner.registry.read();
        let mut sent = 0;
        let mut single_error = None;
        let mut push = |entry: &ClientEntry| {
            if self.except.contains(&entry.info.id)
                || (self.presence && !entry.control.wants_presence())
            {
                return;
            }
            match push_or_kick(entry, frame.clone()) {
                Ok(()) => sent += 1,
                Err(err) => single_error = Some(err),
            }
        };
        match &self.target {
            Target::All => registry.all().for_each(&mut push),
            Target::Group(group) => registry.group(group).for_each(&mut push),
            Target::Client(id) => match registry.get(*id) {
                Some(entry) => push(entry),
                None => return Err(Error::NoSuchClient(*id)),
            },
        }
        match (&self.target, single_error) {
            (Target::Client(_), Some(err)) => Err(err),
            _ => Ok(sent),
        }
    }
}

/// Queues a frame for one client; a client too slow to keep its queue under
/// the limit is disconnected rather than allowed to hold memory or block
/// others.
pub(crate) fn push_or_kick(entry: &ClientEntry, frame: Bytes) -> Result<()> {
    match entry.outbox.try_push(frame) {
        Ok(()) => Ok(()),
        Err(PushError::Full { queued, limit }) => {
            entry.control.overflowed(entry.info.id, queued, limit);
            Err(Error::QueueFull { queued, limit })
        }
        Err(PushError::Closed) => Err(Error::NoSuchClient(entry.info.id)),
    }
}
