//! Stopping: `run` in the foreground, `shutdown`, and the report of what a
//! shutdown could not deliver.
//!
//! A connection that ends (shutdown, disconnect, a slow reader dropped)
//! first sends what is queued for it, then its `Close`. A peer that does
//! not read it all within
//! [`ServerConfig::flush_timeout`](super::ServerConfig::flush_timeout) is
//! cut: a `tracing` warning gives the count of frames it never got, and
//! during a shutdown the count goes into the [`ShutdownReport`] too.

use super::Server;
use crate::outbox::Undelivered;
use crate::platform::lock;

/// What one client did not get because its connection was cut before its
/// queue drained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UndeliveredTo {
    /// The client's id (see [`ClientInfo::id`](crate::ClientInfo::id)).
    pub client: u64,
    /// The frames it did not get whole: the ones still queued, and the one
    /// being written when the connection was cut. Every frame counted here
    /// is missing at the client; every other frame queued for it arrived.
    pub frames: usize,
    /// The bytes of those still queued.
    pub queued_bytes: usize,
}

/// What [`Server::shutdown`] could not deliver within the flush timeout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// One entry per client cut before its queue drained, in the order they
    /// were cut. Empty when every client got everything queued for it and
    /// the `Close`.
    pub undelivered: Vec<UndeliveredTo>,
}

impl ShutdownReport {
    /// Frames that were queued for clients and never reached them.
    pub fn frames_lost(&self) -> usize {
        self.undelivered.iter().map(|u| u.frames).sum()
    }

    /// True when every client got everything queued for it.
    pub fn is_complete(&self) -> bool {
        self.undelivered.is_empty()
    }
}

impl Server {
    /// Runs until [`shutdown`](Self::shutdown) is called (HiSock's blocking
    /// `start()`). Listeners already run in the background after
    /// [`listen`](Self::listen); this only waits.
    pub async fn run(&self) {
        self.inner.shutdown.cancelled().await;
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }

    /// Closes the server cleanly: stops accepting, lets each connection
    /// finish the handlers already queued (up to
    /// [`drain_timeout`](super::ServerConfig::drain_timeout)), sends every
    /// queued frame followed by a close frame with
    /// [`GOING_AWAY`](crate::close::codes::GOING_AWAY), runs `leave`
    /// handlers, and returns when all connections are gone. In a cluster,
    /// the node then leaves it (its adapter sends what is queued and
    /// stops).
    ///
    /// A client that does not read all of that within
    /// [`flush_timeout`](super::ServerConfig::flush_timeout) is cut (it
    /// sees the connection end without a `Close`: 1006), and the report
    /// says how many frames it did not get.
    pub async fn shutdown(&self) -> ShutdownReport {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
        // Every client's leave is published by now.
        if let Some(cluster) = &self.inner.cluster {
            cluster.adapter.shutdown().await;
        }
        ShutdownReport {
            undelivered: std::mem::take(&mut *lock(&self.inner.undelivered)),
        }
    }

    /// True once [`shutdown`](Self::shutdown) has been called.
    pub fn is_shut_down(&self) -> bool {
        self.inner.shutdown.is_cancelled()
    }

    /// A connection was cut after `flush_timeout` with frames still to
    /// send: warns, and during a shutdown, reports.
    pub(super) fn cut_before_drained(&self, client: u64, lost: Undelivered) {
        if client == 0 {
            // Never joined: only a refusal was queued.
            return;
        }
        tracing::warn!(
            client,
            frames = lost.frames,
            queued_bytes = lost.queued_bytes,
            "client did not read its queue within the flush timeout; cut"
        );
        if self.is_shut_down() {
            lock(&self.inner.undelivered).push(UndeliveredTo {
                client,
                frames: lost.frames,
                queued_bytes: lost.queued_bytes,
            });
        }
    }
}
