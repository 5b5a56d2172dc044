//! End-to-end throughput (a benchmark, run by `make bench`, never by `make test`): the same
//! ERC-20 load against a 1-validator and a 4-validator bevm devnet and against anvil, plus the
//! peak memory of bevm-node. Results are printed; docs/PERFORMANCE.md records them.

use std::{path::PathBuf, process::Command, time::Duration};

use bevm_testkit::{
    devnet::Devnet,
    process::{free_port, wait_for, ChildGuard},
    rpc::Rpc,
    workspace_root,
};

/// anvil's first default development key (public, from its well-known test mnemonic).
const ANVIL_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

fn e2e_dir() -> PathBuf {
    workspace_root().join("tests/e2e")
}

fn transfers() -> String {
    std::env::var("BEVM_LOAD_TRANSFERS").unwrap_or_else(|_| "10000".into())
}

fn run_load(url: &str, key: &str) -> String {
    let out = Command::new("node")
        .arg(e2e_dir().join("load.mjs"))
        .args([
            url,
            key,
            e2e_dir().join("build/Token.json").to_str().expect("utf8"),
            &transfers(),
            "200",
        ])
        .current_dir(e2e_dir())
        .output()
        .expect("node runs");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        out.status.success(),
        "load failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CometBFT's timeout_commit for the run (`BEVM_LOAD_BLOCK_MS`, default 1000 like `make run`).
fn block_ms() -> u64 {
    std::env::var("BEVM_LOAD_BLOCK_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

fn bevm(validators: usize) {
    let net = Devnet::start(validators, block_ms()).expect("devnet");
    let key = net.keys[0].to_secret_hex();
    let result = run_load(&net.rpc(0).url(), &key);
    let pid = net.validators[0]
        .node
        .as_ref()
        .and_then(|n| n.pid())
        .expect("node pid");
    println!(
        "bevm validators={validators} timeout_commit_ms={}: {result} peak_rss_mib={}",
        block_ms(),
        peak_rss_kib(pid).unwrap_or(0) / 1024
    );
}

#[test]
#[ignore = "benchmark: run with `make bench`"]
fn load_bevm_one_validator() {
    bevm(1);
}

#[test]
#[ignore = "benchmark: run with `make bench`"]
fn load_bevm_four_validators() {
    bevm(4);
}

#[test]
#[ignore = "benchmark: run with `make bench`"]
fn load_anvil() {
    let port = free_port();
    let dir = tempfile::tempdir().expect("tmp");
    let mut cmd = Command::new(e2e_dir().join("node_modules/.bin/anvil"));
    cmd.args([
        "--port",
        &port.to_string(),
        "--block-time",
        "1",
        "--gas-limit",
        "1000000000",
        "--chain-id",
        "1337",
    ]);
    let _anvil =
        ChildGuard::spawn("anvil", cmd, &dir.path().join("anvil.log")).expect("anvil starts");
    let rpc = Rpc::new(port);
    wait_for(Duration::from_secs(30), || rpc.block_number()).expect("anvil answers");
    println!("anvil --block-time 1: {}", run_load(&rpc.url(), ANVIL_KEY));
}

/// Relayer catch-up: btcd regtest at `BEVM_LOAD_BTC_BLOCKS` (default 10,000) blocks, a fresh
/// devnet, bevm-relayer with 1,000-header batches, `BEVM_LOAD_RELAY_IN_FLIGHT` (default 10)
/// in flight; time until the light client's tip is btcd's.
#[test]
#[ignore = "benchmark: run with `make bench`"]
fn relayer_catch_up() {
    use std::time::Instant;

    use bevm_testkit::{btcd::Btcd, relayer::Relayer};
    let env = |name: &str, default: u32| -> u32 {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let blocks = env("BEVM_LOAD_BTC_BLOCKS", 10_000);
    let in_flight = env("BEVM_LOAD_RELAY_IN_FLIGHT", 10);
    let btcd = Btcd::start().expect("btcd");
    let mined = Instant::now();
    for _ in 0..blocks / 1000 {
        btcd.generate(1000).expect("mines");
    }
    if blocks % 1000 > 0 {
        btcd.generate(blocks % 1000).expect("mines");
    }
    let mined = mined.elapsed();
    let tip = btcd.hash_at(blocks).expect("tip hash");
    let net = Devnet::start(1, block_ms()).expect("devnet");
    let comet = Rpc::new(net.validators[0].ports.rpc);
    let dir = tempfile::tempdir().expect("tmp");
    let started = Instant::now();
    let relayer =
        Relayer::start(dir.path(), &btcd, &comet.url(), "", 1000, in_flight).expect("relayer");
    wait_for(Duration::from_secs(600), || {
        let answer = comet
            .call(
                "abci_query",
                serde_json::json!({ "path": "/btc/header", "data": hex::encode(&tip) }),
            )
            .ok()?;
        (answer["response"]["code"].as_u64() == Some(0)).then_some(())
    })
    .unwrap_or_else(|| panic!("relayer did not catch up; log:\n{}", relayer.log()));
    let secs = started.elapsed().as_secs_f64();
    println!("relayer log:\n{}", relayer.log());
    println!(
        "relayer catch-up: {blocks} btcd regtest headers in {secs:.1} s = {:.0} headers/s \
         (timeout_commit_ms={}, batch 1000 x {in_flight} in flight; btcd mined them in {:.1} s)",
        f64::from(blocks) / secs,
        block_ms(),
        mined.as_secs_f64()
    );
}
