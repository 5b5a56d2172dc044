//! Four validators on localhost: identical blocks and app hashes everywhere, and a validator
//! killed with SIGKILL under load that restarts and catches up.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use alloy_primitives::{hex, Address, U256};
use bevm_testkit::{devnet::Devnet, rpc::Rpc, txs};
use serde_json::json;

/// Sends transfers from `key` through `rpc` until `stop`, in batches of 20.
fn load(rpc: Rpc, key: bevm_primitives::keys::AccountKey, stop: Arc<AtomicBool>) -> u64 {
    let mut nonce = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let batch: Vec<_> = (0..20)
            .map(|i| {
                let raw = txs::transfer(&key, 1337, nonce + i, Address::repeat_byte(0x77), U256::from(1u64));
                json!({"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [format!("0x{}", hex::encode(raw))]})
            })
            .collect();
        let body = serde_json::to_vec(&batch).expect("json");
        match rpc.post_raw(&body) {
            Ok((_, text)) => {
                let answers: Vec<serde_json::Value> =
                    serde_json::from_str(&text).unwrap_or_default();
                nonce += answers.iter().filter(|a| a.get("result").is_some()).count() as u64;
                if answers.iter().any(|a| a.get("error").is_some()) {
                    // Mempool full or nonce out of sync: resync from the pending nonce.
                    if let Ok(n) =
                        rpc.call("eth_getTransactionCount", json!([key.address(), "pending"]))
                    {
                        nonce = bevm_testkit::rpc::quantity(&n).unwrap_or(nonce as u128) as u64;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    nonce
}

fn block_at(rpc: &Rpc, n: u64) -> (String, String, String) {
    let b = rpc
        .call("eth_getBlockByNumber", json!([format!("0x{n:x}"), false]))
        .expect("block");
    let s = |k: &str| b[k].as_str().unwrap_or_default().to_owned();
    (s("hash"), s("stateRoot"), s("receiptsRoot"))
}

#[test]
fn four_validators_agree_and_a_killed_one_catches_up() {
    let mut net = Devnet::start(4, 300).expect("4-validator devnet starts");
    let stop = Arc::new(AtomicBool::new(false));
    // Load through validators 0 and 1 (never the one we kill).
    let workers: Vec<_> = (0..2)
        .map(|i| {
            let (rpc, key, stop) = (net.rpc(i), net.keys[i].clone(), stop.clone());
            std::thread::spawn(move || load(rpc, key, stop))
        })
        .collect();
    let start = net.rpc(0).block_number().expect("height");
    net.wait_height(0, start + 3, Duration::from_secs(30))
        .expect("blocks under load");

    net.kill_validator(3);
    let killed_at = net.rpc(0).block_number().expect("height");
    net.wait_height(0, killed_at + 5, Duration::from_secs(60))
        .expect("3 of 4 validators keep going");
    net.start_validator(3).expect("restart validator 3");
    let target = net.rpc(0).block_number().expect("height") + 3;
    net.wait_height(3, target, Duration::from_secs(120))
        .expect("restarted validator catches up");

    stop.store(true, Ordering::Relaxed);
    let sent: u64 = workers
        .into_iter()
        .map(|w| w.join().expect("load thread"))
        .sum();
    assert!(sent > 0, "load generator sent nothing");

    // Every height, every node: same block hash, state root (app hash) and receipts root.
    let end = (0..4)
        .map(|i| net.rpc(i).block_number().expect("height"))
        .min()
        .expect("4 nodes");
    let mut txs_seen = 0;
    for n in 1..=end {
        let reference = block_at(&net.rpc(0), n);
        assert!(!reference.0.is_empty(), "block {n} missing");
        for i in 1..4 {
            assert_eq!(
                block_at(&net.rpc(i), n),
                reference,
                "validator {i} differs at height {n}"
            );
        }
        txs_seen += net
            .rpc(0)
            .call(
                "eth_getBlockTransactionCountByNumber",
                json!([format!("0x{n:x}")]),
            )
            .ok()
            .and_then(|v| bevm_testkit::rpc::quantity(&v))
            .unwrap_or(0);
    }
    assert!(txs_seen > 0, "no transactions were included");
    // The restarted node answers for accounts the load changed.
    let nonce_0 = net
        .rpc(0)
        .call(
            "eth_getTransactionCount",
            json!([net.keys[0].address(), "latest"]),
        )
        .expect("nonce");
    let nonce_3 = net
        .rpc(3)
        .call(
            "eth_getTransactionCount",
            json!([net.keys[0].address(), format!("0x{end:x}")]),
        )
        .expect("nonce");
    let at_end_0 = net
        .rpc(0)
        .call(
            "eth_getTransactionCount",
            json!([net.keys[0].address(), format!("0x{end:x}")]),
        )
        .expect("nonce");
    assert_eq!(nonce_3, at_end_0);
    assert!(bevm_testkit::rpc::quantity(&nonce_0) >= bevm_testkit::rpc::quantity(&at_end_0));
}
