//! The server's figures through the `metrics` facade (feature `metrics`):
//! whatever recorder the program installed (Prometheus, StatsD, ...) sees
//! them under the names below; README "Watching a server" lists them.
//!
//! The event path never calls the facade. A task started with the first
//! listener (or served connection) copies [`ServerStats`] into it every
//! [`PUBLISH_EVERY`]: counters with `absolute`, gauges with `set`. Only
//! the request-time histogram is recorded as it happens, since a
//! histogram cannot be rebuilt from a sum. Without a recorder all of this
//! costs one snapshot a second. The figures are one server's since it was
//! built: in a process that runs two servers they overwrite each other
//! here (call [`Server::stats`](super::Server::stats) on each instead).
//!
//! Labels are bounded: `transport` (five values) and `code` (the close
//! codes the server refuses handshakes with). There is no per-command
//! label; an application that wants one counts in its `message` handler.

use std::sync::atomic::Ordering;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, Unit};

use super::{Server, ServerStats};

/// How often the figures are copied into the facade: well under any
/// scrape interval.
const PUBLISH_EVERY: Duration = Duration::from_secs(1);

/// The request-time histogram's name.
const REQUEST_SECONDS: &str = "hisock_request_duration_seconds";

/// Starts the task that publishes `server`'s figures, once per server.
pub(super) fn start_publishing(server: &Server) {
    if server.inner.publishing.swap(true, Ordering::Relaxed) {
        return;
    }
    let server = server.clone();
    let inner = server.inner.clone();
    inner.tasks.spawn(async move {
        let mut every = tokio::time::interval(PUBLISH_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = server.inner.shutdown.cancelled() => break,
                _ = every.tick() => publish(&server.stats()),
            }
        }
        // The last figures, so that a final scrape sees the whole run.
        publish(&server.stats());
    });
}

/// A handler answered a request after `took`.
pub(super) fn request_answered(took: Duration) {
    metrics::histogram!(REQUEST_SECONDS).record(took.as_secs_f64());
}

fn publish(stats: &ServerStats) {
    // Every time, not once: a recorder installed after the server started
    // still gets the units and help texts.
    describe();
    for (transport, now) in stats.connections_now.labelled() {
        gauge!("hisock_connections", "transport" => transport).set(now as f64);
    }
    for (transport, total) in stats.connections_total.labelled() {
        counter!("hisock_connections_total", "transport" => transport).absolute(total);
    }
    for (code, refused) in &stats.handshakes_refused {
        counter!("hisock_handshakes_refused_total", "code" => code.to_string()).absolute(*refused);
    }
    counter!("hisock_frames_received_total").absolute(stats.frames_in);
    counter!("hisock_events_received_total").absolute(stats.events_in);
    counter!("hisock_received_bytes_total").absolute(stats.bytes_in);
    counter!("hisock_frames_sent_total").absolute(stats.frames_out);
    counter!("hisock_events_sent_total").absolute(stats.events_out);
    counter!("hisock_sent_bytes_total").absolute(stats.bytes_out);
    gauge!("hisock_outbox_bytes").set(stats.outbox_bytes_now as f64);
    counter!("hisock_slow_client_kicks_total").absolute(stats.slow_client_kicks);
    counter!("hisock_keepalive_drops_total").absolute(stats.keepalive_drops);
    counter!("hisock_streams_received_total").absolute(stats.streams_in_total);
    counter!("hisock_streams_sent_total").absolute(stats.streams_out_total);
    gauge!("hisock_streams_sending").set(stats.streams_out_now as f64);
    gauge!("hisock_sessions_waiting").set(stats.sessions_waiting as f64);
}

fn describe() {
    describe_gauge!(
        "hisock_connections",
        Unit::Count,
        "clients connected now, by transport"
    );
    describe_counter!(
        "hisock_connections_total",
        Unit::Count,
        "clients that completed the handshake, by transport"
    );
    describe_counter!(
        "hisock_handshakes_refused_total",
        Unit::Count,
        "handshakes refused, by close code"
    );
    describe_counter!(
        "hisock_frames_received_total",
        Unit::Count,
        "frames received from clients"
    );
    describe_counter!(
        "hisock_events_received_total",
        Unit::Count,
        "events received from clients (requests included)"
    );
    describe_counter!(
        "hisock_received_bytes_total",
        Unit::Bytes,
        "bytes of the frames received"
    );
    describe_counter!(
        "hisock_frames_sent_total",
        Unit::Count,
        "frames written to clients"
    );
    describe_counter!(
        "hisock_events_sent_total",
        Unit::Count,
        "events written to clients (once per recipient)"
    );
    describe_counter!(
        "hisock_sent_bytes_total",
        Unit::Bytes,
        "bytes of the frames written"
    );
    describe_histogram!(
        REQUEST_SECONDS,
        Unit::Seconds,
        "time from a client's request to its reply being queued"
    );
    describe_gauge!(
        "hisock_outbox_bytes",
        Unit::Bytes,
        "bytes queued for clients now (frame bytes plus per-frame overhead)"
    );
    describe_counter!(
        "hisock_slow_client_kicks_total",
        Unit::Count,
        "clients disconnected because their outgoing queue was full"
    );
    describe_counter!(
        "hisock_keepalive_drops_total",
        Unit::Count,
        "clients dropped for silence (keepalive timeout)"
    );
    describe_counter!(
        "hisock_streams_received_total",
        Unit::Count,
        "streams from clients that were accepted"
    );
    describe_counter!(
        "hisock_streams_sent_total",
        Unit::Count,
        "streams started toward clients"
    );
    describe_gauge!(
        "hisock_streams_sending",
        Unit::Count,
        "streams toward clients open now"
    );
}
