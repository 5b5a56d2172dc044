//! RelayHeaders through real cometbft: CheckTx, proposals, the light client's state, and the
//! `abci_query` / `bevm query btc` views of it.

use std::{process::Command, time::Duration};

use base64::Engine as _;
use bevm_testkit::{
    btc::{regtest_from_genesis, relay_tx},
    devnet::{bin_dir, Devnet},
    process::wait_for,
    rpc::Rpc,
};
use serde_json::{json, Value};

use crate::helpers::btc_tip;

fn broadcast(comet: &Rpc, raw: &[u8]) -> Value {
    let tx = base64::engine::general_purpose::STANDARD.encode(raw);
    comet
        .call("broadcast_tx_sync", json!({ "tx": tx }))
        .expect("cometbft answers")
}

#[test]
fn relayed_headers_reach_the_light_client_through_cometbft() {
    let net = Devnet::start(1, 300).expect("devnet starts");
    let comet = Rpc::new(net.validators[0].ports.rpc);
    let headers = regtest_from_genesis(60);

    let ok = broadcast(&comet, &relay_tx(&headers[..40]));
    assert_eq!(ok["code"], 0, "{ok}");
    // A relay whose parent is not known yet is refused by CheckTx with the reason.
    let orphan = broadcast(&comet, &relay_tx(&headers[50..]));
    assert_eq!(orphan["code"], 20, "{orphan}");
    assert!(
        orphan["log"]
            .as_str()
            .unwrap_or_default()
            .contains("unknown parent"),
        "{orphan}"
    );
    // Garbage marked as native is refused as undecodable.
    let garbage = broadcast(&comet, &[0xbe, 0x76, 0x6d, 0x01, 1, 2, 3]);
    assert_eq!(garbage["code"], 1, "{garbage}");

    let tip = wait_for(Duration::from_secs(20), || {
        btc_tip(&comet).filter(|t| t["height"] == 40)
    })
    .expect("the relay is committed");
    assert_eq!(tip["hash"], headers[39].hash().to_string());

    let ok = broadcast(&comet, &relay_tx(&headers[40..]));
    assert_eq!(ok["code"], 0, "{ok}");
    wait_for(Duration::from_secs(20), || {
        btc_tip(&comet).filter(|t| t["height"] == 60)
    })
    .expect("the second relay is committed");

    // The CLI view of the same state.
    let out = Command::new(bin_dir().join("bevm"))
        .args(["query", "btc", "header", "12", "--comet", &comet.url()])
        .output()
        .expect("bevm runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let header: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(header["hash"], headers[11].hash().to_string());
    assert_eq!(header["confirmations"], 49);
    let out = Command::new(bin_dir().join("bevm"))
        .args(["query", "btc", "header", "999", "--comet", &comet.url()])
        .output()
        .expect("bevm runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such header"));
}

/// The example escrow contract, deployed and released with Foundry's `cast` against a real
/// node whose light client was fed through cometbft.
#[test]
fn escrow_pays_out_on_a_bitcoin_payment_with_cast() {
    use bevm_btc_light::{header::sha256d, MerkleProof, Network};
    use bevm_testkit::btc::{block_with_txids, mine_regtest, payment_tx};

    use crate::helpers::{cast, cast_deploy, cast_send, compile_contracts, dev_key_hex};

    let net = Devnet::start(1, 300).expect("devnet starts");
    let comet = Rpc::new(net.validators[0].ports.rpc);
    let url = net.rpc(0).url();
    let seller = net.keys[5].address().to_string();
    let script = [&[0x00, 0x14][..], &[0x5e; 20][..]].concat();

    // Bitcoin: a block paying the seller (and one paying too little), then 3 more on top.
    let good = payment_tx(50_000, &script);
    let small = payment_tx(10, &script);
    let txids = [[0xcb; 32], sha256d(&good), sha256d(&small)];
    let genesis = Network::Regtest.params().genesis;
    let block = block_with_txids(genesis.hash(), genesis.time, &txids);
    let above = mine_regtest(block.hash(), block.time, 3, 1);
    let relay = relay_tx(&[&[block][..], &above[..]].concat());
    assert_eq!(broadcast(&comet, &relay)["code"], 0);
    wait_for(Duration::from_secs(20), || {
        btc_tip(&comet).filter(|t| t["height"] == 4)
    })
    .expect("relayed");
    let proof = format!(
        "0x{}",
        hex::encode(MerkleProof::build(block, &txids, &[true, true, true]).encode())
    );
    let block_hash = format!("0x{}", block.hash());

    let dir = tempfile::tempdir().expect("tmp");
    compile_contracts(dir.path());
    let artifact: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("BtcPaymentEscrow.json")).expect("artifact"),
    )
    .expect("json");
    let key = dev_key_hex(&net, 0);
    let escrow = cast_deploy(
        &url,
        &key,
        &["--value", "1ether"],
        artifact["bytecode"].as_str().expect("bytecode"),
        &[
            "constructor(address,bytes,uint64,uint32)",
            &seller,
            &format!("0x{}", hex::encode(&script)),
            "50000",
            "3",
        ],
    );

    // The revert reason of an underpayment reaches cast.
    let err = cast(
        &url,
        &[
            "call",
            &escrow,
            "release(bytes,bytes32,bytes)",
            &format!("0x{}", hex::encode(&small)),
            &block_hash,
            &proof,
        ],
    )
    .expect_err("underpayment refused");
    assert!(err.contains("no output pays the seller enough"), "{err}");

    let before: u128 = cast(&url, &["balance", &seller])
        .expect("balance")
        .parse()
        .expect("wei");
    cast_send(
        &url,
        &key,
        &escrow,
        &[
            "release(bytes,bytes32,bytes)",
            &format!("0x{}", hex::encode(&good)),
            &block_hash,
            &proof,
        ],
    );
    let after: u128 = cast(&url, &["balance", &seller])
        .expect("balance")
        .parse()
        .expect("wei");
    assert_eq!(after - before, 1_000_000_000_000_000_000);
    assert_eq!(
        cast(&url, &["call", &escrow, "released()(bool)"]).expect("call"),
        "true"
    );
}
