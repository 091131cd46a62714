//! Unit tests of `outbox.rs`, kept apart so that the module reads in one sitting.
use super::*;
use futures::channel::mpsc;
use futures::StreamExt;
use std::future::Future;

#[test]
fn try_push_respects_the_byte_limit() {
    let six = 6 + FRAME_OVERHEAD;
    let outbox = Outbox::new(six + 4 + FRAME_OVERHEAD);
    outbox.try_push(Bytes::from_static(&[0; 6])).expect("fits");
    assert_eq!(
        outbox.try_push(Bytes::from_static(&[0; 6])),
        Err(PushError::Full {
            queued: six,
            limit: six + 4 + FRAME_OVERHEAD
        })
    );
    outbox
        .try_push(Bytes::from_static(&[0; 4]))
        .expect("fits exactly");
}

#[test]
fn each_frame_costs_its_overhead_too() {
    // Room for ten 1-byte frames by their cost, not a thousand by their
    // bytes.
    let outbox = Outbox::new(10 * (1 + FRAME_OVERHEAD));
    let accepted = (0..1000)
        .take_while(|_| outbox.try_push(Bytes::from_static(&[0])).is_ok())
        .count();
    assert_eq!(accepted, 10);
    assert_eq!(outbox.queued_bytes(), 10 * (1 + FRAME_OVERHEAD));
}

#[test]
fn control_frames_use_the_headroom_then_overflow_once() {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let limit = 64 * 1024;
    let outbox = Outbox::with_overflow_hook(limit, {
        let calls = calls.clone();
        Box::new(move |queued, hook_limit| {
            assert!(queued > limit);
            assert_eq!(hook_limit, limit);
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        })
    });
    let frame = Bytes::from_static(&[0; 20]);
    while outbox.try_push(frame.clone()).is_ok() {}
    // Past the limit, control frames still go, up to the headroom.
    let mut control = 0;
    while !outbox.has_overflowed() {
        outbox.push_control(frame.clone());
        control += 1;
    }
    let headroom_frames = control_headroom(limit) / (20 + FRAME_OVERHEAD);
    assert!(control >= headroom_frames, "{control} < {headroom_frames}");
    assert!(outbox.queued_bytes() <= limit + control_headroom(limit));
    // The overflow is reported once; later control frames are dropped.
    for _ in 0..10 {
        outbox.push_control(frame.clone());
    }
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(outbox.queued_bytes() <= limit + control_headroom(limit));
}

#[test]
fn a_large_control_frame_goes_alone() {
    let outbox = Outbox::new(10);
    outbox.push_control(Bytes::from(vec![0; 100_000]));
    assert!(!outbox.has_overflowed());
    assert_eq!(outbox.undelivered().frames, 1);
}

/// A sink that takes `room` frames, then never has room again.
struct Stalls {
    room: usize,
    flushes: usize,
}

impl futures::Sink<Bytes> for Stalls {
    type Error = TransportError;
    fn poll_ready(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        match self.room {
            0 => Poll::Pending,
            _ => Poll::Ready(Ok(())),
        }
    }
    fn start_send(mut self: std::pin::Pin<&mut Self>, _: Bytes) -> Result<(), TransportError> {
        self.room -= 1;
        Ok(())
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        self.flushes += 1;
        Poll::Ready(Ok(()))
    }
    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        Poll::Ready(Ok(()))
    }
}

#[test]
fn a_closing_writer_cut_short_counts_exactly_what_it_did_not_send() {
    // 100 frames queued and the close called; the peer takes 37 and
    // stops reading.
    let outbox = Outbox::new(1 << 20);
    for i in 0..100u8 {
        outbox.try_push(Bytes::from(vec![i])).expect("fits");
    }
    outbox.close_with(Some(Bytes::from_static(b"close")));
    let mut sink = Stalls {
        room: 37,
        flushes: 0,
    };
    {
        let writer = outbox.run_writer(&mut sink);
        futures::pin_mut!(writer);
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(writer.as_mut().poll(&mut cx).is_pending());
        // 101 frames (the close too), 37 sent whole: 64 missing.
        assert_eq!(outbox.undelivered().frames, 64);
    }
    assert!(sink.flushes >= 37, "closing flushes every frame");
}

#[test]
fn a_writer_cut_mid_batch_before_closing_counts_the_whole_batch() {
    let outbox = Outbox::new(1 << 20);
    for i in 0..10u8 {
        outbox.try_push(Bytes::from(vec![i])).expect("fits");
    }
    let mut sink = Stalls {
        room: 4,
        flushes: 0,
    };
    let writer = outbox.run_writer(&mut sink);
    futures::pin_mut!(writer);
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(writer.as_mut().poll(&mut cx).is_pending());
    // Not closing: nothing was flushed, so none of the 10 is known sent.
    outbox.try_push(Bytes::from_static(b"more")).expect("fits");
    assert_eq!(outbox.undelivered().frames, 11);
}

#[test]
fn an_oversized_frame_travels_alone() {
    let outbox = Outbox::new(10);
    outbox
        .try_push(Bytes::from_static(&[0; 100]))
        .expect("empty queue accepts");
    assert!(outbox.try_push(Bytes::from_static(&[0; 1])).is_err());
}

#[test]
fn the_writer_is_woken_once_for_a_burst_and_takes_all_of_it() {
    struct Count(std::sync::atomic::AtomicUsize);
    impl futures::task::ArcWake for Count {
        fn wake_by_ref(arc_self: &std::sync::Arc<Self>) {
            arc_self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let count = std::sync::Arc::new(Count(Default::default()));
    let waker = futures::task::waker(count.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    let outbox = Outbox::new(1024);
    let mut spare = VecDeque::new();
    assert!(outbox.poll_batch(&mut cx, &mut spare).is_pending());
    for i in 0..3u8 {
        outbox.try_push(Bytes::from(vec![i])).expect("fits");
    }
    assert_eq!(count.0.load(std::sync::atomic::Ordering::SeqCst), 1);
    match outbox.poll_batch(&mut cx, &mut spare) {
        Poll::Ready(Some(batch)) => assert_eq!(batch.len(), 3),
        _ => panic!("the burst is ready"),
    }
    assert!(outbox.poll_batch(&mut cx, &mut spare).is_pending());
    outbox.try_push(Bytes::from_static(b"next")).expect("fits");
    assert_eq!(count.0.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[test]
fn writer_sends_everything_in_order_then_closes() {
    futures::executor::block_on(async {
        let outbox = Outbox::new(1024);
        let (tx, rx) = mpsc::unbounded::<Bytes>();
        let mut sink = tx.sink_map_err(|_| TransportError::Other("gone".into()));
        for i in 0..5u8 {
            outbox.try_push(Bytes::from(vec![i])).expect("fits");
        }
        outbox.close_with(Some(Bytes::from_static(b"bye")));
        assert_eq!(outbox.try_push(Bytes::new()), Err(PushError::Closed));
        outbox.run_writer(&mut sink).await.expect("writes");
        let got: Vec<Bytes> = rx.collect().await;
        assert_eq!(got.len(), 6);
        assert_eq!(&got[5][..], b"bye");
        assert!(outbox.is_closed());
    });
}

#[test]
fn a_writer_turn_is_pending_once_without_a_wake_up_and_tells_the_loop() {
    let outbox = Outbox::new(1024);
    let woken = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let waker = counting_waker(woken.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    let mut turn = std::pin::pin!(outbox.writer_turn());
    assert!(!outbox.took_writer_turn(), "nobody stepped aside yet");
    assert!(turn.as_mut().poll(&mut cx).is_pending());
    assert_eq!(
        woken.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "no wake-up: the loop polls again by itself"
    );
    assert!(outbox.took_writer_turn());
    assert!(!outbox.took_writer_turn(), "told once");
    assert!(turn.as_mut().poll(&mut cx).is_ready());
}

fn counting_waker(count: std::sync::Arc<std::sync::atomic::AtomicUsize>) -> std::task::Waker {
    struct Counting(std::sync::Arc<std::sync::atomic::AtomicUsize>);
    impl std::task::Wake for Counting {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    std::task::Waker::from(std::sync::Arc::new(Counting(count)))
}
