//! W2 rpc: sequential request/reply round trips with a small payload;
//! p50 and p99 latency in microseconds; on hisock also with resumption on
//! (`p50_us_resume`, `p99_us_resume`: see W1).

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use hisock::{Data, Reply, Server};

use super::{progress, Samples};
use crate::options::Options;
use crate::payload::Blob;
use crate::raw::{self, RawConfig};
use crate::report::Row;
use crate::side::HisockServer;
use crate::stats::percentile;
use crate::util::{within, AbortOnDrop, BenchResult};
use crate::Transport;

/// Round trips before the measured ones (connections and caches warm up).
const WARMUP: usize = 200;

/// Runs W2 on TCP and WS.
pub async fn run(options: &Options) -> BenchResult<Vec<Row>> {
    let mut rows = Vec::new();
    for &transport in &options.transports {
        let mut p50 = Samples::default();
        let mut p99 = Samples::default();
        let mut resume50 = Samples::default();
        let mut resume99 = Samples::default();
        let mut resume_failed = false;
        for _ in 0..options.runs {
            let mut raw = match options.raw {
                true => raw_latencies(transport, options).await?,
                false => Vec::new(),
            };
            let mut hisock = hisock_latencies(transport, options, false).await?;
            let (raw50, raw99) = match raw.is_empty() {
                true => (None, None),
                false => (
                    Some(percentile_us(&mut raw, 50.0)),
                    Some(percentile_us(&mut raw, 99.0)),
                ),
            };
            let (his50, his99) = (
                percentile_us(&mut hisock, 50.0),
                percentile_us(&mut hisock, 99.0),
            );
            progress("W2", transport.name(), "p50_us", raw50, his50);
            progress("W2", transport.name(), "p99_us", raw99, his99);
            p50.push(raw50, his50);
            p99.push(raw99, his99);
            if resume_failed {
                continue;
            }
            match hisock_latencies(transport, options, true).await {
                Ok(mut resumable) => {
                    let (res50, res99) = (
                        percentile_us(&mut resumable, 50.0),
                        percentile_us(&mut resumable, 99.0),
                    );
                    progress("W2", transport.name(), "p50_us_resume", raw50, res50);
                    progress("W2", transport.name(), "p99_us_resume", raw99, res99);
                    resume50.push(raw50, res50);
                    resume99.push(raw99, res99);
                }
                Err(err) => {
                    super::resume_failed("W2", transport, &err);
                    resume_failed = true;
                }
            }
        }
        rows.push(p50.row("W2", transport.name(), "p50_us"));
        rows.push(p99.row("W2", transport.name(), "p99_us"));
        if !resume_failed {
            rows.push(resume50.row("W2", transport.name(), "p50_us_resume"));
            rows.push(resume99.row("W2", transport.name(), "p99_us_resume"));
        }
    }
    Ok(rows)
}

fn nanos(elapsed: Duration) -> u64 {
    elapsed.as_nanos() as u64
}

/// The `p`-th percentile of latencies in nanoseconds, in microseconds.
fn percentile_us(samples: &mut [u64], p: f64) -> f64 {
    percentile(samples, p) / 1000.0
}

async fn raw_latencies(transport: Transport, options: &Options) -> BenchResult<Vec<u64>> {
    let mut listener = raw::listen(transport, RawConfig::default()).await?;
    let mut client = raw::connect(transport, listener.addr, RawConfig::default()).await?;
    let mut server = within(options.limit, "W2 raw accept", listener.conns.recv())
        .await?
        .ok_or("raw listener stopped")?;
    let _echo = AbortOnDrop(tokio::spawn(async move {
        while let Some(Ok(frame)) = server.stream.next().await {
            if server.sink.send(frame).await.is_err() {
                break;
            }
        }
    }));
    let frame = Bytes::from(vec![0x5a; 64]);
    let total = options.w2_round_trips + WARMUP;
    let latencies = within(options.limit, "W2 raw", async {
        let mut latencies = Vec::with_capacity(total);
        for _ in 0..total {
            let start = Instant::now();
            client.sink.send(frame.clone()).await?;
            let reply = client.stream.next().await.ok_or("raw echo ended")??;
            std::hint::black_box(&reply);
            latencies.push(nanos(start.elapsed()));
        }
        Ok::<_, crate::util::BenchError>(latencies)
    })
    .await??;
    Ok(latencies[WARMUP..].to_vec())
}

/// hisock's latencies; `resume`: with reconnection on, so with a session.
async fn hisock_latencies(
    transport: Transport,
    options: &Options,
    resume: bool,
) -> BenchResult<Vec<u64>> {
    let server = Server::new();
    server.on("echo", |Data(blob): Data<Blob>| async move { Reply(blob) });
    let server = HisockServer::start(server, &[transport]).await?;
    let client = server
        .connect(transport, super::stream::client_options(resume))
        .await?;
    let mut blob = Blob::new(64);
    let total = options.w2_round_trips + WARMUP;
    let latencies = within(options.limit, "W2 hisock", async {
        let mut latencies = Vec::with_capacity(total);
        for seq in 0..total as u64 {
            blob.seq = seq;
            let start = Instant::now();
            let back: Blob = client
                .request("echo", &blob, Duration::from_secs(10))
                .await?;
            latencies.push(nanos(start.elapsed()));
            if back.seq != seq {
                return Err(format!("W2 hisock: reply {} to request {seq}", back.seq).into());
            }
        }
        Ok::<_, crate::util::BenchError>(latencies)
    })
    .await??;
    client.close().await;
    server.shutdown().await;
    Ok(latencies[WARMUP..].to_vec())
}
