//! [`FaultProxy`]: a loopback TCP proxy between clients and a server that
//! breaks connections on command. It relays bytes and knows nothing of
//! hisock, so it serves every transport (TCP, TLS, WebSocket, WSS): a
//! client connects to the proxy's address instead of the server's.
//!
//! Faults, on every connection or on the [`Link`]s a test picks:
//!
//! - **cut**: [`cut_all`](FaultProxy::cut_all) now;
//!   [`cut_random`](FaultProxy::cut_random) a random subset, each at a
//!   random point ([`CutAt::After`] a random number of bytes one way, so
//!   inside a frame as often as not); [`Link::cut`] one.
//! - **delay**: [`set_delay`](FaultProxy::set_delay) adds latency to every
//!   chunk relayed after the call, on every connection.
//! - **stall**: [`Link::stall`] stops relaying until [`Link::go_on`];
//!   [`Link::stall_for`] then goes on or cuts;
//!   [`stall_random`](FaultProxy::stall_random) does that to a random
//!   subset.
//! - **refuse**: [`refuse`](FaultProxy::refuse) hangs up on new
//!   connections at once, as a server that is down would.
//! - **another server**: [`set_target`](FaultProxy::set_target) sends
//!   new connections to another address, as a load balancer picking
//!   another node of a cluster would.
//!
//! Random choices come from a [`fastrand::Rng`] the test seeds, so a
//! failing run's fault plan can be replayed from its seed (the network's
//! timing cannot).

mod link;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use link::LinkState;
pub use link::{AfterStall, CutAt, Direction, Link, CUT_AT_THE_LATEST};

/// [`FaultProxy::cut_random`] cuts after at most this many more bytes in
/// the direction it picks: a few frames' worth of small events, so most
/// cuts fall inside a frame and soon.
pub const RANDOM_CUT_MAX_BYTES: usize = 512;

/// A loopback proxy that breaks connections on command (see the module
/// documentation). Dropping it stops accepting and cuts everything.
pub struct FaultProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    acceptor: JoinHandle<()>,
}

/// What the proxy's tasks share.
pub(crate) struct Inner {
    target: Mutex<SocketAddr>,
    /// Every link not yet pruned (finished ones are pruned as links come
    /// and go), in the order they were accepted.
    links: Mutex<Vec<Link>>,
    refusing: AtomicBool,
    /// Added latency per chunk, in nanoseconds.
    delay_nanos: AtomicU64,
    /// Shared with each [`Link`], which counts its own cut.
    cuts: Arc<AtomicUsize>,
    accepted: AtomicUsize,
}

impl Inner {
    fn delay(&self) -> Duration {
        Duration::from_nanos(self.delay_nanos.load(Ordering::Relaxed))
    }

    /// Where the next connection goes.
    pub(crate) fn target(&self) -> SocketAddr {
        *self
            .target
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_links(&self) -> std::sync::MutexGuard<'_, Vec<Link>> {
        // A test that panicked while holding it has failed already.
        self.links
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
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
            target: Mutex::new(target),
            links: Mutex::new(Vec::new()),
            refusing: AtomicBool::new(false),
            delay_nanos: AtomicU64::new(0),
            cuts: Arc::new(AtomicUsize::new(0)),
            accepted: AtomicUsize::new(0),
        });
        let acceptor = tokio::spawn(accept(listener, inner.clone()));
        Self {
            addr,
            inner,
            acceptor,
        }
    }

    /// Sends connections accepted from now on to `target` (open ones stay
    /// where they are).
    pub fn set_target(&self, target: SocketAddr) {
        *self
            .inner
            .target
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = target;
    }

    /// The connections open now, oldest first.
    pub fn links(&self) -> Vec<Link> {
        let mut links = self.inner.lock_links();
        links.retain(Link::is_open);
        links.clone()
    }

    /// Cuts every connection open now; returns how many.
    pub fn cut_all(&self) -> usize {
        self.links()
            .iter()
            .filter(|link| link.cut(CutAt::Now))
            .count()
    }

    /// Cuts `count` connections picked at random among those open (all of
    /// them when fewer are open), each at a random point: now, or after
    /// up to [`RANDOM_CUT_MAX_BYTES`] more bytes in a random direction.
    /// Returns how many were picked; each counts in [`cuts`](Self::cuts)
    /// when its cut happens.
    pub fn cut_random(&self, rng: &mut fastrand::Rng, count: usize) -> usize {
        let picked = pick(self.links(), rng, count);
        for link in &picked {
            link.cut(random_cut(rng));
        }
        picked.len()
    }

    /// Stalls `count` connections picked at random for `duration` each,
    /// then each goes on or is cut, as `then` says. Returns how many were
    /// picked.
    pub fn stall_random(
        &self,
        rng: &mut fastrand::Rng,
        count: usize,
        duration: Duration,
        then: AfterStall,
    ) -> usize {
        let picked = pick(self.links(), rng, count);
        for link in &picked {
            link.stall_for(duration, then);
        }
        picked.len()
    }

    /// Adds `delay` to every chunk relayed from now on, both ways, on every
    /// connection (`Duration::ZERO`: none). Chunks keep their order.
    pub fn set_delay(&self, delay: Duration) {
        let nanos = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
        self.inner.delay_nanos.store(nanos, Ordering::Relaxed);
    }

    /// While `refusing`, new connections are closed as soon as they are
    /// accepted (connections already open are not touched).
    pub fn refuse(&self, refusing: bool) {
        self.inner.refusing.store(refusing, Ordering::Relaxed);
    }

    /// Connections cut so far (by any fault).
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
        self.inner.lock_links().clear();
    }
}

/// `count` links of `links` picked at random (all of them when fewer).
fn pick(mut links: Vec<Link>, rng: &mut fastrand::Rng, count: usize) -> Vec<Link> {
    rng.shuffle(&mut links);
    links.truncate(count);
    links
}

/// A random cut: now one time in eight, otherwise after up to
/// [`RANDOM_CUT_MAX_BYTES`] more bytes one way or the other.
fn random_cut(rng: &mut fastrand::Rng) -> CutAt {
    if rng.u8(..8) == 0 {
        return CutAt::Now;
    }
    let direction = match rng.bool() {
        true => Direction::ToServer,
        false => Direction::ToClient,
    };
    CutAt::After {
        direction,
        bytes: rng.usize(..=RANDOM_CUT_MAX_BYTES),
    }
}

async fn accept(listener: TcpListener, inner: Arc<Inner>) {
    let mut next_id = 0;
    while let Ok((client, _)) = listener.accept().await {
        inner.accepted.fetch_add(1, Ordering::Relaxed);
        if inner.refusing.load(Ordering::Relaxed) {
            drop(client);
            continue;
        }
        let state = Arc::new(LinkState::new());
        let task = tokio::spawn(link::relay(client, inner.clone(), state.clone()));
        let link = Link {
            id: next_id,
            state,
            task: task.abort_handle(),
            cuts: inner.cuts.clone(),
        };
        next_id += 1;
        let mut links = inner.lock_links();
        links.retain(Link::is_open);
        links.push(link);
    }
}
