//! `browser_server`: the native hisock server of the browser benchmark
//! (`bench/browser/`). One WebSocket listener with the three handlers the
//! workloads use; the Socket.IO 4.8 server of `bench/browser/sio-server.mjs`
//! has the same three:
//!
//! | command | payload | effect / reply |
//! |---|---|---|
//! | `echo` | a string | replies with it |
//! | `sink` | a string | counts it (one counter for the whole server) |
//! | `count` | — | replies how many `sink` events the server has counted |
//! | `stream` | `[n, text]` | sends `n` events `item` with `text` to the asker, then replies `n` |
//!
//! One connection's handlers run in order, so a `count` sent after a run of
//! `sink` events sees all of them; `stream` waits for room in the asker's
//! outgoing queue (`emit_waiting`) instead of disconnecting a browser that
//! reads slower than the server writes.
//!
//! ```text
//! browser_server [--ws ADDR] [--max-seconds N]
//! ```
//!
//! The server runs on one thread (tokio's current-thread runtime), as the
//! Socket.IO server does in node.
//!
//! Prints `READY ws=ws://127.0.0.1:PORT/` once listening; serves until
//! SIGTERM/SIGINT or `--max-seconds` (default 900) have passed.
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hisock::{ClientInfo, Data, RawPayload, Server};

/// How long `stream` waits for room in the asker's queue, per event.
const ROOM_TIMEOUT: Duration = Duration::from_secs(30);

// One thread, as the Socket.IO server (node) has: on a loaded two-core
// machine a multi-threaded runtime's cross-thread wake-ups add scheduling
// delays to round trips that are not the client's.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut ws = "127.0.0.1:0".to_string();
    let mut max_seconds = 900u64;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next();
        match (flag.as_str(), value) {
            ("--ws", Some(addr)) => ws = addr,
            ("--max-seconds", Some(n)) => match n.parse() {
                Ok(n) => max_seconds = n,
                Err(err) => return usage(&format!("--max-seconds: {err}")),
            },
            (other, _) => return usage(&format!("unexpected argument {other:?}")),
        }
    }

    let server = Server::new();
    let listener = match hisock_ws::WsListener::bind(&ws).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("browser_server: cannot bind {ws}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let Some(addr) = server.listen(listener) else {
        eprintln!("browser_server: the listener has no address");
        return ExitCode::FAILURE;
    };
    install(&server);
    println!("READY ws=ws://{addr}/");
    let _ = std::io::stdout().flush();

    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(err) => {
            eprintln!("browser_server: cannot watch SIGTERM: {err}");
            return ExitCode::FAILURE;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = tokio::time::sleep(Duration::from_secs(max_seconds)) => {
            eprintln!("browser_server: stopping after {max_seconds} s (--max-seconds)");
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), server.shutdown()).await;
    ExitCode::SUCCESS
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("browser_server: {problem}\nusage: browser_server [--ws ADDR] [--max-seconds N]");
    ExitCode::from(2)
}

/// The benchmark's handlers (see the table at the top).
fn install(server: &Server) {
    let sunk = Arc::new(AtomicU64::new(0));
    server.on("echo", |Data(text): Data<String>| async move { text });
    let counter = sunk.clone();
    server.on("sink", move |_: RawPayload| {
        counter.fetch_add(1, Ordering::Relaxed);
        async {}
    });
    server.on("count", move || {
        let n = sunk.load(Ordering::Relaxed);
        async move { n }
    });
    server.on(
        "stream",
        |who: ClientInfo, server: Server, Data((n, text)): Data<(u64, String)>| async move {
            for _ in 0..n {
                let report = server
                    .to_client(who.id)
                    .emit_waiting("item", &text, ROOM_TIMEOUT)
                    .await
                    .map_err(|err| err.to_string())?;
                if report.queued.is_empty() {
                    return Err(format!(
                        "the asker's queue had no room for {ROOM_TIMEOUT:?}"
                    ));
                }
            }
            Ok::<_, String>(n)
        },
    );
}
