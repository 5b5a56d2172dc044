//! A bounded cache that keeps what was used recently, without per-entry bookkeeping.
//!
//! Two generations: lookups and inserts go to the young one; when it is full it becomes the
//! old one and the previous old one is dropped. A hit in the old generation moves the entry
//! back to the young one. Whatever a block touches every time (the top of the trie, busy
//! accounts) therefore stays, and the cache never drops everything at once.

use std::hash::Hash;

use alloy_primitives::map::HashMap;

#[derive(Debug)]
pub(crate) struct GenerationalCache<K, V> {
    young: HashMap<K, V>,
    old: HashMap<K, V>,
    /// Entries per generation: the cache holds at most twice this many.
    generation: usize,
}

impl<K: Hash + Eq + Send + 'static, V: Clone + Send + 'static> GenerationalCache<K, V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            young: HashMap::default(),
            old: HashMap::default(),
            generation: (capacity / 2).max(1),
        }
    }

    pub(crate) fn get(&mut self, key: &K) -> Option<V> {
        if let Some(v) = self.young.get(key) {
            return Some(v.clone());
        }
        let (key, value) = self.old.remove_entry(key)?;
        self.insert(key, value.clone());
        Some(value)
    }

    pub(crate) fn insert(&mut self, key: K, value: V) {
        if self.young.len() >= self.generation && !self.young.contains_key(&key) {
            let dropped = std::mem::replace(&mut self.old, std::mem::take(&mut self.young));
            drop_elsewhere(dropped);
        }
        self.old.remove(&key);
        self.young.insert(key, value);
    }

    pub(crate) fn remove(&mut self, key: &K) {
        self.young.remove(key);
        self.old.remove(key);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }
}

/// Frees a dropped generation (hundreds of thousands of entries) on a thread of its own, so
/// the block that filled the cache does not wait for it.
fn drop_elsewhere<T: Send + 'static>(value: T) {
    let spawned = std::thread::Builder::new()
        .name("bevm-cache-drop".into())
        .spawn(move || drop(value));
    // Without a thread (resource limits), the caller's thread frees it: slower, same result.
    if let Err(e) = spawned {
        tracing::debug!(target: "bevm::store", error = %e, "freeing a cache generation inline");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_keeps_what_is_used() {
        let mut cache = GenerationalCache::new(10);
        cache.insert(0u32, "hot");
        for i in 1..1000u32 {
            cache.insert(i, "cold");
            // The hot entry is used all the time, as the root of the trie is.
            assert_eq!(cache.get(&0), Some("hot"));
            assert!(cache.len() <= 10, "{} entries", cache.len());
        }
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.get(&999), Some("cold"));
    }

    #[test]
    fn insert_replaces_and_remove_forgets() {
        let mut cache = GenerationalCache::new(4);
        cache.insert(1u8, 1u8);
        cache.insert(2, 2);
        cache.insert(3, 3); // 1 and 2 move to the old generation
        cache.insert(1, 10);
        assert_eq!(cache.get(&1), Some(10));
        cache.remove(&2);
        assert_eq!(cache.get(&2), None);
        assert_eq!(cache.get(&3), Some(3));
    }
}
