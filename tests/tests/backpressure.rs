//! Backpressure the sender can see: a report of what happened to an event
//! for each recipient, volatile events that are dropped for a backed-up
//! client instead of disconnecting it, and an emit that waits for room.
//!
//! The slow client is a raw peer that joins and then reads nothing until
//! the test says so; the good client reads everything.

use std::time::Duration;

use hisock::{ClientOptions, Data, Server};
use hisock_test_support::{
    transport_tests, within, Handshake, Probe, RawPeer, TestServer, Transport, WAIT,
};

const OUTBOX_LIMIT: usize = 256 * 1024;

/// 64 KiB: the socket buffers fill after some tens of these, then the
/// slow client's queue does.
fn big_payload() -> serde_bytes::ByteBuf {
    serde_bytes::ByteBuf::from(vec![1u8; 64 * 1024])
}

/// Emits at most this many events before a test gives up waiting for the
/// slow client's queue to fill.
const MAX_EVENTS: usize = 2_000;

async fn start(t: Transport) -> (TestServer, Probe<usize>) {
    let server = Server::builder().outbox_limit(OUTBOX_LIMIT).build();
    let test = TestServer::start(t, server).await;
    (test, Probe::new("events the good client got"))
}

/// A client that reads everything and counts it.
async fn good_client(test: &TestServer, got: &Probe<usize>) -> hisock::Client {
    let got = got.clone();
    test.connect(ClientOptions::new().name("good").on(
        "big",
        move |Data(b): Data<serde_bytes::ByteBuf>| {
            got.push(b.len());
            async {}
        },
    ))
    .await
}

/// A peer that joins and reads nothing.
async fn slow_peer(test: &TestServer) -> (RawPeer, u64) {
    let mut peer = RawPeer::connect(test.transport, test.addr).await;
    let id = peer.hello(Some("slow")).await;
    (peer, id)
}

transport_tests! {
    /// Volatile events are dropped for the client that does not read, which
    /// stays connected; the good client gets every one.
    async fn volatile_events_are_dropped_for_a_backed_up_client_not_queued(t: Transport) {
        let (test, got) = start(t).await;
        let good = good_client(&test, &got).await;
        let (_slow, slow_id) = slow_peer(&test).await;

        let payload = big_payload();
        let mut sent = 0;
        let mut dropped_for_slow = false;
        while sent < MAX_EVENTS && !dropped_for_slow {
            let report = test.server.to_all().volatile().emit_report("big", &payload).expect("emit");
            assert!(report.kicked.is_empty(), "volatile never disconnects: {report:?}");
            assert!(report.queued.contains(&good.id()), "the good client keeps up: {report:?}");
            dropped_for_slow = report.dropped == [slow_id];
            sent += 1;
            // The good client reads each one before the next.
            got.next().await;
        }
        assert!(dropped_for_slow, "the slow client's queue never filled in {sent} events");
        // More volatile events: still dropped, still connected.
        for _ in 0..20 {
            test.server.to_all().volatile().emit("big", &payload).expect("emit");
            got.next().await;
        }
        assert_eq!(test.server.client_count(), 2, "nobody was disconnected");
        assert!(test.server.client(slow_id).is_some());
    }

    /// A plain emit disconnects the client whose queue overflows, and the
    /// report names it.
    async fn the_report_names_a_client_disconnected_as_a_slow_reader(t: Transport) {
        let (test, got) = start(t).await;
        let good = good_client(&test, &got).await;
        let (_slow, slow_id) = slow_peer(&test).await;

        let payload = big_payload();
        let mut kicked = Vec::new();
        for _ in 0..MAX_EVENTS {
            let report = test.server.to_all().emit_report("big", &payload).expect("emit");
            assert!(report.queued.contains(&good.id()), "{report:?}");
            if !report.kicked.is_empty() {
                kicked = report.kicked;
                break;
            }
            got.next().await;
        }
        assert_eq!(kicked, [slow_id]);
        test.wait_for_client_count(1).await;
    }

    /// `emit_waiting` waits for room instead of disconnecting: with a
    /// client that does not read, it times out and names it (connected
    /// still); once the client reads, the same emit gets through.
    async fn emit_waiting_names_the_clients_it_could_not_wait_for(t: Transport) {
        let (test, _got) = start(t).await;
        let (mut slow, slow_id) = slow_peer(&test).await;

        let payload = big_payload();
        let mut timed_out = false;
        for _ in 0..MAX_EVENTS {
            let report = test
                .server
                .to_client(slow_id)
                .emit_waiting("big", &payload, Duration::from_millis(100))
                .await
                .expect("emit");
            assert!(report.kicked.is_empty(), "{report:?}");
            if report.timed_out == [slow_id] {
                timed_out = true;
                break;
            }
            assert_eq!(report.queued, [slow_id]);
        }
        assert!(timed_out, "the slow client's queue never filled");
        assert!(test.server.client(slow_id).is_some(), "still connected");

        // Now it reads: the next emit finds room.
        let reader = tokio::spawn(async move {
            while slow.read_frame().await.is_some() {}
        });
        let report = within(
            "room in the queue",
            test.server.to_client(slow_id).emit_waiting("big", &payload, WAIT),
        )
        .await
        .expect("emit");
        assert_eq!(report.queued, [slow_id]);
        assert!(report.all_queued());
        reader.abort();
    }
}
