//! The proxy itself, over real sockets: a plain TCP echo server behind it,
//! and bytes that must arrive whole, cut short, late or not at all.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::*;
use crate::{patterned_bytes, within};

/// A TCP server that echoes everything back, and reports each
/// connection's bytes (all it read before its end) once it ends.
async fn echo_server() -> (SocketAddr, mpsc::UnboundedReceiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let (report, reports) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let report = report.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = socket.read(&mut buf).await {
                    seen.extend_from_slice(&buf[..n]);
                    if socket.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = report.send(seen);
            });
        }
    });
    (addr, reports)
}

/// Waits until the proxy has `n` open links and returns them.
async fn open_links(proxy: &FaultProxy, n: usize) -> Vec<Link> {
    within("the proxy's links", async {
        loop {
            let links = proxy.links();
            if links.len() == n {
                return links;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

/// Reads until the end of stream or an error (a reset): what arrived.
async fn read_to_end(socket: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let _ = within("the end of the stream", socket.read_to_end(&mut got)).await;
    got
}

async fn echo_back(socket: &mut TcpStream, bytes: &[u8]) -> Vec<u8> {
    socket.write_all(bytes).await.expect("write");
    let mut back = vec![0; bytes.len()];
    within("the echo", socket.read_exact(&mut back))
        .await
        .expect("echoed");
    back
}

#[tokio::test]
async fn bytes_cross_both_ways_unchanged() {
    let (server, _) = echo_server().await;
    let proxy = FaultProxy::start(server).await;
    let mut client = TcpStream::connect(proxy.addr).await.expect("connect");
    let bytes = patterned_bytes(300_000);
    assert!(echo_back(&mut client, &bytes).await == bytes);
    assert_eq!(proxy.cuts(), 0);
    assert_eq!(proxy.accepted(), 1);
}

#[tokio::test]
async fn a_cut_now_ends_both_sides_and_is_counted() {
    let (server, mut reports) = echo_server().await;
    let proxy = FaultProxy::start(server).await;
    let mut client = TcpStream::connect(proxy.addr).await.expect("connect");
    assert_eq!(echo_back(&mut client, b"ping").await, b"ping");

    assert_eq!(proxy.cut_all(), 1);
    assert!(read_to_end(&mut client).await.is_empty());
    let seen = within("the server's end", reports.recv()).await;
    assert_eq!(seen.as_deref(), Some(&b"ping"[..]));
    assert_eq!(proxy.cuts(), 1);
    assert!(proxy.links().is_empty());
}

/// The cut falls exactly `bytes` into the stream, here inside what the
/// client wrote in one piece (as it would inside a frame).
#[tokio::test]
async fn a_cut_after_n_bytes_lets_exactly_n_through() {
    let (server, mut reports) = echo_server().await;
    let proxy = FaultProxy::start(server).await;
    let mut client = TcpStream::connect(proxy.addr).await.expect("connect");
    let [link] = open_links(&proxy, 1).await.try_into().expect("one link");
    assert!(link.cut(CutAt::After {
        direction: Direction::ToServer,
        bytes: 5,
    }));

    client.write_all(b"hello, world").await.expect("write");
    let seen = within("the server's end", reports.recv()).await;
    assert_eq!(seen.as_deref(), Some(&b"hello"[..]));
    let echoed = read_to_end(&mut client).await;
    assert!(b"hello".starts_with(&echoed), "{echoed:?}");
    assert!(!link.is_open());
    assert_eq!(proxy.cuts(), 1);
}

/// The same toward the client: the server's reply is cut short.
#[tokio::test]
async fn a_cut_toward_the_client_cuts_the_reply_short() {
    let (server, _) = echo_server().await;
    let proxy = FaultProxy::start(server).await;
    let mut client = TcpStream::connect(proxy.addr).await.expect("connect");
    let [link] = open_links(&proxy, 1).await.try_into().expect("one link");
    link.cut(CutAt::After {
        direction: Direction::ToClient,
        bytes: 3,
    });

    client.write_all(b"abcdef").await.expect("write");
    assert_eq!(read_to_end(&mut client).await, b"abc");
    assert_eq!(proxy.cuts(), 1);
}

/// A planned cut on a link where nothing flows still happens.
#[tokio::test]
async fn a_planned_cut_on_an_idle_link_happens_anyway() {
    let (server, _) = echo_server().await;
    let proxy = FaultProxy::start(server).await;
    let mut client = TcpStream::connect(proxy.addr).await.expect("connect");
    let [link] = open_links(&proxy, 1).await.try_into().expect("one link");
    link.cut(CutAt::After {
        direction: Direction::ToClient,
        bytes: 100,
    });
    assert!(read_to_end(&mut client).await.is_empty());
    assert_eq!(proxy.cuts(), 1);
}

#[tokio::test]
async fn cut_random_cuts_that_many_links_and_spares_the_rest() {
    let (server, _) = echo_server().await;
    let proxy = FaultProxy::start(server).await;
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(TcpStream::connect(proxy.addr).await.expect("connect"));
    }
    open_links(&proxy, 5).await;

    let mut rng = fastrand::Rng::with_seed(7);
    assert_eq!(proxy.cut_random(&mut rng, 3), 3);
    // Traffic on every link, so that cuts planned after some bytes happen.
    let mut spared = 0;
    for client in &mut clients {
        let _ = client.write_all(&patterned_bytes(2000)).await;
        let mut back = vec![0; 2000];
        if within("echo or end", client.read_exact(&mut back))
            .await
            .is_ok()
        {
            spared += 1;
        }
    }
    assert_eq!(spared, 2);
    within("the cuts counted", async {
        while proxy.cuts() < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(proxy.cuts(), 3);
    assert_eq!(proxy.links().len(), 2);
    assert_eq!(proxy.cut_random(&mut rng, 10), 2, "only two were left");
}

#[tokio::test]
async fn a_stalled_link_holds_its_bytes_until_it_goes_on() {
    let (server, _) = echo_server().await;
    let proxy = FaultProxy::start(server).await;
    let mut client = TcpStream::connect(proxy.addr).await.expect("connect");
    let [link] = open_links(&proxy, 1).await.try_into().expect("one link");

    link.stall();
    client.write_all(b"held").await.expect("write");
    let mut back = [0u8; 4];
    // Nothing comes while stalled (a slow machine only makes this surer).
    let early = tokio::time::timeout(Duration::from_millis(200), client.read(&mut back)).await;
    assert!(early.is_err(), "read during the stall: {early:?}");

    link.go_on();
    within("the held bytes", client.read_exact(&mut back))
        .await
        .expect("relayed after the stall");
    assert_eq!(&back, b"held");
    assert_eq!(proxy.cuts(), 0);
}

#[tokio::test]
async fn a_stall_that_ends_in_a_cut_loses_what_waited() {
    let (server, mut reports) = echo_server().await;
    let proxy = FaultProxy::start(server).await;
    let mut client = TcpStream::connect(proxy.addr).await.expect("connect");
    let [link] = open_links(&proxy, 1).await.try_into().expect("one link");

    link.stall_for(Duration::from_millis(50), AfterStall::Cut);
    client.write_all(b"lost").await.expect("write");
    assert!(read_to_end(&mut client).await.is_empty());
    let seen = within("the server's end", reports.recv()).await;
    assert_eq!(seen.as_deref(), Some(&b""[..]));
    assert_eq!(proxy.cuts(), 1);
}

#[tokio::test]
async fn stall_random_then_go_on_loses_nothing() {
    let (server, _) = echo_server().await;
    let proxy = FaultProxy::start(server).await;
    let mut client = TcpStream::connect(proxy.addr).await.expect("connect");
    open_links(&proxy, 1).await;
    let mut rng = fastrand::Rng::with_seed(1);
    let stalled = proxy.stall_random(&mut rng, 4, Duration::from_millis(50), AfterStall::GoOn);
    assert_eq!(stalled, 1);
    let bytes = patterned_bytes(100_000);
    assert!(echo_back(&mut client, &bytes).await == bytes);
    assert_eq!(proxy.cuts(), 0);
}

/// A delay holds every chunk at least that long, and keeps them whole and
/// in order. (Only a lower bound, which no machine's slowness can break.)
#[tokio::test]
async fn a_delay_holds_each_chunk_and_keeps_the_order() {
    let (server, _) = echo_server().await;
    let proxy = FaultProxy::start(server).await;
    let mut client = TcpStream::connect(proxy.addr).await.expect("connect");
    let delay = Duration::from_millis(100);
    proxy.set_delay(delay);

    let started = std::time::Instant::now();
    let bytes = patterned_bytes(200_000);
    assert!(echo_back(&mut client, &bytes).await == bytes);
    // There and back: two delays at least.
    assert!(started.elapsed() >= delay * 2);

    proxy.set_delay(Duration::ZERO);
    assert_eq!(echo_back(&mut client, b"now").await, b"now");
}

#[tokio::test]
async fn a_refusing_proxy_hangs_up_on_new_connections_only() {
    let (server, _) = echo_server().await;
    let proxy = FaultProxy::start(server).await;
    let mut before = TcpStream::connect(proxy.addr).await.expect("connect");
    open_links(&proxy, 1).await;

    proxy.refuse(true);
    let mut refused = TcpStream::connect(proxy.addr).await.expect("accepted");
    assert!(read_to_end(&mut refused).await.is_empty());
    assert_eq!(echo_back(&mut before, b"still").await, b"still");

    proxy.refuse(false);
    let mut after = TcpStream::connect(proxy.addr).await.expect("connect");
    assert_eq!(echo_back(&mut after, b"back").await, b"back");
    assert_eq!(proxy.accepted(), 3);
}
