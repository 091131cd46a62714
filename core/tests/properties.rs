//! Properties of the wire formats, over generated inputs (proptest): every
//! payload [`Value`] and every frame kind round-trips encode → decode, and
//! any byte string decodes to a frame or to a typed protocol error, never
//! a panic. The fuzz targets in `fuzz/` push the same code much further;
//! these keep the suite's share small (a few hundred cases each).

use hisock::frame::{Frame, FrameKind, LookupKey, WireClient};
use hisock::{value, Error, ProtocolFault, Value};
use proptest::prelude::*;

/// Small counts: the suite runs on two shared cores.
fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

/// Any payload value, nested up to a few levels.
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f32>().prop_map(Value::F32),
        any::<f64>().prop_map(Value::F64),
        ".{0,40}".prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Binary),
        (any::<i8>(), proptest::collection::vec(any::<u8>(), 0..20))
            .prop_map(|(kind, data)| Value::Ext(kind, data)),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::vec((inner.clone(), inner), 0..8).prop_map(Value::Map),
        ]
    })
}

/// The fields any frame is built from (each kind takes the ones it has).
#[derive(Debug, Clone)]
struct Fields {
    kind: FrameKind,
    ids: (u64, u64),
    code: u16,
    ms: (u32, u32, u32),
    texts: (String, String),
    options: (Option<String>, Option<String>, Option<String>),
    bytes: Vec<u8>,
    auth: Option<Vec<u8>>,
    flag: bool,
    byte: u8,
    total_len: Option<u64>,
    lookup: u8,
}

fn any_fields() -> impl Strategy<Value = Fields> {
    let text = || ".{0,24}";
    let option = || proptest::option::of(".{0,24}");
    let bytes = || proptest::collection::vec(any::<u8>(), 0..48);
    (
        (
            proptest::sample::select(FrameKind::ALL.to_vec()),
            any::<(u64, u64)>(),
            any::<u16>(),
            any::<(u32, u32, u32)>(),
        ),
        (
            (text(), text()),
            (option(), option(), option()),
            bytes(),
            proptest::option::of(bytes()),
        ),
        (any::<bool>(), any::<u8>(), any::<Option<u64>>(), 0u8..3),
    )
        .prop_map(
            |(
                (kind, ids, code, ms),
                (texts, options, bytes, auth),
                (flag, byte, total_len, lookup),
            )| {
                Fields {
                    kind,
                    ids,
                    code,
                    ms,
                    texts,
                    options,
                    bytes,
                    auth,
                    flag,
                    byte,
                    total_len,
                    lookup,
                }
            },
        )
}

/// The frame of `f.kind` made of `f`'s fields. A kind added to the
/// protocol fails the round trip until it is generated here too.
fn frame(f: &Fields) -> Frame<'_> {
    let (a, b) = f.ids;
    let (t1, t2) = (f.texts.0.as_str(), f.texts.1.as_str());
    let (o1, o2, o3) = (
        f.options.0.as_deref(),
        f.options.1.as_deref(),
        f.options.2.as_deref(),
    );
    let client = WireClient {
        id: a,
        name: o1,
        group: o2,
        addr: o3,
        transport: f.byte,
    };
    match f.kind {
        FrameKind::Hello => Frame::Hello {
            version: f.code,
            name: o1,
            group: o2,
            auth: f.auth.as_deref(),
        },
        FrameKind::Welcome => Frame::Welcome {
            client_id: a,
            name: o1,
            group: o2,
            keepalive_interval_ms: f.ms.0,
            keepalive_timeout_ms: f.ms.1,
            max_frame_len: f.ms.2,
            addr: o3,
        },
        FrameKind::Refuse => Frame::Refuse {
            code: f.code,
            reason: t1,
        },
        FrameKind::Event => Frame::Event {
            command: t1,
            request_id: a,
            payload: &f.bytes,
        },
        FrameKind::Reply => Frame::Reply {
            request_id: a,
            payload: &f.bytes,
        },
        FrameKind::ReplyError => Frame::ReplyError {
            request_id: a,
            code: f.code,
            message: t1,
        },
        FrameKind::EventRejected => Frame::EventRejected {
            command: t1,
            code: f.code,
            message: t2,
        },
        FrameKind::ClientJoined => Frame::ClientJoined(client),
        FrameKind::ClientLeft => Frame::ClientLeft(client),
        FrameKind::ClientChanged => Frame::ClientChanged {
            client,
            old_name: o3,
            old_group: o1,
        },
        FrameKind::SetName => Frame::SetName {
            request_id: a,
            name: o1,
        },
        FrameKind::SetGroup => Frame::SetGroup {
            request_id: a,
            group: o1,
        },
        FrameKind::Lookup => Frame::Lookup {
            request_id: a,
            by: match f.lookup {
                0 => LookupKey::Id(b),
                1 => LookupKey::Name(t1),
                _ => LookupKey::Addr(t2),
            },
        },
        FrameKind::ListClients => Frame::ListClients {
            request_id: a,
            group: o2,
        },
        FrameKind::Ping => Frame::Ping { nonce: a },
        FrameKind::Pong => Frame::Pong { nonce: a },
        FrameKind::Close => Frame::Close {
            code: f.code,
            reason: t1,
            run_leave: f.flag,
        },
        FrameKind::StreamStart => Frame::StreamStart {
            stream_id: a,
            command: t1,
            total_len: f.total_len,
        },
        FrameKind::StreamChunk => Frame::StreamChunk {
            stream_id: a,
            data: &f.bytes,
        },
        FrameKind::StreamEnd => Frame::StreamEnd {
            stream_id: a,
            error: o1,
        },
        FrameKind::StreamAck => Frame::StreamAck {
            stream_id: a,
            consumed: b,
        },
        FrameKind::StreamCancel => Frame::StreamCancel {
            stream_id: a,
            code: f.code,
            message: t1,
        },
        FrameKind::PresenceInterest => Frame::PresenceInterest { wanted: f.flag },
        FrameKind::RoomRequest => Frame::RoomRequest {
            request_id: a,
            room: t1,
            join: f.flag,
        },
        FrameKind::Resume => Frame::Resume {
            token: &f.bytes,
            received: a,
        },
        FrameKind::Session => Frame::Session {
            token: &f.bytes,
            outcome: f.byte,
            received: b,
            window_ms: f.ms.0,
        },
        FrameKind::Ack => Frame::Ack { received: a },
        other => panic!("no frame of kind {other:?} is generated here yet"),
    }
}

/// A decode error is a protocol fault (closing with 1002 or 4007), never
/// another kind of error.
fn assert_typed(err: &Error) {
    assert!(
        matches!(
            err,
            Error::Protocol(ProtocolFault::Malformed(_) | ProtocolFault::UnknownKind(_))
        ),
        "{err:?}"
    );
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_value_round_trips(value in any_value()) {
        let encoded = value::encode(&value).expect("a value encodes");
        let decoded: Value = value::decode(&encoded).expect("its encoding decodes");
        // Compared by encoding, so that a NaN float equals itself.
        let again = value::encode(&decoded).expect("the decoded value encodes");
        prop_assert_eq!(&encoded, &again);
        if !format!("{value:?}").contains("NaN") {
            prop_assert_eq!(decoded, value);
        }
    }

    #[test]
    fn every_frame_round_trips(fields in any_fields()) {
        let frame = frame(&fields);
        let encoded = frame.encode();
        prop_assert_eq!(Frame::decode(&encoded).expect("decodes"), frame.clone());
        let event = Frame::decode_event(&encoded).expect("decodes");
        match &frame {
            Frame::Event { command, request_id, payload } => {
                prop_assert_eq!(event, Some((*command, *request_id, *payload)));
            }
            _ => prop_assert_eq!(event, None),
        }
    }

    #[test]
    fn any_bytes_decode_to_a_frame_or_a_typed_error(
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        if let Err(err) = Frame::decode(&bytes) {
            assert_typed(&err);
        }
        if let Err(err) = Frame::decode_event(&bytes) {
            assert_typed(&err);
        }
    }

    /// Random bytes mostly fail at the kind byte; behind a known kind they
    /// reach the fields.
    #[test]
    fn any_fields_behind_a_known_kind_decode_or_fail_typed(
        kind in proptest::sample::select(FrameKind::ALL.to_vec()),
        rest in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut bytes = vec![kind.number()];
        bytes.extend_from_slice(&rest);
        match Frame::decode(&bytes) {
            Ok(frame) => prop_assert_eq!(frame.kind(), kind),
            Err(err) => assert_typed(&err),
        }
    }

    /// A truncated frame never decodes as a frame of the same kind with
    /// other contents: it fails, typed.
    #[test]
    fn every_truncation_of_a_frame_fails_typed(fields in any_fields(), cut in any::<prop::sample::Index>()) {
        let encoded = frame(&fields).encode();
        let cut = cut.index(encoded.len());
        match Frame::decode(&encoded[..cut]) {
            Err(err) => assert_typed(&err),
            Ok(frame) => prop_assert!(false, "{cut} of {} bytes decoded: {frame:?}", encoded.len()),
        }
    }
}
