//! The handshake of a connection on the server: the hello (and the
//! `Resume` before it), the checks of [`handshake`] in their documented
//! order (version, names, the auth hook, capacity), then the `Welcome`
//! (and `Session`) of a new client, or a resuming client returned for its
//! session's task (PROTOCOL.md sections 4 and 13.1).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;

use super::connection::Links;
use super::registry::{ClientEntry, ConnControl, Registry};
use super::resumption::{Resumable, Takeover};
use super::{AuthRequest, Server, ServerConfig};
use crate::close::CloseReason;
use crate::info::ClientInfo;
use crate::outbox::Outbox;
use crate::pending::PendingRequests;
use crate::platform::locks::read_lock;
use crate::protocol::handshake::{self, FirstFrame, Hello, SessionParams, Verdict};
use crate::protocol::resume::{self, ResumeOutcome};
use crate::stream::OutgoingStreams;
use crate::transport::{FrameStream, TransportKind};

type Stream = Pin<Box<dyn FrameStream>>;

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
    pub resumable: Option<Resumable>,
}

/// How the handshake ended.
pub(super) enum Admission {
    /// A new client, registered and welcomed.
    Joined(Joined),
    /// A client resuming a session, checked: its connection goes to the
    /// session's task, or it joins as a new client if that fails.
    Resuming(Resuming),
    /// Refused, or gone.
    Gone,
}

/// A resuming client that passed the handshake's checks.
pub(super) struct Resuming {
    pub token: bytes::Bytes,
    pub received: u64,
    /// The auth hook passed it (false: it was not asked, as configured,
    /// and must be if the resume fails and the client joins anew).
    pub authed: bool,
    pub hello: Hello,
    pub extensions: super::Extensions,
}

/// The session values a server's `Welcome` carries.
pub(super) fn session_params(config: &ServerConfig) -> SessionParams {
    SessionParams {
        keepalive_interval: config.keepalive_interval,
        keepalive_timeout: Some(config.keepalive_timeout),
        max_frame_len: config.max_frame_len,
    }
}

/// The handshake's frames of a resumed session, ahead of what the client
/// missed: `Welcome` (its id, as before), then `Session{resumed}` with the
/// count of its frames the server has (`received`).
pub(super) fn resumed_frames(
    info: &ClientInfo,
    token: &[u8],
    received: u64,
    config: &ServerConfig,
) -> Vec<bytes::Bytes> {
    vec![
        handshake::welcome_frame(info, &session_params(config)),
        resume::session_frame(
            token,
            ResumeOutcome::Resumed,
            received,
            config.session_window,
        ),
    ]
}

/// Waits for the hello and runs the admission checks of [`handshake`] in
/// their documented order (the auth hook in between); a new client is
/// then registered and welcomed, a resuming one returned for its session.
pub(super) async fn admit(
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
pub(super) async fn passes_auth(
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
pub(super) fn join(
    links: Links<'_>,
    hello: Hello,
    extensions: super::Extensions,
    peer_addr: Option<SocketAddr>,
    kind: TransportKind,
    asked: Option<ResumeOutcome>,
) -> Option<Joined> {
    let Links { server, outbox, .. } = links;
    let config = &server.inner.config;
    let info = ClientInfo {
        id: server.next_client_id(),
        name: hello.name,
        group: hello.group,
        addr: peer_addr,
        transport: kind,
    };
    let mut registry = server.inner.registry.write();
    if !has_room(links, &registry) {
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
    let mut session = None;
    if let Some(outcome) = asked {
        // A new session, or none when the server keeps none (window 0,
        // outcome 6: PROTOCOL.md section 13.1).
        let frame = match server.open_session(info.id) {
            Some((sender, resumable)) => {
                outbox.start_session(config.replay_limit);
                let frame =
                    resume::session_frame(&resumable.token, outcome, 0, config.session_window);
                session = Some((sender, resumable));
                frame
            }
            None => resume::session_frame(&[], ResumeOutcome::Disabled, 0, Duration::ZERO),
        };
        if outbox.try_push(frame).is_err() {
            return None;
        }
    }
    Some(register(links, &mut registry, info, extensions, session))
}

/// Whether the server has room for one more client; if not, the refusal
/// is queued.
pub(super) fn has_room(links: Links<'_>, registry: &Registry) -> bool {
    let config = &links.server.inner.config;
    match handshake::check_capacity(registry.len(), config.max_connections) {
        Ok(()) => true,
        Err(reason) => {
            refuse(links.server, links.outbox, &reason);
            false
        }
    }
}

/// Puts a client that passed the handshake, with its session if it has
/// one, in the registry (under the lock the caller checked for room
/// with), on this connection's queue, control and requests.
pub(super) fn register(
    links: Links<'_>,
    registry: &mut Registry,
    info: ClientInfo,
    extensions: super::Extensions,
    session: Option<(mpsc::Sender<Takeover>, Resumable)>,
) -> Joined {
    let Links {
        server,
        outbox,
        control,
        pending,
    } = links;
    let (handover, resumable) = session.unzip();
    control.set_client(info.id);
    server.inner.counters.joined(info.transport);
    let joined = Joined {
        extensions,
        info,
        control: control.clone(),
        pending: pending.clone(),
        outgoing: Arc::new(OutgoingStreams::new(server.inner.config.max_streams)),
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
    joined
}
