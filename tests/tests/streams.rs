//! Large payloads as streams, over real TCP and WebSocket connections: whole
//! payloads both ways, chunk-by-chunk reading with progress on both sides,
//! small events flowing past a stalled stream, the size limit, streams
//! nobody handles, and streams cut off or aborted mid-way (the receiver
//! gets an error, never a short payload).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use hisock::frame::Frame;
use hisock::{
    ClientOptions, Data, Error, ErrorCode, IncomingStream, Progress, Server, StreamOptions,
};
use hisock_test_support::{
    patterned_bytes, patterned_pieces, transport_tests, within, Handshake, RawPeer, TestServer,
};
use tokio::sync::{mpsc, oneshot};

const MIB: usize = 1024 * 1024;

/// What a receiving handler read: the bytes and the progress after each
/// chunk, or the error that ended the stream.
type Read = Result<(Bytes, Vec<Progress>), Error>;

/// Reads a stream chunk by chunk, noting the progress after each one.
async fn read_chunks(mut body: IncomingStream) -> Read {
    let mut data = BytesMut::new();
    let mut seen = Vec::new();
    while let Some(chunk) = body.next().await {
        data.extend_from_slice(&chunk?);
        seen.push(body.progress());
    }
    Ok((data.freeze(), seen))
}

fn assert_progress_climbs_to(seen: &[Progress], total: usize, announced: Option<u64>) {
    assert!(seen.len() > 1, "more than one chunk: {}", seen.len());
    assert!(
        seen.windows(2).all(|w| w[0].bytes < w[1].bytes),
        "progress only grows"
    );
    assert_eq!(
        seen.last().copied(),
        Some(Progress {
            bytes: total as u64,
            total: announced
        })
    );
}

fn is_remote(err: &Error, want: ErrorCode) -> bool {
    matches!(err, Error::Remote { code, .. } if *code == want)
}

/// Sends the start and the first chunk of a stream that claims to be
/// `total` bytes long, then drops the connection without a close frame.
async fn cut_off_stream(mut peer: RawPeer, command: &str, total: u64) {
    peer.send(&Frame::StreamStart {
        stream_id: 1,
        command,
        total_len: Some(total),
    })
    .await;
    let chunk = patterned_bytes(64 * 1024);
    peer.send(&Frame::StreamChunk {
        stream_id: 1,
        data: &chunk,
    })
    .await;
    // Let the chunk reach the peer's handler before the cut.
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(peer);
}

transport_tests! {
    async fn client_to_server_payload_arrives_whole_and_intact(t: Transport) {
        let server = Server::new();
        let (tx, mut rx) = mpsc::unbounded_channel();
        server.on("upload", move |body: IncomingStream| {
            let tx = tx.clone();
            async move {
                let result = body.into_bytes().await;
                let len = result.as_ref().map_or(0, |b| b.len() as u64);
                let _ = tx.send(result);
                len
            }
        });
        let test = TestServer::start(t, server.clone()).await;
        let client = test.connect(ClientOptions::new()).await;
        let sent = patterned_bytes(8 * MIB);
        within(
            "upload",
            client.send_bytes_streamed("upload", sent.clone(), StreamOptions::new()),
        )
        .await
        .expect("the server consumed the upload");
        let got = within("handler", rx.recv())
            .await
            .expect("the handler ran")
            .expect("a whole payload");
        assert_eq!(got.len(), sent.len());
        assert!(got == sent, "content arrives unchanged");
        client.close().await;
        test.shutdown().await;
    }

    async fn server_to_client_payload_arrives_whole_and_intact(t: Transport) {
        let server = Server::new();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let options = ClientOptions::new().on("download", move |body: IncomingStream| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body.into_bytes().await);
            }
        });
        let test = TestServer::start(t, server.clone()).await;
        let client = test.connect(options).await;
        let sent = patterned_bytes(8 * MIB);
        let source = futures::stream::iter([Ok::<_, Infallible>(sent.clone())]);
        within(
            "download",
            server.send_stream(
                client.id(),
                "download",
                source,
                StreamOptions::new().total_len(sent.len() as u64),
            ),
        )
        .await
        .expect("the client consumed the download");
        let got = within("handler", rx.recv())
            .await
            .expect("the handler ran")
            .expect("a whole payload");
        assert!(got == sent, "content arrives unchanged");
        client.close().await;
        test.shutdown().await;
    }

    async fn client_to_server_chunks_and_progress_are_seen_on_both_sides(t: Transport) {
        let server = Server::new();
        let (tx, mut rx) = mpsc::unbounded_channel::<Read>();
        server.on("upload", move |body: IncomingStream| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(read_chunks(body).await);
            }
        });
        let test = TestServer::start(t, server.clone()).await;
        let client = test.connect(ClientOptions::new()).await;
        let len = MIB + 12_345;
        let sent_progress = Arc::new(Mutex::new(Vec::new()));
        let options = {
            let sent_progress = sent_progress.clone();
            StreamOptions::new()
                .chunk_size(16 * 1024)
                .total_len(len as u64)
                .on_progress(move |p| sent_progress.lock().expect("lock").push(p))
        };
        within(
            "upload",
            client.send_stream("upload", patterned_pieces(len, 100_000), options),
        )
        .await
        .expect("the upload is consumed");
        let (data, seen) = within("handler", rx.recv())
            .await
            .expect("the handler ran")
            .expect("every chunk");
        assert!(data == patterned_bytes(len), "chunks arrive in order, unchanged");
        assert_progress_climbs_to(&seen, len, Some(len as u64));
        assert!(
            seen.windows(2)
                .all(|w| w[1].bytes - w[0].bytes <= 16 * 1024),
            "no chunk exceeds the chunk size"
        );
        let sent = sent_progress.lock().expect("lock").clone();
        assert_progress_climbs_to(&sent, len, Some(len as u64));
        client.close().await;
        test.shutdown().await;
    }

    async fn server_to_client_chunks_and_progress_are_seen_on_both_sides(t: Transport) {
        let server = Server::new();
        let (tx, mut rx) = mpsc::unbounded_channel::<Read>();
        let options = ClientOptions::new().on("download", move |body: IncomingStream| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(read_chunks(body).await);
            }
        });
        let test = TestServer::start(t, server.clone()).await;
        let client = test.connect(options).await;
        let len = MIB + 777;
        let sent_progress = Arc::new(Mutex::new(Vec::new()));
        let options = {
            let sent_progress = sent_progress.clone();
            // No total announced: the receiver's progress has none either.
            StreamOptions::new()
                .chunk_size(32 * 1024)
                .on_progress(move |p| sent_progress.lock().expect("lock").push(p))
        };
        within(
            "download",
            server.send_stream(client.id(), "download", patterned_pieces(len, 50_000), options),
        )
        .await
        .expect("the download is consumed");
        let (data, seen) = within("handler", rx.recv())
            .await
            .expect("the handler ran")
            .expect("every chunk");
        assert!(data == patterned_bytes(len), "chunks arrive in order, unchanged");
        assert_progress_climbs_to(&seen, len, None);
        let sent = sent_progress.lock().expect("lock").clone();
        assert_progress_climbs_to(&sent, len, None);
        client.close().await;
        test.shutdown().await;
    }

    async fn small_events_flow_while_a_stream_is_stalled_midway(t: Transport) {
        let server = Server::new();
        let (ticks_tx, mut ticks) = mpsc::unbounded_channel::<u32>();
        server.on("tick", move |Data(n): Data<u32>| {
            let ticks_tx = ticks_tx.clone();
            async move {
                let _ = ticks_tx.send(n);
            }
        });
        // The upload handler reads one chunk, then stops reading until the test
        // says go: the sender's window fills and the stream stalls.
        let (started_tx, started) = oneshot::channel::<()>();
        let (go_tx, go) = oneshot::channel::<()>();
        let (done_tx, mut done) = mpsc::unbounded_channel::<Result<Bytes, Error>>();
        let gate = Arc::new(Mutex::new(Some((started_tx, go))));
        server.on("upload", move |mut body: IncomingStream| {
            let gate = gate.lock().expect("lock").take();
            let done_tx = done_tx.clone();
            async move {
                let Some((started_tx, go)) = gate else { return };
                let first = body.next().await;
                let _ = started_tx.send(());
                let _ = go.await;
                let mut data = BytesMut::new();
                let result = async {
                    data.extend_from_slice(&first.ok_or(Error::Handler("the stream had no first chunk".into()))??);
                    while let Some(chunk) = body.next().await {
                        data.extend_from_slice(&chunk?);
                    }
                    Ok(data.freeze())
                }
                .await;
                let _ = done_tx.send(result);
            }
        });
        let test = TestServer::start(t, server.clone()).await;
        let client = test.connect(ClientOptions::new()).await;
        let sent = patterned_bytes(8 * MIB);
        let upload = {
            let (client, sent) = (client.clone(), sent.clone());
            tokio::spawn(async move {
                client
                    .send_bytes_streamed("upload", sent, StreamOptions::new().window(256 * 1024))
                    .await
            })
        };
        within("the first chunk", started)
            .await
            .expect("the upload handler started");
        for n in 0..20u32 {
            client.send("tick", &n).await.expect("tick queued");
        }
        for n in 0..20u32 {
            assert_eq!(within("a tick", ticks.recv()).await, Some(n));
        }
        assert!(
            !upload.is_finished(),
            "the ticks arrived while the stream was still stalled"
        );
        go_tx.send(()).expect("the handler waits");
        within("upload", upload)
            .await
            .expect("upload task")
            .expect("the upload completes");
        let got = within("handler", done.recv())
            .await
            .expect("the handler finished")
            .expect("a whole payload");
        assert!(got == sent, "content arrives unchanged");
        client.close().await;
        test.shutdown().await;
    }

    async fn streams_that_fit_in_one_chunk_complete_without_a_spurious_cancel(t: Transport) {
        let server = Server::new();
        server.on("upload", |body: IncomingStream| async move {
            body.into_bytes().await.map(|b| b.len() as u64)
        });
        let test = TestServer::start(t, server.clone()).await;
        let client = test.connect(ClientOptions::new()).await;
        for _ in 0..50 {
            within(
                "small upload",
                client.send_bytes_streamed("upload", patterned_bytes(1000), StreamOptions::new()),
            )
            .await
            .expect("a one-chunk stream completes");
        }
        client.close().await;
        test.shutdown().await;
    }

    async fn a_stream_over_the_maximum_length_is_refused_as_too_large(t: Transport) {
        let server = Server::builder().max_stream_len(MIB as u64).build();
        server.on("upload", |body: IncomingStream| async move {
            body.into_bytes().await.map(|b| b.len() as u64)
        });
        let test = TestServer::start(t, server.clone()).await;
        let client = test.connect(ClientOptions::new()).await;

        // Announced length over the limit: refused before any chunk is read.
        let err = within(
            "announced upload",
            client.send_bytes_streamed("upload", patterned_bytes(2 * MIB), StreamOptions::new()),
        )
        .await
        .expect_err("refused");
        assert!(is_remote(&err, ErrorCode::TooLarge), "{err:?}");
        assert!(err.to_string().contains("exceeds"), "clear message: {err}");

        // Unknown length: refused once the bytes pass the limit.
        let err = within(
            "unannounced upload",
            client.send_stream("upload", patterned_pieces(2 * MIB, 100_000), StreamOptions::new()),
        )
        .await
        .expect_err("refused");
        assert!(is_remote(&err, ErrorCode::TooLarge), "{err:?}");

        // The connection is still good for streams within the limit.
        within(
            "small upload",
            client.send_bytes_streamed("upload", patterned_bytes(1000), StreamOptions::new()),
        )
        .await
        .expect("a stream within the limit is accepted");
        client.close().await;
        test.shutdown().await;
    }

    async fn a_client_refuses_a_stream_over_its_maximum_as_too_large(t: Transport) {
        let server = Server::new();
        let options = ClientOptions::new()
            .max_stream_len(MIB as u64)
            .on("download", |body: IncomingStream| async move {
                body.into_bytes().await.map(|b| b.len() as u64)
            });
        let test = TestServer::start(t, server.clone()).await;
        let client = test.connect(options).await;
        let source = futures::stream::iter([Ok::<_, Infallible>(patterned_bytes(2 * MIB))]);
        let err = within(
            "download",
            server.send_stream(client.id(), "download", source, StreamOptions::new()),
        )
        .await
        .expect_err("refused");
        assert!(is_remote(&err, ErrorCode::TooLarge), "{err:?}");
        client.close().await;
        test.shutdown().await;
    }

    async fn a_stream_nobody_handles_is_refused_with_no_handler(t: Transport) {
        let server = Server::new();
        let test = TestServer::start(t, server.clone()).await;
        let client = test.connect(ClientOptions::new()).await;
        let err = within(
            "upload",
            client.send_bytes_streamed("nobody", patterned_bytes(100_000), StreamOptions::new()),
        )
        .await
        .expect_err("refused");
        assert!(is_remote(&err, ErrorCode::NoHandler), "{err:?}");

        let source = futures::stream::iter([Ok::<_, Infallible>(patterned_bytes(100_000))]);
        let err = within(
            "download",
            server.send_stream(client.id(), "nobody", source, StreamOptions::new()),
        )
        .await
        .expect_err("refused");
        assert!(is_remote(&err, ErrorCode::NoHandler), "{err:?}");
        client.close().await;
        test.shutdown().await;
    }

    async fn a_client_stream_cut_off_by_a_disconnect_is_an_error_on_the_server(t: Transport) {
        let server = Server::new();
        let (tx, mut rx) = mpsc::unbounded_channel();
        server.on("upload", move |body: IncomingStream| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body.into_bytes().await);
            }
        });
        let test = TestServer::start(t, server.clone()).await;
        let mut peer = RawPeer::connect(t, test.addr).await;
        peer.hello(Some("raw")).await;
        cut_off_stream(peer, "upload", MIB as u64).await;
        let result = within("handler", rx.recv()).await.expect("the handler ran");
        assert!(
            matches!(result, Err(Error::Closed(_))),
            "an error, not a short payload: {result:?}"
        );
        test.shutdown().await;
    }

    async fn a_server_stream_cut_off_by_a_disconnect_is_an_error_on_the_client(t: Transport) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let options = ClientOptions::new().on("download", move |body: IncomingStream| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body.into_bytes().await);
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let fake_server = async {
            let mut peer = RawPeer::accept(t, &listener).await;
            peer.welcome_the_hello().await;
            peer
        };
        let (client, peer) = tokio::join!(within("connect", t.connect(addr, options)), fake_server);
        let client = client.expect("the client connects to the fake server");
        cut_off_stream(peer, "download", MIB as u64).await;
        let result = within("handler", rx.recv()).await.expect("the handler ran");
        assert!(
            matches!(result, Err(Error::Closed(_))),
            "an error, not a short payload: {result:?}"
        );
        within("closed", client.closed()).await;
    }

    async fn a_stream_whose_source_fails_is_an_error_on_both_sides(t: Transport) {
        let server = Server::new();
        let (tx, mut rx) = mpsc::unbounded_channel();
        server.on("upload", move |body: IncomingStream| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body.into_bytes().await);
            }
        });
        let test = TestServer::start(t, server.clone()).await;
        let client = test.connect(ClientOptions::new()).await;
        let source = futures::stream::iter([
            Ok(patterned_bytes(100_000)),
            Err("the disk went away"),
            Ok(patterned_bytes(100_000)),
        ]);
        let err = within(
            "upload",
            client.send_stream("upload", source, StreamOptions::new()),
        )
        .await
        .expect_err("the sender reports its source's failure");
        assert!(err.to_string().contains("the disk went away"), "{err}");
        let result = within("handler", rx.recv()).await.expect("the handler ran");
        assert!(
            matches!(&result, Err(e) if is_remote(e, ErrorCode::Cancelled)),
            "an error, not a short payload: {result:?}"
        );
        client.close().await;
        test.shutdown().await;
    }
}
