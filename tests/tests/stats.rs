//! `Server::stats()`: the operator's figures move with what real clients
//! do over TCP and WebSocket at once (connections by transport, refused
//! handshakes by code, events, bytes, requests), and the slow-client and
//! keepalive counters count their disconnections.

use std::time::Duration;

use hisock::close::codes;
use hisock::server::ServerStats;
use hisock::{ClientOptions, Data, Server};
use hisock_test_support::{within, Handshake, RawPeer, RawTcpPeer, TestServer, Transport};

/// Waits until the server's figures satisfy `ok`, and returns them.
async fn stats_until(server: &Server, ok: impl Fn(&ServerStats) -> bool) -> ServerStats {
    within("the server's figures", async {
        loop {
            let stats = server.stats();
            if ok(&stats) {
                return stats;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_connections_events_bytes_and_requests_over_tcp_and_ws() {
    let server = Server::new();
    server.on("note", |Data(_): Data<String>| async {});
    server.on("double", |Data(n): Data<u32>| async move { n * 2 });
    server.auth(|req| async move {
        match req.name.as_deref() {
            Some("mallory") => Err("not you".to_string()),
            _ => Ok(()),
        }
    });
    let test = TestServer::start(Transport::Tcp, server.clone()).await;
    let ws_addr = Transport::Ws.listen(&server).await;
    assert_eq!(
        server.stats(),
        ServerStats::default(),
        "nothing happened yet"
    );

    let tcp = test.connect_named("ada").await;
    let ws = Transport::Ws
        .connect(ws_addr, ClientOptions::new().name("bo"))
        .await
        .expect("ws client connects");
    let refused = test.try_connect(ClientOptions::new().name("mallory")).await;
    assert!(refused.is_err(), "the auth hook refuses mallory");

    for client in [&tcp, &ws] {
        for i in 0..10 {
            client
                .send("note", &format!("note {i}"))
                .await
                .expect("send");
        }
        for n in 0..5u32 {
            let doubled: u32 = client
                .request("double", n, Duration::from_secs(10))
                .await
                .expect("request");
            assert_eq!(doubled, n * 2);
        }
    }
    test.server.to_all().emit("news", "hello").expect("emit");
    let stats = stats_until(&server, |s| s.events_in >= 30 && s.events_out >= 2).await;

    assert_eq!(stats.connections_now.tcp, 1, "{stats:?}");
    assert_eq!(stats.connections_now.ws, 1, "{stats:?}");
    assert_eq!(stats.connections_now.total(), 2, "{stats:?}");
    assert_eq!(stats.connections_total.total(), 2, "{stats:?}");
    assert_eq!(
        stats.handshakes_refused.get(&codes::AUTH_REFUSED),
        Some(&1),
        "{stats:?}"
    );
    assert_eq!(
        stats.events_in, 30,
        "10 notes and 5 requests each: {stats:?}"
    );
    assert!(stats.frames_in >= stats.events_in, "{stats:?}");
    assert!(stats.bytes_in >= 30 * 5, "{stats:?}");
    assert_eq!(stats.requests_answered, 10, "{stats:?}");
    assert!(stats.request_seconds_total >= 0.0, "{stats:?}");
    // Welcomes, replies, the broadcast (once per recipient), presence.
    assert!(stats.frames_out >= 2 + 10 + 2, "{stats:?}");
    assert_eq!(stats.events_out, 2, "the broadcast reached both: {stats:?}");
    assert!(stats.bytes_out > stats.frames_out, "{stats:?}");

    within("tcp close", tcp.close()).await;
    within("ws close", ws.close()).await;
    let after = stats_until(&server, |s| s.connections_now.total() == 0).await;
    assert_eq!(after.connections_total.total(), 2, "totals only grow");
    assert_eq!(after.events_in, 30);
    test.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_a_slow_client_kick() {
    let server = Server::builder().outbox_limit(64 * 1024).build();
    let test = TestServer::start(Transport::Tcp, server.clone()).await;

    // Joins, then reads nothing: once the socket buffers are full, its
    // queue fills and it is kicked.
    let mut slow = RawPeer::connect(Transport::Tcp, test.addr).await;
    let slow_id = slow.hello(Some("slow")).await;
    let payload = serde_bytes::ByteBuf::from(vec![7u8; 32 * 1024]);
    within("the slow client's kick", async {
        loop {
            let report = server
                .to_client(slow_id)
                .emit_report("big", &payload)
                .expect("emit");
            if !report.kicked.is_empty() {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    let stats = stats_until(&server, |s| s.slow_client_kicks >= 1).await;
    assert_eq!(stats.slow_client_kicks, 1, "{stats:?}");
    assert_eq!(stats.keepalive_drops, 0, "{stats:?}");
    test.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_a_keepalive_drop() {
    let interval = Duration::from_millis(100);
    let server = Server::builder().keepalive(interval, interval * 4).build();
    let test = TestServer::start(Transport::Tcp, server.clone()).await;

    // Joins, reads the pings and never answers: dropped for silence.
    let mut silent = RawTcpPeer::connect(test.addr).await;
    silent.hello(Some("silent")).await;
    assert_eq!(silent.expect_close().await.code, codes::KEEPALIVE_TIMEOUT);
    let stats = stats_until(&server, |s| s.keepalive_drops >= 1).await;
    assert_eq!(stats.keepalive_drops, 1, "{stats:?}");
    assert_eq!(stats.slow_client_kicks, 0, "{stats:?}");
    test.shutdown().await;
}
