//! A deliberately broken WebSocket endpoint, for the browser transport's
//! error paths: it reads the client's hello, then misbehaves according to
//! the request path. It speaks through the shared raw WebSocket peer, as a
//! fake server.
//!
//! | path | what it does |
//! |---|---|
//! | `/text` | sends a text message (hisock frames are binary) |
//! | `/close` | closes with code 4321, reason "raw close", instead of answering |
//! | `/welcome-then-close` | welcomes the client, then closes with 4321 without a hisock `Close` frame |
//! | `/count-messages` | ignores an offer of batches (PROTOCOL.md section 1.2) as an older server does, welcomes the client, then counts the events it sends and the batches they came in; answers a request `done` with `[events, batches]` |
//! | `/count-messages-batched` | the same, agreeing on batches: its welcome is a batch, and 20 `tick` events (0 to 19) follow in another |

use std::time::Duration;

use hisock::frame::Frame;
use hisock_test_support::raw::handshake;
use hisock_test_support::RawWsPeer;
use tokio::net::{TcpListener, TcpStream};

/// The close code the endpoint uses.
const CODE: u16 = 4321;
/// The close reason the endpoint uses.
const REASON: &str = "raw close";

/// Accepts connections forever, each on its own task. A connection that
/// fails panics its task only (the raw peer's way of failing), never the
/// server.
pub async fn serve(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(misbehave(stream));
            }
            Err(err) => {
                tracing::warn!(%err, "raw endpoint accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn misbehave(stream: TcpStream) {
    let (mut peer, path, batches) =
        RawWsPeer::accept_batches(stream, |path| path == "/count-messages-batched").await;
    if path == "/count-messages-batched" && !batches {
        // The client did not offer batches: it fails its test.
        return peer.close_with(CODE, "batches were not offered").await;
    }
    if path.starts_with("/count-messages") {
        return count_messages(peer, batches).await;
    }
    // The client's hello; its content does not matter here.
    let _ = peer.read_frame().await;
    match path.as_str() {
        "/text" => {
            peer.send_text("this is not a hisock frame").await;
            // The client closes; let its closing handshake finish.
            peer.read_until_closed().await;
        }
        "/welcome-then-close" => {
            peer.send(&handshake::fake_welcome()).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            peer.close_with(CODE, REASON).await;
        }
        _ => peer.close_with(CODE, REASON).await,
    }
}

/// `/count-messages` and `/count-messages-batched` (see the module docs).
async fn count_messages(mut peer: RawWsPeer, batches: bool) {
    // The hello (alone: a client sends no batch before the welcome).
    let _ = peer.read_frame().await;
    if !batches {
        peer.send(&handshake::fake_welcome()).await;
    } else {
        // A first message that is a batch: the agreement.
        peer.send_batch(&[handshake::fake_welcome()]).await;
        let payloads: Vec<[u8; 1]> = (0..20).map(|n| [n]).collect();
        let ticks: Vec<Frame> = payloads
            .iter()
            .map(|payload| Frame::Event {
                command: "tick",
                request_id: 0,
                payload,
            })
            .collect();
        peer.send_batch(&ticks).await;
    }
    let (mut events, mut batches_seen) = (0u8, 0u8);
    while let Some((frames, was_batch)) = peer.read_frames().await {
        batches_seen += u8::from(was_batch);
        for frame in frames {
            match Frame::decode(&frame) {
                Ok(Frame::Event {
                    command: "done",
                    request_id,
                    ..
                }) => {
                    // MessagePack [events, batches] (both below 128).
                    let payload = [0x92, events, batches_seen];
                    peer.send(&Frame::Reply {
                        request_id,
                        payload: &payload,
                    })
                    .await;
                }
                Ok(Frame::Event { .. }) => events += 1,
                _ => {}
            }
        }
    }
}
