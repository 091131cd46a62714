//! # hisock-bench
//!
//! hisock against the raw stack it is built on, in one run on one machine:
//! tokio TCP with tokio-util's `LengthDelimitedCodec`, and plain
//! tokio-tungstenite binary messages, each also inside tokio-rustls (TLS,
//! WSS). Workloads (see `workloads/`):
//!
//! - W1 stream: one client pipelines 1,000,000 events of 64 bytes.
//! - W2 rpc: 20,000 sequential request/reply round trips, p50 and p99.
//!   W1 and W2 also run with resumption on (the client reconnects and asks
//!   for a session, so both sides count, acknowledge and keep a replay
//!   buffer): the `_resume` figures.
//! - W3 fanout: 1,000 clients, 200 broadcasts of 100 bytes each.
//! - M1 memory: server RSS per idle connection at 10,000 connections (the
//!   clients in another process), then three churn waves.
//! - L1 large payload: 256 MiB streamed while small events flow beside it.
//! - C1 cluster: nodes joined through a local redis-server: a broadcast's
//!   propagation from one node to another's client (Redis's own PUBLISH
//!   round trip as raw), and W3's fanout over 3 nodes (one node as raw).
//! - R1 resume: the time from a cut to resumed delivery, p50 and p99 (raw:
//!   a new bare connection's first frame).
//!
//! ```text
//! cargo run --release -p hisock-bench -- [--quick] [--only W1,W3] [--out DIR]
//! ```
//!
//! Prints a markdown table, writes `target/bench/report.json` and
//! `target/bench/chart.svg`. `--quick` runs everything once at a tenth of
//! the size (a smoke check, well under a minute).
#![forbid(unsafe_code)]

mod chart;
mod m1_child;
mod options;
mod payload;
mod raw;
mod report;
mod side;
mod stats;
mod tls;
mod util;
mod workloads;

use std::fmt;
use std::path::PathBuf;
use std::time::Instant;

use options::Options;
use util::BenchResult;

/// Which transport a figure is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Length-prefixed frames over TCP.
    Tcp,
    /// Binary WebSocket messages.
    Ws,
    /// Length-prefixed frames over TLS (raw: tokio-rustls under the same
    /// codec).
    Tls,
    /// Binary WebSocket messages over TLS (raw: tokio-tungstenite over
    /// tokio-rustls).
    Wss,
}

impl Transport {
    /// The name used in the report.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Ws => "ws",
            Transport::Tls => "tls",
            Transport::Wss => "wss",
        }
    }

    /// True for the transports inside TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, Transport::Tls | Transport::Wss)
    }

    /// Parses a name from [`name`](Self::name).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "tcp" => Some(Transport::Tcp),
            "ws" => Some(Transport::Ws),
            "tls" => Some(Transport::Tls),
            "wss" => Some(Transport::Wss),
            _ => None,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Hidden subcommands: the M1 server and client processes.
    let result = match args.first().map(String::as_str) {
        Some(m1_child::SERVER_COMMAND) => m1_child::server_main(&args[1..]),
        Some(m1_child::CLIENTS_COMMAND) => m1_child::clients_main(&args[1..]),
        _ => Options::parse(&args).and_then(bench_main),
    };
    if let Err(err) = result {
        eprintln!("bench: {err}");
        std::process::exit(1);
    }
}

fn bench_main(options: Options) -> BenchResult<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let load_before = util::load_average();
    println!(
        "# hisock benchmark{}\n\n{} × {}, load average before: {load_before}\n",
        if options.quick {
            " (--quick: one run at a tenth of the size)"
        } else {
            ""
        },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        util::cpu_model(),
    );
    // The workloads run in a task on the runtime's workers, like the code of
    // a real application, rather than on the thread that waits in
    // `block_on`: a wake-up between the two would cross threads every time.
    let rows = {
        let options = options.clone();
        runtime.block_on(async move {
            tokio::spawn(async move { workloads::run_all(&options).await }).await
        })
    };
    // The M1 helpers' copy of the TLS certificate, whatever the outcome.
    tls::remove_shared_dir();
    let rows = rows??;
    let load_after = util::load_average();
    println!("{}", report::markdown(&rows));
    println!(
        "median of {} runs per figure (M1: {}), {:.1} s in all; load average after: {load_after}",
        options.runs,
        options.runs.min(options::M1_RUNS),
        started.elapsed().as_secs_f64()
    );
    std::fs::create_dir_all(&options.out)?;
    let out = options.out.canonicalize()?;
    let json = out.join("report.json");
    report::write_json(&rows, &json)?;
    let svg = out.join("chart.svg");
    chart::write_svg(&rows, &svg)?;
    println!("wrote {} and {}", json.display(), svg.display());
    Ok(())
}

/// The default output folder: the workspace's `target/bench`.
fn default_out() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/bench"))
}
