//! Many events pipelined on one connection arrive complete and in order.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hisock::{Data, Server};
use hisock_tests::{transport_tests, TestServer};

/// Events sent back to back by one client.
const EVENTS: u64 = 100_000;

/// Generous: only a broken implementation comes near it.
const GENEROUS: Duration = Duration::from_secs(120);

transport_tests! {
    /// 100,000 events sent without waiting all reach the in-order handler,
    /// each with the next sequence number.
    async fn hundred_thousand_pipelined_events_arrive_in_order(t: Transport) {
        let received = Arc::new(AtomicU64::new(0));
        let first_gap: Arc<Mutex<Option<(u64, u64)>>> = Arc::default();
        let server = Server::new();
        let (count, gap) = (received.clone(), first_gap.clone());
        server.on("seq", move |Data(n): Data<u64>| {
            let (count, gap) = (count.clone(), gap.clone());
            async move {
                let expected = count.fetch_add(1, Ordering::Relaxed);
                if n != expected {
                    gap.lock().expect("lock").get_or_insert((expected, n));
                }
            }
        });
        // Handlers of one client run in order, so this answers only after
        // every earlier event was handled.
        let count = received.clone();
        server.on("count", move || {
            let count = count.clone();
            async move { count.load(Ordering::Relaxed) }
        });
        let test = TestServer::start(t, server).await;
        let client = test.connect_named("firehose").await;

        let run = async {
            for n in 0..EVENTS {
                client.send("seq", &n).await.expect("send");
            }
            client.request::<u64, _>("count", &(), GENEROUS).await.expect("count")
        };
        let handled = tokio::time::timeout(GENEROUS, run)
            .await
            .expect("100,000 events within the generous bound");

        assert_eq!(*first_gap.lock().expect("lock"), None, "(expected, got) at the first gap");
        assert_eq!(handled, EVENTS);
    }
}
