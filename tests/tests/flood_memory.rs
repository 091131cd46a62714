//! Memory stays bounded against every flood a hostile peer can send while
//! it never reads: the server's peak memory grows by at most
//! [`BOUND_IN_LIMITS`] × `outbox_limit` per attacking connection, the
//! attacker is dropped, and a well-behaved client is served all along.
//!
//! One test in its own binary: it reads this process's peak resident set
//! (`VmHWM`, reset through `/proc/self/clear_refs` before each flood), which
//! other tests running beside it would disturb. The floods, each of which
//! grew the server without limit (or far past the limit) before its fix:
//!
//! - hisock `Ping`s, answered by `Pong`s of 5 bytes: when only frame bytes
//!   counted, 4 MiB of them cost 68 MiB;
//! - `StreamStart`s for a command with no handler, answered by
//!   `StreamCancel`s that did not count against the limit at all;
//! - WebSocket pings, answered by tungstenite's pongs in a write buffer
//!   with no cap.

use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use futures::SinkExt;
use hisock::frame::Frame;
use hisock::{ClientOptions, Data, Server};
use hisock_test_support::raw::handshake::hello;
use hisock_test_support::{Transport, WAIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const OUTBOX_LIMIT: usize = 4 * 1024 * 1024;

/// The documented bound (README, "Limits"): a connection's queue holds at
/// most 1.25 × `outbox_limit` of counted memory; the rest is slack for
/// the allocator and the transports' buffers.
const BOUND_IN_LIMITS: usize = 3;

/// How much each flood sends at most: enough to cost several times the
/// bound if nothing stopped it.
const FLOOD_BYTES: usize = 48 * 1024 * 1024;

fn proc_status_kib(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

/// Resets the peak resident set to the current one; returns it, in bytes.
fn reset_peak() -> usize {
    std::fs::write("/proc/self/clear_refs", "5").expect("write /proc/self/clear_refs");
    proc_status_kib("VmRSS:") * 1024
}

fn peak() -> usize {
    proc_status_kib("VmHWM:") * 1024
}

#[derive(Debug, Clone, Copy)]
enum Flood {
    /// hisock `Ping` frames: each answered by a `Pong`.
    HisockPings(Transport),
    /// `StreamStart` for a command with no handler: each answered by a
    /// `StreamCancel`.
    UnhandledStreams(Transport),
    /// WebSocket pings: each answered by tungstenite with a pong.
    WsPings,
}

impl Flood {
    fn transport(self) -> Transport {
        match self {
            Flood::HisockPings(t) | Flood::UnhandledStreams(t) => t,
            Flood::WsPings => Transport::Ws,
        }
    }

    /// The `n`th frame of the flood (not for `WsPings`).
    fn frame(self, n: u64) -> Bytes {
        match self {
            Flood::HisockPings(_) => Frame::Ping { nonce: n }.encode(),
            Flood::UnhandledStreams(_) => Frame::StreamStart {
                stream_id: n * 2 + 1,
                command: "nobody-handles-this",
                total_len: None,
            }
            .encode(),
            Flood::WsPings => unreachable!("WebSocket pings are not hisock frames"),
        }
    }
}

/// A peer that joins, then sends the flood and never reads. Sending stops
/// after [`FLOOD_BYTES`], or when the server stops reading (a write that
/// does not complete in a second), or when the server hangs up.
/// Returns the bytes sent and the connection, kept open (and unread) by the
/// caller until the server drops it.
async fn attack(flood: Flood, addr: std::net::SocketAddr) -> (usize, Box<dyn std::any::Any>) {
    let mut sent = 0;
    let stalled = Duration::from_secs(1);
    match flood.transport() {
        Transport::Tcp => {
            let mut socket = TcpStream::connect(addr).await.expect("connect");
            let hello = hello(Some("attacker")).encode();
            socket.write_all(&prefixed(&hello)).await.expect("hello");
            let mut welcome = [0u8; 256];
            let _ = socket.read(&mut welcome).await.expect("welcome");
            let mut n = 0;
            while sent < FLOOD_BYTES {
                let mut chunk = BytesMut::with_capacity(64 * 1024);
                while chunk.len() < 60 * 1024 {
                    chunk.put_slice(&prefixed(&flood.frame(n)));
                    n += 1;
                }
                match tokio::time::timeout(stalled, socket.write_all(&chunk)).await {
                    Ok(Ok(())) => sent += chunk.len(),
                    _ => break,
                }
            }
            (sent, Box::new(socket))
        }
        Transport::Ws => {
            let socket = TcpStream::connect(addr).await.expect("connect");
            let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), socket)
                .await
                .expect("WebSocket upgrade");
            ws.send(Message::Binary(hello(Some("attacker")).encode()))
                .await
                .expect("hello");
            let mut n = 0;
            'flood: while sent < FLOOD_BYTES {
                for _ in 0..512 {
                    let message = match flood {
                        Flood::WsPings => Message::Ping(Bytes::from_static(&[7; 125])),
                        other => Message::Binary(other.frame(n)),
                    };
                    n += 1;
                    sent += message.len();
                    if !matches!(
                        tokio::time::timeout(stalled, ws.feed(message)).await,
                        Ok(Ok(()))
                    ) {
                        break 'flood;
                    }
                }
                if !matches!(tokio::time::timeout(stalled, ws.flush()).await, Ok(Ok(()))) {
                    break;
                }
            }
            (sent, Box::new(ws))
        }
        // The floods test the queues behind the transports, which TLS does
        // not change.
        other => unreachable!("no flood over {other:?}"),
    }
}

fn prefixed(frame: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + frame.len());
    out.extend_from_slice(&(frame.len() as u32).to_be_bytes());
    out.extend_from_slice(frame);
    out
}

#[test]
fn every_flood_stays_within_a_few_outbox_limits_and_the_attacker_is_dropped() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let floods = [
            Flood::HisockPings(Transport::Tcp),
            Flood::HisockPings(Transport::Ws),
            Flood::UnhandledStreams(Transport::Tcp),
            Flood::UnhandledStreams(Transport::Ws),
            Flood::WsPings,
        ];
        let mut report = Vec::new();
        for flood in floods {
            let keepalive = match flood {
                // WebSocket pings are not hisock frames: the keepalive is
                // what drops a peer that sends only those.
                Flood::WsPings => (Duration::from_millis(500), Duration::from_secs(2)),
                // The others must be dropped by the queue's bound, not by a
                // keepalive ping that finds the queue full.
                _ => (Duration::from_secs(60), Duration::from_secs(60)),
            };
            let server = Server::builder()
                .outbox_limit(OUTBOX_LIMIT)
                .flush_timeout(Duration::from_millis(500))
                .keepalive(keepalive.0, keepalive.1)
                .build();
            server.on("echo", |Data(s): Data<String>| async move { s });
            let addr = flood.transport().listen(&server).await;
            let good = flood
                .transport()
                .connect(addr, ClientOptions::new().name("good"))
                .await
                .expect("the good client connects");

            let before = reset_peak();
            let (sent, attacker) = attack(flood, addr).await;
            // The attacker is dropped: only the good client is left.
            let deadline = Instant::now() + WAIT;
            while server.client_count() > 1 {
                assert!(
                    Instant::now() < deadline,
                    "{flood:?}: the attacker is still connected after {sent} bytes"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let grew = peak().saturating_sub(before);
            drop(attacker);
            report.push(format!(
                "{flood:?}: sent {} KiB, peak grew {} KiB",
                sent / 1024,
                grew / 1024
            ));

            let echo: String = good
                .request("echo", "still here", WAIT)
                .await
                .expect("the good client is served");
            assert_eq!(echo, "still here");
            good.close().await;
            let _ = server.shutdown().await;
            assert!(
                grew <= BOUND_IN_LIMITS * OUTBOX_LIMIT,
                "{flood:?}: the server's peak memory grew {grew} bytes, over {BOUND_IN_LIMITS} × \
                 the {OUTBOX_LIMIT}-byte outbox limit\n{}",
                report.join("\n")
            );
        }
        eprintln!("{}", report.join("\n"));
    });
}
