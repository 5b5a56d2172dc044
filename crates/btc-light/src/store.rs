//! How the chain is persisted: a read trait the chain validates against, and the change sets
//! it returns for the caller to write.

use alloc::{collections::BTreeMap, string::String, vec::Vec};

use hashbrown::HashMap;

use crate::{header::BlockHash, rules::StoredHeader};

/// A storage failure, reported by the [`HeaderStore`] implementation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageError(pub String);

/// Read access to a persisted header chain.
pub trait HeaderStore {
    /// A header on any branch.
    ///
    /// # Errors
    /// Storage failures.
    fn header(&self, hash: &BlockHash) -> Result<Option<StoredHeader>, StorageError>;

    /// The best chain's header hash at `height`.
    ///
    /// # Errors
    /// Storage failures.
    fn best_hash(&self, height: u32) -> Result<Option<BlockHash>, StorageError>;

    /// The best chain's tip; `None` before the chain is initialised.
    ///
    /// # Errors
    /// Storage failures.
    fn tip(&self) -> Result<Option<StoredHeader>, StorageError>;

    /// The tips of the side branches (kept headers not on the best chain, without children).
    ///
    /// # Errors
    /// Storage failures.
    fn side_tips(&self) -> Result<Vec<BlockHash>, StorageError>;
}

/// A change of the best chain: an extension (nothing rolled back) or a reorganisation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BestChainUpdate {
    /// Height of the last header both chains share.
    pub fork_height: u32,
    /// Headers that left the best chain, from the old tip down.
    pub rolled_back: Vec<(u32, BlockHash)>,
    /// Headers that joined the best chain, from the fork up to the new tip.
    pub rolled_forward: Vec<(u32, BlockHash)>,
}

impl BestChainUpdate {
    /// Whether headers left the best chain.
    pub fn is_reorg(&self) -> bool {
        !self.rolled_back.is_empty()
    }
}

/// What a submission changes; applied by the caller, all at once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangeSet {
    /// New headers, on any branch, parents before children.
    pub added: Vec<StoredHeader>,
    /// The best chain's change, if any. Its `rolled_forward` entries are the new best-hash
    /// index entries; heights of `rolled_back` above the new tip leave the index.
    pub best: Option<BestChainUpdate>,
    /// The new tip, if it changed.
    pub tip: Option<BlockHash>,
    /// The new set of side-branch tips, if it changed.
    pub side_tips: Option<Vec<BlockHash>>,
    /// Side-branch headers removed because they fork below the pruning horizon.
    pub pruned: Vec<BlockHash>,
}

impl ChangeSet {
    /// Whether the submission changed nothing (every header was already known).
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.pruned.is_empty()
    }

    /// The best-hash index writes: `(height, Some(hash))` to set, `(height, None)` to remove.
    pub fn best_index_writes(&self, new_tip_height: u32) -> Vec<(u32, Option<BlockHash>)> {
        let Some(best) = &self.best else {
            return Vec::new();
        };
        best.rolled_back
            .iter()
            .filter(|(h, _)| *h > new_tip_height)
            .map(|(h, _)| (*h, None))
            .chain(
                best.rolled_forward
                    .iter()
                    .map(|(h, hash)| (*h, Some(*hash))),
            )
            .collect()
    }
}

/// An in-memory store, for tests, benchmarks and tools.
#[derive(Debug, Clone, Default)]
pub struct MemStore {
    headers: HashMap<BlockHash, StoredHeader>,
    best: BTreeMap<u32, BlockHash>,
    tip: Option<BlockHash>,
    side_tips: Vec<BlockHash>,
}

impl MemStore {
    /// Applies a change set.
    pub fn apply(&mut self, changes: &ChangeSet) {
        for h in &changes.added {
            self.headers.insert(h.hash, *h);
        }
        if let Some(tip) = changes.tip {
            self.tip = Some(tip);
        }
        let tip_height = self
            .tip
            .and_then(|t| self.headers.get(&t))
            .map_or(0, |h| h.height);
        for (height, hash) in changes.best_index_writes(tip_height) {
            match hash {
                Some(hash) => self.best.insert(height, hash),
                None => self.best.remove(&height),
            };
        }
        if let Some(side) = &changes.side_tips {
            self.side_tips.clone_from(side);
        }
        for hash in &changes.pruned {
            self.headers.remove(hash);
        }
    }

    /// Number of headers kept, on all branches.
    pub fn len(&self) -> usize {
        self.headers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn side_tips_for_tests(&self) -> &[BlockHash] {
        &self.side_tips
    }
}

impl HeaderStore for MemStore {
    fn header(&self, hash: &BlockHash) -> Result<Option<StoredHeader>, StorageError> {
        Ok(self.headers.get(hash).copied())
    }

    fn best_hash(&self, height: u32) -> Result<Option<BlockHash>, StorageError> {
        Ok(self.best.get(&height).copied())
    }

    fn tip(&self) -> Result<Option<StoredHeader>, StorageError> {
        Ok(self.tip.and_then(|t| self.headers.get(&t).copied()))
    }

    fn side_tips(&self) -> Result<Vec<BlockHash>, StorageError> {
        Ok(self.side_tips.clone())
    }
}
