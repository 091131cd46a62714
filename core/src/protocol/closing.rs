//! How a connection ends, as one rule for both sides (PROTOCOL.md section
//! 8): given why the connection loop stopped, what the close reason is,
//! whether a `Close` frame goes out last, whether the server's `leave`
//! handler runs, and whether the peer is the one who ended it (the client's
//! `force_disconnect`). No I/O: the server's session and the client's
//! driver carry the plan out.

use std::time::Duration;

use bytes::Bytes;

use crate::close::{codes, CloseReason};
use crate::error::Error;
use crate::frame::Frame;
use crate::transport::TransportError;

/// Which end of the connection is closing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The server, closing one client's connection.
    Server,
    /// A client, closing its connection to the server.
    Client,
}

/// Why a connection loop stopped.
#[derive(Debug)]
pub enum Ending {
    /// The peer sent a `Close` frame.
    PeerClosed {
        /// The peer's code and reason.
        reason: CloseReason,
        /// The peer's `run_leave` (only a client's means anything).
        run_leave: bool,
    },
    /// The transport ended without a `Close` frame.
    Eof,
    /// The transport failed, or the peer broke the protocol.
    Failed(Error),
    /// Nothing was heard from the peer for this long (keepalive).
    Silent(Duration),
    /// This side ends the connection on purpose: the server kicks a client
    /// or shuts down, the client application closes.
    Local {
        /// The code and reason to close with.
        reason: CloseReason,
        /// Whether the server's `leave` handler runs (server side).
        run_leave: bool,
        /// The `Close` frame was already queued (the client's `close`
        /// queues it itself, behind everything it sent).
        close_queued: bool,
    },
}

/// What to do about an [`Ending`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosePlan {
    /// Why the connection ended: what `leave`, `closed()` and failed
    /// requests report.
    pub reason: CloseReason,
    /// A `Close` frame to send after everything already queued.
    pub send: Option<CloseReason>,
    /// The server's `leave` handler runs.
    pub run_leave: bool,
    /// The peer ended the connection (a client fires `force_disconnect`).
    pub by_peer: bool,
    /// The peer misbehaved (a protocol error, an oversized frame): worth a
    /// log line above debug level.
    pub peer_at_fault: bool,
}

impl ClosePlan {
    /// The `Close` frame to queue last, if one is to be sent. In every
    /// `Close` a server sends `run_leave` is true (PROTOCOL.md section 8).
    pub fn close_frame(&self) -> Option<Bytes> {
        self.send.as_ref().map(close_frame_for)
    }
}

/// The `Close` frame carrying `reason` (with `run_leave: true`).
#[inline]
pub fn close_frame_for(reason: &CloseReason) -> Bytes {
    Frame::Close {
        code: reason.code,
        reason: &reason.reason,
        run_leave: true,
    }
    .encode()
}

/// The plan for `ending` on `side`.
// Inlined into its one call site per side, so the browser build (client
// only) drops the server's arms.
#[inline(always)]
pub fn plan(side: Side, ending: Ending) -> ClosePlan {
    let quiet = |reason: CloseReason, by_peer: bool| ClosePlan {
        reason,
        send: None,
        run_leave: true,
        by_peer,
        peer_at_fault: false,
    };
    match ending {
        Ending::PeerClosed { reason, run_leave } => ClosePlan {
            run_leave,
            ..quiet(reason, true)
        },
        Ending::Eof => quiet(
            CloseReason::new(
                codes::ABNORMAL,
                match side {
                    Side::Server => "connection closed without a close frame",
                    Side::Client => "server closed the connection without a close frame",
                },
            ),
            false,
        ),
        // The transport saw the peer close with a code (a WebSocket close
        // frame) but no hisock `Close` came first: that code and reason
        // are why the connection ended.
        Ending::Failed(Error::Transport(TransportError::Closed(reason))) => quiet(reason, true),
        Ending::Failed(err) => match err.close_reason() {
            Some(reason) => ClosePlan {
                send: Some(reason.clone()),
                peer_at_fault: true,
                ..quiet(reason, false)
            },
            None => quiet(CloseReason::new(codes::ABNORMAL, err.to_string()), false),
        },
        Ending::Silent(window) => {
            // The client's text in whole milliseconds as a u64: u128
            // formatting would cost the browser build about a kilobyte.
            let text = match side {
                // Only a server says this, and only the server half has
                // it: `Duration`'s `Debug` stays out of the browser build.
                #[cfg(feature = "server")]
                Side::Server => format!("silent for {window:?}"),
                _ => {
                    let ms = window.as_millis().min(u64::MAX as u128) as u64;
                    format!("server silent for {ms} ms")
                }
            };
            let reason = CloseReason::new(codes::KEEPALIVE_TIMEOUT, text);
            ClosePlan {
                // The server tells the client why; a client that lost its
                // server has nobody to tell.
                send: (side == Side::Server).then(|| reason.clone()),
                ..quiet(reason, false)
            }
        }
        Ending::Local {
            reason,
            run_leave,
            close_queued,
        } => ClosePlan {
            send: (!close_queued).then(|| reason.clone()),
            run_leave,
            ..quiet(reason, false)
        },
    }
}

/// The [`Ending::Local`] of a server shutting down.
pub fn shutdown() -> Ending {
    Ending::Local {
        reason: CloseReason::new(codes::GOING_AWAY, "server shutting down"),
        run_leave: true,
        close_queued: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Malformed, ProtocolFault};
    use crate::frame::FRAME_KINDS;

    fn reason(code: u16, text: &str) -> CloseReason {
        CloseReason::new(code, text)
    }

    #[test]
    fn a_peer_close_is_reported_as_sent_and_answered_with_nothing() {
        for side in [Side::Server, Side::Client] {
            for run_leave in [true, false] {
                let plan = plan(
                    side,
                    Ending::PeerClosed {
                        reason: reason(codes::NORMAL, "bye"),
                        run_leave,
                    },
                );
                assert_eq!(plan.reason, reason(codes::NORMAL, "bye"));
                assert_eq!(plan.send, None, "no Close in answer to a Close");
                assert_eq!(plan.run_leave, run_leave, "the client's run_leave is kept");
                assert!(plan.by_peer);
                assert!(!plan.peer_at_fault);
            }
        }
    }

    #[test]
    fn an_end_without_close_is_abnormal_1006_and_runs_leave() {
        let server = plan(Side::Server, Ending::Eof);
        assert_eq!(server.reason.code, codes::ABNORMAL);
        assert_eq!(server.send, None, "1006 is never sent");
        assert!(server.run_leave);
        assert!(!server.by_peer);
        let client = plan(Side::Client, Ending::Eof);
        assert_eq!(client.reason.code, codes::ABNORMAL);
        assert!(client.reason.reason.contains("server closed"));
        assert!(!client.by_peer, "no force_disconnect without a Close");
    }

    #[test]
    fn a_websocket_close_code_is_the_peers_reason() {
        for side in [Side::Server, Side::Client] {
            let closed = TransportError::Closed(reason(codes::GOING_AWAY, "tab closed"));
            let plan = plan(side, Ending::Failed(Error::Transport(closed)));
            assert_eq!(plan.reason, reason(codes::GOING_AWAY, "tab closed"));
            assert_eq!(plan.send, None);
            assert!(plan.by_peer);
        }
    }

    #[test]
    fn protocol_faults_are_answered_with_their_close_code() {
        let cases: [(fn() -> Error, u16); 6] = [
            (|| Malformed::BadVarint.into(), codes::PROTOCOL_ERROR),
            (
                || {
                    ProtocolFault::NotAllowed {
                        sender: "client",
                        kind: "hello",
                    }
                    .into()
                },
                codes::PROTOCOL_ERROR,
            ),
            (
                || ProtocolFault::UnknownKind(FRAME_KINDS).into(),
                codes::UNKNOWN_FRAME_KIND,
            ),
            (
                || Error::Transport(TransportError::FrameTooBig { len: 9, max: 8 }),
                codes::TOO_BIG,
            ),
            (
                || {
                    Error::Transport(TransportError::Unsupported(CloseReason::new(
                        codes::UNSUPPORTED_DATA,
                        "text message",
                    )))
                },
                codes::UNSUPPORTED_DATA,
            ),
            (
                || {
                    let exceeded = crate::LimitExceeded {
                        limit: crate::Limit::Streams,
                        max: 64,
                    };
                    ProtocolFault::LimitExceeded(exceeded).into()
                },
                codes::TOO_MANY_STREAMS,
            ),
        ];
        for side in [Side::Server, Side::Client] {
            for (err, code) in &cases {
                let err = err();
                let plan = plan(side, Ending::Failed(err));
                assert_eq!(plan.reason.code, *code);
                assert_eq!(plan.send.as_ref().map(|r| r.code), Some(*code));
                assert!(plan.peer_at_fault);
                assert!(!plan.by_peer);
            }
        }
    }

    #[test]
    fn a_broken_transport_is_abnormal_and_sends_nothing() {
        let plan = plan(
            Side::Server,
            Ending::Failed(Error::Transport(TransportError::Truncated)),
        );
        assert_eq!(plan.reason.code, codes::ABNORMAL);
        assert_eq!(plan.send, None);
        assert!(plan.run_leave);
        assert!(!plan.peer_at_fault);
    }

    #[test]
    fn silence_is_4005_and_only_the_server_says_so() {
        let window = Duration::from_millis(250);
        let server = plan(Side::Server, Ending::Silent(window));
        assert_eq!(server.reason.code, codes::KEEPALIVE_TIMEOUT);
        // The server's own text is in the server half only; without it a
        // plan for `Side::Server` (which nothing makes) reads like the
        // client's.
        #[cfg(feature = "server")]
        assert_eq!(server.reason.reason, "silent for 250ms");
        assert_eq!(server.send, Some(server.reason.clone()));
        assert!(server.run_leave, "leave runs for a timed-out client");
        let client = plan(Side::Client, Ending::Silent(window));
        assert_eq!(client.reason.code, codes::KEEPALIVE_TIMEOUT);
        assert_eq!(client.reason.reason, "server silent for 250 ms");
        assert_eq!(client.send, None);
    }

    #[test]
    fn a_kick_sends_its_reason_and_may_skip_leave() {
        let kicked = reason(codes::KICKED, "spam");
        let plan = plan(
            Side::Server,
            Ending::Local {
                reason: kicked.clone(),
                run_leave: false,
                close_queued: false,
            },
        );
        assert_eq!(plan.reason, kicked);
        assert_eq!(plan.send, Some(kicked));
        assert!(!plan.run_leave);
        assert!(!plan.by_peer);
    }

    #[test]
    fn shutdown_is_1001_sent_last_and_runs_leave() {
        let plan = plan(Side::Server, shutdown());
        assert_eq!(plan.reason.code, codes::GOING_AWAY);
        assert_eq!(plan.send.as_ref().map(|r| r.code), Some(codes::GOING_AWAY));
        assert!(plan.run_leave);
        let frame = plan.close_frame().expect("a Close");
        assert_eq!(
            Frame::decode(&frame).expect("decodes"),
            Frame::Close {
                code: codes::GOING_AWAY,
                reason: "server shutting down",
                run_leave: true,
            }
        );
    }

    #[test]
    fn a_client_close_already_queued_is_not_sent_twice() {
        let plan = plan(
            Side::Client,
            Ending::Local {
                reason: reason(codes::NORMAL, "closed by client"),
                run_leave: true,
                close_queued: true,
            },
        );
        assert_eq!(plan.reason.code, codes::NORMAL);
        assert_eq!(plan.send, None);
        assert!(!plan.by_peer, "closing on purpose is no force_disconnect");
    }
}
