//! Three hisock nodes joined through a real `redis-server` (started by
//! each test on a loopback port of its own), TCP and WebSocket clients
//! spread over them: every path that crosses nodes, a node that dies,
//! Redis stopped and started again mid-run, and announcements lost on a
//! live link repaired by the periodic digests.

mod cluster_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cluster_support::{eventually, eventually_async, Node};
use hisock::close::codes;
use hisock::server::cluster::{node_of, ClusterStatus};
use hisock::{ClientInfo, ClientOptions, Data, Error, On};
use hisock_redis::{RedisAdapter, RedisConfig};
use hisock_test_support::{within, Probe, RedisServer, Transport, WAIT};

/// Heartbeat window of the tests that do not test heartbeats: long, so a
/// loaded machine never loses a node by accident.
const CALM: Duration = Duration::from_secs(10);

/// Heartbeat window of the tests of a node's death and of Redis's: short
/// enough for a quick test, long enough that a live node whose link task
/// waits for a core on a loaded machine is not taken for dead (its Redis
/// commands also time out after this).
const HEARTBEAT: Duration = Duration::from_secs(2);

/// Every node's digest period in these tests: short, so that a repair is
/// quick; every test then also runs with digests crossing all the time
/// (a digest that disagreed for no reason would bring snapshots, and their
/// presence notices would show up as doubles).
const RESYNC: Duration = Duration::from_millis(250);

/// What clients received, as (client name, command, payload) in arrival
/// order per client.
#[derive(Clone, Default)]
struct Inbox(Arc<Mutex<Vec<(String, String, String)>>>);

impl Inbox {
    /// Options for a client named `name` that records `news` and `done`.
    fn options(&self, name: &str) -> ClientOptions {
        let mut options = ClientOptions::new().name(name);
        for command in ["news", "done"] {
            let inbox = self.clone();
            let who = name.to_owned();
            options = options.on(command, move |Data(text): Data<String>| {
                inbox.push(&who, command, &text);
                async {}
            });
        }
        options
    }

    fn push(&self, who: &str, command: &str, text: &str) {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.push((who.to_owned(), command.to_owned(), text.to_owned()));
    }

    fn count(&self, command: &str, text: &str) -> usize {
        let seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.iter()
            .filter(|(_, c, t)| c == command && t == text)
            .count()
    }

    /// Every `news` payload each client got, sorted per client.
    fn news(&self) -> BTreeMap<String, Vec<String>> {
        let seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut news: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (who, command, text) in seen.iter() {
            if command == "news" {
                news.entry(who.clone()).or_default().push(text.clone());
            }
        }
        for texts in news.values_mut() {
            texts.sort();
        }
        news
    }
}

/// A cluster of three nodes on a fresh `redis-server`, or `None` when
/// redis-server is not installed (the test then passes, having said so).
async fn three_nodes(heartbeat: Duration) -> Option<(RedisServer, [Node; 3])> {
    let redis = RedisServer::start()?;
    let url = redis.url();
    let a = Node::start(&url, "t", heartbeat, RESYNC).await;
    let b = Node::start(&url, "t", heartbeat, RESYNC).await;
    let c = Node::start(&url, "t", heartbeat, RESYNC).await;
    Some((redis, [a, b, c]))
}

/// Waits until every node lists `n` clients.
async fn converged(nodes: &[&Node], n: usize) {
    for node in nodes {
        eventually(&format!("a node lists {n} clients"), || {
            node.server.clients().len() == n
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_reach_every_node_exactly_once_over_tcp_and_ws() {
    let Some((_redis, [a, b, c])) = three_nodes(CALM).await else {
        return;
    };
    let inbox = Inbox::default();
    let a_tcp = a
        .connect(Transport::Tcp, inbox.options("a-tcp").group("g"))
        .await;
    let b_ws = b
        .connect(Transport::Ws, inbox.options("b-ws").group("g"))
        .await;
    let c_tcp = c.connect(Transport::Tcp, inbox.options("c-tcp")).await;
    let c_ws = c
        .connect(Transport::Ws, inbox.options("c-ws").group("g"))
        .await;
    converged(&[&a, &b, &c], 4).await;

    let ids = [a_tcp.id(), b_ws.id(), c_tcp.id(), c_ws.id()];
    let nodes: std::collections::HashSet<_> = ids.iter().map(|id| node_of(*id)).collect();
    assert_eq!(nodes.len(), 3, "ids carry their node: {ids:?}");

    // A room with members on two nodes, one of them put there by a third.
    assert!(a.server.join_room(c_ws.id(), "r").expect("c-ws is known"));
    assert!(b.server.join_room(b_ws.id(), "r").expect("b-ws is local"));
    for node in [&a, &b, &c] {
        eventually("the room has its two members everywhere", || {
            node.server.room("r").len() == 2
        })
        .await;
    }
    assert_eq!(
        b.server.rooms_of(c_ws.id()).expect("known"),
        vec!["r".to_owned()]
    );

    a.server
        .to_all()
        .except(a_tcp.id())
        .emit("news", "all but a")
        .expect("emits");
    b.server
        .to_group("g")
        .emit("news", "group g")
        .expect("emits");
    c.server.to_room("r").emit("news", "room r").expect("emits");
    let sent = a
        .server
        .to_client(c_tcp.id())
        .emit("news", "direct")
        .expect("a remote client is found");
    assert_eq!(sent, 1);
    // Each origin's marker comes after its news on every path.
    for node in [&a, &b, &c] {
        node.server.to_all().emit("done", "end").expect("emits");
    }
    eventually("every client got the three markers", || {
        inbox.count("done", "end") == 12
    })
    .await;

    let news = inbox.news();
    let expect = |texts: &[&str]| texts.iter().map(|t| t.to_string()).collect::<Vec<_>>();
    assert_eq!(news["a-tcp"], expect(&["group g"]));
    assert_eq!(news["b-ws"], expect(&["all but a", "group g", "room r"]));
    assert_eq!(news["c-tcp"], expect(&["all but a", "direct"]));
    assert_eq!(news["c-ws"], expect(&["all but a", "group g", "room r"]));

    // Taken out of the room by another node: its own node agrees.
    assert!(b.server.leave_room(c_ws.id(), "r").expect("known"));
    eventually("node c took c-ws out of the room", || {
        c.server.room("r").len() == 1
    })
    .await;
    assert_eq!(
        c.server.rooms_of(c_ws.id()).expect("local"),
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn look_ups_and_lists_see_every_nodes_clients() {
    let Some((_redis, [a, b, c])) = three_nodes(CALM).await else {
        return;
    };
    let a_tcp = a
        .connect(Transport::Tcp, ClientOptions::new().name("ada").group("g"))
        .await;
    let b_ws = b
        .connect(Transport::Ws, ClientOptions::new().name("bob"))
        .await;
    let c_ws = c
        .connect(Transport::Ws, ClientOptions::new().name("cy").group("g"))
        .await;
    converged(&[&a, &b, &c], 3).await;

    let found = b.server.client(a_tcp.id()).expect("ada by id, from node b");
    assert_eq!(found.name(), Some("ada"));
    assert_eq!(found.transport, hisock::TransportKind::Tcp);
    assert_eq!(b.server.client_by_name("cy").map(|i| i.id), Some(c_ws.id()));
    let addr = found.addr.expect("the server saw an address");
    assert_eq!(
        c.server.client_by_addr(addr).map(|i| i.id),
        Some(a_tcp.id())
    );
    let group: Vec<u64> = a.server.group("g").iter().map(|i| i.id).collect();
    let mut expected = vec![a_tcp.id(), c_ws.id()];
    expected.sort();
    assert_eq!(group, expected);
    assert_eq!(a.server.client_count(), 3);

    // Clients' own look-ups go through their node.
    let bob = within("lookup", c_ws.client_by_name("bob"))
        .await
        .expect("answered");
    assert_eq!(bob.map(|i| i.id), Some(b_ws.id()));
    let listed = within("list", b_ws.list_clients(Some("g")))
        .await
        .expect("answered");
    assert_eq!(listed.len(), 2);
    let everyone = within("list", a_tcp.list_clients(None))
        .await
        .expect("answered");
    assert_eq!(everyone.len(), 3);

    // A name change is seen on the other nodes.
    within("rename", b_ws.change_name(Some("robert")))
        .await
        .expect("renamed");
    eventually("node a sees the new name", || {
        a.server.client_by_name("robert").map(|i| i.id) == Some(b_ws.id())
    })
    .await;
    assert!(a.server.client_by_name("bob").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_notices_reach_each_client_on_every_node_once() {
    let Some((_redis, [a, b, c])) = three_nodes(CALM).await else {
        return;
    };
    let seen: Probe<(String, String, u64)> = Probe::new("presence");
    let watcher = |name: &str| {
        let mut options = ClientOptions::new().name(name);
        for event in ["client_connect", "client_disconnect", "client_name_change"] {
            let seen = seen.clone();
            let me = name.to_owned();
            options = options.on(event, move |who: ClientInfo| {
                seen.push((me.clone(), event.to_owned(), who.id));
                async {}
            });
        }
        let done = seen.clone();
        let me = name.to_owned();
        options.on("done", move || {
            done.push((me.clone(), "done".to_owned(), 0));
            async {}
        })
    };
    let _a_tcp = a.connect(Transport::Tcp, watcher("a")).await;
    let _b_ws = b.connect(Transport::Ws, watcher("b")).await;
    converged(&[&a, &b, &c], 2).await;
    let _ = seen.drain().await;

    let newcomer = c
        .connect(Transport::Tcp, ClientOptions::new().name("new"))
        .await;
    let id = newcomer.id();
    within("rename", newcomer.change_name(Some("newer")))
        .await
        .expect("renamed");
    within("close", newcomer.close()).await;
    // After the leave, on the same path: when both watchers have it, they
    // have everything node c announced before it.
    c.server.to_all().emit("done", ()).expect("emits");
    let mut events = seen.take(8).await;
    events.sort();
    let expected = |who: &str| {
        vec![
            (who.to_owned(), "client_connect".to_owned(), id),
            (who.to_owned(), "client_disconnect".to_owned(), id),
            (who.to_owned(), "client_name_change".to_owned(), id),
            (who.to_owned(), "done".to_owned(), 0),
        ]
    };
    let mut all = expected("a");
    all.extend(expected("b"));
    assert_eq!(events, all, "each notice once per watcher");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_and_disconnects_reach_clients_of_other_nodes() {
    let Some((_redis, [a, b, c])) = three_nodes(CALM).await else {
        return;
    };
    let answering = |name: &str| {
        let me = name.to_owned();
        ClientOptions::new()
            .name(name)
            .group("jury")
            .on("ask", move |Data(q): Data<String>| {
                let me = me.clone();
                async move { format!("{me} says {q}") }
            })
            // Threaded: its sleep does not hold up the client's other
            // handlers.
            .on_with("never", On::new().threaded(), || async {
                tokio::time::sleep(WAIT * 2).await;
            })
    };
    let a_ws = a.connect(Transport::Ws, answering("a")).await;
    let b_tcp = b.connect(Transport::Tcp, answering("b")).await;
    let c_ws = c.connect(Transport::Ws, answering("c")).await;
    converged(&[&a, &b, &c], 3).await;

    let reply: String = a
        .server
        .request(c_ws.id(), "ask", "hi", WAIT)
        .await
        .expect("answered through node c");
    assert_eq!(reply, "c says hi");

    let short = Duration::from_millis(300);
    let late = a
        .server
        .request::<(), _>(b_tcp.id(), "never", (), short)
        .await;
    assert!(
        matches!(late, Err(Error::Timeout(t)) if t == short),
        "{late:?}"
    );
    let unhandled = a
        .server
        .request::<(), _>(b_tcp.id(), "nobody-handles-this", (), WAIT)
        .await;
    assert!(
        matches!(unhandled, Err(Error::Remote { .. })),
        "{unhandled:?}"
    );
    let nobody = a
        .server
        .request::<(), _>(u64::MAX >> 12, "ask", (), WAIT)
        .await;
    assert!(matches!(nobody, Err(Error::NoSuchClient(_))), "{nobody:?}");

    let votes = b
        .server
        .to_group("jury")
        .request::<String, _>("ask", "yes?", WAIT)
        .await
        .expect("asked");
    let mut answers: Vec<String> = votes.ok().map(|(_, r)| r.clone()).collect();
    answers.sort();
    assert_eq!(answers, ["a says yes?", "b says yes?", "c says yes?"]);

    a.server
        .disconnect(c_ws.id(), "go away")
        .expect("a remote client is found");
    let reason = within("kicked", c_ws.closed()).await;
    assert_eq!(reason.code, codes::KICKED);
    assert_eq!(reason.reason, "go away");
    eventually("node a forgets the kicked client", || {
        a.server.client(c_ws.id()).is_none()
    })
    .await;

    // Everyone, on every node.
    c.server.disconnect_all("closing time");
    let reason = within("kicked", a_ws.closed()).await;
    assert_eq!(reason.code, codes::KICKED);
    // (b's `closed` would wait for its sleeping `never` handler.)
    eventually("no node has clients left", || {
        !b_tcp.is_connected() && c.server.client_count() == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_dies_leaves_the_cluster_once_within_its_heartbeat() {
    let heartbeat = HEARTBEAT;
    let Some((_redis, [a, b, c])) = three_nodes(heartbeat).await else {
        return;
    };
    let (options, departures) = hisock_test_support::record_departures(ClientOptions::new());
    let watcher = a.connect(Transport::Tcp, options).await;
    let _b_ws = b.connect(Transport::Ws, ClientOptions::new()).await;
    let doomed = [
        c.connect(Transport::Tcp, ClientOptions::new()).await,
        c.connect(Transport::Ws, ClientOptions::new()).await,
    ];
    converged(&[&a, &b, &c], 4).await;

    // The process dies: no goodbye reaches Redis, and its clients are cut.
    c.adapter.abort();
    within("node c stops", c.server.shutdown()).await;
    for node in [&a, &b] {
        eventually("node c's clients are gone", || {
            node.server.clients().len() == 2
        })
        .await;
    }
    // A marker from node a to its own client comes after the notices node
    // a sent when it dropped node c.
    let marker = Probe::new("marker");
    let seen = marker.clone();
    watcher.on("marker", move || {
        seen.push(());
        async {}
    });
    a.server
        .to_client(watcher.id())
        .emit("marker", ())
        .expect("local");
    marker.next().await;
    let mut left = departures.drain().await;
    left.sort();
    let mut expected: Vec<u64> = doomed.iter().map(|c| c.id()).collect();
    expected.sort();
    assert_eq!(left, expected, "each of node c's clients left once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_lost_mid_run_degrades_then_the_cluster_is_rebuilt() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let heartbeat = HEARTBEAT;
    let a = Node::start(&redis.url(), "t", heartbeat, RESYNC).await;
    let b = Node::start(&redis.url(), "t", heartbeat, RESYNC).await;
    let statuses: Probe<(char, ClusterStatus)> = Probe::new("status");
    for (name, node) in [('a', &a), ('b', &b)] {
        let statuses = statuses.clone();
        node.server
            .on_cluster_status(move |status| statuses.push((name, status.clone())));
    }
    let inbox = Inbox::default();
    let _a_tcp = a.connect(Transport::Tcp, inbox.options("a-tcp")).await;
    let b_ws = b.connect(Transport::Ws, inbox.options("b-ws")).await;
    converged(&[&a, &b], 2).await;

    redis.stop();
    let mut degraded: Vec<char> = Vec::new();
    for _ in 0..2 {
        let (node, status) = statuses.next().await;
        assert!(
            matches!(status, ClusterStatus::Degraded { .. }),
            "{status:?}"
        );
        degraded.push(node);
    }
    degraded.sort();
    assert_eq!(degraded, ['a', 'b']);

    // Local delivery goes on.
    a.server.to_all().emit("news", "local").expect("emits");
    eventually("a's client gets local news", || {
        inbox.count("news", "local") == 1
    })
    .await;
    // A remote request fails at once rather than waiting for a reply that
    // cannot come.
    let cut = a.server.request::<(), _>(b_ws.id(), "x", (), WAIT).await;
    assert!(matches!(cut, Err(Error::Closed(_))), "{cut:?}");
    // A client joins during the outage.
    let late = a.connect(Transport::Ws, inbox.options("late")).await;

    redis.restart();
    let mut restored: Vec<char> = Vec::new();
    for _ in 0..2 {
        let (node, status) = statuses.next().await;
        assert_eq!(status, ClusterStatus::Restored);
        restored.push(node);
    }
    restored.sort();
    assert_eq!(restored, ['a', 'b']);
    eventually(
        "node b sees the client that joined during the outage",
        || b.server.client(late.id()).is_some(),
    )
    .await;
    converged(&[&a, &b], 3).await;
    b.server.to_all().emit("news", "after").expect("emits");
    eventually("every client gets news across nodes again", || {
        inbox.count("news", "after") == 3
    })
    .await;
    // Requests cross again too.
    eventually_async("a request crosses nodes again", || {
        let server = a.server.clone();
        let id = b_ws.id();
        async move {
            matches!(
                server.request::<(), _>(id, "nobody", (), WAIT).await,
                Err(Error::Remote { .. })
            )
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_leave_and_a_lost_join_are_repaired_by_the_next_digest() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let a = Node::start(&redis.url(), "t", CALM, RESYNC).await;
    let b = Node::start(&redis.url(), "t", CALM, RESYNC).await;
    let seen: Probe<(&'static str, u64)> = Probe::new("presence");
    let mut options = ClientOptions::new().name("watcher");
    for event in ["client_connect", "client_disconnect"] {
        let seen = seen.clone();
        options = options.on(event, move |who: ClientInfo| {
            seen.push((event, who.id));
            async {}
        });
    }
    let marker = seen.clone();
    options = options.on("done", move || {
        marker.push(("done", 0));
        async {}
    });
    let watcher = b.connect(Transport::Ws, options).await;
    let ghost = a
        .connect(Transport::Tcp, ClientOptions::new().name("ghost"))
        .await;
    let ghost_id = ghost.id();
    assert_eq!(seen.next().await, ("client_connect", ghost_id));
    converged(&[&a, &b], 2).await;

    // Node a's announcements are lost from here on; its link stays up.
    a.lose_publications(true);
    // Node a runs `join` and `leave` after announcing them: when they ran,
    // the announcements were lost.
    let ran: Probe<(&'static str, u64)> = Probe::new("handlers on node a");
    for event in ["join", "leave"] {
        let ran = ran.clone();
        a.server.on(event, move |who: ClientInfo| {
            ran.push((event, who.id));
            async {}
        });
    }
    within("close", ghost.close()).await;
    assert_eq!(ran.next().await, ("leave", ghost_id));
    let missed = a
        .connect(Transport::Ws, ClientOptions::new().name("missed"))
        .await;
    assert_eq!(ran.next().await, ("join", missed.id()));
    assert!(b.server.client(ghost_id).is_some(), "a ghost on node b");
    assert!(
        b.server.client(missed.id()).is_none(),
        "a join node b missed"
    );

    a.lose_publications(false);
    eventually("node b's directory agrees with node a again", || {
        b.server.client(ghost_id).is_none() && b.server.client(missed.id()).is_some()
    })
    .await;
    assert_eq!(
        b.server.client_by_name("missed").map(|i| i.id),
        Some(missed.id())
    );
    assert!(b.server.client_by_name("ghost").is_none());
    converged(&[&a, &b], 2).await;

    // The watcher heard of both once, when its node repaired its directory.
    let mut heard = seen.take(2).await;
    heard.sort();
    assert_eq!(
        heard,
        [
            ("client_connect", missed.id()),
            ("client_disconnect", ghost_id)
        ]
    );
    b.server
        .to_client(watcher.id())
        .emit("done", ())
        .expect("local");
    assert_eq!(seen.next().await, ("done", 0), "nothing heard twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_unavailable_at_start_is_a_typed_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let config = RedisConfig::new(format!("redis://127.0.0.1:{port}/"));
    let err = within("connect", RedisAdapter::connect(config))
        .await
        .expect_err("nothing listens there");
    assert!(
        matches!(err, hisock_redis::Error::Unavailable { .. }),
        "{err}"
    );
}
