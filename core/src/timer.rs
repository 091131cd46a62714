//! One timer type for both targets: futures-timer's `Delay` natively; in
//! the browser gloo-timers' `setTimeout` future, used directly
//! (futures-timer wraps it in a `SendWrapper`, which brings std's thread
//! bookkeeping into the `.wasm`).

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use futures_timer::Delay;

/// A future that completes after a duration.
#[cfg(target_arch = "wasm32")]
pub(crate) struct Delay(gloo_timers::future::TimeoutFuture);

#[cfg(target_arch = "wasm32")]
impl Delay {
    /// Completes `after` from now. Browsers run timers of at most
    /// `i32::MAX` ms (longer ones would fire at once), so longer delays are
    /// cut to that (about 24 days).
    pub(crate) fn new(after: std::time::Duration) -> Self {
        let ms = after.as_millis().min(i32::MAX as u128) as u32;
        Self(gloo_timers::future::TimeoutFuture::new(ms))
    }

    /// Restarts the delay.
    pub(crate) fn reset(&mut self, after: std::time::Duration) {
        *self = Self::new(after);
    }
}

#[cfg(target_arch = "wasm32")]
impl std::future::Future for Delay {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}
