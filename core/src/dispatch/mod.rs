//! Event routing: which handler runs for a command, with which arguments,
//! and what its return value becomes. Shared by the server and the client;
//! each side has its own context type `C` and its own reserved names.

mod extract;
mod handler;
mod reply;
#[cfg(feature = "server")]
mod slot;
mod typed;

/// The handler maps: their keys are registered by the application, so they
/// need no SipHash (see [`FastMap`](crate::platform::map::FastMap)).
type Map<K, V> = crate::platform::map::FastMap<K, V>;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::platform::locks::ReadMostly;
use crate::platform::{read_lock, write_lock};

pub use extract::{Command, Data, EventContext, FromEvent, RawPayload};
pub use handler::{erase, ErasedHandler, Handler, Outcome};
pub use reply::{IntoReply, Rejection, Reply};
#[cfg(feature = "server")]
pub use slot::{CallSlot, ReusableCall};
pub use typed::{ForEvent, IntoRejection, TypedReply};

/// The wildcard command: its handler gets every event that has no handler of
/// its own.
pub const WILDCARD: &str = "*";

/// How a handler is registered (see `on_with` on the server and client).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct On {
    threaded: bool,
    override_reserved: bool,
}

impl On {
    /// Default options: run in order with the sender's other events.
    pub fn new() -> Self {
        Self::default()
    }

    /// Run this handler concurrently with the sender's other events instead
    /// of in order (HiSock's `threaded=True`).
    pub fn threaded(mut self) -> Self {
        self.threaded = true;
        self
    }

    /// Register a reserved name ("join", "message", …) as an ordinary
    /// command: the reserved event no longer calls it; events sent under that
    /// name do (HiSock's `override=True`).
    pub fn override_reserved(mut self) -> Self {
        self.override_reserved = true;
        self
    }

    /// True when the handler runs concurrently.
    pub fn is_threaded(&self) -> bool {
        self.threaded
    }
}

/// A registered handler and how to run it.
pub struct Registered<C> {
    /// The handler.
    pub handler: Arc<dyn ErasedHandler<C>>,
    /// Runs concurrently rather than in order.
    pub threaded: bool,
    /// The command it is registered under (shared, so events need not
    /// allocate their command name).
    pub name: Arc<str>,
}

impl<C> Clone for Registered<C> {
    fn clone(&self) -> Self {
        Self {
            handler: self.handler.clone(),
            threaded: self.threaded,
            name: self.name.clone(),
        }
    }
}

/// A command name as a map key, found by its bytes (hashed as bytes, so
/// that a lookup by `&[u8]` finds it).
#[derive(Clone, PartialEq, Eq)]
struct Name(Arc<str>);

impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.as_bytes().hash(state);
    }
}

impl std::borrow::Borrow<[u8]> for Name {
    fn borrow(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// The handlers of one side: ordinary commands, the wildcard, and reserved
/// events (whose names each side lists in `reserved`).
pub struct HandlerTable<C> {
    reserved_names: &'static [&'static str],
    commands: Map<Name, Registered<C>>,
    reserved: Map<&'static str, Registered<C>>,
}

impl<C> Clone for HandlerTable<C> {
    fn clone(&self) -> Self {
        Self {
            reserved_names: self.reserved_names,
            commands: self.commands.clone(),
            reserved: self.reserved.clone(),
        }
    }
}

impl<C> HandlerTable<C> {
    /// An empty table for a side with these reserved event names.
    pub fn new(reserved_names: &'static [&'static str]) -> Self {
        Self {
            reserved_names,
            commands: Map::default(),
            reserved: Map::default(),
        }
    }

    /// Registers `handler` under `name`, replacing an earlier one.
    pub fn insert(&mut self, name: &str, handler: Arc<dyn ErasedHandler<C>>, on: On) {
        let name: Arc<str> = Arc::from(name);
        let registered = Registered {
            handler,
            threaded: on.threaded,
            name: name.clone(),
        };
        match self.reserved_names.iter().find(|r| **r == &*name) {
            Some(reserved) if !on.override_reserved => {
                self.reserved.insert(reserved, registered);
            }
            _ => {
                self.commands.insert(Name(name), registered);
            }
        }
    }

    /// Removes the handler under `name` (reserved or not). True if one was
    /// registered.
    pub fn remove(&mut self, name: &str) -> bool {
        let reserved = self.reserved.remove(name).is_some();
        self.commands.remove(name.as_bytes()).is_some() || reserved
    }

    /// The handler for an incoming event's command. Events named like a
    /// reserved event reach only a handler registered with
    /// [`On::override_reserved`]: a peer cannot trigger "join" by sending it.
    pub fn command(&self, name: &str) -> Option<&Registered<C>> {
        self.commands.get(name.as_bytes())
    }

    /// [`command`](Self::command) for a name not yet known to be UTF-8 (a
    /// name from the wire): a registered name found by its bytes is.
    pub fn command_bytes(&self, name: &[u8]) -> Option<&Registered<C>> {
        self.commands.get(name)
    }

    /// The wildcard handler, if any.
    pub fn wildcard(&self) -> Option<&Registered<C>> {
        self.reserved.get(WILDCARD)
    }

    /// The handler of a reserved event, if any.
    pub fn reserved(&self, name: &str) -> Option<&Registered<C>> {
        self.reserved.get(name)
    }

    /// True when a handler for the command exists (reserved ones not
    /// counted).
    pub fn has_command(&self, name: &str) -> bool {
        self.commands.contains_key(name.as_bytes())
    }
}

/// A handler table that every event reads and that rarely changes:
/// registering a handler copies the table (copy on write) and bumps a
/// version, and readers keep a [`HandlerSnapshot`] that they refresh only
/// when the version moved. Reading costs one atomic load per event, no
/// lock and no reference counting.
pub struct SharedHandlers<C> {
    table: ReadMostly<Arc<HandlerTable<C>>>,
    version: AtomicU64,
}

/// A reader's copy of a [`SharedHandlers`] table.
pub struct HandlerSnapshot<C> {
    version: u64,
    /// The table as of `version`.
    pub table: Arc<HandlerTable<C>>,
}

impl<C> SharedHandlers<C> {
    /// Shares `table`.
    pub fn new(table: HandlerTable<C>) -> Self {
        Self {
            table: ReadMostly::new(Arc::new(table)),
            version: AtomicU64::new(0),
        }
    }

    /// Changes the table; readers see the change at their next refresh.
    pub fn update<R>(&self, change: impl FnOnce(&mut HandlerTable<C>) -> R) -> R {
        let mut change = Some(change);
        let mut result = None;
        self.update_with(&mut |table| result = change.take().map(|change| change(table)));
        result.expect("update_with runs the change once")
    }

    /// [`SharedHandlers::update`] without a type parameter: one copy of the
    /// locking in the browser build however many callers change the table.
    pub fn update_with(&self, change: &mut dyn FnMut(&mut HandlerTable<C>)) {
        let mut table = write_lock(&self.table);
        change(Arc::make_mut(&mut table));
        self.version.fetch_add(1, Ordering::Release);
    }

    /// The current table.
    pub fn current(&self) -> Arc<HandlerTable<C>> {
        read_lock(&self.table).clone()
    }

    /// A snapshot of the current table.
    pub fn snapshot(&self) -> HandlerSnapshot<C> {
        // Version and table read under the same lock that `update` changes
        // both under, so they match.
        let table = read_lock(&self.table);
        HandlerSnapshot {
            version: self.version.load(Ordering::Acquire),
            table: table.clone(),
        }
    }

    /// Brings `snapshot` up to date if the table changed since it was taken.
    pub fn refresh(&self, snapshot: &mut HandlerSnapshot<C>) {
        if self.version.load(Ordering::Acquire) != snapshot.version {
            *snapshot = self.snapshot();
        }
    }
}

/// The frame that answers a handler's outcome: a reply for requests, a
/// rejection notice for failed plain events, nothing for a plain event that
/// went well.
pub fn outcome_frame(command: &str, request_id: u64, outcome: Outcome) -> Option<bytes::Bytes> {
    use crate::frame::Frame;
    Some(match (request_id, outcome) {
        (0, Ok(_)) => return None,
        (0, Err(rejection)) => {
            tracing::warn!(command, message = %rejection.message, "event rejected");
            Frame::EventRejected {
                command,
                code: rejection.code.to_wire(),
                message: &rejection.message,
            }
            .encode()
        }
        (request_id, Ok(payload)) => Frame::Reply {
            request_id,
            payload: &payload,
        }
        .encode(),
        (request_id, Err(rejection)) => Frame::ReplyError {
            request_id,
            code: rejection.code.to_wire(),
            message: &rejection.message,
        }
        .encode(),
    })
}

/// Runs a handler future, turning a panic into a failed outcome so that one
/// buggy handler never takes its connection down.
pub async fn guarded(fut: crate::transport::BoxFuture<'static, Outcome>) -> Outcome {
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(fut).catch_unwind().await {
        Ok(outcome) => outcome,
        Err(_) => {
            tracing::error!("handler panicked");
            Err(Rejection::new(
                crate::frame::ErrorCode::HandlerFailed,
                "handler panicked",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A context with nothing in it, enough to register handlers.
    struct NoContext;

    fn table_with(names: &[&str]) -> HandlerTable<NoContext> {
        let mut table = HandlerTable::new(&["message"]);
        for name in names {
            table.insert(name, erase(|| async {}), On::new());
        }
        table
    }

    #[test]
    fn snapshots_see_changes_only_after_a_refresh() {
        let shared = SharedHandlers::new(table_with(&["a"]));
        let mut snapshot = shared.snapshot();
        shared.update(|table| table.insert("b", erase(|| async {}), On::new()));
        assert!(
            !snapshot.table.has_command("b"),
            "a snapshot does not change by itself"
        );
        shared.refresh(&mut snapshot);
        assert!(snapshot.table.has_command("a") && snapshot.table.has_command("b"));
        let before = Arc::as_ptr(&snapshot.table);
        shared.refresh(&mut snapshot);
        assert_eq!(
            before,
            Arc::as_ptr(&snapshot.table),
            "no change, same table"
        );
        assert!(shared.update(|table| table.remove("a")));
        shared.refresh(&mut snapshot);
        assert!(!snapshot.table.has_command("a"));
    }
}
