//! Limits with their own close codes (PROTOCOL.md sections 8 and 12), over
//! every transport: a peer past a limit is closed with the limit's code
//! (names 4008, requests 4009, streams 4010, rate 4011) while a
//! well-behaved client on the same server keeps being served, and hisock's
//! own clients (and the server's own requests and streams) refuse locally,
//! with a typed error, before they would go past the other side's limit.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hisock::frame::Frame;
use hisock::{
    codes, Client, ClientOptions, Data, Error, IncomingStream, Limit, RateLimit, Server,
    StreamOptions,
};
use hisock_test_support::{transport_tests, within, Handshake, RawPeer, TestServer, WAIT};
use tokio::sync::Semaphore;

/// A server with an `echo` handler and, through `configure`, the limits
/// under test; the queued handlers of a closed offender are dropped after
/// a short drain.
fn server(configure: impl FnOnce(hisock::ServerBuilder) -> hisock::ServerBuilder) -> Server {
    let server = configure(Server::builder().drain_timeout(Duration::from_millis(200))).build();
    server.on("echo", |Data(s): Data<String>| async move { s });
    server
}

/// A well-behaved client is still served: its request is answered.
async fn assert_still_served(client: &Client) {
    let echo: String = client
        .request("echo", "still here", WAIT)
        .await
        .expect("the well-behaved client is still served");
    assert_eq!(echo, "still here");
    assert!(client.is_connected());
}

/// A gate handlers wait at until the test opens it (closing the semaphore
/// wakes every waiter).
fn gate() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(0))
}

fn event<'a>(command: &'a str, request_id: u64) -> Frame<'a> {
    Frame::Event {
        command,
        request_id,
        payload: &[0xc0],
    }
}

fn limit_of(err: &Error) -> Option<Limit> {
    match err {
        Error::LimitExceeded(exceeded) => Some(exceeded.limit),
        _ => None,
    }
}

transport_tests! {
    /// Names, groups and commands longer than the server's limits: a hello
    /// is refused with 4008, a rename, a group change, an event or a stream
    /// closes with 4008. The hisock client refuses such names locally.
    async fn names_groups_and_commands_over_the_limit_close_with_4008(t: Transport) {
        let test = TestServer::start(
            t,
            server(|b| b.max_name_len(8).max_group_len(6).max_command_len(10)),
        )
        .await;
        let options = ClientOptions::new()
            .name("12345678")
            .group("123456")
            .max_name_len(8)
            .max_group_len(6)
            .max_command_len(10);
        let good = test.connect(options).await;

        let long_name = "123456789";
        let mut hello = RawPeer::connect(t, test.addr).await;
        hello.send(&hisock_test_support::raw::handshake::hello(Some(long_name))).await;
        let refused = hello.expect_end().await;
        assert_eq!(refused.code, codes::NAME_TOO_LONG, "{refused}");
        assert_eq!(refused.reason, "client name longer than 8 bytes");

        let offences = [
            Frame::SetName { request_id: 1, name: Some(long_name) },
            Frame::SetGroup { request_id: 1, group: Some("1234567") },
            event("12345678901", 0),
            Frame::StreamStart { stream_id: 1, command: "12345678901", total_len: None },
        ];
        for offence in &offences {
            let mut peer = RawPeer::connect(t, test.addr).await;
            peer.hello(Some("raw")).await;
            peer.send(offence).await;
            let closed = peer.expect_end().await;
            assert_eq!(closed.code, codes::NAME_TOO_LONG, "{offence:?}: {closed}");
        }
        // Exactly the limit is fine.
        good.change_name(Some("87654321")).await.expect("a name of the limit");

        let err = good.change_name(Some(long_name)).await.expect_err("refused locally");
        assert_eq!(limit_of(&err), Some(Limit::NameLen), "{err}");
        let err = good.change_group(Some("1234567")).await.expect_err("refused locally");
        assert_eq!(limit_of(&err), Some(Limit::GroupLen), "{err}");
        let err = good.send("12345678901", &()).await.expect_err("refused locally");
        assert_eq!(limit_of(&err), Some(Limit::CommandLen), "{err}");
        let options = ClientOptions::new().name(long_name).max_name_len(8);
        let Err(err) = test.try_connect(options).await else {
            panic!("a name over the client's own limit is refused locally");
        };
        assert_eq!(limit_of(&err), Some(Limit::NameLen), "{err}");

        assert_still_served(&good).await;
        assert_eq!(good.name().as_deref(), Some("87654321"));
    }

    /// A peer with more requests outstanding than the server's limit is
    /// closed with 4009; the hisock client refuses its own request past
    /// its limit locally and stays connected.
    async fn requests_outstanding_past_the_limit_close_with_4009(t: Transport) {
        let gate = gate();
        let server = server(|b| b.max_pending_requests(2));
        let waiting = gate.clone();
        server.on("slow", move || {
            let gate = waiting.clone();
            async move {
                let _ = gate.acquire().await;
            }
        });
        let test = TestServer::start(t, server).await;
        let good = test.connect(ClientOptions::new().max_pending_requests(2)).await;

        let mut offender = RawPeer::connect(t, test.addr).await;
        offender.hello(Some("offender")).await;
        offender.send_burst(&[event("slow", 1), event("slow", 2), event("slow", 3)]).await;
        let closed = offender.expect_end().await;
        assert_eq!(closed.code, codes::TOO_MANY_REQUESTS, "{closed}");
        assert_eq!(closed.reason, "more than 2 requests outstanding");

        // Two of the good client's own requests wait (each registers when
        // first polled); a third is refused before it is sent.
        let mut first = Box::pin(good.request::<(), _>("slow", &(), WAIT));
        let mut second = Box::pin(good.request::<(), _>("slow", &(), WAIT));
        assert!(futures::poll!(&mut first).is_pending());
        assert!(futures::poll!(&mut second).is_pending());
        let err = within("a refusal", good.request::<(), _>("slow", &(), WAIT))
            .await
            .expect_err("refused locally");
        assert_eq!(limit_of(&err), Some(Limit::PendingRequests), "{err}");
        gate.close();
        within("first", first).await.expect("answered");
        within("second", second).await.expect("answered");
        assert_still_served(&good).await;
    }

    /// A peer that opens more streams at once than the server's limit is
    /// closed with 4010; the hisock client refuses a stream past its own
    /// limit locally and stays connected.
    async fn streams_open_past_the_limit_close_with_4010(t: Transport) {
        let server = server(|b| b.max_streams(2));
        server.on("upload", |body: IncomingStream| async move {
            let _ = body.into_bytes().await;
        });
        let test = TestServer::start(t, server).await;
        let good = test.connect(ClientOptions::new().max_streams(1)).await;

        let mut offender = RawPeer::connect(t, test.addr).await;
        offender.hello(Some("offender")).await;
        let start = |stream_id| Frame::StreamStart { stream_id, command: "upload", total_len: None };
        offender.send_burst(&[start(1), start(2), start(3)]).await;
        let closed = offender.expect_end().await;
        assert_eq!(closed.code, codes::TOO_MANY_STREAMS, "{closed}");
        assert_eq!(closed.reason, "more than 2 streams open at once");

        // One stream that never ends holds the good client's only slot (it
        // opens when first polled); a second is refused before it is sent.
        let (_feed, source) = futures::channel::mpsc::unbounded::<Result<Bytes, String>>();
        let mut endless = Box::pin(good.send_stream("upload", source, StreamOptions::new()));
        assert!(futures::poll!(&mut endless).is_pending());
        let one = || good.send_bytes_streamed("upload", Bytes::from_static(b"x"), StreamOptions::new());
        let err = within("a refusal", one()).await.expect_err("refused locally");
        assert_eq!(limit_of(&err), Some(Limit::Streams), "{err}");
        // Dropping the endless send ends its stream (with an error for the
        // server's handler) and frees the slot.
        drop(endless);
        within("a stream", one()).await.expect("the slot is free again");
        assert_still_served(&good).await;
    }

    /// A client past its event rate is closed with 4011, and so is one
    /// past its byte rate; a client within both keeps being served.
    async fn a_client_past_its_rate_limit_is_closed_with_4011(t: Transport) {
        // One event and one byte per second: a burst read in one go
        // cannot be refilled in time, on any machine.
        let limit = RateLimit::new().events(1, 10).bytes(1, 4096);
        let test = TestServer::start(t, server(|b| b.rate_limit(limit))).await;
        let good = test.connect(ClientOptions::new()).await;

        let mut events = RawPeer::connect(t, test.addr).await;
        events.hello(Some("chatty")).await;
        let burst: Vec<Frame<'_>> = (0..11).map(|_| event("nobody", 0)).collect();
        events.send_burst(&burst).await;
        let closed = events.expect_end().await;
        assert_eq!(closed.code, codes::RATE_LIMITED, "{closed}");
        assert_eq!(closed.reason, "more than 1 events per second");

        let mut bytes = RawPeer::connect(t, test.addr).await;
        bytes.hello(Some("bulky")).await;
        let big = vec![0xc4; 2100];
        let big = Frame::Event { command: "nobody", request_id: 0, payload: &big };
        bytes.send_burst(&[big.clone(), big]).await;
        let closed = bytes.expect_end().await;
        assert_eq!(closed.code, codes::RATE_LIMITED, "{closed}");
        assert_eq!(closed.reason, "more than 1 bytes per second");

        assert_still_served(&good).await;
        test.assert_serves_new_client().await;
    }

    /// The server's own requests to one client stop at its limit with a
    /// typed error; nothing is sent, and the client stays connected.
    async fn server_requests_past_the_limit_are_refused_locally(t: Transport) {
        let gate = gate();
        let waiting = gate.clone();
        let options = ClientOptions::new().on("slow", move || {
            let gate = waiting.clone();
            async move {
                let _ = gate.acquire().await;
            }
        });
        let test = TestServer::start(t, server(|b| b.max_pending_requests(1))).await;
        let client = test.connect(options).await;
        let id = client.id();
        let mut first = Box::pin(test.server.request::<(), _>(id, "slow", &(), WAIT));
        assert!(futures::poll!(&mut first).is_pending());
        let err = within("a refusal", test.server.request::<(), _>(id, "slow", &(), WAIT))
            .await
            .expect_err("refused locally");
        assert_eq!(limit_of(&err), Some(Limit::PendingRequests), "{err}");
        gate.close();
        within("first", first).await.expect("answered");
        assert_still_served(&client).await;
    }
}
