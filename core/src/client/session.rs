//! A reconnecting client's resumable session (PROTOCOL.md section 13):
//! the token to resume it with, and the count of the server's frames it
//! received, acknowledged as section 13.3 says. What the client sent and
//! the server has not acknowledged is kept by its outgoing queue
//! (`outbox_replay.rs`).

use std::task::{Context, Poll};

use bytes::Bytes;
use futures::FutureExt;

use crate::frame::Frame;
use crate::outbox::Outbox;
use crate::platform::timer::{Clock, Delay};
use crate::protocol::resume::{self, AckDue, AckSchedule, ACK_DELAY};

/// The session a reconnecting client holds.
pub(super) struct ClientSession {
    /// What resumes it: opaque bytes from the server's `Session`.
    pub(super) token: Bytes,
    /// The server's counted frames received, and when to acknowledge.
    pub(super) acks: AckSchedule,
    /// Armed after the first frame of a stretch not yet acknowledged.
    ack_timer: Option<Delay>,
}

impl ClientSession {
    /// A new session named by `token`: nothing received yet.
    pub(super) fn new(token: Bytes) -> Self {
        Self {
            token,
            acks: AckSchedule::new(),
            ack_timer: None,
        }
    }

    /// A frame arrived from the server: counted if its kind is, and
    /// acknowledged when due.
    #[inline]
    pub(super) fn count(&mut self, frame: &[u8], outbox: &Outbox, clock: Clock) {
        if !resume::is_counted(frame) {
            return;
        }
        match self.acks.counted(frame.len()) {
            AckDue::Now(received) => outbox.push_control(Frame::Ack { received }.encode()),
            AckDue::ArmTimer => self.ack_timer = Some(clock.delay(ACK_DELAY)),
            AckDue::Nothing => {}
        }
    }

    /// Sends the `Ack` the timer was armed for, once it fires.
    pub(super) fn poll_ack_timer(&mut self, cx: &mut Context<'_>, outbox: &Outbox) {
        let Some(timer) = self.ack_timer.as_mut() else {
            return;
        };
        if timer.poll_unpin(cx) == Poll::Pending {
            return;
        }
        self.ack_timer = None;
        if let Some(received) = self.acks.timer_fired() {
            outbox.push_control(Frame::Ack { received }.encode());
        }
    }

    /// The connection broke: an armed timer would fire into nothing; the
    /// resume's count acknowledges instead.
    pub(super) fn broke(&mut self) {
        self.ack_timer = None;
    }
}
