//! A node's clients in two numbers: how many, and a hash of who they are
//! (id, name, group, address, transport) and which rooms they are in.
//!
//! Why: pub/sub delivers at most once, and a full queue toward the engine
//! drops announcements, so a lost `Left` would leave a ghost in the other
//! nodes' directories and a lost `Joined` a client nobody else sees, until
//! the link next went down. Resending every node's snapshot periodically
//! would repair that, but costs each node a full list (and every receiver
//! a rebuild under the directory's lock) every period, lost or not. A
//! digest costs 30-odd bytes: each node publishes its own every period
//! ([`ClusterNode::publish_digest`](super::ClusterNode::publish_digest)),
//! each receiver compares it with its replica of that node, and only on a
//! difference asks that node for its snapshot.
//!
//! The hash is a wrapping sum of one xxh3 per client and one per
//! (client, room), so it does not depend on iteration order, and it is
//! computed from bytes laid out here (not through `Hash`, whose output may
//! change between Rust releases): nodes built apart agree on it.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3Default;

use crate::info::ClientInfo;

/// What one node's clients look like, in two numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Digest {
    /// How many clients.
    pub clients: u64,
    /// The wrapping sum of their hashes and their room memberships'.
    pub hash: u64,
}

impl Digest {
    /// Counts a client (its rooms are added with [`add_room`](Self::add_room)).
    pub fn add_client(&mut self, info: &ClientInfo) {
        self.clients += 1;
        self.hash = self.hash.wrapping_add(client_hash(info));
    }

    /// Counts client `id`'s membership of `room`.
    pub fn add_room(&mut self, id: u64, room: &str) {
        let mut hasher = Xxh3Default::new();
        hasher.update(b"R");
        hasher.update(&id.to_le_bytes());
        hasher.update(room.as_bytes());
        self.hash = self.hash.wrapping_add(hasher.digest());
    }
}

fn client_hash(info: &ClientInfo) -> u64 {
    let mut hasher = Xxh3Default::new();
    hasher.update(b"C");
    hasher.update(&info.id.to_le_bytes());
    for text in [&info.name, &info.group] {
        match text {
            // The length first, so that ("ab", "c") and ("a", "bc") differ.
            Some(text) => {
                hasher.update(&(text.len() as u64 + 1).to_le_bytes());
                hasher.update(text.as_bytes());
            }
            None => hasher.update(&0u64.to_le_bytes()),
        }
    }
    match info.addr {
        Some(SocketAddr::V4(addr)) => {
            hasher.update(&[4]);
            hasher.update(&addr.ip().octets());
            hasher.update(&addr.port().to_le_bytes());
        }
        Some(SocketAddr::V6(addr)) => {
            hasher.update(&[6]);
            hasher.update(&addr.ip().octets());
            hasher.update(&addr.port().to_le_bytes());
        }
        None => hasher.update(&[0]),
    }
    hasher.update(&[info.transport.to_wire()]);
    hasher.digest()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::TransportKind;

    fn info(id: u64, name: Option<&str>, group: Option<&str>) -> ClientInfo {
        ClientInfo {
            id,
            name: name.map(Into::into),
            group: group.map(Into::into),
            addr: "127.0.0.1:4000".parse().ok(),
            transport: TransportKind::Ws,
        }
    }

    fn digest(clients: &[(ClientInfo, &[&str])]) -> Digest {
        let mut digest = Digest::default();
        for (info, rooms) in clients {
            digest.add_client(info);
            for room in *rooms {
                digest.add_room(info.id, room);
            }
        }
        digest
    }

    #[test]
    fn the_order_of_clients_and_rooms_does_not_matter() {
        let a = (info(1, Some("ada"), None), &["x", "y"][..]);
        let b = (info(2, None, Some("g")), &[][..]);
        let a_reordered = (info(1, Some("ada"), None), &["y", "x"][..]);
        assert_eq!(
            digest(&[a.clone(), b.clone()]),
            digest(&[b, a_reordered]),
            "same clients, same digest"
        );
        assert_eq!(digest(&[a]).clients, 1);
    }

    #[test]
    fn any_difference_a_look_up_could_see_changes_the_digest() {
        let base = digest(&[(info(1, Some("ab"), Some("c")), &["r"][..])]);
        let variants = [
            digest(&[(info(2, Some("ab"), Some("c")), &["r"][..])]),
            digest(&[(info(1, Some("a"), Some("bc")), &["r"][..])]),
            digest(&[(info(1, None, Some("c")), &["r"][..])]),
            digest(&[(info(1, Some("ab"), None), &["r"][..])]),
            digest(&[(info(1, Some("ab"), Some("c")), &[][..])]),
            digest(&[(info(1, Some("ab"), Some("c")), &["s"][..])]),
            digest(&[(
                ClientInfo {
                    transport: TransportKind::Tcp,
                    ..info(1, Some("ab"), Some("c"))
                },
                &["r"][..],
            )]),
            digest(&[(
                ClientInfo {
                    addr: "127.0.0.1:4001".parse().ok(),
                    ..info(1, Some("ab"), Some("c"))
                },
                &["r"][..],
            )]),
        ];
        for (n, variant) in variants.iter().enumerate() {
            assert_ne!(*variant, base, "variant {n}");
        }
    }

    #[test]
    fn the_hash_is_fixed_across_builds() {
        // Nodes built apart (another Rust release, another platform) must
        // agree, or every period would bring a needless snapshot.
        let digest = digest(&[(info(7, Some("ada"), Some("g")), &["r"][..])]);
        assert_eq!(digest.clients, 1);
        assert_eq!(digest.hash, 4_045_435_722_757_965_851);
    }
}
