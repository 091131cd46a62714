//! Payload types shared by several tests.

use serde::{Deserialize, Serialize};

/// A typical application payload: a struct that travels as a MessagePack map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    /// Column.
    pub x: i32,
    /// Row.
    pub y: i32,
    /// Who moves.
    pub player: String,
}

impl Move {
    /// A move by `player` to (`x`, `y`).
    pub fn new(x: i32, y: i32, player: &str) -> Self {
        Self {
            x,
            y,
            player: player.to_owned(),
        }
    }
}
