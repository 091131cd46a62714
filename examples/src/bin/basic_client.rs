//! The HiSock tutorial client, in Rust: connect with a name, handle other
//! clients coming and going, send an event and `recv` the answer, make
//! requests, and see a `recv` time out.
//!
//! ```text
//! cargo run -p hisock-examples --bin basic_server
//! cargo run -p hisock-examples --bin basic_client -- --name ada
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use hisock::{ClientInfo, ClientOptions};
use hisock_examples::basic::{Calc, Op};

/// The hisock tutorial client.
#[derive(Parser)]
struct Args {
    /// Server address (host:port).
    #[arg(long, default_value = hisock_examples::DEFAULT_ADDR, value_parser = hisock::parse_addr)]
    addr: SocketAddr,
    /// Name to join with.
    #[arg(long, default_value = "ada")]
    name: String,
    /// Stay connected this many seconds at the end, to watch others join.
    #[arg(long, default_value_t = 0)]
    linger: u64,
}

const TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<(), hisock_examples::Failure> {
    hisock_examples::init_tracing("warn");
    let args = Args::parse();

    // Handlers given in the options are installed before the handshake, so
    // not even the first event can miss them.
    let options = ClientOptions::new()
        .name(&args.name)
        .on("client_connect", |other: ClientInfo| async move {
            println!("{} joined", other.name().unwrap_or("someone"));
        })
        .on("client_disconnect", |other: ClientInfo| async move {
            println!("{} left", other.name().unwrap_or("someone"));
        });
    let client = hisock_tcp::connect(args.addr, options).await?;
    println!("connected as {} (id {})", args.name, client.id());

    // The server greets every newcomer. No handler takes "welcome", so the
    // event waits in the client until `recv` asks for it.
    let welcome: String = client.recv("welcome", TIMEOUT).await?;
    println!("server: {welcome}");

    // Send an event, then await the event the server answers with.
    client.send("greet", "nice to meet you").await?;
    let greeting: String = client.recv("greeting", TIMEOUT).await?;
    println!("server: {greeting}");

    // A request is one round trip with typed payloads both ways.
    let sum: f64 = client
        .request(
            "calc",
            &Calc {
                op: Op::Add,
                a: 40.0,
                b: 2.0,
            },
            TIMEOUT,
        )
        .await?;
    println!("40 + 2 = {sum}");

    // A handler's error comes back as `Error::Remote`.
    let nonsense = Calc {
        op: Op::Div,
        a: 1.0,
        b: 0.0,
    };
    match client.request::<f64, _>("calc", &nonsense, TIMEOUT).await {
        Err(hisock::Error::Remote { message, .. }) => println!("1 / 0 refused: {message}"),
        other => println!("1 / 0 unexpectedly gave {other:?}"),
    }

    // `recv` gives up after its timeout when nothing comes.
    let short = Duration::from_millis(300);
    if let Err(hisock::Error::Timeout(after)) = client.recv::<String>("news", short).await {
        println!("no news after {after:?}");
    }

    tokio::time::sleep(Duration::from_secs(args.linger)).await;
    // Closing flushes what is queued, then tells the server goodbye.
    client.close().await;
    println!("bye");
    Ok(())
}
