//! Peg-in through CheckTx and blocks: deposits proven against the light client, credited
//! once, rejected ones recorded, deposit addresses registered through the precompile.

use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_sol_types::SolCall;
use bevm_app::{bridge::DepositRecord, btc::BtcState, mempool::code};
use bevm_btc_light::{spv::MerkleProof, StoredHeader};
use bevm_custody::{memo_script, testing::secret_keys, SignerSet, Vault};
use bevm_evm::bridge::{IBridge, BRIDGE_ADDRESS};
use bevm_primitives::{
    genesis::{BridgeGenesis, Genesis},
    keys::AccountKey,
    native::NativeTx,
    units::{btc_to_wei, WEI_PER_SAT},
};
use bevm_testkit::{
    btc::{block_with_txids, mine_regtest, relay_tx},
    txs, TestNode,
};
use bitcoin::{consensus::serialize, hashes::Hash as _, key::Secp256k1, ScriptBuf, Transaction};
use proptest::prelude::*;

const CONFIRMATIONS: u32 = 3;
const MIN_SAT: u64 = 10_000;

/// A devnet whose bridge vault belongs to 4 test signers; one funded EVM key (for gas).
fn bridge_node() -> (TestNode, Vault) {
    let secp = Secp256k1::new();
    let keys: Vec<_> = secret_keys(4, 0x21)
        .iter()
        .map(|s| s.public_key(&secp))
        .collect();
    let funded = AccountKey::from_seed(b"bridge test");
    let mut genesis = Genesis::devnet_funded(1337, [funded.address()], btc_to_wei(1));
    genesis.bridge = Some(BridgeGenesis {
        confirmations: CONFIRMATIONS,
        min_deposit_sat: MIN_SAT,
        ..BridgeGenesis::with_signers(keys.iter().map(|k| hex::encode(k.serialize())).collect())
    });
    let vault = Vault::new(SignerSet::new(keys, None).expect("set"), None).expect("vault");
    (TestNode::with_genesis(genesis, vec![funded]), vault)
}

fn tip(node: &TestNode) -> StoredHeader {
    let mempool = node.app.mempool();
    let reader = mempool
        .btc()
        .expect("initialized")
        .reader(node.store(), Default::default());
    let tip = reader.chain().tip().expect("read").expect("tip");
    tip
}

/// A Bitcoin transaction with `outputs` (its input is made up: only inclusion is proven).
fn bitcoin_tx(outputs: Vec<(u64, ScriptBuf)>, salt: u8) -> Transaction {
    bevm_custody::testing::payment(outputs, salt)
}

/// Mines a block holding `txs` (after a made-up coinbase) on the light client's tip plus
/// `depth - 1` blocks on top, relays the headers, and returns each tx's RelayDeposit.
fn confirm(node: &mut TestNode, txs: &[&Transaction], depth: usize) -> Vec<Bytes> {
    let parent = tip(node);
    let mut txids = vec![[0xcb; 32]];
    txids.extend(txs.iter().map(|t| t.compute_txid().to_byte_array()));
    let block = block_with_txids(parent.hash, parent.header.time, &txids);
    let mut headers = vec![block];
    headers.extend(mine_regtest(block.hash(), block.time, depth - 1, 7));
    let (results, _) = node.block(vec![relay_tx(&headers)]);
    assert_eq!(results[0].code, 0, "{}", results[0].log);
    txs.iter()
        .enumerate()
        .map(|(i, tx)| {
            let mut matched = vec![false; txids.len()];
            matched[0] = true;
            matched[i + 1] = true;
            let proof = MerkleProof::build(block, &txids, &matched).encode();
            NativeTx::RelayDeposit {
                tx: serialize(*tx),
                proof,
            }
            .encode()
            .into()
        })
        .collect()
}

fn record(node: &TestNode, tx: &Transaction, vout: u32) -> Option<DepositRecord> {
    let mempool = node.app.mempool();
    let bridge = mempool.bridge().expect("bridge");
    let overlay = Default::default();
    let view = BtcState::new(Some(node.store()), &overlay);
    bridge
        .deposit(&view, &tx.compute_txid().to_byte_array(), vout)
        .expect("read")
}

fn utxo(node: &TestNode, tx: &Transaction, vout: u32) -> Option<u64> {
    let mempool = node.app.mempool();
    let overlay = Default::default();
    let view = BtcState::new(Some(node.store()), &overlay);
    mempool
        .bridge()
        .expect("bridge")
        .utxo(&view, &tx.compute_txid().to_byte_array(), vout)
        .expect("read")
}

fn supply(node: &TestNode) -> u64 {
    let mempool = node.app.mempool();
    let overlay = Default::default();
    let view = BtcState::new(Some(node.store()), &overlay);
    let supply = mempool
        .bridge()
        .expect("bridge")
        .supply(&view)
        .expect("read");
    supply
}

fn wei(sat: u64) -> U256 {
    U256::from(sat) * U256::from(WEI_PER_SAT)
}

#[test]
fn a_memo_deposit_is_credited_once_after_its_confirmations() {
    let (mut node, vault) = bridge_node();
    let alice = Address::repeat_byte(0xa1);
    let vault_script = vault.output().script_pubkey();
    let tx = bitcoin_tx(
        vec![
            (150_000, vault_script.clone()),
            (0, memo_script(alice.into_array())),
            (70_000, vault_script),
        ],
        1,
    );
    // One block short of the depth: refused, nothing recorded.
    let relay = confirm(&mut node, &[&tx], CONFIRMATIONS as usize - 1).remove(0);
    let e = node.check(&relay).expect_err("too few confirmations");
    assert_eq!(e.code, code::DEPOSIT_UNPROVEN);
    assert!(e.message.contains("confirmations"), "{}", e.message);
    let (results, _) = node.block(vec![relay.clone()]);
    assert_eq!(results[0].code, code::DEPOSIT_UNPROVEN);
    assert_eq!(node.balance(&alice), U256::ZERO);

    // One more block on top: both vault outputs are credited to the memo's recipient.
    let parent = tip(&node);
    node.block(vec![relay_tx(&mine_regtest(
        parent.hash,
        parent.header.time,
        1,
        9,
    ))]);
    assert_eq!(node.check(&relay), Ok(0), "a deposit relay is fee-free");
    let (results, _) = node.block(vec![relay.clone()]);
    assert_eq!(results[0].code, 0, "{}", results[0].log);
    assert_eq!(node.balance(&alice), wei(220_000));
    assert_eq!(supply(&node), 220_000);
    let first = record(&node, &tx, 0).expect("recorded");
    assert_eq!(first.recipient, Some(alice));
    assert_eq!(first.value_sat, 150_000);
    assert_eq!(
        record(&node, &tx, 1),
        None,
        "the memo itself is not a deposit"
    );

    // The same deposit again: refused by CheckTx, a no-op in a block.
    let e = node.check(&relay).expect_err("already credited");
    assert_eq!(e.code, code::DEPOSIT_KNOWN);
    let (results, _) = node.block(vec![relay.clone(), relay]);
    assert!(results.iter().all(|r| r.code == code::DEPOSIT_KNOWN));
    assert_eq!(node.balance(&alice), wei(220_000));
}

#[test]
fn deposits_that_do_not_qualify_are_recorded_not_credited() {
    let (mut node, vault) = bridge_node();
    let bob = Address::repeat_byte(0xb0);
    let vault_script = vault.output().script_pubkey();
    let small = bitcoin_tx(
        vec![
            (MIN_SAT - 1, vault_script.clone()),
            (0, memo_script(bob.into_array())),
        ],
        2,
    );
    let no_memo = bitcoin_tx(vec![(50_000, vault_script.clone())], 3);
    let mut bad_memo_data = b"bevm".to_vec();
    bad_memo_data.extend_from_slice(&[1; 19]);
    let bad_memo = bitcoin_tx(
        vec![
            (50_000, vault_script.clone()),
            (
                0,
                ScriptBuf::new_op_return(
                    <&bitcoin::script::PushBytes>::try_from(bad_memo_data.as_slice())
                        .expect("push"),
                ),
            ),
        ],
        4,
    );
    let two_memos = bitcoin_tx(
        vec![
            (50_000, vault_script),
            (0, memo_script(bob.into_array())),
            (0, memo_script([2; 20])),
        ],
        5,
    );
    let unrelated = bitcoin_tx(vec![(50_000, ScriptBuf::new_op_return([1, 2]))], 6);
    let relays = confirm(
        &mut node,
        &[&small, &no_memo, &bad_memo, &two_memos, &unrelated],
        CONFIRMATIONS as usize,
    );
    let (results, _) = node.block(relays.clone());
    for r in &results[..4] {
        assert_eq!(r.code, 0, "{}", r.log);
    }
    assert_eq!(results[4].code, code::BRIDGE, "pays the bridge nothing");
    assert!(results[4].log.contains("neither"), "{}", results[4].log);
    for (tx, why) in [
        (&small, "below the minimum"),
        (&no_memo, "without an OP_RETURN"),
        (&bad_memo, "malformed memo"),
        (&two_memos, "2 \"bevm\" memos"),
    ] {
        let r = record(&node, tx, 0).expect("recorded");
        assert_eq!(r.recipient, None);
        let reason = r.rejected.expect("a reason");
        assert!(reason.contains(why), "{reason}");
    }
    assert_eq!(node.balance(&bob), U256::ZERO);
    assert_eq!(supply(&node), 0, "rejected deposits back no L2 BTC");
    // Recorded once: relaying a rejected deposit again is refused as known.
    assert_eq!(
        node.check(&relays[0]).expect_err("known").code,
        code::DEPOSIT_KNOWN
    );
}

#[test]
fn a_registered_deposit_address_credits_its_recipient() {
    let (mut node, vault) = bridge_node();
    let carol = Address::repeat_byte(0xc0);
    let address_script = vault.deposit_output(carol.into_array()).script_pubkey();
    let tx = bitcoin_tx(vec![(80_000, address_script.clone())], 7);
    let relay = confirm(&mut node, &[&tx], CONFIRMATIONS as usize).remove(0);
    let e = node
        .check(&relay)
        .expect_err("an unregistered address is not the bridge's");
    assert_eq!(e.code, code::BRIDGE);

    // Anyone registers Carol's address through the precompile (paying the gas), even
    // after she paid it; the view returns the same script first.
    let funded = node.keys[0].clone();
    let register = |nonce: u64, recipient: Address, value: u64| {
        txs::eip1559(
            &funded,
            1337,
            nonce,
            TxKind::Call(BRIDGE_ADDRESS),
            U256::from(value),
            IBridge::registerDepositAddressCall { recipient }
                .abi_encode()
                .into(),
            200_000,
            txs::Fees::default(),
        )
    };
    // Refused by the precompile (reverted, nothing registered): the zero address, and value
    // sent along. Then Carol's registration goes through.
    let (results, _) = node.block(vec![
        register(0, Address::ZERO, 0),
        register(1, carol, 1),
        register(2, carol, 0),
    ]);
    assert_eq!(results[0].log, "execution reverted");
    assert_eq!(results[1].log, "execution reverted");
    assert_eq!(results[2].code, 0, "{}", results[2].log);
    assert_eq!(results[2].log, "", "Carol's registration succeeds");
    assert_eq!(node.check(&relay), Ok(0));
    let (results, _) = node.block(vec![relay]);
    assert_eq!(results[0].code, 0, "{}", results[0].log);
    assert_eq!(node.balance(&carol), wei(80_000));
    assert_eq!(supply(&node), 80_000);
}

#[test]
fn a_bridge_genesis_with_a_bad_key_is_refused_with_the_key_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = bevm_store::Store::open(dir.path().join("db")).expect("store");
    let mut app = bevm_app::App::open(store).expect("app");
    let mut genesis = Genesis::devnet(1337);
    genesis.bridge = Some(BridgeGenesis::with_signers(vec!["02abcd".into()]));
    let err = app
        .init_chain(&serde_json::to_vec(&genesis).expect("json"), 0)
        .expect_err("refused");
    assert!(err.to_string().contains("signer key \"02abcd\""), "{err}");
}

/// Clients tell the answers apart by code, not by log text: a bridge question on a chain
/// without a bridge (3), an outpoint never recorded (2), a found vault (0).
#[test]
fn bridge_queries_answer_with_codes() {
    use bevm_app::abci::{query, QUERY_NOT_FOUND, QUERY_NO_BRIDGE};
    let plain = TestNode::new(1);
    let answer = query(&plain.app, "/bridge/vault", b"");
    assert_eq!(answer.code.value(), QUERY_NO_BRIDGE, "{}", answer.log);
    assert!(answer.log.contains("no bridge"), "{}", answer.log);

    let (node, vault) = bridge_node();
    let answer = query(&node.app, "/bridge/vault", b"");
    assert_eq!(answer.code.value(), 0, "{}", answer.log);
    let described: serde_json::Value = serde_json::from_slice(&answer.value).expect("json");
    assert_eq!(
        described["script_pubkey"],
        hex::encode(vault.output().script_pubkey().as_bytes())
    );
    let outpoint = format!("{}:0", "ab".repeat(32));
    let answer = query(&node.app, "/bridge/deposit", outpoint.as_bytes());
    assert_eq!(answer.code.value(), QUERY_NOT_FOUND, "{}", answer.log);
    let answer = query(&node.app, "/bridge/deposit", b"not an outpoint");
    assert_eq!(answer.code.value(), 1, "{}", answer.log);
}

/// The example genesis files in `genesis/` start a chain whose vault address is on the right
/// Bitcoin network, and mint nothing.
#[test]
fn the_example_genesis_files_start_a_chain() {
    for (file, json, prefix) in [
        (
            "devnet",
            include_str!("../../../../genesis/devnet.app-state.json"),
            "bcrt1p",
        ),
        (
            "mainnet-example",
            include_str!("../../../../genesis/mainnet-example.app-state.json"),
            "bc1p",
        ),
    ] {
        let genesis = Genesis::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(genesis.devnet_alloc.is_empty(), "{file} mints nothing");
        let node = TestNode::with_genesis(genesis, Vec::new());
        let mempool = node.app.mempool();
        let bridge = mempool.bridge().expect("the example has a bridge");
        let overlay = bevm_app::btc::Overlay::new();
        let vault = bridge
            .describe(&BtcState::new(Some(node.store()), &overlay))
            .expect("describes");
        let address = vault["address"].as_str().expect("address");
        assert!(address.starts_with(prefix), "{file}: {address}");
        assert_eq!(vault["supply_sat"], 0, "{file}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        ..bevm_primitives::testing::proptest_config("bridge-supply")
    })]

    /// For any deposits (some below the minimum, some relayed twice, memo or deposit
    /// address, spread over up to three Bitcoin blocks), L2 BTC minted equals the vault UTXO
    /// value, and no outpoint is credited twice.
    #[test]
    fn minted_btc_equals_the_vault_utxo_value(
        values in proptest::collection::vec(
            (1u64..200_000, 0usize..3, any::<bool>(), any::<bool>(), 0usize..3),
            1..8,
        ),
    ) {
        let (mut node, vault) = bridge_node();
        let recipients = [Address::repeat_byte(1), Address::repeat_byte(2), Address::repeat_byte(3)];
        // Every recipient's deposit address is registered (the funded key pays the gas).
        let registrations = recipients
            .iter()
            .enumerate()
            .map(|(nonce, recipient)| {
                txs::eip1559(
                    &node.keys[0],
                    1337,
                    nonce as u64,
                    TxKind::Call(BRIDGE_ADDRESS),
                    U256::ZERO,
                    IBridge::registerDepositAddressCall { recipient: *recipient }
                        .abi_encode()
                        .into(),
                    200_000,
                    txs::Fees::default(),
                )
            })
            .collect();
        let (results, _) = node.block(registrations);
        prop_assert!(results.iter().all(|r| r.code == 0 && r.log.is_empty()));
        let txs: Vec<Transaction> = values
            .iter()
            .enumerate()
            .map(|(i, (sat, who, _, by_address, _))| {
                let recipient = recipients[*who].into_array();
                let outputs = if *by_address {
                    vec![(*sat, vault.deposit_output(recipient).script_pubkey())]
                } else {
                    vec![(*sat, vault.output().script_pubkey()), (0, memo_script(recipient))]
                };
                bitcoin_tx(outputs, i as u8 + 10)
            })
            .collect();
        let mut relays = vec![Bytes::new(); txs.len()];
        for block in 0..3 {
            let chosen: Vec<usize> = (0..txs.len()).filter(|&i| values[i].4 == block).collect();
            if chosen.is_empty() {
                continue;
            }
            let refs: Vec<&Transaction> = chosen.iter().map(|&i| &txs[i]).collect();
            for (i, relay) in chosen.iter().zip(confirm(&mut node, &refs, CONFIRMATIONS as usize)) {
                relays[*i] = relay;
            }
        }
        let mut block = Vec::new();
        for (relay, (_, _, twice, _, _)) in relays.iter().zip(&values) {
            block.push(relay.clone());
            if *twice {
                block.push(relay.clone());
            }
        }
        node.block(block);
        node.block(relays);
        // Each recipient got exactly its qualifying deposits, whatever their form.
        for (who, recipient) in recipients.iter().enumerate() {
            let owed: u64 = values
                .iter()
                .filter(|v| v.1 == who && v.0 >= MIN_SAT)
                .map(|v| v.0)
                .sum();
            prop_assert_eq!(node.balance(recipient), wei(owed));
        }
        let minted: U256 = recipients.iter().map(|r| node.balance(r)).sum();
        // The vault's UTXO set backs exactly that, and so does the supply counter.
        let in_vault: u64 = txs.iter().filter_map(|tx| utxo(&node, tx, 0)).sum();
        prop_assert_eq!(wei(in_vault), minted);
        prop_assert_eq!(wei(supply(&node)), minted);
        // Every deposit is recorded exactly once; rejected ones are not in the vault set.
        for (tx, (sat, who, ..)) in txs.iter().zip(&values) {
            let r = record(&node, tx, 0).expect("recorded");
            let credited = (*sat >= MIN_SAT).then_some(recipients[*who]);
            prop_assert_eq!(r.recipient, credited);
            prop_assert_eq!(utxo(&node, tx, 0).is_some(), *sat >= MIN_SAT);
        }
    }
}
