//! Checks made at the HTTP upgrade, before any WebSocket traffic: allowed
//! origins and the upgrade hook answer with an HTTP status, never a hang.

use hisock::{codes, ClientOptions, Error, Server};
use hisock_test_support::{listen_ws_with, within, ws_url, RawWsPeer, WAIT};
use hisock_ws::http::{header, HeaderValue, StatusCode};
use hisock_ws::{IntoClientRequest, WsConfig};
use tokio_tungstenite::tungstenite;

fn request_with(
    addr: std::net::SocketAddr,
    name: header::HeaderName,
    value: &'static str,
) -> tungstenite::handshake::client::Request {
    let mut request = ws_url(addr).into_client_request().expect("request");
    request
        .headers_mut()
        .insert(name, HeaderValue::from_static(value));
    request
}

fn origin_config() -> WsConfig {
    WsConfig::new().allow_origin("https://good.example")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disallowed_origin_gets_http_403() {
    let server = Server::new();
    let addr = listen_ws_with(&server, origin_config()).await;
    let request = request_with(addr, header::ORIGIN, "https://evil.example");
    match RawWsPeer::connect_request(addr, request).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                .into_owned();
            assert!(body.contains("evil.example"), "body says why: {body:?}");
        }
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("a disallowed origin was upgraded"),
    }
    assert_eq!(server.client_count(), 0);
    within("shutdown", server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_origin_and_no_origin_are_upgraded() {
    let server = Server::new();
    let addr = listen_ws_with(&server, origin_config()).await;
    let request = request_with(addr, header::ORIGIN, "https://good.example");
    let allowed = hisock_ws::connect_with(request, ClientOptions::new(), &WsConfig::new())
        .await
        .expect("allowed origin joins");
    // Native clients send no Origin header at all.
    let native = hisock_ws::connect(&ws_url(addr), ClientOptions::new())
        .await
        .expect("client without an origin joins");
    assert_eq!(server.client_count(), 2);
    allowed.close().await;
    native.close().await;
    within("shutdown", server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_hook_refuses_with_its_status_and_reason() {
    let server = Server::new();
    let config = WsConfig::new().check_upgrade(|request| {
        match request.headers().get(header::AUTHORIZATION) {
            Some(token) if token == "Bearer sesame" => Ok(()),
            _ => Err((
                StatusCode::UNAUTHORIZED,
                "a bearer token is required".into(),
            )),
        }
    });
    let addr = listen_ws_with(&server, config).await;

    let refused = hisock_ws::connect(&ws_url(addr), ClientOptions::new()).await;
    match refused {
        Err(Error::Refused(reason)) => {
            assert_eq!(reason.code, codes::AUTH_REFUSED);
            assert!(reason.reason.contains("401"), "{reason:?}");
            assert!(
                reason.reason.contains("a bearer token is required"),
                "{reason:?}"
            );
        }
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("joined without a token"),
    }

    let request = request_with(addr, header::AUTHORIZATION, "Bearer sesame");
    let client = hisock_ws::connect_with(request, ClientOptions::new(), &WsConfig::new())
        .await
        .expect("joins with the token");
    assert!(server.client(client.id()).is_some());
    client.close().await;
    within("shutdown", server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_auth_hook_still_runs_after_the_upgrade() {
    let server = Server::new();
    server.auth(|request| async move {
        match request.data::<String>() {
            Ok(Some(password)) if password == "open" => Ok(()),
            _ => Err("wrong password".to_string()),
        }
    });
    let addr = listen_ws_with(&server, WsConfig::new()).await;
    let refused = hisock_ws::connect(
        &ws_url(addr),
        ClientOptions::new().auth("closed").expect("auth data"),
    )
    .await;
    match refused {
        Err(Error::Refused(reason)) => {
            assert_eq!(reason.code, codes::AUTH_REFUSED);
            assert_eq!(reason.reason, "wrong password");
        }
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("joined with a wrong password"),
    }
    let client = hisock_ws::connect(
        &ws_url(addr),
        ClientOptions::new().auth("open").expect("auth data"),
    )
    .await
    .expect("joins with the right password");
    client.close().await;
    within("shutdown", server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_that_is_not_ws_or_wss_is_refused_with_a_clear_error() {
    match hisock_ws::connect("http://127.0.0.1:1/", ClientOptions::new()).await {
        Err(Error::InvalidAddress { reason, .. }) => assert!(reason.contains("wss://"), "{reason}"),
        Err(other) => panic!("expected an address error, got {other}"),
        Ok(_) => panic!("connected to nothing"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_peer_is_dropped_after_the_handshake_timeout() {
    use tokio::io::AsyncReadExt;
    let server = Server::builder()
        .handshake_timeout(std::time::Duration::from_millis(200))
        .build();
    let addr = listen_ws_with(&server, WsConfig::new()).await;
    // Connect and never send the upgrade request.
    let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut buf = [0u8; 16];
    let read = within("server drops the silent peer", socket.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "expected the socket to close, got {read:?}"
    );
    within("shutdown", server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_gives_up_on_a_server_that_never_answers_the_upgrade() {
    let mute = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = mute.local_addr().expect("address");
    let holder = tokio::spawn(async move {
        let (socket, _) = mute.accept().await.expect("accept");
        // Hold the socket open without answering.
        tokio::time::sleep(WAIT).await;
        drop(socket);
    });
    let config = WsConfig::new().connect_timeout(std::time::Duration::from_millis(200));
    let result = within(
        "connect times out",
        hisock_ws::connect_with(ws_url(addr), ClientOptions::new(), &config),
    )
    .await;
    assert!(
        matches!(result, Err(Error::Timeout(_))),
        "expected a timeout, got {:?}",
        result.err()
    );
    holder.abort();
}
