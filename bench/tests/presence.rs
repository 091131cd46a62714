//! Presence notices (ClientJoined / ClientLeft) reach the other clients by
//! default, and none are sent by a server built with
//! `presence_notices(false)`.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hisock::{ClientInfo, ClientOptions, Server};
use support::{connect, listen, within, Transport};

/// How many joins and leaves one client heard of.
#[derive(Default)]
struct Heard {
    joins: AtomicUsize,
    leaves: AtomicUsize,
}

async fn joins_and_leaves_heard(server: Server) -> (usize, usize) {
    let addr = listen(&server, Transport::Tcp).await;
    let heard = Arc::new(Heard::default());
    let options = {
        let (on_join, on_leave) = (heard.clone(), heard.clone());
        ClientOptions::new()
            .on("client_connect", move |_: ClientInfo| {
                let on_join = on_join.clone();
                async move {
                    on_join.joins.fetch_add(1, Ordering::SeqCst);
                }
            })
            .on("client_disconnect", move |_: ClientInfo| {
                let on_leave = on_leave.clone();
                async move {
                    on_leave.leaves.fetch_add(1, Ordering::SeqCst);
                }
            })
    };
    let watcher = connect(Transport::Tcp, addr, options).await;
    let other = connect(Transport::Tcp, addr, ClientOptions::new()).await;
    // A round trip of the newcomer: its session has started (and sent its
    // join notice, if any) before it answers.
    other.list_clients(None).await.expect("listed");
    other.close().await;
    within("the other client is gone", async {
        while server.client_count() > 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    // Replies come in order after any notice queued before them, and the
    // watcher runs each notice's handler before it reads further.
    watcher.list_clients(None).await.expect("listed");
    let counts = (
        heard.joins.load(Ordering::SeqCst),
        heard.leaves.load(Ordering::SeqCst),
    );
    watcher.close().await;
    let _ = tokio::time::timeout(support::WAIT, server.shutdown()).await;
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_clients_hear_of_joins_and_leaves_by_default() {
    assert_eq!(joins_and_leaves_heard(Server::new()).await, (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_presence_notices_sends_none() {
    let server = Server::builder().presence_notices(false).build();
    assert_eq!(joins_and_leaves_heard(server).await, (0, 0));
}
