//! Presence notices (ClientJoined / ClientLeft): other clients hear of joins
//! and leaves by default and not from a server built with
//! `presence_notices(false)`; a client without presence handlers declines
//! them, and gets them back by registering one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hisock::frame::{Frame, WireClient};
use hisock::{ClientInfo, ClientOptions, Server};
use hisock_test_support::{
    raw::handshake, transport_tests, within, Handshake, Probe, RawTcpPeer, TestServer, Transport,
};

/// How many joins and leaves a watching client heard of while another
/// client came and went on `server` (over TCP).
async fn joins_and_leaves_heard(server: Server) -> (usize, usize) {
    let test = TestServer::start(Transport::Tcp, server).await;
    let joins = Arc::new(AtomicUsize::new(0));
    let leaves = Arc::new(AtomicUsize::new(0));
    let options = {
        let (joins, leaves) = (joins.clone(), leaves.clone());
        ClientOptions::new()
            .on("client_connect", move |_: ClientInfo| {
                let joins = joins.clone();
                async move {
                    joins.fetch_add(1, Ordering::SeqCst);
                }
            })
            .on("client_disconnect", move |_: ClientInfo| {
                let leaves = leaves.clone();
                async move {
                    leaves.fetch_add(1, Ordering::SeqCst);
                }
            })
    };
    let watcher = test.connect(options).await;
    let other = test.connect(ClientOptions::new()).await;
    // A round trip of the newcomer: its session has started (and sent its
    // join notice, if any) before it answers.
    other.list_clients(None).await.expect("listed");
    other.close().await;
    test.wait_for_client_count(1).await;
    // Replies come in order after any notice queued before them, and the
    // watcher runs each notice's handler before it reads further.
    watcher.list_clients(None).await.expect("listed");
    let counts = (joins.load(Ordering::SeqCst), leaves.load(Ordering::SeqCst));
    watcher.close().await;
    test.shutdown().await;
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_clients_hear_of_joins_and_leaves_by_default() {
    assert_eq!(joins_and_leaves_heard(Server::new()).await, (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_presence_notices_sends_none() {
    let server = Server::builder().presence_notices(false).build();
    assert_eq!(joins_and_leaves_heard(server).await, (0, 0));
}

transport_tests! {
    /// A client that has not declined presence notices (it has taken
    /// fewer than 16 unhandled) sees the very next join after
    /// registering a handler, with no round trip in between.
    async fn a_presence_handler_registered_after_connecting_sees_the_next_join(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let watcher = test.connect(ClientOptions::new().name("watcher")).await;

        let joins = Probe::new("joins");
        let seen = joins.clone();
        watcher.on("client_connect", move |who: ClientInfo| {
            seen.push(who.name);
            async {}
        });
        let _next = test.connect(ClientOptions::new().name("next")).await;
        assert_eq!(joins.take(1).await, [Some(Arc::<str>::from("next"))]);
    }

    /// A client that declined presence notices (after many unhandled
    /// ones) gets them again once it registers a handler.
    async fn a_client_that_declined_presence_gets_it_back_with_a_handler(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let watcher = test.connect(ClientOptions::new().name("watcher")).await;
        let mut crowd = Vec::new();
        for i in 0..20 {
            crowd.push(test.connect(ClientOptions::new().name(format!("c{i}"))).await);
        }
        watcher.list_clients(None).await.expect("the crowd's joins were taken");

        let joins = Probe::new("joins");
        let seen = joins.clone();
        watcher.on("client_connect", move |who: ClientInfo| {
            // The crowd's last notices may still be on their way.
            if who.name.as_deref() == Some("last") {
                seen.push(who.name);
            }
            async {}
        });
        // A round trip: the server has read the request for notices.
        watcher.list_clients(None).await.expect("list");
        let _last = test.connect(ClientOptions::new().name("last")).await;
        assert_eq!(joins.take(1).await, [Some(Arc::<str>::from("last"))]);
    }
}

/// At the protocol level: after `PresenceInterest{wanted:false}` right
/// behind its hello, a client gets no presence notices; after
/// `wanted:true` it gets them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_interest_turns_notices_off_and_on() {
    async fn next_frame(raw: &mut RawTcpPeer) -> bytes::Bytes {
        raw.read_frame().await.expect("a frame")
    }

    /// Sends a request and waits for its reply: the frames sent before it
    /// have been handled (one connection's frames are handled in order).
    async fn handled_so_far(raw: &mut RawTcpPeer, request_id: u64) {
        raw.send(&Frame::ListClients {
            request_id,
            group: None,
        })
        .await;
        let reply = next_frame(raw).await;
        assert!(
            matches!(Frame::decode(&reply), Ok(Frame::Reply { request_id: id, .. }) if id == request_id)
        );
    }

    let test = TestServer::start(Transport::Tcp, Server::new()).await;
    let mut raw = RawTcpPeer::connect(test.addr).await;
    raw.send(&handshake::hello(Some("raw"))).await;
    raw.send(&Frame::PresenceInterest { wanted: false }).await;
    let welcome = next_frame(&mut raw).await;
    assert!(matches!(Frame::decode(&welcome), Ok(Frame::Welcome { .. })));
    // The reply comes after the interest frame was handled (one
    // connection's frames are handled in order); without waiting for it,
    // the next client could join before this session read that frame.
    handled_so_far(&mut raw, 1).await;

    let _first = test.connect(ClientOptions::new().name("first")).await;
    test.server.to_all().emit("marker", 1).expect("emit");
    let frame = next_frame(&mut raw).await;
    match Frame::decode(&frame).expect("decodes") {
        Frame::Event { command, .. } => assert_eq!(command, "marker", "no join notice first"),
        other => panic!("expected the marker event, got {other:?}"),
    }

    raw.send(&Frame::PresenceInterest { wanted: true }).await;
    // Answered after the interest frame was read: the order of one
    // connection's frames is kept.
    handled_so_far(&mut raw, 2).await;
    let _second = test.connect(ClientOptions::new().name("second")).await;
    let frame = next_frame(&mut raw).await;
    match Frame::decode(&frame).expect("decodes") {
        Frame::ClientJoined(client) => assert_eq!(client.name, Some("second")),
        other => panic!("expected a join notice, got {other:?}"),
    }
}

/// Against a hand-written server on a real socket: a client with no
/// presence handler declines presence notices once it has taken
/// `PRESENCE_DECLINE_AFTER` (16) of them unhandled, not before; registering
/// a presence handler asks for them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_declines_unhandled_presence_notices_and_asks_again_with_a_handler() {
    const DECLINE_AFTER: u64 = 16;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let connecting = tokio::spawn(hisock_tcp::connect(addr, ClientOptions::new()));
    let mut server = RawTcpPeer::accept(&listener).await;
    server.welcome_the_hello().await;
    let client = within("handshake", connecting)
        .await
        .expect("task")
        .expect("connected");

    let joined = |id: u64| {
        Frame::ClientJoined(WireClient {
            id,
            name: None,
            group: None,
            addr: None,
            transport: 0,
        })
    };
    for id in 2..DECLINE_AFTER + 1 {
        server.send(&joined(id)).await;
    }
    // One short of the limit: the client says nothing yet. A ping's pong
    // shows what it sent up to here.
    server.send(&Frame::Ping { nonce: 7 }).await;
    let frame = server.read_frame().await.expect("pong");
    assert!(
        matches!(Frame::decode(&frame), Ok(Frame::Pong { nonce: 7 })),
        "{:?}",
        Frame::decode(&frame)
    );

    server.send(&joined(DECLINE_AFTER + 1)).await;
    let frame = server.read_frame().await.expect("interest");
    assert!(matches!(
        Frame::decode(&frame),
        Ok(Frame::PresenceInterest { wanted: false })
    ));

    client.on("client_connect", |_: ClientInfo| async {});
    let frame = server.read_frame().await.expect("interest again");
    assert!(matches!(
        Frame::decode(&frame),
        Ok(Frame::PresenceInterest { wanted: true })
    ));
}
