//! Resumable sessions (PROTOCOL.md section 13) over every transport, with
//! a [`FaultProxy`] cutting connections: a reconnecting client resumes its
//! session (same id, nothing lost or doubled either way, requests in
//! flight answered once, nobody told of a leave or a join); a forged
//! token, an expired window and an overflow during the break each get a
//! new session and say why; the auth hook runs again on a resume; a
//! `Close` ends the session at once; streams and requests either way
//! outlive a cut.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use hisock::frame::Frame;
use hisock::protocol::resume::{ResumeOutcome, TOKEN_LEN};
use hisock::{
    codes, ClientInfo, ClientOptions, CloseReason, ConnectionChange, Data, IncomingStream, Server,
    StreamOptions,
};
use hisock_test_support::{
    connect_through, next_change, next_disconnect, patterned_bytes, patterned_pieces,
    quick_reconnect, record_departures, record_joins, record_leaves, recording_changes,
    transport_tests, within, FaultProxy, Probe, RawPeer, TestServer,
};

const SHORT: Duration = Duration::from_secs(10);

/// Waits for `disconnected`, then `reconnected`, and returns the latter.
async fn rode_out(changes: &Probe<ConnectionChange>) -> ConnectionChange {
    let disconnected = next_change(changes).await;
    assert!(
        matches!(
            disconnected,
            ConnectionChange::Disconnected {
                will_retry: true,
                ..
            }
        ),
        "{disconnected:?}"
    );
    next_change(changes).await
}

/// Breaks the connection and keeps the client out while `during` runs,
/// then lets it back in: it must resume.
async fn break_while(proxy: &FaultProxy, changes: &Probe<ConnectionChange>, during: impl FnOnce()) {
    proxy.refuse(true);
    proxy.cut_all();
    let disconnected = next_change(changes).await;
    assert!(
        matches!(disconnected, ConnectionChange::Disconnected { .. }),
        "{disconnected:?}"
    );
    during();
    proxy.refuse(false);
    assert_eq!(next_change(changes).await, RESUMED);
}

const RESUMED: ConnectionChange = ConnectionChange::Reconnected {
    resumed: true,
    outcome: ResumeOutcome::Resumed,
    expired: 0,
};

/// The `session_expired` handler's reports: `(client id, close code)`.
fn record_expiries(server: &Server) -> Probe<(u64, u16)> {
    let expiries = Probe::new("session_expired");
    let seen = expiries.clone();
    server.on(
        "session_expired",
        move |who: ClientInfo, why: CloseReason| {
            seen.push((who.id, why.code));
            async {}
        },
    );
    expiries
}

/// Reads a whole stream, or the error that ended it.
async fn read_all(mut body: IncomingStream) -> hisock::Result<Bytes> {
    let mut data = BytesMut::new();
    while let Some(chunk) = body.next().await {
        data.extend_from_slice(&chunk?);
    }
    Ok(data.freeze())
}

/// Stream options that wake `halfway` once `at` bytes went out.
fn cut_at(at: u64, halfway: &Arc<tokio::sync::Notify>) -> StreamOptions {
    let halfway = halfway.clone();
    let told = Arc::new(std::sync::atomic::AtomicBool::new(false));
    StreamOptions::new()
        .chunk_size(16 * 1024)
        .on_progress(move |progress| {
            if progress.bytes >= at && !told.swap(true, Ordering::SeqCst) {
                halfway.notify_one();
            }
        })
}

const STREAM_LEN: usize = 2 * 1024 * 1024;

/// Cuts the connection once `sending` is halfway (`halfway` wakes), and
/// checks that after the resume it finishes and `received` gets every
/// byte once.
async fn cut_halfway(
    proxy: &FaultProxy,
    changes: &Probe<ConnectionChange>,
    halfway: &tokio::sync::Notify,
    sending: tokio::task::JoinHandle<hisock::Result<()>>,
    received: &Probe<Result<Bytes, String>>,
) {
    within("halfway", halfway.notified()).await;
    proxy.cut_all();
    assert_eq!(rode_out(changes).await, RESUMED);
    within("the stream", sending)
        .await
        .expect("joined")
        .expect("consumed");
    let got = received.next().await.expect("every byte");
    assert!(
        got == patterned_bytes(STREAM_LEN),
        "the stream arrived whole, once"
    );
}

transport_tests! {
    /// A cut: the client comes back to the same session (`resumed: true`,
    /// the same id, name and group), and neither the server application
    /// nor the other clients hear of a leave or a join.
    async fn a_cut_session_resumes_unseen_by_the_application_and_the_others(t: Transport) {
        let server = Server::new();
        server.on("echo", |Data(n): Data<u32>| async move { n });
        let joins = record_joins(&server);
        let leaves = record_leaves(&server);
        let test = TestServer::start(t, server).await;
        let (observer_options, departures) = record_departures(ClientOptions::new().name("obs"));
        let arrivals = Probe::new("client_connect");
        let seen = arrivals.clone();
        let observer_options = observer_options.on("client_connect", move |who: ClientInfo| {
            seen.push(who.id);
            async {}
        });
        let observer = test.connect(observer_options).await;
        joins.next().await;
        let proxy = FaultProxy::start(test.addr).await;
        let (options, changes) = recording_changes("ada", quick_reconnect());
        let client = connect_through(t, &proxy, options).await;
        let id = joins.next().await;
        assert_eq!(arrivals.next().await, id);

        for round in 0..3u32 {
            assert_eq!(proxy.cut_all(), 1);
            assert_eq!(rode_out(&changes).await, RESUMED, "round {round}");
            assert_eq!(client.id(), id);
            assert_eq!(client.request::<u32, _>("echo", round, SHORT).await.expect("echo"), round);
        }
        let info = test.server.client(id).expect("still the same client");
        assert_eq!((info.name(), info.group()), (Some("ada"), Some("crew")));
        // The round trips above came after any notice a break would have
        // caused.
        assert_eq!(joins.drain().await, Vec::<u64>::new(), "no join on a resume");
        assert_eq!(leaves.drain().await, Vec::<(u64, u16)>::new(), "no leave on a break");
        assert_eq!(departures.drain().await, Vec::<u64>::new());
        assert_eq!(arrivals.drain().await, Vec::<u64>::new());
        within("close", client.close()).await;
        assert_eq!(leaves.next().await, (id, codes::NORMAL), "the close ends it at once");
        assert_eq!(departures.next().await, id);
        within("close", observer.close()).await;
    }

    /// Numbered events both ways and requests, with the connection cut
    /// again and again meanwhile: each side receives every number once,
    /// in order, and every request is answered once.
    async fn events_and_requests_both_ways_arrive_once_in_order_across_cuts(t: Transport) {
        const N: u32 = 2_000;
        let server = Server::new();
        let to_server = Probe::new("client's numbers");
        let seen = to_server.clone();
        server.on("n", move |Data(n): Data<u32>| {
            seen.push(n);
            async {}
        });
        server.on("double", |Data(n): Data<u32>| async move { n * 2 });
        let joins = record_joins(&server);
        let test = TestServer::start(t, server).await;
        let proxy = FaultProxy::start(test.addr).await;
        let to_client = Probe::new("server's numbers");
        let seen = to_client.clone();
        let (options, changes) = recording_changes("ada", quick_reconnect());
        let options = options.on("s", move |Data(n): Data<u32>| {
            seen.push(n);
            async {}
        });
        let client = connect_through(t, &proxy, options).await;
        let id = joins.next().await;

        let emitter = {
            let server = test.server.clone();
            tokio::spawn(async move {
                for n in 0..N {
                    server.to_client(id).emit("s", n).expect("the session is kept");
                    if n % 50 == 0 {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
            })
        };
        let sender = {
            let client = client.clone();
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for n in 0..N {
                    client.send("n", n).await.expect("sent or queued");
                    if n % 100 == 0 {
                        answers.push(client.request::<u32, _>("double", n, SHORT).await.expect("answered"));
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
                answers
            })
        };
        let mut cuts = 0;
        while !(emitter.is_finished() && sender.is_finished()) && cuts < 8 {
            tokio::time::sleep(Duration::from_millis(30)).await;
            cuts += proxy.cut_all();
            if cuts > 0 {
                assert_eq!(rode_out(&changes).await, RESUMED);
            }
        }
        within("the emitter", emitter).await.expect("joined");
        let answers = within("the sender", sender).await.expect("joined");
        assert_eq!(answers, (0..N).step_by(100).map(|n| n * 2).collect::<Vec<_>>());
        assert_eq!(to_server.take(N as usize).await, (0..N).collect::<Vec<_>>());
        assert_eq!(to_client.take(N as usize).await, (0..N).collect::<Vec<_>>());
        assert!(cuts >= 1, "the test cut nothing");
        // Nothing doubled arrives late either.
        assert_eq!(client.request::<u32, _>("double", 1, SHORT).await.expect("answered"), 2);
        assert_eq!(to_server.drain().await, Vec::<u32>::new());
        assert_eq!(to_client.drain().await, Vec::<u32>::new());
        within("close", client.close()).await;
    }

    /// A request the server was handling when the connection broke is
    /// answered once, after the resume; its handler ran once.
    async fn a_request_in_flight_is_answered_once_after_the_resume(t: Transport) {
        let server = Server::new();
        let gate = Arc::new(tokio::sync::Notify::new());
        let arrived = Probe::new("slow arrived");
        {
            let (gate, arrived) = (gate.clone(), arrived.clone());
            server.on("slow", move || {
                let gate = gate.clone();
                arrived.push(());
                async move {
                    gate.notified().await;
                    7u32
                }
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

        // The handler answers during the break: the reply waits for the
        // client.
        break_while(&proxy, &changes, || gate.notify_waiters()).await;
        assert_eq!(within("the answer", slow).await.expect("joined").expect("answered"), 7);
        assert_eq!(arrived.drain().await, Vec::<()>::new(), "the handler ran once");
        within("close", client.close()).await;
    }

    /// A window that passes without a resume: `session_expired` (1006),
    /// then `leave`, once each; the others are told; the client, back
    /// later, gets a new session and is told it expired.
    async fn a_window_that_passes_expires_the_session_once(t: Transport) {
        let server = Server::builder()
            .session_window(Duration::from_millis(300))
            .build();
        let expiries = record_expiries(&server);
        let leaves = record_leaves(&server);
        let joins = record_joins(&server);
        let test = TestServer::start(t, server).await;
        let (observer_options, departures) = record_departures(ClientOptions::new());
        let observer = test.connect(observer_options).await;
        joins.next().await;
        let proxy = FaultProxy::start(test.addr).await;
        let (options, changes) = recording_changes("ada", quick_reconnect());
        let client = connect_through(t, &proxy, options).await;
        let id = joins.next().await;

        proxy.refuse(true);
        proxy.cut_all();
        assert_eq!(expiries.next().await, (id, codes::ABNORMAL));
        assert_eq!(leaves.next().await, (id, codes::ABNORMAL));
        assert_eq!(departures.next().await, id);
        proxy.refuse(false);
        assert_eq!(
            rode_out(&changes).await,
            ConnectionChange::Reconnected {
                resumed: false,
                outcome: ResumeOutcome::Expired,
                expired: 0,
            }
        );
        let again = joins.next().await;
        assert_ne!(again, id);
        assert_eq!(client.id(), again);
        assert_eq!(expiries.drain().await, Vec::<(u64, u16)>::new(), "once");
        assert_eq!(leaves.drain().await, Vec::<(u64, u16)>::new(), "once");
        within("close", client.close()).await;
        within("close", observer.close()).await;
    }

    /// More queued for a broken session than the outgoing queue holds ends
    /// it at once: `session_expired` with 4012, `leave`, and the client is
    /// told `overflow` when it comes back. Never a silent gap.
    async fn an_overflow_during_the_break_ends_the_session(t: Transport) {
        let server = Server::builder().outbox_limit(64 * 1024).build();
        let expiries = record_expiries(&server);
        let leaves = record_leaves(&server);
        let joins = record_joins(&server);
        let test = TestServer::start(t, server).await;
        let proxy = FaultProxy::start(test.addr).await;
        let (options, changes) = recording_changes("ada", quick_reconnect());
        let client = connect_through(t, &proxy, options).await;
        let id = joins.next().await;

        proxy.refuse(true);
        proxy.cut_all();
        assert!(matches!(next_change(&changes).await, ConnectionChange::Disconnected { .. }));
        // Once the server saw the break: before, the frames would go to the
        // dead connection (and a client that stops reading is a slow one).
        within("the server to see the break", async {
            while test.server.stats().sessions_waiting == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        let kilobyte = vec![7u8; 1024];
        for _ in 0..200 {
            // Past the limit the sends are refused; the session ends.
            let _ = test.server.to_client(id).emit("bulk", &kilobyte);
        }
        assert_eq!(expiries.next().await, (id, codes::SESSION_OVERFLOW));
        assert_eq!(leaves.next().await, (id, codes::SESSION_OVERFLOW));
        proxy.refuse(false);
        assert_eq!(
            next_change(&changes).await,
            ConnectionChange::Reconnected {
                resumed: false,
                outcome: ResumeOutcome::Overflow,
                expired: 0,
            }
        );
        within("close", client.close()).await;
    }

    /// The auth hook sees the `Hello` of a resume too; its refusal (4003)
    /// is not retried, and leaves the session as it was (no leave until
    /// the window passes).
    async fn the_auth_hook_runs_again_on_a_resume(t: Transport) {
        let server = Server::new();
        let calls = Arc::new(AtomicUsize::new(0));
        {
            let calls = calls.clone();
            server.auth(move |_| {
                let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    match call {
                        1 | 2 => Ok(()),
                        _ => Err("no more".to_owned()),
                    }
                }
            });
        }
        let leaves = record_leaves(&server);
        let test = TestServer::start(t, server).await;
        let proxy = FaultProxy::start(test.addr).await;
        let (options, changes) = recording_changes("ada", quick_reconnect());
        let client = connect_through(t, &proxy, options).await;

        proxy.cut_all();
        assert_eq!(rode_out(&changes).await, RESUMED);
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        proxy.cut_all();
        assert!(matches!(next_change(&changes).await, ConnectionChange::Disconnected { will_retry: true, .. }));
        assert_eq!(next_disconnect(&changes).await, (codes::AUTH_REFUSED, false));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        within("closed", client.closed()).await;
        assert!(test.server.client(client.id()).is_some(), "the session is kept");
        assert_eq!(leaves.drain().await, Vec::<(u64, u16)>::new());
    }

    /// A `Resume` with a token the server never issued (or of another
    /// length) gets a new session, outcome 2, with a fresh 16-byte token;
    /// an empty one asks for a new session, outcome 1.
    async fn a_forged_token_gets_a_new_session(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        for (token, outcome) in [
            (vec![0xa5; TOKEN_LEN], ResumeOutcome::UnknownToken),
            (vec![1, 2, 3], ResumeOutcome::UnknownToken),
            (Vec::new(), ResumeOutcome::New),
        ] {
            let mut peer = RawPeer::connect(t, test.addr).await;
            peer.send(&Frame::Resume { token: &token, received: 5 }).await;
            peer.send(&hisock_test_support::raw::handshake::hello(Some("mallory"))).await;
            let welcome = peer.read_frame().await.expect("a welcome");
            assert!(matches!(Frame::decode(&welcome), Ok(Frame::Welcome { .. })));
            let session = peer.read_frame().await.expect("a session frame");
            match Frame::decode(&session).expect("decodes") {
                Frame::Session { token: issued, outcome: got, received, window_ms } => {
                    assert_eq!(ResumeOutcome::from_wire(got), outcome);
                    assert_eq!(issued.len(), TOKEN_LEN);
                    assert_ne!(issued, &token[..]);
                    assert_eq!(received, 0);
                    assert_eq!(window_ms, 120_000);
                }
                other => panic!("expected a session frame, got {other:?}"),
            }
        }
    }

    /// An `Ack` for frames the server never sent is a protocol error
    /// (1002); so is one from a client without a session.
    async fn an_ack_beyond_what_was_sent_closes_with_1002(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        for resume in [true, false] {
            let mut peer = RawPeer::connect(t, test.addr).await;
            if resume {
                peer.send(&Frame::Resume { token: &[], received: 0 }).await;
            }
            peer.send(&hisock_test_support::raw::handshake::hello(None)).await;
            peer.read_frame().await.expect("a welcome");
            if resume {
                peer.read_frame().await.expect("a session frame");
            }
            peer.send(&Frame::Ack { received: 3 }).await;
            assert_eq!(peer.expect_end().await.code, codes::PROTOCOL_ERROR, "resume: {resume}");
        }
    }

    /// Streams both ways, cut halfway: they go on after the resume and
    /// deliver every byte once, in order (streams live as long as the
    /// session, PROTOCOL.md section 13.5).
    async fn streams_cut_halfway_complete_after_the_resume(t: Transport) {
        let server = Server::new();
        let uploads = Probe::new("upload");
        let seen = uploads.clone();
        server.on("upload", move |body: IncomingStream| {
            let seen = seen.clone();
            async move { seen.push(read_all(body).await.map_err(|err| err.to_string())) }
        });
        let joins = record_joins(&server);
        let test = TestServer::start(t, server).await;
        let proxy = FaultProxy::start(test.addr).await;
        let downloads = Probe::new("download");
        let seen = downloads.clone();
        let (options, changes) = recording_changes("ada", quick_reconnect());
        let options = options.on("download", move |body: IncomingStream| {
            let seen = seen.clone();
            async move { seen.push(read_all(body).await.map_err(|err| err.to_string())) }
        });
        let client = connect_through(t, &proxy, options).await;
        let id = joins.next().await;
        let halfway = Arc::new(tokio::sync::Notify::new());

        let upload = {
            let client = client.clone();
            let options = cut_at(STREAM_LEN as u64 / 2, &halfway);
            tokio::spawn(async move {
                client
                    .send_stream("upload", patterned_pieces(STREAM_LEN, 100_000), options)
                    .await
            })
        };
        cut_halfway(&proxy, &changes, &halfway, upload, &uploads).await;

        let download = {
            let server = test.server.clone();
            let options = cut_at(STREAM_LEN as u64 / 2, &halfway);
            tokio::spawn(async move {
                server
                    .send_stream(id, "download", patterned_pieces(STREAM_LEN, 100_000), options)
                    .await
            })
        };
        cut_halfway(&proxy, &changes, &halfway, download, &downloads).await;
        within("close", client.close()).await;
    }

    /// A request from the server that the client was handling when the
    /// connection broke is answered once, after the resume.
    async fn a_server_request_in_flight_is_answered_once_after_the_resume(t: Transport) {
        let server = Server::new();
        let joins = record_joins(&server);
        let test = TestServer::start(t, server).await;
        let proxy = FaultProxy::start(test.addr).await;
        let gate = Arc::new(tokio::sync::Notify::new());
        let asked = Probe::new("asked");
        let (options, changes) = recording_changes("ada", quick_reconnect());
        let options = {
            let (gate, asked) = (gate.clone(), asked.clone());
            options.on("think", move |Data(n): Data<u32>| {
                let gate = gate.clone();
                asked.push(n);
                async move {
                    gate.notified().await;
                    n + 1
                }
            })
        };
        let client = connect_through(t, &proxy, options).await;
        let id = joins.next().await;
        let asking = {
            let server = test.server.clone();
            tokio::spawn(async move {
                server.request::<u32, _>(id, "think", 41u32, Duration::from_secs(3600)).await
            })
        };
        assert_eq!(asked.next().await, 41);
        break_while(&proxy, &changes, || gate.notify_waiters()).await;
        assert_eq!(within("the answer", asking).await.expect("joined").expect("answered"), 42);
        assert_eq!(asked.drain().await, Vec::<u32>::new(), "the handler ran once");
        within("close", client.close()).await;
    }

    /// With `auth_on_resume(false)` the token alone resumes a session (the
    /// hook is not asked), but a resume that fails, with a forged token,
    /// is asked before it joins anew, and refused here.
    async fn without_auth_on_resume_the_token_alone_resumes(t: Transport) {
        let server = Server::builder().auth_on_resume(false).build();
        let calls = Arc::new(AtomicUsize::new(0));
        {
            let calls = calls.clone();
            server.auth(move |_| {
                let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
                async move { if first { Ok(()) } else { Err("only once".to_owned()) } }
            });
        }
        let test = TestServer::start(t, server).await;
        let proxy = FaultProxy::start(test.addr).await;
        let (options, changes) = recording_changes("ada", quick_reconnect());
        let client = connect_through(t, &proxy, options).await;
        proxy.cut_all();
        assert_eq!(rode_out(&changes).await, RESUMED);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "not asked on the resume");

        let mut forger = RawPeer::connect(t, test.addr).await;
        forger.send(&Frame::Resume { token: &[0x5a; TOKEN_LEN], received: 0 }).await;
        forger.send(&hisock_test_support::raw::handshake::hello(Some("eve"))).await;
        let refused = forger.read_frame().await.expect("an answer");
        assert!(
            matches!(Frame::decode(&refused), Ok(Frame::Refuse { code: codes::AUTH_REFUSED, .. })),
            "{:?}",
            Frame::decode(&refused)
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        within("close", client.close()).await;
    }
}
