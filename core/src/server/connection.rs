//! One client's connection on the server, up to the handshake: the
//! hello, the checks (version, auth hook, capacity), the welcome, with
//! the writer beside them in the same task. Then [`Session`] takes over,
//! in this task too; for a client with a resumable session, this task
//! keeps the session through breaks and serves each connection that
//! resumes it (`session_break.rs`), and a connection that resumes a
//! session hands itself over to that session's task.
//!
//! (Past 450 lines: the connection's task from its first frame to its
//! last, through breaks and resumes, is one concept, and its phases share
//! the writer and the request deadlines.)

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tracing::Instrument;

use super::registry::{ClientEntry, ConnControl};
use super::resumption::Handover;
use super::session::{LoopEnd, Session};
use super::session_break;
use super::{AuthRequest, Server, ServerConfig};
use crate::close::{codes, CloseReason};
use crate::info::ClientInfo;
use crate::outbox::Outbox;
use crate::pending::{drive_deadlines, PendingRequests};
use crate::platform::locks::read_lock;
use crate::platform::timer::{Clock, DeadlineTimer};
use crate::protocol::closing::Ending;
use crate::protocol::handshake::{self, FirstFrame, Hello, SessionParams, Verdict};
use crate::protocol::resume::{self, ResumeOutcome};
use crate::stream::OutgoingStreams;
use crate::transport::{Connection, FrameSink, FrameStream, TransportKind};

type Stream = Pin<Box<dyn FrameStream>>;
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
            let (outcome, handover) = match server.offer_resume(&resuming.token, handover) {
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
    };
    span.record("client", joined.info.id);
    tracing::debug!(parent: &span, name = ?joined.info.name, group = ?joined.info.group, "joined");
    // The session lives here, outside the futures of each connection, so
    // that it outlives a connection that breaks.
    let mut session = Session::new(server.clone(), joined, outbox.clone(), stream);
    session.begin();
    loop {
        let run = serve_connection(&mut session).instrument(span.clone());
        let next = attached(links, run, &mut sink, &mut deadlines).await;
        let (handover, moved) = match next {
            Next::Done => return,
            Next::Moved(handover) => (handover, true),
            Next::Broke => {
                // The old connection is let go now (after a keepalive
                // timeout it may still be open): no `Close`, which would
                // end the session.
                drop(std::mem::replace(&mut sink, handover_placeholder()));
                let break_over = session_break::ride_out(&mut session, &pending, &mut deadlines);
                match break_over.instrument(span.clone()).await {
                    Some(handover) => (handover, false),
                    None => return,
                }
            }
        };
        outbox.writer_dropped();
        let old = std::mem::replace(&mut sink, handover_placeholder());
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
        // The old connection: after a break it is gone; when the session
        // moved it may still be open, and is told (PROTOCOL.md 13.5).
        if moved {
            session_break::close_moved(old);
        }
        sink = next_sink;
    }
}

/// A sink that takes nothing, in place of one handed elsewhere.
fn handover_placeholder() -> Sink {
    Box::pin(futures::sink::drain().sink_map_err(|never: std::convert::Infallible| match never {}))
}

/// What the connection task does after a connection of the session.
enum Next {
    /// Nothing: the client left.
    Done,
    /// The connection of a client with a session broke: keep the session.
    Broke,
    /// A resuming connection took the session over.
    Moved(Box<Handover>),
}

/// What the work beside the writer ended with, for the writer: after a
/// goodbye (or a refusal) it drains the queue; otherwise the connection
/// goes on, or on elsewhere, and the writer is simply dropped.
trait AfterWork: Sized {
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
struct Links<'a> {
    server: &'a Server,
    outbox: &'a Arc<Outbox>,
    control: &'a Arc<ConnControl>,
    pending: &'a Arc<Mutex<PendingRequests>>,
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
async fn attached<T: AfterWork>(
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

/// Waits for a frame of the handshake until `deadline`, or until the
/// server begins shutting down.
async fn first_frame(
    server: &Server,
    stream: &mut Stream,
    deadline: tokio::time::Instant,
) -> FirstFrame {
    tokio::select! {
        first = tokio::time::timeout_at(deadline, stream.next()) => match first {
            Err(_) => FirstFrame::TimedOut,
            Ok(None) => FirstFrame::Closed,
            Ok(Some(read)) => FirstFrame::Read(read),
        },
        _ = server.inner.shutdown.cancelled() => FirstFrame::ShuttingDown,
    }
}

fn refuse(server: &Server, outbox: &Outbox, reason: &CloseReason) {
    tracing::debug!(code = reason.code, reason = %reason.reason, "refusing client");
    server.inner.counters.refused(reason.code);
    outbox.close_with(Some(handshake::refuse_frame(reason)));
}

/// A client that passed the handshake and is in the registry.
pub(super) struct Joined {
    pub info: ClientInfo,
    pub extensions: super::Extensions,
    pub control: Arc<ConnControl>,
    pub pending: Arc<Mutex<PendingRequests>>,
    pub outgoing: Arc<OutgoingStreams>,
    pub resumable: Option<super::resumption::Resumable>,
}

/// How the handshake ended.
enum Admission {
    /// A new client, registered and welcomed.
    Joined(Joined),
    /// A client resuming a session, checked: its connection goes to the
    /// session's task, or it joins as a new client if that fails.
    Resuming(Resuming),
    /// Refused, or gone.
    Gone,
}

/// A resuming client that passed the handshake's checks.
struct Resuming {
    token: bytes::Bytes,
    received: u64,
    /// The auth hook passed it (false: it was not asked, as configured,
    /// and must be if the resume fails and the client joins anew).
    authed: bool,
    hello: Hello,
    extensions: super::Extensions,
}

/// The session values a server's `Welcome` carries.
pub(super) fn session_params(config: &ServerConfig) -> SessionParams {
    SessionParams {
        keepalive_interval: config.keepalive_interval,
        keepalive_timeout: Some(config.keepalive_timeout),
        max_frame_len: config.max_frame_len,
    }
}

/// Waits for the hello and runs the admission checks of [`handshake`] in
/// their documented order (the auth hook in between); a new client is
/// then registered and welcomed, a resuming one returned for its session.
async fn admit(
    links: Links<'_>,
    stream: &mut Stream,
    peer_addr: Option<SocketAddr>,
    kind: TransportKind,
) -> Admission {
    let Links { server, outbox, .. } = links;
    let config = &server.inner.config;
    // One deadline for the `Hello`, and for the `Resume` before it.
    let deadline = tokio::time::Instant::now() + config.handshake_timeout;
    let mut verdict = handshake::check_first(first_frame(server, stream, deadline).await);
    let mut resume = None;
    if let Verdict::Resume(request) = verdict {
        resume = Some(request);
        verdict = handshake::check_after_resume(first_frame(server, stream, deadline).await);
    }
    let hello = match verdict {
        Verdict::Hello(hello) => hello,
        Verdict::Refuse(reason) => {
            refuse(server, outbox, &reason);
            return Admission::Gone;
        }
        Verdict::Resume(_) | Verdict::Drop => {
            tracing::debug!("closed before the handshake");
            return Admission::Gone;
        }
    };

    if let Err(reason) = handshake::check_names(&hello, config.max_name_len, config.max_group_len) {
        refuse(server, outbox, &reason);
        return Admission::Gone;
    }

    // The auth hook runs on a resume too (PROTOCOL.md section 13.1), unless
    // configured not to; a refusal leaves the session as it was.
    let extensions = super::Extensions::new();
    let resuming = resume
        .as_ref()
        .is_some_and(|request| !request.token.is_empty())
        && !server.session_window().is_zero();
    let authed = !resuming || config.auth_on_resume;
    if authed && !passes_auth(links, &hello, &extensions, peer_addr, kind).await {
        return Admission::Gone;
    }

    let asked = match resume {
        Some(request) if !request.token.is_empty() && !server.session_window().is_zero() => {
            return Admission::Resuming(Resuming {
                token: request.token,
                received: request.received,
                authed,
                hello,
                extensions,
            });
        }
        Some(_) => Some(ResumeOutcome::New),
        None => None,
    };
    match join(links, hello, extensions, peer_addr, kind, asked) {
        Some(joined) => Admission::Joined(joined),
        None => Admission::Gone,
    }
}

/// Asks the auth hook, if any, about `hello`; a refusal is queued.
async fn passes_auth(
    links: Links<'_>,
    hello: &Hello,
    extensions: &super::Extensions,
    peer_addr: Option<SocketAddr>,
    kind: TransportKind,
) -> bool {
    let Links { server, outbox, .. } = links;
    let hook = read_lock(&server.inner.auth).clone();
    let Some(hook) = hook else {
        return true;
    };
    let request = AuthRequest {
        extensions: extensions.clone(),
        name: hello.name.as_deref().map(str::to_owned),
        group: hello.group.as_deref().map(str::to_owned),
        addr: peer_addr,
        transport: kind,
        auth: hello.auth.clone(),
    };
    match handshake::check_auth(hook(request).await) {
        Ok(()) => true,
        Err(reason) => {
            refuse(server, outbox, &reason);
            false
        }
    }
}

/// Registers a client that passed the checks and queues its `Welcome`,
/// then, if it asked for a session (`asked`: the outcome to tell it), its
/// `Session`. `None` when the server is full (the refusal is queued) or
/// the connection is closing.
fn join(
    links: Links<'_>,
    hello: Hello,
    extensions: super::Extensions,
    peer_addr: Option<SocketAddr>,
    kind: TransportKind,
    asked: Option<ResumeOutcome>,
) -> Option<Joined> {
    let Links {
        server,
        outbox,
        control,
        pending,
    } = links;
    let config = &server.inner.config;
    let info = ClientInfo {
        id: server.next_client_id(),
        name: hello.name,
        group: hello.group,
        addr: peer_addr,
        transport: kind,
    };
    let mut registry = server.inner.registry.write();
    if let Err(reason) = handshake::check_capacity(registry.len(), config.max_connections) {
        drop(registry);
        refuse(server, outbox, &reason);
        return None;
    }
    // Queued before the client is visible to broadcasts, so the welcome
    // is always its first frame.
    if outbox
        .try_push(handshake::welcome_frame(&info, &session_params(config)))
        .is_err()
    {
        return None;
    }
    let mut handover = None;
    let mut resumable = None;
    if let Some(outcome) = asked {
        // A new session, or none when the server keeps none (window 0,
        // outcome 6: PROTOCOL.md section 13.1).
        let session = match server.open_session(info.id) {
            Some((sender, session)) => {
                outbox.start_session(config.replay_limit);
                let frame =
                    resume::session_frame(&session.token, outcome, 0, config.session_window);
                handover = Some(sender);
                resumable = Some(session);
                frame
            }
            None => resume::session_frame(&[], ResumeOutcome::Disabled, 0, Duration::ZERO),
        };
        if outbox.try_push(session).is_err() {
            return None;
        }
    }
    control.set_client(info.id);
    server.inner.counters.joined(kind);
    let joined = Joined {
        extensions,
        info,
        control: control.clone(),
        pending: pending.clone(),
        outgoing: Arc::new(OutgoingStreams::new(config.max_streams)),
        resumable,
    };
    registry.insert(ClientEntry {
        info: joined.info.clone(),
        extensions: joined.extensions.clone(),
        outbox: outbox.clone(),
        control: joined.control.clone(),
        pending: joined.pending.clone(),
        outgoing: joined.outgoing.clone(),
        handover,
    });
    Some(joined)
}
