//! L1 large payload: one large payload from client to server on the same
//! connection while the same client sends a small event every millisecond.
//! Figures: MiB/s of the large transfer until the server application holds
//! the whole payload, and the p99 one-way latency of the small events sent
//! during it. Raw sends the payload as one frame.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use hisock::{ClientOptions, Data, IncomingStream, Server, ServerBuilder, StreamOptions};
use tokio::sync::mpsc;

use super::{progress, Samples};
use crate::options::Options;
use crate::payload::Stamp;
use crate::raw::{self, RawConfig};
use crate::report::Row;
use crate::side::HisockServer;
use crate::stats::percentile;
use crate::util::{within, AbortOnDrop, BenchResult, Countdown};
use crate::Transport;

/// How often the small events go out.
const TICK: Duration = Duration::from_millis(1);

/// One run's figures.
struct Figures {
    mib_per_s: f64,
    small_p99_us: f64,
}

/// Runs L1 on TCP and WS.
pub async fn run(options: &Options) -> BenchResult<Vec<Row>> {
    let mut rows = Vec::new();
    // TLS is measured by W1, W2 and M1 (a 256 MiB payload through rustls
    // measures its cipher).
    for transport in options.plain_transports() {
        let mut rate = Samples::default();
        let mut p99 = Samples::default();
        for _ in 0..options.runs {
            let raw = match options.raw {
                true => Some(raw_run(transport, options).await?),
                false => None,
            };
            let hisock = hisock_run(transport, options).await?;
            progress(
                "L1",
                transport.name(),
                "mib_per_s",
                raw.as_ref().map(|r| r.mib_per_s),
                hisock.mib_per_s,
            );
            progress(
                "L1",
                transport.name(),
                "small_p99_us",
                raw.as_ref().map(|r| r.small_p99_us),
                hisock.small_p99_us,
            );
            rate.push(raw.as_ref().map(|r| r.mib_per_s), hisock.mib_per_s);
            p99.push(raw.as_ref().map(|r| r.small_p99_us), hisock.small_p99_us);
        }
        rows.push(rate.row("L1", transport.name(), "mib_per_s"));
        rows.push(p99.row("L1", transport.name(), "small_p99_us"));
    }
    Ok(rows)
}

/// One-way latencies of small events, as (sent, latency) in nanoseconds
/// since the run's epoch.
#[derive(Default)]
struct Latencies(Mutex<Vec<(u64, u64)>>);

impl Latencies {
    fn record(&self, epoch: Instant, sent_ns: u64) {
        let now = epoch.elapsed().as_nanos() as u64;
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((sent_ns, now.saturating_sub(sent_ns)));
    }

    /// p99 in µs of the events sent between `from` and `to`.
    fn p99_us(&self, epoch: Instant, from: Instant, to: Instant) -> f64 {
        let (from, to) = (
            (from - epoch).as_nanos() as u64,
            (to - epoch).as_nanos() as u64,
        );
        let mut during: Vec<u64> = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(sent, _)| (from..=to).contains(sent))
            .map(|(_, latency)| *latency)
            .collect();
        percentile(&mut during, 99.0) / 1000.0
    }
}

fn figures(options: &Options, start: Instant, done: Instant, p99_us: f64) -> Figures {
    let mib = options.l1_bytes as f64 / (1024.0 * 1024.0);
    Figures {
        mib_per_s: mib / (done - start).as_secs_f64(),
        small_p99_us: p99_us,
    }
}

async fn raw_run(transport: Transport, options: &Options) -> BenchResult<Figures> {
    let config = RawConfig {
        max_frame_len: options.l1_bytes + 1024,
    };
    let mut listener = raw::listen(transport, config).await?;
    let client = raw::connect(transport, listener.addr, config).await?;
    let mut server = within(options.limit, "L1 raw accept", listener.conns.recv())
        .await?
        .ok_or("raw listener stopped")?;
    let epoch = Instant::now();
    let latencies = Arc::new(Latencies::default());
    let whole = Arc::new(Countdown::new(1));
    let big = options.l1_bytes;
    let _reader = {
        let (latencies, whole) = (latencies.clone(), whole.clone());
        AbortOnDrop(tokio::spawn(async move {
            while let Some(Ok(frame)) = server.stream.next().await {
                if frame.len() == big {
                    whole.hit();
                } else if let Ok(sent) = <[u8; 8]>::try_from(&frame[..]) {
                    latencies.record(epoch, u64::from_be_bytes(sent));
                }
            }
        }))
    };
    // One writer owns the connection; the payload and the small events
    // queue up for it in the order they were sent.
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    let _writer = {
        let mut sink = client.sink;
        AbortOnDrop(tokio::spawn(async move {
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
        }))
    };
    let payload = Bytes::from(vec![0xa5; big]);
    let start = Instant::now();
    tx.send(payload).map_err(|_| "L1 raw writer stopped")?;
    let ticker = {
        let tx = tx.clone();
        AbortOnDrop(tokio::spawn(async move {
            let mut interval = tokio::time::interval(TICK);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let sent = epoch.elapsed().as_nanos() as u64;
                if tx
                    .send(Bytes::copy_from_slice(&sent.to_be_bytes()))
                    .is_err()
                {
                    return;
                }
            }
        }))
    };
    let done = whole.wait(options.limit, "L1 raw").await?;
    drop(ticker);
    // The events sent during the transfer arrive after it (head-of-line
    // blocking): give them a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(figures(
        options,
        start,
        done,
        latencies.p99_us(epoch, start, done),
    ))
}

async fn hisock_run(transport: Transport, options: &Options) -> BenchResult<Figures> {
    let epoch = Instant::now();
    let latencies = Arc::new(Latencies::default());
    let whole = Arc::new(Countdown::new(1));
    let server: Server = ServerBuilder::default()
        .max_stream_len(options.l1_bytes as u64 + 1024)
        .build();
    {
        let whole = whole.clone();
        server.on("upload", move |body: IncomingStream| {
            let whole = whole.clone();
            async move {
                let payload = body.into_bytes().await?;
                whole.hit();
                Ok::<_, hisock::Error>(payload.len() as u64)
            }
        });
    }
    {
        let latencies = latencies.clone();
        server.on("tick", move |Data(stamp): Data<Stamp>| {
            let latencies = latencies.clone();
            async move { latencies.record(epoch, stamp.sent_ns) }
        });
    }
    let server = HisockServer::start(server, &[transport]).await?;
    let client = server.connect(transport, ClientOptions::new()).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = {
        let (client, stop) = (client.clone(), stop.clone());
        AbortOnDrop(tokio::spawn(async move {
            let mut interval = tokio::time::interval(TICK);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !stop.load(Ordering::Relaxed) {
                interval.tick().await;
                let stamp = Stamp {
                    sent_ns: epoch.elapsed().as_nanos() as u64,
                };
                if client.send("tick", &stamp).await.is_err() {
                    return;
                }
            }
        }))
    };
    let payload = Bytes::from(vec![0xa5; options.l1_bytes]);
    let start = Instant::now();
    within(
        options.limit,
        "L1 hisock upload",
        client.send_bytes_streamed("upload", payload, StreamOptions::new()),
    )
    .await??;
    let done = whole.wait(options.limit, "L1 hisock").await?;
    stop.store(true, Ordering::Relaxed);
    drop(ticker);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let p99 = latencies.p99_us(epoch, start, done);
    client.close().await;
    server.shutdown().await;
    Ok(figures(options, start, done, p99))
}
