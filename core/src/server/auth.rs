//! What the auth hook sees of a client asking to join, and the hook's
//! type. The hook runs between the version check and the capacity check
//! (PROTOCOL.md section 4; the order is [`crate::protocol::handshake`]'s).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::transport::{BoxFuture, TransportKind};
use crate::value;

/// What the auth hook sees of a client asking to join.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    /// The name the client asks for.
    pub name: Option<String>,
    /// The group the client asks for.
    pub group: Option<String>,
    /// The client's address.
    pub addr: Option<SocketAddr>,
    /// The client's transport.
    pub transport: TransportKind,
    pub(super) auth: Option<Bytes>,
    pub(super) extensions: super::Extensions,
}

impl AuthRequest {
    /// The auth data the client sent, decoded as `T`; `None` when it sent
    /// none. Errors when it does not fit `T`.
    pub fn data<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        self.auth.as_deref().map(value::decode).transpose()
    }

    /// The connection's data, for the hook to fill (the user it
    /// authenticated, say); every handler of this client can read it
    /// (see [`Extensions`](super::Extensions)).
    pub fn extensions(&self) -> &super::Extensions {
        &self.extensions
    }
}

pub(super) type AuthHook =
    Arc<dyn Fn(AuthRequest) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;
