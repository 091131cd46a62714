//! A client with `ClientOptions::reconnect` rides out broken connections
//! (PROTOCOL.md section 13.8), over every transport, through a
//! [`FaultProxy`] that cuts them or a server that restarts: the backoff,
//! the events the application sees, `state()`, name, group and rooms on the
//! new session, what was queued meanwhile, and the ends that are not
//! retried. A server without sessions (`session_window(ZERO)`) makes
//! every reconnect a new session, `resumed: false`; `resume.rs` tests the
//! resumed ones.

use std::time::Duration;

use hisock::protocol::resume::ResumeOutcome;
use hisock::{
    codes, ClientInfo, ClientOptions, ConnectionChange, ConnectionState, Data, Error, OfflineQueue,
    Server,
};
use hisock_test_support::{
    connect_through, next_change, next_disconnect, quick_reconnect, recording_changes,
    transport_tests, within, FaultProxy, Probe, TestServer,
};

/// A client that joined: its id, name and group.
type Joined = (u64, Option<String>, Option<String>);

/// A server that echoes, lets clients into any room, and records each
/// joining client's name and group.
fn echo_server() -> (Server, Probe<Joined>) {
    echo_server_on(Server::new())
}

/// The echo server that keeps no sessions: every reconnect is a new one.
fn echo_server_without_sessions() -> (Server, Probe<Joined>) {
    echo_server_on(Server::builder().session_window(Duration::ZERO).build())
}

fn echo_server_on(server: Server) -> (Server, Probe<Joined>) {
    server.room_requests(|_| Ok(()));
    server.on("echo", |Data(n): Data<u32>| async move { n });
    let joins = Probe::new("join");
    let seen = joins.clone();
    server.on("join", move |who: ClientInfo| {
        seen.push((
            who.id,
            who.name().map(str::to_owned),
            who.group().map(str::to_owned),
        ));
        async {}
    });
    (server, joins)
}

const SHORT: Duration = Duration::from_secs(10);

transport_tests! {
    /// A cut connection: `disconnected{will_retry}` with 1006,
    /// `reconnecting`, then `reconnected{resumed: false}` to a new session
    /// that has the client's name and group; requests work again.
    async fn a_cut_connection_comes_back_as_a_new_session_with_name_and_group(t: Transport) {
        let (server, joins) = echo_server_without_sessions();
        let test = TestServer::start(t, server).await;
        let proxy = FaultProxy::start(test.addr).await;
        let (options, changes) = recording_changes("ada", quick_reconnect());
        let client = connect_through(t, &proxy, options).await;
        let (first_id, ..) = joins.next().await;
        assert_eq!(client.state(), ConnectionState::Connected);

        assert_eq!(proxy.cut_all(), 1);

        assert_eq!(next_disconnect(&changes).await, (codes::ABNORMAL, true));
        assert_eq!(
            next_change(&changes).await,
            ConnectionChange::Reconnected {
                resumed: false,
                outcome: ResumeOutcome::Disabled,
                expired: 0,
            }
        );
        let (second_id, name, group) = joins.next().await;
        assert_ne!(second_id, first_id, "a new session is a new client");
        assert_eq!((name.as_deref(), group.as_deref()), (Some("ada"), Some("crew")));
        assert_eq!(client.id(), second_id);
        assert_eq!(client.state(), ConnectionState::Connected);
        assert!(client.is_connected());
        assert_eq!(client.request::<u32, _>("echo", 7u32, SHORT).await.expect("echo"), 7);
        within("close", client.close()).await;
        assert_eq!(client.state(), ConnectionState::Closed);
    }

    /// Events and requests made while the client is between connections
    /// wait in its queue and leave, in order, once it is connected again;
    /// a request's timeout keeps running meanwhile.
    async fn what_is_sent_while_disconnected_leaves_in_order_after_reconnecting(t: Transport) {
        let (server, _joins) = echo_server();
        let got = Probe::new("numbers");
        let seen = got.clone();
        server.on("number", move |Data(n): Data<u32>| {
            seen.push(n);
            async {}
        });
        let test = TestServer::start(t, server).await;
        let proxy = FaultProxy::start(test.addr).await;
        let (options, changes) = recording_changes("ada", quick_reconnect());
        let client = connect_through(t, &proxy, options).await;

        proxy.refuse(true);
        proxy.cut_all();
        assert!(matches!(next_change(&changes).await, ConnectionChange::Disconnected { .. }));
        assert_eq!(client.state(), ConnectionState::Reconnecting);
        assert!(!client.is_connected());
        for n in 0..50u32 {
            client.send("number", n).await.expect("queued while disconnected");
        }
        let asker = client.clone();
        let answer = tokio::spawn(async move { asker.request::<u32, _>("echo", 42u32, SHORT).await });
        let impatient = client.clone();
        let too_short = tokio::spawn(async move {
            impatient.request::<u32, _>("echo", 1u32, Duration::from_millis(50)).await
        });
        let timed_out = within("the short request", too_short).await.expect("joined");
        assert!(matches!(timed_out, Err(Error::Timeout(_))), "{timed_out:?}");

        proxy.refuse(false);
        assert!(matches!(
            next_change(&changes).await,
            ConnectionChange::Reconnected { resumed: true, .. }
        ));
        assert_eq!(within("the queued request", answer).await.expect("joined").expect("answered"), 42);
        assert_eq!(got.take(50).await, (0..50).collect::<Vec<u32>>());
        within("close", client.close()).await;
    }

    /// A server restarted on the same port (its sessions are gone): the
    /// client reconnects to the new one, after `disconnected` with 1001,
    /// and the application is told `reconnected{resumed: false}` (its
    /// token is unknown there); the new session has the client's name,
    /// group and rooms.
    async fn a_server_restarted_on_the_same_port_gets_the_client_back(t: Transport) {
        let (server, _joins) = echo_server();
        let test = TestServer::start(t, server).await;
        let (options, changes) = recording_changes("ada", quick_reconnect());
        let client = test.connect(options).await;
        assert!(client.join_room("deck").await.expect("joined the room"));

        test.shutdown().await;
        assert_eq!(next_disconnect(&changes).await, (codes::GOING_AWAY, true));
        let (again, joins) = echo_server();
        t.listen_at(&again, &test.addr.to_string()).await;

        assert_eq!(
            next_change(&changes).await,
            ConnectionChange::Reconnected {
                resumed: false,
                outcome: ResumeOutcome::UnknownToken,
                expired: 0,
            }
        );
        let (id, name, group) = joins.next().await;
        assert_eq!((name.as_deref(), group.as_deref()), (Some("ada"), Some("crew")));
        assert_eq!(client.id(), id);
        // The room requests left before this request: it is handled after
        // them.
        assert_eq!(client.request::<u32, _>("echo", 9u32, SHORT).await.expect("echo"), 9);
        let in_room: Vec<u64> = again.room("deck").iter().map(|c| c.id).collect();
        assert_eq!(in_room, vec![id], "the room was restored on the new session");
        within("close", client.close()).await;
        within("shutdown", again.shutdown()).await;
    }

    /// A kick is not retried: `disconnected{will_retry: false}` with 4000,
    /// and the client is closed.
    async fn a_kicked_client_does_not_reconnect(t: Transport) {
        let (server, _joins) = echo_server();
        let test = TestServer::start(t, server).await;
        let (options, changes) = recording_changes("ada", quick_reconnect());
        let client = test.connect(options).await;

        test.server.disconnect(client.id(), "out").expect("connected");
        assert_eq!(next_disconnect(&changes).await, (codes::KICKED, false));
        assert_eq!(within("closed", client.closed()).await.code, codes::KICKED);
        assert_eq!(client.state(), ConnectionState::Closed);
    }

    /// Out of attempts, the client gives up: `disconnected{will_retry:
    /// false}`, closed, and its queued request fails.
    async fn the_client_gives_up_after_its_maximum_attempts(t: Transport) {
        let (server, _joins) = echo_server();
        let test = TestServer::start(t, server).await;
        let proxy = FaultProxy::start(test.addr).await;
        let (options, changes) = recording_changes("ada", quick_reconnect().max_attempts(Some(3)));
        let client = connect_through(t, &proxy, options).await;

        proxy.refuse(true);
        proxy.cut_all();
        let mut attempts = 0;
        let last = loop {
            match changes.next().await {
                ConnectionChange::Reconnecting { attempt, .. } => attempts = attempt,
                ConnectionChange::Disconnected { will_retry: true, .. } => {}
                other => break other,
            }
        };
        assert_eq!(attempts, 3);
        assert!(
            matches!(last, ConnectionChange::Disconnected { will_retry: false, .. }),
            "{last:?}"
        );
        within("closed", client.closed()).await;
        assert_eq!(client.state(), ConnectionState::Closed);
        assert!(client.send("late", ()).await.is_err());
        assert_eq!(changes.drain().await, Vec::new(), "disconnected once, not twice");
    }

    /// The application's own `close` ends a reconnecting client: the
    /// server's hang-up after its `Close` is not a break to ride out.
    async fn closing_a_reconnecting_client_does_not_connect_again(t: Transport) {
        let (server, joins) = echo_server();
        let leaves = hisock_test_support::record_leaves(&server);
        let test = TestServer::start(t, server).await;
        let (options, changes) = recording_changes("ada", quick_reconnect());
        let client = test.connect(options).await;
        let (id, ..) = joins.next().await;
        within("close", client.close()).await;
        assert_eq!(leaves.next().await, (id, codes::NORMAL));
        // Any reconnect would have joined by the time this round trip is
        // answered: the server serves clients in the order they come.
        let other = test.connect(ClientOptions::new()).await;
        let (other_id, ..) = joins.next().await;
        assert_eq!(other_id, other.id(), "no other client joined before it");
        assert_eq!(changes.drain().await, Vec::new());
        assert_eq!(client.state(), ConnectionState::Closed);
    }

    /// The application closes a client between connections: it stops at
    /// once, without waiting for a connection to flush to.
    async fn closing_while_reconnecting_stops_the_client(t: Transport) {
        let (server, _joins) = echo_server();
        let test = TestServer::start(t, server).await;
        let proxy = FaultProxy::start(test.addr).await;
        let policy = quick_reconnect().initial_delay(Duration::from_secs(3600)).max_delay(Duration::from_secs(3600));
        let (options, changes) = recording_changes("ada", policy);
        let client = connect_through(t, &proxy, options).await;

        proxy.cut_all();
        assert!(matches!(next_change(&changes).await, ConnectionChange::Disconnected { .. }));
        within("close while reconnecting", client.close()).await;
        assert_eq!(client.state(), ConnectionState::Closed);
        assert_eq!(within("closed", client.closed()).await.code, codes::NORMAL);
    }

    /// Past the offline queue's bound in frames or bytes, a send or a
    /// request fails at once with `OfflineQueueFull`; what fitted leaves
    /// after the reconnect, and nothing else.
    async fn past_the_offline_bound_a_send_fails_at_once(t: Transport) {
        let (server, _joins) = echo_server();
        let got = Probe::new("numbers");
        let seen = got.clone();
        server.on("number", move |Data(n): Data<u32>| {
            seen.push(n);
            async {}
        });
        let test = TestServer::start(t, server).await;
        let proxy = FaultProxy::start(test.addr).await;
        let (options, changes) = recording_changes("ada", quick_reconnect());
        let options = options.offline_queue(OfflineQueue::new().max_frames(5));
        let client = connect_through(t, &proxy, options).await;

        proxy.refuse(true);
        proxy.cut_all();
        assert!(matches!(next_change(&changes).await, ConnectionChange::Disconnected { .. }));
        for n in 0..5u32 {
            client.send("number", n).await.expect("within the bound");
        }
        let full = client.send("number", 5u32).await;
        assert!(
            matches!(full, Err(Error::OfflineQueueFull { frames: 5, max_frames: 5, .. })),
            "{full:?}"
        );
        let asked = client.request::<u32, _>("echo", 1u32, SHORT).await;
        assert!(matches!(asked, Err(Error::OfflineQueueFull { .. })), "{asked:?}");
        proxy.refuse(false);
        assert!(matches!(next_change(&changes).await, ConnectionChange::Reconnected { .. }));
        assert_eq!(got.take(5).await, vec![0, 1, 2, 3, 4]);
        // Connected again: no offline bound.
        for n in 10..20u32 {
            client.send("number", n).await.expect("connected");
        }
        assert_eq!(got.take(10).await, (10..20).collect::<Vec<u32>>());
        within("close", client.close()).await;
    }

    /// With a time-to-live, what waited offline longer is dropped at the
    /// reconnect: a request fails with `Expired`, `reconnected` counts the
    /// frames, and what came later still leaves.
    async fn what_waits_offline_past_its_ttl_is_dropped_and_counted(t: Transport) {
        let (server, _joins) = echo_server();
        let got = Probe::new("numbers");
        let seen = got.clone();
        server.on("number", move |Data(n): Data<u32>| {
            seen.push(n);
            async {}
        });
        let test = TestServer::start(t, server).await;
        let proxy = FaultProxy::start(test.addr).await;
        let (options, changes) = recording_changes("ada", quick_reconnect());
        let ttl = Duration::from_millis(100);
        let options = options.offline_queue(OfflineQueue::new().ttl(ttl));
        let client = connect_through(t, &proxy, options).await;

        proxy.refuse(true);
        proxy.cut_all();
        assert!(matches!(next_change(&changes).await, ConnectionChange::Disconnected { .. }));
        client.send("number", 1u32).await.expect("queued");
        let asker = client.clone();
        let stale = tokio::spawn(async move { asker.request::<u32, _>("echo", 2u32, SHORT).await });
        // Both are past their time-to-live once this sleep is over; no
        // assertion depends on how much longer it takes.
        tokio::time::sleep(ttl * 3).await;
        proxy.refuse(false);
        let reconnected = next_change(&changes).await;
        assert!(
            matches!(reconnected, ConnectionChange::Reconnected { expired: 2, .. }),
            "{reconnected:?}"
        );
        let failed = within("the stale request", stale).await.expect("joined");
        assert!(matches!(failed, Err(Error::Expired(d)) if d == ttl), "{failed:?}");
        client.send("number", 3u32).await.expect("connected");
        assert_eq!(got.next().await, 3, "the expired event was not sent");
        within("close", client.close()).await;
    }

    /// A request already sent when the connection broke cannot be known
    /// to be handled or not on a new session: it fails with
    /// `SessionLost`, at the reconnect, not at its timeout.
    async fn a_request_in_flight_fails_with_session_lost_on_a_new_session(t: Transport) {
        let (server, _joins) = echo_server_without_sessions();
        let gate = std::sync::Arc::new(tokio::sync::Notify::new());
        let arrived = Probe::new("slow arrived");
        {
            let (gate, arrived) = (gate.clone(), arrived.clone());
            server.on("slow", move || {
                let gate = gate.clone();
                arrived.push(());
                async move { gate.notified().await; 1u32 }
            });
        }
        let test = TestServer::start(t, server).await;
        let proxy = FaultProxy::start(test.addr).await;
        let (options, changes) = recording_changes("ada", quick_reconnect());
        let client = connect_through(t, &proxy, options).await;
        let asker = client.clone();
        let slow = tokio::spawn(async move {
            asker.request::<u32, _>("slow", (), Duration::from_secs(3600)).await
        });
        arrived.next().await;

        proxy.cut_all();
        let failed = within("the request in flight", slow).await.expect("joined");
        assert!(
            matches!(failed, Err(Error::SessionLost { outcome: ResumeOutcome::Disabled })),
            "{failed:?}"
        );
        assert!(matches!(next_change(&changes).await, ConnectionChange::Disconnected { .. }));
        gate.notify_waiters();
        within("close", client.close()).await;
    }
}
