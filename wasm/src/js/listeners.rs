//! JS listeners behind the core client's handlers.
//!
//! The core client keeps one handler per event name. A JS client may add
//! several listeners per name (as with Socket.IO), so the first listener
//! for a name installs one core handler that calls all of them in order,
//! awaiting each one's promise; the last one removed uninstalls it (so
//! `recv` and the `*` listener see that command again).
//!
//! JS is only ever called from inside the handler's future, never while the
//! core routes a frame: a listener may call back into the client (`on`,
//! `send`, …) at any time.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use bytes::Bytes;
use hisock::client::reserved;
use hisock::dispatch::{IntoReply, Rejection};
use hisock::{Change, ClientInfo, CloseReason, Command, ErrorCode, RawPayload, Value};
use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::value::{from_js, to_js};
use crate::transport::js_message;

/// Listeners by event name, shared by a `HisockClient` and its handlers.
pub type Listeners = Rc<RefCell<HashMap<String, Vec<Function>>>>;

/// A handler's reply, already encoded: what the first listener returned.
struct JsReply(Result<Bytes, String>);

impl IntoReply for JsReply {
    fn into_reply(self) -> Result<Bytes, Rejection> {
        self.0
            .map_err(|message| Rejection::new(ErrorCode::HandlerFailed, message))
    }
}

/// Adds `listener` for `event`; installs the core handler for the first one.
pub fn add(client: &hisock::Client, listeners: &Listeners, event: &str, listener: Function) {
    let first = {
        let mut map = listeners.borrow_mut();
        let list = map.entry(event.to_owned()).or_default();
        list.push(listener);
        list.len() == 1
    };
    if first {
        install(client, listeners, event);
    }
}

/// Removes `listener` (or, when `None`, every listener) for `event`;
/// uninstalls the core handler when none is left.
pub fn remove(
    client: &hisock::Client,
    listeners: &Listeners,
    event: &str,
    listener: Option<&Function>,
) {
    let now_empty = {
        let mut map = listeners.borrow_mut();
        let Some(list) = map.get_mut(event) else {
            return;
        };
        match listener {
            Some(listener) => list.retain(|f| !Object::is(f, listener)),
            None => list.clear(),
        }
        let empty = list.is_empty();
        if empty {
            map.remove(event);
        }
        empty
    };
    if now_empty {
        client.off(event);
    }
}

fn install(client: &hisock::Client, listeners: &Listeners, event: &str) {
    let l = listeners.clone();
    let name: Rc<str> = Rc::from(event);
    match event {
        reserved::CLIENT_CONNECT | reserved::CLIENT_DISCONNECT => {
            client.on(event, move |info: ClientInfo| {
                notify(l.clone(), name.clone(), vec![client_info(&info)])
            });
        }
        reserved::CLIENT_NAME_CHANGE | reserved::CLIENT_GROUP_CHANGE => {
            client.on(event, move |info: ClientInfo, change: Change| {
                let change_js = object(&[
                    ("old", opt_str(change.old.as_deref())),
                    ("new", opt_str(change.new.as_deref())),
                ]);
                notify(l.clone(), name.clone(), vec![client_info(&info), change_js])
            });
        }
        reserved::FORCE_DISCONNECT => {
            client.on(event, move |reason: CloseReason| {
                notify(l.clone(), name.clone(), vec![close_info(&reason)])
            });
        }
        reserved::REJECTED => {
            client.on(
                event,
                move |Command(command): Command, rejection: Rejection| {
                    let info = object(&[
                        ("command", JsValue::from_str(&command)),
                        ("code", JsValue::from(rejection.code.to_wire())),
                        ("message", JsValue::from_str(&rejection.message)),
                    ]);
                    notify(l.clone(), name.clone(), vec![info])
                },
            );
        }
        reserved::MESSAGE => {
            // Every event, before its own listener; return values ignored.
            client.on(
                event,
                move |Command(command): Command, RawPayload(payload)| {
                    let (l, name) = (l.clone(), name.clone());
                    async move {
                        match decode(&payload) {
                            Ok(value) => {
                                notify(l, name, vec![JsValue::from_str(&command), value]).await
                            }
                            Err(err) => report(&name, &JsValue::from_str(&err)),
                        }
                    }
                },
            );
        }
        reserved::WILDCARD => {
            // Unhandled events; the first listener's return value answers
            // requests.
            client.on(
                event,
                move |Command(command): Command, RawPayload(payload)| {
                    let (l, name) = (l.clone(), name.clone());
                    async move {
                        let args = decode(&payload).map(|v| vec![JsValue::from_str(&command), v]);
                        answer(l, name, args).await
                    }
                },
            );
        }
        _ => {
            client.on(event, move |RawPayload(payload)| {
                let (l, name) = (l.clone(), name.clone());
                async move { answer(l, name, decode(&payload).map(|v| vec![v])).await }
            });
        }
    }
}

fn decode(payload: &[u8]) -> Result<JsValue, String> {
    hisock::value::decode::<Value>(payload)
        .map(|value| to_js(&value))
        .map_err(|err| err.to_string())
}

/// Runs the listeners of a reserved event. Failures go to the console: there
/// is no one to answer.
async fn notify(listeners: Listeners, name: Rc<str>, args: Vec<JsValue>) {
    let _ = run(&listeners, &name, &args).await;
}

/// Runs the listeners of a command; the first one's return value (awaited
/// if it is a promise) is the reply.
async fn answer(
    listeners: Listeners,
    name: Rc<str>,
    args: Result<Vec<JsValue>, String>,
) -> impl IntoReply {
    let args = match args {
        Ok(args) => args,
        Err(err) => return JsReply(Err(err)),
    };
    let reply = match run(&listeners, &name, &args).await {
        Ok(value) => from_js(&value)
            .map_err(|err| format!("the listener's return value cannot be sent: {err}"))
            .and_then(|value| hisock::value::encode(&value).map_err(|err| err.to_string())),
        Err(err) => Err(err),
    };
    JsReply(reply)
}

/// Calls every listener of `name` in order, awaiting returned promises.
/// Returns the first listener's result, or the first failure's message.
async fn run(listeners: &Listeners, name: &str, args: &[JsValue]) -> Result<JsValue, String> {
    // Cloned out first: a listener may add or remove listeners.
    let list: Vec<Function> = listeners.borrow().get(name).cloned().unwrap_or_default();
    let args: Array = args.iter().collect();
    let mut first: Option<JsValue> = None;
    let mut failure: Option<String> = None;
    for listener in list {
        let outcome = match listener.apply(&JsValue::NULL, &args) {
            Ok(value) => settle(value).await,
            Err(err) => Err(err),
        };
        match outcome {
            Ok(value) => {
                first.get_or_insert(value);
            }
            Err(err) => {
                report(name, &err);
                failure.get_or_insert_with(|| js_message(&err));
            }
        }
    }
    match failure {
        Some(message) => Err(message),
        None => Ok(first.unwrap_or(JsValue::UNDEFINED)),
    }
}

/// Awaits `value` if it is a promise (any thenable).
async fn settle(value: JsValue) -> Result<JsValue, JsValue> {
    let then = if value.is_object() {
        Reflect::get(&value, &JsValue::from_str("then")).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    };
    if then.is_function() {
        JsFuture::from(js_sys::Promise::resolve(&value)).await
    } else {
        Ok(value)
    }
}

fn report(name: &str, err: &JsValue) {
    web_sys::console::error_2(
        &JsValue::from_str(&format!("hisock: a listener for {name:?} failed:")),
        err,
    );
}

/// A plain object from known keys.
pub fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (key, value) in fields {
        let _ = Reflect::set(&object, &JsValue::from_str(key), value);
    }
    object.into()
}

fn opt_str(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, JsValue::from_str)
}

/// `{ id, name, group, addr, transport }`; `id` is a number (ids count up
/// from 1 and stay far below 2^53).
pub fn client_info(info: &ClientInfo) -> JsValue {
    object(&[
        ("id", JsValue::from_f64(info.id as f64)),
        ("name", opt_str(info.name())),
        ("group", opt_str(info.group())),
        (
            "addr",
            info.addr
                .map_or(JsValue::NULL, |addr| JsValue::from_str(&addr.to_string())),
        ),
        ("transport", JsValue::from_str(&info.transport.to_string())),
    ])
}

/// `{ code, reason }`.
pub fn close_info(reason: &CloseReason) -> JsValue {
    object(&[
        ("code", JsValue::from(reason.code)),
        ("reason", JsValue::from_str(&reason.reason)),
    ])
}

/// Whether `value` is a function (for argument checks).
pub fn as_function(value: &JsValue) -> Option<Function> {
    value.dyn_ref::<Function>().cloned()
}
