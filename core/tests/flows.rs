//! Whole flows between a real server and real clients over the in-memory
//! transport, on a paused clock (see `pair/mod.rs`): handshake, events,
//! requests with timeouts in both directions, keepalive, presence and
//! closing. Deterministic: each timeout fires at exactly its deadline.

mod pair;

use std::time::Duration;

use hisock::close::codes;
use hisock::frame::Frame;
use hisock::{ClientInfo, ClientOptions, CloseReason, Data, Error, On, Server};
use pair::{elapsed, settle, Pair};
use tokio::sync::mpsc;
use tokio::time::Instant;

const SEC: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn the_handshake_welcomes_with_the_recorded_identity() {
    let pair = Pair::new(Server::new());
    let ada = pair
        .connect(ClientOptions::new().name("ada").group("lobby"))
        .await
        .expect("welcomed");
    assert_eq!(ada.id(), 1);
    assert_eq!(ada.name().as_deref(), Some("ada"));
    assert_eq!(ada.group().as_deref(), Some("lobby"));
    let session = ada.session();
    assert_eq!(session.keepalive_interval, Some(15 * SEC));
    assert_eq!(session.keepalive_timeout, Some(45 * SEC));
    let seen = pair.server.client(1).expect("registered");
    assert_eq!(seen.name(), Some("ada"));
}

#[tokio::test(start_paused = true)]
async fn a_silent_connection_is_refused_4004_at_the_handshake_timeout() {
    let pair = Pair::new(Server::builder().handshake_timeout(3 * SEC).build());
    let mut raw = pair.raw();
    let start = Instant::now();
    let (code, _) = raw.closed_with().await;
    assert_eq!(code, codes::HANDSHAKE_TIMEOUT);
    assert_eq!(elapsed(start), 3 * SEC);
}

#[tokio::test(start_paused = true)]
async fn the_auth_hook_and_the_connection_limit_refuse_in_that_order() {
    let server = Server::builder().max_connections(1).build();
    server.auth(|request| async move {
        match request.name.as_deref() {
            Some("mallory") => Err("no mallory".to_owned()),
            _ => Ok(()),
        }
    });
    let pair = Pair::new(server);
    let _ada = pair.client("ada").await;
    // Refused by the hook although the server is full too: the hook comes
    // first (PROTOCOL.md section 4).
    let mallory = pair.connect(ClientOptions::new().name("mallory")).await;
    assert!(
        matches!(mallory, Err(Error::Refused(r)) if r.code == codes::AUTH_REFUSED && r.reason == "no mallory")
    );
    let bob = pair.connect(ClientOptions::new().name("bob")).await;
    assert!(matches!(bob, Err(Error::Refused(r)) if r.code == codes::SERVER_FULL));
}

#[tokio::test(start_paused = true)]
async fn events_flow_both_ways_in_order() {
    let server = Server::new();
    let (to_test, mut heard) = mpsc::unbounded_channel();
    server.on("note", move |who: ClientInfo, Data(n): Data<u32>| {
        let to_test = to_test.clone();
        async move {
            let _ = to_test.send((who.id, n));
        }
    });
    let pair = Pair::new(server);
    let (tx, mut back) = mpsc::unbounded_channel();
    let ada = pair
        .connect(ClientOptions::new().on("echo", move |Data(n): Data<u32>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(n);
            }
        }))
        .await
        .expect("welcomed");
    for n in 0..100 {
        ada.send("note", &n).await.expect("queued");
    }
    for n in 0..100 {
        assert_eq!(heard.recv().await, Some((ada.id(), n)));
    }
    for n in 0..100u32 {
        pair.server
            .to_client(ada.id())
            .emit("echo", n)
            .expect("sent");
    }
    for n in 0..100 {
        assert_eq!(back.recv().await, Some(n));
    }
}

#[tokio::test(start_paused = true)]
async fn a_client_request_times_out_at_its_deadline_and_the_late_reply_is_ignored() {
    let server = Server::new();
    // Threaded: the late first request must not hold up the second.
    server.on_with(
        "slow",
        On::new().threaded(),
        |Data(wait): Data<u64>| async move {
            tokio::time::sleep(Duration::from_secs(wait)).await;
            wait
        },
    );
    let pair = Pair::new(server);
    let ada = pair.client("ada").await;
    let start = Instant::now();
    let late: hisock::Result<u64> = ada.request("slow", &10u64, 2 * SEC).await;
    assert!(matches!(late, Err(Error::Timeout(t)) if t == 2 * SEC));
    assert_eq!(elapsed(start), 2 * SEC, "exactly at the deadline");
    // In time: answered. The late reply of the first (at 10 s) is dropped.
    let start = Instant::now();
    let quick: u64 = ada.request("slow", &1u64, 5 * SEC).await.expect("answered");
    assert_eq!(quick, 1);
    assert_eq!(elapsed(start), SEC);
    tokio::time::sleep(10 * SEC).await;
    let again: u64 = ada.request("slow", &0u64, SEC).await.expect("answered");
    assert_eq!(again, 0, "the connection survived the stray reply");
}

#[tokio::test(start_paused = true)]
async fn an_earlier_deadline_is_kept_even_behind_a_later_one() {
    let server = Server::new();
    server.on("never", std::future::pending::<()>);
    let pair = Pair::new(server);
    let ada = pair.client("ada").await;
    let start = Instant::now();
    let long = ada.request::<(), _>("never", &(), 60 * SEC);
    let short = async {
        settle().await;
        ada.request::<(), _>("never", &(), 3 * SEC).await
    };
    let (long, short) = tokio::join!(
        async {
            let r = long.await;
            (r, elapsed(start))
        },
        async {
            let r = short.await;
            (r, elapsed(start))
        }
    );
    assert!(matches!(short.0, Err(Error::Timeout(_))));
    assert_eq!(short.1, 3 * SEC);
    assert!(matches!(long.0, Err(Error::Timeout(_))));
    assert_eq!(long.1, 60 * SEC);
}

#[tokio::test(start_paused = true)]
async fn a_server_request_times_out_at_its_deadline() {
    let pair = Pair::new(Server::new());
    let ada = pair
        .connect(ClientOptions::new().on("think", std::future::pending::<u8>))
        .await
        .expect("welcomed");
    let _bob = pair
        .connect(ClientOptions::new().on("think", || async { 7u8 }))
        .await
        .expect("welcomed");
    let start = Instant::now();
    let answer: hisock::Result<u8> = pair.server.request(ada.id(), "think", &(), 4 * SEC).await;
    assert!(matches!(answer, Err(Error::Timeout(t)) if t == 4 * SEC));
    assert_eq!(elapsed(start), 4 * SEC);
    let bob_answer: u8 = pair
        .server
        .request(2, "think", &(), 4 * SEC)
        .await
        .expect("bob answers");
    assert_eq!(bob_answer, 7);
}

#[tokio::test(start_paused = true)]
async fn a_server_request_to_a_client_that_leaves_fails_with_its_close_reason() {
    let pair = Pair::new(Server::new());
    let ada = pair
        .connect(ClientOptions::new().on("think", std::future::pending::<u8>))
        .await
        .expect("welcomed");
    let id = ada.id();
    let server = pair.server.clone();
    let asked =
        tokio::spawn(async move { server.request::<u8, _>(id, "think", &(), 60 * SEC).await });
    settle().await;
    pair.server.disconnect(id, "bye").expect("connected");
    let answer = asked.await.expect("no panic");
    assert!(matches!(answer, Err(Error::Closed(r)) if r.code == codes::KICKED));
}

#[tokio::test(start_paused = true)]
async fn a_silent_client_is_closed_4005_at_the_keepalive_timeout() {
    let server = Server::builder().keepalive(SEC, 3 * SEC).build();
    let mut left = pair::record_leaves(&server);
    let pair = Pair::new(server);
    let start = Instant::now();
    let mut raw = pair.raw_joined("mute").await;
    let mut pings = 0;
    loop {
        let bytes = raw.recv().await.expect("a frame");
        match Frame::decode(&bytes).expect("decodes") {
            Frame::Ping { nonce } => {
                pings += 1;
                assert_eq!(nonce, pings, "nonces count up from 1");
            }
            Frame::Close { code, .. } => {
                assert_eq!(code, codes::KEEPALIVE_TIMEOUT);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(pings, 2, "pings at 1 s and 2 s, closed at 3 s");
    assert_eq!(elapsed(start), 3 * SEC);
    assert_eq!(
        left.recv().await,
        Some((Some("mute".into()), codes::KEEPALIVE_TIMEOUT))
    );
}

#[tokio::test(start_paused = true)]
async fn a_client_answering_pings_stays_past_many_timeouts() {
    let pair = Pair::new(Server::builder().keepalive(SEC, 3 * SEC).build());
    let ada = pair.client("ada").await;
    tokio::time::sleep(60 * SEC).await;
    assert!(ada.is_connected());
    assert_eq!(pair.server.client_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn presence_notices_reach_the_others_in_order() {
    let pair = Pair::new(Server::new());
    let (tx, mut seen) = mpsc::unbounded_channel();
    let (t1, t2, t3) = (tx.clone(), tx.clone(), tx);
    let _watcher = pair
        .connect(
            ClientOptions::new()
                .name("watcher")
                .on("client_connect", move |who: ClientInfo| {
                    let t = t1.clone();
                    async move {
                        let _ = t.send(format!("join {}", who.name().unwrap_or("?")));
                    }
                })
                .on("client_name_change", move |who: ClientInfo| {
                    let t = t2.clone();
                    async move {
                        let _ = t.send(format!("rename {}", who.name().unwrap_or("?")));
                    }
                })
                .on("client_disconnect", move |who: ClientInfo| {
                    let t = t3.clone();
                    async move {
                        let _ = t.send(format!("leave {}", who.name().unwrap_or("?")));
                    }
                }),
        )
        .await
        .expect("welcomed");
    let ada = pair.client("ada").await;
    ada.change_name(Some("bo")).await.expect("renamed");
    ada.close().await;
    assert_eq!(seen.recv().await.as_deref(), Some("join ada"));
    assert_eq!(seen.recv().await.as_deref(), Some("rename bo"));
    assert_eq!(seen.recv().await.as_deref(), Some("leave bo"));
}

#[tokio::test(start_paused = true)]
async fn closing_follows_the_plan_on_both_sides() {
    let server = Server::new();
    let mut left = pair::record_leaves(&server);
    let pair = Pair::new(server);

    // The client closes: the server's leave sees 1000.
    let ada = pair.client("ada").await;
    ada.close().await;
    assert_eq!(left.recv().await, Some((Some("ada".into()), codes::NORMAL)));

    // The server kicks: the client sees 4000 and force_disconnect fires.
    let (ftx, mut forced) = mpsc::unbounded_channel();
    let bob = pair
        .connect(ClientOptions::new().name("bob").on(
            "force_disconnect",
            move |why: CloseReason| {
                let ftx = ftx.clone();
                async move {
                    let _ = ftx.send(why.code);
                }
            },
        ))
        .await
        .expect("welcomed");
    pair.server.disconnect(bob.id(), "out").expect("connected");
    assert_eq!(bob.closed().await.code, codes::KICKED);
    assert_eq!(forced.recv().await, Some(codes::KICKED));
    assert_eq!(left.recv().await, Some((Some("bob".into()), codes::KICKED)));

    // Without leave: nothing runs.
    let cy = pair.client("cy").await;
    cy.close_without_leave().await;
    settle().await;
    assert!(left.try_recv().is_err(), "leave did not run for cy");

    // Shutdown: 1001 to everyone still there.
    let dee = pair.client("dee").await;
    pair.server.shutdown().await;
    assert_eq!(dee.closed().await.code, codes::GOING_AWAY);
    assert_eq!(
        left.recv().await,
        Some((Some("dee".into()), codes::GOING_AWAY))
    );
}

#[tokio::test(start_paused = true)]
async fn a_protocol_violation_closes_only_the_offender_with_1002() {
    let pair = Pair::new(Server::new());
    let ada = pair.client("ada").await;
    let mut raw = pair.raw_joined("mallory").await;
    raw.send(Frame::Welcome {
        client_id: 9,
        name: None,
        group: None,
        keepalive_interval_ms: 0,
        keepalive_timeout_ms: 0,
        max_frame_len: 0,
        addr: None,
    })
    .await;
    let (code, _) = raw.closed_with().await;
    assert_eq!(code, codes::PROTOCOL_ERROR);
    let everyone = ada.list_clients(None).await.expect("answered");
    assert_eq!(everyone.len(), 1, "ada is served, mallory is gone");
}

#[tokio::test(start_paused = true)]
async fn a_client_that_does_not_read_is_dropped_4006_and_the_others_are_served() {
    let server = Server::builder().outbox_limit(4096).no_keepalive().build();
    let mut left = pair::record_leaves(&server);
    let pair = Pair::new(server);
    let ada = pair.client("ada").await;
    let _deaf = pair.raw_joined("deaf").await;
    let deaf = pair.server.client_by_name("deaf").expect("joined").id;
    // The in-memory channel holds 64 frames; the outbox 4 KiB after that.
    let blob = vec![7u8; 512];
    for _ in 0..200 {
        if pair.server.to_client(deaf).emit("blob", &blob).is_err() {
            break;
        }
        settle().await;
    }
    assert_eq!(
        left.recv().await,
        Some((Some("deaf".into()), codes::SLOW_CONSUMER))
    );
    let everyone = ada.list_clients(None).await.expect("ada is served");
    assert_eq!(everyone.len(), 1);
}
