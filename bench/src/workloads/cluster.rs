//! C1 cluster: hisock nodes joined through a `redis-server` this run starts
//! on a loopback port (skipped, saying so, when redis-server is missing).
//!
//! - propagation: `to_all().emit` on node A until a TCP client of node B
//!   has it, one at a time, p50 and p99 in µs. Raw: Redis's own `PUBLISH`
//!   until a subscriber has it, on the same redis-server.
//! - fanout: W3's clients (TCP) spread over 3 nodes, node A broadcasts W3's
//!   series; deliveries/s until every client has all of it. Raw: the same
//!   on one node without an adapter, in the same run (the single-node W3).
//! - resume on another node: R1 with two nodes, the proxy sending each
//!   reconnect to the node the client was not on, so every resume moves
//!   the session (PROTOCOL.md 13.9); the old node's application sends the
//!   round's event after the cut. p50 and p99 in µs from the cut to the
//!   event at the client. Raw: R1 on one node without an adapter, in the
//!   same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use hisock::{Client, ClientOptions, Data, Server};
use hisock_redis::{RedisAdapter, RedisConfig};
use hisock_test_support::{FaultProxy, RedisServer};
use tokio::sync::mpsc;

use super::resume::resume_latencies;
use super::{progress, Samples};
use crate::options::Options;
use crate::payload::News;
use crate::report::Row;
use crate::side::{close_all, HisockServer};
use crate::stats::percentile;
use crate::util::{within, BenchResult, Countdown};
use crate::Transport;

/// Unmeasured rounds before the propagation rounds.
const WARM_UP: usize = 100;
/// Pause between setting up and measuring, as in W3.
const SETTLE: Duration = Duration::from_millis(200);
/// Connections opened at once while setting up, as in W3.
const CONNECT_CONCURRENCY: usize = 64;

/// Runs C1.
pub async fn run(options: &Options) -> BenchResult<Vec<Row>> {
    let Some(redis) = RedisServer::start() else {
        eprintln!("C1: skipped: redis-server is not installed");
        return Ok(Vec::new());
    };
    let rounds = options.w2_round_trips / 10;
    let (mut p50, mut p99, mut fanout) =
        (Samples::default(), Samples::default(), Samples::default());
    let (mut moved50, mut moved99) = (Samples::default(), Samples::default());
    for run in 0..options.runs {
        let namespace = format!("bench{run}");
        let raw = match options.raw {
            true => Some(redis_round_trips(&redis, rounds, options).await?),
            false => None,
        };
        let mut hisock = propagation(&redis, &namespace, rounds, options).await?;
        let (his50, his99) = (percentile(&mut hisock, 50.0), percentile(&mut hisock, 99.0));
        let (raw50, raw99) = match raw {
            Some(mut raw) => (
                Some(percentile(&mut raw, 50.0)),
                Some(percentile(&mut raw, 99.0)),
            ),
            None => (None, None),
        };
        progress("C1", "tcp", "propagation_p50_us", raw50, his50);
        progress("C1", "tcp", "propagation_p99_us", raw99, his99);
        p50.push(raw50, his50);
        p99.push(raw99, his99);

        let single = match options.raw {
            true => Some(fanout_rate(None, options).await?),
            false => None,
        };
        let three = fanout_rate(Some((&redis, &format!("{namespace}f"))), options).await?;
        progress("C1", "tcp", "fanout_deliveries_per_s", single, three);
        fanout.push(single, three);

        let one_node = match options.raw {
            true => Some(single_node_resumes(options).await?),
            false => None,
        };
        let mut moved = moving_resumes(&redis, &format!("{namespace}r"), options).await?;
        let (his50, his99) = (
            percentile(&mut moved, 50.0) / 1000.0,
            percentile(&mut moved, 99.0) / 1000.0,
        );
        let (raw50, raw99) = match one_node {
            Some(mut one) => (
                Some(percentile(&mut one, 50.0) / 1000.0),
                Some(percentile(&mut one, 99.0) / 1000.0),
            ),
            None => (None, None),
        };
        progress("C1", "tcp", "resume_moved_p50_us", raw50, his50);
        progress("C1", "tcp", "resume_moved_p99_us", raw99, his99);
        moved50.push(raw50, his50);
        moved99.push(raw99, his99);
    }
    Ok(vec![
        p50.row("C1", "tcp", "propagation_p50_us"),
        p99.row("C1", "tcp", "propagation_p99_us"),
        fanout.row("C1", "tcp", "fanout_deliveries_per_s"),
        moved50.row("C1", "tcp", "resume_moved_p50_us"),
        moved99.row("C1", "tcp", "resume_moved_p99_us"),
    ])
}

/// R1 on one node without an adapter: the reference for a resume that
/// moves (ns per round).
async fn single_node_resumes(options: &Options) -> BenchResult<Vec<u64>> {
    let server = HisockServer::start(Server::new(), &[Transport::Tcp]).await?;
    let proxy = FaultProxy::start(server.addr(Transport::Tcp)?).await;
    let latencies =
        resume_latencies(Transport::Tcp, &proxy, options, |_| (&server.server, None)).await;
    server.shutdown().await;
    latencies
}

/// R1 on two nodes, every reconnect sent to the other one (ns per round).
async fn moving_resumes(
    redis: &RedisServer,
    namespace: &str,
    options: &Options,
) -> BenchResult<Vec<u64>> {
    let nodes = [node(redis, namespace).await?, node(redis, namespace).await?];
    let addrs = [
        nodes[0].addr(Transport::Tcp)?,
        nodes[1].addr(Transport::Tcp)?,
    ];
    let proxy = FaultProxy::start(addrs[0]).await;
    // Round n: the client is on node n % 2 and goes to the other.
    let latencies = resume_latencies(Transport::Tcp, &proxy, options, |n| {
        (&nodes[n % 2].server, Some(addrs[(n + 1) % 2]))
    })
    .await;
    for node in nodes {
        node.shutdown().await;
    }
    latencies
}

/// A node of the cluster `namespace`.
async fn node(redis: &RedisServer, namespace: &str) -> BenchResult<HisockServer> {
    let config = RedisConfig::new(redis.url()).namespace(namespace);
    let adapter = RedisAdapter::connect(config).await?;
    HisockServer::start(
        Server::builder().adapter(adapter).build(),
        &[Transport::Tcp],
    )
    .await
}

/// Waits until `server` lists `n` clients (the cluster's directory caught
/// up).
async fn converged(server: &Server, n: usize, options: &Options) -> BenchResult<()> {
    within(options.limit, "C1 directory", async {
        while server.client_count() != n {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

/// Redis `PUBLISH` until the subscriber has it, µs per round.
async fn redis_round_trips(
    redis: &RedisServer,
    rounds: usize,
    options: &Options,
) -> BenchResult<Vec<u64>> {
    let client = redis::Client::open(redis.url())?;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe("c1-raw").await?;
    let mut messages = pubsub.into_on_message();
    let mut conn = client.get_multiplexed_async_connection().await?;
    let payload = [0x5au8; 64];
    within(options.limit, "C1 raw", async {
        let mut latencies = Vec::with_capacity(rounds);
        for round in 0..WARM_UP + rounds {
            let start = Instant::now();
            let _: () = redis::cmd("PUBLISH")
                .arg("c1-raw")
                .arg(&payload[..])
                .query_async(&mut conn)
                .await?;
            messages.next().await.ok_or("subscription ended")?;
            if round >= WARM_UP {
                latencies.push(start.elapsed().as_micros() as u64);
            }
        }
        Ok(latencies)
    })
    .await?
}

/// `to_all().emit` on node A until node B's client has it, µs per round.
async fn propagation(
    redis: &RedisServer,
    namespace: &str,
    rounds: usize,
    options: &Options,
) -> BenchResult<Vec<u64>> {
    let a = node(redis, namespace).await?;
    let b = node(redis, namespace).await?;
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let client = b
        .connect(
            Transport::Tcp,
            ClientOptions::new().on("ping", move |Data(_): Data<u32>| {
                let _ = tx.send(());
                async {}
            }),
        )
        .await?;
    converged(&a.server, 1, options).await?;
    tokio::time::sleep(SETTLE).await;
    let latencies = within(options.limit, "C1 propagation", async {
        let mut latencies = Vec::with_capacity(rounds);
        for round in 0..WARM_UP + rounds {
            let start = Instant::now();
            a.server.to_all().emit("ping", round as u32)?;
            rx.recv().await.ok_or("client gone")?;
            if round >= WARM_UP {
                latencies.push(start.elapsed().as_micros() as u64);
            }
        }
        BenchResult::Ok(latencies)
    })
    .await??;
    close_all(vec![client]).await;
    a.shutdown().await;
    b.shutdown().await;
    Ok(latencies)
}

/// W3's broadcast series from node A: over 3 nodes joined through
/// `cluster`, or on one node without an adapter.
async fn fanout_rate(cluster: Option<(&RedisServer, &str)>, options: &Options) -> BenchResult<f64> {
    let nodes = match cluster {
        Some((redis, namespace)) => vec![
            node(redis, namespace).await?,
            node(redis, namespace).await?,
            node(redis, namespace).await?,
        ],
        None => vec![HisockServer::start(Server::new(), &[Transport::Tcp]).await?],
    };
    let n = options.w3_clients;
    let deliveries = n as u64 * u64::from(options.w3_broadcasts);
    let received = Arc::new(Countdown::new(deliveries));
    let counter = received.clone();
    let client_options = ClientOptions::new().on("news", move |Data(news): Data<News>| {
        std::hint::black_box(&news);
        counter.hit();
        async {}
    });
    let nodes_ref = &nodes;
    let clients: Vec<Client> = within(
        options.limit,
        "C1 connect",
        futures::stream::iter(0..n)
            .map(|i| {
                let options = client_options.clone();
                async move {
                    let node = &nodes_ref[i % nodes_ref.len()];
                    node.connect(Transport::Tcp, options).await
                }
            })
            .buffer_unordered(CONNECT_CONCURRENCY)
            .try_collect(),
    )
    .await??;
    for node in &nodes {
        converged(&node.server, n, options).await?;
    }
    // Let the presence notices of the last joins drain first.
    tokio::time::sleep(SETTLE).await;
    let mut news = News {
        seq: 0,
        body: vec![0x5a; options.w3_payload],
    };
    let start = Instant::now();
    for seq in 0..options.w3_broadcasts {
        news.seq = seq;
        nodes[0].server.to_all().emit("news", &news)?;
    }
    let done = received.wait(options.limit, "C1 fanout").await?;
    close_all(clients).await;
    for node in nodes {
        node.shutdown().await;
    }
    Ok(deliveries as f64 / (done - start).as_secs_f64())
}
