//! The native WebSocket client: open a TCP connection, upgrade it, run the
//! hisock handshake, spawn the driver.

use std::sync::Arc;

use hisock::{
    codes, Client, ClientOptions, CloseReason, Connection, Connector, Error, TransportError,
    TransportKind,
};
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

/// Connects to the hisock server at `url` (`ws://host:port/path`, or
/// `wss://` with the cargo feature `tls`), performs
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
/// `wss://` URLs (cargo feature `tls`) verify the server's certificate
/// with the config's `tls` settings (`WsConfig::tls`), or against the
/// webpki roots.
///
/// Errors: [`Error::InvalidAddress`] for a URL that is not `ws://host…` or
/// `wss://host…` (`wss://` without the `tls` feature);
/// a `hisock_tcp::tls::TlsError` inside [`Error::Transport`] when TLS
/// fails (an untrusted CA, a wrong hostname: the text says which);
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
    let url = request.uri().to_string();
    let connector: Connector = {
        let config = config.clone();
        Arc::new(move || {
            let request = copy_request(&request);
            let config = config.clone();
            Box::pin(async move { open(request, &config).await })
        })
    };
    let opened = connector().await?;
    let (client, driver) = Client::handshake_with(opened, options, Some(connector))
        .await
        .map_err(|err| err.in_handshake_with(&url, "a hisock WebSocket endpoint"))?;
    tokio::spawn(driver);
    Ok(client)
}

/// A copy of `request` for another connection (a reconnecting client's
/// next attempt): method, URI, version and headers.
fn copy_request(request: &http::Request<()>) -> http::Request<()> {
    let mut copy = http::Request::new(());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy
}

/// Opens one WebSocket connection for `request`: TCP, TLS for `wss://`,
/// the upgrade, all within the config's connect timeout.
async fn open(request: http::Request<()>, config: &WsConfig) -> hisock::Result<Connection> {
    let (secure, host, port) = target(request.uri())?;
    let url = request.uri().to_string();
    let timeout = config.connect_timeout;
    tokio::time::timeout(timeout, async {
        let stream = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|err| Error::Connect {
                to: url.clone(),
                reason: match err.kind() {
                    std::io::ErrorKind::ConnectionRefused => {
                        format!("nothing accepts connections at {host}:{port} ({err})")
                    }
                    _ => err.to_string(),
                },
            })?;
        // Small events must not wait for Nagle's algorithm; batching is ours.
        let _ = stream.set_nodelay(true);
        let peer = stream.peer_addr().ok();
        let local = stream.local_addr().ok();
        let conn = if secure {
            connect_tls(request, stream, &host, config).await?
        } else {
            upgrade(request, stream, config, TransportKind::Ws).await?
        };
        Ok::<_, Error>(conn.with_addrs(peer, local))
    })
    .await
    .map_err(|_| Error::Timeout(timeout))?
}

/// An upgrade that failed because the peer is no WebSocket server (an HTTP
/// server without the endpoint, a hisock TCP port) becomes an
/// [`Error::Connect`] that says so; refusals by the server's upgrade
/// checks (HTTP 401/403) and TLS errors stay as they are.
fn upgrade_failed(err: Error, url: &str) -> Error {
    let reason = match &err {
        Error::Transport(TransportError::Other(text)) if text == A_TCP_PORT => text.clone(),
        Error::Transport(TransportError::Other(text)) if text.starts_with(NOT_UPGRADED) => {
            format!("{text}: is it a hisock WebSocket endpoint?")
        }
        Error::Transport(TransportError::Io(io)) => format!(
            "the peer hung up during the WebSocket upgrade ({io}): is it a WebSocket endpoint, \
             not a hisock TCP port?"
        ),
        Error::Transport(TransportError::Other(text)) if text.starts_with(UPGRADE_FAILED) => {
            format!("{text}: is it a WebSocket endpoint, not a hisock TCP port?")
        }
        _ => return err,
    };
    Error::Connect {
        to: url.to_owned(),
        reason,
    }
}

/// How `upgrade_error` starts the text of an HTTP answer that was no
/// upgrade, and of any other failed upgrade.
const NOT_UPGRADED: &str = "websocket upgrade refused with";
const UPGRADE_FAILED: &str = "websocket upgrade failed";

/// The WebSocket upgrade on a connected stream (plain or TLS).
async fn upgrade<S>(
    request: http::Request<()>,
    stream: S,
    config: &WsConfig,
    kind: TransportKind,
) -> hisock::Result<Connection>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let ws_config = config.websocket_config(DEFAULT_MAX_FRAME_LEN);
    let url = request.uri().to_string();
    let (ws, _response) = tokio_tungstenite::client_async_with_config(
        request,
        ReadAhead::new(stream),
        Some(ws_config),
    )
    .await
    .map_err(|err| upgrade_failed(upgrade_error(err), &url))?;
    Ok(ws_connection(ws, DEFAULT_MAX_FRAME_LEN, kind))
}

/// `wss://`: the TLS handshake (the config's [`ClientTls`](hisock_tcp::tls::ClientTls),
/// or the webpki roots), then the upgrade inside it.
#[cfg(feature = "tls")]
async fn connect_tls(
    request: http::Request<()>,
    stream: TcpStream,
    host: &str,
    config: &WsConfig,
) -> hisock::Result<Connection> {
    let tls = config.client_tls.clone().unwrap_or_default();
    let stream = tls.connect(host, stream).await?;
    upgrade(request, stream, config, TransportKind::Wss).await
}

#[cfg(not(feature = "tls"))]
async fn connect_tls(
    _request: http::Request<()>,
    _stream: TcpStream,
    _host: &str,
    _config: &WsConfig,
) -> hisock::Result<Connection> {
    unreachable!("target() refuses wss:// without the tls feature")
}

/// Whether the URL is `wss://`, and the host and port to open a TCP
/// connection to.
fn target(uri: &http::Uri) -> hisock::Result<(bool, String, u16)> {
    let invalid = |reason: &str| Error::InvalidAddress {
        input: uri.to_string(),
        reason: reason.to_owned(),
    };
    let (secure, default_port) = match uri.scheme_str() {
        Some("ws") => (false, 80),
        Some("wss") if cfg!(feature = "tls") => (true, 443),
        Some("wss") => {
            return Err(invalid(
                "wss:// needs the `tls` cargo feature of hisock-ws; use ws:// or enable it",
            ))
        }
        _ => return Err(invalid("expected a ws:// or wss:// URL")),
    };
    let host = uri.host().ok_or_else(|| invalid("no host in the URL"))?;
    // IPv6 literals come bracketed ("[::1]"); sockets want them bare.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok((
        secure,
        host.to_owned(),
        uri.port_u16().unwrap_or(default_port),
    ))
}

/// What the client says of a hisock TCP port it reached.
const A_TCP_PORT: &str = "the peer is a hisock TCP port, not a WebSocket endpoint: connect to \
     it with a hisock TCP client (hisock_tcp::connect), or to the server's WebSocket listener";

fn upgrade_error(err: tungstenite::Error) -> Error {
    match err {
        tungstenite::Error::Io(err) => Error::Transport(TransportError::Io(err)),
        // A hisock TCP port answers HTTP with a 400 that says so (its
        // `X-Hisock: tcp` header; see hisock-tcp's `TCP_PORT_NOTICE`).
        tungstenite::Error::Http(response)
            if response
                .headers()
                .get("x-hisock")
                .is_some_and(|v| v == "tcp") =>
        {
            Error::Transport(TransportError::Other(A_TCP_PORT.to_owned()))
        }
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
                Error::Transport(TransportError::Other(format!("{NOT_UPGRADED} {reason}")))
            }
        }
        other => Error::Transport(TransportError::Other(format!("{UPGRADE_FAILED}: {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_urls_give_host_and_port() {
        let uri: http::Uri = "ws://127.0.0.1:9000/chat".parse().expect("uri");
        assert_eq!(
            target(&uri).expect("valid"),
            (false, "127.0.0.1".to_string(), 9000)
        );
        let uri: http::Uri = "ws://[::1]/".parse().expect("uri");
        assert_eq!(target(&uri).expect("valid"), (false, "::1".to_string(), 80));
    }

    #[cfg(feature = "tls")]
    #[test]
    fn wss_urls_default_to_port_443() {
        let uri: http::Uri = "wss://localhost/".parse().expect("uri");
        assert_eq!(
            target(&uri).expect("valid"),
            (true, "localhost".to_string(), 443)
        );
    }

    #[test]
    fn other_schemes_are_refused_clearly() {
        let mut urls = vec!["http://127.0.0.1/"];
        if !cfg!(feature = "tls") {
            urls.push("wss://example.invalid/");
        }
        for url in urls {
            let uri: http::Uri = url.parse().expect("uri");
            assert!(matches!(target(&uri), Err(Error::InvalidAddress { .. })));
        }
    }
}
