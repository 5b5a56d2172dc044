//! Applies a block's changes to the trie in one pass: each touched node is read once, each
//! changed node hashed once, and the writes come out in an order where the last one wins.

use alloy_primitives::B256;

use super::node::{nibble_at, Branch, Leaf, Nibbles, Node};
use crate::StoreError;

/// Where the committed nodes are read from.
pub trait NodeSource {
    /// The node at `at`, if there is one.
    ///
    /// # Errors
    /// Read failures and corrupt nodes.
    fn node(&self, at: &Nibbles) -> Result<Option<Node>, StoreError>;
}

/// One change: a key hash and the hash of its new value, `None` to delete the key.
pub type Change = (B256, Option<B256>);

/// The outcome of [`update`]: the new root and the node writes that produce it.
#[derive(Debug, Default)]
pub struct TrieUpdate {
    /// [`super::EMPTY_ROOT`] for an empty trie.
    pub root: B256,
    /// Puts (`Some`) and deletes (`None`) in order; a later write to a position wins.
    pub writes: Vec<(Nibbles, Option<Node>)>,
}

/// Applies `changes` (sorted by key, each key once) to the trie in `source`.
///
/// # Errors
/// Read failures, a missing or corrupt node, unsorted changes.
pub fn update(source: &impl NodeSource, changes: &[Change]) -> Result<TrieUpdate, StoreError> {
    if changes.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(StoreError::Corrupt(
            "trie changes must be sorted and unique",
        ));
    }
    let mut updater = Updater {
        source,
        writes: Vec::with_capacity(changes.len() * 2),
    };
    let old = source.node(&Nibbles::ROOT)?;
    if changes.is_empty() {
        return Ok(TrieUpdate {
            root: old.map_or(super::EMPTY_ROOT, |n| n.hash()),
            writes: Vec::new(),
        });
    }
    let existed = old.is_some();
    let new = updater.update(Nibbles::ROOT, old, changes)?;
    let root = match new {
        Some((node, hash)) => {
            updater.writes.push((Nibbles::ROOT, Some(node)));
            hash
        }
        None => {
            if existed {
                updater.writes.push((Nibbles::ROOT, None));
            }
            super::EMPTY_ROOT
        }
    };
    Ok(TrieUpdate {
        root,
        writes: updater.writes,
    })
}

/// A node with its hash, computed once.
type Hashed = (Node, B256);

struct Updater<'a, S> {
    source: &'a S,
    writes: Vec<(Nibbles, Option<Node>)>,
}

impl<S: NodeSource> Updater<'_, S> {
    /// The node replacing `existing` at `at` once `changes` (all under `at`) are applied. The
    /// writes below `at` are recorded; the caller writes the returned node at `at`.
    fn update(
        &mut self,
        at: Nibbles,
        existing: Option<Node>,
        changes: &[Change],
    ) -> Result<Option<Hashed>, StoreError> {
        let leaf = match existing {
            Some(Node::Branch(branch)) => return self.update_branch(at, branch, changes),
            Some(Node::Leaf(leaf)) => Some(leaf),
            None => None,
        };
        let entries = merge(leaf, changes);
        if let (Some(old), [only]) = (leaf, entries.as_slice()) {
            if old == *only {
                return Ok(Some((Node::Leaf(old), old.hash())));
            }
        }
        self.build(at, &entries)
    }

    fn update_branch(
        &mut self,
        at: Nibbles,
        mut branch: Branch,
        changes: &[Change],
    ) -> Result<Option<Hashed>, StoreError> {
        // The children just rewritten (`Some(None)` for a branch), in case one is left alone:
        // the database still holds their old versions.
        let mut rewritten: [Option<Option<Leaf>>; 16] = [None; 16];
        for (nibble, group) in Groups::new(changes, at.depth(), |c| &c.0) {
            let child_at = at.child(nibble);
            let old = if branch.has(nibble) {
                Some(self.load(&child_at)?)
            } else {
                None
            };
            let existed = old.is_some();
            match self.update(child_at, old, group)? {
                Some((node, hash)) => {
                    branch.set(nibble, Some(hash));
                    rewritten[usize::from(nibble)] = Some(match node {
                        Node::Leaf(leaf) => Some(leaf),
                        Node::Branch(_) => None,
                    });
                    self.writes.push((child_at, Some(node)));
                }
                None => {
                    branch.set(nibble, None);
                    if existed {
                        self.writes.push((child_at, None));
                    }
                }
            }
        }
        if branch.bitmap == 0 {
            return Ok(None);
        }
        if let Some(nibble) = branch.only_child() {
            // One key left below: its leaf moves up to this position (canonical form). A
            // lone branch child has two or more keys below it and stays where it is.
            let child_at = at.child(nibble);
            let leaf = match rewritten[usize::from(nibble)] {
                Some(rewritten) => rewritten,
                None => match self.load(&child_at)? {
                    Node::Leaf(leaf) => Some(leaf),
                    Node::Branch(_) => None,
                },
            };
            if let Some(leaf) = leaf {
                self.writes.push((child_at, None));
                return Ok(Some((Node::Leaf(leaf), leaf.hash())));
            }
        }
        let hash = branch.hash();
        Ok(Some((Node::Branch(branch), hash)))
    }

    /// A fresh subtree at `at` for `entries` (sorted, unique).
    fn build(&mut self, at: Nibbles, entries: &[Leaf]) -> Result<Option<Hashed>, StoreError> {
        match entries {
            [] => Ok(None),
            [one] => Ok(Some((Node::Leaf(*one), one.hash()))),
            _ => {
                if at.depth() >= 64 {
                    return Err(StoreError::Corrupt("trie: one key twice"));
                }
                let mut branch = Branch::default();
                for (nibble, group) in Groups::new(entries, at.depth(), |l| &l.key) {
                    let child_at = at.child(nibble);
                    if let Some((node, hash)) = self.build(child_at, group)? {
                        branch.set(nibble, Some(hash));
                        self.writes.push((child_at, Some(node)));
                    }
                }
                let hash = branch.hash();
                Ok(Some((Node::Branch(branch), hash)))
            }
        }
    }

    fn load(&self, at: &Nibbles) -> Result<Node, StoreError> {
        self.source
            .node(at)?
            .ok_or(StoreError::Corrupt("trie: a branch names a missing child"))
    }
}

/// The keys under a position after `changes`: the existing leaf (unless changed) merged with
/// the new values, sorted.
fn merge(mut leaf: Option<Leaf>, changes: &[Change]) -> Vec<Leaf> {
    let mut out = Vec::with_capacity(changes.len() + 1);
    for &(key, value) in changes {
        if let Some(old) = leaf {
            if old.key < key {
                out.push(old);
                leaf = None;
            } else if old.key == key {
                leaf = None;
            }
        }
        if let Some(value_hash) = value {
            out.push(Leaf { key, value_hash });
        }
    }
    out.extend(leaf);
    out
}

/// Splits a slice sorted by key into runs sharing the nibble at `depth`.
struct Groups<'a, T, F> {
    rest: &'a [T],
    depth: usize,
    key: F,
}

impl<'a, T, F: Fn(&T) -> &B256> Groups<'a, T, F> {
    fn new(items: &'a [T], depth: usize, key: F) -> Self {
        Self {
            rest: items,
            depth,
            key,
        }
    }
}

impl<'a, T, F: Fn(&T) -> &B256> Iterator for Groups<'a, T, F> {
    type Item = (u8, &'a [T]);

    fn next(&mut self) -> Option<Self::Item> {
        let first = self.rest.first()?;
        let nibble = nibble_at((self.key)(first), self.depth);
        let len = self
            .rest
            .iter()
            .position(|item| nibble_at((self.key)(item), self.depth) != nibble)
            .unwrap_or(self.rest.len());
        let (group, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some((nibble, group))
    }
}
