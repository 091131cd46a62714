//! Native TCP clients that the test server starts on request, so that a
//! browser test meets a real TCP client on the same server: it sees the peer
//! join and leave, and exchanges events with it.
//!
//! A peer answers `chat` events by relaying the value, unchanged after a
//! decode/encode round trip through [`Value`], back to its partner as
//! `chat_back`. It logs every `client_connect`, `client_disconnect` and
//! `chat` it sees, for `peer_log`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hisock::{Client, ClientInfo, ClientOptions, Data, Value};
use serde::Serialize;

use crate::handlers::PeerSpec;

/// One line of a peer's log.
#[derive(Debug, Clone, Serialize)]
pub struct Seen {
    /// `client_connect`, `client_disconnect` or `chat`.
    event: String,
    /// The other client's name (joins and leaves).
    name: Option<String>,
    /// The other client's transport (joins and leaves).
    transport: Option<String>,
    /// The payload (`chat`).
    value: Option<Value>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

struct Peer {
    client: Client,
    log: Log,
}

/// The running peers, by name.
#[derive(Clone, Default)]
pub struct Peers {
    inner: Arc<Mutex<HashMap<String, Peer>>>,
}

fn push(log: &Log, seen: Seen) {
    log.lock().unwrap_or_else(|p| p.into_inner()).push(seen);
}

fn membership(log: &Log, event: &str, info: &ClientInfo) {
    push(
        log,
        Seen {
            event: event.into(),
            name: info.name().map(str::to_owned),
            transport: Some(info.transport.to_string()),
            value: None,
        },
    );
}

impl Peers {
    /// Connects a peer over TCP to `addr` and registers it under its name.
    pub async fn spawn(&self, addr: SocketAddr, spec: PeerSpec) -> hisock::Result<()> {
        let log: Log = Log::default();
        let (joins, leaves, chats) = (log.clone(), log.clone(), log.clone());
        let partner = spec.partner.clone();
        let mut options = ClientOptions::new()
            .name(spec.name.clone())
            .on("client_connect", move |info: ClientInfo| {
                membership(&joins, "client_connect", &info);
                async {}
            })
            .on("client_disconnect", move |info: ClientInfo| {
                membership(&leaves, "client_disconnect", &info);
                async {}
            })
            .on("chat", move |client: Client, Data(value): Data<Value>| {
                push(
                    &chats,
                    Seen {
                        event: "chat".into(),
                        name: None,
                        transport: None,
                        value: Some(value.clone()),
                    },
                );
                let partner = partner.clone();
                async move {
                    let relay = Value::Map(vec![
                        ("to".into(), partner.into()),
                        ("command".into(), "chat_back".into()),
                        ("value".into(), value),
                    ]);
                    client
                        .send("relay", &relay)
                        .await
                        .map_err(|err| err.to_string())
                }
            });
        if let Some(group) = spec.group {
            options = options.group(group);
        }
        let client = hisock_tcp::connect(addr, options).await?;
        let old = self.lock().insert(spec.name, Peer { client, log });
        if let Some(old) = old {
            old.client.close().await;
        }
        Ok(())
    }

    /// What the peer has seen so far.
    pub fn log(&self, name: &str) -> Option<Vec<Seen>> {
        let peers = self.lock();
        let peer = peers.get(name)?;
        let log = peer.log.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Some(log)
    }

    /// Closes the peer; false if there is none by that name.
    pub async fn stop(&self, name: &str) -> bool {
        let peer = self.lock().remove(name);
        match peer {
            Some(peer) => {
                peer.client.close().await;
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Peer>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}
