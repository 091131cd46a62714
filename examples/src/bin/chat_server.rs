//! A chat server: rooms are hisock groups, plain text goes to the sender's
//! room, `/msg` goes to one client found by name.
//!
//! ```text
//! cargo run -p hisock-examples --bin chat_server
//! cargo run -p hisock-examples --bin chat_client -- --name ada    # one terminal each
//! cargo run -p hisock-examples --bin chat_client -- --name grace --ws ws://127.0.0.1:6970/
//! # and in a browser (after `bash scripts/build-npm.sh`): http://127.0.0.1:8080/
//!
//! # two nodes of one chat, joined through a redis-server (or, all in one:
//! # bash scripts/cluster-demo.sh)
//! cargo run -p hisock-examples --bin chat_server -- --redis redis://127.0.0.1:6379/
//! cargo run -p hisock-examples --bin chat_server -- --redis redis://127.0.0.1:6379/ \
//!     --addr 127.0.0.1:6979 --ws 127.0.0.1:6980 --http 127.0.0.1:8081
//!
//! # over TLS: a certificate is made at start; clients trust its CA file
//! cargo run -p hisock-examples --bin chat_server -- --tls
//! cargo run -p hisock-examples --bin chat_client -- --name ada --tls-ca /tmp/hisock-demo-tls/ca.pem
//! cargo run -p hisock-examples --bin chat_client -- --name bo \
//!     --ws wss://localhost:6970/ --tls-ca /tmp/hisock-demo-tls/ca.pem
//! ```
//!
//! The server only relays `say` and `dm`. Joins, leaves, renames and room
//! changes reach every client without any code here: hisock announces them
//! itself (the clients' `client_connect`, `client_name_change`, ... events).
//! With `--redis`, none of that changes: the same handlers see and reach
//! the clients of every node (`to_group`, `client_by_name`, the name check
//! in `auth`), because the server is built with a Redis adapter.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use clap::Parser;
use hisock::server::Extensions;
use hisock::{Change, ClientInfo, CloseReason, Server};
use hisock_examples::chat::{
    display_name, name_taken, Chat, ChatLine, DirectMessage, Dm, Notice, Say, SendDm,
};
use hisock_examples::web;
use hisock_redis::{RedisAdapter, RedisConfig};
use hisock_tcp::tls::{ServerTls, TlsListener};

/// The hisock chat server.
#[derive(Parser)]
struct Args {
    /// TCP address to listen on (port 0 picks a free one).
    #[arg(long, default_value = hisock_examples::DEFAULT_ADDR)]
    addr: SocketAddr,
    /// WebSocket address to listen on, for browsers and `chat_client --ws`.
    #[arg(long, default_value = "127.0.0.1:6970")]
    ws: SocketAddr,
    /// HTTP address of the chat page (and of hisock on its `/ws`).
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: SocketAddr,
    /// The browser client's files [default: wasm/pkg of this repository,
    /// where `scripts/build-npm.sh` builds them].
    #[arg(long, value_name = "DIR")]
    pkg: Option<PathBuf>,
    /// Serve TCP+TLS on --addr and WSS on --ws, with a certificate made at
    /// start (for localhost, 127.0.0.1 and ::1). The chat page stays on
    /// plain HTTP.
    #[arg(long)]
    tls: bool,
    /// With --tls: where the certificate and the CA file clients trust
    /// (`ca.pem`) are written.
    #[arg(long, value_name = "DIR", default_value_os_t = hisock_examples::tls::default_dir())]
    tls_dir: PathBuf,
    /// Join a cluster through the Redis at this URL (redis://host:port/):
    /// run several servers with the same URL (and ports of their own), and
    /// their clients chat together.
    #[arg(long, value_name = "URL")]
    redis: Option<String>,
}

/// The random token a chat client sends as its auth data, kept in its
/// connection's extensions by the auth hook.
#[derive(Clone)]
struct Token(String);

/// Each connected client's token, by client id: who holds a name.
#[derive(Clone, Default)]
struct Tokens(Arc<Mutex<HashMap<u64, String>>>);

impl Tokens {
    fn of(&self, id: u64) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }

    fn set(&self, id: u64, token: Option<String>) {
        let mut tokens = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match token {
            Some(token) => tokens.insert(id, token),
            None => tokens.remove(&id),
        };
    }
}

/// Greets a client that joined (not one that resumed its session: it was
/// never gone).
async fn welcome(server: Server, client: ClientInfo) {
    tracing::info!(name = ?client.name(), room = ?client.group(), "joined");
    let room = client.group().unwrap_or("no room");
    let notice = format!(
        "welcome {}! you are in {room}; /help lists the commands",
        display_name(&client)
    );
    if let Err(err) = server.to_client(client.id).emit_event(Notice, notice) {
        tracing::warn!(%err, "could not welcome");
    }
}

/// The chat: handlers only, no sockets. Any number of listeners can feed
/// it, and with an adapter, any number of nodes.
fn chat_server(cluster: Option<RedisAdapter>) -> Server {
    let server = match cluster {
        // The one difference between a node of a cluster and a lone server.
        Some(adapter) => Server::builder().adapter(adapter).build(),
        None => Server::new(),
    };

    // One name, one person: a second "ada" is refused before it joins, with
    // a reason its client prints. (Two joining at the same instant could
    // both pass; a real server would reserve the name here.) A client that
    // resumes its session after a break is the same person, although its
    // name is still held (by its own session): the auth hook runs on a
    // resume too, and tells it by the random token each chat client sends
    // as its auth data.
    let names = server.clone();
    let tokens = Tokens::default();
    let holders = tokens.clone();
    server.auth(move |hello| {
        let token = hello.data::<String>().ok().flatten();
        if let Some(token) = &token {
            hello.extensions().insert(Token(token.clone()));
        }
        let taken = hello
            .name
            .as_deref()
            .filter(|name| {
                names
                    .client_by_name(name)
                    .is_some_and(|holder| token.is_none() || holders.of(holder.id) != token)
            })
            .map(name_taken);
        async move { taken.map_or(Ok(()), Err) }
    });

    let joined = tokens.clone();
    server.on(
        "join",
        move |server: Server, client: ClientInfo, data: Extensions| {
            if let Some(Token(token)) = data.get::<Token>() {
                joined.set(client.id, Some(token));
            }
            welcome(server, client)
        },
    );
    server.on("leave", move |client: ClientInfo, why: CloseReason| {
        tokens.set(client.id, None);
        async move {
            tracing::info!(%why, "left");
        }
    });

    server.on("name_change", |change: Change| async move {
        tracing::info!(old = ?change.old, new = ?change.new, "renamed");
    });
    server.on("group_change", |change: Change| async move {
        tracing::info!(old = ?change.old, new = ?change.new, "changed room");
    });

    // Plain text: relay to everyone in the sender's room but the sender. An
    // `Err` goes back to the sender (its `rejected` event, since `say` is
    // sent without waiting for a reply).
    // The events are typed (see `ChatEvents`): the compiler checks each
    // handler's payload and reply against the declaration.
    server.on_event(
        Say,
        |text: String, server: Server, from: ClientInfo| async move {
            let room = from.group().ok_or("join a room first: /join ROOM")?;
            let line = ChatLine {
                from: display_name(&from),
                room: Some(room.to_string()),
                text,
            };
            server
                .to_group(room)
                .except(from.id)
                .emit_event(Chat, line)
                .map_err(|err| err.to_string())?;
            Ok::<_, String>(())
        },
    );

    // A direct message is a request: the sender learns whether it arrived.
    server.on_event(
        SendDm,
        |dm: DirectMessage, server: Server, from: ClientInfo| async move {
            let to = server
                .client_by_name(&dm.to)
                .ok_or_else(|| format!("nobody here is called {}", dm.to))?;
            let line = ChatLine {
                from: display_name(&from),
                room: None,
                text: dm.text,
            };
            server
                .to_client(to.id)
                .emit_event(Dm, line)
                .map_err(|err| err.to_string())?;
            Ok::<_, String>(())
        },
    );

    server
}

#[tokio::main]
async fn main() -> Result<(), hisock_examples::Failure> {
    hisock_examples::init_tracing("info");
    let args = Args::parse();
    // Before the server starts, so that /metrics has everything from the
    // start (see src/prometheus.rs).
    hisock_examples::prometheus::handle();
    let cluster = match &args.redis {
        Some(url) => Some(RedisAdapter::connect(RedisConfig::new(url.as_str())).await?),
        None => None,
    };
    let server = chat_server(cluster);
    if let Some(node) = server.cluster_node() {
        println!("joined the cluster as node {node}");
        server.on_cluster_status(|status| tracing::warn!(?status, "cluster link"));
    }

    // Listeners: one `listen` call each. Names, rooms and broadcasts span
    // all of them, so TCP and WebSocket clients chat together.
    if args.tls {
        let demo = hisock_examples::tls::write_demo_certs(&args.tls_dir)?;
        println!(
            "TLS certificate made; clients trust the CA in {}",
            demo.ca.display()
        );
        let tls = ServerTls::from_pem_files(&demo.cert, &demo.key)?;
        let tcp = TlsListener::bind(args.addr, tls.clone()).await?;
        println!("chat server listening on tls://{}", tcp.local_addr()?);
        server.listen(tcp);
        let ws = hisock_ws::WsListener::bind(args.ws).await?.with_tls(tls);
        println!(
            "chat server listening on wss://{}/",
            localhost(ws.local_addr()?)
        );
        server.listen(ws);
    } else {
        let tcp = hisock_tcp::TcpListener::bind(args.addr).await?;
        println!("chat server listening on tcp://{}", tcp.local_addr()?);
        server.listen(tcp);
        let ws = hisock_ws::WsListener::bind(args.ws).await?;
        println!("chat server listening on ws://{}/", ws.local_addr()?);
        server.listen(ws);
    }
    // The page, the browser client and the same chat on `/ws`: see web.rs.
    let pkg = args.pkg.unwrap_or_else(web::default_package_dir);
    if !web::package_is_built(&pkg) {
        println!("note: {}", web::BUILD_HINT);
    }
    let http = web::listen(server.clone(), args.http, pkg).await?;
    println!("chat server listening on http://{http}/ (open it in a browser)");

    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}

/// A loopback address written with the name the demo certificate carries,
/// so that the printed `wss://` URL verifies as it is.
fn localhost(addr: SocketAddr) -> String {
    match addr.ip().is_loopback() {
        true => format!("localhost:{}", addr.port()),
        false => addr.to_string(),
    }
}
