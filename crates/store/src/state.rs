//! The committed state: a versioned key-value map under a Jellyfish Merkle tree.

use alloy_primitives::B256;
use jmt::{
    storage::{LeafNode, Node, NodeKey, TreeReader, TreeUpdateBatch},
    JellyfishMerkleTree, KeyHash, OwnedValue, Version,
};
use sha2::{Digest, Sha256};

use crate::{Batch, Column, Store, StoreError};

/// One change to the state: a key and its new value, `None` to delete it.
pub type StateChange = (Vec<u8>, Option<Vec<u8>>);

/// The hash under which a state key is stored and committed (SHA-256, as the tree hashes).
pub fn key_hash(key: &[u8]) -> KeyHash {
    KeyHash(Sha256::digest(key).into())
}

/// A block's state changes with the tree updates they cause, ready to be staged in a [`Batch`].
#[derive(Debug)]
pub struct PreparedState {
    /// The Merkle root after the changes: the app hash.
    pub root: B256,
    version: Version,
    changes: Vec<(KeyHash, Option<OwnedValue>)>,
    tree: TreeUpdateBatch,
}

impl PreparedState {
    /// Stages the values (latest and history) and the new tree nodes.
    pub fn stage(self, batch: &mut Batch) {
        for (node_key, node) in self.tree.node_batch.nodes() {
            batch.put_owned(Column::Nodes, encode_node_key(node_key), borsh_bytes(node));
        }
        for (hash, value) in self.changes {
            let mut history_value = Vec::with_capacity(1 + value.as_ref().map_or(0, Vec::len));
            match &value {
                Some(v) => {
                    history_value.push(1);
                    history_value.extend_from_slice(v);
                }
                None => history_value.push(0),
            }
            batch.put_owned(
                Column::History,
                history_key(&hash, self.version),
                history_value,
            );
            match value {
                Some(v) => batch.put_owned(Column::Latest, hash.0.to_vec(), v),
                None => batch.delete(Column::Latest, &hash.0),
            }
        }
    }
}

impl Store {
    /// Reads the latest committed value of a state key.
    ///
    /// # Errors
    /// [`StoreError::Db`] on a read failure.
    pub fn get_latest(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_aux(Column::Latest, &key_hash(key).0)
    }

    /// Reads a state key as it was after block `version`.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure or a corrupt record.
    pub fn get_at(&self, key: &[u8], version: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_hashed_at(key_hash(key), version)
    }

    fn get_hashed_at(&self, hash: KeyHash, version: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let seek = history_key(&hash, version);
        let mode = rocksdb::IteratorMode::From(&seek, rocksdb::Direction::Reverse);
        let Some(item) = self.db.iterator_cf(self.cf(Column::History), mode).next() else {
            return Ok(None);
        };
        let (k, v) = item?;
        if k.len() != 40 || k[..32] != hash.0 {
            return Ok(None);
        }
        match v.split_first() {
            Some((1, value)) => Ok(Some(value.to_vec())),
            Some((0, [])) => Ok(None),
            _ => Err(StoreError::Corrupt("history value tag")),
        }
    }

    /// Computes the Merkle root after applying `changes` on top of the state at `version - 1`
    /// (or on an empty tree for version 0). Nothing is written until the result is staged and
    /// the batch is written.
    ///
    /// # Errors
    /// [`StoreError::Tree`] if the tree at `version - 1` is missing or corrupt.
    pub fn prepare_state(
        &self,
        changes: impl IntoIterator<Item = StateChange>,
        version: u64,
    ) -> Result<PreparedState, StoreError> {
        let mut changes: Vec<(KeyHash, Option<OwnedValue>)> = changes
            .into_iter()
            .map(|(k, v)| (key_hash(&k), v))
            .collect();
        // Sorted and unique: the tree applies keys in order, and the last write of a key wins.
        changes.sort_by_key(|c| c.0);
        changes.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                std::mem::swap(later, earlier);
                true
            } else {
                false
            }
        });
        let reader = TreeView(self);
        let tree = JellyfishMerkleTree::<_, Sha256>::new(&reader);
        let (root, tree_batch) = tree
            .put_value_set(changes.iter().cloned(), version)
            .map_err(|e| StoreError::Tree(format!("{e:#}")))?;
        Ok(PreparedState {
            root: B256::from(root.0),
            version,
            changes,
            tree: tree_batch,
        })
    }
}

/// Reads the tree through the store, for the `jmt` algorithms.
struct TreeView<'a>(&'a Store);

impl TreeReader for TreeView<'_> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        let Some(bytes) = self.0.get_aux(Column::Nodes, &encode_node_key(node_key))? else {
            return Ok(None);
        };
        Ok(Some(borsh::from_slice(&bytes)?))
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        Ok(self.0.get_hashed_at(key_hash, max_version)?)
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        anyhow::bail!("tree restoration from a snapshot is not supported")
    }
}

fn history_key(hash: &KeyHash, version: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(40);
    key.extend_from_slice(&hash.0);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

fn encode_node_key(key: &NodeKey) -> Vec<u8> {
    borsh_bytes(key)
}

fn borsh_bytes<T: borsh::BorshSerialize>(value: &T) -> Vec<u8> {
    borsh::to_vec(value).expect("borsh serialization into a Vec cannot fail")
}
