//! One timer type and one clock for both targets, chosen per connection by
//! a [`Clock`]. Natively the default is futures-timer's `Delay` (a timer
//! thread of its own, so it works under any executor) and std's clock;
//! [`Clock::Tokio`] uses the tokio runtime's timer wheel and clock instead
//! (the server always does; a client does when asked, and then a test with
//! a paused tokio clock controls its deadlines too). In the browser:
//! gloo-timers' `setTimeout` future, used directly (futures-timer wraps it
//! in a `SendWrapper`, which brings std's thread bookkeeping into the
//! `.wasm`), and `Date.now()` (std's `Instant` panics on
//! wasm32-unknown-unknown).

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use std::time::Instant;

/// Which timers and clock a connection's deadlines run on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Clock {
    /// futures-timer natively (any executor), `setTimeout` in the browser.
    #[default]
    Own,
    /// The current tokio runtime's timer and clock: needs a runtime with
    /// the time driver, polled while the timer runs.
    #[cfg(all(feature = "server", not(target_arch = "wasm32")))]
    Tokio,
}

impl Clock {
    /// Now, on this clock.
    pub(crate) fn now(self) -> Instant {
        match self {
            Clock::Own => Instant::now(),
            #[cfg(all(feature = "server", not(target_arch = "wasm32")))]
            Clock::Tokio => tokio::time::Instant::now().into_std(),
        }
    }

    /// A delay of `after` on this clock's timers.
    pub(crate) fn delay(self, after: std::time::Duration) -> Delay {
        match self {
            Clock::Own => Delay::new(after),
            #[cfg(all(feature = "server", not(target_arch = "wasm32")))]
            Clock::Tokio => Delay(NativeDelay::Tokio(Box::pin(tokio::time::sleep(after)))),
        }
    }
}

/// A future that completes after a duration.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) struct Delay(NativeDelay);

#[cfg(not(target_arch = "wasm32"))]
enum NativeDelay {
    /// The tokio runtime's timer wheel.
    #[cfg(feature = "server")]
    Tokio(std::pin::Pin<Box<tokio::time::Sleep>>),
    /// futures-timer's thread.
    Thread(futures_timer::Delay),
}

#[cfg(not(target_arch = "wasm32"))]
impl Delay {
    /// Completes `after` from now, on futures-timer's thread.
    pub(crate) fn new(after: std::time::Duration) -> Self {
        Self(NativeDelay::Thread(futures_timer::Delay::new(after)))
    }

    /// Restarts the delay.
    pub(crate) fn reset(&mut self, after: std::time::Duration) {
        match &mut self.0 {
            #[cfg(feature = "server")]
            NativeDelay::Tokio(sleep) => sleep.as_mut().reset(tokio::time::Instant::now() + after),
            NativeDelay::Thread(delay) => delay.reset(after),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl std::future::Future for Delay {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        match &mut self.0 {
            #[cfg(feature = "server")]
            NativeDelay::Tokio(sleep) => sleep.as_mut().poll(cx),
            NativeDelay::Thread(delay) => std::pin::Pin::new(delay).poll(cx),
        }
    }
}

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

/// A point in time, in whole milliseconds of the page's clock: enough for
/// deadlines, which is all the browser build needs one for.
#[cfg(target_arch = "wasm32")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Instant(u64);

#[cfg(target_arch = "wasm32")]
impl Instant {
    /// Now.
    pub(crate) fn now() -> Self {
        Self(js_sys::Date::now() as u64)
    }

    /// How long after `earlier` this is (zero if it is not after).
    pub(crate) fn saturating_duration_since(self, earlier: Self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0.saturating_sub(earlier.0))
    }

    /// This plus `duration`, if representable.
    pub(crate) fn checked_add(self, duration: std::time::Duration) -> Option<Self> {
        let ms = u64::try_from(duration.as_millis()).ok()?;
        self.0.checked_add(ms).map(Self)
    }
}

/// A timer that only ever needs to fire at the earliest of many deadlines:
/// callers move it earlier with [`arm`](Self::arm), and a later deadline
/// costs nothing. One of these serves all of a connection's requests, so a
/// request registers no timer of its own.
pub(crate) struct DeadlineTimer {
    clock: Clock,
    armed: Option<(Instant, Delay)>,
}

impl DeadlineTimer {
    /// A timer on `clock` that is not armed.
    pub(crate) fn new(clock: Clock) -> Self {
        Self { clock, armed: None }
    }

    /// The clock the timer runs on.
    pub(crate) fn clock(&self) -> Clock {
        self.clock
    }

    /// Makes sure the timer fires no later than `deadline`.
    pub(crate) fn arm(&mut self, deadline: Instant) {
        let clock = self.clock;
        let after = || deadline.saturating_duration_since(clock.now());
        match &mut self.armed {
            // The usual case: a later deadline costs nothing, not even a
            // clock read.
            Some((at, _)) if *at <= deadline => {}
            Some((at, delay)) => {
                *at = deadline;
                delay.reset(after());
            }
            None => self.armed = Some((deadline, clock.delay(after()))),
        }
    }

    /// Ready (once) when the armed delay has run out; then the timer is
    /// disarmed until armed again. Timers may fire a little early: the
    /// caller expires only what is due by the clock's now and arms again
    /// for the rest.
    pub(crate) fn poll_fired(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        use futures::FutureExt;
        let Some((_, delay)) = &mut self.armed else {
            return std::task::Poll::Pending;
        };
        if delay.poll_unpin(cx).is_pending() {
            return std::task::Poll::Pending;
        }
        self.armed = None;
        std::task::Poll::Ready(())
    }
}
