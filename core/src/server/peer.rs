//! The sending side of one connection on the server.

use std::sync::Arc;

use bytes::Bytes;

use super::registry::ConnControl;
use super::stats::RequestTimes;
use crate::dispatch::{outcome_frame, Outcome};
use crate::outbox::Outbox;

/// The sending side of a connection, cheap to clone into handler jobs.
#[derive(Clone)]
pub(crate) struct Peer {
    pub outbox: Arc<Outbox>,
    pub control: Arc<ConnControl>,
    /// The client's id, for the log line when its queue overflows.
    pub client: u64,
    /// Where answered requests are timed (the server's counters).
    pub request_times: Arc<RequestTimes>,
}

impl Peer {
    /// Queues a frame; a client whose queue overflows is disconnected.
    pub fn send(&self, frame: Bytes) {
        match self.outbox.try_push(frame) {
            Ok(()) => {}
            Err(crate::outbox::PushError::Full { queued, limit }) => {
                self.control.overflowed(self.client, queued, limit)
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
