//! The disk write of committed blocks, off the consensus thread.
//!
//! [`crate::Store::write`] hands a block's batch to the [`Writer`] and returns; a thread writes
//! the batches to RocksDB in order, several at a time (see [`WRITE_EVERY`]), each group as one
//! atomic write batch with the newest write of each key (a key every block changes is written
//! once for all the blocks of the group). Until a batch is in RocksDB its values are served from
//! memory ([`Writer::find`]), so readers cannot tell the difference.
//!
//! There is no write-ahead log: a block reaches the files when the memtables are flushed, all
//! column families at once (atomic flush), when they fill up or every
//! [`FLUSH_EVERY_BLOCKS`] blocks, and on a clean shutdown. A killed process therefore loses the
//! blocks since the last flush: the database is whole at that earlier height, which Info
//! reports, and CometBFT's handshake replays the blocks after it from its own block store
//! (which has its own log). The log would have written every block twice; it was a third of
//! the writer's time.

use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    thread::JoinHandle,
};

use alloy_primitives::map::HashMap;
use parking_lot::{Condvar, Mutex};
use rocksdb::DB;

use crate::{Column, StoreError};

/// Blocks the writer lets queue up before it writes them together: a key that every block
/// changes (a busy account, its path in the trie) then reaches RocksDB once for all of them.
/// Nothing is durable before a flush anyway (see above), so waiting loses nothing.
const WRITE_EVERY: usize = 4;

/// Blocks queued before Commit waits for the disk: bounds memory.
const MAX_QUEUED: usize = WRITE_EVERY + 2;

/// How long a quiet chain's blocks wait for the others of their group.
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Blocks between forced flushes of the memtables: bounds the replay after a kill on a chain
/// whose blocks are too small to fill them.
pub(crate) const FLUSH_EVERY_BLOCKS: u64 = 100;

/// A value as a queued batch has it: `None` for a delete.
type Staged = Option<Vec<u8>>;

/// One block's writes, last write of each key only, indexed for reads.
#[derive(Debug)]
pub(crate) struct QueuedBatch {
    height: u64,
    columns: Vec<HashMap<Vec<u8>, Staged>>,
}

impl QueuedBatch {
    pub(crate) fn new(ops: impl Iterator<Item = (Column, Vec<u8>, Staged)>, height: u64) -> Self {
        let mut columns: Vec<HashMap<Vec<u8>, Staged>> =
            Column::ALL.iter().map(|_| HashMap::default()).collect();
        for (column, key, value) in ops {
            columns[column.index()].insert(key, value);
        }
        Self { height, columns }
    }

    fn get(&self, column: Column, key: &[u8]) -> Option<&Staged> {
        self.columns[column.index()].get(key)
    }

    /// Whether the memtables are flushed after this block (see [`FLUSH_EVERY_BLOCKS`]): a
    /// group of batches ends with it, so the files are then whole at exactly its height.
    fn is_flushed(&self) -> bool {
        self.height.is_multiple_of(FLUSH_EVERY_BLOCKS)
    }

    /// The latest-value writes (key hash, value) of this batch.
    pub(crate) fn latest(&self) -> impl Iterator<Item = (&Vec<u8>, &Staged)> {
        self.columns[Column::Latest.index()].iter()
    }
}

/// Writes `batches` (oldest first, consecutive heights) to RocksDB as one atomic write, the
/// newest write of each key only. A writer that fell behind thus writes a key that every
/// block changes (a busy account, its trie path) once for all of them instead of once each.
fn write_batches(batches: &[Arc<QueuedBatch>], db: &DB) -> Result<usize, rocksdb::Error> {
    let columns: Vec<Vec<(&Vec<u8>, &Staged)>> = Column::ALL
        .iter()
        .map(|column| newest_writes(batches, *column))
        .collect();
    // Sized up front: grown by doubling, the batch's buffer was copied a dozen times a block.
    // Per entry a tag, the column id and two lengths (varints, at most 5 bytes each).
    let size = 12
        + columns
            .iter()
            .flatten()
            .map(|(k, v)| 16 + k.len() + v.as_ref().map_or(0, Vec::len))
            .sum::<usize>();
    let mut wb = rocksdb::WriteBatch::with_capacity_bytes(size);
    for (column, entries) in Column::ALL.iter().zip(columns) {
        // As `Store::cf`: a missing column must not turn into a block written in part.
        let cf = db
            .cf_handle(column.name())
            .expect("every column family is created in Store::open");
        for (key, value) in entries {
            match value {
                Some(v) => wb.put_cf(cf, key, v),
                None => wb.delete_cf(cf, key),
            }
        }
    }
    let bytes = wb.size_in_bytes();
    // No log (see the module's documentation) and so no fsync either.
    let mut options = rocksdb::WriteOptions::default();
    options.disable_wal(true);
    db.write_opt(wb, &options)?;
    if batches.last().is_some_and(|b| b.is_flushed()) {
        flush_memtables(db, false)?;
    }
    Ok(bytes)
}

/// The newest write of each key of `column` in `batches` (oldest first), in key order: RocksDB's
/// skip list then resumes each insert from the previous one instead of searching from the top
/// (the insert cost halves or better).
fn newest_writes(batches: &[Arc<QueuedBatch>], column: Column) -> Vec<(&Vec<u8>, &Staged)> {
    let mut entries: Vec<(&Vec<u8>, &Staged)> = match batches {
        [only] => only.columns[column.index()].iter().collect(),
        _ => {
            let mut newest: HashMap<&Vec<u8>, &Staged> = HashMap::default();
            for batch in batches.iter().rev() {
                for (key, value) in &batch.columns[column.index()] {
                    newest.entry(key).or_insert(value);
                }
            }
            newest.into_iter().collect()
        }
    };
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    entries
}

/// Writes every column family's memtable to the files, all at once; `wait` for it to finish.
pub(crate) fn flush_memtables(db: &DB, wait: bool) -> Result<(), rocksdb::Error> {
    let columns: Vec<_> = Column::ALL
        .iter()
        .filter_map(|c| db.cf_handle(c.name()))
        .collect();
    let mut options = rocksdb::FlushOptions::default();
    options.set_wait(wait);
    db.flush_cfs_opt(&columns, &options)
}

#[derive(Debug, Default)]
struct Queue {
    batches: VecDeque<Arc<QueuedBatch>>,
    /// Set when a write failed; the failed batches stay queued so reads remain right.
    failed: Option<String>,
    closing: bool,
    /// Callers of [`Writer::flush`] waiting: write what is queued without waiting for more.
    flushing: usize,
    /// Tests hold batches in the queue with this.
    paused: bool,
    /// Tests make the writer thread panic at its next write with this.
    #[cfg(test)]
    panic_at_next_write: bool,
}

#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Queue>,
    changed: Condvar,
    /// Batches queued, read without the lock on the hot path.
    queued: AtomicUsize,
    /// Counts submissions; a reader filling a cache from disk checks it did not change.
    epoch: AtomicU64,
}

/// The writer thread and its queue. Dropping it writes what is queued, then stops the thread.
#[derive(Debug)]
pub(crate) struct Writer {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    pub(crate) fn start(db: Arc<DB>) -> Result<Self, StoreError> {
        let shared = Arc::new(Shared::default());
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("bevm-store-writer".into())
            .spawn(move || {
                let _reports = ReportsAPanic(&worker);
                write_loop(&db, &worker)
            })
            .map_err(|e| StoreError::Writer(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues a batch, after `publish` has run under the queue lock (so that caches change
    /// together with what reads see). Waits while [`MAX_QUEUED`] batches are queued.
    pub(crate) fn submit(
        &self,
        batch: QueuedBatch,
        publish: impl FnOnce(&QueuedBatch),
    ) -> Result<(), StoreError> {
        let mut queue = self.shared.queue.lock();
        while queue.batches.len() >= MAX_QUEUED && queue.failed.is_none() {
            self.shared.changed.wait(&mut queue);
        }
        if let Some(e) = &queue.failed {
            return Err(StoreError::Writer(e.clone()));
        }
        // Queued first, then the epoch, then the caches. A reader that read the disk before
        // this batch sees a new epoch and does not cache what it read; a reader that sees the
        // new epoch also sees the batch queued, and waits on this lock until the caches
        // hold its values.
        let batch = Arc::new(batch);
        queue.batches.push_back(batch.clone());
        self.shared
            .queued
            .store(queue.batches.len(), Ordering::Release);
        self.shared.epoch.fetch_add(1, Ordering::AcqRel);
        publish(&batch);
        self.shared.changed.notify_all();
        Ok(())
    }

    /// The value of `key` in the newest queued batch that writes it: `Some(None)` if that
    /// batch deletes it, `None` if no queued batch touches it.
    pub(crate) fn find(&self, column: Column, key: &[u8]) -> Option<Staged> {
        self.newest(|b| b.get(column, key))
    }

    /// As [`Writer::find`] for a state key hash as of height `version`.
    pub(crate) fn find_at(&self, key_hash: &[u8], version: u64) -> Option<Staged> {
        self.newest(|b| {
            (b.height <= version)
                .then(|| b.get(Column::Latest, key_hash))
                .flatten()
        })
    }

    /// What `pick` finds in the newest queued batch where it finds anything.
    fn newest(&self, pick: impl Fn(&QueuedBatch) -> Option<&Staged>) -> Option<Staged> {
        if self.shared.queued.load(Ordering::Acquire) == 0 {
            return None;
        }
        let queue = self.shared.queue.lock();
        queue.batches.iter().rev().find_map(|b| pick(b).cloned())
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.shared.epoch.load(Ordering::Acquire)
    }

    /// Holds (or releases) the queued batches in memory, for tests of reads before the disk.
    #[cfg(test)]
    pub(crate) fn pause(&self, paused: bool) {
        self.shared.queue.lock().paused = paused;
        self.shared.changed.notify_all();
    }

    /// Makes the writer thread panic at its next write, for tests of what callers then see.
    #[cfg(test)]
    pub(crate) fn panic_at_next_write(&self) {
        self.shared.queue.lock().panic_at_next_write = true;
    }

    /// Waits until every queued batch is on disk.
    pub(crate) fn flush(&self) -> Result<(), StoreError> {
        let mut queue = self.shared.queue.lock();
        queue.flushing += 1;
        self.shared.changed.notify_all();
        while !queue.batches.is_empty() && queue.failed.is_none() {
            self.shared.changed.wait(&mut queue);
        }
        queue.flushing -= 1;
        match &queue.failed {
            Some(e) => Err(StoreError::Writer(e.clone())),
            None => Ok(()),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shared.queue.lock().closing = true;
        self.shared.changed.notify_all();
        if let Some(thread) = self.thread.lock().take() {
            let _ = thread.join();
        }
    }
}

/// Turns a panic of the writer thread into a failed write: without it, Commit and flush would
/// wait forever for a thread that is gone.
struct ReportsAPanic<'a>(&'a Shared);

impl Drop for ReportsAPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!(target: "bevm::store", "the writer thread panicked; the node stops committing");
            let mut queue = self.0.queue.lock();
            queue.failed = Some("the writer thread panicked (see the log above)".into());
            self.0.changed.notify_all();
        }
    }
}

/// Whether the queued batches are to be written now: a full group, a flush or a shutdown
/// waiting for them, or a block whose flush bounds the replay after a kill.
fn due(queue: &Queue) -> bool {
    queue.batches.len() >= WRITE_EVERY
        || queue.flushing > 0
        || queue.closing
        || queue.batches.iter().any(|b| b.is_flushed())
}

/// The queued batches from the front through the first that must be flushed, so that a flush
/// leaves the files at exactly that height.
fn up_to_a_flush(batches: &VecDeque<Arc<QueuedBatch>>) -> Vec<Arc<QueuedBatch>> {
    let end = batches
        .iter()
        .position(|b| b.is_flushed())
        .map_or(batches.len(), |i| i + 1);
    batches.iter().take(end).cloned().collect()
}

fn write_loop(db: &DB, shared: &Shared) {
    loop {
        // The queued batches, written together once there are enough of them (see `due`)
        // or, on a quiet chain, once no more came for a while.
        let batches: Vec<Arc<QueuedBatch>> = {
            let mut queue = shared.queue.lock();
            let mut quiet = false;
            loop {
                let ready = !queue.batches.is_empty() && !queue.paused;
                if ready && (quiet || due(&queue)) {
                    break up_to_a_flush(&queue.batches);
                }
                if queue.closing && !ready {
                    return;
                }
                quiet = if ready {
                    shared.changed.wait_for(&mut queue, MAX_WAIT).timed_out()
                } else {
                    shared.changed.wait(&mut queue);
                    false
                };
            }
        };
        let (first, last) = match (batches.first(), batches.last()) {
            (Some(first), Some(last)) => (first.height, last.height),
            _ => continue,
        };
        #[cfg(test)]
        if std::mem::take(&mut shared.queue.lock().panic_at_next_write) {
            panic!("made to panic by a test");
        }
        let started = std::time::Instant::now();
        let result = write_batches(&batches, db);
        let mut queue = shared.queue.lock();
        match result {
            Ok(bytes) => {
                queue.batches.drain(..batches.len());
                shared.queued.store(queue.batches.len(), Ordering::Release);
                tracing::debug!(
                    target: "bevm::store",
                    height = last,
                    blocks = batches.len(),
                    bytes,
                    took = ?started.elapsed(),
                    "blocks written"
                );
            }
            Err(e) => {
                tracing::error!(target: "bevm::store", from = first, to = last, error = %e, "writing blocks failed; the node stops committing");
                queue.failed = Some(format!("writing blocks {first}..={last}: {e}"));
                shared.changed.notify_all();
                return;
            }
        }
        shared.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue_of(heights: &[u64]) -> Queue {
        Queue {
            batches: heights
                .iter()
                .map(|&h| Arc::new(QueuedBatch::new(std::iter::empty(), h)))
                .collect(),
            ..Queue::default()
        }
    }

    fn heights(batches: &[Arc<QueuedBatch>]) -> Vec<u64> {
        batches.iter().map(|b| b.height).collect()
    }

    #[test]
    fn a_group_is_written_when_full_flushed_closing_or_holding_a_flush_height() {
        assert!(!due(&queue_of(&[]))); // nothing to write
        assert!(!due(&queue_of(&[5, 6, 7])));
        assert!(due(&queue_of(&[5, 6, 7, 8])));
        assert!(due(&queue_of(&[99, 100])));
        let mut queue = queue_of(&[5]);
        queue.flushing = 1;
        assert!(due(&queue));
        let mut queue = queue_of(&[5]);
        queue.closing = true;
        assert!(due(&queue));
    }

    #[test]
    fn a_group_ends_at_the_first_block_to_flush() {
        assert_eq!(
            heights(&up_to_a_flush(&queue_of(&[5, 6, 7, 8]).batches)),
            [5, 6, 7, 8]
        );
        assert_eq!(
            heights(&up_to_a_flush(&queue_of(&[99, 100, 101]).batches)),
            [99, 100]
        );
        assert_eq!(
            heights(&up_to_a_flush(&queue_of(&[100, 101]).batches)),
            [100]
        );
    }

    #[test]
    fn a_queued_batch_keeps_the_last_write_of_each_key_and_finds_it() {
        let ops = vec![
            (Column::Latest, b"b".to_vec(), Some(b"1".to_vec())),
            (Column::Latest, b"a".to_vec(), Some(b"1".to_vec())),
            (Column::Code, b"b".to_vec(), Some(b"code".to_vec())),
            (Column::Latest, b"b".to_vec(), None),
            (Column::Latest, b"a".to_vec(), Some(b"2".to_vec())),
            (Column::Latest, b"c".to_vec(), Some(b"3".to_vec())),
        ];
        let batch = QueuedBatch::new(ops.into_iter(), 7);
        assert_eq!(batch.get(Column::Latest, b"a"), Some(&Some(b"2".to_vec())));
        assert_eq!(batch.get(Column::Latest, b"b"), Some(&None));
        assert_eq!(batch.get(Column::Latest, b"c"), Some(&Some(b"3".to_vec())));
        assert_eq!(batch.get(Column::Latest, b"d"), None);
        assert_eq!(batch.get(Column::Code, b"b"), Some(&Some(b"code".to_vec())));
        assert_eq!(batch.get(Column::Code, b"a"), None);
        let mut keys: Vec<&Vec<u8>> = batch.latest().map(|(k, _)| k).collect();
        keys.sort();
        assert_eq!(keys, [b"a", b"b", b"c"], "each key once");
    }
}
