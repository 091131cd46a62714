//! Client handlers and client calls: identity, typed handlers, reserved
//! events, `recv`, the message cache, changes, closing.

use std::sync::Arc;
use std::time::Duration;

use hisock::{codes, Change, ClientInfo, ClientOptions, Command, Data, Error, On, Server};
use hisock_test_support::{
    record_departures, record_joins, record_leaves, transport_tests, within, Move, Probe,
    TestServer, WAIT,
};
use tokio::sync::Notify;

/// A server that answers "ping" with an instant "pong" event carrying the
/// same number, the pattern that lost messages in HiSock.
fn instant_pong_server() -> Server {
    let server = Server::new();
    server.on(
        "ping",
        |who: ClientInfo, srv: Server, Data(n): Data<u32>| async move {
            srv.to_client(who.id).emit("pong", n).map(|_| ())
        },
    );
    server
}

/// Client options whose "wait" handler (registered with `on`) waits up to
/// `patience` for a "release" event from the server and records in
/// `released` whether it came.
fn gate_options(on: On, patience: Duration, released: &Probe<bool>) -> ClientOptions {
    let gate = Arc::new(Notify::new());
    let waiting = gate.clone();
    let released = released.clone();
    ClientOptions::new()
        .on_with("wait", on, move || {
            let gate = waiting.clone();
            let released = released.clone();
            async move {
                let came = tokio::time::timeout(patience, gate.notified())
                    .await
                    .is_ok();
                released.push(came);
            }
        })
        .on("release", move || {
            let gate = gate.clone();
            async move { gate.notify_one() }
        })
}

transport_tests! {
    /// A threaded client handler runs beside later events: waiting for the
    /// next event, it gets it.
    async fn threaded_client_handler_runs_beside_later_events(t: Transport) {
        let released = Probe::new("released");
        let test = TestServer::start(t, Server::new()).await;
        let client = test.connect(gate_options(On::new().threaded(), WAIT, &released)).await;

        for command in ["wait", "release"] {
            test.server.to_client(client.id()).emit(command, ()).expect("emit");
        }

        assert!(released.next().await, "the threaded wait saw the release");
    }

    /// An in-order client handler holds back later events: waiting for the
    /// next event, it gives up first.
    async fn sequential_client_handler_holds_back_later_events(t: Transport) {
        let released = Probe::new("released");
        let patience = Duration::from_millis(300);
        let test = TestServer::start(t, Server::new()).await;
        let client = test.connect(gate_options(On::new(), patience, &released)).await;

        for command in ["wait", "release"] {
            test.server.to_client(client.id()).emit(command, ()).expect("emit");
        }

        assert!(!released.next().await, "release ran only after the in-order wait gave up");
    }

    /// A client joins with its name and group; both sides agree on its id,
    /// name, group, addresses and transport.
    async fn client_joins_with_name_and_group(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let client = test.connect(ClientOptions::new().name("ada").group("red")).await;

        assert!(client.id() > 0);
        assert_eq!(client.name().as_deref(), Some("ada"));
        assert_eq!(client.group().as_deref(), Some("red"));
        assert_eq!(client.transport(), t.kind());
        assert_eq!(client.server_addr(), Some(test.addr));
        let seen = client.addr_seen_by_server().expect("the server tells the address");
        assert_eq!(client.local_addr(), Some(seen), "no proxy on loopback");
        let info = test.server.client(client.id()).expect("registered");
        assert_eq!((info.name(), info.group(), info.addr), (Some("ada"), Some("red"), Some(seen)));
    }

    /// A client handler gets the server's struct payload, typed.
    async fn typed_client_handler_gets_struct_payload(t: Transport) {
        let moves = Probe::new("move");
        let test = TestServer::start(t, Server::new()).await;
        let seen = moves.clone();
        let client = test.connect(ClientOptions::new().on("move", move |Data(m): Data<Move>| {
            seen.push(m);
            async {}
        })).await;

        test.server.to_client(client.id()).emit("move", Move::new(5, 6, "srv")).expect("emit");

        assert_eq!(moves.next().await, Move::new(5, 6, "srv"));
    }

    /// Handlers registered on a connected client (not in the options) work
    /// too.
    async fn handler_registered_after_connect_runs(t: Transport) {
        let got = Probe::new("late handler");
        let test = TestServer::start(t, Server::new()).await;
        let client = test.connect_named("ada").await;
        let seen = got.clone();
        client.on("news", move |Data(s): Data<String>| {
            seen.push(s);
            async {}
        });

        test.server.to_client(client.id()).emit("news", "hello").expect("emit");

        assert_eq!(got.next().await, "hello");
    }

    /// `client_connect` and `client_disconnect` report other clients joining
    /// and leaving, never the client itself.
    async fn client_connect_and_disconnect_report_other_clients(t: Transport) {
        let presence = Probe::new("presence");
        let test = TestServer::start(t, Server::new()).await;
        let (joined, left) = (presence.clone(), presence.clone());
        let watcher = test.connect(ClientOptions::new()
            .name("watcher")
            .on("client_connect", move |who: ClientInfo| {
                joined.push(("connect", who.id, who.name));
                async {}
            })
            .on("client_disconnect", move |who: ClientInfo| {
                left.push(("disconnect", who.id, who.name));
                async {}
            })).await;

        let bob = test.connect(ClientOptions::new().name("bob").group("g")).await;
        let bob_id = bob.id();
        within("close", bob.close()).await;

        let bob_name = Some(Arc::<str>::from("bob"));
        assert_eq!(
            presence.take(2).await,
            [("connect", bob_id, bob_name.clone()), ("disconnect", bob_id, bob_name)]
        );
        assert!(watcher.is_connected());
    }

    /// `client_name_change` and `client_group_change` report another
    /// client's change with the old and new values.
    async fn client_name_and_group_change_report_other_clients(t: Transport) {
        let changes = Probe::new("changes");
        let test = TestServer::start(t, Server::new()).await;
        let (names, groups) = (changes.clone(), changes.clone());
        let _watcher = test.connect(ClientOptions::new()
            .on("client_name_change", move |who: ClientInfo, change: Change| {
                names.push(("name", who.id, change));
                async {}
            })
            .on("client_group_change", move |who: ClientInfo, change: Change| {
                groups.push(("group", who.id, change));
                async {}
            })).await;
        let bob = test.connect(ClientOptions::new().name("bob").group("g1")).await;

        bob.change_name(Some("robert")).await.expect("rename");
        bob.change_group(Some("g2")).await.expect("regroup");

        let arc = |s: &str| Some(Arc::<str>::from(s));
        assert_eq!(
            changes.take(2).await,
            [
                ("name", bob.id(), Change { old: arc("bob"), new: arc("robert") }),
                ("group", bob.id(), Change { old: arc("g1"), new: arc("g2") }),
            ]
        );
        assert_eq!(bob.name().as_deref(), Some("robert"));
        assert_eq!(bob.group().as_deref(), Some("g2"));
    }

    /// `message` sees every event from the server before its own handler;
    /// the wildcard sees only events without a handler.
    async fn message_sees_every_event_and_wildcard_the_unhandled(t: Transport) {
        let log = Probe::new("log");
        let test = TestServer::start(t, Server::new()).await;
        let (message, handler, wildcard) = (log.clone(), log.clone(), log.clone());
        let client = test.connect(ClientOptions::new()
            .on("message", move |Command(c): Command| {
                let log = message.clone();
                async move { log.push(format!("message:{c}")) }
            })
            .on("a", move || {
                let log = handler.clone();
                async move { log.push("handler:a".to_string()) }
            })
            .on("*", move |Command(c): Command| {
                let log = wildcard.clone();
                async move { log.push(format!("wildcard:{c}")) }
            })).await;

        for command in ["a", "b"] {
            test.server.to_client(client.id()).emit(command, ()).expect("emit");
        }

        assert_eq!(
            log.take(4).await,
            ["message:a", "handler:a", "message:b", "wildcard:b"]
        );
    }

    /// `override_reserved` on the client turns "client_connect" into an
    /// ordinary command: joins no longer call it, a server event does.
    async fn client_override_reserved_makes_it_an_ordinary_command(t: Transport) {
        let calls = Probe::new("client_connect as a command");
        let server = Server::new();
        // The server broadcasts a join before running its join handler, so
        // once that handler ran, the notice is queued ahead of what follows.
        let joins = record_joins(&server);
        let test = TestServer::start(t, server).await;
        let seen = calls.clone();
        let client = test.connect(ClientOptions::new().on_with(
            "client_connect",
            On::new().override_reserved(),
            move |Data(text): Data<String>| {
                seen.push(text);
                async {}
            },
        )).await;

        assert_eq!(joins.next().await, client.id());
        let bob = test.connect_named("bob").await;
        assert_eq!(joins.next().await, bob.id());
        test.server.to_client(client.id()).emit("client_connect", "as a command").expect("emit");

        assert_eq!(calls.next().await, "as a command");
        assert!(calls.drain().await.is_empty(), "bob's join did not call it");
    }

    /// HiSock's lost-message bug: the server answers instantly and the
    /// client calls `recv` only after `send` returned. The answer must never
    /// be lost.
    async fn recv_after_send_never_misses_an_instant_answer(t: Transport) {
        let test = TestServer::start(t, instant_pong_server()).await;
        let client = test.connect_named("ada").await;

        for n in 0..200u32 {
            client.send("ping", &n).await.expect("send");
            let pong: u32 = client.recv("pong", WAIT).await.expect("pong");
            assert_eq!(pong, n);
        }
    }

    /// `recv` with nothing coming times out with `Error::Timeout`, and the
    /// client stays usable.
    async fn recv_times_out_when_nothing_comes(t: Transport) {
        let test = TestServer::start(t, instant_pong_server()).await;
        let client = test.connect_named("ada").await;
        let short = Duration::from_millis(100);

        let err = client.recv::<u32>("never", short).await.expect_err("nothing comes");
        assert!(matches!(err, Error::Timeout(d) if d == short), "{err}");
        let err = client.recv_any(short).await.expect_err("nothing comes");
        assert!(matches!(err, Error::Timeout(_)), "{err}");

        client.send("ping", &7u32).await.expect("send");
        assert_eq!(client.recv::<u32>("pong", WAIT).await.expect("pong"), 7);
    }

    /// `recv_any` returns unhandled events in order; `recv(command)` picks
    /// its own command out of them; handled events never show up there.
    async fn recv_any_and_recv_take_unhandled_events(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let client = test.connect(ClientOptions::new().on("handled", || async {})).await;
        for (n, command) in ["handled", "x", "y", "z"].into_iter().enumerate() {
            test.server.to_client(client.id()).emit(command, n as u32).expect("emit");
        }

        assert_eq!(client.recv::<u32>("y", WAIT).await.expect("y"), 2);
        let next = client.recv_any(WAIT).await.expect("x");
        assert_eq!((&*next.command, next.data::<u32>().expect("u32")), ("x", 1));
        let next = client.recv_any(WAIT).await.expect("z");
        assert_eq!((&*next.command, next.data::<u32>().expect("u32")), ("z", 3));
        // A payload that does not fit the asked type is a decode error.
        test.server.to_client(client.id()).emit("x", "text").expect("emit");
        assert!(matches!(client.recv::<u32>("x", WAIT).await, Err(Error::Decode(_))));
    }

    /// `recent_messages` keeps the last `cache_size` events, oldest first.
    async fn recent_messages_keeps_the_last_n_events(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let client = test.connect(ClientOptions::new().cache_size(3)).await;

        for n in 0..5u32 {
            test.server.to_client(client.id()).emit("n", n).expect("emit");
        }
        for n in 0..5u32 {
            assert_eq!(client.recv::<u32>("n", WAIT).await.expect("n"), n);
        }

        let recent: Vec<u32> = client
            .recent_messages()
            .iter()
            .map(|m| m.data().expect("u32"))
            .collect();
        assert_eq!(recent, [2, 3, 4]);
        let uncached = test.connect(ClientOptions::new()).await;
        assert!(uncached.recent_messages().is_empty(), "no cache by default");
    }

    /// `close` runs the server's `leave`; `close_without_leave` does not,
    /// yet other clients see both go.
    async fn close_runs_leave_and_close_without_leave_does_not(t: Transport) {
        let server = Server::new();
        let leaves = record_leaves(&server);
        let test = TestServer::start(t, server).await;
        let (options, departures) = record_departures(ClientOptions::new());
        let watcher = test.connect(options).await;
        let polite = test.connect_named("polite").await;
        let quiet = test.connect_named("quiet").await;

        within("close", polite.close()).await;
        assert_eq!(leaves.next().await, (polite.id(), codes::NORMAL));
        within("close", quiet.close_without_leave()).await;
        assert_eq!(departures.take(2).await, [polite.id(), quiet.id()]);
        assert!(!polite.is_connected() && !quiet.is_connected());
        assert!(matches!(quiet.send("x", &()).await, Err(Error::Closed(_))));

        // Once shut down, every leave that was going to run has run.
        test.shutdown().await;
        assert_eq!(leaves.drain().await, [(watcher.id(), codes::GOING_AWAY)]);
    }
}
