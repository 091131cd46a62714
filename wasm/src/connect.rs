//! Connecting from Rust code running in the browser: the same
//! [`Client`] as native clients get from `hisock_tcp::connect`.

use std::time::Duration;

use hisock::{Client, ClientOptions};

use crate::transport::{self, DEFAULT_MAX_FRAME_LEN};

/// How long [`connect`] waits for the browser to open the WebSocket.
pub const DEFAULT_OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to a hisock server's WebSocket endpoint (`ws://…` or `wss://…`),
/// performs the handshake and spawns the client's driver with
/// `wasm_bindgen_futures::spawn_local`. With
/// [`ClientOptions::reconnect`](hisock::ClientOptions::reconnect) the
/// client reconnects to the same URL (tested in Chromium:
/// `wasm/tests/browser/reconnect.rs`).
///
/// Errors: [`hisock::Error::InvalidAddress`] for a URL that is not `ws://`
/// or `wss://` or that the browser rejects, [`hisock::Error::Timeout`] when
/// the socket does not open within [`DEFAULT_OPEN_TIMEOUT`],
/// [`hisock::Error::Transport`] when the socket closes before it opens (the
/// browser does not tell why; see [`transport::open`]), and everything
/// [`Client::handshake`] reports (refusal with the server's code and
/// reason, handshake timeout, …).
pub async fn connect(url: &str, options: ClientOptions) -> hisock::Result<Client> {
    connect_with_timeout(url, options, DEFAULT_OPEN_TIMEOUT).await
}

/// Like [`connect`], waiting at most `open_timeout` for the socket to open.
/// (The handshake after it has its own timeout, set with
/// [`ClientOptions::handshake_timeout`].)
pub async fn connect_with_timeout(
    url: &str,
    options: ClientOptions,
    open_timeout: Duration,
) -> hisock::Result<Client> {
    let conn = transport::open(url, DEFAULT_MAX_FRAME_LEN, open_timeout).await?;
    // With `ClientOptions::reconnect`, the client opens the same URL again
    // when the connection breaks (PROTOCOL.md section 13.8).
    let connector: hisock::Connector = {
        let url = url.to_owned();
        std::sync::Arc::new(move || {
            let url = url.clone();
            Box::pin(
                async move { transport::open(&url, DEFAULT_MAX_FRAME_LEN, open_timeout).await },
            )
        })
    };
    let (client, driver) = Client::handshake_with(conn, options, Some(connector)).await?;
    wasm_bindgen_futures::spawn_local(driver);
    Ok(client)
}
