//! A reconnecting client on the paused clock of the two-endpoint harness
//! (tests/pair): the backoff's delays, attempt by attempt, taken on a
//! clock the test controls, so "waited at least its delay" is exact, not a
//! timing on a noisy machine.

mod pair;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hisock::codes;
use hisock::frame::{Frame, PROTOCOL_VERSION};
use hisock::{
    Client, ClientOptions, ConnectionChange, ConnectionState, Connector, Error, Reconnect, Server,
};
use pair::{Pair, MAX_FRAME};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A connector over the in-memory transport to `server`: the first
/// `failures` attempts after the first connection fail (as if nothing
/// listened), and the server's task of the newest connection is kept so
/// the test can cut it.
fn connector(server: &Server, failures: usize) -> (Connector, Arc<Mutex<Option<JoinHandle<()>>>>) {
    let current = Arc::new(Mutex::new(None::<JoinHandle<()>>));
    let opened = Arc::new(AtomicUsize::new(0));
    let (server, slot) = (server.clone(), current.clone());
    let connector: Connector = Arc::new(move || {
        let (server, slot, opened) = (server.clone(), slot.clone(), opened.clone());
        Box::pin(async move {
            let n = opened.fetch_add(1, Ordering::SeqCst);
            if n > 0 && n <= failures {
                return Err(Error::Timeout(Duration::from_secs(1)));
            }
            let (client_side, server_side) = hisock::memory::pair(MAX_FRAME);
            let task = tokio::spawn(async move { server.serve_connection(server_side).await });
            *slot.lock().expect("slot") = Some(task);
            Ok(client_side)
        })
    });
    (connector, current)
}

/// Connects a client with `policy` through `connector`, recording its
/// connection changes with the paused clock's time of each.
async fn connect(
    connector: Connector,
    policy: Reconnect,
) -> (Client, Arc<Mutex<Vec<(Instant, ConnectionChange)>>>) {
    let changes = Arc::new(Mutex::new(Vec::new()));
    let mut options = ClientOptions::new()
        .name("ada")
        .reconnect(policy)
        .tokio_timers();
    for event in ["disconnected", "reconnecting", "reconnected"] {
        let seen = changes.clone();
        options = options.on(event, move |change: ConnectionChange| {
            seen.lock().expect("changes").push((Instant::now(), change));
            async {}
        });
    }
    let (client, driver) = Client::connect_with(connector, options)
        .await
        .expect("the first connection");
    tokio::spawn(driver);
    (client, changes)
}

use pair::settle;

fn cut(current: &Mutex<Option<JoinHandle<()>>>) {
    if let Some(task) = current.lock().expect("slot").take() {
        task.abort();
    }
}

#[tokio::test(start_paused = true)]
async fn each_attempt_waits_a_jittered_delay_under_its_doubling_ceiling() {
    let server = Server::new();
    let (connector, current) = connector(&server, 4);
    let policy = Reconnect::new()
        .initial_delay(Duration::from_millis(100))
        .max_delay(Duration::from_millis(500));
    let (client, changes) = connect(connector, policy).await;

    cut(&current);
    // Long enough for five attempts at the largest delays.
    tokio::time::sleep(Duration::from_secs(5)).await;
    settle().await;

    let changes = changes.lock().expect("changes").clone();
    let (cut_at, first) = &changes[0];
    assert!(
        matches!(
            first,
            ConnectionChange::Disconnected {
                will_retry: true,
                ..
            }
        ),
        "{first:?}"
    );
    let mut attempts = Vec::new();
    let mut since = *cut_at;
    let mut previous_delay = Duration::ZERO;
    for (at, change) in &changes[1..] {
        match change {
            ConnectionChange::Reconnecting { attempt, delay } => {
                // The wait before this attempt started once the previous
                // attempt failed: at least the previous delay after it.
                assert!(*at >= since + previous_delay, "attempt {attempt} too early");
                let ceiling = Duration::from_millis(100 * (1 << (attempt - 1)))
                    .min(Duration::from_millis(500));
                assert!(
                    *delay <= ceiling,
                    "attempt {attempt}: {delay:?} over {ceiling:?}"
                );
                attempts.push(*attempt);
                since = *at;
                previous_delay = *delay;
            }
            ConnectionChange::Reconnected { resumed, .. } => {
                assert!(*at >= since + previous_delay, "connected before its delay");
                assert!(!resumed);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        attempts,
        [1, 2, 3, 4, 5],
        "four failures, then the fifth connects"
    );
    assert_eq!(client.state(), ConnectionState::Connected);
    assert_eq!(
        server.client_count(),
        1,
        "the first session left, the new one is in"
    );
}

#[tokio::test(start_paused = true)]
async fn out_of_attempts_the_client_closes_and_says_so() {
    let server = Server::new();
    let (connector, current) = connector(&server, usize::MAX);
    let policy = Reconnect::new()
        .initial_delay(Duration::from_millis(10))
        .max_attempts(Some(3));
    let (client, changes) = connect(connector, policy).await;

    cut(&current);
    tokio::time::sleep(Duration::from_secs(60)).await;
    settle().await;

    let changes: Vec<ConnectionChange> = changes
        .lock()
        .expect("changes")
        .iter()
        .map(|(_, change)| change.clone())
        .collect();
    let attempts: Vec<u32> = changes
        .iter()
        .filter_map(|change| match change {
            ConnectionChange::Reconnecting { attempt, .. } => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, [1, 2, 3]);
    assert!(
        matches!(
            changes.last(),
            Some(ConnectionChange::Disconnected {
                will_retry: false,
                ..
            })
        ),
        "{changes:?}"
    );
    assert_eq!(client.state(), ConnectionState::Closed);
    assert!(!client.is_connected());
}

fn hello(name: &str) -> Frame<'_> {
    Frame::Hello {
        version: PROTOCOL_VERSION,
        name: Some(name),
        group: None,
        auth: None,
    }
}

/// PROTOCOL.md section 13.1 on the wire: `Resume` then `Hello` gets
/// `Welcome` then `Session`; a server that keeps no sessions answers
/// outcome 6 (disabled) with window 0 and no token; then the connection
/// is a plain one.
#[tokio::test(start_paused = true)]
async fn a_resume_before_the_hello_is_answered_with_a_session_frame() {
    let pair = Pair::new(
        Server::builder()
            .session_window(std::time::Duration::ZERO)
            .build(),
    );
    let mut raw = pair.raw();
    raw.send(Frame::Resume {
        token: &[],
        received: 0,
    })
    .await;
    raw.send(hello("ada")).await;
    let welcome = raw.recv().await.expect("welcome");
    assert!(matches!(
        Frame::decode(&welcome).expect("decodes"),
        Frame::Welcome {
            name: Some("ada"),
            ..
        }
    ));
    let session = raw.recv().await.expect("session");
    assert_eq!(
        Frame::decode(&session).expect("decodes"),
        Frame::Session {
            token: &[],
            outcome: 6,
            received: 0,
            window_ms: 0,
        }
    );
    raw.send(Frame::Ping { nonce: 5 }).await;
    let pong = raw.recv().await.expect("pong");
    assert_eq!(
        Frame::decode(&pong).expect("decodes"),
        Frame::Pong { nonce: 5 }
    );
}

/// A client that sends no `Resume` gets no `Session` frame: the next
/// frame after its `Welcome` is the answer to its own ping.
#[tokio::test(start_paused = true)]
async fn a_client_without_resume_sees_the_handshake_unchanged() {
    let pair = Pair::new(Server::new());
    let mut raw = pair.raw_joined("bob").await;
    raw.send(Frame::Ping { nonce: 9 }).await;
    let next = raw.recv().await.expect("pong");
    assert_eq!(
        Frame::decode(&next).expect("decodes"),
        Frame::Pong { nonce: 9 }
    );
}

/// `Resume` twice, or `Resume` and then anything but `Hello`, is refused
/// with 1002; a `Resume` alone runs into the handshake timeout (4004).
#[tokio::test(start_paused = true)]
async fn a_resume_must_be_followed_by_the_hello() {
    let pair = Pair::new(Server::new());
    let resume = Frame::Resume {
        token: &[1; 16],
        received: 3,
    };
    let mut twice = pair.raw();
    twice.send(resume.clone()).await;
    twice.send(resume.clone()).await;
    let (code, reason) = twice.closed_with().await;
    assert_eq!(
        (code, reason.as_str()),
        (codes::PROTOCOL_ERROR, "expected hello, got resume")
    );

    let mut ping = pair.raw();
    ping.send(resume.clone()).await;
    ping.send(Frame::Ping { nonce: 1 }).await;
    assert_eq!(ping.closed_with().await.0, codes::PROTOCOL_ERROR);

    let mut alone = pair.raw();
    alone.send(resume).await;
    assert_eq!(alone.closed_with().await.0, codes::HANDSHAKE_TIMEOUT);
}
