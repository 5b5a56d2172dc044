//! Column families and the write batch a block's commit is made of.

use rocksdb::Options;

use crate::trie::{Nibbles, Node};

/// The column families of the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Column {
    /// Committed height and app hash.
    Meta,
    /// Latest value of each state key: key hash -> value. The fast path for execution.
    Latest,
    /// Every version of each state key: key hash ++ version (BE) -> 0x00 (deleted) | 0x01 value.
    History,
    /// State trie nodes by position: encoded nibble path -> encoded node (see [`crate::trie`]).
    Nodes,
    /// Contract code by hash (content-addressed; accounts commit to the hash).
    Code,
    /// Ethereum blocks by number (BE) and their receipts.
    Blocks,
    /// Block hash -> number (BE).
    BlockHashes,
    /// Transaction hash -> (number BE, index BE).
    TxIndex,
}

impl Column {
    pub const ALL: [Column; 8] = [
        Column::Meta,
        Column::Latest,
        Column::History,
        Column::Nodes,
        Column::Code,
        Column::Blocks,
        Column::BlockHashes,
        Column::TxIndex,
    ];

    /// Position in [`Column::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Column::Meta => "meta",
            Column::Latest => "latest",
            Column::History => "history",
            Column::Nodes => "nodes",
            Column::Code => "code",
            Column::Blocks => "blocks",
            Column::BlockHashes => "block_hashes",
            Column::TxIndex => "tx_index",
        }
    }

    pub(crate) fn options(self) -> Options {
        let mut opts = Options::default();
        let mut table = rocksdb::BlockBasedOptions::default();
        if matches!(
            self,
            Column::Latest | Column::Nodes | Column::Code | Column::TxIndex
        ) {
            // Point lookups dominate: bloom filters skip files that cannot hold the key.
            table.set_bloom_filter(10.0, false);
            table.set_cache_index_and_filter_blocks(true);
            // Every read of an absent key (each fresh recipient) probes the filter of every L0
            // file: keep theirs pinned instead of looking them up in the block cache each time.
            table.set_pin_l0_filter_and_index_blocks_in_cache(true);
        }
        if matches!(self, Column::Latest | Column::Code) {
            // The memtable's own filter answers "absent" (every fresh recipient of a block)
            // without walking the skip list. Nodes are read from disk only on a cache miss,
            // so there the filter would cost every insert and save little.
            opts.set_memtable_whole_key_filtering(true);
            opts.set_memtable_prefix_bloom_ratio(0.05);
        }
        if matches!(
            self,
            Column::Latest | Column::Nodes | Column::History | Column::TxIndex
        ) {
            // Hashes, hashed keys and the index's twelve-byte locations do not compress;
            // trying costs compaction CPU.
            opts.set_compression_type(rocksdb::DBCompressionType::None);
        }
        if matches!(self, Column::Latest | Column::Nodes | Column::History) {
            // Each block inserts thousands of keys into these memtables; a smaller skip
            // list (fewer levels, more of it in the CPU caches) makes every insert cheaper.
            opts.set_write_buffer_size(16 << 20);
            // Keys are hashes, so every L0 file overlaps all of L1: compacting eight files
            // at a time instead of four halves how often L1 is rewritten.
            opts.set_level_zero_file_num_compaction_trigger(8);
        }
        opts.set_block_based_table_factory(&table);
        opts
    }
}

/// Writes collected for one atomic commit.
#[derive(Debug, Default)]
pub struct Batch {
    ops: Vec<(Column, Vec<u8>, Option<Vec<u8>>)>,
    /// Every trie write of the block, for the in-memory trie (the top's branches are not
    /// among `ops`: they never reach the disk).
    pub(crate) trie_writes: Vec<(Nibbles, Option<Node>)>,
}

impl Batch {
    /// Stages a put.
    pub fn put(&mut self, column: Column, key: &[u8], value: &[u8]) {
        self.ops.push((column, key.to_vec(), Some(value.to_vec())));
    }

    /// Stages a put of owned bytes (no copy).
    pub fn put_owned(&mut self, column: Column, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push((column, key, Some(value)));
    }

    /// Stages a delete.
    pub fn delete(&mut self, column: Column, key: &[u8]) {
        self.ops.push((column, key.to_vec(), None));
    }

    /// Stages everything `other` staged, after what this batch holds.
    pub fn append(&mut self, mut other: Batch) {
        self.ops.append(&mut other.ops);
        self.trie_writes.append(&mut other.trie_writes);
    }

    /// Number of staged operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether nothing is staged.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub(crate) fn into_ops(self) -> impl Iterator<Item = (Column, Vec<u8>, Option<Vec<u8>>)> {
        self.ops.into_iter()
    }
}
