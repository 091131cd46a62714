//! A terminal chat client: type to talk to your room, `/help` for commands.
//! Everything the server sends is printed as it arrives, by handlers.
//!
//! ```text
//! cargo run -p hisock-examples --bin chat_client -- --name ada --room lobby
//! cargo run -p hisock-examples --bin chat_client    # as guest1234 (random digits)
//! cargo run -p hisock-examples --bin chat_client -- --name bo --ws ws://127.0.0.1:6970/
//! # to `chat_server --tls`: trust the CA file it wrote
//! cargo run -p hisock-examples --bin chat_client -- --name cy --tls-ca /tmp/hisock-demo-tls/ca.pem
//! # without a terminal (tests, scripts): run lines, stay 3 s, leave
//! cargo run -p hisock-examples --bin chat_client -- --name bot --script "hi;/who" --exit-after 3
//! # end when the connection breaks, instead of reconnecting
//! cargo run -p hisock-examples --bin chat_client -- --name ada --no-reconnect
//! ```
//!
//! When the connection breaks (the server restarts, the network fails),
//! the client says so once and reconnects, with backoff, as the same name
//! in the same room; what you type meanwhile waits and is sent once it is
//! back.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use hisock::{
    Change, Client, ClientInfo, ClientOptions, Command, ConnectionChange, Reconnect, Rejection,
};
use hisock_examples::chat::{
    display_name, farewell, reconnect_line, Chat, ChatLine, DirectMessage, Dm, Input, Notice, Say,
    SendDm, DEFAULT_ROOM, HELP,
};
use hisock_tcp::tls::{connect_tls, ClientTls};
use hisock_ws::WsConfig;
use tokio::sync::mpsc;

/// The hisock chat client.
#[derive(Parser)]
struct Args {
    /// Server address (host:port).
    #[arg(long, default_value = hisock_examples::DEFAULT_ADDR, value_parser = hisock::parse_addr)]
    addr: SocketAddr,
    /// Your name in the chat [default: guest and four digits]. The server
    /// refuses a name someone else has.
    #[arg(long)]
    name: Option<String>,
    /// The room to start in.
    #[arg(long, default_value = DEFAULT_ROOM)]
    room: String,
    /// Run these input lines, separated by ';', instead of reading stdin.
    #[arg(long)]
    script: Option<String>,
    /// Leave this many seconds after connecting, even if input ended earlier.
    /// Without it, the client leaves when its input ends.
    #[arg(long, value_name = "SECS")]
    exit_after: Option<u64>,
    /// Connect over WebSocket to this URL (e.g. ws://127.0.0.1:6970/)
    /// instead of over TCP to --addr.
    #[arg(long, value_name = "URL")]
    ws: Option<String>,
    /// Connect over TLS, trusting the CA certificate in this PEM file (the
    /// `ca.pem` that `chat_server --tls` writes): TCP+TLS to --addr, or the
    /// CA for a `wss://` URL given with --ws.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// End when the connection breaks, instead of reconnecting.
    #[arg(long)]
    no_reconnect: bool,
}

const TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<(), hisock_examples::Failure> {
    hisock_examples::init_tracing("warn");
    let args = Args::parse();
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("guest{}", fastrand::u16(1000..10000)));

    let mut options = ClientOptions::new()
        .name(&name)
        // Who we are across reconnects: the server lets a resuming session
        // keep its name by this token (see chat_server's auth hook).
        .auth(format!("{:032x}", fastrand::u128(..)))?
        // A group is a room: the server relays our lines to it.
        .group(&args.room)
        // The chat's own events, typed (see `ChatEvents`).
        .on_event(Chat, |line: ChatLine| async move {
            let room = line.room.as_deref().unwrap_or("?");
            println!("[{room}] {}: {}", line.from, line.text);
        })
        .on_event(Dm, |line: ChatLine| async move {
            println!("[dm] {}: {}", line.from, line.text);
        })
        .on_event(Notice, |text: String| async move {
            println!("* {text}");
        })
        // Reserved events: hisock tells every client about the others.
        .on("client_connect", |other: ClientInfo| async move {
            let room = other.group().unwrap_or("no room");
            println!("* {} joined {room}", display_name(&other));
        })
        .on("client_disconnect", |other: ClientInfo| async move {
            println!("* {} left", display_name(&other));
        })
        .on(
            "client_name_change",
            |other: ClientInfo, change: Change| async move {
                let old = text_or(&change.old, &format!("#{}", other.id));
                println!("* {old} is now {}", display_name(&other));
            },
        )
        .on(
            "client_group_change",
            |other: ClientInfo, change: Change| async move {
                let (old, new) = (
                    text_or(&change.old, "no room"),
                    text_or(&change.new, "no room"),
                );
                println!("* {} moved from {old} to {new}", display_name(&other));
            },
        )
        // An event we sent without awaiting a reply failed on the server.
        // (A disconnection is told once, by the `closed()` watch below.)
        .on(
            "rejected",
            |Command(command): Command, why: Rejection| async move {
                println!("! the server refused {command}: {}", why.message);
            },
        );
    if !args.no_reconnect {
        // Backoff with jitter, for ever (a kick or a refusal is final);
        // the connection's state is told in three events.
        options = options
            .reconnect(Reconnect::new())
            .on("disconnected", |change: ConnectionChange| async move {
                // A final end is told once, by the `closed()` watch below.
                if let Some(line) = reconnect_line(&change) {
                    println!("{line}");
                }
            })
            .on("reconnecting", |change: ConnectionChange| async move {
                if let Some(line) = reconnect_line(&change) {
                    println!("{line}");
                }
            })
            .on(
                "reconnected",
                |change: ConnectionChange, client: Client| async move {
                    if let Some(line) = reconnect_line(&change) {
                        let room = client.group().unwrap_or_else(|| "no room".into());
                        println!("{line} as {} in {room}", display_name_of(&client));
                    }
                },
            );
    }

    // The transport is chosen here and nowhere else: the client behaves the
    // same over either.
    let tls = match &args.tls_ca {
        Some(ca) => Some(ClientTls::with_ca_file(ca)?),
        None => None,
    };
    let connected = match (&args.ws, tls) {
        (Some(url), Some(tls)) => {
            hisock_ws::connect_with(url.as_str(), options, &WsConfig::new().tls(tls)).await
        }
        (Some(url), None) => hisock_ws::connect(url, options).await,
        (None, Some(tls)) => connect_tls(&args.addr.to_string(), options, &tls).await,
        (None, None) => hisock_tcp::connect(args.addr, options).await,
    };
    // The error's own words (an untrusted certificate says so), not its
    // Debug form.
    let client = connected.map_err(|err| format!("cannot connect: {err}"))?;
    println!("connected as {name} (id {}) in {}", client.id(), args.room);

    let input = match &args.script {
        Some(script) => script_lines(script),
        None => hisock_examples::stdin_lines(),
    };
    // Stop at the deadline, or when the server hangs up, or when input ends
    // (unless a deadline was given: then wait for it).
    let deadline = async {
        match args.exit_after {
            Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = run_input(&client, input, args.exit_after.is_some()) => {}
        () = deadline => {}
        why = client.closed() => {
            println!("{}", farewell(&why));
            return Ok(());
        }
    }
    if !client.is_connected() {
        // A line failed because the connection had ended: say why, once.
        println!("{}", farewell(&client.closed().await));
        return Ok(());
    }
    // Everything sent so far is delivered before the connection closes.
    client.close().await;
    Ok(())
}

/// Runs the input lines until they end or one says `/quit`; when they end
/// and `then_wait` is set, keeps printing incoming messages forever.
async fn run_input(client: &Client, mut lines: mpsc::Receiver<String>, then_wait: bool) {
    while let Some(line) = lines.recv().await {
        if !run_line(client, &line).await {
            return;
        }
    }
    if then_wait {
        std::future::pending::<()>().await;
    }
}

/// Runs one line of input; false when the client should stop.
async fn run_line(client: &Client, line: &str) -> bool {
    let Some(input) = Input::parse(line) else {
        return true;
    };
    let done = match input {
        Input::Say(text) => client.send_event(Say, text).await,
        Input::Msg { to, text } => {
            let dm = DirectMessage { to, text };
            client.request_event(SendDm, dm, TIMEOUT).await
        }
        Input::Name(name) => client.change_name(Some(&name)).await.map(|()| {
            println!("* you are now {name}");
        }),
        Input::Join(room) => client.change_group(Some(&room)).await.map(|()| {
            println!("* you are now in {room}");
        }),
        Input::Who => who(client).await,
        Input::Help => {
            println!("{HELP}");
            Ok(())
        }
        Input::Invalid(why) => {
            println!("! {why}");
            Ok(())
        }
        Input::Quit => return false,
    };
    match done {
        Ok(()) => true,
        Err(hisock::Error::Remote { message, .. }) => {
            println!("! {message}");
            true
        }
        // The `closed()` watch in `main` says why, once.
        Err(hisock::Error::Closed(_)) => false,
        Err(err) => {
            println!("! {err}");
            true
        }
    }
}

/// Prints everyone on the server: a look-up the server answers itself.
async fn who(client: &Client) -> hisock::Result<()> {
    let everyone = client.list_clients(None).await?;
    println!("* {} online:", everyone.len());
    for other in everyone {
        let room = other.group().unwrap_or("no room");
        let you = if other.id == client.id() {
            " (you)"
        } else {
            ""
        };
        let name = display_name(&other);
        println!("*   {name} in {room} via {}{you}", other.transport);
    }
    Ok(())
}

/// The `--script` lines as the same kind of channel as stdin's.
fn script_lines(script: &str) -> mpsc::Receiver<String> {
    let lines: Vec<String> = script.split(';').map(str::to_string).collect();
    let (tx, rx) = mpsc::channel(lines.len().max(1));
    for line in lines {
        // Cannot fail: the channel has room for every line.
        let _ = tx.try_send(line);
    }
    rx
}

/// This client's name, or `#id` (as others see it).
fn display_name_of(client: &Client) -> String {
    client.name().unwrap_or_else(|| format!("#{}", client.id()))
}

fn text_or(value: &Option<Arc<str>>, fallback: &str) -> String {
    value.as_deref().unwrap_or(fallback).to_string()
}
