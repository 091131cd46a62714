//! What a server has done, for operators: the counters a connection bumps
//! at a few points, and [`ServerStats`], the snapshot
//! [`Server::stats`](super::Server::stats) reads from them. With the
//! `metrics` feature the same figures also go to the `metrics` facade
//! (see `metrics.rs`).
//!
//! Counting must not cost the event path: a connection counts the frames
//! and bytes it reads in plain fields and adds them here once per read
//! batch (up to 64 frames), and the writer adds what it sent once per
//! flushed batch; every counter is a relaxed atomic. Gauges (connections,
//! queued bytes, open streams) are not kept at all: a snapshot counts them
//! in the registry when it is asked for.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::registry::Registry;
use crate::close::{codes, CloseReason};
use crate::outbox::Sent;
use crate::platform::locks::lock;
use crate::transport::TransportKind;

/// A snapshot of what a server is doing and has done since it was built,
/// for programs that do not run a `metrics` recorder (serialize it as JSON
/// on a status route, log it, compare two). Counters only grow; the
/// `*_now` fields are gauges, counted when the snapshot is taken.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ServerStats {
    /// Clients connected now (past the handshake), by transport.
    pub connections_now: ByTransport,
    /// Clients that completed the handshake since the start, by transport.
    pub connections_total: ByTransport,
    /// Handshakes refused, by the close code the refusal carried (4001
    /// version, 4002 server full, 4003 auth, 4004 handshake timeout, 4008
    /// a name or group too long, ...).
    pub handshakes_refused: BTreeMap<u16, u64>,
    /// Frames received from clients (events, replies, pings, ...).
    pub frames_in: u64,
    /// Events received from clients (requests included).
    pub events_in: u64,
    /// Bytes of the frames received (without the transport's framing).
    pub bytes_in: u64,
    /// Frames written to clients.
    pub frames_out: u64,
    /// Events written to clients (broadcasts count once per recipient).
    pub events_out: u64,
    /// Bytes of the frames written (without the transport's framing).
    pub bytes_out: u64,
    /// Requests from clients that a handler answered.
    pub requests_answered: u64,
    /// Their total time, from the request's arrival to its reply being
    /// queued, in seconds (divide by `requests_answered` for the mean).
    pub request_seconds_total: f64,
    /// What the outgoing queues of all connections hold now, in counted
    /// bytes (frame bytes plus a per-frame overhead; see
    /// [`Outbox`](crate::outbox::Outbox)).
    pub outbox_bytes_now: u64,
    /// Clients disconnected because their outgoing queue was full
    /// ([`SLOW_CONSUMER`](codes::SLOW_CONSUMER)).
    pub slow_client_kicks: u64,
    /// Clients dropped because they went silent
    /// ([`KEEPALIVE_TIMEOUT`](codes::KEEPALIVE_TIMEOUT)).
    pub keepalive_drops: u64,
    /// Streams clients started toward the server that were accepted.
    pub streams_in_total: u64,
    /// Streams the server started toward clients.
    pub streams_out_total: u64,
    /// Streams toward clients open now.
    pub streams_out_now: u64,
    /// Clients whose connection broke and whose session waits for them to
    /// resume it, now (PROTOCOL.md section 13.6).
    pub sessions_waiting: u64,
}

/// One figure per transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ByTransport {
    /// Length-prefixed frames over TCP.
    pub tcp: u64,
    /// TCP with TLS.
    pub tls: u64,
    /// WebSocket.
    pub ws: u64,
    /// WebSocket with TLS.
    pub wss: u64,
    /// Any other transport (in-memory, your own).
    pub other: u64,
}

impl ByTransport {
    /// The figure of one transport.
    pub fn get(&self, kind: TransportKind) -> u64 {
        match kind {
            TransportKind::Tcp => self.tcp,
            TransportKind::Tls => self.tls,
            TransportKind::Ws => self.ws,
            TransportKind::Wss => self.wss,
            TransportKind::Other => self.other,
        }
    }

    /// All transports together.
    pub fn total(&self) -> u64 {
        self.tcp + self.tls + self.ws + self.wss + self.other
    }

    fn slot(&mut self, kind: TransportKind) -> &mut u64 {
        match kind {
            TransportKind::Tcp => &mut self.tcp,
            TransportKind::Tls => &mut self.tls,
            TransportKind::Ws => &mut self.ws,
            TransportKind::Wss => &mut self.wss,
            TransportKind::Other => &mut self.other,
        }
    }

    /// Each transport with its label, as the metrics use them.
    #[cfg(feature = "metrics")]
    pub(crate) fn labelled(&self) -> [(&'static str, u64); 5] {
        [
            ("tcp", self.tcp),
            ("tls", self.tls),
            ("ws", self.ws),
            ("wss", self.wss),
            ("other", self.other),
        ]
    }
}

/// The server's counters. Relaxed atomics: each is a figure on its own,
/// read without any order against the others.
#[derive(Default)]
pub(crate) struct Counters {
    /// Frames, events and bytes written: every connection's writer adds
    /// its batches here.
    pub sent: Arc<Sent>,
    frames_in: AtomicU64,
    events_in: AtomicU64,
    bytes_in: AtomicU64,
    joined: Mutex<ByTransport>,
    refused: Mutex<BTreeMap<u16, u64>>,
    /// Handlers' answers to requests: every connection's `Peer` records
    /// here.
    pub requests: Arc<RequestTimes>,
    slow_client_kicks: AtomicU64,
    keepalive_drops: AtomicU64,
    streams_in: AtomicU64,
    streams_out: AtomicU64,
    /// Sessions in a break now: see [`ServerStats::sessions_waiting`].
    pub sessions_waiting: AtomicU64,
}

/// How many requests handlers answered, and how long they took.
#[derive(Default)]
pub(crate) struct RequestTimes {
    answered: AtomicU64,
    nanos: AtomicU64,
}

impl RequestTimes {
    /// A handler answered a request that arrived at `started`.
    pub fn answered(&self, started: Instant) {
        let took = started.elapsed();
        self.answered.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        super::metrics::request_answered(took);
    }
}

/// What one read batch of a connection held: plain counts, bumped per
/// frame and added to [`Counters`] once per batch.
#[derive(Default)]
pub(crate) struct ReadTally {
    pub frames: u64,
    pub events: u64,
    pub bytes: u64,
}

impl Counters {
    /// Adds a connection's read batch.
    #[inline]
    pub fn add_read(&self, tally: &ReadTally) {
        if tally.frames == 0 {
            return;
        }
        self.frames_in.fetch_add(tally.frames, Ordering::Relaxed);
        self.events_in.fetch_add(tally.events, Ordering::Relaxed);
        self.bytes_in.fetch_add(tally.bytes, Ordering::Relaxed);
    }

    /// A client completed the handshake.
    pub fn joined(&self, kind: TransportKind) {
        *lock(&self.joined).slot(kind) += 1;
    }

    /// A handshake was refused with `code`.
    pub fn refused(&self, code: u16) {
        *lock(&self.refused).entry(code).or_default() += 1;
    }

    /// A joined client's connection ended with `reason`.
    pub fn closed(&self, reason: &CloseReason) {
        match reason.code {
            codes::SLOW_CONSUMER => self.slow_client_kicks.fetch_add(1, Ordering::Relaxed),
            codes::KEEPALIVE_TIMEOUT => self.keepalive_drops.fetch_add(1, Ordering::Relaxed),
            _ => return,
        };
    }

    /// A client's stream toward the server was accepted.
    pub fn stream_in(&self) {
        self.streams_in.fetch_add(1, Ordering::Relaxed);
    }

    /// The server started a stream toward a client.
    pub fn stream_out(&self) {
        self.streams_out.fetch_add(1, Ordering::Relaxed);
    }

    /// The snapshot: the counters, and the gauges counted in `registry`.
    pub fn snapshot(&self, registry: &Registry) -> ServerStats {
        let mut connections_now = ByTransport::default();
        let mut outbox_bytes_now = 0u64;
        let mut streams_out_now = 0u64;
        for entry in registry.all() {
            *connections_now.slot(entry.info.transport) += 1;
            outbox_bytes_now += entry.outbox.queued_bytes() as u64;
            streams_out_now += entry.outgoing.open_count() as u64;
        }
        let sent = &self.sent;
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ServerStats {
            connections_now,
            connections_total: *lock(&self.joined),
            handshakes_refused: lock(&self.refused).clone(),
            frames_in: read(&self.frames_in),
            events_in: read(&self.events_in),
            bytes_in: read(&self.bytes_in),
            frames_out: read(&sent.frames),
            events_out: read(&sent.events),
            bytes_out: read(&sent.bytes),
            requests_answered: read(&self.requests.answered),
            request_seconds_total: Duration::from_nanos(read(&self.requests.nanos)).as_secs_f64(),
            outbox_bytes_now,
            slow_client_kicks: read(&self.slow_client_kicks),
            keepalive_drops: read(&self.keepalive_drops),
            streams_in_total: read(&self.streams_in),
            streams_out_total: read(&self.streams_out),
            streams_out_now,
            sessions_waiting: read(&self.sessions_waiting),
        }
    }
}
