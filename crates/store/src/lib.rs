//! RocksDB-backed storage for a bevm node.
//!
//! - **State** is a versioned key-value map: the [`trie`] commits to its latest version, and
//!   the trie's root after block `h` is the app hash of height `h`. Every version stays
//!   readable ([`Store::get_at`]), so RPC can answer for past block numbers.
//! - **Auxiliary columns** hold data derived from execution (blocks, receipts, the tx index,
//!   contract code by hash), outside the commitment.
//! - **Atomicity**: everything a block changes goes into one [`Batch`] written by
//!   [`Store::write`] in a single RocksDB write batch, together with the new committed height.
//!   A process killed at any moment leaves the store at the previous or the new height, never
//!   in between; CometBFT's handshake then replays what is missing.

#![forbid(unsafe_code)]

mod batch;
mod error;
mod state;
pub mod trie;

pub use batch::{Batch, Column};
pub use error::StoreError;
pub use state::{key_hash, PreparedState, StateChange};

use std::{path::Path, sync::Arc};

use alloy_primitives::B256;
use rocksdb::{ColumnFamilyDescriptor, Options, DB};

const META_HEIGHT: &[u8] = b"height";
const META_APP_HASH: &[u8] = b"app_hash";

/// A handle to the node's database. Cheap to clone; safe to share between the consensus thread
/// and RPC readers.
#[derive(Clone)]
pub struct Store {
    db: Arc<DB>,
    nodes: Arc<trie::NodeCache>,
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
        let cfs = Column::ALL
            .iter()
            .map(|c| ColumnFamilyDescriptor::new(c.name(), c.options()));
        let db = DB::open_cf_descriptors(&opts, path.as_ref(), cfs)?;
        Ok(Self {
            db: Arc::new(db),
            nodes: Arc::default(),
        })
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
        Ok(self.db.get_cf(self.cf(column), key)?)
    }

    /// Iterates an auxiliary column from `start` forward, as long as `f` returns true.
    ///
    /// # Errors
    /// [`StoreError::Db`] on a read failure.
    pub fn scan_aux(
        &self,
        column: Column,
        start: &[u8],
        mut f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let mode = rocksdb::IteratorMode::From(start, rocksdb::Direction::Forward);
        for item in self.db.iterator_cf(self.cf(column), mode) {
            let (k, v) = item?;
            if !f(&k, &v) {
                break;
            }
        }
        Ok(())
    }

    /// Writes a block's changes atomically and records `committed` as the new height.
    ///
    /// # Errors
    /// [`StoreError::Db`] if the write fails; nothing is applied then.
    pub fn write(&self, mut batch: Batch, committed: Committed) -> Result<(), StoreError> {
        batch.put(Column::Meta, META_HEIGHT, &committed.height.to_be_bytes());
        batch.put(Column::Meta, META_APP_HASH, committed.app_hash.as_slice());
        let trie_writes = std::mem::take(&mut batch.trie_writes);
        let started = std::time::Instant::now();
        let ops = batch.len();
        let mut wb = rocksdb::WriteBatch::default();
        for (column, key, value) in batch.into_ops() {
            match value {
                Some(v) => wb.put_cf(self.cf(column), key, v),
                None => wb.delete_cf(self.cf(column), key),
            }
        }
        // No fsync: a killed process loses nothing that reached the OS; a power loss may lose
        // the last blocks, which CometBFT replays on restart (its own WAL is fsynced).
        let bytes = wb.size_in_bytes();
        self.db.write(wb)?;
        self.nodes.apply(trie_writes);
        tracing::debug!(
            target: "bevm::store",
            height = committed.height,
            ops,
            bytes,
            took = ?started.elapsed(),
            "block written"
        );
        Ok(())
    }

    fn cf(&self, column: Column) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(column.name())
            .expect("every column family is created in Store::open")
    }
}

#[cfg(test)]
mod tests;
