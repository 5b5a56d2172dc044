//! Committed trie nodes kept in memory, so that a block's update reads few nodes from disk.

use parking_lot::Mutex;

use super::node::{Nibbles, Node};
use crate::cache::GenerationalCache;

/// Nodes kept (about 150 bytes each). The nodes every block touches, near the root, stay.
const CAPACITY: usize = 1 << 20;

/// Committed nodes by position. It only ever holds committed nodes: entries are added when
/// read from the store and replaced when a block's writes are handed to it.
#[derive(Debug)]
pub struct NodeCache {
    nodes: Mutex<GenerationalCache<Nibbles, Node>>,
}

impl Default for NodeCache {
    fn default() -> Self {
        Self {
            nodes: Mutex::new(GenerationalCache::new(CAPACITY)),
        }
    }
}

impl NodeCache {
    pub fn get(&self, at: &Nibbles) -> Option<Node> {
        self.nodes.lock().get(at)
    }

    /// Remembers a node just read from the store.
    pub fn insert(&self, at: Nibbles, node: Node) {
        self.nodes.lock().insert(at, node);
    }

    /// Applies a block's node writes.
    pub fn apply(&self, writes: impl IntoIterator<Item = (Nibbles, Option<Node>)>) {
        let mut nodes = self.nodes.lock();
        for (at, node) in writes {
            match node {
                Some(node) => nodes.insert(at, node),
                None => nodes.remove(&at),
            }
        }
    }
}
