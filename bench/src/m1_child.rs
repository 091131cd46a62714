//! The two helper processes of M1, started by re-running this binary with a
//! hidden subcommand: a server whose RSS is measured, and a process holding
//! the client connections. Each talks to the benchmark over stdin/stdout,
//! one command or answer per line.
//!
//! Server (`__m1-server IMPL TRANSPORT PRESENCE`): prints `addr ADDR`, then answers
//! `rss` with `rss BYTES CONNECTIONS` and exits on `quit` or end of input.
//!
//! Clients (`__m1-clients IMPL TRANSPORT ADDR N`): opens N connections,
//! sends one small event on each and waits for one back, prints `ready N`,
//! waits for `close`, closes everything, prints `closed` and exits.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt, TryStreamExt};
use hisock::{Client, ClientInfo, ClientOptions, Data, Server};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::payload::Blob;
use crate::raw::{self, RawConfig, RawConn};
use crate::side::{self, close_all, HisockServer};
use crate::util::{raise_open_files_limit, rss_bytes, BenchResult};
use crate::Transport;

/// Hidden subcommand: the M1 server.
pub const SERVER_COMMAND: &str = "__m1-server";
/// Hidden subcommand: the M1 clients.
pub const CLIENTS_COMMAND: &str = "__m1-clients";
/// Server argument: hisock sends presence notices (its default).
pub const PRESENCE: &str = "presence";
/// Server argument: hisock is built with `presence_notices(false)`.
pub const NO_PRESENCE: &str = "no-presence";

/// Which stack a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    /// tokio + LengthDelimitedCodec / tokio-tungstenite.
    Raw,
    /// hisock.
    Hisock,
}

impl Stack {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Stack::Raw => "raw",
            Stack::Hisock => "hisock",
        }
    }

    fn parse(text: &str) -> BenchResult<Self> {
        match text {
            "raw" => Ok(Stack::Raw),
            "hisock" => Ok(Stack::Hisock),
            other => Err(format!("unknown stack {other:?}").into()),
        }
    }
}

/// Connections opened at once by the client process.
const CONNECT_CONCURRENCY: usize = 128;
/// Bytes of the small event sent each way.
const SMALL: usize = 16;

fn runtime() -> BenchResult<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn raise_limit(who: &str) {
    match raise_open_files_limit() {
        Ok(limit) => eprintln!("{who}: open-files soft limit raised to {limit}"),
        Err(err) => eprintln!("{who}: the OS refused to raise the open-files limit: {err}"),
    }
}

fn args<const N: usize>(args: &[String], usage: &str) -> BenchResult<[String; N]> {
    <[String; N]>::try_from(args.to_vec()).map_err(|_| format!("usage: {usage}").into())
}

async fn say(line: String) -> BenchResult<()> {
    let mut out = tokio::io::stdout();
    out.write_all(line.as_bytes()).await?;
    out.write_all(b"\n").await?;
    out.flush().await?;
    Ok(())
}

/// The server process.
pub fn server_main(argv: &[String]) -> BenchResult<()> {
    let [stack, transport, presence] =
        args(argv, "__m1-server raw|hisock tcp|ws presence|no-presence")?;
    let presence = presence == PRESENCE;
    let stack = Stack::parse(&stack)?;
    let transport = Transport::parse(&transport).ok_or("unknown transport")?;
    raise_limit("M1 server");
    runtime()?.block_on(async move {
        let conns = Arc::new(AtomicUsize::new(0));
        let (addr, count): (SocketAddr, Box<dyn Fn() -> usize>) = match stack {
            Stack::Raw => {
                let addr = raw_server(transport, conns.clone()).await?;
                let conns = conns.clone();
                (addr, Box::new(move || conns.load(Ordering::Acquire)))
            }
            Stack::Hisock => {
                let server = Server::builder().presence_notices(presence).build();
                server.on(
                    "hello",
                    |who: ClientInfo, server: Server, Data(blob): Data<Blob>| async move {
                        let _ = server.to_client(who.id).emit("hello", &blob);
                    },
                );
                let server = HisockServer::start(server, &[transport]).await?;
                let addr = server.addr(transport)?;
                let server = server.server;
                (addr, Box::new(move || server.client_count()))
            }
        };
        say(format!("addr {addr}")).await?;
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Some(line) = lines.next_line().await? {
            match line.trim() {
                "rss" => say(format!("rss {} {}", rss_bytes()?, count())).await?,
                "quit" => break,
                other => eprintln!("M1 server: unknown command {other:?}"),
            }
        }
        Ok(())
    })
}

/// A raw server: echoes every frame, counts open connections.
async fn raw_server(transport: Transport, conns: Arc<AtomicUsize>) -> BenchResult<SocketAddr> {
    let listener = raw::listen(transport, RawConfig::default()).await?;
    let addr = listener.addr;
    tokio::spawn(async move {
        // Own the whole listener (not just its channel), or its accept loop
        // is aborted when this function returns.
        let mut listener = listener;
        while let Some(conn) = listener.conns.recv().await {
            let conns = conns.clone();
            conns.fetch_add(1, Ordering::AcqRel);
            tokio::spawn(async move {
                let RawConn {
                    mut sink,
                    mut stream,
                } = conn;
                while let Some(Ok(frame)) = stream.next().await {
                    if sink.send(frame).await.is_err() {
                        break;
                    }
                }
                drop((sink, stream));
                conns.fetch_sub(1, Ordering::AcqRel);
            });
        }
    });
    Ok(addr)
}

/// The client process.
pub fn clients_main(argv: &[String]) -> BenchResult<()> {
    let [stack, transport, addr, n] = args(argv, "__m1-clients raw|hisock tcp|ws ADDR N")?;
    let stack = Stack::parse(&stack)?;
    let transport = Transport::parse(&transport).ok_or("unknown transport")?;
    let addr: SocketAddr = addr.parse()?;
    let n: usize = n.parse()?;
    raise_limit("M1 clients");
    runtime()?.block_on(async move {
        let held = match stack {
            Stack::Raw => Held::Raw(raw_clients(transport, addr, n).await?),
            Stack::Hisock => Held::Hisock(hisock_clients(transport, addr, n).await?),
        };
        say(format!("ready {n}")).await?;
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Some(line) = lines.next_line().await? {
            if line.trim() == "close" {
                break;
            }
        }
        match held {
            Held::Raw(conns) => drop(conns),
            Held::Hisock(clients) => close_all(clients).await,
        }
        say("closed".into()).await
    })
}

enum Held {
    Raw(Vec<RawConn>),
    Hisock(Vec<Client>),
}

async fn raw_clients(
    transport: Transport,
    addr: SocketAddr,
    n: usize,
) -> BenchResult<Vec<RawConn>> {
    let small = Bytes::from(vec![0x5a; SMALL]);
    futures::stream::iter(0..n)
        .map(|_| {
            let small = small.clone();
            async move {
                let mut conn = raw::connect(transport, addr, RawConfig::default()).await?;
                conn.sink.send(small).await?;
                let back = tokio::time::timeout(Duration::from_secs(30), conn.stream.next())
                    .await
                    .map_err(|_| "no echo within 30 s")?;
                back.ok_or("connection closed before the echo")??;
                Ok::<_, crate::util::BenchError>(conn)
            }
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .try_collect()
        .await
}

async fn hisock_clients(
    transport: Transport,
    addr: SocketAddr,
    n: usize,
) -> BenchResult<Vec<Client>> {
    let small = Blob::new(SMALL);
    futures::stream::iter(0..n)
        .map(|_| {
            let small = small.clone();
            async move {
                let client = side::connect(transport, addr, ClientOptions::new()).await?;
                client.send("hello", &small).await?;
                let _back: Blob = client.recv("hello", Duration::from_secs(30)).await?;
                Ok::<_, crate::util::BenchError>(client)
            }
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .try_collect()
        .await
}
