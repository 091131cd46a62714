//! hisock errors as JavaScript `Error`s: the message is the Rust error's
//! text; `name` is `"HisockError"`; `kind` says what went wrong in one word
//! and `code`, where there is one, is the close code (closed, refused; for
//! a limit refused locally, the code the server would have closed with) or
//! the remote error code (1 no handler, 2 bad payload, 3 handler failed, 4
//! refused, 5 shutting down).

use hisock::{Error, TransportError};
use js_sys::Reflect;
use wasm_bindgen::JsValue;

/// A JS `Error` for a hisock error.
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
        Error::LimitExceeded(exceeded) => ("limit", Some(exceeded.limit.close_code())),
        Error::InvalidAddress { .. } => ("invalid_address", None),
        Error::Transport(TransportError::FrameTooBig { .. }) => ("too_big", None),
        Error::Transport(_) => ("transport", None),
        _ => ("protocol", None),
    };
    make_error(&err.to_string(), kind, code)
}

/// A JS `Error` for a wrong argument (the caller's mistake).
pub fn argument_error(message: &str) -> JsValue {
    make_error(message, "argument", None)
}

fn make_error(message: &str, kind: &str, code: Option<u16>) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("HisockError");
    let _ = Reflect::set(&error, &"kind".into(), &kind.into());
    if let Some(code) = code {
        let _ = Reflect::set(&error, &"code".into(), &JsValue::from(code));
    }
    error.into()
}
