//! Reading the option objects that JS callers pass (`{ timeoutMs }`, …).

use std::time::Duration;

use js_sys::Reflect;
use wasm_bindgen::JsValue;

use super::error::argument_error;

/// Default for `timeoutMs` in `request`, `recv` and `connect`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest timer a browser runs (`setTimeout` takes a signed 32-bit
/// count of milliseconds; longer ones fire at once). `timeoutMs: Infinity`
/// means this.
const LONGEST_TIMEOUT_MS: f64 = 2_147_483_647.0;

/// `options[key]`, or `undefined` when `options` is not an object.
pub fn field(options: &JsValue, key: &str) -> JsValue {
    if !options.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(options, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `options.timeoutMs` as a duration; `default` when absent.
pub fn timeout(options: &JsValue, default: Duration) -> Result<Duration, JsValue> {
    let value = field(options, "timeoutMs");
    if value.is_undefined() || value.is_null() {
        return Ok(default);
    }
    match value.as_f64() {
        Some(ms) if ms >= 0.0 => Ok(Duration::from_millis(ms.min(LONGEST_TIMEOUT_MS) as u64)),
        _ => Err(argument_error(
            "timeoutMs must be a number of milliseconds ≥ 0 (or Infinity)",
        )),
    }
}

/// `options[key]` as an optional string.
pub fn string(options: &JsValue, key: &str) -> Result<Option<String>, JsValue> {
    let value = field(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value
        .as_string()
        .map(Some)
        .ok_or_else(|| argument_error(&format!("{key} must be a string")))
}

/// `options[key]` as a boolean; `default` when absent.
pub fn boolean(options: &JsValue, key: &str, default: bool) -> Result<bool, JsValue> {
    let value = field(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(default);
    }
    value
        .as_bool()
        .ok_or_else(|| argument_error(&format!("{key} must be a boolean")))
}
