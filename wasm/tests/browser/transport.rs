//! The browser transport's error paths, against the test server's
//! misbehaving endpoint (`misbehaving.rs` of hisock-test-server, in
//! `tests/support/src/bin/`).

use hisock::{codes, ClientOptions, Error, TransportError};
use wasm_bindgen_test::wasm_bindgen_test;

use crate::support::{within, WAIT};

fn raw_url(path: &str) -> String {
    match option_env!("HISOCK_TEST_RAW_WS_URL") {
        Some(url) if !url.is_empty() => format!("{url}{path}"),
        _ => panic!(
            "HISOCK_TEST_RAW_WS_URL was not set when the tests were compiled; \
             run scripts/browser-tests.sh"
        ),
    }
}

#[wasm_bindgen_test]
async fn a_text_message_is_refused_with_1003() {
    let err = hisock_wasm::connect(&raw_url("/text"), ClientOptions::new())
        .await
        .expect_err("text is not a frame");
    match err {
        Error::Transport(TransportError::Unsupported(reason)) => {
            assert_eq!(reason.code, codes::UNSUPPORTED_DATA)
        }
        other => panic!("expected an unsupported-data error, got {other:?}"),
    }
}

#[wasm_bindgen_test]
async fn a_close_during_the_handshake_reports_its_code_and_reason() {
    let err = hisock_wasm::connect(&raw_url("/close"), ClientOptions::new())
        .await
        .expect_err("closed instead of welcomed");
    match err {
        Error::Transport(TransportError::Closed(reason)) => {
            assert_eq!(reason.code, 4321);
            assert_eq!(reason.reason, "raw close");
        }
        other => panic!("expected the server's close, got {other:?}"),
    }
}

#[wasm_bindgen_test]
async fn a_websocket_close_after_the_handshake_reaches_closed() {
    let client = hisock_wasm::connect(
        &raw_url("/welcome-then-close"),
        ClientOptions::new().handshake_timeout(WAIT),
    )
    .await
    .expect("welcomed");
    let reason = within("the close", client.closed()).await;
    assert_eq!(reason.code, 4321, "{reason:?}");
    assert_eq!(reason.reason, "raw close");
}

/// Connects to one of the raw endpoint's message counters, sends 50 events
/// from one task (all queued before the client's writer runs) and a
/// request `done`; returns the endpoint's answer, `(events, batches)`.
async fn count_messages(client: &hisock::Client) -> (u8, u8) {
    for n in 0..50u8 {
        client.send("e", n).await.expect("queued");
    }
    client
        .request("done", (), WAIT)
        .await
        .expect("the endpoint's count")
}

#[wasm_bindgen_test]
async fn a_server_that_declines_batches_gets_one_frame_per_message() {
    let client = hisock_wasm::connect(&raw_url("/count-messages"), ClientOptions::new())
        .await
        .expect("welcomed by a server that answers without the subprotocol");
    assert_eq!(count_messages(&client).await, (50, 0));
    client.close().await;
}

#[wasm_bindgen_test]
async fn a_server_that_agrees_on_batches_gets_and_sends_them() {
    let client = hisock_wasm::connect(&raw_url("/count-messages-batched"), ClientOptions::new())
        .await
        .expect("welcomed with batches");
    // The endpoint's batch of 20, split, in order.
    for n in 0..20u8 {
        let tick: u8 = within("a tick", client.recv("tick", WAIT))
            .await
            .expect("a tick");
        assert_eq!(tick, n);
    }
    let (events, batches) = count_messages(&client).await;
    assert_eq!(events, 50);
    assert!(batches >= 1, "50 events written at once went in a batch");
    client.close().await;
}
