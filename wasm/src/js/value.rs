//! JavaScript values ⇄ MessagePack payloads, converted directly: JS values
//! are written as MessagePack while the `js_sys` value is walked, and
//! received bytes become JS values as they are read, without an
//! intermediate tree and without serde (which keeps the npm package small).
//!
//! JS → MessagePack (what `send`, `request` and handler replies accept):
//!
//! | JS | MessagePack |
//! |---|---|
//! | `null`, `undefined` | nil |
//! | boolean | bool |
//! | number: integral and within ±(2^53 − 1) | int |
//! | other numbers (fractions, NaN, ±Infinity) | float 64 |
//! | bigint within i64/u64 | int (larger: an error) |
//! | string | str |
//! | `Uint8Array`, `ArrayBuffer` | bin |
//! | Array | array |
//! | `Map` | map (keys converted like values) |
//! | object with `toJSON()` (`Date`, …) | whatever `toJSON()` returns |
//! | other objects | map of their own enumerable string keys; `undefined` members are left out, as in JSON |
//!
//! Functions, symbols and typed arrays other than `Uint8Array` are errors,
//! and so is nesting deeper than [`MAX_DEPTH`] (which catches cycles).
//! Integers use the shortest MessagePack form.
//!
//! MessagePack → JS (what listeners, `recv` and `request` give back):
//! nil → `null`; ints → `number` while within ±(2^53 − 1) (exact), else
//! `bigint` (exact; never a rounded number); floats → `number`; str →
//! string (a str that is not UTF-8 arrives as a `Uint8Array`); bin →
//! `Uint8Array`; array → Array; map → a plain object when every key is a
//! string, number or bool (keys become their JS string form, as in JSON),
//! otherwise a `Map`; ext → `{ extType, data }`. Input nested deeper than
//! [`MAX_DEPTH`], truncated or malformed is an error. The reading itself
//! is `msgpack_read`'s, which is fuzzed natively (fuzz/README.md).

use super::msgpack as mp;
use crate::msgpack_read::{read, Build, MAX_SAFE};
use js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

/// Deepest nesting accepted in either direction.
pub use crate::msgpack_read::MAX_DEPTH;

const TOO_DEEP: &str = "value nested deeper than 128 levels (is it cyclic?)";

/// Encodes a JS value as a MessagePack payload (table in the module docs).
///
/// Errors name what cannot be sent (a function, a symbol, a typed array
/// other than `Uint8Array`, a bigint beyond 64 bits, a cycle).
pub fn encode(js: &JsValue) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    write(&mut out, js, 0)?;
    Ok(out)
}

fn write(out: &mut Vec<u8>, js: &JsValue, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(TOO_DEEP.into());
    }
    if js.is_null() || js.is_undefined() {
        mp::nil(out);
    } else if let Some(b) = js.as_bool() {
        mp::bool(out, b);
    } else if let Some(n) = js.as_f64() {
        if n.fract() == 0.0 && n.abs() <= MAX_SAFE {
            // Exact: the check above keeps it within i64 and integral.
            mp::int(out, n as i64);
        } else {
            mp::f64(out, n);
        }
    } else if let Some(s) = js.as_string() {
        mp::str(out, &s);
    } else if js.is_bigint() {
        if let Ok(n) = i64::try_from(js.clone()) {
            mp::int(out, n);
        } else if let Ok(n) = u64::try_from(js.clone()) {
            mp::uint(out, n);
        } else {
            return Err("bigint out of the 64-bit range".into());
        }
    } else if js.is_function() {
        return Err("functions cannot be sent".into());
    } else if js.is_symbol() {
        return Err("symbols cannot be sent".into());
    } else if let Some(bytes) = js.dyn_ref::<Uint8Array>() {
        write_bin(out, bytes);
    } else if let Some(buffer) = js.dyn_ref::<ArrayBuffer>() {
        write_bin(out, &Uint8Array::new(buffer));
    } else if ArrayBuffer::is_view(js) {
        return Err("only Uint8Array (or ArrayBuffer) can be sent as bytes; \
                    wrap other typed arrays with new Uint8Array(x.buffer)"
            .into());
    } else if Array::is_array(js) {
        let array: &Array = js.unchecked_ref();
        mp::array_header(out, array.length() as usize);
        for item in array.iter() {
            write(out, &item, depth + 1)?;
        }
    } else if let Some(map) = js.dyn_ref::<js_sys::Map>() {
        mp::map_header(out, map.size() as usize);
        let mut result = Ok(());
        map.for_each(&mut |value, key| {
            if result.is_ok() {
                result = write(out, &key, depth + 1).and_then(|()| write(out, &value, depth + 1));
            }
        });
        result?;
    } else {
        // `Date` and friends say how they want to be serialized.
        let to_json = get(js, "toJSON");
        if let Some(to_json) = to_json.dyn_ref::<js_sys::Function>() {
            let json = to_json.call0(js).map_err(|err| {
                format!("toJSON() failed: {}", crate::transport::js_message(&err))
            })?;
            return write(out, &json, depth + 1);
        }
        // Members that are `undefined` are left out, so the map's length is
        // known only after a first pass.
        let entries: Vec<(JsValue, JsValue)> = Object::entries(js.unchecked_ref())
            .iter()
            .map(|entry| {
                let entry: Array = entry.unchecked_into();
                (entry.get(0), entry.get(1))
            })
            .filter(|(_, value)| !value.is_undefined())
            .collect();
        mp::map_header(out, entries.len());
        for (key, value) in entries {
            mp::str(out, &key.as_string().unwrap_or_default());
            write(out, &value, depth + 1)?;
        }
    }
    Ok(())
}

fn write_bin(out: &mut Vec<u8>, bytes: &Uint8Array) {
    mp::bin_header(out, bytes.length() as usize);
    let start = out.len();
    out.resize(start + bytes.length() as usize, 0);
    crate::transport::copy_bytes(&mut out[start..], bytes);
}

/// `object[key]`, or `undefined` when reading it throws.
fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Decodes a MessagePack payload into a JS value (table in the module
/// docs). Bytes after the first value are ignored.
///
/// Errors: truncated or malformed MessagePack, nesting deeper than
/// [`MAX_DEPTH`].
pub fn decode(bytes: &[u8]) -> Result<JsValue, String> {
    read::<Js>(bytes)
        .ok_or_else(|| "not valid MessagePack (truncated, malformed or too deep)".into())
}

/// Builds JS values as `msgpack_read` reads them.
struct Js;

impl Build for Js {
    type Value = JsValue;
    type Array = Array;
    /// Key/value pairs, `[key, value]` arrays, as `Object.fromEntries`
    /// takes them.
    type Pairs = Array;

    fn null() -> JsValue {
        JsValue::NULL
    }

    fn bool(b: bool) -> JsValue {
        JsValue::from_bool(b)
    }

    fn number(n: f64) -> JsValue {
        JsValue::from_f64(n)
    }

    fn big_uint(n: u64) -> JsValue {
        JsValue::from(n)
    }

    fn big_int(n: i64) -> JsValue {
        JsValue::from(n)
    }

    fn str(s: &str) -> JsValue {
        JsValue::from_str(s)
    }

    fn bytes(bytes: &[u8]) -> JsValue {
        Uint8Array::from(bytes).into()
    }

    fn ext(kind: i8, data: &[u8]) -> JsValue {
        let object = Object::new();
        let _ = Reflect::set(&object, &"extType".into(), &JsValue::from(kind));
        let _ = Reflect::set(&object, &"data".into(), &Uint8Array::from(data));
        object.into()
    }

    fn array(len: usize) -> Array {
        Array::new_with_length(len as u32)
    }

    fn array_set(array: &mut Array, index: usize, item: JsValue) {
        array.set(index as u32, item);
    }

    fn array_end(array: Array) -> JsValue {
        array.into()
    }

    fn pairs(len: usize) -> Array {
        Array::new_with_length(len as u32)
    }

    fn pair_set(pairs: &mut Array, index: usize, key: JsValue, value: JsValue) {
        pairs.set(index as u32, Array::of2(&key, &value).into());
    }

    fn map_end(pairs: Array, plain: bool) -> Option<JsValue> {
        if plain {
            // `Object.fromEntries` turns each key into its JS string form
            // (7 → "7", true → "true") and defines own properties, so a key
            // like "__proto__" stays data and cannot touch the prototype.
            Object::from_entries(&pairs).ok().map(JsValue::from)
        } else {
            let map = js_sys::Map::new();
            for pair in pairs.iter() {
                let pair: Array = pair.unchecked_into();
                map.set(&pair.get(0), &pair.get(1));
            }
            Some(map.into())
        }
    }
}
