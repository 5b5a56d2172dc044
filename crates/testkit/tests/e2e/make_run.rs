//! `make run` as a new user meets it: `scripts/devnet.sh` starts bevm-node, cometbft, btcd
//! and the relayer, funds the development account through a real regtest deposit (genesis
//! mints nothing), prints how to connect, and stops every process it started on SIGTERM.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use bevm_testkit::{
    devnet::bin_dir,
    process::{free_port, wait_for},
    workspace_root,
};

use crate::helpers::cast;

/// The script, stopped as Ctrl-C would (SIGTERM, then a wait for its own cleanup) when the
/// test ends, failed or not. If it does not exit, it and every process under its home are
/// killed by PID (its children run in process groups of their own).
struct Script {
    child: std::process::Child,
    home: PathBuf,
}

impl Script {
    fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for (pid, _) in processes_under(&self.home) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        None
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.stop();
        }
    }
}

/// Four consecutive free ports (the chain's p2p, CometBFT RPC, ABCI and JSON-RPC), none of
/// them in `taken`.
fn four_free_ports(taken: &[u16]) -> u16 {
    loop {
        let base = free_port();
        if (0..4).all(|i| !taken.contains(&(base + i)))
            && (1..4).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok())
        {
            return base;
        }
    }
}

/// Processes whose command line names `dir` (the node, cometbft, btcd and the relayer all
/// do), with that command line.
fn processes_under(dir: &Path) -> Vec<(u32, String)> {
    let needle = dir.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_string_lossy().parse().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline.contains(&needle).then_some((pid, cmdline))
        })
        .collect()
}

/// The value after `label` on the script's banner line that holds it.
fn banner_field(out: &str, label: &str) -> String {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{out}"))
        .to_owned()
}

#[test]
fn the_devnet_script_funds_the_dev_account_by_deposit_and_stops_everything() {
    let dir = tempfile::tempdir().expect("tmp");
    let home = dir.path().join("devnet");
    let out_path = dir.path().join("devnet.out");
    let out = std::fs::File::create(&out_path).expect("output file");
    let (btc_rpc, btc_p2p) = (free_port(), free_port());
    let child = Command::new(workspace_root().join("scripts/devnet.sh"))
        .env("BEVM_DEVNET_HOME", &home)
        .env("BEVM_BIN_DIR", bin_dir())
        .env(
            "BEVM_DEVNET_BASE_PORT",
            four_free_ports(&[btc_rpc, btc_p2p]).to_string(),
        )
        .env("BEVM_BTC_RPC_PORT", btc_rpc.to_string())
        .env("BEVM_BTC_P2P_PORT", btc_p2p.to_string())
        // The miner loop runs (and must be stopped) but mines nothing during the test.
        .env("BEVM_BTC_BLOCK_SECS", "600")
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone().expect("dup"))
        .stderr(out)
        .spawn()
        .expect("runs scripts/devnet.sh");
    let mut script = Script {
        child,
        home: home.clone(),
    };

    let read = || std::fs::read_to_string(&out_path).unwrap_or_default();
    let banner = wait_for(Duration::from_secs(240), || {
        let text = read();
        if text.contains("Ctrl-C stops the devnet.") {
            return Some(text);
        }
        // The script exited early: show why.
        matches!(script.child.try_wait(), Ok(Some(_))).then(|| panic!("devnet.sh exited:\n{text}"))
    })
    .unwrap_or_else(|| panic!("no banner within 240 s:\n{}", read()));

    // Funded by the deposit, not by genesis.
    let genesis: serde_json::Value =
        serde_json::from_slice(&std::fs::read(home.join("config/genesis.json")).expect("genesis"))
            .expect("json");
    assert!(
        genesis["app_state"]["devnet_alloc"].is_null(),
        "genesis mints nothing: {}",
        genesis["app_state"]
    );
    let rpc = banner_field(&banner, "JSON-RPC (HTTP + WebSocket):");
    let dev = banner_field(&banner, "dev account (DEVNET ONLY):");
    assert!(
        banner.contains("funding") && banner.contains("bitcoin txid"),
        "{banner}"
    );
    // The default deposit: 10 BTC = 10^9 sat = 10^19 wei.
    assert_eq!(
        cast(&rpc, &["balance", &dev]).expect("cast balance"),
        "10000000000000000000"
    );
    let comet = bevm_config::NodeConfig::load(&home.join("config/bevm.toml"))
        .expect("bevm.toml")
        .cometbft_rpc;
    let vault = Command::new(bin_dir().join("bevm"))
        .args(["query", "bridge", "vault", "--comet", &comet])
        .output()
        .expect("bevm query bridge vault");
    let vault: serde_json::Value = serde_json::from_slice(&vault.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&vault.stdout)));
    assert_eq!(
        vault["supply_sat"], 1_000_000_000,
        "the vault holds the deposit: {vault}"
    );
    let running = processes_under(&home);
    assert!(
        running.len() >= 4,
        "node, cometbft, btcd, relayer: {running:#?}"
    );
    // The node runs with its allocator settings (it executes itself again to set them).
    let (node, _) = running
        .iter()
        .find(|(_, cmdline)| cmdline.contains("bevm-node"))
        .unwrap_or_else(|| panic!("no bevm-node in {running:#?}"));
    let environ = std::fs::read(format!("/proc/{node}/environ")).expect("environ");
    let environ = String::from_utf8_lossy(&environ);
    // The marker, not the values: an operator's own values would win over ours.
    assert!(
        environ.split('\0').any(|v| v == "BEVM_ALLOCATOR_ENV=1"),
        "bevm-node did not execute itself with its allocator settings"
    );

    // Ctrl-C's path: SIGTERM, and every process the script started is gone.
    let status = script.stop().expect("the script exits on SIGTERM");
    let out = read();
    assert!(status.success(), "{status:?}\n{out}");
    let pids: Vec<u32> = out
        .lines()
        .find_map(|l| l.strip_prefix(">> stopping devnet (pids "))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no stop line in:\n{out}"))
        .split_whitespace()
        .map(|p| p.parse().expect("pid"))
        .collect();
    // cometbft, bevm-node, btcd, the miner loop and the relayer.
    assert_eq!(pids.len(), 5, "{out}");
    for pid in &pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} still runs"
        );
    }
    let left = processes_under(&home);
    assert!(left.is_empty(), "left running: {left:#?}");
}
