//! Browser client for hisock (wasm-bindgen) (work in progress).
