//! A handler call's future in an allocation that the next call of the same
//! handler can reuse: a connection that runs one event after another through
//! the same handler then allocates no future per event.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::handler::Outcome;
use crate::transport::{BoxFuture, MaybeSend};

/// A boxed handler call whose allocation can be refilled with the next call
/// of the same handler once this one has finished (see
/// [`Handler::call_reusing`](super::Handler::call_reusing)).
pub type CallSlot = Pin<Box<dyn ReusableCall>>;

/// A handler call's future that empties itself when it finishes, so that
/// its allocation can take a later call of the same type.
pub trait ReusableCall: MaybeSend {
    /// Polls the call. Once it is ready the slot is empty; polling an empty
    /// slot again is a bug of the caller and stays pending.
    fn poll_call(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome>;

    /// Moves the call in `next` (an `Option` of this slot's future type)
    /// into this slot, dropping whatever it held. False, and `next`
    /// untouched, when `next` is of another type.
    fn refill(self: Pin<&mut Self>, next: &mut dyn Any) -> bool;
}

impl<F> ReusableCall for Option<F>
where
    F: Future<Output = Outcome> + MaybeSend + 'static,
{
    fn poll_call(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let Some(call) = self.as_mut().as_pin_mut() else {
            return Poll::Pending;
        };
        let outcome = ready!(call.poll(cx));
        self.set(None);
        Poll::Ready(outcome)
    }

    fn refill(mut self: Pin<&mut Self>, next: &mut dyn Any) -> bool {
        match next.downcast_mut::<Option<F>>() {
            Some(next) => {
                self.set(next.take());
                true
            }
            None => false,
        }
    }
}

/// The call of a handler given no context (a bug of the caller): a failed
/// outcome.
pub(super) fn missing_context() -> CallSlot {
    Box::pin(Some(std::future::ready(Err(super::Rejection::new(
        crate::frame::ErrorCode::HandlerFailed,
        "no event context",
    )))))
}

/// `call` with the context taken out of `ctx`, boxed anew: the call of a
/// handler that can neither borrow the context nor reuse an allocation.
pub(super) fn taking_context<C>(
    ctx: &mut Option<C>,
    call: impl FnOnce(C) -> BoxFuture<'static, Outcome>,
) -> CallSlot {
    match ctx.take() {
        Some(ctx) => Box::pin(Some(call(ctx))),
        None => missing_context(),
    }
}

/// Boxes `call`, in `spare`'s allocation when it fits (then `spare` is
/// taken), in a new one otherwise.
pub fn fill<F>(spare: &mut Option<CallSlot>, call: F) -> CallSlot
where
    F: Future<Output = Outcome> + MaybeSend + 'static,
{
    let mut next = Some(call);
    if let Some(mut slot) = spare.take() {
        if slot.as_mut().refill(&mut next) {
            return slot;
        }
        *spare = Some(slot);
    }
    Box::pin(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    async fn reply(n: u8) -> Outcome {
        Ok(Bytes::from(vec![n]))
    }

    fn run(slot: &mut CallSlot) -> Outcome {
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        match slot.as_mut().poll_call(&mut cx) {
            Poll::Ready(outcome) => outcome,
            Poll::Pending => panic!("the call finishes at once"),
        }
    }

    #[test]
    fn a_finished_slot_takes_the_next_call_of_the_same_type() {
        let mut spare = None;
        let mut slot = fill(&mut spare, reply(1));
        assert_eq!(run(&mut slot).expect("ok")[..], [1]);
        let first = &*slot as *const dyn ReusableCall as *const u8;
        spare = Some(slot);
        let mut slot = fill(&mut spare, reply(2));
        assert!(spare.is_none(), "the spare was used");
        assert_eq!(first, &*slot as *const dyn ReusableCall as *const u8);
        assert_eq!(run(&mut slot).expect("ok")[..], [2]);
    }

    #[test]
    fn a_call_of_another_type_gets_its_own_slot() {
        let mut slot = fill(&mut None, reply(1));
        run(&mut slot).expect("ok");
        let mut spare = Some(slot);
        let mut other = fill(&mut spare, std::future::ready(Ok(Bytes::new())));
        assert!(spare.is_some(), "the spare is kept for its own type");
        assert!(run(&mut other).expect("ok").is_empty());
    }
}
