//! A tic-tac-toe referee: the first two clients get X and O, the server keeps
//! the board, checks every move and tells both players how the game stands.
//!
//! ```text
//! cargo run -p hisock-examples --bin tictactoe_server
//! cargo run -p hisock-examples --bin tictactoe_client    # one terminal per player
//! cargo run -p hisock-examples --bin tictactoe_client -- --auto
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use clap::Parser;
use hisock::{ClientInfo, Data, Server};
use hisock_examples::tictactoe::{Game, Move};

/// The hisock tic-tac-toe server.
#[derive(Parser)]
struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = hisock_examples::DEFAULT_ADDR)]
    addr: SocketAddr,
}

/// The game is shared by all handlers; they run on many tasks, so it sits
/// behind a mutex (never held across an `.await`).
#[derive(Clone, Default)]
struct SharedGame(Arc<Mutex<Game>>);

impl SharedGame {
    fn lock(&self) -> MutexGuard<'_, Game> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[tokio::main]
async fn main() -> Result<(), hisock_examples::Failure> {
    hisock_examples::init_tracing("info");
    let args = Args::parse();

    // Two players, no spectators: a third client is refused during the
    // handshake with "server full".
    let server = Server::builder().max_connections(2).build();
    let game = SharedGame::default();

    // Handlers that need state capture a clone of it.
    let seats = game.clone();
    server.on("join", move |server: Server, player: ClientInfo| {
        let game = seats.clone();
        async move {
            let (mark, state) = {
                let mut game = game.lock();
                (game.join(player.id), game.state())
            };
            let Some(mark) = mark else {
                // Cannot happen with two connections at most; be safe anyway.
                return server.disconnect(player.id, "the game is full");
            };
            tracing::info!(%mark, "seated");
            server.to_client(player.id).emit("mark", mark)?;
            server.to_all().emit("board", &state)?;
            Ok(())
        }
    });

    let seats = game.clone();
    server.on("leave", move |server: Server, player: ClientInfo| {
        let game = seats.clone();
        async move {
            let state = {
                let mut game = game.lock();
                game.leave(player.id).then(|| game.state())
            };
            // The opponent, if still here, goes back to waiting.
            if let Some(state) = state {
                server.to_all().except(player.id).emit("board", &state)?;
            }
            Ok::<_, hisock::Error>(())
        }
    });

    // A move is a request: an illegal one is answered with an error (the
    // client sees `Error::Remote`), a legal one with `()` after both players
    // got the new board.
    server.on(
        "move",
        move |server: Server, player: ClientInfo, Data(mv): Data<Move>| {
            let game = game.clone();
            async move {
                let state = game.lock().play(player.id, mv).inspect_err(|why| {
                    tracing::info!(?mv, why, "move refused");
                })?;
                tracing::info!(?mv, status = ?state.status, "move");
                server
                    .to_all()
                    .emit("board", &state)
                    .map_err(|err| err.to_string())?;
                Ok::<_, String>(())
            }
        },
    );

    let listener = hisock_tcp::TcpListener::bind(args.addr).await?;
    println!(
        "tictactoe server listening on tcp://{}",
        listener.local_addr()?
    );
    server.listen(listener);

    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
