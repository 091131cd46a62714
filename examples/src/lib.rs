//! Shared pieces of the hisock examples.
//!
//! Each program in `src/bin/` shows one thing; what a server and its client
//! must agree on (payload types, game rules) lives here so both sides use the
//! same definitions. Run an example with
//! `cargo run -p hisock-examples --bin NAME -- --help`.
//!
//! ```
//! use hisock_examples::tictactoe::{Board, Mark, Move};
//!
//! let mut board = Board::default();
//! board.play(Mark::X, Move { row: 1, col: 1 }).expect("the board is empty");
//! assert!(board.play(Mark::O, Move { row: 1, col: 1 }).is_err());
//! ```
#![forbid(unsafe_code)]

pub mod basic;
pub mod chat;
pub mod prometheus;
pub mod tictactoe;
pub mod tls;
pub mod web;

use tokio::sync::mpsc;

/// The address every example listens on or connects to unless told otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:6969";

/// Sends logs to stderr, filtered by `RUST_LOG` (e.g. `RUST_LOG=hisock=debug`)
/// or by `default_filter` when it is unset. Servers log at `info`; clients
/// use `warn` so that logs do not drown their terminal UI, which goes to
/// stdout.
pub fn init_tracing(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a terminal, not for a log file or a test's pipe.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// The lines typed on stdin, as a channel that ends at end of input.
///
/// A plain thread does the reading on purpose: a blocking read cannot be
/// cancelled, and tokio's own `stdin()` would make the runtime wait for that
/// read at exit (until the user presses enter). A detached thread does not
/// keep the process alive.
pub fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The Rust code blocks of the project's README.md, compiled and run as doc
/// tests of this crate so that the README example cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// What the example programs' `main` returns on failure: any error, shown
/// with its `Display` text (`cannot connect to 127.0.0.1:6969: nothing
/// accepts connections there (...)`) rather than the `Debug` form a plain
/// `Box<dyn Error>` from `main` prints.
pub struct Failure(Box<dyn std::error::Error + Send + Sync>);

impl<E: Into<Box<dyn std::error::Error + Send + Sync>>> From<E> for Failure {
    fn from(err: E) -> Self {
        Failure(err.into())
    }
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}
