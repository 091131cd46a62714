//! What the server application asks one client and waits for: requests
//! (their deadline is the connection's, see [`crate::pending`]) and
//! streamed payloads.

use std::time::Duration;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{emit, Server};
use crate::close::{codes, CloseReason};
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::platform::locks::lock;
use crate::platform::timer::Clock;
use crate::protocol::limits;
use crate::value;

impl Server {
    /// Sends a request to client `id` and waits up to `timeout` for the
    /// reply its handler returns, decoded as `R`.
    ///
    /// Errors: [`Error::NoSuchClient`], [`Error::Timeout`],
    /// [`Error::Remote`] when the client's handler failed or has no handler,
    /// [`Error::Decode`] when the reply does not fit `R`, [`Error::Closed`]
    /// when the client left before answering, [`Error::LimitExceeded`] when
    /// [`ServerConfig::max_pending_requests`](super::ServerConfig::max_pending_requests)
    /// requests to this client are outstanding already (nothing is sent).
    ///
    /// A zero `timeout` fails at once with [`Error::Timeout`], and nothing
    /// is sent.
    pub async fn request<R: DeserializeOwned, T: Serialize>(
        &self,
        id: u64,
        command: &str,
        payload: T,
        timeout: Duration,
    ) -> Result<R> {
        let payload = value::encode(&payload)?;
        let reply = self.request_raw(id, command, &payload, timeout).await?;
        value::decode(&reply)
    }

    /// Like [`request`](Self::request) with raw MessagePack in and out.
    pub async fn request_raw(
        &self,
        id: u64,
        command: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Bytes> {
        let entry = self.entry(id)?;
        // No time to answer: nothing is sent (see `request`).
        if timeout.is_zero() {
            return Err(Error::Timeout(timeout));
        }
        // The client's connection task enforces the timeout, with one
        // timer for all of its requests (as the client does for its own).
        // Past the limit of outstanding requests nothing is sent.
        let (request_id, rx) = {
            let mut pending = lock(&entry.pending);
            limits::admit_request(pending.len(), self.inner.config.max_pending_requests)
                .map_err(Error::LimitExceeded)?;
            pending.register_with_timeout(timeout, Clock::Tokio.now())
        };
        let frame = Frame::Event {
            command,
            request_id,
            payload,
        }
        .encode();
        if let Err(err) = emit::push_or_kick(&entry, frame) {
            lock(&entry.pending).cancel(request_id);
            return Err(err);
        }
        match rx.await {
            Ok(result) => result,
            Err(_) => Err(Error::Closed(CloseReason::new(
                codes::ABNORMAL,
                "client left before answering",
            ))),
        }
    }

    /// Streams a large payload to client `id` under `command`, in chunks
    /// that interleave with other events (see [`crate::stream`]). Returns
    /// once the client's handler has consumed all of it.
    ///
    /// Errors: [`Error::NoSuchClient`], [`Error::Remote`] when the client has
    /// no handler, refuses the size or drops the stream,
    /// [`Error::LimitExceeded`] when
    /// [`ServerConfig::max_streams`](super::ServerConfig::max_streams)
    /// streams to this client are open already, [`Error::Closed`]
    /// when the connection ends first, [`Error::Handler`] when `source`
    /// fails (the client then gets an error, not a short payload).
    pub async fn send_stream<S, E>(
        &self,
        id: u64,
        command: &str,
        source: S,
        options: crate::stream::StreamOptions,
    ) -> Result<()>
    where
        S: futures::Stream<Item = std::result::Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let entry = self.entry(id)?;
        self.inner.counters.stream_out();
        crate::stream::send_stream(&entry.outbox, &entry.outgoing, command, source, options).await
    }

    /// Client `id`'s registry entry.
    fn entry(&self, id: u64) -> Result<super::registry::ClientEntry> {
        self.inner
            .registry
            .read()
            .get(id)
            .cloned()
            .ok_or(Error::NoSuchClient(id))
    }
}
