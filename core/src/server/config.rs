//! Server settings, with defaults fit for many connections.

use std::time::Duration;

use crate::protocol::limits;
use crate::protocol::rate_limit::RateLimit;

/// Settings of a [`Server`](super::Server). Build one with
/// [`ServerBuilder`](super::ServerBuilder) or start from `Default`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Most clients connected at once; further clients are refused with
    /// [`SERVER_FULL`](crate::close::codes::SERVER_FULL). `None`: no limit.
    pub max_connections: Option<usize>,
    /// Largest frame accepted from a client, in bytes. Transports check the
    /// length before allocating; a larger frame closes the connection with
    /// [`TOO_BIG`](crate::close::codes::TOO_BIG). Default 16 MiB
    /// ([`DEFAULT_MAX_FRAME_LEN`](crate::frame::DEFAULT_MAX_FRAME_LEN)).
    pub max_frame_len: usize,
    /// Bytes queued for one client before it counts as a slow reader. A send
    /// that does not fit disconnects that client with
    /// [`SLOW_CONSUMER`](crate::close::codes::SLOW_CONSUMER) (the server
    /// never blocks everyone on one slow client) and reports
    /// [`Error::QueueFull`](crate::Error::QueueFull) to the sender.
    /// Default 4 MiB.
    pub outbox_limit: usize,
    /// Events received from one client and waiting for their in-order
    /// handler; past this the server stops reading from that client (TCP
    /// backpressure) until its handlers catch up. Default 1024.
    pub handler_queue_len: usize,
    /// How often to ping each client; `None` disables keepalive.
    /// Default 15 s.
    pub keepalive_interval: Option<Duration>,
    /// How long a client may stay silent (no frame at all, pongs included)
    /// before it is dropped with
    /// [`KEEPALIVE_TIMEOUT`](crate::close::codes::KEEPALIVE_TIMEOUT) and
    /// `leave` runs. Default 45 s.
    pub keepalive_timeout: Duration,
    /// How long a new connection may take to send its hello. Default 10 s.
    pub handshake_timeout: Duration,
    /// On shutdown or disconnect, how long queued handlers may still run
    /// before the connection closes anyway. Default 5 s.
    pub drain_timeout: Duration,
    /// Once a connection is closing (shutdown, disconnect, a slow reader
    /// dropped), how long the frames queued for it and its `Close` may take
    /// to leave. A peer that does not read them in time is cut: a warning
    /// says how many frames it did not get, and during a shutdown
    /// [`Server::shutdown`](super::Server::shutdown)'s report does too.
    /// Default 5 s.
    pub flush_timeout: Duration,
    /// Largest streamed payload accepted from a client (see
    /// [`crate::stream`]); past it the stream is cancelled with
    /// [`ErrorCode::TooLarge`](crate::ErrorCode::TooLarge). Default 1 GiB.
    pub max_stream_len: u64,
    /// Whether other clients hear of joins, leaves and name or group
    /// changes (`ClientJoined`, `ClientLeft`, `ClientChanged`). Default
    /// true. A join is sent to every other client that wants presence
    /// notices; hisock clients without a presence handler decline them
    /// after the first 16 (`PresenceInterest`, PROTOCOL.md section 6), so a
    /// wave of n connections costs n² notices only when every client
    /// listens. Turning this off sends none at all.
    pub presence_notices: bool,
    /// Longest client name, in bytes, in a `Hello` or `SetName`; a longer
    /// one closes the connection with
    /// [`NAME_TOO_LONG`](crate::close::codes::NAME_TOO_LONG) (`Refuse`
    /// during the handshake). Default 256
    /// ([`DEFAULT_MAX_NAME_LEN`](crate::protocol::limits::DEFAULT_MAX_NAME_LEN)).
    pub max_name_len: usize,
    /// Longest group name, in bytes, in a `Hello` or `SetGroup`; as
    /// `max_name_len`. Default 256.
    pub max_group_len: usize,
    /// Longest command, in bytes, of an event or stream a client sends; as
    /// `max_name_len`. Default 256.
    pub max_command_len: usize,
    /// Most requests one client may have outstanding at the server (events
    /// with a request id whose handler has not answered yet); one more
    /// closes it with
    /// [`TOO_MANY_REQUESTS`](crate::close::codes::TOO_MANY_REQUESTS). Also
    /// the most [`Server::request`](super::Server::request)s outstanding at
    /// one client: past it the call fails with
    /// [`Error::LimitExceeded`](crate::Error::LimitExceeded). Default 1024.
    pub max_pending_requests: usize,
    /// Most streams one client may be sending at once; one more closes it
    /// with [`TOO_MANY_STREAMS`](crate::close::codes::TOO_MANY_STREAMS).
    /// Also the most streams the server sends one client at once: past it
    /// [`Server::send_stream`](super::Server::send_stream) fails with
    /// [`Error::LimitExceeded`](crate::Error::LimitExceeded). Default 64.
    pub max_streams: usize,
    /// Events and bytes per second one client may send (token buckets);
    /// past it the client is closed with
    /// [`RATE_LIMITED`](crate::close::codes::RATE_LIMITED). Default: off.
    pub rate_limit: RateLimit,
    /// How long a client's session is kept after its connection breaks,
    /// for the client to resume it (PROTOCOL.md section 13): the same id,
    /// name, group and rooms, and nothing lost either way. Only clients
    /// that ask for a session get one (the Rust client with
    /// reconnection on). `Duration::ZERO` keeps none. Default 2 minutes.
    pub session_window: Duration,
    /// The most memory one session's replay buffer (frames sent and not
    /// yet acknowledged) may hold, each frame its length plus 80 bytes.
    /// When it is full the writer waits for the client's acknowledgements
    /// and frames wait in the outgoing queue, whose own limit then applies
    /// ([`outbox_limit`](Self::outbox_limit)): a client that never
    /// acknowledges ends like one that never reads. Default 4 MiB.
    pub replay_limit: usize,
    /// Whether the auth hook sees the `Hello` of a client resuming its
    /// session too (PROTOCOL.md section 13.1). Off, the session's token
    /// is the only authority to resume it; a resume that fails (the
    /// client joins as a new one) still goes through the hook. Default
    /// on.
    pub auth_on_resume: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_connections: None,
            max_frame_len: crate::frame::DEFAULT_MAX_FRAME_LEN,
            outbox_limit: 4 * 1024 * 1024,
            handler_queue_len: 1024,
            keepalive_interval: Some(Duration::from_secs(15)),
            keepalive_timeout: Duration::from_secs(45),
            handshake_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(5),
            flush_timeout: Duration::from_secs(5),
            max_stream_len: crate::stream::DEFAULT_MAX_STREAM_LEN,
            presence_notices: true,
            max_name_len: limits::DEFAULT_MAX_NAME_LEN,
            max_group_len: limits::DEFAULT_MAX_GROUP_LEN,
            max_command_len: limits::DEFAULT_MAX_COMMAND_LEN,
            max_pending_requests: limits::DEFAULT_MAX_PENDING_REQUESTS,
            max_streams: limits::DEFAULT_MAX_STREAMS,
            rate_limit: RateLimit::new(),
            session_window: crate::protocol::resume::DEFAULT_WINDOW,
            replay_limit: crate::protocol::resume::DEFAULT_REPLAY_LIMIT,
            auth_on_resume: true,
        }
    }
}

/// What a [`Listener`](super::Listener) needs to know to set up a
/// connection's transport.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Largest frame to accept, checked before allocating.
    pub max_frame_len: usize,
}
