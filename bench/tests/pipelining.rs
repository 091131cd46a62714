//! Many events pipelined on one connection all arrive, once each and in
//! order, on both transports and in both directions. This exercises the
//! batched reads of the server's and the client's event loops (a burst is
//! handled many frames per turn).

mod support;

use std::sync::{Arc, Mutex};

use hisock::{ClientInfo, ClientOptions, Data, Server};
use support::{connect, listen, within, Transport};
use tokio::sync::Notify;

const EVENTS: u32 = 20_000;

/// Collects the sequence numbers a handler saw, and says when all came.
#[derive(Default)]
struct Seen {
    numbers: Mutex<Vec<u32>>,
    all: Notify,
}

impl Seen {
    fn add(&self, n: u32) {
        let mut numbers = self.numbers.lock().expect("lock");
        numbers.push(n);
        if numbers.len() == EVENTS as usize {
            self.all.notify_one();
        }
    }

    async fn check(&self) {
        within("every event", self.all.notified()).await;
        let numbers = self.numbers.lock().expect("lock");
        assert!(
            numbers.iter().copied().eq(0..EVENTS),
            "each event once, in order"
        );
    }
}

async fn pipelined_events_all_arrive_once_and_in_order(t: Transport) {
    let server = Server::new();
    let at_server = Arc::new(Seen::default());
    {
        let at_server = at_server.clone();
        server.on(
            "n",
            move |who: ClientInfo, server: Server, Data(n): Data<u32>| {
                let at_server = at_server.clone();
                async move {
                    at_server.add(n);
                    // Echo it back: the client sees a burst too.
                    let _ = server.to_client(who.id).emit("n", &n);
                }
            },
        );
    }
    let at_client = Arc::new(Seen::default());
    let options = {
        let at_client = at_client.clone();
        ClientOptions::new().on("n", move |Data(n): Data<u32>| {
            let at_client = at_client.clone();
            async move { at_client.add(n) }
        })
    };
    let client = connect(t, listen(&server, t).await, options).await;
    for n in 0..EVENTS {
        client.send("n", &n).await.expect("queued");
    }
    at_server.check().await;
    at_client.check().await;
    client.close().await;
    let _ = tokio::time::timeout(support::WAIT, server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_events_all_arrive_once_and_in_order_over_tcp() {
    pipelined_events_all_arrive_once_and_in_order(Transport::Tcp).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_events_all_arrive_once_and_in_order_over_ws() {
    pipelined_events_all_arrive_once_and_in_order(Transport::Ws).await
}
