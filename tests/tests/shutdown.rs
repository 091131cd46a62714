//! Starting and stopping: `run` in the foreground, serving in the
//! background, clean shutdown that loses nothing queued, and closing a
//! client that loses nothing it sent.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hisock::{codes, Client, ClientOptions, CloseReason, Data, Server};
use hisock_test_support::{record_leaves, transport_tests, within, Probe, TestServer, WAIT};

/// Events sent to each slow client in the shutdown tests, 1 KiB each: more
/// than the socket buffers hold, so most wait in the server's queue.
const SLOW_EVENTS: usize = 30_000;

/// A server with a queue large enough for every event, no keepalive (a
/// client that sends nothing leaves nothing unread at the server, so the
/// server's hang-up is an orderly one) and no presence notices.
fn server_with_a_large_outbox(flush_timeout: Duration) -> Server {
    Server::builder()
        .outbox_limit(64 * 1024 * 1024)
        .flush_timeout(flush_timeout)
        .no_keepalive()
        .presence_notices(false)
        .build()
}

/// A client that handles events slowly (a millisecond every 20), so it
/// reads its socket slowly; returns it and its count of events handled.
async fn slow_client(test: &TestServer) -> (Client, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let client = test
        .connect(
            ClientOptions::new().on("e", move |Data(_): Data<serde_bytes::ByteBuf>| {
                let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    if n % 20 == 0 {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }),
        )
        .await;
    (client, count)
}

/// Queues [`SLOW_EVENTS`] events for every client; all are accepted.
fn emit_slow_events(server: &Server) {
    let payload = serde_bytes::ByteBuf::from(vec![7u8; 1024]);
    for _ in 0..SLOW_EVENTS {
        server.to_all().emit("e", &payload).expect("accepted");
    }
}

transport_tests! {
    /// `run` is HiSock's blocking start: it returns once the server is shut
    /// down, with everything served until then.
    async fn run_in_the_foreground_returns_after_shutdown(t: Transport) {
        let server = Server::new();
        server.on("echo", |Data(s): Data<String>| async move { s });
        let test = TestServer::start(t, server).await;
        let running = {
            let server = test.server.clone();
            tokio::spawn(async move { server.run().await })
        };
        let client = test.connect_named("ada").await;
        let echo: String = client.request("echo", "hi", WAIT).await.expect("served");
        assert_eq!(echo, "hi");
        assert!(!running.is_finished(), "run blocks while the server serves");

        test.shutdown().await;

        within("run to return", running).await.expect("run task");
        assert!(test.server.is_shut_down());
    }

    /// Without `run`, the server serves in the background while the caller
    /// goes on; after shutdown it accepts nobody.
    async fn background_server_serves_until_shutdown_then_refuses(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        assert_eq!(test.server.local_addrs(), [test.addr]);
        test.assert_serves_new_client().await;

        test.shutdown().await;

        assert!(test.try_connect(ClientOptions::new()).await.is_err());
    }

    /// Shutdown sends everything queued for a client, then GOING_AWAY: the
    /// client gets every event in order, then `force_disconnect`, and the
    /// server's `leave` runs.
    async fn shutdown_delivers_everything_queued_then_going_away(t: Transport) {
        let log = Probe::new("client log");
        let server = Server::new();
        let leaves = record_leaves(&server);
        let test = TestServer::start(t, server).await;
        let (events, kicks) = (log.clone(), log.clone());
        let client = test.connect(ClientOptions::new()
            .on("n", move |Data(n): Data<u32>| {
                let log = events.clone();
                async move { log.push(format!("n:{n}")) }
            })
            .on("force_disconnect", move |why: CloseReason| {
                let log = kicks.clone();
                async move { log.push(format!("force_disconnect:{}", why.code)) }
            })).await;

        const EVENTS: u32 = 1000;
        for n in 0..EVENTS {
            test.server.to_all().emit("n", n).expect("emit");
        }
        test.shutdown().await;

        let mut expected: Vec<String> = (0..EVENTS).map(|n| format!("n:{n}")).collect();
        expected.push(format!("force_disconnect:{}", codes::GOING_AWAY));
        assert_eq!(log.take(expected.len()).await, expected);
        assert_eq!(within("closed", client.closed()).await.code, codes::GOING_AWAY);
        assert_eq!(leaves.drain().await, [(client.id(), codes::GOING_AWAY)]);
    }

    /// Closing a client writes everything it sent first: the server handles
    /// every event, in order, then runs `leave`.
    async fn client_close_delivers_everything_it_sent(t: Transport) {
        let log = Probe::new("server log");
        let server = Server::new();
        let events = log.clone();
        server.on("n", move |Data(n): Data<u32>| {
            let log = events.clone();
            async move { log.push(format!("n:{n}")) }
        });
        let left = log.clone();
        server.on("leave", move |why: CloseReason| {
            left.push(format!("leave:{}", why.code));
            async {}
        });
        let test = TestServer::start(t, server).await;
        let client = test.connect_named("ada").await;

        const EVENTS: u32 = 1000;
        for n in 0..EVENTS {
            client.send("n", &n).await.expect("send");
        }
        within("close", client.close()).await;

        let mut expected: Vec<String> = (0..EVENTS).map(|n| format!("n:{n}")).collect();
        expected.push(format!("leave:{}", codes::NORMAL));
        assert_eq!(log.take(expected.len()).await, expected);
    }

    /// Shutdown closes every client at once, each with GOING_AWAY.
    async fn shutdown_closes_every_client_with_going_away(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let clients = [
            test.connect_named("a").await,
            test.connect(ClientOptions::new().group("g")).await,
            test.connect_named("c").await,
        ];

        test.shutdown().await;

        for client in &clients {
            assert_eq!(within("closed", client.closed()).await.code, codes::GOING_AWAY);
        }
        assert_eq!(test.server.client_count(), 0);
    }

    /// Shutdown within the flush timeout loses nothing accepted, even for
    /// clients that read slowly with a large queue: every event arrives,
    /// then GOING_AWAY, and the report is empty.
    async fn shutdown_within_the_flush_timeout_delivers_every_accepted_frame(t: Transport) {
        let test = TestServer::start(t, server_with_a_large_outbox(Duration::from_secs(60))).await;
        let clients = [slow_client(&test).await, slow_client(&test).await];
        emit_slow_events(&test.server);

        let report = within("shutdown", test.server.shutdown()).await;

        assert!(report.is_complete(), "{report:?}");
        for (client, count) in &clients {
            assert_eq!(within("closed", client.closed()).await.code, codes::GOING_AWAY);
            assert_eq!(count.load(Ordering::SeqCst), SLOW_EVENTS);
        }
    }

    /// Past the flush timeout a slow client is cut, and the report counts
    /// exactly the frames it did not get: its events that never arrived,
    /// and the `Close`.
    async fn shutdown_past_the_flush_timeout_reports_exactly_what_was_lost(t: Transport) {
        let test = TestServer::start(t, server_with_a_large_outbox(Duration::from_millis(300))).await;
        let clients = [slow_client(&test).await, slow_client(&test).await];
        emit_slow_events(&test.server);

        let report = within("shutdown", test.server.shutdown()).await;

        assert_eq!(report.undelivered.len(), clients.len(), "{report:?}");
        for (client, count) in &clients {
            let closed = within("closed", client.closed()).await;
            assert_ne!(closed.code, codes::GOING_AWAY, "the Close never arrived");
            let lost = report
                .undelivered
                .iter()
                .find(|u| u.client == client.id())
                .expect("the client is in the report")
                .frames;
            let handled = count.load(Ordering::SeqCst);
            eprintln!("{t:?}: client {} handled {handled} events, report says {lost} frames lost", client.id());
            // Every event queued for it: handled, or counted lost; the one
            // frame more is the `Close`.
            assert_eq!(handled + lost, SLOW_EVENTS + 1, "handled {handled}, lost {lost}");
            assert!(handled < SLOW_EVENTS, "the flood was too small to be cut");
        }
    }
}
