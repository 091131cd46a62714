//! What this node does with what other nodes publish, and with what the
//! adapter says about the link: [`ClusterNode`]'s methods.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::directory::Diff;
use super::handover;
use super::message::{self, Message, WireError};
use super::{Cluster, ClusterNode, ClusterStatus, NodeId, Route};
use crate::close::CloseReason;
use crate::platform::locks::{lock, read_lock, write_lock};
use crate::server::emit::Emit;
use crate::server::membership::{changed_frame, presence_frame};
use crate::server::Server;

impl ClusterNode {
    fn server(&self) -> Option<Server> {
        self.server.upgrade().map(|inner| Server { inner })
    }

    /// True while the server this node belongs to exists (an adapter whose
    /// server was dropped without a shutdown may stop).
    pub fn is_attached(&self) -> bool {
        self.server.strong_count() > 0
    }

    /// A message another node published. Undecodable messages are logged
    /// and ignored; this node's own are ignored.
    pub fn receive(&self, bytes: &[u8]) {
        let Some(server) = self.server() else { return };
        let Some(cluster) = server.inner.cluster.as_ref() else {
            return;
        };
        if message::sender(bytes) == Some(cluster.node) {
            return;
        }
        let Some(envelope) = message::decode(bytes) else {
            return;
        };
        if envelope.from == cluster.node {
            return;
        }
        handle(&server, cluster, envelope.from, envelope.message);
    }

    /// The link to the cluster is (back) up: this node says hello (every
    /// other node answers with a snapshot of its clients) and sends its own
    /// snapshot, so the directories on both sides are rebuilt.
    pub fn link_up(&self) {
        let Some(server) = self.server() else { return };
        let Some(cluster) = server.inner.cluster.as_ref() else {
            return;
        };
        let was_up = cluster.up.swap(true, Ordering::AcqRel);
        self.resync();
        if !was_up {
            tracing::info!(node = cluster.node, "cluster link up");
            // The first link up is no restoration.
            if cluster.was_up.swap(true, Ordering::AcqRel) {
                tell_status(cluster, &ClusterStatus::Restored);
            }
        }
    }

    /// Asks every node for a snapshot of its clients and sends this
    /// node's: for an adapter that finds a node it had reported lost alive
    /// again (it was slow, not dead), so that its clients come back.
    pub fn resync(&self) {
        let Some(server) = self.server() else { return };
        let Some(cluster) = server.inner.cluster.as_ref() else {
            return;
        };
        let _ = cluster.publish(Route::All, Message::Hello);
        server.publish_snapshot(cluster, Route::All);
    }

    /// Publishes a digest of this node's clients (a count and a hash):
    /// every other node compares it with what it knows of them and, when
    /// they differ, asks for this node's snapshot. An adapter calls this
    /// every resync period while the link is up, so that announcements
    /// lost on the way (a full queue, pub/sub's at-most-once delivery) are
    /// repaired within a period: ghosts of clients that left disappear,
    /// and clients whose join was lost appear.
    pub fn publish_digest(&self) {
        let Some(server) = self.server() else { return };
        let Some(cluster) = server.inner.cluster.as_ref() else {
            return;
        };
        if cluster.link_is_up() {
            server.publish_digest(cluster);
        }
    }

    /// The link to the cluster is lost: local delivery goes on; requests
    /// waiting for remote answers fail now (their answers cannot come).
    pub fn link_down(&self, reason: &str) {
        let Some(server) = self.server() else { return };
        let Some(cluster) = server.inner.cluster.as_ref() else {
            return;
        };
        let was_up = cluster.up.swap(false, Ordering::AcqRel);
        lock(&cluster.requests).fail(None, "the cluster link was lost");
        if was_up {
            tracing::warn!(
                node = cluster.node,
                reason,
                "cluster link lost: delivering to this node's clients only until it returns"
            );
            tell_status(
                cluster,
                &ClusterStatus::Degraded {
                    reason: reason.to_owned(),
                },
            );
        }
    }

    /// Node `node` is gone (its heartbeat expired): its clients leave this
    /// node's directory, and this node's clients hear of each leave once.
    pub fn node_lost(&self, node: NodeId) {
        let Some(server) = self.server() else { return };
        let Some(cluster) = server.inner.cluster.as_ref() else {
            return;
        };
        let left = write_lock(&cluster.directory).drop_node(node);
        lock(&cluster.requests).fail(Some(node), "the client's node left the cluster");
        if left.is_empty() {
            tracing::debug!(node, "cluster node lost (no clients)");
        } else {
            tracing::warn!(node, clients = left.len(), "cluster node lost");
        }
        tell_presence(
            &server,
            Diff {
                left,
                ..Diff::default()
            },
        );
    }
}

fn tell_status(cluster: &Cluster, status: &ClusterStatus) {
    let hook = read_lock(&cluster.status_hook).clone();
    if let Some(hook) = hook {
        hook(status);
    }
}

fn handle(server: &Server, cluster: &Cluster, from: NodeId, message: Message) {
    match message {
        Message::Broadcast {
            target,
            except,
            presence,
            volatile_above,
            frame,
        } => {
            let emit = Emit::from_node(server, target, except, presence, volatile_above);
            let _ = emit.send_frame(frame);
        }
        Message::Deliver { client, frame } => {
            if let Some(node) = moved_from_here(server, cluster, from, client) {
                let _ = cluster.publish(Route::Node(node), Message::Deliver { client, frame });
                return;
            }
            let _ = Emit::from_node_to(server, client).send_frame(frame);
        }
        Message::Joined { client } => {
            let known = write_lock(&cluster.directory).insert(from, client.clone());
            let diff = match known {
                None => Diff {
                    joined: vec![client],
                    ..Diff::default()
                },
                // Known from a snapshot already: nothing new to tell.
                Some(_) => Diff::default(),
            };
            tell_presence(server, diff);
        }
        Message::Left { client } => {
            let left = write_lock(&cluster.directory).remove(from, client);
            tell_presence(
                server,
                Diff {
                    left: left.into_iter().collect(),
                    ..Diff::default()
                },
            );
        }
        Message::Changed {
            client,
            old_name,
            old_group,
        } => {
            if write_lock(&cluster.directory).update(client.clone()) {
                tell_presence(
                    server,
                    Diff {
                        changed: vec![(client, old_name, old_group)],
                        ..Diff::default()
                    },
                );
            }
        }
        Message::Room {
            client,
            room,
            joined,
        } => {
            write_lock(&cluster.directory).set_room(client, &room, joined);
        }
        Message::RoomOrder { client, room, join } => {
            if let Some(node) = moved_from_here(server, cluster, from, client) {
                let order = Message::RoomOrder { client, room, join };
                let _ = cluster.publish(Route::Node(node), order);
                return;
            }
            let _ = match join {
                true => server.join_room(client, &room),
                false => server.leave_room(client, &room),
            };
        }
        Message::Snapshot { clients } => {
            let diff = write_lock(&cluster.directory).replace_node(from, clients);
            if !(diff.joined.is_empty() && diff.left.is_empty() && diff.changed.is_empty()) {
                tracing::debug!(
                    node = from,
                    joined = diff.joined.len(),
                    left = diff.left.len(),
                    changed = diff.changed.len(),
                    "replica of a node rebuilt from its snapshot"
                );
            }
            tell_presence(server, diff);
        }
        Message::Hello => {
            server.publish_snapshot(cluster, Route::Node(from));
        }
        Message::Digest { digest } => {
            let known = read_lock(&cluster.directory).digest_of(from);
            if known != digest {
                // Usually a lost announcement; also, harmlessly, a digest
                // taken between a registry change and its announcement.
                tracing::debug!(
                    node = from,
                    clients = digest.clients,
                    known = known.clients,
                    "replica differs from the node's digest: asking for its snapshot"
                );
                let _ = cluster.publish(Route::Node(from), Message::Hello);
            }
        }
        Message::Disconnect {
            client,
            code,
            reason,
            run_leave,
        } => {
            if let Some(node) = moved_from_here(server, cluster, from, client) {
                let order = Message::Disconnect {
                    client,
                    code,
                    reason,
                    run_leave,
                };
                let _ = cluster.publish(Route::Node(node), order);
                return;
            }
            let _ = server.disconnect_local(client, CloseReason::new(code, reason), run_leave);
        }
        Message::DisconnectAll { code, reason } => {
            server.disconnect_all_local(CloseReason::new(code, reason));
        }
        Message::Request {
            id,
            client,
            command,
            payload,
            timeout_ms,
        } => {
            let server = server.clone();
            // On the server's tracker, so that shutdown waits for it.
            server.inner.tasks.clone().spawn(async move {
                let timeout = Duration::from_millis(timeout_ms);
                let outcome = server
                    .request_local(client, &command, &payload, timeout)
                    .await
                    .map_err(|err| WireError::from_error(&err));
                if let Some(cluster) = &server.inner.cluster {
                    let _ = cluster.publish(Route::Node(from), Message::Reply { id, outcome });
                }
            });
        }
        Message::Reply { id, outcome } => {
            let mut requests = lock(&cluster.requests);
            // The requester's timeout is what the error reports; the
            // replier's was the same.
            let timeout = requests.timeout_of(id);
            requests.complete(id, outcome.map_err(|e| e.into_error(timeout)));
        }
        Message::Moved { member } => {
            write_lock(&cluster.directory).moved(from, member);
        }
        message @ (Message::ResumeOffer { .. }
        | Message::ResumeRefused { .. }
        | Message::SessionMoving { .. }
        | Message::SessionTaken { .. }
        | Message::ClientReply { .. }) => handover::handle(server, cluster, from, message),
    }
}

/// The node a client that is not here now is on, when a message for it
/// came here: its session moved away, and `from` did not know yet. Such a
/// message is passed on (`None`: the client is here, or unknown).
fn moved_from_here(
    server: &Server,
    cluster: &Cluster,
    from: NodeId,
    client: u64,
) -> Option<NodeId> {
    if server.inner.registry.read().get(client).is_some() {
        return None;
    }
    cluster.node_of(client).filter(|node| *node != from)
}

/// Tells this node's clients (those that want presence notices) about
/// remote clients that joined, left or changed.
fn tell_presence(server: &Server, diff: Diff) {
    if !server.inner.config.presence_notices {
        return;
    }
    let notify = |frame| {
        let _ = server.to_all().local().presence_notice().send_frame(frame);
    };
    for info in &diff.joined {
        notify(presence_frame(info, true));
    }
    for info in &diff.left {
        notify(presence_frame(info, false));
    }
    for (info, old_name, old_group) in &diff.changed {
        notify(changed_frame(
            info,
            old_name.as_deref(),
            old_group.as_deref(),
        ));
    }
}
