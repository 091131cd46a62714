//! The protocol's rules as plain functions and small state machines:
//! handed frames, facts and the time, they decide; they do no I/O and know
//! no runtime. The server's connection task and the client's driver are
//! shells that read, ask these, write, and sleep until the next deadline.
//! Each rule exists once and serves both sides where both follow it.
//!
//! - [`batch`]: several frames in one WebSocket message, where both
//!   sides agreed on it.
//! - [`handshake`]: the `Hello`, the server's admission checks in their
//!   documented order, the `Welcome`, the client's reading of the answer.
//! - [`event_route`]: where an incoming event goes.
//! - [`stream_start`]: accepting or refusing a stream a peer starts.
//! - [`stream_receive`]: what a receiver does with a stream's chunks and
//!   its end (the length it announced, the maximum).
//! - [`limits`]: names, requests and streams a peer may have; past a
//!   limit it is closed with the limit's own code.
//! - [`rate_limit`]: a token bucket per client for events and bytes.
//! - [`closing`]: what ending a connection sends and runs.
//! - [`keepalive`]: pings and silence (server side).
//! - [`resume`]: resumable sessions: counted frames, acknowledgements, the
//!   replay buffer, the checks of a resume.
//! - [`reconnect`]: the client's backoff and which ends it retries.
//! - `session_table` (server): which token names which session, its
//!   window, what a `Resume` finds, expiry.
//! - request deadlines: [`PendingRequests`](crate::pending::PendingRequests).

pub mod batch;
pub mod closing;
pub mod event_route;
pub mod handshake;
#[cfg(feature = "server")]
pub mod keepalive;
pub mod limits;
#[cfg(feature = "server")]
pub mod rate_limit;
pub mod reconnect;
pub mod resume;
#[cfg(feature = "server")]
pub mod session_table;
pub mod stream_receive;
pub mod stream_start;
