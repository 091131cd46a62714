//! The hisock endpoint mounted as a route in an axum app (feature `axum`):
//! same server as a TCP listener, same checks and close codes as the
//! stand-alone WebSocket listener.
#![cfg(feature = "axum")]

use std::net::SocketAddr;

use axum::routing::get;
use axum::Router;
use hisock::{codes, ClientOptions, Data, Server, TransportKind};
use hisock_test_support::{within, RawWsPeer, TestCerts, WsClosed, WAIT};
use hisock_ws::http::{header, HeaderValue, StatusCode};
use hisock_ws::{IntoClientRequest, WsConfig};
use tokio_tungstenite::tungstenite;

/// Serves an axum app with `/` (plain HTTP) and `/ws` (hisock) on
/// 127.0.0.1, with peer addresses available through `ConnectInfo`.
async fn serve_app(server: &Server, config: WsConfig) -> SocketAddr {
    let app = Router::new()
        .route("/", get(|| async { "plain http still works" }))
        .route(
            "/ws",
            hisock_ws::axum::route_with_config(server.clone(), config),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_mounted_endpoint_serves_ws_clients_beside_tcp_clients() {
    let server = Server::new();
    server.on("double", |Data(n): Data<i64>| async move { n * 2 });
    let tcp_addr = server
        .listen(
            hisock_tcp::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind tcp"),
        )
        .expect("tcp address");
    let http_addr = serve_app(&server, WsConfig::new()).await;

    let web = hisock_ws::connect(
        &format!("ws://{http_addr}/ws"),
        ClientOptions::new().name("web").group("room"),
    )
    .await
    .expect("ws client joins through axum");
    let native = hisock_tcp::connect(tcp_addr, ClientOptions::new().name("native").group("room"))
        .await
        .expect("tcp client joins");

    let doubled: i64 = web.request("double", &4, WAIT).await.expect("reply");
    assert_eq!(doubled, 8);
    assert_eq!(
        server.to_group("room").emit("news", "both").expect("emit"),
        2
    );
    for client in [&web, &native] {
        let news: String = client.recv("news", WAIT).await.expect("news");
        assert_eq!(news, "both");
    }

    let info = server.client(web.id()).expect("listed");
    assert_eq!(info.transport, TransportKind::Ws);
    // The peer address comes from axum's ConnectInfo.
    assert_eq!(info.addr, web.local_addr());
    assert!(info.addr.is_some());

    web.close().await;
    native.close().await;
    within("shutdown", server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_route_refuses_disallowed_origin_with_403() {
    let server = Server::new();
    let addr = serve_app(
        &server,
        WsConfig::new().allow_origin("https://good.example"),
    )
    .await;
    let mut request = format!("ws://{addr}/ws")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        header::ORIGIN,
        HeaderValue::from_static("https://evil.example"),
    );
    match RawWsPeer::connect_request(addr, request).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::FORBIDDEN)
        }
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("a disallowed origin was upgraded"),
    }
    let mut request = format!("ws://{addr}/ws")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        header::ORIGIN,
        HeaderValue::from_static("https://good.example"),
    );
    let client = hisock_ws::connect_with(request, ClientOptions::new(), &WsConfig::new())
        .await
        .expect("allowed origin joins");
    client.close().await;
    within("shutdown", server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_route_closes_text_and_oversized_messages_with_their_codes() {
    let server = Server::builder().max_frame_len(1024).build();
    let addr = serve_app(&server, WsConfig::new()).await;

    let (mut texter, _) = RawWsPeer::join_at(addr, "/ws", "texter").await;
    texter.send_text("hi").await;
    assert_eq!(
        texter.read_until_closed().await,
        WsClosed {
            hisock_code: Some(codes::UNSUPPORTED_DATA),
            ws_code: Some(codes::UNSUPPORTED_DATA),
        }
    );

    let (mut big, _) = RawWsPeer::join_at(addr, "/ws", "big").await;
    big.send_binary(vec![0u8; 1500]).await;
    assert_eq!(
        big.read_until_closed().await,
        WsClosed {
            hisock_code: Some(codes::TOO_BIG),
            ws_code: Some(codes::TOO_BIG),
        }
    );
    within("shutdown", server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_app_served_over_tls_by_axum_server_serves_wss_clients() {
    let server = Server::new();
    server.on("double", |Data(n): Data<i64>| async move { n * 2 });
    let certs = TestCerts::shared();
    let app = Router::new()
        .route("/", get(|| async { "plain https still works" }))
        .route(
            "/ws",
            hisock_ws::axum::route_behind_tls(server.clone(), WsConfig::new()),
        );
    // axum-server's rustls acceptor with the config a ServerTls built from
    // the PEM certificate and key.
    let rustls =
        axum_server::tls_rustls::RustlsConfig::from_config(certs.server_tls().config().clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("address");
    let handle = axum_server::Handle::new();
    let serving = tokio::spawn(
        axum_server::from_tcp_rustls(listener, rustls)
            .handle(handle.clone())
            .serve(app.into_make_service_with_connect_info::<SocketAddr>()),
    );

    let config = WsConfig::new().tls(certs.client_tls());
    let client = within(
        "wss client joins through axum-server",
        hisock_ws::connect_with(
            format!("wss://localhost:{}/ws", addr.port()).as_str(),
            ClientOptions::new(),
            &config,
        ),
    )
    .await
    .expect("joins over wss");
    let doubled: i64 = client.request("double", &21, WAIT).await.expect("request");
    assert_eq!(doubled, 42);
    let info = server.client(client.id()).expect("listed");
    assert_eq!(info.transport, TransportKind::Wss);
    assert!(info.addr.is_some(), "ConnectInfo gives the address");

    // A client that does not trust the test CA is refused by TLS.
    let err = hisock_ws::connect(
        &format!("wss://localhost:{}/ws", addr.port()),
        ClientOptions::new(),
    )
    .await
    .expect_err("the public roots do not trust the test CA");
    assert!(
        err.to_string().contains("not signed by a trusted CA"),
        "{err}"
    );

    client.close().await;
    within("shutdown", server.shutdown()).await;
    handle.shutdown();
    let _ = within("axum-server stops", serving).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_mounted_endpoint_agrees_on_batches_when_offered() {
    use hisock::frame::Frame;
    let server = Server::new();
    server.on("double", |Data(n): Data<i64>| async move { n * 2 });
    let http_addr = serve_app(&server, WsConfig::new()).await;
    let mut peer = RawWsPeer::connect_offering_batches(http_addr, "/ws").await;
    peer.send(&hisock_test_support::raw::handshake::hello(None))
        .await;
    let (frames, was_batch) = peer.read_frames().await.expect("the welcome");
    assert!(
        was_batch,
        "the server agrees with a first message that is a batch"
    );
    assert!(matches!(
        Frame::decode(&frames[0]),
        Ok(Frame::Welcome { .. })
    ));
    // Two requests in one message (MessagePack 3 and 4); both answered.
    let request = |request_id, payload| Frame::Event {
        command: "double",
        request_id,
        payload,
    };
    peer.send_batch(&[request(1, &[3]), request(2, &[4])]).await;
    let mut replies = Vec::new();
    while replies.len() < 2 {
        let (frames, _) = peer.read_frames().await.expect("the replies");
        for frame in frames {
            if let Ok(Frame::Reply {
                request_id,
                payload,
            }) = Frame::decode(&frame)
            {
                replies.push((request_id, payload.to_vec()));
            }
        }
    }
    replies.sort();
    assert_eq!(replies, [(1, vec![6]), (2, vec![8])]);
    within("shutdown", server.shutdown()).await;
}
