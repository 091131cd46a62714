//! The bodies of the fuzz targets in `fuzz/` (feature `fuzzing`), shared
//! with the stable test that replays their committed corpus
//! (`tests/tests/fuzz_corpus.rs`), so that a crash found once stays a
//! failing test on stable.
//!
//! Each function takes arbitrary bytes, runs them through the functions a
//! peer's bytes reach, and panics only when an invariant breaks (a decoded
//! frame that does not re-encode to itself, a fast path that disagrees
//! with the full decoder, …): a panic is a finding. Not part of the API.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::close::codes;
use crate::frame::{Frame, FrameKind};
use crate::protocol::handshake::{check_first, read_answer, FirstFrame, Verdict};
use crate::value::{self, Value};
use crate::Error;

/// Frame decoder: whatever decodes re-encodes to a frame that decodes to
/// the same value, and the hand-written decoder agrees with postcard's
/// serde decoding (the reference it claims to match) on every input.
pub fn frame(data: &[u8]) {
    let decoded = Frame::decode(data);
    let reference = match postcard::take_from_bytes::<Frame<'_>>(data) {
        Ok((frame, [])) => Some(frame),
        _ => None,
    };
    match &decoded {
        Ok(frame) => {
            assert_eq!(reference.as_ref(), Some(frame), "postcard disagrees");
            let _ = (frame.kind_name(), frame.kind().direction());
            let encoded = frame.encode();
            let again = Frame::decode(&encoded);
            assert_eq!(again.ok().as_ref(), Some(frame), "re-encoding changed it");
            // Every varint we write is the shortest form, so a frame that
            // was already in shortest form comes back byte for byte.
            assert!(encoded.len() <= data.len(), "re-encoding grew the frame");
        }
        Err(err) => {
            // The kind byte decides only whether postcard can even try.
            if data
                .first()
                .is_some_and(|&k| FrameKind::from_number(k).is_some())
            {
                assert!(
                    reference.is_none(),
                    "postcard decodes what we refuse: {err}"
                );
            }
            close_reason_of_decode_error(err);
        }
    }
}

/// A decode error closes the connection with 1002 or 4007, never anything
/// else (PROTOCOL.md section 5.3).
fn close_reason_of_decode_error(err: &Error) {
    let reason = err.close_reason();
    let code = reason.as_ref().map(|r| r.code);
    assert!(
        matches!(
            code,
            Some(codes::PROTOCOL_ERROR) | Some(codes::UNKNOWN_FRAME_KIND)
        ),
        "a decode error closes with {code:?}: {err}"
    );
}

/// The server's event fast path: `decode_event_bytes` (command left as
/// bytes, looked up before its UTF-8 is checked) and `command_text` must
/// give exactly what `decode_event` and the full `Frame::decode` give, and
/// fail on exactly the same inputs with the same close code.
pub fn event_fast_path(data: &[u8]) {
    let fast = Frame::decode_event_bytes(data);
    let event = Frame::decode_event(data);
    let full = Frame::decode(data);
    let is_event = data.first() == Some(&FrameKind::Event.number());
    match fast {
        Ok(None) => {
            assert!(!is_event, "an event frame skipped");
            assert!(matches!(event, Ok(None)), "decode_event disagrees");
            if let Ok(frame) = &full {
                assert_ne!(frame.kind(), FrameKind::Event);
            }
        }
        Ok(Some((command, request_id, payload))) => {
            assert!(is_event);
            match Frame::command_text(command) {
                Ok(text) => {
                    let expected = (text, request_id, payload);
                    assert_eq!(event.ok().flatten(), Some(expected), "decode_event");
                    let Ok(Frame::Event {
                        command,
                        request_id,
                        payload,
                    }) = full
                    else {
                        panic!("Frame::decode does not see the event: {full:?}");
                    };
                    assert_eq!((command, request_id, payload), expected, "Frame::decode");
                    // The payload is the end of the frame: the server cuts
                    // it out by offset.
                    assert!(data.ends_with(payload));
                }
                Err(err) => {
                    close_reason_of_decode_error(&err);
                    assert!(event.is_err() && full.is_err(), "bad UTF-8 accepted");
                }
            }
        }
        Err(err) => {
            close_reason_of_decode_error(&err);
            let code = err.close_reason().map(|r| r.code);
            let event_code = event.err().and_then(|e| e.close_reason()).map(|r| r.code);
            let full_code = full.err().and_then(|e| e.close_reason()).map(|r| r.code);
            assert_eq!(code, event_code, "decode_event fails otherwise");
            assert_eq!(code, full_code, "Frame::decode fails otherwise");
        }
    }
}

/// A payload received as a dynamic [`Value`]: decoding never panics, and
/// what decodes encodes to bytes that decode to the same value (compared
/// by encoding, so that NaN equals itself).
pub fn payload_value(data: &[u8]) {
    let Ok(decoded) = value::decode::<Value>(data) else {
        return;
    };
    round_trips(&decoded);
}

fn round_trips<T: Serialize + serde::de::DeserializeOwned + std::fmt::Debug>(decoded: &T) {
    let encoded = match value::encode(decoded) {
        Ok(bytes) => bytes,
        Err(err) => panic!("a decoded value does not encode: {err}: {decoded:?}"),
    };
    let again: T = match value::decode(&encoded) {
        Ok(again) => again,
        Err(err) => panic!("its encoding does not decode: {err}: {decoded:?}"),
    };
    let twice = match value::encode(&again) {
        Ok(bytes) => bytes,
        Err(err) => panic!("the second decoding does not encode: {err}"),
    };
    assert_eq!(encoded, twice, "the value changed on the way: {decoded:?}");
}

/// A struct of the field kinds applications receive, for
/// [`payload_typed`].
#[derive(Debug, Serialize, Deserialize)]
struct Typed {
    small: u8,
    signed: i64,
    float: f64,
    text: String,
    list: Vec<String>,
    maybe: Option<u32>,
    #[serde(with = "serde_bytes")]
    blob: Vec<u8>,
    map: BTreeMap<String, i32>,
    choice: Choice,
    pair: (bool, char),
    #[serde(default)]
    nested: Option<Box<Typed>>,
    any: Value,
}

/// An enum of every variant shape, for [`payload_typed`].
#[derive(Debug, Serialize, Deserialize)]
enum Choice {
    Unit,
    Newtype(i16),
    Tuple(u64, f32),
    Struct { name: String, tags: Vec<u8> },
}

/// A payload received as application types (serde from MessagePack):
/// decoding never panics, and what decodes round-trips.
pub fn payload_typed(data: &[u8]) {
    if let Ok(typed) = value::decode::<Typed>(data) {
        round_trips(&typed);
    }
    if let Ok(choices) = value::decode::<Vec<Choice>>(data) {
        round_trips(&choices);
    }
    if let Ok(tuple) = value::decode::<(String, u16, Option<Vec<i8>>)>(data) {
        round_trips(&tuple);
    }
    let _ = value::decode::<BTreeMap<String, Value>>(data);
    let _ = value::decode::<String>(data);
    let _ = value::decode::<()>(data);
}

/// Handshake admission: any first frame gets a verdict; a `Hello` is
/// admitted only when it is a well-formed `Hello` of this version, with
/// its fields as sent; every refusal has one of the handshake's codes. The
/// auth data then goes where an auth hook sends it (a decode into a
/// value), and the client's side reads any answer without panicking.
pub fn handshake(data: &[u8]) {
    let bytes = Bytes::copy_from_slice(data);
    match check_first(FirstFrame::Read(Ok(bytes.clone()))) {
        Verdict::Hello(hello) => {
            let Ok(Frame::Hello {
                version,
                name,
                group,
                auth,
            }) = Frame::decode(&bytes)
            else {
                panic!("admitted a first frame that is not a hello");
            };
            assert_eq!(version, crate::frame::PROTOCOL_VERSION);
            assert_eq!(hello.name.as_deref(), name);
            assert_eq!(hello.group.as_deref(), group);
            assert_eq!(hello.auth.as_deref(), auth);
            if let Some(auth) = &hello.auth {
                let _ = value::decode::<Value>(auth);
            }
        }
        Verdict::Refuse(reason) => assert!(
            matches!(
                reason.code,
                codes::PROTOCOL_ERROR | codes::UNKNOWN_FRAME_KIND | codes::VERSION_MISMATCH
            ),
            "refused with {reason:?}"
        ),
        Verdict::Resume(request) => {
            let Ok(Frame::Resume { token, received }) = Frame::decode(&bytes) else {
                panic!("a resume verdict for a frame that is not a resume");
            };
            assert_eq!((&request.token[..], request.received), (token, received));
        }
        Verdict::Drop => panic!("a frame that arrived is dropped without a word"),
    }
    let _ = read_answer(Some(bytes));
}
