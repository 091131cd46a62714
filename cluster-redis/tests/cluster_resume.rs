//! Resumable sessions across nodes (PROTOCOL.md section 13.9): three
//! nodes on a real `redis-server`, a client behind a [`FaultProxy`] that
//! plays the load balancer. The connection breaks and the next one lands
//! on another node; the session follows the client there, with the same
//! id, nothing lost or doubled either way, requests in flight on the old
//! node answered once, and no leave or join anywhere.

#[allow(dead_code)]
mod cluster_support;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::Semaphore;

use cluster_support::{eventually, Node};
use hisock::frame::Frame;
use hisock::protocol::resume::ResumeOutcome;
use hisock::{
    codes, ClientInfo, ClientOptions, CloseReason, ConnectionChange, Data, IncomingStream, Server,
    StreamOptions,
};
use hisock_test_support::raw::handshake;
use hisock_test_support::{
    connect_through, next_change, patterned_pieces, quick_reconnect, record_departures,
    recording_changes, within, FaultProxy, Probe, RawPeer, RedisServer, Transport,
};

const SHORT: Duration = Duration::from_secs(10);

/// Heartbeat window: long, so a loaded machine never loses a node by
/// accident.
const CALM: Duration = Duration::from_secs(10);

const RESYNC: Duration = Duration::from_millis(250);

const RESUMED: ConnectionChange = ConnectionChange::Reconnected {
    resumed: true,
    outcome: ResumeOutcome::Resumed,
    expired: 0,
};

/// Three nodes on a fresh `redis-server`, or `None` when redis-server is
/// not installed (the test then passes, having said so).
async fn three_nodes() -> Option<(RedisServer, [Node; 3])> {
    let redis = RedisServer::start()?;
    let url = redis.url();
    let a = Node::start(&url, "moves", CALM, RESYNC).await;
    let b = Node::start(&url, "moves", CALM, RESYNC).await;
    let c = Node::start(&url, "moves", CALM, RESYNC).await;
    Some((redis, [a, b, c]))
}

/// Joins and leaves on every node, into one probe each: the test sees the
/// cluster as one server.
fn record_joins_and_leaves(nodes: &[&Node]) -> (Probe<u64>, Probe<(u64, u16)>) {
    let joins = Probe::new("join");
    let leaves = Probe::new("leave");
    for node in nodes {
        let seen = joins.clone();
        node.server.on("join", move |who: ClientInfo| {
            seen.push(who.id);
            async {}
        });
        let seen = leaves.clone();
        node.server
            .on("leave", move |who: ClientInfo, why: CloseReason| {
                seen.push((who.id, why.code));
                async {}
            });
    }
    (joins, leaves)
}

/// Clients connected to `server` now (not those of other nodes).
fn local_clients(server: &Server) -> u64 {
    server.stats().connections_now.total()
}

/// The connection breaks and the load balancer sends the next one to
/// `next`; `during` runs while the client is out. The client must resume.
async fn move_while(
    proxy: &FaultProxy,
    next: std::net::SocketAddr,
    changes: &Probe<ConnectionChange>,
    during: impl std::future::Future<Output = ()>,
) {
    proxy.set_target(next);
    proxy.refuse(true);
    assert_eq!(proxy.cut_all(), 1);
    let disconnected = next_change(changes).await;
    assert!(
        matches!(disconnected, ConnectionChange::Disconnected { .. }),
        "{disconnected:?}"
    );
    during.await;
    proxy.refuse(false);
    assert_eq!(next_change(changes).await, RESUMED);
}

/// Numbered events both ways, before, during and after a break whose
/// next connection lands on another node: each side gets every number
/// once, in order; the client keeps its id, name and group; the old node
/// lets go of it and every node routes to the new one; nobody hears of a
/// leave or a join until the client closes.
async fn a_session_follows_its_client_to_another_node(t: Transport) {
    let Some((_redis, [a, b, c])) = three_nodes().await else {
        return;
    };
    let to_server = Probe::new("client's numbers");
    for node in [&a, &b, &c] {
        let seen = to_server.clone();
        node.server.on("n", move |Data(n): Data<u32>| {
            seen.push(n);
            async {}
        });
        node.server
            .on("double", |Data(n): Data<u32>| async move { n * 2 });
    }
    let (joins, leaves) = record_joins_and_leaves(&[&a, &b, &c]);
    let (observer_options, departures) = record_departures(ClientOptions::new().name("obs"));
    let arrivals = Probe::new("client_connect");
    let seen = arrivals.clone();
    let observer_options = observer_options.on("client_connect", move |who: ClientInfo| {
        seen.push(who.id);
        async {}
    });
    let observer = c.connect(Transport::Tcp, observer_options).await;
    joins.next().await;

    let proxy = FaultProxy::start(a.addr(t)).await;
    let to_client = Probe::new("server's numbers");
    let seen = to_client.clone();
    let (options, changes) = recording_changes("ada", quick_reconnect());
    let options = options.on("s", move |Data(n): Data<u32>| {
        seen.push(n);
        async {}
    });
    let client = connect_through(t, &proxy, options).await;
    let id = joins.next().await;
    assert_eq!(arrivals.next().await, id);
    for node in [&a, &b, &c] {
        eventually("every node knows ada", || node.server.client(id).is_some()).await;
    }

    // Node c's application sends; the client sends: before, during and
    // after the move.
    const STEP: u32 = 200;
    let both_ways = |from: u32| {
        let (server, client) = (c.server.clone(), client.clone());
        async move {
            for n in from..from + STEP {
                server.to_client(id).emit("s", n).expect("ada is known");
                client.send("n", n).await.expect("sent or queued");
            }
        }
    };
    both_ways(0).await;
    move_while(&proxy, b.addr(t), &changes, both_ways(STEP)).await;
    assert_eq!(client.id(), id);
    eventually("ada moved from a to b", || {
        local_clients(&a.server) == 0 && local_clients(&b.server) == 1
    })
    .await;
    for node in [&a, &c] {
        eventually("the other nodes see ada on b", || {
            node.server
                .client(id)
                .is_some_and(|info| info.transport == t.kind())
        })
        .await;
    }
    both_ways(2 * STEP).await;
    assert_eq!(
        client
            .request::<u32, _>("double", 21, SHORT)
            .await
            .expect("b answers"),
        42
    );
    let n = 3 * STEP as usize;
    assert_eq!(to_server.take(n).await, (0..3 * STEP).collect::<Vec<_>>());
    assert_eq!(to_client.take(n).await, (0..3 * STEP).collect::<Vec<_>>());

    // Every node reaches ada on b: an event from a's application, a
    // request from a's, a disconnect-free look-up from c's.
    a.server
        .to_client(id)
        .emit("s", 9_999u32)
        .expect("routed to b");
    assert_eq!(to_client.next().await, 9_999);
    let info = c.server.client(id).expect("still the same client");
    assert_eq!((info.name(), info.group()), (Some("ada"), Some("crew")));

    assert_eq!(joins.drain().await, Vec::<u64>::new(), "no join on a move");
    assert_eq!(
        leaves.drain().await,
        Vec::<(u64, u16)>::new(),
        "no leave on a move"
    );
    assert_eq!(departures.drain().await, Vec::<u64>::new());
    assert_eq!(arrivals.drain().await, Vec::<u64>::new());
    assert_eq!(
        to_server.drain().await,
        Vec::<u32>::new(),
        "nothing doubled"
    );
    assert_eq!(
        to_client.drain().await,
        Vec::<u32>::new(),
        "nothing doubled"
    );

    within("close", client.close()).await;
    assert_eq!(leaves.next().await, (id, codes::NORMAL), "one leave, on b");
    assert_eq!(departures.next().await, id);
    assert_eq!(leaves.drain().await, Vec::<(u64, u16)>::new());
    within("close", observer.close()).await;
}

/// Requests in flight when the session moves: the client's request that
/// a handler on the old node was still answering is answered once, from
/// there; the old node's request that the client was still answering
/// gets its answer, through the new node. The session then moves back,
/// and moves on a third time while the old node's handler still runs.
async fn requests_in_flight_are_answered_once_across_a_move(t: Transport) {
    let Some((_redis, [a, b, c])) = three_nodes().await else {
        return;
    };
    let (joins, leaves) = record_joins_and_leaves(&[&a, &b, &c]);
    let gate = Arc::new(Semaphore::new(0));
    let arrived = Probe::new("slow arrived");
    {
        let (gate, arrived) = (gate.clone(), arrived.clone());
        a.server.on("slow", move |Data(n): Data<u32>| {
            let gate = gate.clone();
            arrived.push(n);
            async move {
                if let Ok(permit) = gate.acquire().await {
                    permit.forget();
                }
                n + 1
            }
        });
    }
    let client_gate = Arc::new(Semaphore::new(0));
    let asked = Probe::new("asked");
    let proxy = FaultProxy::start(a.addr(t)).await;
    let (options, changes) = recording_changes("ada", quick_reconnect());
    let options = {
        let (gate, asked) = (client_gate.clone(), asked.clone());
        options.on("think", move |Data(n): Data<u32>| {
            let gate = gate.clone();
            asked.push(n);
            async move {
                if let Ok(permit) = gate.acquire().await {
                    permit.forget();
                }
                n + 1
            }
        })
    };
    let client = connect_through(t, &proxy, options).await;
    let id = joins.next().await;

    let slow = {
        let client = client.clone();
        tokio::spawn(async move { client.request::<u32, _>("slow", 6u32, SHORT).await })
    };
    let asking = {
        let server = a.server.clone();
        tokio::spawn(async move {
            server
                .request::<u32, _>(id, "think", 41u32, Duration::from_secs(3600))
                .await
        })
    };
    assert_eq!(arrived.next().await, 6);
    assert_eq!(asked.next().await, 41);
    move_while(&proxy, b.addr(t), &changes, async {
        // Both answers are made while the client is out: a's handler's
        // goes after the client to b; the client's waits in its queue.
        gate.add_permits(1);
        client_gate.add_permits(1);
    })
    .await;
    assert_eq!(
        within("the client's request", slow)
            .await
            .expect("joined")
            .expect("answered from a, through b"),
        7
    );
    assert_eq!(
        within("a's request", asking)
            .await
            .expect("joined")
            .expect("answered through b"),
        42
    );

    // Back to a, then on to c, with a's handler still running during the
    // second move.
    move_while(&proxy, a.addr(t), &changes, async {}).await;
    eventually("ada is back on a", || local_clients(&a.server) == 1).await;
    let slow = {
        let client = client.clone();
        tokio::spawn(async move { client.request::<u32, _>("slow", 8u32, SHORT).await })
    };
    assert_eq!(arrived.next().await, 8);
    move_while(&proxy, c.addr(t), &changes, async {}).await;
    eventually("ada is on c", || local_clients(&c.server) == 1).await;
    gate.add_permits(1);
    assert_eq!(
        within("the second slow request", slow)
            .await
            .expect("joined")
            .expect("answered from a, through c"),
        9
    );
    assert_eq!(client.id(), id);
    assert_eq!(
        arrived.drain().await,
        Vec::<u32>::new(),
        "each handler ran once"
    );
    assert_eq!(
        asked.drain().await,
        Vec::<u32>::new(),
        "the client's handler ran once"
    );
    assert_eq!(joins.drain().await, Vec::<u64>::new());
    assert_eq!(leaves.drain().await, Vec::<(u64, u16)>::new());
    within("close", client.close()).await;
    assert_eq!(leaves.next().await, (id, codes::NORMAL));
}

/// Long enough that at its half the sender waits for credit (more than
/// the bulk a stream may have in flight is still to go).
/// Far more than a stream's window (512 KiB by default): a sender whose
/// receiver stopped reading waits for credit long before the end.
const STREAM_LEN: usize = 4 * 1024 * 1024;

/// A stream handler that reads the first chunk, says so, waits for a
/// permit of `gate`, then reads the rest: the stream is mid-way for as long as the
/// test wants. Records the whole length, or the error that ended it.
fn held_reader(
    started: &Probe<()>,
    gate: &Arc<Semaphore>,
    done: &Probe<Result<usize, String>>,
) -> impl Fn(IncomingStream) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
       + Clone
       + Send
       + Sync
       + 'static {
    let (started, gate, done) = (started.clone(), gate.clone(), done.clone());
    move |mut body: IncomingStream| {
        let (started, gate, done) = (started.clone(), gate.clone(), done.clone());
        Box::pin(async move {
            let first = match body.next().await {
                Some(Ok(chunk)) => chunk.len(),
                other => return done.push(Err(format!("no first chunk: {other:?}"))),
            };
            started.push(());
            if let Ok(permit) = gate.acquire().await {
                permit.forget();
            }
            let mut len = first;
            while let Some(chunk) = body.next().await {
                match chunk {
                    Ok(chunk) => len += chunk.len(),
                    Err(err) => return done.push(Err(err.to_string())),
                }
            }
            done.push(Ok(len));
        })
    }
}

/// Streams in flight when the session moves do not follow it (unlike a
/// resume on the same node): each ends with an error on both sides, never
/// hangs, and new streams on the new node work.
async fn streams_in_flight_end_with_an_error_on_both_sides_when_the_session_moves(t: Transport) {
    let Some((_redis, [a, b, _c])) = three_nodes().await else {
        return;
    };
    let (started, gate) = (Probe::new("a stream started"), Arc::new(Semaphore::new(0)));
    let uploads = Probe::new("upload");
    for node in [&a, &b] {
        node.server
            .on("upload", held_reader(&started, &gate, &uploads));
    }
    let (joins, _leaves) = record_joins_and_leaves(&[&a, &b]);
    let proxy = FaultProxy::start(a.addr(t)).await;
    let downloads = Probe::new("download");
    let (options, changes) = recording_changes("ada", quick_reconnect());
    let options = options.on("download", held_reader(&started, &gate, &downloads));
    let client = connect_through(t, &proxy, options).await;
    let id = joins.next().await;

    let upload = {
        let client = client.clone();
        tokio::spawn(async move {
            let body = patterned_pieces(STREAM_LEN, 100_000);
            client
                .send_stream("upload", body, StreamOptions::new())
                .await
        })
    };
    let download = {
        let server = a.server.clone();
        tokio::spawn(async move {
            let body = patterned_pieces(STREAM_LEN, 100_000);
            server
                .send_stream(id, "download", body, StreamOptions::new())
                .await
        })
    };
    started.take(2).await;
    move_while(&proxy, b.addr(t), &changes, async {}).await;
    gate.add_permits(2);
    let sent = within("the upload", upload).await.expect("joined");
    assert!(sent.is_err(), "the upload ends with an error: {sent:?}");
    let sent = within("the download", download).await.expect("joined");
    assert!(sent.is_err(), "the download ends with an error: {sent:?}");
    assert!(
        uploads.next().await.is_err(),
        "a's handler saw the upload end"
    );
    assert!(
        downloads.next().await.is_err(),
        "the client saw the download end"
    );

    let small = {
        let client = client.clone();
        tokio::spawn(async move {
            let body = patterned_pieces(1000, 100);
            client
                .send_stream("upload", body, StreamOptions::new())
                .await
        })
    };
    started.next().await;
    gate.add_permits(1);
    let sent = within("a new stream", small).await.expect("joined");
    assert!(sent.is_ok(), "{sent:?}");
    assert_eq!(uploads.next().await, Ok(1000), "a new stream, on b");
    within("close", client.close()).await;
}

/// A raw client with a session on `node`: its id and token.
async fn raw_session(t: Transport, node: &Node) -> (RawPeer, u64, Vec<u8>) {
    let mut peer = RawPeer::connect(t, node.addr(t)).await;
    peer.send(&Frame::Resume {
        token: &[],
        received: 0,
    })
    .await;
    peer.send(&handshake::hello(Some("ada"))).await;
    let id = handshake::welcomed_client_id(peer.read_frame().await);
    let session = peer.read_frame().await.expect("a session frame");
    let token = match Frame::decode(&session).expect("decodes") {
        Frame::Session { token, .. } => token.to_vec(),
        other => panic!("expected a session frame, got {other:?}"),
    };
    (peer, id, token)
}

/// The next frame, which must be `Event{command: "s"}`: its payload.
async fn next_s(peer: &mut RawPeer) -> u32 {
    let frame = peer.read_frame().await.expect("an event");
    match Frame::decode(&frame).expect("decodes") {
        Frame::Event {
            command: "s",
            payload,
            ..
        } => hisock::value::decode(payload).expect("a number"),
        other => panic!("expected event s, got {other:?}"),
    }
}

/// A resume on another node while the session's connection on its own
/// node is still open (that node has not noticed it is dead): the session
/// moves, the new connection gets what the client says it missed, and the
/// old one is closed with 4013.
async fn a_session_still_open_on_its_node_moves_and_the_old_connection_hears_4013(t: Transport) {
    let Some((_redis, [a, b, _c])) = three_nodes().await else {
        return;
    };
    let (mut old, id, token) = raw_session(t, &a).await;
    for n in 1..=3u32 {
        a.server.to_client(id).emit("s", n).expect("local");
    }
    for n in 1..=3u32 {
        assert_eq!(next_s(&mut old).await, n);
    }
    let mut new = RawPeer::connect(t, b.addr(t)).await;
    new.send(&Frame::Resume {
        token: &token,
        received: 1,
    })
    .await;
    new.send(&handshake::hello(Some("ada"))).await;
    assert_eq!(handshake::welcomed_client_id(new.read_frame().await), id);
    let session = new.read_frame().await.expect("a session frame");
    match Frame::decode(&session).expect("decodes") {
        Frame::Session {
            token: kept,
            outcome,
            received,
            ..
        } => {
            assert_eq!(ResumeOutcome::from_wire(outcome), ResumeOutcome::Resumed);
            assert_eq!(kept, &token[..], "the same session");
            assert_eq!(received, 0, "the client sent nothing counted");
        }
        other => panic!("expected a session frame, got {other:?}"),
    }
    assert_eq!(next_s(&mut new).await, 2, "what the client said it missed");
    assert_eq!(next_s(&mut new).await, 3);
    assert_eq!(old.expect_end().await.code, codes::SESSION_MOVED);
    eventually("ada is on b", || {
        local_clients(&a.server) == 0 && local_clients(&b.server) == 1
    })
    .await;
    a.server.to_client(id).emit("s", 4u32).expect("routed to b");
    assert_eq!(next_s(&mut new).await, 4);
}

/// A token the node that gave it out knows as expired: the node the
/// client resumes on says so (outcome 3, a new session), not "unknown".
async fn a_token_another_node_knows_as_expired_gets_outcome_expired(t: Transport) {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let url = redis.url();
    let window = Duration::from_millis(200);
    let a = Node::start_with(&url, "expiry", CALM, RESYNC, |builder| {
        builder.session_window(window)
    })
    .await;
    let b = Node::start(&url, "expiry", CALM, RESYNC).await;
    let (_joins, leaves) = record_joins_and_leaves(&[&a, &b]);
    let (old, id, token) = raw_session(t, &a).await;
    drop(old);
    assert_eq!(
        leaves.next().await,
        (id, codes::ABNORMAL),
        "the window passed"
    );
    let mut new = RawPeer::connect(t, b.addr(t)).await;
    new.send(&Frame::Resume {
        token: &token,
        received: 0,
    })
    .await;
    new.send(&handshake::hello(Some("ada"))).await;
    assert_ne!(handshake::welcomed_client_id(new.read_frame().await), id);
    let session = new.read_frame().await.expect("a session frame");
    match Frame::decode(&session).expect("decodes") {
        Frame::Session {
            token: issued,
            outcome,
            ..
        } => {
            assert_eq!(ResumeOutcome::from_wire(outcome), ResumeOutcome::Expired);
            assert_ne!(issued, &token[..], "a new session");
        }
        other => panic!("expected a session frame, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_in_flight_end_with_an_error_when_the_session_moves_over_tcp() {
    streams_in_flight_end_with_an_error_on_both_sides_when_the_session_moves(Transport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_in_flight_end_with_an_error_when_the_session_moves_over_ws() {
    streams_in_flight_end_with_an_error_on_both_sides_when_the_session_moves(Transport::Ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_still_open_on_its_node_moves_over_tcp() {
    a_session_still_open_on_its_node_moves_and_the_old_connection_hears_4013(Transport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_still_open_on_its_node_moves_over_ws() {
    a_session_still_open_on_its_node_moves_and_the_old_connection_hears_4013(Transport::Ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_another_node_knows_as_expired_gets_outcome_expired_over_tcp() {
    a_token_another_node_knows_as_expired_gets_outcome_expired(Transport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_follows_its_client_to_another_node_over_tcp() {
    a_session_follows_its_client_to_another_node(Transport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_follows_its_client_to_another_node_over_ws() {
    a_session_follows_its_client_to_another_node(Transport::Ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_are_answered_once_across_a_move_over_tcp() {
    requests_in_flight_are_answered_once_across_a_move(Transport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_are_answered_once_across_a_move_over_ws() {
    requests_in_flight_are_answered_once_across_a_move(Transport::Ws).await;
}
