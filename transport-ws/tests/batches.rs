//! Batches (PROTOCOL.md section 1.2): a client that offers them (the query
//! parameter `hisock-batch=1`) gets them: the server's first message is a
//! batch, the client may send several frames in one message, and gets the
//! frames the server writes at once in one message; a client that does not
//! offer them sees one frame per message, as before.
//!
//! The tests run on tokio's current-thread runtime: what a test emits in a
//! loop is all queued before the server's writer runs, so the writer finds
//! it together (and batches it) every time.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hisock::frame::Frame;
use hisock::{codes, ClientInfo, Data, Server};
use hisock_test_support::{RawWsPeer, Transport, WsClosed};

const MAX_FRAME_LEN: usize = 1024;

/// A server whose `sink` handler records each number it gets, in order,
/// and whose `count` request answers how many it has.
async fn recording_server() -> (Server, Arc<Mutex<Vec<u8>>>, std::net::SocketAddr) {
    let server = Server::builder().max_frame_len(MAX_FRAME_LEN).build();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    server.on("sink", move |Data(n): Data<u8>| {
        sink.lock().expect("lock").push(n);
        async {}
    });
    let count = seen.clone();
    server.on("count", move || {
        let n = count.lock().expect("lock").len() as u8;
        async move { n }
    });
    // A greeting right after the handshake: it must come after the
    // welcome, in a message of its own.
    server.on("join", |who: ClientInfo, server: Server| async move {
        let _ = server.to_client(who.id).emit("greeting", "hello");
    });
    let addr = Transport::Ws.listen(&server).await;
    (server, seen, addr)
}

/// An event frame carrying `n` (a MessagePack positive fixint).
fn event<'a>(command: &'a str, request_id: u64, payload: &'a [u8]) -> Frame<'a> {
    Frame::Event {
        command,
        request_id,
        payload,
    }
}

/// Completes the hisock handshake on a connection that offered batches;
/// returns the client id.
async fn hello(peer: &mut RawWsPeer) -> u64 {
    peer.send(&hisock_test_support::raw::handshake::hello(Some("batcher")))
        .await;
    let (frames, was_batch) = peer.read_frames().await.expect("an answer to the hello");
    assert!(
        was_batch,
        "the server agrees with a first message that is a batch"
    );
    assert_eq!(frames.len(), 1, "the welcome alone");
    match Frame::decode(&frames[0]).expect("the answer decodes") {
        Frame::Welcome { client_id, .. } => client_id,
        other => panic!("expected a welcome, got {other:?}"),
    }
}

/// Reads frames (split from batches) until `want` events of `command`
/// arrived; returns their payloads and how many messages were batches.
async fn read_events(peer: &mut RawWsPeer, command: &str, want: usize) -> (Vec<Bytes>, usize) {
    let (mut payloads, mut batches) = (Vec::new(), 0);
    while payloads.len() < want {
        let (frames, was_batch) = peer.read_frames().await.expect("frames, not a hang-up");
        batches += usize::from(was_batch);
        for frame in frames {
            if let Ok(Frame::Event {
                command: got,
                payload,
                ..
            }) = Frame::decode(&frame)
            {
                if got == command {
                    payloads.push(Bytes::copy_from_slice(payload));
                }
            }
        }
    }
    (payloads, batches)
}

#[tokio::test]
async fn a_client_that_offers_batches_gets_them_both_ways_in_order() {
    let (server, seen, addr) = recording_server().await;
    let mut peer = RawWsPeer::connect_offering_batches(addr, "/").await;
    let id = hello(&mut peer).await;

    // 50 events in one message (650 bytes: a batch is within the frame
    // limit as a whole), then a request alone: handled in order.
    let payloads: Vec<[u8; 1]> = (0..50).map(|n| [n]).collect();
    let events: Vec<Frame> = payloads.iter().map(|p| event("sink", 0, p)).collect();
    peer.send_batch(&events).await;
    peer.send(&event("count", 1, &[0xc0])).await;
    loop {
        let (frames, _) = peer.read_frames().await.expect("the reply");
        let reply = frames.iter().find_map(|frame| match Frame::decode(frame) {
            Ok(Frame::Reply {
                request_id: 1,
                payload,
            }) => Some(payload.to_vec()),
            _ => None,
        });
        if let Some(reply) = reply {
            assert_eq!(reply, [50]);
            break;
        }
    }
    assert_eq!(*seen.lock().expect("lock"), (0..50).collect::<Vec<u8>>());

    // What the server queues at once leaves in batches, in order.
    for n in 0..120u8 {
        server.to_client(id).emit("tick", n).expect("queued");
    }
    let (ticks, batches) = read_events(&mut peer, "tick", 120).await;
    let expected: Vec<Bytes> = (0..120u8).map(|n| Bytes::from(vec![n])).collect();
    assert_eq!(ticks, expected);
    assert!(batches >= 1, "120 frames queued at once came in batches");
    drop(peer);
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_does_not_offer_batches_gets_one_frame_per_message() {
    let (server, _, addr) = recording_server().await;
    let (mut peer, id) = RawWsPeer::join(addr, "plain").await;
    for n in 0..120u8 {
        server.to_client(id).emit("tick", n).expect("queued");
    }
    let (ticks, batches) = read_events(&mut peer, "tick", 120).await;
    assert_eq!(ticks.len(), 120);
    assert_eq!(batches, 0, "no batch without the offer");

    // Without the agreement a batch is no frame: its first byte is an
    // unknown frame kind (PROTOCOL.md section 11).
    let payload = [1];
    peer.send_batch(&[event("sink", 0, &payload), event("sink", 0, &payload)])
        .await;
    assert_eq!(
        peer.read_until_closed().await,
        WsClosed {
            hisock_code: Some(codes::UNKNOWN_FRAME_KIND),
            ws_code: Some(codes::UNKNOWN_FRAME_KIND),
        }
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_malformed_batch_closes_with_1002_and_a_frame_too_big_in_one_with_1009() {
    let (server, seen, addr) = recording_server().await;
    // A whole event, then a length that runs past the end of the message.
    let mut peer = RawWsPeer::connect_offering_batches(addr, "/").await;
    hello(&mut peer).await;
    let mut batch = vec![0xff, 0, 0, 0, 0];
    let whole = event("sink", 0, &[7]).encode();
    batch[4] = whole.len() as u8;
    batch.extend_from_slice(&whole);
    batch.extend_from_slice(&[0, 0, 0, 9, 0x0e]);
    peer.send_binary(batch).await;
    assert_eq!(
        peer.read_until_closed().await,
        WsClosed {
            hisock_code: Some(codes::PROTOCOL_ERROR),
            ws_code: Some(codes::PROTOCOL_ERROR),
        }
    );
    // The frame before the fault was handled.
    assert_eq!(*seen.lock().expect("lock"), [7]);

    // A frame over the server's limit announced inside a batch.
    let mut peer = RawWsPeer::connect_offering_batches(addr, "/").await;
    hello(&mut peer).await;
    let too_big = (MAX_FRAME_LEN as u32 + 1).to_be_bytes();
    peer.send_binary(vec![
        0xff, too_big[0], too_big[1], too_big[2], too_big[3], 0x0e,
    ])
    .await;
    assert_eq!(
        peer.read_until_closed().await,
        WsClosed {
            hisock_code: Some(codes::TOO_BIG),
            ws_code: Some(codes::TOO_BIG),
        }
    );
    server.shutdown().await;
}
