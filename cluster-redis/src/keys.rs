//! The names of the adapter's keys and channels in Redis, under its
//! namespace.

use hisock::server::cluster::{NodeId, Route};

pub(crate) struct Keys {
    namespace: String,
    /// `{ns}:all`, made once: it is on every broadcast's path.
    all: String,
}

impl Keys {
    pub fn new(namespace: &str) -> Self {
        Keys {
            namespace: namespace.to_owned(),
            all: format!("{namespace}:all"),
        }
    }

    /// The channel a message for `route` is published on.
    pub fn channel(&self, route: Route) -> String {
        match route {
            Route::All => self.all.clone(),
            Route::Node(node) => self.node_channel(node),
        }
    }

    pub fn all_channel(&self) -> &str {
        &self.all
    }

    pub fn node_channel(&self, node: NodeId) -> String {
        format!("{}:node:{node}", self.namespace)
    }

    /// The heartbeat key of `node`, with the heartbeat window as its TTL.
    pub fn alive(&self, node: NodeId) -> String {
        format!("{}:alive:{node}", self.namespace)
    }

    /// The set of node numbers seen.
    pub fn nodes(&self) -> String {
        format!("{}:nodes", self.namespace)
    }

    /// The counter that hands out node numbers.
    pub fn node_seq(&self) -> String {
        format!("{}:node-seq", self.namespace)
    }
}
