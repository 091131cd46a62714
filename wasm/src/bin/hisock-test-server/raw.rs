//! A deliberately broken WebSocket endpoint, for the transport's error
//! paths: it reads the client's hello, then misbehaves according to the
//! request path.
//!
//! | path | what it does |
//! |---|---|
//! | `/text` | sends a text message (hisock frames are binary) |
//! | `/close` | closes with code 4321, reason "raw close", instead of answering |
//! | `/welcome-then-close` | welcomes the client, then closes with 4321 without a hisock `Close` frame |

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use hisock::frame::Frame;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error, Message};

/// The close code the endpoint uses.
const CODE: u16 = 4321;

/// Accepts connections forever.
pub async fn serve(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(async move {
                    if let Err(err) = handle(stream).await {
                        tracing::debug!(%err, "raw endpoint connection failed");
                    }
                });
            }
            Err(err) => {
                tracing::warn!(%err, "raw endpoint accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

// The callback's error type is tungstenite's own (an HTTP response).
#[allow(clippy::result_large_err)]
async fn handle(stream: TcpStream) -> Result<(), Error> {
    let mut path = String::new();
    let callback = |request: &Request, response: Response| {
        path = request.uri().path().to_owned();
        Ok(response)
    };
    let mut ws = tokio_tungstenite::accept_hdr_async(stream, callback).await?;
    // The client's hello; its content does not matter here.
    let _ = ws.next().await;
    let close = CloseFrame {
        code: CloseCode::from(CODE),
        reason: "raw close".into(),
    };
    match path.as_str() {
        "/text" => ws.send(Message::text("this is not a hisock frame")).await?,
        "/welcome-then-close" => {
            let welcome = Frame::Welcome {
                client_id: 1,
                name: None,
                group: None,
                keepalive_interval_ms: 0,
                keepalive_timeout_ms: 0,
                max_frame_len: 1 << 20,
                addr: None,
            }
            .encode();
            ws.send(Message::binary(welcome)).await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
            ws.close(Some(close)).await?;
        }
        _ => ws.close(Some(close)).await?,
    }
    // Let the closing handshake finish (bounded: the client closes too).
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    Ok(())
}
