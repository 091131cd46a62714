//! Who a client is: [`ClientInfo`], as the server records it and as other
//! clients see it.

use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::frame::WireClient;
use crate::transport::TransportKind;

/// A client's identity: id, optional name and group, address, transport.
///
/// Cheap to clone (the strings are shared). In payloads (look-up answers)
/// it is a map `{id, name, group, addr, transport}` with `addr` as an
/// `"ip:port"` string and `transport` as `"tcp"`, `"ws"`, ….
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    /// Unique on its server for the server's lifetime.
    pub id: u64,
    /// The client's name, if it has one. Names need not be unique.
    pub name: Option<Arc<str>>,
    /// The client's group, if it is in one.
    pub group: Option<Arc<str>>,
    /// The client's address as the server sees it.
    #[serde(with = "addr_as_string")]
    pub addr: Option<SocketAddr>,
    /// Which transport the client uses.
    pub transport: TransportKind,
}

impl ClientInfo {
    /// The id (the same as the `id` field; a method beside `name()` and
    /// `group()`, so all three read alike).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The name, as a `&str`.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The group, as a `&str`.
    pub fn group(&self) -> Option<&str> {
        self.group.as_deref()
    }

    /// The wire form, borrowing from `self`; `addr_buf` holds the address
    /// text.
    pub fn to_wire<'a>(&'a self, addr_buf: &'a Option<String>) -> WireClient<'a> {
        WireClient {
            id: self.id,
            name: self.name(),
            group: self.group(),
            addr: addr_buf.as_deref(),
            transport: self.transport.to_wire(),
        }
    }

    /// Rebuilds a client from its wire form.
    pub fn from_wire(wire: &WireClient<'_>) -> Self {
        Self {
            id: wire.id,
            name: wire.name.map(Arc::from),
            group: wire.group.map(Arc::from),
            addr: wire.addr.and_then(crate::addr::parse_socket_addr),
            transport: TransportKind::from_wire(wire.transport),
        }
    }
}

/// A name or group change: the value before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The value before the change.
    pub old: Option<Arc<str>>,
    /// The value after the change.
    pub new: Option<Arc<str>>,
}

mod addr_as_string {
    use std::net::SocketAddr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(addr: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
        match addr {
            Some(addr) => s.collect_str(addr),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        match text {
            Some(text) => text.parse().map(Some).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}
