//! "Send to whom": one builder for every target —
//! `server.to_group("lobby").except(id).emit("chat", &msg)` — and how the
//! sender learns what happened to each recipient.
//!
//! Three ways to meet a full queue, chosen per emit:
//!
//! - [`emit`](Emit::emit): queue it; a recipient whose queue is full is a
//!   slow reader and is disconnected (4006), the others get the event.
//! - [`volatile`](Emit::volatile) then `emit`: drop it for a recipient
//!   whose queue is already above a threshold (positions, cursors,
//!   telemetry: the next one supersedes it), never disconnect for it.
//! - [`emit_waiting`](Emit::emit_waiting): wait, up to a timeout, for room
//!   in each recipient's queue; a recipient still full then is named, not
//!   disconnected.
//!
//! [`emit_report`](Emit::emit_report) says which recipients got it queued,
//! which had it dropped, and which were disconnected.
//!
//! In a [cluster](super::cluster), a broadcast also goes once to the other
//! nodes, which deliver it to their own clients by the same rules; counts
//! and reports cover this node's clients only. `to_client` of a client on
//! another node counts it once the event is queued toward its node.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

use super::cluster::{Cluster, Message, Route, WireTarget};
use super::registry::ClientEntry;
use super::Server;
use crate::error::{Error, Result};
use crate::frame::{Frame, NO_REQUEST};
use crate::outbox::{Outbox, PushError};
use crate::value;

#[derive(Debug, Clone)]
enum Target {
    All,
    Group(String),
    Room(String),
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
    /// Volatile: drop for recipients whose queue holds more than this.
    volatile_above: Option<usize>,
    /// This node's clients only (what another node asked for, or a
    /// presence notice that the directory carries to the others).
    local: bool,
}

/// What happened to an event for each recipient (see
/// [`Emit::emit_report`] and [`Emit::emit_waiting`]). Client ids, in no
/// particular order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmitReport {
    /// Queued: the client gets it unless its connection ends first.
    pub queued: Vec<u64>,
    /// Not sent: a volatile event, and the client's queue was above the
    /// threshold.
    pub dropped: Vec<u64>,
    /// Not sent: the client's queue was full, and it was disconnected as a
    /// slow reader (4006).
    pub kicked: Vec<u64>,
    /// Not sent: [`emit_waiting`](Emit::emit_waiting) found no room in the
    /// client's queue before its timeout (the client stays connected).
    pub timed_out: Vec<u64>,
}

impl EmitReport {
    /// True when every recipient got it queued.
    pub fn all_queued(&self) -> bool {
        self.dropped.is_empty() && self.kicked.is_empty() && self.timed_out.is_empty()
    }
}

/// What happened to the event for one recipient.
enum Delivery {
    Queued,
    Dropped,
    Kicked(Error),
    /// Its connection is closing: as if it had left before the emit.
    Gone(Error),
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
            volatile_above: None,
            local: false,
        }
    }
}

impl<'a> Emit<'a> {
    pub(super) fn to_room(server: &'a Server, room: String) -> Self {
        server.target(Target::Room(room))
    }

    /// A broadcast another node published, for this node's clients.
    pub(super) fn from_node(
        server: &'a Server,
        target: WireTarget,
        except: Vec<u64>,
        presence: bool,
        volatile_above: Option<u64>,
    ) -> Self {
        let target = match target {
            WireTarget::All => Target::All,
            WireTarget::Group(group) => Target::Group(group),
            WireTarget::Room(room) => Target::Room(room),
        };
        Emit {
            except,
            presence,
            volatile_above: volatile_above.map(|v| usize::try_from(v).unwrap_or(usize::MAX)),
            ..server.target(target).local()
        }
    }

    /// An event another node sent to one of this node's clients.
    pub(super) fn from_node_to(server: &'a Server, client: u64) -> Self {
        server.target(Target::Client(client)).local()
    }
}

impl Emit<'_> {
    /// Leaves out one client (typically the sender of the event being
    /// relayed). Can be called several times.
    pub fn except(mut self, id: u64) -> Self {
        self.except.push(id);
        self
    }

    /// Makes the event *volatile*: a recipient whose outgoing queue already
    /// holds more than a quarter of
    /// [`outbox_limit`](super::ServerConfig::outbox_limit) does not get it
    /// (it is dropped for that client, which stays connected), like
    /// Socket.IO's `volatile`. For positions, cursors, telemetry: values
    /// that the next one supersedes.
    pub fn volatile(self) -> Self {
        let threshold = self.server.inner.config.outbox_limit / 4;
        self.volatile_above(threshold)
    }

    /// Like [`volatile`](Self::volatile) with the threshold in bytes of the
    /// recipient's queue (as the queue counts them: each frame's length
    /// plus [`FRAME_OVERHEAD`](crate::outbox::FRAME_OVERHEAD)). `0`: only
    /// to clients with nothing queued.
    pub fn volatile_above(mut self, queued_bytes: usize) -> Self {
        self.volatile_above = Some(queued_bytes);
        self
    }

    /// Like [`emit`](Self::emit), saying what happened for each recipient:
    /// queued, dropped (volatile), or disconnected as a slow reader.
    /// Errors: [`Error::Encode`], and [`Error::NoSuchClient`] for
    /// `to_client` with an unknown id.
    pub fn emit_report<T: Serialize>(self, command: &str, payload: T) -> Result<EmitReport> {
        let frame = value::with_encoded(&payload, |payload| event_frame(command, payload))?;
        let mut report = EmitReport::default();
        self.deliver(frame, |id, delivery| match delivery {
            Delivery::Queued => report.queued.push(id),
            Delivery::Dropped => report.dropped.push(id),
            Delivery::Kicked(_) => report.kicked.push(id),
            Delivery::Gone(_) => {}
        })?;
        Ok(report)
    }

    /// Sends `command` with `payload` to every recipient, waiting up to
    /// `timeout` for room in each one's outgoing queue instead of
    /// disconnecting a slow reader: backpressure the server application
    /// can see. Recipients still without room at the deadline are in
    /// [`EmitReport::timed_out`] and stay connected. (Waiting is per
    /// recipient, all at once: one slow client does not hold up the
    /// others.)
    pub async fn emit_waiting<T: Serialize>(
        self,
        command: &str,
        payload: T,
        timeout: Duration,
    ) -> Result<EmitReport> {
        let frame = value::with_encoded(&payload, |payload| event_frame(command, payload))?;
        // Other nodes' recipients get it without waiting: their nodes
        // queue it as `emit` would.
        if let Some(cluster) = self.cluster() {
            if let Some((id, failed)) = self.forward(cluster, &frame) {
                let mut report = EmitReport::default();
                if failed.is_none() {
                    report.queued.push(id);
                }
                return Ok(report);
            }
        }
        let recipients = self.recipients()?;
        let deadline = tokio::time::Instant::now() + timeout;
        let waits = recipients.into_iter().map(|(id, outbox)| {
            let frame = frame.clone();
            async move {
                let pushed = tokio::time::timeout_at(deadline, outbox.push(frame)).await;
                (id, pushed)
            }
        });
        let mut report = EmitReport::default();
        for (id, pushed) in futures::future::join_all(waits).await {
            match pushed {
                Ok(Ok(())) => report.queued.push(id),
                // The connection closed while waiting: gone, as if it had
                // left before the emit.
                Ok(Err(_)) => {}
                Err(_) => report.timed_out.push(id),
            }
        }
        Ok(report)
    }

    /// The recipients' ids and queues, taken under the registry's lock
    /// and used after it.
    pub(super) fn recipients(&self) -> Result<Vec<(u64, Arc<Outbox>)>> {
        let mut recipients = Vec::new();
        self.for_each_recipient(|entry| recipients.push((entry.info.id, entry.outbox.clone())))?;
        Ok(recipients)
    }

    /// Calls `visit` for every recipient, under the registry's read lock.
    /// Errors: [`Error::NoSuchClient`] for `to_client` with an unknown id.
    pub(super) fn for_each_recipient(&self, mut visit: impl FnMut(&ClientEntry)) -> Result<()> {
        let registry = self.server.inner.registry.read();
        let mut visit = |entry: &ClientEntry| {
            if !self.skips(entry) {
                visit(entry);
            }
        };
        match &self.target {
            Target::All => registry.all().for_each(&mut visit),
            Target::Group(group) => registry.group(group).for_each(&mut visit),
            Target::Room(room) => registry.room(room).for_each(&mut visit),
            Target::Client(id) => match registry.get(*id) {
                Some(entry) => visit(entry),
                None => return Err(Error::NoSuchClient(*id)),
            },
        }
        Ok(())
    }

    pub(super) fn server(&self) -> &Server {
        self.server
    }

    fn skips(&self, entry: &ClientEntry) -> bool {
        self.except.contains(&entry.info.id) || (self.presence && !entry.control.wants_presence())
    }

    /// Sends `command` with `payload` to every recipient. The frame is
    /// encoded once and shared. Returns how many clients it was queued for.
    ///
    /// A recipient whose outgoing queue is full is disconnected with
    /// [`SLOW_CONSUMER`](crate::close::codes::SLOW_CONSUMER) and not counted; the others
    /// still get the event. Errors: [`Error::Encode`] if the payload cannot
    /// be encoded, [`Error::NoSuchClient`] for `to_client` with an unknown id,
    /// [`Error::QueueFull`] when that single client's queue is full.
    pub fn emit<T: Serialize>(self, command: &str, payload: T) -> Result<usize> {
        value::with_encoded(&payload, |payload| self.emit_raw(command, payload))?
    }

    /// Like [`emit`](Self::emit) with an already-encoded MessagePack payload.
    pub fn emit_raw(self, command: &str, payload: &[u8]) -> Result<usize> {
        self.send_frame(event_frame(command, payload))
    }

    /// Marks this as a presence notice: clients that told the server they
    /// ignore presence notices do not get it.
    pub(crate) fn presence_notice(mut self) -> Self {
        self.presence = true;
        self
    }

    /// To this node's clients only, whatever the cluster.
    pub(crate) fn local(mut self) -> Self {
        self.local = true;
        self
    }

    /// The cluster this emit also goes to, if any.
    fn cluster(&self) -> Option<&Cluster> {
        match self.local {
            true => None,
            false => self.server.inner.cluster.as_ref(),
        }
    }

    /// Publishes `frame` for the other nodes' recipients. Returns the
    /// remote client's id for `to_client` of a client on another node
    /// (nothing is left to do here), with the error when the link is down.
    fn forward(&self, cluster: &Cluster, frame: &Bytes) -> Option<(u64, Option<Error>)> {
        let target = match &self.target {
            Target::All => WireTarget::All,
            Target::Group(group) => WireTarget::Group(group.clone()),
            Target::Room(room) => WireTarget::Room(room.clone()),
            Target::Client(id) => {
                if !cluster.is_remote(*id) {
                    return None;
                }
                let message = Message::Deliver {
                    client: *id,
                    frame: frame.clone(),
                };
                let sent = self.server.to_node_of(*id, message).err();
                return Some((*id, sent));
            }
        };
        // Dropped when the link is down or the queue full: the adapter
        // says so once, and local delivery goes on.
        let _ = cluster.publish(
            Route::All,
            Message::Broadcast {
                target,
                except: self.except.clone(),
                presence: self.presence,
                volatile_above: self.volatile_above.map(|v| v as u64),
                frame: frame.clone(),
            },
        );
        None
    }

    /// The other nodes' recipients, from the directory (for broadcast
    /// requests).
    pub(super) fn remote_recipients(&self) -> Vec<u64> {
        if self.cluster().is_none() {
            return Vec::new();
        }
        let mut ids = Vec::new();
        self.server.remote(|dir| match &self.target {
            Target::All => ids.extend(dir.infos().map(|i| i.id)),
            Target::Group(group) => ids.extend(dir.group(group).map(|i| i.id)),
            Target::Room(room) => ids.extend(dir.room(room).map(|i| i.id)),
            Target::Client(id) => ids.extend(dir.get(*id).map(|i| i.id)),
        });
        ids.retain(|id| !self.except.contains(id));
        ids
    }

    pub(crate) fn send_frame(self, frame: Bytes) -> Result<usize> {
        let mut sent = 0;
        let mut single_error = None;
        let single = matches!(self.target, Target::Client(_));
        self.deliver(frame, |_, delivery| match delivery {
            Delivery::Queued => sent += 1,
            Delivery::Dropped => {}
            Delivery::Kicked(err) | Delivery::Gone(err) => single_error = Some(err),
        })?;
        match single_error {
            Some(err) if single => Err(err),
            _ => Ok(sent),
        }
    }

    /// Offers `frame` to every recipient, under the registry's read lock,
    /// and tells `outcome` what happened for each.
    fn deliver(self, frame: Bytes, mut outcome: impl FnMut(u64, Delivery)) -> Result<()> {
        if let Some(cluster) = self.cluster() {
            if let Some((id, failed)) = self.forward(cluster, &frame) {
                outcome(id, failed.map_or(Delivery::Queued, Delivery::Gone));
                return Ok(());
            }
        }
        let volatile_above = self.volatile_above;
        self.for_each_recipient(|entry| {
            let delivery = match volatile_above {
                None => match push_or_kick(entry, frame.clone()) {
                    Ok(()) => Delivery::Queued,
                    Err(err @ Error::QueueFull { .. }) => Delivery::Kicked(err),
                    Err(err) => Delivery::Gone(err),
                },
                Some(threshold) => match entry.outbox.try_push_if_below(frame.clone(), threshold) {
                    Ok(true) => Delivery::Queued,
                    Ok(false) => Delivery::Dropped,
                    Err(_) => Delivery::Gone(Error::NoSuchClient(entry.info.id)),
                },
            };
            outcome(entry.info.id, delivery);
        })
    }
}

fn event_frame(command: &str, payload: &[u8]) -> Bytes {
    Frame::Event {
        command,
        request_id: NO_REQUEST,
        payload,
    }
    .encode()
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
