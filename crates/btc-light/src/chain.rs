//! The header chain: validation of submissions against a store, most-work fork choice,
//! side branches, reorganisations and pruning, and the queries the bridge needs.

use alloc::{collections::BTreeMap, string::ToString, vec::Vec};

use hashbrown::{HashMap, HashSet};

use crate::{
    header::{BlockHash, Header},
    params::Params,
    rules::{connect, StoredHeader, WorkMemo},
    store::{BestChainUpdate, ChangeSet, HeaderStore, StorageError},
    HeaderError, SubmitError,
};

/// A header chain: consensus rules, a store and a pruning horizon.
#[derive(Debug)]
pub struct Chain<'a, S: ?Sized> {
    params: &'a Params,
    store: &'a S,
    /// Side branches forking more than this many blocks below the tip are refused and dropped.
    horizon: u32,
}

impl From<StorageError> for HeaderError {
    fn from(e: StorageError) -> Self {
        HeaderError::Storage(e.0)
    }
}

impl<'a, S: HeaderStore + ?Sized> Chain<'a, S> {
    pub fn new(params: &'a Params, store: &'a S, horizon: u32) -> Self {
        Self {
            params,
            store,
            horizon,
        }
    }

    /// The change set that starts an empty store at `root` (genesis or a checkpoint).
    pub fn init(root: StoredHeader) -> ChangeSet {
        ChangeSet {
            added: alloc::vec![root],
            best: Some(BestChainUpdate {
                fork_height: root.height,
                rolled_back: Vec::new(),
                rolled_forward: alloc::vec![(root.height, root.hash)],
            }),
            tip: Some(root.hash),
            side_tips: Some(Vec::new()),
            pruned: Vec::new(),
        }
    }

    /// Validates `headers` (parents before children, any branch) at time `now` (the L2 block
    /// time) and returns what they change. Known headers are skipped; an empty change set
    /// means nothing was new.
    ///
    /// # Errors
    /// The first header that breaks a rule; then nothing of the submission applies.
    pub fn submit(&self, headers: &[Header], now: u32) -> Result<ChangeSet, SubmitError> {
        let at = |index: usize| move |error: HeaderError| SubmitError { index, error };
        let tip = self
            .store
            .tip()
            .map_err(HeaderError::from)
            .and_then(|t| t.ok_or(HeaderError::BadCheckpoint("the chain has no root yet")))
            .map_err(at(0))?;
        let lowest_fork = tip.height.saturating_sub(self.horizon);

        let mut overlay: HashMap<BlockHash, StoredHeader> = HashMap::with_capacity(headers.len());
        let mut added: Vec<StoredHeader> = Vec::with_capacity(headers.len());
        let mut has_child: HashSet<BlockHash> = HashSet::new();
        let mut best = tip;
        let mut memo = WorkMemo::default();
        for (i, header) in headers.iter().enumerate() {
            let hash = header.hash();
            if overlay.contains_key(&hash)
                || self
                    .store
                    .header(&hash)
                    .map_err(|e| at(i)(e.into()))?
                    .is_some()
            {
                continue;
            }
            let parent = match added.last() {
                Some(last) if last.hash == header.prev_hash => *last,
                _ => match overlay.get(&header.prev_hash) {
                    Some(p) => *p,
                    None => {
                        let p = self
                            .store
                            .header(&header.prev_hash)
                            .map_err(|e| at(i)(e.into()))?
                            .ok_or_else(|| at(i)(HeaderError::UnknownParent(header.prev_hash)))?;
                        if p.hash != tip.hash
                            && p.height < lowest_fork
                            && self.on_best(&p).map_err(at(i))?
                        {
                            return Err(at(i)(HeaderError::ForkBelowHorizon {
                                fork_height: p.height,
                                lowest: lowest_fork,
                            }));
                        }
                        p
                    }
                },
            };
            let stored =
                connect(self.params, &parent, header, hash, now, &mut memo).map_err(at(i))?;
            has_child.insert(parent.hash);
            overlay.insert(hash, stored);
            added.push(stored);
            // Strictly more work: a tie keeps the chain seen first.
            if stored.chain_work > best.chain_work {
                best = stored;
            }
        }
        if added.is_empty() {
            return Ok(ChangeSet::default());
        }
        self.finish(tip, best, added, &overlay, &has_child)
            .map_err(at(headers.len().saturating_sub(1)))
    }

    /// Best-chain update, side tips and pruning once a submission's headers are validated.
    fn finish(
        &self,
        tip: StoredHeader,
        best: StoredHeader,
        added: Vec<StoredHeader>,
        overlay: &HashMap<BlockHash, StoredHeader>,
        has_child: &HashSet<BlockHash>,
    ) -> Result<ChangeSet, HeaderError> {
        let lookup = |hash: &BlockHash| -> Result<StoredHeader, HeaderError> {
            match overlay.get(hash) {
                Some(h) => Ok(*h),
                None => self.store.header(hash)?.ok_or_else(|| {
                    HeaderError::Storage("a kept header's parent is missing".to_string())
                }),
            }
        };
        let update = if best.hash == tip.hash {
            None
        } else {
            let mut forward = Vec::new();
            let mut cursor = best;
            while !self.on_best(&cursor)? {
                forward.push((cursor.height, cursor.hash));
                cursor = lookup(&cursor.header.prev_hash)?;
            }
            forward.reverse();
            let fork_height = cursor.height;
            let mut back = Vec::new();
            for height in (fork_height + 1..=tip.height).rev() {
                if let Some(hash) = self.store.best_hash(height)? {
                    back.push((height, hash));
                }
            }
            Some(BestChainUpdate {
                fork_height,
                rolled_back: back,
                rolled_forward: forward,
            })
        };

        // Leaves of the kept tree: the old ones that got no child, plus new childless headers.
        let mut leaves: Vec<BlockHash> = self.store.side_tips()?;
        leaves.push(tip.hash);
        leaves.retain(|h| !has_child.contains(h));
        leaves.extend(
            added
                .iter()
                .map(|h| h.hash)
                .filter(|h| !has_child.contains(h)),
        );
        leaves.retain(|h| *h != best.hash);

        // The new best chain, for membership tests while pruning.
        let new_best: BTreeMap<u32, BlockHash> = update
            .as_ref()
            .map(|u| u.rolled_forward.iter().copied().collect())
            .unwrap_or_default();
        let fork_height = update.as_ref().map_or(best.height, |u| u.fork_height);
        let on_new_best = |h: &StoredHeader| -> Result<bool, HeaderError> {
            if h.height > best.height {
                return Ok(false);
            }
            if h.height > fork_height {
                return Ok(new_best.get(&h.height) == Some(&h.hash));
            }
            Ok(self.store.best_hash(h.height)? == Some(h.hash))
        };
        let lowest = best.height.saturating_sub(self.horizon);
        let mut pruned = alloc::collections::BTreeSet::new();
        let mut side_tips = Vec::with_capacity(leaves.len());
        for leaf in leaves {
            let mut branch = Vec::new();
            let mut cursor = lookup(&leaf)?;
            while !on_new_best(&cursor)? {
                branch.push(cursor.hash);
                cursor = lookup(&cursor.header.prev_hash)?;
            }
            if cursor.height < lowest {
                pruned.extend(branch);
            } else {
                side_tips.push(leaf);
            }
        }
        side_tips.sort_unstable();
        side_tips.dedup();
        Ok(ChangeSet {
            added,
            best: update,
            tip: (best.hash != tip.hash).then_some(best.hash),
            side_tips: Some(side_tips),
            pruned: pruned.into_iter().collect(),
        })
    }

    /// Whether `h` is on the store's best chain.
    fn on_best(&self, h: &StoredHeader) -> Result<bool, HeaderError> {
        Ok(self.store.best_hash(h.height)? == Some(h.hash))
    }

    /// The best chain's tip.
    ///
    /// # Errors
    /// Storage failures.
    pub fn tip(&self) -> Result<Option<StoredHeader>, HeaderError> {
        Ok(self.store.tip()?)
    }

    /// The best chain's header at `height`.
    ///
    /// # Errors
    /// Storage failures.
    pub fn header_at(&self, height: u32) -> Result<Option<StoredHeader>, HeaderError> {
        match self.store.best_hash(height)? {
            Some(hash) => Ok(self.store.header(&hash)?),
            None => Ok(None),
        }
    }

    /// A kept header by hash, on any branch.
    ///
    /// # Errors
    /// Storage failures.
    pub fn header(&self, hash: &BlockHash) -> Result<Option<StoredHeader>, HeaderError> {
        Ok(self.store.header(hash)?)
    }

    /// The height of `hash` if it is on the best chain.
    ///
    /// # Errors
    /// Storage failures.
    pub fn best_height_of(&self, hash: &BlockHash) -> Result<Option<u32>, HeaderError> {
        match self.store.header(hash)? {
            Some(h) if self.on_best(&h)? => Ok(Some(h.height)),
            _ => Ok(None),
        }
    }

    /// Confirmations of block `hash`: 1 for the tip, 0 when not on the best chain.
    ///
    /// # Errors
    /// Storage failures.
    pub fn confirmations(&self, hash: &BlockHash) -> Result<u32, HeaderError> {
        let (Some(height), Some(tip)) = (self.best_height_of(hash)?, self.store.tip()?) else {
            return Ok(0);
        };
        Ok(tip.height - height + 1)
    }
}
