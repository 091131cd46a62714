//! The raw stack hisock is built on, used as the baseline: tokio TCP with
//! tokio-util's `LengthDelimitedCodec`, and plain tokio-tungstenite binary
//! messages; for TLS and WSS the same inside tokio-rustls, with the same
//! rustls configs as hisock's side. No event names, no serialization: a
//! frame is a fixed payload.
//!
//! Both kinds reduce to a boxed sink and stream of `Bytes`, so each workload
//! is written once for both.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use futures::{Sink, SinkExt, Stream, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

use hisock_tcp::tls::rustls::pki_types::ServerName;

use crate::util::AbortOnDrop;
use crate::Transport;

/// Frames out.
pub type RawSink = Pin<Box<dyn Sink<Bytes, Error = io::Error> + Send>>;
/// Frames in.
pub type RawStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// One raw connection, either side.
pub struct RawConn {
    /// Frames to the peer.
    pub sink: RawSink,
    /// Frames from the peer.
    pub stream: RawStream,
}

/// Settings of raw connections.
#[derive(Debug, Clone, Copy)]
pub struct RawConfig {
    /// Largest frame accepted.
    pub max_frame_len: usize,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            max_frame_len: hisock::frame::DEFAULT_MAX_FRAME_LEN,
        }
    }
}

fn ws_error(err: tungstenite::Error) -> io::Error {
    match err {
        tungstenite::Error::Io(err) => err,
        other => io::Error::other(other),
    }
}

/// tokio-tungstenite's default configuration (128 KiB read buffer) with the
/// message limit raised to `max_frame_len`.
fn ws_config(config: RawConfig) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(config.max_frame_len))
        .max_frame_size(Some(config.max_frame_len))
}

fn tcp_conn(stream: TcpStream, config: RawConfig) -> RawConn {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    framed_conn(read, write, config)
}

/// `LengthDelimitedCodec` on a TLS stream's halves (tokio's `split`, as
/// hisock's TLS transport does).
fn tls_conn<S>(stream: S, config: RawConfig) -> RawConn
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (read, write) = tokio::io::split(stream);
    framed_conn(read, write, config)
}

fn framed_conn<R, W>(read: R, write: W, config: RawConfig) -> RawConn
where
    R: tokio::io::AsyncRead + Send + 'static,
    W: tokio::io::AsyncWrite + Send + 'static,
{
    let codec = || {
        LengthDelimitedCodec::builder()
            .max_frame_length(config.max_frame_len)
            .new_codec()
    };
    let stream = FramedRead::new(read, codec()).map(|item| item.map(BytesMut::freeze));
    let sink = FramedWrite::new(write, codec());
    RawConn {
        sink: Box::pin(sink),
        stream: Box::pin(stream),
    }
}

/// The client side of raw TLS, for the test certificate's 127.0.0.1.
async fn tls_connect(stream: TcpStream) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let _ = stream.set_nodelay(true);
    let connector = tokio_rustls::TlsConnector::from(crate::tls::client_config());
    let name = ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
    connector.connect(name, stream).await
}

/// The server side of raw TLS.
async fn tls_accept(stream: TcpStream) -> io::Result<tokio_rustls::server::TlsStream<TcpStream>> {
    let _ = stream.set_nodelay(true);
    let acceptor = tokio_rustls::TlsAcceptor::from(crate::tls::server_config());
    acceptor.accept(stream).await
}

fn ws_conn<S>(ws: tokio_tungstenite::WebSocketStream<S>) -> RawConn
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sink, stream) = ws.split();
    let sink = sink
        .sink_map_err(ws_error)
        .with(|frame: Bytes| std::future::ready(Ok::<_, io::Error>(Message::Binary(frame))));
    let stream = stream.filter_map(|msg| {
        std::future::ready(match msg {
            Ok(Message::Binary(frame)) => Some(Ok(frame)),
            Ok(Message::Close(_)) => None,
            Ok(_) => None,
            Err(tungstenite::Error::ConnectionClosed) => None,
            Err(err) => Some(Err(ws_error(err))),
        })
    });
    RawConn {
        sink: Box::pin(sink),
        stream: Box::pin(stream),
    }
}

/// Opens a raw connection to `addr`.
pub async fn connect(
    transport: Transport,
    addr: SocketAddr,
    config: RawConfig,
) -> io::Result<RawConn> {
    let stream = TcpStream::connect(addr).await?;
    match transport {
        Transport::Tcp => Ok(tcp_conn(stream, config)),
        Transport::Ws => {
            let _ = stream.set_nodelay(true);
            let url = format!("ws://{addr}/");
            let (ws, _) =
                tokio_tungstenite::client_async_with_config(url, stream, Some(ws_config(config)))
                    .await
                    .map_err(ws_error)?;
            Ok(ws_conn(ws))
        }
        Transport::Tls => Ok(tls_conn(tls_connect(stream).await?, config)),
        Transport::Wss => {
            let stream = tls_connect(stream).await?;
            let url = format!("wss://{addr}/");
            let (ws, _) =
                tokio_tungstenite::client_async_with_config(url, stream, Some(ws_config(config)))
                    .await
                    .map_err(ws_error)?;
            Ok(ws_conn(ws))
        }
    }
}

/// A raw listener: accepted connections arrive on `conns`; accepting stops
/// when it is dropped.
pub struct RawListener {
    /// The bound address.
    pub addr: SocketAddr,
    /// Accepted (and, for WebSocket, upgraded) connections.
    pub conns: mpsc::UnboundedReceiver<RawConn>,
    _accept: AbortOnDrop,
}

/// Accepts raw connections of one transport on 127.0.0.1 on a background
/// task and hands them out through a channel.
pub async fn listen(transport: Transport, config: RawConfig) -> io::Result<RawListener> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, conns) = mpsc::unbounded_channel();
    let accept = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let tx = tx.clone();
            // The upgrade runs on its own task so a slow client does not
            // hold up the accept loop.
            tokio::spawn(async move {
                let conn = match transport {
                    Transport::Tcp => Some(tcp_conn(stream, config)),
                    Transport::Ws => {
                        let _ = stream.set_nodelay(true);
                        tokio_tungstenite::accept_async_with_config(stream, Some(ws_config(config)))
                            .await
                            .ok()
                            .map(ws_conn)
                    }
                    Transport::Tls => tls_accept(stream).await.ok().map(|s| tls_conn(s, config)),
                    Transport::Wss => match tls_accept(stream).await {
                        Ok(stream) => tokio_tungstenite::accept_async_with_config(
                            stream,
                            Some(ws_config(config)),
                        )
                        .await
                        .ok()
                        .map(ws_conn),
                        Err(_) => None,
                    },
                };
                if let Some(conn) = conn {
                    let _ = tx.send(conn);
                }
            });
        }
    });
    Ok(RawListener {
        addr,
        conns,
        _accept: AbortOnDrop(accept),
    })
}
