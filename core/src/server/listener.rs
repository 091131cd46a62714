//! How transports hand connections to a server.

use crate::server::config::ConnectionLimits;
use crate::transport::{BoxFuture, Connection, TransportError};

/// A connection on its way in: the transport accepted a socket and still has
/// work to do (a WebSocket upgrade, a TLS handshake). The server runs it on
/// its own task, under the handshake timeout, so one slow peer never holds
/// up the accept loop.
pub type Incoming = BoxFuture<'static, Result<Connection, TransportError>>;

/// A source of connections: a TCP listener, a WebSocket listener, ….
/// Transport crates implement it; [`Server::listen`](super::Server::listen)
/// drives it.
pub trait Listener: Send + 'static {
    /// Waits for the next connection. An error here (out of file
    /// descriptors, say) is logged by the server, which keeps accepting.
    fn accept(
        &mut self,
        limits: ConnectionLimits,
    ) -> BoxFuture<'_, Result<Incoming, TransportError>>;

    /// The address the listener is bound to, if it has one.
    fn local_addr(&self) -> Option<std::net::SocketAddr>;
}
