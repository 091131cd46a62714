//! The crate's maps. Natively they are `HashMap`s; in the browser a list
//! searched in order does the same job for the handful of entries a client
//! keeps (its handlers, pending requests, streams) and keeps the `.wasm`
//! small (each `HashMap` type costs kilobytes of hashing and table code).

/// A map of the few entries a connection keeps (pending requests, streams).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type Map<K, V> = std::collections::HashMap<K, V>;

/// A map of the few entries a connection keeps (pending requests, streams).
#[cfg(target_arch = "wasm32")]
pub(crate) type Map<K, V> = VecMap<K, V>;

/// A map whose keys only the application inserts, such as the handler
/// tables: a command name from the wire is only looked up, never inserted,
/// so a peer cannot fill it with colliding keys. SipHash's protection is not
/// needed there, and its cost (about a fifth of the dispatch time of a small
/// event) is; natively it is hashed with rustc's `FxHasher`.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type FastMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// A map whose keys only the application inserts (see the native version).
#[cfg(target_arch = "wasm32")]
pub(crate) type FastMap<K, V> = VecMap<K, V>;

/// A map as a list of entries, for few keys.
#[cfg(target_arch = "wasm32")]
#[derive(Clone)]
pub(crate) struct VecMap<K, V> {
    entries: Vec<(K, V)>,
}

#[cfg(target_arch = "wasm32")]
impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

#[cfg(target_arch = "wasm32")]
#[allow(dead_code)]
impl<K: Eq, V> VecMap<K, V> {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn position<Q: Eq + ?Sized>(&self, key: &Q) -> Option<usize>
    where
        K: std::borrow::Borrow<Q>,
    {
        self.entries.iter().position(|(k, _)| k.borrow() == key)
    }

    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.position(&key) {
            Some(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    pub(crate) fn get<Q: Eq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: std::borrow::Borrow<Q>,
    {
        self.position(key).map(|i| &self.entries[i].1)
    }

    pub(crate) fn get_mut<Q: Eq + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: std::borrow::Borrow<Q>,
    {
        self.position(key).map(|i| &mut self.entries[i].1)
    }

    pub(crate) fn contains_key<Q: Eq + ?Sized>(&self, key: &Q) -> bool
    where
        K: std::borrow::Borrow<Q>,
    {
        self.position(key).is_some()
    }

    pub(crate) fn remove<Q: Eq + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
    {
        self.position(key).map(|i| self.entries.swap_remove(i).1)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn drain(&mut self) -> std::vec::Drain<'_, (K, V)> {
        self.entries.drain(..)
    }

    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }

    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.iter_mut().map(|(_, v)| v)
    }
}
