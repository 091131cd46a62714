//! The hisock side of every workload: a server with TCP, WebSocket, TLS
//! and/or WSS listeners on 127.0.0.1, and clients of any of them.

use std::net::SocketAddr;
use std::time::Duration;

use hisock::{Client, ClientOptions, Server};

use crate::util::BenchResult;
use crate::Transport;

/// A running hisock server and the addresses of its listeners.
pub struct HisockServer {
    /// The server.
    pub server: Server,
    addrs: Vec<(Transport, SocketAddr)>,
}

impl HisockServer {
    /// Starts `server` with one listener per transport in `transports`.
    pub async fn start(server: Server, transports: &[Transport]) -> BenchResult<Self> {
        let mut addrs = Vec::new();
        for &transport in transports {
            let addr = match transport {
                Transport::Tcp => {
                    server.listen(hisock_tcp::TcpListener::bind("127.0.0.1:0").await?)
                }
                Transport::Ws => server.listen(hisock_ws::WsListener::bind("127.0.0.1:0").await?),
                Transport::Tls => {
                    let tls = crate::tls::server_tls().clone();
                    server.listen(hisock_tcp::tls::TlsListener::bind("127.0.0.1:0", tls).await?)
                }
                Transport::Wss => {
                    let listener = hisock_ws::WsListener::bind("127.0.0.1:0").await?;
                    server.listen(listener.with_tls(crate::tls::server_tls().clone()))
                }
            };
            if let Some(addr) = addr {
                addrs.push((transport, addr));
            }
        }
        Ok(Self { server, addrs })
    }

    /// The address of the listener for `transport`.
    pub fn addr(&self, transport: Transport) -> BenchResult<SocketAddr> {
        self.addrs
            .iter()
            .find(|(t, _)| *t == transport)
            .map(|(_, addr)| *addr)
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
        Transport::Tls => {
            let tls = crate::tls::client_tls();
            hisock_tcp::tls::connect_tls(&addr.to_string(), options, tls).await?
        }
        Transport::Wss => {
            let config = hisock_ws::WsConfig::new().tls(crate::tls::client_tls().clone());
            hisock_ws::connect_with(format!("wss://{addr}/").as_str(), options, &config).await?
        }
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
