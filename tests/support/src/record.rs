//! Handlers that record presence events into a [`Probe`], for the many
//! tests that need to know who joined or left, and why.

use hisock::{ClientInfo, ClientOptions, CloseReason, Server};

use crate::probe::Probe;

/// Registers a `join` handler on `server` recording each new client's id.
pub fn record_joins(server: &Server) -> Probe<u64> {
    let joins = Probe::new("join");
    let seen = joins.clone();
    server.on("join", move |who: ClientInfo| {
        seen.push(who.id);
        async {}
    });
    joins
}

/// Registers a `leave` handler on `server` recording `(client id, close
/// code)` for each client that leaves.
pub fn record_leaves(server: &Server) -> Probe<(u64, u16)> {
    let leaves = Probe::new("leave");
    let seen = leaves.clone();
    server.on("leave", move |who: ClientInfo, why: CloseReason| {
        seen.push((who.id, why.code));
        async {}
    });
    leaves
}

/// Adds a `client_disconnect` handler to `options` recording the id of each
/// other client that leaves.
pub fn record_departures(options: ClientOptions) -> (ClientOptions, Probe<u64>) {
    let departures = Probe::new("client_disconnect");
    let seen = departures.clone();
    let options = options.on("client_disconnect", move |who: ClientInfo| {
        seen.push(who.id);
        async {}
    });
    (options, departures)
}
