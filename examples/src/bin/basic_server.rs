//! The HiSock tutorial server, in Rust: reserved events (`join`, `leave`,
//! `message`, `*`), a plain event answered with another event (`greet`), and
//! a request answered by the handler's return value (`calc`).
//!
//! ```text
//! cargo run -p hisock-examples --bin basic_server
//! cargo run -p hisock-examples --bin basic_client -- --name ada   # in another terminal
//! ```

use std::net::SocketAddr;

use clap::Parser;
use hisock::{ClientInfo, CloseReason, Command, Data, Server};
use hisock_examples::basic::Calc;

/// The hisock tutorial server.
#[derive(Parser)]
struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = hisock_examples::DEFAULT_ADDR)]
    addr: SocketAddr,
}

#[tokio::main]
async fn main() -> Result<(), hisock_examples::Failure> {
    hisock_examples::init_tracing("info");
    let args = Args::parse();
    let server = Server::new();

    // A handler is an async function whose arguments say what it needs: the
    // sender (`ClientInfo`), the server itself, the payload as a type
    // (`Data<T>`), the command name, ... Logs from handlers appear inside the
    // server's `conn{client=.. addr=..}` span.
    server.on("join", |server: Server, client: ClientInfo| async move {
        tracing::info!(name = ?client.name(), "joined");
        let welcome = format!("welcome, {}!", client.name().unwrap_or("stranger"));
        // `to_client`, `to_group`, `to_all` pick the recipients; `emit` sends.
        if let Err(err) = server.to_client(client.id).emit("welcome", &welcome) {
            tracing::warn!(%err, "could not greet");
        }
    });

    // `leave` runs however a client goes: it closed, was kicked, timed out.
    server.on("leave", |_: ClientInfo, why: CloseReason| async move {
        tracing::info!(%why, "left");
    });

    // `message` sees every event before its own handler.
    server.on("message", |Command(command): Command| async move {
        tracing::debug!(%command, "event");
    });

    // `*` gets the events nobody else handles.
    server.on("*", |Command(command): Command| async move {
        tracing::warn!(%command, "no handler for this command");
    });

    // A plain event: the payload must decode as a `String`, otherwise the
    // library tells the sender and never calls the handler. The answer is
    // another event, which the client awaits with `recv`.
    server.on(
        "greet",
        |server: Server, client: ClientInfo, Data(text): Data<String>| async move {
            let name = client.name().unwrap_or("stranger");
            let greeting = format!("hello {name}, you said {text:?}");
            server.to_client(client.id).emit("greeting", &greeting)?;
            Ok::<_, hisock::Error>(())
        },
    );

    // A request: what the handler returns is the reply. An `Err` reaches the
    // client as `hisock::Error::Remote` with its text.
    server.on("calc", |Data(calc): Data<Calc>| async move { calc.eval() });

    let listener = hisock_tcp::TcpListener::bind(args.addr).await?;
    println!("basic_server listening on tcp://{}", listener.local_addr()?);
    server.listen(listener);

    // Serve until Ctrl-C, then close cleanly: queued events are still
    // delivered and every client gets a close frame.
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
