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
//! [`MAX_DEPTH`], truncated or malformed is an error.

use super::msgpack as mp;
use js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

/// Deepest nesting accepted in either direction.
pub const MAX_DEPTH: usize = 128;

/// Largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

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
    Reader { rest: bytes }
        .value(0)
        .map(|(value, _)| value)
        .ok_or_else(|| "not valid MessagePack (truncated, malformed or too deep)".into())
}

/// A cursor over the payload. Each read returns `None` at the end of the
/// input or on a malformed value; [`decode`] turns that into one error.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Some(head)
    }

    /// The next `N` bytes, as big-endian bytes for `from_be_bytes`.
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }

    /// A length of `width` bytes (1, 2 or 4), as the `8/16/32` forms use.
    fn len(&mut self, width: u8) -> Option<usize> {
        Some(match width {
            1 => self.u8()?.into(),
            2 => u16::from_be_bytes(self.array()?).into(),
            _ => u32::from_be_bytes(self.array()?) as usize,
        })
    }

    /// The next value, and whether it can be a plain object key (a string,
    /// a number or a bool).
    fn value(&mut self, depth: usize) -> Option<(JsValue, bool)> {
        if depth > MAX_DEPTH {
            return None;
        }
        let marker = self.u8()?;
        let value = match marker {
            0x00..=0x7f => JsValue::from(marker),
            0x80..=0x8f => return Some((self.map(usize::from(marker & 0x0f), depth)?, false)),
            0x90..=0x9f => return Some((self.array_of(usize::from(marker & 0x0f), depth)?, false)),
            0xa0..=0xbf => return self.str(usize::from(marker & 0x1f)),
            0xc0 => return Some((JsValue::NULL, false)),
            0xc2 => JsValue::FALSE,
            0xc3 => JsValue::TRUE,
            0xc4..=0xc6 => {
                let len = self.len(1 << (marker - 0xc4))?;
                return Some((Uint8Array::from(self.take(len)?).into(), false));
            }
            0xc7..=0xc9 => {
                let len = self.len(1 << (marker - 0xc7))?;
                return Some((self.ext(len)?, false));
            }
            0xca => JsValue::from(f32::from_be_bytes(self.array()?)),
            0xcb => JsValue::from(f64::from_be_bytes(self.array()?)),
            0xcc => JsValue::from(self.u8()?),
            0xcd => JsValue::from(u16::from_be_bytes(self.array()?)),
            0xce => JsValue::from(u32::from_be_bytes(self.array()?)),
            0xcf => uint(u64::from_be_bytes(self.array()?)),
            0xd0 => JsValue::from(i8::from_be_bytes(self.array()?)),
            0xd1 => JsValue::from(i16::from_be_bytes(self.array()?)),
            0xd2 => JsValue::from(i32::from_be_bytes(self.array()?)),
            0xd3 => sint(i64::from_be_bytes(self.array()?)),
            0xd4..=0xd8 => return Some((self.ext(1 << (marker - 0xd4))?, false)),
            0xd9..=0xdb => {
                let len = self.len(1 << (marker - 0xd9))?;
                return self.str(len);
            }
            0xdc | 0xdd => {
                let len = self.len(2 << (marker - 0xdc))?;
                return Some((self.array_of(len, depth)?, false));
            }
            0xde | 0xdf => {
                let len = self.len(2 << (marker - 0xde))?;
                return Some((self.map(len, depth)?, false));
            }
            0xe0..=0xff => JsValue::from(marker as i8),
            // 0xc1 is never used.
            _ => return None,
        };
        Some((value, true))
    }

    fn str(&mut self, len: usize) -> Option<(JsValue, bool)> {
        let bytes = self.take(len)?;
        Some(match std::str::from_utf8(bytes) {
            Ok(s) => (JsValue::from_str(s), true),
            Err(_) => (Uint8Array::from(bytes).into(), false),
        })
    }

    fn ext(&mut self, len: usize) -> Option<JsValue> {
        let kind = self.u8()? as i8;
        let data = self.take(len)?;
        let object = Object::new();
        let _ = Reflect::set(&object, &"extType".into(), &JsValue::from(kind));
        let _ = Reflect::set(&object, &"data".into(), &Uint8Array::from(data));
        Some(object.into())
    }

    fn array_of(&mut self, len: usize, depth: usize) -> Option<JsValue> {
        // Every element takes at least one byte: a bogus length fails here
        // instead of allocating.
        if len > self.rest.len() {
            return None;
        }
        let array = Array::new_with_length(len as u32);
        for i in 0..len {
            array.set(i as u32, self.value(depth + 1)?.0);
        }
        Some(array.into())
    }

    fn map(&mut self, len: usize, depth: usize) -> Option<JsValue> {
        if len > self.rest.len() {
            return None;
        }
        let pairs = Array::new_with_length(len as u32);
        let mut plain = true;
        for i in 0..len {
            let (key, plain_key) = self.value(depth + 1)?;
            plain &= plain_key;
            pairs.set(i as u32, Array::of2(&key, &self.value(depth + 1)?.0).into());
        }
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

/// A MessagePack uint 64 as a JS number when that is exact, else a bigint.
fn uint(n: u64) -> JsValue {
    if n as f64 <= MAX_SAFE {
        JsValue::from_f64(n as f64)
    } else {
        JsValue::from(n)
    }
}

/// A MessagePack int 64 as a JS number when that is exact, else a bigint.
fn sint(n: i64) -> JsValue {
    if n.unsigned_abs() as f64 <= MAX_SAFE {
        JsValue::from_f64(n as f64)
    } else {
        JsValue::from(n)
    }
}
