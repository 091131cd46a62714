//! The browser benchmark's Rust client (`bench/browser/`): hisock's Rust
//! `Client` (`hisock::Client`), compiled to wasm32 and connected through
//! `hisock_wasm::connect`, running each workload in Rust inside the page.
//! JavaScript calls one function per workload and gets the timings back,
//! so what is measured is the Rust client and the browser's WebSocket, not
//! a JS↔wasm call per operation.
//!
//! The workloads are those of `bench/browser/page.js` for the JS clients:
//! request/reply round trips (`echo`) with 1 or more in flight, a stream of
//! `sink` events to the server (confirmed by its `count`), and a stream of
//! `item` events from the server (asked for with `stream`). Payloads are
//! strings, as in the JS clients.
//!
//! Natively this crate is empty.
#![forbid(unsafe_code)]

#[cfg(target_arch = "wasm32")]
mod workloads;

#[cfg(target_arch = "wasm32")]
pub use workloads::RustBench;
