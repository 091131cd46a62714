//! Clients that reconnect, as the reconnection and resumption tests build
//! them: a quick backoff, and a [`Probe`] of every connection change.

use std::time::Duration;

use hisock::{Client, ClientOptions, ConnectionChange, Reconnect};

use crate::{within, FaultProxy, Probe, Transport};

/// A quick policy: tests wait for reconnects, never for a timer's length.
pub fn quick_reconnect() -> Reconnect {
    Reconnect::new()
        .initial_delay(Duration::from_millis(20))
        .max_delay(Duration::from_millis(100))
}

/// Options named `name` in group `crew` that reconnect with `policy` and
/// record every connection change.
pub fn recording_changes(
    name: &str,
    policy: Reconnect,
) -> (ClientOptions, Probe<ConnectionChange>) {
    let changes = Probe::new("connection changes");
    let mut options = ClientOptions::new()
        .name(name)
        .group("crew")
        .reconnect(policy);
    for event in ["disconnected", "reconnecting", "reconnected"] {
        let seen = changes.clone();
        options = options.on(event, move |change: ConnectionChange| {
            seen.push(change);
            async {}
        });
    }
    (options, changes)
}

/// Waits past `reconnecting` events for the next other change.
pub async fn next_change(changes: &Probe<ConnectionChange>) -> ConnectionChange {
    loop {
        match changes.next().await {
            ConnectionChange::Reconnecting { attempt, .. } => assert!(attempt >= 1),
            other => return other,
        }
    }
}

/// Waits past `reconnecting` events for the next change, which must be
/// `disconnected`: its code, and whether the client will retry.
pub async fn next_disconnect(changes: &Probe<ConnectionChange>) -> (u16, bool) {
    match next_change(changes).await {
        ConnectionChange::Disconnected {
            code, will_retry, ..
        } => (code, will_retry),
        other => panic!("expected disconnected, got {other:?}"),
    }
}

/// Connects over `t` through `proxy`.
pub async fn connect_through(t: Transport, proxy: &FaultProxy, options: ClientOptions) -> Client {
    within("connect through the proxy", t.connect(proxy.addr, options))
        .await
        .expect("connects through the proxy")
}
