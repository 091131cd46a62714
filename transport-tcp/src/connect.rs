//! The client side: [`connect`], with errors that name the address and say
//! what went wrong in words.

use std::fmt::Debug;
use std::io;
use std::sync::Arc;

use hisock::{Client, ClientOptions, Connector, Error, TransportKind};
use tokio::net::{TcpStream, ToSocketAddrs};

use crate::{tcp_connection, DEFAULT_MAX_FRAME_LEN};

/// Connects to a hisock server over TCP and completes the handshake. The
/// returned client's connection loop runs on a spawned tokio task.
///
/// Errors: [`Error::Connect`] naming the address when it does not resolve
/// (`"127.0.0.1"` without a port, say), when nothing accepts connections
/// there, or when the peer is no hisock TCP server (it does not answer the
/// handshake, or answers with something else); [`Error::Refused`] when the
/// server refuses the client (version, auth, capacity); and the other
/// errors of [`Client::handshake`].
pub async fn connect(
    addr: impl ToSocketAddrs + Debug,
    options: ClientOptions,
) -> hisock::Result<Client> {
    let given = format!("{addr:?}").trim_matches('"').to_owned();
    let (target, stream) = open(addr, &given).await?;
    // A reconnecting client resolves the address again for each attempt:
    // the server may have moved.
    let connector: Connector = {
        let given = given.clone();
        Arc::new(move || {
            let given = given.clone();
            Box::pin(async move {
                let (_, stream) = open(given.as_str(), &given).await?;
                Ok(tcp_connection(
                    stream,
                    DEFAULT_MAX_FRAME_LEN,
                    TransportKind::Tcp,
                ))
            })
        })
    };
    let conn = tcp_connection(stream, DEFAULT_MAX_FRAME_LEN, TransportKind::Tcp);
    let (client, driver) = Client::handshake_with(conn, options, Some(connector))
        .await
        .map_err(|err| err.in_handshake_with(&target.to_string(), "a hisock TCP port"))?;
    tokio::spawn(driver);
    Ok(client)
}

/// Resolves `addr` and connects to the first address that accepts.
/// `given` is how the caller wrote it, for errors.
async fn open(
    addr: impl ToSocketAddrs,
    given: &str,
) -> hisock::Result<(std::net::SocketAddr, TcpStream)> {
    let resolved = tokio::net::lookup_host(addr)
        .await
        .map_err(|err| Error::Connect {
            to: given.to_owned(),
            reason: match err.kind() {
                io::ErrorKind::InvalidInput => {
                    format!("not a host:port address: the port is missing, or the address is not one ({err})")
                }
                _ => format!("the address does not resolve: {err}"),
            },
        })?;
    let mut last = None;
    for target in resolved {
        match TcpStream::connect(target).await {
            Ok(stream) => return Ok((target, stream)),
            Err(err) => last = Some((target, err)),
        }
    }
    Err(match last {
        Some((target, err)) => Error::Connect {
            to: target.to_string(),
            reason: match err.kind() {
                io::ErrorKind::ConnectionRefused => {
                    format!("nothing accepts connections there ({err})")
                }
                _ => err.to_string(),
            },
        },
        None => Error::Connect {
            to: given.to_owned(),
            reason: "the address resolves to nothing".into(),
        },
    })
}
