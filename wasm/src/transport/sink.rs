//! The sending half of the browser transport: one binary message per
//! frame, or, with batches (PROTOCOL.md section 1.2), several frames per
//! message. The first frames written in a JS task go to `WebSocket.send` at
//! once; the ones written after them in the same task wait for its end (a
//! `setTimeout(0)`, or a full batch) and go together as one message. ("The
//! same task" as the sink can tell without a timer per send: since the last
//! message received or the last such wait. A send after a quiet spell may
//! thus wait for the end of its task too.)
//!
//! Why: a page that awaits each `send` of a loop writes one frame per
//! microtask, and one message each cost it more in Chromium's
//! `WebSocket.send` than everything else it did per event; the rate was
//! what Chromium's network process and the server do per message
//! (bench/README.md, "Browser").

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{FutureExt, Sink};
use gloo_timers::future::TimeoutFuture;
use hisock::close::{codes, CloseReason};
use hisock::protocol::batch;
use hisock::TransportError;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::WebSocket;

use super::{js_message, EventClosure, Shared, DRAIN_POLL_MS, HIGH_WATER_BYTES};

/// The sending half: one binary message per frame or batch, waiting while
/// the browser's own send buffer is over [`HIGH_WATER_BYTES`]. With
/// batches, frames written after the first ones of a JS task are sent at
/// its end (module docs).
pub struct WsFrameSink {
    ws: WebSocket,
    inbound: Shared,
    drain_timer: Option<TimeoutFuture>,
    held: Rc<RefCell<Held>>,
    /// Sends what is held at the end of the task; cleared and dropped with
    /// the sink.
    on_task_end: EventClosure,
}

/// Frames that wait for the end of the current JS task (with batches).
#[derive(Default)]
pub(super) struct Held {
    frames: batch::Builder,
    /// The `setTimeout` that ends the wait is set (its id): until it fires,
    /// flushed frames wait here.
    timer: Option<JsValue>,
    /// Frames went at once since the last message received or the last
    /// wait: the next ones wait.
    pub(super) sent_at_once: bool,
    /// The most one batch may hold: 0 (no batches) until the server's
    /// `Welcome` says how large a message it takes.
    pub(super) limit: usize,
}

/// Hands one message to the browser.
fn send(ws: &WebSocket, message: &[u8]) -> Result<(), TransportError> {
    ws.send_with_u8_array(message)
        .map_err(|err| TransportError::Other(js_message(&err)))
}

impl Held {
    /// Sends what is held, as one message.
    fn send(&mut self, ws: &WebSocket) -> Result<(), TransportError> {
        match self.frames.take() {
            Some(message) => send(ws, &message),
            None => Ok(()),
        }
    }
}

impl WsFrameSink {
    /// The sink of `ws`, whose stream half shares `inbound` and `held`.
    pub(super) fn new(ws: WebSocket, inbound: Shared, held: Rc<RefCell<Held>>) -> Self {
        let on_task_end = {
            let (ws, held) = (ws.clone(), held.clone());
            EventClosure::new(move |_| {
                let mut held = held.borrow_mut();
                held.timer = None;
                held.sent_at_once = false;
                // A socket that closed meanwhile is the reader's to report.
                let _ = held.send(&ws);
            })
        };
        Self {
            ws,
            inbound,
            drain_timer: None,
            held,
            on_task_end,
        }
    }
}

impl WsFrameSink {
    fn closed_error(&self) -> TransportError {
        let reason = self
            .inbound
            .borrow()
            .closed
            .clone()
            .unwrap_or_else(|| CloseReason::new(codes::ABNORMAL, "the WebSocket is closed"));
        TransportError::Closed(reason)
    }
}

impl Sink<Bytes> for WsFrameSink {
    type Error = TransportError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        loop {
            if self.ws.ready_state() != WebSocket::OPEN {
                return Poll::Ready(Err(self.closed_error()));
            }
            if self.ws.buffered_amount() <= HIGH_WATER_BYTES {
                self.drain_timer = None;
                return Poll::Ready(Ok(()));
            }
            let timer = self
                .drain_timer
                .get_or_insert_with(|| TimeoutFuture::new(DRAIN_POLL_MS));
            match timer.poll_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) => self.drain_timer = None,
            }
        }
    }

    fn start_send(self: Pin<&mut Self>, frame: Bytes) -> Result<(), Self::Error> {
        // `poll_ready` has just seen the socket open.
        let mut held = self.held.borrow_mut();
        let limit = held.limit;
        if limit == 0 {
            return send(&self.ws, &frame);
        }
        if held.frames.fits(&frame, limit) {
            held.frames.add(frame);
            return Ok(());
        }
        // A full batch goes now; a frame too large for one goes after it.
        held.send(&self.ws)?;
        if !batch::batchable(&frame, limit) {
            return send(&self.ws, &frame);
        }
        held.frames.add(frame);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // `send` hands the message to the browser, which sends it as soon as
        // it can. With batches, the first frames of a task go now (a lone
        // request waits for nothing); later ones in the same task wait for
        // its end.
        let mut held = self.held.borrow_mut();
        if held.frames.is_empty() || held.timer.is_some() {
            return Poll::Ready(Ok(()));
        }
        if held.sent_at_once {
            held.timer = Some(set_timeout_0(self.on_task_end.as_ref().unchecked_ref()));
            return Poll::Ready(Ok(()));
        }
        held.sent_at_once = true;
        Poll::Ready(held.send(&self.ws))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The browser sends every message already passed to `send` before
        // its close frame, so closing right away loses nothing.
        self.send_held_now();
        close_socket(&self.ws);
        Poll::Ready(Ok(()))
    }
}

impl WsFrameSink {
    /// Sends what waits for the end of the task now, and cancels that wait.
    fn send_held_now(&self) {
        let mut held = self.held.borrow_mut();
        if let Some(timer) = held.timer.take() {
            clear_timeout(&timer);
        }
        if self.ws.ready_state() == WebSocket::OPEN {
            let _ = held.send(&self.ws);
        }
    }
}

impl Drop for WsFrameSink {
    fn drop(&mut self) {
        // Also keeps the timer from calling `on_task_end` once it is gone.
        self.send_held_now();
        close_socket(&self.ws);
    }
}

fn close_socket(ws: &WebSocket) {
    let state = ws.ready_state();
    if state == WebSocket::OPEN || state == WebSocket::CONNECTING {
        let _ = ws.close_with_code_and_reason(codes::NORMAL, "client closed");
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// `setTimeout(callback, 0)`: runs `callback` in a task of its own,
    /// after the current one and its microtasks.
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout_0(callback: &js_sys::Function) -> JsValue;

    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}
