//! What this node publishes: the server calls these where a local action
//! must reach the other nodes (announcements of its clients, commands for
//! remote clients, requests to remote clients and their bookkeeping).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::digest::Digest;
use super::message::{self, Member, Message};
use super::{Cluster, Directory, NodeId, Route, Unpublished};
use crate::close::{codes, CloseReason};
use crate::error::{Error, Result};
use crate::platform::locks::{lock, read_lock};
use crate::server::Server;

/// Requests this node sent to remote clients, waiting for their `Reply`.
#[derive(Default)]
pub(crate) struct RemoteRequests {
    next: u64,
    waiting: HashMap<u64, Waiting>,
}

struct Waiting {
    node: NodeId,
    timeout: Duration,
    reply: oneshot::Sender<Result<Bytes>>,
}

impl RemoteRequests {
    /// The timeout request `id` was sent with (zero when unknown).
    pub fn timeout_of(&self, id: u64) -> Duration {
        self.waiting.get(&id).map_or(Duration::ZERO, |w| w.timeout)
    }

    /// Completes request `id` (unknown ids, answers that come after the
    /// requester gave up, are dropped).
    pub fn complete(&mut self, id: u64, outcome: Result<Bytes>) {
        if let Some(waiting) = self.waiting.remove(&id) {
            let _ = waiting.reply.send(outcome);
        }
    }

    /// Fails every request to `node` (or to any node) with `reason`: their
    /// answers can no longer come.
    pub fn fail(&mut self, node: Option<NodeId>, reason: &str) {
        let ids: Vec<u64> = self
            .waiting
            .iter()
            .filter(|(_, w)| node.is_none_or(|n| w.node == n))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.complete(
                id,
                Err(Error::Closed(CloseReason::new(codes::ABNORMAL, reason))),
            );
        }
    }
}

/// Forgets a request whose requester stopped waiting (timed out, or its
/// future was dropped).
struct Forget<'a>(&'a Cluster, u64);

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        lock(&self.0.requests).waiting.remove(&self.1);
    }
}

impl Cluster {
    /// Publishes `message`; says why when it could not.
    pub fn publish(&self, route: Route, message: Message) -> std::result::Result<(), Unpublished> {
        match message::encode(self.node, message) {
            Some(bytes) => self.adapter.publish(route, bytes),
            // Logged by `encode`; nothing more to do.
            None => Ok(()),
        }
    }

    /// True for a client of another node that the directory knows.
    pub fn is_remote(&self, id: u64) -> bool {
        self.node_of(id).is_some()
    }

    /// The other node client `id` is on, as the directory knows it (not
    /// always the node its id names: a session may have moved).
    pub fn node_of(&self, id: u64) -> Option<NodeId> {
        read_lock(&self.directory)
            .node_of(id)
            .filter(|node| *node != self.node)
    }

    pub fn link_is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Asks remote client `id` and waits for its answer, with the same
    /// outcomes as a local request (its node enforces the timeout as for
    /// its own clients; this node gives up at the same deadline).
    pub async fn request(
        &self,
        id: u64,
        command: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Bytes> {
        if !self.link_is_up() {
            return Err(link_down());
        }
        let Some(node) = self.node_of(id) else {
            return Err(Error::NoSuchClient(id));
        };
        let (request, rx) = {
            let mut requests = lock(&self.requests);
            requests.next += 1;
            let request = requests.next;
            let (tx, rx) = oneshot::channel();
            requests.waiting.insert(
                request,
                Waiting {
                    node,
                    timeout,
                    reply: tx,
                },
            );
            (request, rx)
        };
        let _forget = Forget(self, request);
        let message = Message::Request {
            id: request,
            client: id,
            command: command.to_owned(),
            payload: Bytes::copy_from_slice(payload),
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        };
        if self.publish(Route::Node(node), message).is_err() {
            return Err(link_down());
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(link_down()),
            Err(_) => Err(Error::Timeout(timeout)),
        }
    }
}

fn link_down() -> Error {
    Error::Closed(CloseReason::new(
        codes::ABNORMAL,
        "the cluster link is down: the client's node cannot be reached",
    ))
}

impl Server {
    /// Calls `f` with the directory of remote clients; `None` without a
    /// cluster.
    pub(crate) fn remote<T>(&self, f: impl FnOnce(&Directory) -> T) -> Option<T> {
        let cluster = self.inner.cluster.as_ref()?;
        Some(f(&read_lock(&cluster.directory)))
    }

    /// Publishes an announcement about this node's clients, if in a
    /// cluster (a dropped announcement is repaired by the next snapshot).
    pub(crate) fn announce(&self, message: impl FnOnce() -> Message) {
        if let Some(cluster) = &self.inner.cluster {
            let _ = cluster.publish(Route::All, message());
        }
    }

    /// Publishes this node's clients with their rooms. The registry stays
    /// locked until the snapshot is queued, so that no join or leave
    /// announced after it can be overtaken by it (a leave overtaken by an
    /// older snapshot would bring a ghost back on the other nodes).
    pub(crate) fn publish_snapshot(&self, cluster: &Cluster, route: Route) {
        let registry = self.inner.registry.read();
        let clients = registry
            .all()
            .map(|entry| Member {
                info: entry.info.clone(),
                rooms: registry
                    .rooms_of(entry.info.id)
                    .into_iter()
                    .map(Arc::from)
                    .collect(),
            })
            .collect();
        let _ = cluster.publish(route, Message::Snapshot { clients });
        drop(registry);
    }

    /// Publishes the digest of this node's clients (see
    /// [`digest`](super::digest)), under the registry's lock for the same
    /// reason as [`publish_snapshot`](Self::publish_snapshot).
    pub(crate) fn publish_digest(&self, cluster: &Cluster) {
        let registry = self.inner.registry.read();
        let mut digest = Digest::default();
        for entry in registry.all() {
            digest.add_client(&entry.info);
        }
        for (id, room) in registry.memberships() {
            digest.add_room(id, room);
        }
        let _ = cluster.publish(Route::All, Message::Digest { digest });
        drop(registry);
    }

    /// Sends `message` to the node of remote client `id`. Errors:
    /// [`Error::NoSuchClient`] when no node has it, [`Error::Closed`] when
    /// the link is down.
    pub(crate) fn to_node_of(&self, id: u64, message: Message) -> Result<()> {
        let cluster = self.inner.cluster.as_ref();
        let (cluster, node) = cluster
            .and_then(|c| Some((c, c.node_of(id)?)))
            .ok_or(Error::NoSuchClient(id))?;
        cluster
            .publish(Route::Node(node), message)
            .map_err(|_| link_down())
    }
}
