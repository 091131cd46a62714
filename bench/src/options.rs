//! Command-line options and the size of each workload.

use std::path::PathBuf;
use std::time::Duration;

use crate::util::BenchResult;
use crate::Transport;

/// Most runs of M1 (each run opens 3 × 10,000 connections per stack and
/// transport).
pub const M1_RUNS: usize = 3;

/// The workloads, in the order they run.
pub const WORKLOADS: &[&str] = &["W1", "W2", "W3", "M1", "L1", "C1", "R1"];

/// Which of W1's hisock runs to make: without a session, with resumption
/// on, or both (each run then makes one of each, plain first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sessions {
    /// Only the plain run (`off`).
    Off,
    /// Only the run with resumption on (`on`).
    On,
    /// Both (`both`, the default).
    Both,
}

impl Sessions {
    /// Whether the plain run is made.
    pub fn plain(self) -> bool {
        self != Self::On
    }

    /// Whether the run with resumption on is made.
    pub fn resumable(self) -> bool {
        self != Self::Off
    }

    fn parse(name: &str) -> Option<Self> {
        match name {
            "off" => Some(Self::Off),
            "on" => Some(Self::On),
            "both" => Some(Self::Both),
            _ => None,
        }
    }
}

/// What to run and how big.
#[derive(Debug, Clone)]
pub struct Options {
    /// One run at a tenth of the size.
    pub quick: bool,
    /// Runs per figure; the report shows the median. M1, the slowest,
    /// runs at most [`M1_RUNS`] times.
    pub runs: usize,
    /// Which workloads to run.
    pub only: Vec<String>,
    /// Where report.json and the chart go.
    pub out: PathBuf,
    /// Measure the raw stack too (off with `--hisock-only`, for profiling).
    pub raw: bool,
    /// The transports to measure (`--transport tcp,tls` picks some; W3's
    /// mixed run needs tcp and ws). W3, L1 and R1 run on tcp and ws only.
    pub transports: Vec<Transport>,
    /// W1: events pipelined by one client.
    pub w1_events: u64,
    /// W1: payload bytes per event.
    pub w1_payload: usize,
    /// W1: which hisock runs, without a session and with resumption on
    /// (`--w1-sessions off|on|both`; both by default). One of them alone
    /// is for profiling the other's cost.
    pub w1_sessions: Sessions,
    /// W2: round trips.
    pub w2_round_trips: usize,
    /// W3: connected clients.
    pub w3_clients: usize,
    /// W3: broadcasts.
    pub w3_broadcasts: u32,
    /// W3: payload bytes per broadcast.
    pub w3_payload: usize,
    /// M1: idle connections per wave.
    pub m1_conns: usize,
    /// M1: churn waves.
    pub m1_waves: usize,
    /// M1: the hisock server sends presence notices (its default). The M1
    /// clients register no presence handlers, so they tell the server they
    /// want none. `--m1-no-presence` builds the server with
    /// `presence_notices(false)` instead, for comparison.
    pub m1_presence: bool,
    /// M1: how long the connections sit idle before the RSS is read.
    pub m1_idle: Duration,
    /// L1: the large payload, in bytes.
    pub l1_bytes: usize,
    /// R1: measured cuts per run.
    pub r1_cuts: usize,
    /// Longest any single measurement may take.
    pub limit: Duration,
}

const USAGE: &str =
    "usage: bench [--quick] [--runs N] [--only W1,W2,W3,M1,L1,C1,R1] [--out DIR] [--hisock-only] [--transport tcp,ws,tls,wss] [--m1-no-presence] [--w1-events N] [--w1-sessions off|on|both]";

impl Options {
    fn full() -> Self {
        Self {
            quick: false,
            runs: 5,
            only: WORKLOADS.iter().map(|w| w.to_string()).collect(),
            out: crate::default_out(),
            raw: true,
            transports: vec![
                Transport::Tcp,
                Transport::Ws,
                Transport::Tls,
                Transport::Wss,
            ],
            w1_events: 1_000_000,
            w1_payload: 64,
            w1_sessions: Sessions::Both,
            w2_round_trips: 20_000,
            w3_clients: 1_000,
            w3_broadcasts: 200,
            w3_payload: 100,
            m1_conns: 10_000,
            m1_waves: 3,
            m1_presence: true,
            m1_idle: Duration::from_millis(1000),
            l1_bytes: 256 * 1024 * 1024,
            r1_cuts: 200,
            limit: Duration::from_secs(180),
        }
    }

    fn quick() -> Self {
        Self {
            quick: true,
            runs: 1,
            w1_events: 100_000,
            w2_round_trips: 2_000,
            w3_clients: 100,
            m1_conns: 1_000,
            m1_idle: Duration::from_millis(200),
            l1_bytes: 256 * 1024 * 1024 / 10,
            r1_cuts: 20,
            limit: Duration::from_secs(30),
            ..Self::full()
        }
    }

    /// Parses the command line (without the program name).
    pub fn parse(args: &[String]) -> BenchResult<Self> {
        let quick = args.iter().any(|a| a == "--quick");
        let mut options = if quick { Self::quick() } else { Self::full() };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => {}
                "--hisock-only" => options.raw = false,
                "--m1-no-presence" => options.m1_presence = false,
                "--transport" => {
                    let names = args.next().ok_or(USAGE)?;
                    options.transports = names
                        .split(',')
                        .map(|name| Transport::parse(name.trim()).ok_or(USAGE))
                        .collect::<Result<_, _>>()?;
                }
                "--runs" => {
                    options.runs = args.next().ok_or(USAGE)?.parse()?;
                    options.runs = options.runs.max(1);
                }
                "--only" => {
                    let list = args.next().ok_or(USAGE)?;
                    options.only = list.split(',').map(|w| w.trim().to_uppercase()).collect();
                    if let Some(bad) = options
                        .only
                        .iter()
                        .find(|w| !WORKLOADS.contains(&w.as_str()))
                    {
                        return Err(format!("unknown workload {bad:?}\n{USAGE}").into());
                    }
                }
                "--w1-events" => options.w1_events = args.next().ok_or(USAGE)?.parse()?,
                "--w1-sessions" => {
                    let name = args.next().ok_or(USAGE)?;
                    options.w1_sessions = Sessions::parse(name).ok_or(USAGE)?;
                }
                "--out" => options.out = PathBuf::from(args.next().ok_or(USAGE)?),
                "-h" | "--help" => return Err(USAGE.into()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
            }
        }
        Ok(options)
    }

    /// The selected transports without TLS (W3 and L1 measure those only).
    pub fn plain_transports(&self) -> Vec<Transport> {
        self.transports
            .iter()
            .copied()
            .filter(|t| !t.is_tls())
            .collect()
    }

    /// True when `workload` is selected.
    pub fn runs_workload(&self, workload: &str) -> bool {
        self.only.iter().any(|w| w == workload)
    }
}
