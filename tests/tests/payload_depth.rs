//! A payload nested too deep is refused like any payload that does not
//! fit, and the server stays up. Found while writing the payload fuzz
//! targets (fuzz/README.md): before `hisock::value::MAX_DEPTH`, one event
//! of 1,000 nested arrays (1 KB) decoded as a `Value` overflowed the
//! handler's worker stack in a debug build and aborted the whole server
//! process.

use hisock::value::MAX_DEPTH;
use hisock::{ClientOptions, Command, Data, ErrorCode, Rejection, Server, Value};
use hisock_test_support::{transport_tests, Probe, TestServer};

/// `levels` one-element arrays inside each other around a nil.
fn nested(levels: usize) -> Vec<u8> {
    let mut payload = vec![0x91; levels];
    payload.push(0xc0);
    payload
}

transport_tests! {
    async fn a_payload_nested_too_deep_is_rejected_and_the_server_stays_up(t: Transport) {
        let depths = Probe::new("depth");
        let rejections = Probe::new("rejected");
        let server = Server::new();
        let seen = depths.clone();
        server.on("tree", move |Data(value): Data<Value>| {
            let mut depth = 0;
            let mut inner = &value;
            while let Some([item]) = inner.as_array().map(Vec::as_slice) {
                depth += 1;
                inner = item;
            }
            seen.push(depth);
            async {}
        });
        let test = TestServer::start(t, server).await;
        let seen = rejections.clone();
        let options = ClientOptions::new().on("rejected", move |Command(c): Command, r: Rejection| {
            seen.push((c.to_string(), r.code));
            async {}
        });
        let client = test.connect(options).await;

        client.send_raw("tree", &nested(1_000)).await.expect("send");
        client.send_raw("tree", &nested(MAX_DEPTH + 1)).await.expect("send");
        client.send_raw("tree", &nested(MAX_DEPTH)).await.expect("send");

        let rejected = ("tree".to_string(), ErrorCode::BadPayload);
        assert_eq!(rejections.take(2).await, [rejected.clone(), rejected]);
        assert_eq!(depths.next().await, MAX_DEPTH);
        assert!(client.is_connected());
        test.assert_serves_new_client().await;
    }
}
