//! Server limits and keepalive: maximum connections, frame size checks on
//! the sending side, and dropping peers that stop answering.

use std::time::Duration;

use hisock::frame::Frame;
use hisock::{codes, ClientOptions, Error, Server, TransportError};
use hisock_test_support::{
    record_departures, record_leaves, transport_tests, within, Handshake, RawTcpPeer, TestServer,
    Transport,
};

transport_tests! {
    /// Past `max_connections` a client is refused with SERVER_FULL; once a
    /// client leaves, a new one gets in.
    async fn max_connections_refuses_extra_clients_with_server_full(t: Transport) {
        let test = TestServer::start(t, Server::builder().max_connections(2).build()).await;
        let ada = test.connect_named("ada").await;
        let _bob = test.connect_named("bob").await;

        match test.try_connect(ClientOptions::new().name("cy")).await {
            Err(Error::Refused(reason)) => assert_eq!(reason.code, codes::SERVER_FULL),
            other => panic!("expected a SERVER_FULL refusal, got {other:?}"),
        }
        assert_eq!(test.server.client_count(), 2);

        within("close", ada.close()).await;
        test.wait_for_client_count(1).await;
        let cy = test.connect_named("cy").await;
        assert!(test.server.client(cy.id()).is_some());
    }

    /// A client checks the server's maximum frame length before sending: a
    /// too-big event is an error for the caller, and the connection stays
    /// up.
    async fn client_refuses_to_send_a_frame_over_the_servers_limit(t: Transport) {
        let server = Server::builder().max_frame_len(1024).build();
        server.on("echo", |hisock::Data(s): hisock::Data<String>| async move { s });
        let test = TestServer::start(t, server).await;
        let client = test.connect_named("ada").await;
        assert_eq!(client.session().max_frame_len, 1024);

        let big = "x".repeat(2000);
        let err = client.send("echo", &big).await.expect_err("too big");
        assert!(matches!(err, Error::Transport(TransportError::FrameTooBig { .. })), "{err}");
        let echo: String = client
            .request("echo", "small", hisock_test_support::WAIT)
            .await
            .expect("still connected");
        assert_eq!(echo, "small");
    }

    /// Clients that answer pings stay connected through many keepalive
    /// timeouts.
    async fn keepalive_keeps_answering_clients_connected(t: Transport) {
        let interval = Duration::from_millis(100);
        let server = Server::builder().keepalive(interval, interval * 4).build();
        let test = TestServer::start(t, server).await;
        let client = test.connect_named("ada").await;
        assert_eq!(client.session().keepalive_interval, Some(interval));
        assert_eq!(client.session().keepalive_timeout, Some(interval * 4));

        // Three timeouts' worth of idle time.
        tokio::time::sleep(interval * 12).await;

        assert!(client.is_connected());
        assert_eq!(client.list_clients(None).await.expect("list").len(), 1);
    }
}

/// A peer that joins and then never answers a ping is dropped with
/// KEEPALIVE_TIMEOUT, `leave` runs, others see it go, and answering
/// clients stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_drops_a_silent_peer_and_runs_leave() {
    let interval = Duration::from_millis(100);
    let server = Server::builder().keepalive(interval, interval * 4).build();
    let leaves = record_leaves(&server);
    let test = TestServer::start(Transport::Tcp, server).await;
    let (options, departures) = record_departures(ClientOptions::new().name("alive"));
    let alive = test.connect(options).await;

    let mut silent = RawTcpPeer::connect(test.addr).await;
    let silent_id = silent.hello(Some("silent")).await;

    // Reads the server's pings without answering them.
    let closed = silent.expect_close().await;
    assert_eq!(closed.code, codes::KEEPALIVE_TIMEOUT);
    assert_eq!(leaves.next().await, (silent_id, codes::KEEPALIVE_TIMEOUT));
    assert_eq!(departures.next().await, silent_id);
    assert!(alive.is_connected());
    assert_eq!(alive.list_clients(None).await.expect("list").len(), 1);
}

/// A peer that sends nothing at all is refused with HANDSHAKE_TIMEOUT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_new_connection_is_refused_after_the_handshake_timeout() {
    let server = Server::builder()
        .handshake_timeout(Duration::from_millis(100))
        .build();
    let test = TestServer::start(Transport::Tcp, server).await;

    let mut peer = RawTcpPeer::connect(test.addr).await;
    assert_eq!(peer.expect_refuse().await.code, codes::HANDSHAKE_TIMEOUT);
    test.assert_serves_new_client().await;
}

/// A ping from a client is answered with a pong carrying its nonce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_answers_client_pings() {
    let test = TestServer::start(Transport::Tcp, Server::new()).await;
    let mut peer = RawTcpPeer::connect(test.addr).await;
    peer.hello(None).await;

    peer.send(&Frame::Ping { nonce: 77 }).await;

    let bytes = peer.read_frame().await.expect("a pong");
    assert_eq!(
        Frame::decode(&bytes).expect("decodes"),
        Frame::Pong { nonce: 77 }
    );
}
