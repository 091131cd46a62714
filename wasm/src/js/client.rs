//! `connect()` and the `HisockClient` class of the JS API. The TypeScript
//! signatures are written out in `types.rs`.

use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::LocalBoxFuture;
use hisock::frame::LookupKey;
use hisock::{Client, ClientOptions};
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::future_to_promise;

use super::error::{argument_error, connect_error, hisock_error};
use super::listeners::{self, as_function, close_info, object, Listeners};
use super::options::{self, DEFAULT_TIMEOUT};
use super::reconnect;
use super::value::{decode, encode};
use crate::transport::{self, NotOpened, DEFAULT_MAX_FRAME_LEN};

/// A connected hisock client (see the README of the npm package).
#[wasm_bindgen(skip_typescript)]
pub struct HisockClient {
    client: Client,
    listeners: Listeners,
}

/// How long a failed connect waits for the HTTP probe that tells why (see
/// `connectError` in `errors.js`), at most: a server answers at once, and
/// nothing listening fails at once.
const CONNECT_PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Connects to a hisock server's WebSocket endpoint.
/// `options`: `{ name?, group?, auth?, timeoutMs?, reconnect?, offlineQueue? }`;
/// `timeoutMs` bounds the socket opening and the handshake each (default
/// 30 s), on every reconnect too. A socket that does not open is a
/// `HisockError` whose kind says why (`errors.js`); with `reconnect`, only
/// the first connection fails `connect`, later ones are retried
/// ([`reconnect`](super::reconnect)).
#[wasm_bindgen(js_name = connect, skip_typescript)]
pub fn connect_js(url: String, options: JsValue) -> Promise {
    js_promise(Box::pin(async move {
        let timeout = options::timeout(&options, DEFAULT_TIMEOUT)?;
        let mut opts = ClientOptions::new().handshake_timeout(timeout);
        if let Some(name) = options::string(&options, "name")? {
            opts = opts.name(name);
        }
        if let Some(group) = options::string(&options, "group")? {
            opts = opts.group(group);
        }
        let auth = options::field(&options, "auth");
        if !auth.is_undefined() {
            let auth = encode(&auth).map_err(|err| argument_error(&format!("auth: {err}")))?;
            opts = opts.auth_raw(Bytes::from(auth));
        }
        if let Some(policy) = reconnect::policy(&options)? {
            opts = opts
                .reconnect(policy)
                .offline_queue(reconnect::offline_queue(&options)?);
        }
        let conn = match transport::try_open(&url, DEFAULT_MAX_FRAME_LEN, timeout).await {
            Ok(conn) => conn,
            Err(NotOpened::Refused(err)) => return Err(hisock_error(&err)),
            Err(not_opened) => {
                let waited = match not_opened {
                    NotOpened::TimedOut => transport::millis(timeout).max(1),
                    _ => 0,
                };
                let probe = transport::millis(timeout.min(CONNECT_PROBE_TIMEOUT));
                // A promise that rejects with the error: resolving
                // `connect`'s promise with it rejects that one too (no
                // await of it here, which costs the .wasm).
                return Ok(connect_error(&url, waited, probe).into());
            }
        };
        // With `reconnect`, the client opens the same URL again when the
        // connection breaks (the core ignores the connector otherwise).
        let connector: hisock::Connector = {
            let url = url.clone();
            std::sync::Arc::new(move || {
                let url = url.clone();
                Box::pin(async move { transport::open(&url, DEFAULT_MAX_FRAME_LEN, timeout).await })
            })
        };
        let (client, driver) = Client::handshake_with(conn, opts, Some(connector))
            .await
            .map_err(|err| hisock_error(&err))?;
        let listeners = Listeners::default();
        listeners::watch_rejections(&client, &listeners);
        let held = Rc::clone(&listeners);
        wasm_bindgen_futures::spawn_local(async move {
            driver.await;
            // Listeners often close over the client object; letting go of
            // them once the connection is over lets the GC take both.
            held.borrow_mut().clear();
        });
        Ok(HisockClient { client, listeners }.into())
    }))
}

/// Runs `fut` as a JS promise, turning hisock errors into JS errors.
///
/// Deliberately not generic: every method shares this one instantiation of
/// `future_to_promise` (one per method cost about 10 KB of wasm).
fn promise(fut: LocalBoxFuture<'static, hisock::Result<JsValue>>) -> Promise {
    js_promise(Box::pin(async move {
        fut.await.map_err(|err| hisock_error(&err))
    }))
}

/// The one place that turns a future into a JS promise.
fn js_promise(fut: LocalBoxFuture<'static, Result<JsValue, JsValue>>) -> Promise {
    future_to_promise(fut)
}

/// A JS argument as a MessagePack payload; an argument error if it cannot
/// be sent.
fn payload(value: &JsValue) -> Result<Vec<u8>, JsValue> {
    encode(value).map_err(|err| argument_error(&format!("value cannot be sent: {err}")))
}

/// A received MessagePack payload as a JS value.
fn received(payload: &[u8]) -> hisock::Result<JsValue> {
    decode(payload).map_err(hisock::Error::Decode)
}

fn listener(value: &JsValue) -> Result<Function, JsValue> {
    as_function(value).ok_or_else(|| argument_error("the listener must be a function"))
}

fn rejected(err: JsValue) -> Promise {
    Promise::reject(&err)
}

/// How `getClient` names the client it asks about.
enum By {
    Name(String),
    Id(u64),
    Addr(String),
}

/// What a promise-returning method does, with its checked arguments.
///
/// All of them run in one `async` block ([`HisockClient::run`]): one state
/// machine, one drop glue and one promise adapter in the `.wasm` instead of
/// one each per method.
enum Op {
    Send(String, Vec<u8>),
    Request(String, Vec<u8>, Duration),
    Recv(String, Duration),
    RecvAny(Duration),
    ChangeName(Option<String>),
    ChangeGroup(Option<String>),
    /// Join (true) or leave a room.
    Room(String, bool),
    Lookup(By),
    ListClients(Option<String>),
    Close {
        emit_leave: bool,
    },
    Closed,
}

impl HisockClient {
    /// Runs `op` as a JS promise.
    fn run(&self, op: Op) -> Promise {
        let client = self.client.clone();
        promise(Box::pin(async move {
            Ok(match op {
                Op::Send(command, payload) => {
                    client.send_raw(&command, &payload).await?;
                    JsValue::UNDEFINED
                }
                Op::Request(command, payload, timeout) => {
                    received(&client.request_raw(&command, &payload, timeout).await?)?
                }
                Op::Recv(command, timeout) => {
                    received(&client.recv_raw(&command, timeout).await?.payload)?
                }
                Op::RecvAny(timeout) => {
                    let message = client.recv_any(timeout).await?;
                    object(&[
                        ("command", JsValue::from_str(&message.command)),
                        ("value", received(&message.payload)?),
                    ])
                }
                Op::ChangeName(name) => {
                    client.change_name(name.as_deref()).await?;
                    JsValue::UNDEFINED
                }
                Op::ChangeGroup(group) => {
                    client.change_group(group.as_deref()).await?;
                    JsValue::UNDEFINED
                }
                Op::Room(room, join) => received(&client.room_request_raw(&room, join).await?)?,
                Op::Lookup(by) => {
                    // The answer is a ClientInfo map (or nil), which decodes
                    // to the same `{ id, name, group, addr, transport }` as
                    // `client_info`.
                    let key = match &by {
                        By::Name(name) => LookupKey::Name(name),
                        By::Id(id) => LookupKey::Id(*id),
                        By::Addr(addr) => LookupKey::Addr(addr),
                    };
                    received(&client.lookup_raw(key).await?)?
                }
                Op::ListClients(group) => {
                    received(&client.list_clients_raw(group.as_deref()).await?)?
                }
                Op::Close { emit_leave } => {
                    if emit_leave {
                        client.close().await;
                    } else {
                        client.close_without_leave().await;
                    }
                    JsValue::UNDEFINED
                }
                Op::Closed => close_info(&client.closed().await),
            })
        }))
    }
}

#[wasm_bindgen]
impl HisockClient {
    /// This client's id on the server.
    #[wasm_bindgen(getter, skip_typescript)]
    pub fn id(&self) -> f64 {
        self.client.id() as f64
    }

    /// This client's current name, or `null`.
    #[wasm_bindgen(getter, skip_typescript)]
    pub fn name(&self) -> Option<String> {
        self.client.name()
    }

    /// This client's current group, or `null`.
    #[wasm_bindgen(getter, skip_typescript)]
    pub fn group(&self) -> Option<String> {
        self.client.group()
    }

    /// True while connected: false once closed, and while reconnecting.
    #[wasm_bindgen(getter, skip_typescript)]
    pub fn connected(&self) -> bool {
        self.client.is_connected()
    }

    /// Where the connection stands: `"connecting"`, `"connected"`,
    /// `"reconnecting"` or `"closed"`.
    #[wasm_bindgen(getter, skip_typescript)]
    pub fn state(&self) -> String {
        reconnect::state_name(self.client.state()).to_owned()
    }

    /// Adds a listener for a command or a reserved event.
    #[wasm_bindgen(skip_typescript)]
    pub fn on(&self, event: String, listener: JsValue) -> Result<(), JsValue> {
        let listener = self::listener(&listener)?;
        listeners::add(&self.client, &self.listeners, &event, listener);
        Ok(())
    }

    /// Removes one listener, or all listeners of `event` when none is given.
    #[wasm_bindgen(skip_typescript)]
    pub fn off(&self, event: String, listener: JsValue) -> Result<(), JsValue> {
        let listener = if listener.is_undefined() || listener.is_null() {
            None
        } else {
            Some(self::listener(&listener)?)
        };
        listeners::remove(&self.client, &self.listeners, &event, listener.as_ref());
        Ok(())
    }

    /// Adds a listener for every event: `(command, value)`.
    #[wasm_bindgen(js_name = onAny, skip_typescript)]
    pub fn on_any(&self, listener: JsValue) -> Result<(), JsValue> {
        self.on(hisock::client::reserved::MESSAGE.to_owned(), listener)
    }

    /// Removes an `onAny` listener, or all of them.
    #[wasm_bindgen(js_name = offAny, skip_typescript)]
    pub fn off_any(&self, listener: JsValue) -> Result<(), JsValue> {
        self.off(hisock::client::reserved::MESSAGE.to_owned(), listener)
    }

    /// Sends an event; resolves once it is queued.
    #[wasm_bindgen(skip_typescript)]
    pub fn send(&self, command: String, value: JsValue) -> Promise {
        let payload = match payload(&value) {
            Ok(payload) => payload,
            Err(err) => return rejected(err),
        };
        self.run(Op::Send(command, payload))
    }

    /// Sends a request and resolves with the server handler's reply.
    #[wasm_bindgen(skip_typescript)]
    pub fn request(&self, command: String, value: JsValue, options: JsValue) -> Promise {
        let prepared = payload(&value)
            .and_then(|payload| Ok((payload, options::timeout(&options, DEFAULT_TIMEOUT)?)));
        let (payload, timeout) = match prepared {
            Ok(prepared) => prepared,
            Err(err) => return rejected(err),
        };
        self.run(Op::Request(command, payload, timeout))
    }

    /// Resolves with the next value of `command` that no listener took.
    #[wasm_bindgen(skip_typescript)]
    pub fn recv(&self, command: String, options: JsValue) -> Promise {
        let timeout = match options::timeout(&options, DEFAULT_TIMEOUT) {
            Ok(timeout) => timeout,
            Err(err) => return rejected(err),
        };
        self.run(Op::Recv(command, timeout))
    }

    /// Resolves with the next event of any command that no listener took:
    /// `{ command, value }`.
    #[wasm_bindgen(js_name = recvAny, skip_typescript)]
    pub fn recv_any(&self, options: JsValue) -> Promise {
        let timeout = match options::timeout(&options, DEFAULT_TIMEOUT) {
            Ok(timeout) => timeout,
            Err(err) => return rejected(err),
        };
        self.run(Op::RecvAny(timeout))
    }

    /// Changes this client's name (`null` clears it).
    #[wasm_bindgen(js_name = changeName, skip_typescript)]
    pub fn change_name(&self, name: Option<String>) -> Promise {
        self.run(Op::ChangeName(name))
    }

    /// Changes this client's group (`null` leaves it).
    #[wasm_bindgen(js_name = changeGroup, skip_typescript)]
    pub fn change_group(&self, group: Option<String>) -> Promise {
        self.run(Op::ChangeGroup(group))
    }

    /// Asks the server to put this client in `room`; resolves with whether
    /// that changed anything.
    #[wasm_bindgen(js_name = joinRoom, skip_typescript)]
    pub fn join_room(&self, room: String) -> Promise {
        self.run(Op::Room(room, true))
    }

    /// Asks the server to take this client out of `room`.
    #[wasm_bindgen(js_name = leaveRoom, skip_typescript)]
    pub fn leave_room(&self, room: String) -> Promise {
        self.run(Op::Room(room, false))
    }

    /// Asks the server about a client: by name (a string), by id (a number
    /// or bigint) or by address (`{ addr: "ip:port" }`).
    #[wasm_bindgen(js_name = getClient, skip_typescript)]
    pub fn get_client(&self, key: JsValue) -> Promise {
        let by = if let Some(name) = key.as_string() {
            By::Name(name)
        } else if let Some(id) = key
            .as_f64()
            .filter(|n| n.fract() == 0.0 && *n >= 0.0)
            .map(|n| n as u64)
            .or_else(|| u64::try_from(key.clone()).ok())
        {
            By::Id(id)
        } else if let Some(addr) = options::field(&key, "addr").as_string() {
            if hisock::addr::parse_socket_addr(&addr).is_none() {
                return rejected(argument_error("addr must be \"ip:port\""));
            }
            By::Addr(addr)
        } else {
            return rejected(argument_error(
                "getClient takes a name, an id or { addr: \"ip:port\" }",
            ));
        };
        self.run(Op::Lookup(by))
    }

    /// Lists all clients, or one group's.
    #[wasm_bindgen(js_name = listClients, skip_typescript)]
    pub fn list_clients(&self, group: Option<String>) -> Promise {
        self.run(Op::ListClients(group))
    }

    /// Closes the connection after sending everything queued. With
    /// `{ emitLeave: false }` the server does not run its `leave` handler.
    #[wasm_bindgen(skip_typescript)]
    pub fn close(&self, options: JsValue) -> Promise {
        let emit_leave = match options::boolean(&options, "emitLeave", true) {
            Ok(emit_leave) => emit_leave,
            Err(err) => return rejected(err),
        };
        self.run(Op::Close { emit_leave })
    }

    /// Resolves when the connection has ended: `{ code, reason }`.
    #[wasm_bindgen(skip_typescript)]
    pub fn closed(&self) -> Promise {
        self.run(Op::Closed)
    }
}
