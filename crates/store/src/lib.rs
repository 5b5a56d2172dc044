//! RocksDB-backed storage for a bevm node.
//!
//! - **State** is a versioned key-value map: the [`trie`] commits to its latest version, and
//!   the trie's root after block `h` is the app hash of height `h`. Every version stays
//!   readable ([`Store::get_at`]), so RPC can answer for past block numbers.
//! - **Auxiliary columns** hold data derived from execution (blocks, receipts, the tx index,
//!   contract code by hash), outside the commitment.
//! - **Atomicity**: everything a block changes goes into one [`Batch`], written as a single
//!   RocksDB write batch together with the new committed height. [`Store::write`] queues it
//!   for a writer thread and returns (see [`writer`]); reads see queued batches at once. A
//!   process killed at any moment leaves the database whole at some committed height, never
//!   in between; CometBFT's handshake then replays the blocks after it.
//! - **Caches**: the trie nodes and the latest state values a block touches are kept in
//!   memory ([`cache`]), so execution and the state root rarely read RocksDB.
//! - **Memory**: a process that runs the store sets its allocators up for a block's worth
//!   of memory freed and reused every block ([`memory`]).

#![forbid(unsafe_code)]

mod batch;
mod cache;
mod error;
pub mod memory;
mod state;
pub mod trie;
mod writer;

pub use batch::{Batch, Column};
pub use error::StoreError;
pub use state::{key_hash, PreparedState, StateChange};

use std::{path::Path, sync::Arc};

use alloy_primitives::B256;
use parking_lot::Mutex;
use rocksdb::{ColumnFamilyDescriptor, Options, DB};

use crate::{cache::GenerationalCache, writer::Writer};

const META_HEIGHT: &[u8] = b"height";
const META_APP_HASH: &[u8] = b"app_hash";
/// Latest state values kept in memory (an account record or a slot: under 100 bytes each).
const VALUE_CACHE_ENTRIES: usize = 1 << 18;

/// Latest values by key hash; `None` caches that a key does not exist.
type ValueCache = Mutex<GenerationalCache<B256, Option<Vec<u8>>>>;

/// A handle to the node's database. Cheap to clone; safe to share between the consensus thread
/// and RPC readers.
#[derive(Clone)]
pub struct Store {
    db: Arc<DB>,
    nodes: Arc<trie::NodeCache>,
    top: Arc<trie::TopNodes>,
    values: Arc<ValueCache>,
    writer: Arc<Writer>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.db.path())
            .finish()
    }
}

/// The last committed height and app hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub height: u64,
    pub app_hash: B256,
}

impl Store {
    /// Opens (or creates) the database at `path`.
    ///
    /// # Errors
    /// [`StoreError::Db`] if RocksDB cannot open it (wrong path, lock held by another process).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.increase_parallelism(2);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        // Blocks are written without a write-ahead log (see `writer`): every column family
        // then flushes together, so the files on disk always hold whole blocks.
        opts.set_atomic_flush(true);
        let cfs = Column::ALL
            .iter()
            .map(|c| ColumnFamilyDescriptor::new(c.name(), c.options()));
        let db = Arc::new(DB::open_cf_descriptors(&opts, path.as_ref(), cfs)?);
        let mut store = Self {
            writer: Arc::new(Writer::start(db.clone())?),
            db,
            nodes: Arc::default(),
            top: Arc::default(),
            values: Arc::new(Mutex::new(GenerationalCache::new(VALUE_CACHE_ENTRIES))),
        };
        store.rebuild_top()?;
        Ok(store)
    }

    /// Restores the in-memory top of the trie from the nodes below it and checks that it
    /// gives the committed app hash.
    fn rebuild_top(&mut self) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let mut stored = Vec::new();
        // Keys start with the depth, so the nodes down to the top's depth come first.
        let mode = rocksdb::IteratorMode::Start;
        for item in self.db.iterator_cf(self.cf(Column::Nodes), mode) {
            let (key, value) = item?;
            if key
                .first()
                .is_some_and(|&depth| usize::from(depth) > trie::TOP_DEPTH)
            {
                break;
            }
            stored.push((trie::Nibbles::decode(&key)?, trie::Node::decode(&value)?));
        }
        for (at, node) in &stored {
            if at.depth() == trie::TOP_DEPTH {
                self.nodes.insert(*at, node.clone());
            }
        }
        let (top, root, stale) = trie::TopNodes::rebuild(stored)?;
        let expected = self.committed()?.map(|c| c.app_hash);
        if expected.is_some_and(|hash| hash != root.unwrap_or(trie::EMPTY_ROOT)) {
            return Err(StoreError::Corrupt(
                "the state trie does not give the committed app hash",
            ));
        }
        self.top = Arc::new(top);
        if !stale.is_empty() {
            // Only after the root checked out: these nodes are ignored either way, so a
            // crash before they are gone only means deleting them at the next start.
            let mut batch = rocksdb::WriteBatch::default();
            for at in &stale {
                batch.delete_cf(self.cf(Column::Nodes), at.encode());
            }
            self.db.write(batch)?;
        }
        tracing::debug!(
            target: "bevm::store",
            took = ?started.elapsed(),
            stale_branches_deleted = stale.len(),
            "trie top rebuilt"
        );
        Ok(())
    }

    /// The last committed height and app hash, or `None` for a fresh store.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure or a corrupt meta record.
    pub fn committed(&self) -> Result<Option<Committed>, StoreError> {
        let Some(h) = self.get_aux(Column::Meta, META_HEIGHT)? else {
            return Ok(None);
        };
        let height = u64::from_be_bytes(
            h.as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt("meta height"))?,
        );
        let hash = self
            .get_aux(Column::Meta, META_APP_HASH)?
            .ok_or(StoreError::Corrupt("app hash"))?;
        let app_hash =
            B256::try_from(hash.as_slice()).map_err(|_| StoreError::Corrupt("app hash"))?;
        Ok(Some(Committed { height, app_hash }))
    }

    /// Reads an auxiliary (non-state) record.
    ///
    /// # Errors
    /// [`StoreError::Db`] on a read failure.
    pub fn get_aux(&self, column: Column, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(queued) = self.writer.find(column, key) {
            return Ok(queued);
        }
        Ok(self.db.get_cf(self.cf(column), key)?)
    }

    /// Commits a block's changes atomically and records `committed` as the new height. Reads
    /// see them as soon as this returns; the disk write follows on the writer thread.
    ///
    /// # Errors
    /// [`StoreError::Writer`] if an earlier disk write failed (the node must stop); nothing is
    /// applied then.
    pub fn write(&self, mut batch: Batch, committed: Committed) -> Result<(), StoreError> {
        batch.put(Column::Meta, META_HEIGHT, &committed.height.to_be_bytes());
        batch.put(Column::Meta, META_APP_HASH, committed.app_hash.as_slice());
        let trie_writes = std::mem::take(&mut batch.trie_writes);
        let queued = writer::QueuedBatch::new(batch.into_ops(), committed.height);
        let (top_writes, writes): (Vec<_>, Vec<_>) = trie_writes
            .into_iter()
            .partition(|(at, _)| trie::is_top(at));
        self.writer.submit(queued, |queued| {
            self.top.apply(top_writes);
            self.nodes.apply(writes);
            let mut values = self.values.lock();
            for (hash, value) in queued.latest() {
                if let Ok(hash) = B256::try_from(hash.as_slice()) {
                    values.insert(hash, value.clone());
                }
            }
        })
    }

    /// Waits until every committed block is on disk, in RocksDB's files (shutdown, tests).
    ///
    /// # Errors
    /// [`StoreError::Writer`] if a disk write failed.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.writer.flush()?;
        writer::flush_memtables(&self.db, true)
            .map_err(|e| StoreError::Writer(format!("flushing the memtables: {e}")))
    }

    #[cfg(test)]
    fn pause_writer(&self, paused: bool) {
        self.writer.pause(paused);
    }

    fn cf(&self, column: Column) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(column.name())
            .expect("every column family is created in Store::open")
    }
}

#[cfg(test)]
mod tests;
