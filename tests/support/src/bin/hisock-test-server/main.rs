//! `hisock-test-server`: the native server the browser tests talk to
//! (`scripts/browser-tests.sh` starts it). One hisock server listening on
//! WebSocket and TCP at once, with the handlers the tests need (see
//! `handlers.rs`), and native TCP clients it can start on request (see
//! `peer.rs`) so that a browser and a native client meet on one server.
//!
//! ```text
//! hisock-test-server [--ws ADDR] [--tcp ADDR] [--max-seconds N]
//! ```
//!
//! Both addresses default to `127.0.0.1:0` (a free port). A third port on
//! 127.0.0.1 serves a misbehaving WebSocket endpoint (`misbehaving.rs`) for
//! the browser transport's error paths. Once listening it prints one line,
//! `READY ws=ws://127.0.0.1:PORT/ tcp=127.0.0.1:PORT raw=ws://127.0.0.1:PORT`, and
//! serves until SIGTERM/SIGINT or `--max-seconds` (default 900) have passed,
//! so a forgotten server never outlives its test run for long.

#![forbid(unsafe_code)]

mod handlers;
mod misbehaving;
mod peer;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    use std::io::Write;
    use std::time::Duration;

    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(err) => {
            eprintln!("hisock-test-server: {err}\nusage: hisock-test-server [--ws ADDR] [--tcp ADDR] [--max-seconds N]");
            return std::process::ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();

    let server = hisock::Server::new();
    let ws = match hisock_ws::WsListener::bind(&args.ws).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!(
                "hisock-test-server: cannot bind WebSocket on {}: {err}",
                args.ws
            );
            return std::process::ExitCode::FAILURE;
        }
    };
    let tcp = match hisock_tcp::TcpListener::bind(&args.tcp).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("hisock-test-server: cannot bind TCP on {}: {err}", args.tcp);
            return std::process::ExitCode::FAILURE;
        }
    };
    let (Some(ws_addr), Some(tcp_addr)) = (server.listen(ws), server.listen(tcp)) else {
        eprintln!("hisock-test-server: listeners have no address");
        return std::process::ExitCode::FAILURE;
    };
    handlers::install(&server, tcp_addr);
    let raw = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("hisock-test-server: cannot bind the raw endpoint: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let raw_addr = match raw.local_addr() {
        Ok(addr) => addr,
        Err(err) => {
            eprintln!("hisock-test-server: raw endpoint has no address: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    tokio::spawn(misbehaving::serve(raw));

    println!("READY ws=ws://{ws_addr}/ tcp={tcp_addr} raw=ws://{raw_addr}");
    let _ = std::io::stdout().flush();

    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(err) => {
            eprintln!("hisock-test-server: cannot watch SIGTERM: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = tokio::time::sleep(Duration::from_secs(args.max_seconds)) => {
            eprintln!("hisock-test-server: stopping after {} s (--max-seconds)", args.max_seconds);
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), server.shutdown()).await;
    std::process::ExitCode::SUCCESS
}

/// The command line.
struct Args {
    ws: String,
    tcp: String,
    max_seconds: u64,
}

impl Args {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut parsed = Args {
            ws: "127.0.0.1:0".into(),
            tcp: "127.0.0.1:0".into(),
            max_seconds: 900,
        };
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--ws" => parsed.ws = value()?,
                "--tcp" => parsed.tcp = value()?,
                "--max-seconds" => {
                    parsed.max_seconds = value()?
                        .parse()
                        .map_err(|err| format!("--max-seconds: {err}"))?
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(parsed)
    }
}
