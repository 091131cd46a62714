//! [`Probe`]: how handlers tell a test what they saw.

use std::sync::Arc;

use tokio::sync::{mpsc, Mutex};

use crate::wait::WAIT;

/// A named, cloneable channel: handlers [`push`](Probe::push) what they saw,
/// the test awaits it with [`next`](Probe::next), bounded by [`WAIT`].
///
/// Note for handlers: the synchronous part of a handler closure runs when
/// the event is *scheduled*, the `async` block when it *runs*. Push inside
/// the `async` block whenever the order of running matters.
pub struct Probe<T> {
    name: &'static str,
    tx: mpsc::UnboundedSender<T>,
    rx: Arc<Mutex<mpsc::UnboundedReceiver<T>>>,
}

impl<T> Clone for Probe<T> {
    fn clone(&self) -> Self {
        Self {
            name: self.name,
            tx: self.tx.clone(),
            rx: self.rx.clone(),
        }
    }
}

impl<T: Send + 'static> Probe<T> {
    /// An empty probe; `name` appears in timeout messages.
    pub fn new(name: &'static str) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            name,
            tx,
            rx: Arc::new(Mutex::new(rx)),
        }
    }

    /// Records a value.
    pub fn push(&self, value: T) {
        // The receiver lives as long as any clone of the probe, so this only
        // fails if the test itself is gone.
        let _ = self.tx.send(value);
    }

    /// The next recorded value; panics if none arrives within [`WAIT`].
    pub async fn next(&self) -> T {
        let mut rx = self.rx.lock().await;
        match tokio::time::timeout(WAIT, rx.recv()).await {
            Ok(Some(value)) => value,
            Ok(None) => panic!("probe {:?} closed", self.name),
            Err(_) => panic!("probe {:?}: nothing recorded within {WAIT:?}", self.name),
        }
    }

    /// The next `n` recorded values, in order.
    pub async fn take(&self, n: usize) -> Vec<T> {
        let mut values = Vec::with_capacity(n);
        for _ in 0..n {
            values.push(self.next().await);
        }
        values
    }

    /// Everything recorded so far and not yet taken, without waiting.
    pub async fn drain(&self) -> Vec<T> {
        let mut rx = self.rx.lock().await;
        let mut values = Vec::new();
        while let Ok(value) = rx.try_recv() {
            values.push(value);
        }
        values
    }
}
