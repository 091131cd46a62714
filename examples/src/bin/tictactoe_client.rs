//! A tic-tac-toe player: shows the board the server sends and, on your turn,
//! sends your move as a request, so an illegal move is answered with why.
//!
//! ```text
//! cargo run -p hisock-examples --bin tictactoe_client            # type "row col"
//! cargo run -p hisock-examples --bin tictactoe_client -- --auto  # random legal moves
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use hisock::{Client, ClientOptions};
use hisock_examples::tictactoe::{GameState, Mark, Move, Status};
use tokio::sync::mpsc;

/// The hisock tic-tac-toe client.
#[derive(Parser)]
struct Args {
    /// Server address (host:port).
    #[arg(long, default_value = hisock_examples::DEFAULT_ADDR, value_parser = hisock::parse_addr)]
    addr: SocketAddr,
    /// Your name.
    #[arg(long, default_value = "player")]
    name: String,
    /// Play random legal moves instead of reading them from stdin.
    #[arg(long)]
    auto: bool,
}

const TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for the opponent before saying so again.
const PATIENCE: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> Result<(), hisock_examples::Failure> {
    hisock_examples::init_tracing("warn");
    let args = Args::parse();
    let client = hisock_tcp::connect(args.addr, ClientOptions::new().name(&args.name)).await?;

    // This client registers no handlers at all: it `recv`s each event when it
    // is ready for it. Events that arrive earlier wait in order.
    let mark: Mark = client.recv("mark", TIMEOUT).await?;
    println!("you play {mark}");
    let mut moves = if args.auto {
        None
    } else {
        Some(hisock_examples::stdin_lines())
    };

    loop {
        let state: GameState = match client.recv("board", PATIENCE).await {
            Ok(state) => state,
            Err(hisock::Error::Timeout(_)) => {
                println!("still waiting...");
                continue;
            }
            Err(err) => return Err(err.into()),
        };
        println!("\n{}", state.board);
        match state.status {
            Status::WaitingForPlayers => println!("waiting for an opponent..."),
            Status::Turn(turn) if turn == mark => {
                if !play_turn(&client, &state, moves.as_mut()).await? {
                    break;
                }
            }
            Status::Turn(turn) => println!("{turn} is thinking..."),
            Status::Won(winner) => {
                let outcome = if winner == mark {
                    "you win"
                } else {
                    "you lose"
                };
                println!("game over: {winner} wins, {outcome}");
                break;
            }
            Status::Draw => {
                println!("game over: draw");
                break;
            }
        }
    }
    client.close().await;
    Ok(())
}

/// Sends moves until the server accepts one. `moves` is stdin, or `None` to
/// pick random free cells. False when stdin ended (the player gave up).
async fn play_turn(
    client: &Client,
    state: &GameState,
    mut moves: Option<&mut mpsc::Receiver<String>>,
) -> hisock::Result<bool> {
    loop {
        let mv = match moves.as_deref_mut() {
            None => {
                // It is our turn, so the game is not over: a cell is free.
                let Some(mv) = fastrand::choice(state.board.empty_cells()) else {
                    return Ok(false);
                };
                println!("playing {} {}", mv.row, mv.col);
                mv
            }
            Some(lines) => {
                println!("your move (row col):");
                let Some(line) = lines.recv().await else {
                    return Ok(false);
                };
                match Move::parse(&line) {
                    Ok(mv) => mv,
                    Err(why) => {
                        println!("{why}");
                        continue;
                    }
                }
            }
        };
        // The server is the referee: it answers `()` or why the move is wrong.
        match client.request::<(), _>("move", &mv, TIMEOUT).await {
            Ok(()) => return Ok(true),
            Err(hisock::Error::Remote { message, .. }) => println!("refused: {message}"),
            Err(err) => return Err(err),
        }
    }
}
