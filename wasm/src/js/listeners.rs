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
//!
//! Every event name gets the same handler type, [`JsHandler`], which
//! implements the core's `Handler` trait itself: one copy of the handler
//! machinery in the `.wasm` instead of one per extractor signature.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use hisock::client::{reserved, ClientEvent};
use hisock::dispatch::{EventContext, FromEvent, Handler, Outcome, Rejection};
use hisock::transport::BoxFuture;
use hisock::{Change, ClientInfo, CloseReason, ConnectionChange, ErrorCode, TransportKind};
use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::error::warn_rejected;
use super::reconnect::change_info;
use super::value::{decode, encode};
use crate::transport::js_message;

/// Listeners by event name, in the order the names were first listened
/// to, shared by a `HisockClient` and its handlers. (A client listens to a
/// handful of names: a list is smaller in the `.wasm` than a hash map.)
pub type Listeners = Rc<RefCell<Vec<(String, Vec<Function>)>>>;

/// The listeners of `event` (cloned: a listener may add or remove
/// listeners while they run).
fn listeners_of(listeners: &Listeners, event: &str) -> Vec<Function> {
    listeners
        .borrow()
        .iter()
        .find(|(name, _)| name == event)
        .map(|(_, list)| list.clone())
        .unwrap_or_default()
}

/// Adds `listener` for `event`; installs the core handler for the first one.
pub fn add(client: &hisock::Client, listeners: &Listeners, event: &str, listener: Function) {
    {
        let mut map = listeners.borrow_mut();
        if let Some((_, list)) = map.iter_mut().find(|(name, _)| name == event) {
            list.push(listener);
            return;
        }
        map.push((event.to_owned(), vec![listener]));
    }
    install(client, listeners, event);
}

/// Installs the core handler that calls the listeners of `event`.
fn install(client: &hisock::Client, listeners: &Listeners, event: &str) {
    let handler = JsHandler {
        listeners: listeners.clone(),
        name: Rc::from(event),
        kind: Kind::of(event),
    };
    client.on(event, handler);
}

/// Installs the handler of `rejected` before anyone listens to it: with no
/// listener, it logs the rejection with `console.warn` (an event the server
/// could not handle must not pass unnoticed; the Rust client logs it at
/// warn level).
pub fn watch_rejections(client: &hisock::Client, listeners: &Listeners) {
    install(client, listeners, reserved::REJECTED);
}

/// Removes `listener` (or, when `None`, every listener) for `event`;
/// uninstalls the core handler when none is left (except the one of
/// `rejected`, which then warns again).
pub fn remove(
    client: &hisock::Client,
    listeners: &Listeners,
    event: &str,
    listener: Option<&Function>,
) {
    {
        let mut map = listeners.borrow_mut();
        let Some(index) = map.iter().position(|(name, _)| name == event) else {
            return;
        };
        let list = &mut map[index].1;
        match listener {
            Some(listener) => list.retain(|f| !Object::is(f, listener)),
            None => list.clear(),
        }
        if !list.is_empty() {
            return;
        }
        map.remove(index);
    }
    if event != reserved::REJECTED {
        client.off(event);
    }
}

/// What the listeners of an event name are called with.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// `client_connect`, `client_disconnect`: `(info)`.
    Client,
    /// `client_name_change`, `client_group_change`: `(info, change)`.
    ClientChange,
    /// `force_disconnect`: `(close)`.
    ForceDisconnect,
    /// `rejected`: `(rejection)`.
    Rejected,
    /// `disconnected`, `reconnecting`, `reconnected`: `(change)`.
    Connection,
    /// `message`: `(command, value)`, before the event's own listener;
    /// return values are ignored.
    Message,
    /// `*`: `(command, value)` for unhandled events; the first listener's
    /// return value answers requests.
    Wildcard,
    /// A command: `(value)`; the first listener's return value answers
    /// requests.
    Command,
}

impl Kind {
    fn of(event: &str) -> Kind {
        match event {
            reserved::CLIENT_CONNECT | reserved::CLIENT_DISCONNECT => Kind::Client,
            reserved::CLIENT_NAME_CHANGE | reserved::CLIENT_GROUP_CHANGE => Kind::ClientChange,
            reserved::FORCE_DISCONNECT => Kind::ForceDisconnect,
            reserved::REJECTED => Kind::Rejected,
            reserved::DISCONNECTED | reserved::RECONNECTING | reserved::RECONNECTED => {
                Kind::Connection
            }
            reserved::MESSAGE => Kind::Message,
            reserved::WILDCARD => Kind::Wildcard,
            _ => Kind::Command,
        }
    }

    /// Whether the first listener's return value is the reply.
    fn answers(self) -> bool {
        matches!(self, Kind::Wildcard | Kind::Command)
    }
}

/// The core handler behind all listeners of one event name.
struct JsHandler {
    listeners: Listeners,
    name: Rc<str>,
    kind: Kind,
}

/// What a handler takes out of an event when it is scheduled; it becomes
/// JS values in the handler's turn.
enum Taken {
    Client(ClientInfo, Option<Change>),
    Closed(CloseReason),
    Rejected(Arc<str>, Rejection),
    Connection(ConnectionChange),
    Payload(Arc<str>, Bytes),
}

impl Taken {
    fn of(kind: Kind, ctx: &ClientEvent) -> Result<Taken, Rejection> {
        Ok(match kind {
            Kind::Client => Taken::Client(ClientInfo::from_event(ctx)?, None),
            Kind::ClientChange => {
                Taken::Client(ClientInfo::from_event(ctx)?, Some(Change::from_event(ctx)?))
            }
            Kind::ForceDisconnect => Taken::Closed(CloseReason::from_event(ctx)?),
            Kind::Rejected => Taken::Rejected(ctx.command().clone(), Rejection::from_event(ctx)?),
            Kind::Connection => Taken::Connection(ConnectionChange::from_event(ctx)?),
            Kind::Message | Kind::Wildcard | Kind::Command => {
                Taken::Payload(ctx.command().clone(), ctx.payload().clone())
            }
        })
    }

    /// The listeners' arguments; an error when the payload does not decode.
    fn into_args(self, kind: Kind) -> Result<Vec<JsValue>, String> {
        Ok(match self {
            Taken::Client(info, None) => vec![client_info(&info)],
            Taken::Client(info, Some(change)) => vec![
                client_info(&info),
                object(&[
                    ("old", opt_str(change.old.as_deref())),
                    ("new", opt_str(change.new.as_deref())),
                ]),
            ],
            Taken::Closed(reason) => vec![close_info(&reason)],
            Taken::Rejected(command, rejection) => vec![object(&[
                ("command", JsValue::from_str(&command)),
                ("code", JsValue::from(rejection.code.to_wire())),
                ("message", JsValue::from_str(&rejection.message)),
            ])],
            Taken::Connection(change) => vec![change_info(&change)],
            Taken::Payload(command, payload) => {
                let value = decode(&payload)?;
                if kind == Kind::Command {
                    vec![value]
                } else {
                    vec![JsValue::from_str(&command), value]
                }
            }
        })
    }
}

/// The handler's own argument "tuple": a local type, so this impl cannot
/// overlap the core's impls for closures.
pub struct JsArgs;

impl Handler<ClientEvent, JsArgs> for JsHandler {
    fn call(&self, ctx: ClientEvent) -> BoxFuture<'static, Outcome> {
        let kind = self.kind;
        let taken = Taken::of(kind, &ctx);
        let listeners = self.listeners.clone();
        let name = self.name.clone();
        Box::pin(async move {
            let args = taken?.into_args(kind);
            let first = match args {
                Ok(args) => {
                    if kind == Kind::Rejected && listeners_of(&listeners, &name).is_empty() {
                        if let Some(rejection) = args.first() {
                            warn_rejected(rejection);
                        }
                    }
                    run(&listeners, &name, &args).await
                }
                Err(err) => {
                    if !kind.answers() {
                        report(&name, &JsValue::from_str(&err));
                    }
                    Err(err)
                }
            };
            if !kind.answers() {
                // Reserved events: failures went to the console; nobody
                // awaits an answer.
                return Ok(Bytes::from_static(hisock::value::NIL));
            }
            first
                .and_then(|value| {
                    encode(&value)
                        .map(Bytes::from)
                        .map_err(|err| format!("the listener's return value cannot be sent: {err}"))
                })
                .map_err(|message| Rejection::new(ErrorCode::HandlerFailed, message))
        })
    }
}

/// Calls every listener of `name` in order, awaiting returned promises.
/// Returns the first listener's result, or the first failure's message.
async fn run(listeners: &Listeners, name: &str, args: &[JsValue]) -> Result<JsValue, String> {
    let list = listeners_of(listeners, name);
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
        &JsValue::from_str(&format!("hisock: a listener for \"{name}\" failed:")),
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
            info.addr.map_or(JsValue::NULL, |addr| {
                JsValue::from_str(&hisock::addr::format_socket_addr(&addr))
            }),
        ),
        (
            "transport",
            JsValue::from_str(transport_name(info.transport)),
        ),
    ])
}

/// The transport's name as its `Display` writes it (without going through
/// the formatting machinery).
fn transport_name(kind: TransportKind) -> &'static str {
    match kind {
        TransportKind::Tcp => "tcp",
        TransportKind::Tls => "tls",
        TransportKind::Ws => "ws",
        TransportKind::Wss => "wss",
        _ => "other",
    }
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
