//! Server handlers: typed arguments, reserved events, the wildcard,
//! overriding reserved names, in-order versus threaded handlers.

use std::sync::Arc;
use std::time::Duration;

use hisock::{
    Change, ClientInfo, ClientOptions, Command, Data, Error, ErrorCode, On, RawPayload, Server,
};
use hisock_test_support::{
    record_joins, record_leaves, transport_tests, within, Move, Probe, TestServer, WAIT,
};
use tokio::sync::Notify;

transport_tests! {
    /// A handler asking for the sender and a struct payload gets both.
    async fn typed_handler_gets_sender_info_and_struct_payload(t: Transport) {
        let moves = Probe::new("move");
        let server = Server::new();
        let seen = moves.clone();
        server.on("move", move |who: ClientInfo, Data(m): Data<Move>| {
            seen.push((who, m));
            async {}
        });
        let test = TestServer::start(t, server).await;
        let client = test.connect(ClientOptions::new().name("ada").group("red")).await;

        client.send("move", &Move::new(3, 4, "ada")).await.expect("send");

        let (who, m) = moves.next().await;
        assert_eq!(m, Move::new(3, 4, "ada"));
        assert_eq!(who.id, client.id());
        assert_eq!(who.name(), Some("ada"));
        assert_eq!(who.group(), Some("red"));
        assert_eq!(who.addr, client.addr_seen_by_server());
        assert_eq!(who.transport, t.kind());
    }

    /// Each event's handler sees the sender as it is when the event
    /// arrives: a rename between two events shows in the second, and the
    /// wildcard and named handlers each get their own command.
    async fn handlers_see_the_sender_and_command_of_each_event(t: Transport) {
        let server = Server::new();
        server.on("who", |who: ClientInfo, Command(c): Command| async move {
            format!("{c}:{}", who.name().unwrap_or("-"))
        });
        server.on("*", |who: ClientInfo, Command(c): Command| async move {
            format!("{c}:{}", who.name().unwrap_or("-"))
        });
        let test = TestServer::start(t, server).await;
        let client = test.connect_named("ada").await;

        let first: String = client.request("who", &(), WAIT).await.expect("who");
        let other: String = client.request("else", &(), WAIT).await.expect("else");
        within("rename", client.change_name(Some("bob"))).await.expect("renamed");
        let second: String = client.request("who", &(), WAIT).await.expect("who");
        let third: String = client.request("more", &(), WAIT).await.expect("more");
        assert_eq!([first, other, second, third], ["who:ada", "else:ada", "who:bob", "more:bob"]);
    }

    /// A handler type of the application's own (its `Handler` impl takes
    /// the context by value) gets a context for every event.
    async fn own_handler_types_get_every_event(t: Transport) {
        let server = Server::new();
        server.on("len", PayloadLen);
        let test = TestServer::start(t, server).await;
        let client = test.connect_named("ada").await;

        for text in ["a", "abc", "abcdef"] {
            let len: u64 = client.request("len", text, WAIT).await.expect("len");
            assert_eq!(len, text.len() as u64 + 1, "a fixstr is one byte longer");
        }
    }

    /// Handlers may take no arguments, only the payload, or only the sender,
    /// and a handler's return value answers a request.
    async fn handlers_take_any_combination_of_extractors(t: Transport) {
        let server = Server::new();
        server.on("unit", || async { "no args" });
        server.on("data", |Data(n): Data<u32>| async move { n + 1 });
        server.on("who", |who: ClientInfo| async move { who.name.map(|n| n.to_string()) });
        server.on("cmd", |Command(c): Command, RawPayload(p): RawPayload| async move {
            format!("{c}:{}", p.len())
        });
        let test = TestServer::start(t, server).await;
        let client = test.connect_named("ada").await;

        let unit: String = client.request("unit", &(), WAIT).await.expect("unit");
        let data: u32 = client.request("data", &41u32, WAIT).await.expect("data");
        let who: Option<String> = client.request("who", &(), WAIT).await.expect("who");
        let cmd: String = client.request("cmd", "abc", WAIT).await.expect("cmd");
        assert_eq!(unit, "no args");
        assert_eq!(data, 42);
        assert_eq!(who.as_deref(), Some("ada"));
        assert_eq!(cmd, "cmd:4", "a fixstr of three bytes is four bytes of MessagePack");
    }

    /// `join` runs once per client with the identity it joined with.
    async fn join_runs_with_the_new_clients_identity(t: Transport) {
        let joins = Probe::new("join");
        let server = Server::new();
        let seen = joins.clone();
        server.on("join", move |who: ClientInfo| {
            seen.push(who);
            async {}
        });
        let test = TestServer::start(t, server).await;

        let ada = test.connect(ClientOptions::new().name("ada").group("red")).await;
        let who = joins.next().await;
        assert_eq!((who.id, who.name(), who.group()), (ada.id(), Some("ada"), Some("red")));

        let anon = test.connect(ClientOptions::new()).await;
        let who = joins.next().await;
        assert_eq!((who.id, who.name(), who.group()), (anon.id(), None, None));
    }

    /// `leave` runs when a client closes, with the client and its reason.
    async fn leave_runs_with_the_close_reason(t: Transport) {
        let server = Server::new();
        let leaves = record_leaves(&server);
        let test = TestServer::start(t, server).await;
        let client = test.connect_named("ada").await;

        within("close", client.close()).await;

        assert_eq!(leaves.next().await, (client.id(), hisock::codes::NORMAL));
        test.wait_for_client_count(0).await;
    }

    /// `message` sees every event (handled or not) before its own handler.
    async fn message_sees_every_event_before_its_handler(t: Transport) {
        let log = Probe::new("log");
        let server = Server::new();
        let seen = log.clone();
        server.on("message", move |Command(c): Command, RawPayload(_): RawPayload| {
            let seen = seen.clone();
            async move { seen.push(format!("message:{c}")) }
        });
        let seen = log.clone();
        server.on("a", move || {
            let seen = seen.clone();
            async move { seen.push("handler:a".to_string()) }
        });
        let test = TestServer::start(t, server).await;
        let client = test.connect_named("ada").await;

        for command in ["a", "b", "c"] {
            client.send(command, &()).await.expect("send");
        }

        assert_eq!(
            log.take(4).await,
            ["message:a", "handler:a", "message:b", "message:c"]
        );
    }

    /// `name_change` and `group_change` get the client after the change and
    /// the old and new values.
    async fn name_and_group_change_get_old_and_new(t: Transport) {
        let changes = Probe::new("changes");
        let server = Server::new();
        let seen = changes.clone();
        server.on("name_change", move |who: ClientInfo, change: Change| {
            seen.push(("name", who.name, change));
            async {}
        });
        let seen = changes.clone();
        server.on("group_change", move |who: ClientInfo, change: Change| {
            seen.push(("group", who.group, change));
            async {}
        });
        let test = TestServer::start(t, server).await;
        let client = test.connect(ClientOptions::new().name("old").group("g1")).await;

        client.change_name(Some("new")).await.expect("change name");
        client.change_group(Some("g2")).await.expect("change group");
        client.change_name(None).await.expect("clear name");

        let arc = |s: &str| Some(Arc::<str>::from(s));
        assert_eq!(
            changes.take(3).await,
            [
                ("name", arc("new"), Change { old: arc("old"), new: arc("new") }),
                ("group", arc("g2"), Change { old: arc("g1"), new: arc("g2") }),
                ("name", None, Change { old: arc("new"), new: None }),
            ]
        );
        assert_eq!(client.name(), None);
        assert_eq!(client.group().as_deref(), Some("g2"));
    }

    /// The wildcard gets the events that have no handler, and only those.
    async fn wildcard_gets_only_commands_without_a_handler(t: Transport) {
        let wild = Probe::new("wildcard");
        let known = Probe::new("known");
        let server = Server::new();
        let seen = wild.clone();
        server.on("*", move |Command(c): Command, Data(n): Data<u32>| {
            seen.push((c.to_string(), n));
            async {}
        });
        let seen = known.clone();
        server.on("known", move |Data(n): Data<u32>| {
            seen.push(n);
            async {}
        });
        let test = TestServer::start(t, server).await;
        let client = test.connect_named("ada").await;

        client.send("known", &1u32).await.expect("send");
        client.send("unknown", &2u32).await.expect("send");
        client.send("other", &3u32).await.expect("send");

        assert_eq!(known.next().await, 1);
        assert_eq!(
            wild.take(2).await,
            [("unknown".to_string(), 2), ("other".to_string(), 3)]
        );
    }

    /// A client sending an event named like a reserved server event does not
    /// trigger that event: it is an ordinary (here unhandled) command.
    async fn reserved_names_sent_by_a_client_do_not_trigger_reserved_events(t: Transport) {
        let wild = Probe::new("wildcard");
        let server = Server::new();
        let joins = record_joins(&server);
        let seen = wild.clone();
        server.on("*", move |Command(c): Command| {
            seen.push(c.to_string());
            async {}
        });
        let test = TestServer::start(t, server).await;
        let client = test.connect_named("ada").await;
        assert_eq!(joins.next().await, client.id());

        client.send("join", &()).await.expect("send");
        client.send("marker", &()).await.expect("send");

        assert_eq!(wild.take(2).await, ["join", "marker"]);
        assert!(joins.drain().await.is_empty(), "join ran only for the real join");
    }

    /// `override_reserved` turns "join" into an ordinary command: joining no
    /// longer calls it, sending "join" does.
    async fn override_reserved_makes_join_an_ordinary_command(t: Transport) {
        let calls = Probe::new("join as a command");
        let server = Server::new();
        let seen = calls.clone();
        let handler = move |who: ClientInfo, RawPayload(p): RawPayload| {
            seen.push((who.id, p));
            async {}
        };
        server.on_with("join", On::new().override_reserved(), handler);
        let test = TestServer::start(t, server).await;
        let client = test.connect_named("ada").await;

        client.send("join", "hello").await.expect("send");

        let (id, payload) = calls.next().await;
        assert_eq!(id, client.id());
        assert_eq!(
            hisock::value::decode::<String>(&payload).expect("a string"),
            "hello",
            "the first call is the event, not the client's join"
        );
    }

    /// Handlers of one client run one at a time in arrival order, even when
    /// earlier ones take longer.
    async fn sequential_handlers_keep_per_client_order(t: Transport) {
        let order = Probe::new("order");
        let server = Server::new();
        let seen = order.clone();
        server.on("step", move |Data(n): Data<u32>| {
            let seen = seen.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(u64::from(n % 3))).await;
                seen.push(n);
            }
        });
        let test = TestServer::start(t, server).await;
        let client = test.connect_named("ada").await;

        for n in 0..50u32 {
            client.send("step", &n).await.expect("send");
        }

        assert_eq!(order.take(50).await, (0..50).collect::<Vec<_>>());
    }

    /// A threaded handler waiting for a later event of the same client gets
    /// it: threaded handlers run beside the client's other events.
    async fn threaded_handler_runs_beside_later_events(t: Transport) {
        let released = Probe::new("released");
        let test = TestServer::start(t, gate_server(On::new().threaded(), WAIT, &released)).await;
        let client = test.connect_named("ada").await;

        client.send("wait", &()).await.expect("send wait");
        client.send("release", &()).await.expect("send release");

        assert!(released.next().await, "the threaded wait saw the release");
    }

    /// An in-order handler waiting for a later event of the same client
    /// never gets it: the later event waits for the handler, which gives up.
    async fn sequential_handler_holds_back_later_events(t: Transport) {
        let released = Probe::new("released");
        let patience = Duration::from_millis(300);
        let test = TestServer::start(t, gate_server(On::new(), patience, &released)).await;
        let client = test.connect_named("ada").await;

        client.send("wait", &()).await.expect("send wait");
        client.send("release", &()).await.expect("send release");

        assert!(!released.next().await, "release ran only after the in-order wait gave up");
    }

    /// A server with no handlers at all still serves: events are ignored,
    /// requests fail with NoHandler, look-ups and changes work.
    async fn server_without_handlers_serves_clients(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let ada = test.connect_named("ada").await;
        let bob = test.connect_named("bob").await;

        ada.send("anything", &1).await.expect("send");
        let err = ada.request::<(), _>("anything", &1, WAIT).await.expect_err("no handler");
        assert!(matches!(err, Error::Remote { code: ErrorCode::NoHandler, .. }), "{err}");
        bob.change_name(Some("robert")).await.expect("rename");
        let found = ada.client_by_name("robert").await.expect("lookup");
        assert_eq!(found.map(|c| c.id), Some(bob.id()));
        assert_eq!(ada.list_clients(None).await.expect("list").len(), 2);

        within("close", ada.close()).await;
        within("close", bob.close()).await;
        test.wait_for_client_count(0).await;
    }
}

/// A server whose "wait" handler (registered with `on`) waits up to
/// `patience` for a "release" event from the same client and records in
/// `released` whether it came.
fn gate_server(on: On, patience: Duration, released: &Probe<bool>) -> Server {
    let gate = Arc::new(Notify::new());
    let server = Server::new();
    let waiting = gate.clone();
    let released = released.clone();
    server.on_with("wait", on, move || {
        let gate = waiting.clone();
        let released = released.clone();
        async move {
            let came = tokio::time::timeout(patience, gate.notified())
                .await
                .is_ok();
            released.push(came);
        }
    });
    server.on("release", move || {
        let gate = gate.clone();
        async move { gate.notify_one() }
    });
    server
}

/// A handler implemented by hand: answers with its payload's length.
struct PayloadLen;

/// `PayloadLen`'s own argument "tuple".
struct Own;

impl hisock::dispatch::Handler<hisock::ServerEvent, Own> for PayloadLen {
    fn call(
        &self,
        ctx: hisock::ServerEvent,
    ) -> hisock::transport::BoxFuture<'static, hisock::dispatch::Outcome> {
        use hisock::dispatch::EventContext;
        let len = ctx.payload().len() as u64;
        Box::pin(async move {
            hisock::value::encode(&len)
                .map_err(|err| hisock::Rejection::new(ErrorCode::HandlerFailed, err.to_string()))
        })
    }
}
