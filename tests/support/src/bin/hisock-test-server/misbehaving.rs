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

use std::time::Duration;

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
    let (mut peer, path) = RawWsPeer::accept(stream).await;
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
