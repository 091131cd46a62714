//! The typed payloads hisock carries in the workloads. The raw baselines
//! send the same number of payload bytes as a bare frame.

use serde::{Deserialize, Serialize};

/// An opaque block of bytes with a sequence number: W1, W2, M1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Blob {
    /// Sequence number.
    pub seq: u64,
    /// The bytes, sent as MessagePack bin.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

impl Blob {
    /// A blob of `len` bytes.
    pub fn new(len: usize) -> Self {
        Self {
            seq: 0,
            data: vec![0x5a; len],
        }
    }
}

/// A broadcast item: W3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct News {
    /// Which broadcast.
    pub seq: u32,
    /// The body.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
}

/// A small timestamped event: L1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stamp {
    /// Nanoseconds since the workload's epoch when it was sent.
    pub sent_ns: u64,
}
