//! The client's side of the handshake: send the `Hello`, read the answer
//! (the rules are [`protocol::handshake`](crate::protocol::handshake),
//! shared with the server), and set up the client and its driver.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use event_listener::Event;
use futures::task::AtomicWaker;
use futures::{SinkExt, StreamExt};

use super::inbox::Inbox;
use super::lifecycle::{OneConnection, Reconnects, WithReconnect};
use super::presence::PresenceInterest;
use super::reconnect::{state_number, Connector, Reconnecting};
use super::{driver, with_timeout, Client, ClientOptions, Driver, Identity, Link, Shared};
use crate::close::{codes, CloseReason};
use crate::dispatch::SharedHandlers;
use crate::error::{Error, ProtocolFault, Result};
use crate::frame::Frame;
use crate::outbox::Outbox;
use crate::pending::PendingRequests;
use crate::protocol::handshake;
use crate::protocol::limits::{self, Limit};
use crate::protocol::reconnect::ConnectionState;
use crate::protocol::resume::ResumeOutcome;
use crate::transport::{Connection, FrameSink, FrameStream};

impl Client {
    /// Performs the handshake over an established connection: sends the
    /// hello, waits for the welcome. Returns the client and the driver to
    /// spawn. Register handlers on the client before spawning the driver (or
    /// in the options) to be sure to see the very first events.
    ///
    /// The client has this one connection: it does not reconnect, whatever
    /// [`ClientOptions::reconnect`] says (see
    /// [`connect_with`](Self::connect_with)).
    ///
    /// Errors: [`Error::Refused`] with the server's code and reason,
    /// [`Error::Timeout`], [`Error::Closed`] if the server hung up,
    /// [`Error::Transport`], [`Error::Protocol`] for an unexpected answer,
    /// [`Error::LimitExceeded`] for a name or group longer than the
    /// options allow (nothing is sent).
    pub async fn handshake(conn: Connection, options: ClientOptions) -> Result<(Client, Driver)> {
        // The driver that cannot reconnect: the browser's JS client comes
        // this way, and its package carries none of the reconnecting code.
        let (client, stream, sink, _) = establish::<OneConnection>(conn, options, None).await?;
        let driver = Driver {
            fut: Box::pin(driver::drive::<OneConnection>(
                client.clone(),
                stream,
                sink,
                None,
            )),
        };
        Ok((client, driver))
    }

    /// Connects with `connector` and performs the handshake; with
    /// [`ClientOptions::reconnect`], the client connects again with the
    /// same `connector` when the connection breaks (PROTOCOL.md section
    /// 13.8). The first connection is not retried: its failure is this
    /// call's error. Errors: the connector's, and those of
    /// [`handshake`](Self::handshake).
    pub async fn connect_with(
        connector: Connector,
        options: ClientOptions,
    ) -> Result<(Client, Driver)> {
        let conn = connector().await?;
        Self::handshake_with(conn, options, Some(connector)).await
    }

    /// [`handshake`](Self::handshake) over `conn`, a connection that
    /// `connector` opened: with [`ClientOptions::reconnect`] the client
    /// connects again with `connector` when the connection breaks. (What
    /// the transports' `connect` functions call, after opening the first
    /// connection themselves to report its errors in their own words.)
    /// Errors: those of [`handshake`](Self::handshake).
    pub async fn handshake_with(
        conn: Connection,
        options: ClientOptions,
        connector: Option<Connector>,
    ) -> Result<(Client, Driver)> {
        // Built here, not in `establish`: `handshake` (the browser's way)
        // must not reach the reconnecting code, even through a pointer.
        let reconnect = match (options.reconnect.clone(), connector) {
            (Some(policy), Some(connector)) => Some(Reconnecting {
                policy,
                connector,
                auth: options.auth.clone(),
                handshake_timeout: options.handshake_timeout,
                replay_limit: options.replay_limit,
                push_offline: Client::push_offline,
            }),
            _ => None,
        };
        match reconnect {
            Some(reconnect) => {
                let (client, stream, sink, session) =
                    establish::<WithReconnect>(conn, options, Some(reconnect)).await?;
                let driver = driver::drive::<WithReconnect>(client.clone(), stream, sink, session);
                Ok((
                    client,
                    Driver {
                        fut: Box::pin(driver),
                    },
                ))
            }
            None => {
                let (client, stream, sink, _) =
                    establish::<OneConnection>(conn, options, None).await?;
                let driver = driver::drive::<OneConnection>(client.clone(), stream, sink, None);
                Ok((
                    client,
                    Driver {
                        fut: Box::pin(driver),
                    },
                ))
            }
        }
    }
}

/// The handshake and the client it makes; the caller picks the driver.
async fn establish<R: Reconnects>(
    conn: Connection,
    options: ClientOptions,
    reconnect: Option<Reconnecting>,
) -> Result<(
    Client,
    Pin<Box<dyn FrameStream>>,
    Pin<Box<dyn FrameSink>>,
    Option<SessionAnswer>,
)> {
    // A name or group the server would refuse (4008) is refused here,
    // before anything is sent.
    limits::check_local(
        Limit::NameLen,
        options.name.as_deref(),
        options.max_name_len,
    )?;
    limits::check_local(
        Limit::GroupLen,
        options.group.as_deref(),
        options.max_group_len,
    )?;
    let hello = Greeting {
        name: options.name.as_deref(),
        group: options.group.as_deref(),
        auth: options.auth.as_deref(),
        resume: None,
    };
    let (stream, sink, link, welcomed, session) =
        exchange::<R>(conn, &hello, options.clock, options.handshake_timeout).await?;
    let identity = Identity {
        id: welcomed.client_id,
        name: welcomed.name,
        group: welcomed.group,
    };
    // In the browser nothing is Send and there is one thread; the Arc is
    // for sharing between the handle and the driver, not across threads.
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    let shared = Arc::new(Shared {
        outbox: Arc::new(Outbox::new(options.outbox_limit)),
        frame_block: Default::default(),
        outgoing: crate::stream::OutgoingStreams::new(options.max_streams),
        max_stream_len: options.max_stream_len,
        max_streams: options.max_streams,
        max_pending_requests: options.max_pending_requests,
        max_name_len: options.max_name_len,
        max_group_len: options.max_group_len,
        max_command_len: options.max_command_len,
        when_full: options.when_full,
        handlers: SharedHandlers::new(options.handlers),
        inbox: Mutex::new(Inbox::new(options.unhandled_limit, options.cache_size)),
        pending: Mutex::new(PendingRequests::new()),
        presence: Mutex::new(PresenceInterest::default()),
        identity: Mutex::new(identity),
        max_frame_len: AtomicUsize::new(link.session.max_frame_len),
        link: Mutex::new(link),
        handler_queue_len: options.handler_queue_len,
        reconnect,
        state: AtomicU8::new(state_number(ConnectionState::Connected)),
        rooms: Mutex::new(Default::default()),
        offline: options.offline,
        offline_stamps: Mutex::new(Default::default()),
        clock: options.clock,
        stop: AtomicBool::new(false),
        stop_waker: AtomicWaker::new(),
        close_reason: Mutex::new(None),
        finished: AtomicBool::new(false),
        closed: Event::new(),
    });
    Ok((Client { shared }, stream, sink, session))
}

/// What a client says in its handshake.
pub(super) struct Greeting<'a> {
    pub(super) name: Option<&'a str>,
    pub(super) group: Option<&'a str>,
    pub(super) auth: Option<&'a [u8]>,
    /// The session to resume (its token, and the server's counted frames
    /// received in it); `None` asks for a new one.
    pub(super) resume: Option<(&'a [u8], u64)>,
}

/// The answer to a `Resume`, from the server's `Session` frame.
#[derive(Debug, Clone)]
pub(super) struct SessionAnswer {
    pub(super) outcome: ResumeOutcome,
    /// How long the server keeps the session after a break (zero: it
    /// keeps none).
    pub(super) window: Duration,
    /// The session's token (empty when the server keeps none).
    pub(super) token: Bytes,
    /// On a resume: the client's counted frames the server received.
    pub(super) received: u64,
}

/// The handshake's exchange on a fresh connection, the first one or a
/// reconnect: `Resume` (a reconnecting client's) and `Hello` out, `Welcome`
/// (and `Session` after a `Resume`) in, all within `timeout`.
pub(super) async fn exchange<R: Reconnects>(
    conn: Connection,
    greeting: &Greeting<'_>,
    clock: crate::platform::timer::Clock,
    timeout: Duration,
) -> Result<(
    Pin<Box<dyn FrameStream>>,
    Pin<Box<dyn FrameSink>>,
    Link,
    handshake::Welcomed,
    Option<SessionAnswer>,
)> {
    let Connection {
        mut stream,
        mut sink,
        peer_addr,
        local_addr,
        kind,
    } = conn;
    let answer = async {
        if let Some(resume) = R::resume_frame(greeting.resume) {
            sink.feed(resume).await?;
        }
        let hello = handshake::hello_frame(greeting.name, greeting.group, greeting.auth);
        sink.send(hello).await?;
        let welcomed = handshake::read_answer(stream.next().await.transpose()?)?;
        let session = match R::RESUMES {
            false => None,
            true => R::read_session(stream.next().await.transpose()?)?,
        };
        Ok::<_, Error>((welcomed, session))
    };
    let (welcomed, session) = with_timeout(clock, timeout, answer)
        .await
        .ok_or(Error::Timeout(timeout))??;
    let link = Link {
        session: welcomed.params,
        local_addr,
        server_addr: peer_addr,
        seen_addr: welcomed.seen_addr,
        transport: kind,
    };
    Ok((stream, sink, link, welcomed, session))
}

/// Reads the `Session` frame that follows `Welcome` after a `Resume`.
pub(super) fn read_session(next: Option<Bytes>) -> Result<SessionAnswer> {
    let Some(bytes) = next else {
        return Err(Error::Closed(CloseReason::new(
            codes::ABNORMAL,
            "server closed the connection during the handshake",
        )));
    };
    match Frame::decode(&bytes)? {
        Frame::Session {
            token,
            outcome,
            received,
            window_ms,
        } => Ok(SessionAnswer {
            outcome: ResumeOutcome::from_wire(outcome),
            window: Duration::from_millis(window_ms.into()),
            token: bytes.slice_ref(token),
            received,
        }),
        other => Err(ProtocolFault::Expected {
            expected: "session",
            got: other.kind_name(),
        }
        .into()),
    }
}
