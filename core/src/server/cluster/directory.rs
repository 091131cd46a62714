//! The replica of the other nodes' clients: who they are and which rooms
//! they are in, kept from the joins, leaves, changes and snapshots other
//! nodes publish. Look-ups that miss this node's registry read it.
//!
//! Remote look-ups scan (no name or group index): they are not on any hot
//! path, and one index less is one thing less to keep right across
//! snapshots.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use super::digest::Digest;
use super::message::Member;
use super::NodeId;
use crate::info::ClientInfo;

/// Other nodes' clients, by id, each with the node it is on: the node
/// that announced it. That is usually the node its id names, but a client
/// whose session moved to another node keeps its id (`handover.rs`).
#[derive(Default)]
pub(crate) struct Directory {
    clients: HashMap<u64, Placed>,
}

/// A remote client and the node it is on.
struct Placed {
    node: NodeId,
    member: Member,
}

/// What a snapshot changed, for the presence notices.
#[derive(Debug, Default)]
pub(crate) struct Diff {
    pub joined: Vec<ClientInfo>,
    pub left: Vec<ClientInfo>,
    pub changed: Vec<Changed>,
}

/// A client after a change, with its name and group before.
pub(crate) type Changed = (ClientInfo, Option<Arc<str>>, Option<Arc<str>>);

impl Directory {
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    pub fn get(&self, id: u64) -> Option<&ClientInfo> {
        self.clients.get(&id).map(|p| &p.member.info)
    }

    /// The node client `id` is on, if it is known.
    pub fn node_of(&self, id: u64) -> Option<NodeId> {
        self.clients.get(&id).map(|p| p.node)
    }

    /// The lowest id with this name (as the registry's `by_name`).
    pub fn by_name(&self, name: &str) -> Option<&ClientInfo> {
        self.infos()
            .filter(|i| i.name() == Some(name))
            .min_by_key(|i| i.id)
    }

    pub fn by_addr(&self, addr: SocketAddr) -> Option<&ClientInfo> {
        self.infos().find(|i| i.addr == Some(addr))
    }

    pub fn infos(&self) -> impl Iterator<Item = &ClientInfo> {
        self.clients.values().map(|p| &p.member.info)
    }

    pub fn group<'a>(&'a self, group: &'a str) -> impl Iterator<Item = &'a ClientInfo> {
        self.infos().filter(move |i| i.group() == Some(group))
    }

    pub fn room<'a>(&'a self, room: &'a str) -> impl Iterator<Item = &'a ClientInfo> {
        self.clients
            .values()
            .map(|p| &p.member)
            .filter(move |m| m.rooms.iter().any(|r| &**r == room))
            .map(|m| &m.info)
    }

    pub fn rooms_of(&self, id: u64) -> Option<&[Arc<str>]> {
        self.clients.get(&id).map(|p| &p.member.rooms[..])
    }

    pub fn room_names(&self) -> impl Iterator<Item = &Arc<str>> {
        self.clients.values().flat_map(|p| p.member.rooms.iter())
    }

    /// A client of `node` joined; the one it replaces, if it was known
    /// already.
    pub fn insert(&mut self, node: NodeId, info: ClientInfo) -> Option<ClientInfo> {
        let member = Member {
            info,
            rooms: Vec::new(),
        };
        self.place(node, member).map(|old| old.info)
    }

    /// A client's session moved to `node` (with its rooms): no join, no
    /// leave; the client it replaces, if it was known.
    pub fn moved(&mut self, node: NodeId, member: Member) -> Option<ClientInfo> {
        self.place(node, member).map(|old| old.info)
    }

    fn place(&mut self, node: NodeId, member: Member) -> Option<Member> {
        let placed = Placed { node, member };
        self.clients
            .insert(placed.member.info.id, placed)
            .map(|old| old.member)
    }

    /// Forgets client `id` if it is on `node` (a leave announced by a node
    /// the client moved away from is stale).
    pub fn remove(&mut self, node: NodeId, id: u64) -> Option<ClientInfo> {
        match self.clients.get(&id) {
            Some(placed) if placed.node == node => self.clients.remove(&id).map(|p| p.member.info),
            _ => None,
        }
    }

    /// Forgets client `id`, wherever it was (it is this node's now).
    pub fn forget(&mut self, id: u64) {
        self.clients.remove(&id);
    }

    /// A client's new name or group; false when it is unknown or was
    /// known so already (a snapshot can bring a change before its
    /// announcement).
    pub fn update(&mut self, info: ClientInfo) -> bool {
        match self.clients.get_mut(&info.id) {
            Some(placed) if placed.member.info != info => {
                placed.member.info = info;
                true
            }
            _ => false,
        }
    }

    /// Puts a client in a room or takes it out; true when that changed
    /// anything.
    pub fn set_room(&mut self, id: u64, room: &str, joined: bool) -> bool {
        let Some(member) = self.clients.get_mut(&id).map(|p| &mut p.member) else {
            return false;
        };
        let at = member.rooms.iter().position(|r| &**r == room);
        match (joined, at) {
            (true, None) => member.rooms.push(Arc::from(room)),
            (false, Some(at)) => {
                member.rooms.swap_remove(at);
            }
            _ => return false,
        }
        true
    }

    /// Replaces everything known of `node`'s clients with `clients`. A
    /// client known on another node is taken over without a join: its
    /// session moved (and the snapshot is the newer word, or the next
    /// digest repairs it).
    pub fn replace_node(&mut self, node: NodeId, clients: Vec<Member>) -> Diff {
        let mut diff = Diff::default();
        let mut before = self.take_node(node);
        for member in clients {
            let elsewhere = self.clients.remove(&member.info.id).map(|p| p.member);
            match before.remove(&member.info.id).or(elsewhere) {
                None => diff.joined.push(member.info.clone()),
                Some(old) if old.info != member.info => diff.changed.push((
                    member.info.clone(),
                    old.info.name.clone(),
                    old.info.group.clone(),
                )),
                Some(_) => {}
            }
            self.place(node, member);
        }
        diff.left = before.into_values().map(|m| m.info).collect();
        diff
    }

    /// What this replica holds of `node`'s clients, as `node` computes it
    /// of its own (see [`digest`](super::digest)).
    pub fn digest_of(&self, node: NodeId) -> Digest {
        let mut digest = Digest::default();
        for placed in self.clients.values() {
            if placed.node != node {
                continue;
            }
            let member = &placed.member;
            digest.add_client(&member.info);
            for room in &member.rooms {
                digest.add_room(member.info.id, room);
            }
        }
        digest
    }

    /// Forgets every client of `node`, returning them.
    pub fn drop_node(&mut self, node: NodeId) -> Vec<ClientInfo> {
        let mut left: Vec<ClientInfo> =
            self.take_node(node).into_values().map(|m| m.info).collect();
        left.sort_by_key(|i| i.id);
        left
    }

    fn take_node(&mut self, node: NodeId) -> HashMap<u64, Member> {
        let ids: Vec<u64> = self
            .clients
            .iter()
            .filter(|(_, placed)| placed.node == node)
            .map(|(id, _)| *id)
            .collect();
        ids.into_iter()
            .filter_map(|id| self.clients.remove(&id).map(|p| (id, p.member)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::client_id_base;
    use super::*;
    use crate::transport::TransportKind;

    fn info(node: NodeId, n: u64, name: &str, group: Option<&str>) -> ClientInfo {
        ClientInfo {
            id: client_id_base(node) + n,
            name: Some(name.into()),
            group: group.map(Into::into),
            addr: None,
            transport: TransportKind::Tcp,
        }
    }

    #[test]
    fn look_ups_find_remote_clients() {
        let mut dir = Directory::default();
        dir.insert(2, info(2, 5, "bob", Some("g")));
        dir.insert(2, info(2, 1, "bob", None));
        dir.insert(3, info(3, 0, "cy", Some("g")));
        assert_eq!(
            dir.by_name("bob").map(|i| i.id),
            Some(client_id_base(2) + 1)
        );
        assert_eq!(dir.group("g").count(), 2);
        assert!(dir.set_room(client_id_base(3), "r", true));
        assert!(!dir.set_room(client_id_base(3), "r", true), "already in it");
        assert_eq!(dir.room("r").count(), 1);
        assert!(dir.set_room(client_id_base(3), "r", false));
        assert_eq!(dir.room("r").count(), 0);
    }

    #[test]
    fn a_snapshot_replaces_its_node_and_says_what_changed() {
        let mut dir = Directory::default();
        dir.insert(2, info(2, 0, "stays", None));
        dir.insert(2, info(2, 1, "goes", None));
        dir.insert(2, info(2, 2, "renamed", None));
        dir.insert(3, info(3, 0, "other node", None));
        dir.insert(3, info(3, 1, "moves to node 2", None));
        let snapshot = vec![
            Member {
                info: info(2, 0, "stays", None),
                rooms: vec![],
            },
            Member {
                info: info(2, 2, "new name", None),
                rooms: vec!["r".into()],
            },
            Member {
                info: info(2, 3, "new", None),
                rooms: vec![],
            },
            // Its session moved from node 3: no join.
            Member {
                info: info(3, 1, "moves to node 2", None),
                rooms: vec![],
            },
        ];
        let diff = dir.replace_node(2, snapshot);
        assert_eq!(diff.joined.len(), 1);
        assert_eq!(diff.joined[0].name(), Some("new"));
        assert_eq!(diff.left.len(), 1);
        assert_eq!(diff.left[0].name(), Some("goes"));
        assert_eq!(diff.changed.len(), 1);
        assert_eq!(diff.changed[0].1.as_deref(), Some("renamed"));
        assert_eq!(dir.len(), 5, "4 on node 2, 1 on node 3");
        assert_eq!(dir.node_of(info(3, 1, "", None).id), Some(2));
        assert_eq!(dir.room("r").count(), 1);
        assert_eq!(dir.drop_node(2).len(), 4);
        assert_eq!(dir.len(), 1);
    }

    #[test]
    fn a_moved_client_is_on_its_new_node_and_a_stale_leave_is_ignored() {
        let mut dir = Directory::default();
        let ada = info(2, 0, "ada", None);
        dir.insert(2, ada.clone());
        let member = Member {
            info: ada.clone(),
            rooms: vec!["r".into()],
        };
        assert!(dir.moved(3, member).is_some());
        assert_eq!(dir.node_of(ada.id), Some(3));
        assert_eq!(dir.rooms_of(ada.id).map(<[_]>::len), Some(1));
        assert!(dir.remove(2, ada.id).is_none(), "node 2 let go of it");
        assert_eq!(dir.digest_of(2), Digest::default());
        assert!(dir.remove(3, ada.id).is_some());
    }

    #[test]
    fn the_digest_of_a_node_covers_its_clients_and_their_rooms_only() {
        let mut dir = Directory::default();
        let ada = info(2, 0, "ada", Some("g"));
        dir.insert(2, ada.clone());
        dir.insert(3, info(3, 0, "other node", None));
        assert!(dir.set_room(ada.id, "r", true));
        // What node 2 computes of its own clients.
        let mut own = Digest::default();
        own.add_client(&ada);
        own.add_room(ada.id, "r");
        assert_eq!(dir.digest_of(2), own);
        assert!(dir.set_room(ada.id, "r", false));
        assert_ne!(dir.digest_of(2), own, "a room change shows");
        dir.remove(2, ada.id);
        assert_eq!(dir.digest_of(2), Digest::default());
        assert_eq!(dir.len(), 1);
    }
}
