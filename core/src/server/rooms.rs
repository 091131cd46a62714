//! Rooms: named sets of clients, any number per client, beside HiSock's
//! one group. The server puts clients in and out (in a handler, typically:
//! `server.join_room(client.id, "match-7")`), sends to a room with
//! [`to_room`](Server::to_room), and a client leaves all of its rooms when
//! it leaves. Unlike groups, clients hear no notices about rooms.
//!
//! A client may also ask to join or leave a room itself
//! ([`Client::join_room`](crate::Client::join_room), frame `RoomRequest`),
//! if the server lets it: the hook given to [`Server::room_requests`]
//! decides each request; without one, every request is refused.

use std::sync::Arc;

use super::cluster::Message;
use super::emit::Emit;
use super::registry::Registry;
use super::session::Session;
use super::{Extensions, Server};
use crate::dispatch::Rejection;
use crate::error::{Error, Result};
use crate::frame::ErrorCode;
use crate::info::ClientInfo;
use crate::platform::{read_lock, write_lock};

/// A client asking to join or leave a room, as the room hook sees it.
#[derive(Debug, Clone)]
pub struct RoomRequest {
    /// The client asking.
    pub client: ClientInfo,
    /// The room.
    pub room: String,
    /// True: it asks to join; false: to leave.
    pub join: bool,
    /// The client's connection data (what the auth hook stored, say).
    pub extensions: Extensions,
}

pub(super) type RoomHook =
    Arc<dyn Fn(&RoomRequest) -> std::result::Result<(), String> + Send + Sync>;

impl Server {
    /// Puts client `id` in `room` (made when its first member joins).
    /// Returns false when it was in it already.
    ///
    /// ```
    /// use hisock::{ClientInfo, Data, Server};
    ///
    /// let server = Server::new();
    /// server.on("enter", |s: Server, c: ClientInfo, Data(room): Data<String>| async move {
    ///     s.join_room(c.id, &room).map_err(|e| e.to_string())?;
    ///     s.to_room(&room).except(c.id).emit("entered", &c.id).map_err(|e| e.to_string())
    /// });
    /// ```
    ///
    /// Errors: [`Error::NoSuchClient`].
    ///
    /// A client of another node is put in the room by its node; the
    /// answer comes from this node's directory.
    pub fn join_room(&self, id: u64, room: &str) -> Result<bool> {
        self.change_room(id, room, true)
    }

    /// Takes client `id` out of `room` (gone once empty). Returns false when
    /// it was not in it. Errors: [`Error::NoSuchClient`].
    pub fn leave_room(&self, id: u64, room: &str) -> Result<bool> {
        self.change_room(id, room, false)
    }

    fn change_room(&self, id: u64, room: &str, join: bool) -> Result<bool> {
        let mut registry = self.inner.registry.write();
        if registry.get(id).is_none() {
            drop(registry);
            return self.change_remote_room(id, room, join);
        }
        let changed = match join {
            true => registry.join_room(id, room),
            false => registry.leave_room(id, room),
        };
        drop(registry);
        if changed {
            self.announce_room(id, room, join);
        }
        Ok(changed)
    }

    /// Asks a remote client's node to change its rooms, and records the
    /// change in the directory at once (the node's announcement confirms
    /// it), so that the next look-up here sees it.
    fn change_remote_room(&self, id: u64, room: &str, join: bool) -> Result<bool> {
        let changed = self
            .inner
            .cluster
            .as_ref()
            .filter(|c| c.is_remote(id))
            .map(|c| write_lock(&c.directory).set_room(id, room, join))
            .ok_or(Error::NoSuchClient(id))?;
        if changed {
            let order = Message::RoomOrder {
                client: id,
                room: room.to_owned(),
                join,
            };
            self.to_node_of(id, order)?;
        }
        Ok(changed)
    }

    fn announce_room(&self, id: u64, room: &str, joined: bool) {
        self.announce(|| Message::Room {
            client: id,
            room: Arc::from(room),
            joined,
        });
    }

    /// The members of `room` (on every node), by id.
    pub fn room(&self, room: &str) -> Vec<ClientInfo> {
        let registry = self.inner.registry.read();
        let mut infos = Registry::infos(registry.room(room));
        drop(registry);
        if self
            .remote(|dir| infos.extend(dir.room(room).cloned()))
            .is_some()
        {
            infos.sort_by_key(|i| i.id);
        }
        infos
    }

    /// The rooms client `id` (of any node) is in, sorted. Errors:
    /// [`Error::NoSuchClient`].
    pub fn rooms_of(&self, id: u64) -> Result<Vec<String>> {
        let registry = self.inner.registry.read();
        if registry.get(id).is_some() {
            return Ok(registry.rooms_of(id));
        }
        drop(registry);
        let remote = self.remote(|dir| {
            dir.rooms_of(id).map(|rooms| {
                let mut rooms: Vec<String> = rooms.iter().map(|r| r.to_string()).collect();
                rooms.sort();
                rooms
            })
        });
        remote.flatten().ok_or(Error::NoSuchClient(id))
    }

    /// Every room that has a member (on any node), sorted.
    pub fn rooms(&self) -> Vec<String> {
        let mut rooms = self.inner.registry.read().room_names();
        if self
            .remote(|dir| rooms.extend(dir.room_names().map(|r| r.to_string())))
            .is_some()
        {
            rooms.sort();
            rooms.dedup();
        }
        rooms
    }

    /// Every client in `room`: finish with `emit`, `request` and the rest
    /// of [`Emit`].
    pub fn to_room(&self, room: impl Into<String>) -> Emit<'_> {
        Emit::to_room(self, room.into())
    }

    /// Lets clients ask to join and leave rooms themselves: `hook` decides
    /// each request (`Err(reason)` refuses it; the client gets
    /// [`ErrorCode::Refused`] with the reason). Without a hook every such
    /// request is refused.
    ///
    /// ```
    /// use hisock::Server;
    ///
    /// let server = Server::new();
    /// // Anyone may come and go in public rooms, nobody else anywhere.
    /// server.room_requests(|request| match request.room.starts_with("public/") {
    ///     true => Ok(()),
    ///     false => Err(format!("{} is not a public room", request.room)),
    /// });
    /// ```
    pub fn room_requests<F>(&self, hook: F) -> &Self
    where
        F: Fn(&RoomRequest) -> std::result::Result<(), String> + Send + Sync + 'static,
    {
        *write_lock(&self.inner.room_hook) = Some(Arc::new(hook));
        self
    }
}

impl Session {
    /// `RoomRequest`: the hook decides, the registry changes, the client
    /// gets whether anything changed.
    pub(super) fn room_request(&self, request_id: u64, room: &str, join: bool) {
        let hook = read_lock(&self.server.inner.room_hook).clone();
        let verdict = match hook {
            None => Err("this server does not let clients choose their rooms".to_owned()),
            Some(hook) => hook(&RoomRequest {
                client: self.info.clone(),
                room: room.to_owned(),
                join,
                extensions: self.extensions.clone(),
            }),
        };
        if let Err(reason) = verdict {
            let refused = Rejection::new(ErrorCode::Refused, reason);
            self.peer.respond("", request_id, Err(refused));
            return;
        }
        let mut registry = self.server.inner.registry.write();
        let changed = match join {
            true => registry.join_room(self.info.id, room),
            false => registry.leave_room(self.info.id, room),
        };
        drop(registry);
        if changed {
            self.server.announce_room(self.info.id, room, join);
        }
        self.reply(request_id, &changed);
    }
}
