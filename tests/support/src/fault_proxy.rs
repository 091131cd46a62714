//! [`FaultProxy`]: a loopback TCP proxy between clients and a server that
//! breaks connections on command. It relays bytes and knows nothing of
//! hisock, so it serves every transport (TCP, TLS, WebSocket, WSS): a
//! client connects to the proxy's address instead of the server's.
//!
//! Faults: [`cut_all`](FaultProxy::cut_all) drops every open connection at
//! once (both sockets closed, whatever was in flight lost), and
//! [`refuse`](FaultProxy::refuse) makes it hang up on new connections at
//! once, as a server that is down would, until told otherwise.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A loopback proxy that cuts connections on command (see the module
/// documentation). Dropping it stops accepting and cuts everything.
pub struct FaultProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    acceptor: JoinHandle<()>,
}

struct Inner {
    target: SocketAddr,
    /// The relay task of every connection (finished ones are pruned on
    /// each cut).
    relays: Mutex<Vec<JoinHandle<()>>>,
    refusing: AtomicBool,
    cuts: AtomicUsize,
    accepted: AtomicUsize,
}

impl FaultProxy {
    /// A proxy on `127.0.0.1:0` in front of the server at `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy on 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let inner = Arc::new(Inner {
            target,
            relays: Mutex::new(Vec::new()),
            refusing: AtomicBool::new(false),
            cuts: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
        });
        let acceptor = tokio::spawn(accept(listener, inner.clone()));
        Self {
            addr,
            inner,
            acceptor,
        }
    }

    /// Cuts every connection open now; returns how many.
    pub fn cut_all(&self) -> usize {
        let relays = std::mem::take(&mut *self.inner.relays.lock().expect("relays"));
        let mut cut = 0;
        for relay in relays {
            if !relay.is_finished() {
                cut += 1;
            }
            relay.abort();
        }
        self.inner.cuts.fetch_add(cut, Ordering::Relaxed);
        cut
    }

    /// While `refusing`, new connections are closed as soon as they are
    /// accepted (connections already open are not touched).
    pub fn refuse(&self, refusing: bool) {
        self.inner.refusing.store(refusing, Ordering::Relaxed);
    }

    /// Connections cut so far.
    pub fn cuts(&self) -> usize {
        self.inner.cuts.load(Ordering::Relaxed)
    }

    /// Connections accepted so far (refused ones included).
    pub fn accepted(&self) -> usize {
        self.inner.accepted.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        self.cut_all();
    }
}

async fn accept(listener: TcpListener, inner: Arc<Inner>) {
    while let Ok((client, _)) = listener.accept().await {
        inner.accepted.fetch_add(1, Ordering::Relaxed);
        if inner.refusing.load(Ordering::Relaxed) {
            drop(client);
            continue;
        }
        let relay = tokio::spawn(relay(client, inner.target));
        let mut relays = inner.relays.lock().expect("relays");
        relays.retain(|relay| !relay.is_finished());
        relays.push(relay);
    }
}

/// Copies bytes both ways until either side ends (or the task is aborted:
/// a cut, which drops both sockets).
async fn relay(mut client: TcpStream, target: SocketAddr) {
    let Ok(mut server) = TcpStream::connect(target).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}
