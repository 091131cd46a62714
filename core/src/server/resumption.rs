//! The server's resumable sessions (PROTOCOL.md section 13), the shell
//! around [`SessionTable`]: tokens from the operating system, a resuming
//! connection handed over to the task that holds its session, and what
//! that task's session keeps between connections.
//!
//! A session lives in its first connection's task for its whole life.
//! When the connection breaks, the task does not end: it keeps the client
//! in the registry (sends to it wait in its queue), keeps running the
//! handlers it had started, and waits for a [`Handover`] (a resuming
//! connection, after its handshake) until the window passes. The
//! resuming connection's own task only runs the handshake's checks and
//! hands its transport over. In a cluster, a session may instead leave
//! for another node where its client resumed (`session_move.rs`).

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::peer::Peer;
use super::registry::{ClientEntry, Kick};
use super::Server;
use crate::close::{codes, CloseReason};
use crate::frame::Frame;
use crate::platform::locks::lock;
use crate::protocol::resume::{self, AckDue, AckSchedule, ResumeOutcome, TOKEN_LEN};
use crate::protocol::session_table::{Found, SessionTable, Token};
use crate::transport::{FrameSink, FrameStream, TransportKind};

/// Resuming connections that may wait for one session at once (a client
/// that resumes again before the session took the last one over). Boxed
/// in the channel: its first block of slots is allocated with every
/// session, and a `Handover` is ten times a pointer.
const HANDOVERS_WAITING: usize = 4;

/// How often ended sessions' tokens are swept out of the table.
const FORGET_EVERY: Duration = Duration::from_secs(1);

/// Every session of one server.
pub(crate) struct Sessions {
    table: SessionTable,
    next_sweep: Instant,
}

impl Sessions {
    /// No sessions yet; broken ones are kept for `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            table: SessionTable::new(window),
            next_sweep: now(),
        }
    }
}

/// A resuming connection, after its handshake's checks, for the task that
/// holds its session.
pub(crate) struct Handover {
    pub stream: Pin<Box<dyn FrameStream>>,
    pub sink: Pin<Box<dyn FrameSink>>,
    /// `Resume.received`: the session's counted frames the client has.
    pub peer_received: u64,
    pub addr: Option<SocketAddr>,
    pub kind: TransportKind,
}

/// What takes a session over.
pub(crate) enum Takeover {
    /// A connection resuming it on this node.
    Here(Box<Handover>),
    /// Another node, for a connection resuming there
    /// (`cluster/handover.rs`).
    Node(NodeTaker),
}

/// A node that asked for a session: where to send it.
pub(crate) struct NodeTaker {
    pub node: super::cluster::NodeId,
    pub offer: u64,
    /// `Resume.received` of the connection resuming there.
    pub peer_received: u64,
}

/// What a client's session keeps beside the client itself: its token, the
/// count of the client's frames, and where resuming connections arrive.
pub(crate) struct Resumable {
    pub token: Token,
    pub acks: AckSchedule,
    pub handovers: mpsc::Receiver<Takeover>,
    /// A counted frame arrived with no `Ack` owed yet: the loop arms the
    /// acknowledgement timer.
    pub arm_ack_timer: bool,
}

/// The time the session table is handed: the runtime's clock (paused in
/// tests that pause it).
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// A new token: 128 bits from the operating system's generator.
fn new_token() -> Option<Token> {
    let mut token = [0u8; TOKEN_LEN];
    match getrandom::fill(&mut token) {
        Ok(()) => Some(token),
        Err(err) => {
            tracing::warn!(%err, "no random bits for a session token; no session");
            None
        }
    }
}

impl Server {
    /// How long broken sessions are kept (zero: none are).
    pub(super) fn session_window(&self) -> Duration {
        self.inner.config.session_window
    }

    /// A new session for `client_id`: its token, the sender the registry
    /// keeps for resuming connections, and the session's own part.
    /// `None` when the server keeps no sessions.
    pub(super) fn open_session(
        &self,
        client_id: u64,
    ) -> Option<(mpsc::Sender<Takeover>, Resumable)> {
        if self.session_window().is_zero() {
            return None;
        }
        let token = new_token()?;
        Some(self.open_session_as(token, client_id, 0))
    }

    /// A session named `token` for `client_id`, whose first `received`
    /// counted frames from the client were received already (a session
    /// that moved here from another node; 0 for a new one).
    pub(super) fn open_session_as(
        &self,
        token: Token,
        client_id: u64,
        received: u64,
    ) -> (mpsc::Sender<Takeover>, Resumable) {
        let now = now();
        let mut sessions = lock(&self.inner.sessions);
        if now >= sessions.next_sweep {
            sessions.table.forget_ended(now);
            sessions.next_sweep = now + FORGET_EVERY;
        }
        sessions.table.open(token, client_id);
        drop(sessions);
        let (sender, handovers) = mpsc::channel(HANDOVERS_WAITING);
        let resumable = Resumable {
            token,
            acks: AckSchedule::resumed_at(received),
            handovers,
            arm_ack_timer: false,
        };
        (sender, resumable)
    }

    /// A client resumes with `token`: its connection is handed to the
    /// session's task (`Ok`), or the resume is refused for the outcome
    /// returned with the connection, which then joins as a new client.
    /// A count outside what the session kept (outcome 5, gap) ends the
    /// old session.
    pub(super) fn offer_resume(
        &self,
        token: &[u8],
        handover: Box<Handover>,
    ) -> Result<(), (ResumeOutcome, Box<Handover>)> {
        // Never the sessions' lock and the registry's at once: `join`
        // takes them in the other order.
        let found = lock(&self.inner.sessions).table.resume(token, now());
        let client_id = match found {
            Found::Refused(outcome) => return Err((outcome, handover)),
            Found::Resume { client_id, .. } => client_id,
        };
        // `resume` found the token, so it is one.
        let Ok(token) = Token::try_from(token) else {
            return Err((ResumeOutcome::UnknownToken, handover));
        };
        let (outcome, handover) = {
            let registry = self.inner.registry.read();
            let Some(entry) = registry.get(client_id) else {
                drop(registry);
                self.session_ended(&token, ResumeOutcome::Ended);
                return Err((ResumeOutcome::UnknownToken, handover));
            };
            if !serves_count(entry, handover.peer_received) {
                (ResumeOutcome::Gap, handover)
            } else {
                let Some(sender) = entry.handover.as_ref() else {
                    return Err((ResumeOutcome::Disabled, handover));
                };
                match sender.try_send(Takeover::Here(handover)) {
                    Ok(()) => return Ok(()),
                    Err(err) => match err.into_inner() {
                        Takeover::Here(handover) => (ResumeOutcome::Ended, handover),
                        Takeover::Node(_) => unreachable!("sent a connection"),
                    },
                }
            }
        };
        self.session_ended(&token, outcome);
        Err((outcome, handover))
    }

    /// Node `node` has a client resuming with `token` (its offer
    /// `offer`): the session, if this node holds it, is sent there by its
    /// task; if this node knows the token as ended, the node is told why.
    /// Tokens this node never gave out (or forgot) are not its to answer.
    pub(crate) fn offer_resume_to_node(
        &self,
        node: super::cluster::NodeId,
        offer: u64,
        token: &[u8],
        peer_received: u64,
    ) {
        let Some(cluster) = self.inner.cluster.as_ref() else {
            return;
        };
        let refuse = |outcome: ResumeOutcome| {
            let refused = super::cluster::Message::ResumeRefused {
                offer,
                outcome: outcome.to_wire(),
            };
            let _ = cluster.publish(super::cluster::Route::Node(node), refused);
        };
        let found = lock(&self.inner.sessions).table.resume(token, now());
        let client_id = match found {
            Found::Refused(ResumeOutcome::UnknownToken) => return,
            Found::Refused(outcome) => return refuse(outcome),
            Found::Resume { client_id, .. } => client_id,
        };
        let Ok(token) = Token::try_from(token) else {
            return;
        };
        let registry = self.inner.registry.read();
        let Some(entry) = registry.get(client_id) else {
            drop(registry);
            self.session_ended(&token, ResumeOutcome::Ended);
            return refuse(ResumeOutcome::Ended);
        };
        let in_range = serves_count(entry, peer_received);
        let taker = NodeTaker {
            node,
            offer,
            peer_received,
        };
        let sent = in_range
            && entry
                .handover
                .as_ref()
                .is_some_and(|sender| sender.try_send(Takeover::Node(taker)).is_ok());
        if sent {
            return;
        }
        drop(registry);
        let outcome = match in_range {
            true => ResumeOutcome::Ended,
            false => ResumeOutcome::Gap,
        };
        self.session_ended(&token, outcome);
        refuse(outcome);
    }

    /// The session left for another node: its token is this node's no
    /// more (a later resume here asks the other nodes).
    pub(super) fn session_moved_away(&self, token: &Token) {
        lock(&self.inner.sessions).table.forget(token);
    }

    /// The session's connection broke: its window begins. When it ends,
    /// unless a resume came first.
    pub(super) fn session_broke(&self, token: &Token) -> Instant {
        let now = now();
        lock(&self.inner.sessions)
            .table
            .broke(token, now)
            // Not attached: a resume took it already, and its connection
            // waits for the session's task.
            .unwrap_or(now + self.session_window())
    }

    /// The session's window passed: true when it expires now (its leave
    /// and `session_expired` follow), false when a resume took it.
    pub(super) fn session_expires(&self, token: &Token) -> bool {
        lock(&self.inner.sessions).table.expire_one(token, now())
    }

    /// The session ended for `outcome`'s reason (a `Close`, a kick, an
    /// overflow): a later resume with its token gets that outcome.
    pub(super) fn session_ended(&self, token: &Token, outcome: ResumeOutcome) {
        lock(&self.inner.sessions).table.end(token, outcome, now());
    }
}

/// Whether the session of `entry` can serve a client that received its
/// counted frames up to `peer_received`. When it cannot, the session ends
/// (outcome 5, gap): its connection is kicked.
fn serves_count(entry: &ClientEntry, peer_received: u64) -> bool {
    let in_range = entry
        .outbox
        .resumable_counts()
        .is_some_and(|(acked, sent)| (acked..=sent).contains(&peer_received));
    if !in_range {
        entry.control.kick(Kick {
            reason: CloseReason::new(
                codes::SESSION_MOVED,
                "the session was resumed with a count it cannot serve",
            ),
            run_leave: true,
        });
    }
    in_range
}

/// A counted frame from a client with a session: its number, and the
/// `Ack` it makes due (PROTOCOL.md section 13.3).
#[inline]
pub(super) fn count_frame(resumable: &mut Resumable, frame: &[u8], peer: &Peer) {
    if !resume::is_counted(frame) {
        return;
    }
    match resumable.acks.counted(frame.len()) {
        AckDue::Now(received) => peer.outbox.push_control(Frame::Ack { received }.encode()),
        AckDue::ArmTimer => resumable.arm_ack_timer = true,
        AckDue::Nothing => {}
    }
}

/// A connection resuming the session, if one arrived (never, without a
/// session).
pub(super) fn poll_handover(
    resumable: &mut Option<Resumable>,
    cx: &mut Context<'_>,
) -> Poll<Takeover> {
    match resumable.as_mut().map(|r| r.handovers.poll_recv(cx)) {
        Some(Poll::Ready(Some(handover))) => Poll::Ready(handover),
        _ => Poll::Pending,
    }
}
