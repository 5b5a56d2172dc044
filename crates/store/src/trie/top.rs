//! The top of the trie, kept in memory.
//!
//! Branches above [`TOP_DEPTH`] (69,905 positions) are rewritten whenever a key below them
//! changes: with a state of a million keys a block of 6,000 changed keys rewrites ~10,000 of
//! them, about 3 MB. Storing them would be most of a block's writes, for nodes that are rebuilt
//! from the ones below in about a second (a million keys). So branches above that depth are
//! never stored; leaves above it are (nothing else could restore them), and so is everything
//! at and below it. [`TopNodes::rebuild`] restores the top when the store opens. The table
//! costs about 5 MB plus the branches' child hashes (at most 16 × 32 bytes each, ~35 MB).

use alloy_primitives::{map::HashMap, B256};
use parking_lot::Mutex;

use super::node::{Branch, Nibbles, Node};
use crate::StoreError;

/// Positions shallower than this are "the top".
pub const TOP_DEPTH: usize = 5;

/// Whether `at` is in the top of the trie.
pub fn is_top(at: &Nibbles) -> bool {
    at.depth() < TOP_DEPTH
}

/// Positions in the top: 1 + 16 + 256 + 4,096 + 65,536.
const TOP_POSITIONS: usize = ((1 << (4 * TOP_DEPTH)) - 1) / 15;

/// Where the node at `at` (in the top) sits in [`TopNodes`]: depth by depth, each depth's
/// positions in nibble order.
fn slot(at: &Nibbles) -> usize {
    debug_assert!(is_top(at));
    let above = ((1usize << (4 * at.depth())) - 1) / 15;
    above + at.prefix_value() as usize
}

/// Every node above [`TOP_DEPTH`], in a table indexed by position: an empty slot is an empty
/// position.
#[derive(Debug)]
pub struct TopNodes {
    nodes: Mutex<Vec<Option<Node>>>,
}

impl Default for TopNodes {
    fn default() -> Self {
        Self {
            nodes: Mutex::new(vec![None; TOP_POSITIONS]),
        }
    }
}

impl TopNodes {
    pub fn get(&self, at: &Nibbles) -> Option<Node> {
        self.nodes.lock()[slot(at)].clone()
    }

    /// Applies a block's writes to the top, in order (all of them must be in the top).
    pub fn apply(&self, writes: impl IntoIterator<Item = (Nibbles, Option<Node>)>) {
        let mut nodes = self.nodes.lock();
        for (at, node) in writes {
            nodes[slot(&at)] = node;
        }
    }

    /// What the disk gets for the top's part of a block's writes (in order, a later write to
    /// a position wins): the final leaf of a position, or the delete of a stored leaf that a
    /// branch or nothing replaced. Writes below the top go to the disk as they are.
    pub fn disk_writes(&self, writes: &[(Nibbles, Option<Node>)]) -> Vec<(Nibbles, Option<Node>)> {
        let nodes = self.nodes.lock();
        let mut written = vec![false; TOP_POSITIONS];
        let mut out = Vec::new();
        // Newest first, so the first write seen at a position is its final one.
        for (at, node) in writes.iter().rev().filter(|(at, _)| is_top(at)) {
            let slot = slot(at);
            if std::mem::replace(&mut written[slot], true) {
                continue;
            }
            match node {
                Some(Node::Leaf(leaf)) => out.push((*at, Some(Node::Leaf(*leaf)))),
                _ if matches!(nodes[slot], Some(Node::Leaf(_))) => out.push((*at, None)),
                _ => {}
            }
        }
        out.reverse();
        out
    }

    /// Rebuilds the top from the stored nodes at positions up to [`TOP_DEPTH`] (any order;
    /// deeper ones are ignored). Returns it with the root hash (`None` for an empty trie) and
    /// the stored nodes it ignored as stale: branches in the top, which are never stored
    /// (older databases did store them).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if a stored leaf sits where nodes below it exist.
    pub fn rebuild(
        stored: impl IntoIterator<Item = (Nibbles, Node)>,
    ) -> Result<(Self, Option<B256>, Vec<Nibbles>), StoreError> {
        let mut levels: Vec<HashMap<Nibbles, Node>> =
            (0..=TOP_DEPTH).map(|_| HashMap::default()).collect();
        let mut stale = Vec::new();
        for (at, node) in stored {
            if is_top(&at) && matches!(node, Node::Branch(_)) {
                stale.push(at);
            } else if at.depth() <= TOP_DEPTH {
                levels[at.depth()].insert(at, node);
            }
        }
        for depth in (0..TOP_DEPTH).rev() {
            let mut branches: HashMap<Nibbles, Branch> = HashMap::default();
            for (at, node) in &levels[depth + 1] {
                branches
                    .entry(at.parent())
                    .or_default()
                    .set(at.last_nibble(), Some(node.hash()));
            }
            for (at, branch) in branches {
                if levels[depth].insert(at, Node::Branch(branch)).is_some() {
                    return Err(StoreError::Corrupt("trie: a stored leaf above other nodes"));
                }
            }
        }
        let root = levels[0].get(&Nibbles::ROOT).map(Node::hash);
        let top = Self::default();
        {
            let mut nodes = top.nodes.lock();
            for (at, node) in levels.into_iter().take(TOP_DEPTH).flatten() {
                nodes[slot(&at)] = Some(node);
            }
        }
        Ok((top, root, stale))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_top_position_has_a_slot_of_its_own() {
        let mut seen = vec![false; TOP_POSITIONS];
        let mut level = vec![Nibbles::ROOT];
        for _ in 0..TOP_DEPTH {
            for at in &level {
                assert!(!std::mem::replace(&mut seen[slot(at)], true), "{at:?}");
            }
            level = level
                .iter()
                .flat_map(|at| (0..16).map(move |n| at.child(n)))
                .collect();
        }
        assert!(seen.iter().all(|s| *s));
    }
}
