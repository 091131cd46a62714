//! A native client that cannot reach a hisock server says where and why,
//! in words: nothing listening, an address without a port, a peer that is
//! no hisock server (silent, HTTP, a TCP port where a WebSocket was
//! expected).

use std::time::Duration;

use hisock::{ClientOptions, Error, Server};
use hisock_test_support::{within, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The `to` and `reason` of a connect error; panics on anything else.
fn connect_error<T: std::fmt::Debug>(result: hisock::Result<T>) -> (String, String) {
    match result {
        Err(Error::Connect { to, reason }) => {
            eprintln!("cannot connect to {to}: {reason}");
            (to, reason)
        }
        other => panic!("expected Error::Connect, got {other:?}"),
    }
}

/// A loopback address nothing listens on.
async fn free_addr() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address")
}

/// A TCP server that answers every connection with `answer` (or with
/// nothing, holding it open) and never speaks hisock.
async fn foreign_server(answer: &'static [u8]) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = socket.read(&mut buf).await;
                if !answer.is_empty() {
                    let _ = socket.write_all(answer).await;
                    let _ = socket.shutdown().await;
                }
                tokio::time::sleep(Duration::from_secs(10)).await;
            });
        }
    });
    addr
}

const HTTP_404: &[u8] =
    b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\nconnection: close\r\n\r\nnot found";

#[tokio::test]
async fn tcp_connect_to_nothing_names_the_address() {
    let addr = free_addr().await;
    let (to, reason) = connect_error(hisock_tcp::connect(addr, ClientOptions::new()).await);
    assert_eq!(to, addr.to_string());
    assert!(reason.contains("nothing accepts connections"), "{reason}");
}

#[tokio::test]
async fn tcp_connect_without_a_port_says_the_port_is_missing() {
    let (to, reason) = connect_error(hisock_tcp::connect("127.0.0.1", ClientOptions::new()).await);
    assert_eq!(to, "127.0.0.1");
    assert!(reason.contains("port is missing"), "{reason}");
    let Err(err) = hisock_tcp::connect("127.0.0.1", ClientOptions::new()).await else {
        panic!("connecting without a port fails");
    };
    assert_eq!(
        err.to_string(),
        format!("cannot connect to 127.0.0.1: {reason}"),
        "Display names the address once, then the reason"
    );
}

#[tokio::test]
async fn tcp_connect_to_a_silent_server_says_the_handshake_got_no_answer() {
    let addr = foreign_server(b"").await;
    let options = ClientOptions::new().handshake_timeout(Duration::from_millis(300));
    let (to, reason) = connect_error(within("connect", hisock_tcp::connect(addr, options)).await);
    assert_eq!(to, addr.to_string());
    assert!(
        reason.contains("no answer to the hisock handshake within 300 ms"),
        "{reason}"
    );
    assert!(reason.contains("a hisock TCP port"), "{reason}");
}

#[tokio::test]
async fn tcp_connect_to_an_http_server_says_it_is_no_hisock_server() {
    let addr = foreign_server(HTTP_404).await;
    let (to, reason) =
        connect_error(within("connect", hisock_tcp::connect(addr, ClientOptions::new())).await);
    assert_eq!(to, addr.to_string());
    assert!(reason.contains("no hisock frame"), "{reason}");
    assert!(reason.contains("is it a hisock TCP port?"), "{reason}");
}

#[tokio::test]
async fn ws_connect_to_nothing_names_the_url() {
    let addr = free_addr().await;
    let url = format!("ws://{addr}/");
    let (to, reason) = connect_error(hisock_ws::connect(&url, ClientOptions::new()).await);
    assert_eq!(to, url);
    assert!(reason.contains("nothing accepts connections"), "{reason}");
}

#[tokio::test]
async fn ws_connect_to_an_http_server_names_the_status() {
    let addr = foreign_server(HTTP_404).await;
    let url = format!("ws://{addr}/");
    let (to, reason) =
        connect_error(within("connect", hisock_ws::connect(&url, ClientOptions::new())).await);
    assert_eq!(to, url);
    assert!(reason.contains("404"), "{reason}");
    assert!(reason.contains("hisock WebSocket endpoint"), "{reason}");
}

#[tokio::test]
async fn ws_connect_to_a_hisock_tcp_port_says_so() {
    let server = Server::new();
    let addr = Transport::Tcp.listen(&server).await;
    let url = format!("ws://{addr}/");
    let (to, reason) =
        connect_error(within("connect", hisock_ws::connect(&url, ClientOptions::new())).await);
    assert_eq!(to, url);
    assert!(
        reason.contains("is a hisock TCP port, not a WebSocket endpoint"),
        "{reason}"
    );
    let _ = server.shutdown().await;
}

/// An HTTP client at a hisock TCP port gets an HTTP answer that says what
/// the port is (readable by any page: CORS), and the port goes on serving
/// hisock clients.
#[tokio::test]
async fn an_http_request_at_a_tcp_port_is_answered_in_words() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::new();
    let addr = Transport::Tcp.listen(&server).await;
    let mut http = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    http.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("writes");
    let mut answer = String::new();
    within("the answer", http.read_to_string(&mut answer))
        .await
        .expect("reads to the end");
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(
        answer.contains("\r\nAccess-Control-Allow-Origin: *\r\n"),
        "{answer}"
    );
    assert!(answer.contains("\r\nX-Hisock: tcp\r\n"), "{answer}");
    assert!(
        answer.ends_with(&format!("{}\n", hisock_tcp::TCP_PORT_NOTICE)),
        "{answer}"
    );
    let client = Transport::Tcp
        .connect(addr, ClientOptions::new())
        .await
        .expect("a hisock client still connects");
    client.close().await;
    let _ = server.shutdown().await;
}
