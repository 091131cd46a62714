//! Request/reply in both directions: answers, timeouts, and the errors a
//! peer sends back (no handler, bad payload, failed handler).

use std::sync::Arc;
use std::time::Duration;

use hisock::{ClientInfo, ClientOptions, Data, Error, ErrorCode, Server};
use hisock_test_support::{transport_tests, Move, TestServer, WAIT};
use tokio::sync::Notify;

/// Asserts that `result` is a remote error with `code`.
fn assert_remote<T: std::fmt::Debug>(result: hisock::Result<T>, code: ErrorCode) {
    match result {
        Err(Error::Remote { code: got, .. }) => assert_eq!(got, code),
        other => panic!("expected a remote {code:?} error, got {other:?}"),
    }
}

const SHORT: Duration = Duration::from_millis(200);

transport_tests! {
    /// The server asks a client; the client handler's return value is the
    /// answer.
    async fn server_request_gets_the_client_handlers_reply(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let options = ClientOptions::new().on("double", |Data(n): Data<i64>| async move { n * 2 });
        let client = test.connect(options).await;

        let answer: i64 = test
            .server
            .request(client.id(), "double", &21, WAIT)
            .await
            .expect("answer");
        assert_eq!(answer, 42);
    }

    /// A server request whose client handler is too slow times out; the
    /// late answer is dropped and later requests still work.
    async fn server_request_times_out_on_a_slow_client_handler(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let gate = Arc::new(Notify::new());
        let waiting = gate.clone();
        let options = ClientOptions::new()
            .on("slow", move || {
                let gate = waiting.clone();
                async move { gate.notified().await; "late" }
            })
            .on("double", |Data(n): Data<i64>| async move { n * 2 });
        let client = test.connect(options).await;

        let err = test
            .server
            .request::<String, _>(client.id(), "slow", &(), SHORT)
            .await
            .expect_err("too slow");
        assert!(matches!(err, Error::Timeout(d) if d == SHORT), "{err}");
        gate.notify_one();
        let answer: i64 = test
            .server
            .request(client.id(), "double", &4, WAIT)
            .await
            .expect("answer");
        assert_eq!(answer, 8);
    }

    /// A server request for a command the client has no handler for fails
    /// with NoHandler.
    async fn server_request_without_client_handler_is_no_handler(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let client = test.connect_named("ada").await;

        let answer = test.server.request::<(), _>(client.id(), "nothing", &(), WAIT).await;
        assert_remote(answer, ErrorCode::NoHandler);
        let err = test.server.request::<(), _>(9999, "x", &(), WAIT).await.expect_err("nobody");
        assert!(matches!(err, Error::NoSuchClient(9999)), "{err}");
    }

    /// A client asks the server; the handler sees the sender and a typed
    /// payload, and its return value is the answer.
    async fn client_request_gets_the_server_handlers_reply(t: Transport) {
        let server = Server::new();
        server.on("move", |who: ClientInfo, Data(m): Data<Move>| async move {
            format!("{} to {},{}", who.name().unwrap_or("?"), m.x, m.y)
        });
        let test = TestServer::start(t, server).await;
        let client = test.connect_named("ada").await;

        let answer: String = client
            .request("move", &Move::new(1, 2, "ada"), WAIT)
            .await
            .expect("answer");
        assert_eq!(answer, "ada to 1,2");
    }

    /// A client request to a slow server handler times out; the late answer
    /// is dropped and later requests still work.
    async fn client_request_times_out_on_a_slow_server_handler(t: Transport) {
        let gate = Arc::new(Notify::new());
        let waiting = gate.clone();
        let server = Server::new();
        server.on("slow", move || {
            let gate = waiting.clone();
            async move { gate.notified().await; "late" }
        });
        server.on("echo", |Data(s): Data<String>| async move { s });
        let test = TestServer::start(t, server).await;
        let client = test.connect_named("ada").await;

        let err = client.request::<String, _>("slow", &(), SHORT).await.expect_err("too slow");
        assert!(matches!(err, Error::Timeout(d) if d == SHORT), "{err}");
        gate.notify_one();
        let echo: String = client.request("echo", "still here", WAIT).await.expect("answer");
        assert_eq!(echo, "still here");
    }

    /// Client requests share one deadline timer: a short request made while
    /// a long one is outstanding still times out after its own timeout, the
    /// long one keeps waiting and gets its answer, and a request with a
    /// timeout too large to represent simply waits for its answer.
    async fn client_requests_each_keep_their_own_timeout(t: Transport) {
        let gate = Arc::new(Notify::new());
        let waiting = gate.clone();
        let server = Server::new();
        server.on_with("slow", hisock::On::new().threaded(), move |Data(s): Data<String>| {
            let gate = waiting.clone();
            async move { gate.notified().await; s }
        });
        let test = TestServer::start(t, server).await;
        let client = test.connect_named("ada").await;

        let long = {
            let client = client.clone();
            tokio::spawn(async move { client.request::<String, _>("slow", "long", WAIT).await })
        };
        let endless = {
            let client = client.clone();
            tokio::spawn(async move { client.request::<String, _>("slow", "endless", Duration::MAX).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        let err = client.request::<String, _>("slow", "short", SHORT).await.expect_err("too slow");
        assert!(matches!(err, Error::Timeout(d) if d == SHORT), "{err}");
        assert!(started.elapsed() >= SHORT, "expired early: {:?}", started.elapsed());
        assert!(!long.is_finished() && !endless.is_finished());
        gate.notify_waiters();
        for task in [long, endless] {
            let answer = tokio::time::timeout(WAIT, task).await.expect("answered").expect("task");
            assert!(answer.is_ok(), "{answer:?}");
        }
    }

    /// The errors a server handler can answer with reach the client as
    /// `Error::Remote` with their code, and the connection stays up.
    async fn client_request_reports_remote_errors(t: Transport) {
        let server = Server::new();
        server.on("move", |Data(m): Data<Move>| async move { m.x });
        server.on("fail", || async { Err::<(), _>("no can do") });
        server.on("panic", || async {
            if true {
                panic!("handler bug (expected by this test)");
            }
        });
        let test = TestServer::start(t, server).await;
        let client = test.connect_named("ada").await;

        assert_remote(client.request::<(), _>("missing", &(), WAIT).await, ErrorCode::NoHandler);
        let answer = client.request::<i32, _>("move", "not a move", WAIT).await;
        assert_remote(answer, ErrorCode::BadPayload);
        match client.request::<(), _>("fail", &(), WAIT).await {
            Err(Error::Remote { code: ErrorCode::HandlerFailed, message }) => {
                assert_eq!(message, "no can do")
            }
            other => panic!("expected HandlerFailed, got {other:?}"),
        }
        assert_remote(client.request::<(), _>("panic", &(), WAIT).await, ErrorCode::HandlerFailed);

        let x: i32 = client
            .request("move", &Move::new(7, 0, "ada"), WAIT)
            .await
            .expect("still connected");
        assert_eq!(x, 7);
    }

    /// A reply that does not fit the type the requester names is a decode
    /// error on the requester's side.
    async fn reply_of_the_wrong_type_is_a_decode_error(t: Transport) {
        let server = Server::new();
        server.on("text", || async { "not a number" });
        let test = TestServer::start(t, server).await;
        let client = test.connect_named("ada").await;

        let err = client.request::<u32, _>("text", &(), WAIT).await.expect_err("wrong type");
        assert!(matches!(err, Error::Decode(_)), "{err}");
    }

    /// Many requests in flight at once each get their own answer, even when
    /// threaded handlers answer out of order.
    async fn concurrent_requests_are_matched_by_id(t: Transport) {
        let server = Server::new();
        server.on_with("wait", hisock::On::new().threaded(), |Data(n): Data<u64>| async move {
            tokio::time::sleep(Duration::from_millis(20 - n)).await;
            n
        });
        let test = TestServer::start(t, server).await;
        let client = test.connect_named("ada").await;

        let requests = (0..20u64).map(|n| {
            let client = client.clone();
            async move { client.request::<u64, _>("wait", &n, WAIT).await.expect("answer") }
        });
        let answers = futures::future::join_all(requests).await;
        assert_eq!(answers, (0..20).collect::<Vec<_>>());
    }

    /// A request with a zero timeout fails at once, both ways, and is never
    /// sent: the handler at the other end does not run.
    async fn a_zero_timeout_request_is_refused_before_it_is_sent(t: Transport) {
        let ran = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let server = Server::new();
        let on_server = ran.clone();
        server.on("count", move || {
            on_server.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async {}
        });
        let test = TestServer::start(t, server).await;
        let on_client = ran.clone();
        let client = test
            .connect(ClientOptions::new().on("count", move || {
                on_client.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async {}
            }))
            .await;

        let to_server = client.request::<(), _>("count", &(), Duration::ZERO).await;
        assert!(matches!(to_server, Err(Error::Timeout(d)) if d.is_zero()), "{to_server:?}");
        let to_client = test
            .server
            .request::<(), _>(client.id(), "count", &(), Duration::ZERO)
            .await;
        assert!(matches!(to_client, Err(Error::Timeout(d)) if d.is_zero()), "{to_client:?}");

        // A real round trip each way after them: had either been sent, its
        // handler would have run before this one's.
        let () = client.request("count", &(), WAIT).await.expect("answered");
        let () = test.server.request(client.id(), "count", &(), WAIT).await.expect("answered");
        assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
