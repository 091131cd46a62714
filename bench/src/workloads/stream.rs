//! W1 stream: one client pipelines events of a small payload; events per
//! second until the server has received them all. Measured twice on hisock:
//! as it is, and with resumption on (the client reconnects and asks for a
//! session: both sides count frames, the server acknowledges them and the
//! client keeps them until then), `events_per_s_resume`.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use hisock::{ClientOptions, ConnectionChange, Data, Reconnect, Server};

use super::{progress, Samples};
use crate::options::Options;
use crate::payload::Blob;
use crate::raw::{self, RawConfig};
use crate::report::Row;
use crate::side::HisockServer;
use crate::util::{within, BenchResult, Countdown};
use crate::Transport;

/// Runs W1 on TCP and WS.
pub async fn run(options: &Options) -> BenchResult<Vec<Row>> {
    let mut rows = Vec::new();
    for &transport in &options.transports {
        let mut samples = Samples::default();
        let mut resume = Samples::default();
        let mut resume_failed = false;
        for _ in 0..options.runs {
            let raw = match options.raw {
                true => Some(raw_rate(transport, options).await?),
                false => None,
            };
            if options.w1_sessions.plain() {
                let hisock = hisock_rate(transport, options, false).await?;
                progress("W1", transport.name(), "events_per_s", raw, hisock);
                samples.push(raw, hisock);
            }
            if resume_failed || !options.w1_sessions.resumable() {
                continue;
            }
            match hisock_rate(transport, options, true).await {
                Ok(resumable) => {
                    progress(
                        "W1",
                        transport.name(),
                        "events_per_s_resume",
                        raw,
                        resumable,
                    );
                    resume.push(raw, resumable);
                }
                Err(err) => {
                    super::resume_failed("W1", transport, &err);
                    resume_failed = true;
                }
            }
        }
        if options.w1_sessions.plain() {
            rows.push(samples.row("W1", transport.name(), "events_per_s"));
        }
        if !resume_failed && options.w1_sessions.resumable() {
            rows.push(resume.row("W1", transport.name(), "events_per_s_resume"));
        }
    }
    Ok(rows)
}

async fn raw_rate(transport: Transport, options: &Options) -> BenchResult<f64> {
    let n = options.w1_events;
    let mut listener = raw::listen(transport, RawConfig::default()).await?;
    let mut client = raw::connect(transport, listener.addr, RawConfig::default()).await?;
    let mut server = within(options.limit, "W1 raw accept", listener.conns.recv())
        .await?
        .ok_or("raw listener stopped")?;
    let received = Arc::new(Countdown::new(n));
    let reader = {
        let received = received.clone();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = server.stream.next().await {
                std::hint::black_box(&frame);
                received.hit();
                if received.left() == 0 {
                    break;
                }
            }
        })
    };
    let frame = Bytes::from(vec![0x5a; options.w1_payload]);
    let start = Instant::now();
    within(options.limit, "W1 raw send", async {
        for _ in 0..n {
            client.sink.feed(frame.clone()).await?;
        }
        client.sink.flush().await
    })
    .await??;
    let done = received.wait(options.limit, "W1 raw").await?;
    reader.abort();
    Ok(n as f64 / (done - start).as_secs_f64())
}

/// hisock's rate; `resume`: with reconnection on, so with a session.
async fn hisock_rate(transport: Transport, options: &Options, resume: bool) -> BenchResult<f64> {
    let n = options.w1_events;
    let received = Arc::new(Countdown::new(n));
    let server = Server::new();
    {
        let received = received.clone();
        server.on("tick", move |Data(blob): Data<Blob>| {
            let received = received.clone();
            async move {
                std::hint::black_box(&blob);
                received.hit();
            }
        });
    }
    let server = HisockServer::start(server, &[transport]).await?;
    // A measurement over a connection that broke would not be W1: the run
    // fails at once, saying why.
    let (broke, mut broken) = tokio::sync::mpsc::unbounded_channel();
    let client_options =
        client_options(resume).on("disconnected", move |change: ConnectionChange| {
            let _ = broke.send(format!("{change:?}"));
            async {}
        });
    let client = server.connect(transport, client_options).await?;
    let mut blob = Blob::new(options.w1_payload);
    let start = Instant::now();
    let run = async {
        within(options.limit, "W1 hisock send", async {
            for seq in 0..n {
                blob.seq = seq;
                client.send("tick", &blob).await?;
            }
            Ok::<_, hisock::Error>(())
        })
        .await??;
        received.wait(options.limit, "W1 hisock").await
    };
    let done = tokio::select! {
        done = run => done?,
        Some(change) = broken.recv() => {
            return Err(format!("W1 hisock: the connection broke: {change}").into());
        }
    };
    client.close().await;
    server.shutdown().await;
    Ok(n as f64 / (done - start).as_secs_f64())
}

/// A client's options: as they come, or with reconnection on (which asks
/// the server for a session on every connection).
pub fn client_options(resume: bool) -> ClientOptions {
    match resume {
        true => ClientOptions::new().reconnect(Reconnect::default()),
        false => ClientOptions::new(),
    }
}
