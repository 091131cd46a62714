//! hisock errors as JavaScript errors: instances of the `HisockError` class
//! (`errors.js`, a subclass of `Error`). The message is the Rust error's
//! text; `kind` says what went wrong in one word and `code`, where there is
//! one, is the close code (closed, refused; for a limit refused locally,
//! the code the server would have closed with) or the remote error code (1
//! no handler, 2 bad payload, 3 handler failed, 4 refused, 5 shutting down).
//! A failed connect is classified in `errors.js` (`connectError`).

use hisock::{Error, TransportError};
use js_sys::Promise;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

#[wasm_bindgen(module = "/src/js/errors.js")]
extern "C" {
    /// `new HisockError(message, kind, code)`.
    #[wasm_bindgen(js_name = HisockError)]
    type JsHisockError;
    #[wasm_bindgen(constructor, js_class = HisockError)]
    fn new(message: &str, kind: &str, code: Option<u16>) -> JsHisockError;

    /// Rejects with the `HisockError` of a connect to `url` whose socket
    /// closed before it opened (`waited_ms` 0; probes the URL over HTTP for
    /// at most `probe_ms`) or did not open within `waited_ms`.
    #[wasm_bindgen(js_name = connectError)]
    pub fn connect_error(url: &str, waited_ms: u32, probe_ms: u32) -> Promise;

    /// Logs a rejection (`{ command, code, message }`) nobody listens to.
    #[wasm_bindgen(js_name = warnRejected)]
    pub fn warn_rejected(rejection: &JsValue);
}

/// A JS `HisockError` for a hisock error.
pub fn hisock_error(err: &Error) -> JsValue {
    let (kind, code) = match err {
        Error::Timeout(_) => ("timeout", None),
        Error::Closed(reason) => ("closed", Some(reason.code)),
        Error::Transport(TransportError::Closed(reason)) => ("closed", Some(reason.code)),
        Error::Refused(reason) => ("refused", Some(reason.code)),
        Error::Remote { code, .. } => ("remote", Some(code.to_wire())),
        Error::Encode(_) => ("encode", None),
        Error::Decode(_) => ("decode", None),
        Error::QueueFull { .. } => ("queue_full", None),
        // Reconnecting (PROTOCOL.md section 13.8): the offline queue was
        // full, a message waited offline past its time-to-live, or a
        // request was in flight on a session the server did not resume.
        Error::OfflineQueueFull { .. } => ("offline_queue_full", None),
        Error::Expired(_) => ("expired", None),
        Error::SessionLost { .. } => ("session_lost", None),
        Error::LimitExceeded(exceeded) => ("limit", Some(exceeded.limit.close_code())),
        Error::InvalidAddress { .. } => ("invalid_address", None),
        Error::Transport(TransportError::FrameTooBig { .. }) => ("too_big", None),
        Error::Transport(_) => ("transport", None),
        _ => ("protocol", None),
    };
    make_error(&err.to_string(), kind, code)
}

/// A JS `HisockError` for a wrong argument (the caller's mistake).
pub fn argument_error(message: &str) -> JsValue {
    make_error(message, "argument", None)
}

fn make_error(message: &str, kind: &str, code: Option<u16>) -> JsValue {
    JsHisockError::new(message, kind, code).into()
}
