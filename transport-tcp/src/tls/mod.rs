//! TCP+TLS (cargo feature `tls`): the same length-prefixed frames inside a
//! rustls stream, on both sides.
//!
//! - Server: [`TlsListener`] with a [`ServerTls`] (a PEM certificate chain
//!   and key, or a `rustls::ServerConfig`); its clients are reported as
//!   [`TransportKind::Tls`].
//! - Client: [`connect_tls`] with a [`ClientTls`] (the webpki roots by
//!   default, a private CA with [`ClientTls::with_ca_pem`], or a
//!   `rustls::ClientConfig`).
//! - Errors: [`TlsError`], inside [`hisock::Error::Transport`]; an
//!   untrusted certificate and a wrong hostname each say so
//!   ([`TlsError::find`] gets the typed value back).
//!
//! `ServerTls` and `ClientTls` are also what `hisock-ws` uses for `wss://`.
//!
//! Per-connection memory: rustls keeps its read buffer at 4 KiB once the
//! handshake is over and its send buffer holds only what is in flight, and
//! hisock's frame buffers shrink when a connection goes quiet, so an idle
//! TLS connection costs the server about 16 KiB (bench M1 at 10,000
//! connections: 16.0 KiB, against 8 KiB over plain TCP and 19.6 KiB for
//! raw tokio-rustls with tokio-util's codec).
//!
//! ```no_run
//! use hisock::{ClientOptions, Server};
//! use hisock_tcp::tls::{connect_tls, ClientTls, ServerTls, TlsListener};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::new();
//! let tls = ServerTls::from_pem_files("cert.pem", "key.pem")?;
//! server.listen(TlsListener::bind("0.0.0.0:9443", tls).await?);
//!
//! let trust = ClientTls::with_ca_file("ca.pem")?;
//! let client = connect_tls("localhost:9443", ClientOptions::new(), &trust).await?;
//! # Ok(())
//! # }
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hisock::server::{ConnectionLimits, Incoming, Listener};
use hisock::transport::BoxFuture;
use hisock::{Client, ClientOptions, Connection, TransportError, TransportKind};
use tokio::net::{TcpStream, ToSocketAddrs};

mod client;
mod error;
mod server;

pub use client::ClientTls;
pub use error::TlsError;
/// The rustls crate hisock is built with, for applications that build their
/// own `ServerConfig` or `ClientConfig`.
pub use rustls;
pub use server::ServerTls;

use crate::{bind_listener, framed_connection, DEFAULT_LISTEN_BACKLOG, DEFAULT_MAX_FRAME_LEN};

/// How long a TLS handshake may take unless told otherwise, on either side.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The crypto provider of the configs hisock builds: ring, named explicitly
/// so that another provider compiled into the application (aws-lc-rs) does
/// not leave rustls unable to pick a default.
///
/// rustls 0.23.48 deprecates ring's provider for lacking post-quantum key
/// exchange; aws-lc-rs has it but needs a C toolchain and CMake-sized
/// builds. ring stays until that trade is made on purpose.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TCP+TLS listener that feeds a [`hisock::Server`]; clients are reported
/// as [`TransportKind::Tls`].
///
/// The TLS handshake runs in the [`Incoming`] future, on the connection's
/// own task under [`ServerTls`]'s handshake timeout (and the server's), so
/// a slow or hostile peer never holds up the accept loop. A failed
/// handshake drops only that connection (see
/// [`ServerTls::failed_handshakes`]).
pub struct TlsListener {
    inner: tokio::net::TcpListener,
    tls: ServerTls,
}

impl TlsListener {
    /// Binds to `addr` (port 0 picks a free port) with a listen backlog of
    /// [`DEFAULT_LISTEN_BACKLOG`].
    pub async fn bind(addr: impl ToSocketAddrs, tls: ServerTls) -> io::Result<Self> {
        Self::bind_with_backlog(addr, DEFAULT_LISTEN_BACKLOG, tls).await
    }

    /// Binds like [`bind`](Self::bind) with a listen backlog of `backlog`.
    pub async fn bind_with_backlog(
        addr: impl ToSocketAddrs,
        backlog: u32,
        tls: ServerTls,
    ) -> io::Result<Self> {
        Ok(Self::from_tokio(bind_listener(addr, backlog).await?, tls))
    }

    /// Wraps an already-bound tokio listener.
    pub fn from_tokio(inner: tokio::net::TcpListener, tls: ServerTls) -> Self {
        Self { inner, tls }
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// The TLS settings (a clone shares the failed-handshake count).
    pub fn tls(&self) -> &ServerTls {
        &self.tls
    }
}

impl Listener for TlsListener {
    fn accept(
        &mut self,
        limits: ConnectionLimits,
    ) -> BoxFuture<'_, Result<Incoming, TransportError>> {
        Box::pin(async move {
            let (stream, peer) = self.inner.accept().await?;
            let tls = self.tls.clone();
            let incoming: Incoming = Box::pin(async move {
                // Small events must not wait for Nagle's algorithm.
                let _ = stream.set_nodelay(true);
                let local = stream.local_addr().ok();
                let stream = tls.accept(stream, Some(peer)).await?;
                Ok(tls_framed(stream, limits.max_frame_len, TransportKind::Tls)
                    .with_addrs(Some(peer), local))
            });
            Ok(incoming)
        })
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.inner.local_addr().ok()
    }
}

/// Frames a TLS stream (either side) like a TCP stream.
fn tls_framed<S>(stream: S, max_frame_len: usize, kind: TransportKind) -> Connection
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (read, write) = tokio::io::split(stream);
    framed_connection(read, write, max_frame_len, kind)
}

/// Connects to a hisock TCP+TLS server at `addr` (`"host:port"`), verifies
/// its certificate with `tls` for `host`, performs the hisock handshake and
/// spawns the client's driver on the current tokio runtime.
///
/// Errors: [`hisock::Error::InvalidAddress`] for an address that does not
/// parse or resolve; a [`TlsError`] inside [`hisock::Error::Transport`] when
/// TLS fails (its text says "not signed by a trusted CA" or "not valid for
/// the hostname"); socket errors; and everything [`Client::handshake`]
/// reports.
pub async fn connect_tls(
    addr: &str,
    options: ClientOptions,
    tls: &ClientTls,
) -> hisock::Result<Client> {
    let conn = open_tls(addr, tls).await?;
    // A reconnecting client opens each connection the same way.
    let connector: hisock::Connector = {
        let (addr, tls) = (addr.to_owned(), tls.clone());
        std::sync::Arc::new(move || {
            let (addr, tls) = (addr.clone(), tls.clone());
            Box::pin(async move { open_tls(&addr, &tls).await })
        })
    };
    let (client, driver) = Client::handshake_with(conn, options, Some(connector)).await?;
    tokio::spawn(driver);
    Ok(client)
}

/// Opens one TLS connection to `addr` (TCP, then the TLS handshake).
async fn open_tls(addr: &str, tls: &ClientTls) -> hisock::Result<hisock::Connection> {
    let socket_addr = hisock::parse_addr(addr)?;
    let host = addr.trim().rsplit_once(':').map_or(addr, |(host, _)| host);
    let stream = TcpStream::connect(socket_addr)
        .await
        .map_err(|err| hisock::Error::Transport(TransportError::Io(err)))?;
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().ok();
    let local = stream.local_addr().ok();
    let stream = tls.connect(host, stream).await?;
    Ok(tls_framed(stream, DEFAULT_MAX_FRAME_LEN, TransportKind::Tls).with_addrs(peer, local))
}
