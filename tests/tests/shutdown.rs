//! Starting and stopping: `run` in the foreground, serving in the
//! background, clean shutdown that loses nothing queued, and closing a
//! client that loses nothing it sent.

use hisock::{codes, ClientOptions, CloseReason, Data, Server};
use hisock_test_support::{record_leaves, transport_tests, within, Probe, TestServer, WAIT};

transport_tests! {
    /// `run` is HiSock's blocking start: it returns once the server is shut
    /// down, with everything served until then.
    async fn run_in_the_foreground_returns_after_shutdown(t: Transport) {
        let server = Server::new();
        server.on("echo", |Data(s): Data<String>| async move { s });
        let test = TestServer::start(t, server).await;
        let running = {
            let server = test.server.clone();
            tokio::spawn(async move { server.run().await })
        };
        let client = test.connect_named("ada").await;
        let echo: String = client.request("echo", "hi", WAIT).await.expect("served");
        assert_eq!(echo, "hi");
        assert!(!running.is_finished(), "run blocks while the server serves");

        test.shutdown().await;

        within("run to return", running).await.expect("run task");
        assert!(test.server.is_shut_down());
    }

    /// Without `run`, the server serves in the background while the caller
    /// goes on; after shutdown it accepts nobody.
    async fn background_server_serves_until_shutdown_then_refuses(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        assert_eq!(test.server.local_addrs(), [test.addr]);
        test.assert_serves_new_client().await;

        test.shutdown().await;

        assert!(test.try_connect(ClientOptions::new()).await.is_err());
    }

    /// Shutdown sends everything queued for a client, then GOING_AWAY: the
    /// client gets every event in order, then `force_disconnect`, and the
    /// server's `leave` runs.
    async fn shutdown_delivers_everything_queued_then_going_away(t: Transport) {
        let log = Probe::new("client log");
        let server = Server::new();
        let leaves = record_leaves(&server);
        let test = TestServer::start(t, server).await;
        let (events, kicks) = (log.clone(), log.clone());
        let client = test.connect(ClientOptions::new()
            .on("n", move |Data(n): Data<u32>| {
                let log = events.clone();
                async move { log.push(format!("n:{n}")) }
            })
            .on("force_disconnect", move |why: CloseReason| {
                let log = kicks.clone();
                async move { log.push(format!("force_disconnect:{}", why.code)) }
            })).await;

        const EVENTS: u32 = 1000;
        for n in 0..EVENTS {
            test.server.to_all().emit("n", &n).expect("emit");
        }
        test.shutdown().await;

        let mut expected: Vec<String> = (0..EVENTS).map(|n| format!("n:{n}")).collect();
        expected.push(format!("force_disconnect:{}", codes::GOING_AWAY));
        assert_eq!(log.take(expected.len()).await, expected);
        assert_eq!(within("closed", client.closed()).await.code, codes::GOING_AWAY);
        assert_eq!(leaves.drain().await, [(client.id(), codes::GOING_AWAY)]);
    }

    /// Closing a client writes everything it sent first: the server handles
    /// every event, in order, then runs `leave`.
    async fn client_close_delivers_everything_it_sent(t: Transport) {
        let log = Probe::new("server log");
        let server = Server::new();
        let events = log.clone();
        server.on("n", move |Data(n): Data<u32>| {
            let log = events.clone();
            async move { log.push(format!("n:{n}")) }
        });
        let left = log.clone();
        server.on("leave", move |why: CloseReason| {
            left.push(format!("leave:{}", why.code));
            async {}
        });
        let test = TestServer::start(t, server).await;
        let client = test.connect_named("ada").await;

        const EVENTS: u32 = 1000;
        for n in 0..EVENTS {
            client.send("n", &n).await.expect("send");
        }
        within("close", client.close()).await;

        let mut expected: Vec<String> = (0..EVENTS).map(|n| format!("n:{n}")).collect();
        expected.push(format!("leave:{}", codes::NORMAL));
        assert_eq!(log.take(expected.len()).await, expected);
    }

    /// Shutdown closes every client at once, each with GOING_AWAY.
    async fn shutdown_closes_every_client_with_going_away(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let clients = [
            test.connect_named("a").await,
            test.connect(ClientOptions::new().group("g")).await,
            test.connect_named("c").await,
        ];

        test.shutdown().await;

        for client in &clients {
            assert_eq!(within("closed", client.closed()).await.code, codes::GOING_AWAY);
        }
        assert_eq!(test.server.client_count(), 0);
    }
}
