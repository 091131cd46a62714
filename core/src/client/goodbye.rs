//! The end of the client's connection: the closing plan
//! ([`closing::plan`], shared with the server) carried out. The reason is
//! recorded, requests, `recv`s and streams fail with it, the `Close` the
//! plan calls for goes out last, `force_disconnect` fires when the server
//! ended it, and handlers for events already received still run.

use futures::StreamExt;

use super::driver::Reader;
use super::events::Extras;
use super::{lock, reserved};
use crate::protocol::closing::{self, Ending, Side};
use crate::protocol::reconnect::ConnectionState;

impl Reader {
    pub(super) async fn finish<R: super::lifecycle::Reconnects>(&mut self, ending: Ending) {
        let shared = self.client.shared.clone();
        let plan = closing::plan(Side::Client, ending);
        let reason = plan.reason.clone();
        // The application's own `close` recorded its reason first: it needs
        // no `disconnected` to learn of it.
        let closed_by_application = {
            let mut slot = lock(&shared.close_reason);
            let was_set = slot.is_some();
            if !was_set {
                *slot = Some(reason.clone());
            }
            was_set
        };
        tracing::debug!(%reason, "client connection ended");
        self.client.set_state(ConnectionState::Closed);
        if !closed_by_application {
            R::closed_for_good(self, &reason);
        }
        lock(&shared.pending).close(&reason);
        lock(&shared.inbox).close(&reason);
        self.incoming.close(&reason);
        shared.outgoing.close(&reason);
        shared.outbox.close_with(plan.close_frame());
        if plan.by_peer {
            let extras = Extras {
                close: Some(reason.clone()),
                ..Extras::default()
            };
            self.reserved_event(reserved::FORCE_DISCONNECT, extras);
        }
        // Events already received still get their handlers.
        if let Some(job) = self.current.take() {
            job.await;
        }
        while let Some(job) = self.queue.pop_front() {
            job.await;
        }
        while self.concurrent.next().await.is_some() {}
    }
}
