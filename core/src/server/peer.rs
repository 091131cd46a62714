//! The sending side of one connection on the server.

use std::sync::Arc;

use bytes::Bytes;

use super::registry::{ConnControl, Kick};
use crate::close::{codes, CloseReason};
use crate::dispatch::{outcome_frame, Outcome};
use crate::outbox::Outbox;

/// The sending side of a connection, cheap to clone into handler jobs.
#[derive(Clone)]
pub(crate) struct Peer {
    pub outbox: Arc<Outbox>,
    pub control: Arc<ConnControl>,
}

impl Peer {
    /// Queues a frame; a client whose queue overflows is disconnected.
    pub fn send(&self, frame: Bytes) {
        match self.outbox.try_push(frame) {
            Ok(()) => {}
            Err(crate::outbox::PushError::Full { queued, limit }) => {
                tracing::warn!(
                    queued,
                    limit,
                    "outgoing queue full; disconnecting slow client"
                );
                self.control.kick(Kick {
                    reason: CloseReason::new(
                        codes::SLOW_CONSUMER,
                        format!("outgoing queue over {limit} bytes: reading too slowly"),
                    ),
                    run_leave: true,
                });
            }
            Err(crate::outbox::PushError::Closed) => {}
        }
    }

    /// Sends a handler's outcome back (see [`outcome_frame`]).
    pub fn respond(&self, command: &str, request_id: u64, outcome: Outcome) {
        if let Some(frame) = outcome_frame(command, request_id, outcome) {
            self.send(frame);
        }
    }
}
