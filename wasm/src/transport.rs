//! The browser transport: a `web_sys::WebSocket` as a hisock
//! [`Connection`]. One binary message is one frame, or a batch of them
//! (below); text messages are
//! refused (code 1003, as PROTOCOL.md says).
//!
//! The browser's WebSocket has no backpressure: `send` never blocks and the
//! browser buffers without limit. The sink therefore watches
//! `bufferedAmount` and makes `poll_ready` wait (re-checking on a short
//! timer) while more than [`HIGH_WATER_BYTES`] are still unsent.
//!
//! Batches (PROTOCOL.md section 1.2): the socket's URL offers them (the
//! query parameter `hisock-batch=1`). When the server agrees (its first
//! message is a batch), received batches are split into their frames, and,
//! once the `Welcome` has said how large a message the server takes, the
//! sink (`sink.rs`) sends several frames per message. With a server that
//! does not agree, one message per frame, at once.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures::{FutureExt, Stream};
use gloo_timers::future::TimeoutFuture;
use hisock::close::{codes, CloseReason};
use hisock::frame::{Frame, FrameKind};
use hisock::protocol::batch;
use hisock::{Connection, TransportError, TransportKind};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

/// Largest frame the browser client accepts from its server (the same
/// default as the native clients). Larger messages end the connection with
/// 1009 before they are copied into wasm memory.
pub use hisock::frame::DEFAULT_MAX_FRAME_LEN;

/// While the browser holds more than this many unsent bytes, the sink
/// reports "not ready" so the client's outgoing queue (bounded) fills
/// instead of the browser's (unbounded).
pub const HIGH_WATER_BYTES: u32 = 1024 * 1024;

/// How often a waiting sink re-reads `bufferedAmount`: the browser fires no
/// event when it drains.
const DRAIN_POLL_MS: u32 = 5;

/// The code a browser reports for a close frame without a code (RFC 6455
/// §7.1.5).
const NO_STATUS: u16 = 1005;

/// What the event callbacks hand to the stream half.
#[derive(Default)]
struct Inbound {
    frames: VecDeque<Result<Bytes, TransportError>>,
    /// Set by the open event (while [`open`] waits for it).
    opened: bool,
    /// The server agreed on batches: its first message was one.
    batches: bool,
    /// A message has arrived (so `batches` is known).
    heard: bool,
    /// Set by the close event: no more frames will come.
    closed: Option<CloseReason>,
    /// The stream has reported the close (or an error) and ends now.
    ended: bool,
    waker: Option<Waker>,
}

impl Inbound {
    fn push(&mut self, item: Result<Bytes, TransportError>) {
        self.frames.push_back(item);
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

type Shared = Rc<RefCell<Inbound>>;

/// Every socket event handler has this one type (the event is cast where it
/// is read): each closure signature costs its own glue in the `.wasm` and
/// the JS.
type EventClosure = Closure<dyn FnMut(JsValue)>;

/// The receiving half: frames from the server, then the end of the stream
/// (normal close) or [`TransportError::Closed`] with the `CloseEvent`'s code
/// and reason (any other close, 1006 when the connection broke).
pub struct WsFrameStream {
    ws: WebSocket,
    inbound: Shared,
    // Kept alive as long as the socket may call them; unset on drop.
    _on_message: EventClosure,
    _on_close: EventClosure,
}

/// Opens a WebSocket to `url` and waits (at most `open_timeout`) until it is
/// open. The result is a [`Connection`] ready for
/// [`Client::handshake`](hisock::Client::handshake).
///
/// Errors: [`hisock::Error::InvalidAddress`] for a URL that is not `ws://`
/// or `wss://` or that the browser rejects (malformed, a blocked port,
/// `ws:` from an `https:` page), [`hisock::Error::Timeout`], and
/// [`TransportError::Other`] when the socket closed before it opened: the
/// browser reports code 1006 and hides the reason from scripts. (The npm
/// package's `connect` finds out more with an HTTP probe, see
/// `src/js/errors.js`.)
pub async fn open(
    url: &str,
    max_frame_len: usize,
    open_timeout: Duration,
) -> hisock::Result<Connection> {
    try_open(url, max_frame_len, open_timeout)
        .await
        .map_err(|not_opened| match not_opened {
            NotOpened::Failed => TransportError::Other(format!(
                "cannot connect to {url}: the WebSocket closed before it opened (a browser does \
                 not tell why: nothing accepts connections there, no WebSocket endpoint at that \
                 address, or a TLS failure)"
            ))
            .into(),
            NotOpened::TimedOut => hisock::Error::Timeout(open_timeout),
            NotOpened::Refused(err) => err,
        })
}

/// Why [`try_open`] has no connection.
pub(crate) enum NotOpened {
    /// The URL was refused before anything was sent.
    Refused(hisock::Error),
    /// The socket closed before it opened (the browser does not say why).
    Failed,
    /// The socket neither opened nor closed within the timeout.
    TimedOut,
}

/// [`open`], telling a socket that failed apart from one that timed out.
pub(crate) async fn try_open(
    url: &str,
    max_frame_len: usize,
    open_timeout: Duration,
) -> Result<Connection, NotOpened> {
    let invalid = |reason: String| {
        NotOpened::Refused(hisock::Error::InvalidAddress {
            input: url.to_owned(),
            reason,
        })
    };
    if !is_websocket_url(url) {
        return Err(invalid(
            "a browser connects to a WebSocket URL, ws://host:port/path or wss://host:port/path"
                .into(),
        ));
    }
    let ws = WebSocket::new(&batch::offer(url)).map_err(|err| invalid(js_message(&err)))?;
    let (conn, inbound) = wire(ws.clone(), max_frame_len);
    // Wait for `open` or `close` (which the connection's own close handler
    // records), whichever comes first: no channel, no second close handler.
    let on_open = {
        let inbound = inbound.clone();
        EventClosure::new(move |_| {
            let mut inbound = inbound.borrow_mut();
            inbound.opened = true;
            if let Some(waker) = inbound.waker.take() {
                waker.wake();
            }
        })
    };
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    let mut timer = TimeoutFuture::new(millis(open_timeout));
    let opened = poll_fn(|cx| {
        let mut state = inbound.borrow_mut();
        if state.opened {
            return Poll::Ready(Ok(()));
        }
        if state.closed.is_some() {
            return Poll::Ready(Err(NotOpened::Failed));
        }
        state.waker = Some(cx.waker().clone());
        drop(state);
        timer.poll_unpin(cx).map(|()| Err(NotOpened::TimedOut))
    })
    .await;
    ws.set_onopen(None);
    // On failure, dropping `conn` unhooks the handlers and closes the
    // socket if it is still connecting.
    opened.map(|()| conn)
}

/// Whether `url` has the scheme `ws` or `wss`. Browsers resolve anything
/// else against the page's URL (`"127.0.0.1:7071"` is a relative path
/// there) or turn `http:` into `ws:`: a connect somewhere the caller did
/// not mean.
fn is_websocket_url(url: &str) -> bool {
    // Byte by byte: a `&str` pattern (`split_once("://")`) would bring
    // the substring searcher into the .wasm, about 5 KB gzipped.
    let url = url.as_bytes();
    let Some(rest) = url
        .get(2..)
        .filter(|_| url[..2].eq_ignore_ascii_case(b"ws"))
    else {
        return false;
    };
    let rest = match rest.first() {
        Some(b's' | b'S') => &rest[1..],
        _ => rest,
    };
    rest.starts_with(b"://")
}

/// Wraps an already **open** WebSocket as a [`Connection`]. Sets its
/// `binaryType` to `arraybuffer` and takes over its `onmessage` and
/// `onclose` handlers. If its URL offered batches and the server agrees,
/// the connection carries them (module docs).
pub fn connection(ws: WebSocket, max_frame_len: usize) -> Connection {
    wire(ws, max_frame_len).0
}

/// The sending half, in a file of its own.
mod sink;
use sink::Held;
pub use sink::WsFrameSink;

/// [`connection`], also returning the state its event handlers fill.
fn wire(ws: WebSocket, max_frame_len: usize) -> (Connection, Shared) {
    ws.set_binary_type(BinaryType::Arraybuffer);
    let inbound: Shared = Rc::default();

    let held: Rc<RefCell<Held>> = Rc::default();
    let on_message = {
        let (inbound, held) = (inbound.clone(), held.clone());
        EventClosure::new(move |event: JsValue| {
            let item = frame_of(event.unchecked_ref(), max_frame_len);
            let mut inbound = inbound.borrow_mut();
            let mut held = held.borrow_mut();
            // A task of its own: the next frames written may go at once.
            held.sent_at_once = false;
            if !inbound.heard {
                inbound.heard = true;
                inbound.batches = item.as_ref().is_ok_and(|m| batch::is_batch(m));
            }
            let batches = inbound.batches;
            let mut received = |frame: Result<Bytes, TransportError>| {
                if let (Ok(frame), true) = (&frame, batches && held.limit == 0) {
                    if let Some(limit) = batch_limit_in(frame) {
                        held.limit = limit;
                    }
                }
                inbound.push(frame);
            };
            match item {
                Ok(message) if batches && batch::is_batch(&message) => {
                    // Every frame of the batch, or those before a malformed
                    // one and its error (which ends the connection).
                    let mut rest = message.slice(1..);
                    loop {
                        let frame = batch::next_frame(&mut rest, max_frame_len);
                        let last = frame.is_err() || rest.is_empty();
                        received(frame);
                        if last {
                            break;
                        }
                    }
                }
                item => received(item),
            }
        })
    };
    let on_close = {
        let inbound = inbound.clone();
        EventClosure::new(move |event: JsValue| {
            let mut inbound = inbound.borrow_mut();
            inbound.closed = Some(close_reason_of(event.unchecked_ref()));
            if let Some(waker) = inbound.waker.take() {
                waker.wake();
            }
        })
    };
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));

    let stream = WsFrameStream {
        ws: ws.clone(),
        inbound: inbound.clone(),
        _on_message: on_message,
        _on_close: on_close,
    };
    // The page's TLS is the browser's: a `wss:` socket is encrypted.
    let kind = match ws.url().starts_with("wss:") {
        true => TransportKind::Wss,
        false => TransportKind::Ws,
    };
    let sink = WsFrameSink::new(ws, inbound.clone(), held);
    (Connection::new(stream, sink, kind), inbound)
}

/// The most one batch to the server may hold, if `frame` is its `Welcome`.
fn batch_limit_in(frame: &[u8]) -> Option<usize> {
    if frame.first() != Some(&FrameKind::Welcome.number()) {
        return None;
    }
    match Frame::decode(frame) {
        Ok(Frame::Welcome { max_frame_len, .. }) => Some(batch::client_limit(max_frame_len)),
        _ => None,
    }
}

/// One message event as a frame: binary data is copied out of the
/// `ArrayBuffer` (after the size check); text is refused.
fn frame_of(event: &MessageEvent, max_frame_len: usize) -> Result<Bytes, TransportError> {
    let data = event.data();
    match data.dyn_into::<js_sys::ArrayBuffer>() {
        Ok(buffer) => {
            let len = buffer.byte_length() as usize;
            if len > max_frame_len {
                return Err(TransportError::FrameTooBig {
                    len,
                    max: max_frame_len,
                });
            }
            // `resize` rather than `vec![0; len]`: the .wasm has it already
            // (77 bytes gzipped less than the zeroed allocation).
            #[allow(clippy::slow_vector_initialization)]
            let mut frame = Vec::new();
            frame.resize(len, 0);
            copy_bytes(&mut frame, &js_sys::Uint8Array::new(&buffer));
            Ok(Bytes::from(frame))
        }
        Err(_) => Err(TransportError::Unsupported(CloseReason::new(
            codes::UNSUPPORTED_DATA,
            "text messages are not hisock frames",
        ))),
    }
}

fn close_reason_of(event: &CloseEvent) -> CloseReason {
    CloseReason::new(event.code(), event.reason())
}

/// The text of a JS exception, for error messages.
pub(crate) fn js_message(err: &JsValue) -> String {
    if let Some(err) = err.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    err.as_string()
        .or_else(|| js_string(err).ok())
        .unwrap_or_else(|| "an exception without text".into())
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// JS's `String(value)`: the text of any thrown value (wasm-bindgen's
    /// `Debug` of a `JsValue` would do, at the cost of a large JS helper).
    #[wasm_bindgen(js_name = String, catch)]
    fn js_string(value: &JsValue) -> Result<String, JsValue>;

    /// `dst.set(src)` on a view of `dst`: copies a typed array of
    /// `dst.len()` bytes into `dst`. What js-sys's `Uint8Array::copy_to`
    /// and `to_vec` do, without their length assertion (every caller sizes
    /// `dst` to the array), whose `usize` formatting costs the `.wasm`.
    #[wasm_bindgen(js_namespace = Uint8Array, js_name = "prototype.set.call")]
    pub(crate) fn copy_bytes(dst: &mut [u8], src: &js_sys::Uint8Array);
}

impl Stream for WsFrameStream {
    type Item = Result<Bytes, TransportError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut inbound = self.inbound.borrow_mut();
        if let Some(item) = inbound.frames.pop_front() {
            return Poll::Ready(Some(item));
        }
        if inbound.ended {
            return Poll::Ready(None);
        }
        if let Some(reason) = inbound.closed.clone() {
            // Every frame before the close event has been delivered. A
            // normal close (or one without a code) is a clean end, as in
            // hisock-ws; any other code is reported once, then the stream
            // ends.
            inbound.ended = true;
            if reason.code == codes::NORMAL || reason.code == NO_STATUS {
                return Poll::Ready(None);
            }
            return Poll::Ready(Some(Err(TransportError::Closed(reason))));
        }
        inbound.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for WsFrameStream {
    fn drop(&mut self) {
        // The closures die with this struct; the socket must not call them
        // afterwards. Closing the socket is the sink's job.
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
    }
}

/// `duration` in whole milliseconds for `setTimeout`, at most `i32::MAX`
/// (browsers fire longer timers at once).
pub(crate) fn millis(duration: Duration) -> u32 {
    duration.as_millis().min(i32::MAX as u128) as u32
}
