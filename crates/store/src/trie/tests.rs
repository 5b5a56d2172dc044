use std::collections::{BTreeMap, HashMap};

use alloy_primitives::B256;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

use super::*;

#[test]
fn positions_know_their_parent_and_round_trip() {
    let at = Nibbles::ROOT.child(0xa).child(0x3).child(0xf);
    assert_eq!(at.depth(), 3);
    assert_eq!(at.last_nibble(), 0xf);
    assert_eq!(at.parent(), Nibbles::ROOT.child(0xa).child(0x3));
    assert_eq!(at.parent().parent().parent(), Nibbles::ROOT);
    assert_eq!(Nibbles::ROOT.parent(), Nibbles::ROOT);
    for p in [Nibbles::ROOT, at, at.parent(), at.child(0)] {
        assert_eq!(Nibbles::decode(&p.encode()).expect("decodes"), p);
    }
    assert!(Nibbles::decode(&[]).is_err());
    assert!(Nibbles::decode(&[3, 0xa3]).is_err(), "too short");
    assert!(
        Nibbles::decode(&[1, 0xa3]).is_err(),
        "a nibble past the length"
    );
    assert!(Nibbles::decode(&[65; 34]).is_err(), "deeper than a hash");
}

/// An in-memory node store.
#[derive(Default)]
struct Mem(HashMap<Nibbles, Node>);

impl NodeSource for Mem {
    fn node(&self, at: &Nibbles) -> Result<Option<Node>, crate::StoreError> {
        Ok(self.0.get(at).cloned())
    }
}

impl Mem {
    fn apply(&mut self, changes: &[Change]) -> B256 {
        let out = update(self, changes).expect("update");
        for (at, node) in out.writes {
            match node {
                Some(n) => self.0.insert(at, n),
                None => self.0.remove(&at),
            };
        }
        out.root
    }
}

fn sha(parts: &[&[u8]]) -> B256 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    B256::from(<[u8; 32]>::from(h.finalize()))
}

/// The root straight from the definition in the module docs, over a sorted key set.
fn spec_root(entries: &[(B256, B256)], depth: usize) -> B256 {
    match entries {
        [] => EMPTY_ROOT,
        [(k, v)] => sha(&[&[0], k.as_slice(), v.as_slice()]),
        _ => {
            let mut bitmap = 0u16;
            let mut children = Vec::new();
            for n in 0..16u8 {
                let group: Vec<_> = entries
                    .iter()
                    .filter(|(k, _)| node_nibble(k, depth) == n)
                    .copied()
                    .collect();
                if !group.is_empty() {
                    bitmap |= 1 << n;
                    children.extend_from_slice(spec_root(&group, depth + 1).as_slice());
                }
            }
            sha(&[&[1], &bitmap.to_be_bytes(), &children])
        }
    }
}

fn node_nibble(k: &B256, depth: usize) -> u8 {
    (k[depth / 2] >> (if depth.is_multiple_of(2) { 4 } else { 0 })) & 0x0f
}

/// Keys from a small alphabet that share long prefixes, so that deep branches, lone branch
/// children and leaves moving up all happen.
fn key(i: u8) -> B256 {
    let mut k = B256::ZERO;
    k[0] = (i & 0b11) << 4;
    k[9] = (i >> 2) & 0b11;
    k[31] = i >> 4;
    k
}

fn value(v: u8) -> B256 {
    B256::repeat_byte(v)
}

#[test]
fn empty_and_single_key_roots_follow_the_definition() {
    let mut mem = Mem::default();
    assert_eq!(mem.apply(&[]), EMPTY_ROOT);
    let k = key(5);
    let root = mem.apply(&[(k, Some(value(1)))]);
    assert_eq!(root, sha(&[&[0], k.as_slice(), value(1).as_slice()]));
    assert_eq!(mem.apply(&[(k, None)]), EMPTY_ROOT);
    assert!(
        mem.0.is_empty(),
        "deleting the last key leaves no node behind"
    );
}

#[test]
fn unsorted_changes_are_refused() {
    let changes = [(key(2), Some(value(1))), (key(1), Some(value(1)))];
    assert!(update(&Mem::default(), &changes).is_err());
    let twice = [(key(1), Some(value(1))), (key(1), Some(value(2)))];
    assert!(update(&Mem::default(), &twice).is_err());
}

#[test]
fn nodes_round_trip_and_garbage_is_refused() {
    let leaf = Node::Leaf(Leaf {
        key: key(3),
        value_hash: value(9),
    });
    let mut branch = Branch::default();
    branch.set(3, Some(value(1)));
    branch.set(15, Some(value(2)));
    branch.set(0, Some(value(3)));
    assert_eq!(branch.children, vec![value(3), value(1), value(2)]);
    let branch = Node::Branch(branch);
    for node in [leaf, branch] {
        assert_eq!(Node::decode(&node.encode()).expect("decodes"), node);
    }
    for bad in [&[][..], &[0, 1, 2], &[1, 0, 0], &[1, 0, 3, 7], &[2; 65]] {
        assert!(Node::decode(bad).is_err(), "{bad:?}");
    }
    assert_eq!(Nibbles::ROOT.child(0xa).child(0xb).encode(), vec![2, 0xab]);
    assert_eq!(Nibbles::ROOT.child(0xa).encode(), vec![1, 0xa0]);
}

proptest! {
    #![proptest_config(bevm_primitives::testing::proptest_config("trie"))]

    /// Whatever the blocks of writes, the incremental root equals the root computed from the
    /// definition over the final key set, and the stored nodes are exactly those of a trie
    /// built from scratch: no stale node is left behind.
    #[test]
    fn incremental_updates_match_the_definition(
        blocks in proptest::collection::vec(
            proptest::collection::vec((0u8..64, proptest::option::of(1u8..4)), 0..24),
            1..8,
        ),
    ) {
        let mut mem = Mem::default();
        let mut state = BTreeMap::new();
        for block in blocks {
            let mut changes: BTreeMap<B256, Option<B256>> = BTreeMap::new();
            for (k, v) in block {
                changes.insert(key(k), v.map(value));
            }
            for (k, v) in &changes {
                match v {
                    Some(v) => state.insert(*k, *v),
                    None => state.remove(k),
                };
            }
            let changes: Vec<Change> = changes.into_iter().collect();
            let root = mem.apply(&changes);
            let entries: Vec<(B256, B256)> = state.iter().map(|(k, v)| (*k, *v)).collect();
            prop_assert_eq!(root, spec_root(&entries, 0));

            let mut fresh = Mem::default();
            let all: Vec<Change> = entries.iter().map(|(k, v)| (*k, Some(*v))).collect();
            fresh.apply(&all);
            prop_assert_eq!(&mem.0, &fresh.0);
        }
    }
}
