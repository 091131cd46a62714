//! An axum application behind TLS, with hisock mounted on `/ws`: axum-server
//! serves HTTPS with rustls, and browsers and native clients reach hisock
//! at `wss://…/ws`. Without `--cert` and `--key` a demo certificate is made
//! at start (its CA is written where the program says).
//!
//! ```text
//! cargo run -p hisock-examples --bin axum_tls -- --addr 127.0.0.1:3443
//! cargo run -p hisock-examples --bin chat_client -- \
//!     --ws wss://localhost:3443/ws --tls-ca /tmp/hisock-demo-tls/ca.pem --name ada
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::routing::get;
use axum::Router;
use clap::Parser;
use hisock::{ClientInfo, Data, Server};
use hisock_tcp::tls::ServerTls;
use hisock_ws::WsConfig;

#[derive(Parser)]
#[command(about = "An axum app served over HTTPS that mounts hisock on /ws (wss://)")]
struct Args {
    /// Address of the HTTPS server (pages and the /ws endpoint).
    #[arg(long, default_value = "127.0.0.1:3443")]
    addr: SocketAddr,
    /// The server's certificate chain (PEM). Without it, a demo certificate
    /// is made.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// The server's private key (PEM).
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Where the demo certificate is written.
    #[arg(long, value_name = "DIR", default_value_os_t = hisock_examples::tls::default_dir())]
    tls_dir: PathBuf,
}

#[tokio::main]
async fn main() -> Result<(), hisock_examples::Failure> {
    hisock_examples::init_tracing("info");
    let args = Args::parse();

    let tls = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => ServerTls::from_pem_files(cert, key)?,
        _ => {
            let demo = hisock_examples::tls::write_demo_certs(&args.tls_dir)?;
            println!(
                "demo certificate made; clients trust its CA at {}",
                demo.ca.display()
            );
            ServerTls::from_pem_files(&demo.cert, &demo.key)?
        }
    };

    let hisock = Server::new();
    hisock.on(
        "echo",
        |who: ClientInfo, Data(text): Data<String>| async move {
            format!(
                "{} said {text} over {}",
                who.name().unwrap_or("someone"),
                who.transport
            )
        },
    );
    // `route_behind_tls`: the same mount as `route`, reporting clients as wss.
    let app = Router::new()
        .route(
            "/",
            get(|| async { "an axum app over HTTPS; hisock lives on /ws" }),
        )
        .route(
            "/ws",
            hisock_ws::axum::route_behind_tls(hisock.clone(), WsConfig::new()),
        );

    // axum-server's rustls acceptor, with the config ServerTls built.
    let rustls = axum_server::tls_rustls::RustlsConfig::from_config(tls.config().clone());
    let listener = std::net::TcpListener::bind(args.addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    println!("listening on https://{addr}/ with hisock at wss://{addr}/ws");
    let handle = axum_server::Handle::new();
    let stop = handle.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.graceful_shutdown(None);
    });
    axum_server::from_tcp_rustls(listener, rustls)
        .handle(handle)
        .serve(app.into_make_service_with_connect_info::<SocketAddr>())
        .await?;
    hisock.shutdown().await;
    Ok(())
}
