//! An in-memory transport: two connected [`Connection`]s over bounded
//! channels. For examples, doc tests and protocol tests without sockets.

use bytes::Bytes;
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};

use crate::transport::{Connection, TransportError, TransportKind};

/// Frames in flight per direction before the sender waits.
const CHANNEL_FRAMES: usize = 64;

/// Two ends of one connection. Frames larger than `max_frame_len` are
/// refused by the receiving end with [`TransportError::FrameTooBig`], like
/// the real transports do.
pub fn pair(max_frame_len: usize) -> (Connection, Connection) {
    let (a_tx, a_rx) = mpsc::channel::<Bytes>(CHANNEL_FRAMES);
    let (b_tx, b_rx) = mpsc::channel::<Bytes>(CHANNEL_FRAMES);
    (
        end(a_tx, b_rx, max_frame_len),
        end(b_tx, a_rx, max_frame_len),
    )
}

fn end(tx: mpsc::Sender<Bytes>, rx: mpsc::Receiver<Bytes>, max: usize) -> Connection {
    let stream = rx.map(move |frame| {
        if frame.len() > max {
            Err(TransportError::FrameTooBig {
                len: frame.len(),
                max,
            })
        } else {
            Ok(frame)
        }
    });
    let sink = tx.sink_map_err(|_| peer_gone());
    Connection::new(stream, sink, TransportKind::Other)
}

#[cfg(not(target_arch = "wasm32"))]
fn peer_gone() -> TransportError {
    TransportError::Io(std::io::Error::new(
        std::io::ErrorKind::BrokenPipe,
        "in-memory peer is gone",
    ))
}

/// The browser build has no `TransportError::Io`.
#[cfg(target_arch = "wasm32")]
fn peer_gone() -> TransportError {
    TransportError::Other("in-memory peer is gone".into())
}
