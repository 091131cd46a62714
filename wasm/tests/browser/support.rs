//! Helpers shared by the browser tests.

use std::future::Future;
use std::time::Duration;

use hisock::{Client, ClientOptions};

/// Every wait in these tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(10);

/// The test server's WebSocket URL, fixed at compile time.
pub fn server_url() -> &'static str {
    match option_env!("HISOCK_TEST_WS_URL") {
        Some(url) if !url.is_empty() => url,
        _ => panic!(
            "HISOCK_TEST_WS_URL was not set when the tests were compiled; \
             run scripts/browser-tests.sh"
        ),
    }
}

/// Connects to the test server.
pub async fn connect(options: ClientOptions) -> Client {
    hisock_wasm::connect(server_url(), options)
        .await
        .expect("connects to the test server")
}

/// Waits for `fut` at most [`WAIT`]; panics with `what` when it takes longer.
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    use futures::future::{select, Either};
    let fut = std::pin::pin!(fut);
    match select(
        fut,
        gloo_timers::future::TimeoutFuture::new(WAIT.as_millis() as u32),
    )
    .await
    {
        Either::Left((out, _)) => out,
        Either::Right(_) => panic!("timed out waiting for {what}"),
    }
}

/// A name no other test uses, so tests that run one after another on the
/// same server do not see each other.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", js_sys::Math::random().to_bits())
}
