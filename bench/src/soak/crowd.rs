//! The crowd: keeps `--clients` clients alive until the end of the run,
//! each for its own lifetime, a new one taking the place of each that
//! leaves, and collects what each life added up to.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hisock::{Client, ClientOptions};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::client::{self, ClientReport};
use super::ledger::{Ledger, Live};
use super::options::Options;
use crate::util::BenchResult;
use crate::Transport;

/// How long clients get to leave after the end of the run before the
/// ones still there count as stuck.
const LEAVE_LIMIT: Duration = Duration::from_secs(60);

/// What the clients share.
pub struct Crowd {
    /// The run's options.
    pub options: Options,
    tcp: SocketAddr,
    ws: SocketAddr,
    /// Limits connections opened at once.
    pub connect_gate: Semaphore,
    /// Who can be sent direct messages.
    pub live: Live,
    /// Direct messages accepted and received.
    pub ledger: Ledger,
    next_id: AtomicU64,
}

/// Every life's report, and the clients that did not finish leaving.
pub struct Outcome {
    /// One per client.
    pub reports: Vec<ClientReport>,
    /// Clients still running `LEAVE_LIMIT` after the end.
    pub stuck: usize,
}

impl Crowd {
    /// A crowd for the server at `tcp` and `ws`.
    pub fn new(options: Options, tcp: SocketAddr, ws: SocketAddr) -> Self {
        Self {
            connect_gate: Semaphore::new(options.connect_concurrency),
            options,
            tcp,
            ws,
            live: Live::default(),
            ledger: Ledger::default(),
            next_id: AtomicU64::new(1),
        }
    }

    /// Connects a client over `transport`.
    pub async fn connect(
        &self,
        transport: Transport,
        options: ClientOptions,
    ) -> BenchResult<Client> {
        Ok(match transport {
            Transport::Tcp => hisock_tcp::connect(self.tcp, options).await?,
            Transport::Ws => hisock_ws::connect(&format!("ws://{}/", self.ws), options).await?,
        })
    }

    fn transport_of(&self, id: u64) -> Transport {
        match self.options.transports.as_str() {
            "tcp" => Transport::Tcp,
            "ws" => Transport::Ws,
            _ if id % 2 == 0 => Transport::Tcp,
            _ => Transport::Ws,
        }
    }

    fn spawn(self: &Arc<Self>, lives: &mut JoinSet<ClientReport>, until: Instant) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let transport = self.transport_of(id);
        lives.spawn(client::live(self.clone(), id, transport, until));
    }

    /// Runs the crowd until `end`, then waits for every client to leave.
    pub async fn run(self: Arc<Self>, end: Instant) -> Outcome {
        let lifetime = Duration::from_secs_f64(self.options.lifetime.max(0.001));
        let started = Instant::now();
        let mut lives = JoinSet::new();
        for _ in 0..self.options.clients {
            // The first lives end spread out, so churn starts at once.
            let until = started + lifetime.mul_f64(0.1 + 1.4 * fastrand::f64());
            self.spawn(&mut lives, until.min(end));
        }
        let mut reports = Vec::new();
        let leave_by = end + LEAVE_LIMIT;
        loop {
            let next = tokio::time::timeout_at(leave_by.into(), lives.join_next()).await;
            let report = match next {
                Ok(Some(Ok(report))) => report,
                Ok(Some(Err(err))) => {
                    // A client task that panicked: a failure like any other.
                    ClientReport {
                        unexpected_close: Some(format!("client task failed: {err}")),
                        ..ClientReport::default()
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    let stuck = lives.len();
                    lives.abort_all();
                    return Outcome { reports, stuck };
                }
            };
            if report.connect_error.is_some() {
                // Do not turn a refusing server into a busy loop.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            reports.push(report);
            let now = Instant::now();
            if now < end {
                let until = now + lifetime.mul_f64(0.5 + fastrand::f64());
                self.spawn(&mut lives, until.min(end));
            }
        }
        Outcome { reports, stuck: 0 }
    }
}
