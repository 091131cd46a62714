//! A client asking to join or leave a room (PROTOCOL.md section 6.1): the
//! server's room hook decides (see
//! [`Server::room_requests`](crate::Server::room_requests)).

use super::Client;
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::protocol::limits::{self, Limit};
use crate::value;

impl Client {
    /// Asks the server to put this client in `room`. Returns whether that
    /// changed anything (false: it was in it already).
    ///
    /// Errors: [`Error::Remote`] with [`ErrorCode::Refused`](crate::ErrorCode::Refused)
    /// and the server's reason when it does not allow it (a server without
    /// a room hook refuses every request), [`Error::LimitExceeded`] for a
    /// room name longer than
    /// [`ClientOptions::max_group_len`](super::ClientOptions::max_group_len)
    /// (nothing is sent), and those of [`request`](Self::request).
    pub async fn join_room(&self, room: &str) -> Result<bool> {
        self.room_request(room, true).await
    }

    /// Asks the server to take this client out of `room`. Returns whether
    /// that changed anything (false: it was not in it). Errors: as
    /// [`join_room`](Self::join_room).
    pub async fn leave_room(&self, room: &str) -> Result<bool> {
        self.room_request(room, false).await
    }

    async fn room_request(&self, room: &str, join: bool) -> Result<bool> {
        value::decode(&self.room_request_raw(room, join).await?)
    }

    /// Asks to join (`join`) or leave `room` and returns the server's
    /// answer undecoded: a MessagePack bool. For front-ends that decode
    /// payloads themselves (the browser's JS API, which would otherwise
    /// carry a second MessagePack decoder). Errors: as
    /// [`join_room`](Self::join_room).
    pub async fn room_request_raw(&self, room: &str, join: bool) -> Result<bytes::Bytes> {
        limits::check_len(Limit::GroupLen, Some(room), self.shared.max_group_len)
            .map_err(Error::LimitExceeded)?;
        let answer = self
            .round_trip(Self::ADMIN_TIMEOUT, |request_id| {
                Frame::RoomRequest {
                    request_id,
                    room,
                    join,
                }
                .encode()
            })
            .await?;
        // Allowed: the client is in the room now, or out of it. A client
        // that reconnects to a new session asks for its rooms again.
        // (A Vec, not a set: a client is in few rooms, and a set's code
        // would grow the browser build.)
        let mut rooms = crate::platform::locks::lock(&self.shared.rooms);
        rooms.retain(|kept| kept != room);
        if join {
            rooms.push(room.to_owned());
        }
        Ok(answer)
    }
}
