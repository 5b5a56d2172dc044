//! The state trie: a canonical 16-ary Merkle tree over SHA-256 key hashes, whose root is the
//! app hash.
//!
//! - A position (a prefix of key-hash nibbles) holds a **leaf** when exactly one key has that
//!   prefix, a **branch** when two or more do, nothing otherwise. The shape, and so the root,
//!   depends only on the set of keys and values, never on the order of the writes.
//! - `leaf = sha256(0x00 ‖ key hash ‖ sha256(value))`,
//!   `branch = sha256(0x01 ‖ bitmap (u16 BE) ‖ present children's hashes in nibble order)`;
//!   the empty trie's root is 32 zero bytes. The tags keep a leaf from passing as a branch.
//! - Nodes are stored by position and rewritten in place, so the tree costs one node per
//!   position whatever the history; values of past heights stay readable from the history
//!   column (see [`crate::Store::get_at`]), the tree commits to the latest state only.
//! - Branches above depth [`top::TOP_DEPTH`] live only in memory ([`TopNodes`]) and are
//!   rebuilt when the store opens; most other reads hit [`NodeCache`].

mod cache;
mod node;
mod top;
mod update;

#[cfg(test)]
mod tests;

pub use cache::NodeCache;
pub use node::{Branch, Leaf, Nibbles, Node};
pub use top::{is_top, TopNodes, TOP_DEPTH};
pub use update::{update, Change, NodeSource, TrieUpdate};

use alloy_primitives::B256;

/// The root of a trie with no keys.
pub const EMPTY_ROOT: B256 = B256::ZERO;
