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
mod tests {
    use super::*;
    use crate::frame::FRAME_KINDS;
    use crate::transport::TransportKind;

    fn refused(first: FirstFrame) -> CloseReason {
        match check_first(first) {
            Verdict::Refuse(reason) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn read(bytes: &[u8]) -> FirstFrame {
        FirstFrame::Read(Ok(Bytes::copy_from_slice(bytes)))
    }

    #[test]
    fn no_hello_in_time_is_4004() {
        assert_eq!(refused(FirstFrame::TimedOut).code, codes::HANDSHAKE_TIMEOUT);
    }

    #[test]
    fn shutting_down_while_waiting_is_1001() {
        assert_eq!(refused(FirstFrame::ShuttingDown).code, codes::GOING_AWAY);
    }

    #[test]
    fn a_closed_transport_is_dropped_without_a_word() {
        assert_eq!(check_first(FirstFrame::Closed), Verdict::Drop);
        let broken = FirstFrame::Read(Err(TransportError::Truncated));
        assert_eq!(check_first(broken), Verdict::Drop);
    }

    #[test]
    fn an_oversized_first_frame_is_1009_and_a_text_message_1003() {
        let big = FirstFrame::Read(Err(TransportError::FrameTooBig { len: 9, max: 8 }));
        assert_eq!(refused(big).code, codes::TOO_BIG);
        let text = FirstFrame::Read(Err(TransportError::Unsupported(CloseReason::new(
            codes::UNSUPPORTED_DATA,
            "text",
        ))));
        assert_eq!(refused(text).code, codes::UNSUPPORTED_DATA);
    }

    #[test]
    fn an_unknown_kind_is_4007() {
        assert_eq!(
            refused(read(&[FRAME_KINDS, 0])).code,
            codes::UNKNOWN_FRAME_KIND
        );
    }

    #[test]
    fn a_malformed_or_other_first_frame_is_1002() {
        let truncated_hello = refused(read(&[0x00, 0x01]));
        assert_eq!(truncated_hello.code, codes::PROTOCOL_ERROR);
        assert!(truncated_hello.reason.starts_with("bad hello: "));
        let ping = refused(read(&Frame::Ping { nonce: 1 }.encode()));
        assert_eq!(ping.code, codes::PROTOCOL_ERROR);
        let ping_name = Frame::Ping { nonce: 1 }.kind_name();
        assert_eq!(ping.reason, format!("expected hello, got {ping_name}"));
    }

    #[test]
    fn a_resume_is_read_before_the_hello_and_a_second_one_is_1002() {
        let resume = Frame::Resume {
            token: &[9; 16],
            received: 7,
        }
        .encode();
        assert_eq!(
            check_first(read(&resume)),
            Verdict::Resume(ResumeRequest {
                token: Bytes::from_static(&[9; 16]),
                received: 7,
            })
        );
        let again = match check_after_resume(read(&resume)) {
            Verdict::Refuse(reason) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert_eq!(again.code, codes::PROTOCOL_ERROR);
        assert_eq!(again.reason, "expected hello, got resume");
        let hello = hello_frame(Some("ada"), None, None);
        assert!(matches!(
            check_after_resume(read(&hello)),
            Verdict::Hello(Hello { name: Some(name), .. }) if &*name == "ada"
        ));
    }

    #[test]
    fn another_version_is_4001() {
        let hello = Frame::Hello {
            version: 2,
            name: None,
            group: None,
            auth: None,
        }
        .encode();
        assert_eq!(refused(read(&hello)).code, codes::VERSION_MISMATCH);
    }

    #[test]
    fn a_hello_is_admitted_with_its_name_group_and_auth() {
        let hello = hello_frame(Some("ada"), Some("lobby"), Some(&[0xc3]));
        let Verdict::Hello(hello) = check_first(read(&hello)) else {
            panic!("admitted");
        };
        assert_eq!(hello.name.as_deref(), Some("ada"));
        assert_eq!(hello.group.as_deref(), Some("lobby"));
        assert_eq!(hello.auth.as_deref(), Some(&[0xc3][..]));
    }

    #[test]
    fn the_auth_hooks_refusal_is_4003_with_its_text() {
        assert_eq!(check_auth(Ok(())), Ok(()));
        let reason = check_auth(Err("bad token".into())).expect_err("refused");
        assert_eq!(reason, CloseReason::new(codes::AUTH_REFUSED, "bad token"));
    }

    #[test]
    fn a_name_or_group_over_the_limit_is_4008() {
        let hello = |name: &str, group: &str| Hello {
            name: Some(Arc::from(name)),
            group: Some(Arc::from(group)),
            auth: None,
        };
        assert_eq!(check_names(&hello("ada", "lobby"), 3, 5), Ok(()));
        assert_eq!(check_names(&Hello::default(), 0, 0), Ok(()));
        let long_name = check_names(&hello("adam", "lobby"), 3, 5).expect_err("long");
        assert_eq!(
            long_name,
            CloseReason::new(codes::NAME_TOO_LONG, "client name longer than 3 bytes")
        );
        let long_group = check_names(&hello("ada", "lobby!"), 3, 5).expect_err("long");
        assert_eq!(
            long_group,
            CloseReason::new(codes::NAME_TOO_LONG, "group name longer than 5 bytes")
        );
    }

    #[test]
    fn a_full_server_is_4002() {
        assert_eq!(check_capacity(10, None), Ok(()));
        assert_eq!(check_capacity(1, Some(2)), Ok(()));
        let full = check_capacity(2, Some(2)).expect_err("full");
        assert_eq!(full.code, codes::SERVER_FULL);
        assert_eq!(full.reason, "server full: 2 clients connected");
    }

    #[test]
    fn the_welcome_the_server_sends_is_what_the_client_reads() {
        let info = ClientInfo {
            id: 7,
            name: Some(Arc::from("ada")),
            group: None,
            addr: "127.0.0.1:5000".parse().ok(),
            transport: TransportKind::Tcp,
        };
        let params = SessionParams {
            keepalive_interval: Some(Duration::from_secs(15)),
            keepalive_timeout: Some(Duration::from_secs(45)),
            max_frame_len: 1 << 20,
        };
        let welcomed = read_answer(Some(welcome_frame(&info, &params))).expect("welcomed");
        assert_eq!(welcomed.client_id, 7);
        assert_eq!(welcomed.name.as_deref(), Some("ada"));
        assert_eq!(welcomed.group, None);
        assert_eq!(welcomed.params, params);
        assert_eq!(welcomed.seen_addr, info.addr);
    }

    #[test]
    fn without_keepalive_both_keepalive_fields_are_zero() {
        let info = ClientInfo {
            id: 1,
            name: None,
            group: None,
            addr: None,
            transport: TransportKind::Other,
        };
        let params = SessionParams {
            keepalive_interval: None,
            keepalive_timeout: Some(Duration::from_secs(45)),
            max_frame_len: 8,
        };
        let frame = welcome_frame(&info, &params);
        match Frame::decode(&frame).expect("decodes") {
            Frame::Welcome {
                keepalive_interval_ms,
                keepalive_timeout_ms,
                ..
            } => assert_eq!((keepalive_interval_ms, keepalive_timeout_ms), (0, 0)),
            other => panic!("{other:?}"),
        }
        let welcomed = read_answer(Some(frame)).expect("welcomed");
        assert_eq!(welcomed.params.keepalive_interval, None);
        assert_eq!(welcomed.params.keepalive_timeout, None);
    }

    #[test]
    fn the_client_reads_refusals_closes_and_strangers_as_errors() {
        let refusal = refuse_frame(&CloseReason::new(codes::SERVER_FULL, "full"));
        assert!(matches!(
            read_answer(Some(refusal)),
            Err(Error::Refused(r)) if r.code == codes::SERVER_FULL && r.reason == "full"
        ));
        let close =
            crate::protocol::closing::close_frame_for(&CloseReason::new(codes::GOING_AWAY, "bye"));
        assert!(matches!(
            read_answer(Some(close)),
            Err(Error::Closed(r)) if r.code == codes::GOING_AWAY
        ));
        assert!(matches!(
            read_answer(Some(Frame::Ping { nonce: 1 }.encode())),
            Err(Error::Protocol(ProtocolFault::Expected {
                expected: "welcome",
                ..
            }))
        ));
        assert!(matches!(
            read_answer(None),
            Err(Error::Closed(r)) if r.code == codes::ABNORMAL
        ));
    }
}
