//! TLS and WSS beyond the parity tests (which run every test over `tls`
//! and `wss` too): one server with all four transports, certificates a
//! client must refuse, and peers that never complete a TLS handshake.

use std::net::SocketAddr;
use std::time::Duration;

use hisock::{ClientInfo, ClientOptions, Data, Server, TransportKind};
use hisock_tcp::tls::{connect_tls, ClientTls, ServerTls, TlsError, TlsListener};
use hisock_test_support::{init_tracing, within, wss_url, TestCerts, Transport, WAIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Connects over TLS or WSS to `addr` with the client TLS settings `tls`.
async fn connect_with_tls(
    t: Transport,
    addr: SocketAddr,
    tls: ClientTls,
) -> hisock::Result<hisock::Client> {
    match t {
        Transport::Tls => connect_tls(&addr.to_string(), ClientOptions::new(), &tls).await,
        Transport::Wss => {
            let config = hisock_ws::WsConfig::new().tls(tls);
            hisock_ws::connect_with(wss_url(addr).as_str(), ClientOptions::new(), &config).await
        }
        other => panic!("{other:?} has no TLS"),
    }
}

/// Starts a TLS or WSS listener with `tls` on `server`.
async fn listen_with_tls(t: Transport, server: &Server, tls: ServerTls) -> SocketAddr {
    let addr = match t {
        Transport::Tls => server.listen(TlsListener::bind("127.0.0.1:0", tls).await.expect("bind")),
        Transport::Wss => server.listen(
            hisock_ws::WsListener::bind("127.0.0.1:0")
                .await
                .expect("bind")
                .with_tls(tls),
        ),
        other => panic!("{other:?} has no TLS"),
    };
    addr.expect("a bound listener has an address")
}

/// Reads whatever the server sends until it closes the connection; the
/// server must close it within [`WAIT`].
async fn expect_dropped(mut stream: TcpStream) {
    let mut sink = Vec::new();
    // A reset is a drop too.
    let _ = within("the server drops the peer", stream.read_to_end(&mut sink)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_server_serves_tcp_tls_ws_and_wss_clients_and_broadcasts_reach_all() {
    init_tracing();
    let server = Server::new();
    server.on("whoami", |who: ClientInfo| async move {
        who.transport.to_string()
    });
    let mut clients = Vec::new();
    for &t in Transport::ALL {
        let addr = t.listen(&server).await;
        let name = t.kind().to_string();
        let client = within(
            "connect",
            t.connect(addr, ClientOptions::new().name(name.as_str())),
        )
        .await
        .unwrap_or_else(|err| panic!("{t:?} client connects: {err}"));
        clients.push((t, client));
    }
    assert_eq!(clients.len(), 4, "tcp, tls, ws and wss");
    for (t, client) in &clients {
        let seen: String = client.request("whoami", &(), WAIT).await.expect("whoami");
        assert_eq!(seen, t.kind().to_string(), "the server sees {t:?}");
        let info = server.client(client.id()).expect("listed");
        assert_eq!(info.transport, t.kind());
    }
    let reached = server.to_all().emit("news", "to everyone").expect("emit");
    assert_eq!(reached, 4);
    for (t, client) in &clients {
        let news: String = client
            .recv("news", WAIT)
            .await
            .unwrap_or_else(|err| panic!("{t:?}: {err}"));
        assert_eq!(news, "to everyone");
    }
    for (_, client) in clients {
        client.close().await;
    }
    within("shutdown", server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_requests_flow_both_ways_over_tls_and_wss() {
    init_tracing();
    for t in [Transport::Tls, Transport::Wss] {
        let server = Server::new();
        server.on("add", |Data((a, b)): Data<(i64, i64)>| async move { a + b });
        let addr = t.listen(&server).await;
        let options = ClientOptions::new().on("double", |Data(n): Data<i64>| async move { n * 2 });
        let client = within("connect", t.connect(addr, options))
            .await
            .expect("connects");
        let sum: i64 = client
            .request("add", &(2, 3), WAIT)
            .await
            .expect("client asks");
        assert_eq!(sum, 5);
        let doubled: i64 = server
            .request(client.id(), "double", &21, WAIT)
            .await
            .expect("server asks");
        assert_eq!(doubled, 42);
        server
            .to_client(client.id())
            .emit("hello", "over TLS")
            .expect("emit");
        let hello: String = client.recv("hello", WAIT).await.expect("event arrives");
        assert_eq!(hello, "over TLS");
        assert_eq!(
            server.client(client.id()).map(|c| c.transport),
            Some(t.kind())
        );
        client.close().await;
        within("shutdown", server.shutdown()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_host_fails_the_connect_with_wrong_hostname() {
    init_tracing();
    let certs = TestCerts::generate_for(&["other.example"]);
    for t in [Transport::Tls, Transport::Wss] {
        let server = Server::new();
        let addr = listen_with_tls(t, &server, certs.server_tls()).await;
        let err = within("connect", connect_with_tls(t, addr, certs.client_tls()))
            .await
            .expect_err("a certificate for other.example is refused for 127.0.0.1");
        assert!(
            matches!(TlsError::find(&err), Some(TlsError::WrongHostname { host }) if host == "127.0.0.1"),
            "{t:?}: {err:?}"
        );
        assert!(
            err.to_string().contains("not valid for the hostname"),
            "{err}"
        );
        // The same certificate is accepted for the name it carries.
        let client = within(
            "connect by name",
            connect_with_tls(t, addr, certs.client_tls().server_name("other.example")),
        )
        .await
        .expect("the certificate's own name is accepted");
        client.close().await;
        within("shutdown", server.shutdown()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_an_untrusted_ca_fails_the_connect_with_untrusted() {
    init_tracing();
    let stranger = TestCerts::generate();
    for t in [Transport::Tls, Transport::Wss] {
        let server = Server::new();
        let addr = listen_with_tls(t, &server, stranger.server_tls()).await;
        // Another test CA, and the public roots: neither signed it.
        for trust in [TestCerts::shared().client_tls(), ClientTls::new()] {
            let err = within("connect", connect_with_tls(t, addr, trust))
                .await
                .expect_err("an unknown CA is refused");
            assert!(
                matches!(TlsError::find(&err), Some(TlsError::UntrustedCertificate)),
                "{t:?}: {err:?}"
            );
            assert!(
                err.to_string().contains("not signed by a trusted CA"),
                "{err}"
            );
        }
        within("shutdown", server.shutdown()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_peer_on_a_tls_port_is_dropped_and_counted_while_others_are_served() {
    init_tracing();
    for t in [Transport::Tls, Transport::Wss] {
        let server = Server::new();
        let tls = TestCerts::shared().server_tls();
        let addr = listen_with_tls(t, &server, tls.clone()).await;
        let before = within(
            "connect",
            connect_with_tls(t, addr, TestCerts::shared().client_tls()),
        )
        .await
        .expect("a TLS client connects");

        let mut plain = TcpStream::connect(addr).await.expect("tcp connect");
        let hello = match t {
            // A hisock hello behind its length prefix, as a TCP client sends it.
            Transport::Tls => b"\x00\x00\x00\x05hello".to_vec(),
            _ => b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n".to_vec(),
        };
        plain.write_all(&hello).await.expect("write");
        expect_dropped(plain).await;
        assert_eq!(tls.failed_handshakes(), 1, "{t:?}: the failure is counted");

        let after = within(
            "connect",
            connect_with_tls(t, addr, TestCerts::shared().client_tls()),
        )
        .await
        .expect("a TLS client still connects");
        let listed = after.list_clients(None).await.expect("list");
        assert_eq!(listed.len(), 2, "{t:?}: both TLS clients are served");
        before.close().await;
        after.close().await;
        within("shutdown", server.shutdown()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_on_a_tls_port_times_out_its_handshake_while_others_connect() {
    init_tracing();
    for t in [Transport::Tls, Transport::Wss] {
        let server = Server::new();
        // Short, so the test does not wait long; the server's own
        // handshake timeout (10 s) would end it too.
        let tls = TestCerts::shared()
            .server_tls()
            .handshake_timeout(Duration::from_millis(300));
        let addr = listen_with_tls(t, &server, tls.clone()).await;
        let silent = TcpStream::connect(addr).await.expect("tcp connect");
        // While the silent peer holds its handshake open, others connect.
        let clients = within("three clients connect beside the silent peer", async {
            let mut clients = Vec::new();
            for _ in 0..3 {
                clients.push(
                    connect_with_tls(t, addr, TestCerts::shared().client_tls())
                        .await
                        .expect("connects"),
                );
            }
            clients
        })
        .await;
        expect_dropped(silent).await;
        assert_eq!(tls.failed_handshakes(), 1, "{t:?}: the timeout is counted");
        assert_eq!(server.client_count(), 3);
        for client in clients {
            client.close().await;
        }
        within("shutdown", server.shutdown()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pem_files_load_and_bad_pem_says_what_is_wrong() {
    init_tracing();
    let dir = std::env::temp_dir().join(format!("hisock-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let certs = TestCerts::shared();
    let (ca, cert, key) = certs.write_to(&dir);
    let server = Server::new();
    let tls = ServerTls::from_pem_files(&cert, &key).expect("PEM files load");
    let addr = listen_with_tls(Transport::Tls, &server, tls).await;
    let trust = ClientTls::with_ca_file(&ca).expect("CA file loads");
    let client = within(
        "connect",
        connect_tls(&addr.to_string(), ClientOptions::new(), &trust),
    )
    .await
    .expect("connects with PEM files on both sides");
    assert_eq!(
        server.client(client.id()).map(|c| c.transport),
        Some(TransportKind::Tls)
    );
    client.close().await;
    within("shutdown", server.shutdown()).await;

    let err = ServerTls::from_pem(b"not a pem", certs.key_pem.as_bytes()).expect_err("no chain");
    assert!(err.to_string().contains("certificate chain"), "{err}");
    let err = ServerTls::from_pem(certs.cert_pem.as_bytes(), b"").expect_err("no key");
    assert!(err.to_string().contains("private key"), "{err}");
    let err = ClientTls::with_ca_pem(b"").expect_err("no CA");
    assert!(err.to_string().contains("CA"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
