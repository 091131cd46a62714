//! A session that moves between nodes of a cluster, in the connection
//! tasks of its two nodes (the exchange between the nodes is
//! `cluster/handover.rs`; PROTOCOL.md section 13.9):
//!
//! - on the node it leaves, [`send_away`]: the session is taken out of its
//!   queue and sent; once the taker has it, the client leaves this node
//!   without a leave, and until its handlers and requests here are done,
//!   what they send it is forwarded to its new node;
//! - on the node it arrives at, [`join_moved`]: the client is registered
//!   under its id, with its token, rooms and counts, and its queue starts
//!   with `Welcome`, `Session{resumed}` and what it had not received.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::Sink;

use super::admission::{has_room, register, resumed_frames, Joined};
use super::cluster::handover::pass_answer_back;
use super::cluster::{Member, Message, MovingSession, NodeId, Route};
use super::connection::{attached, while_requests_wait, Links, Next};
use super::resumption::NodeTaker;
use super::session::Session;
use crate::close::{codes, CloseReason};
use crate::frame::Frame;
use crate::platform::locks::{lock, write_lock};
use crate::platform::timer::DeadlineTimer;
use crate::protocol::resume::{is_counted, ResumeOutcome};
use crate::protocol::session_table::Token;
use crate::transport::{FrameSink, TransportError, TransportKind};

/// How long the node a session left waits, at most, for the answers to
/// its requests to the client (they come from the client's new node) and
/// for its streams to the client to end; past it the requests fail with
/// 4013.
const MOVED_REQUESTS_WAIT: Duration = Duration::from_secs(60);

/// How often that wait looks whether they were all answered.
const MOVED_REQUESTS_POLL: Duration = Duration::from_millis(50);

fn moved_reason() -> CloseReason {
    CloseReason::new(
        codes::SESSION_MOVED,
        "the session was resumed on another node",
    )
}

/// Sends the session to the node `taker` names. True when that node took
/// it (the client is gone from this node, and this task is done with it);
/// false when it did not: the session is as it was, broken.
pub(super) async fn send_away(
    session: &mut Session,
    taker: NodeTaker,
    links: Links<'_>,
    deadlines: &mut DeadlineTimer,
) -> bool {
    let server = session.server.clone();
    let (Some(cluster), Some(resumable)) =
        (server.inner.cluster.as_ref(), session.resumable.as_mut())
    else {
        return false;
    };
    let token = resumable.token;
    let refuse = |outcome: ResumeOutcome| {
        let refused = Message::ResumeRefused {
            offer: taker.offer,
            outcome: outcome.to_wire(),
        };
        let _ = cluster.publish(Route::Node(taker.node), refused);
    };
    let frames = match session.peer.outbox.export_session(taker.peer_received) {
        Ok(frames) => frames,
        Err(fault) => {
            tracing::warn!(%fault, "cannot send the session to another node");
            refuse(ResumeOutcome::Gap);
            return false;
        }
    };
    let received = resumable.acks.told_on_resume();
    let (next_request_id, waiting_requests) = lock(&session.pending).waiting_ids();
    let member = session.member();
    let moving = MovingSession {
        member: member.clone(),
        token: Bytes::copy_from_slice(&token),
        received,
        peer_received: taker.peer_received,
        frames: frames.clone(),
        next_request_id,
        waiting_requests,
    };
    tracing::debug!(
        node = taker.node,
        frames = frames.len(),
        "sending the session to another node"
    );
    // Answers to this node's requests may come back from the taker as soon
    // as it has the session, before this task hears that it took it: the
    // table they resolve is findable from now on.
    cluster.moved_away(session.info.id, session.pending.clone());
    // Handlers go on while the taker answers.
    let taken = {
        let sent = cluster.send_session(taker.node, taker.offer, moving);
        let mut sent = std::pin::pin!(sent);
        let jobs = &mut session.jobs;
        let peer = &session.peer;
        let work = std::future::poll_fn(|cx| {
            if jobs.current.is_some() {
                let _ = jobs.poll(cx, peer);
            }
            sent.as_mut().poll(cx)
        });
        while_requests_wait(links.pending, deadlines, work).await
    };
    if !taken {
        cluster.done_with_moved(session.info.id);
        tracing::debug!(node = taker.node, "the other node did not take the session");
        let limit = server.inner.config.replay_limit;
        session
            .peer
            .outbox
            .import_session(limit, taker.peer_received, Vec::new(), frames);
        return false;
    }
    let id = session.info.id;
    server.session_moved_away(&token);
    server.inner.registry.write().remove(id);
    write_lock(&cluster.directory).moved(taker.node, member);
    // Gone from here without a leave: `Drop` must not announce one.
    session.left = true;
    let reason = moved_reason();
    session
        .incoming
        .cancel_all("the session moved to another node", &reason);
    // The streams this node sends end here; the client is told (their
    // senders, seeing a closed connection, would not tell it).
    let open = session.outgoing.open_ids();
    session.outgoing.close(&reason);
    for stream_id in open {
        let end = Frame::StreamEnd {
            stream_id,
            error: Some("the session moved to another node"),
        };
        session.peer.outbox.push_control(end.encode());
    }
    tracing::debug!(node = taker.node, "session moved to another node");

    // What the handlers still running here send the client goes after it.
    let mut forward: Pin<Box<dyn FrameSink>> = Box::pin(Forward {
        server: server.clone(),
        node: taker.node,
        client: id,
    });
    let pending = session.pending.clone();
    let drain_timeout = server.inner.config.drain_timeout;
    let finish = async {
        let current = session.jobs.current.take();
        let queue = std::mem::take(&mut session.jobs.queue);
        let peer = &session.peer;
        let drain = async move {
            for job in current.into_iter().chain(queue) {
                job.run(peer).await;
            }
        };
        if tokio::time::timeout(drain_timeout, drain).await.is_err() {
            tracing::warn!("handlers still running after the drain timeout; dropped");
        }
        // Requests wait for answers from the new node; streams this node
        // was sending end, and their last word (`StreamEnd` with the
        // error) goes after the client too.
        let outgoing = &session.outgoing;
        let answered = async {
            while !lock(&pending).is_empty() || outgoing.open_count() > 0 {
                tokio::time::sleep(MOVED_REQUESTS_POLL).await;
            }
        };
        let _ = tokio::time::timeout(MOVED_REQUESTS_WAIT, answered).await;
        Next::Done
    };
    attached(links, finish, &mut forward, deadlines).await;
    lock(&session.pending).close(&reason);
    cluster.done_with_moved(id);
    true
}

/// The writer's sink on the node a session left: counted frames go to the
/// client's new node (`Deliver`), upkeep is dropped.
struct Forward {
    server: super::Server,
    node: NodeId,
    client: u64,
}

impl Sink<Bytes> for Forward {
    type Error = TransportError;

    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, frame: Bytes) -> Result<(), Self::Error> {
        if !is_counted(&frame) {
            return Ok(());
        }
        let Some(cluster) = &self.server.inner.cluster else {
            return Ok(());
        };
        let deliver = Message::Deliver {
            client: self.client,
            frame,
        };
        cluster
            .publish(Route::Node(self.node), deliver)
            .map_err(|why| {
                tracing::warn!(%why, "a frame for a client that moved could not be forwarded");
                TransportError::Closed(CloseReason::new(codes::ABNORMAL, why.to_string()))
            })
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
}

/// Registers a client whose session arrived from node `from`, on the
/// resuming connection of this task, and queues its `Welcome`,
/// `Session{resumed}`, then what it had not received. `None` when the
/// server is full (the refusal is queued) or the session is unusable.
pub(super) fn join_moved(
    links: Links<'_>,
    from: NodeId,
    moving: MovingSession,
    extensions: super::Extensions,
    peer_addr: Option<SocketAddr>,
    kind: TransportKind,
) -> Option<Joined> {
    let Links {
        server,
        outbox,
        pending,
        ..
    } = links;
    let config = &server.inner.config;
    let MovingSession {
        member,
        token,
        received,
        peer_received,
        frames,
        next_request_id,
        waiting_requests,
    } = moving;
    let token = Token::try_from(&token[..]).ok()?;
    let mut info = member.info;
    info.addr = peer_addr;
    info.transport = kind;
    let mut registry = server.inner.registry.write();
    if !has_room(links, &registry) {
        return None;
    }
    if registry.get(info.id).is_some() {
        tracing::warn!(
            client = info.id,
            "a moving session's client is here already"
        );
        return None;
    }
    let session = server.open_session_as(token, info.id, received);
    let first = resumed_frames(&info, &token, received, config);
    outbox.import_session(config.replay_limit, peer_received, first, frames);
    for waiting in lock(pending).adopt(next_request_id, &waiting_requests) {
        pass_answer_back(server, from, info.id, waiting);
    }
    let joined = register(links, &mut registry, info, extensions, Some(session));
    for room in &member.rooms {
        registry.join_room(joined.info.id, room);
    }
    drop(registry);
    if let Some(cluster) = &server.inner.cluster {
        write_lock(&cluster.directory).forget(joined.info.id);
    }
    Some(joined)
}

impl Session {
    /// The client's session arrived from another node: the other nodes
    /// learn where it is now; nobody hears a join (it never left).
    pub(super) fn begin_moved(&mut self) {
        let member = self.member();
        self.server.announce(|| Message::Moved { member });
    }

    /// The client with its rooms, as the other nodes know clients.
    fn member(&self) -> Member {
        let rooms = self.server.inner.registry.read().rooms_of(self.info.id);
        Member {
            info: self.info.clone(),
            rooms: rooms.into_iter().map(Arc::from).collect(),
        }
    }
}
