//! Where a client's small frames are encoded: blocks shared by one
//! sender's frames, so that a frame costs no allocation of its own.

use bytes::Bytes;

use super::Frame;
#[cfg(not(target_arch = "wasm32"))]
use crate::platform::locks::lock;

/// Size of a [`FrameBlock`]'s blocks. Small: a client keeps its current
/// block while idle.
#[cfg(not(target_arch = "wasm32"))]
const BLOCK_BYTES: usize = 4 * 1024;

/// Memory that one sender's small frames share, so that a frame costs no
/// allocation of its own: frames of at most 1/16 of a block are encoded
/// into the current block, which is split off for each. A frame keeps its
/// block alive until it is dropped; a block whose frames are all gone is
/// used again. One per client (never shared between senders): a stalled
/// connection's queued frames then pin only blocks of its own frames, so
/// its memory stays within its queue's byte limit plus one block.
///
/// In the browser (code size counts) frames are encoded on their own.
#[derive(Default)]
pub(crate) struct FrameBlock {
    #[cfg(not(target_arch = "wasm32"))]
    block: std::sync::Mutex<bytes::BytesMut>,
}

impl FrameBlock {
    /// Encodes an `Event` frame: the same bytes as [`Frame::encode`] of a
    /// `Frame::Event`. Small ones go into the current block, sized by
    /// arithmetic and written in four appends (`Frame::write_event`).
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn encode_event(&self, command: &str, request_id: u64, payload: &[u8]) -> Bytes {
        let len = Frame::event_len(command, request_id, payload.len());
        if len > BLOCK_BYTES / 16 {
            return Frame::Event {
                command,
                request_id,
                payload,
            }
            .encode();
        }
        let mut block = lock(&self.block);
        if block.capacity() < len {
            block.reserve(BLOCK_BYTES);
        }
        Frame::write_event(&mut block, command, request_id, payload);
        block.split().freeze()
    }

    /// Encodes an `Event` frame on its own.
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn encode_event(&self, command: &str, request_id: u64, payload: &[u8]) -> Bytes {
        Frame::Event {
            command,
            request_id,
            payload,
        }
        .encode()
    }
}
