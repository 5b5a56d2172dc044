//! `bevm.toml`: what bevm-node needs to know besides the genesis.

use std::{net::SocketAddr, path::Path};

use serde::{Deserialize, Serialize};

use crate::{io_err, ConfigError};

/// The node's configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// RocksDB directory, relative to the home directory unless absolute.
    pub db_path: String,
    /// Where CometBFT connects to the ABCI application (its `proxy_app`).
    pub abci_listen: SocketAddr,
    /// Ethereum JSON-RPC over HTTP and WebSocket, on one port.
    pub eth_rpc_listen: SocketAddr,
    /// CometBFT's RPC, where transactions are broadcast.
    pub cometbft_rpc: String,
    /// Most blocks one eth_getLogs call may scan.
    #[serde(default = "default_logs_range")]
    pub max_logs_block_range: u64,
    /// Most requests in one JSON-RPC batch.
    #[serde(default = "default_batch")]
    pub max_batch_size: u32,
}

fn default_logs_range() -> u64 {
    10_000
}
fn default_batch() -> u32 {
    1_000
}

impl NodeConfig {
    /// Reads and validates `bevm.toml`.
    ///
    /// # Errors
    /// [`ConfigError`] if the file is missing or not a valid config.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(io_err(path))?;
        toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.display().to_string(),
            why: e.to_string(),
        })
    }

    /// The file's text, with a comment on every setting.
    pub fn to_commented_toml(&self) -> String {
        format!(
            r#"# bevm-node configuration. Paths are relative to the node's home directory.

# RocksDB directory holding state, blocks, receipts and logs.
db_path = "{db}"

# Address CometBFT's proxy_app connects to (ABCI over TCP). Keep it on localhost.
abci_listen = "{abci}"

# Ethereum JSON-RPC, HTTP and WebSocket on the same port (wallets, cast, ethers).
eth_rpc_listen = "{rpc}"

# CometBFT RPC, used to broadcast transactions from eth_sendRawTransaction.
cometbft_rpc = "{comet}"

# Most blocks a single eth_getLogs / eth_getFilterLogs call may scan.
max_logs_block_range = {logs}

# Most requests in one JSON-RPC batch.
max_batch_size = {batch}
"#,
            db = self.db_path,
            abci = self.abci_listen,
            rpc = self.eth_rpc_listen,
            comet = self.cometbft_rpc,
            logs = self.max_logs_block_range,
            batch = self.max_batch_size,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commented_toml_round_trips() {
        let cfg = NodeConfig {
            db_path: "data/bevm.db".into(),
            abci_listen: "127.0.0.1:26658".parse().expect("addr"),
            eth_rpc_listen: "127.0.0.1:8545".parse().expect("addr"),
            cometbft_rpc: "http://127.0.0.1:26657".into(),
            max_logs_block_range: 5,
            max_batch_size: 7,
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bevm.toml");
        std::fs::write(&path, cfg.to_commented_toml()).expect("write");
        assert_eq!(NodeConfig::load(&path).expect("load"), cfg);
        std::fs::write(&path, "db_path = 3").expect("write");
        assert!(matches!(
            NodeConfig::load(&path),
            Err(ConfigError::Invalid { .. })
        ));
    }
}
