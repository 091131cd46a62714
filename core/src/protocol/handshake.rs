//! The handshake's rules, both sides (PROTOCOL.md section 4): the client's
//! `Hello`, the server's checks in their documented order, the `Welcome`,
//! and how the client reads the server's answer. No I/O: the server's
//! connection task waits for the first frame and runs the auth hook, the
//! client's `handshake` sends and waits; both call these.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::close::{codes, CloseReason};
use crate::error::{Error, ProtocolFault};
use crate::frame::{Frame, PROTOCOL_VERSION};
use crate::info::ClientInfo;
use crate::protocol::limits::{self, Limit};
use crate::transport::TransportError;

/// What a client asks for in its `Hello`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hello {
    /// The name it asks for.
    pub name: Option<Arc<str>>,
    /// The group it asks for.
    pub group: Option<Arc<str>>,
    /// Its auth data (one MessagePack value), for the auth hook.
    pub auth: Option<Bytes>,
}

/// How the wait for a new connection's first frame ended.
#[derive(Debug)]
pub enum FirstFrame {
    /// Nothing arrived within the handshake timeout.
    TimedOut,
    /// The server began shutting down while waiting.
    ShuttingDown,
    /// The transport closed before any frame arrived.
    Closed,
    /// A frame arrived, or the transport failed reading one.
    Read(Result<Bytes, TransportError>),
}

/// The server's verdict on a first frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A `Hello` the server speaks: go on to the auth hook and capacity.
    Hello(Hello),
    /// A `Resume` (PROTOCOL.md section 13.1): read the next frame, which
    /// must be the `Hello`, with [`check_after_resume`].
    Resume(ResumeRequest),
    /// Send `Refuse` with this reason and close.
    Refuse(CloseReason),
    /// Close without sending anything (the client already hung up).
    Drop,
}

/// Checks a new connection's first frame: the rows of PROTOCOL.md
/// section 4's table up to the version, in their order.
pub fn check_first(first: FirstFrame) -> Verdict {
    let bytes = match first {
        FirstFrame::TimedOut => {
            return Verdict::Refuse(CloseReason::new(
                codes::HANDSHAKE_TIMEOUT,
                "no hello within the handshake timeout",
            ))
        }
        FirstFrame::ShuttingDown => {
            return Verdict::Refuse(CloseReason::new(codes::GOING_AWAY, "server shutting down"))
        }
        FirstFrame::Closed => return Verdict::Drop,
        FirstFrame::Read(Err(err)) => {
            return match Error::from(err).close_reason() {
                Some(reason) => Verdict::Refuse(reason),
                None => Verdict::Drop,
            }
        }
        FirstFrame::Read(Ok(bytes)) => bytes,
    };
    match Frame::decode(&bytes) {
        Ok(Frame::Hello {
            version,
            name,
            group,
            auth,
        }) => {
            if version != PROTOCOL_VERSION {
                return Verdict::Refuse(CloseReason::new(
                    codes::VERSION_MISMATCH,
                    format!(
                        "server speaks protocol version {PROTOCOL_VERSION}, client sent {version}"
                    ),
                ));
            }
            Verdict::Hello(Hello {
                name: name.map(Arc::from),
                group: group.map(Arc::from),
                auth: auth.map(|a| bytes.slice_ref(a)),
            })
        }
        Ok(Frame::Resume { token, received }) => Verdict::Resume(ResumeRequest {
            token: bytes.slice_ref(token),
            received,
        }),
        Ok(other) => Verdict::Refuse(CloseReason::new(
            codes::PROTOCOL_ERROR,
            ProtocolFault::Expected {
                expected: "hello",
                got: other.kind_name(),
            }
            .reason(),
        )),
        Err(err) => {
            let reason = err
                .close_reason()
                .unwrap_or_else(|| CloseReason::new(codes::PROTOCOL_ERROR, err.to_string()));
            Verdict::Refuse(CloseReason::new(
                reason.code,
                format!("bad hello: {}", reason.reason),
            ))
        }
    }
}

/// Checks the frame after a `Resume`: as [`check_first`], except that a
/// second `Resume` is a protocol error (1002), so that the answer is a
/// `Hello`, a refusal or a drop.
pub fn check_after_resume(next: FirstFrame) -> Verdict {
    match check_first(next) {
        Verdict::Resume(_) => Verdict::Refuse(CloseReason::new(
            codes::PROTOCOL_ERROR,
            ProtocolFault::Expected {
                expected: "hello",
                got: crate::frame::FrameKind::Resume.log_name(),
            }
            .reason(),
        )),
        verdict => verdict,
    }
}

/// What a client's `Resume` asks for (PROTOCOL.md section 13.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeRequest {
    /// Empty: a new session; otherwise the token of the one to resume.
    pub token: Bytes,
    /// Counted frames the client received from the server in that session.
    pub received: u64,
}

/// The name and group a `Hello` asks for against the server's limits, in
/// bytes: the check after the version, before the auth hook sees them
/// (4008 name too long).
pub fn check_names(
    hello: &Hello,
    max_name_len: usize,
    max_group_len: usize,
) -> Result<(), CloseReason> {
    limits::check_len(Limit::NameLen, hello.name.as_deref(), max_name_len)
        .and_then(|()| limits::check_len(Limit::GroupLen, hello.group.as_deref(), max_group_len))
        .map_err(|exceeded| CloseReason::new(exceeded.limit.close_code(), exceeded.to_string()))
}

/// The auth hook's answer as a refusal (4003 with the hook's text).
pub fn check_auth(answer: Result<(), String>) -> Result<(), CloseReason> {
    answer.map_err(|reason| CloseReason::new(codes::AUTH_REFUSED, reason))
}

/// The capacity check, the last one: `connected` clients are registered.
pub fn check_capacity(connected: usize, max: Option<usize>) -> Result<(), CloseReason> {
    match max {
        Some(max) if connected >= max => Err(CloseReason::new(
            codes::SERVER_FULL,
            format!("server full: {max} clients connected"),
        )),
        _ => Ok(()),
    }
}

/// The `Refuse` frame for a refusal.
pub fn refuse_frame(reason: &CloseReason) -> Bytes {
    Frame::Refuse {
        code: reason.code,
        reason: &reason.reason,
    }
    .encode()
}

/// The session parameters a server announces in `Welcome` and a client
/// learns from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionParams {
    /// How often the server pings; `None` when it does not.
    pub keepalive_interval: Option<Duration>,
    /// How long the server tolerates silence.
    pub keepalive_timeout: Option<Duration>,
    /// The largest frame the server accepts.
    pub max_frame_len: usize,
}

/// Milliseconds on the wire: saturated at `u32::MAX`; `None` is 0.
fn wire_ms(duration: Option<Duration>) -> u32 {
    duration.map_or(0, |d| d.as_millis().min(u32::MAX as u128) as u32)
}

/// Milliseconds from the wire: 0 is `None`.
fn from_wire_ms(ms: u32) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms.into()))
}

/// The `Welcome` frame for an admitted client. The keepalive timeout is
/// announced as 0 when keepalive is off.
pub fn welcome_frame(info: &ClientInfo, params: &SessionParams) -> Bytes {
    let addr = info.addr.map(|a| a.to_string());
    Frame::Welcome {
        client_id: info.id,
        name: info.name(),
        group: info.group(),
        keepalive_interval_ms: wire_ms(params.keepalive_interval),
        keepalive_timeout_ms: wire_ms(params.keepalive_interval.and(params.keepalive_timeout)),
        max_frame_len: params.max_frame_len.min(u32::MAX as usize) as u32,
        addr: addr.as_deref(),
    }
    .encode()
}

/// The client's `Hello`.
#[inline]
pub fn hello_frame(name: Option<&str>, group: Option<&str>, auth: Option<&[u8]>) -> Bytes {
    Frame::Hello {
        version: PROTOCOL_VERSION,
        name,
        group,
        auth,
    }
    .encode()
}

/// What a client learns from the server's `Welcome`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcomed {
    /// The client's id on the server.
    pub client_id: u64,
    /// The name the server recorded.
    pub name: Option<String>,
    /// The group the server recorded.
    pub group: Option<String>,
    /// Keepalive and limits.
    pub params: SessionParams,
    /// The client's address as the server sees it.
    pub seen_addr: Option<SocketAddr>,
}

/// Reads the server's answer to a `Hello` (`None`: the transport ended).
///
/// Errors: [`Error::Refused`] for a `Refuse`, [`Error::Closed`] for a
/// `Close` or a transport that ended, [`Error::Protocol`] for any other
/// frame, and decoding errors.
#[inline(always)] // one caller, the client's handshake: no result to move
pub fn read_answer(first: Option<Bytes>) -> Result<Welcomed, Error> {
    let Some(bytes) = first else {
        return Err(Error::Closed(CloseReason::new(
            codes::ABNORMAL,
            "server closed the connection during the handshake",
        )));
    };
    match Frame::decode(&bytes)? {
        Frame::Welcome {
            client_id,
            name,
            group,
            keepalive_interval_ms,
            keepalive_timeout_ms,
            max_frame_len,
            addr,
        } => Ok(Welcomed {
            client_id,
            name: name.map(str::to_owned),
            group: group.map(str::to_owned),
            params: SessionParams {
                keepalive_interval: from_wire_ms(keepalive_interval_ms),
                keepalive_timeout: from_wire_ms(keepalive_timeout_ms),
                max_frame_len: max_frame_len as usize,
            },
            seen_addr: addr.and_then(crate::addr::parse_socket_addr),
        }),
        Frame::Refuse { code, reason } => Err(Error::Refused(CloseReason::new(code, reason))),
        Frame::Close { code, reason, .. } => Err(Error::Closed(CloseReason::new(code, reason))),
        other => Err(ProtocolFault::Expected {
            expected: "welcome",
            got: other.kind_name(),
        }
        .into()),
    }
}

#[cfg(test)]
#[path = "handshake_tests.rs"]
mod tests;
