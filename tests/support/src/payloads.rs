//! Payloads shared by several tests: a typical struct, and bytes whose
//! content shows where each came from.

use std::convert::Infallible;

use bytes::Bytes;
use futures::Stream;
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

/// `len` bytes of a pattern that does not repeat every 256 bytes, so a
/// reordered, shifted or dropped chunk shows.
pub fn patterned_bytes(len: usize) -> Bytes {
    (0..len)
        .map(|i| ((i * 31 + i / 251) % 256) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// [`patterned_bytes`]`(len)` cut into pieces of `piece` bytes, as the
/// source of a stream.
pub fn patterned_pieces(
    len: usize,
    piece: usize,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    let whole = patterned_bytes(len);
    let cuts: Vec<Result<Bytes, Infallible>> = (0..len)
        .step_by(piece)
        .map(|start| Ok(whole.slice(start..(start + piece).min(len))))
        .collect();
    futures::stream::iter(cuts)
}
