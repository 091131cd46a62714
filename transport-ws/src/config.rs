//! [`WsConfig`]: buffer sizes and upgrade-time checks of WebSocket
//! connections, with defaults fit for many idle connections.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio_tungstenite::tungstenite::http::{header, Request, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Default read buffer per connection: 4 KiB. tungstenite's own default is
/// 128 KiB, allocated up front for every connection.
pub const DEFAULT_READ_BUFFER_SIZE: usize = 4 * 1024;

/// Default write buffer threshold per connection: 8 KiB. Frames are gathered
/// up to this size before a write; the buffer grows only as it is used.
pub const DEFAULT_WRITE_BUFFER_SIZE: usize = 8 * 1024;

/// Smallest read buffer accepted; tungstenite needs room for a frame header.
const MIN_READ_BUFFER_SIZE: usize = 256;

/// A check run on the HTTP upgrade request before the WebSocket handshake
/// completes. `Err((status, reason))` refuses the upgrade with that HTTP
/// status and the reason as the response body.
pub type UpgradeCheck =
    Arc<dyn Fn(&Request<()>) -> Result<(), (StatusCode, String)> + Send + Sync + 'static>;

/// Settings of WebSocket connections: per-connection buffer sizes, the
/// origins browsers may connect from, and an optional check of the upgrade
/// request. Used by [`WsListener`](crate::WsListener), the client
/// [`connect_with`](crate::connect_with) and the axum mount.
///
/// The maximum message size is not set here: on the server it is the
/// server's [`max_frame_len`](hisock::ServerConfig::max_frame_len), so an
/// oversized message fails before its payload is allocated.
///
/// ```
/// use hisock_ws::http::StatusCode;
/// use hisock_ws::WsConfig;
///
/// let config = WsConfig::new()
///     .allow_origin("https://chat.example")
///     .check_upgrade(|request| match request.headers().get("x-api-key") {
///         Some(key) if key == "sesame" => Ok(()),
///         _ => Err((StatusCode::UNAUTHORIZED, "missing or wrong x-api-key".into())),
///     });
/// assert_eq!(config.allowed_origins(), Some(&["https://chat.example".to_string()][..]));
/// ```
#[derive(Clone)]
pub struct WsConfig {
    read_buffer_size: usize,
    write_buffer_size: usize,
    allowed_origins: Option<Vec<String>>,
    upgrade_check: Option<UpgradeCheck>,
    pub(crate) connect_timeout: Duration,
    #[cfg(feature = "tls")]
    pub(crate) client_tls: Option<hisock_tcp::tls::ClientTls>,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            read_buffer_size: DEFAULT_READ_BUFFER_SIZE,
            write_buffer_size: DEFAULT_WRITE_BUFFER_SIZE,
            allowed_origins: None,
            upgrade_check: None,
            connect_timeout: Duration::from_secs(10),
            #[cfg(feature = "tls")]
            client_tls: None,
        }
    }
}

impl fmt::Debug for WsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsConfig")
            .field("read_buffer_size", &self.read_buffer_size)
            .field("write_buffer_size", &self.write_buffer_size)
            .field("allowed_origins", &self.allowed_origins)
            .field("upgrade_check", &self.upgrade_check.is_some())
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl WsConfig {
    /// Defaults: 4 KiB read buffer, 8 KiB write buffer, any origin, no
    /// upgrade check, 10 s client connect timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Read buffer per connection, allocated when the connection opens.
    /// Larger buffers read faster under heavy load; many idle connections
    /// want it small. At least 256 bytes.
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.read_buffer_size = bytes.max(MIN_READ_BUFFER_SIZE);
        self
    }

    /// Bytes gathered before a write to the socket (a flush always writes
    /// everything). 0 writes every message at once.
    pub fn write_buffer_size(mut self, bytes: usize) -> Self {
        self.write_buffer_size = bytes;
        self
    }

    /// Allows browsers from `origin` (e.g. `"https://chat.example"`; compared
    /// without regard to ASCII case, a trailing `/` ignored). Once any origin
    /// is allowed, an upgrade request whose `Origin` header is not in the
    /// list is refused with HTTP 403. Requests without an `Origin` header
    /// (native clients; browsers always send one) are not affected.
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        let origin = origin.into();
        let origin = origin.trim_end_matches('/').to_owned();
        self.allowed_origins
            .get_or_insert_with(Vec::new)
            .push(origin);
        self
    }

    /// Allows each of `origins` (see [`allow_origin`](Self::allow_origin)).
    pub fn allow_origins<I, S>(self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        origins
            .into_iter()
            .fold(self, |config, origin| config.allow_origin(origin))
    }

    /// Installs a check of the HTTP upgrade request (headers, path, query),
    /// for tokens or cookies that must be verified before any WebSocket
    /// traffic. It runs after the origin check; `Err((status, reason))`
    /// refuses the upgrade with that status (401 or 403, typically) and the
    /// reason as the body. The hisock server's own auth hook still runs at
    /// the hisock handshake afterwards.
    pub fn check_upgrade<F>(mut self, check: F) -> Self
    where
        F: Fn(&Request<()>) -> Result<(), (StatusCode, String)> + Send + Sync + 'static,
    {
        self.upgrade_check = Some(Arc::new(check));
        self
    }

    /// Client side only: how long [`connect_with`](crate::connect_with) may
    /// take to open the TCP connection and complete the WebSocket upgrade.
    /// The hisock handshake that follows has its own timeout
    /// ([`ClientOptions::handshake_timeout`](hisock::ClientOptions::handshake_timeout)).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Client side only (cargo feature `tls`): the TLS settings for
    /// `wss://` URLs, to trust a private CA
    /// ([`ClientTls::with_ca_pem`](hisock_tcp::tls::ClientTls::with_ca_pem)).
    /// Without it, `wss://` trusts the webpki roots.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: hisock_tcp::tls::ClientTls) -> Self {
        self.client_tls = Some(tls);
        self
    }

    /// The allowed origins; `None` when any origin may connect.
    pub fn allowed_origins(&self) -> Option<&[String]> {
        self.allowed_origins.as_deref()
    }

    /// The tungstenite settings for a connection that accepts messages of at
    /// most `max_frame_len` bytes: larger messages (and larger single
    /// WebSocket frames) are refused from their header, before the payload
    /// is read or allocated. For callers that run the WebSocket handshake
    /// themselves and then call [`ws_connection`](crate::ws_connection).
    pub fn websocket_config(&self, max_frame_len: usize) -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(self.read_buffer_size)
            .write_buffer_size(self.write_buffer_size)
            // hisock's own frames are bounded by the outbox; this bounds the
            // pongs tungstenite queues by itself (see `max_write_buffer`).
            .max_write_buffer_size(crate::frames::max_write_buffer(
                self.write_buffer_size,
                2 * crate::frames::fragment_len(self.write_buffer_size),
            ))
            .max_message_size(Some(max_frame_len))
            .max_frame_size(Some(max_frame_len))
    }

    /// Runs the upgrade-time checks on an HTTP upgrade request: the allowed
    /// origins (HTTP 403 when the `Origin` header is not allowed), then the
    /// [`check_upgrade`](Self::check_upgrade) hook. For integrations with
    /// other HTTP servers; the listener and the axum mount call it already.
    pub fn check_upgrade_request(&self, request: &Request<()>) -> Result<(), (StatusCode, String)> {
        if let Some(allowed) = &self.allowed_origins {
            if let Some(origin) = request.headers().get(header::ORIGIN) {
                let origin = origin.to_str().unwrap_or_default();
                let origin = origin.trim_end_matches('/');
                if !allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
                    return Err((
                        StatusCode::FORBIDDEN,
                        format!("origin {origin:?} is not allowed"),
                    ));
                }
            }
        }
        match &self.upgrade_check {
            Some(check) => check(request),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_from(origin: Option<&str>) -> Request<()> {
        let mut builder = Request::builder().uri("/ws");
        if let Some(origin) = origin {
            builder = builder.header(header::ORIGIN, origin);
        }
        builder.body(()).expect("valid request")
    }

    #[test]
    fn default_buffers_are_small_and_limits_follow_the_max_frame_len() {
        let ws = WsConfig::new().websocket_config(1024);
        assert_eq!(ws.read_buffer_size, 4 * 1024);
        assert!(ws.write_buffer_size <= 8 * 1024);
        assert_eq!(ws.max_message_size, Some(1024));
        assert_eq!(ws.max_frame_size, Some(1024));
        assert!(ws.max_write_buffer_size > ws.write_buffer_size);
    }

    #[test]
    fn any_origin_passes_when_none_is_configured() {
        let config = WsConfig::new();
        assert!(config
            .check_upgrade_request(&request_from(Some("https://evil.example")))
            .is_ok());
    }

    #[test]
    fn only_listed_origins_pass_and_missing_origin_passes() {
        let config = WsConfig::new().allow_origins(["https://good.example/"]);
        assert!(config
            .check_upgrade_request(&request_from(Some("HTTPS://GOOD.example")))
            .is_ok());
        assert!(config.check_upgrade_request(&request_from(None)).is_ok());
        let refused = config
            .check_upgrade_request(&request_from(Some("https://evil.example")))
            .expect_err("evil origin refused");
        assert_eq!(refused.0, StatusCode::FORBIDDEN);
    }

    #[test]
    fn upgrade_check_runs_after_the_origin_check() {
        let config =
            WsConfig::new().check_upgrade(|_| Err((StatusCode::UNAUTHORIZED, "no token".into())));
        let refused = config
            .check_upgrade_request(&request_from(None))
            .expect_err("hook refuses");
        assert_eq!(refused, (StatusCode::UNAUTHORIZED, "no token".to_string()));
    }
}
