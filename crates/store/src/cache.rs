//! A bounded cache that keeps what was used recently, without per-entry bookkeeping.
//!
//! Two generations: lookups and inserts go to the young one; when it is full it becomes the
//! old one and the previous old one is emptied, to be the next young one. A hit in the old generation moves the entry
//! back to the young one. Whatever a block touches every time (the top of the trie, busy
//! accounts) therefore stays, and the cache never drops everything at once.

use std::{hash::Hash, sync::Arc};

use alloy_primitives::map::HashMap;
use parking_lot::Mutex;

/// An emptied generation waiting to be the next young one.
type Spare<K, V> = Arc<Mutex<Option<HashMap<K, V>>>>;

#[derive(Debug)]
pub(crate) struct GenerationalCache<K, V> {
    young: HashMap<K, V>,
    old: HashMap<K, V>,
    /// Entries per generation: the cache holds at most twice this many.
    generation: usize,
    /// The generation dropped last, emptied on another thread with its room kept: the next
    /// young generation starts with it. Every generation after the first starts with room
    /// for all its entries (never rehashes), and from the fourth on it also reuses pages
    /// already faulted in.
    spare: Spare<K, V>,
}

impl<K: Hash + Eq + Send + 'static, V: Clone + Send + 'static> GenerationalCache<K, V> {
    pub(crate) fn new(capacity: usize) -> Self {
        let generation = (capacity / 2).max(1);
        Self {
            // The first generation grows as it fills: sized for a whole generation up front,
            // mimalloc commits it at once (130 MB more for a node with a small state).
            young: HashMap::default(),
            old: HashMap::default(),
            generation,
            spare: Arc::default(),
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
            // The first spare is the never-filled initial old generation, with no room: a
            // generation started from it would grow (rehash) all the way.
            let spare = self.spare.lock().take();
            let fresh = spare
                .filter(|map| map.capacity() >= self.generation)
                .unwrap_or_else(|| {
                    HashMap::with_capacity_and_hasher(self.generation, Default::default())
                });
            let full = std::mem::replace(&mut self.young, fresh);
            let dropped = std::mem::replace(&mut self.old, full);
            recycle_elsewhere(dropped, self.spare.clone());
        }
        // An older copy in the old generation is never seen: lookups try the young one
        // first, and the old one is dropped before the young one takes its place.
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

/// Empties a dropped generation (hundreds of thousands of entries) on a thread of its own, so
/// the block that filled the cache does not wait for it, and leaves it as the spare.
fn recycle_elsewhere<K, V>(mut map: HashMap<K, V>, spare: Spare<K, V>)
where
    K: Send + 'static,
    V: Send + 'static,
{
    let empty = move || {
        map.clear();
        *spare.lock() = Some(map);
    };
    let spawned = std::thread::Builder::new()
        .name("bevm-cache-drop".into())
        .spawn(empty);
    // Without a thread (resource limits) the map is dropped here and the next generation
    // starts with a new one: slower, same result.
    if let Err(e) = spawned {
        tracing::debug!(target: "bevm::store", error = %e, "dropping a cache generation inline");
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

    /// Waits for the dropped generation to come back as the spare (10 s at most: a thread
    /// that cannot be spawned must fail the test, not hang it).
    fn wait_for_spare<K, V>(cache: &GenerationalCache<K, V>) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while cache.spare.lock().is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "the dropped generation never came back"
            );
            std::thread::yield_now();
        }
    }

    #[test]
    fn every_generation_after_the_first_starts_with_room_for_all_its_entries() {
        let mut cache = GenerationalCache::new(2000);
        for i in 0..10_000u32 {
            cache.insert(i, i);
            if cache.young.len() == 1 {
                // A generation just started: after the first it never has to grow.
                if i >= 1000 {
                    assert!(cache.young.capacity() >= 1000, "generation at {i}");
                }
                // Let the dropped generation be emptied, as a block's time allows.
                if i >= 1000 {
                    wait_for_spare(&cache);
                }
            }
        }
    }

    #[test]
    fn a_recycled_generation_comes_back_empty() {
        let mut cache = GenerationalCache::new(4);
        for i in 0..40u32 {
            cache.insert(i, i);
            if i % 2 == 1 && i > 4 {
                // Let the dropped generation be emptied, so the next one reuses it.
                wait_for_spare(&cache);
            }
            assert!(cache.len() <= 4, "{} entries after {i}", cache.len());
        }
        assert!((0..36).all(|i| cache.get(&i).is_none()));
        assert_eq!((cache.get(&38), cache.get(&39)), (Some(38), Some(39)));
    }
}
