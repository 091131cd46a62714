//! Small helpers shared by the workloads: errors, time limits, a countdown
//! that records when it reached zero, task guards, and /proc readings.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Any failure of a benchmark run.
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;
/// A benchmark result.
pub type BenchResult<T> = Result<T, BenchError>;

/// Runs `fut` for at most `limit`; running out of time is an error naming
/// `what`, so a stuck workload fails instead of hanging.
pub async fn within<F: Future>(limit: Duration, what: &str, fut: F) -> BenchResult<F::Output> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| format!("{what}: not done within {limit:?}").into())
}

/// Aborts a background task when dropped.
pub struct AbortOnDrop(pub JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Counts events down to zero and remembers when the last one came.
pub struct Countdown {
    left: AtomicU64,
    done_at: Mutex<Option<Instant>>,
    done: Notify,
}

impl Countdown {
    /// A countdown from `n`.
    pub fn new(n: u64) -> Self {
        Self {
            left: AtomicU64::new(n),
            done_at: Mutex::new(None),
            done: Notify::new(),
        }
    }

    /// One event happened.
    pub fn hit(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            let now = Instant::now();
            *self.done_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(now);
            self.done.notify_one();
        }
    }

    /// Events still to come.
    pub fn left(&self) -> u64 {
        self.left.load(Ordering::Acquire)
    }

    /// Waits (at most `limit`) for zero and returns when it was reached.
    pub async fn wait(&self, limit: Duration, what: &str) -> BenchResult<Instant> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(at) = *self.done_at.lock().unwrap_or_else(|p| p.into_inner()) {
                return Ok(at);
            }
            let rest = deadline.saturating_duration_since(Instant::now());
            if rest.is_zero() {
                return Err(format!(
                    "{what}: {} of the expected events missing after {limit:?}",
                    self.left()
                )
                .into());
            }
            // notify_one stores a permit, so a hit between the check and the
            // wait is not lost; the short timeout is a second safety net.
            let _ =
                tokio::time::timeout(rest.min(Duration::from_millis(100)), self.done.notified())
                    .await;
        }
    }
}

/// The resident set size of this process, in bytes (VmRSS).
pub fn rss_bytes() -> BenchResult<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or("no VmRSS line in /proc/self/status")?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .ok_or("VmRSS without a number")?
        .parse()?;
    Ok(kib * 1024)
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// Raises the soft limit on open files to the hard limit. Returns the new
/// soft limit, or an error when the OS refuses.
pub fn raise_open_files_limit() -> BenchResult<u64> {
    let (_, hard) = rlimit::Resource::NOFILE.get()?;
    Ok(rlimit::increase_nofile_limit(hard)?)
}

/// The CPU model, for the report header.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
