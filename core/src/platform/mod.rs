//! Everything that differs between a native build and the browser build
//! (wasm32), and the small shims the rest of the crate uses instead of std
//! where the two differ, in one place:
//!
//! - [`timer`]: `Instant`, `Delay` and the [`DeadlineTimer`](timer::DeadlineTimer)
//!   (std's `Instant` panics in the browser; futures-timer's browser timer
//!   costs `.wasm` size).
//! - [`map`]: the crate's maps, `HashMap`s natively and short lists in the
//!   browser (each `HashMap` type is kilobytes of `.wasm`).
//! - [`send`]: `MaybeSend`, `MaybeSync` and `BoxFuture` (public as
//!   `hisock::transport::*`): `Send` where there are threads, nothing in the
//!   browser.
//! - [`addr_text`]: socket addresses as text without std's parser and
//!   formatter, which are several kilobytes of the gzipped `.wasm`.
//! - [`locks`]: taking a `Mutex` or `RwLock` whether or not it is poisoned,
//!   and why that is right here; the handler tables' read-mostly lock
//!   (an `RwLock`, a `Mutex` in the browser).

// Natively only its tests use it.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) mod addr_text;
pub(crate) mod locks;
pub(crate) mod map;
pub(crate) mod send;
pub(crate) mod timer;

pub(crate) use locks::{lock, read_lock, write_lock};
