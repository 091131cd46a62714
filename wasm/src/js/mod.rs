//! The JavaScript API of the npm package `hisock` (Socket.IO style):
//! `connect(url, options)` resolves to a [`HisockClient`](client::HisockClient)
//! with `on`/`off`/`onAny`, `send`, `request`, `recv`, name and group
//! changes, client look-ups and `close`, and reconnects when asked to
//! ([`reconnect`]). Payloads are converted between JS
//! values and MessagePack as [`value`] describes; errors are JS `Error`s
//! ([`error`]).

pub mod client;
pub mod error;
mod listeners;
mod msgpack;
mod options;
mod reconnect;
mod types;
pub mod value;
