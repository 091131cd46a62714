//! Several server nodes as one server: the seam between the server and an
//! engine that joins nodes (the Redis adapter in `hisock-redis`; NATS or
//! another engine could follow through the same trait).
//!
//! The split: an [`Adapter`] only moves opaque messages between nodes
//! (to every other node, or to one) and tells the server when the link
//! comes and goes and when another node is gone for good. Everything the
//! messages mean lives here in the core, once for every engine:
//!
//! - **Ids.** Client ids carry their node in the high bits
//!   ([`client_id_base`]), so ids are unique across the cluster and a
//!   client's node is known from its id alone. Ids stay below 2^53, so
//!   JavaScript numbers hold them exactly.
//! - **Delivery.** A broadcast (`to_all`, `to_group`, `to_room`, with
//!   `except`) is delivered to this node's clients and published once;
//!   every other node delivers it to its own clients. Each client is on
//!   one node, so each gets it exactly once. `to_client`, requests,
//!   `disconnect` and room changes for a remote client go to its node only.
//! - **Directory.** Each node publishes its clients' joins, leaves, name,
//!   group and room changes, and keeps a replica of the other nodes'
//!   clients; look-ups (`client`, `client_by_name`, `clients`, `group`,
//!   `room`…) stay synchronous and read the registry and the replica. A
//!   node that (re)joins asks the others for a snapshot and sends its own,
//!   so the replica is rebuilt after the link was lost. Every resync
//!   period each node also publishes a digest of its clients (a count and
//!   a hash); a node whose replica differs asks for a snapshot, so an
//!   announcement lost on a live link (pub/sub delivers at most once; a
//!   full queue drops) is repaired within a period (`digest.rs` says why
//!   a digest and not the snapshot itself).
//! - **Presence.** Each node tells its own clients about remote joins,
//!   leaves and changes, so every client hears of each exactly once.
//!
//! A server without an adapter has `None` here and pays one branch per
//! broadcast. Measured with callgrind on W1 over TCP (the bench's event
//! stream, where no cluster code runs): 2,550 instructions per event before
//! the seam, 2,565 after (the residue is the compiler inlining the event
//! path differently).
//!
//! - **Sessions.** A resumable session follows its client to another
//!   node (`handover.rs`): its state crosses in one message, and from then
//!   on the directory, not the id, says where the client is.

mod digest;
mod directory;
pub(crate) mod handover;
mod inbound;
mod message;
mod outbound;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock, Weak};

use bytes::Bytes;

pub(crate) use directory::Directory;
pub(crate) use message::{Member, Message, MovingSession, WireTarget};
pub(crate) use outbound::RemoteRequests;

use super::Inner;

/// A node's number in its cluster, `1..=`[`MAX_NODE_ID`]. A server without
/// an adapter is node 0.
pub type NodeId = u16;

/// Bits of a client id that count clients on one node; the node's number
/// is above them.
pub const LOCAL_ID_BITS: u32 = 40;

/// The highest node number: node numbers have 13 bits, so client ids stay
/// below 2^53 (exact in JavaScript numbers).
pub const MAX_NODE_ID: NodeId = (1 << 13) - 1;

/// The first client id of node `node` (ids count up from there).
pub const fn client_id_base(node: NodeId) -> u64 {
    ((node as u64) << LOCAL_ID_BITS) | 1
}

/// The node that gave out a client id: the client's node unless its
/// session moved to another node since (a moved session keeps its id).
pub const fn node_of(client: u64) -> NodeId {
    (client >> LOCAL_ID_BITS) as NodeId
}

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Every other node.
    All,
    /// One node.
    Node(NodeId),
}

/// Why a message could not be published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unpublished {
    /// The link to the engine is down: the message is dropped (the
    /// directory is rebuilt when the link returns).
    #[error("the cluster link is down")]
    LinkDown,
    /// The queue toward the engine is full: the message is dropped.
    #[error("the queue toward the cluster engine is full")]
    QueueFull,
}

/// A boxed future, as [`Adapter::shutdown`] returns.
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// An engine that joins server nodes: the seam a cluster engine
/// implements. It moves messages the server encodes (opaque bytes) and
/// reports on the link; see the [module docs](self) for what the server
/// does with them.
///
/// Contract:
/// - [`publish`](Self::publish) never blocks: it queues (bounded) or
///   refuses, and messages from one node reach each other node in the
///   order they were published;
/// - messages are delivered to [`ClusterNode::receive`] on every node the
///   route names, except the publishing node;
/// - after the link was (re)established, and before delivering anything
///   received on it, the adapter calls [`ClusterNode::link_up`]; when it
///   is lost, [`ClusterNode::link_down`];
/// - when another node is gone (its heartbeat expired), the adapter calls
///   [`ClusterNode::node_lost`] once;
/// - while the link is up, the adapter calls
///   [`ClusterNode::publish_digest`] periodically (the Redis adapter's
///   `RedisConfig::resync`): that bounds how long a lost announcement
///   leaves the other nodes wrong.
pub trait Adapter: Send + Sync + 'static {
    /// This node's number, unique among the live nodes of the cluster.
    fn node_id(&self) -> NodeId;

    /// Called once, when the server is built: from then on the adapter
    /// tells the server through `node`.
    fn attach(&self, node: ClusterNode);

    /// Sends `message` to the nodes `route` names, without blocking.
    fn publish(&self, route: Route, message: Bytes) -> Result<(), Unpublished>;

    /// The server shut down (its clients' leaves are published already):
    /// send what is queued, leave the cluster, stop.
    fn shutdown(&self) -> BoxFuture;
}

/// The state of this node's link to the cluster, as the hook given to
/// [`Server::on_cluster_status`](super::Server::on_cluster_status) sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterStatus {
    /// The link is lost: local delivery goes on; other nodes' clients get
    /// nothing from this node, and remote requests fail, until it returns.
    Degraded {
        /// Why, in words (from the engine).
        reason: String,
    },
    /// The link is back (after a `Degraded`; the first link up is not
    /// reported) and the directory is being rebuilt.
    Restored,
}

pub(crate) type StatusHook = Arc<dyn Fn(&ClusterStatus) + Send + Sync>;

/// The server's side of the cluster: the adapter, the replica of the
/// other nodes' clients, and requests waiting for a remote reply.
pub(crate) struct Cluster {
    pub adapter: Arc<dyn Adapter>,
    pub node: NodeId,
    pub directory: RwLock<Directory>,
    pub requests: Mutex<RemoteRequests>,
    /// Sessions moving to or from this node.
    pub handovers: Mutex<handover::Handovers>,
    pub status_hook: RwLock<Option<StatusHook>>,
    /// The link is up (false until the adapter first says so).
    pub up: AtomicBool,
    /// The link was up once (so its next coming up is a restoration).
    pub was_up: AtomicBool,
}

impl Cluster {
    pub(crate) fn new(adapter: Arc<dyn Adapter>) -> Self {
        Cluster {
            node: adapter.node_id(),
            adapter,
            directory: RwLock::new(Directory::default()),
            requests: Mutex::new(RemoteRequests::default()),
            handovers: Mutex::new(handover::Handovers::default()),
            status_hook: RwLock::new(None),
            up: AtomicBool::new(false),
            was_up: AtomicBool::new(false),
        }
    }
}

/// How an adapter reaches its server: hand it what other nodes sent and
/// what happened to the link. Cheap to clone; holds the server weakly,
/// so an adapter that outlives its server finds nobody home.
#[derive(Clone)]
pub struct ClusterNode {
    pub(crate) server: Weak<Inner>,
}

impl std::fmt::Debug for ClusterNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterNode")
    }
}
