//! One connection through the [`FaultProxy`](super::FaultProxy): two pumps
//! (client → server, server → client) that relay chunks of bytes, and the
//! faults a test sets on them while they run: a cut now or after so many
//! more bytes in one direction (so it can fall inside a frame), a stall,
//! and the proxy's added latency per chunk.
//!
//! Each pump is a reader and a writer joined by a small channel: the reader
//! stamps each chunk with the time it is due (read time + the delay then
//! set), the writer waits for that time, for a stall to end, and for its
//! cut budget, then writes. So a delay adds latency without throttling the
//! stream, and chunks stay in order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::Inner;

/// Which way bytes go through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the client to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

impl Direction {
    fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }
}

/// Where a cut falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutAt {
    /// At once: both sockets are closed, whatever was in flight is lost.
    Now,
    /// After `bytes` more bytes went `direction` (0: nothing more goes that
    /// way), so the cut falls wherever those bytes end, inside a frame as
    /// likely as not. If that many bytes do not come within
    /// [`CUT_AT_THE_LATEST`], the link is cut then anyway (an idle link
    /// must not dodge its cut).
    After {
        /// The direction whose bytes are counted.
        direction: Direction,
        /// How many more bytes go that way before the cut.
        bytes: usize,
    },
}

/// What a stalled link does when its stall ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterStall {
    /// Relays on, everything that waited included.
    GoOn,
    /// Is cut (what waited is lost).
    Cut,
}

/// The longest a [`CutAt::After`] cut waits for its bytes.
pub const CUT_AT_THE_LATEST: Duration = Duration::from_millis(500);

/// Bytes read from a socket at a time.
const CHUNK: usize = 16 * 1024;

/// Chunks read ahead of the writer (the writer is behind when it delays or
/// is stalled; then the reader stops reading and TCP pushes back).
const CHUNKS_AHEAD: usize = 32;

/// The faults set on one link. Changed through a `watch` so that the pumps
/// and the link's task wake up when a test changes them.
#[derive(Debug, Default)]
pub(super) struct Faults {
    /// Nothing is written while set.
    stalled: bool,
    /// Bytes each direction may still write before the link is cut
    /// (indexed by [`Direction::index`]); `None`: no cut planned.
    budget: [Option<usize>; 2],
    /// When a planned cut happens whatever the budget.
    latest: Option<Instant>,
}

/// One link's controls, shared by its task and the [`Link`] handles.
pub(super) struct LinkState {
    faults: watch::Sender<Faults>,
}

impl LinkState {
    pub(super) fn new() -> Self {
        Self {
            faults: watch::Sender::new(Faults::default()),
        }
    }
}

/// A handle on one connection through the proxy (from
/// [`FaultProxy::links`](super::FaultProxy::links)): cut it, stall it.
/// Handles of a link that has ended do nothing.
#[derive(Clone)]
pub struct Link {
    pub(super) id: u64,
    pub(super) state: Arc<LinkState>,
    pub(super) task: AbortHandle,
    /// The proxy's count of cuts.
    pub(super) cuts: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("id", &self.id)
            .field("open", &self.is_open())
            .finish()
    }
}

impl Link {
    /// The link's number: 0 for the proxy's first connection, and so on.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// True until the link has ended (cut, or closed by either side).
    pub fn is_open(&self) -> bool {
        !self.task.is_finished()
    }

    /// Cuts the link at `at` (see [`CutAt`]). Returns false when it had
    /// ended already.
    pub fn cut(&self, at: CutAt) -> bool {
        if !self.is_open() {
            return false;
        }
        match at {
            CutAt::Now => {
                self.task.abort();
                self.cuts.fetch_add(1, Ordering::Relaxed);
            }
            CutAt::After { direction, bytes } => {
                self.state.faults.send_modify(|faults| {
                    faults.budget[direction.index()] = Some(bytes);
                    faults.latest = Some(Instant::now() + CUT_AT_THE_LATEST);
                });
            }
        }
        true
    }

    /// Stops relaying in both directions until [`go_on`](Self::go_on) (or
    /// a cut): bytes wait in the proxy, then in the sockets' buffers, as on
    /// a path that went silent.
    pub fn stall(&self) {
        self.state
            .faults
            .send_modify(|faults| faults.stalled = true);
    }

    /// Ends a stall: everything that waited is relayed, in order.
    pub fn go_on(&self) {
        self.state
            .faults
            .send_modify(|faults| faults.stalled = false);
    }

    /// Stalls the link for `duration`, then goes on or cuts it (in a
    /// background task, so this returns at once).
    pub fn stall_for(&self, duration: Duration, then: AfterStall) {
        self.stall();
        let link = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            match then {
                AfterStall::GoOn => link.go_on(),
                AfterStall::Cut => {
                    link.cut(CutAt::Now);
                }
            }
        });
    }
}

/// Relays between `client` and a new connection to `target` until either
/// side ends or a fault cuts the link (which counts it in the proxy's
/// cuts). Aborting the task is a cut too: it drops both sockets.
pub(super) async fn relay(client: TcpStream, proxy: Arc<Inner>, state: Arc<LinkState>) {
    let Ok(server) = TcpStream::connect(proxy.target()).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let to_server = pump(
        client_read,
        server_write,
        Direction::ToServer,
        &proxy,
        &state,
    );
    let to_client = pump(
        server_read,
        client_write,
        Direction::ToClient,
        &proxy,
        &state,
    );
    let cut = tokio::select! {
        ended = futures::future::try_join(to_server, to_client) => ended.is_err_and(|end| end == PumpEnd::Cut),
        () = cut_deadline(&state) => true,
    };
    if cut {
        proxy.cuts.fetch_add(1, Ordering::Relaxed);
    }
}

/// Why a pump stopped before its reader's end of stream.
#[derive(Debug, PartialEq, Eq)]
enum PumpEnd {
    /// Its cut budget ran out: the link is cut.
    Cut,
    /// A socket failed.
    Broken,
}

/// One direction: reads chunks from `from` and writes them to `to` when
/// they are due, not stalled and within the cut budget. Ends with `Ok`
/// after relaying the reader's end of stream.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    direction: Direction,
    proxy: &Inner,
    state: &LinkState,
) -> Result<(), PumpEnd> {
    let (chunks, mut due) = mpsc::channel::<(Instant, Bytes)>(CHUNKS_AHEAD);
    let reader = async move {
        let mut buf = BytesMut::new();
        loop {
            buf.reserve(CHUNK);
            match from.read_buf(&mut buf).await {
                Ok(0) => return Ok(()),
                Ok(_) => {
                    let at = Instant::now() + proxy.delay();
                    if chunks.send((at, buf.split().freeze())).await.is_err() {
                        return Ok(());
                    }
                }
                Err(_) => return Err(PumpEnd::Broken),
            }
        }
    };
    let writer = async move {
        let mut faults = state.faults.subscribe();
        while let Some((at, mut chunk)) = due.recv().await {
            // Only when there is a delay: a timer, even one already due,
            // waits for the timer wheel's next tick (up to 1 ms a chunk).
            if at > Instant::now() {
                tokio::time::sleep_until(at).await;
            }
            if faults.wait_for(|f| !f.stalled).await.is_err() {
                return Err(PumpEnd::Broken);
            }
            let cut_here = take_budget(state, direction, &mut chunk);
            if to.write_all(&chunk).await.is_err() {
                return Err(PumpEnd::Broken);
            }
            if cut_here {
                return Err(PumpEnd::Cut);
            }
        }
        // The reader's end of stream, passed on.
        let _ = to.shutdown().await;
        Ok(())
    };
    futures::future::try_join(reader, writer).await.map(|_| ())
}

/// Takes `chunk`'s length from `direction`'s cut budget; when the budget
/// runs out inside it, shortens `chunk` to what is left and returns true.
fn take_budget(state: &LinkState, direction: Direction, chunk: &mut Bytes) -> bool {
    let mut cut_here = false;
    state.faults.send_if_modified(|faults| {
        let Some(left) = faults.budget[direction.index()].as_mut() else {
            return false;
        };
        if chunk.len() >= *left {
            chunk.truncate(*left);
            cut_here = true;
        }
        *left -= chunk.len();
        // The budget is the writer's own business: nobody waits on it.
        false
    });
    cut_here
}

/// Resolves when a planned cut's latest time has come (never while none is
/// planned).
async fn cut_deadline(state: &LinkState) {
    let mut faults = state.faults.subscribe();
    loop {
        let latest = faults.borrow_and_update().latest;
        match latest {
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => return,
                    changed = faults.changed() => if changed.is_err() { return },
                }
            }
            None => {
                if faults.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}
