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
    Ok(millis(options, "timeoutMs")?.unwrap_or(default))
}

/// `options[key]`, a number of milliseconds ≥ 0 (`Infinity`: the longest
/// timer a browser runs), as a duration; `None` when absent.
pub fn millis(options: &JsValue, key: &str) -> Result<Option<Duration>, JsValue> {
    let ms = number(
        options,
        key,
        &format!("{key} must be a number of milliseconds ≥ 0 (or Infinity)"),
    )?;
    Ok(ms.map(|ms| Duration::from_millis(ms.min(LONGEST_TIMEOUT_MS) as u64)))
}

/// `options[key]` as a number ≥ 0 (`Infinity` included); `None` when
/// absent, an argument error saying `what` when it is anything else.
pub fn number(options: &JsValue, key: &str, what: &str) -> Result<Option<f64>, JsValue> {
    let value = field(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    match value.as_f64() {
        Some(n) if n >= 0.0 => Ok(Some(n)),
        _ => Err(argument_error(what)),
    }
}

/// `options[key]` as a whole count ≥ 0 (`Infinity`: no bound, `usize::MAX`);
/// `None` when absent.
pub fn count(options: &JsValue, key: &str) -> Result<Option<usize>, JsValue> {
    let what = format!("{key} must be a whole number ≥ 0 (or Infinity)");
    match number(options, key, &what)? {
        Some(n) if n.fract() == 0.0 || n.is_infinite() => Ok(Some(n as usize)),
        Some(_) => Err(argument_error(&what)),
        None => Ok(None),
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
