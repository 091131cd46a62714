//! Unit tests of `resume.rs`, kept apart so that the module reads in one sitting.
use super::*;

fn frame(n: u8, len: usize) -> Bytes {
    Bytes::from(vec![n; len])
}

#[test]
fn frames_are_numbered_from_one_and_acks_free_them() {
    let mut buffer = ReplayBuffer::new(DEFAULT_REPLAY_LIMIT);
    for n in 1..=5u8 {
        assert_eq!(buffer.push(frame(n, 10)), Ok(u64::from(n)));
    }
    assert_eq!(buffer.cost(), 5 * (10 + FRAME_OVERHEAD));
    buffer.ack(3).expect("3 of 5 sent");
    assert_eq!((buffer.acked(), buffer.sent(), buffer.len()), (3, 5, 2));
    assert_eq!(buffer.cost(), 2 * (10 + FRAME_OVERHEAD));
    // The same count again is fine (a resume repeats the last Ack).
    buffer.ack(3).expect("repeated");
    buffer.ack(5).expect("all");
    assert!(buffer.is_empty());
    assert_eq!(buffer.cost(), 0);
}

#[test]
fn a_count_outside_acked_and_sent_is_a_fault() {
    let mut buffer = ReplayBuffer::new(DEFAULT_REPLAY_LIMIT);
    for n in 1..=4u8 {
        buffer.push(frame(n, 1)).expect("room");
    }
    buffer.ack(2).expect("fine");
    let fault = CountFault {
        claimed: 5,
        acked: 2,
        sent: 4,
    };
    assert_eq!(buffer.ack(5), Err(fault));
    assert_eq!(
        buffer.ack(1),
        Err(CountFault {
            claimed: 1,
            ..fault
        })
    );
    // Nothing changed.
    assert_eq!((buffer.acked(), buffer.len()), (2, 2));
}

#[test]
fn a_resume_replays_exactly_the_frames_after_the_peers_count() {
    let mut buffer = ReplayBuffer::new(DEFAULT_REPLAY_LIMIT);
    for n in 1..=6u8 {
        buffer.push(frame(n, 3)).expect("room");
    }
    buffer.ack(2).expect("acked before the break");
    let again: Vec<u8> = buffer
        .replay_after(4)
        .expect("4 is between 2 and 6")
        .map(|f| f[0])
        .collect();
    assert_eq!(again, [5, 6]);
    // Numbering goes on after the resume.
    assert_eq!(buffer.push(frame(7, 3)), Ok(7));
    // Received everything: nothing to replay.
    assert_eq!(buffer.replay_after(7).expect("all").len(), 0);
    // Below what it acknowledged: frames it says it lacks are gone.
    assert!(buffer.replay_after(3).is_err());
}

#[test]
fn the_bound_counts_memory_and_one_large_frame_passes_alone() {
    let limit = 3 * (100 + FRAME_OVERHEAD);
    let mut buffer = ReplayBuffer::new(limit);
    for n in 1..=3u8 {
        buffer.push(frame(n, 100)).expect("fits exactly");
    }
    assert_eq!(buffer.push(frame(4, 1)), Err(ReplayOverflow { limit }));
    assert_eq!(buffer.sent(), 3, "the refused frame has no number");
    buffer.ack(3).expect("all");
    // Empty: one frame over the whole bound is kept all the same.
    assert_eq!(buffer.push(frame(5, limit * 2)), Ok(4));
    assert!(buffer.push(frame(6, 1)).is_err());
}

#[test]
fn acks_go_every_128_frames_or_64_kib_and_a_timer_covers_the_rest() {
    let mut acks = AckSchedule::new();
    assert_eq!(acks.counted(10), AckDue::ArmTimer);
    for _ in 2..ACK_EVERY_FRAMES {
        assert_eq!(acks.counted(10), AckDue::Nothing);
    }
    assert_eq!(acks.counted(10), AckDue::Now(ACK_EVERY_FRAMES));
    // The timer armed for the first stretch finds nothing owed.
    assert_eq!(acks.timer_fired(), None);
    // A quiet stretch: the timer acknowledges it.
    assert_eq!(acks.counted(10), AckDue::ArmTimer);
    assert_eq!(acks.counted(10), AckDue::Nothing);
    assert_eq!(acks.timer_fired(), Some(ACK_EVERY_FRAMES + 2));
    // Large frames: by bytes.
    assert_eq!(acks.counted(ACK_EVERY_BYTES / 2), AckDue::ArmTimer);
    assert_eq!(
        acks.counted(ACK_EVERY_BYTES / 2),
        AckDue::Now(ACK_EVERY_FRAMES + 4)
    );
    // The two a threshold made due, not the timer's.
    assert_eq!(acks.acks_due(), 2);
}

#[test]
fn a_count_told_on_resume_needs_no_ack() {
    let mut acks = AckSchedule::new();
    assert_eq!(acks.counted(1), AckDue::ArmTimer);
    assert_eq!(acks.counted(1), AckDue::Nothing);
    assert_eq!(acks.told_on_resume(), 2);
    assert_eq!(acks.timer_fired(), None);
    assert_eq!(acks.received(), 2);
    // The old connection's timer is void: the next frame arms a new one.
    assert_eq!(acks.counted(1), AckDue::ArmTimer);
}

#[test]
fn outcomes_keep_their_numbers() {
    for number in 0..=u8::MAX {
        assert_eq!(ResumeOutcome::from_wire(number).to_wire(), number);
    }
    assert!(ResumeOutcome::from_wire(0).resumed());
    assert_eq!(ResumeOutcome::from_wire(2), ResumeOutcome::UnknownToken);
    assert_eq!(ResumeOutcome::from_wire(9), ResumeOutcome::Other(9));
}

/// The outcome table of PROTOCOL.md section 13.1 lists the same
/// numbers and names.
#[test]
fn outcomes_are_the_ones_protocol_md_lists() {
    let section = include_str!("../../../PROTOCOL.md")
        .split("`Session.outcome`:")
        .nth(1)
        .and_then(|rest| rest.split("**The token**").next())
        .expect("PROTOCOL.md has the outcome table");
    let rows: Vec<(u8, String)> = section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            Some((cells.get(1)?.parse().ok()?, cells[2].to_string()))
        })
        .collect();
    assert_eq!(rows.len(), 8);
    for (number, name) in rows {
        let outcome = ResumeOutcome::from_wire(number);
        assert!(!matches!(outcome, ResumeOutcome::Other(_)), "{number}");
        assert_eq!(outcome.to_string(), name, "outcome {number}");
    }
}

#[test]
fn only_frames_outside_the_upkeep_are_counted() {
    assert!(!is_counted(&Frame::Ack { received: 1 }.encode()));
    assert!(!is_counted(&Frame::Ping { nonce: 1 }.encode()));
    assert!(is_counted(
        &Frame::Reply {
            request_id: 1,
            payload: &[0xc0]
        }
        .encode()
    ));
    assert!(!is_counted(&[]));
    assert!(!is_counted(&[200]));
}

#[test]
fn a_break_keeps_the_session_and_a_close_ends_it() {
    use crate::close::codes;
    assert_eq!(session_end(None), SessionEnd::Break);
    assert_eq!(session_end(Some(codes::ABNORMAL)), SessionEnd::Break);
    assert_eq!(
        session_end(Some(codes::KEEPALIVE_TIMEOUT)),
        SessionEnd::Break
    );
    for code in [
        codes::NORMAL,
        codes::GOING_AWAY,
        codes::KICKED,
        codes::SLOW_CONSUMER,
    ] {
        assert_eq!(session_end(Some(code)), SessionEnd::Ended, "{code}");
    }
}

#[test]
fn the_session_frame_carries_the_window_in_milliseconds() {
    let bytes = session_frame(&[1; TOKEN_LEN], ResumeOutcome::New, 0, DEFAULT_WINDOW);
    assert_eq!(
        Frame::decode(&bytes).expect("decodes"),
        Frame::Session {
            token: &[1; TOKEN_LEN],
            outcome: 1,
            received: 0,
            window_ms: 120_000,
        }
    );
}
