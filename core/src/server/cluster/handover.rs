//! A resumable session that moves between nodes (PROTOCOL.md section
//! 13.9): a client whose connection broke resumes on another node (a load
//! balancer sent it there), and its session follows it, with nothing lost
//! or doubled in either direction.
//!
//! The exchange, for a client resuming on node B with a token node A
//! holds:
//!
//! 1. B does not hold the token: it publishes a `ResumeOffer` to every
//!    node and waits ([`OFFER_TIMEOUT`]). Nodes that never heard of the
//!    token stay silent; one that knows it as ended answers
//!    `ResumeRefused` with the outcome.
//! 2. A's session task (its connection broken, or still open: it is
//!    closed with 4013 as on one node) takes its session out of its
//!    queue: the frames the client has not received, both counts, the
//!    client with its rooms, its requests waiting for the client's
//!    answer. It sends them to B (`SessionMoving`) and waits for B's word
//!    ([`TAKE_TIMEOUT`]), keeping the client meanwhile.
//! 3. B registers the client under its id, with the same token, queues
//!    `Welcome`, `Session{resumed}`, then those frames, numbered on from
//!    where A left, answers `SessionTaken` and announces `Moved` (the
//!    other nodes route to B from then on; nobody hears a leave or join).
//! 4. A lets go of the client without a leave, forgets the token, and
//!    until its handlers and requests are done forwards what they send
//!    the client to B. Answers to A's requests come back as
//!    `ClientReply`.
//!
//! If B cannot take the session (its offer timed out meanwhile, or it is
//! full), or A hears nothing from B within [`TAKE_TIMEOUT`], A keeps the
//! session as it was, broken, until its window passes.
//!
//! The state crosses through the engine (Redis) in one message, bounded
//! as on one node: the replay buffer's limit plus the outgoing queue's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::message::{Message, MovingSession, WireError};
use super::{Cluster, NodeId, Route};
use crate::pending::PendingRequests;
use crate::platform::locks::lock;
use crate::protocol::resume::ResumeOutcome;
use crate::server::Server;

/// How long a node with a resuming client waits for the node that holds
/// its session: past it, the client gets a new session (outcome 2).
pub(crate) const OFFER_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a node that sent a session away waits for the taker's word:
/// past it, it keeps the session (broken) as if the taker had declined.
pub(crate) const TAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// The hand-overs of one node, in both roles.
#[derive(Default)]
pub(crate) struct Handovers {
    next_offer: u64,
    /// This node's offers, waiting for the node that holds the session.
    offers: HashMap<u64, oneshot::Sender<Answer>>,
    /// Sessions this node sent away, waiting for the taker's word, by
    /// client.
    moving: HashMap<u64, oneshot::Sender<bool>>,
    /// Clients whose session left this node while requests to them still
    /// wait here: their answers arrive as `ClientReply`.
    moved_away: HashMap<u64, Arc<Mutex<PendingRequests>>>,
}

/// What an offer got.
pub(crate) enum Answer {
    /// The session, from the node that held it.
    Session {
        from: NodeId,
        session: Box<MovingSession>,
    },
    /// The session cannot be resumed, for this reason.
    Refused(ResumeOutcome),
}

/// Forgets an offer whose waiter gave up.
struct ForgetOffer<'a>(&'a Cluster, u64);

impl Drop for ForgetOffer<'_> {
    fn drop(&mut self) {
        lock(&self.0.handovers).offers.remove(&self.1);
    }
}

impl Cluster {
    /// Asks the other nodes for the session `token` names, for a client
    /// that received our counted frames up to `received`: the session, or
    /// the outcome to tell the client (2 when no node answered in time).
    pub(crate) async fn take_session(&self, token: &[u8], received: u64) -> Answer {
        if !self.link_is_up() {
            return Answer::Refused(ResumeOutcome::UnknownToken);
        }
        let (offer, answer) = {
            let mut handovers = lock(&self.handovers);
            handovers.next_offer += 1;
            let offer = handovers.next_offer;
            let (tx, rx) = oneshot::channel();
            handovers.offers.insert(offer, tx);
            (offer, rx)
        };
        let _forget = ForgetOffer(self, offer);
        let message = Message::ResumeOffer {
            offer,
            token: Bytes::copy_from_slice(token),
            received,
        };
        if self.publish(Route::All, message).is_err() {
            return Answer::Refused(ResumeOutcome::UnknownToken);
        }
        match tokio::time::timeout(OFFER_TIMEOUT, answer).await {
            Ok(Ok(answer)) => answer,
            _ => Answer::Refused(ResumeOutcome::UnknownToken),
        }
    }

    /// The answer to offer `offer` arrived: false when nobody waits for it
    /// any more (the session then goes back to its node).
    fn answer_offer(&self, offer: u64, answer: Answer) -> bool {
        let waiter = lock(&self.handovers).offers.remove(&offer);
        waiter.is_some_and(|waiter| waiter.send(answer).is_ok())
    }

    /// Sends client `client`'s session to `node` for its offer `offer`,
    /// and waits for its word: true when it took the session.
    pub(crate) async fn send_session(
        &self,
        node: NodeId,
        offer: u64,
        session: MovingSession,
    ) -> bool {
        let client = session.member.info.id;
        let (tx, rx) = oneshot::channel();
        lock(&self.handovers).moving.insert(client, tx);
        let message = Message::SessionMoving {
            offer,
            session: Box::new(session),
        };
        let taken = match self.publish(Route::Node(node), message) {
            Ok(()) => matches!(tokio::time::timeout(TAKE_TIMEOUT, rx).await, Ok(Ok(true))),
            Err(_) => false,
        };
        lock(&self.handovers).moving.remove(&client);
        taken
    }

    /// The requests to `client` that wait here after its session moved:
    /// answers that arrive from its new node resolve them.
    pub(crate) fn moved_away(&self, client: u64, pending: Arc<Mutex<PendingRequests>>) {
        lock(&self.handovers).moved_away.insert(client, pending);
    }

    /// Nothing waits here for `client`'s answers any more.
    pub(crate) fn done_with_moved(&self, client: u64) {
        lock(&self.handovers).moved_away.remove(&client);
    }
}

impl Server {
    /// Tells node `node` whether this node took client `client`'s session
    /// (false: it keeps it).
    pub(crate) fn tell_node_taken(&self, node: NodeId, client: u64, taken: bool) {
        if let Some(cluster) = &self.inner.cluster {
            let word = Message::SessionTaken { client, taken };
            let _ = cluster.publish(Route::Node(node), word);
        }
    }
}

/// What a node does with the hand-over messages of other nodes.
pub(super) fn handle(server: &Server, cluster: &Cluster, from: NodeId, message: Message) {
    match message {
        Message::ResumeOffer {
            offer,
            token,
            received,
        } => server.offer_resume_to_node(from, offer, &token, received),
        Message::ResumeRefused { offer, outcome } => {
            cluster.answer_offer(offer, Answer::Refused(ResumeOutcome::from_wire(outcome)));
        }
        Message::SessionMoving { offer, session } => {
            let client = session.member.info.id;
            if !cluster.answer_offer(offer, Answer::Session { from, session }) {
                tracing::debug!(client, "a session arrived after its offer gave up");
                let declined = Message::SessionTaken {
                    client,
                    taken: false,
                };
                let _ = cluster.publish(Route::Node(from), declined);
            }
        }
        Message::SessionTaken { client, taken } => {
            if let Some(waiter) = lock(&cluster.handovers).moving.remove(&client) {
                let _ = waiter.send(taken);
            }
        }
        Message::ClientReply {
            client,
            id,
            outcome,
        } => {
            let pending = lock(&cluster.handovers).moved_away.get(&client).cloned();
            if let Some(pending) = pending {
                // The timeout is the requester's own: it reports its own.
                let outcome = outcome.map_err(|err| err.into_error(Duration::ZERO));
                lock(&pending).resolve(id, outcome);
            }
        }
        _ => {}
    }
}

/// Passes the client's answer to a request its old node `node` made
/// before the session moved here back to that node, when it comes.
pub(crate) fn pass_answer_back(
    server: &Server,
    node: NodeId,
    client: u64,
    (id, answer): crate::pending::Registration,
) {
    let server = server.clone();
    server.inner.tasks.clone().spawn(async move {
        let outcome = match answer.await {
            Ok(outcome) => outcome.map_err(|err| WireError::from_error(&err)),
            // The connection's table was dropped: its end answered
            // nothing; the old node's timeout will.
            Err(_) => return,
        };
        if let Some(cluster) = &server.inner.cluster {
            let reply = Message::ClientReply {
                client,
                id,
                outcome,
            };
            let _ = cluster.publish(Route::Node(node), reply);
        }
    });
}
