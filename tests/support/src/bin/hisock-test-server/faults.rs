//! Broken connections on request, for the browser tests of reconnection:
//! a test asks for its own [`FaultProxy`] in front of the server's
//! WebSocket listener, connects a reconnecting client through it, and then
//! has the proxy cut its connections (no WebSocket close, no hisock
//! `Close`: the browser sees code 1006, the server an end of stream) or
//! refuse new ones (the client stays offline, reconnecting). A proxy of its
//! own per test: other tests' connections, which go to the server
//! directly, are never cut.
//!
//! | command | payload | effect / reply |
//! |---|---|---|
//! | `fault_proxy_open` | `null`, or `{sessions: false}` | starts a proxy in front of the server (or, with `sessions: false`, of a second server with the same handlers that keeps no sessions); replies `{id, url}` (`url`: `ws://127.0.0.1:PORT/`) |
//! | `fault_proxy_cut` | id | cuts every connection through that proxy; replies how many |
//! | `fault_proxy_refuse` | `[id, bool]` | while true, the proxy hangs up on new connections at once |
//! | `fault_proxy_close` | id | stops the proxy (cutting what is open) |
//! | `emit_then_cut` | `{proxy, command, count}` | sends the sender `command` with 0, 1, … `count − 1`, then cuts the proxy at once (mid-stream: most of them are still queued); replies how many connections it cut, 100 ms later (as a request, its reply is lost with the connection) |
//!
//! The auth hook adds one rule for these tests (see `handlers.rs`): auth
//! data `"once:KEY"` is accepted the first time KEY is seen and refused
//! (4003) after, so that a test can make a reconnect be refused.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hisock::{ClientInfo, Data, Server};
use hisock_test_support::FaultProxy;
use serde::{Deserialize, Serialize};

/// Most proxies open at once: a test that forgets to close its proxy must
/// not make a long run pile them up.
const MAX_PROXIES: usize = 32;

/// How long `emit_then_cut` waits after the cut before it answers.
const AFTER_CUT: Duration = Duration::from_millis(100);

/// Where the proxies forward to: the WebSocket listeners of the server
/// and of its twin without sessions.
#[derive(Clone, Copy)]
pub struct Targets {
    /// The server (sessions kept, as by default).
    pub sessions: SocketAddr,
    /// The twin whose session window is zero.
    pub no_sessions: SocketAddr,
}

/// The payload of `fault_proxy_open`.
#[derive(Debug, Deserialize)]
struct Open {
    sessions: bool,
}

/// What `fault_proxy_open` replies.
#[derive(Debug, Serialize)]
struct Opened {
    id: u64,
    url: String,
}

/// The payload of `emit_then_cut`.
#[derive(Debug, Deserialize)]
struct EmitThenCut {
    proxy: u64,
    command: String,
    count: u32,
}

#[derive(Default)]
struct State {
    next_id: u64,
    proxies: HashMap<u64, FaultProxy>,
    /// The `once:` auth keys seen so far.
    seen_keys: HashSet<String>,
}

/// The open proxies and the `once:` auth keys, shared by the handlers.
#[derive(Clone)]
pub struct Faults {
    targets: Targets,
    state: Arc<Mutex<State>>,
}

impl Faults {
    /// No proxies yet; they will forward to `targets`.
    pub fn new(targets: Targets) -> Self {
        Self {
            targets,
            state: Arc::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether auth key `key` (of `"once:KEY"`) is seen for the first time.
    pub fn first_use(&self, key: &str) -> bool {
        self.state().seen_keys.insert(key.to_owned())
    }

    fn with_proxy<T>(&self, id: u64, f: impl FnOnce(&FaultProxy) -> T) -> Result<T, String> {
        let state = self.state();
        let proxy = state
            .proxies
            .get(&id)
            .ok_or_else(|| format!("no fault proxy {id}"))?;
        Ok(f(proxy))
    }
}

/// Installs the commands of the table above.
pub fn install(server: &Server, faults: &Faults) {
    let open = faults.clone();
    server.on("fault_proxy_open", move |Data(spec): Data<Option<Open>>| {
        let faults = open.clone();
        async move {
            let target = match spec {
                Some(Open { sessions: false }) => faults.targets.no_sessions,
                _ => faults.targets.sessions,
            };
            if faults.state().proxies.len() >= MAX_PROXIES {
                return Err(format!(
                    "{MAX_PROXIES} fault proxies are open: close some first"
                ));
            }
            let proxy = FaultProxy::start(target).await;
            let url = format!("ws://{}/", proxy.addr);
            let mut state = faults.state();
            state.next_id += 1;
            let id = state.next_id;
            state.proxies.insert(id, proxy);
            Ok(Opened { id, url })
        }
    });
    let cut = faults.clone();
    server.on("fault_proxy_cut", move |Data(id): Data<u64>| {
        let faults = cut.clone();
        async move { faults.with_proxy(id, FaultProxy::cut_all) }
    });
    let refuse = faults.clone();
    server.on(
        "fault_proxy_refuse",
        move |Data((id, refusing)): Data<(u64, bool)>| {
            let faults = refuse.clone();
            async move { faults.with_proxy(id, |proxy| proxy.refuse(refusing)) }
        },
    );
    let close = faults.clone();
    server.on("fault_proxy_close", move |Data(id): Data<u64>| {
        let faults = close.clone();
        async move {
            // Dropping the proxy stops it and cuts what is open.
            let removed = faults.state().proxies.remove(&id);
            removed
                .map(drop)
                .ok_or_else(|| format!("no fault proxy {id}"))
        }
    });
    let emit = faults.clone();
    server.on(
        "emit_then_cut",
        move |who: ClientInfo, server: Server, Data(spec): Data<EmitThenCut>| {
            let faults = emit.clone();
            async move {
                for n in 0..spec.count {
                    server
                        .to_client(who.id)
                        .emit(&spec.command, n)
                        .map_err(|err| err.to_string())?;
                }
                let cut = faults.with_proxy(spec.proxy, FaultProxy::cut_all)?;
                // A relay task that was running when it was aborted may
                // still pass on what it had read; the reply (to a request
                // of `emit_then_cut`) must not make it through, so that
                // the request is in flight across the break.
                tokio::time::sleep(AFTER_CUT).await;
                Ok::<_, String>(cut)
            }
        },
    );
}
