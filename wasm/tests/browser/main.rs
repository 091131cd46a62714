//! Tests of the Rust client API in a real browser (Chromium through
//! chromedriver), against the native `hisock-test-server`.
//!
//! Run by `scripts/browser-tests.sh`, which starts the server and passes its
//! WebSocket URL at compile time in `HISOCK_TEST_WS_URL` (and its WSS URLs
//! in `HISOCK_TEST_WSS_URL` / `HISOCK_TEST_WSS_UNTRUSTED_URL`, with the
//! test certificate's SPKI hash added to Chromium's flags). By hand:
//!
//! ```text
//! cargo run -p hisock-test-support --bin hisock-test-server   # prints READY ws=… tcp=… raw=…
//! cd wasm && HISOCK_TEST_WS_URL=ws://127.0.0.1:PORT/ CHROMEDRIVER=/usr/bin/chromedriver \
//!   CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
//!   cargo test --target wasm32-unknown-unknown -p hisock-wasm --test browser
//! ```
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod client;
mod reconnect;
mod support;
mod tls;
mod transport;
mod typed;
mod values;
