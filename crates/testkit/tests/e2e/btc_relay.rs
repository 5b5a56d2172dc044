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

fn broadcast(comet: &Rpc, raw: &[u8]) -> Value {
    let tx = base64::engine::general_purpose::STANDARD.encode(raw);
    comet
        .call("broadcast_tx_sync", json!({ "tx": tx }))
        .expect("cometbft answers")
}

fn btc_tip(comet: &Rpc) -> Option<Value> {
    let answer = comet
        .call("abci_query", json!({ "path": "/btc/tip", "data": "" }))
        .ok()?;
    let value = answer["response"]["value"].as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
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
