//! Rules and payloads of `tictactoe_server` / `tictactoe_client`.
//!
//! The server owns a [`Game`]: it seats two players, checks every move and
//! sends the resulting [`GameState`] to both. The clients only display it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A player's mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mark {
    /// Plays first.
    X,
    /// Plays second.
    O,
}

impl Mark {
    /// The other player's mark.
    pub fn other(self) -> Mark {
        match self {
            Mark::X => Mark::O,
            Mark::O => Mark::X,
        }
    }
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mark::X => "X",
            Mark::O => "O",
        })
    }
}

/// A move: row and column, both 0 to 2 (the payload of the `move` request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    /// Row, 0 (top) to 2.
    pub row: usize,
    /// Column, 0 (left) to 2.
    pub col: usize,
}

impl Move {
    /// Parses `"row col"` as typed by a player.
    pub fn parse(line: &str) -> Result<Move, String> {
        let numbers: Vec<&str> = line.split_whitespace().collect();
        let [row, col] = numbers[..] else {
            return Err("type two numbers: row col (each 0, 1 or 2)".to_string());
        };
        let number = |text: &str| {
            text.parse::<usize>()
                .map_err(|_| format!("{text:?} is not a number"))
        };
        Ok(Move {
            row: number(row)?,
            col: number(col)?,
        })
    }
}

/// The 3×3 board.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Board {
    /// `cells[row][col]`, `None` when empty.
    pub cells: [[Option<Mark>; 3]; 3],
}

impl Board {
    /// Puts `mark` at `mv`. Errors (and changes nothing) when the cell is off
    /// the board or taken.
    pub fn play(&mut self, mark: Mark, mv: Move) -> Result<(), String> {
        let cell = self
            .cells
            .get_mut(mv.row)
            .and_then(|row| row.get_mut(mv.col))
            .ok_or_else(|| format!("{} {} is off the board", mv.row, mv.col))?;
        if cell.is_some() {
            return Err(format!("{} {} is taken", mv.row, mv.col));
        }
        *cell = Some(mark);
        Ok(())
    }

    /// The mark with three in a row, if any.
    pub fn winner(&self) -> Option<Mark> {
        const LINES: [[(usize, usize); 3]; 8] = [
            [(0, 0), (0, 1), (0, 2)],
            [(1, 0), (1, 1), (1, 2)],
            [(2, 0), (2, 1), (2, 2)],
            [(0, 0), (1, 0), (2, 0)],
            [(0, 1), (1, 1), (2, 1)],
            [(0, 2), (1, 2), (2, 2)],
            [(0, 0), (1, 1), (2, 2)],
            [(0, 2), (1, 1), (2, 0)],
        ];
        LINES.iter().find_map(|line| {
            let [a, b, c] = line.map(|(row, col)| self.cells[row][col]);
            a.filter(|_| a == b && b == c)
        })
    }

    /// The empty cells, row by row.
    pub fn empty_cells(&self) -> Vec<Move> {
        (0..3)
            .flat_map(|row| (0..3).map(move |col| Move { row, col }))
            .filter(|mv| self.cells[mv.row][mv.col].is_none())
            .collect()
    }
}

impl fmt::Display for Board {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "    0   1   2")?;
        for (i, row) in self.cells.iter().enumerate() {
            let [a, b, c] = row.map(|cell| cell.map_or(" ".to_string(), |m| m.to_string()));
            writeln!(f, "{i}   {a} | {b} | {c}")?;
            if i < 2 {
                writeln!(f, "   ---+---+---")?;
            }
        }
        Ok(())
    }
}

/// Where the game stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Fewer than two players are seated.
    WaitingForPlayers,
    /// It is this mark's turn.
    Turn(Mark),
    /// This mark won; the game is over.
    Won(Mark),
    /// The board is full without a winner; the game is over.
    Draw,
}

impl Status {
    /// True when the game has ended.
    pub fn is_over(self) -> bool {
        matches!(self, Status::Won(_) | Status::Draw)
    }
}

/// What the server sends to both players after every change (`board` event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameState {
    /// The board.
    pub board: Board,
    /// Where the game stands.
    pub status: Status,
}

/// The server's game: two seats (by client id), the board and whose turn it
/// is. No I/O; the server calls it from its handlers.
#[derive(Debug, Default)]
pub struct Game {
    /// Client ids of X and O.
    seats: [Option<u64>; 2],
    board: Board,
    /// `None` until both seats are taken.
    turn: Option<Mark>,
    over: Option<Status>,
}

impl Game {
    /// Seats client `id` and returns its mark; `None` when both seats are
    /// taken. The game starts, with X to play, once both are seated.
    pub fn join(&mut self, id: u64) -> Option<Mark> {
        let seat = self.seats.iter().position(Option::is_none)?;
        self.seats[seat] = Some(id);
        if self.seats.iter().all(Option::is_some) {
            self.board = Board::default();
            self.turn = Some(Mark::X);
            self.over = None;
        }
        Some([Mark::X, Mark::O][seat])
    }

    /// Frees client `id`'s seat. A game in progress or finished is cleared:
    /// the remaining player waits for a new opponent. True if `id` was seated.
    pub fn leave(&mut self, id: u64) -> bool {
        let Some(seat) = self.seats.iter().position(|s| *s == Some(id)) else {
            return false;
        };
        self.seats[seat] = None;
        *self = Game {
            seats: self.seats,
            ..Game::default()
        };
        true
    }

    /// Plays client `id`'s move and returns the new state, or says why the
    /// move is refused (not seated, not your turn, game not running, cell
    /// off the board or taken).
    pub fn play(&mut self, id: u64, mv: Move) -> Result<GameState, String> {
        let mark = self.mark_of(id).ok_or("you are not playing")?;
        if self.over.is_some() {
            return Err("the game is over".to_string());
        }
        match self.turn {
            None => return Err("waiting for a second player".to_string()),
            Some(turn) if turn != mark => return Err(format!("it is {turn}'s turn")),
            Some(_) => {}
        }
        self.board.play(mark, mv)?;
        if let Some(winner) = self.board.winner() {
            self.over = Some(Status::Won(winner));
        } else if self.board.empty_cells().is_empty() {
            self.over = Some(Status::Draw);
        } else {
            self.turn = Some(mark.other());
        }
        Ok(self.state())
    }

    /// The state to show the players.
    pub fn state(&self) -> GameState {
        let status = match (self.over, self.turn) {
            (Some(over), _) => over,
            (None, Some(turn)) => Status::Turn(turn),
            (None, None) => Status::WaitingForPlayers,
        };
        GameState {
            board: self.board.clone(),
            status,
        }
    }

    fn mark_of(&self, id: u64) -> Option<Mark> {
        let seat = self.seats.iter().position(|s| *s == Some(id))?;
        Some([Mark::X, Mark::O][seat])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mv(row: usize, col: usize) -> Move {
        Move { row, col }
    }

    #[test]
    fn moves_parse_from_two_numbers() {
        assert_eq!(Move::parse(" 2 0 "), Ok(mv(2, 0)));
        assert!(Move::parse("2").is_err());
        assert!(Move::parse("a b").is_err());
    }

    #[test]
    fn board_refuses_taken_and_off_board_cells() {
        let mut board = Board::default();
        board.play(Mark::X, mv(0, 0)).expect("free cell");
        assert!(board.play(Mark::O, mv(0, 0)).is_err());
        assert!(board.play(Mark::O, mv(3, 0)).is_err());
        assert_eq!(board.empty_cells().len(), 8);
    }

    #[test]
    fn game_waits_for_two_players_then_enforces_turns() {
        let mut game = Game::default();
        assert_eq!(game.join(10), Some(Mark::X));
        assert!(game.play(10, mv(0, 0)).is_err(), "alone");
        assert_eq!(game.join(11), Some(Mark::O));
        assert_eq!(game.join(12), None, "two seats only");
        assert!(game.play(11, mv(0, 0)).is_err(), "X starts");
        assert_eq!(
            game.play(10, mv(0, 0)).expect("X plays").status,
            Status::Turn(Mark::O)
        );
    }

    #[test]
    fn three_in_a_row_wins_and_ends_the_game() {
        let mut game = Game::default();
        game.join(1);
        game.join(2);
        for (id, (row, col)) in [(1, (0, 0)), (2, (1, 0)), (1, (0, 1)), (2, (1, 1))] {
            game.play(id, mv(row, col)).expect("legal move");
        }
        let state = game.play(1, mv(0, 2)).expect("winning move");
        assert_eq!(state.status, Status::Won(Mark::X));
        assert!(game.play(2, mv(2, 2)).is_err());
    }

    #[test]
    fn full_board_without_a_line_is_a_draw() {
        let mut game = Game::default();
        game.join(1);
        game.join(2);
        // X O X / X O O / O X X
        let moves = [
            (1, (0, 0)),
            (2, (0, 1)),
            (1, (0, 2)),
            (2, (1, 1)),
            (1, (1, 0)),
            (2, (1, 2)),
            (1, (2, 1)),
            (2, (2, 0)),
            (1, (2, 2)),
        ];
        let mut last = None;
        for (id, (row, col)) in moves {
            last = Some(game.play(id, mv(row, col)).expect("legal move").status);
        }
        assert_eq!(last, Some(Status::Draw));
    }

    #[test]
    fn leaving_clears_the_board_and_frees_the_seat() {
        let mut game = Game::default();
        game.join(1);
        game.join(2);
        game.play(1, mv(1, 1)).expect("X plays");
        assert!(game.leave(1));
        assert_eq!(game.state().status, Status::WaitingForPlayers);
        assert_eq!(game.state().board, Board::default());
        assert_eq!(game.join(3), Some(Mark::X));
    }
}
