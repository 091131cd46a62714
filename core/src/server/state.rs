//! Application data that handlers take as arguments: the server's shared
//! state ([`State`], given to [`ServerBuilder::with_state`]) and each
//! connection's own data ([`Extensions`], set in the auth hook or any
//! handler; [`Ext`] takes one value out).
//!
//! Both are maps keyed by type, as in axum and http: one value per type, so
//! an application wraps plain types in its own (`struct Db(Pool)`, `struct
//! User { id: u64 }`). Looking one up costs a hash of a `TypeId`, and only
//! handlers that ask for it pay.
//!
//! [`ServerBuilder::with_state`]: super::ServerBuilder::with_state

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use super::ServerEvent;
use crate::dispatch::{FromEvent, Rejection};
use crate::frame::ErrorCode;
use crate::platform::{read_lock, write_lock};

type AnyMap = HashMap<TypeId, Arc<dyn Any + Send + Sync>>;

/// The server's shared state: one value per type, fixed when the server is
/// built.
#[derive(Clone, Default)]
pub(crate) struct States(AnyMap);

impl States {
    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.0.insert(TypeId::of::<T>(), Arc::new(value));
    }

    fn get<T: Clone + 'static>(&self) -> Option<T> {
        self.0
            .get(&TypeId::of::<T>())
            .and_then(|value| value.downcast_ref::<T>())
            .cloned()
    }
}

impl fmt::Debug for States {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "States({} values)", self.0.len())
    }
}

/// A handler argument: the server's state of type `T`, as given to
/// [`ServerBuilder::with_state`](super::ServerBuilder::with_state)
/// (cloned for each call: share big things behind an `Arc`).
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use hisock::server::State;
/// use hisock::Server;
///
/// #[derive(Clone, Default)]
/// struct Hits(Arc<AtomicU64>);
///
/// let server = Server::builder().with_state(Hits::default()).build();
/// server.on("hit", |State(hits): State<Hits>| async move {
///     hits.0.fetch_add(1, Ordering::Relaxed) + 1
/// });
/// ```
///
/// A handler that asks for a type the server was not given is refused
/// with [`ErrorCode::HandlerFailed`] and a message naming the type.
#[derive(Debug, Clone, Copy, Default)]
pub struct State<T>(pub T);

impl<T: Clone + Send + Sync + 'static> FromEvent<ServerEvent> for State<T> {
    fn from_event(ctx: &ServerEvent) -> Result<Self, Rejection> {
        ctx.server
            .inner
            .states
            .get::<T>()
            .map(State)
            .ok_or_else(|| {
                Rejection::new(
                    ErrorCode::HandlerFailed,
                    format!(
                        "no state of type {}: build the server with `with_state`",
                        std::any::type_name::<T>()
                    ),
                )
            })
    }
}

/// One connection's own data: one value per type, shared by every handler
/// of that client. Set it in the auth hook
/// ([`AuthRequest::extensions`](super::AuthRequest::extensions)), in any
/// handler (take `Extensions` as an argument), or from outside through
/// [`Server::extensions`](super::Server::extensions). Gone when the client
/// leaves (after its `leave` handler, which still sees it).
///
/// ```
/// use hisock::server::{Ext, Extensions};
/// use hisock::Server;
///
/// #[derive(Clone)]
/// struct User(String);
///
/// let server = Server::new();
/// server.auth(|request| async move {
///     let token: Option<String> = request.data().map_err(|e| e.to_string())?;
///     let user = token.ok_or("a token is required")?;
///     request.extensions().insert(User(user));
///     Ok(())
/// });
/// server.on("whoami", |Ext(User(name)): Ext<User>| async move { name });
/// server.on("rename", |ext: Extensions, hisock::Data(name): hisock::Data<String>| async move {
///     ext.insert(User(name));
/// });
/// ```
#[derive(Clone, Default)]
pub struct Extensions(Arc<RwLock<AnyMap>>);

impl Extensions {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value`, replacing the value of the same type; true when
    /// there was one.
    pub fn insert<T: Send + Sync + 'static>(&self, value: T) -> bool {
        write_lock(&self.0)
            .insert(TypeId::of::<T>(), Arc::new(value))
            .is_some()
    }

    /// The value of type `T`, cloned.
    pub fn get<T: Clone + 'static>(&self) -> Option<T> {
        read_lock(&self.0)
            .get(&TypeId::of::<T>())
            .and_then(|value| value.downcast_ref::<T>())
            .cloned()
    }

    /// True when a value of type `T` is stored.
    pub fn contains<T: 'static>(&self) -> bool {
        read_lock(&self.0).contains_key(&TypeId::of::<T>())
    }

    /// Removes the value of type `T`; true when there was one.
    pub fn remove<T: 'static>(&self) -> bool {
        write_lock(&self.0).remove(&TypeId::of::<T>()).is_some()
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Extensions({} values)", read_lock(&self.0).len())
    }
}

/// The sender's [`Extensions`]: from the context of a `leave` handler (the
/// client has left the registry by then), else from the registry.
fn extensions_of(ctx: &ServerEvent) -> Option<Extensions> {
    if let Some(extensions) = ctx.extra.as_ref().and_then(|e| e.extensions.clone()) {
        return Some(extensions);
    }
    let registry = ctx.server.inner.registry.read();
    registry.get(ctx.client.id).map(|e| e.extensions.clone())
}

impl FromEvent<ServerEvent> for Extensions {
    fn from_event(ctx: &ServerEvent) -> Result<Self, Rejection> {
        extensions_of(ctx).ok_or_else(|| {
            Rejection::new(
                ErrorCode::HandlerFailed,
                "the client is no longer connected",
            )
        })
    }
}

/// A handler argument: the sender's connection data of type `T` (see
/// [`Extensions`]), cloned. A handler that asks for a type the connection
/// does not have is refused with [`ErrorCode::HandlerFailed`] and a message
/// naming the type: take `Extensions` when it may be missing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ext<T>(pub T);

impl<T: Clone + Send + Sync + 'static> FromEvent<ServerEvent> for Ext<T> {
    fn from_event(ctx: &ServerEvent) -> Result<Self, Rejection> {
        extensions_of(ctx)
            .and_then(|ext| ext.get::<T>())
            .map(Ext)
            .ok_or_else(|| {
                Rejection::new(
                    ErrorCode::HandlerFailed,
                    format!(
                        "the client has no {} in its extensions",
                        std::any::type_name::<T>()
                    ),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_hold_one_value_per_type() {
        #[derive(Clone, Debug, PartialEq)]
        struct User(&'static str);
        let ext = Extensions::new();
        assert!(!ext.contains::<User>());
        assert!(!ext.insert(User("ada")));
        assert!(ext.insert(User("bob")), "replaced");
        assert_eq!(ext.get::<User>(), Some(User("bob")));
        assert_eq!(ext.get::<u32>(), None);
        let shared = ext.clone();
        assert!(shared.remove::<User>());
        assert!(!ext.contains::<User>(), "clones share one map");
    }

    #[test]
    fn states_are_found_by_type() {
        let mut states = States::default();
        states.insert(7u32);
        states.insert(String::from("x"));
        assert_eq!(states.get::<u32>(), Some(7));
        assert_eq!(states.get::<String>().as_deref(), Some("x"));
        assert_eq!(states.get::<u64>(), None);
    }
}
