//! The outgoing queue of a resumable session (PROTOCOL.md section 13): the
//! writer keeps every counted frame it takes in the session's
//! [`ReplayBuffer`] until the peer acknowledges it, and on a resume the
//! queue is rebuilt as the handshake's frames, then what the peer did not
//! receive, then what waited. In a file of its own: connections without a
//! session use none of it (their writer pays one branch per batch). (Past
//! 450 lines with its unit tests, which stay beside the queue rules they
//! check; the code is about 340.)
//!
//! Frames are kept when the writer *takes* them, not when they are pushed:
//! what waits in the queue is not yet numbered, so a break loses nothing
//! (the queue waits for the next connection's writer) and numbers nothing
//! twice. A frame taken by a writer whose connection then broke may or may
//! not have reached the peer: it is in the buffer, and the peer's count on
//! resume says which.
//!
//! A full buffer holds the writer back (flow control, not an error): what
//! is written and not acknowledged includes the kernels' socket buffers
//! and the peer's backlog, which a fast sender fills (tens of thousands
//! of small events under W1). Counted frames wait in the queue until an
//! `Ack` frees room, and the queue's own bound applies meanwhile; upkeep
//! (acks, pings, pongs) still leaves, so two full buffers cannot wait for
//! each other's acks.
//!
//! While it holds the writer back, a sender that waits for room (the
//! client's `send`) gets only an eighth of the queue's limit
//! ([`HELD_BACK_SHARE`]):
//! a sender that is never refused keeps its runtime thread until the
//! queue is full, and the task that would read the peer's `Ack`s and write
//! waits behind it, so the peer runs out of frames. Measured with W1 and
//! resumption on (the server's writer turns in place, bench/README.md):
//! 0.83–0.90 × W1 without it when the whole queue could fill, 0.90–0.97
//! with an eighth (a quarter and a 32nd: the same, within the noise).

use std::collections::VecDeque;
use std::task::{Context, Poll};

use bytes::Bytes;

use super::{cost, Outbox, State};
use crate::frame::FrameKind;
use crate::platform::lock;
use crate::protocol::resume::{is_counted, CountFault, ReplayBuffer};

/// The part of the queue's limit (1 / this) a waiting sender may fill
/// while the replay buffer holds the writer back.
const HELD_BACK_SHARE: usize = 8;

/// A session's sending half, inside the outbox's lock.
#[derive(Debug)]
pub(super) struct Replay {
    buffer: ReplayBuffer,
    /// Counted frames at the head of the queue that are in `buffer`
    /// already (resent after a resume): the writer does not keep them
    /// twice.
    resent_ahead: usize,
    /// The buffer was full when the writer last took a batch: the writer
    /// waits for an `Ack`.
    held_back: bool,
}

impl Replay {
    /// Keeps the counted frames at the head of `queue` that fit, and says
    /// how many frames (counted or not) may be written: up to the first
    /// counted one that does not fit.
    #[inline]
    fn keep_what_fits(&mut self, queue: &VecDeque<Bytes>) -> usize {
        let mut fits = 0;
        self.held_back = false;
        for frame in queue {
            if is_counted(frame) {
                if self.resent_ahead > 0 {
                    self.resent_ahead -= 1;
                } else if self.buffer.push(frame.clone()).is_err() {
                    self.held_back = true;
                    break;
                }
            }
            fits += 1;
        }
        fits
    }
}

/// Frames that leave even when the buffer is full: the connection's
/// upkeep (and the handshake's `Welcome` and `Session`), not a `Close`,
/// which stays behind what it ends.
fn is_upkeep(frame: &[u8]) -> bool {
    !is_counted(frame) && frame.first() != Some(&FrameKind::Close.number())
}

/// The counted frames a peer whose count is `peer_received` still needs,
/// in order: the kept ones after that number, then the counted frames that
/// waited (those a previous resume queued again are among the kept ones:
/// not twice), and how many of them are kept already. The queue is
/// drained; its upkeep frames are dropped. `Err` (nothing changed) without
/// a session or for a count outside what was acknowledged and sent.
fn still_needed(state: &mut State, peer_received: u64) -> Result<(Vec<Bytes>, usize), CountFault> {
    let Some(replay) = state.replay.as_mut() else {
        return Err(CountFault {
            claimed: peer_received,
            acked: 0,
            sent: 0,
        });
    };
    let mut needed: Vec<Bytes> = replay
        .buffer
        .replay_after(peer_received)?
        .cloned()
        .collect();
    let kept = needed.len();
    let mut resent = replay.resent_ahead;
    needed.extend(state.queue.drain(..).filter(|frame| {
        let counted = is_counted(frame);
        if counted && resent > 0 {
            resent -= 1;
            return false;
        }
        counted
    }));
    Ok((needed, kept))
}

impl Outbox {
    /// The limit a sender that waits for room is held to: the queue's,
    /// or [`HELD_BACK_SHARE`] of it while the replay buffer holds the
    /// writer back.
    #[inline(always)]
    pub(super) fn limit_for_waiting(&self, state: &State) -> usize {
        match &state.replay {
            Some(replay) if replay.held_back => self.limit / HELD_BACK_SHARE,
            _ => self.limit,
        }
    }

    /// The writer's batch on a session: what fits in the replay buffer, or
    /// only the upkeep while it is full (waiting for an `Ack`, which wakes
    /// the writer).
    pub(super) fn take_session_batch(
        &self,
        state: &mut State,
        cx: &mut Context<'_>,
        spare: &mut VecDeque<Bytes>,
    ) -> Poll<Option<VecDeque<Bytes>>> {
        let State {
            queue,
            bytes,
            in_flight,
            replay: Some(replay),
            ..
        } = state
        else {
            return Poll::Pending;
        };
        let fits = replay.keep_what_fits(queue);
        let batch = if fits == queue.len() {
            *bytes = 0;
            std::mem::replace(queue, std::mem::take(spare))
        } else if fits > 0 {
            let rest = queue.split_off(fits);
            let batch = std::mem::replace(queue, rest);
            *bytes = queue.iter().map(cost).sum();
            batch
        } else {
            let mut upkeep = VecDeque::new();
            queue.retain(|frame| match is_upkeep(frame) {
                true => {
                    upkeep.push_back(frame.clone());
                    false
                }
                false => true,
            });
            if upkeep.is_empty() {
                self.writer.register(cx.waker());
                return Poll::Pending;
            }
            *bytes = queue.iter().map(cost).sum();
            upkeep
        };
        *in_flight = batch.len();
        Poll::Ready(Some(batch))
    }

    /// Begins a new session on this queue: counted frames are kept, at
    /// most `limit` bytes of memory of them, from the next one the writer
    /// takes (numbered from 1). A previous session's frames are dropped.
    pub(crate) fn start_session(&self, limit: usize) {
        let mut state = lock(&self.state);
        // Frames of the old session queued again by a resume and not yet
        // taken were sent in it already: dropped with its other frames.
        let mut resent = state
            .replay
            .as_ref()
            .map_or(0, |replay| replay.resent_ahead);
        if resent > 0 {
            state.queue.retain(|frame| {
                if resent > 0 && is_counted(frame) {
                    resent -= 1;
                    return false;
                }
                true
            });
            state.bytes = state.queue.iter().map(cost).sum();
        }
        state.replay = Some(Box::new(Replay {
            buffer: ReplayBuffer::new(limit),
            resent_ahead: 0,
            held_back: false,
        }));
    }

    /// No session any more (the server keeps none): nothing is kept.
    pub(crate) fn end_session(&self) {
        lock(&self.state).replay = None;
    }

    /// Whether this queue keeps a session's frames.
    #[cfg(feature = "server")]
    pub(crate) fn has_session(&self) -> bool {
        lock(&self.state).replay.is_some()
    }

    /// The peer acknowledged our counted frames up to `received` (an
    /// `Ack`): they are dropped. A count outside what was acknowledged
    /// and sent is the peer's fault (1002). Without a session, `Ack` is
    /// not expected at all: also a fault.
    pub(crate) fn acknowledged(&self, received: u64) -> Result<(), CountFault> {
        let mut state = lock(&self.state);
        let acked = match state.replay.as_mut() {
            Some(replay) => replay.buffer.ack(received),
            None => Err(CountFault {
                claimed: received,
                acked: 0,
                sent: 0,
            }),
        };
        drop(state);
        // A writer held back by a full buffer goes on.
        self.writer.wake();
        acked
    }

    /// What a peer resuming the session may say it received: at least the
    /// first number, at most the second (`None` without a session).
    #[cfg(any(test, feature = "server"))]
    pub(crate) fn resumable_counts(&self) -> Option<(u64, u64)> {
        let state = lock(&self.state);
        let replay = state.replay.as_ref()?;
        Some((replay.buffer.acked(), replay.buffer.sent()))
    }

    /// The session resumes on a new connection whose peer received our
    /// counted frames up to `peer_received`: the queue becomes `first`
    /// (the handshake's frames), then the kept frames after that number,
    /// then the counted frames that waited; frames of the old
    /// connection's upkeep (pongs, acks) are dropped. `Err` (nothing
    /// changed) when the count is outside what was acknowledged and sent.
    pub(crate) fn resume_session(
        &self,
        peer_received: u64,
        first: Vec<Bytes>,
    ) -> Result<(), CountFault> {
        let mut guard = lock(&self.state);
        let state = &mut *guard;
        let (needed, kept) = still_needed(state, peer_received)?;
        let mut queue = VecDeque::with_capacity(first.len() + needed.len());
        queue.extend(first);
        queue.extend(needed);
        if let Some(replay) = state.replay.as_mut() {
            replay.resent_ahead = kept;
        }
        state.bytes = queue.iter().map(cost).sum();
        state.queue = queue;
        state.in_flight = 0;
        drop(guard);
        self.writer.wake();
        Ok(())
    }

    /// The session leaves this queue for another node (`handover.rs` in
    /// the server's cluster code): the counted frames the peer, whose count
    /// is `peer_received`, still needs, in order (the kept ones after that
    /// number, then what waited), and the queue keeps no session from now
    /// on (what is pushed later is forwarded, not numbered here).
    /// Upkeep frames are dropped. `Err` (nothing changed) when the count
    /// is outside what was acknowledged and sent.
    #[cfg(feature = "server")]
    pub(crate) fn export_session(&self, peer_received: u64) -> Result<Vec<Bytes>, CountFault> {
        let mut guard = lock(&self.state);
        let state = &mut *guard;
        let (frames, _) = still_needed(state, peer_received)?;
        state.replay = None;
        state.bytes = 0;
        state.in_flight = 0;
        drop(guard);
        self.room.notify(usize::MAX);
        Ok(frames)
    }

    /// A session that moved here from another node (or came back after a
    /// hand-over that failed) starts on this queue: its peer has our
    /// counted frames up to `peer_received`; the queue becomes `first`
    /// (the handshake's frames), then `frames` (numbered from
    /// `peer_received + 1` as the writer takes them), then what waited.
    #[cfg(feature = "server")]
    pub(crate) fn import_session(
        &self,
        limit: usize,
        peer_received: u64,
        first: Vec<Bytes>,
        frames: Vec<Bytes>,
    ) {
        let mut state = lock(&self.state);
        let mut queue = VecDeque::with_capacity(first.len() + frames.len() + state.queue.len());
        queue.extend(first);
        queue.extend(frames);
        queue.extend(state.queue.drain(..).filter(|frame| is_counted(frame)));
        state.bytes = queue.iter().map(cost).sum();
        state.queue = queue;
        state.in_flight = 0;
        state.replay = Some(Box::new(Replay {
            buffer: ReplayBuffer::starting_after(limit, peer_received),
            resent_ahead: 0,
            held_back: false,
        }));
        drop(state);
        self.writer.wake();
    }

    /// A new connection without the old session: frames of the old
    /// connection's upkeep (pongs, acks) are dropped; what the
    /// application queued (all counted) waits for the writer.
    pub(crate) fn drop_upkeep(&self) {
        let mut state = lock(&self.state);
        state.queue.retain(|frame| is_counted(frame));
        state.bytes = state.queue.iter().map(cost).sum();
        drop(state);
        self.room.notify(usize::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Frame;

    fn event(n: u8) -> Bytes {
        Frame::Event {
            command: "n",
            request_id: 0,
            payload: &[n],
        }
        .encode()
    }

    fn taken(outbox: &Outbox) -> Vec<Bytes> {
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        let mut spare = VecDeque::new();
        match outbox.poll_batch(&mut cx, &mut spare) {
            std::task::Poll::Ready(Some(batch)) => batch.into_iter().collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn the_writer_keeps_counted_frames_until_acknowledged() {
        let outbox = Outbox::new(1 << 20);
        outbox.start_session(1 << 20);
        outbox
            .try_push(Frame::Ping { nonce: 1 }.encode())
            .expect("fits");
        for n in 1..=3 {
            outbox.try_push(event(n)).expect("fits");
        }
        assert_eq!(outbox.resumable_counts(), Some((0, 0)), "pushed, not taken");
        assert_eq!(taken(&outbox).len(), 4);
        assert_eq!(
            outbox.resumable_counts(),
            Some((0, 3)),
            "the ping is not counted"
        );
        outbox.acknowledged(2).expect("sent");
        assert_eq!(outbox.resumable_counts(), Some((2, 3)));
        assert!(outbox.acknowledged(1).is_err(), "below an earlier ack");
        assert!(outbox.acknowledged(4).is_err(), "above what was sent");
    }

    #[test]
    fn a_resume_sends_the_handshake_then_what_was_missed_then_what_waited() {
        let outbox = Outbox::new(1 << 20);
        outbox.start_session(1 << 20);
        for n in 1..=3 {
            outbox.try_push(event(n)).expect("fits");
        }
        taken(&outbox);
        // The connection broke; meanwhile a pong and event 4 were queued.
        outbox
            .try_push(Frame::Pong { nonce: 9 }.encode())
            .expect("fits");
        outbox.try_push(event(4)).expect("fits");
        let welcome = Bytes::from_static(b"welcome");
        outbox
            .resume_session(1, vec![welcome.clone()])
            .expect("within what was kept");
        let resent = taken(&outbox);
        assert_eq!(resent, vec![welcome, event(2), event(3), event(4)]);
        // 2 and 3 are not kept twice; 4 is new: numbered 4.
        assert_eq!(outbox.resumable_counts(), Some((1, 4)));
        outbox.acknowledged(4).expect("sent");
        assert_eq!(outbox.resumable_counts(), Some((4, 4)));
    }

    #[test]
    fn a_second_resume_before_the_writer_took_the_first_resends_each_frame_once() {
        let outbox = Outbox::new(1 << 20);
        outbox.start_session(1 << 20);
        for n in 1..=3 {
            outbox.try_push(event(n)).expect("fits");
        }
        taken(&outbox);
        outbox.try_push(event(4)).expect("fits");
        outbox
            .resume_session(1, Vec::new())
            .expect("within what was kept");
        // Broken again before the writer took anything.
        outbox
            .resume_session(1, Vec::new())
            .expect("within what was kept");
        assert_eq!(taken(&outbox), vec![event(2), event(3), event(4)]);
        assert_eq!(outbox.resumable_counts(), Some((1, 4)));
        // A new session drops what a resume queued again, untaken.
        outbox
            .resume_session(1, Vec::new())
            .expect("within what was kept");
        outbox.start_session(1 << 20);
        assert_eq!(taken(&outbox), Vec::<Bytes>::new());
    }

    #[cfg(feature = "server")]
    #[test]
    fn a_session_moves_to_another_queue_and_goes_on_numbering_there() {
        let old = Outbox::new(1 << 20);
        old.start_session(1 << 20);
        for n in 1..=3 {
            old.try_push(event(n)).expect("fits");
        }
        taken(&old);
        old.try_push(Frame::Pong { nonce: 9 }.encode())
            .expect("fits");
        old.try_push(event(4)).expect("fits");
        assert!(old.export_session(4).is_err(), "never sent");
        let frames = old.export_session(1).expect("within what was kept");
        assert_eq!(frames, vec![event(2), event(3), event(4)], "no upkeep");
        assert_eq!(old.resumable_counts(), None, "the session left");
        assert_eq!(old.queued_bytes(), 0);
        // What the old queue gets later is not numbered: forwarded.
        old.try_push(event(5)).expect("fits");
        assert_eq!(taken(&old), vec![event(5)]);

        let new = Outbox::new(1 << 20);
        let welcome = Bytes::from_static(b"welcome");
        new.import_session(1 << 20, 1, vec![welcome.clone()], frames);
        assert_eq!(new.resumable_counts(), Some((1, 1)));
        assert_eq!(taken(&new), vec![welcome, event(2), event(3), event(4)]);
        assert_eq!(
            new.resumable_counts(),
            Some((1, 4)),
            "numbered 2 to 4 again"
        );
        assert!(new.resume_session(0, Vec::new()).is_err(), "below the move");
        new.acknowledged(4).expect("sent");
    }

    #[test]
    fn a_resume_with_a_count_outside_the_buffer_changes_nothing() {
        let outbox = Outbox::new(1 << 20);
        outbox.start_session(1 << 20);
        outbox.try_push(event(1)).expect("fits");
        taken(&outbox);
        outbox.acknowledged(1).expect("sent");
        outbox.try_push(event(2)).expect("fits");
        assert!(
            outbox.resume_session(0, Vec::new()).is_err(),
            "below the ack"
        );
        assert!(outbox.resume_session(2, Vec::new()).is_err(), "never sent");
        assert_eq!(taken(&outbox), vec![event(2)]);
    }

    #[test]
    fn a_full_buffer_holds_counted_frames_back_until_an_ack_but_lets_upkeep_through() {
        let one = event(1).len() + crate::outbox::FRAME_OVERHEAD;
        let outbox = Outbox::new(1 << 20);
        outbox.start_session(2 * one);
        for n in 1..=3 {
            outbox.try_push(event(n)).expect("fits");
        }
        outbox
            .try_push(Frame::Ack { received: 9 }.encode())
            .expect("fits");
        outbox.close_with(Some(
            Frame::Close {
                code: 1000,
                reason: "",
                run_leave: true,
            }
            .encode(),
        ));
        assert_eq!(taken(&outbox), vec![event(1), event(2)], "what fits");
        assert_eq!(
            taken(&outbox),
            vec![Frame::Ack { received: 9 }.encode()],
            "full: only the upkeep, never the close"
        );
        assert_eq!(taken(&outbox), Vec::<Bytes>::new(), "waits for an ack");
        outbox.acknowledged(2).expect("sent");
        let rest = taken(&outbox);
        assert_eq!(rest.len(), 2, "event 3, then the close");
        assert_eq!(rest[0], event(3));
        assert_eq!(outbox.resumable_counts(), Some((2, 3)));
    }

    #[test]
    fn while_the_writer_is_held_back_a_waiting_sender_gets_an_eighth_of_the_queue() {
        let one = event(1).len() + crate::outbox::FRAME_OVERHEAD;
        let limit = 64 * one;
        let outbox = Outbox::new(limit);
        outbox.start_session(2 * one);
        for n in 1..=3 {
            outbox.offer_to_wait(event(n)).expect("fits");
        }
        assert_eq!(taken(&outbox).len(), 2, "the buffer holds two");
        // Held back: event 3 waits, and a waiting sender may add frames
        // up to an eighth of the limit (8 frames in all).
        let accepted = (0..64)
            .take_while(|_| outbox.offer_to_wait(event(4)).is_ok())
            .count();
        assert_eq!(accepted, 7);
        // A sender that does not wait still has the whole limit.
        outbox.try_push(event(5)).expect("within the limit");
        // An ack lets the writer go on, and the whole limit applies again.
        outbox.acknowledged(2).expect("sent");
        assert_eq!(taken(&outbox).len(), 2);
        outbox.offer_to_wait(event(6)).expect("not held back");
    }

    #[test]
    fn without_a_session_nothing_is_kept_and_an_ack_is_a_fault() {
        let outbox = Outbox::new(1 << 20);
        outbox.try_push(event(1)).expect("fits");
        taken(&outbox);
        assert_eq!(outbox.resumable_counts(), None);
        assert!(outbox.acknowledged(0).is_err());
    }

    #[test]
    fn a_new_connection_without_the_session_drops_only_upkeep() {
        let outbox = Outbox::new(1 << 20);
        outbox
            .try_push(Frame::Pong { nonce: 1 }.encode())
            .expect("fits");
        outbox.try_push(event(1)).expect("fits");
        outbox
            .try_push(Frame::Ack { received: 3 }.encode())
            .expect("fits");
        outbox.drop_upkeep();
        assert_eq!(taken(&outbox), vec![event(1)]);
    }
}
