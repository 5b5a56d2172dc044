//! The btc module through CheckTx and blocks: relays, refusals, reorgs, the app hash.

use alloy_primitives::U256;
use bevm_app::{btc::BtcQuery, mempool::code};
use bevm_btc_light::{BlockHash, Header, StoredHeader};
use bevm_primitives::native::NATIVE_MAGIC;
use bevm_testkit::{
    btc::{mine_regtest, regtest_from_genesis, relay_tx},
    txs, TestNode,
};

fn tip(node: &TestNode) -> StoredHeader {
    let mempool = node.app.mempool();
    let module = mempool.btc().expect("initialized");
    BtcQuery::new(module, node.store()).with(|chain| chain.tip().expect("read").expect("tip"))
}

fn confirmations(node: &TestNode, hash: &BlockHash) -> u32 {
    let mempool = node.app.mempool();
    let module = mempool.btc().expect("initialized");
    BtcQuery::new(module, node.store()).with(|chain| chain.confirmations(hash).expect("read"))
}

#[test]
fn relayed_headers_extend_the_light_client_for_free() {
    let mut node = TestNode::new(1);
    assert_eq!(
        tip(&node).height,
        0,
        "genesis starts at the regtest genesis block"
    );
    let headers = regtest_from_genesis(20);
    let first = relay_tx(&headers[..10]);
    assert_eq!(
        node.check(&first),
        Ok(0),
        "a relay that adds headers is fee-free"
    );
    let before = node.app.info().expect("info").app_hash;
    let (results, root) = node.block(vec![first.clone()]);
    assert_eq!(results[0].code, 0, "{}", results[0].log);
    assert_ne!(root, before, "the app hash commits to the light client");
    assert_eq!(tip(&node).height, 10);
    assert_eq!(tip(&node).hash, headers[9].hash());

    // The same relay again adds nothing: refused by CheckTx, and a no-op in a block.
    let e = node.check(&first).expect_err("adds nothing");
    assert_eq!(e.code, code::BTC);
    assert!(e.message.contains("no new headers"), "{}", e.message);

    // Two relays of the same headers in one block, next to an EVM transfer: the first wins.
    let second = relay_tx(&headers[10..]);
    let key = node.keys[0].clone();
    let transfer = txs::transfer(&key, 1337, 0, key.address(), U256::from(1u64));
    let (results, _) = node.block(vec![second.clone(), transfer, second]);
    assert_eq!(results[0].code, 0);
    assert_eq!(results[1].code, 0, "{}", results[1].log);
    assert_eq!(results[2].code, code::BTC);
    assert_eq!(tip(&node).height, 20);
    assert_eq!(confirmations(&node, &headers[0].hash()), 20);
}

#[test]
fn bad_relays_are_refused_and_change_nothing() {
    let mut node = TestNode::new(1);
    let headers = regtest_from_genesis(5);
    node.block(vec![relay_tx(&headers[..2])]);
    let tip_before = tip(&node);

    // A tampered header in the middle of a batch: the whole relay is refused.
    let mut tampered = headers[2..].to_vec();
    tampered[1].bits = 0x1d00_ffff;
    let e = node.check(&relay_tx(&tampered)).expect_err("refused");
    assert_eq!(e.code, code::BTC);
    assert!(
        e.message.starts_with("header #1: wrong bits"),
        "{}",
        e.message
    );
    // An unknown parent.
    let orphan = mine_regtest(BlockHash([7; 32]), 1_700_000_000, 1, 0);
    let e = node.check(&relay_tx(&orphan)).expect_err("refused");
    assert!(e.message.contains("unknown parent"), "{}", e.message);
    // Malformed bodies.
    let mut partial = relay_tx(&headers[2..3]).to_vec();
    partial.pop();
    assert_eq!(
        node.check(&partial).expect_err("partial").code,
        code::DECODE
    );
    assert_eq!(
        node.check(&[&NATIVE_MAGIC[..], &[1]].concat())
            .expect_err("empty")
            .code,
        code::DECODE
    );
    assert_eq!(
        node.check(&[&NATIVE_MAGIC[..], &[77]].concat())
            .expect_err("kind")
            .code,
        code::DECODE
    );
    let huge: Vec<Header> = std::iter::repeat_n(headers[2], 1001).collect();
    let e = node.check(&relay_tx(&huge)).expect_err("too many");
    assert!(e.message.contains("at most 1000"), "{}", e.message);

    // The same bad relays inside a block: refused with a code, state untouched.
    let (results, _) = node.block(vec![relay_tx(&tampered), relay_tx(&orphan), partial.into()]);
    assert!(results.iter().all(|r| r.code != 0));
    assert_eq!(tip(&node), tip_before);
    // And the valid remainder still connects: nothing was half-applied.
    node.block(vec![relay_tx(&headers[2..])]);
    assert_eq!(tip(&node).hash, headers[4].hash());
}

#[test]
fn a_heavier_branch_over_two_relays_reorganises() {
    let mut node = TestNode::new(1);
    let main = regtest_from_genesis(6);
    node.block(vec![relay_tx(&main)]);
    // A branch from height 3 that becomes heavier with its second part.
    let fork = main[2];
    let branch = mine_regtest(fork.hash(), fork.time, 5, 9);
    node.block(vec![relay_tx(&branch[..3])]);
    assert_eq!(
        tip(&node).hash,
        main[5].hash(),
        "equal work keeps the first chain"
    );
    node.block(vec![relay_tx(&branch[3..])]);
    assert_eq!(tip(&node).hash, branch[4].hash());
    assert_eq!(tip(&node).height, 8);
    assert_eq!(confirmations(&node, &main[5].hash()), 0, "rolled back");
    assert_eq!(
        confirmations(&node, &main[2].hash()),
        6,
        "below the fork, still best"
    );
}

#[test]
fn two_nodes_fed_the_same_relays_agree_on_the_app_hash() {
    let mut a = TestNode::new(1);
    let mut b = TestNode::new(1);
    let headers = regtest_from_genesis(30);
    let side = mine_regtest(headers[9].hash(), headers[9].time, 3, 5);
    for block in [
        vec![relay_tx(&headers[..10])],
        vec![relay_tx(&side)],
        vec![relay_tx(&headers[10..])],
    ] {
        let (_, ra) = a.block(block.clone());
        let (_, rb) = b.block(block);
        assert_eq!(ra, rb);
    }
}
