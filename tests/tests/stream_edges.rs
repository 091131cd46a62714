//! Protocol edge cases settled in PROTOCOL.md, over every transport, with
//! raw peers sending what a hisock peer never would: a stream longer than
//! its announced `total_len` (cancelled with code 8), a stream id started
//! again after the receiver dropped it (a new stream, section 9.2), and a
//! client-only frame kind from the server (the client closes with 1002).

use bytes::Bytes;
use hisock::frame::Frame;
use hisock::{codes, ClientOptions, Error, ErrorCode, IncomingStream, Server, StreamOptions};
use hisock_test_support::{transport_tests, within, Handshake, RawPeer, TestServer};
use tokio::sync::mpsc;

/// Reads frames until a `StreamCancel` for `stream_id`; returns its code
/// and message. Acks and anything else before it are skipped.
async fn expect_cancel(peer: &mut RawPeer, stream_id: u64) -> (u16, String) {
    loop {
        let bytes = peer.read_frame().await.expect("a cancel, not a hang-up");
        match Frame::decode(&bytes).expect("server frames decode") {
            Frame::StreamCancel {
                stream_id: id,
                code,
                message,
            } if id == stream_id => return (code, message.to_owned()),
            Frame::Close { code, reason, .. } => {
                panic!("expected a cancel, got close {code}: {reason}")
            }
            _ => continue,
        }
    }
}

/// Pings and expects the pong: the connection is still up and in order.
async fn assert_still_open(peer: &mut RawPeer) {
    peer.send(&Frame::Ping { nonce: 99 }).await;
    loop {
        let bytes = peer.read_frame().await.expect("a pong, not a hang-up");
        match Frame::decode(&bytes).expect("server frames decode") {
            Frame::Pong { nonce: 99 } => return,
            Frame::Close { code, reason, .. } => {
                panic!("expected a pong, got close {code}: {reason}")
            }
            _ => continue,
        }
    }
}

fn chunk(stream_id: u64, data: &[u8]) -> Frame<'_> {
    Frame::StreamChunk { stream_id, data }
}

transport_tests! {
    /// A stream that sends more bytes than it announced is cancelled with
    /// 8 (LengthMismatch): the handler gets that error, never a longer
    /// payload, and the connection stays open.
    async fn a_stream_longer_than_announced_is_cancelled_with_length_mismatch(t: Transport) {
        let server = Server::new();
        let (tx, mut rx) = mpsc::unbounded_channel();
        server.on("upload", move |body: IncomingStream| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body.into_bytes().await);
            }
        });
        let test = TestServer::start(t, server).await;
        let mut peer = RawPeer::connect(t, test.addr).await;
        peer.hello(Some("raw")).await;

        peer.send(&Frame::StreamStart { stream_id: 1, command: "upload", total_len: Some(4) })
            .await;
        peer.send(&chunk(1, b"abc")).await;
        peer.send(&chunk(1, b"de")).await;
        peer.send(&Frame::StreamEnd { stream_id: 1, error: None }).await;

        let (code, message) = expect_cancel(&mut peer, 1).await;
        assert_eq!(ErrorCode::from_wire(code), ErrorCode::LengthMismatch);
        assert_eq!(message, "stream longer than the announced 4 bytes");
        let got = within("the handler", rx.recv()).await.expect("the handler ran");
        assert!(
            matches!(got, Err(Error::Remote { code: ErrorCode::LengthMismatch, .. })),
            "an error, not a payload of 5 bytes: {got:?}"
        );
        assert_still_open(&mut peer).await;
    }

    /// Bytes past the announced length of a stream already complete (its
    /// handler has the whole payload) are cancelled with 8 too, not
    /// ignored.
    async fn bytes_after_a_complete_stream_are_cancelled_with_length_mismatch(t: Transport) {
        let server = Server::new();
        let (tx, mut rx) = mpsc::unbounded_channel();
        server.on("upload", move |body: IncomingStream| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body.into_bytes().await);
            }
        });
        let test = TestServer::start(t, server).await;
        let mut peer = RawPeer::connect(t, test.addr).await;
        peer.hello(Some("raw")).await;

        peer.send(&Frame::StreamStart { stream_id: 1, command: "upload", total_len: Some(3) })
            .await;
        peer.send(&chunk(1, b"abc")).await;
        let got = within("the handler", rx.recv()).await.expect("the handler ran");
        assert_eq!(got.expect("complete"), Bytes::from_static(b"abc"));
        peer.send(&chunk(1, b"d")).await;

        let (code, message) = expect_cancel(&mut peer, 1).await;
        assert_eq!(ErrorCode::from_wire(code), ErrorCode::LengthMismatch);
        assert_eq!(message, "stream longer than the announced 3 bytes");
        assert_still_open(&mut peer).await;
    }

    /// PROTOCOL.md section 9.2: after the receiver dropped a stream
    /// (cancel 7) its sender may start that id again; the server opens a
    /// new stream rather than closing with 1002.
    async fn a_stream_id_the_receiver_dropped_can_be_started_again(t: Transport) {
        let server = Server::new();
        let (tx, mut rx) = mpsc::unbounded_channel();
        // Reads the first chunk, then drops the stream.
        server.on("peek", move |mut body: IncomingStream| {
            let tx = tx.clone();
            async move {
                use futures::StreamExt;
                let _ = tx.send(body.next().await.map(|c| c.ok()));
            }
        });
        let test = TestServer::start(t, server).await;
        let mut peer = RawPeer::connect(t, test.addr).await;
        peer.hello(Some("raw")).await;

        for round in [&b"first"[..], b"second"] {
            peer.send(&Frame::StreamStart { stream_id: 7, command: "peek", total_len: None })
                .await;
            peer.send(&chunk(7, round)).await;
            let (code, _) = expect_cancel(&mut peer, 7).await;
            assert_eq!(ErrorCode::from_wire(code), ErrorCode::Cancelled);
            let peeked = within("the handler", rx.recv()).await.expect("the handler ran");
            assert_eq!(peeked, Some(Some(Bytes::copy_from_slice(round))));
        }
        assert_still_open(&mut peer).await;
    }

    /// The Rust sender keeps its `total_len` promise: a source that gives
    /// more or fewer bytes than announced fails the call, and the receiving
    /// handler gets an error (the sender's abort), never a payload of the
    /// wrong length.
    async fn a_sender_whose_source_breaks_its_announced_length_fails_on_both_sides(t: Transport) {
        let server = Server::new();
        let (tx, mut rx) = mpsc::unbounded_channel();
        server.on("upload", move |body: IncomingStream| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body.into_bytes().await);
            }
        });
        let test = TestServer::start(t, server).await;
        let client = test.connect(ClientOptions::new()).await;
        for (announced, expected) in [(3, "total_len of 3 bytes"), (10, "total_len of 10 bytes")] {
            let options = StreamOptions::new().total_len(announced);
            let source = futures::stream::iter([Ok::<_, String>(Bytes::from_static(b"12345"))]);
            let sent = client.send_stream("upload", source, options);
            let err = within("the send", sent).await.expect_err("a broken promise");
            assert!(err.to_string().contains(expected), "{err}");
            let got = within("the handler", rx.recv()).await.expect("the handler ran");
            assert!(
                matches!(&got, Err(Error::Remote { code: ErrorCode::Cancelled, .. })),
                "an error, not a payload: {got:?}"
            );
        }
        assert!(client.is_connected());
    }

    /// A client that receives a client-only kind (here `SetName`) from the
    /// server closes the connection with 1002, as the server does for
    /// server-only kinds.
    async fn a_client_closes_with_protocol_error_on_a_client_only_kind(t: Transport) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let fake_server = async {
            let mut peer = RawPeer::accept(t, &listener).await;
            peer.welcome_the_hello().await;
            peer
        };
        let (client, mut peer) =
            tokio::join!(within("connect", t.connect(addr, ClientOptions::new())), fake_server);
        let client = client.expect("the client connects to the fake server");

        peer.send(&Frame::SetName { request_id: 1, name: Some("mallory") }).await;

        let closed = peer.expect_end().await;
        assert_eq!(closed.code, codes::PROTOCOL_ERROR, "{closed}");
        assert_eq!(closed.reason, "a server may not send a set_name frame here");
        let reason = within("closed", client.closed()).await;
        assert_eq!(reason.code, codes::PROTOCOL_ERROR, "{reason}");
    }
}
