//! What the soak's server and clients say to each other: event names and
//! payloads. Every counted delivery carries its sender and a sequence
//! number.
//!
//! Windows: a client opens and closes its windows with a `sync` event; the
//! server answers with a `mark` sent to that client while it holds the
//! lock under which it numbers and sends broadcasts, group casts and
//! direct messages. One connection delivers in order, so everything sent
//! to the client before the mark arrives before it, and everything after
//! it arrives after: a window is exactly the numbers between two marks,
//! whatever the churn around it.

use serde::{Deserialize, Serialize};

/// Client → server event, [`Seq`]: counted by the server per sender.
pub const C2S: &str = "c2s";
/// Client → server request, [`Done`]: the client's last accepted `c2s`
/// number; the reply is the server's [`Tally`](hisock_test_support::Tally) of that
/// sender.
pub const C2S_DONE: &str = "c2s_done";
/// Client → server request, [`Seq`]: answered with the same payload.
pub const ECHO: &str = "echo";
/// Client → server request, [`Relay`]: the server sends a [`DIRECT`] to the
/// client of that name and answers whether it was queued.
pub const RELAY: &str = "relay";
/// Server → client, [`Seq`]: a message from another client (`sender` is its
/// soak id), numbered per sender and receiver.
pub const DIRECT: &str = "direct";
/// Server → every client, [`Seq`] with sender 0.
pub const BROADCAST: &str = "broadcast";
/// Server → one group, [`GroupSeq`]: numbered per group.
pub const GROUP_CAST: &str = "group_cast";
/// Client → server event, [`Sync`]: open or close windows.
pub const SYNC: &str = "sync";
/// Server → one client, [`Mark`]: where the windows open or close.
pub const MARK: &str = "mark";
/// Server → client request, a `u64`: answered with the number plus one.
pub const ASK: &str = "ask";

/// One numbered delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seq {
    /// Who sent it (a client's soak id; 0 for the server).
    pub sender: u64,
    /// Its number in the sender's stream, from 1.
    pub seq: u64,
}

/// One numbered group cast.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupSeq {
    /// The group it was sent to.
    pub group: String,
    /// Its number in that group's stream, from 1.
    pub seq: u64,
}

/// A direct message to pass on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Relay {
    /// The receiver's name.
    pub to: String,
    /// What the receiver gets.
    pub message: Seq,
}

/// The end of a client's `c2s` stream.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Done {
    /// The sender's soak id.
    pub sender: u64,
    /// Its last `c2s` number whose `send` returned `Ok`.
    pub last: u64,
}

/// Which windows a [`SYNC`] opens or closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sync {
    /// Open the broadcast window (and the group's, if in one).
    Open,
    /// Open the window of the group just joined.
    GroupOpen,
    /// Close the window of the group about to be left.
    GroupClose,
    /// Close every window: the client is leaving. From now on the server
    /// neither relays direct messages to it nor asks it anything.
    Close,
}

/// The server's answer to a [`Sync`], sent under the sending lock.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Mark {
    /// The sync it answers.
    pub sync: Sync,
    /// The last broadcast number sent.
    pub broadcast: u64,
    /// The client's group, as the server's registry has it.
    pub group: Option<String>,
    /// The last number sent to that group.
    pub group_seq: u64,
}
