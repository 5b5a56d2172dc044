//! Malformed transactions and requests get clear errors; nothing crashes or half-applies.

use std::time::Duration;

use alloy_primitives::{hex, Address, U256};
use bevm_primitives::keys::AccountKey;
use bevm_testkit::{devnet::Devnet, rpc::quantity, txs};
use serde_json::json;

fn send(net: &Devnet, raw: &[u8]) -> Result<serde_json::Value, String> {
    net.rpc(0).call(
        "eth_sendRawTransaction",
        json!([format!("0x{}", hex::encode(raw))]),
    )
}

fn expect_error(net: &Devnet, raw: &[u8], needle: &str) {
    let err = send(net, raw).expect_err("must be refused");
    assert!(err.contains(needle), "expected {needle:?} in {err}");
}

#[test]
fn bad_transactions_and_requests_are_refused_cleanly() {
    let net = Devnet::start(1, 300).expect("devnet starts");
    let rpc = net.rpc(0);
    let key = &net.keys[2];
    let to = Address::repeat_byte(0x42);
    let balance_before = quantity(
        &rpc.call("eth_getBalance", json!([key.address(), "latest"]))
            .expect("balance"),
    );

    // A good transaction first, so nonce 0 is used.
    let good = txs::transfer(key, 1337, 0, to, U256::from(1u64));
    let hash = send(&net, &good).expect("accepted");
    bevm_testkit::process::wait_for(Duration::from_secs(20), || {
        rpc.call("eth_getTransactionReceipt", json!([hash]))
            .ok()
            .filter(|r| !r.is_null())
    })
    .expect("mined");

    expect_error(&net, &hex::decode("deadbeef").expect("hex"), "rlp");
    expect_error(&net, &good, "already known");
    expect_error(
        &net,
        &txs::transfer(key, 1337, 0, to, U256::from(2u64)),
        "nonce too low",
    );
    expect_error(
        &net,
        &txs::transfer(key, 1337, 50, to, U256::from(1u64)),
        "nonce too high",
    );
    expect_error(
        &net,
        &txs::transfer(key, 1, 1, to, U256::from(1u64)),
        "invalid chain id",
    );
    let pauper = AccountKey::from_seed(b"nobody funded me");
    expect_error(
        &net,
        &txs::transfer(&pauper, 1337, 0, to, U256::from(1u64)),
        "insufficient funds for gas * price + value",
    );
    let big = txs::oversized(key, 1337, 1);
    expect_error(&net, &big, "oversized data");
    // A corrupted signature: flip a byte inside r.
    let mut bad_sig = txs::transfer(key, 1337, 1, to, U256::from(1u64)).to_vec();
    let n = bad_sig.len();
    bad_sig[n - 40] ^= 0xff;
    let err = send(&net, &bad_sig).expect_err("bad signature refused");
    assert!(
        err.contains("invalid sender") || err.contains("rlp"),
        "{err}"
    );
    let blob_type = [0x03u8, 0xc0];
    expect_error(&net, &blob_type, "rlp");

    // Malformed JSON-RPC.
    let (_, body) = rpc.post_raw(b"{not json").expect("http");
    assert!(body.contains("-32700"), "parse error expected: {body}");
    let v = rpc.call_raw("eth_noSuchMethod", json!([])).expect("answer");
    assert_eq!(v["error"]["code"], -32601);
    let v = rpc
        .call_raw("eth_getBalance", json!(["not-an-address"]))
        .expect("answer");
    assert_eq!(v["error"]["code"], -32602);
    let v = rpc
        .call_raw("eth_getBlockByNumber", json!([{"weird": true}]))
        .expect("answer");
    assert_eq!(v["error"]["code"], -32602);
    let (_, body) = rpc
        .post_raw(br#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]},{"jsonrpc":"2.0","id":2,"method":"eth_blockNumber","params":[]}]"#)
        .expect("batch");
    let batch: serde_json::Value = serde_json::from_str(&body).expect("batch json");
    assert_eq!(batch.as_array().map(Vec::len), Some(2), "{body}");
    let v = rpc
        .call_raw(
            "eth_getLogs",
            json!([{"fromBlock": "0x0", "toBlock": "0xfffffff"}]),
        )
        .expect("answer");
    assert!(
        v.get("error").is_none() || v["error"]["code"] == -32005,
        "{v}"
    );
    assert!(rpc
        .call(
            "eth_getTransactionReceipt",
            json!([format!("0x{}", "11".repeat(32))])
        )
        .expect("null")
        .is_null());

    // Only the good transaction changed the balance, and the chain keeps going.
    let balance_after = quantity(
        &rpc.call("eth_getBalance", json!([key.address(), "latest"]))
            .expect("balance"),
    );
    assert!(
        balance_after < balance_before
            && balance_before
                .zip(balance_after)
                .map(|(b, a)| b - a < 10u128.pow(15))
                .unwrap_or(false)
    );
    assert_eq!(
        quantity(
            &rpc.call("eth_getTransactionCount", json!([key.address(), "latest"]))
                .expect("nonce")
        ),
        Some(1)
    );
    let h = rpc.block_number().expect("height");
    assert!(
        net.wait_height(0, h + 2, Duration::from_secs(20)).is_some(),
        "chain stalled"
    );
}
