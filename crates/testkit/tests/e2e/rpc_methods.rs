//! The JSON-RPC methods the client tests do not reach, checked against the chain's own data.

use std::time::Duration;

use alloy_primitives::{hex, Address, U256};
use bevm_testkit::{
    devnet::Devnet,
    process::wait_for,
    rpc::{quantity, Rpc},
    txs,
};
use serde_json::{json, Value};

fn send(rpc: &Rpc, raw: &[u8]) -> String {
    let hash = rpc
        .call(
            "eth_sendRawTransaction",
            json!([format!("0x{}", hex::encode(raw))]),
        )
        .expect("accepted");
    hash.as_str().expect("hash").to_owned()
}

fn receipt(rpc: &Rpc, hash: &str) -> Value {
    wait_for(Duration::from_secs(20), || {
        rpc.call("eth_getTransactionReceipt", json!([hash]))
            .ok()
            .filter(|r| !r.is_null())
    })
    .expect("mined")
}

#[test]
fn filters_receipts_fees_and_state_reads() {
    let net = Devnet::start(1, 300).expect("devnet starts");
    let rpc = net.rpc(0);
    let key = &net.keys[4];
    let me = key.address();

    assert!(rpc
        .call("web3_clientVersion", json!([]))
        .expect("version")
        .as_str()
        .expect("str")
        .starts_with("bevm/"));
    assert_eq!(rpc.call("net_version", json!([])).expect("net"), "1337");
    assert_eq!(rpc.call("eth_syncing", json!([])).expect("syncing"), false);
    assert_eq!(rpc.call("net_peerCount", json!([])).expect("peers"), "0x0");
    assert_eq!(
        rpc.call("eth_accounts", json!([])).expect("accounts"),
        json!([])
    );

    let block_filter = rpc
        .call("eth_newBlockFilter", json!([]))
        .expect("block filter");
    let log_filter = rpc
        .call("eth_newFilter", json!([{"fromBlock": "latest"}]))
        .expect("log filter");

    // Two transactions in flight: the pending nonce counts both, the latest none.
    let deploy = send(&rpc, &txs::deploy_token(key, 1337, 0, U256::from(5_000u64)));
    let token = me.create(0);
    let transfer = send(
        &rpc,
        &txs::token_transfer(
            key,
            1337,
            1,
            token,
            Address::repeat_byte(0x33),
            U256::from(9u64),
        ),
    );
    let pending = quantity(
        &rpc.call("eth_getTransactionCount", json!([me, "pending"]))
            .expect("pending"),
    );
    assert!(
        pending >= Some(1),
        "pending nonce counts the mempool: {pending:?}"
    );
    let r = receipt(&rpc, &transfer);
    assert_eq!(
        receipt(&rpc, &deploy)["contractAddress"],
        json!(token.to_string().to_lowercase())
    );
    assert_eq!(r["status"], "0x1");
    assert_eq!(
        quantity(
            &rpc.call("eth_getTransactionCount", json!([me, "latest"]))
                .expect("nonce")
        ),
        Some(2)
    );

    // Block receipts, tx by block and index, counts.
    let number = r["blockNumber"].clone();
    let receipts = rpc
        .call("eth_getBlockReceipts", json!([number]))
        .expect("block receipts");
    let index = quantity(&r["transactionIndex"]).expect("index") as usize;
    assert_eq!(receipts[index]["transactionHash"], r["transactionHash"]);
    let tx = rpc
        .call(
            "eth_getTransactionByBlockNumberAndIndex",
            json!([number, r["transactionIndex"]]),
        )
        .expect("tx");
    assert_eq!(tx["hash"], r["transactionHash"]);
    let tx = rpc
        .call(
            "eth_getTransactionByBlockHashAndIndex",
            json!([r["blockHash"], r["transactionIndex"]]),
        )
        .expect("tx");
    assert_eq!(tx["hash"], r["transactionHash"]);
    let count = rpc
        .call(
            "eth_getBlockTransactionCountByHash",
            json!([r["blockHash"]]),
        )
        .expect("count");
    assert_eq!(
        count,
        rpc.call("eth_getBlockTransactionCountByNumber", json!([number]))
            .expect("count")
    );
    let block = rpc
        .call("eth_getBlockByHash", json!([r["blockHash"], true]))
        .expect("block");
    assert_eq!(block["number"], number);
    assert!(block["transactions"]
        .as_array()
        .expect("txs")
        .iter()
        .any(|t| t["hash"] == r["transactionHash"]));

    // Filters see the new blocks and the token's logs (mint and transfer).
    let changes = rpc
        .call("eth_getFilterChanges", json!([block_filter]))
        .expect("changes");
    assert!(changes
        .as_array()
        .expect("hashes")
        .iter()
        .any(|h| *h == r["blockHash"]));
    let logs = rpc
        .call("eth_getFilterChanges", json!([log_filter]))
        .expect("log changes");
    assert_eq!(
        logs.as_array()
            .expect("logs")
            .iter()
            .filter(|l| l["address"] == json!(token.to_string().to_lowercase()))
            .count(),
        2
    );
    let again = rpc
        .call("eth_getFilterChanges", json!([log_filter]))
        .expect("log changes");
    assert!(
        again
            .as_array()
            .expect("logs")
            .iter()
            .all(|l| l["transactionHash"] != r["transactionHash"]),
        "changes are reported once"
    );
    assert_eq!(
        rpc.call("eth_uninstallFilter", json!([log_filter]))
            .expect("uninstall"),
        true
    );
    assert!(
        rpc.call("eth_getFilterChanges", json!([log_filter]))
            .is_err(),
        "uninstalled filter is gone"
    );

    // State reads at the block of the transfer and before it.
    let code = rpc
        .call("eth_getCode", json!([token, "latest"]))
        .expect("code");
    assert!(code.as_str().expect("hex").len() > 100);
    let before = quantity(&number).expect("number") - 1;
    let old_code = rpc
        .call(
            "eth_getCode",
            json!([
                token,
                format!(
                    "0x{:x}",
                    before.min(quantity(&receipt(&rpc, &deploy)["blockNumber"]).expect("n") - 1)
                )
            ]),
        )
        .expect("old code");
    assert_eq!(old_code, "0x", "no code before the deployment");
    // Slot 2 of the token is totalSupply (name, symbol, totalSupply).
    let supply = rpc
        .call("eth_getStorageAt", json!([token, "0x2", "latest"]))
        .expect("slot");
    assert_eq!(quantity(&supply), Some(5_000));

    // Fee history with reward percentiles, as cast and Hardhat ask for it (over 4 blocks, once
    // there are 4 after genesis).
    assert!(net.wait_height(0, 4, Duration::from_secs(20)).is_some());
    let history = rpc
        .call("eth_feeHistory", json!(["0x4", "latest", [25.0, 75.0]]))
        .expect("fee history");
    assert_eq!(history["baseFeePerGas"].as_array().map(Vec::len), Some(5));
    assert_eq!(history["reward"].as_array().map(Vec::len), Some(4));
    assert!(quantity(&rpc.call("eth_gasPrice", json!([])).expect("gas price")) > Some(0));
    assert!(
        rpc.call("eth_feeHistory", json!(["0x4", "latest", [75.0, 25.0]]))
            .is_err(),
        "unsorted percentiles refused"
    );
}
