//! [`WsListener`]: a TCP listener whose connections upgrade to WebSocket.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use hisock::server::{ConnectionLimits, Incoming, Listener};
use hisock::transport::BoxFuture;
use hisock::{TransportError, TransportKind};
use tokio::net::{TcpStream, ToSocketAddrs};

use crate::config::WsConfig;
use crate::connection::accept_connection;

/// A WebSocket listener that feeds a [`hisock::Server`]. Any request path is
/// accepted; the upgrade checks of its [`WsConfig`] (allowed origins, the
/// upgrade hook) run before the handshake completes.
///
/// The upgrade runs in the [`Incoming`] future, which the server drives on
/// the connection's own task under its handshake timeout, so a slow or
/// silent peer never holds up the accept loop.
///
/// With `with_tls` (cargo feature `tls`) it serves
/// `wss://`: the TLS handshake runs first, in the same `Incoming` future,
/// and its clients are reported as [`TransportKind::Wss`].
pub struct WsListener {
    inner: tokio::net::TcpListener,
    config: Arc<WsConfig>,
    #[cfg(feature = "tls")]
    tls: Option<hisock_tcp::tls::ServerTls>,
}

impl WsListener {
    /// Binds to `addr` (port 0 picks a free port) with the default
    /// [`WsConfig`] and a listen backlog of
    /// [`DEFAULT_LISTEN_BACKLOG`](hisock_tcp::DEFAULT_LISTEN_BACKLOG).
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<Self> {
        Self::bind_with_backlog(addr, hisock_tcp::DEFAULT_LISTEN_BACKLOG).await
    }

    /// Binds like [`bind`](Self::bind) with a listen backlog of `backlog`
    /// connections (the OS clamps it).
    pub async fn bind_with_backlog(addr: impl ToSocketAddrs, backlog: u32) -> io::Result<Self> {
        Ok(Self::from_tokio(
            hisock_tcp::bind_listener(addr, backlog).await?,
        ))
    }

    /// Wraps an already-bound tokio listener.
    pub fn from_tokio(inner: tokio::net::TcpListener) -> Self {
        Self {
            inner,
            config: Arc::new(WsConfig::default()),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Serves `wss://` with `tls` (cargo feature `tls`): every connection
    /// completes a TLS handshake (under `tls`'s handshake timeout, off the
    /// accept loop) before its WebSocket upgrade. A failed handshake drops
    /// only that connection and is counted in
    /// [`ServerTls::failed_handshakes`](hisock_tcp::tls::ServerTls::failed_handshakes).
    #[cfg(feature = "tls")]
    pub fn with_tls(mut self, tls: hisock_tcp::tls::ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Uses `config` for the connections accepted from now on.
    pub fn with_config(mut self, config: WsConfig) -> Self {
        self.config = Arc::new(config);
        self
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl Listener for WsListener {
    fn accept(
        &mut self,
        limits: ConnectionLimits,
    ) -> BoxFuture<'_, Result<Incoming, TransportError>> {
        Box::pin(async move {
            let (stream, peer) = self.inner.accept().await?;
            let config = self.config.clone();
            #[cfg(feature = "tls")]
            if let Some(tls) = self.tls.clone() {
                let incoming: Incoming =
                    Box::pin(async move { upgrade_tls(stream, peer, &config, &tls, limits).await });
                return Ok(incoming);
            }
            let incoming: Incoming =
                Box::pin(async move { upgrade(stream, peer, &config, limits).await });
            Ok(incoming)
        })
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.inner.local_addr().ok()
    }
}

async fn upgrade(
    stream: TcpStream,
    peer: SocketAddr,
    config: &WsConfig,
    limits: ConnectionLimits,
) -> Result<hisock::Connection, TransportError> {
    // Small events must not wait for Nagle's algorithm; batching is ours.
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().ok();
    let conn = accept_connection(stream, config, limits.max_frame_len, TransportKind::Ws).await?;
    Ok(conn.with_addrs(Some(peer), local))
}

#[cfg(feature = "tls")]
async fn upgrade_tls(
    stream: TcpStream,
    peer: SocketAddr,
    config: &WsConfig,
    tls: &hisock_tcp::tls::ServerTls,
    limits: ConnectionLimits,
) -> Result<hisock::Connection, TransportError> {
    // Small events must not wait for Nagle's algorithm; batching is ours.
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().ok();
    let stream = tls.accept(stream, Some(peer)).await?;
    let conn = accept_connection(stream, config, limits.max_frame_len, TransportKind::Wss).await?;
    Ok(conn.with_addrs(Some(peer), local))
}
