//! A session between connections (PROTOCOL.md sections 13.5 and 13.6):
//! after a break it waits for a resuming connection while its handlers go
//! on and sends to the client wait in its queue, until the window passes,
//! the queue overflows, the application disconnects the client or the
//! server shuts down. A resuming connection is then attached: `Welcome`,
//! `Session`, what the client missed, what waited.

use std::future::poll_fn;
use std::time::Duration;

use futures::SinkExt;

use std::sync::{Arc, Mutex};

use super::admission::resumed_frames;
use super::connection::while_requests_wait;
use super::resumption::{Handover, Takeover};
use super::session::Session;
use crate::close::{codes, CloseReason};
use crate::pending::PendingRequests;
use crate::platform::timer::DeadlineTimer;
use crate::protocol::closing::{self, Ending};
use crate::protocol::resume::ResumeOutcome;
use crate::transport::FrameSink;

/// How a break ended.
enum Parked {
    /// A connection (here, or on another node) resumed the session.
    Resumed(Takeover),
    /// The session ended without a resume: the application disconnected
    /// the client or the server is shutting down.
    Ended(Ending),
    /// The session expired: its window passed, or its queue overflowed
    /// during the break (the reason says which); `session_expired`, then
    /// `leave`, run.
    Expired(CloseReason),
}

/// How long the `Close{4013}` to a connection that lost its session to a
/// resuming one may take (best effort: that connection is usually dead).
const MOVED_CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

impl Session {
    /// Waits, with the connection broken, for what ends the break.
    async fn park(&mut self) -> Parked {
        let Some(token) = self.resumable.as_ref().map(|r| r.token) else {
            return Parked::Ended(Ending::Eof);
        };
        let until = self.server.session_broke(&token);
        tracing::debug!(window = ?self.server.session_window(), "connection broke; session kept");
        let expiry = tokio::time::sleep_until(tokio::time::Instant::from_std(until));
        tokio::pin!(expiry);
        let control = self.peer.control.clone();
        let kicked = control.notified();
        tokio::pin!(kicked);
        let shutdown = self.server.inner.shutdown.clone();
        let shutting_down = shutdown.cancelled();
        tokio::pin!(shutting_down);
        loop {
            tokio::select! {
                biased;
                handover = poll_fn(|cx| match self.resumable.as_mut() {
                    Some(r) => r.handovers.poll_recv(cx),
                    None => std::task::Poll::Ready(None),
                }) => match handover {
                    Some(handover) => return Parked::Resumed(handover),
                    None => return Parked::Ended(Ending::Eof),
                },
                _ = &mut kicked => {
                    if let Some(kick) = control.take() {
                        if kick.reason.code == codes::SLOW_CONSUMER {
                            self.server.session_ended(&token, ResumeOutcome::Overflow);
                            return Parked::Expired(CloseReason::new(
                                codes::SESSION_OVERFLOW,
                                "session overflow: more was queued during the break than the outgoing queue holds",
                            ));
                        }
                        return Parked::Ended(Ending::Local {
                            reason: kick.reason,
                            run_leave: kick.run_leave,
                            close_queued: true,
                        });
                    }
                    kicked.set(control.notified());
                }
                _ = &mut shutting_down => {
                    let Ending::Local { reason, run_leave, .. } = closing::shutdown() else {
                        unreachable!("shutdown is a local ending")
                    };
                    return Parked::Ended(Ending::Local { reason, run_leave, close_queued: true });
                }
                _ = poll_fn(|cx| self.jobs.poll(cx, &self.peer)), if self.jobs.current.is_some() => {}
                _ = &mut expiry => {
                    if self.server.session_expires(&token) {
                        let window = self.server.session_window();
                        return Parked::Expired(CloseReason::new(
                            codes::ABNORMAL,
                            format!("session expired: no resume within {} ms", window.as_millis()),
                        ));
                    }
                    // A resume took the session just now: its connection
                    // is on its way (first arm). Look again later, in
                    // case its task died before handing it over.
                    expiry.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(1));
                }
            }
        }
    }

    /// Lets go of the broken connection's stream.
    fn let_go_of_stream(&mut self) {
        self.stream = Box::pin(futures::stream::empty());
    }

    /// Attaches a resuming connection: its stream replaces the old one, and
    /// its sink is returned for the writer. The queue becomes `Welcome`,
    /// `Session`, the frames the client did not receive, then what waited.
    /// `None` (the session ends, and the client, told nothing, resumes in
    /// vain and gets a new session) if the client's count no longer fits
    /// what was kept, which the checks before the hand-over make rare.
    pub(super) fn attach(
        &mut self,
        handover: Handover,
    ) -> Option<std::pin::Pin<Box<dyn FrameSink>>> {
        let Handover {
            stream,
            sink,
            peer_received,
            addr,
            kind,
        } = handover;
        let resumable = self.resumable.as_mut()?;
        let received = resumable.acks.told_on_resume();
        let token = resumable.token;
        // The client may come back from another address, or over another
        // transport.
        self.info.addr = addr;
        self.info.transport = kind;
        if let Some(entry) = self.server.inner.registry.write().get_mut(self.info.id) {
            entry.info.addr = addr;
            entry.info.transport = kind;
        }
        let config = &self.server.inner.config;
        let first = resumed_frames(&self.info, &token, received, config);
        if let Err(fault) = self.peer.outbox.resume_session(peer_received, first) {
            tracing::warn!(%fault, "cannot resume the session");
            self.server.session_ended(&token, ResumeOutcome::Gap);
            return None;
        }
        self.stream = stream;
        tracing::debug!(peer_received, received, "session resumed");
        Some(sink)
    }
}

/// Rides out a break: the resuming connection, or `None` when the
/// session ended meanwhile (its goodbye is said). Requests to the client
/// time out meanwhile as ever.
pub(super) async fn ride_out(
    session: &mut Session,
    pending: &Arc<Mutex<PendingRequests>>,
    deadlines: &mut DeadlineTimer,
) -> Option<Takeover> {
    session.let_go_of_stream();
    let waiting = &session.server.inner.counters.sessions_waiting;
    waiting.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let parked = while_requests_wait(pending, deadlines, session.park()).await;
    let waiting = &session.server.inner.counters.sessions_waiting;
    waiting.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    let (ending, expired) = match parked {
        Parked::Resumed(handover) => return Some(handover),
        Parked::Ended(ending) => (ending, None),
        Parked::Expired(reason) => {
            let ending = Ending::Local {
                reason: reason.clone(),
                run_leave: true,
                close_queued: true,
            };
            (ending, Some(reason))
        }
    };
    let end = end_without_connection(session, ending, expired);
    while_requests_wait(pending, deadlines, end).await;
    None
}

/// A session ends while it has no connection: `session_expired` first if
/// it expired (with `expired`'s reason), then the goodbye; nothing can be
/// sent, so the queue is let go.
pub(super) async fn end_without_connection(
    session: &mut Session,
    ending: Ending,
    expired: Option<CloseReason>,
) {
    if let Some(reason) = expired {
        tracing::debug!(%reason, "session expired");
        session.reserved_event(super::reserved::SESSION_EXPIRED, None, Some(reason));
    }
    session.finish(ending).await;
    session.peer.outbox.finish_writer();
}

/// Tells a connection that lost its session to a resuming one, and closes
/// it, on a task of its own (it is usually dead).
pub(super) fn close_moved(mut sink: std::pin::Pin<Box<dyn FrameSink>>) {
    let frame = closing::close_frame_for(&CloseReason::new(
        codes::SESSION_MOVED,
        "the session was resumed on another connection",
    ));
    tokio::spawn(async move {
        let _ = tokio::time::timeout(MOVED_CLOSE_TIMEOUT, async {
            sink.send(frame).await?;
            sink.close().await
        })
        .await;
    });
}
