//! `hisock-test-server`: the native server the browser tests talk to
//! (`scripts/browser-tests.sh` starts it). One hisock server listening on
//! WebSocket and TCP at once, with the handlers the tests need (see
//! `handlers.rs`), native TCP clients it can start on request (see
//! `peer.rs`) so that a browser and a native client meet on one server,
//! and proxies that break connections on request for the reconnection
//! tests (see `faults.rs`), in front of this server or of a second one
//! with the same handlers that keeps no sessions (a reconnect to it gets a
//! new session).
//!
//! ```text
//! hisock-test-server [--ws ADDR] [--tcp ADDR] [--max-seconds N]
//! hisock-test-server --write-typescript FILE
//! ```
//!
//! The second form writes the TypeScript declarations of the typed-event
//! mapping rows (`hisock_test_support::mapping`) to FILE and exits.
//!
//! Both addresses default to `127.0.0.1:0` (a free port). A third port on
//! 127.0.0.1 serves a misbehaving WebSocket endpoint (`misbehaving.rs`) for
//! the browser transport's error paths. Two more serve the same server over
//! WSS: one with a test certificate made at start (`wss=`), whose key's
//! SPKI hash (`spki=`, base64 SHA-256) the browser tests give Chromium's
//! `--ignore-certificate-errors-spki-list` so that it trusts exactly that
//! certificate; and one with another certificate Chromium must refuse
//! (`wss_untrusted=`). Once listening it prints one line,
//! `READY ws=ws://127.0.0.1:PORT/ tcp=127.0.0.1:PORT raw=ws://127.0.0.1:PORT
//! wss=wss://127.0.0.1:PORT/ wss_untrusted=wss://127.0.0.1:PORT/ spki=HASH`, and
//! serves until SIGTERM/SIGINT or `--max-seconds` (default 900) have passed,
//! so a forgotten server never outlives its test run for long.

#![forbid(unsafe_code)]

mod faults;
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
            eprintln!("hisock-test-server: {err}\nusage: hisock-test-server [--ws ADDR] [--tcp ADDR] [--max-seconds N]\n       hisock-test-server --write-typescript FILE");
            return std::process::ExitCode::from(2);
        }
    };
    if let Some(path) = &args.write_typescript {
        return match std::fs::write(path, hisock_test_support::mapping::typescript()) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("hisock-test-server: cannot write {path}: {err}");
                std::process::ExitCode::FAILURE
            }
        };
    }
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
    let trusted = hisock_test_support::TestCerts::generate();
    let untrusted = hisock_test_support::TestCerts::generate();
    let mut wss_addrs = Vec::new();
    for certs in [&trusted, &untrusted] {
        let listener = match hisock_ws::WsListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener.with_tls(certs.server_tls()),
            Err(err) => {
                eprintln!("hisock-test-server: cannot bind WSS: {err}");
                return std::process::ExitCode::FAILURE;
            }
        };
        match server.listen(listener) {
            Some(addr) => wss_addrs.push(addr),
            None => {
                eprintln!("hisock-test-server: the WSS listener has no address");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    // The same handlers on a second server that keeps no sessions, reached
    // only through fault proxies: where a reconnect must get a new session.
    let forgetful = hisock::Server::builder()
        .session_window(Duration::ZERO)
        .build();
    let forgetful_addr = match hisock_ws::WsListener::bind("127.0.0.1:0").await {
        Ok(listener) => forgetful.listen(listener),
        Err(err) => {
            eprintln!("hisock-test-server: cannot bind the second WebSocket listener: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let Some(forgetful_addr) = forgetful_addr else {
        eprintln!("hisock-test-server: the second WebSocket listener has no address");
        return std::process::ExitCode::FAILURE;
    };
    let faults = faults::Faults::new(faults::Targets {
        sessions: ws_addr,
        no_sessions: forgetful_addr,
    });
    handlers::install(&server, tcp_addr, &faults);
    handlers::install(&forgetful, tcp_addr, &faults);
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

    println!(
        "READY ws=ws://{ws_addr}/ tcp={tcp_addr} raw=ws://{raw_addr} wss=wss://{}/ wss_untrusted=wss://{}/ spki={}",
        wss_addrs[0], wss_addrs[1], trusted.spki_sha256
    );
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
    let both = futures::future::join(server.shutdown(), forgetful.shutdown());
    let _ = tokio::time::timeout(Duration::from_secs(5), both).await;
    std::process::ExitCode::SUCCESS
}

/// The command line.
struct Args {
    ws: String,
    tcp: String,
    max_seconds: u64,
    write_typescript: Option<String>,
}

impl Args {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut parsed = Args {
            ws: "127.0.0.1:0".into(),
            tcp: "127.0.0.1:0".into(),
            max_seconds: 900,
            write_typescript: None,
        };
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--ws" => parsed.ws = value()?,
                "--tcp" => parsed.tcp = value()?,
                "--write-typescript" => parsed.write_typescript = Some(value()?),
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
