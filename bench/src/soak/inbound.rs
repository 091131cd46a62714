//! What one soak client receives, checked as it arrives: its handlers feed
//! this, and the marks from the server open and close its windows (see
//! [`wire`]). Handlers of one client run in the order their
//! events arrived, so the windows here are exactly the server's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hisock::{ClientOptions, Data};
use tokio::sync::Notify;

use super::wire::{self, GroupSeq, Mark, Seq, Sync};
use hisock_test_support::{SeqCheck, Tally};

/// One client's receiving side, shared by its handlers and its task.
#[derive(Default)]
pub struct Inbound {
    state: Mutex<State>,
    marked: Notify,
}

#[derive(Default)]
struct State {
    broadcast: Option<SeqCheck>,
    group: Option<(String, SeqCheck)>,
    /// Direct messages by sender; handed over when the client leaves.
    direct: HashMap<u64, SeqCheck>,
    /// The close mark came: nothing more is counted.
    closed: bool,
    marks: u64,
    /// Closed windows.
    broadcast_tally: Tally,
    group_tally: Tally,
    /// Marks that did not fit the client's state, and deliveries the
    /// server should not have sent after the close mark.
    stray: u64,
}

/// What a client's windows added up to.
#[derive(Debug, Default)]
pub struct Received {
    /// Broadcasts to all.
    pub broadcast: Tally,
    /// Group casts.
    pub group: Tally,
    /// Direct messages by sender, still to be closed against what each
    /// sender was told was accepted.
    pub direct: HashMap<u64, SeqCheck>,
    /// Out-of-place marks and deliveries.
    pub stray: u64,
}

impl Inbound {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `options` with the handlers that feed `inbound`, registered before
    /// the handshake so that nothing arrives unhandled.
    pub fn handlers(inbound: &Arc<Self>, options: ClientOptions) -> ClientOptions {
        let me = inbound.clone();
        let options = options.on(wire::BROADCAST, move |Data(m): Data<Seq>| {
            if let Some(check) = &mut me.state().broadcast {
                check.see(m.seq);
            }
            async {}
        });
        let me = inbound.clone();
        let options = options.on(wire::GROUP_CAST, move |Data(m): Data<GroupSeq>| {
            // Casts to a group just left, or joined but not yet marked,
            // are outside every window.
            if let Some((group, check)) = &mut me.state().group {
                if *group == m.group {
                    check.see(m.seq);
                }
            }
            async {}
        });
        let me = inbound.clone();
        let options = options.on(wire::DIRECT, move |Data(m): Data<Seq>| {
            let mut state = me.state();
            if state.closed {
                state.stray += 1;
            } else {
                state
                    .direct
                    .entry(m.sender)
                    .or_insert_with(|| SeqCheck::after(0))
                    .see(m.seq);
            }
            async {}
        });
        let me = inbound.clone();
        let options = options.on(wire::MARK, move |Data(mark): Data<Mark>| {
            me.apply(mark);
            async {}
        });
        options.on(wire::ASK, |Data(n): Data<u64>| async move { n + 1 })
    }

    fn apply(&self, mark: Mark) {
        let mut state = self.state();
        let state = &mut *state;
        match mark.sync {
            Sync::Open => {
                state.broadcast = Some(SeqCheck::after(mark.broadcast));
                state.group = mark.group.map(|g| (g, SeqCheck::after(mark.group_seq)));
            }
            Sync::GroupOpen => match mark.group {
                Some(group) => state.group = Some((group, SeqCheck::after(mark.group_seq))),
                None => state.stray += 1,
            },
            Sync::GroupClose => close_group(state, &mark),
            Sync::Close => {
                if let Some(check) = state.broadcast.take() {
                    state.broadcast_tally += check.close(mark.broadcast);
                }
                close_group(state, &mark);
                state.closed = true;
            }
        }
        state.marks += 1;
        self.marked.notify_waiters();
    }

    /// Waits until `n` marks have come in all, at most `limit`, giving up
    /// early when `gone()` says the connection ended. Returns whether they
    /// came.
    pub async fn wait_marks(&self, n: u64, limit: Duration, gone: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let notified = self.marked.notified();
            if self.state().marks >= n {
                return true;
            }
            let rest = deadline.saturating_duration_since(Instant::now());
            if rest.is_zero() || gone() {
                return false;
            }
            // `notified` was created before the check, so a mark between
            // the two still wakes it; the slices are for noticing `gone`.
            let _ = tokio::time::timeout(rest.min(Duration::from_millis(100)), notified).await;
        }
    }

    /// The tallies so far, and the direct messages, taken out.
    pub fn take(&self) -> Received {
        let mut state = self.state();
        Received {
            broadcast: state.broadcast_tally,
            group: state.group_tally,
            direct: std::mem::take(&mut state.direct),
            stray: state.stray,
        }
    }
}

fn close_group(state: &mut State, mark: &Mark) {
    if let Some((group, check)) = state.group.take() {
        if mark.group.as_deref() == Some(group.as_str()) {
            state.group_tally += check.close(mark.group_seq);
        } else {
            state.stray += 1;
        }
    }
}
