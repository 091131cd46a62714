//! What a misbehaving WebSocket peer gets: a close with the right code, in
//! the hisock close frame and in the WebSocket close frame, while everyone
//! else keeps being served. Also: RFC 6455 pings and fragmented messages
//! work at the WebSocket level.

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use hisock::frame::{Frame, FrameKind, PROTOCOL_VERSION};
use hisock::{codes, Client, ClientOptions, Data, Server};
use hisock_test_support::{within, ws_url, Probe, RawWsPeer, Transport, WsClosed, WAIT};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data as OpData, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame as WsFrame;
use tokio_tungstenite::tungstenite::Message;

const MAX_FRAME_LEN: usize = 1024;

/// A server with a small frame limit, a well-behaved WebSocket client and a
/// raw one that has joined.
async fn setup() -> (Server, Client, RawWsPeer, u64, std::net::SocketAddr) {
    let server = Server::builder().max_frame_len(MAX_FRAME_LEN).build();
    server.on("echo", |Data(text): Data<String>| async move { text });
    let ws = Transport::Ws.listen(&server).await;
    let good = hisock_ws::connect(&ws_url(ws), ClientOptions::new().name("good"))
        .await
        .expect("good client connects");
    let (raw, raw_id) = RawWsPeer::join(ws, "raw").await;
    (server, good, raw, raw_id, ws)
}

/// The offender is gone from the server; the good client still gets answers.
async fn only_the_offender_is_gone(server: &Server, good: &Client, raw_id: u64) {
    within("offender leaves the registry", async {
        while server.client(raw_id).is_some() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    let echoed: String = good
        .request("echo", "still here", WAIT)
        .await
        .expect("good client still served");
    assert_eq!(echoed, "still here");
    assert!(server.client(good.id()).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_binary_message_closes_only_that_peer_with_protocol_error() {
    let (server, good, mut raw, raw_id, _) = setup().await;
    // An Event kind byte followed by a truncated command string.
    raw.send_binary(vec![FrameKind::Event.number(), 0x7f, b'x'])
        .await;
    assert_eq!(
        raw.read_until_closed().await,
        WsClosed {
            hisock_code: Some(codes::PROTOCOL_ERROR),
            ws_code: Some(codes::PROTOCOL_ERROR),
        }
    );
    only_the_offender_is_gone(&server, &good, raw_id).await;
    good.close().await;
    within("shutdown", server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_frame_kind_closes_only_that_peer_with_4007() {
    let (server, good, mut raw, raw_id, _) = setup().await;
    raw.send_binary(Bytes::from_static(&[0x7e, 1, 2, 3])).await;
    assert_eq!(
        raw.read_until_closed().await,
        WsClosed {
            hisock_code: Some(codes::UNKNOWN_FRAME_KIND),
            ws_code: Some(codes::UNKNOWN_FRAME_KIND),
        }
    );
    only_the_offender_is_gone(&server, &good, raw_id).await;
    good.close().await;
    within("shutdown", server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_message_closes_only_that_peer_with_1009() {
    let (server, good, mut raw, raw_id, _) = setup().await;
    // Small enough to sit in the server's read buffer whole, so closing the
    // socket never races unread bytes into a TCP reset.
    raw.send_binary(vec![0u8; MAX_FRAME_LEN + 500]).await;
    assert_eq!(
        raw.read_until_closed().await,
        WsClosed {
            hisock_code: Some(codes::TOO_BIG),
            ws_code: Some(codes::TOO_BIG),
        }
    );
    only_the_offender_is_gone(&server, &good, raw_id).await;
    good.close().await;
    within("shutdown", server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_message_closes_only_that_peer_with_1003() {
    let (server, good, mut raw, raw_id, _) = setup().await;
    raw.send_text("hello?").await;
    assert_eq!(
        raw.read_until_closed().await,
        WsClosed {
            hisock_code: Some(codes::UNSUPPORTED_DATA),
            ws_code: Some(codes::UNSUPPORTED_DATA),
        }
    );
    only_the_offender_is_gone(&server, &good, raw_id).await;
    good.close().await;
    within("shutdown", server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_message_instead_of_hello_is_refused_with_1003() {
    let server = Server::new();
    let ws = Transport::Ws.listen(&server).await;
    let mut raw = RawWsPeer::connect(ws).await;
    raw.send_text("{\"hello\": 1}").await;
    assert_eq!(
        raw.read_until_closed().await,
        WsClosed {
            hisock_code: Some(codes::UNSUPPORTED_DATA),
            ws_code: Some(codes::UNSUPPORTED_DATA),
        }
    );
    within("shutdown", server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kicked_ws_client_sees_the_kick_code_in_the_websocket_close() {
    let server = Server::new();
    let ws = Transport::Ws.listen(&server).await;
    let (mut raw, raw_id) = RawWsPeer::join(ws, "raw").await;
    server.disconnect(raw_id, "bye").expect("connected");
    assert_eq!(
        raw.read_until_closed().await,
        WsClosed {
            hisock_code: Some(codes::KICKED),
            ws_code: Some(codes::KICKED),
        }
    );
    within("shutdown", server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_pings_are_answered_and_fragmented_frames_reassembled() {
    let server = Server::new();
    let ws = Transport::Ws.listen(&server).await;
    let mut raw = RawWsPeer::connect(ws).await;

    within(
        "ping",
        raw.ws
            .send(Message::Ping(Bytes::from_static(b"are you there"))),
    )
    .await
    .expect("send ping");
    match within("pong", raw.ws.next()).await {
        Some(Ok(Message::Pong(data))) => assert_eq!(&data[..], b"are you there"),
        other => panic!("expected a pong, got {other:?}"),
    }

    // The hello, split over two WebSocket frames of one binary message.
    let hello = Frame::Hello {
        version: PROTOCOL_VERSION,
        name: Some("fragmented"),
        group: None,
        auth: None,
    }
    .encode();
    let (first, rest) = hello.split_at(3);
    let first = WsFrame::message(first.to_vec(), OpCode::Data(OpData::Binary), false);
    let rest = WsFrame::message(rest.to_vec(), OpCode::Data(OpData::Continue), true);
    within("fragments", async {
        raw.ws.feed(Message::Frame(first)).await?;
        raw.ws.feed(Message::Frame(rest)).await?;
        raw.ws.flush().await
    })
    .await
    .expect("send fragments");
    let welcome = raw.read_frame().await.expect("a welcome");
    match Frame::decode(&welcome).expect("decodes") {
        Frame::Welcome { name, .. } => assert_eq!(name, Some("fragmented")),
        other => panic!("expected a welcome, got {other:?}"),
    }
    within("shutdown", server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_close_from_peer_ends_its_session_and_runs_leave() {
    let server = Server::new();
    let leaves = Probe::<(u64, hisock::CloseReason)>::new("leave");
    let probe = leaves.clone();
    server.on(
        "leave",
        move |who: hisock::ClientInfo, reason: hisock::CloseReason| {
            let probe = probe.clone();
            async move { probe.push((who.id, reason)) }
        },
    );
    let ws = Transport::Ws.listen(&server).await;
    let (mut raw, raw_id) = RawWsPeer::join(ws, "raw").await;
    // A WebSocket close without a hisock close frame first (a browser tab
    // going away does this).
    within("close", raw.ws.close(None))
        .await
        .expect("send close");
    let (id, reason) = leaves.next().await;
    assert_eq!(id, raw_id);
    assert_eq!(reason.code, codes::ABNORMAL, "no hisock close frame came");
    assert!(server.client(raw_id).is_none());
    within("shutdown", server.shutdown()).await;
}
