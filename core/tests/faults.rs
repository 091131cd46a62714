//! Faults around a connection, on the paused clock of `pair/mod.rs`: a
//! connection task that dies without its goodbye, a writer that fails, a
//! client outside a timer-driving runtime, and the exact close reasons a
//! misbehaving peer gets. Each of these broke once during the move of the
//! protocol rules out of the loops (issue 11's review).

mod pair;

use std::time::Duration;

use bytes::Bytes;
use hisock::close::codes;
use hisock::frame::{Frame, FrameKind};
use hisock::{ClientOptions, Error, Server};
use pair::{elapsed, settle, Pair};
use tokio::time::Instant;

const SEC: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn a_connection_task_that_dies_leaves_the_registry_and_fails_its_requests_at_once() {
    let pair = Pair::new(Server::builder().no_keepalive().build());
    let (_raw, task) = pair.raw_joined_with_task("gone").await;
    let id = pair.server.clients()[0].id;
    let server = pair.server.clone();
    let asked = tokio::spawn(async move { server.request::<(), _>(id, "x", &(), 60 * SEC).await });
    settle().await;
    let start = Instant::now();
    task.abort();
    let _ = task.await;
    let answer = tokio::time::timeout(120 * SEC, asked)
        .await
        .expect("answered, not left waiting")
        .expect("no panic");
    assert!(
        matches!(&answer, Err(Error::Closed(r)) if r.code == codes::ABNORMAL),
        "{answer:?}"
    );
    assert_eq!(elapsed(start), Duration::ZERO, "not at the 60 s deadline");
    assert!(pair.server.client(id).is_none(), "it left the registry");
    let later = pair.server.request::<(), _>(id, "x", &(), SEC).await;
    assert!(matches!(later, Err(Error::NoSuchClient(n)) if n == id));
}

#[tokio::test(start_paused = true)]
async fn requests_still_time_out_after_the_writer_failed() {
    let pair = Pair::new(Server::builder().no_keepalive().build());
    let raw = pair.raw_joined("deaf").await;
    let _sink = raw.stop_reading();
    let id = pair.server.clients()[0].id;
    let start = Instant::now();
    let answer = tokio::time::timeout(120 * SEC, pair.server.request::<(), _>(id, "x", &(), SEC))
        .await
        .expect("answered, not left waiting");
    assert!(
        matches!(&answer, Err(Error::Timeout(t)) if *t == SEC),
        "{answer:?}"
    );
    assert_eq!(elapsed(start), SEC);
}

#[tokio::test(start_paused = true)]
async fn requests_time_out_while_the_writer_is_stuck_on_a_peer_that_does_not_read() {
    let pair = Pair::new(Server::builder().no_keepalive().build());
    let _raw = pair.raw_joined("slow").await;
    let id = pair.server.clients()[0].id;
    // More than the in-memory channel holds: the writer waits for room.
    for n in 0..200u32 {
        pair.server.to_client(id).emit("fill", n).expect("queued");
    }
    let start = Instant::now();
    let answer = tokio::time::timeout(120 * SEC, pair.server.request::<(), _>(id, "x", &(), SEC))
        .await
        .expect("answered, not left waiting");
    assert!(matches!(answer, Err(Error::Timeout(_))), "{answer:?}");
    assert_eq!(elapsed(start), SEC);
}

/// A server on a multi-thread runtime of its own (with timers), and the
/// client end of an in-memory connection it serves.
fn server_on_a_runtime_of_its_own() -> (tokio::runtime::Runtime, hisock::transport::Connection) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let server = Server::new();
    let (client_side, server_side) = hisock::memory::pair(pair::MAX_FRAME);
    rt.spawn(async move { server.serve_connection(server_side).await });
    (rt, client_side)
}

/// The default client timers need nothing from the runtime: a client in
/// a tokio runtime without its time driver works.
#[test]
fn a_client_in_a_runtime_without_the_time_driver_connects() {
    let (_server_rt, client_side) = server_on_a_runtime_of_its_own();
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime without timers");
    client_rt.block_on(async {
        let (client, driver) = hisock::Client::handshake(client_side, ClientOptions::new())
            .await
            .expect("welcomed");
        tokio::spawn(driver);
        let nothing = client.recv_raw("nothing", Duration::from_millis(50)).await;
        assert!(matches!(nothing, Err(Error::Timeout(_))));
    });
}

/// Blocking on a `recv` from a runtime's own thread (a sync callback): the
/// default timers fire although that runtime cannot run.
#[test]
fn a_blocking_recv_on_a_runtime_thread_times_out() {
    let (rt, client_side) = server_on_a_runtime_of_its_own();
    let (client, driver) = rt
        .block_on(hisock::Client::handshake(client_side, ClientOptions::new()))
        .expect("welcomed");
    rt.spawn(driver);
    let blocked = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let got = blocked.block_on(async {
        futures::executor::block_on(client.recv_raw("nothing", Duration::from_millis(100)))
    });
    assert!(matches!(got, Err(Error::Timeout(_))), "{got:?}");
}

#[tokio::test(start_paused = true)]
async fn a_misbehaving_peer_gets_the_documented_code_and_reason() {
    let pair = Pair::new(Server::builder().keepalive(SEC, 3 * SEC).build());
    let event = FrameKind::Event.number();
    let cases: [(&[u8], u16, &str); 4] = [
        (&[event], codes::PROTOCOL_ERROR, "truncated frame"),
        (
            &[event, 1, 0xff, 0, 1, 0xc0],
            codes::PROTOCOL_ERROR,
            "invalid UTF-8",
        ),
        (&[0xfe], codes::UNKNOWN_FRAME_KIND, "unknown frame kind 254"),
        (
            &Frame::Ping { nonce: 1 }.encode()[..1],
            codes::PROTOCOL_ERROR,
            "truncated frame",
        ),
    ];
    for (bytes, code, reason) in cases {
        let mut raw = pair.raw_joined("mallory").await;
        raw.send_bytes(Bytes::copy_from_slice(bytes)).await;
        assert_eq!(
            raw.closed_with().await,
            (code, reason.to_owned()),
            "{bytes:?}"
        );
    }
    let mut raw = pair.raw_joined("mallory").await;
    let stranger = Frame::ClientJoined(hisock::frame::WireClient {
        id: 1,
        name: None,
        group: None,
        addr: None,
        transport: 0,
    });
    let kind = stranger.kind_name();
    raw.send(stranger).await;
    assert_eq!(
        raw.closed_with().await,
        (
            codes::PROTOCOL_ERROR,
            format!("a client may not send a {kind} frame here")
        )
    );
    // A bad hello is refused with what was wrong with it.
    let mut raw = pair.raw();
    raw.send_bytes(Bytes::from_static(&[0, 1])).await;
    assert_eq!(
        raw.closed_with().await,
        (
            codes::PROTOCOL_ERROR,
            "bad hello: truncated frame".to_owned()
        )
    );
    // And a silent one hears how long it was silent.
    let mut raw = pair.raw_joined("mute").await;
    assert_eq!(
        raw.closed_with().await,
        (codes::KEEPALIVE_TIMEOUT, "silent for 3s".to_owned())
    );
}

/// Lines a test's subscriber wrote, for counting them.
#[derive(Clone, Default)]
struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn count(&self, needle: &str) -> usize {
        let text = self.0.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&text)
            .lines()
            .filter(|line| line.contains(needle))
            .count()
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_client_is_warned_about_once_however_many_frames_do_not_fit() {
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    let pair = Pair::new(Server::builder().outbox_limit(4096).no_keepalive().build());
    let _deaf = pair.raw_joined("deaf").await;
    let id = pair.server.clients()[0].id;
    let blob = vec![7u8; 512];
    let mut refused = 0;
    for _ in 0..300 {
        if pair.server.to_client(id).emit("blob", &blob).is_err() {
            refused += 1;
        }
    }
    settle().await;
    assert!(refused > 10, "the queue overflowed many times ({refused})");
    assert_eq!(lines.count("outgoing queue full"), 1);
}
