//! Rooms: named sets of clients, any number per client, beside HiSock's
//! one group. The server puts clients in and out (in a handler, typically:
//! `server.join_room(client.id, "match-7")`), sends to a room with
//! [`to_room`](Server::to_room), and a client leaves all of its rooms when
//! it leaves. Unlike groups, rooms are the server's business alone: clients
//! are not told of them and hear no notices about them.

use super::emit::Emit;
use super::registry::Registry;
use super::Server;
use crate::error::{Error, Result};
use crate::info::ClientInfo;

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
    pub fn join_room(&self, id: u64, room: &str) -> Result<bool> {
        let mut registry = self.inner.registry.write();
        if registry.get(id).is_none() {
            return Err(Error::NoSuchClient(id));
        }
        Ok(registry.join_room(id, room))
    }

    /// Takes client `id` out of `room` (gone once empty). Returns false when
    /// it was not in it. Errors: [`Error::NoSuchClient`].
    pub fn leave_room(&self, id: u64, room: &str) -> Result<bool> {
        let mut registry = self.inner.registry.write();
        if registry.get(id).is_none() {
            return Err(Error::NoSuchClient(id));
        }
        Ok(registry.leave_room(id, room))
    }

    /// The members of `room`, by id.
    pub fn room(&self, room: &str) -> Vec<ClientInfo> {
        let registry = self.inner.registry.read();
        Registry::infos(registry.room(room))
    }

    /// The rooms client `id` is in, sorted. Errors: [`Error::NoSuchClient`].
    pub fn rooms_of(&self, id: u64) -> Result<Vec<String>> {
        let registry = self.inner.registry.read();
        if registry.get(id).is_none() {
            return Err(Error::NoSuchClient(id));
        }
        Ok(registry.rooms_of(id))
    }

    /// Every room that has a member, sorted.
    pub fn rooms(&self) -> Vec<String> {
        self.inner.registry.read().room_names()
    }

    /// Every client in `room`: finish with `emit`, `request` and the rest
    /// of [`Emit`].
    pub fn to_room(&self, room: impl Into<String>) -> Emit<'_> {
        Emit::to_room(self, room.into())
    }
}
