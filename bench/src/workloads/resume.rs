//! R1 resume: how long after a cut delivery goes on. One client, connected
//! through hisock-test-support's `FaultProxy`, has its connection cut;
//! the figure is the time from the cut to the first event the server sent
//! after it reaching the client's handler: the client noticing the end,
//! reconnecting (backoff set to zero), resuming its session and the server
//! replaying what the client missed. p50 and p99 in microseconds, over
//! `r1_cuts` cuts per run.
//!
//! Raw: the same cut of a raw connection; the client connects again at
//! once and the figure ends with the first frame the server sends on the
//! new connection. That is the floor: a new connection of the bare
//! transport, without a handshake or a session.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use hisock::{ClientOptions, ConnectionChange, Data, Reconnect, Server};
use hisock_test_support::FaultProxy;
use tokio::sync::Notify;

use super::{progress, Samples};
use crate::options::Options;
use crate::raw::{self, RawConfig};
use crate::report::Row;
use crate::side::HisockServer;
use crate::stats::percentile;
use crate::util::{within, AbortOnDrop, BenchResult};
use crate::Transport;

/// Cuts before the measured ones.
const WARMUP: usize = 5;

/// While an event sent right after the cut has not arrived, the server
/// sends another this often (to the client's current id: a server without
/// sessions would have lost the first with the old connection).
const RESEND: Duration = Duration::from_millis(2);

/// Runs R1 on TCP and WS.
pub async fn run(options: &Options) -> BenchResult<Vec<Row>> {
    let mut rows = Vec::new();
    for transport in options.plain_transports() {
        let mut p50 = Samples::default();
        let mut p99 = Samples::default();
        for _ in 0..options.runs {
            let mut raw = match options.raw {
                true => raw_latencies(transport, options).await?,
                false => Vec::new(),
            };
            let mut hisock = hisock_latencies(transport, options).await?;
            let (raw50, raw99) = match raw.is_empty() {
                true => (None, None),
                false => (
                    Some(percentile(&mut raw, 50.0) / 1000.0),
                    Some(percentile(&mut raw, 99.0) / 1000.0),
                ),
            };
            let his50 = percentile(&mut hisock, 50.0) / 1000.0;
            let his99 = percentile(&mut hisock, 99.0) / 1000.0;
            progress("R1", transport.name(), "resume_p50_us", raw50, his50);
            progress("R1", transport.name(), "resume_p99_us", raw99, his99);
            p50.push(raw50, his50);
            p99.push(raw99, his99);
        }
        rows.push(p50.row("R1", transport.name(), "resume_p50_us"));
        rows.push(p99.row("R1", transport.name(), "resume_p99_us"));
    }
    Ok(rows)
}

fn nanos(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
}

/// When the client's handler first saw each round's event.
#[derive(Default)]
struct Arrivals {
    first: Mutex<Vec<Option<Instant>>>,
    arrived: Notify,
}

impl Arrivals {
    fn see(&self, round: usize) {
        let now = Instant::now();
        let mut first = self.first.lock().unwrap_or_else(|p| p.into_inner());
        if first.len() <= round {
            first.resize(round + 1, None);
        }
        if first[round].is_none() {
            first[round] = Some(now);
            self.arrived.notify_one();
        }
    }

    fn of(&self, round: usize) -> Option<Instant> {
        let first = self.first.lock().unwrap_or_else(|p| p.into_inner());
        first.get(round).copied().flatten()
    }
}

async fn hisock_latencies(transport: Transport, options: &Options) -> BenchResult<Vec<u64>> {
    let server = HisockServer::start(Server::new(), &[transport]).await?;
    let proxy = FaultProxy::start(server.addr(transport)?).await;
    let latencies = resume_latencies(transport, &proxy, options, |_| (&server.server, None)).await;
    server.shutdown().await;
    latencies
}

/// R1's rounds, for one node or several: a client that reconnects at once
/// through `proxy`; each round cuts its connection, and `round(n)` says
/// whose application sends the round's event (the node the client was
/// on: it queues the event in the session) and, for a cluster, where the
/// proxy sends the next connection. The time from the cut to the
/// event reaching the client's handler, in ns, per measured round.
pub(super) async fn resume_latencies<'a>(
    transport: Transport,
    proxy: &FaultProxy,
    options: &Options,
    round: impl Fn(usize) -> (&'a Server, Option<std::net::SocketAddr>),
) -> BenchResult<Vec<u64>> {
    let arrivals = Arc::new(Arrivals::default());
    let reconnected = Arc::new(Notify::new());
    // Reconnects that did not resume: then the figure is a new session's,
    // not a resume's, and the run says so.
    let fresh = Arc::new(AtomicUsize::new(0));
    let options_for_client = {
        let (arrivals, reconnected) = (arrivals.clone(), reconnected.clone());
        let fresh = fresh.clone();
        ClientOptions::new()
            .name("r1")
            .reconnect(
                Reconnect::new()
                    .initial_delay(Duration::ZERO)
                    .max_delay(Duration::ZERO),
            )
            .on("tick", move |Data(round): Data<usize>| {
                arrivals.see(round);
                async {}
            })
            .on("reconnected", move |change: ConnectionChange| {
                if matches!(change, ConnectionChange::Reconnected { resumed: false, .. }) {
                    fresh.fetch_add(1, Ordering::Relaxed);
                }
                reconnected.notify_one();
                async {}
            })
    };
    let client = crate::side::connect(transport, proxy.addr, options_for_client).await?;
    let rounds = WARMUP + options.r1_cuts;
    let mut latencies = Vec::with_capacity(options.r1_cuts);
    for n in 0..rounds {
        let (server, next) = round(n);
        let id = server
            .client_by_name("r1")
            .ok_or("R1: the client is not on the server")?
            .id;
        if let Some(next) = next {
            proxy.set_target(next);
        }
        let cut_at = Instant::now();
        proxy.cut_all();
        // Right after the cut: the server may not know yet that the
        // connection is gone.
        let _ = server.to_client(id).emit("tick", n);
        let arrived = within(options.limit, "R1 hisock delivery after a cut", async {
            loop {
                if let Some(at) = arrivals.of(n) {
                    return at;
                }
                let _ = tokio::time::timeout(RESEND, arrivals.arrived.notified()).await;
                if arrivals.of(n).is_none() {
                    if let Some(now) = server.client_by_name("r1") {
                        let _ = server.to_client(now.id).emit("tick", n);
                    }
                }
            }
        })
        .await?;
        within(
            options.limit,
            "R1 hisock reconnected",
            reconnected.notified(),
        )
        .await?;
        if n >= WARMUP {
            latencies.push(nanos(arrived - cut_at));
        }
    }
    let fresh = fresh.load(Ordering::Relaxed);
    if fresh > 0 {
        eprintln!(
            "  R1 {transport}: {fresh} of {rounds} reconnects got a new session, not the old one"
        );
    }
    client.close().await;
    Ok(latencies)
}

async fn raw_latencies(transport: Transport, options: &Options) -> BenchResult<Vec<u64>> {
    let mut listener = raw::listen(transport, RawConfig::default()).await?;
    let proxy = FaultProxy::start(listener.addr).await;
    // Every new connection gets one frame at once, then is held open.
    let _greeter = AbortOnDrop(tokio::spawn(async move {
        while let Some(mut conn) = listener.conns.recv().await {
            tokio::spawn(async move {
                if conn.sink.send(Bytes::from_static(b"tick")).await.is_ok() {
                    while let Some(Ok(_)) = conn.stream.next().await {}
                }
            });
        }
    }));
    let connect_and_read = || async {
        let mut conn = raw::connect(transport, proxy.addr, RawConfig::default()).await?;
        conn.stream.next().await.ok_or("raw R1: no greeting")??;
        Ok::<_, crate::util::BenchError>(conn)
    };
    let mut conn = within(options.limit, "R1 raw connect", connect_and_read()).await??;
    let rounds = WARMUP + options.r1_cuts;
    let mut latencies = Vec::with_capacity(options.r1_cuts);
    for round in 0..rounds {
        let cut_at = Instant::now();
        proxy.cut_all();
        within(options.limit, "R1 raw end after a cut", async {
            while let Some(Ok(_)) = conn.stream.next().await {}
        })
        .await?;
        conn = within(options.limit, "R1 raw reconnect", connect_and_read()).await??;
        if round >= WARMUP {
            latencies.push(nanos(cut_at.elapsed()));
        }
    }
    Ok(latencies)
}
