//! The link task: one per node. It connects (again and again, with
//! backoff), subscribes, keeps the heartbeat, publishes the queue in
//! batches, hands received messages to the server, watches the other
//! nodes' heartbeats and has the server publish its digest every resync
//! period.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use hisock::server::cluster::{ClusterNode, NodeId, MAX_NODE_ID};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisResult};
use tokio::time::Instant;

use crate::keys::Keys;
use crate::queue::lock;
use crate::{RedisConfig, Shared};

/// Largest batch of messages sent in one pipeline.
const BATCH_BYTES: usize = 1 << 20;

/// The first wait before reconnecting; it doubles up to the configured
/// maximum.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Opens a command connection whose commands time out after the heartbeat
/// window (a Redis that hangs counts as lost, as one that is gone).
pub(crate) async fn open(
    client: &redis::Client,
    config: &RedisConfig,
) -> RedisResult<MultiplexedConnection> {
    let timeouts = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(config.heartbeat))
        .set_response_timeout(Some(config.heartbeat));
    client
        .get_multiplexed_async_connection_with_config(&timeouts)
        .await
}

/// Takes a node number: the next of the namespace's counter whose
/// heartbeat key is free (`SET NX`, so two nodes never take the same
/// one). `None` when every number is taken by a live node.
pub(crate) async fn take_node_number(
    conn: &mut MultiplexedConnection,
    keys: &Keys,
    heartbeat: Duration,
) -> RedisResult<Option<NodeId>> {
    for _ in 0..MAX_NODE_ID {
        let seq: u64 = redis::cmd("INCR")
            .arg(keys.node_seq())
            .query_async(conn)
            .await?;
        let node = ((seq - 1) % u64::from(MAX_NODE_ID)) as NodeId + 1;
        let taken: Option<String> = redis::cmd("SET")
            .arg(keys.alive(node))
            .arg("1")
            .arg("NX")
            .arg("PX")
            .arg(millis(heartbeat))
            .query_async(conn)
            .await?;
        if taken.is_some() {
            let _: () = redis::cmd("SADD")
                .arg(keys.nodes())
                .arg(node)
                .query_async(conn)
                .await?;
            return Ok(Some(node));
        }
    }
    Ok(None)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// The link task: rounds of connect-and-serve until the adapter stops.
pub(crate) async fn run(
    shared: Arc<Shared>,
    node: ClusterNode,
    mut first: Option<MultiplexedConnection>,
) {
    let mut backoff = FIRST_BACKOFF;
    let mut watch = Watch::default();
    loop {
        let conn = match first.take() {
            Some(conn) => Ok(conn),
            None => open(&shared.client, &shared.config).await,
        };
        let ended = match conn {
            Ok(conn) => serve(&shared, &node, conn, &mut watch, &mut backoff).await,
            Err(err) => Err(err.to_string()),
        };
        shared.up.store(false, Ordering::Release);
        match ended {
            Ok(()) => return,
            Err(reason) => {
                let dropped = lock(&shared.queue).clear();
                tracing::debug!(reason, dropped, ?backoff, "Redis link down; reconnecting");
                node.link_down(&reason);
            }
        }
        if shared.stopping.load(Ordering::Acquire) {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(shared.config.max_backoff.max(FIRST_BACKOFF));
    }
}

/// What this node knows of the others' heartbeats, across rounds.
#[derive(Default)]
struct Watch {
    /// Nodes already reported lost (reported once, until their key is
    /// back).
    lost: HashSet<NodeId>,
}

/// One round on a live connection: `Ok` when the adapter stops, `Err` with
/// the reason when the link fails.
async fn serve(
    shared: &Shared,
    node: &ClusterNode,
    mut conn: MultiplexedConnection,
    watch: &mut Watch,
    backoff: &mut Duration,
) -> Result<(), String> {
    let keys = &shared.keys;
    let mut pubsub = shared
        .client
        .get_async_pubsub()
        .await
        .map_err(|e| e.to_string())?;
    pubsub
        .subscribe(&[
            keys.all_channel().to_owned(),
            keys.node_channel(shared.node),
        ])
        .await
        .map_err(|e| e.to_string())?;
    let mut messages = pubsub.into_on_message();
    heartbeat(&mut conn, shared)
        .await
        .map_err(|e| e.to_string())?;
    // Subscribed and alive: from here on `publish` queues, and the
    // server's hello and snapshot are the first things sent.
    shared.up.store(true, Ordering::Release);
    node.link_up();
    *backoff = FIRST_BACKOFF;
    let connected = Instant::now();
    let mut ticks = tokio::time::interval(shared.config.heartbeat / 3);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first digest one period after the snapshot `link_up` just sent.
    let resync = shared.config.resync;
    let mut digests = tokio::time::interval_at(connected + resync, resync);
    digests.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if shared.stopping.load(Ordering::Acquire) {
            flush(&mut conn, shared).await.map_err(|e| e.to_string())?;
            leave(&mut conn, shared).await;
            return Ok(());
        }
        tokio::select! {
            message = messages.next() => match message {
                Some(message) => node.receive(message.get_payload_bytes()),
                None => return Err("the subscription connection closed".to_owned()),
            },
            _ = shared.wake.notified() => {
                publish_batch(&mut conn, shared).await.map_err(|e| e.to_string())?;
                if !lock(&shared.queue).is_empty() {
                    shared.wake.notify_one();
                }
            }
            _ = digests.tick() => node.publish_digest(),
            _ = ticks.tick() => {
                if !node.is_attached() {
                    // The server is gone without a shutdown: so is this node.
                    leave(&mut conn, shared).await;
                    return Ok(());
                }
                heartbeat(&mut conn, shared).await.map_err(|e| e.to_string())?;
                // Right after (re)connecting, keys may be missing only
                // because Redis restarted empty: give every node one window
                // to set its key again before calling it lost.
                if connected.elapsed() >= shared.config.heartbeat {
                    check_nodes(&mut conn, shared, node, watch).await.map_err(|e| e.to_string())?;
                }
            }
        }
    }
}

/// Refreshes this node's heartbeat key and its place in the node set.
async fn heartbeat(conn: &mut MultiplexedConnection, shared: &Shared) -> RedisResult<()> {
    let keys = &shared.keys;
    redis::pipe()
        .cmd("SET")
        .arg(keys.alive(shared.node))
        .arg("1")
        .arg("PX")
        .arg(millis(shared.config.heartbeat))
        .ignore()
        .cmd("SADD")
        .arg(keys.nodes())
        .arg(shared.node)
        .ignore()
        .query_async(conn)
        .await
}

/// Reports the nodes whose heartbeat key expired, once each.
async fn check_nodes(
    conn: &mut MultiplexedConnection,
    shared: &Shared,
    node: &ClusterNode,
    watch: &mut Watch,
) -> RedisResult<()> {
    let keys = &shared.keys;
    let members: Vec<NodeId> = redis::cmd("SMEMBERS")
        .arg(keys.nodes())
        .query_async(conn)
        .await?;
    let others: Vec<NodeId> = members.into_iter().filter(|n| *n != shared.node).collect();
    if others.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    for other in &others {
        pipe.cmd("EXISTS").arg(keys.alive(*other));
    }
    let alive: Vec<bool> = pipe.query_async(conn).await?;
    for (other, alive) in others.into_iter().zip(alive) {
        if alive {
            if watch.lost.remove(&other) {
                // It was slow, not dead: get its clients back.
                tracing::info!(node = other, "cluster node back");
                node.resync();
            }
        } else if watch.lost.insert(other) {
            node.node_lost(other);
        }
    }
    Ok(())
}

/// Publishes one batch from the queue, in one pipeline.
async fn publish_batch(conn: &mut MultiplexedConnection, shared: &Shared) -> RedisResult<()> {
    let batch = lock(&shared.queue).take_batch(BATCH_BYTES);
    if batch.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    for (channel, message) in &batch {
        pipe.cmd("PUBLISH").arg(channel).arg(&message[..]).ignore();
    }
    pipe.query_async(conn).await
}

/// Publishes everything still queued.
async fn flush(conn: &mut MultiplexedConnection, shared: &Shared) -> RedisResult<()> {
    while !lock(&shared.queue).is_empty() {
        publish_batch(conn, shared).await?;
    }
    Ok(())
}

/// Leaves the cluster cleanly: the heartbeat key and the set entry go, so
/// nobody waits for this node's heartbeat to expire (its clients' leaves
/// were published already).
async fn leave(conn: &mut MultiplexedConnection, shared: &Shared) {
    let keys = &shared.keys;
    let left: RedisResult<()> = redis::pipe()
        .cmd("DEL")
        .arg(keys.alive(shared.node))
        .ignore()
        .cmd("SREM")
        .arg(keys.nodes())
        .arg(shared.node)
        .ignore()
        .query_async(conn)
        .await;
    if let Err(err) = left {
        tracing::debug!(%err, "could not leave the cluster cleanly");
    }
}
