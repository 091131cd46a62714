//! Handlers of typed events: the payload, decoded as the event's
//! [`Payload`](crate::event::Event::Payload), is the first argument (then
//! up to four extractors, as in untyped handlers), and the return value is
//! the event's [`Reply`](crate::event::Event::Reply) (or a `Result` of it).
//! [`ForEvent`] adapts such a function to the one [`Handler`] table, so a
//! typed handler is dispatched exactly like an untyped one.

use std::future::Future;
use std::marker::PhantomData;

use serde::Serialize;

use super::extract::{Data, EventContext, FromEvent};
use super::handler::{Handler, Outcome};
use super::reply::{IntoReply, Rejection, Reply};
#[cfg(feature = "server")]
use super::slot::{self, CallSlot};
use crate::event::Event;
use crate::frame::ErrorCode;
use crate::transport::{BoxFuture, MaybeSend, MaybeSync};

/// What a typed handler may return for an event whose reply is `T`: `T`
/// itself, `Result<T, Rejection>` (the rejection's code and message go to
/// the sender), or `Result<T, E>` for any displayable `E` (sent as
/// [`ErrorCode::HandlerFailed`] with its text). Anything else is a
/// compile error naming the declared reply type.
#[diagnostic::on_unimplemented(
    message = "a handler of this event must return `{T}` (or a `Result` of it), not `{Self}`",
    label = "the event declares its reply as `{T}`"
)]
pub trait TypedReply<T> {
    /// The reply, or why there is none.
    fn into_typed(self) -> Result<T, Rejection>;
}

impl<T> TypedReply<T> for T {
    fn into_typed(self) -> Result<T, Rejection> {
        Ok(self)
    }
}

impl<T, E: IntoRejection> TypedReply<T> for Result<T, E> {
    fn into_typed(self) -> Result<T, Rejection> {
        self.map_err(IntoRejection::into_rejection)
    }
}

/// An error a typed handler may return.
pub trait IntoRejection {
    /// The rejection sent to the peer.
    fn into_rejection(self) -> Rejection;
}

impl IntoRejection for Rejection {
    fn into_rejection(self) -> Rejection {
        self
    }
}

impl<E: std::fmt::Display> IntoRejection for E {
    fn into_rejection(self) -> Rejection {
        Rejection::new(ErrorCode::HandlerFailed, self.to_string())
    }
}

/// Encodes a typed handler's outcome as the reply payload.
fn typed_outcome<T: Serialize>(reply: Result<T, Rejection>) -> Outcome {
    Reply(reply?).into_reply()
}

/// A function handling the typed event `E`, as a [`Handler`]. Built by the
/// typed `on_event` methods; you never name it.
pub struct ForEvent<E, F> {
    handler: F,
    _event: PhantomData<fn() -> E>,
}

impl<E, F> ForEvent<E, F> {
    /// Wraps `handler` for the event `E`.
    pub fn new(_event: E, handler: F) -> Self {
        Self {
            handler,
            _event: PhantomData,
        }
    }
}

macro_rules! impl_typed_handler {
    ($($arg:ident),*) => {
        #[allow(non_snake_case, unused_variables)]
        impl<C, E, F, Fut, R, $($arg,)*> Handler<C, (E, $($arg,)*)> for ForEvent<E, F>
        where
            C: EventContext + 'static,
            E: Event,
            F: Fn(E::Payload, $($arg),*) -> Fut + MaybeSend + MaybeSync + 'static,
            Fut: Future<Output = R> + MaybeSend + 'static,
            R: TypedReply<E::Reply>,
            $($arg: FromEvent<C>,)*
        {
            fn call(&self, ctx: C) -> BoxFuture<'static, Outcome> {
                let payload = match Data::<E::Payload>::from_event(&ctx) {
                    Ok(Data(payload)) => payload,
                    Err(rejection) => return Box::pin(std::future::ready(Err(rejection))),
                };
                $(
                    let $arg = match $arg::from_event(&ctx) {
                        Ok(value) => value,
                        Err(rejection) => return Box::pin(std::future::ready(Err(rejection))),
                    };
                )*
                let fut = (self.handler)(payload, $($arg),*);
                Box::pin(async move { typed_outcome(fut.await.into_typed()) })
            }

            #[cfg(feature = "server")]
            fn call_reusing(&self, ctx: &mut Option<C>, spare: &mut Option<CallSlot>) -> CallSlot {
                let Some(ctx) = ctx.as_ref() else {
                    return slot::missing_context();
                };
                let payload = match Data::<E::Payload>::from_event(ctx) {
                    Ok(Data(payload)) => payload,
                    Err(rejection) => return Box::pin(Some(std::future::ready(Err(rejection)))),
                };
                $(
                    let $arg = match $arg::from_event(ctx) {
                        Ok(value) => value,
                        Err(rejection) => return Box::pin(Some(std::future::ready(Err(rejection)))),
                    };
                )*
                let fut = (self.handler)(payload, $($arg),*);
                slot::fill(spare, async move { typed_outcome(fut.await.into_typed()) })
            }
        }
    };
}

impl_typed_handler!();
impl_typed_handler!(A1);
impl_typed_handler!(A1, A2);
impl_typed_handler!(A1, A2, A3);
impl_typed_handler!(A1, A2, A3, A4);
