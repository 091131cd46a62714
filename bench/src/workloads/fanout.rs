//! W3 fanout: many connected clients; the server broadcasts a series of
//! small messages; deliveries per second until every client has all of
//! them. hisock runs on TCP, on WS, and mixed (half TCP, half WS on one
//! server); raw likewise (a raw server with both listeners for mixed).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt, TryStreamExt};
use hisock::{Client, ClientOptions, Data, Server};
use tokio::sync::mpsc;

use super::{progress, Samples};
use crate::options::Options;
use crate::payload::News;
use crate::raw::{self, RawConfig, RawConn};
use crate::report::Row;
use crate::side::{close_all, HisockServer};
use crate::util::{within, AbortOnDrop, BenchResult, Countdown};
use crate::Transport;

/// Connections opened at once while setting up.
const CONNECT_CONCURRENCY: usize = 64;
/// Pause between setting up and measuring, for both sides alike.
const SETTLE: Duration = Duration::from_millis(200);

/// Which transports the clients use.
#[derive(Debug, Clone, Copy)]
enum Mix {
    Only(Transport),
    Mixed,
}

impl Mix {
    fn name(self) -> &'static str {
        match self {
            Mix::Only(t) => t.name(),
            Mix::Mixed => "mixed",
        }
    }

    fn transports(self) -> &'static [Transport] {
        match self {
            Mix::Only(Transport::Tcp) => &[Transport::Tcp],
            Mix::Only(Transport::Ws) => &[Transport::Ws],
            Mix::Only(Transport::Tls) => &[Transport::Tls],
            Mix::Only(Transport::Wss) => &[Transport::Wss],
            Mix::Mixed => &[Transport::Tcp, Transport::Ws],
        }
    }

    /// The transport of the `i`-th client.
    fn of(self, i: usize) -> Transport {
        match self {
            Mix::Only(t) => t,
            Mix::Mixed if i % 2 == 0 => Transport::Tcp,
            Mix::Mixed => Transport::Ws,
        }
    }
}

/// Runs W3 on TCP, WS and mixed.
pub async fn run(options: &Options) -> BenchResult<Vec<Row>> {
    let mut rows = Vec::new();
    // TLS is measured by W1, W2 and M1; fan-out over TLS would measure
    // rustls's encryption of 200,000 copies more than hisock.
    let plain = options.plain_transports();
    let mut mixes: Vec<Mix> = plain.iter().map(|t| Mix::Only(*t)).collect();
    if plain.len() > 1 {
        mixes.push(Mix::Mixed);
    }
    for mix in mixes {
        let mut samples = Samples::default();
        for _ in 0..options.runs {
            let raw = match options.raw {
                true => Some(raw_rate(mix, options).await?),
                false => None,
            };
            let hisock = hisock_rate(mix, options).await?;
            progress("W3", mix.name(), "deliveries_per_s", raw, hisock);
            samples.push(raw, hisock);
        }
        rows.push(samples.row("W3", mix.name(), "deliveries_per_s"));
    }
    Ok(rows)
}

fn deliveries(options: &Options) -> u64 {
    options.w3_clients as u64 * u64::from(options.w3_broadcasts)
}

/// A raw server connection's writer: takes frames from a channel, writes
/// whatever is queued, flushes once.
fn raw_writer(conn: RawConn) -> mpsc::UnboundedSender<Bytes> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    let RawConn { mut sink, stream } = conn;
    tokio::spawn(async move {
        let _stream = stream;
        while let Some(frame) = rx.recv().await {
            if sink.feed(frame).await.is_err() {
                return;
            }
            while let Ok(frame) = rx.try_recv() {
                if sink.feed(frame).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    tx
}

async fn raw_rate(mix: Mix, options: &Options) -> BenchResult<f64> {
    let n = options.w3_clients;
    let config = RawConfig::default();
    let mut listeners = Vec::new();
    for transport in mix.transports() {
        listeners.push((*transport, raw::listen(*transport, config).await?));
    }
    let addr_of = |t: Transport| {
        listeners
            .iter()
            .find(|(lt, _)| *lt == t)
            .map(|(_, l)| l.addr)
            .ok_or("no listener")
    };
    let received = Arc::new(Countdown::new(deliveries(options)));
    let broadcasts = options.w3_broadcasts;
    let mut readers = Vec::new();
    let clients: Vec<RawConn> = within(
        options.limit,
        "W3 raw connect",
        futures::stream::iter(0..n)
            .map(|i| {
                let transport = mix.of(i);
                let addr = addr_of(transport);
                async move {
                    raw::connect(transport, addr?, config)
                        .await
                        .map_err(crate::util::BenchError::from)
                }
            })
            .buffer_unordered(CONNECT_CONCURRENCY)
            .try_collect(),
    )
    .await??;
    for mut client in clients {
        let received = received.clone();
        readers.push(AbortOnDrop(tokio::spawn(async move {
            let mut got = 0;
            while got < broadcasts {
                match client.stream.next().await {
                    Some(Ok(frame)) => {
                        std::hint::black_box(&frame);
                        got += 1;
                        received.hit();
                    }
                    _ => return,
                }
            }
        })));
    }
    let mut senders = Vec::with_capacity(n);
    for (_, listener) in listeners.iter_mut() {
        let share = n / mix.transports().len();
        for _ in 0..share {
            let conn = within(options.limit, "W3 raw accept", listener.conns.recv())
                .await?
                .ok_or("raw listener stopped")?;
            senders.push(raw_writer(conn));
        }
    }
    let body = Bytes::from(vec![0x5a; options.w3_payload]);
    tokio::time::sleep(SETTLE).await;
    let start = Instant::now();
    for _ in 0..broadcasts {
        for tx in &senders {
            let _ = tx.send(body.clone());
        }
    }
    let done = received.wait(options.limit, "W3 raw").await?;
    Ok(deliveries(options) as f64 / (done - start).as_secs_f64())
}

async fn hisock_rate(mix: Mix, options: &Options) -> BenchResult<f64> {
    let n = options.w3_clients;
    let server = HisockServer::start(Server::new(), mix.transports()).await?;
    let received = Arc::new(Countdown::new(deliveries(options)));
    let client_options = {
        let received = received.clone();
        ClientOptions::new().on("news", move |Data(news): Data<News>| {
            let received = received.clone();
            async move {
                std::hint::black_box(&news);
                received.hit();
            }
        })
    };
    let server_ref = &server;
    let clients: Vec<Client> = within(
        options.limit,
        "W3 hisock connect",
        futures::stream::iter(0..n)
            .map(|i| {
                let options = client_options.clone();
                async move { server_ref.connect(mix.of(i), options).await }
            })
            .buffer_unordered(CONNECT_CONCURRENCY)
            .try_collect(),
    )
    .await??;
    within(options.limit, "W3 hisock joins", async {
        while server.server.client_count() < n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await?;
    // Let the presence notices of the last joins drain first.
    tokio::time::sleep(SETTLE).await;
    let mut news = News {
        seq: 0,
        body: vec![0x5a; options.w3_payload],
    };
    let start = Instant::now();
    for seq in 0..options.w3_broadcasts {
        news.seq = seq;
        server.server.to_all().emit("news", &news)?;
    }
    let done = received.wait(options.limit, "W3 hisock").await?;
    close_all(clients).await;
    server.shutdown().await;
    Ok(deliveries(options) as f64 / (done - start).as_secs_f64())
}
