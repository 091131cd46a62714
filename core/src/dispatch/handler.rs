//! Handlers are plain async functions (or closures) whose arguments are
//! extractors: `|client: ClientInfo, Data(msg): Data<String>| async move {…}`.
//! [`Handler`] is implemented for functions of zero to five extractor
//! arguments returning a future of an [`IntoReply`] value.
//!
//! The arguments are extracted and the function is called when the event is
//! scheduled; the future it returns runs in the handler's turn (after the
//! sender's earlier events, for in-order handlers). So put the work inside
//! the `async` block: code in the closure before it runs early.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;

use super::extract::FromEvent;
use super::reply::{IntoReply, Rejection};
#[cfg(feature = "server")]
use super::slot::{self, CallSlot};
use crate::transport::{BoxFuture, MaybeSend, MaybeSync};

/// What running a handler produced: the reply payload, or a rejection.
pub type Outcome = Result<Bytes, Rejection>;

/// A function usable as a handler for events with context `C`. `Args` is the
/// tuple of its argument types; you never name it.
#[diagnostic::on_unimplemented(
    message = "this function is not a handler of this event",
    label = "not a handler",
    note = "a handler is an `async` function or closure whose arguments are extractors (`Data<T>`, `ClientInfo`, `Server`, …) and whose value is a reply (`()`, a `Serialize` type, a `Result`)",
    note = "for a typed event (`on_event`), the first argument is the declared payload type and the value is the declared reply type (or a `Result` of it)"
)]
pub trait Handler<C, Args>: MaybeSend + MaybeSync + 'static {
    /// Extracts the arguments from `ctx` and runs the handler.
    fn call(&self, ctx: C) -> BoxFuture<'static, Outcome>;

    /// Like [`call`](Self::call), with the future in `spare`'s allocation
    /// when `spare` holds a finished call of this handler (then `spare` is
    /// taken), and `ctx` only borrowed when the arguments can be extracted
    /// from a reference (then it stays for the caller to use again). The
    /// default takes `ctx` and boxes [`call`](Self::call)'s future anew.
    #[cfg(feature = "server")]
    fn call_reusing(&self, ctx: &mut Option<C>, spare: &mut Option<CallSlot>) -> CallSlot {
        let _ = spare;
        slot::taking_context(ctx, |ctx| self.call(ctx))
    }
}

/// A type-erased handler, as stored in a [`HandlerTable`](super::HandlerTable).
pub trait ErasedHandler<C>: MaybeSend + MaybeSync {
    /// Runs the handler.
    fn call(&self, ctx: C) -> BoxFuture<'static, Outcome>;

    /// Runs the handler, reusing `ctx` and `spare` where it can (see
    /// [`Handler::call_reusing`]).
    #[cfg(feature = "server")]
    fn call_reusing(&self, ctx: &mut Option<C>, spare: &mut Option<CallSlot>) -> CallSlot {
        let _ = spare;
        slot::taking_context(ctx, |ctx| self.call(ctx))
    }
}

struct Erased<H, Args> {
    handler: H,
    _args: PhantomData<fn(Args)>,
}

impl<C, H, Args> ErasedHandler<C> for Erased<H, Args>
where
    H: Handler<C, Args>,
    Args: 'static,
{
    fn call(&self, ctx: C) -> BoxFuture<'static, Outcome> {
        self.handler.call(ctx)
    }

    #[cfg(feature = "server")]
    fn call_reusing(&self, ctx: &mut Option<C>, spare: &mut Option<CallSlot>) -> CallSlot {
        self.handler.call_reusing(ctx, spare)
    }
}

/// Erases a handler's argument types so handlers of all shapes fit one table.
pub fn erase<C: 'static, Args: 'static, H: Handler<C, Args>>(
    handler: H,
) -> Arc<dyn ErasedHandler<C>> {
    Arc::new(Erased {
        handler,
        _args: PhantomData,
    })
}

macro_rules! impl_handler {
    ($($arg:ident),*) => {
        #[allow(non_snake_case, unused_variables)]
        impl<C, F, Fut, R, $($arg,)*> Handler<C, ($($arg,)*)> for F
        where
            C: 'static,
            F: Fn($($arg),*) -> Fut + MaybeSend + MaybeSync + 'static,
            Fut: Future<Output = R> + MaybeSend + 'static,
            R: IntoReply,
            $($arg: FromEvent<C>,)*
        {
            fn call(&self, ctx: C) -> BoxFuture<'static, Outcome> {
                $(
                    let $arg = match $arg::from_event(&ctx) {
                        Ok(value) => value,
                        Err(rejection) => return Box::pin(std::future::ready(Err(rejection))),
                    };
                )*
                let fut = (self)($($arg),*);
                Box::pin(async move { fut.await.into_reply() })
            }

            #[cfg(feature = "server")]
            fn call_reusing(&self, ctx: &mut Option<C>, spare: &mut Option<CallSlot>) -> CallSlot {
                let Some(ctx) = ctx.as_ref() else {
                    return slot::missing_context();
                };
                $(
                    let $arg = match $arg::from_event(ctx) {
                        Ok(value) => value,
                        Err(rejection) => return Box::pin(Some(std::future::ready(Err(rejection)))),
                    };
                )*
                let fut = (self)($($arg),*);
                slot::fill(spare, async move { fut.await.into_reply() })
            }
        }
    };
}

impl_handler!();
impl_handler!(A1);
impl_handler!(A1, A2);
impl_handler!(A1, A2, A3);
impl_handler!(A1, A2, A3, A4);
impl_handler!(A1, A2, A3, A4, A5);
