//! Committed trie nodes kept in memory, so that a block's update reads few nodes from disk.

use alloy_primitives::map::HashMap;
use parking_lot::Mutex;

use super::node::{Nibbles, Node};

/// Nodes cached before the deep ones are dropped (about 150 bytes each).
const CAPACITY: usize = 1 << 20;
/// Depth kept when the cache is trimmed: the top of the tree, touched by every block.
const TRIM_TO_DEPTH: usize = 4;

/// Committed nodes by position. It only ever holds what the database holds: entries are
/// added when read from it and replaced after a block's writes reach it.
#[derive(Debug, Default)]
pub struct NodeCache {
    nodes: Mutex<HashMap<Nibbles, Node>>,
}

impl NodeCache {
    pub fn get(&self, at: &Nibbles) -> Option<Node> {
        self.nodes.lock().get(at).cloned()
    }

    /// Remembers a node just read from the database.
    pub fn insert(&self, at: Nibbles, node: Node) {
        let mut nodes = self.nodes.lock();
        Self::trim(&mut nodes);
        nodes.insert(at, node);
    }

    /// Applies a block's node writes, after they reached the database.
    pub fn apply(&self, writes: Vec<(Nibbles, Option<Node>)>) {
        let mut nodes = self.nodes.lock();
        for (at, node) in writes {
            match node {
                Some(node) => nodes.insert(at, node),
                None => nodes.remove(&at),
            };
        }
        Self::trim(&mut nodes);
    }

    fn trim(nodes: &mut HashMap<Nibbles, Node>) {
        if nodes.len() >= CAPACITY {
            nodes.retain(|at, _| at.depth() <= TRIM_TO_DEPTH);
        }
    }
}
