//! Typed events from the Rust client compiled to wasm32: the same
//! `hisock::events!` declarations and typed methods as natively, against
//! the test server's (untyped) handlers under the same names.

use hisock::{ClientOptions, Value};
use serde::{Deserialize, Serialize};
use wasm_bindgen_test::wasm_bindgen_test;

use crate::support::{connect, WAIT};

/// What `emit_to_me` and `ask_me` take: an event to send back.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Echo {
    command: String,
    value: Value,
}

hisock::events! {
    /// The test server's commands, typed from the browser's side.
    TestServer {
        to_server {
            Add("add"): (i64, i64) => i64,
            EmitToMe("emit_to_me"): Echo,
            AskMe("ask_me"): Echo => u32,
        }
        to_client {
            Greeting("typed_greeting"): String,
            Double("typed_double"): u32 => u32,
        }
    }
}

#[wasm_bindgen_test]
async fn typed_events_work_from_the_wasm_client() {
    let client =
        connect(ClientOptions::new().on_event(Double, |n: u32| async move { n * 2 })).await;

    let sum: i64 = client.request_event(Add, (2, 40), WAIT).await.expect("add");
    assert_eq!(sum, 42);

    let greeting = Echo {
        command: "typed_greeting".into(),
        value: Value::from("hello"),
    };
    client
        .send_event(EmitToMe, greeting)
        .await
        .expect("emit_to_me");
    let text: String = client.recv_event(Greeting, WAIT).await.expect("greeting");
    assert_eq!(text, "hello");

    // The server asks this client `typed_double`; its typed handler answers.
    let question = Echo {
        command: "typed_double".into(),
        value: Value::from(21),
    };
    let answer: u32 = client
        .request_event(AskMe, question, WAIT)
        .await
        .expect("ask_me");
    assert_eq!(answer, 42);
    client.close().await;
}
