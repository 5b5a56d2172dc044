//! The example contract `BtcPaymentEscrow` (tests/e2e/contracts) pays out on proof of a
//! Bitcoin payment, through the light-client precompile.

use alloy_primitives::{Address, Bytes, FixedBytes, TxKind, U256};
use alloy_sol_types::{sol, SolCall, SolValue};
use bevm_btc_light::{header::sha256d, MerkleProof, Network};
use bevm_primitives::units::btc_to_wei;
use bevm_testkit::{
    btc::{block_with_txids, mine_regtest, payment_tx, relay_tx},
    txs, TestNode,
};

const ARTIFACT: &str = include_str!("../../../../tests/e2e/build/BtcPaymentEscrow.json");

sol! {
    function release(bytes rawTx, bytes32 blockHash, bytes proof);
}

#[test]
fn escrow_releases_on_a_proven_bitcoin_payment_tx() {
    let mut node = TestNode::new(2);
    let buyer = node.keys[0].clone();
    let seller = node.keys[1].address();
    let seller_script = [&[0x00, 0x14][..], &[0x5e; 20][..]].concat();

    // Deploy with 1 BTC, for 50,000 sat to the seller's script with 3 confirmations.
    let artifact: serde_json::Value = serde_json::from_str(ARTIFACT).expect("json");
    let mut code = hex::decode(
        artifact["bytecode"]
            .as_str()
            .expect("bytecode")
            .trim_start_matches("0x"),
    )
    .expect("hex");
    code.extend((seller, Bytes::from(seller_script.clone()), 50_000u64, 3u32).abi_encode_params());
    let deploy = txs::eip1559(
        &buyer,
        1337,
        0,
        TxKind::Create,
        btc_to_wei(1),
        code.into(),
        3_000_000,
        Default::default(),
    );
    let (results, _) = node.block(vec![deploy]);
    assert_eq!(results[0].code, 0, "{}", results[0].log);
    let escrow: Address = buyer.address().create(0);

    // A regtest block holding a coinbase and two payments (one too small), buried under 3 more.
    let good = payment_tx(50_000, &seller_script);
    let small = payment_tx(49_999, &seller_script);
    let txids = [[0xcb; 32], sha256d(&good), sha256d(&small)];
    let genesis = Network::Regtest.params().genesis;
    let block = block_with_txids(genesis.hash(), genesis.time, &txids);
    let mut block_hash = block.hash().0;
    block_hash.reverse();
    let proof = MerkleProof::build(block, &txids, &[true, true, true]).encode();
    let above = mine_regtest(block.hash(), block.time, 1, 1);
    node.block(vec![relay_tx(&[block, above[0]])]);

    let call = |nonce: u64, raw: &[u8]| {
        txs::eip1559(
            &buyer,
            1337,
            nonce,
            TxKind::Call(escrow),
            U256::ZERO,
            releaseCall {
                rawTx: raw.to_vec().into(),
                blockHash: FixedBytes(block_hash),
                proof: proof.clone().into(),
            }
            .abi_encode()
            .into(),
            500_000,
            Default::default(),
        )
    };
    // Two confirmations only: the light client refuses, the escrow keeps its funds.
    let (results, _) = node.block(vec![call(1, &good)]);
    assert_eq!(results[0].log, "execution reverted");
    // A third confirmation arrives; the underpaying transaction is still refused.
    let more = mine_regtest(above[0].hash(), above[0].time, 1, 2);
    let (results, _) = node.block(vec![relay_tx(&more), call(2, &small)]);
    assert_eq!(results[1].log, "execution reverted");
    let before = node.balance(&seller);
    let (results, _) = node.block(vec![call(3, &good)]);
    assert_eq!(results[0].log, "", "released");
    assert_eq!(node.balance(&seller) - before, btc_to_wei(1));
    assert_eq!(node.balance(&escrow), U256::ZERO);
}
