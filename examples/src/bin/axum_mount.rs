//! hisock inside an existing axum application: the app serves its own pages
//! and mounts the hisock WebSocket endpoint on `/ws`, on the same port. The
//! same `Server` could also listen on TCP at the same time.
//!
//! ```text
//! cargo run -p hisock-examples --bin axum_mount -- --addr 127.0.0.1:3000
//! cargo run -p hisock-examples --bin chat_client -- --ws ws://127.0.0.1:3000/ws --name ada
//! ```

use std::net::SocketAddr;

use axum::routing::get;
use axum::Router;
use clap::Parser;
use hisock::{ClientInfo, Data, Server};

#[derive(Parser)]
#[command(about = "An axum app that mounts hisock on /ws")]
struct Args {
    /// Address of the HTTP server (pages and the /ws endpoint).
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    hisock_examples::init_tracing("info");
    let args = Args::parse();

    // The hisock side: an ordinary server with handlers.
    let hisock = Server::new();
    hisock.on(
        "echo",
        |who: ClientInfo, Data(text): Data<String>| async move {
            format!("{} said {text}", who.name().unwrap_or("someone"))
        },
    );

    // The axum side: the app's own routes, plus hisock on /ws.
    let app = Router::new()
        .route("/", get(|| async { "an axum app; hisock lives on /ws" }))
        .route("/ws", hisock_ws::axum::route(hisock.clone()));

    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    // The example's output, for the person running it.
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}/ with hisock at ws://{addr}/ws");
    // Connect info gives hisock the clients' addresses.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    hisock.shutdown().await;
    Ok(())
}
