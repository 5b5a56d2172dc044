use proptest::prelude::*;

use super::*;

fn commit(store: &Store, changes: Vec<StateChange>, version: u64) -> B256 {
    try_commit(store, changes, version).expect("write")
}

/// Commits `changes` as block `version` and returns the root, or the write's error.
fn try_commit(store: &Store, changes: Vec<StateChange>, version: u64) -> Result<B256, StoreError> {
    let prepared = store.prepare_state(changes, version).expect("prepare");
    let root = prepared.root;
    let mut batch = Batch::default();
    prepared.stage(&mut batch);
    let committed = Committed {
        height: version,
        app_hash: root,
    };
    store.write(batch, committed).map(|()| root)
}

fn kv(k: &str, v: &str) -> StateChange {
    (k.as_bytes().to_vec(), Some(v.as_bytes().to_vec()))
}

#[test]
fn every_version_stays_readable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    assert_eq!(store.committed().expect("meta"), None);
    commit(&store, vec![kv("a", "1"), kv("b", "1")], 0);
    commit(&store, vec![kv("a", "2")], 1);
    commit(&store, vec![(b"b".to_vec(), None)], 2);
    let r3 = commit(&store, vec![], 3);

    assert_eq!(store.get_at(b"a", 0).expect("read"), Some(b"1".to_vec()));
    assert_eq!(store.get_at(b"a", 1).expect("read"), Some(b"2".to_vec()));
    assert_eq!(store.get_at(b"a", 9).expect("read"), Some(b"2".to_vec()));
    assert_eq!(store.get_at(b"b", 1).expect("read"), Some(b"1".to_vec()));
    assert_eq!(store.get_at(b"b", 2).expect("read"), None);
    assert_eq!(store.get_latest(b"a").expect("read"), Some(b"2".to_vec()));
    assert_eq!(store.get_latest(b"b").expect("read"), None);
    assert_eq!(store.get_at(b"zz", 3).expect("read"), None);

    drop(store);
    let store = Store::open(dir.path()).expect("reopen");
    assert_eq!(
        store.committed().expect("meta"),
        Some(Committed {
            height: 3,
            app_hash: r3
        })
    );
    // The tree continues after an empty block and a restart.
    commit(&store, vec![kv("c", "1")], 4);
    assert_eq!(store.get_at(b"c", 4).expect("read"), Some(b"1".to_vec()));
}

/// Without a write-ahead log, a process killed after block 150 comes back whole at the last
/// flush (block 100, see `writer::FLUSH_EVERY_BLOCKS`): the files copied from under a live
/// store are what a kill leaves behind.
#[test]
fn a_killed_store_reopens_whole_at_its_last_flush() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let mut roots = vec![B256::ZERO];
    for height in 1..=150u64 {
        let value = height.to_string();
        roots.push(commit(&store, vec![kv("counter", &value)], height));
    }
    store.writer.flush().expect("in the memtables");
    // The flush at block 100 was only scheduled. Its memtables turned immutable before the
    // call returned and stay listed until their files are in place. (A database-wide property
    // such as `mem-table-flush-pending` reads the default column family only, which we never
    // write: waiting on it let the copy below race the flush.)
    let unflushed = |column: Column| {
        let property = "rocksdb.num-immutable-mem-table";
        let count = store.db.property_int_value_cf(store.cf(column), property);
        count.ok().flatten() != Some(0)
    };
    let started = std::time::Instant::now();
    while Column::ALL.into_iter().any(unflushed) {
        assert!(
            started.elapsed().as_secs() < 60,
            "the flush at block 100 never ended"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let image = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(dir.path()).expect("list") {
        let path = entry.expect("entry").path();
        if path.is_file() && path.file_name().is_some_and(|n| n != "LOCK") {
            std::fs::copy(&path, image.path().join(path.file_name().expect("name"))).expect("copy");
        }
    }
    drop(store);

    let restarted = Store::open(image.path()).expect("opens: the trie matches the app hash");
    assert_eq!(
        restarted.committed().expect("meta"),
        Some(Committed {
            height: 100,
            app_hash: roots[100]
        })
    );
    assert_eq!(
        restarted.get_latest(b"counter").expect("read"),
        Some(b"100".to_vec())
    );
    assert_eq!(
        restarted.get_at(b"counter", 140).expect("read"),
        Some(b"100".to_vec())
    );
    // Replaying the lost blocks gives the same roots again.
    for height in 101..=150u64 {
        let value = height.to_string();
        let root = commit(&restarted, vec![kv("counter", &value)], height);
        assert_eq!(root, roots[height as usize], "block {height}");
    }
}

#[test]
fn branches_an_older_database_stored_in_the_top_are_deleted_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let changes = (0..300).map(|i| kv(&format!("key {i}"), "v")).collect();
    let root = commit(&store, changes, 1);
    store.flush().expect("flush");
    // What older code wrote: a branch at a top position (here a made-up one at depth 2,
    // which the rebuild must ignore).
    let stale = trie::Nibbles::ROOT.child(3).child(7);
    let mut branch = trie::Branch::default();
    branch.set(5, Some(B256::repeat_byte(0x55)));
    let branch = trie::Node::Branch(branch);
    let nodes = store.cf(Column::Nodes);
    // The position is free (no leaf of the 300 keys sits there), so the put adds only junk.
    assert_eq!(store.db.get_cf(nodes, stale.encode()).expect("read"), None);
    store
        .db
        .put_cf(nodes, stale.encode(), branch.encode())
        .expect("put");
    store.flush().expect("flush");
    drop(store);

    let reopened = Store::open(dir.path()).expect("an older database still opens");
    assert_eq!(
        reopened.committed().expect("meta").map(|c| c.app_hash),
        Some(root)
    );
    let nodes = reopened.cf(Column::Nodes);
    assert_eq!(
        reopened.db.get_cf(nodes, stale.encode()).expect("read"),
        None
    );
    // Nothing else was deleted: the trie still gives the root after another open.
    drop(reopened);
    let again = Store::open(dir.path()).expect("opens");
    assert_eq!(
        again.committed().expect("meta").map(|c| c.app_hash),
        Some(root)
    );
    assert_eq!(
        again.get_latest(b"key 299").expect("read"),
        Some(b"v".to_vec())
    );
}

#[test]
fn empty_block_keeps_root_and_delete_restores_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let r0 = commit(&store, vec![kv("a", "1")], 0);
    assert_eq!(commit(&store, vec![], 1), r0);
    let r2 = commit(&store, vec![kv("b", "1")], 2);
    assert_ne!(r2, r0);
    assert_eq!(commit(&store, vec![(b"b".to_vec(), None)], 3), r0);
}

#[test]
fn last_write_of_a_key_wins_within_a_block() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let r = commit(&store, vec![kv("a", "1"), kv("a", "2")], 0);
    assert_eq!(store.get_latest(b"a").expect("read"), Some(b"2".to_vec()));
    let other = tempfile::tempdir().expect("tempdir");
    let direct = Store::open(other.path()).expect("open");
    assert_eq!(commit(&direct, vec![kv("a", "2")], 0), r);
}

/// A block that is neither a flush height nor part of a full group still reaches RocksDB
/// when no more blocks follow: a quiet chain does not hold its last blocks in memory.
#[test]
fn a_quiet_chains_blocks_are_written_without_waiting_for_more() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    commit(&store, vec![kv("a", "1")], 5);
    let on_disk = || {
        let meta = store.db.get_cf(store.cf(Column::Meta), META_HEIGHT);
        meta.expect("read") == Some(5u64.to_be_bytes().to_vec())
    };
    let started = std::time::Instant::now();
    while !on_disk() {
        assert!(
            started.elapsed().as_secs() < 30,
            "block 5 stayed queued in memory"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A writer thread that dies must fail the next flush and Commit, not leave them waiting.
#[test]
fn a_panicked_writer_fails_flush_and_commit_instead_of_hanging() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        commit(&store, vec![kv("a", "1")], 1);
        store.flush().expect("a healthy writer flushes");
        store.writer.panic_at_next_write();
        commit(&store, vec![kv("a", "2")], 2);
        let flushed = store.flush();
        let written = try_commit(&store, vec![kv("a", "3")], 3);
        // The block that was never written is still read from memory.
        let read = store.get_latest(b"a").expect("read");
        drop(store);
        let _ = done.send((flushed, written, read));
    });
    let (flushed, written, read) = finished
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("flush or commit waited for a writer thread that is gone");
    let flushed = flushed.expect_err("the flush fails");
    assert!(flushed.to_string().contains("panicked"), "{flushed}");
    assert!(written.is_err(), "the next block is refused");
    assert_eq!(read, Some(b"2".to_vec()));
}

#[test]
fn committed_blocks_are_readable_before_they_reach_the_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    commit(&store, vec![kv("a", "1"), kv("b", "1")], 0);
    store.flush().expect("flush");
    // Block 1 and 2 stay queued in memory: reads must see them all the same.
    store.pause_writer(true);
    commit(&store, vec![kv("a", "2"), (b"b".to_vec(), None)], 1);
    let mut batch = Batch::default();
    batch.put(Column::Code, b"code", b"bytes");
    let prepared = store.prepare_state(vec![kv("c", "3")], 2).expect("prepare");
    let root = prepared.root;
    prepared.stage(&mut batch);
    store
        .write(
            batch,
            Committed {
                height: 2,
                app_hash: root,
            },
        )
        .expect("write");
    let check = |store: &Store| {
        assert_eq!(
            store.committed().expect("meta"),
            Some(Committed {
                height: 2,
                app_hash: root
            })
        );
        assert_eq!(store.get_latest(b"a").expect("read"), Some(b"2".to_vec()));
        assert_eq!(store.get_latest(b"b").expect("read"), None);
        assert_eq!(store.get_latest(b"c").expect("read"), Some(b"3".to_vec()));
        assert_eq!(store.get_at(b"a", 0).expect("read"), Some(b"1".to_vec()));
        assert_eq!(store.get_at(b"a", 1).expect("read"), Some(b"2".to_vec()));
        assert_eq!(store.get_at(b"b", 0).expect("read"), Some(b"1".to_vec()));
        assert_eq!(store.get_at(b"b", 1).expect("read"), None);
        assert_eq!(store.get_at(b"c", 1).expect("read"), None);
        assert_eq!(store.get_at(b"c", 2).expect("read"), Some(b"3".to_vec()));
        assert_eq!(
            store.get_aux(Column::Code, b"code").expect("read"),
            Some(b"bytes".to_vec())
        );
    };
    check(&store);
    // The trie builds on the queued blocks too: same root as a store that wrote everything.
    let next = store
        .prepare_state(vec![kv("d", "4")], 3)
        .expect("prepare")
        .root;
    let other = tempfile::tempdir().expect("tempdir");
    let direct = Store::open(other.path()).expect("open");
    assert_eq!(
        commit(&direct, vec![kv("a", "2"), kv("c", "3"), kv("d", "4")], 0),
        next
    );

    // Once written, the disk holds exactly what the queue served.
    store.pause_writer(false);
    store.flush().expect("flush");
    drop(store);
    check(&Store::open(dir.path()).expect("reopen"));
}

#[test]
fn blocks_written_together_keep_each_keys_newest_write_and_every_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    commit(&store, vec![kv("p", "0"), kv("keep", "0")], 0);
    store.flush().expect("flush");
    // Two blocks queued, then written as one: a delete then a write of p, a write then a
    // delete of q.
    store.pause_writer(true);
    commit(&store, vec![(b"p".to_vec(), None), kv("q", "1")], 1);
    let root = commit(&store, vec![kv("p", "2"), (b"q".to_vec(), None)], 2);
    store.pause_writer(false);
    store.flush().expect("flush");
    drop(store);
    // Reopening rebuilds the trie's top from the written nodes and checks it against the app
    // hash, so a stale or missing node would fail here.
    let store = Store::open(dir.path()).expect("reopen");
    assert_eq!(
        store.committed().expect("meta").map(|c| c.app_hash),
        Some(root)
    );
    assert_eq!(store.get_latest(b"p").expect("read"), Some(b"2".to_vec()));
    assert_eq!(store.get_latest(b"q").expect("read"), None);
    assert_eq!(
        store.get_latest(b"keep").expect("read"),
        Some(b"0".to_vec())
    );
    assert_eq!(store.get_at(b"p", 0).expect("read"), Some(b"0".to_vec()));
    assert_eq!(store.get_at(b"p", 1).expect("read"), None);
    assert_eq!(store.get_at(b"p", 2).expect("read"), Some(b"2".to_vec()));
    assert_eq!(store.get_at(b"q", 1).expect("read"), Some(b"1".to_vec()));
    assert_eq!(store.get_at(b"q", 2).expect("read"), None);
}

proptest! {
    #![proptest_config(bevm_primitives::testing::proptest_config("store-determinism"))]

    /// The root depends only on the resulting state, not on the order of the writes or on how
    /// they were grouped into blocks.
    #[test]
    fn root_is_a_function_of_the_state(
        writes in proptest::collection::vec((0u8..32, proptest::option::of(any::<u8>())), 1..60),
        split in 1usize..60,
    ) {
        let a_dir = tempfile::tempdir().expect("tempdir");
        let b_dir = tempfile::tempdir().expect("tempdir");
        let a = Store::open(a_dir.path()).expect("open");
        let b = Store::open(b_dir.path()).expect("open");
        let changes: Vec<StateChange> =
            writes.iter().map(|(k, v)| (vec![*k], v.map(|v| vec![v]))).collect();
        let root_a = commit(&a, changes.clone(), 0);
        let split = split.min(changes.len());
        commit(&b, changes[..split].to_vec(), 0);
        let root_b = commit(&b, changes[split..].to_vec(), 1);
        prop_assert_eq!(root_a, root_b);
        // And the latest values agree.
        for k in 0u8..32 {
            prop_assert_eq!(a.get_latest(&[k]).expect("read"), b.get_latest(&[k]).expect("read"));
        }
    }

    /// The top of the trie lives only in memory: a store reopened after every block (so the
    /// top is rebuilt each time) reaches the same roots as one that never closed, and the disk
    /// holds no branch above the top's depth.
    #[test]
    fn a_reopened_store_rebuilds_the_same_trie(
        blocks in proptest::collection::vec(
            proptest::collection::vec((0u16..600, proptest::option::of(any::<u8>())), 1..300),
            1..4,
        ),
    ) {
        let a_dir = tempfile::tempdir().expect("tempdir");
        let b_dir = tempfile::tempdir().expect("tempdir");
        let b = Store::open(b_dir.path()).expect("open");
        for (version, writes) in blocks.iter().enumerate() {
            let changes: Vec<StateChange> = writes
                .iter()
                .map(|(k, v)| (k.to_be_bytes().to_vec(), v.map(|v| vec![v])))
                .collect();
            let a = Store::open(a_dir.path()).expect("open rebuilds the top");
            let root_a = commit(&a, changes.clone(), version as u64);
            prop_assert_eq!(root_a, commit(&b, changes, version as u64));
            a.flush().expect("flush");
            let mut top_branches = 0;
            a.db.iterator_cf(a.cf(Column::Nodes), rocksdb::IteratorMode::Start)
                .map(|item| item.expect("read"))
                .filter(|(k, v)| usize::from(k[0]) < trie::TOP_DEPTH && v[0] == 1)
                .for_each(|_| top_branches += 1);
            prop_assert_eq!(top_branches, 0);
        }
    }
}
