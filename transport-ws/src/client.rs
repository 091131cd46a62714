//! The native WebSocket client: open a TCP connection, upgrade it, run the
//! hisock handshake, spawn the driver.

use hisock::{codes, Client, ClientOptions, CloseReason, Error, TransportError, TransportKind};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::{self, http};

use crate::config::WsConfig;
use crate::connection::ws_connection;
use crate::read_ahead::ReadAhead;

/// Largest frame a client accepts from its server. Servers send frames of
/// any size they like (the limit in `Welcome` is theirs, not ours), so this
/// is the server default.
pub use hisock::frame::DEFAULT_MAX_FRAME_LEN;

/// Connects to the hisock server at `url` (`ws://host:port/path`), performs
/// the WebSocket upgrade and the hisock handshake, and spawns the client's
/// driver on the current tokio runtime. Uses the default [`WsConfig`].
///
/// Errors: see [`connect_with`].
pub async fn connect(url: &str, options: ClientOptions) -> hisock::Result<Client> {
    connect_with(url, options, &WsConfig::default()).await
}

/// Like [`connect`], with a request that may carry headers (an
/// `Authorization` token or an `Origin` for the server's upgrade checks:
/// build it with `"ws://…".into_client_request()` and edit its headers) and
/// a [`WsConfig`] for the buffer sizes and the connect timeout.
///
/// Errors: [`Error::InvalidAddress`] for a URL that is not `ws://host…`
/// (`wss://` needs TLS, which this crate does not include yet);
/// [`Error::Timeout`] when connecting and upgrading take longer than the
/// config's connect timeout; [`Error::Refused`] with
/// [`AUTH_REFUSED`](codes::AUTH_REFUSED) when the server answers the
/// upgrade with HTTP 401 or 403 (the reason holds the status and body);
/// [`Error::Transport`] for socket errors and other failed upgrades; and
/// everything [`Client::handshake`] reports.
pub async fn connect_with<R>(
    request: R,
    options: ClientOptions,
    config: &WsConfig,
) -> hisock::Result<Client>
where
    R: IntoClientRequest + Unpin,
{
    let request = request
        .into_client_request()
        .map_err(|err| Error::InvalidAddress {
            input: "websocket request".into(),
            reason: err.to_string(),
        })?;
    let (host, port) = host_and_port(request.uri())?;
    let timeout = config.connect_timeout;
    let opened = tokio::time::timeout(timeout, async {
        let stream = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|err| Error::Transport(TransportError::Io(err)))?;
        // Small events must not wait for Nagle's algorithm; batching is ours.
        let _ = stream.set_nodelay(true);
        let peer = stream.peer_addr().ok();
        let local = stream.local_addr().ok();
        let ws_config = config.websocket_config(DEFAULT_MAX_FRAME_LEN);
        let (ws, _response) = tokio_tungstenite::client_async_with_config(
            request,
            ReadAhead::new(stream),
            Some(ws_config),
        )
        .await
        .map_err(upgrade_error)?;
        Ok::<_, Error>(
            ws_connection(ws, DEFAULT_MAX_FRAME_LEN, TransportKind::Ws).with_addrs(peer, local),
        )
    })
    .await
    .map_err(|_| Error::Timeout(timeout))??;
    let (client, driver) = Client::handshake(opened, options).await?;
    tokio::spawn(driver);
    Ok(client)
}

/// The host and port to open a TCP connection to, from a `ws://` URL.
fn host_and_port(uri: &http::Uri) -> hisock::Result<(String, u16)> {
    let invalid = |reason: &str| Error::InvalidAddress {
        input: uri.to_string(),
        reason: reason.to_owned(),
    };
    match uri.scheme_str() {
        Some("ws") => {}
        Some("wss") => {
            return Err(invalid(
                "wss:// needs TLS, which hisock-ws does not include yet; use ws://",
            ))
        }
        _ => return Err(invalid("expected a ws:// URL")),
    }
    let host = uri.host().ok_or_else(|| invalid("no host in the URL"))?;
    // IPv6 literals come bracketed ("[::1]"); sockets want them bare.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok((host.to_owned(), uri.port_u16().unwrap_or(80)))
}

fn upgrade_error(err: tungstenite::Error) -> Error {
    match err {
        tungstenite::Error::Io(err) => Error::Transport(TransportError::Io(err)),
        tungstenite::Error::Http(response) => {
            let status = response.status();
            let body = response
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            let reason = format!("HTTP {status}: {body}");
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                Error::Refused(CloseReason::new(codes::AUTH_REFUSED, reason))
            } else {
                Error::Transport(TransportError::Other(format!(
                    "websocket upgrade refused with {reason}"
                )))
            }
        }
        other => Error::Transport(TransportError::Other(format!(
            "websocket upgrade failed: {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_urls_give_host_and_port() {
        let uri: http::Uri = "ws://127.0.0.1:9000/chat".parse().expect("uri");
        assert_eq!(
            host_and_port(&uri).expect("valid"),
            ("127.0.0.1".to_string(), 9000)
        );
        let uri: http::Uri = "ws://[::1]/".parse().expect("uri");
        assert_eq!(host_and_port(&uri).expect("valid"), ("::1".to_string(), 80));
    }

    #[test]
    fn wss_and_other_schemes_are_refused_clearly() {
        for url in ["wss://example.invalid/", "http://127.0.0.1/"] {
            let uri: http::Uri = url.parse().expect("uri");
            assert!(matches!(
                host_and_port(&uri),
                Err(Error::InvalidAddress { .. })
            ));
        }
    }
}
