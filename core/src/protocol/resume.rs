//! Resumable sessions' bookkeeping, both sides (PROTOCOL.md section 13):
//! the implicit numbering of counted frames, the replay buffer of what was
//! sent and not yet acknowledged, when a receiver acknowledges, the checks
//! a resume makes, and what a `Session` frame's outcome means.
//!
//! Plain values handed frames and facts; no I/O, no clock (the one timed
//! rule, "acknowledge within [`ACK_DELAY`]", is a timer the caller arms
//! when told to). The server's session and the client's driver each keep
//! one [`ReplayBuffer`] (what they sent) and one [`AckSchedule`] (what they
//! received).

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

use crate::frame::{Frame, FrameKind};
use crate::outbox::FRAME_OVERHEAD;

/// Counted frames a receiver takes before it must acknowledge them
/// (PROTOCOL.md section 13.3).
pub const ACK_EVERY_FRAMES: u64 = 128;

/// Encoded bytes of counted frames a receiver takes before it must
/// acknowledge them.
pub const ACK_EVERY_BYTES: usize = 64 * 1024;

/// The longest a counted frame stays unacknowledged at its receiver when
/// fewer than [`ACK_EVERY_FRAMES`] and [`ACK_EVERY_BYTES`] follow it.
pub const ACK_DELAY: Duration = Duration::from_secs(1);

/// How long a server keeps a broken session by default.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(120);

/// The default bound of a replay buffer, in bytes of memory (each frame
/// its length plus [`FRAME_OVERHEAD`]).
pub const DEFAULT_REPLAY_LIMIT: usize = 4 * 1024 * 1024;

/// Bytes in a token the Rust server issues: 128 random bits.
pub const TOKEN_LEN: usize = 16;

/// What a `Session` frame says about the `Resume` before it (PROTOCOL.md
/// section 13.1, the outcome table). Every outcome but
/// [`Resumed`](Self::Resumed) comes with a new session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResumeOutcome {
    /// 0: the session was resumed; nothing was lost.
    Resumed,
    /// 1: the client asked for a new session.
    New,
    /// 2: the token names no session the server holds (wrong, from before a
    /// server restart, or forgotten).
    UnknownToken,
    /// 3: the session's window passed before the resume.
    Expired,
    /// 4: the session's replay buffer overflowed during the break.
    Overflow,
    /// 5: the client's count is outside what the server kept: resuming
    /// would lose or double frames.
    Gap,
    /// 6: the server keeps no sessions.
    Disabled,
    /// 7: the session had ended on purpose (a `Close`) before the resume.
    Ended,
    /// Any other number: a newer server's reason, not resumed.
    Other(u8),
}

impl ResumeOutcome {
    /// The outcome a `Session.outcome` byte stands for.
    pub fn from_wire(number: u8) -> Self {
        match number {
            0 => Self::Resumed,
            1 => Self::New,
            2 => Self::UnknownToken,
            3 => Self::Expired,
            4 => Self::Overflow,
            5 => Self::Gap,
            6 => Self::Disabled,
            7 => Self::Ended,
            other => Self::Other(other),
        }
    }

    /// The byte `Session.outcome` carries.
    pub fn to_wire(self) -> u8 {
        match self {
            Self::Resumed => 0,
            Self::New => 1,
            Self::UnknownToken => 2,
            Self::Expired => 3,
            Self::Overflow => 4,
            Self::Gap => 5,
            Self::Disabled => 6,
            Self::Ended => 7,
            Self::Other(number) => number,
        }
    }

    /// Whether the session went on (same client id, nothing lost).
    pub fn resumed(self) -> bool {
        self == Self::Resumed
    }
}

/// The outcome's name in PROTOCOL.md's table ("unknown token"), or
/// `"outcome <n>"` for a number it does not list. (Not the derived `Debug`,
/// whose machinery the browser build would carry for one error message.)
impl std::fmt::Display for ResumeOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Self::Resumed => "resumed",
            Self::New => "new",
            Self::UnknownToken => "unknown token",
            Self::Expired => "expired",
            Self::Overflow => "overflow",
            Self::Gap => "gap",
            Self::Disabled => "disabled",
            Self::Ended => "ended",
            Self::Other(number) => return write!(f, "outcome {number}"),
        };
        f.write_str(name)
    }
}

/// The replay buffer was full: the session cannot keep its promise and
/// ends (close 4012 while connected; PROTOCOL.md section 13.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayOverflow {
    /// The buffer's bound, in bytes of memory.
    pub limit: usize,
}

/// A peer's count of our frames that cannot be right: it acknowledges
/// frames we never sent, or fewer than it acknowledged before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountFault {
    /// What the peer said it received.
    pub claimed: u64,
    /// What it had acknowledged before (the least it may say).
    pub acked: u64,
    /// What we sent (the most it may say).
    pub sent: u64,
}

impl std::fmt::Display for CountFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the peer counts {} of our frames, but had acknowledged {} and was sent {}",
            self.claimed, self.acked, self.sent
        )
    }
}

/// The sending half of a session: numbers every counted frame (1, 2, … for
/// the session's whole life) and keeps each one until the peer
/// acknowledges it, within a bound in bytes of memory.
#[derive(Debug)]
pub struct ReplayBuffer {
    /// Frames numbered `acked + 1 ..= sent`, oldest first.
    frames: VecDeque<Bytes>,
    acked: u64,
    sent: u64,
    /// Memory the frames hold: lengths plus [`FRAME_OVERHEAD`] each.
    cost: usize,
    limit: usize,
}

impl ReplayBuffer {
    /// An empty buffer holding at most `limit` bytes of memory.
    pub fn new(limit: usize) -> Self {
        Self {
            frames: VecDeque::new(),
            acked: 0,
            sent: 0,
            cost: 0,
            limit,
        }
    }

    /// An empty buffer for a session whose first `count` frames the peer
    /// has already: the next frame kept is number `count + 1` (a session
    /// that moved from another node goes on numbering where it left).
    pub fn starting_after(limit: usize, count: u64) -> Self {
        Self {
            acked: count,
            sent: count,
            ..Self::new(limit)
        }
    }

    /// Keeps a counted frame that is being sent, and gives its number.
    /// The frame's bytes are shared, not copied. A frame that would take
    /// the buffer past its bound is not kept: the session has to end.
    /// One frame larger than the whole bound is still kept when the
    /// buffer is empty, as the outgoing queue sends one (section 12).
    pub fn push(&mut self, frame: Bytes) -> Result<u64, ReplayOverflow> {
        let cost = frame.len() + FRAME_OVERHEAD;
        if !self.frames.is_empty() && self.cost + cost > self.limit {
            return Err(ReplayOverflow { limit: self.limit });
        }
        self.cost += cost;
        self.frames.push_back(frame);
        self.sent += 1;
        Ok(self.sent)
    }

    /// The peer received our frames up to number `received`: drop them.
    pub fn ack(&mut self, received: u64) -> Result<(), CountFault> {
        if received < self.acked || received > self.sent {
            return Err(CountFault {
                claimed: received,
                acked: self.acked,
                sent: self.sent,
            });
        }
        while self.acked < received {
            if let Some(frame) = self.frames.pop_front() {
                self.cost -= frame.len() + FRAME_OVERHEAD;
            }
            self.acked += 1;
        }
        Ok(())
    }

    /// On a resume: the peer received up to `received`; the frames after
    /// it, in order, are what to send again before anything new.
    pub fn replay_after(
        &mut self,
        received: u64,
    ) -> Result<impl ExactSizeIterator<Item = &Bytes>, CountFault> {
        self.ack(received)?;
        Ok(self.frames.iter())
    }

    /// Frames numbered so far (the number of the last one).
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Frames the peer acknowledged.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Frames kept, not yet acknowledged.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether every frame sent was acknowledged.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Memory the kept frames hold, in bytes (what the bound counts).
    pub fn cost(&self) -> usize {
        self.cost
    }
}

/// What a receiver should do about acknowledging, after a counted frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckDue {
    /// Send `Ack{received}` now (a threshold was reached).
    Now(u64),
    /// Arm a timer for [`ACK_DELAY`]; call [`AckSchedule::timer_fired`]
    /// when it fires. Said once per unacknowledged stretch.
    ArmTimer,
    /// Nothing to do (a timer is armed already).
    Nothing,
}

/// The receiving half of a session: counts the peer's counted frames and
/// says when to acknowledge them (PROTOCOL.md section 13.3). Cumulative
/// and sparse: one `Ack` per [`ACK_EVERY_FRAMES`] frames or
/// [`ACK_EVERY_BYTES`] bytes, or [`ACK_DELAY`] after the first frame of a
/// shorter stretch, so that busy connections pay little and quiet ones
/// still let the sender free its buffer.
#[derive(Debug, Clone, Default)]
pub struct AckSchedule {
    received: u64,
    /// The count the last `Ack` (or the resume) told the peer.
    told: u64,
    bytes_since: usize,
    timer_armed: bool,
    /// How many times `counted` said `AckDue::Now`.
    due_now: u64,
}

impl AckSchedule {
    /// A schedule for a session whose peer has sent us nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A schedule for a session whose first `received` frames from the
    /// peer were received (and told it) elsewhere: a session that moved
    /// from another node.
    pub fn resumed_at(received: u64) -> Self {
        Self {
            received,
            told: received,
            ..Self::default()
        }
    }

    /// A counted frame of `len` bytes arrived: its number is
    /// [`received`](Self::received) afterwards.
    pub fn counted(&mut self, len: usize) -> AckDue {
        self.received += 1;
        self.bytes_since += len;
        if self.received - self.told >= ACK_EVERY_FRAMES || self.bytes_since >= ACK_EVERY_BYTES {
            self.due_now += 1;
            return AckDue::Now(self.acked_now());
        }
        if self.timer_armed {
            return AckDue::Nothing;
        }
        self.timer_armed = true;
        AckDue::ArmTimer
    }

    /// The timer armed after [`AckDue::ArmTimer`] fired: the count to
    /// acknowledge, or `None` when an `Ack` went out meanwhile.
    pub fn timer_fired(&mut self) -> Option<u64> {
        self.timer_armed = false;
        (self.received > self.told).then(|| self.acked_now())
    }

    /// The count went to the peer another way (`Resume.received` or
    /// `Session.received`): no `Ack` is owed for it, and a timer armed on
    /// the old connection is void (the next counted frame arms one anew).
    pub fn told_on_resume(&mut self) -> u64 {
        self.timer_armed = false;
        self.acked_now()
    }

    /// Counted frames received from the peer in the session.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// How many `Ack`s a threshold made due ([`AckDue::Now`]) so far: a
    /// receiver that reads on without a pause counts them to know when
    /// its writer must run (the server's session loop).
    pub fn acks_due(&self) -> u64 {
        self.due_now
    }

    fn acked_now(&mut self) -> u64 {
        self.told = self.received;
        self.bytes_since = 0;
        self.received
    }
}

/// Whether a frame, by its first byte, is counted (PROTOCOL.md section
/// 13.2). An empty or unknown frame is not (it closes the connection
/// anyway).
pub fn is_counted(frame: &[u8]) -> bool {
    frame
        .first()
        .and_then(|&number| FrameKind::from_number(number))
        .is_some_and(FrameKind::is_counted)
}

/// The `Session` frame a server sends after `Welcome`.
pub fn session_frame(
    token: &[u8],
    outcome: ResumeOutcome,
    received: u64,
    window: Duration,
) -> Bytes {
    Frame::Session {
        token,
        outcome: outcome.to_wire(),
        received,
        window_ms: u32::try_from(window.as_millis()).unwrap_or(u32::MAX),
    }
    .encode()
}

/// How a connection of a session ended, as far as the session cares
/// (PROTOCOL.md section 13.6): a break keeps the session for its window,
/// a `Close` from either side ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// Kept for the window: the transport ended or failed without a
    /// `Close`, or the peer fell silent past the keepalive timeout.
    Break,
    /// Ended now: leave runs as for a plain connection.
    Ended,
}

/// Whether a connection that ended with `code` (`None`: no `Close` either
/// way) keeps its session for the window. Only a break does: end of
/// stream, a transport error, or the keepalive timeout (4005).
pub fn session_end(code: Option<u16>) -> SessionEnd {
    match code {
        None | Some(crate::close::codes::ABNORMAL) => SessionEnd::Break,
        Some(crate::close::codes::KEEPALIVE_TIMEOUT) => SessionEnd::Break,
        Some(_) => SessionEnd::Ended,
    }
}

#[cfg(test)]
#[path = "resume_tests.rs"]
mod tests;
