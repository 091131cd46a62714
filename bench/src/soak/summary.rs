//! The soak's result: every client's report and the server's counts added
//! up, the server's RSS over time, what counts as a failure, and the
//! printed summary.

use serde::Serialize;

use super::client::{ClientReport, Requests};
use super::crowd::Outcome;
use super::ledger::DirectTally;
use super::server::ServerStats;
use crate::Transport;
use hisock_test_support::Tally;

/// One reading of the server's RSS.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sample {
    /// Seconds since the crowd started.
    pub at_s: f64,
    /// Resident set size.
    pub rss_bytes: u64,
    /// Clients connected.
    pub clients: usize,
}

/// The server's RSS over the run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Rss {
    /// Every sample.
    pub samples: Vec<Sample>,
    /// Smallest and largest.
    pub min_bytes: u64,
    /// Largest.
    pub max_bytes: u64,
    /// After every client left.
    pub final_bytes: u64,
    /// The first sample with the crowd at 90 % of its size.
    pub full_bytes: u64,
    /// The last sample before the end of the run.
    pub end_of_load_bytes: u64,
    /// `end_of_load_bytes - full_bytes`.
    pub growth_bytes: i64,
    /// The growth over the second half of that span only: warm-up (buffers
    /// and allocator arenas reaching their working size) is in the first.
    pub second_half_growth_bytes: i64,
    /// Least-squares slope between those two samples, MiB per minute.
    pub slope_mib_per_min: f64,
}

impl Rss {
    /// Summarises `samples` of a run of `seconds` with `clients` clients.
    pub fn new(samples: Vec<Sample>, seconds: f64, clients: usize) -> Self {
        let Some(last) = samples.last() else {
            return Self::default();
        };
        let full_at = samples
            .iter()
            .position(|s| s.clients * 10 >= clients * 9)
            .unwrap_or(0);
        let end_at = samples
            .iter()
            .rposition(|s| s.at_s <= seconds)
            .unwrap_or(samples.len() - 1)
            .max(full_at);
        let load = &samples[full_at..=end_at];
        let half = &load[load.len() / 2];
        Self {
            min_bytes: samples.iter().map(|s| s.rss_bytes).min().unwrap_or(0),
            max_bytes: samples.iter().map(|s| s.rss_bytes).max().unwrap_or(0),
            final_bytes: last.rss_bytes,
            full_bytes: samples[full_at].rss_bytes,
            end_of_load_bytes: samples[end_at].rss_bytes,
            growth_bytes: samples[end_at].rss_bytes as i64 - samples[full_at].rss_bytes as i64,
            second_half_growth_bytes: samples[end_at].rss_bytes as i64 - half.rss_bytes as i64,
            slope_mib_per_min: slope(load) * 60.0 / MIB,
            samples,
        }
    }
}

const MIB: f64 = 1024.0 * 1024.0;

/// Bytes per second, by least squares.
fn slope(samples: &[Sample]) -> f64 {
    let n = samples.len() as f64;
    if samples.len() < 2 {
        return 0.0;
    }
    let mean_t = samples.iter().map(|s| s.at_s).sum::<f64>() / n;
    let mean_b = samples.iter().map(|s| s.rss_bytes as f64).sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for s in samples {
        num += (s.at_s - mean_t) * (s.rss_bytes as f64 - mean_b);
        den += (s.at_s - mean_t).powi(2);
    }
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

/// Everything the run added up to.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// Seconds from the first connection to the last client's leaving.
    pub run_seconds: f64,
    /// Client lives over TCP.
    pub tcp_clients: u64,
    /// Client lives over WebSocket.
    pub ws_clients: u64,
    /// Connections that failed.
    pub connect_failures: u64,
    /// Connections that ended before their client left.
    pub unexpected_closes: u64,
    /// The first few reasons of those and of the connect failures.
    pub first_errors: Vec<String>,
    /// Marks that did not come in time.
    pub mark_timeouts: u64,
    /// Clients that had not left a minute after the end.
    pub stuck: u64,
    /// Broadcasts to all.
    pub broadcast: Tally,
    /// Group casts.
    pub group: Tally,
    /// Client → server events.
    pub c2s: Tally,
    /// Client → client direct messages.
    pub direct: Tally,
    /// Direct-message pairs left out of the count (see `ledger`).
    pub direct_pairs_skipped: u64,
    /// `c2s` sends that failed.
    pub send_errors: u64,
    /// Client → server echo requests.
    pub echo: Requests,
    /// Relay requests.
    pub relay: Requests,
    /// Relays refused (receiver leaving).
    pub relays_refused: u64,
    /// `c2s_done` requests.
    pub done: Requests,
    /// Group changes.
    pub group_changes: u64,
    /// Group changes the server refused.
    pub change_errors: u64,
    /// Marks and deliveries out of place.
    pub stray: u64,
    /// The server's own counts.
    pub server: ServerStats,
    /// The server's RSS.
    pub rss: Rss,
}

impl Summary {
    /// Adds up the crowd's reports, the direct messages and the server.
    pub fn new(
        run_seconds: f64,
        outcome: Outcome,
        direct: DirectTally,
        server: ServerStats,
        rss: Rss,
    ) -> Self {
        let mut sum = Summary {
            run_seconds,
            stuck: outcome.stuck as u64,
            direct: direct.tally,
            direct_pairs_skipped: direct.pairs_skipped,
            server,
            rss,
            ..Summary::default()
        };
        for r in outcome.reports {
            sum.add(r);
        }
        sum
    }

    fn add(&mut self, r: ClientReport) {
        match r.transport {
            Some(Transport::Tcp) => self.tcp_clients += 1,
            Some(Transport::Ws) => self.ws_clients += 1,
            None => {}
        }
        for (counter, error) in [
            (&mut self.connect_failures, &r.connect_error),
            (&mut self.unexpected_closes, &r.unexpected_close),
        ] {
            if let Some(error) = error {
                *counter += 1;
                if self.first_errors.len() < 10 {
                    self.first_errors.push(error.clone());
                }
            }
        }
        self.mark_timeouts += r.mark_timeouts;
        self.broadcast += r.broadcast;
        self.group += r.group;
        self.c2s += r.c2s;
        self.send_errors += r.send_errors;
        self.echo += r.echo;
        self.relay += r.relay;
        self.relays_refused += r.relays_refused;
        self.done += r.done;
        self.group_changes += r.group_changes;
        self.change_errors += r.change_errors;
        self.stray += r.stray;
    }

    /// Every delivery counted.
    pub fn deliveries(&self) -> u64 {
        self.broadcast.received + self.group.received + self.c2s.received + self.direct.received
    }

    /// What went wrong, one line each; empty when the run passed.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (what, tally) in [
            ("broadcast", &self.broadcast),
            ("group cast", &self.group),
            ("client → server", &self.c2s),
            ("direct", &self.direct),
        ] {
            if !tally.is_clean() {
                out.push(format!(
                    "{what}: {} lost, {} duplicated, {} out of order, {} unexpected",
                    tally.lost, tally.duplicated, tally.out_of_order, tally.unexpected
                ));
            }
        }
        for (what, requests) in [
            ("echo", &self.echo),
            ("relay", &self.relay),
            ("c2s_done", &self.done),
        ] {
            if requests.ok != requests.sent {
                out.push(format!(
                    "{what} requests: {} of {} failed ({} timed out, {} wrong, {} errors)",
                    requests.sent - requests.ok,
                    requests.sent,
                    requests.timeouts,
                    requests.wrong,
                    requests.errors
                ));
            }
        }
        let asks = &self.server.asks;
        if asks.timeouts + asks.wrong + asks.errors + asks.in_flight > 0 {
            out.push(format!(
                "server → client requests: {} timed out, {} wrong, {} errors, {} unanswered",
                asks.timeouts, asks.wrong, asks.errors, asks.in_flight
            ));
        }
        for (what, n) in [
            ("connections failed", self.connect_failures),
            ("connections ended unexpectedly", self.unexpected_closes),
            ("marks did not come", self.mark_timeouts),
            ("clients stuck leaving", self.stuck),
            ("c2s sends failed", self.send_errors),
            ("group changes refused", self.change_errors),
            ("marks or deliveries out of place", self.stray),
        ] {
            if n > 0 {
                out.push(format!("{what}: {n}"));
            }
        }
        if self.deliveries() == 0 {
            out.push("nothing was delivered".into());
        }
        out
    }

    /// The printed summary.
    pub fn text(&self) -> String {
        let mut t = String::new();
        let mut line = |s: String| {
            t.push_str(&s);
            t.push('\n');
        };
        line(format!(
            "client lives: {} ({} tcp, {} ws); {} connect failures, {} unexpected closes, {} stuck; server peak {} clients",
            self.tcp_clients + self.ws_clients,
            self.tcp_clients,
            self.ws_clients,
            self.connect_failures,
            self.unexpected_closes,
            self.stuck,
            self.server.peak_clients,
        ));
        line(String::new());
        line(
            "| deliveries | expected | received | lost | duplicated | out of order | unexpected |"
                .into(),
        );
        line("|---|---:|---:|---:|---:|---:|---:|".into());
        for (what, tally) in [
            ("server → all", &self.broadcast),
            ("server → group", &self.group),
            ("client → server", &self.c2s),
            ("client → client (by name)", &self.direct),
            ("total", &self.total()),
        ] {
            line(format!(
                "| {what} | {} | {} | {} | {} | {} | {} |",
                tally.expected,
                tally.received,
                tally.lost,
                tally.duplicated,
                tally.out_of_order,
                tally.unexpected
            ));
        }
        line(String::new());
        line("| requests | sent | ok | timeouts | wrong | errors | left out by churn |".into());
        line("|---|---:|---:|---:|---:|---:|---:|".into());
        for (what, r) in [
            ("client → server echo", &self.echo),
            ("client → server relay", &self.relay),
            ("client → server c2s_done", &self.done),
        ] {
            line(format!(
                "| {what} | {} | {} | {} | {} | {} | 0 |",
                r.sent, r.ok, r.timeouts, r.wrong, r.errors
            ));
        }
        let a = &self.server.asks;
        line(format!(
            "| server → client ask | {} | {} | {} | {} | {} | {} |",
            a.sent,
            a.ok,
            a.timeouts,
            a.wrong,
            a.errors + a.in_flight,
            a.churn
        ));
        line(String::new());
        line(format!(
            "server sent {} broadcasts ({:.1}/s, {} queued deliveries), {} group casts ({:.1}/s, {} queued), {} requests ({:.1}/s), relayed {} direct messages (refused {}: receiver leaving); {} group changes; {} direct pairs left out",
            self.server.broadcasts,
            self.server.broadcasts as f64 / self.server.uptime_s.max(0.001),
            self.server.broadcast_queued,
            self.server.group_casts,
            self.server.group_casts as f64 / self.server.uptime_s.max(0.001),
            self.server.group_cast_queued,
            self.server.asks.sent,
            self.server.asks.sent as f64 / self.server.uptime_s.max(0.001),
            self.server.relays_queued,
            self.server.relays_refused,
            self.group_changes,
            self.direct_pairs_skipped,
        ));
        let r = &self.rss;
        line(format!(
            "server RSS: min {}, max {}, at full crowd {}, at end of load {} (growth {:+.1} MiB, {:+.1} MiB in the second half; slope {:+.2} MiB/min), after all left {}",
            mib(r.min_bytes),
            mib(r.max_bytes),
            mib(r.full_bytes),
            mib(r.end_of_load_bytes),
            r.growth_bytes as f64 / MIB,
            r.second_half_growth_bytes as f64 / MIB,
            r.slope_mib_per_min,
            mib(r.final_bytes),
        ));
        line(format!("server RSS over time: {}", self.rss_trace()));
        t
    }

    fn total(&self) -> Tally {
        let mut total = self.broadcast;
        total += self.group;
        total += self.c2s;
        total += self.direct;
        total
    }

    /// About a dozen samples, evenly spaced.
    fn rss_trace(&self) -> String {
        let samples = &self.rss.samples;
        let step = samples.len().div_ceil(12).max(1);
        let mut picked: Vec<&Sample> = samples.iter().step_by(step).collect();
        if let Some(last) = samples.last() {
            if picked.last().map(|s| s.at_s) != Some(last.at_s) {
                picked.push(last);
            }
        }
        picked
            .iter()
            .map(|s| format!("{:.0}s {} ({})", s.at_s, mib(s.rss_bytes), s.clients))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB)
}
