//! tokio-tungstenite WebSockets as hisock connections, on either side, and
//! the server side of the upgrade with its checks.

use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use hisock::protocol::batch;
use hisock::{CloseReason, Connection, TransportError, TransportKind};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{header, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

use crate::config::WsConfig;
use crate::frames::{self, map_tungstenite_error, Received, WsError, WsMessage};
use crate::read_ahead::ReadAhead;

impl WsMessage for Message {
    fn binary(frame: Bytes) -> Self {
        Message::Binary(frame)
    }

    const FRAGMENTS: bool = true;

    fn fragment(payload: Bytes, first: bool, last: bool) -> Self {
        let opcode = match first {
            true => OpCode::Data(Data::Binary),
            false => OpCode::Data(Data::Continue),
        };
        Message::Frame(Frame::message(payload, opcode, last))
    }

    fn close(code: u16, reason: String) -> Self {
        Message::Close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        }))
    }

    fn received(self) -> Received {
        match self {
            Message::Binary(frame) => Received::Binary(frame),
            Message::Text(_) => Received::Text,
            Message::Close(frame) => Received::Close(
                frame.map(|f| CloseReason::new(u16::from(f.code), f.reason.as_str())),
            ),
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Received::Control,
        }
    }
}

impl WsError for tungstenite::Error {
    fn into_transport(self) -> Option<TransportError> {
        map_tungstenite_error!(self, tokio_tungstenite::tungstenite)
    }
}

/// Turns an established tokio-tungstenite WebSocket, client or server side,
/// into a hisock [`Connection`]: one binary message per frame (no batches:
/// those are agreed on in the upgrade, see [`accept_connection`]). Incoming
/// frames over `max_frame_len` bytes are an error
/// ([`TransportError::FrameTooBig`]); to refuse them before they are read,
/// open the WebSocket with [`WsConfig::websocket_config`] for the same
/// limit. A text message yields [`TransportError::Unsupported`] with close
/// code 1003; the peer's close frame ends the stream (code 1000 or none) or
/// yields [`TransportError::Closed`] with its code. Closing the sink sends
/// a WebSocket close frame carrying the code of the last hisock close frame
/// sent.
///
/// The addresses are unknown here: set them with
/// [`Connection::with_addrs`].
pub fn ws_connection<S>(
    ws: WebSocketStream<S>,
    max_frame_len: usize,
    kind: TransportKind,
) -> Connection
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let write_buffer_len = ws.get_config().write_buffer_size;
    frames::connection(ws, max_frame_len, write_buffer_len, false, kind)
}

/// The server side of a WebSocket upgrade on an accepted byte stream (a TCP
/// stream, or a TLS stream for `wss`): reads the HTTP upgrade request, runs
/// [`WsConfig::check_upgrade_request`] (a refusal is answered with its HTTP
/// status and reason, then the stream is closed), completes the handshake
/// with the config's buffer sizes and `max_frame_len` as the message limit,
/// and returns the connection (without addresses; see
/// [`Connection::with_addrs`]). A client that offers batches (the query
/// parameter `hisock-batch=1`) gets them: its connection carries batches
/// of frames (PROTOCOL.md section 1.2).
///
/// Errors: [`TransportError::Io`] for socket errors,
/// [`TransportError::Other`] for a request that is not a valid WebSocket
/// upgrade or was refused.
pub async fn accept_connection<S>(
    stream: S,
    config: &WsConfig,
    max_frame_len: usize,
    kind: TransportKind,
) -> Result<Connection, TransportError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let batches = AtomicBool::new(false);
    // tungstenite's callback signature; its error response is large.
    #[allow(clippy::result_large_err)]
    let check = |request: &Request, response: Response| {
        config
            .check_upgrade_request(request)
            .map_err(|(status, reason)| {
                tracing::debug!(%status, reason, "websocket upgrade refused");
                error_response(status, reason)
            })?;
        if request.uri().query().is_some_and(batch::offered) {
            batches.store(true, Ordering::Relaxed);
        }
        Ok(response)
    };
    let ws = tokio_tungstenite::accept_hdr_async_with_config(
        ReadAhead::new(stream),
        check,
        Some(config.websocket_config(max_frame_len)),
    )
    .await
    .map_err(upgrade_error)?;
    let write_buffer_len = ws.get_config().write_buffer_size;
    let batches = batches.load(Ordering::Relaxed);
    Ok(frames::connection(
        ws,
        max_frame_len,
        write_buffer_len,
        batches,
        kind,
    ))
}

/// The HTTP answer to a refused upgrade: the status, the reason as a plain
/// text body, and `Connection: close` (the stream is closed right after).
fn error_response(status: StatusCode, reason: String) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(reason.clone()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(reason.len()));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn upgrade_error(err: tungstenite::Error) -> TransportError {
    match err {
        tungstenite::Error::Io(err) => TransportError::Io(err),
        tungstenite::Error::Http(response) => TransportError::Other(format!(
            "websocket upgrade refused with HTTP {}",
            response.status()
        )),
        other => TransportError::Other(format!("websocket upgrade failed: {other}")),
    }
}
