//! The body of the `browser_msgpack` fuzz target in `fuzz/` (feature
//! `fuzzing`, native), shared with the stable test that replays its
//! committed corpus. Not part of the API.
//!
//! The browser client turns a received payload into JS values while it
//! reads it (`js/value.rs`). The reading is generic (`msgpack_read`), so
//! here it builds a plain tree ([`JsLike`]) instead of JS values, and that
//! tree is compared with what the JS value must be according to the
//! native side's reading of the same bytes (`hisock::value::decode` into a
//! [`Value`], serde over `rmp-serde`): the same acceptance, numbers exact
//! or bigints, plain objects only for string/number/bool keys, the depth
//! limit. (`rmpv`'s own `read_value` is no reference: it reads the unused
//! marker 0xc1 as nil.)

use crate::msgpack_read::{read, Build, MAX_DEPTH};
use hisock::Value;

/// A JS value as the browser build would make it, natively.
#[derive(Debug, Clone, PartialEq)]
pub enum JsLike {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A `number`, by its bits (so that NaN equals itself).
    Number(u64),
    /// A `bigint`.
    BigInt(i128),
    /// A string.
    Str(String),
    /// A `Uint8Array`.
    Bytes(Vec<u8>),
    /// An `Array`.
    Array(Vec<JsLike>),
    /// A plain object made from these entries (`Object.fromEntries`).
    Object(Vec<(JsLike, JsLike)>),
    /// A `Map`.
    Map(Vec<(JsLike, JsLike)>),
    /// `{ extType, data }`.
    Ext(i8, Vec<u8>),
}

impl Build for JsLike {
    type Value = JsLike;
    type Array = Vec<JsLike>;
    type Pairs = Vec<(JsLike, JsLike)>;

    fn null() -> JsLike {
        JsLike::Null
    }

    fn bool(b: bool) -> JsLike {
        JsLike::Bool(b)
    }

    fn number(n: f64) -> JsLike {
        JsLike::Number(n.to_bits())
    }

    fn big_uint(n: u64) -> JsLike {
        JsLike::BigInt(n.into())
    }

    fn big_int(n: i64) -> JsLike {
        JsLike::BigInt(n.into())
    }

    fn str(s: &str) -> JsLike {
        JsLike::Str(s.to_owned())
    }

    fn bytes(bytes: &[u8]) -> JsLike {
        JsLike::Bytes(bytes.to_vec())
    }

    fn ext(kind: i8, data: &[u8]) -> JsLike {
        JsLike::Ext(kind, data.to_vec())
    }

    fn array(len: usize) -> Vec<JsLike> {
        Vec::with_capacity(len)
    }

    fn array_set(array: &mut Vec<JsLike>, index: usize, item: JsLike) {
        assert_eq!(index, array.len(), "array items set out of order");
        array.push(item);
    }

    fn array_end(array: Vec<JsLike>) -> JsLike {
        JsLike::Array(array)
    }

    fn pairs(len: usize) -> Vec<(JsLike, JsLike)> {
        Vec::with_capacity(len)
    }

    fn pair_set(pairs: &mut Vec<(JsLike, JsLike)>, index: usize, key: JsLike, value: JsLike) {
        assert_eq!(index, pairs.len(), "map pairs set out of order");
        pairs.push((key, value));
    }

    fn map_end(pairs: Vec<(JsLike, JsLike)>, plain: bool) -> Option<JsLike> {
        Some(if plain {
            JsLike::Object(pairs)
        } else {
            JsLike::Map(pairs)
        })
    }
}

/// Largest integer a JS number holds exactly, as an integer.
const MAX_SAFE: u64 = (1 << 53) - 1;

/// What the browser must make of `value`, written from the module docs of
/// `js/value.rs` independently of the reader.
/// (A str that is not UTF-8 reaches a `Value` as binary.)
fn expected(value: &Value) -> JsLike {
    match value {
        Value::Nil => JsLike::Null,
        Value::Boolean(b) => JsLike::Bool(*b),
        Value::Integer(n) => match (n.as_u64(), n.as_i64()) {
            (Some(n), _) if n <= MAX_SAFE => JsLike::Number((n as f64).to_bits()),
            (Some(n), _) => JsLike::BigInt(n.into()),
            (None, Some(n)) if n.unsigned_abs() <= MAX_SAFE => JsLike::Number((n as f64).to_bits()),
            (None, Some(n)) => JsLike::BigInt(n.into()),
            (None, None) => unreachable!("a MessagePack integer is a u64 or an i64"),
        },
        Value::F32(f) => JsLike::Number(f64::from(*f).to_bits()),
        Value::F64(f) => JsLike::Number(f.to_bits()),
        Value::String(s) => match s.as_str() {
            Some(s) => JsLike::Str(s.to_owned()),
            None => JsLike::Bytes(s.as_bytes().to_vec()),
        },
        Value::Binary(bytes) => JsLike::Bytes(bytes.clone()),
        Value::Array(items) => JsLike::Array(items.iter().map(expected).collect()),
        Value::Map(pairs) => {
            let plain = pairs.iter().all(|(key, _)| match key {
                Value::String(s) => s.is_str(),
                Value::Integer(_) | Value::F32(_) | Value::F64(_) | Value::Boolean(_) => true,
                _ => false,
            });
            let pairs = pairs
                .iter()
                .map(|(key, value)| (expected(key), expected(value)))
                .collect();
            if plain {
                JsLike::Object(pairs)
            } else {
                JsLike::Map(pairs)
            }
        }
        Value::Ext(kind, data) => JsLike::Ext(*kind, data.clone()),
    }
}

/// How many arrays, maps and ext values the deepest chain in `value` has
/// inside each other.
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Map(pairs) => {
            1 + pairs
                .iter()
                .map(|(key, value)| depth(key).max(depth(value)))
                .max()
                .unwrap_or(0)
        }
        Value::Ext(..) => 1,
        _ => 0,
    }
}

/// What the browser client makes of a received payload `data`: exactly
/// what `expected` says of the native reading, or an error exactly when
/// that fails. Both refuse values nested deeper than `MAX_DEPTH`: the
/// depth is checked here too, in case the native limit changes alone.
pub fn browser_msgpack(data: &[u8]) {
    let ours = read::<JsLike>(data);
    let reference = hisock::value::decode::<Value>(data).ok();
    match reference {
        Some(value) if depth(&value) <= MAX_DEPTH => {
            assert_eq!(
                ours,
                Some(expected(&value)),
                "read otherwise than {value:?}"
            );
        }
        Some(_) => assert_eq!(ours, None, "accepted a value nested too deep"),
        None => assert_eq!(ours, None, "accepted what the native side refuses"),
    }
}
