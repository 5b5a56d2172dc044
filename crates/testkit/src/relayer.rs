//! The real `bevm-relayer` binary as a child process, configured through its own `init`.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::Context as _;

use crate::{btcd::Btcd, devnet::bin_dir, process::ChildGuard};

/// A running (or stopped) bevm-relayer following `btcd` and feeding a CometBFT RPC.
pub struct Relayer {
    pub config: PathBuf,
    log: PathBuf,
    process: Option<ChildGuard>,
}

impl Relayer {
    /// Writes a config with `bevm-relayer init` (then sets `batch_size` and
    /// `max_batches_in_flight`) and starts it. `eth_rpc` ("" for none) is where it reads
    /// registered deposit addresses.
    ///
    /// # Errors
    /// The binary missing (build it) or refusing the config.
    pub fn start(
        dir: &Path,
        btcd: &Btcd,
        cometbft_rpc: &str,
        eth_rpc: &str,
        batch: u32,
        in_flight: u32,
    ) -> anyhow::Result<Self> {
        let config = dir.join("relayer.toml");
        let out = Command::new(bin_dir().join("bevm-relayer"))
            .arg("init")
            .arg("--config")
            .arg(&config)
            .args([
                "--bitcoin-rpc",
                &btcd.rpc_url(),
                "--cometbft-rpc",
                cometbft_rpc,
                "--eth-rpc",
                eth_rpc,
            ])
            .output()
            .context(
                "cannot run bevm-relayer; build it with `cargo build --release -p bevm-relayer`",
            )?;
        anyhow::ensure!(
            out.status.success(),
            "bevm-relayer init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&config)?;
        let edited = text
            .replace("batch_size = 1000", &format!("batch_size = {batch}"))
            .replace(
                "max_batches_in_flight = 10",
                &format!("max_batches_in_flight = {in_flight}"),
            );
        anyhow::ensure!(
            edited.contains(&format!("batch_size = {batch}\n"))
                && edited.contains(&format!("max_batches_in_flight = {in_flight}\n")),
            "the defaults written by `bevm-relayer init` changed; update this helper"
        );
        std::fs::write(&config, edited)?;
        let mut relayer = Self {
            config,
            log: dir.join("relayer.log"),
            process: None,
        };
        relayer.restart()?;
        Ok(relayer)
    }

    /// Starts the process again (after [`Relayer::kill`]).
    ///
    /// # Errors
    /// The binary cannot be started.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        let mut cmd = Command::new(bin_dir().join("bevm-relayer"));
        cmd.arg("run").arg("--config").arg(&self.config).env(
            "RUST_LOG",
            std::env::var("BEVM_RELAYER_LOG").unwrap_or_else(|_| "info".into()),
        );
        self.process = Some(ChildGuard::spawn("bevm-relayer", cmd, &self.log)?);
        Ok(())
    }

    /// SIGKILL: no chance to finish a batch or say goodbye.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
    }

    /// The relayer's output so far (for assertions and failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
