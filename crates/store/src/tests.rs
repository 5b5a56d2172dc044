use proptest::prelude::*;

use super::*;

fn commit(store: &Store, changes: Vec<StateChange>, version: u64) -> B256 {
    let prepared = store.prepare_state(changes, version).expect("prepare");
    let root = prepared.root;
    let mut batch = Batch::default();
    prepared.stage(&mut batch);
    store
        .write(
            batch,
            Committed {
                height: version,
                app_hash: root,
            },
        )
        .expect("write");
    root
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
}
