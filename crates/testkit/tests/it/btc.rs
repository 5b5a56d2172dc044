//! The btc module through CheckTx and blocks: relays, refusals, reorgs, the app hash.

use alloy_primitives::U256;
use bevm_app::mempool::code;
use bevm_btc_light::{BlockHash, Header, StoredHeader};
use bevm_primitives::native::NATIVE_MAGIC;
use bevm_testkit::{
    btc::{mine_regtest, regtest_from_genesis, relay_tx},
    txs, TestNode,
};

fn tip(node: &TestNode) -> StoredHeader {
    let mempool = node.app.mempool();
    let module = mempool.btc().expect("initialized");
    let reader = module.reader(node.store(), Default::default());
    let tip = reader.chain().tip().expect("read").expect("tip");
    tip
}

fn confirmations(node: &TestNode, hash: &BlockHash) -> u32 {
    let mempool = node.app.mempool();
    let module = mempool.btc().expect("initialized");
    let reader = module.reader(node.store(), Default::default());
    let confirmations = reader.chain().confirmations(hash).expect("read");
    confirmations
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
    assert_eq!(e.code, code::BTC_KNOWN);
    assert!(e.message.contains("no new headers"), "{}", e.message);

    // Two relays of the same headers in one block, next to an EVM transfer: the first wins.
    let second = relay_tx(&headers[10..]);
    let key = node.keys[0].clone();
    let transfer = txs::transfer(&key, 1337, 0, key.address(), U256::from(1u64));
    let (results, _) = node.block(vec![second.clone(), transfer, second]);
    assert_eq!(results[0].code, 0);
    assert_eq!(results[1].code, 0, "{}", results[1].log);
    assert_eq!(results[2].code, code::BTC_KNOWN);
    assert_eq!(tip(&node).height, 20);
    assert_eq!(confirmations(&node, &headers[0].hash()), 20);
}

#[test]
fn relays_may_build_on_relays_still_in_the_mempool() {
    let mut node = TestNode::new(1);
    let headers = regtest_from_genesis(30);
    let [a, b, c] = [0, 10, 20].map(|from| relay_tx(&headers[from..from + 10]));
    assert_eq!(node.check(&a), Ok(0));
    assert_eq!(
        node.check(&b),
        Ok(0),
        "b's parent is in a, admitted but not committed"
    );
    // The same headers again are admitted while only pending: CometBFT may have dropped the
    // first copy. Once committed they are refused (see the test above).
    assert_eq!(node.check(&a), Ok(0));
    let orphan = node
        .check(&relay_tx(&headers[25..]))
        .expect_err("parent unknown");
    assert!(
        orphan.message.contains("unknown parent"),
        "{}",
        orphan.message
    );

    // A block carries only a; after the commit CometBFT re-checks b, which still fits.
    let (results, _) = node.block(vec![a]);
    assert_eq!(results[0].code, 0);
    assert_eq!(node.check(&b), Ok(0));
    assert_eq!(node.check(&c), Ok(0));
    let (results, _) = node.block(vec![b, c]);
    assert!(results.iter().all(|r| r.code == 0), "{results:?}");
    assert_eq!(tip(&node).hash, headers[29].hash());
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

mod precompile {
    use alloy_primitives::{Bytes, FixedBytes};
    use alloy_sol_types::{SolCall, SolError};
    use bevm_evm::{
        bitcoin::{IBitcoinLight, BTC_LIGHT_ADDRESS},
        call::{call, CallInput, CallOutcome},
        BlockInput, BlockState, StateReader,
    };

    use super::*;

    fn display(hash: &BlockHash) -> FixedBytes<32> {
        let mut b = hash.0;
        b.reverse();
        FixedBytes(b)
    }

    /// `eth_call` of the precompile against the node's latest state.
    fn light_call(node: &TestNode, data: Vec<u8>) -> CallOutcome {
        let spec = node.app.spec().expect("initialized").clone();
        let head = bevm_evm::chain::block(node.store(), node.height())
            .expect("read")
            .expect("head")
            .header;
        let block = BlockInput {
            number: head.number,
            timestamp: head.timestamp,
            parent_hash: head.parent_hash,
            prevrandao: head.mix_hash,
            base_fee: head.base_fee_per_gas.unwrap_or_default(),
            bitcoin: node
                .app
                .mempool()
                .btc()
                .map(|b| b.reader(node.store(), Default::default())),
            bridge: None,
        };
        let mut state = BlockState::new(StateReader::latest(node.store().clone()));
        let input = CallInput {
            to: Some(BTC_LIGHT_ADDRESS),
            data: Some(Bytes::from(data)),
            ..Default::default()
        };
        call(&spec, &mut state, &block, &input, 1_000_000).expect("call runs")
    }

    fn revert_reason(outcome: CallOutcome) -> String {
        match outcome {
            CallOutcome::Revert { output, .. } => {
                alloy_sol_types::Revert::abi_decode(&output)
                    .expect("Error(string)")
                    .reason
            }
            other => panic!("expected a revert, got {other:?}"),
        }
    }

    #[test]
    fn contracts_read_the_light_client() {
        let mut node = TestNode::new(1);
        let headers = regtest_from_genesis(12);
        node.block(vec![relay_tx(&headers)]);

        let CallOutcome::Success { output, .. } =
            light_call(&node, IBitcoinLight::bestBlockCall {}.abi_encode())
        else {
            panic!("bestBlock succeeds");
        };
        let best = IBitcoinLight::bestBlockCall::abi_decode_returns(&output).expect("decodes");
        assert_eq!(best.height, 12);
        assert_eq!(best.blockHash, display(&headers[11].hash()));

        let CallOutcome::Success { output, .. } = light_call(
            &node,
            IBitcoinLight::headerAtCall { height: 5 }.abi_encode(),
        ) else {
            panic!("headerAt succeeds");
        };
        let at = IBitcoinLight::headerAtCall::abi_decode_returns(&output).expect("decodes");
        assert_eq!(at.header.as_ref(), headers[4].encode().as_slice());
        assert_eq!(at.blockHash, display(&headers[4].hash()));

        let reason = revert_reason(light_call(
            &node,
            IBitcoinLight::headerAtCall { height: 99 }.abi_encode(),
        ));
        assert!(
            reason.contains("no best-chain header at height 99"),
            "{reason}"
        );
        let reason = revert_reason(light_call(&node, vec![1, 2, 3, 4]));
        assert!(reason.contains("unknown function"), "{reason}");
    }

    #[test]
    fn inclusion_proofs_are_checked_by_the_precompile() {
        let mut node = TestNode::new(1);
        // A regtest block whose merkle root commits to two transactions.
        let txids = [[1u8; 32], [2u8; 32]];
        let root = bevm_btc_light::spv::merkle_root(&txids);
        let genesis = bevm_btc_light::Network::Regtest.params().genesis;
        let mut block = mine_regtest(genesis.hash(), genesis.time, 1, 0)[0];
        block.merkle_root = root;
        let target = bevm_btc_light::work::target_from_bits(block.bits).expect("bits");
        while !bevm_btc_light::work::hash_meets_target(&block.hash().0, target) {
            block.nonce += 1;
        }
        let more = mine_regtest(block.hash(), block.time, 5, 1);
        node.block(vec![relay_tx(&[&[block][..], &more[..]].concat())]);

        let proof = bevm_btc_light::MerkleProof::build(block, &txids, &[true, true]).encode();
        let verify = |txid: [u8; 32], min: u32| {
            light_call(
                &node,
                IBitcoinLight::verifyTxInclusionCall {
                    txid: FixedBytes({
                        let mut t = txid;
                        t.reverse();
                        t
                    }),
                    blockHash: display(&block.hash()),
                    proof: proof.clone().into(),
                    minConfirmations: min,
                }
                .abi_encode(),
            )
        };
        let CallOutcome::Success { output, .. } = verify([2u8; 32], 6) else {
            panic!("proven");
        };
        let ok =
            IBitcoinLight::verifyTxInclusionCall::abi_decode_returns(&output).expect("decodes");
        assert_eq!((ok.blockHeight, ok.txIndex, ok.confirmations), (1, 1, 6));
        let reason = revert_reason(verify([2u8; 32], 7));
        assert!(reason.contains("6 confirmations, 7 required"), "{reason}");
        let reason = revert_reason(verify([3u8; 32], 1));
        assert!(reason.contains("not proven"), "{reason}");
    }

    /// In a block, the precompile sees the relays that precede it in the same block.
    #[test]
    fn transactions_in_a_block_see_the_same_blocks_relays() {
        let mut node = TestNode::new(1);
        let key = node.keys[0].clone();
        let headers = regtest_from_genesis(3);
        let call_at = |nonce: u64, height: u32| {
            txs::eip1559(
                &key,
                1337,
                nonce,
                alloy_primitives::TxKind::Call(BTC_LIGHT_ADDRESS),
                U256::ZERO,
                IBitcoinLight::headerAtCall { height }.abi_encode().into(),
                100_000,
                Default::default(),
            )
        };
        let (results, _) = node.block(vec![call_at(0, 3), relay_tx(&headers), call_at(1, 3)]);
        // The relay runs first (native transactions lead the block), so both calls find it.
        assert_eq!(results[0].code, 0);
        assert_eq!(results[0].log, "", "the call succeeds");
        assert_eq!(results[2].log, "");
        let (results, _) = node.block(vec![call_at(2, 4)]);
        assert_eq!(results[0].log, "execution reverted", "no header at 4 yet");
    }
}

/// A relay that cannot read the light client's state (here a corrupt tip record) stops
/// FinalizeBlock: a read failure must never become a result that a healthy peer would not
/// give for the same transaction.
#[test]
fn a_light_client_read_failure_stops_finalize_block() {
    let mut node = TestNode::new(1);
    let store = node.store().clone();
    let committed = store.committed().expect("meta").expect("genesis");
    let prepared = store
        .prepare_state(
            vec![(b"btc/tip".to_vec(), Some(vec![1, 2, 3]))],
            committed.height,
        )
        .expect("prepare");
    let app_hash = prepared.root;
    let mut batch = bevm_store::Batch::default();
    prepared.stage(&mut batch);
    store
        .write(
            batch,
            bevm_store::Committed {
                height: committed.height,
                app_hash,
            },
        )
        .expect("write");
    let parent = bevm_evm::chain::header(&store, committed.height)
        .expect("read")
        .expect("header");
    let relay = relay_tx(&regtest_from_genesis(2)[..1]);
    // CheckTx only refuses it: the mempool is not consensus.
    assert_eq!(node.check(&relay).map_err(|e| e.code), Err(code::INTERNAL));
    let finalized = node.app.finalize_block(bevm_app::BlockRequest {
        height: committed.height + 1,
        time: parent.timestamp + 1,
        hash: Default::default(),
        txs: vec![relay],
    });
    assert!(
        matches!(&finalized, Err(bevm_app::AppError::NativeState(m)) if m.contains("corrupt block hash")),
        "{finalized:?}"
    );
    // Nothing half-applied: no block waits to be committed, the height has not moved.
    assert!(matches!(
        node.app.commit(),
        Err(bevm_app::AppError::NothingToCommit)
    ));
    assert_eq!(node.app.info().expect("info").height, committed.height);
}
