//! What nodes tell each other, and its encoding (MessagePack with field
//! names, so that nodes of neighbouring versions can read each other's
//! messages as long as fields are only added).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::NodeId;
use crate::close::CloseReason;
use crate::error::Error;
use crate::frame::ErrorCode;
use crate::info::ClientInfo;

/// One message between nodes, with its sender.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Envelope {
    pub from: NodeId,
    pub message: Message,
}

/// Who a broadcast is for (each node picks its own clients).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum WireTarget {
    All,
    Group(String),
    Room(String),
}

/// A client with its rooms, as a snapshot lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Member {
    pub info: ClientInfo,
    pub rooms: Vec<Arc<str>>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Message {
    /// Deliver `frame` to this node's clients that match.
    Broadcast {
        target: WireTarget,
        except: Vec<u64>,
        presence: bool,
        volatile_above: Option<u64>,
        frame: Bytes,
    },
    /// Deliver `frame` to one client of the receiving node.
    Deliver { client: u64, frame: Bytes },
    /// A client of the sender joined.
    Joined { client: ClientInfo },
    /// A client of the sender left.
    Left { client: u64 },
    /// A client of the sender changed its name or group.
    Changed {
        client: ClientInfo,
        old_name: Option<Arc<str>>,
        old_group: Option<Arc<str>>,
    },
    /// A client of the sender joined or left a room.
    Room {
        client: u64,
        room: Arc<str>,
        joined: bool,
    },
    /// Put a client of the receiving node in a room or take it out.
    RoomOrder {
        client: u64,
        room: String,
        join: bool,
    },
    /// All of the sender's clients: replaces what the receiver knew of
    /// them.
    Snapshot { clients: Vec<Member> },
    /// The sender (re)joined, or found its replica of the receiver's
    /// clients differing from the receiver's digest: every receiver
    /// answers with its snapshot.
    Hello,
    /// The sender's clients in two numbers, published every resync
    /// period: a receiver whose replica differs answers with `Hello`.
    Digest { digest: Digest },
    /// Disconnect a client of the receiving node.
    Disconnect {
        client: u64,
        code: u16,
        reason: String,
        run_leave: bool,
    },
    /// Disconnect every client of the receiving node.
    DisconnectAll { code: u16, reason: String },
    /// Ask a client of the receiving node, answer with `Reply`.
    Request {
        id: u64,
        client: u64,
        command: String,
        payload: Bytes,
        timeout_ms: u64,
    },
    /// The answer to the sender's `Request` number `id`.
    Reply {
        id: u64,
        outcome: Result<Bytes, WireError>,
    },
    /// A client resumes on the sender with a token the sender does not
    /// hold: the node that holds it hands the session over
    /// (`SessionMoving`) or, knowing the token, says why not
    /// (`ResumeRefused`); the others stay silent.
    ResumeOffer {
        offer: u64,
        token: Bytes,
        received: u64,
    },
    /// The token of offer `offer` names a session that cannot be resumed
    /// (the outcome, PROTOCOL.md section 13.1).
    ResumeRefused { offer: u64, outcome: u8 },
    /// The session offer `offer` asked for: the receiver takes it and
    /// answers `SessionTaken`.
    SessionMoving {
        offer: u64,
        session: Box<MovingSession>,
    },
    /// The sender took client `client`'s session (`taken`), or could not
    /// (the receiver keeps it).
    SessionTaken { client: u64, taken: bool },
    /// A client's session moved to the sender: it is the sender's client
    /// now (no join, no leave).
    Moved { member: Member },
    /// A client whose session moved to the sender answered the receiver's
    /// request `id`, made before the move.
    ClientReply {
        client: u64,
        id: u64,
        outcome: Result<Bytes, WireError>,
    },
}

/// A resumable session on its way from one node to another: the client,
/// and where the counts of both directions stand (PROTOCOL.md section
/// 13.9).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct MovingSession {
    /// The client as it was, with its rooms.
    pub member: Member,
    pub token: Bytes,
    /// The client's counted frames the old node received.
    pub received: u64,
    /// Our counted frames the client has (its `Resume.received`).
    pub peer_received: u64,
    /// The counted frames the client still needs, in order: the next is
    /// number `peer_received + 1`.
    pub frames: Vec<Bytes>,
    /// Where the server's request ids to the client go on from.
    pub next_request_id: u64,
    /// Requests the old node made to the client and still waits for:
    /// their answers go back to it (`ClientReply`).
    pub waiting_requests: Vec<u64>,
}

/// A request's failure, as it crosses nodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum WireError {
    Timeout,
    Remote {
        code: u16,
        message: String,
    },
    Closed {
        code: u16,
        reason: String,
    },
    NoSuchClient(u64),
    QueueFull {
        queued: u64,
        limit: u64,
    },
    /// Anything else, in words (the requester gets `Error::Handler`).
    Other(String),
}

impl WireError {
    pub fn from_error(err: &Error) -> Self {
        match err {
            Error::Timeout(_) => WireError::Timeout,
            Error::Remote { code, message } => WireError::Remote {
                code: code.to_wire(),
                message: message.clone(),
            },
            Error::Closed(reason) => WireError::Closed {
                code: reason.code,
                reason: reason.reason.clone(),
            },
            Error::NoSuchClient(id) => WireError::NoSuchClient(*id),
            Error::QueueFull { queued, limit } => WireError::QueueFull {
                queued: *queued as u64,
                limit: *limit as u64,
            },
            other => WireError::Other(other.to_string()),
        }
    }

    /// The error the requester sees; `timeout` is the one it asked with.
    pub fn into_error(self, timeout: Duration) -> Error {
        match self {
            WireError::Timeout => Error::Timeout(timeout),
            WireError::Remote { code, message } => Error::Remote {
                code: ErrorCode::from_wire(code),
                message,
            },
            WireError::Closed { code, reason } => Error::Closed(CloseReason::new(code, reason)),
            WireError::NoSuchClient(id) => Error::NoSuchClient(id),
            WireError::QueueFull { queued, limit } => Error::QueueFull {
                queued: queued as usize,
                limit: limit as usize,
            },
            WireError::Other(text) => Error::Handler(text),
        }
    }
}

pub(crate) fn encode(from: NodeId, message: Message) -> Option<Bytes> {
    let envelope = Envelope { from, message };
    match rmp_serde::to_vec_named(&envelope) {
        Ok(bytes) => Some(Bytes::from(bytes)),
        Err(err) => {
            tracing::error!(%err, "cluster message could not be encoded");
            None
        }
    }
}

/// The sender of an encoded envelope, read without decoding the rest: a
/// node gets its own broadcasts back from most engines (Redis pub/sub
/// does), and skips them without copying their frames. `None` when the
/// bytes do not start as [`encode`] starts them.
pub(crate) fn sender(bytes: &[u8]) -> Option<NodeId> {
    // fixmap of 2, fixstr "from", then the number as MessagePack writes
    // an unsigned integer in its smallest form.
    let rest = bytes.strip_prefix(b"\x82\xa4from")?;
    match *rest {
        [n, ..] if n < 0x80 => Some(NodeId::from(n)),
        [0xcc, n, ..] => Some(NodeId::from(n)),
        [0xcd, hi, lo, ..] => Some(NodeId::from_be_bytes([hi, lo])),
        _ => None,
    }
}

pub(crate) fn decode(bytes: &[u8]) -> Option<Envelope> {
    match rmp_serde::from_slice(bytes) {
        Ok(envelope) => Some(envelope),
        Err(err) => {
            tracing::warn!(%err, len = bytes.len(), "undecodable cluster message ignored");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::TransportKind;

    #[test]
    fn messages_round_trip() {
        let info = ClientInfo {
            id: super::super::client_id_base(3),
            name: Some("ada".into()),
            group: None,
            addr: "127.0.0.1:9".parse().ok(),
            transport: TransportKind::Ws,
        };
        let bytes = encode(
            3,
            Message::Snapshot {
                clients: vec![Member {
                    info: info.clone(),
                    rooms: vec!["r".into()],
                }],
            },
        )
        .expect("encodes");
        let envelope = decode(&bytes).expect("decodes");
        assert_eq!(envelope.from, 3);
        match envelope.message {
            Message::Snapshot { clients } => {
                assert_eq!(clients[0].info, info);
                assert_eq!(&*clients[0].rooms[0], "r");
            }
            other => panic!("got {other:?}"),
        }
        let reply = encode(
            1,
            Message::Reply {
                id: 7,
                outcome: Ok(Bytes::from_static(b"\x01\x02")),
            },
        )
        .expect("encodes");
        match decode(&reply).map(|e| e.message) {
            Some(Message::Reply { id: 7, outcome }) => {
                assert_eq!(outcome.ok().as_deref(), Some(&b"\x01\x02"[..]))
            }
            other => panic!("got {other:?}"),
        }
    }

    #[test]
    fn a_moving_session_round_trips_with_its_frames() {
        let info = ClientInfo {
            id: super::super::client_id_base(2) + 7,
            name: Some("ada".into()),
            group: Some("g".into()),
            addr: None,
            transport: TransportKind::Tcp,
        };
        let session = MovingSession {
            member: Member {
                info: info.clone(),
                rooms: vec!["r".into()],
            },
            token: Bytes::from_static(&[7; 16]),
            received: 12,
            peer_received: 30,
            frames: vec![
                Bytes::from_static(b"\x05one"),
                Bytes::from_static(b"\x05two"),
            ],
            next_request_id: 9,
            waiting_requests: vec![8],
        };
        let bytes = encode(
            2,
            Message::SessionMoving {
                offer: 4,
                session: Box::new(session),
            },
        )
        .expect("encodes");
        match decode(&bytes).map(|e| e.message) {
            Some(Message::SessionMoving { offer: 4, session }) => {
                assert_eq!(session.member.info, info);
                assert_eq!(session.frames.len(), 2);
                assert_eq!(&session.frames[1][..], b"\x05two");
                assert_eq!((session.received, session.peer_received), (12, 30));
                assert_eq!(session.waiting_requests, vec![8]);
            }
            other => panic!("got {other:?}"),
        }
    }

    #[test]
    fn request_errors_cross_nodes_typed() {
        let timeout = Duration::from_millis(250);
        let err = WireError::from_error(&Error::Timeout(timeout)).into_error(timeout);
        assert!(matches!(err, Error::Timeout(t) if t == timeout));
        let err = WireError::from_error(&Error::NoSuchClient(5)).into_error(timeout);
        assert!(matches!(err, Error::NoSuchClient(5)));
        let remote = Error::Remote {
            code: ErrorCode::NoHandler,
            message: "x".into(),
        };
        let err = WireError::from_error(&remote).into_error(timeout);
        assert!(matches!(
            err,
            Error::Remote {
                code: ErrorCode::NoHandler,
                ..
            }
        ));
    }

    #[test]
    fn the_sender_is_read_without_decoding() {
        for node in [1, 127, 128, 255, 256, super::super::MAX_NODE_ID] {
            let bytes = encode(node, Message::Hello).expect("encodes");
            assert_eq!(sender(&bytes), Some(node), "node {node}");
        }
        assert_eq!(sender(b"\x81"), None);
    }

    #[test]
    fn garbage_is_ignored() {
        assert!(decode(b"\xc1garbage").is_none());
    }
}
