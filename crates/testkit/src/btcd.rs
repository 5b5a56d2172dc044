//! A real Bitcoin node for tests: btcd in regtest on free ports, driven through btcctl,
//! killed by PID when dropped.

use std::{path::PathBuf, process::Command, time::Duration};

use anyhow::Context as _;

use crate::process::{free_port, wait_for, ChildGuard};

/// The regtest address btcd mines to (hash160 = 00 01 … 13; nobody holds its key).
pub const MINING_ADDRESS: &str = "mfWyW5fc9NUj75YAnFgoRLrjxgLDn2MMth";

/// btcd or btcctl: `BEVM_TOOLS_BIN`, the project's `.tools/bin`, or `PATH`.
fn tool(name: &str) -> PathBuf {
    [
        std::env::var_os("BEVM_TOOLS_BIN").map(|d| PathBuf::from(d).join(name)),
        Some(crate::workspace_root().join(".tools/bin").join(name)),
    ]
    .into_iter()
    .flatten()
    .find(|p| p.exists())
    .unwrap_or_else(|| name.into())
}

/// A running btcd regtest node.
pub struct Btcd {
    pub rpc_port: u16,
    pub p2p_port: u16,
    _process: ChildGuard,
    _dir: tempfile::TempDir,
}

impl Btcd {
    /// Starts btcd in regtest and waits for its RPC.
    ///
    /// # Errors
    /// btcd missing (run `make tools`) or not answering.
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with(MINING_ADDRESS, &[])
    }

    /// A node whose coinbases pay `address` (a regtest address, e.g. a vault's `bcrt1p…`).
    ///
    /// # Errors
    /// As [`Btcd::start`].
    pub fn start_mining_to(address: &str) -> anyhow::Result<Self> {
        Self::start_with(address, &[])
    }

    /// A second node that talks only to `peer` (`--connect`, so it never dials anyone else,
    /// and `--nolisten`, so nobody dials it): [`Btcd::partition`] and [`Btcd::rejoin`] then
    /// control the only link between the two.
    ///
    /// # Errors
    /// As [`Btcd::start`].
    pub fn start_peer_of(peer: &Btcd) -> anyhow::Result<Self> {
        Self::start_with(
            MINING_ADDRESS,
            &[&format!("--connect={}", peer.p2p_addr()), "--nolisten"],
        )
    }

    /// Drops the link to `peer` made by [`Btcd::start_peer_of`] or [`Btcd::rejoin`].
    ///
    /// # Errors
    /// btcctl failing.
    pub fn partition(&self, peer: &Btcd) -> anyhow::Result<()> {
        self.cli(&["node", "remove", &peer.p2p_addr()]).map(|_| ())
    }

    /// Connects to `peer` again (a permanent link, retried until it holds).
    ///
    /// # Errors
    /// btcctl failing.
    pub fn rejoin(&self, peer: &Btcd) -> anyhow::Result<()> {
        self.cli(&["node", "connect", &peer.p2p_addr(), "perm"])
            .map(|_| ())
    }

    pub fn p2p_addr(&self) -> String {
        format!("127.0.0.1:{}", self.p2p_port)
    }

    pub fn rpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.rpc_port)
    }

    /// Height of the best chain.
    ///
    /// # Errors
    /// btcctl failing.
    pub fn height(&self) -> anyhow::Result<u32> {
        Ok(self.cli(&["getblockcount"])?.parse()?)
    }

    /// Best-chain hash at `height`, display hex.
    ///
    /// # Errors
    /// btcctl failing.
    pub fn hash_at(&self, height: u32) -> anyhow::Result<String> {
        self.cli(&["getblockhash", &height.to_string()])
    }

    fn start_with(mining_address: &str, extra: &[&str]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let (rpc_port, p2p_port) = (free_port(), free_port());
        let mut cmd = Command::new(tool("btcd"));
        cmd.args([
            "--regtest",
            "--configfile=/dev/null",
            "--notls",
            "--rpcuser=bevm",
            "--rpcpass=bevm",
        ])
        .arg(format!("--datadir={}", dir.path().join("data").display()))
        .arg(format!("--logdir={}", dir.path().join("log").display()))
        .arg(format!("--rpclisten=127.0.0.1:{rpc_port}"))
        .arg(format!("--listen=127.0.0.1:{p2p_port}"))
        .arg(format!("--miningaddr={mining_address}"))
        .args(extra);
        let process = ChildGuard::spawn("btcd", cmd, &dir.path().join("btcd.out"))
            .context("cannot start btcd; run `make tools`")?;
        let node = Self {
            rpc_port,
            p2p_port,
            _process: process,
            _dir: dir,
        };
        wait_for(Duration::from_secs(20), || {
            node.cli(&["getblockcount"]).ok()
        })
        .context("btcd does not answer on its RPC port")?;
        Ok(node)
    }

    /// Runs a btcctl command against this node and returns its trimmed stdout.
    ///
    /// # Errors
    /// btcctl failing, with its stderr.
    pub fn cli(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new(tool("btcctl"))
            .args([
                "--regtest",
                "--configfile=/dev/null",
                "--notls",
                "--rpcuser=bevm",
                "--rpcpass=bevm",
            ])
            .arg(format!("--rpcserver=127.0.0.1:{}", self.rpc_port))
            .args(args)
            .output()
            .context("cannot run btcctl; run `make tools`")?;
        anyhow::ensure!(
            out.status.success(),
            "btcctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Calls `method` over btcd's JSON-RPC (HTTP, so arguments may exceed the 128 KiB that one
    /// btcctl command-line argument can carry) and returns the result.
    ///
    /// # Errors
    /// Connection failures, or btcd's error message.
    pub fn rpc(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        use base64::Engine as _;
        let auth = base64::engine::general_purpose::STANDARD.encode("bevm:bevm");
        let body =
            serde_json::json!({"jsonrpc": "1.0", "id": 1, "method": method, "params": params});
        // btcd answers errors with HTTP 500 and the JSON error in the body.
        let response = match ureq::post(&self.rpc_url())
            .set("Authorization", &format!("Basic {auth}"))
            .send_json(body)
        {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => anyhow::bail!("btcd {method}: {e}"),
        };
        let mut reply: serde_json::Value = response.into_json()?;
        if !reply["error"].is_null() {
            anyhow::bail!("btcd {method}: {}", reply["error"]["message"]);
        }
        Ok(reply["result"].take())
    }

    /// Submits a raw transaction to the mempool and returns its txid.
    ///
    /// # Errors
    /// btcd refusing it, with its reason.
    pub fn send_raw_transaction(&self, raw: &[u8]) -> anyhow::Result<String> {
        let txid = self.rpc("sendrawtransaction", serde_json::json!([hex::encode(raw)]))?;
        txid.as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("sendrawtransaction returned {txid}"))
    }

    /// Mines `n` blocks.
    ///
    /// # Errors
    /// btcctl failing.
    pub fn generate(&self, n: u32) -> anyhow::Result<()> {
        self.cli(&["generate", &n.to_string()]).map(|_| ())
    }

    /// The raw 80-byte headers of the best chain at heights `from..=to`.
    ///
    /// # Errors
    /// btcctl failing or returning something else than hex.
    pub fn headers(&self, from: u32, to: u32) -> anyhow::Result<Vec<Vec<u8>>> {
        (from..=to)
            .map(|h| {
                let hash = self.cli(&["getblockhash", &h.to_string()])?;
                let raw = self.cli(&["getblockheader", &hash, "false"])?;
                Ok(hex::decode(raw)?)
            })
            .collect()
    }
}
