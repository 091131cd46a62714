//! The hisock handshake as the raw peers speak it, written once for both
//! transports: the hello a raw client sends, the welcome a fake server
//! answers with, and the checks on what comes back.

use bytes::Bytes;
use hisock::frame::{Frame, PROTOCOL_VERSION};

/// The largest frame a fake server announces in its welcome: the
/// transports' default, so streams' 64 KiB chunks fit.
const FAKE_SERVER_MAX_FRAME_LEN: u32 = 16 * 1024 * 1024;

/// A valid hello, as `name`, with no group and no auth data.
pub fn hello(name: Option<&str>) -> Frame<'_> {
    Frame::Hello {
        version: PROTOCOL_VERSION,
        name,
        group: None,
        auth: None,
    }
}

/// The welcome a fake server sends: client id 1, no name or group, no
/// keepalive.
pub fn fake_welcome() -> Frame<'static> {
    Frame::Welcome {
        client_id: 1,
        name: None,
        group: None,
        keepalive_interval_ms: 0,
        keepalive_timeout_ms: 0,
        max_frame_len: FAKE_SERVER_MAX_FRAME_LEN,
        addr: None,
    }
}

/// The client id of the welcome that answered a hello; panics on anything
/// else, or on nothing (`None`: the connection ended).
pub fn welcomed_client_id(answer: Option<Bytes>) -> u64 {
    let bytes = answer.expect("an answer to the hello, not a hang-up");
    match Frame::decode(&bytes).expect("the answer decodes") {
        Frame::Welcome { client_id, .. } => client_id,
        other => panic!("expected a welcome, got {other:?}"),
    }
}

/// Panics unless `first` is a hello: what a fake server expects first.
pub fn expect_hello(first: Option<Bytes>) {
    let bytes = first.expect("a hello, not a hang-up");
    match Frame::decode(&bytes).expect("the hello decodes") {
        Frame::Hello { .. } => {}
        other => panic!("expected a hello, got {other:?}"),
    }
}
