//! The hisock side of every workload: a server with TCP and/or WebSocket
//! listeners on 127.0.0.1, and clients of either transport.

use std::net::SocketAddr;
use std::time::Duration;

use hisock::{Client, ClientOptions, Server};

use crate::util::BenchResult;
use crate::Transport;

/// A running hisock server and the addresses of its listeners.
pub struct HisockServer {
    /// The server.
    pub server: Server,
    tcp: Option<SocketAddr>,
    ws: Option<SocketAddr>,
}

impl HisockServer {
    /// Starts `server` with one listener per transport in `transports`.
    pub async fn start(server: Server, transports: &[Transport]) -> BenchResult<Self> {
        let mut tcp = None;
        let mut ws = None;
        for transport in transports {
            match transport {
                Transport::Tcp => {
                    let listener = hisock_tcp::TcpListener::bind("127.0.0.1:0").await?;
                    tcp = server.listen(listener);
                }
                Transport::Ws => {
                    let listener = hisock_ws::WsListener::bind("127.0.0.1:0").await?;
                    ws = server.listen(listener);
                }
            }
        }
        Ok(Self { server, tcp, ws })
    }

    /// The address of the listener for `transport`.
    pub fn addr(&self, transport: Transport) -> BenchResult<SocketAddr> {
        match transport {
            Transport::Tcp => self.tcp,
            Transport::Ws => self.ws,
        }
        .ok_or_else(|| format!("no {transport} listener").into())
    }

    /// Connects a client over `transport`.
    pub async fn connect(
        &self,
        transport: Transport,
        options: ClientOptions,
    ) -> BenchResult<Client> {
        connect(transport, self.addr(transport)?, options).await
    }

    /// Shuts the server down, giving connections a few seconds to finish.
    pub async fn shutdown(self) {
        let _ = tokio::time::timeout(Duration::from_secs(10), self.server.shutdown()).await;
    }
}

/// Connects a hisock client to `addr` over `transport`.
pub async fn connect(
    transport: Transport,
    addr: SocketAddr,
    options: ClientOptions,
) -> BenchResult<Client> {
    Ok(match transport {
        Transport::Tcp => hisock_tcp::connect(addr, options).await?,
        Transport::Ws => hisock_ws::connect(&format!("ws://{addr}/"), options).await?,
    })
}

/// Closes clients, many at a time, each within a few seconds.
pub async fn close_all(clients: Vec<Client>) {
    use futures::StreamExt;
    futures::stream::iter(clients)
        .for_each_concurrent(256, |client| async move {
            let _ = tokio::time::timeout(Duration::from_secs(5), client.close()).await;
        })
        .await;
}
