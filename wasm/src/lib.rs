//! # hisock-wasm
//!
//! The browser client of [hisock]: a `web_sys::WebSocket` transport
//! (one binary message per frame, or batches of frames where the server
//! agrees: PROTOCOL.md section 1.2), the same Rust [`Client`](hisock::Client)
//! API as native clients for Rust front-ends, and (feature `js`, on by
//! default) the JavaScript API published on npm as `hisock`.
//!
//! Everything here needs a browser: on targets other than wasm32 this crate
//! is empty.
//!
//! From Rust, compiled to `wasm32-unknown-unknown`:
//!
//! ```no_run
//! # #[cfg(target_arch = "wasm32")]
//! # async fn demo() -> hisock::Result<()> {
//! use std::time::Duration;
//! use hisock::{ClientOptions, Data};
//!
//! let options = ClientOptions::new().name("ada").on("chat", |Data(text): Data<String>| async move {
//!     web_sys::console::log_1(&text.into());
//! });
//! let client = hisock_wasm::connect("ws://127.0.0.1:9000/", options).await?;
//! client.send("chat", "hello from the browser").await?;
//! let sum: i64 = client.request("add", &(2, 3), Duration::from_secs(5)).await?;
//! # let _ = sum;
//! client.close().await;
//! # Ok(())
//! # }
//! ```
//!
//! From JavaScript (the npm package built by `scripts/build-npm.sh`):
//!
//! ```js
//! import init, { connect } from "hisock";
//! await init();
//! const client = await connect("ws://127.0.0.1:9000/", { name: "ada" });
//! client.on("chat", (text) => console.log(text));
//! client.send("chat", { text: "hi", blob: new Uint8Array([1, 2, 3]) });
//! const sum = await client.request("add", [2, 3], { timeoutMs: 5000 });
//! await client.close();
//! ```
//!
//! Tests run in Chromium: `scripts/browser-tests.sh` starts the native
//! `hisock-test-server` (a binary of `hisock-test-support`), runs the
//! wasm-bindgen tests of `tests/browser/` and the end-to-end tests of the
//! npm package (`tests/browser/` at the workspace root).
#![forbid(unsafe_code)]

#[cfg(target_arch = "wasm32")]
mod connect;
// Natively only: the fuzz target runs the JS API's payload reader outside
// the browser.
#[cfg(all(feature = "fuzzing", not(target_arch = "wasm32")))]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(all(target_arch = "wasm32", feature = "js"))]
pub mod js;
#[cfg(any(
    all(target_arch = "wasm32", feature = "js"),
    all(feature = "fuzzing", not(target_arch = "wasm32"))
))]
mod msgpack_read;
#[cfg(target_arch = "wasm32")]
pub mod transport;

#[cfg(target_arch = "wasm32")]
pub use connect::{connect, connect_with_timeout, DEFAULT_OPEN_TIMEOUT};

/// The npm package's allocator (feature `talc`): talc's single-threaded
/// WebAssembly allocator, which grows the wasm memory as needed, like the
/// default dlmalloc, but is about 2.7 KB smaller gzipped. Its safe
/// constructor requires a wasm32 build without threads (`atomics`).
#[cfg(all(
    target_arch = "wasm32",
    not(target_feature = "atomics"),
    feature = "talc"
))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
