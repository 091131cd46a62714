//! The server ends connections: one client with or without `leave`, or
//! every client at once.

use hisock::{codes, ClientOptions, CloseReason, Error, Server};
use hisock_test_support::{
    record_departures, record_leaves, transport_tests, within, Probe, TestServer,
};

/// Options for a client that records `force_disconnect` reasons.
fn recording_force_disconnect(name: &str, kicks: &Probe<CloseReason>) -> ClientOptions {
    let seen = kicks.clone();
    ClientOptions::new()
        .name(name)
        .on("force_disconnect", move |why: CloseReason| {
            seen.push(why);
            async {}
        })
}

transport_tests! {
    /// `disconnect` kicks one client with KICKED and its reason: the client
    /// sees `force_disconnect`, `leave` runs, the others see it leave.
    async fn disconnect_kicks_one_client_runs_leave_and_tells_others(t: Transport) {
        let server = Server::new();
        let leaves = record_leaves(&server);
        let test = TestServer::start(t, server).await;
        let kicks = Probe::new("force_disconnect");
        let ada = test.connect(recording_force_disconnect("ada", &kicks)).await;
        let (options, departures) = record_departures(ClientOptions::new().name("bob"));
        let bob = test.connect(options).await;

        test.server.disconnect(ada.id(), "bye ada").expect("ada is connected");

        let kick = kicks.next().await;
        assert_eq!((kick.code, kick.reason.as_str()), (codes::KICKED, "bye ada"));
        assert_eq!(within("ada closed", ada.closed()).await.code, codes::KICKED);
        assert!(!ada.is_connected());
        assert_eq!(leaves.next().await, (ada.id(), codes::KICKED));
        assert_eq!(departures.next().await, ada.id());
        assert!(bob.is_connected());
        assert!(test.server.client(ada.id()).is_none());
    }

    /// `disconnect_with(…, false)` sends any code and skips `leave`; the
    /// others still see the client leave.
    async fn disconnect_with_can_skip_leave(t: Transport) {
        let server = Server::new();
        let leaves = record_leaves(&server);
        let test = TestServer::start(t, server).await;
        let ada = test.connect_named("ada").await;
        let (options, departures) = record_departures(ClientOptions::new().name("bob"));
        let bob = test.connect(options).await;

        test.server
            .disconnect_with(ada.id(), CloseReason::new(4321, "custom"), false)
            .expect("ada is connected");

        let why = within("ada closed", ada.closed()).await;
        assert_eq!((why.code, why.reason.as_str()), (4321, "custom"));
        assert_eq!(departures.next().await, ada.id());
        // Once shut down, every leave that was going to run has run: bob's.
        test.shutdown().await;
        assert_eq!(leaves.drain().await, [(bob.id(), codes::GOING_AWAY)]);
    }

    /// `disconnect_all` kicks every client (leave runs for each) and the
    /// server keeps accepting new ones.
    async fn disconnect_all_kicks_everyone_and_keeps_accepting(t: Transport) {
        let server = Server::new();
        let leaves = record_leaves(&server);
        let test = TestServer::start(t, server).await;
        let ada = test.connect_named("ada").await;
        let bob = test.connect_named("bob").await;

        test.server.disconnect_all("maintenance");

        for client in [&ada, &bob] {
            let why = within("closed", client.closed()).await;
            assert_eq!((why.code, why.reason.as_str()), (codes::KICKED, "maintenance"));
        }
        let mut left = leaves.take(2).await;
        left.sort();
        assert_eq!(left, [(ada.id(), codes::KICKED), (bob.id(), codes::KICKED)]);
        test.wait_for_client_count(0).await;
        test.assert_serves_new_client().await;
    }

    /// Disconnecting a client that is not connected says so.
    async fn disconnect_unknown_client_is_no_such_client(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let err = test.server.disconnect(999, "who?").expect_err("nobody");
        assert!(matches!(err, Error::NoSuchClient(999)), "{err}");
    }

    /// Events queued for a client before it is kicked still reach it, before
    /// the close.
    async fn disconnect_delivers_what_was_queued_first(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let ada = test.connect_named("ada").await;

        for n in 0..100u32 {
            test.server.to_client(ada.id()).emit("n", n).expect("emit");
        }
        test.server.disconnect(ada.id(), "done").expect("connected");

        assert_eq!(within("closed", ada.closed()).await.code, codes::KICKED);
        for n in 0..100u32 {
            assert_eq!(ada.recv::<u32>("n", hisock_test_support::WAIT).await.expect("queued event"), n);
        }
    }
}
