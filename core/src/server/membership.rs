//! Who a client is and who else is there, on the server: a client's own
//! name and group changes, the presence notices other clients get about
//! it, and the look-ups and lists it asks for (PROTOCOL.md section 6).

use std::sync::Arc;

use bytes::Bytes;

use super::cluster::Message;
use super::reserved;
use super::session::Session;
use crate::dispatch::Rejection;
use crate::frame::{ErrorCode, Frame, LookupKey};
use crate::info::{Change, ClientInfo};
use crate::value;

/// What a client may change about itself.
#[derive(Clone, Copy)]
pub(super) enum Field {
    Name,
    Group,
}

impl Session {
    /// Sends a presence notice about this client to every other client of
    /// this node that wants them, unless the server is configured without
    /// presence notices. (Other nodes tell their own clients, from the
    /// announcement this node publishes: see [`cluster`](super::cluster).)
    pub(super) fn tell_others(&self, notice: impl FnOnce(&Self) -> Bytes) {
        if self.server.inner.config.presence_notices {
            self.server
                .to_all()
                .local()
                .except(self.info.id)
                .presence_notice()
                .send_frame(notice(self))
                .ok();
        }
    }

    /// The frame telling other clients that this one joined or left.
    pub(super) fn presence_frame(&self, joined: bool) -> Bytes {
        presence_frame(&self.info, joined)
    }

    /// Answers a request the server itself handles.
    pub(super) fn reply<T: serde::Serialize>(&self, request_id: u64, value: &T) {
        let outcome = value::encode(value)
            .map_err(|err| Rejection::new(ErrorCode::HandlerFailed, err.to_string()));
        self.peer.respond("", request_id, outcome);
    }

    /// `Lookup`: one client's info (on any node), or nil.
    pub(super) fn lookup(&self, request_id: u64, by: LookupKey<'_>) {
        let server = &self.server;
        let found = match by {
            LookupKey::Id(id) => server.client(id),
            LookupKey::Name(name) => server.client_by_name(name),
            LookupKey::Addr(addr) => addr
                .parse()
                .ok()
                .and_then(|addr| server.client_by_addr(addr)),
        };
        self.reply(request_id, &found);
    }

    /// `ListClients`: everyone, or one group.
    pub(super) fn list_clients(&self, request_id: u64, group: Option<&str>) {
        let clients = match group {
            Some(group) => self.server.group(group),
            None => self.server.clients(),
        };
        self.reply(request_id, &clients);
    }

    /// A client renames itself or moves to another group: the registry
    /// changes, the client gets its confirmation, the other clients a
    /// `ClientChanged` notice, and the reserved handler runs. A change to
    /// the current value is confirmed and nothing else happens.
    pub(super) fn change(&mut self, request_id: u64, field: Field, value: Option<&str>) {
        let new: Option<Arc<str>> = value.map(Arc::from);
        let (old_name, old_group) = (self.info.name.clone(), self.info.group.clone());
        let old = match field {
            Field::Name => old_name.clone(),
            Field::Group => old_group.clone(),
        };
        if old == new {
            self.reply(request_id, &());
            return;
        }
        let updated = {
            let mut registry = self.server.inner.registry.write();
            match field {
                Field::Name => registry.set_name(self.info.id, new.clone()),
                Field::Group => registry.set_group(self.info.id, new.clone()),
            }
        };
        if let Some(info) = updated {
            self.info = info;
            self.event = None;
        }
        self.reply(request_id, &());
        self.tell_others(|this| {
            changed_frame(&this.info, old_name.as_deref(), old_group.as_deref())
        });
        self.server.announce(|| Message::Changed {
            client: self.info.clone(),
            old_name: old_name.clone(),
            old_group: old_group.clone(),
        });
        let event = match field {
            Field::Name => reserved::NAME_CHANGE,
            Field::Group => reserved::GROUP_CHANGE,
        };
        self.reserved_event(event, Some(Change { old, new }), None);
    }
}

/// The frame telling clients that `info` joined or left.
pub(super) fn presence_frame(info: &ClientInfo, joined: bool) -> Bytes {
    let addr = info.addr.map(|a| a.to_string());
    let client = info.to_wire(&addr);
    if joined {
        Frame::ClientJoined(client).encode()
    } else {
        Frame::ClientLeft(client).encode()
    }
}

/// The frame telling clients that `info` changed its name or group.
pub(super) fn changed_frame(
    info: &ClientInfo,
    old_name: Option<&str>,
    old_group: Option<&str>,
) -> Bytes {
    let addr = info.addr.map(|a| a.to_string());
    Frame::ClientChanged {
        client: info.to_wire(&addr),
        old_name,
        old_group,
    }
    .encode()
}
