//! The client: connects through any transport, sends events, runs handlers,
//! awaits replies. Runtime-agnostic: [`Client::handshake`] returns the
//! client and a [`Driver`] future that the caller spawns on its runtime
//! (`tokio::spawn` natively, `wasm_bindgen_futures::spawn_local` in the
//! browser). Timeouts use `futures-timer`, which works on both.
//!
//! Past 450 lines: this file holds the `Client` type and the calls every
//! client makes (send, push, close, identity); requests, presence, rooms,
//! typed events, reconnection and the driver are in their sibling files.

mod context;
mod driver;
mod events;
mod goodbye;
mod handshake;
mod inbox;
mod lifecycle;
mod offline;
mod options;
mod presence;
mod reconnect;
mod requests;
mod rooms;
mod session;
mod typed;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use event_listener::Event;
use futures::task::AtomicWaker;
use serde::Serialize;

pub use crate::protocol::handshake::SessionParams;
pub use context::ClientEvent;
pub use inbox::Message;
pub use offline::OfflineQueue;
pub use options::{ClientOptions, WhenFull};
pub(crate) use presence::{wants_presence, PresenceInterest};
pub use reconnect::{ConnectionChange, Connector};

use crate::close::{codes, CloseReason};
use crate::dispatch::{erase, Handler, On, SharedHandlers};
use crate::error::{Error, Result};
use crate::frame::{Frame, NO_REQUEST};
use crate::outbox::{Outbox, PushError};
use crate::pending::PendingRequests;
use crate::protocol::reconnect::ConnectionState;
use crate::transport::{BoxFuture, TransportKind};
use crate::value;
use inbox::Inbox;

/// Reserved event names on the client.
pub mod reserved {
    /// Another client joined the server. Extractors: `ClientInfo`.
    pub const CLIENT_CONNECT: &str = "client_connect";
    /// Another client left. Extractors: `ClientInfo`.
    pub const CLIENT_DISCONNECT: &str = "client_disconnect";
    /// Another client changed its name. Extractors: `ClientInfo`, `Change`.
    pub const CLIENT_NAME_CHANGE: &str = "client_name_change";
    /// Another client changed its group. Extractors: `ClientInfo`, `Change`.
    pub const CLIENT_GROUP_CHANGE: &str = "client_group_change";
    /// The server closed this connection (kicked, shutting down, keepalive,
    /// protocol error). Extractors: `CloseReason`.
    pub const FORCE_DISCONNECT: &str = "force_disconnect";
    /// Every event from the server, before its own handler. Extractors:
    /// `Command`, `Data<T>`, `RawPayload`.
    pub const MESSAGE: &str = "message";
    /// The server could not handle an event this client sent (no request id,
    /// so there was nobody to answer). Extractors: `Command`, `Rejection`.
    pub const REJECTED: &str = "rejected";
    /// The connection ended; `will_retry` says whether the client tries
    /// again (only with [`ClientOptions::reconnect`](crate::ClientOptions::reconnect)).
    /// Extractors: [`ConnectionChange`](crate::ConnectionChange).
    pub const DISCONNECTED: &str = "disconnected";
    /// The client waits `delay`, then makes attempt `attempt`. Extractors:
    /// [`ConnectionChange`](crate::ConnectionChange).
    pub const RECONNECTING: &str = "reconnecting";
    /// The client is connected again; `resumed` says whether to its old
    /// session (nothing lost) or to a new one. Extractors:
    /// [`ConnectionChange`](crate::ConnectionChange).
    pub const RECONNECTED: &str = "reconnected";
    /// Events whose command has no handler.
    pub const WILDCARD: &str = crate::dispatch::WILDCARD;
    /// All of the above.
    pub const ALL: &[&str] = &[
        CLIENT_CONNECT,
        CLIENT_DISCONNECT,
        CLIENT_NAME_CHANGE,
        CLIENT_GROUP_CHANGE,
        FORCE_DISCONNECT,
        MESSAGE,
        REJECTED,
        DISCONNECTED,
        RECONNECTING,
        RECONNECTED,
        WILDCARD,
    ];
    /// The events that presence notices feed: a client without a handler
    /// for any of them tells the server not to send it presence notices.
    pub(crate) const PRESENCE: &[&str] = &[
        CLIENT_CONNECT,
        CLIENT_DISCONNECT,
        CLIENT_NAME_CHANGE,
        CLIENT_GROUP_CHANGE,
    ];
}

/// One connection's facts: what the transport and the server's `Welcome`
/// said. A reconnect replaces them all at once.
#[derive(Debug, Clone)]
struct Link {
    session: SessionParams,
    local_addr: Option<SocketAddr>,
    server_addr: Option<SocketAddr>,
    seen_addr: Option<SocketAddr>,
    transport: TransportKind,
}

/// The client's own identity, as the server recorded it.
#[derive(Debug, Clone)]
struct Identity {
    id: u64,
    name: Option<String>,
    group: Option<String>,
}

pub(crate) struct Shared {
    outbox: Arc<Outbox>,
    /// The timers and clock of this client's deadlines.
    clock: Clock,
    /// Where this client's small event frames are encoded.
    frame_block: crate::frame::FrameBlock,
    outgoing: crate::stream::OutgoingStreams,
    max_stream_len: u64,
    /// Most streams the server may send this client at once.
    max_streams: usize,
    /// Most requests outstanding at the server at once.
    max_pending_requests: usize,
    /// Longest name and group this client asks for.
    max_name_len: usize,
    max_group_len: usize,
    max_command_len: usize,
    /// Wait for room in the outgoing queue, or fail.
    when_full: WhenFull,
    handlers: SharedHandlers<ClientEvent>,
    inbox: Mutex<Inbox>,
    pending: Mutex<PendingRequests>,
    /// Held while the handler table changes, so that declining and
    /// re-enabling presence notices reach the server in the right order.
    presence: Mutex<PresenceInterest>,
    identity: Mutex<Identity>,
    /// The current connection's facts; a reconnect replaces them.
    link: Mutex<Link>,
    /// `link`'s `session.max_frame_len`, read by every send without a lock.
    max_frame_len: AtomicUsize,
    handler_queue_len: usize,
    /// How to reconnect, when the client does (`None`: one connection).
    reconnect: Option<reconnect::Reconnecting>,
    /// Where the connection stands ([`ConnectionState`] as a number).
    state: AtomicU8,
    /// The bound and time-to-live of what waits while reconnecting.
    offline: OfflineQueue,
    offline_stamps: Mutex<offline::OfflineStamps>,
    /// Rooms the server put this client in at its request, asked for again
    /// on a new session.
    rooms: Mutex<Vec<String>>,
    /// Set by `close` to end the reader.
    stop: AtomicBool,
    stop_waker: AtomicWaker,
    close_reason: Mutex<Option<CloseReason>>,
    /// Set by the driver when it has finished.
    finished: AtomicBool,
    closed: Event,
}

use crate::platform::locks::lock;
use crate::platform::timer::Clock;

/// A connected client. Cheap to clone; all clones share one connection.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

/// Drives a client's connection: reads frames, runs handlers, writes the
/// outgoing queue. Spawn it on your runtime; it finishes when the connection
/// ends.
#[must_use = "the client does nothing until its driver is spawned"]
pub struct Driver {
    fut: BoxFuture<'static, ()>,
}

impl Future for Driver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.fut.as_mut().poll(cx)
    }
}

/// Waits for `fut` at most `timeout`.
pub(crate) async fn with_timeout<F: Future>(
    clock: Clock,
    timeout: Duration,
    fut: F,
) -> Option<F::Output> {
    // A poll_fn rather than `select`: no `Either` of both outputs to build
    // and take apart (smaller in the browser build).
    let mut fut = std::pin::pin!(fut);
    let mut delay = clock.delay(timeout);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        Pin::new(&mut delay).poll(cx).map(|()| None)
    })
    .await
}

impl Client {
    /// Registers `handler` for `command` or a reserved event
    /// ("client_connect", "client_disconnect", "client_name_change",
    /// "client_group_change", "force_disconnect", "message", "rejected",
    /// "*"). A handler's return value answers server requests.
    ///
    /// The handler runs for events that arrive after this call. Events the
    /// server sends as soon as the client joins (from its `join` handler,
    /// say) may arrive before `connect` even returns, and are then kept for
    /// [`recv`](Self::recv) instead: register such handlers in the options,
    /// [`ClientOptions::on`], which are in place before the handshake.
    pub fn on<Args: 'static, H: Handler<ClientEvent, Args>>(
        &self,
        command: &str,
        handler: H,
    ) -> &Self {
        self.on_with(command, On::new(), handler)
    }

    /// Registers a handler with options (threaded, override a reserved name).
    pub fn on_with<Args: 'static, H: Handler<ClientEvent, Args>>(
        &self,
        command: &str,
        on: On,
        handler: H,
    ) -> &Self {
        let mut handler = Some(erase(handler));
        self.update_handlers(&mut |table| {
            if let Some(handler) = handler.take() {
                table.insert(command, handler, on);
            }
        });
        self
    }

    /// Removes the handler for `command`. True if there was one.
    pub fn off(&self, command: &str) -> bool {
        let mut removed = false;
        self.update_handlers(&mut |table| removed = table.remove(command));
        removed
    }

    /// This client's id on the server.
    pub fn id(&self) -> u64 {
        lock(&self.shared.identity).id
    }

    /// This client's current name.
    pub fn name(&self) -> Option<String> {
        lock(&self.shared.identity).name.clone()
    }

    /// This client's current group.
    pub fn group(&self) -> Option<String> {
        lock(&self.shared.identity).group.clone()
    }

    /// The local address of the connection, where the transport knows it.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        lock(&self.shared.link).local_addr
    }

    /// The server's address, where the transport knows it.
    pub fn server_addr(&self) -> Option<SocketAddr> {
        lock(&self.shared.link).server_addr
    }

    /// This client's address as the server sees it.
    pub fn addr_seen_by_server(&self) -> Option<SocketAddr> {
        lock(&self.shared.link).seen_addr
    }

    /// The transport this client uses.
    pub fn transport(&self) -> TransportKind {
        lock(&self.shared.link).transport
    }

    /// The session parameters the server announced.
    pub fn session(&self) -> SessionParams {
        lock(&self.shared.link).session
    }

    /// Where the connection stands: connected, reconnecting (only with
    /// [`ClientOptions::reconnect`]), or closed.
    pub fn state(&self) -> ConnectionState {
        reconnect::state_from(self.shared.state.load(Ordering::Acquire))
    }

    async fn push(&self, frame: Bytes) -> Result<()> {
        if let Some(how) = &self.shared.reconnect {
            if self.state() == ConnectionState::Reconnecting {
                return (how.push_offline)(self, frame);
            }
        }
        // Usually there is room at once. Natively, waiting for room is
        // boxed, so that this future, created and moved for every event,
        // stays small (the browser build keeps the smaller code).
        #[cfg(not(target_arch = "wasm32"))]
        let pushed = match self.shared.when_full {
            WhenFull::Wait => match self.shared.outbox.offer_to_wait(frame) {
                Err((PushError::Full { .. }, frame)) => {
                    Box::pin(self.shared.outbox.push(frame)).await
                }
                other => other.map_err(|(err, _)| err),
            },
            WhenFull::Fail => self.shared.outbox.try_push(frame),
        };
        #[cfg(target_arch = "wasm32")]
        let pushed = match self.shared.when_full {
            WhenFull::Wait => self.shared.outbox.push(frame).await,
            WhenFull::Fail => self.shared.outbox.try_push(frame),
        };
        match pushed {
            Ok(()) => Ok(()),
            Err(PushError::Closed) => Err(Error::Closed(self.close_reason())),
            Err(PushError::Full { queued, limit }) => Err(Error::QueueFull { queued, limit }),
        }
    }

    /// A command the server would close the connection for (4008) is
    /// refused here, before anything is sent.
    fn check_command(&self, command: &str) -> Result<()> {
        let max = self.shared.max_command_len;
        crate::protocol::limits::check_local(crate::Limit::CommandLen, Some(command), max)
    }

    fn check_frame_len(&self, len: usize) -> Result<()> {
        let max = self.shared.max_frame_len.load(Ordering::Relaxed);
        if len > max {
            return Err(Error::Transport(crate::TransportError::FrameTooBig {
                len,
                max,
            }));
        }
        Ok(())
    }

    /// Sends `command` with `payload` to the server. Waits only while the
    /// outgoing queue is full; returns once the event is queued. Everything
    /// queued is written before [`close`](Self::close) finishes.
    ///
    /// Errors: [`Error::Encode`], [`Error::Closed`], and
    /// [`Error::Transport`] with `FrameTooBig` when the frame exceeds the
    /// server's limit, [`Error::LimitExceeded`] for a command longer than
    /// [`ClientOptions::max_command_len`] (both checked here, so the
    /// connection is not lost).
    pub async fn send<T: Serialize>(&self, command: &str, payload: T) -> Result<()> {
        self.check_command(command)?;
        // The payload is encoded straight into the frame's only buffer.
        let frame = value::with_encoded(&payload, |payload| {
            self.shared
                .frame_block
                .encode_event(command, NO_REQUEST, payload)
        })?;
        self.check_frame_len(frame.len())?;
        self.push(frame).await
    }

    /// Like [`send`](Self::send) with an already-encoded MessagePack payload.
    pub async fn send_raw(&self, command: &str, payload: &[u8]) -> Result<()> {
        self.check_command(command)?;
        let frame = self
            .shared
            .frame_block
            .encode_event(command, NO_REQUEST, payload);
        self.check_frame_len(frame.len())?;
        self.push(frame).await
    }

    /// Streams a large payload to the server under `command`: chunks that
    /// interleave with this client's other events, with at most the
    /// window's worth of bytes unconsumed by the server (see
    /// [`crate::stream`]). `source` is any stream of byte chunks (a
    /// `tokio_util::io::ReaderStream` over a file, for example). Returns once
    /// the server's handler has consumed all of it.
    ///
    /// Errors: [`Error::Remote`] when the server has no handler, refuses the
    /// size ([`ErrorCode::TooLarge`](crate::ErrorCode::TooLarge)) or drops
    /// the stream; [`Error::Closed`]; [`Error::Handler`] when `source` fails
    /// or gives more or fewer bytes than an announced `total_len` (the
    /// server then gets an error, never a payload of the wrong length);
    /// [`Error::LimitExceeded`] when
    /// [`ClientOptions::max_streams`] streams are open already or the
    /// command is longer than [`ClientOptions::max_command_len`] (nothing
    /// is sent). Dropping the returned future half-way aborts the stream
    /// (the server's handler gets an error).
    pub async fn send_stream<S, E>(
        &self,
        command: &str,
        source: S,
        options: crate::stream::StreamOptions,
    ) -> Result<()>
    where
        S: futures::Stream<Item = std::result::Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        self.check_command(command)?;
        // A chunk frame must fit the server's frame limit.
        let max_frame_len = self.shared.max_frame_len.load(Ordering::Relaxed);
        let max_chunk = max_frame_len.saturating_sub(64).max(1);
        let chunk_size = options.chunk_size.min(max_chunk);
        let options = options.chunk_size(chunk_size);
        crate::stream::send_stream(
            &self.shared.outbox,
            &self.shared.outgoing,
            command,
            source,
            options,
        )
        .await
    }

    /// Streams one in-memory payload (see [`send_stream`](Self::send_stream));
    /// the chunks are slices of `payload`, not copies.
    pub async fn send_bytes_streamed(
        &self,
        command: &str,
        payload: Bytes,
        options: crate::stream::StreamOptions,
    ) -> Result<()> {
        let options = options.total_len(payload.len() as u64);
        let source = futures::stream::iter([Ok::<_, std::convert::Infallible>(payload)]);
        self.send_stream(command, source, options).await
    }

    /// Closes the connection: everything queued is written, then a close
    /// frame; the server runs its `leave` handler. Returns when the
    /// connection is closed (at most a few seconds if the server does not
    /// answer).
    pub fn close(&self) -> impl Future<Output = ()> + '_ {
        // No `async` wrapper: both ways to close share one future type.
        self.close_with(true)
    }

    /// Closes like [`close`](Self::close) but asks the server not to run
    /// its `leave` handler (HiSock's `close(emit_leave=False)`). Other
    /// clients still see this client leave.
    pub fn close_without_leave(&self) -> impl Future<Output = ()> + '_ {
        self.close_with(false)
    }

    async fn close_with(&self, run_leave: bool) {
        let shared = &self.shared;
        {
            let mut reason = lock(&shared.close_reason);
            if reason.is_none() {
                *reason = Some(CloseReason::new(codes::NORMAL, "closed by client"));
            }
        }
        if self.state() == ConnectionState::Reconnecting {
            // Between connections there is nobody to flush to or say
            // goodbye to: the driver stops waiting and finishes.
            shared.stop.store(true, Ordering::Release);
            shared.stop_waker.wake();
            self.closed().await;
            return;
        }
        shared.outbox.close_with(Some(
            Frame::Close {
                code: codes::NORMAL,
                reason: "closed by client",
                run_leave,
            }
            .encode(),
        ));
        with_timeout(
            shared.clock,
            driver::CLIENT_FLUSH_TIMEOUT,
            shared.outbox.closed(),
        )
        .await;
        // Give the server a moment to hang up, then stop reading anyway.
        with_timeout(shared.clock, Duration::from_secs(2), self.closed()).await;
        shared.stop.store(true, Ordering::Release);
        shared.stop_waker.wake();
        self.closed().await;
    }

    /// True until the connection has ended; false while a reconnecting
    /// client is between connections.
    pub fn is_connected(&self) -> bool {
        !self.shared.outbox.is_closing() && self.state() != ConnectionState::Reconnecting
    }

    /// Waits until the connection has ended and says why. A client with
    /// [`ClientOptions::reconnect`] ends only for good: closed by the
    /// application, by an end its policy does not retry, or out of
    /// attempts.
    pub async fn closed(&self) -> CloseReason {
        loop {
            let listener = self.shared.closed.listen();
            if self.shared.finished.load(Ordering::Acquire) {
                return self.close_reason();
            }
            listener.await;
        }
    }

    /// Why the connection ended, or a placeholder while it is open.
    fn close_reason(&self) -> CloseReason {
        lock(&self.shared.close_reason)
            .clone()
            .unwrap_or_else(|| CloseReason::new(codes::ABNORMAL, "connection closed"))
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let identity = lock(&self.shared.identity);
        f.debug_struct("Client")
            .field("id", &identity.id)
            .field("name", &identity.name)
            .field("group", &identity.group)
            .field("transport", &lock(&self.shared.link).transport)
            .finish()
    }
}
