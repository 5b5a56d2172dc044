//! Real local networks: `cometbft` and `bevm-node` processes for 1..N validators on free ports.
//! Every process is killed by PID when the [`Devnet`] is dropped, even if a test panics.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use anyhow::{bail, Context as _};
use bevm_config::{generate_network, NetworkSpec, Ports};
use bevm_primitives::{
    genesis::Genesis,
    keys::{devnet_keys, AccountKey},
    units::btc_to_wei,
};

use crate::{
    process::{free_port, wait_for, ChildGuard},
    rpc::Rpc,
};

/// Where the release binaries are: `BEVM_BIN_DIR`, else next to the running test binary
/// (`target/<profile>/deps/..`).
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BEVM_BIN_DIR") {
        return dir.into();
    }
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The cometbft binary: `BEVM_TOOLS_BIN`, the project's `.tools/bin`, or `PATH`.
pub fn cometbft_bin() -> PathBuf {
    let candidates = [
        std::env::var_os("BEVM_TOOLS_BIN").map(|d| PathBuf::from(d).join("cometbft")),
        Some(crate::workspace_root().join(".tools/bin/cometbft")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.exists())
        .unwrap_or_else(|| "cometbft".into())
}

/// One validator's processes.
pub struct Validator {
    pub home: PathBuf,
    pub ports: Ports,
    pub node: Option<ChildGuard>,
    pub comet: Option<ChildGuard>,
}

/// A running local network.
pub struct Devnet {
    pub validators: Vec<Validator>,
    pub keys: Vec<AccountKey>,
    pub chain_id: u64,
    /// Kept for inspection when `BEVM_KEEP_DEVNET` is set; deleted otherwise.
    dir: Option<tempfile::TempDir>,
}

impl Devnet {
    /// Generates and starts `validators` validators (blocks every `block_ms` milliseconds)
    /// and waits until every node has committed block 1.
    ///
    /// # Errors
    /// Missing binaries, generation failures, or a network that does not produce blocks.
    pub fn start(validators: usize, block_ms: u64) -> anyhow::Result<Self> {
        Self::start_with(validators, block_ms, |_| {})
    }

    /// As [`Devnet::start`], with the genesis changed by `edit` first (a bridge section gets
    /// the validators' generated signer keys when its signer list is empty).
    ///
    /// # Errors
    /// As [`Devnet::start`].
    pub fn start_with(
        validators: usize,
        block_ms: u64,
        edit: impl FnOnce(&mut Genesis),
    ) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("bevm-devnet-").tempdir()?;
        let keys = devnet_keys(10);
        let mut genesis =
            Genesis::devnet_funded(1337, keys.iter().map(AccountKey::address), btc_to_wei(1000));
        edit(&mut genesis);
        let ports: Vec<Ports> = (0..validators)
            .map(|_| Ports {
                p2p: free_port(),
                rpc: free_port(),
                abci: free_port(),
                eth_rpc: free_port(),
            })
            .collect();
        let spec = NetworkSpec {
            chain_id: "bevm-e2e".into(),
            genesis,
            ports,
            output: dir.path().to_path_buf(),
            timeout_commit_ms: block_ms,
            force: false,
            single_home: false,
        };
        let homes = generate_network(&spec)?;
        let mut net = Self {
            validators: homes
                .into_iter()
                .map(|h| Validator {
                    home: h.home,
                    ports: h.ports,
                    node: None,
                    comet: None,
                })
                .collect(),
            keys,
            chain_id: 1337,
            dir: Some(dir),
        };
        for i in 0..validators {
            net.start_validator(i)?;
        }
        for i in 0..validators {
            if net.wait_height(i, 1, Duration::from_secs(90)).is_none() {
                let report = net.failure_report(i);
                // Keep the homes: the logs are what explains a network that did not start.
                if let Some(dir) = net.dir.take() {
                    let _ = dir.keep();
                }
                bail!("validator {i} produced no block within 90 s\n{report}");
            }
        }
        Ok(net)
    }

    /// Whether each process of validator `i` still runs, with the end of its logs.
    fn failure_report(&mut self, i: usize) -> String {
        let v = &mut self.validators[i];
        let node_up = v.node.as_mut().is_some_and(ChildGuard::is_running);
        let comet_up = v.comet.as_mut().is_some_and(ChildGuard::is_running);
        let mut report = format!("bevm-node running: {node_up}, cometbft running: {comet_up}\n");
        for log in ["node.log", "cometbft.log"] {
            let path = v.home.join(log);
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(25)..];
            report.push_str(&format!(
                "--- last lines of {}\n{}\n",
                path.display(),
                tail.join("\n")
            ));
        }
        report
    }

    /// Starts (or restarts) bevm-node then cometbft of validator `i`.
    ///
    /// # Errors
    /// If a binary is missing or a process does not come up.
    pub fn start_validator(&mut self, i: usize) -> anyhow::Result<()> {
        let node_bin = bin_dir().join("bevm-node");
        if !node_bin.exists() {
            bail!(
                "{} not found: build it with `cargo build --release -p bevm-node`",
                node_bin.display()
            );
        }
        let v = &mut self.validators[i];
        let mut cmd = Command::new(&node_bin);
        cmd.arg("start")
            .arg("--home")
            .arg(&v.home)
            .env("RUST_LOG", "info");
        v.node = Some(ChildGuard::spawn(
            &format!("bevm-node-{i}"),
            cmd,
            &v.home.join("node.log"),
        )?);
        let abci = v.ports.abci;
        wait_for(Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", abci)).ok()
        })
        .with_context(|| format!("bevm-node {i} is not listening on {abci}"))?;
        let mut cmd = Command::new(cometbft_bin());
        cmd.arg("start").arg("--home").arg(&v.home);
        v.comet = Some(ChildGuard::spawn(
            &format!("cometbft-{i}"),
            cmd,
            &v.home.join("cometbft.log"),
        )?);
        Ok(())
    }

    /// Kills both processes of validator `i` with SIGKILL.
    pub fn kill_validator(&mut self, i: usize) {
        let v = &mut self.validators[i];
        if let Some(mut n) = v.node.take() {
            n.kill();
        }
        if let Some(mut c) = v.comet.take() {
            c.kill();
        }
    }

    /// The JSON-RPC endpoint of validator `i`.
    pub fn rpc(&self, i: usize) -> Rpc {
        Rpc::new(self.validators[i].ports.eth_rpc)
    }

    /// Waits until validator `i` reports at least `height`.
    pub fn wait_height(&self, i: usize, height: u64, timeout: Duration) -> Option<u64> {
        let rpc = self.rpc(i);
        wait_for(timeout, || rpc.block_number().filter(|h| *h >= height))
    }

    /// The temporary directory holding the homes.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new(""), |d| d.path())
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        for i in 0..self.validators.len() {
            self.kill_validator(i);
        }
        if std::env::var_os("BEVM_KEEP_DEVNET").is_some() {
            if let Some(dir) = self.dir.take() {
                eprintln!("devnet kept at {}", dir.keep().display());
            }
        }
    }
}
