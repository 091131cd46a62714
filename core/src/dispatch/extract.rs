//! Handler arguments. A handler declares what it wants (`Data<T>` for the
//! payload as `T`, [`ClientInfo`](crate::ClientInfo) for the sender, the
//! [`Command`], …) and the library extracts it from the event. A payload
//! that does not fit `T` is reported to the sender as
//! [`ErrorCode::BadPayload`](crate::frame::ErrorCode::BadPayload); the
//! handler is not called.

use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::reply::Rejection;
use crate::frame::ErrorCode;
use crate::value;

/// What every event context offers to extractors.
pub trait EventContext {
    /// The command name of the event.
    fn command(&self) -> &Arc<str>;
    /// The MessagePack payload.
    fn payload(&self) -> &Bytes;
}

/// Builds a handler argument from an event context of type `C`.
pub trait FromEvent<C>: Sized {
    /// The argument, or why the handler cannot be called.
    fn from_event(ctx: &C) -> Result<Self, Rejection>;
}

/// The payload decoded as `T`.
///
/// ```
/// # use hisock::Data;
/// let handler = |Data(text): Data<String>| async move { text.len() as u64 };
/// # let _ = handler;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Data<T>(pub T);

impl<C: EventContext, T: DeserializeOwned> FromEvent<C> for Data<T> {
    fn from_event(ctx: &C) -> Result<Self, Rejection> {
        value::decode(ctx.payload()).map(Data).map_err(|err| {
            Rejection::new(
                ErrorCode::BadPayload,
                format!(
                    "payload of {:?} does not fit {}: {err}",
                    ctx.command(),
                    std::any::type_name::<T>()
                ),
            )
        })
    }
}

/// The command name of the event (useful in `message` and wildcard handlers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command(pub Arc<str>);

impl<C: EventContext> FromEvent<C> for Command {
    fn from_event(ctx: &C) -> Result<Self, Rejection> {
        Ok(Command(ctx.command().clone()))
    }
}

/// The raw MessagePack payload, undecoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPayload(pub Bytes);

impl<C: EventContext> FromEvent<C> for RawPayload {
    fn from_event(ctx: &C) -> Result<Self, Rejection> {
        Ok(RawPayload(ctx.payload().clone()))
    }
}
