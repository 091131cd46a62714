//! # soak
//!
//! A crowd of hisock clients, half over TCP and half over WebSocket, with
//! names and groups, joining and leaving throughout, exchanging events and
//! requests both ways with one hisock server for a set time; every
//! delivery is accounted for (lost, duplicated, out of order), every
//! request's outcome is counted, and the server's RSS is sampled over
//! time. The server runs in a child process (this binary again, hidden
//! subcommand `__server`), so its RSS is its own.
//!
//! ```text
//! cargo run --release -p hisock-bench --bin soak -- --clients 2000 --seconds 60
//! ```
//!
//! Prints a summary; exits with 1 when anything was lost, duplicated, out
//! of order or unexpected, a request failed other than through churn, or a
//! connection ended that its client did not end; 2 when the soak itself
//! could not run. See bench/README.md.
#![forbid(unsafe_code)]

mod client;
mod crowd;
mod inbound;
mod ledger;
mod options;
mod server;
mod summary;
mod wire;
// The bench's helpers (errors, /proc readings, the open-files limit);
// the soak uses some of them.
#[allow(dead_code)]
#[path = "../util.rs"]
mod util;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::oneshot;

use crowd::Crowd;
use options::Options;
use summary::{Rss, Sample, Summary};
use util::{within, BenchResult};

/// Which transport a client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Transport {
    /// Length-prefixed frames over TCP (`hisock_tcp`).
    Tcp,
    /// Binary WebSocket messages (`hisock_ws`).
    Ws,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let result = if args.get(1).map(String::as_str) == Some(server::COMMAND) {
        server::main(&args[2..]).map(|()| true)
    } else {
        run(Options::parse())
    };
    match result {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(err) => {
            eprintln!("soak: {err}");
            std::process::exit(2);
        }
    }
}

/// Runs the soak; `Ok(false)` when it found failures.
fn run(options: Options) -> BenchResult<bool> {
    options.validate()?;
    match util::raise_open_files_limit() {
        Ok(limit) if limit < options.clients as u64 + 256 => eprintln!(
            "soak: the open-files limit is {limit}: too low for {} clients",
            options.clients
        ),
        Ok(_) => {}
        Err(err) => eprintln!("soak: the OS refused to raise the open-files limit: {err}"),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // On a worker, as application code would run (see the bench's main).
    runtime.block_on(async move { tokio::spawn(soak(options)).await? })
}

async fn soak(options: Options) -> BenchResult<bool> {
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .arg(server::COMMAND)
        .arg(serde_json::to_string(&options)?)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut to_server = child.stdin.take().ok_or("no stdin for the server")?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout from the server")?).lines();
    let first = within(Duration::from_secs(30), "server start", lines.next_line())
        .await??
        .ok_or("the server exited before it listened")?;
    let (tcp, ws) = match first.split_whitespace().collect::<Vec<_>>()[..] {
        ["addr", tcp, ws] => (tcp.parse()?, ws.parse()?),
        _ => return Err(format!("unexpected first line from the server: {first:?}").into()),
    };
    println!(
        "# hisock soak\n\n{} clients ({}), {} s, mean lifetime {} s, a round every {} ms; {} × {}, load average before: {}\n",
        options.clients,
        options.transports,
        options.seconds,
        options.lifetime,
        options.round_ms,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        util::cpu_model(),
        util::load_average(),
    );

    let started = Instant::now();
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let (stats_tx, stats_rx) = oneshot::channel();
    let reader = util::AbortOnDrop(tokio::spawn(read_server(
        lines,
        samples.clone(),
        stats_tx,
        started,
    )));

    let crowd = Arc::new(Crowd::new(options.clone(), tcp, ws));
    let outcome = crowd.clone().run(started + options.duration()).await;
    let direct = crowd.ledger.settle();
    let ran = started.elapsed();
    // One more sample with every client gone.
    tokio::time::sleep(Duration::from_millis(options.sample_ms * 3 / 2)).await;
    to_server.write_all(b"stats\n").await?;
    let stats = within(Duration::from_secs(30), "server stats", stats_rx)
        .await?
        .map_err(|_| "the server exited before its stats")?;
    let stats: server::ServerStats = serde_json::from_str(&stats)?;
    to_server.write_all(b"quit\n").await?;
    if within(Duration::from_secs(20), "server exit", child.wait())
        .await
        .is_err()
    {
        eprintln!("soak: the server did not exit; killing it");
        child.kill().await?;
    }
    drop(reader);

    let samples = std::mem::take(&mut *samples.lock().unwrap_or_else(|p| p.into_inner()));
    let rss = Rss::new(samples, options.seconds, options.clients);
    let summary = Summary::new(ran.as_secs_f64(), outcome, direct, stats, rss);
    print!("{}", summary.text());
    let failures = summary.failures();
    println!(
        "\n{} deliveries checked in {:.1} s; load average after: {}",
        summary.deliveries(),
        ran.as_secs_f64(),
        util::load_average()
    );
    if failures.is_empty() {
        println!("PASS: nothing lost, duplicated or out of order; no request failed");
    } else {
        println!("FAIL:");
        for failure in &failures {
            println!("- {failure}");
        }
        for error in &summary.first_errors {
            println!("  e.g. {error}");
        }
    }
    if let Some(path) = &options.json {
        let json = serde_json::json!({
            "passed": failures.is_empty(),
            "failures": failures,
            "summary": summary,
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)?;
    }
    Ok(failures.is_empty())
}

/// Reads the server's lines: RSS samples (with a progress line on stderr
/// every ten seconds) and, at the end, its stats.
async fn read_server(
    mut lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    samples: Arc<Mutex<Vec<Sample>>>,
    stats: oneshot::Sender<String>,
    started: Instant,
) {
    let mut stats = Some(stats);
    let mut next_progress = 10.0;
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(json) = line.strip_prefix("stats ") {
            if let Some(tx) = stats.take() {
                let _ = tx.send(json.to_owned());
            }
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let ["rss", _, bytes, clients] = words[..] else {
            eprintln!("soak: unexpected line from the server: {line:?}");
            continue;
        };
        let (Ok(rss_bytes), Ok(clients)) = (bytes.parse(), clients.parse()) else {
            continue;
        };
        let at_s = started.elapsed().as_secs_f64();
        if at_s >= next_progress {
            next_progress += 10.0;
            eprintln!(
                "soak: {at_s:.0} s, {clients} clients, server RSS {:.1} MiB",
                rss_bytes as f64 / (1024.0 * 1024.0)
            );
        }
        samples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Sample {
                at_s,
                rss_bytes,
                clients,
            });
    }
}
