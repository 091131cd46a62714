//! The Rust client with `ClientOptions::reconnect` in the browser
//! (PROTOCOL.md section 13.8): `hisock_wasm::connect` reopens the same URL
//! when the WebSocket breaks. Each test asks the test server for a fault
//! proxy of its own (`faults.rs` of `hisock-test-server`) and connects
//! through it; a control client, connected directly, has the proxy drop
//! the connection (no close frame: 1006) or refuse new ones. The first
//! test checks the resumed path (nothing lost or doubled) when the server
//! resumes the session, and otherwise that it keeps no sessions at all.

use std::time::Duration;

use futures::channel::mpsc;
use futures::StreamExt;
use hisock::protocol::resume::ResumeOutcome;
use hisock::{
    codes, Client, ClientInfo, ClientOptions, ConnectionChange, ConnectionState, Data, Error,
    OfflineQueue, Reconnect,
};
use serde::{Deserialize, Serialize};
use wasm_bindgen_test::wasm_bindgen_test;

use crate::support::{connect, unique, within, WAIT};

/// A quick policy: tests wait for reconnects, never for a timer's length.
fn quick() -> Reconnect {
    Reconnect::new()
        .initial_delay(Duration::from_millis(20))
        .max_delay(Duration::from_millis(100))
}

/// What `fault_proxy_open` answers.
#[derive(Deserialize)]
struct Opened {
    id: u64,
    url: String,
}

#[derive(Serialize)]
struct EmitThenCut<'a> {
    proxy: u64,
    command: &'a str,
    count: u32,
}

#[derive(Serialize)]
struct Emit<'a> {
    command: &'a str,
    value: u32,
}

/// A fault proxy of this test's own, and the control client that drives it.
struct Faulty {
    control: Client,
    id: u64,
    url: String,
}

/// The payload of `fault_proxy_open` for the server's twin without
/// sessions.
#[derive(Serialize)]
struct WithoutSessions {
    sessions: bool,
}

impl Faulty {
    /// A proxy in front of the test server.
    async fn open() -> Self {
        Self::open_to(None).await
    }

    /// A proxy in front of the test server's twin that keeps no sessions.
    async fn open_without_sessions() -> Self {
        Self::open_to(Some(WithoutSessions { sessions: false })).await
    }

    async fn open_to(target: Option<WithoutSessions>) -> Self {
        let control = connect(ClientOptions::new()).await;
        let opened: Opened = control
            .request("fault_proxy_open", &target, WAIT)
            .await
            .expect("a fault proxy");
        Self {
            control,
            id: opened.id,
            url: opened.url,
        }
    }

    /// Connects `options` through the proxy.
    async fn connect(&self, options: ClientOptions) -> Client {
        within(
            "connect through the proxy",
            hisock_wasm::connect(&self.url, options),
        )
        .await
        .expect("connects through the proxy")
    }

    async fn cut(&self) {
        let _: u64 = self
            .control
            .request("fault_proxy_cut", &self.id, WAIT)
            .await
            .expect("cut");
    }

    async fn refuse(&self, refusing: bool) {
        self.control
            .request::<(), _>("fault_proxy_refuse", &(self.id, refusing), WAIT)
            .await
            .expect("refuse");
    }

    async fn close(self) {
        self.control
            .request::<(), _>("fault_proxy_close", &self.id, WAIT)
            .await
            .expect("close the proxy");
        self.control.close().await;
    }
}

/// Options that reconnect quickly and send every connection change to the
/// returned channel.
fn recording(options: ClientOptions) -> (ClientOptions, mpsc::UnboundedReceiver<ConnectionChange>) {
    let (tx, rx) = mpsc::unbounded();
    let mut options = options.reconnect(quick());
    for event in ["disconnected", "reconnecting", "reconnected"] {
        let tx = tx.clone();
        options = options.on(event, move |change: ConnectionChange| {
            let _ = tx.unbounded_send(change);
            async {}
        });
    }
    (options, rx)
}

/// The next change that is not `reconnecting`.
async fn next_change(changes: &mut mpsc::UnboundedReceiver<ConnectionChange>) -> ConnectionChange {
    loop {
        match within("a connection change", changes.next()).await {
            Some(ConnectionChange::Reconnecting { attempt, .. }) => assert!(attempt >= 1),
            Some(other) => return other,
            None => panic!("the client is gone"),
        }
    }
}

/// Polls until `client` is in `state`.
async fn until_state(client: &Client, state: ConnectionState) {
    within("the client's state", async {
        while client.state() != state {
            gloo_timers::future::TimeoutFuture::new(10).await;
        }
    })
    .await;
}

/// Drains what a channel holds now.
fn drain(rx: &mut mpsc::UnboundedReceiver<u32>) -> Vec<u32> {
    let mut got = Vec::new();
    while let Ok(n) = rx.try_recv() {
        got.push(n);
    }
    got
}

/// Each item once, in increasing order.
fn increasing(list: &[u32]) -> bool {
    list.windows(2).all(|pair| pair[0] < pair[1])
}

#[wasm_bindgen_test]
async fn a_dropped_websocket_comes_back_with_name_and_group_and_resumes_when_the_server_keeps_sessions(
) {
    let faults = Faulty::open().await;
    let name = unique("resilient");
    let (ticks_tx, mut ticks) = mpsc::unbounded::<u32>();
    let (echo_tx, mut echoes) = mpsc::unbounded::<u32>();
    let (options, mut changes) = recording(
        ClientOptions::new()
            .name(&name)
            .group("lab")
            .on("tick", move |Data(n): Data<u32>| {
                let _ = ticks_tx.unbounded_send(n);
                async {}
            })
            .on("echoed", move |Data(n): Data<u32>| {
                let _ = echo_tx.unbounded_send(n);
                async {}
            }),
    );
    let client = faults.connect(options).await;
    let first_id = client.id();
    assert_eq!(client.state(), ConnectionState::Connected);

    // Both ways at once: 500 events queued for this client with the
    // connection cut under them, and 300 events from it (echoed back)
    // sent around the cut.
    let cut = EmitThenCut {
        proxy: faults.id,
        command: "tick",
        count: 500,
    };
    client.send("emit_then_cut", &cut).await.expect("sends");
    for value in 0..300 {
        let emit = Emit {
            command: "echoed",
            value,
        };
        client
            .send("emit_to_me", &emit)
            .await
            .expect("sends or queues");
    }
    match next_change(&mut changes).await {
        ConnectionChange::Disconnected {
            code, will_retry, ..
        } => {
            assert_eq!(code, codes::ABNORMAL);
            assert!(will_retry);
        }
        other => panic!("expected disconnected, got {other:?}"),
    }
    let resumed = match next_change(&mut changes).await {
        ConnectionChange::Reconnected {
            resumed, outcome, ..
        } => {
            // A cut within the window resumes, unless the server keeps no
            // sessions (the test server, until they land).
            assert!(resumed || outcome == ResumeOutcome::Disabled, "{outcome}");
            resumed
        }
        other => panic!("expected reconnected, got {other:?}"),
    };
    assert_eq!(client.state(), ConnectionState::Connected);
    // A round trip: what the server sent before its reply has arrived.
    let me: ClientInfo = client.request("whoami", &(), WAIT).await.expect("whoami");
    assert_eq!(me.id, client.id());
    assert_eq!(me.name(), Some(name.as_str()), "the name is kept");
    assert_eq!(me.group(), Some("lab"), "the group is kept");
    let (got_ticks, got_echoes) = (drain(&mut ticks), drain(&mut echoes));
    if resumed {
        assert_eq!(
            client.id(),
            first_id,
            "a resumed session is the same client"
        );
        assert_eq!(
            got_ticks,
            (0..500).collect::<Vec<_>>(),
            "nothing lost or doubled"
        );
        assert_eq!(
            got_echoes,
            (0..300).collect::<Vec<_>>(),
            "nothing lost or doubled"
        );
    } else {
        assert_ne!(client.id(), first_id, "a new session is a new client id");
        assert!(increasing(&got_ticks), "once, in order: {got_ticks:?}");
        assert!(increasing(&got_echoes), "once, in order: {got_echoes:?}");
    }
    client.close().await;
    faults.close().await;
}

#[wasm_bindgen_test]
async fn a_server_without_sessions_gives_a_new_session_with_name_group_and_room_restored() {
    let faults = Faulty::open_without_sessions().await;
    let name = unique("forgotten");
    let (calls_tx, mut calls) = mpsc::unbounded::<u32>();
    let (options, mut changes) = recording(ClientOptions::new().name(&name).group("lab").on(
        "room_call",
        move |Data(n): Data<u32>| {
            let _ = calls_tx.unbounded_send(n);
            async {}
        },
    ));
    let client = faults.connect(options).await;
    let first_id = client.id();
    let room = format!("open/{}", unique("room"));
    assert!(client.join_room(&room).await.expect("joins"));

    faults.cut().await;
    assert!(matches!(
        next_change(&mut changes).await,
        ConnectionChange::Disconnected {
            will_retry: true,
            ..
        }
    ));
    match next_change(&mut changes).await {
        ConnectionChange::Reconnected {
            resumed, outcome, ..
        } => {
            assert!(!resumed);
            assert_eq!(outcome, ResumeOutcome::Disabled);
        }
        other => panic!("expected reconnected, got {other:?}"),
    }
    assert_ne!(client.id(), first_id, "a new session is a new client id");
    let me: ClientInfo = client.request("whoami", &(), WAIT).await.expect("whoami");
    assert_eq!(me.name(), Some(name.as_str()), "the name is restored");
    assert_eq!(me.group(), Some("lab"), "the group is restored");
    #[derive(Serialize)]
    struct ToRoom<'a> {
        room: &'a str,
        command: &'a str,
        value: u32,
    }
    let to_room = ToRoom {
        room: &room,
        command: "room_call",
        value: 7,
    };
    let members: u64 = client
        .request("to_room", &to_room, WAIT)
        .await
        .expect("to_room");
    assert_eq!(members, 1, "the room is restored");
    assert_eq!(within("the room's event", calls.next()).await, Some(7));
    client.close().await;
    faults.close().await;
}

#[wasm_bindgen_test]
async fn what_is_sent_offline_leaves_in_order_and_past_the_bound_fails_at_once() {
    let faults = Faulty::open().await;
    let (echo_tx, mut echoes) = mpsc::unbounded::<u32>();
    let (options, mut changes) = recording(
        ClientOptions::new()
            .offline_queue(OfflineQueue::new().max_frames(3))
            .on("echoed", move |Data(n): Data<u32>| {
                let _ = echo_tx.unbounded_send(n);
                async {}
            }),
    );
    let client = faults.connect(options).await;

    faults.refuse(true).await;
    faults.cut().await;
    assert!(matches!(
        next_change(&mut changes).await,
        ConnectionChange::Disconnected {
            will_retry: true,
            ..
        }
    ));
    until_state(&client, ConnectionState::Reconnecting).await;
    assert!(!client.is_connected());
    for value in 0..3 {
        let emit = Emit {
            command: "echoed",
            value,
        };
        client
            .send("emit_to_me", &emit)
            .await
            .expect("queued offline");
    }
    let past = Emit {
        command: "echoed",
        value: 3,
    };
    match client.send("emit_to_me", &past).await {
        Err(Error::OfflineQueueFull { max_frames, .. }) => assert_eq!(max_frames, 3),
        other => panic!("expected OfflineQueueFull, got {other:?}"),
    }

    faults.refuse(false).await;
    let got: Vec<u32> = within("the three echoes", echoes.by_ref().take(3).collect()).await;
    assert_eq!(got, [0, 1, 2], "what waited offline leaves in order");
    assert_eq!(client.state(), ConnectionState::Connected);
    client.close().await;
    faults.close().await;
}

#[wasm_bindgen_test]
async fn a_refused_reconnect_closes_the_client_with_the_refusal() {
    let faults = Faulty::open().await;
    // Auth data that the test server accepts for one connection only.
    let auth = format!("once:{}", unique("key"));
    let (options, mut changes) = recording(ClientOptions::new().auth(&auth).expect("auth encodes"));
    let client = faults.connect(options).await;

    faults.cut().await;
    assert!(matches!(
        next_change(&mut changes).await,
        ConnectionChange::Disconnected {
            will_retry: true,
            ..
        }
    ));
    match next_change(&mut changes).await {
        ConnectionChange::Disconnected {
            code, will_retry, ..
        } => {
            assert_eq!(code, codes::AUTH_REFUSED);
            assert!(!will_retry, "a refusal is not retried");
        }
        other => panic!("expected the last disconnected, got {other:?}"),
    }
    assert_eq!(
        within("closed", client.closed()).await.code,
        codes::AUTH_REFUSED
    );
    assert_eq!(client.state(), ConnectionState::Closed);
    faults.close().await;
}
