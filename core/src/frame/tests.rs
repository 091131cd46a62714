use super::*;
use crate::error::Error;

fn round_trip(frame: Frame<'_>) {
    let bytes = frame.encode();
    let back = Frame::decode(&bytes).expect("decodes");
    assert_eq!(back, frame);
}

/// Varints around every length boundary.
const VARINT_EDGES: [u64; 13] = [
    0,
    1,
    127,
    128,
    300,
    16_383,
    16_384,
    65_535,
    2_097_151,
    2_097_152,
    u32::MAX as u64,
    u32::MAX as u64 + 1,
    u64::MAX,
];

/// postcard's serde decoding of a whole buffer, the reference.
fn postcard_decode(buf: &[u8]) -> Option<Frame<'_>> {
    match postcard::take_from_bytes::<Frame<'_>>(buf) {
        Ok((frame, [])) => Some(frame),
        _ => None,
    }
}

/// The hand-written codec writes what postcard's serde encoding writes,
/// sizes it exactly, and reads it back as postcard does.
fn same_as_postcard(frame: &Frame<'_>) {
    let ours = frame.encode();
    let reference = postcard::to_allocvec(frame).expect("postcard encodes");
    assert_eq!(&ours[..], &reference[..], "bytes of {frame:?}");
    assert_eq!(frame.encoded_len(), ours.len(), "length of {frame:?}");
    assert_eq!(
        Frame::decode(&reference).ok().as_ref(),
        postcard_decode(&reference).as_ref()
    );
}

/// The decoder accepts exactly what postcard accepts, with the same
/// result, for a buffer whose first byte is a known kind.
fn decodes_like_postcard(buf: &[u8]) {
    let ours = Frame::decode(buf);
    let reference = postcard_decode(buf);
    match (&ours, &reference) {
        (Ok(a), Some(b)) => assert_eq!(a, b, "{buf:?}"),
        (Err(Error::Protocol(ProtocolFault::Malformed(_))), None) => {}
        _ => panic!("{buf:?}: ours {ours:?}, postcard {reference:?}"),
    }
}

/// Frames of every kind with edge values: extreme numbers, empty and
/// long strings, every option both ways.
fn edge_frames(long: &str) -> Vec<Frame<'_>> {
    let mut frames = Vec::new();
    for n in VARINT_EDGES {
        let n16 = n.min(u16::MAX as u64) as u16;
        let n32 = n.min(u32::MAX as u64) as u32;
        let text = if n % 2 == 0 { long } else { "" };
        let opt = (n % 3 != 0).then_some(text);
        let client = WireClient {
            id: n,
            name: opt,
            group: Some(text),
            addr: None,
            transport: n as u8,
        };
        frames.extend([
            Frame::Hello {
                version: n16,
                name: opt,
                group: None,
                auth: opt.map(str::as_bytes),
            },
            Frame::Welcome {
                client_id: n,
                name: opt,
                group: Some(text),
                keepalive_interval_ms: n32,
                keepalive_timeout_ms: n32 / 3,
                max_frame_len: n32,
                addr: opt,
            },
            Frame::Refuse {
                code: n16,
                reason: text,
            },
            Frame::Event {
                command: text,
                request_id: n,
                payload: long.as_bytes(),
            },
            Frame::Reply {
                request_id: n,
                payload: text.as_bytes(),
            },
            Frame::ReplyError {
                request_id: n,
                code: n16,
                message: text,
            },
            Frame::EventRejected {
                command: text,
                code: n16,
                message: long,
            },
            Frame::ClientJoined(client.clone()),
            Frame::ClientLeft(client.clone()),
            Frame::ClientChanged {
                client,
                old_name: opt,
                old_group: None,
            },
            Frame::SetName {
                request_id: n,
                name: opt,
            },
            Frame::SetGroup {
                request_id: n,
                group: opt,
            },
            Frame::Lookup {
                request_id: n,
                by: LookupKey::Id(n),
            },
            Frame::Lookup {
                request_id: n,
                by: LookupKey::Name(text),
            },
            Frame::Lookup {
                request_id: n,
                by: LookupKey::Addr(text),
            },
            Frame::ListClients {
                request_id: n,
                group: opt,
            },
            Frame::Ping { nonce: n },
            Frame::Pong { nonce: n },
            Frame::Close {
                code: n16,
                reason: text,
                run_leave: n % 2 == 1,
            },
            Frame::StreamStart {
                stream_id: n,
                command: text,
                total_len: opt.map(|_| n),
            },
            Frame::StreamChunk {
                stream_id: n,
                data: long.as_bytes(),
            },
            Frame::StreamEnd {
                stream_id: n,
                error: opt,
            },
            Frame::StreamAck {
                stream_id: n,
                consumed: u64::MAX - n,
            },
            Frame::StreamCancel {
                stream_id: n,
                code: n16,
                message: text,
            },
            Frame::PresenceInterest { wanted: n % 2 == 1 },
            Frame::RoomRequest {
                request_id: n,
                room: text,
                join: n % 2 == 0,
            },
            Frame::Resume {
                token: text.as_bytes(),
                received: n,
            },
            Frame::Session {
                token: long.as_bytes(),
                outcome: n as u8,
                received: u64::MAX - n,
                window_ms: n32,
            },
            Frame::Ack { received: n },
        ]);
    }
    frames
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn a_block_holds_only_its_own_senders_frames() {
    // Two clients sending in turn on one thread: each one's frames sit
    // back to back in its own block, none of the other's in between
    // (so a stalled client cannot pin blocks full of others' frames).
    let (a, b) = (FrameBlock::default(), FrameBlock::default());
    let mut last_a: Option<Bytes> = None;
    for _ in 0..20 {
        let frame_a = a.encode_event("tick", NO_REQUEST, b"from a");
        let frame_b = b.encode_event("tick", NO_REQUEST, b"from b, a little longer");
        if let Some(previous) = &last_a {
            let end_of_previous = previous.as_ptr() as usize + previous.len();
            assert_eq!(frame_a.as_ptr() as usize, end_of_previous);
        }
        assert!(frame_b.as_ptr() as usize != frame_a.as_ptr() as usize + frame_a.len());
        last_a = Some(frame_a);
    }
}

#[test]
fn events_encoded_in_blocks_are_the_same_bytes() {
    let block = FrameBlock::default();
    let long = "ß".repeat(100);
    let mut kept = Vec::new();
    let payloads = [vec![], vec![7u8; 127], vec![7u8; 128], vec![7u8; 2000]];
    for command in ["tick", &long[..]] {
        for request_id in VARINT_EDGES {
            for payload in &payloads {
                let event = Frame::Event {
                    command,
                    request_id,
                    payload,
                };
                let encoded = block.encode_event(command, request_id, payload);
                assert_eq!(encoded, event.encode());
                kept.push((event.encode(), encoded));
            }
        }
    }
    // Frames that outlive many blocks keep their bytes.
    for (expected, encoded) in &kept {
        assert_eq!(encoded, expected);
    }
}

#[test]
fn decode_event_agrees_with_decode() {
    let event = Frame::Event {
        command: "tick",
        request_id: 300,
        payload: &[0x91, 0x01],
    }
    .encode();
    assert_eq!(
        Frame::decode_event(&event).expect("decodes"),
        Some(("tick", 300, &[0x91u8, 0x01][..]))
    );
    let ping = Frame::Ping { nonce: 1 }.encode();
    assert_eq!(Frame::decode_event(&ping).expect("not an event"), None);
    for cut in 1..event.len() {
        assert!(Frame::decode(&event[..cut]).is_err());
        assert!(Frame::decode_event(&event[..cut]).is_err(), "cut at {cut}");
    }
    let mut trailing = event.to_vec();
    trailing.push(0);
    assert!(Frame::decode_event(&trailing).is_err());
}

#[cfg(feature = "server")]
#[test]
fn decode_event_bytes_agrees_with_decode_event() {
    let event = Frame::Event {
        command: "tick",
        request_id: 300,
        payload: &[0x91, 0x01],
    }
    .encode();
    let ping = Frame::Ping { nonce: 1 }.encode();
    let mut trailing = event.to_vec();
    trailing.push(0);
    assert!(Frame::decode_event_bytes(&trailing).is_err());
    for cut in 1..event.len() {
        assert!(
            Frame::decode_event_bytes(&event[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    assert_eq!(
        Frame::decode_event_bytes(&event).expect("decodes"),
        Some((&b"tick"[..], 300, &[0x91u8, 0x01][..]))
    );
    assert_eq!(
        Frame::decode_event_bytes(&ping).expect("not an event"),
        None
    );
    // A command that is not UTF-8: the same error either way.
    let bad = [FrameKind::Event.number(), 2, 0xff, 0xfe, 0, 1, 0xc0];
    let whole = Frame::decode_event(&bad).expect_err("not UTF-8");
    let (command, _, _) = Frame::decode_event_bytes(&bad)
        .expect("decodes")
        .expect("an event");
    let text = Frame::command_text(command).expect_err("not UTF-8");
    assert_eq!(text.to_string(), whole.to_string());
}

#[test]
fn encoding_matches_postcard_for_edge_values_of_every_kind() {
    let long = "ß".repeat(100); // 200 bytes: a two-byte length
    let frames = edge_frames(&long);
    let kinds: std::collections::BTreeSet<_> = frames.iter().map(|f| f.encode()[0]).collect();
    assert_eq!(kinds.len(), FRAME_KINDS as usize);
    for frame in frames {
        assert_eq!(frame.encode()[0], frame.kind().number(), "{frame:?}");
        same_as_postcard(&frame);
        round_trip(frame);
    }
}

#[test]
fn decoding_accepts_and_rejects_what_postcard_does() {
    let long = "é".repeat(70);
    for frame in edge_frames(&long) {
        let bytes = frame.encode().to_vec();
        // Every truncation.
        for len in 1..bytes.len() {
            decodes_like_postcard(&bytes[..len]);
        }
        // A trailing byte.
        let mut longer = bytes.clone();
        longer.push(0);
        decodes_like_postcard(&longer);
        // Every byte after the kind replaced by values that hit varint
        // limits, option and bool tags, and UTF-8 checks.
        for at in 1..bytes.len().min(40) {
            for value in [
                0x00, 0x01, 0x02, 0x03, 0x04, 0x0f, 0x10, 0x7f, 0x80, 0xc3, 0xff,
            ] {
                let mut changed = bytes.clone();
                changed[at] = value;
                decodes_like_postcard(&changed);
            }
        }
    }
    // Non-canonical (padded) varints are accepted, as postcard does,
    // up to each type's length limit.
    for (kind, fields) in [
        (FrameKind::Ping, &[0x81, 0x80, 0x80, 0x00][..]),
        (
            FrameKind::Ping,
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        ),
        (
            FrameKind::Ping,
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
        ),
        (
            FrameKind::Ping,
            &[
                0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
            ],
        ),
        (FrameKind::Refuse, &[0xff, 0xff, 0x03, 0]),
        (FrameKind::Refuse, &[0xff, 0xff, 0x04, 0]),
        (FrameKind::Refuse, &[0x80, 0x80, 0x80, 0]),
        (
            FrameKind::Welcome,
            &[1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0],
        ),
        (
            FrameKind::Welcome,
            &[1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x1f, 0, 0, 0],
        ),
        (FrameKind::Lookup, &[1, 0x80, 0x00, 5]),
        (FrameKind::Lookup, &[1, 3, 5]),
        (FrameKind::Close, &[1, 0, 2]),
        (FrameKind::Event, &[0x80, 0x00, 0, 0]),
    ] {
        decodes_like_postcard(&[&[kind.number()], fields].concat());
    }
}

#[test]
fn every_kind_round_trips() {
    let client = WireClient {
        id: 7,
        name: Some("bob"),
        group: None,
        addr: Some("127.0.0.1:9"),
        transport: 0,
    };
    let frames = vec![
        Frame::Hello {
            version: PROTOCOL_VERSION,
            name: Some("a"),
            group: Some("g"),
            auth: Some(&[0xc0]),
        },
        Frame::Welcome {
            client_id: 1,
            name: None,
            group: Some("g"),
            keepalive_interval_ms: 1000,
            keepalive_timeout_ms: 3000,
            max_frame_len: 1 << 20,
            addr: None,
        },
        Frame::Refuse {
            code: 4002,
            reason: "full",
        },
        Frame::Event {
            command: "chat",
            request_id: 3,
            payload: &[1, 2, 3],
        },
        Frame::Reply {
            request_id: 3,
            payload: &[0xc0],
        },
        Frame::ReplyError {
            request_id: 3,
            code: 1,
            message: "no",
        },
        Frame::EventRejected {
            command: "x",
            code: 2,
            message: "bad",
        },
        Frame::ClientJoined(client.clone()),
        Frame::ClientLeft(client.clone()),
        Frame::ClientChanged {
            client,
            old_name: None,
            old_group: Some("old"),
        },
        Frame::SetName {
            request_id: 1,
            name: Some("n"),
        },
        Frame::SetGroup {
            request_id: 1,
            group: None,
        },
        Frame::Lookup {
            request_id: 2,
            by: LookupKey::Addr("1.2.3.4:5"),
        },
        Frame::ListClients {
            request_id: 2,
            group: Some("g"),
        },
        Frame::Ping { nonce: 9 },
        Frame::Pong { nonce: 9 },
        Frame::Close {
            code: 1000,
            reason: "bye",
            run_leave: true,
        },
        Frame::StreamStart {
            stream_id: 1,
            command: "file",
            total_len: Some(10),
        },
        Frame::StreamChunk {
            stream_id: 1,
            data: &[9; 10],
        },
        Frame::StreamEnd {
            stream_id: 1,
            error: None,
        },
        Frame::StreamAck {
            stream_id: 1,
            consumed: 10,
        },
        Frame::StreamCancel {
            stream_id: 1,
            code: 2,
            message: "too big",
        },
        Frame::PresenceInterest { wanted: false },
        Frame::RoomRequest {
            request_id: 9,
            room: "lobby",
            join: true,
        },
        Frame::Resume {
            token: &[7; 16],
            received: 3,
        },
        Frame::Session {
            token: &[7; 16],
            outcome: 0,
            received: 2,
            window_ms: 120_000,
        },
        Frame::Ack { received: 5 },
    ];
    assert_eq!(frames.len(), FRAME_KINDS as usize);
    for (frame, kind) in frames.into_iter().zip(FrameKind::ALL) {
        assert_eq!(frame.kind(), kind, "{frame:?}");
        let bytes = frame.encode();
        assert_eq!(bytes[0], kind.number(), "discriminant of {kind:?}");
        assert_eq!(
            Frame::decode(&bytes).map(|back| back.kind()).ok(),
            Some(kind)
        );
        same_as_postcard(&frame);
        round_trip(frame);
    }
}

#[test]
fn varint_lengths_match_postcard() {
    for value in VARINT_EDGES {
        let encoded = postcard::to_allocvec(&value).expect("encodes");
        assert_eq!(codec::varint_len(value), encoded.len(), "{value}");
    }
    let big = vec![7u8; 70_000];
    let frame = Frame::StreamChunk {
        stream_id: 1 << 40,
        data: &big,
    };
    same_as_postcard(&frame);
}

#[test]
fn error_code_debug_names_the_variant() {
    let names: Vec<String> = (0..=9)
        .map(|n| format!("{:?}", ErrorCode::from_wire(n)))
        .collect();
    assert_eq!(
        names,
        [
            "Other(0)",
            "NoHandler",
            "BadPayload",
            "HandlerFailed",
            "Refused",
            "ShuttingDown",
            "TooLarge",
            "Cancelled",
            "LengthMismatch",
            "Other(9)"
        ]
    );
}

#[test]
fn event_layout_is_as_documented() {
    let bytes = Frame::Event {
        command: "hi",
        request_id: 0,
        payload: &[0xa1, b'x'],
    }
    .encode();
    assert_eq!(&bytes[..], &[3, 2, b'h', b'i', 0, 2, 0xa1, b'x']);
}

/// The other worked examples of PROTOCOL.md section 3.3, byte for byte.
#[test]
fn worked_examples_are_as_documented() {
    let ada = Frame::Hello {
        version: PROTOCOL_VERSION,
        name: Some("ada"),
        group: Some("lobby"),
        auth: None,
    };
    let ada_with_auth = Frame::Hello {
        version: PROTOCOL_VERSION,
        name: Some("ada"),
        group: None,
        auth: Some(&[0xa6, b's', b'e', b'c', b'r', b'e', b't']),
    };
    let welcome = Frame::Welcome {
        client_id: 1,
        name: Some("ada"),
        group: Some("lobby"),
        keepalive_interval_ms: 15_000,
        keepalive_timeout_ms: 45_000,
        max_frame_len: DEFAULT_MAX_FRAME_LEN as u32,
        addr: Some("127.0.0.1:50000"),
    };
    let bob = WireClient {
        id: 7,
        name: Some("bob"),
        group: None,
        addr: Some("127.0.0.1:9"),
        transport: 0,
    };
    let cases: [(Frame<'_>, &str); 7] = [
        (ada, "00 01 01 03 61 64 61 01 05 6c 6f 62 62 79 00"),
        (
            ada_with_auth,
            "00 01 01 03 61 64 61 00 01 07 a6 73 65 63 72 65 74",
        ),
        (
            welcome,
            "01 01 01 03 61 64 61 01 05 6c 6f 62 62 79 98 75 c8 df 02 80 80 80 08 \
             01 0f 31 32 37 2e 30 2e 30 2e 31 3a 35 30 30 30 30",
        ),
        (
            Frame::Reply {
                request_id: 1,
                payload: &[0xc0],
            },
            "04 01 01 c0",
        ),
        (
            Frame::Lookup {
                request_id: 300,
                by: LookupKey::Name("bob"),
            },
            "0c ac 02 01 03 62 6f 62",
        ),
        (
            Frame::Close {
                code: 1000,
                reason: "bye",
                run_leave: true,
            },
            "10 e8 07 03 62 79 65 01",
        ),
        (
            Frame::ClientJoined(bob),
            "07 07 01 03 62 6f 62 00 01 0b 31 32 37 2e 30 2e 30 2e 31 3a 39 00",
        ),
    ];
    for (frame, hex) in cases {
        let bytes: Vec<u8> = hex
            .split_whitespace()
            .map(|byte| u8::from_str_radix(byte, 16).expect("hex"))
            .collect();
        assert_eq!(&frame.encode()[..], &bytes[..], "{frame:?}");
        assert_eq!(Frame::decode(&bytes).expect("decodes"), frame);
    }
}

/// PROTOCOL.md section 13.7, byte for byte.
#[test]
fn resume_examples_are_as_documented() {
    let token: Vec<u8> = (0xa0..=0xaf).collect();
    let cases: [(Frame<'_>, &str); 5] = [
        (
            Frame::Resume {
                token: &[],
                received: 0,
            },
            "18 00 00",
        ),
        (
            Frame::Session {
                token: &token,
                outcome: 1,
                received: 0,
                window_ms: 120_000,
            },
            "19 10 a0 a1 a2 a3 a4 a5 a6 a7 a8 a9 aa ab ac ad ae af 01 00 c0 a9 07",
        ),
        (Frame::Ack { received: 1000 }, "1a e8 07"),
        (
            Frame::Resume {
                token: &token,
                received: 1003,
            },
            "18 10 a0 a1 a2 a3 a4 a5 a6 a7 a8 a9 aa ab ac ad ae af eb 07",
        ),
        (
            Frame::Session {
                token: &token,
                outcome: 0,
                received: 299,
                window_ms: 120_000,
            },
            "19 10 a0 a1 a2 a3 a4 a5 a6 a7 a8 a9 aa ab ac ad ae af 00 ab 02 c0 a9 07",
        ),
    ];
    for (frame, hex) in cases {
        let bytes: Vec<u8> = hex
            .split_whitespace()
            .map(|byte| u8::from_str_radix(byte, 16).expect("hex"))
            .collect();
        assert_eq!(&frame.encode()[..], &bytes[..], "{frame:?}");
        assert_eq!(Frame::decode(&bytes).expect("decodes"), frame);
    }
    // The resume `Frame::Resume` of the example is 20 bytes, as the text says.
    let resume = Frame::Resume {
        token: &token,
        received: 1003,
    };
    assert_eq!(resume.encode().len(), 20);
}

#[test]
fn unknown_kind_is_reported_as_such() {
    // Every first byte from the count of kinds on, continuation bytes of
    // longer varints included.
    for number in FRAME_KINDS..=u8::MAX {
        assert!(matches!(
            Frame::decode(&[number, 0, 0]),
            Err(Error::Protocol(ProtocolFault::UnknownKind(k))) if k == number
        ));
        assert_eq!(Frame::decode_event(&[number, 0, 0]).ok(), Some(None));
    }
}

#[test]
fn garbage_and_truncation_are_malformed() {
    let malformed = |bytes: &[u8]| match Frame::decode(bytes) {
        Err(Error::Protocol(ProtocolFault::Malformed(what))) => what,
        other => panic!("{bytes:?}: {other:?}"),
    };
    assert_eq!(malformed(&[]), Malformed::Empty);
    // Event with a command length running past the end.
    assert_eq!(
        malformed(&[FrameKind::Event.number(), 50, b'a']),
        Malformed::Truncated
    );
    // Trailing bytes.
    let mut bytes = Frame::Ping { nonce: 1 }.encode().to_vec();
    bytes.push(0);
    assert_eq!(malformed(&bytes), Malformed::TrailingBytes);
    // Invalid UTF-8 in a command name.
    assert_eq!(
        malformed(&[FrameKind::Event.number(), 1, 0xff, 0, 0]),
        Malformed::InvalidUtf8
    );
    // A bool that is neither 0 nor 1, an option tag that is neither.
    let close = FrameKind::Close.number();
    assert_eq!(malformed(&[close, 0xe8, 0x07, 0, 2]), Malformed::BadBool);
    let set_name = FrameKind::SetName.number();
    assert_eq!(malformed(&[set_name, 1, 2]), Malformed::BadOptionTag);
    // A varint longer than its field allows.
    assert_eq!(
        malformed(&[
            FrameKind::Ping.number(),
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0x01
        ]),
        Malformed::BadVarint
    );
    let lookup = FrameKind::Lookup.number();
    assert_eq!(malformed(&[lookup, 1, 9]), Malformed::UnknownLookupKey);
}

/// PROTOCOL.md section 5.3: codes 1–8 have names, and every other number
/// is kept as it is (an application's own codes).
#[test]
fn error_codes_are_as_documented_and_unknown_ones_are_kept() {
    let named = [
        (1, ErrorCode::NoHandler),
        (2, ErrorCode::BadPayload),
        (3, ErrorCode::HandlerFailed),
        (4, ErrorCode::Refused),
        (5, ErrorCode::ShuttingDown),
        (6, ErrorCode::TooLarge),
        (7, ErrorCode::Cancelled),
        (8, ErrorCode::LengthMismatch),
    ];
    for (number, code) in named {
        assert_eq!(ErrorCode::from_wire(number), code);
        assert_eq!(code.to_wire(), number);
    }
    for number in [0, 9, 42, 1000, u16::MAX] {
        assert_eq!(ErrorCode::from_wire(number), ErrorCode::Other(number));
        assert_eq!(ErrorCode::from_wire(number).to_wire(), number);
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_send_paths_event_writer_agrees_with_encode() {
    let long_command = "c".repeat(200);
    let payloads = [vec![], vec![7; 127], vec![7; 128], vec![7; 16_384]];
    for command in ["", "tick", &long_command[..127], &long_command[..]] {
        for request_id in [0, 1, 127, 128, 16_383, 16_384, u64::MAX] {
            for payload in &payloads {
                let frame = Frame::Event {
                    command,
                    request_id,
                    payload,
                };
                let mut buf = bytes::BytesMut::from(&b"ahead"[..]);
                Frame::write_event(&mut buf, command, request_id, payload);
                assert_eq!(&buf[..5], b"ahead", "appended, not overwritten");
                assert_eq!(&buf[5..], &frame.encode()[..]);
                assert_eq!(
                    Frame::event_len(command, request_id, payload.len()),
                    frame.encoded_len()
                );
            }
        }
    }
}
