//! The two kinds of client driver (see [`drive`](super::driver::drive)):
//! [`OneConnection`], for a client that has one connection (the browser's
//! JS client among them), and [`WithReconnect`], for a client that
//! connects again. A type parameter, not a flag, so that the first carries
//! none of the second's code.

use std::pin::Pin;

use bytes::Bytes;

use super::driver::Reader;
use crate::close::CloseReason;
use crate::error::Error;
use crate::frame::Frame;
use crate::platform::timer::DeadlineTimer;
use crate::protocol::closing::Ending;
use crate::transport::{BoxFuture, FrameSink};

/// What only a reconnecting client does (see [`drive`](super::driver::drive)): asks for a
/// session, connects again, tells the application at the end. The
/// browser's client, made by [`Client::handshake`](super::Client::handshake),
/// uses [`OneConnection`], whose methods do nothing, so none of this is in
/// its package.
pub(crate) trait Reconnects {
    /// Whether the handshake sends `Resume` and reads a `Session`.
    const RESUMES: bool;

    /// The `Resume` to send before the `Hello`.
    fn resume_frame(resume: Option<(&[u8], u64)>) -> Option<Bytes>;

    /// Reads the `Session` after the `Welcome`.
    fn read_session(next: Option<Bytes>) -> Result<Option<super::handshake::SessionAnswer>, Error>;

    /// The client is closed for good with `reason`: tell the application.
    fn closed_for_good(reader: &mut Reader, reason: &CloseReason);

    /// Connects again (the new connection's sink; the reader has its
    /// stream), or gives up and finishes the client (`None`). Boxed: the
    /// driver's own state holds a box, not the reconnecting future.
    fn reconnect<'a>(
        reader: &'a mut Reader,
        broken: Ending,
        deadlines: &'a mut DeadlineTimer,
    ) -> BoxFuture<'a, Option<Pin<Box<dyn FrameSink>>>>;
}

/// A client with one connection: a break ends it.
pub(crate) struct OneConnection;

impl Reconnects for OneConnection {
    const RESUMES: bool = false;

    fn resume_frame(_: Option<(&[u8], u64)>) -> Option<Bytes> {
        None
    }

    fn read_session(_: Option<Bytes>) -> Result<Option<super::handshake::SessionAnswer>, Error> {
        Ok(None)
    }

    fn closed_for_good(_: &mut Reader, _: &CloseReason) {}

    fn reconnect<'a>(
        _: &'a mut Reader,
        _: Ending,
        _: &'a mut DeadlineTimer,
    ) -> BoxFuture<'a, Option<Pin<Box<dyn FrameSink>>>> {
        // Never called: a driver without a policy finishes every ending
        // in `connection`.
        Box::pin(std::future::ready(None))
    }
}

/// A client that reconnects ([`Reader::reconnect`]).
pub(crate) struct WithReconnect;

impl Reconnects for WithReconnect {
    const RESUMES: bool = true;

    fn resume_frame(resume: Option<(&[u8], u64)>) -> Option<Bytes> {
        let (token, received) = resume.unwrap_or((&[], 0));
        Some(Frame::Resume { token, received }.encode())
    }

    fn read_session(next: Option<Bytes>) -> Result<Option<super::handshake::SessionAnswer>, Error> {
        super::handshake::read_session(next).map(Some)
    }

    fn closed_for_good(reader: &mut Reader, reason: &CloseReason) {
        reader.final_disconnect(reason);
    }

    fn reconnect<'a>(
        reader: &'a mut Reader,
        broken: Ending,
        deadlines: &'a mut DeadlineTimer,
    ) -> BoxFuture<'a, Option<Pin<Box<dyn FrameSink>>>> {
        Box::pin(async move {
            match reader.reconnect(broken, deadlines).await {
                Ok(sink) => Some(sink),
                Err(ending) => {
                    reader.finish::<WithReconnect>(ending).await;
                    // No writer is left to drain the queue.
                    reader.client.shared.outbox.finish_writer();
                    None
                }
            }
        })
    }
}
