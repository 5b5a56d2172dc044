//! Configuration files of a bevm validator: the node's own `bevm.toml`, and generation of the
//! CometBFT home (keys, `config.toml`, `genesis.json` with bevm's `app_state`) for one or many
//! validators.
//!
//! Layout of a validator home (what `bevm init` and `bevm testnet` write):
//! ```text
//! <home>/config/bevm.toml                 node config (commented)
//! <home>/config/config.toml               CometBFT config overrides
//! <home>/config/genesis.json              CometBFT genesis; app_state = bevm Genesis
//! <home>/config/node_key.json             CometBFT p2p key        (0600)
//! <home>/config/priv_validator_key.json   CometBFT consensus key  (0600)
//! <home>/data/priv_validator_state.json   CometBFT double-sign guard
//! <home>/data/bevm.db/                    bevm-node's RocksDB
//! ```

#![forbid(unsafe_code)]

mod cometbft;
mod node;
mod relayer;

pub use cometbft::{generate_network, NetworkSpec, Ports, ValidatorHome};
pub use node::NodeConfig;
pub use relayer::RelayerConfig;

/// Errors reading or writing configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: invalid config: {why}")]
    Invalid { path: String, why: String },
    #[error("{0} already exists; pass --force to overwrite it")]
    Exists(String),
}

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ConfigError + '_ {
    move |source| ConfigError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes a file readable only by its owner (keys).
pub fn write_private(path: &std::path::Path, contents: &[u8]) -> Result<(), ConfigError> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(path))?;
    // `mode` applies only to a new file: an existing one is narrowed before it is written.
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(io_err(path))?;
    f.write_all(contents).map_err(io_err(path))
}
