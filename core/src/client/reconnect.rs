//! The client between connections (PROTOCOL.md section 13.8): the driver
//! hands a broken connection here when the policy
//! ([`Reconnect`](crate::protocol::reconnect::Reconnect)) retries it; this
//! waits out the backoff, connects again with the client's
//! [`Connector`], and hands the driver the new connection, or gives up.
//! Handlers already running go on meanwhile, and requests' timeouts keep
//! running.
//!
//! What survives a reconnect: the client itself (handlers, the outgoing
//! queue with everything the application sent meanwhile, `recv` waiters,
//! requests still queued), its name, group, presence interest and rooms,
//! asked for again on the new session. What does not, while the server
//! resumes no sessions: streams, and requests already sent (they fail with
//! [`Error::SessionLost`]).

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures::SinkExt;

use super::driver::{watchdog_for, Reader};
use super::events::Extras;
use super::handshake::{exchange, Greeting, SessionAnswer};
use super::session::ClientSession;
use super::{lock, reserved, Client, ClientEvent};
use crate::close::{codes, CloseReason};
use crate::dispatch::{FromEvent, Rejection};
use crate::error::{Error, Result};
use crate::frame::{ErrorCode, Frame};
use crate::pending::drive_deadlines;
use crate::platform::timer::DeadlineTimer;
use crate::protocol::closing::{self, Ending, Side};
use crate::protocol::reconnect::{ConnectionState, EndCause, Reconnect};
use crate::protocol::resume::ResumeOutcome;
use crate::stream::IncomingStreams;
use crate::transport::{BoxFuture, Connection, FrameSink};

/// Opens a new connection to the server, for a client that reconnects
/// ([`Client::connect_with`]). The transports' `connect` functions make
/// one from their address.
#[cfg(not(target_arch = "wasm32"))]
pub type Connector = Arc<dyn Fn() -> BoxFuture<'static, Result<Connection>> + Send + Sync>;
/// Opens a new connection to the server (the browser build: nothing need
/// be `Send`).
#[cfg(target_arch = "wasm32")]
pub type Connector = Arc<dyn Fn() -> BoxFuture<'static, Result<Connection>>>;

/// What a reconnecting client keeps to connect again.
#[derive(Clone)]
pub(crate) struct Reconnecting {
    pub(crate) policy: Reconnect,
    pub(crate) connector: Connector,
    /// The auth data of every `Hello`.
    pub(crate) auth: Option<Bytes>,
    pub(crate) handshake_timeout: Duration,
    /// The bound of the session's replay buffer.
    pub(crate) replay_limit: usize,
    /// [`Client::push_offline`], called through this pointer so that a
    /// client that cannot reconnect (the browser's) does not carry it.
    pub(crate) push_offline: fn(&Client, Bytes) -> Result<()>,
}

/// A change of the client's connection: the context of the reserved events
/// `disconnected`, `reconnecting` and `reconnected` (take it as a handler
/// argument).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionChange {
    /// The connection ended with `code` and `reason` (1006 when it broke
    /// without a `Close`); `will_retry`: the client connects again.
    Disconnected {
        /// The close code.
        code: u16,
        /// Why, for humans.
        reason: String,
        /// Whether the client tries again.
        will_retry: bool,
    },
    /// The client waits `delay`, then makes attempt `attempt` (from 1).
    Reconnecting {
        /// Which attempt follows the delay.
        attempt: u32,
        /// The backoff before it.
        delay: Duration,
    },
    /// Connected again: `resumed` when to the old session (nothing lost),
    /// otherwise to a new one, for `outcome`'s reason.
    Reconnected {
        /// Whether the old session went on.
        resumed: bool,
        /// What the server said about resuming.
        outcome: ResumeOutcome,
        /// Frames dropped from the offline queue past their time-to-live
        /// (requests among them failed with
        /// [`Error::Expired`](crate::Error::Expired)).
        expired: usize,
    },
}

impl FromEvent<ClientEvent> for ConnectionChange {
    fn from_event(ctx: &ClientEvent) -> std::result::Result<Self, Rejection> {
        ctx.connection.clone().ok_or_else(|| {
            Rejection::new(
                ErrorCode::HandlerFailed,
                "ConnectionChange is only available in disconnected/reconnecting/reconnected handlers",
            )
        })
    }
}

/// [`ConnectionState`] as the number `Shared::state` holds.
pub(super) fn state_number(state: ConnectionState) -> u8 {
    match state {
        ConnectionState::Connecting => 0,
        ConnectionState::Connected => 1,
        ConnectionState::Reconnecting => 2,
        ConnectionState::Closed => 3,
    }
}

/// The [`ConnectionState`] `Shared::state` holds.
pub(super) fn state_from(number: u8) -> ConnectionState {
    match number {
        0 => ConnectionState::Connecting,
        1 => ConnectionState::Connected,
        2 => ConnectionState::Reconnecting,
        _ => ConnectionState::Closed,
    }
}

impl Client {
    pub(super) fn set_state(&self, state: ConnectionState) {
        self.shared
            .state
            .store(state_number(state), Ordering::Release);
    }
}

/// A random number in `[0, 1)` for the backoff's jitter (not for secrets).
fn random_unit() -> f64 {
    #[cfg(not(target_arch = "wasm32"))]
    return fastrand::f64();
    #[cfg(target_arch = "wasm32")]
    return js_sys::Math::random();
}

/// The application closed the client while it was between connections.
struct Stopped;

/// The ending of a client closed while reconnecting.
fn closed_by_client() -> Ending {
    Ending::Local {
        reason: CloseReason::new(codes::NORMAL, "closed by client"),
        run_leave: true,
        close_queued: true,
    }
}

/// The ending of a client that gave up reconnecting: `last` is why the
/// last attempt failed. Nothing is left to send a `Close` on.
fn gave_up(last: CloseReason) -> Ending {
    Ending::Local {
        reason: last,
        run_leave: false,
        close_queued: true,
    }
}

/// What ended an attempt to connect, for the policy and the reason.
fn attempt_failed(err: &Error) -> (EndCause, CloseReason) {
    match err {
        Error::Refused(reason) => (EndCause::Code(reason.code), reason.clone()),
        Error::Closed(reason) if reason.code != codes::ABNORMAL => {
            (EndCause::Code(reason.code), reason.clone())
        }
        other => (
            EndCause::ConnectFailed,
            CloseReason::new(codes::ABNORMAL, other.to_string()),
        ),
    }
}

/// The request id a queued client frame carries, if it is a request.
pub(super) fn request_id(frame: &[u8]) -> Option<u64> {
    let id = match Frame::decode(frame).ok()? {
        Frame::Event { request_id, .. }
        | Frame::SetName { request_id, .. }
        | Frame::SetGroup { request_id, .. }
        | Frame::Lookup { request_id, .. }
        | Frame::ListClients { request_id, .. }
        | Frame::RoomRequest { request_id, .. } => request_id,
        _ => return None,
    };
    (id != 0).then_some(id)
}

impl Reader {
    /// Runs the client's handlers and request deadlines while `fut` runs;
    /// `Err` when the application closes the client meanwhile.
    async fn while_waiting<F: Future>(
        &mut self,
        deadlines: &mut DeadlineTimer,
        fut: F,
    ) -> std::result::Result<F::Output, Stopped> {
        let shared = self.client.shared.clone();
        let mut fut = std::pin::pin!(fut);
        poll_fn(|cx| {
            shared.stop_waker.register(cx.waker());
            if shared.stop.load(Ordering::Acquire) {
                return Poll::Ready(Err(Stopped));
            }
            if let Poll::Ready(out) = fut.as_mut().poll(cx) {
                return Poll::Ready(Ok(out));
            }
            self.poll_jobs(cx);
            drive_deadlines(&shared.pending, deadlines, cx);
            Poll::Pending
        })
        .await
    }

    /// Tells the application through its reserved event.
    fn connection_event(&mut self, name: &str, change: ConnectionChange) {
        let extras = Extras {
            connection: Some(change),
            ..Extras::default()
        };
        self.reserved_event(name, extras);
    }

    /// The connection ended so: the application hears of it, and the client
    /// will not try again.
    pub(super) fn final_disconnect(&mut self, reason: &CloseReason) {
        if self.client.shared.reconnect.is_some() {
            let change = ConnectionChange::Disconnected {
                code: reason.code,
                reason: reason.reason.clone(),
                will_retry: false,
            };
            self.connection_event(reserved::DISCONNECTED, change);
        }
    }

    /// The connection broke with `ending`, which the policy retries:
    /// waits, connects again until an attempt succeeds (the new
    /// connection's sink is returned, its stream is this reader's), or
    /// gives up (the ending to finish with is returned).
    pub(super) async fn reconnect(
        &mut self,
        ending: Ending,
        deadlines: &mut DeadlineTimer,
    ) -> std::result::Result<Pin<Box<dyn FrameSink>>, Ending> {
        let shared = self.client.shared.clone();
        let Some(how) = shared.reconnect.clone() else {
            return Err(ending);
        };
        let reason = closing::plan(Side::Client, ending).reason;
        tracing::debug!(%reason, "connection broke; reconnecting");
        self.client.set_state(ConnectionState::Reconnecting);
        shared.outbox.writer_dropped();
        if let Some(session) = self.session.as_mut() {
            session.broke();
        }
        let change = ConnectionChange::Disconnected {
            code: reason.code,
            reason: reason.reason.clone(),
            will_retry: true,
        };
        self.connection_event(reserved::DISCONNECTED, change);
        let broke = reason.clone();
        let mut last = reason;
        let mut attempt = 0u32;
        loop {
            attempt = attempt.saturating_add(1);
            let Some(delay) = how.policy.next_delay(attempt, random_unit()) else {
                tracing::debug!(attempt, %last, "giving up reconnecting");
                // `finish` tells the application (`disconnected`, once).
                return Err(gave_up(last));
            };
            self.connection_event(
                reserved::RECONNECTING,
                ConnectionChange::Reconnecting { attempt, delay },
            );
            let sleep = shared.clock.delay(delay);
            if self.while_waiting(deadlines, sleep).await.is_err() {
                return Err(closed_by_client());
            }
            let (name, group) = {
                let identity = lock(&shared.identity);
                (identity.name.clone(), identity.group.clone())
            };
            let resume = self
                .session
                .as_ref()
                .map(|session| (session.token.clone(), session.acks.received()));
            let greeting = Greeting {
                name: name.as_deref(),
                group: group.as_deref(),
                auth: how.auth.as_deref(),
                resume: resume
                    .as_ref()
                    .map(|(token, received)| (&token[..], *received)),
            };
            let connect = async {
                let conn = (how.connector)().await?;
                exchange::<super::lifecycle::WithReconnect>(
                    conn,
                    &greeting,
                    shared.clock,
                    how.handshake_timeout,
                )
                .await
            };
            match self.while_waiting(deadlines, connect).await {
                Err(Stopped) => return Err(closed_by_client()),
                Ok(Ok((stream, mut sink, link, welcomed, session))) => {
                    let answer = session.unwrap_or(SessionAnswer {
                        outcome: ResumeOutcome::Disabled,
                        window: Duration::ZERO,
                        token: Bytes::new(),
                        received: 0,
                    });
                    let outcome = answer.outcome;
                    let resumed = outcome.resumed() && self.session.is_some();
                    if resumed {
                        // What the server did not receive goes first, then
                        // what waited (PROTOCOL.md section 13.5).
                        if let Err(fault) =
                            shared.outbox.resume_session(answer.received, Vec::new())
                        {
                            tracing::warn!(%fault, "the server's count does not fit; a new session follows");
                            let close = closing::close_frame_for(&CloseReason::new(
                                codes::PROTOCOL_ERROR,
                                fault.to_string(),
                            ));
                            let _ = self.while_waiting(deadlines, sink.send(close)).await;
                            self.session = None;
                            last = CloseReason::new(codes::PROTOCOL_ERROR, fault.to_string());
                            continue;
                        }
                        if let Some(session) = self.session.as_mut() {
                            session.acks.told_on_resume();
                        }
                    }
                    {
                        let mut identity = lock(&shared.identity);
                        identity.id = welcomed.client_id;
                        identity.name = welcomed.name;
                        identity.group = welcomed.group;
                    }
                    shared
                        .max_frame_len
                        .store(link.session.max_frame_len, Ordering::Relaxed);
                    self.watchdog = watchdog_for(shared.clock, &link.session);
                    *lock(&shared.link) = link;
                    self.stream = stream;
                    self.heard = false;
                    // Expired first: a request dropped here fails as expired,
                    // not as lost with the old session.
                    let expired = self.client.expire_offline();
                    if !resumed {
                        self.start_over(&broke, answer, how.replay_limit);
                    }
                    self.client.set_state(ConnectionState::Connected);
                    tracing::debug!(attempt, ?outcome, "reconnected");
                    self.connection_event(
                        reserved::RECONNECTED,
                        ConnectionChange::Reconnected {
                            resumed,
                            outcome,
                            expired,
                        },
                    );
                    return Ok(sink);
                }
                Ok(Err(err)) => {
                    let (cause, reason) = attempt_failed(&err);
                    tracing::debug!(attempt, %err, "reconnect attempt failed");
                    if !how.policy.retries(cause) {
                        return Err(gave_up(reason));
                    }
                    last = reason;
                    continue;
                }
            }
        }
    }

    /// Connected again, to a new session (or none): streams end with the
    /// old one, what the server sent and did not acknowledge is dropped,
    /// and the client starts its part of the new session.
    fn start_over(&mut self, broke: &CloseReason, answer: SessionAnswer, replay_limit: usize) {
        let shared = self.client.shared.clone();
        self.incoming.close(broke);
        shared.outgoing.close(broke);
        self.incoming = IncomingStreams::new(shared.max_stream_len, shared.max_streams);
        shared.outbox.drop_upkeep();
        self.session = if answer.window.is_zero() {
            shared.outbox.end_session();
            None
        } else {
            shared.outbox.start_session(replay_limit);
            Some(ClientSession::new(answer.token))
        };
        self.client.new_session(answer.outcome);
    }
}

impl Client {
    /// Connected again, but not to the old session: requests the old one
    /// may have handled fail, and what the client had is asked for again,
    /// ahead of what the application queued meanwhile (PROTOCOL.md section
    /// 13.6). Its name and group were in the `Hello`.
    fn new_session(&self, outcome: ResumeOutcome) {
        let shared = &self.shared;
        let mut unsent = Vec::new();
        shared
            .outbox
            .for_each_queued(|frame| unsent.extend(request_id(frame)));
        lock(&shared.pending)
            .fail_unless(|id| unsent.contains(&id), || Error::SessionLost { outcome });
        let mut restore = Vec::new();
        if lock(&shared.presence).declined() {
            restore.push(Frame::PresenceInterest { wanted: false }.encode());
        }
        for room in lock(&shared.rooms).iter() {
            restore.push(
                Frame::RoomRequest {
                    request_id: 0,
                    room,
                    join: true,
                }
                .encode(),
            );
        }
        shared.outbox.push_first(restore);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_keep_their_numbers() {
        for state in [
            ConnectionState::Connecting,
            ConnectionState::Connected,
            ConnectionState::Reconnecting,
            ConnectionState::Closed,
        ] {
            assert_eq!(state_from(state_number(state)), state);
        }
    }

    #[test]
    fn requests_are_found_in_queued_frames() {
        let request = Frame::Event {
            command: "ask",
            request_id: 7,
            payload: &[0xc0],
        }
        .encode();
        let event = Frame::Event {
            command: "tell",
            request_id: 0,
            payload: &[0xc0],
        }
        .encode();
        let rename = Frame::SetName {
            request_id: 9,
            name: None,
        }
        .encode();
        assert_eq!(request_id(&request), Some(7));
        assert_eq!(request_id(&event), None);
        assert_eq!(request_id(&rename), Some(9));
        assert_eq!(request_id(&Frame::Ping { nonce: 1 }.encode()), None);
    }

    #[test]
    fn a_refusal_is_judged_by_its_code_and_a_failed_connect_is_retried() {
        let refused = Error::Refused(CloseReason::new(codes::AUTH_REFUSED, "no"));
        assert_eq!(
            attempt_failed(&refused).0,
            EndCause::Code(codes::AUTH_REFUSED)
        );
        let timeout = Error::Timeout(Duration::from_secs(1));
        assert_eq!(attempt_failed(&timeout).0, EndCause::ConnectFailed);
        let hung_up = Error::Closed(CloseReason::new(codes::ABNORMAL, "gone"));
        assert_eq!(attempt_failed(&hung_up).0, EndCause::ConnectFailed);
    }
}
