//! A fast hasher for short keys that peers cannot choose the set of: the
//! handler tables, whose keys the application registers. A command name
//! from the wire is only looked up, never inserted, so a peer cannot fill
//! a table with colliding keys; SipHash's protection is not needed there,
//! and its cost (about a fifth of the dispatch time of a small event) is.
//!
//! The mixing step is the one of rustc's `FxHasher`.

use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` keyed through [`FxHasher`].
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Multiplies and rotates word by word: a few cycles per 8 bytes.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // The little-endian word of `rest` padded with zeros, built
            // byte by byte (a copy into a word would call memcpy).
            let word = rest
                .iter()
                .rev()
                .fold(0u64, |word, &byte| word << 8 | u64::from(byte));
            self.add(word ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    #[inline]
    fn write_u64(&mut self, word: u64) {
        self.add(word);
    }

    #[inline]
    fn write_usize(&mut self, word: usize) {
        self.add(word as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    fn hash(key: &str) -> u64 {
        BuildHasherDefault::<FxHasher>::default().hash_one(key)
    }

    #[test]
    fn distinct_short_names_hash_apart_and_maps_work() {
        let names = [
            "",
            "a",
            "b",
            "ab",
            "ba",
            "tick",
            "tock",
            "12345678",
            "123456789",
        ];
        let hashes: std::collections::HashSet<u64> = names.iter().map(|n| hash(n)).collect();
        assert_eq!(hashes.len(), names.len());
        let mut map: FastMap<String, usize> = FastMap::default();
        for (i, name) in names.iter().enumerate() {
            map.insert(name.to_string(), i);
        }
        for (i, name) in names.iter().enumerate() {
            assert_eq!(map.get(*name), Some(&i));
        }
        assert_eq!(map.get("nope"), None);
    }

    #[test]
    fn a_short_tail_is_mixed_in_as_its_zero_padded_little_endian_word() {
        let bytes = [0x11u8, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77];
        for len in 1..8 {
            let mut hasher = FxHasher::default();
            hasher.write(&bytes[..len]);
            let mut word = [0u8; 8];
            word[..len].copy_from_slice(&bytes[..len]);
            let mut expected = FxHasher::default();
            expected.add(u64::from_le_bytes(word) ^ ((len as u64) << 56));
            assert_eq!(hasher.finish(), expected.finish(), "tail of {len}");
        }
    }
}
