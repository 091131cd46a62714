//! Binding a listening socket with a listen backlog of our choosing.
//! tokio's `TcpListener::bind` (through mio) always asks for 128, std's
//! value: 3,000 connections opened back to back overflowed that queue 10
//! times and took 10.2 s to be accepted, against none and 0.0 s with
//! 1,024 (issue 12's measurement). Both hisock listeners bind here.

use std::io;

use tokio::net::{TcpSocket, ToSocketAddrs};

/// The listen backlog hisock's listeners ask for unless told otherwise.
/// The OS clamps it (on Linux to `net.core.somaxconn`, 4,096 by default
/// since 5.4).
pub const DEFAULT_LISTEN_BACKLOG: u32 = 1024;

/// Binds a tokio listener to the first address of `addr` that binds, with
/// `SO_REUSEADDR` (as tokio does) and a listen queue of `backlog`
/// connections waiting to be accepted.
///
/// Errors: the last address's error when none binds, or a resolver error.
pub async fn bind_listener(
    addr: impl ToSocketAddrs,
    backlog: u32,
) -> io::Result<tokio::net::TcpListener> {
    let mut last_error = None;
    for addr in tokio::net::lookup_host(addr).await? {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        #[cfg(not(windows))]
        socket.set_reuseaddr(true)?;
        match socket.bind(addr).and_then(|()| socket.listen(backlog)) {
            Ok(listener) => return Ok(listener),
            Err(err) => last_error = Some(err),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any address",
        )
    }))
}
