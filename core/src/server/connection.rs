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
use crate::close::{codes, CloseReason};
use crate::error::Error;
use crate::frame::{Frame, PROTOCOL_VERSION};
use crate::info::ClientInfo;
use crate::outbox::Outbox;
use crate::pending::PendingRequests;
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
    let outbox = Arc::new(Outbox::new(server.inner.config.outbox_limit));
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
        let Some(joined) = handshake(&server, &mut stream, &outbox, peer_addr, kind).await else {
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
        writer.as_mut().poll(cx).map(|()| false)
    })
    .await;
    if session_ended {
        // The writer ends once the outbox is closed and drained, or the
        // peer stops reading; never wait on it forever.
        outbox.close_with(None);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), writer).await;
    } else {
        // The transport failed for writing: the session notices (its
        // sends are refused, its reads end) and still says goodbye.
        session.await;
    }
}

fn refuse(outbox: &Outbox, code: u16, reason: &str) {
    tracing::debug!(code, reason, "refusing client");
    outbox.close_with(Some(Frame::Refuse { code, reason }.encode()));
}

/// A client that passed the handshake and is in the registry.
pub(super) struct Joined {
    pub info: ClientInfo,
    pub control: Arc<ConnControl>,
    pub pending: Arc<Mutex<PendingRequests>>,
    pub outgoing: Arc<OutgoingStreams>,
}

/// Reads and checks the hello; on success the client is registered and
/// welcomed. Returns `None` when the connection is refused or gone.
async fn handshake(
    server: &Server,
    stream: &mut std::pin::Pin<Box<dyn FrameStream>>,
    outbox: &Arc<Outbox>,
    peer_addr: Option<SocketAddr>,
    kind: crate::transport::TransportKind,
) -> Option<Joined> {
    let config = &server.inner.config;
    let first = tokio::select! {
        first = tokio::time::timeout(config.handshake_timeout, stream.next()) => first,
        _ = server.inner.shutdown.cancelled() => {
            refuse(outbox, codes::GOING_AWAY, "server shutting down");
            return None;
        }
    };
    let bytes = match first {
        Err(_) => {
            refuse(
                outbox,
                codes::HANDSHAKE_TIMEOUT,
                "no hello within the handshake timeout",
            );
            return None;
        }
        Ok(None) => {
            tracing::debug!("closed before the handshake");
            return None;
        }
        Ok(Some(Err(err))) => {
            let err = Error::from(err);
            if let Some(reason) = err.close_reason() {
                refuse(outbox, reason.code, &reason.reason);
            }
            tracing::debug!(%err, "transport failed before the handshake");
            return None;
        }
        Ok(Some(Ok(bytes))) => bytes,
    };
    let (name, group, auth) = match Frame::decode(&bytes) {
        Ok(Frame::Hello {
            version,
            name,
            group,
            auth,
        }) => {
            if version != PROTOCOL_VERSION {
                refuse(
                    outbox,
                    codes::VERSION_MISMATCH,
                    &format!(
                        "server speaks protocol version {PROTOCOL_VERSION}, client sent {version}"
                    ),
                );
                return None;
            }
            (
                name.map(Arc::<str>::from),
                group.map(Arc::<str>::from),
                auth.map(|a| bytes.slice_ref(a)),
            )
        }
        Ok(other) => {
            refuse(
                outbox,
                codes::PROTOCOL_ERROR,
                &format!("expected hello, got {}", other.kind_name()),
            );
            return None;
        }
        Err(err) => {
            let reason = err
                .close_reason()
                .unwrap_or_else(|| CloseReason::new(codes::PROTOCOL_ERROR, err.to_string()));
            refuse(
                outbox,
                reason.code,
                &format!("bad hello: {}", reason.reason),
            );
            return None;
        }
    };

    let hook = server
        .inner
        .auth
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if let Some(hook) = hook {
        let request = AuthRequest {
            name: name.as_deref().map(str::to_owned),
            group: group.as_deref().map(str::to_owned),
            addr: peer_addr,
            transport: kind,
            auth,
        };
        if let Err(reason) = hook(request).await {
            refuse(outbox, codes::AUTH_REFUSED, &reason);
            return None;
        }
    }

    let info = ClientInfo {
        id: server.next_client_id(),
        name,
        group,
        addr: peer_addr,
        transport: kind,
    };
    {
        let mut registry = server.inner.registry.write();
        if let Some(max) = config.max_connections {
            if registry.len() >= max {
                drop(registry);
                refuse(
                    outbox,
                    codes::SERVER_FULL,
                    &format!("server full: {max} clients connected"),
                );
                return None;
            }
        }
        let addr_text = peer_addr.map(|a| a.to_string());
        let welcome = Frame::Welcome {
            client_id: info.id,
            name: info.name(),
            group: info.group(),
            keepalive_interval_ms: config
                .keepalive_interval
                .map_or(0, |d| d.as_millis().min(u32::MAX as u128) as u32),
            keepalive_timeout_ms: config.keepalive_interval.map_or(0, |_| {
                config.keepalive_timeout.as_millis().min(u32::MAX as u128) as u32
            }),
            max_frame_len: config.max_frame_len.min(u32::MAX as usize) as u32,
            addr: addr_text.as_deref(),
        };
        // Queued before the client is visible to broadcasts, so the welcome
        // is always its first frame.
        if outbox.try_push(welcome.encode()).is_err() {
            return None;
        }
        let joined = Joined {
            info,
            control: Arc::new(ConnControl::default()),
            pending: Arc::new(Mutex::new(PendingRequests::new())),
            outgoing: Arc::new(OutgoingStreams::default()),
        };
        registry.insert(ClientEntry {
            info: joined.info.clone(),
            outbox: outbox.clone(),
            control: joined.control.clone(),
            pending: joined.pending.clone(),
            outgoing: joined.outgoing.clone(),
        });
        Some(joined)
    }
}
