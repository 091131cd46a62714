//! What the test server does for the browser tests. Every command is small
//! and says what it proves:
//!
//! | command | payload | effect / reply |
//! |---|---|---|
//! | `echo` | any | replies with the payload, unchanged |
//! | `add` | `[a, b]` (i64) | replies `a + b` |
//! | `move` | `Move` | replies the `Move` transformed (see [`Move::next`]) |
//! | `whoami` | — | replies the sender's `ClientInfo` |
//! | `emit_to_me` | `{command, value}` | sends event `command` with `value` to the sender |
//! | `ask_me` | `{command, value}` | requests `command` from the sender, replies with its answer |
//! | `kick_me` | reason text | disconnects the sender (code 4000) |
//! | `broadcast` | `{command, value}` | sends `command` to everyone but the sender |
//! | `relay` | `{to, command, value}` | sends `command` to the client named `to` |
//! | `spawn_tcp_peer` | `{name, partner, group?}` | connects a native TCP client (see `peer.rs`) |
//! | `peer_log` | name | replies what that TCP peer has seen |
//! | `stop_tcp_peer` | name | closes that TCP peer |
//! | `to_room` | `{room, command, value}` | sends `command` to the room's members; replies how many |
//! | `mapping_sample` | row name | replies the row's Rust sample (see `hisock_test_support::mapping`) |
//! | `mapping_check` | `[row, value]` | replies `null` when `value` decodes as the row's type and equals its sample, else why not |
//!
//! The commands that break connections for the reconnection tests are in
//! `faults.rs`.
//!
//! The auth hook refuses clients whose auth data is the string `"wrong"`
//! (code 4003, reason "wrong password"), and those whose auth data is
//! `"once:KEY"` for a KEY it has seen before (code 4003, reason "this key
//! was for one connection"). The room hook lets clients into rooms whose
//! names start with `open/` and refuses the others.

use std::net::SocketAddr;
use std::time::Duration;

use hisock::{ClientInfo, Data, Reply, Server, Value};
use serde::{Deserialize, Serialize};

use hisock_test_support::mapping;

use crate::faults::{self, Faults};
use crate::peer::Peers;

/// How long the server waits for a client to answer `ask_me`.
const ASK_TIMEOUT: Duration = Duration::from_secs(10);

/// A typed payload for the "typed payloads" tests (the browser side has the
/// same shape).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Move {
    x: i32,
    y: i32,
    player: String,
    tags: Vec<String>,
    #[serde(with = "serde_bytes")]
    blob: Vec<u8>,
    big: u64,
}

impl Move {
    /// The reply to `move`: one step right and down, the player shouted,
    /// tags and blob reversed, `big` minus one.
    fn next(self) -> Move {
        Move {
            x: self.x + 1,
            y: self.y + 1,
            player: self.player.to_uppercase(),
            tags: self.tags.into_iter().rev().collect(),
            blob: self.blob.into_iter().rev().collect(),
            big: self.big.saturating_sub(1),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Emit {
    command: String,
    value: Value,
}

/// The payload of `to_room`.
#[derive(Debug, Deserialize)]
struct RoomEmit {
    room: String,
    command: String,
    value: Value,
}

#[derive(Debug, Deserialize)]
struct Relay {
    to: String,
    command: String,
    value: Value,
}

/// Spawn request for a native TCP peer.
#[derive(Debug, Deserialize)]
pub struct PeerSpec {
    /// The peer's name.
    pub name: String,
    /// Whom the peer sends its `chat_back` events to (by name).
    pub partner: String,
    /// The peer's group.
    pub group: Option<String>,
}

/// Installs every handler; `tcp_addr` is where TCP peers connect, `faults`
/// the fault proxies (shared by the servers of the test server).
pub fn install(server: &Server, tcp_addr: SocketAddr, faults: &Faults) {
    let keys = faults.clone();
    server.auth(move |request| {
        let auth = request.data::<Value>();
        let keys = keys.clone();
        async move {
            let Ok(Some(Value::String(s))) = auth else {
                return Ok(());
            };
            match s.as_str() {
                Some("wrong") => Err("wrong password".to_string()),
                Some(once) => match once.strip_prefix("once:") {
                    Some(key) if !keys.first_use(key) => {
                        Err("this key was for one connection".to_string())
                    }
                    _ => Ok(()),
                },
                None => Ok(()),
            }
        }
    });
    faults::install(server, faults);

    server.on("echo", |Data(value): Data<Value>| async move { value });
    server.on("add", |Data((a, b)): Data<(i64, i64)>| async move { a + b });
    server.on("move", |Data(m): Data<Move>| async move { Reply(m.next()) });
    server.on("whoami", |who: ClientInfo| async move { who });
    server.on("mapping_sample", |Data(row): Data<String>| async move {
        let sample = mapping::sample(&row).ok_or_else(|| format!("no row {row:?}"))?;
        hisock::value::decode::<Value>(&sample).map_err(|err| err.to_string())
    });
    server.on(
        "mapping_check",
        |Data((row, value)): Data<(String, Value)>| async move {
            let payload = hisock::value::encode(&value).map_err(|err| err.to_string())?;
            Ok::<_, String>(mapping::check(&row, &payload).err())
        },
    );

    server.on(
        "emit_to_me",
        |who: ClientInfo, server: Server, Data(emit): Data<Emit>| async move {
            server
                .to_client(who.id)
                .emit(&emit.command, &emit.value)
                .map(|_| ())
                .map_err(|err| err.to_string())
        },
    );
    server.on(
        "ask_me",
        |who: ClientInfo, server: Server, Data(ask): Data<Emit>| async move {
            server
                .request::<Value, _>(who.id, &ask.command, &ask.value, ASK_TIMEOUT)
                .await
                .map_err(|err| err.to_string())
        },
    );
    server.on(
        "kick_me",
        |who: ClientInfo, server: Server, Data(reason): Data<String>| async move {
            server
                .disconnect(who.id, &reason)
                .map_err(|err| err.to_string())
        },
    );
    server.on(
        "broadcast",
        |who: ClientInfo, server: Server, Data(emit): Data<Emit>| async move {
            server
                .to_all()
                .except(who.id)
                .emit(&emit.command, &emit.value)
                .map_err(|err| err.to_string())
        },
    );
    server.on(
        "relay",
        |server: Server, Data(relay): Data<Relay>| async move {
            let target = server
                .client_by_name(&relay.to)
                .ok_or_else(|| format!("no client named {:?}", relay.to))?;
            server
                .to_client(target.id)
                .emit(&relay.command, &relay.value)
                .map(|_| ())
                .map_err(|err| err.to_string())
        },
    );

    server.room_requests(|request| match request.room.starts_with("open/") {
        true => Ok(()),
        false => Err(format!("{} is closed", request.room)),
    });
    server.on(
        "to_room",
        |server: Server, Data(emit): Data<RoomEmit>| async move {
            server
                .to_room(emit.room)
                .emit(&emit.command, &emit.value)
                .map_err(|err| err.to_string())
        },
    );

    let peers = Peers::default();
    let spawn = peers.clone();
    server.on("spawn_tcp_peer", move |Data(spec): Data<PeerSpec>| {
        let peers = spawn.clone();
        async move {
            peers
                .spawn(tcp_addr, spec)
                .await
                .map_err(|err| err.to_string())
        }
    });
    let log = peers.clone();
    server.on("peer_log", move |Data(name): Data<String>| {
        let peers = log.clone();
        async move {
            peers
                .log(&name)
                .ok_or_else(|| format!("no TCP peer named {name:?}"))
        }
    });
    server.on("stop_tcp_peer", move |Data(name): Data<String>| {
        let peers = peers.clone();
        async move {
            if peers.stop(&name).await {
                Ok(())
            } else {
                Err(format!("no TCP peer named {name:?}"))
            }
        }
    });
}
