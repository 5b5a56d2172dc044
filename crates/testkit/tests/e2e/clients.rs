//! Foundry cast and ethers against a single validator.

use std::time::Duration;

use bevm_testkit::devnet::Devnet;

use crate::helpers::{cast, cast_deploy, cast_send, compile_contracts, dev_key_hex, node_script};

#[test]
fn cast_and_ethers_against_a_single_validator() {
    let net = Devnet::start(1, 300).expect("devnet starts");
    let url = net.rpc(0).url();
    let key = dev_key_hex(&net, 0);
    let me = net.keys[0].address().to_string();

    assert_eq!(cast(&url, &["chain-id"]).expect("chain-id"), "1337");
    let to = "0x00000000000000000000000000000000000b0b01";
    cast(
        &url,
        &["send", "--private-key", &key, to, "--value", "0.25ether"],
    )
    .expect("value transfer");
    assert_eq!(
        cast(&url, &["balance", to]).expect("balance"),
        "250000000000000000"
    );

    let dir = tempfile::tempdir().expect("tmp");
    let artifact = compile_contracts(dir.path());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&artifact).expect("artifact")).expect("json");
    let bytecode = json["bytecode"].as_str().expect("bytecode");
    let token = cast_deploy(
        &url,
        &key,
        &[],
        bytecode,
        &[
            "constructor(string,string,uint256)",
            "Cast",
            "CST",
            "1000000",
        ],
    );

    let receipt = cast_send(
        &url,
        &key,
        &token,
        &["transfer(address,uint256)", to, "777"],
    );
    let block = receipt["blockNumber"].as_str().expect("block").to_owned();
    let balance = cast(&url, &["call", &token, "balanceOf(address)(uint256)", to]).expect("call");
    assert_eq!(balance, "777");
    let logs = cast(
        &url,
        &[
            "logs",
            "--json",
            "--from-block",
            &block,
            "--to-block",
            &block,
            "--address",
            &token,
            "Transfer(address,address,uint256)",
        ],
    )
    .expect("logs");
    let logs: serde_json::Value = serde_json::from_str(&logs).expect("logs json");
    assert_eq!(logs.as_array().map(Vec::len), Some(1), "{logs}");
    assert_eq!(
        u64::from_str_radix(
            logs[0]["data"]
                .as_str()
                .expect("data")
                .trim_start_matches("0x"),
            16
        )
        .ok(),
        Some(777)
    );

    // The revert reason reaches cast, from eth_call and from eth_estimateGas.
    let err = cast(
        &url,
        &[
            "call",
            "--from",
            &me,
            &token,
            "transfer(address,uint256)",
            to,
            "1000000000000",
        ],
    )
    .expect_err("must revert");
    assert!(err.contains("Token: balance too low"), "{err}");
    let err = cast(
        &url,
        &[
            "send",
            "--private-key",
            &key,
            &token,
            "transfer(address,uint256)",
            "0x0000000000000000000000000000000000000000",
            "1",
        ],
    )
    .expect_err("must revert");
    assert!(err.contains("Token: transfer to the zero address"), "{err}");

    let http = url.clone();
    let ws = url.replace("http://", "ws://");
    let out = node_script(
        "ethers-e2e.mjs",
        &[
            &http,
            &ws,
            &dev_key_hex(&net, 1),
            artifact.to_str().expect("utf8 path"),
        ],
    );
    assert!(out.contains("all checks passed"), "{out}");
    assert!(net.wait_height(0, 3, Duration::from_secs(10)).is_some());
}
