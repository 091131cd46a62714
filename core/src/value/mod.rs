//! Payloads: self-describing MessagePack, so that a receiver without Rust
//! types (a browser, a script in another language) can decode every payload,
//! while Rust code sends and receives its own `Serialize`/`Deserialize` types
//! ("type-casting": the receiver names the type it wants).
//!
//! Encoding writes structs as maps keyed by field name (not as positional
//! arrays), so that a JavaScript receiver gets ordinary objects. Decoding goes
//! straight from the bytes into the requested type: no intermediate tree is
//! built unless the receiver asks for a [`Value`].

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// A dynamic payload value: nil, bool, integers, floats, strings, bytes,
/// arrays and maps. Use it to receive a payload whose type you do not know.
pub use rmpv::Value;

/// The encoding of the nil value, the payload of events sent without data.
pub const NIL: &[u8] = &[0xc0];

/// The deepest nesting of arrays, maps and ext values a received payload
/// may have: [`decode`] refuses a payload with more than this many nested
/// inside each other, as the browser client does.
///
/// Why: decoding (into a [`Value`] or a recursive type of one's own) goes
/// one stack frame deeper per level, on the task that runs the handler.
/// Found while writing the payload fuzz targets: with rmp-serde's own
/// limit of 1,024 levels, a payload of 1,000 nested one-element arrays
/// (1 KB) overflowed a 2 MiB tokio worker stack in a debug build, aborting
/// the whole server process.
pub const MAX_DEPTH: usize = 128;

/// Encodes any `Serialize` value as a MessagePack payload.
///
/// Errors with [`Error::Encode`] when the value cannot be represented (a map
/// with a key that fails to serialize, a `Serialize` impl that errors).
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Bytes> {
    with_encoded(value, Bytes::copy_from_slice)
}

/// Scratch space for encoding, reused by every encode on a thread, so that
/// an encode costs no allocation of its own (only the caller's copy, of
/// the exact size).
const SCRATCH_KEEP: usize = 64 * 1024;

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Encodes `value` and hands the bytes to `use_bytes` (which typically
/// copies them into a frame), without allocating a buffer for the payload.
///
/// Errors with [`Error::Encode`] like [`encode`].
pub fn with_encoded<T: Serialize + ?Sized, R>(
    value: &T,
    use_bytes: impl FnOnce(&[u8]) -> R,
) -> Result<R> {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            let result = encode_into(&mut buf, value).map(|()| use_bytes(&buf));
            if buf.capacity() > SCRATCH_KEEP {
                // Do not keep a large payload's buffer around.
                *buf = Vec::new();
            }
            result
        }
        // Re-entered from inside `use_bytes` or a Serialize impl: use a
        // buffer of its own.
        Err(_) => {
            let mut buf = Vec::with_capacity(64);
            encode_into(&mut buf, value).map(|()| use_bytes(&buf))
        }
    })
}

/// Encodes any `Serialize` value as a MessagePack payload, appending to `buf`.
pub fn encode_into<T: Serialize + ?Sized>(buf: &mut Vec<u8>, value: &T) -> Result<()> {
    let mut ser = rmp_serde::Serializer::new(buf).with_struct_map();
    value
        .serialize(&mut ser)
        .map_err(|err| Error::Encode(err.to_string()))
}

/// Decodes a MessagePack payload into `T`.
///
/// Errors with [`Error::Decode`] when the bytes are not MessagePack or do not
/// fit `T` (a string where `T` wants a number, a missing struct field, …).
/// Errors with [`Error::Decode`] too when the payload is nested deeper
/// than [`MAX_DEPTH`].
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T> {
    let mut deserializer = rmp_serde::Deserializer::from_read_ref(payload);
    // rmp-serde counts the containers it enters and fails on reaching its
    // limit: a limit of one more lets exactly MAX_DEPTH nest.
    deserializer.set_max_depth(MAX_DEPTH + 1);
    T::deserialize(&mut deserializer).map_err(|err| Error::Decode(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Move {
        x: u8,
        y: u8,
        player: String,
        tags: Vec<String>,
        #[serde(with = "serde_bytes")]
        blob: Vec<u8>,
    }

    #[test]
    fn structs_round_trip_and_are_maps() {
        let m = Move {
            x: 1,
            y: 2,
            player: "x".into(),
            tags: vec!["a".into()],
            blob: vec![1, 2],
        };
        let bytes = encode(&m).expect("encodes");
        assert_eq!(decode::<Move>(&bytes).expect("decodes"), m);
        let value: Value = decode(&bytes).expect("dynamic");
        let map = value.as_map().expect("a struct is a map");
        assert_eq!(map[0].0.as_str(), Some("x"));
        assert!(map[4].1.is_bin(), "serde_bytes fields are binary");
    }

    #[test]
    fn wrong_type_is_a_decode_error() {
        let bytes = encode("not a number").expect("encodes");
        assert!(matches!(decode::<u32>(&bytes), Err(Error::Decode(_))));
        assert!(matches!(decode::<u32>(&[0xc1]), Err(Error::Decode(_))));
    }

    #[test]
    fn encoding_inside_an_encoding_works() {
        let outer = with_encoded(&"outer", |bytes| {
            let inner = encode(&"inner").expect("inner encodes");
            (bytes.to_vec(), inner)
        })
        .expect("outer encodes");
        assert_eq!(decode::<String>(&outer.0).expect("decodes"), "outer");
        assert_eq!(decode::<String>(&outer.1).expect("decodes"), "inner");
    }

    /// `levels` one-element arrays inside each other around a nil.
    fn nested(levels: usize) -> Vec<u8> {
        let mut payload = vec![0x91; levels];
        payload.push(0xc0);
        payload
    }

    #[test]
    fn payloads_nest_up_to_max_depth_and_no_deeper() {
        assert!(decode::<Value>(&nested(MAX_DEPTH)).is_ok());
        let deeper = decode::<Value>(&nested(MAX_DEPTH + 1));
        assert!(matches!(deeper, Err(Error::Decode(_))), "{deeper:?}");
        // An ext value counts as a level, as in the browser's reader.
        let mut ext_inside = nested(MAX_DEPTH);
        ext_inside.pop();
        ext_inside.extend_from_slice(&[0xd4, 1, 0]);
        assert!(decode::<Value>(&ext_inside).is_err());
    }

    #[test]
    fn a_deeply_nested_payload_fails_on_a_small_stack_instead_of_overflowing_it() {
        // A tokio worker's stack; before the limit, this payload overflowed
        // it in a debug build and aborted the process.
        let decoded = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(|| {
                let payload = nested(1_000);
                matches!(decode::<Value>(&payload), Err(Error::Decode(_)))
            })
            .expect("a thread")
            .join()
            .expect("no panic");
        assert!(decoded, "refused as too deep");
    }

    #[test]
    fn unit_is_nil() {
        assert_eq!(&encode(&()).expect("encodes")[..], NIL);
        decode::<()>(NIL).expect("nil decodes as unit");
    }
}
