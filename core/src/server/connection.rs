//! One client's connection on the server: its task, from the first frame
//! to the last. The handshake (`admission.rs`) runs with the writer
//! beside it; then [`Session`] takes over, in this task too. For a client
//! with a resumable session, this task keeps the session through breaks
//! and serves each connection that resumes it (`session_break.rs`), and a
//! connection that resumes a session hands itself over to that session's
//! task.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use futures::SinkExt;
use tracing::Instrument;

use super::admission::{admit, join, passes_auth, Admission};
use super::cluster::handover::Answer;
use super::registry::ConnControl;
use super::resumption::{Handover, Takeover};
use super::session::{LoopEnd, Session};
use super::session_break;
use super::session_move;
use super::Server;
use crate::close::{codes, CloseReason};
use crate::outbox::Outbox;
use crate::pending::{drive_deadlines, PendingRequests};
use crate::platform::timer::{Clock, DeadlineTimer};
use crate::protocol::closing::Ending;
use crate::protocol::resume::ResumeOutcome;
use crate::transport::{Connection, FrameSink};

type Sink = Pin<Box<dyn FrameSink>>;

/// Serves one connection from hello to close.
pub(crate) async fn serve(server: Server, conn: Connection) {
    let Connection {
        mut stream,
        mut sink,
        peer_addr,
        kind,
        ..
    } = conn;
    let control = Arc::new(ConnControl::default());
    // Control frames (stream acks and cancels) past the queue's headroom
    // end the connection as any other overflow does.
    let outbox = Arc::new(
        Outbox::with_overflow_hook(server.inner.config.outbox_limit, {
            let control = control.clone();
            Box::new(move |queued, limit| control.overflowed(control.client(), queued, limit))
        })
        .counting_into(server.inner.counters.sent.clone()),
    );
    // Requests the application makes to this client; their deadlines are
    // driven beside the session and the writer.
    let pending = Arc::new(Mutex::new(PendingRequests::new()));
    let mut deadlines = DeadlineTimer::new(Clock::Tokio);
    let span = tracing::info_span!(
        "conn",
        client = tracing::field::Empty,
        addr = peer_addr.map(tracing::field::display),
        transport = %kind
    );
    let links = Links {
        server: &server,
        outbox: &outbox,
        control: &control,
        pending: &pending,
    };

    // The handshake, beside the writer (a refusal leaves through it).
    let admitted = attached(
        links,
        admit(links, &mut stream, peer_addr, kind).instrument(span.clone()),
        &mut sink,
        &mut deadlines,
    )
    .await;
    // The node a session moved here from, when it did.
    let mut moved_from = None;
    let joined = match admitted {
        Admission::Joined(joined) => joined,
        Admission::Gone => return,
        Admission::Resuming(resuming) => {
            let handover = Box::new(Handover {
                stream,
                sink,
                peer_received: resuming.received,
                addr: peer_addr,
                kind,
            });
            let (mut outcome, handover) = match server.offer_resume(&resuming.token, handover) {
                // The session's own task serves the connection now.
                Ok(()) => return,
                Err(refused) => refused,
            };
            let Handover {
                stream: back,
                sink: back_sink,
                ..
            } = *handover;
            (stream, sink) = (back, back_sink);
            // Not a token of this node's: another node may hold it.
            let cluster = server.inner.cluster.as_ref();
            let answer = match cluster {
                Some(cluster) if outcome == ResumeOutcome::UnknownToken => {
                    let asked = cluster.take_session(&resuming.token, resuming.received);
                    Some(asked.instrument(span.clone()).await)
                }
                _ => None,
            };
            if let Some(Answer::Session { from, session }) = answer {
                let client = session.member.info.id;
                let extensions = resuming.extensions;
                match session_move::join_moved(links, from, *session, extensions, peer_addr, kind) {
                    Some(joined) => {
                        moved_from = Some(from);
                        joined
                    }
                    None => {
                        server.tell_node_taken(from, client, false);
                        attached(links, async { Admission::Gone }, &mut sink, &mut deadlines).await;
                        return;
                    }
                }
            } else {
                if let Some(Answer::Refused(refused)) = answer {
                    outcome = refused;
                }
                // Not resumed: a client let through unasked is asked now.
                if !resuming.authed {
                    let asked = passes_auth(
                        links,
                        &resuming.hello,
                        &resuming.extensions,
                        peer_addr,
                        kind,
                    );
                    if !attached(links, asked, &mut sink, &mut deadlines).await {
                        attached(links, async { Admission::Gone }, &mut sink, &mut deadlines).await;
                        return;
                    }
                }
                let joined = join(
                    links,
                    resuming.hello,
                    resuming.extensions,
                    peer_addr,
                    kind,
                    Some(outcome),
                );
                match joined {
                    Some(joined) => joined,
                    None => {
                        // Refused for capacity: the `Refuse` leaves through the writer.
                        attached(links, async { Admission::Gone }, &mut sink, &mut deadlines).await;
                        return;
                    }
                }
            }
        }
    };
    span.record("client", joined.info.id);
    tracing::debug!(parent: &span, name = ?joined.info.name, group = ?joined.info.group, "joined");
    // The session lives here, outside the futures of each connection, so
    // that it outlives a connection that breaks.
    let mut session = Session::new(server.clone(), joined, outbox.clone(), stream);
    match moved_from {
        Some(node) => {
            session.begin_moved();
            server.tell_node_taken(node, session.info.id, true);
        }
        None => session.begin(),
    }
    let mut next = attached(
        links,
        serve_connection(&mut session).instrument(span.clone()),
        &mut sink,
        &mut deadlines,
    )
    .await;
    loop {
        let (takeover, moved) = match next {
            Next::Done => return,
            Next::Moved(takeover) => (takeover, true),
            Next::Broke => {
                // The old connection is let go now (after a keepalive
                // timeout it may still be open): no `Close`, which would
                // end the session.
                drop(std::mem::replace(&mut sink, handover_placeholder()));
                let break_over = session_break::ride_out(&mut session, &pending, &mut deadlines);
                match break_over.instrument(span.clone()).await {
                    Some(takeover) => (takeover, false),
                    None => return,
                }
            }
        };
        outbox.writer_dropped();
        let old = std::mem::replace(&mut sink, handover_placeholder());
        // The old connection: after a break it is gone; when the session
        // moved it may still be open, and is told (PROTOCOL.md 13.5).
        if moved {
            session_break::close_moved(old);
        }
        let handover = match takeover {
            Takeover::Here(handover) => handover,
            Takeover::Node(taker) => {
                let sent = session_move::send_away(&mut session, taker, links, &mut deadlines);
                if sent.instrument(span.clone()).await {
                    return;
                }
                // Not taken: the session stays here, broken.
                next = Next::Broke;
                continue;
            }
        };
        let Some(next_sink) = session.attach(*handover) else {
            let ending = Ending::Local {
                reason: CloseReason::new(codes::SESSION_MOVED, "the session could not be resumed"),
                run_leave: true,
                close_queued: true,
            };
            let end = session_break::end_without_connection(&mut session, ending, None);
            while_requests_wait(&pending, &mut deadlines, end.instrument(span.clone())).await;
            return;
        };
        sink = next_sink;
        let run = serve_connection(&mut session).instrument(span.clone());
        next = attached(links, run, &mut sink, &mut deadlines).await;
    }
}

/// A sink that takes nothing, in place of one handed elsewhere.
fn handover_placeholder() -> Sink {
    Box::pin(futures::sink::drain().sink_map_err(|never: std::convert::Infallible| match never {}))
}

/// What the connection task does after a connection of the session.
pub(super) enum Next {
    /// Nothing: the client left.
    Done,
    /// The connection of a client with a session broke: keep the session.
    Broke,
    /// A resuming connection (here or on another node) took the session
    /// over.
    Moved(Takeover),
}

/// What the work beside the writer ended with, for the writer: after a
/// goodbye (or a refusal) it drains the queue; otherwise the connection
/// goes on, or on elsewhere, and the writer is simply dropped.
pub(super) trait AfterWork: Sized {
    /// The queue is closing: drain it, then close the transport.
    fn said_goodbye(&self) -> bool;
    /// What to end the work with when the transport of a session failed
    /// for writing (`None`: let the work notice).
    fn broke() -> Option<Self>;
}

impl AfterWork for Next {
    fn said_goodbye(&self) -> bool {
        matches!(self, Next::Done)
    }
    fn broke() -> Option<Self> {
        Some(Next::Broke)
    }
}

/// The auth hook's verdict on a resume that failed: the connection goes
/// on either way (a refusal then leaves as `Admission::Gone`).
impl AfterWork for bool {
    fn said_goodbye(&self) -> bool {
        false
    }
    fn broke() -> Option<Self> {
        None
    }
}

impl AfterWork for Admission {
    fn said_goodbye(&self) -> bool {
        matches!(self, Admission::Gone)
    }
    fn broke() -> Option<Self> {
        None
    }
}

/// What every connection of this task shares.
#[derive(Clone, Copy)]
pub(super) struct Links<'a> {
    pub server: &'a Server,
    pub outbox: &'a Arc<Outbox>,
    pub control: &'a Arc<ConnControl>,
    pub pending: &'a Arc<Mutex<PendingRequests>>,
}

/// Runs the session's current connection; on its end, says goodbye (the
/// client leaves) unless the session outlives it.
async fn serve_connection(session: &mut Session) -> Next {
    match session.run_connection().await {
        LoopEnd::Moved(handover) => Next::Moved(handover),
        LoopEnd::Ended(ending) if session.keeps_session(&ending) => {
            tracing::debug!(?ending, "connection broke");
            Next::Broke
        }
        LoopEnd::Ended(ending) => {
            session.finish(ending).await;
            Next::Done
        }
    }
}

/// Runs `work` (the handshake, or a session's connection) beside the
/// writer of `sink` in this task, and the deadlines of requests to the
/// client. After a goodbye the writer drains the queue, within the flush
/// timeout. A failed write breaks the connection of a client with a
/// session at once (`Next::Broke`); without one, the session notices
/// (its sends are refused, its reads end) and still says goodbye.
pub(super) async fn attached<T: AfterWork>(
    links: Links<'_>,
    work: impl Future<Output = T>,
    sink: &mut Sink,
    deadlines: &mut DeadlineTimer,
) -> T {
    let Links {
        server,
        outbox,
        control,
        pending,
    } = links;
    // The writer runs in this task, beside the session, not on a task of
    // its own: a reply is written in the same turn that produced it (no
    // hop to another task, often on another thread), and an idle
    // connection costs one task, not two.
    let writer = outbox.write_connection(sink);
    let mut work = std::pin::pin!(work);
    let mut writer = std::pin::pin!(writer);
    let mut writer_done = false;
    let done = std::future::poll_fn(|cx| {
        // The work first, then the writer, in every turn: what the work
        // queued leaves in the same turn, without a wake-up of its own.
        // Again after the writer when the work stepped aside for it
        // (`Outbox::writer_turn`).
        loop {
            outbox.writer_polls_next();
            if let Poll::Ready(done) = work.as_mut().poll(cx) {
                return Poll::Ready(done);
            }
            if !writer_done {
                if let Poll::Ready(written) = writer.as_mut().poll(cx) {
                    writer_done = true;
                    match written {
                        Err(err) if outbox.has_session() => {
                            tracing::debug!(%err, "writer stopped; the session is kept");
                            if let Some(broke) = T::broke() {
                                return Poll::Ready(broke);
                            }
                        }
                        Err(err) => tracing::debug!(%err, "writer stopped"),
                        Ok(()) => {}
                    }
                    outbox.finish_writer();
                }
            }
            if !outbox.took_writer_turn() {
                break;
            }
        }
        // After the writer, as on the client: one timer for all requests.
        drive_deadlines(pending, deadlines, cx);
        Poll::Pending
    })
    .await;
    if writer_done || !done.said_goodbye() {
        return done;
    }
    // The writer ends once the outbox is closed and drained; a peer that
    // stops reading gets `flush_timeout`, then is cut, and what it did
    // not get is counted.
    outbox.close_with(None);
    let flush_timeout = server.inner.config.flush_timeout;
    if tokio::time::timeout(flush_timeout, writer.as_mut())
        .await
        .is_err()
    {
        server.cut_before_drained(control.client(), outbox.undelivered());
    }
    outbox.finish_writer();
    done
}

/// Runs `work` while driving the deadlines of requests to the client.
pub(super) async fn while_requests_wait<T>(
    pending: &Arc<Mutex<PendingRequests>>,
    deadlines: &mut DeadlineTimer,
    work: impl Future<Output = T>,
) -> T {
    let mut work = std::pin::pin!(work);
    std::future::poll_fn(|cx| {
        let done = work.as_mut().poll(cx);
        drive_deadlines(pending, deadlines, cx);
        done
    })
    .await
}
