//! JavaScript values ⇄ hisock payloads (MessagePack, as [`Value`]).
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
//!
//! MessagePack → JS (what listeners, `recv` and `request` give back):
//! nil → `null`; ints → `number` while within ±(2^53 − 1) (exact), else
//! `bigint` (exact; never a rounded number); floats → `number`; str →
//! string; bin → `Uint8Array`; array → Array; map → a plain object when
//! every key is a string, number or bool (keys become their string form, as
//! in JSON), otherwise a `Map`; ext → `{ extType, data }`.

use hisock::Value;
use js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

/// Deepest nesting accepted in either direction.
pub const MAX_DEPTH: usize = 128;

/// Largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// Converts a JS value into a payload value (table in the module docs).
pub fn from_js(js: &JsValue) -> Result<Value, String> {
    from_js_at(js, 0)
}

fn from_js_at(js: &JsValue, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "value nested deeper than {MAX_DEPTH} levels (is it cyclic?)"
        ));
    }
    if js.is_null() || js.is_undefined() {
        return Ok(Value::Nil);
    }
    if let Some(b) = js.as_bool() {
        return Ok(Value::Boolean(b));
    }
    if let Some(n) = js.as_f64() {
        return Ok(number(n));
    }
    if let Some(s) = js.as_string() {
        return Ok(Value::from(s));
    }
    if js.is_bigint() {
        if let Ok(n) = i64::try_from(js.clone()) {
            return Ok(Value::from(n));
        }
        if let Ok(n) = u64::try_from(js.clone()) {
            return Ok(Value::from(n));
        }
        return Err("bigint out of the 64-bit range".into());
    }
    if js.is_function() {
        return Err("functions cannot be sent".into());
    }
    if js.is_symbol() {
        return Err("symbols cannot be sent".into());
    }
    if let Some(bytes) = js.dyn_ref::<Uint8Array>() {
        return Ok(Value::Binary(bytes.to_vec()));
    }
    if let Some(buffer) = js.dyn_ref::<ArrayBuffer>() {
        return Ok(Value::Binary(Uint8Array::new(buffer).to_vec()));
    }
    if ArrayBuffer::is_view(js) {
        return Err("only Uint8Array (or ArrayBuffer) can be sent as bytes; \
                    wrap other typed arrays with new Uint8Array(x.buffer)"
            .into());
    }
    if Array::is_array(js) {
        let array: &Array = js.unchecked_ref();
        let mut items = Vec::with_capacity(array.length() as usize);
        for item in array.iter() {
            items.push(from_js_at(&item, depth + 1)?);
        }
        return Ok(Value::Array(items));
    }
    if let Some(map) = js.dyn_ref::<js_sys::Map>() {
        let mut entries = Vec::with_capacity(map.size() as usize);
        let mut failed = None;
        map.for_each(&mut |value, key| {
            if failed.is_some() {
                return;
            }
            match (from_js_at(&key, depth + 1), from_js_at(&value, depth + 1)) {
                (Ok(k), Ok(v)) => entries.push((k, v)),
                (Err(err), _) | (_, Err(err)) => failed = Some(err),
            }
        });
        return match failed {
            Some(err) => Err(err),
            None => Ok(Value::Map(entries)),
        };
    }
    // `Date` and friends say how they want to be serialized.
    let to_json = Reflect::get(js, &JsValue::from_str("toJSON")).unwrap_or(JsValue::UNDEFINED);
    if let Some(to_json) = to_json.dyn_ref::<js_sys::Function>() {
        let json = to_json
            .call0(js)
            .map_err(|err| format!("toJSON() failed: {}", crate::transport::js_message(&err)))?;
        return from_js_at(&json, depth + 1);
    }
    let object: &Object = js.unchecked_ref();
    let entries = Object::entries(object);
    let mut map = Vec::with_capacity(entries.length() as usize);
    for entry in entries.iter() {
        let entry: Array = entry.unchecked_into();
        let value = entry.get(1);
        if value.is_undefined() {
            continue;
        }
        let key = entry.get(0).as_string().unwrap_or_default();
        map.push((Value::from(key), from_js_at(&value, depth + 1)?));
    }
    Ok(Value::Map(map))
}

fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() <= MAX_SAFE {
        // Exact: the check above keeps it within i64 and integral.
        if n < 0.0 {
            Value::from(n as i64)
        } else {
            Value::from(n as u64)
        }
    } else {
        Value::F64(n)
    }
}

/// Converts a payload value into a JS value (table in the module docs).
pub fn to_js(value: &Value) -> JsValue {
    to_js_at(value, 0)
}

fn to_js_at(value: &Value, depth: usize) -> JsValue {
    match value {
        Value::Nil => JsValue::NULL,
        Value::Boolean(b) => JsValue::from_bool(*b),
        Value::Integer(n) => {
            if let Some(i) = n.as_i64() {
                if (i as f64).abs() <= MAX_SAFE {
                    JsValue::from_f64(i as f64)
                } else {
                    JsValue::from(i)
                }
            } else {
                // Only u64 values above i64::MAX land here.
                JsValue::from(n.as_u64().unwrap_or(u64::MAX))
            }
        }
        Value::F32(f) => JsValue::from_f64(f64::from(*f)),
        Value::F64(f) => JsValue::from_f64(*f),
        Value::String(s) => match s.as_str() {
            Some(s) => JsValue::from_str(s),
            None => JsValue::from_str(&String::from_utf8_lossy(s.as_bytes())),
        },
        Value::Binary(bytes) => Uint8Array::from(bytes.as_slice()).into(),
        Value::Array(items) => {
            let array = Array::new_with_length(items.len() as u32);
            for (i, item) in items.iter().enumerate() {
                array.set(i as u32, nested(item, depth));
            }
            array.into()
        }
        Value::Map(entries) => map_to_js(entries, depth),
        Value::Ext(kind, data) => {
            let object = Object::new();
            let _ = Reflect::set(&object, &"extType".into(), &JsValue::from(*kind));
            let _ = Reflect::set(
                &object,
                &"data".into(),
                &Uint8Array::from(data.as_slice()).into(),
            );
            object.into()
        }
    }
}

fn nested(value: &Value, depth: usize) -> JsValue {
    if depth >= MAX_DEPTH {
        // rmp-serde already refuses deeper input; this is a second fence.
        return JsValue::NULL;
    }
    to_js_at(value, depth + 1)
}

fn map_to_js(entries: &[(Value, Value)], depth: usize) -> JsValue {
    let plain_keys: Option<Vec<String>> = entries.iter().map(|(k, _)| key_text(k)).collect();
    match plain_keys {
        Some(keys) => {
            // `Object.fromEntries` defines own properties, so a key like
            // "__proto__" stays data and cannot touch the prototype.
            let pairs = Array::new_with_length(entries.len() as u32);
            for (i, (key, (_, value))) in keys.into_iter().zip(entries).enumerate() {
                let pair = Array::of2(&JsValue::from(key), &nested(value, depth));
                pairs.set(i as u32, pair.into());
            }
            Object::from_entries(&pairs)
                .map(JsValue::from)
                .unwrap_or(JsValue::NULL)
        }
        None => {
            let map = js_sys::Map::new();
            for (key, value) in entries {
                map.set(&nested(key, depth), &nested(value, depth));
            }
            map.into()
        }
    }
}

fn number_text(f: f64) -> Option<String> {
    js_sys::Number::from(f)
        .to_string_with_radix(10)
        .ok()
        .map(String::from)
}

/// A map key as object property text, when it has a plain one.
fn key_text(key: &Value) -> Option<String> {
    match key {
        Value::String(s) => Some(s.as_str()?.to_owned()),
        Value::Integer(n) => Some(n.to_string()),
        // JS's own number-to-text, as a JS object key would read.
        Value::F64(f) => number_text(*f),
        Value::F32(f) => number_text(f64::from(*f)),
        Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}
