//! Presence interest on the client: a client with no handler for
//! presence notices declines them after a few (PROTOCOL.md section 6), and
//! asks for them again when it registers a presence handler.

use super::{lock, reserved, Client, ClientEvent};
use crate::dispatch::HandlerTable;
use crate::frame::Frame;

/// Presence notices a client takes without a handler for any of them
/// before it asks the server to stop sending them. Not at the first one:
/// handlers registered right after connecting (as JavaScript code does)
/// would otherwise race the request back on.
pub(crate) const PRESENCE_DECLINE_AFTER: u32 = 16;

/// Whether this client asked the server to stop presence notices.
#[derive(Default)]
pub(crate) struct PresenceInterest {
    /// Notices taken without a handler since connecting.
    unhandled: u32,
    /// The server was told `PresenceInterest { wanted: false }`.
    declined: bool,
}

impl PresenceInterest {
    /// Whether the server was told to send no presence notices (a new
    /// session is told again).
    pub(crate) fn declined(&self) -> bool {
        self.declined
    }
}

/// True when the table has a handler that presence notices feed.
pub(crate) fn wants_presence(table: &HandlerTable<ClientEvent>) -> bool {
    reserved::PRESENCE
        .iter()
        .any(|name| table.reserved(name).is_some())
}

impl Client {
    /// Changes the handler table; when the client had declined presence
    /// notices and now has a handler for them, asks for them again. (Not
    /// generic: one copy in the browser build.)
    pub(super) fn update_handlers(&self, change: &mut dyn FnMut(&mut HandlerTable<ClientEvent>)) {
        let mut presence = lock(&self.shared.presence);
        let mut wanted = false;
        self.shared.handlers.update_with(&mut |table| {
            change(table);
            wanted = wants_presence(table);
        });
        if presence.declined && wanted {
            *presence = PresenceInterest::default();
            let frame = Frame::PresenceInterest { wanted: true }.encode();
            self.shared.outbox.push_control(frame);
        }
    }

    /// The connection loop took a presence notice that no handler wanted.
    /// After [`PRESENCE_DECLINE_AFTER`] of them the server is asked to stop
    /// sending them (a server with many clients would otherwise send each
    /// client every other one's comings and goings).
    pub(crate) fn unhandled_presence_notice(&self) {
        let mut presence = lock(&self.shared.presence);
        if presence.declined || wants_presence(&self.shared.handlers.current()) {
            return;
        }
        presence.unhandled += 1;
        if presence.unhandled >= PRESENCE_DECLINE_AFTER {
            presence.declined = true;
            let frame = Frame::PresenceInterest { wanted: false }.encode();
            self.shared.outbox.push_control(frame);
        }
    }
}
