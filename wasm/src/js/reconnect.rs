//! Reconnection in the JS API (PROTOCOL.md section 13.8): the `reconnect`
//! and `offlineQueue` options of `connect`, the `state` a page reads, and
//! the objects the `disconnected`, `reconnecting` and `reconnected`
//! listeners get. The core client does the work; this is its JS face, in
//! the Rust names written JS's way (`max_delay` → `maxDelayMs`).

use hisock::protocol::resume::ResumeOutcome;
use hisock::{ConnectionChange, ConnectionState, OfflineQueue, Reconnect};
use js_sys::Array;
use wasm_bindgen::JsValue;

use super::error::argument_error;
use super::listeners::object;
use super::options::{count, field, millis};

/// `options.reconnect`: absent or `false` is off (the Rust client's
/// default too); `true` is the default policy; an object
/// `{ initialDelayMs, maxDelayMs, maxAttempts, retryCodes }` changes what
/// it names.
pub fn policy(options: &JsValue) -> Result<Option<Reconnect>, JsValue> {
    let value = field(options, "reconnect");
    if value.is_undefined() || value.is_null() || value.as_bool() == Some(false) {
        return Ok(None);
    }
    let mut policy = Reconnect::new();
    if value.as_bool() == Some(true) {
        return Ok(Some(policy));
    }
    if !value.is_object() {
        return Err(argument_error(
            "reconnect must be true, false or { initialDelayMs, maxDelayMs, maxAttempts, retryCodes }",
        ));
    }
    if let Some(delay) = millis(&value, "initialDelayMs")? {
        policy = policy.initial_delay(delay);
    }
    if let Some(delay) = millis(&value, "maxDelayMs")? {
        policy = policy.max_delay(delay);
    }
    // Infinity (or absent): for ever.
    let attempts = count(&value, "maxAttempts")?.filter(|n| *n < u32::MAX as usize);
    if let Some(attempts) = attempts {
        policy = policy.max_attempts(Some(attempts as u32));
    }
    let codes = field(&value, "retryCodes");
    if !codes.is_undefined() && !codes.is_null() {
        let what = "retryCodes must be an array of close codes (1000–4999)";
        if !Array::is_array(&codes) {
            return Err(argument_error(what));
        }
        for code in Array::from(&codes).iter() {
            match code.as_f64() {
                Some(code) if (1000.0..=4999.0).contains(&code) && code.fract() == 0.0 => {
                    policy = policy.retry_code(code as u16);
                }
                _ => return Err(argument_error(what)),
            }
        }
    }
    Ok(Some(policy))
}

/// `options.offlineQueue`: `{ maxBytes, maxMessages, ttlMs }`, each
/// optional (defaults: 1 MiB, 1024 messages, no time-to-live).
pub fn offline_queue(options: &JsValue) -> Result<OfflineQueue, JsValue> {
    let value = field(options, "offlineQueue");
    let mut queue = OfflineQueue::new();
    if value.is_undefined() || value.is_null() {
        return Ok(queue);
    }
    if !value.is_object() {
        return Err(argument_error(
            "offlineQueue must be { maxBytes, maxMessages, ttlMs }",
        ));
    }
    if let Some(bytes) = count(&value, "maxBytes")? {
        queue = queue.max_bytes(bytes);
    }
    if let Some(messages) = count(&value, "maxMessages")? {
        queue = queue.max_frames(messages);
    }
    if let Some(ttl) = millis(&value, "ttlMs")? {
        queue = queue.ttl(ttl);
    }
    Ok(queue)
}

/// `client.state`: `"connecting"`, `"connected"`, `"reconnecting"` or
/// `"closed"`.
pub fn state_name(state: ConnectionState) -> &'static str {
    match state {
        ConnectionState::Connecting => "connecting",
        ConnectionState::Connected => "connected",
        ConnectionState::Reconnecting => "reconnecting",
        _ => "closed",
    }
}

/// Why a reconnect got a new session, in the words of PROTOCOL.md's
/// outcome table (`"unknown_token"`); a newer server's number as is.
fn outcome(outcome: ResumeOutcome) -> JsValue {
    let name = match outcome {
        ResumeOutcome::Resumed => "resumed",
        ResumeOutcome::New => "new",
        ResumeOutcome::UnknownToken => "unknown_token",
        ResumeOutcome::Expired => "expired",
        ResumeOutcome::Overflow => "overflow",
        ResumeOutcome::Gap => "gap",
        ResumeOutcome::Disabled => "disabled",
        ResumeOutcome::Ended => "ended",
        other => return JsValue::from(other.to_wire()),
    };
    JsValue::from_str(name)
}

/// The argument of a `disconnected` (`{ code, reason, willRetry }`),
/// `reconnecting` (`{ attempt, delayMs }`) or `reconnected` (`{ resumed,
/// outcome?, expired }`: `outcome` only when not resumed) listener.
pub fn change_info(change: &ConnectionChange) -> JsValue {
    match change {
        ConnectionChange::Disconnected {
            code,
            reason,
            will_retry,
        } => object(&[
            ("code", JsValue::from(*code)),
            ("reason", JsValue::from_str(reason)),
            ("willRetry", JsValue::from_bool(*will_retry)),
        ]),
        ConnectionChange::Reconnecting { attempt, delay } => object(&[
            ("attempt", JsValue::from(*attempt)),
            // Not `as_millis()`: its u128 would grow the .wasm.
            (
                "delayMs",
                JsValue::from_f64(
                    delay.as_secs() as f64 * 1000.0 + f64::from(delay.subsec_millis()),
                ),
            ),
        ]),
        ConnectionChange::Reconnected {
            resumed,
            outcome: why,
            expired,
        } => {
            let info = object(&[
                ("resumed", JsValue::from_bool(*resumed)),
                ("expired", JsValue::from_f64(*expired as f64)),
            ]);
            if !resumed {
                let _ = js_sys::Reflect::set(&info, &JsValue::from_str("outcome"), &outcome(*why));
            }
            info
        }
        // A change a newer core knows: its listeners get nothing to misread.
        _ => JsValue::UNDEFINED,
    }
}
