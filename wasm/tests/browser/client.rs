//! The Rust client API over the browser's WebSocket: the same calls as a
//! native client, against the native test server.

use std::time::Duration;

use futures::channel::mpsc;
use futures::StreamExt;
use hisock::{
    codes, Change, ClientInfo, ClientOptions, CloseReason, Data, Error, ErrorCode, TransportError,
    TransportKind, Value,
};
use serde::{Deserialize, Serialize};
use wasm_bindgen_test::wasm_bindgen_test;

use crate::support::{connect, server_url, unique, within, WAIT};

/// Same shape as the server's `Move`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Move {
    x: i32,
    y: i32,
    player: String,
    tags: Vec<String>,
    #[serde(with = "serde_bytes")]
    blob: Vec<u8>,
    big: u64,
}

#[derive(Serialize)]
struct Emit<'a, T: Serialize> {
    command: &'a str,
    value: T,
}

#[wasm_bindgen_test]
async fn connect_gives_the_identity_the_server_records() {
    let name = unique("ada");
    let client = connect(ClientOptions::new().name(&name).group("lab")).await;
    assert!(client.id() > 0);
    assert_eq!(client.name().as_deref(), Some(name.as_str()));
    assert_eq!(client.transport(), TransportKind::Ws);

    let me: ClientInfo = client.request("whoami", &(), WAIT).await.expect("whoami");
    assert_eq!(me.id, client.id());
    assert_eq!(me.name(), Some(name.as_str()));
    assert_eq!(me.group(), Some("lab"));
    assert_eq!(me.transport, TransportKind::Ws);
    client.close().await;
}

#[wasm_bindgen_test]
async fn events_flow_from_browser_to_server_and_back() {
    let (tx, mut rx) = mpsc::unbounded::<String>();
    let client = connect(
        ClientOptions::new().on("pong", move |Data(text): Data<String>| {
            let _ = tx.unbounded_send(text);
            async {}
        }),
    )
    .await;
    for text in ["one", "two", "three"] {
        let emit = Emit {
            command: "pong",
            value: text,
        };
        client.send("emit_to_me", &emit).await.expect("sends");
    }
    let got: Vec<String> = within("three pongs", rx.by_ref().take(3).collect()).await;
    assert_eq!(got, ["one", "two", "three"], "events arrive in order");
    client.close().await;
}

#[wasm_bindgen_test]
async fn typed_payloads_cross_the_wire_as_their_rust_types() {
    let client = connect(ClientOptions::new()).await;
    let sum: i64 = client.request("add", &(40, 2), WAIT).await.expect("add");
    assert_eq!(sum, 42);

    let sent = Move {
        x: -3,
        y: 7,
        player: "ada".into(),
        tags: vec!["a".into(), "b".into()],
        blob: vec![0, 1, 2, 255],
        big: u64::MAX,
    };
    let got: Move = client.request("move", &sent, WAIT).await.expect("move");
    assert_eq!(
        got,
        Move {
            x: -2,
            y: 8,
            player: "ADA".into(),
            tags: vec!["b".into(), "a".into()],
            blob: vec![255, 2, 1, 0],
            big: u64::MAX - 1,
        }
    );

    // A payload that does not fit the server handler's type is refused
    // with BadPayload, and the connection goes on.
    let err = client
        .request::<i64, _>("add", "not numbers", WAIT)
        .await
        .expect_err("a string is not (i64, i64)");
    assert!(
        matches!(
            err,
            Error::Remote {
                code: ErrorCode::BadPayload,
                ..
            }
        ),
        "{err:?}"
    );
    let echoed: Value = client
        .request("echo", &"still here", WAIT)
        .await
        .expect("echo");
    assert_eq!(echoed.as_str(), Some("still here"));
    client.close().await;
}

#[wasm_bindgen_test]
async fn recv_returns_the_next_event_or_times_out() {
    let client = connect(ClientOptions::new()).await;
    let err = client
        .recv::<i32>("never-sent", Duration::from_millis(200))
        .await
        .expect_err("nothing comes");
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");

    let emit = Emit {
        command: "later",
        value: 7,
    };
    client.send("emit_to_me", &emit).await.expect("sends");
    let got: i32 = client.recv("later", WAIT).await.expect("recv");
    assert_eq!(got, 7);
    client.close().await;
}

#[wasm_bindgen_test]
async fn requests_work_in_both_directions() {
    let options = ClientOptions::new()
        .on("double", |Data(n): Data<i64>| async move { n * 2 })
        .on("fail", |Data(_): Data<Value>| async move {
            Err::<(), _>("the browser says no")
        });
    let client = connect(options).await;

    // browser -> server -> browser handler -> server -> browser
    let ask = Emit {
        command: "double",
        value: 21,
    };
    let answer: i64 = client.request("ask_me", &ask, WAIT).await.expect("asks");
    assert_eq!(answer, 42);

    let ask = Emit {
        command: "fail",
        value: (),
    };
    let err = client
        .request::<Value, _>("ask_me", &ask, WAIT)
        .await
        .expect_err("the browser handler failed");
    assert!(err.to_string().contains("the browser says no"), "{err}");

    let ask = Emit {
        command: "nobody-handles-this",
        value: (),
    };
    let err = client
        .request::<Value, _>("ask_me", &ask, WAIT)
        .await
        .expect_err("no handler in the browser");
    assert!(err.to_string().contains("no handler"), "{err}");
    client.close().await;
}

#[wasm_bindgen_test]
async fn name_and_group_changes_reach_the_server_and_other_clients() {
    let watcher_name = unique("watcher");
    let (tx, mut rx) = mpsc::unbounded::<(ClientInfo, Change)>();
    let watcher = connect(ClientOptions::new().name(&watcher_name).on(
        "client_name_change",
        move |info: ClientInfo, change: Change| {
            let _ = tx.unbounded_send((info, change));
            async {}
        },
    ))
    .await;

    let old = unique("before");
    let new = unique("after");
    let group = unique("room");
    let client = connect(ClientOptions::new().name(&old)).await;
    client.change_name(Some(&new)).await.expect("renames");
    client
        .change_group(Some(&group))
        .await
        .expect("joins a group");
    assert_eq!(client.name().as_deref(), Some(new.as_str()));
    assert_eq!(client.group().as_deref(), Some(group.as_str()));

    let me: ClientInfo = client.request("whoami", &(), WAIT).await.expect("whoami");
    assert_eq!(me.name(), Some(new.as_str()));
    assert_eq!(me.group(), Some(group.as_str()));

    let (info, change) = within("the name change", async {
        loop {
            let (info, change) = rx.next().await.expect("watcher is open");
            if info.id == client.id() {
                return (info, change);
            }
        }
    })
    .await;
    assert_eq!(info.name(), Some(new.as_str()));
    assert_eq!(change.old.as_deref(), Some(old.as_str()));
    assert_eq!(change.new.as_deref(), Some(new.as_str()));

    let found = watcher
        .client_by_name(&new)
        .await
        .expect("look-up")
        .expect("found by name");
    assert_eq!(found.id, client.id());
    let members = watcher.list_clients(Some(&group)).await.expect("list");
    assert_eq!(
        members.iter().map(|c| c.id).collect::<Vec<_>>(),
        [client.id()]
    );
    assert!(watcher
        .client_by_id(u64::MAX)
        .await
        .expect("look-up")
        .is_none());
    client.close().await;
    watcher.close().await;
}

#[wasm_bindgen_test]
async fn other_clients_see_joins_and_leaves() {
    let (tx, mut rx) = mpsc::unbounded::<(&'static str, ClientInfo)>();
    let (joins, leaves) = (tx.clone(), tx);
    let watcher = connect(
        ClientOptions::new()
            .on("client_connect", move |info: ClientInfo| {
                let _ = joins.unbounded_send(("join", info));
                async {}
            })
            .on("client_disconnect", move |info: ClientInfo| {
                let _ = leaves.unbounded_send(("leave", info));
                async {}
            }),
    )
    .await;
    let name = unique("visitor");
    let visitor = connect(ClientOptions::new().name(&name)).await;
    visitor.close().await;
    assert_eq!(
        visitor.closed().await.code,
        codes::NORMAL,
        "a client's own close is normal"
    );

    let seen = within("join and leave of the visitor", async {
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let (event, info) = rx.next().await.expect("watcher is open");
            if info.name() == Some(name.as_str()) {
                assert_eq!(info.transport, TransportKind::Ws);
                seen.push(event);
            }
        }
        seen
    })
    .await;
    assert_eq!(seen, ["join", "leave"]);
    watcher.close().await;
}

#[wasm_bindgen_test]
async fn a_kick_closes_with_code_4000_and_fires_force_disconnect() {
    let (tx, mut rx) = mpsc::unbounded::<CloseReason>();
    let client = connect(ClientOptions::new().on(
        "force_disconnect",
        move |reason: CloseReason| {
            let _ = tx.unbounded_send(reason);
            async {}
        },
    ))
    .await;
    client.send("kick_me", "go away").await.expect("sends");
    let reason = within("the close", client.closed()).await;
    assert_eq!(reason.code, codes::KICKED);
    assert_eq!(reason.reason, "go away");
    let forced = within("force_disconnect", rx.next()).await.expect("fired");
    assert_eq!(forced, reason);
    assert!(!client.is_connected());

    let err = client.send("echo", &1).await.expect_err("closed");
    assert!(matches!(err, Error::Closed(_)), "{err:?}");
}

#[wasm_bindgen_test]
async fn a_refused_handshake_reports_code_4003_and_the_reason() {
    let options = ClientOptions::new().auth("wrong").expect("encodes");
    let err = hisock_wasm::connect(server_url(), options)
        .await
        .expect_err("refused");
    match err {
        Error::Refused(reason) => {
            assert_eq!(reason.code, codes::AUTH_REFUSED);
            assert_eq!(reason.reason, "wrong password");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let options = ClientOptions::new().auth("right").expect("encodes");
    connect(options).await.close().await;
}

#[wasm_bindgen_test]
async fn connecting_where_nobody_listens_fails_and_says_so() {
    // Port 9 (discard) on loopback: nothing listens there in the test setup.
    let err = hisock_wasm::connect_with_timeout(
        "ws://127.0.0.1:9/",
        ClientOptions::new(),
        Duration::from_secs(5),
    )
    .await
    .expect_err("nothing listens");
    match &err {
        Error::Transport(TransportError::Other(message)) => assert!(
            message.starts_with(
                "cannot connect to ws://127.0.0.1:9/: the WebSocket closed before it opened"
            ),
            "{message}"
        ),
        other => panic!("expected a failed connection, got {other:?}"),
    }
    assert!(!err.to_string().contains("closed by peer"), "{err}");
}

#[wasm_bindgen_test]
async fn a_url_that_is_not_ws_or_wss_is_an_invalid_address() {
    // "127.0.0.1:7071" would be a path relative to the test page.
    for url in [
        "ftp://127.0.0.1:9/",
        "127.0.0.1:7071",
        "http://127.0.0.1:9/",
        "/ws",
    ] {
        let err = hisock_wasm::connect(url, ClientOptions::new())
            .await
            .expect_err("not a WebSocket URL");
        match &err {
            Error::InvalidAddress { input, reason } => {
                assert_eq!(input, url);
                assert!(reason.contains("ws://host:port/path"), "{reason}");
            }
            other => panic!("expected an invalid address for {url}, got {other:?}"),
        }
    }
}

#[wasm_bindgen_test]
async fn large_bursts_are_delivered_whole_and_in_order() {
    // 64 events of 64 KiB: 4 MiB through the browser's send buffer, which
    // the sink must not overrun.
    let client = connect(ClientOptions::new()).await;
    for i in 0..64u32 {
        let blob = serde_bytes::ByteBuf::from(vec![(i % 251) as u8; 64 * 1024]);
        let emit = Emit {
            command: "blob",
            value: (i, blob),
        };
        client.send("emit_to_me", &emit).await.expect("sends");
    }
    for i in 0..64u32 {
        let (n, blob): (u32, serde_bytes::ByteBuf) =
            client.recv("blob", WAIT).await.expect("receives");
        assert_eq!(n, i);
        assert_eq!(blob.len(), 64 * 1024);
        assert!(blob.iter().all(|b| *b == (i % 251) as u8));
    }
    client.close().await;
}

#[wasm_bindgen_test]
async fn payloads_of_every_size_class_round_trip_exactly() {
    // Sizes around every power of two up to 2 MiB, several requests in
    // flight at a time: the allocator serves many size classes, reuses freed
    // blocks and grows the wasm memory, and every byte must come back. A
    // batch holds at most 2 MiB, within the server's outgoing queue limit
    // for one client (4 MiB): more would be a slow client, disconnected.
    const BATCH_BYTES: usize = 2 * 1024 * 1024 + 1;
    let client = connect(ClientOptions::new()).await;
    let mut sizes = vec![0usize, 1, 2, 3];
    for shift in 2..=21 {
        let power = 1usize << shift;
        sizes.extend([power - 1, power, power + 1]);
    }
    let mut batches: Vec<Vec<usize>> = vec![Vec::new()];
    for len in sizes {
        let last = batches.last_mut().expect("one batch at least");
        if last.iter().sum::<usize>() + len > BATCH_BYTES {
            batches.push(vec![len]);
        } else {
            last.push(len);
        }
    }
    for batch in batches {
        let requests = batch.iter().map(|&len| {
            let pattern: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            let client = &client;
            async move {
                let sent = serde_bytes::ByteBuf::from(pattern);
                let back: serde_bytes::ByteBuf =
                    client.request("echo", &sent, WAIT).await.expect("echoes");
                assert_eq!(back.len(), len);
                assert!(back == sent, "the {len}-byte payload came back changed");
            }
        });
        futures::future::join_all(requests).await;
    }
    client.close().await;
}
