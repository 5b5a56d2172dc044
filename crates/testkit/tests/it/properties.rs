use alloy_primitives::{Address, B256, U256};
use bevm_primitives::{testing::proptest_config, FEE_POOL_ADDRESS};
use bevm_testkit::{txs, TestNode};
use proptest::prelude::*;

/// A random block: (sender index, recipient byte, value) transfers.
fn blocks() -> impl Strategy<Value = Vec<Vec<(usize, u8, u64)>>> {
    prop::collection::vec(
        prop::collection::vec((0usize..3, any::<u8>(), 0u64..1_000_000_000_000), 0..6),
        1..6,
    )
}

fn run(blocks: &[Vec<(usize, u8, u64)>]) -> (Vec<B256>, TestNode) {
    let mut node = TestNode::new(3);
    let mut nonces = [0u64; 3];
    let mut hashes = Vec::new();
    for block in blocks {
        let raws = block
            .iter()
            .map(|&(s, to, value)| {
                let raw = txs::transfer(
                    &node.keys[s],
                    1337,
                    nonces[s],
                    Address::repeat_byte(to),
                    U256::from(value),
                );
                nonces[s] += 1;
                raw
            })
            .collect();
        let (_, hash) = node.block(raws);
        hashes.push(hash);
    }
    (hashes, node)
}

proptest! {
    #![proptest_config(proptest_config("app_determinism"))]

    /// Two independent stores fed the same blocks agree on the app hash at every height.
    #[test]
    fn same_blocks_same_app_hash(blocks in blocks()) {
        let (a, _) = run(&blocks);
        let (b, _) = run(&blocks);
        prop_assert_eq!(a, b);
    }

    /// Transfers and fees move BTC around; they never create or destroy it.
    #[test]
    fn supply_is_conserved(blocks in blocks()) {
        let (_, node) = run(&blocks);
        let mut holders: Vec<Address> = node.keys.iter().map(|k| k.address()).collect();
        holders.push(FEE_POOL_ADDRESS);
        holders.extend((0..=255u8).map(Address::repeat_byte));
        holders.sort();
        holders.dedup();
        let total: U256 = holders.iter().map(|a| node.balance(a)).fold(U256::ZERO, |x, y| x + y);
        let genesis: U256 = node.genesis.devnet_alloc.values().map(|a| a.balance).fold(U256::ZERO, |x, y| x + y);
        prop_assert_eq!(total, genesis);
    }
}
