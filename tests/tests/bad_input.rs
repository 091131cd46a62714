//! Bad input: every malformed, oversized, truncated or unexpected frame gets
//! a defined outcome for the offending peer, and the server goes on serving
//! everyone else.
//!
//! Most tests speak raw TCP through [`RawTcpPeer`], since no well-behaved
//! client sends such bytes. When a test sends a length prefix announcing a
//! too-big frame it sends the prefix alone: unread bytes left in a socket
//! the server closes would turn its close into a reset.

use hisock::frame::{Frame, FrameKind, FRAME_KINDS, PROTOCOL_VERSION};
use hisock::{codes, ClientOptions, Command, Data, ErrorCode, Rejection, Server};
use hisock_test_support::{
    record_departures, record_leaves, transport_tests, Handshake, Move, Probe, RawTcpPeer,
    TestServer, Transport, WAIT,
};

/// The largest frame the servers in these tests accept.
const MAX_FRAME: usize = 1024;

/// A TCP server with a small frame limit that records `(client id, close
/// code)` for every `leave`.
async fn start_recording_leaves() -> (TestServer, Probe<(u64, u16)>) {
    let server = Server::builder().max_frame_len(MAX_FRAME).build();
    let leaves = record_leaves(&server);
    (TestServer::start(Transport::Tcp, server).await, leaves)
}

/// A fresh TCP server with a small frame limit.
async fn start() -> TestServer {
    start_recording_leaves().await.0
}

/// The prefix of a frame one byte over [`MAX_FRAME`].
fn oversized_prefix() -> [u8; 4] {
    u32::try_from(MAX_FRAME + 1).expect("small").to_be_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bare_connect_then_close_is_ignored() {
    let test = start().await;
    let mut peer = RawTcpPeer::connect(test.addr).await;

    peer.finish_writing().await;

    peer.expect_eof().await;
    assert_eq!(test.server.client_count(), 0);
    test.assert_serves_new_client().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_first_frame_is_refused_with_protocol_error() {
    let test = start().await;
    let event = FrameKind::Event.number();
    let hello = FrameKind::Hello.number();
    for garbage in [&[event, 50, b'a'][..], &[], &[hello, 1], &[0xc1; 16]] {
        let mut peer = RawTcpPeer::connect(test.addr).await;
        peer.write_frame(garbage).await;
        let refusal = peer.expect_refuse().await;
        let expected = if garbage.first().is_some_and(|&k| k >= FRAME_KINDS) {
            codes::UNKNOWN_FRAME_KIND
        } else {
            codes::PROTOCOL_ERROR
        };
        assert_eq!(refusal.code, expected, "for {garbage:?}: {refusal}");
    }
    test.assert_serves_new_client().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_frame_other_than_hello_is_refused_with_protocol_error() {
    let test = start().await;
    let mut peer = RawTcpPeer::connect(test.addr).await;

    peer.send(&Frame::Event {
        command: "hi",
        request_id: 0,
        payload: &[0xc0],
    })
    .await;

    assert_eq!(peer.expect_refuse().await.code, codes::PROTOCOL_ERROR);
    test.assert_serves_new_client().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_with_another_protocol_version_is_refused_with_version_mismatch() {
    let test = start().await;
    let mut peer = RawTcpPeer::connect(test.addr).await;

    peer.send(&Frame::Hello {
        version: PROTOCOL_VERSION + 1,
        name: Some("future"),
        group: None,
        auth: None,
    })
    .await;

    assert_eq!(peer.expect_refuse().await.code, codes::VERSION_MISMATCH);
    assert_eq!(test.server.client_count(), 0);
    test.assert_serves_new_client().await;
}

/// The client side of a refusal: a (fake) server refusing the hello makes
/// `Client::handshake` return `Error::Refused` with its code and reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_handshake_surfaces_a_refusal() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let fake_server = tokio::spawn(async move {
        let mut peer = RawTcpPeer::accept(&listener).await;
        let hello = peer.read_frame().await.expect("a hello");
        let version = match Frame::decode(&hello).expect("decodes") {
            Frame::Hello { version, .. } => version,
            other => panic!("expected hello, got {other:?}"),
        };
        peer.send(&Frame::Refuse {
            code: codes::VERSION_MISMATCH,
            reason: "this server speaks version 99",
        })
        .await;
        version
    });

    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let conn = hisock_tcp::tcp_connection(
        stream,
        hisock_tcp::DEFAULT_MAX_FRAME_LEN,
        hisock::TransportKind::Tcp,
    );
    let result = hisock_test_support::within(
        "handshake",
        hisock::Client::handshake(conn, ClientOptions::new().name("ada")),
    )
    .await;

    match result {
        Err(hisock::Error::Refused(reason)) => {
            assert_eq!(reason.code, codes::VERSION_MISMATCH);
            assert_eq!(reason.reason, "this server speaks version 99");
        }
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, got a connection"),
    }
    let sent_version = hisock_test_support::within("fake server", fake_server)
        .await
        .expect("fake server");
    assert_eq!(sent_version, PROTOCOL_VERSION);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_first_frame_is_refused_with_too_big() {
    let test = start().await;
    let mut peer = RawTcpPeer::connect(test.addr).await;

    peer.write_raw(&oversized_prefix()).await;

    assert_eq!(peer.expect_refuse().await.code, codes::TOO_BIG);
    test.assert_serves_new_client().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_after_the_handshake_closes_with_too_big() {
    let (test, leaves) = start_recording_leaves().await;
    let mut peer = RawTcpPeer::connect(test.addr).await;
    let id = peer.hello(Some("big")).await;

    peer.write_raw(&oversized_prefix()).await;

    assert_eq!(peer.expect_close().await.code, codes::TOO_BIG);
    assert_eq!(leaves.next().await, (id, codes::TOO_BIG));
    test.assert_serves_new_client().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frame_of_exactly_the_maximum_length_is_accepted() {
    let server = Server::builder().max_frame_len(MAX_FRAME).build();
    server.on(
        "blob",
        |Data(s): Data<String>| async move { s.len() as u64 },
    );
    let test = TestServer::start(Transport::Tcp, server).await;
    let client = test.connect_named("ada").await;
    // A fresh client's first request carries request id 1 (PROTOCOL.md 5.1).
    let frame_len = |n: usize| {
        let payload = hisock::value::encode(&"x".repeat(n)).expect("encodes");
        Frame::Event {
            command: "blob",
            request_id: 1,
            payload: &payload,
        }
        .encode()
        .len()
    };
    let n = (0..MAX_FRAME)
        .rev()
        .find(|&n| frame_len(n) == MAX_FRAME)
        .expect("some text length makes a frame of exactly the limit");

    let len: u64 = client
        .request("blob", &"x".repeat(n), WAIT)
        .await
        .expect("a frame of exactly the limit is accepted");
    assert_eq!(len, n as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_frame_then_eof_ends_only_that_connection() {
    let (test, leaves) = start_recording_leaves().await;

    // During the handshake: no hello, no refusal, just the end.
    let mut early = RawTcpPeer::connect(test.addr).await;
    early.write_raw(&[0, 0, 0, 100, 0, 1, 2]).await;
    early.finish_writing().await;
    early.expect_eof().await;

    // After the handshake: the connection ends abnormally and leave runs.
    let mut late = RawTcpPeer::connect(test.addr).await;
    let id = late.hello(Some("late")).await;
    late.write_raw(&[0, 0, 0, 100, 3, 1, b'x']).await;
    late.finish_writing().await;
    late.expect_eof().await;
    assert_eq!(leaves.next().await, (id, codes::ABNORMAL));

    test.assert_serves_new_client().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_runs_leave_and_tells_others() {
    let (test, leaves) = start_recording_leaves().await;
    let (options, departures) = record_departures(ClientOptions::new());
    let watcher = test.connect(options).await;

    let mut peer = RawTcpPeer::connect(test.addr).await;
    let id = peer.hello(Some("dropper")).await;
    drop(peer);

    assert_eq!(leaves.next().await, (id, codes::ABNORMAL));
    assert_eq!(departures.next().await, id);
    assert!(watcher.is_connected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_frame_kind_closes_with_unknown_frame_kind() {
    let (test, leaves) = start_recording_leaves().await;

    let mut early = RawTcpPeer::connect(test.addr).await;
    // The first kind byte past the ones this version knows.
    early.write_frame(&[FRAME_KINDS, 0, 0]).await;
    assert_eq!(early.expect_refuse().await.code, codes::UNKNOWN_FRAME_KIND);

    let mut late = RawTcpPeer::connect(test.addr).await;
    let id = late.hello(None).await;
    // A varint continuation byte: a kind number of two bytes or more.
    late.write_frame(&[0x80, 0x01, 7]).await;
    assert_eq!(late.expect_close().await.code, codes::UNKNOWN_FRAME_KIND);
    assert_eq!(leaves.next().await, (id, codes::UNKNOWN_FRAME_KIND));

    test.assert_serves_new_client().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_or_misplaced_frames_after_the_handshake_close_with_protocol_error() {
    let test = start().await;
    let misplaced = [
        // Garbage of a known kind (an event whose command runs past the end).
        vec![FrameKind::Event.number(), 50, b'a'],
        // Trailing bytes after a valid ping.
        [Frame::Ping { nonce: 1 }.encode().to_vec(), vec![0]].concat(),
        // A second hello.
        Frame::Hello {
            version: PROTOCOL_VERSION,
            name: None,
            group: None,
            auth: None,
        }
        .encode()
        .to_vec(),
        // A server-to-client kind.
        Frame::Refuse {
            code: 1000,
            reason: "",
        }
        .encode()
        .to_vec(),
    ];
    for frame in misplaced {
        let mut peer = RawTcpPeer::connect(test.addr).await;
        peer.hello(None).await;
        peer.write_frame(&frame).await;
        let close = peer.expect_close().await;
        assert_eq!(close.code, codes::PROTOCOL_ERROR, "for {frame:?}: {close}");
    }
    test.assert_serves_new_client().await;
}

transport_tests! {
    /// A plain event whose payload does not fit the handler's type is
    /// rejected: the sender gets a "rejected" event with BadPayload, the
    /// handler does not run, and the connection stays up.
    async fn payload_that_does_not_fit_is_rejected_and_the_connection_stays(t: Transport) {
        let moves = Probe::new("move");
        let rejections = Probe::new("rejected");
        let server = Server::new();
        let seen = moves.clone();
        server.on("move", move |Data(m): Data<Move>| {
            seen.push(m);
            async {}
        });
        let test = TestServer::start(t, server).await;
        let seen = rejections.clone();
        let options = ClientOptions::new().on("rejected", move |Command(c): Command, r: Rejection| {
            seen.push((c.to_string(), r.code));
            async {}
        });
        let client = test.connect(options).await;

        client.send("move", "not a move").await.expect("send");
        client.send("move", &[1, 2, 3]).await.expect("send");

        let rejected = ("move".to_string(), ErrorCode::BadPayload);
        assert_eq!(rejections.take(2).await, [rejected.clone(), rejected]);
        client.send("move", &Move::new(1, 1, "ok")).await.expect("send");
        assert_eq!(moves.next().await, Move::new(1, 1, "ok"));
        assert!(client.is_connected());
    }
}
