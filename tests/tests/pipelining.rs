//! Many events pipelined on one connection arrive complete and in order,
//! in both directions.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hisock::{ClientInfo, ClientOptions, Data, Server};
use hisock_test_support::{transport_tests, within, TestServer};
use tokio::sync::Notify;

/// Events sent back to back by one client.
const EVENTS: u64 = 100_000;

/// Events sent back to back by one client and echoed back one by one.
const ECHOED_EVENTS: u64 = 20_000;

/// Generous: only a broken implementation comes near it.
const GENEROUS: Duration = Duration::from_secs(120);

/// The sequence numbers one side's handler saw, and a signal when all
/// [`ECHOED_EVENTS`] came.
#[derive(Default)]
struct Seen {
    numbers: Mutex<Vec<u64>>,
    all: Notify,
}

impl Seen {
    fn add(&self, n: u64) {
        let mut numbers = self.numbers.lock().expect("lock");
        numbers.push(n);
        if numbers.len() as u64 == ECHOED_EVENTS {
            self.all.notify_one();
        }
    }

    /// Waits for every event, then checks each came once, in order.
    async fn check(&self) {
        within("every event", self.all.notified()).await;
        let numbers = self.numbers.lock().expect("lock");
        assert!(
            numbers.iter().copied().eq(0..ECHOED_EVENTS),
            "each event once, in order"
        );
    }
}

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

    /// 20,000 events sent without waiting, each echoed back by the server
    /// as it is handled, all arrive once each and in order on both sides:
    /// the server's and the client's batched reads (a burst is handled many
    /// frames per turn) lose, repeat and reorder nothing.
    async fn pipelined_events_and_their_echoes_arrive_once_and_in_order(t: Transport) {
        let server = Server::new();
        let at_server = Arc::new(Seen::default());
        {
            let at_server = at_server.clone();
            server.on(
                "n",
                move |who: ClientInfo, server: Server, Data(n): Data<u64>| {
                    let at_server = at_server.clone();
                    async move {
                        at_server.add(n);
                        // Echo it back: the client sees a burst too.
                        let _ = server.to_client(who.id).emit("n", n);
                    }
                },
            );
        }
        let at_client = Arc::new(Seen::default());
        let options = {
            let at_client = at_client.clone();
            ClientOptions::new().on("n", move |Data(n): Data<u64>| {
                let at_client = at_client.clone();
                async move { at_client.add(n) }
            })
        };
        let test = TestServer::start(t, server).await;
        let client = test.connect(options).await;
        for n in 0..ECHOED_EVENTS {
            client.send("n", &n).await.expect("queued");
        }
        at_server.check().await;
        at_client.check().await;
        client.close().await;
        test.shutdown().await;
    }
}
