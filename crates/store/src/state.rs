//! The committed state: a key-value map whose latest version is committed by the state trie
//! and whose every version stays readable from the history column.

use alloy_primitives::B256;
use sha2::{Digest, Sha256};

use crate::{
    trie::{self, Change, Nibbles, Node, NodeSource},
    Batch, Column, Store, StoreError,
};

/// One change to the state: a key and its new value, `None` to delete it.
pub type StateChange = (Vec<u8>, Option<Vec<u8>>);

/// The hash under which a state key is stored and committed (SHA-256, as the trie hashes).
pub fn key_hash(key: &[u8]) -> B256 {
    sha256(key)
}

fn sha256(bytes: &[u8]) -> B256 {
    B256::from(<[u8; 32]>::from(Sha256::digest(bytes)))
}

/// A block's state changes with the trie writes they cause, ready to be staged in a [`Batch`].
#[derive(Debug)]
pub struct PreparedState {
    /// The trie root after the changes: the app hash.
    pub root: B256,
    version: u64,
    changes: Vec<(B256, Option<Vec<u8>>)>,
    /// Every node write, for the in-memory trie.
    writes: Vec<(Nibbles, Option<Node>)>,
    /// What the disk gets for the writes in the top (its branches never reach it).
    top_disk_writes: Vec<(Nibbles, Option<Node>)>,
}

impl PreparedState {
    /// Stages the values (latest and history) and the trie nodes.
    pub fn stage(self, batch: &mut Batch) {
        let below_top = self.writes.iter().filter(|(at, _)| !trie::is_top(at));
        for (at, node) in below_top.chain(&self.top_disk_writes) {
            match node {
                Some(node) => batch.put_owned(Column::Nodes, at.encode(), node.encode()),
                None => batch.delete(Column::Nodes, &at.encode()),
            }
        }
        batch.trie_writes.extend(self.writes);
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
                Some(v) => batch.put_owned(Column::Latest, hash.to_vec(), v),
                None => batch.delete(Column::Latest, hash.as_slice()),
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
        let hash = key_hash(key);
        // Read before looking anywhere, so a value read from disk is only cached if no block
        // was committed meanwhile (it could be older than that block's).
        let epoch = self.writer.epoch();
        // The cache first: a commit puts every value it writes there before it returns.
        if let Some(cached) = self.values.lock().get(&hash) {
            return Ok(cached);
        }
        if let Some(queued) = self.writer.find(Column::Latest, hash.as_slice()) {
            return Ok(queued);
        }
        let value = self.db.get_cf(self.cf(Column::Latest), hash.as_slice())?;
        let mut values = self.values.lock();
        if self.writer.epoch() == epoch {
            values.insert(hash, value.clone());
        }
        Ok(value)
    }

    /// Reads a state key as it was after block `version`.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure or a corrupt record.
    pub fn get_at(&self, key: &[u8], version: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let hash = key_hash(key);
        if let Some(queued) = self.writer.find_at(hash.as_slice(), version) {
            return Ok(queued);
        }
        let seek = history_key(&hash, version);
        let mode = rocksdb::IteratorMode::From(&seek, rocksdb::Direction::Reverse);
        let Some(item) = self.db.iterator_cf(self.cf(Column::History), mode).next() else {
            return Ok(None);
        };
        let (k, v) = item?;
        if k.len() != 40 || k[..32] != hash[..] {
            return Ok(None);
        }
        match v.split_first() {
            Some((1, value)) => Ok(Some(value.to_vec())),
            Some((0, [])) => Ok(None),
            _ => Err(StoreError::Corrupt("history value tag")),
        }
    }

    /// Computes the trie root after applying `changes` to the committed state; `version` is
    /// the height they belong to. Nothing is written until the result is staged and the batch
    /// is written.
    ///
    /// # Errors
    /// [`StoreError`] if the committed trie cannot be read or is corrupt.
    pub fn prepare_state(
        &self,
        changes: impl IntoIterator<Item = StateChange>,
        version: u64,
    ) -> Result<PreparedState, StoreError> {
        let started = std::time::Instant::now();
        let mut changes: Vec<(B256, Option<Vec<u8>>)> = changes
            .into_iter()
            .map(|(k, v)| (key_hash(&k), v))
            .collect();
        // Sorted and unique, as the trie wants them; the last write of a key wins.
        changes.sort_by_key(|c| c.0);
        changes.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                std::mem::swap(later, earlier);
                true
            } else {
                false
            }
        });
        let hashed: Vec<Change> = changes
            .iter()
            .map(|(k, v)| (*k, v.as_deref().map(sha256)))
            .collect();
        let hashed_at = started.elapsed();
        let source = CountingReads {
            store: self,
            disk_reads: std::cell::Cell::new(0),
        };
        let update = trie::update(&source, &hashed)?;
        tracing::debug!(
            target: "bevm::store",
            version,
            keys = hashed.len(),
            node_writes = update.writes.len(),
            disk_reads = source.disk_reads.get(),
            hashing = ?hashed_at,
            trie = ?(started.elapsed() - hashed_at),
            "state root"
        );
        Ok(PreparedState {
            root: update.root,
            version,
            changes,
            top_disk_writes: self.top.disk_writes(&update.writes),
            writes: update.writes,
        })
    }
}

/// The committed trie as the store holds it, counting the nodes that had to come from disk.
struct CountingReads<'a> {
    store: &'a Store,
    disk_reads: std::cell::Cell<usize>,
}

impl NodeSource for CountingReads<'_> {
    fn node(&self, at: &Nibbles) -> Result<Option<Node>, StoreError> {
        let store = self.store;
        if trie::is_top(at) {
            return Ok(store.top.get(at));
        }
        if let Some(node) = store.nodes.get(at) {
            return Ok(Some(node));
        }
        self.disk_reads.set(self.disk_reads.get() + 1);
        store.node_from_disk(at)
    }
}

impl Store {
    fn node_from_disk(&self, at: &Nibbles) -> Result<Option<Node>, StoreError> {
        let Some(bytes) = self.get_aux(Column::Nodes, &at.encode())? else {
            return Ok(None);
        };
        let node = Node::decode(&bytes)?;
        self.nodes.insert(*at, node.clone());
        Ok(Some(node))
    }
}

fn history_key(hash: &B256, version: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(40);
    key.extend_from_slice(hash.as_slice());
    key.extend_from_slice(&version.to_be_bytes());
    key
}
