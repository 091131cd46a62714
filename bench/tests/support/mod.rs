//! Helpers for the stream tests: servers and clients on either transport,
//! payloads whose content can be checked, time limits, and raw peers that
//! speak hisock frames by hand (to cut a connection where a real peer never
//! would).

#![allow(dead_code)] // each test file uses its own subset

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{Sink, SinkExt, Stream, StreamExt};
use hisock::frame::{Frame, DEFAULT_MAX_FRAME_LEN, PROTOCOL_VERSION};
use hisock::{Client, ClientOptions, Server};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

/// The longest any single wait in a test may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// Awaits `fut`, failing the test with `what` if it takes longer than
/// [`WAIT`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {WAIT:?}: {what}"))
}

/// Which transport a test runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Ws,
}

/// Starts a listener of `transport` on 127.0.0.1 feeding `server`.
pub async fn listen(server: &Server, transport: Transport) -> SocketAddr {
    match transport {
        Transport::Tcp => server.listen(
            hisock_tcp::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind tcp"),
        ),
        Transport::Ws => server.listen(
            hisock_ws::WsListener::bind("127.0.0.1:0")
                .await
                .expect("bind ws"),
        ),
    }
    .expect("listener address")
}

/// Connects a hisock client over `transport`.
pub async fn connect(transport: Transport, addr: SocketAddr, options: ClientOptions) -> Client {
    within("connect", async {
        match transport {
            Transport::Tcp => hisock_tcp::connect(addr, options).await,
            Transport::Ws => hisock_ws::connect(&format!("ws://{addr}/"), options).await,
        }
    })
    .await
    .expect("client connects")
}

/// `len` bytes of a pattern that does not repeat every 256 bytes, so a
/// reordered or shifted chunk shows.
pub fn payload(len: usize) -> Bytes {
    (0..len)
        .map(|i| ((i * 31 + i / 251) % 256) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// `payload(len)` cut into pieces of `piece` bytes, as a stream source.
pub fn pieces(
    len: usize,
    piece: usize,
) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> + Send + 'static {
    let whole = payload(len);
    let cuts: Vec<Result<Bytes, std::convert::Infallible>> = (0..len)
        .step_by(piece)
        .map(|start| Ok(whole.slice(start..(start + piece).min(len))))
        .collect();
    futures::stream::iter(cuts)
}

type FrameSink = Pin<Box<dyn Sink<Bytes, Error = std::io::Error> + Send>>;
type FrameStream = Pin<Box<dyn Stream<Item = Bytes> + Send>>;

/// One end of a connection that speaks hisock frames by hand.
pub struct RawPeer {
    sink: FrameSink,
    stream: FrameStream,
}

fn framed_tcp(stream: TcpStream) -> RawPeer {
    let (sink, stream) = Framed::new(stream, LengthDelimitedCodec::new()).split();
    RawPeer {
        sink: Box::pin(sink),
        stream: Box::pin(stream.filter_map(|f| async move { f.ok().map(BytesMut::freeze) })),
    }
}

fn framed_ws<S>(ws: tokio_tungstenite::WebSocketStream<S>) -> RawPeer
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sink, stream) = ws.split();
    let sink = sink
        .sink_map_err(std::io::Error::other)
        .with(|f: Bytes| async move { Ok::<_, std::io::Error>(Message::Binary(f)) });
    let stream = stream.filter_map(|m| async move {
        match m {
            Ok(Message::Binary(frame)) => Some(frame),
            _ => None,
        }
    });
    RawPeer {
        sink: Box::pin(sink),
        stream: Box::pin(stream),
    }
}

impl RawPeer {
    /// Connects to a hisock server and completes the hisock handshake.
    pub async fn client(transport: Transport, addr: SocketAddr) -> Self {
        let tcp = TcpStream::connect(addr).await.expect("tcp connect");
        let mut peer = match transport {
            Transport::Tcp => framed_tcp(tcp),
            Transport::Ws => {
                let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp)
                    .await
                    .expect("websocket upgrade");
                framed_ws(ws)
            }
        };
        peer.send(Frame::Hello {
            version: PROTOCOL_VERSION,
            name: Some("raw"),
            group: None,
            auth: None,
        })
        .await;
        let welcome = peer.recv().await;
        assert!(
            matches!(Frame::decode(&welcome), Ok(Frame::Welcome { .. })),
            "expected a welcome"
        );
        peer
    }

    /// Accepts one connection on `listener` as a hisock server would: reads
    /// the hello, answers with a welcome.
    pub async fn server(transport: Transport, listener: &TcpListener) -> Self {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut peer = match transport {
            Transport::Tcp => framed_tcp(tcp),
            Transport::Ws => framed_ws(
                tokio_tungstenite::accept_async(tcp)
                    .await
                    .expect("websocket upgrade"),
            ),
        };
        let hello = peer.recv().await;
        assert!(
            matches!(Frame::decode(&hello), Ok(Frame::Hello { .. })),
            "expected a hello"
        );
        peer.send(Frame::Welcome {
            client_id: 1,
            name: None,
            group: None,
            keepalive_interval_ms: 0,
            keepalive_timeout_ms: 0,
            max_frame_len: DEFAULT_MAX_FRAME_LEN as u32,
            addr: None,
        })
        .await;
        peer
    }

    /// Sends one frame.
    pub async fn send(&mut self, frame: Frame<'_>) {
        within("raw send", self.sink.send(frame.encode()))
            .await
            .expect("raw peer sends");
    }

    /// The next frame.
    pub async fn recv(&mut self) -> Bytes {
        within("raw recv", self.stream.next())
            .await
            .expect("raw peer receives a frame")
    }

    /// Sends the start and the first chunk of a stream that claims to be
    /// longer, then drops the connection without a close frame.
    pub async fn cut_off_stream(mut self, command: &str, total: u64) {
        self.send(Frame::StreamStart {
            stream_id: 1,
            command,
            total_len: Some(total),
        })
        .await;
        let chunk = payload(64 * 1024);
        self.send(Frame::StreamChunk {
            stream_id: 1,
            data: &chunk,
        })
        .await;
        // Let the chunk reach the peer's handler before the cut.
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(self);
    }
}
