//! bevm-relayer between real btcd regtest nodes and a real cometbft + bevm-node: catching
//! up, a SIGKILL mid-way, a real Bitcoin reorganisation, and proofs built from raw blocks.

use std::{process::Command, time::Duration};

use bevm_testkit::{
    btcd::Btcd,
    devnet::{bin_dir, Devnet},
    process::wait_for,
    relayer::Relayer,
    rpc::Rpc,
};
use serde_json::Value;

use crate::helpers::{btc_query, btc_tip, cast};

/// Waits until the light client's tip is `hash` (display hex), with the relayer's log on
/// failure.
fn wait_l2_tip(comet: &Rpc, relayer: &Relayer, hash: &str, secs: u64) -> Value {
    wait_for(Duration::from_secs(secs), || {
        btc_tip(comet).filter(|t| t["hash"] == hash)
    })
    .unwrap_or_else(|| {
        panic!(
            "light client tip {:?} never reached {hash}; relayer log:\n{}",
            btc_tip(comet),
            relayer.log()
        )
    })
}

#[test]
fn relayer_follows_btcd_across_a_kill_and_a_reorg() {
    let net = Devnet::start(1, 300).expect("devnet starts");
    let comet = Rpc::new(net.validators[0].ports.rpc);
    let a = Btcd::start().expect("btcd a (make tools installs it)");
    let b = Btcd::start_peer_of(&a).expect("btcd b");
    a.generate(600).expect("mines a backlog");

    // Catching up one batch of 20 per block; killed with SIGKILL part-way.
    let dir = tempfile::tempdir().expect("tmp");
    let mut relayer =
        Relayer::start(dir.path(), &a, &comet.url(), "", 20, 1).expect("relayer starts");
    let part = wait_for(Duration::from_secs(60), || {
        btc_tip(&comet)
            .and_then(|t| t["height"].as_u64())
            .filter(|h| *h >= 60)
    })
    .unwrap_or_else(|| panic!("no progress; relayer log:\n{}", relayer.log()));
    relayer.kill();
    assert!(part < 600, "killed before catching up (at {part})");
    relayer.restart().expect("restarts");
    let tip = wait_l2_tip(&comet, &relayer, &a.hash_at(600).expect("hash"), 120);
    assert_eq!(tip["height"], 600);
    assert!(relayer.log().contains("relayed headers"));
    wait_for(Duration::from_secs(10), || {
        relayer
            .log()
            .contains("light client at the Bitcoin node's tip")
            .then_some(())
    })
    .unwrap_or_else(|| panic!("no up-to-date report:\n{}", relayer.log()));

    // A real reorg: b, cut off from a, mines a longer branch; on reconnection a switches to
    // it, and so does the L2 through the relayer following a.
    wait_for(Duration::from_secs(30), || {
        (b.height().ok()? == 600).then_some(())
    })
    .expect("b synced from a");
    b.partition(&a).expect("partition");
    a.generate(3).expect("a mines");
    let stale = a.hash_at(603).expect("hash");
    wait_l2_tip(&comet, &relayer, &stale, 30);
    b.generate(6).expect("b mines");
    assert_ne!(b.hash_at(601).expect("hash"), a.hash_at(601).expect("hash"));
    b.rejoin(&a).expect("reconnect");
    let heavier = b.hash_at(606).expect("hash");
    wait_for(Duration::from_secs(60), || {
        (a.hash_at(606).ok()? == heavier).then_some(())
    })
    .expect("btcd a reorganises to b's branch");
    let tip = wait_l2_tip(&comet, &relayer, &heavier, 60);
    assert_eq!(tip["height"], 606);
    assert_eq!(
        btc_query(&comet, "/btc/header", "601").expect("header")["hash"],
        b.hash_at(601).expect("hash"),
        "the best chain is b's from the fork point on"
    );
    let old = btc_query(&comet, "/btc/header", &stale).expect("the stale tip is kept");
    assert_eq!(old["confirmations"], 0, "{old}");
}

#[test]
fn relayer_proofs_from_raw_btcd_blocks_pass_the_precompile() {
    let net = Devnet::start(1, 300).expect("devnet starts");
    let comet = Rpc::new(net.validators[0].ports.rpc);
    let btcd = Btcd::start().expect("btcd");
    btcd.generate(10).expect("mines");
    let dir = tempfile::tempdir().expect("tmp");
    let relayer = Relayer::start(dir.path(), &btcd, &comet.url(), "", 1000, 10).expect("relayer");
    wait_l2_tip(&comet, &relayer, &btcd.hash_at(10).expect("hash"), 60);

    let relayer_cli = |args: &[&str]| {
        let out = Command::new(bin_dir().join("bevm-relayer"))
            .args(args)
            .arg("--config")
            .arg(&relayer.config)
            .output()
            .expect("bevm-relayer runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, status, err) = relayer_cli(&["status"]);
    assert!(ok, "{err}");
    assert!(status.contains("behind:            0"), "{status}");

    let block = btcd.hash_at(5).expect("hash");
    let verbose: Value =
        serde_json::from_str(&btcd.cli(&["getblock", &block]).expect("block")).expect("json");
    let coinbase = verbose["tx"][0].as_str().expect("coinbase txid").to_owned();
    let (ok, proof, err) = relayer_cli(&["proof", &coinbase, &block]);
    assert!(ok, "{err}");
    let answer = cast(
        &net.rpc(0).url(),
        &[
            "call",
            "0x000000000000000000000000000000000000b7c0",
            "verifyTxInclusion(bytes32,bytes32,bytes,uint32)(uint32,uint32,uint32)",
            &format!("0x{coinbase}"),
            &format!("0x{block}"),
            &format!("0x{proof}"),
            "6",
        ],
    )
    .expect("the precompile accepts the proof");
    assert_eq!(
        answer.split_whitespace().collect::<Vec<_>>(),
        ["5", "0", "6"]
    );

    // A transaction the block does not hold gets a clear refusal.
    let (ok, _, err) = relayer_cli(&["proof", &"ab".repeat(32), &block]);
    assert!(!ok);
    assert!(err.contains("does not contain transaction"), "{err}");
}
