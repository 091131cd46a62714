//! A burst of connections waits in the listen queue rather than being
//! dropped: both listeners ask for a backlog of
//! `hisock_tcp::DEFAULT_LISTEN_BACKLOG` (1,024), where tokio's `bind` asks
//! for 128 and the connections past it are dropped and retried for
//! seconds (issue 12, item 5).

use std::net::SocketAddr;
use std::time::Duration;

use futures::future::join_all;
use tokio::net::TcpStream;

/// More connections than a backlog of 128 holds, fewer than 1,024.
const BURST: usize = 400;

/// How many of `BURST` connections to `addr` complete while nobody
/// accepts. A connection past a full queue gets no answer at all; the
/// bound only ends the wait for those.
async fn connections_that_complete(addr: SocketAddr) -> usize {
    let attempts = (0..BURST).map(|_| async move {
        tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
            .await
            .ok()
            .and_then(Result::ok)
    });
    join_all(attempts).await.iter().flatten().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_connections_waits_in_the_tcp_listeners_queue() {
    let listener = hisock_tcp::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("bound");
    assert_eq!(connections_that_complete(addr).await, BURST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_connections_waits_in_the_websocket_listeners_queue() {
    let listener = hisock_ws::WsListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("bound");
    assert_eq!(connections_that_complete(addr).await, BURST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backlog_can_be_chosen() {
    let listener = hisock_tcp::TcpListener::bind_with_backlog("127.0.0.1:0", 16)
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("bound");
    let completed = connections_that_complete(addr).await;
    assert!(
        completed < BURST,
        "a queue of 16 cannot hold {BURST}: {completed} completed"
    );
}
