//! How a client connects: name, group, auth data, limits, and handlers to
//! install before the first event can arrive.

use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

use super::context::ClientEvent;
use super::reserved;
use super::OfflineQueue;
use crate::dispatch::{erase, Handler, HandlerTable, On};
use crate::error::Result;
use crate::platform::timer::Clock;
use crate::protocol::limits;
use crate::protocol::reconnect::Reconnect;
use crate::value;

/// What a client's senders do when its outgoing queue is full (see
/// [`ClientOptions::when_full`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenFull {
    /// Wait until the queue has room: backpressure to the caller.
    #[default]
    Wait,
    /// Fail at once with [`Error::QueueFull`](crate::Error::QueueFull);
    /// nothing is sent (for data that is stale by the time there is room).
    Fail,
}

/// Options for [`Client::handshake`](super::Client::handshake) and the
/// transports' `connect` functions.
#[derive(Clone)]
pub struct ClientOptions {
    pub(crate) name: Option<String>,
    pub(crate) group: Option<String>,
    pub(crate) auth: Option<Bytes>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) outbox_limit: usize,
    pub(crate) when_full: WhenFull,
    pub(crate) cache_size: usize,
    pub(crate) unhandled_limit: usize,
    pub(crate) handler_queue_len: usize,
    pub(crate) max_stream_len: u64,
    pub(crate) max_streams: usize,
    pub(crate) max_pending_requests: usize,
    pub(crate) max_name_len: usize,
    pub(crate) max_group_len: usize,
    pub(crate) max_command_len: usize,
    pub(crate) handlers: HandlerTable<ClientEvent>,
    pub(crate) clock: Clock,
    pub(crate) reconnect: Option<Reconnect>,
    pub(crate) replay_limit: usize,
    pub(crate) offline: OfflineQueue,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            name: None,
            group: None,
            auth: None,
            handshake_timeout: Duration::from_secs(10),
            outbox_limit: 4 * 1024 * 1024,
            when_full: WhenFull::Wait,
            cache_size: 0,
            unhandled_limit: 1024,
            handler_queue_len: 1024,
            max_stream_len: crate::stream::DEFAULT_MAX_STREAM_LEN,
            max_streams: limits::DEFAULT_MAX_STREAMS,
            max_pending_requests: limits::DEFAULT_MAX_PENDING_REQUESTS,
            max_name_len: limits::DEFAULT_MAX_NAME_LEN,
            max_group_len: limits::DEFAULT_MAX_GROUP_LEN,
            max_command_len: limits::DEFAULT_MAX_COMMAND_LEN,
            handlers: HandlerTable::new(reserved::ALL),
            clock: Clock::Own,
            reconnect: None,
            offline: OfflineQueue::default(),
            replay_limit: crate::protocol::resume::DEFAULT_REPLAY_LIMIT,
        }
    }
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("name", &self.name)
            .field("group", &self.group)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("outbox_limit", &self.outbox_limit)
            .field("cache_size", &self.cache_size)
            .finish_non_exhaustive()
    }
}

impl ClientOptions {
    /// Defaults: no name, no group, no cache, 4 MiB outgoing queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// The name to join with.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The group to join.
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// Auth data for the server's auth hook (any `Serialize` value).
    pub fn auth<T: Serialize>(mut self, data: T) -> Result<Self> {
        self.auth = Some(value::encode(&data)?);
        Ok(self)
    }

    /// Auth data already encoded as MessagePack (for front-ends that encode
    /// payloads themselves, like the browser's JS API).
    pub fn auth_raw(mut self, payload: Bytes) -> Self {
        self.auth = Some(payload);
        self
    }

    /// Runs this client's timers (request and `recv` timeouts, the
    /// handshake timeout, noticing a silent server) on the tokio runtime
    /// the client is created and driven in, instead of a timer thread of
    /// its own: no extra thread, and a test with a paused tokio clock
    /// (`#[tokio::test(start_paused = true)]`) then controls every
    /// deadline of the client as it does the server's. The runtime must
    /// have its time driver (`#[tokio::main]` and `#[tokio::test]` do;
    /// a `Builder` needs `enable_time()`), and must keep running while
    /// the client waits. Default: off (works under any executor).
    #[cfg(all(feature = "server", not(target_arch = "wasm32")))]
    pub fn tokio_timers(mut self) -> Self {
        self.clock = Clock::Tokio;
        self
    }

    /// How long to wait for the server's welcome. Default 10 s.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Bytes queued for sending (each frame counts its length plus
    /// [`FRAME_OVERHEAD`](crate::outbox::FRAME_OVERHEAD)) before `send`
    /// and `request` wait or fail, as [`when_full`](Self::when_full) says.
    /// Default 4 MiB. The queue never grows past it.
    pub fn outbox_limit(mut self, bytes: usize) -> Self {
        self.outbox_limit = bytes;
        self
    }

    /// What `send`, `request` and the other senders do when the outgoing
    /// queue is full (the server reads more slowly than this client
    /// sends): wait for room (the default) or fail at once with
    /// [`Error::QueueFull`](crate::Error::QueueFull), sending nothing.
    pub fn when_full(mut self, when_full: WhenFull) -> Self {
        self.when_full = when_full;
        self
    }

    /// Keep the last `n` received events for
    /// [`Client::recent_messages`](super::Client::recent_messages)
    /// (HiSock's `cache_size`). Default 0: no cache.
    pub fn cache_size(mut self, n: usize) -> Self {
        self.cache_size = n;
        self
    }

    /// Unhandled events kept for `recv`/`recv_any`; past this the oldest is
    /// dropped with a warning. Default 1024.
    pub fn unhandled_limit(mut self, n: usize) -> Self {
        self.unhandled_limit = n;
        self
    }

    /// Largest streamed payload accepted from the server. Default 1 GiB.
    pub fn max_stream_len(mut self, bytes: u64) -> Self {
        self.max_stream_len = bytes;
        self
    }

    /// Most streams open at once, each way: past it
    /// [`Client::send_stream`](super::Client::send_stream) fails with
    /// [`Error::LimitExceeded`](crate::Error::LimitExceeded), and a server
    /// that opens more is closed with
    /// [`TOO_MANY_STREAMS`](crate::close::codes::TOO_MANY_STREAMS).
    /// Default 64, the server's default.
    pub fn max_streams(mut self, streams: usize) -> Self {
        self.max_streams = streams;
        self
    }

    /// Most requests (events with a reply, name and group changes,
    /// look-ups) outstanding at once; past it a request fails with
    /// [`Error::LimitExceeded`](crate::Error::LimitExceeded) and nothing is
    /// sent. Default 1024, the server's default: a server closes a client
    /// past its own limit with
    /// [`TOO_MANY_REQUESTS`](crate::close::codes::TOO_MANY_REQUESTS). A
    /// request that timed out here still counts at the server until its
    /// handler answers.
    pub fn max_pending_requests(mut self, requests: usize) -> Self {
        self.max_pending_requests = requests;
        self
    }

    /// Longest name, in bytes, this client joins with or changes to; a
    /// longer one fails with
    /// [`Error::LimitExceeded`](crate::Error::LimitExceeded) and nothing is
    /// sent. Default 256, the server's default (a server closes a client
    /// past its own limit with
    /// [`NAME_TOO_LONG`](crate::close::codes::NAME_TOO_LONG)).
    pub fn max_name_len(mut self, bytes: usize) -> Self {
        self.max_name_len = bytes;
        self
    }

    /// Longest group name, in bytes, as [`max_name_len`](Self::max_name_len).
    /// Default 256.
    pub fn max_group_len(mut self, bytes: usize) -> Self {
        self.max_group_len = bytes;
        self
    }

    /// Longest command, in bytes, this client sends events, requests or
    /// streams under; a longer one fails with
    /// [`Error::LimitExceeded`](crate::Error::LimitExceeded) and nothing is
    /// sent. Default 256, the server's default.
    pub fn max_command_len(mut self, bytes: usize) -> Self {
        self.max_command_len = bytes;
        self
    }

    /// Reconnects when the connection breaks, with `policy`'s backoff
    /// (off by default; PROTOCOL.md section 13.8). Only for clients
    /// connected through a transport's `connect` (or
    /// [`Client::connect_with`](super::Client::connect_with)), which know
    /// how to connect again; a client handed one connection
    /// ([`Client::handshake`](super::Client::handshake)) ignores it.
    /// With it, every connection asks the server for a session (section 13),
    /// the client's `state()` goes through
    /// [`Reconnecting`](crate::ConnectionState::Reconnecting), and the
    /// reserved events `disconnected`, `reconnecting` and `reconnected` fire
    /// (extractor [`ConnectionChange`](crate::ConnectionChange)). What the
    /// application sends meanwhile waits in the outgoing queue
    /// ([`outbox_limit`](Self::outbox_limit), [`when_full`](Self::when_full))
    /// and leaves in order once connected again.
    pub fn reconnect(mut self, policy: Reconnect) -> Self {
        self.reconnect = Some(policy);
        self
    }

    /// The bound (bytes and frames) and optional time-to-live of what a
    /// reconnecting client queues between connections (see
    /// [`OfflineQueue`]; default 1 MiB, 1024 frames, no time-to-live). Past
    /// the bound, sends and requests fail at once with
    /// [`Error::OfflineQueueFull`](crate::Error::OfflineQueueFull).
    pub fn offline_queue(mut self, queue: OfflineQueue) -> Self {
        self.offline = queue;
        self
    }

    /// The most memory a reconnecting client keeps of what it sent and the
    /// server has not acknowledged yet, to send again on a resume
    /// (PROTOCOL.md section 13.4); each frame costs its length plus 80
    /// bytes. When it is full, what the client sends waits for the
    /// server's acknowledgements (in the outgoing queue, whose own limit
    /// applies: [`outbox_limit`](Self::outbox_limit),
    /// [`when_full`](Self::when_full)). Default 4 MiB.
    ///
    /// It also bounds what is in flight: a client streaming small events
    /// as fast as a loopback link takes them sends about a tenth fewer per
    /// second with its session than without (bench W1 over TCP; a 16 MiB
    /// buffer came within 3 %), a trade of memory for rate that is yours.
    pub fn replay_limit(mut self, bytes: usize) -> Self {
        self.replay_limit = bytes;
        self
    }

    /// Installs a handler before connecting, so not even the first event can
    /// miss it. Same as [`Client::on`](super::Client::on).
    pub fn on<Args: 'static, H: Handler<ClientEvent, Args>>(
        self,
        command: &str,
        handler: H,
    ) -> Self {
        self.on_with(command, On::new(), handler)
    }

    /// Installs a handler with options before connecting.
    pub fn on_with<Args: 'static, H: Handler<ClientEvent, Args>>(
        mut self,
        command: &str,
        on: On,
        handler: H,
    ) -> Self {
        self.handlers.insert(command, erase(handler), on);
        self
    }
}
