//! The handler executor of one connection: in-order handler runs (the
//! current one and the queue behind it) and threaded runs on tasks of
//! their own. Two measured tricks live here and only here: a handler is
//! first polled with a no-op waker the moment its event is read (most
//! finish at once and need no queue slot, no task and no wake-up), and a
//! finished run's allocation serves the next run (no allocation per
//! event on W1; see bench/README.md).

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use super::context::ServerEvent;
use super::peer::Peer;
use super::Server;
use crate::dispatch::{CallSlot, Outcome, Registered, Rejection};
use crate::frame::{ErrorCode, NO_REQUEST};

/// One handler run: the handler's future; its outcome is then sent back
/// by whoever polls it. A plain struct rather than a boxed `async` block:
/// one allocation less per event.
pub(super) struct Job {
    call: CallSlot,
    command: Arc<str>,
    request_id: u64,
    /// When the request arrived (requests only), for the server's figures.
    started: Option<Instant>,
    /// The handler panicked: its slot holds a broken future, not to be
    /// reused.
    panicked: bool,
}

impl Job {
    /// A run that did not finish at once. A request's run counts as
    /// outstanding for the client's limit until it answers.
    fn new(
        registered: &Registered<ServerEvent>,
        call: CallSlot,
        request_id: u64,
        started: Option<Instant>,
        peer: &Peer,
    ) -> Self {
        if request_id != NO_REQUEST {
            peer.control.request_started();
        }
        Job {
            call,
            command: registered.name.clone(),
            request_id,
            started,
            panicked: false,
        }
    }

    /// Polls the handler (see [`poll_guarded`]).
    fn poll_outcome(&mut self, cx: &mut Context<'_>) -> Poll<Outcome> {
        poll_guarded(&mut self.call, cx, &mut self.panicked)
    }

    fn respond(&self, peer: &Peer, outcome: Outcome) {
        if self.request_id != NO_REQUEST {
            peer.control.request_answered();
        }
        peer.respond(&self.command, self.request_id, outcome);
        if let Some(started) = self.started {
            peer.request_times.answered(started);
        }
    }

    /// Runs the handler to the end and answers through `peer`.
    pub(super) async fn run(mut self, peer: &Peer) {
        let outcome = poll_fn(|cx| self.poll_outcome(cx)).await;
        self.respond(peer, outcome);
    }
}

/// The clock read of a request, out of the event path's way.
#[cold]
#[inline(never)]
fn request_arrived() -> Option<Instant> {
    Some(Instant::now())
}

/// Polls a handler call. A panicking handler becomes a failed outcome (and
/// sets `panicked`); it never takes the connection down.
fn poll_guarded(call: &mut CallSlot, cx: &mut Context<'_>, panicked: &mut bool) -> Poll<Outcome> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call.as_mut().poll_call(cx))) {
        Ok(polled) => polled,
        Err(_) => {
            tracing::error!("handler panicked");
            *panicked = true;
            Poll::Ready(Err(Rejection::new(
                ErrorCode::HandlerFailed,
                "handler panicked",
            )))
        }
    }
}

/// A threaded handler's job: it runs on a task of its own, so it carries
/// the connection's sending side to answer through.
struct DetachedJob {
    job: Job,
    peer: Peer,
}

impl Future for DetachedJob {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let outcome = std::task::ready!(this.job.poll_outcome(cx));
        this.job.respond(&this.peer, outcome);
        Poll::Ready(())
    }
}

/// Largest handler future whose allocation a connection keeps for the next
/// call: W1's handlers need far less; a larger one is freed when it ends.
const MAX_SPARE_CALL_BYTES: usize = 512;

/// A connection's in-order handler runs: the current one and the queue
/// behind it.
#[derive(Default)]
pub(super) struct Jobs {
    pub(super) current: Option<Job>,
    pub(super) queue: VecDeque<Job>,
    /// The allocation of the last run that finished, for the next run of
    /// the same handler.
    spare: Option<CallSlot>,
}

impl Jobs {
    /// Schedules a handler: in order, or on its own task when threaded.
    pub(super) fn schedule(
        &mut self,
        server: &Server,
        peer: &Peer,
        registered: &Registered<ServerEvent>,
        ctx: &mut Option<ServerEvent>,
        request_id: u64,
    ) {
        // Events are not timed: a branch, not a clock read, per event.
        let started = if request_id == NO_REQUEST {
            None
        } else {
            request_arrived()
        };
        if registered.threaded {
            let call = registered.handler.call_reusing(ctx, &mut None);
            let job = Job::new(registered, call, request_id, started, peer);
            let peer = peer.clone();
            server.inner.tasks.spawn(DetachedJob { job, peer });
            return;
        }
        let mut call = registered.handler.call_reusing(ctx, &mut self.spare);
        if self.current.is_some() {
            self.queue
                .push_back(Job::new(registered, call, request_id, started, peer));
            return;
        }
        // Nothing runs ahead of it: it runs now, as far as it gets. Most
        // handlers finish at once and then need no queue, and their
        // allocation serves the next event. One that waits becomes the
        // current job, which the event loop polls again, with its own
        // waker, before it sleeps.
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        let mut panicked = false;
        match poll_guarded(&mut call, &mut cx, &mut panicked) {
            Poll::Ready(outcome) => {
                peer.respond(&registered.name, request_id, outcome);
                if let Some(started) = started {
                    peer.request_times.answered(started);
                }
                self.keep(call, panicked);
            }
            Poll::Pending => {
                self.current = Some(Job::new(registered, call, request_id, started, peer))
            }
        }
    }

    /// Keeps a finished call's allocation for the next, unless the handler
    /// panicked in it or its future is large (an idle connection keeps its
    /// spare: a handler holding a big buffer across an `.await` would
    /// leave that much on every idle connection it last ran on).
    fn keep(&mut self, call: CallSlot, panicked: bool) {
        if !panicked && std::mem::size_of_val(call.as_ref().get_ref()) <= MAX_SPARE_CALL_BYTES {
            self.spare = Some(call);
        }
    }

    /// Polls the current job, and the ones behind it as long as each
    /// finishes at once, answering through `peer`. Ready when at least one
    /// finished.
    pub(super) fn poll(&mut self, cx: &mut Context<'_>, peer: &Peer) -> Poll<()> {
        let mut finished = false;
        while let Some(job) = self.current.as_mut() {
            match job.poll_outcome(cx) {
                Poll::Ready(outcome) => {
                    let next = self.queue.pop_front();
                    if let Some(job) = std::mem::replace(&mut self.current, next) {
                        job.respond(peer, outcome);
                        self.keep(job.call, job.panicked);
                    }
                    finished = true;
                }
                Poll::Pending => break,
            }
        }
        if finished {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
