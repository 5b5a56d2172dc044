use alloy_consensus::Transaction as _;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use bevm_app::mempool::code;
use bevm_evm::chain;
use bevm_primitives::FEE_POOL_ADDRESS;
use bevm_testkit::{txs, TestNode};

#[test]
fn transfer_moves_value_and_fees_go_to_the_pool() {
    let mut node = TestNode::new(2);
    let (a, b) = (node.keys[0].clone(), node.keys[1].address());
    let before_a = node.balance(&a.address());
    let before_b = node.balance(&b);
    let value = U256::from(123_456_789u64);
    let raw = txs::transfer(&a, node.chain_id(), 0, b, value);
    let (results, _) = node.block(vec![raw]);
    assert_eq!(results[0].code, 0, "{}", results[0].log);
    assert_eq!(results[0].gas_used, 21_000);

    let block = chain::block(node.store(), 1)
        .expect("read")
        .expect("block 1 stored");
    let base_fee = block.header.base_fee_per_gas.expect("base fee");
    assert_eq!(base_fee, node.genesis.params.initial_base_fee);
    let price = base_fee as u128 + txs::Fees::default().tip;
    let fee = U256::from(21_000u128 * price);
    assert_eq!(node.balance(&a.address()), before_a - value - fee);
    assert_eq!(node.balance(&b), before_b + value);
    // Base fee and tip both reach the fee pool: nothing is burned.
    assert_eq!(node.balance(&FEE_POOL_ADDRESS), fee);
    assert_eq!(node.nonce(&a.address()), 1);
}

#[test]
fn erc20_deploy_transfer_logs_and_revert() {
    let mut node = TestNode::new(2);
    let a = node.keys[0].clone();
    let b = node.keys[1].address();
    let supply = U256::from(1_000_000u64);
    let deploy = txs::deploy_token(&a, 1337, 0, supply);
    let token = a.address().create(0);
    let transfer = txs::eip1559(
        &a,
        1337,
        1,
        TxKind::Call(token),
        U256::ZERO,
        txs::transfer_call(b, U256::from(40u64)),
        100_000,
        Default::default(),
    );
    // More than the balance: reverts with a reason, but is included and pays gas.
    let too_much = txs::eip1559(
        &a,
        1337,
        2,
        TxKind::Call(token),
        U256::ZERO,
        txs::transfer_call(b, supply * U256::from(2u64)),
        100_000,
        Default::default(),
    );
    let (results, _) = node.block(vec![deploy, transfer, too_much]);
    assert_eq!(
        results.iter().map(|r| r.code).collect::<Vec<_>>(),
        vec![0, 0, 0]
    );
    assert_eq!(results[2].log, "execution reverted");

    let receipts = chain::receipts(node.store(), 1)
        .expect("read")
        .expect("receipts");
    assert_eq!(receipts.len(), 3);
    assert!(receipts[0].is_success() && receipts[1].is_success() && !receipts[2].is_success());
    let logs = receipts[1].logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].address, token);
    assert_eq!(logs[0].topics()[2], b.into_word());
    let block = chain::block(node.store(), 1).expect("read").expect("block");
    assert!(block
        .header
        .logs_bloom
        .contains_input(alloy_primitives::BloomInput::Raw(token.as_slice())));
    assert_eq!(receipts[2].cumulative_gas_used(), block.header.gas_used);

    // State reflects the transfer: balanceOf(b) = 40 through the storage the EVM wrote.
    let mut state = bevm_evm::BlockState::new(node.reader());
    let spec = node.app.spec().expect("spec").clone();
    let input = bevm_evm::call::CallInput {
        to: Some(token),
        data: Some(txs::balance_of_call(b)),
        ..Default::default()
    };
    let head = block.header;
    let ctx = bevm_evm::BlockInput {
        number: 1,
        timestamp: head.timestamp,
        parent_hash: head.parent_hash,
        prevrandao: head.mix_hash,
        base_fee: 0,
        bitcoin: None,
        bridge: None,
    };
    match bevm_evm::call::call(&spec, &mut state, &ctx, &input, 1_000_000).expect("call") {
        bevm_evm::call::CallOutcome::Success { output, .. } => {
            assert_eq!(U256::from_be_slice(&output), U256::from(40u64))
        }
        other => panic!("balanceOf failed: {other:?}"),
    }
}

#[test]
fn unexecutable_tx_in_a_block_is_skipped_without_effect() {
    let mut node = TestNode::new(2);
    let a = node.keys[0].clone();
    let b = node.keys[1].address();
    let gapped = txs::transfer(&a, 1337, 5, b, U256::from(1u64));
    let poor = txs::transfer(&node.keys[1], 1337, 0, a.address(), U256::MAX >> 4);
    let garbage = Bytes::from_static(b"\x02garbage");
    let before = node.balance(&a.address());
    let (results, _) = node.block(vec![gapped, poor, garbage]);
    assert_eq!(results[0].code, code::SKIPPED);
    assert!(
        results[0].log.contains("nonce too high"),
        "{}",
        results[0].log
    );
    assert_eq!(results[1].code, code::SKIPPED);
    assert!(
        results[1].log.contains("insufficient funds"),
        "{}",
        results[1].log
    );
    assert_eq!(results[2].code, code::DECODE);
    assert_eq!(node.balance(&a.address()), before);
    let block = chain::block(node.store(), 1).expect("read").expect("block");
    assert!(block.txs.is_empty());
    assert_eq!(block.header.gas_used, 0);
}

#[test]
fn base_fee_follows_eip1559_and_never_drops_below_the_minimum() {
    let mut genesis = bevm_primitives::genesis::Genesis::devnet(1337);
    genesis.params.block_gas_limit = 100_000; // target 50_000: three transfers overfill it
    genesis.params.initial_base_fee = 1_000_000_000;
    let keys = bevm_primitives::keys::devnet_keys(1);
    genesis.devnet_alloc.insert(
        keys[0].address(),
        bevm_primitives::genesis::GenesisAccount {
            balance: U256::from(10u128.pow(20)),
            ..Default::default()
        },
    );
    let mut node = TestNode::with_genesis(genesis, keys.clone());
    let fees = txs::Fees {
        max_fee: 10_000_000_000,
        tip: 0,
    };
    let to = Address::repeat_byte(7);
    let batch: Vec<Bytes> = transfers(&keys[0], 0..4, to, fees);
    let (results, _) = node.block(batch);
    // Four transfers want 84_000 gas of 100_000: all fit.
    assert!(results.iter().all(|r| r.code == 0));
    node.block(vec![]);
    let b2 = chain::block(node.store(), 2)
        .expect("read")
        .expect("b2")
        .header;
    // gas used 84_000 vs target 50_000: +1/8 * 34_000/50_000.
    let expected = 1_000_000_000u64 + 1_000_000_000u64 * 34_000 / 50_000 / 8;
    assert_eq!(b2.base_fee_per_gas, Some(expected));
    for _ in 0..200 {
        node.block(vec![]);
    }
    let last = chain::block(node.store(), node.height())
        .expect("read")
        .expect("last")
        .header;
    assert_eq!(
        last.base_fee_per_gas,
        Some(node.genesis.params.min_base_fee)
    );
    // A fifth transfer in a block with only 16_000 gas left is skipped, not half-applied.
    let big: Vec<Bytes> = transfers(&keys[0], 4..9, to, fees);
    let (results, _) = node.block(big);
    assert_eq!(results.iter().filter(|r| r.code == 0).count(), 4);
    assert!(results[4].log.contains("gas limit reached"));
}

#[test]
fn headers_chain_and_survive_reopening() {
    let mut node = TestNode::new(1);
    let a = node.keys[0].clone();
    for n in 0..3 {
        node.block(vec![txs::transfer(
            &a,
            1337,
            n,
            Address::repeat_byte(9),
            U256::from(1u64),
        )]);
    }
    let store = node.store().clone();
    for h in 1..=3u64 {
        let block = chain::block(&store, h).expect("read").expect("block");
        let parent_hash = chain::block_hash(&store, h - 1)
            .expect("read")
            .expect("parent");
        assert_eq!(block.header.parent_hash, parent_hash);
        assert_eq!(
            chain::block_hash(&store, h).expect("read"),
            Some(block.header.hash_slow())
        );
        let tx_hash = alloy_primitives::keccak256(&block.txs[0]);
        let loc = chain::tx_location(&store, &tx_hash)
            .expect("read")
            .expect("indexed");
        assert_eq!((loc.block, loc.index), (h, 0));
        let env = alloy_consensus::TxEnvelope::decode_2718_exact(&block.txs[0])
            .expect("stored tx decodes");
        assert_eq!(env.nonce(), h - 1);
    }
    let app_hash = node.app.info().expect("info").app_hash;
    let block3 = chain::block(&store, 3).expect("read").expect("block");
    assert_eq!(
        block3.header.state_root, app_hash,
        "the header commits to the app hash"
    );
}

/// CometBFT calls InitChain again when a node restarts with nothing committed after genesis,
/// sending the app state it re-encoded into its own database: the same genesis, other bytes.
#[test]
fn init_chain_again_accepts_the_same_genesis_in_other_bytes() {
    let mut node = TestNode::new(1);
    let genesis_hash = node.app.info().expect("info").app_hash;
    let pretty = serde_json::to_vec_pretty(&node.genesis).expect("json");
    let compact = serde_json::to_vec(&node.genesis).expect("json");
    assert_ne!(pretty, compact);
    assert_eq!(
        node.app.init_chain(&pretty, 0).expect("same genesis"),
        genesis_hash
    );
    let mut other = node.genesis.clone();
    other.evm_chain_id += 1;
    let refused = node
        .app
        .init_chain(&serde_json::to_vec(&other).expect("json"), 0);
    assert!(
        matches!(
            refused,
            Err(bevm_app::AppError::AlreadyInitialized { height: 0 })
        ),
        "{refused:?}"
    );
}

#[test]
fn header_roots_follow_ethereums_definitions() {
    let mut node = TestNode::new(2);
    let (a, b) = (node.keys[0].clone(), node.keys[1].clone());
    let supply = U256::from(1_000_000u64);
    let block = vec![
        txs::legacy(
            &a,
            1337,
            0,
            TxKind::Call(b.address()),
            U256::from(5u64),
            10_000_000_000,
        ),
        txs::deploy_token(&b, 1337, 0, supply),
        txs::transfer(&a, 1337, 1, Address::repeat_byte(7), U256::from(1u64)),
    ];
    let (results, _) = node.block(block);
    assert!(results.iter().all(|r| r.code == 0), "{results:?}");
    let store = node.store().clone();
    let stored = chain::block(&store, 1).expect("read").expect("block");
    let receipts = chain::receipts(&store, 1).expect("read").expect("receipts");
    let envelopes: Vec<alloy_consensus::TxEnvelope> = stored
        .txs
        .iter()
        .map(|raw| alloy_consensus::TxEnvelope::decode_2718_exact(raw).expect("decodes"))
        .collect();
    let header = &stored.header;
    // Recomputed from the decoded transactions and the receipts, by alloy's own code.
    assert_eq!(
        header.transactions_root,
        alloy_consensus::proofs::calculate_transaction_root(&envelopes)
    );
    assert_eq!(
        header.receipts_root,
        alloy_consensus::proofs::calculate_receipt_root(&receipts)
    );
    assert!(
        receipts.iter().any(|r| !r.logs().is_empty()),
        "the deploy logs"
    );
    let mut bloom = alloy_primitives::Bloom::default();
    for r in &receipts {
        bloom.accrue_bloom(r.logs_bloom());
    }
    assert_eq!(header.logs_bloom, bloom);
}

use alloy_eips::eip2718::Decodable2718 as _;

/// Value transfers of 1 wei with nonces `nonces` and the given fees.
fn transfers(
    key: &bevm_primitives::keys::AccountKey,
    nonces: std::ops::Range<u64>,
    to: Address,
    fees: txs::Fees,
) -> Vec<Bytes> {
    nonces
        .map(|n| {
            txs::eip1559(
                key,
                1337,
                n,
                TxKind::Call(to),
                U256::from(1u64),
                Bytes::new(),
                21_000,
                fees,
            )
        })
        .collect()
}
