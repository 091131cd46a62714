//! Unit tests of `incoming.rs`, kept apart so that the module reads in one sitting.
use super::*;
use futures::StreamExt;

fn setup(limit: u64) -> (IncomingStreams, Arc<Outbox>) {
    (
        IncomingStreams::new(limit, 4),
        Arc::new(Outbox::new(1 << 20)),
    )
}

#[test]
fn chunks_arrive_whole_and_are_acked() {
    futures::executor::block_on(async {
        let (mut table, outbox) = setup(100);
        let stream = table
            .start(&outbox, 1, Arc::from("f"), Some(6))
            .expect("ok");
        table.chunk(1, Bytes::from_static(b"abc"));
        table.chunk(1, Bytes::from_static(b"def"));
        table.end(1, None);
        assert_eq!(&stream.into_bytes().await.expect("whole")[..], b"abcdef");
        assert!(outbox.queued_bytes() > 0, "acks were queued");
    });
}

#[test]
fn a_cut_off_stream_is_an_error_not_a_short_payload() {
    futures::executor::block_on(async {
        let (mut table, outbox) = setup(100);
        let stream = table.start(&outbox, 1, Arc::from("f"), None).expect("ok");
        table.chunk(1, Bytes::from_static(b"abc"));
        table.close(&CloseReason::new(1006, "gone"));
        assert!(matches!(stream.into_bytes().await, Err(Error::Closed(_))));
    });
}

#[test]
fn an_end_short_of_the_announced_length_is_an_error() {
    futures::executor::block_on(async {
        let (mut table, outbox) = setup(100);
        let stream = table
            .start(&outbox, 1, Arc::from("f"), Some(6))
            .expect("ok");
        table.chunk(1, Bytes::from_static(b"abc"));
        table.end(1, None);
        assert!(matches!(
            stream.into_bytes().await,
            Err(Error::Remote {
                code: ErrorCode::LengthMismatch,
                ..
            })
        ));
    });
}

#[test]
fn all_announced_bytes_complete_the_stream_without_a_cancel() {
    futures::executor::block_on(async {
        let (mut table, outbox) = setup(100);
        let stream = table
            .start(&outbox, 1, Arc::from("f"), Some(3))
            .expect("ok");
        table.chunk(1, Bytes::from_static(b"abc"));
        assert_eq!(&stream.into_bytes().await.expect("whole")[..], b"abc");
        // Only the ack was queued: the dropped stream sent no cancel.
        let ack = Frame::StreamAck {
            stream_id: 1,
            consumed: 3,
        }
        .encode();
        assert_eq!(outbox.undelivered().frames, 1);
        assert_eq!(outbox.undelivered().queued_bytes, ack.len());
    });
}

#[test]
fn over_the_limit_is_refused_up_front_or_midway() {
    futures::executor::block_on(async {
        let (mut table, outbox) = setup(4);
        assert!(table.start(&outbox, 1, Arc::from("f"), Some(5)).is_err());
        let mut stream = table.start(&outbox, 2, Arc::from("f"), None).expect("ok");
        table.chunk(2, Bytes::from_static(b"abcde"));
        let got = stream.next().await.expect("an item");
        assert!(matches!(
            got,
            Err(Error::Remote {
                code: ErrorCode::TooLarge,
                ..
            })
        ));
    });
}

fn cancel_len(code: ErrorCode, message: &str) -> usize {
    Frame::StreamCancel {
        stream_id: 1,
        code: code.to_wire(),
        message,
    }
    .encode()
    .len()
}

fn ack_len(consumed: u64) -> usize {
    Frame::StreamAck {
        stream_id: 1,
        consumed,
    }
    .encode()
    .len()
}

#[test]
fn a_chunk_past_the_announced_length_cancels_with_8_and_is_not_delivered() {
    futures::executor::block_on(async {
        let (mut table, outbox) = setup(100);
        let mut stream = table
            .start(&outbox, 1, Arc::from("f"), Some(3))
            .expect("ok");
        table.chunk(1, Bytes::from_static(b"ab"));
        table.chunk(1, Bytes::from_static(b"cd"));
        // Frames after the cancel are ignored.
        table.chunk(1, Bytes::from_static(b"e"));
        table.end(1, None);
        assert_eq!(
            &stream.next().await.expect("a chunk").expect("ok")[..],
            b"ab"
        );
        let over = stream.next().await.expect("an item");
        assert!(matches!(
            over,
            Err(Error::Remote {
                code: ErrorCode::LengthMismatch,
                ..
            })
        ));
        assert!(stream.next().await.is_none());
        let cancel = "stream longer than the announced 3 bytes";
        assert_eq!(
            outbox.undelivered().queued_bytes,
            ack_len(2) + cancel_len(ErrorCode::LengthMismatch, cancel)
        );
    });
}

#[test]
fn bytes_after_a_complete_stream_are_cancelled_with_8_not_ignored() {
    futures::executor::block_on(async {
        let (mut table, outbox) = setup(100);
        let stream = table
            .start(&outbox, 1, Arc::from("f"), Some(3))
            .expect("ok");
        table.chunk(1, Bytes::from_static(b"abc"));
        assert_eq!(&stream.into_bytes().await.expect("whole")[..], b"abc");
        table.chunk(1, Bytes::from_static(b"d"));
        let cancel = "stream longer than the announced 3 bytes";
        assert_eq!(
            outbox.undelivered().queued_bytes,
            ack_len(3) + cancel_len(ErrorCode::LengthMismatch, cancel)
        );
    });
}

/// PROTOCOL.md section 9.2: once the receiver dropped a stream (cancel
/// 7), its id is free; starting it again opens a new stream.
#[test]
fn an_id_dropped_by_its_handler_starts_again_as_a_new_stream() {
    futures::executor::block_on(async {
        let (mut table, outbox) = setup(100);
        let old = table.start(&outbox, 1, Arc::from("f"), None).expect("ok");
        table.chunk(1, Bytes::from_static(b"old"));
        drop(old);
        // In flight before the sender saw the cancel: ignored.
        table.chunk(1, Bytes::from_static(b"late"));
        let new = table
            .start(&outbox, 1, Arc::from("f"), Some(3))
            .expect("the id is free again");
        table.chunk(1, Bytes::from_static(b"new"));
        assert_eq!(&new.into_bytes().await.expect("whole")[..], b"new");
    });
}

#[test]
fn a_stream_still_open_cannot_start_again() {
    let (mut table, outbox) = setup(100);
    let _open = table.start(&outbox, 1, Arc::from("f"), None).expect("ok");
    let twice = table.start(&outbox, 1, Arc::from("f"), None);
    assert!(matches!(
        twice,
        Err(Error::Protocol(
            crate::error::ProtocolFault::StreamStartedTwice(1)
        ))
    ));
}

#[test]
fn one_stream_past_the_maximum_is_a_limit_fault_and_dropped_ones_free_slots() {
    let (mut table, outbox) = setup(100);
    let mut open: Vec<_> = (1..=4)
        .map(|id| table.start(&outbox, id, Arc::from("f"), None).expect("ok"))
        .collect();
    let fifth = table.start(&outbox, 5, Arc::from("f"), None);
    match fifth {
        Err(Error::Protocol(fault)) => {
            assert_eq!(fault.close_code(), crate::close::codes::TOO_MANY_STREAMS)
        }
        other => panic!("expected a limit fault, got {:?}", other.map(|_| ())),
    }
    drop(open.pop());
    table
        .start(&outbox, 6, Arc::from("f"), None)
        .expect("a dropped stream frees its slot");
}
