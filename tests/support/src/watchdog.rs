//! [`Watchdog`]: a bound that holds when the async runtime does not. Every
//! wait of a test goes through [`within`](crate::within), which needs a
//! runtime worker to fire its timer; a deadlock in a blocking lock stops
//! every worker, and the test would hang for good. The watchdog is a plain
//! thread: past its limit it says what was running and ends the test
//! process, so the suite fails instead of hanging.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Ends the process when dropped no sooner than `limit` after it started
/// (see the module documentation).
pub struct Watchdog {
    done: Arc<(Mutex<bool>, Condvar)>,
}

impl Watchdog {
    /// Starts watching `what` for at most `limit`.
    pub fn start(limit: Duration, what: &'static str) -> Self {
        let done = Arc::new((Mutex::new(false), Condvar::new()));
        let watched = done.clone();
        std::thread::spawn(move || {
            let (lock, finished) = &*watched;
            let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
            let (guard, _) = finished
                .wait_timeout_while(guard, limit, |done| !*done)
                .unwrap_or_else(|p| p.into_inner());
            if !*guard {
                // Straight to the process's stderr: the test harness
                // captures `eprintln!`, and would lose it with the process.
                let _ = writeln!(
                    std::io::stderr(),
                    "watchdog: {what} still running after {limit:?}; the runtime's workers are stuck (a deadlock?)"
                );
                std::process::exit(101);
            }
        });
        Self { done }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let (lock, finished) = &*self.done;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
        finished.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watchdog_dropped_in_time_lets_the_process_be() {
        let watchdog = Watchdog::start(Duration::from_secs(3600), "nothing");
        drop(watchdog);
    }
}
