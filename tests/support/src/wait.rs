//! Bounded waits: every await in a test goes through [`within`] (or passes
//! [`WAIT`] to an API that takes a timeout), so a bug fails the test in
//! seconds instead of hanging the suite.

use std::future::Future;
use std::sync::Once;
use std::time::Duration;

/// How long a test waits for anything that should happen promptly. Generous
/// on purpose: it only matters when something is broken, and the two cores
/// of a test machine may be building or testing something else meanwhile
/// (an 8 MiB stream over a debug build, an example binary starting up).
pub const WAIT: Duration = Duration::from_secs(30);

/// Awaits `fut` for at most [`WAIT`]; panics naming `what` when it takes
/// longer.
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out after {WAIT:?} waiting for {what}"),
    }
}

/// Installs a tracing subscriber once per test binary; `RUST_LOG` chooses
/// what is shown (nothing by default), and output goes through the test
/// harness so it only shows for failing tests.
pub fn init_tracing() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    });
}
