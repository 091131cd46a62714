//! The connected clients: by id, with a group index for broadcasts.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::close::{codes, CloseReason};
use crate::info::ClientInfo;
use crate::outbox::Outbox;
use crate::pending::PendingRequests;
use crate::platform::{lock, read_lock, write_lock};

/// A request to end a connection, from the application.
#[derive(Debug, Clone)]
pub(crate) struct Kick {
    pub reason: CloseReason,
    pub run_leave: bool,
}

/// How the application reaches a connection's task, and what the
/// connection asked for.
#[derive(Default)]
pub(crate) struct ConnControl {
    kick: Mutex<Option<Kick>>,
    notify: Notify,
    /// The client said it has no use for presence notices (it has no
    /// handler for them); see [`Frame::PresenceInterest`](crate::frame::Frame::PresenceInterest).
    ignores_presence: AtomicBool,
    /// The client's outgoing queue overflowed: it is being dropped.
    overflowed: AtomicBool,
    /// The client's id, once it joined (0 before): for the log lines of
    /// hooks that only hold this.
    client: AtomicU64,
    /// The client's requests whose handler has not answered yet (handlers
    /// that answer at once never count): threaded handlers answer from
    /// other tasks, hence an atomic.
    requests: AtomicUsize,
}

impl ConnControl {
    /// Records whether the client wants presence notices.
    pub fn set_wants_presence(&self, wanted: bool) {
        self.ignores_presence.store(!wanted, Ordering::Relaxed);
    }

    /// True unless the client said it ignores presence notices.
    pub fn wants_presence(&self) -> bool {
        !self.ignores_presence.load(Ordering::Relaxed)
    }

    /// Records the id of the client, once it joined.
    pub fn set_client(&self, id: u64) {
        self.client.store(id, Ordering::Relaxed);
    }

    /// The client's id, or 0 while it has not joined.
    pub fn client(&self) -> u64 {
        self.client.load(Ordering::Relaxed)
    }

    /// The client's requests being handled now.
    #[inline]
    pub fn requests_outstanding(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// A handler for one of the client's requests did not answer at once.
    pub fn request_started(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// A handler counted by [`request_started`](Self::request_started)
    /// answered.
    pub fn request_answered(&self) {
        self.requests.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn kick(&self, kick: Kick) {
        let mut slot = lock(&self.kick);
        if slot.is_none() {
            *slot = Some(kick);
        }
        drop(slot);
        self.notify.notify_one();
    }

    /// The client's outgoing queue is over `limit` bytes: disconnects it
    /// with [`SLOW_CONSUMER`](codes::SLOW_CONSUMER) and logs one warning.
    /// Only the first overflow of a connection does either: every frame
    /// that does not fit after it (a broadcast, a reply, a ping) would
    /// otherwise log a line of its own (65 for one client, once).
    pub fn overflowed(&self, client: u64, queued: usize, limit: usize) {
        if self.overflowed.swap(true, Ordering::Relaxed) {
            return;
        }
        tracing::warn!(
            client,
            queued,
            limit,
            "outgoing queue full; disconnecting slow client"
        );
        self.kick(Kick {
            reason: CloseReason::new(
                codes::SLOW_CONSUMER,
                format!("outgoing queue over {limit} bytes: reading too slowly"),
            ),
            run_leave: true,
        });
    }

    pub fn take(&self) -> Option<Kick> {
        lock(&self.kick).take()
    }

    pub async fn notified(&self) {
        self.notify.notified().await
    }
}

/// One connected client.
#[derive(Clone)]
pub(crate) struct ClientEntry {
    pub info: ClientInfo,
    pub extensions: super::Extensions,
    pub outbox: Arc<Outbox>,
    pub control: Arc<ConnControl>,
    pub pending: Arc<Mutex<PendingRequests>>,
    pub outgoing: Arc<crate::stream::OutgoingStreams>,
    /// Where a connection resuming the client's session is handed over
    /// (`None`: the client has no session).
    pub handover: Option<tokio::sync::mpsc::Sender<super::resumption::Takeover>>,
}

/// All connected clients.
#[derive(Default)]
pub(crate) struct Registry {
    clients: HashMap<u64, ClientEntry>,
    groups: HashMap<Arc<str>, HashSet<u64>>,
    /// Rooms and their members; a room exists while it has one.
    rooms: HashMap<Arc<str>, HashSet<u64>>,
    /// The rooms of each client in any (clients in none have no entry).
    rooms_of: HashMap<u64, Vec<Arc<str>>>,
}

impl Registry {
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    pub fn insert(&mut self, entry: ClientEntry) {
        if let Some(group) = &entry.info.group {
            self.groups
                .entry(group.clone())
                .or_default()
                .insert(entry.info.id);
        }
        self.clients.insert(entry.info.id, entry);
    }

    pub fn remove(&mut self, id: u64) -> Option<ClientEntry> {
        let entry = self.clients.remove(&id)?;
        if let Some(group) = &entry.info.group {
            self.leave_group(group, id);
        }
        for room in self.rooms_of.remove(&id).unwrap_or_default() {
            remove_member(&mut self.rooms, &room, id);
        }
        Some(entry)
    }

    /// Puts a connected client in `room`; false when it was in it already
    /// (or is not connected: see [`get`](Self::get)).
    pub fn join_room(&mut self, id: u64, room: &str) -> bool {
        if !self.clients.contains_key(&id) {
            return false;
        }
        let rooms = self.rooms_of.entry(id).or_default();
        if rooms.iter().any(|r| &**r == room) {
            return false;
        }
        let room: Arc<str> = self
            .rooms
            .get_key_value(room)
            .map(|(name, _)| name.clone())
            .unwrap_or_else(|| Arc::from(room));
        rooms.push(room.clone());
        self.rooms.entry(room).or_default().insert(id);
        true
    }

    /// Takes a client out of `room`; false when it was not in it.
    pub fn leave_room(&mut self, id: u64, room: &str) -> bool {
        let Some(rooms) = self.rooms_of.get_mut(&id) else {
            return false;
        };
        let Some(at) = rooms.iter().position(|r| &**r == room) else {
            return false;
        };
        let room = rooms.swap_remove(at);
        if rooms.is_empty() {
            self.rooms_of.remove(&id);
        }
        remove_member(&mut self.rooms, &room, id);
        true
    }

    /// The members of `room`.
    pub fn room(&self, room: &str) -> impl Iterator<Item = &ClientEntry> {
        self.rooms
            .get(room)
            .into_iter()
            .flatten()
            .filter_map(|id| self.clients.get(id))
    }

    /// The rooms client `id` is in, sorted.
    pub fn rooms_of(&self, id: u64) -> Vec<String> {
        let mut rooms: Vec<String> = self
            .rooms_of
            .get(&id)
            .into_iter()
            .flatten()
            .map(|r| r.to_string())
            .collect();
        rooms.sort();
        rooms
    }

    /// Every (client, room) membership, in no order.
    pub fn memberships(&self) -> impl Iterator<Item = (u64, &Arc<str>)> {
        self.rooms_of
            .iter()
            .flat_map(|(id, rooms)| rooms.iter().map(move |room| (*id, room)))
    }

    /// Every room with a member, sorted.
    pub fn room_names(&self) -> Vec<String> {
        let mut rooms: Vec<String> = self.rooms.keys().map(|r| r.to_string()).collect();
        rooms.sort();
        rooms
    }

    fn leave_group(&mut self, group: &Arc<str>, id: u64) {
        remove_member(&mut self.groups, group, id);
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut ClientEntry> {
        self.clients.get_mut(&id)
    }

    pub fn get(&self, id: u64) -> Option<&ClientEntry> {
        self.clients.get(&id)
    }

    /// Sets a client's name; returns the updated info.
    pub fn set_name(&mut self, id: u64, name: Option<Arc<str>>) -> Option<ClientInfo> {
        let entry = self.clients.get_mut(&id)?;
        entry.info.name = name;
        Some(entry.info.clone())
    }

    /// Moves a client to another group; returns the updated info.
    pub fn set_group(&mut self, id: u64, group: Option<Arc<str>>) -> Option<ClientInfo> {
        let old = self.clients.get(&id)?.info.group.clone();
        if let Some(old) = &old {
            self.leave_group(old, id);
        }
        if let Some(new) = &group {
            self.groups.entry(new.clone()).or_default().insert(id);
        }
        let entry = self.clients.get_mut(&id)?;
        entry.info.group = group;
        Some(entry.info.clone())
    }

    pub fn by_name(&self, name: &str) -> Option<&ClientEntry> {
        self.clients
            .values()
            .filter(|e| e.info.name() == Some(name))
            .min_by_key(|e| e.info.id)
    }

    pub fn by_addr(&self, addr: SocketAddr) -> Option<&ClientEntry> {
        self.clients.values().find(|e| e.info.addr == Some(addr))
    }

    pub fn all(&self) -> impl Iterator<Item = &ClientEntry> {
        self.clients.values()
    }

    pub fn group(&self, group: &str) -> impl Iterator<Item = &ClientEntry> {
        self.groups
            .get(group)
            .into_iter()
            .flatten()
            .filter_map(|id| self.clients.get(id))
    }

    /// Sorted infos, so listings are stable.
    pub fn infos<'a>(entries: impl Iterator<Item = &'a ClientEntry>) -> Vec<ClientInfo> {
        let mut infos: Vec<ClientInfo> = entries.map(|e| e.info.clone()).collect();
        infos.sort_by_key(|i| i.id);
        infos
    }
}

/// Takes `id` out of the member set `name`, dropping the set once empty.
fn remove_member(sets: &mut HashMap<Arc<str>, HashSet<u64>>, name: &Arc<str>, id: u64) {
    if let Some(members) = sets.get_mut(name) {
        members.remove(&id);
        if members.is_empty() {
            sets.remove(name);
        }
    }
}

/// The registry behind a lock that shrugs off poisoning (see
/// [`platform::locks`](crate::platform::locks) for why).
#[derive(Default)]
pub(crate) struct SharedRegistry(std::sync::RwLock<Registry>);

impl SharedRegistry {
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        read_lock(&self.0)
    }

    pub fn write(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        write_lock(&self.0)
    }
}
