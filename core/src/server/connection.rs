//! One client's connection on the server, up to the handshake: the
//! writer task, the hello, the checks (version, auth hook, capacity), the
//! welcome. Then [`Session`] takes over. A second task writes.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use std::future::Future;
use std::task::Poll;
use tracing::Instrument;

use super::registry::{ClientEntry, ConnControl};
use super::session::Session;
use super::{AuthRequest, Server};
use crate::close::CloseReason;
use crate::info::ClientInfo;
use crate::outbox::Outbox;
use crate::pending::{drive_deadlines, PendingRequests};
use crate::platform::locks::read_lock;
use crate::platform::timer::{Clock, DeadlineTimer};
use crate::protocol::handshake::{self, FirstFrame, SessionParams, Verdict};
use crate::stream::OutgoingStreams;
use crate::transport::{Connection, FrameStream};

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
    // driven below, beside the session and the writer.
    let pending = Arc::new(Mutex::new(PendingRequests::new()));
    let mut request_deadlines = DeadlineTimer::new(Clock::Tokio);
    // The writer runs in this task, beside the session, not on a task of its
    // own: a reply is written in the same turn that produced it (no hop to
    // another task, often on another thread), and an idle connection costs
    // one task, not two.
    let writer = async {
        if let Err(err) = outbox.run_writer(&mut sink).await {
            tracing::debug!(%err, "writer stopped");
        }
    };

    let span = tracing::info_span!(
        "conn",
        client = tracing::field::Empty,
        addr = peer_addr.map(tracing::field::display),
        transport = %kind
    );
    let session = async {
        let Some(joined) = admit(
            &server,
            &mut stream,
            &outbox,
            &control,
            &pending,
            peer_addr,
            kind,
        )
        .await
        else {
            return;
        };
        tracing::Span::current().record("client", joined.info.id);
        tracing::debug!(name = ?joined.info.name, group = ?joined.info.group, "joined");
        Session::new(server.clone(), joined, outbox.clone(), stream)
            .run()
            .await;
    }
    .instrument(span);

    let mut session = std::pin::pin!(session);
    let mut writer = std::pin::pin!(writer);
    // The session first, then the writer, in every turn: what the session
    // queued leaves in the same turn, without a wake-up of its own.
    let session_ended = std::future::poll_fn(|cx| {
        outbox.writer_polls_next();
        if session.as_mut().poll(cx).is_ready() {
            return Poll::Ready(true);
        }
        let writer_done = writer.as_mut().poll(cx).map(|()| false);
        // After the writer, as on the client: one timer for all requests.
        drive_deadlines(&pending, &mut request_deadlines, cx);
        writer_done
    })
    .await;
    if session_ended {
        // The writer ends once the outbox is closed and drained; a peer
        // that stops reading gets `flush_timeout`, then is cut, and what it
        // did not get is counted.
        outbox.close_with(None);
        let flush_timeout = server.inner.config.flush_timeout;
        if tokio::time::timeout(flush_timeout, writer.as_mut())
            .await
            .is_err()
        {
            server.cut_before_drained(control.client(), outbox.undelivered());
        }
    } else {
        // The transport failed for writing: the session notices (its
        // sends are refused, its reads end) and still says goodbye.
        // Requests to this client still time out meanwhile.
        std::future::poll_fn(|cx| {
            let ended = session.as_mut().poll(cx);
            drive_deadlines(&pending, &mut request_deadlines, cx);
            ended
        })
        .await;
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
}

/// Waits for the hello and runs the admission checks of
/// [`handshake`] in their documented order (the auth hook in between);
/// on success the client is registered and welcomed. Returns `None` when
/// the connection is refused or gone.
async fn admit(
    server: &Server,
    stream: &mut std::pin::Pin<Box<dyn FrameStream>>,
    outbox: &Arc<Outbox>,
    control: &Arc<ConnControl>,
    pending: &Arc<Mutex<PendingRequests>>,
    peer_addr: Option<SocketAddr>,
    kind: crate::transport::TransportKind,
) -> Option<Joined> {
    let config = &server.inner.config;
    let first = tokio::select! {
        first = tokio::time::timeout(config.handshake_timeout, stream.next()) => match first {
            Err(_) => FirstFrame::TimedOut,
            Ok(None) => FirstFrame::Closed,
            Ok(Some(read)) => FirstFrame::Read(read),
        },
        _ = server.inner.shutdown.cancelled() => FirstFrame::ShuttingDown,
    };
    let hello = match handshake::check_first(first) {
        Verdict::Hello(hello) => hello,
        Verdict::Refuse(reason) => {
            refuse(server, outbox, &reason);
            return None;
        }
        Verdict::Drop => {
            tracing::debug!("closed before the handshake");
            return None;
        }
    };

    if let Err(reason) = handshake::check_names(&hello, config.max_name_len, config.max_group_len) {
        refuse(server, outbox, &reason);
        return None;
    }

    let extensions = super::Extensions::new();
    let hook = read_lock(&server.inner.auth).clone();
    if let Some(hook) = hook {
        let request = AuthRequest {
            extensions: extensions.clone(),
            name: hello.name.as_deref().map(str::to_owned),
            group: hello.group.as_deref().map(str::to_owned),
            addr: peer_addr,
            transport: kind,
            auth: hello.auth.clone(),
        };
        if let Err(reason) = handshake::check_auth(hook(request).await) {
            refuse(server, outbox, &reason);
            return None;
        }
    }

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
    let params = SessionParams {
        keepalive_interval: config.keepalive_interval,
        keepalive_timeout: Some(config.keepalive_timeout),
        max_frame_len: config.max_frame_len,
    };
    // Queued before the client is visible to broadcasts, so the welcome
    // is always its first frame.
    if outbox
        .try_push(handshake::welcome_frame(&info, &params))
        .is_err()
    {
        return None;
    }
    control.set_client(info.id);
    server.inner.counters.joined(kind);
    let joined = Joined {
        extensions,
        info,
        control: control.clone(),
        pending: pending.clone(),
        outgoing: Arc::new(OutgoingStreams::new(config.max_streams)),
    };
    registry.insert(ClientEntry {
        info: joined.info.clone(),
        extensions: joined.extensions.clone(),
        outbox: outbox.clone(),
        control: joined.control.clone(),
        pending: joined.pending.clone(),
        outgoing: joined.outgoing.clone(),
    });
    Some(joined)
}
