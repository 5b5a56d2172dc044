//! `relayer.toml`: where bevm-relayer reads Bitcoin and where it sends headers.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{io_err, ConfigError};

/// The relayer's configuration file.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayerConfig {
    /// The Bitcoin node's JSON-RPC URL (btcd or Bitcoin Core).
    pub bitcoin_rpc: String,
    /// RPC user and password; leave empty when using a cookie file.
    #[serde(default)]
    pub bitcoin_rpc_user: String,
    #[serde(default)]
    pub bitcoin_rpc_password: String,
    /// Bitcoin Core's `.cookie` file; used when no user is set.
    #[serde(default)]
    pub bitcoin_rpc_cookie: String,
    /// A bevm validator's (or full node's) CometBFT RPC.
    pub cometbft_rpc: String,
    /// Headers per RelayHeaders transaction; at most the genesis' `max_headers_per_tx`.
    #[serde(default = "default_batch")]
    pub batch_size: u32,
    /// Batches sent back to back before waiting for their commit.
    #[serde(default = "default_in_flight")]
    pub max_batches_in_flight: u32,
    /// How often to look at the Bitcoin node once caught up, in milliseconds.
    #[serde(default = "default_poll")]
    pub poll_interval_ms: u64,
    /// How long to wait for a sent batch to be committed, in seconds.
    #[serde(default = "default_commit_timeout")]
    pub commit_timeout_secs: u64,
    /// Longest wait between retries after errors, in seconds.
    #[serde(default = "default_backoff")]
    pub max_backoff_secs: u64,
    /// The same node's Ethereum JSON-RPC, where registered deposit addresses are read (event
    /// logs of the bridge precompile). Empty: only memo deposits are relayed.
    #[serde(default = "default_eth_rpc")]
    pub eth_rpc: String,
    /// Bitcoin blocks below the confirmed tip scanned again for deposits after a start.
    #[serde(default = "default_lookback")]
    pub deposit_lookback: u32,
}

fn default_eth_rpc() -> String {
    "http://127.0.0.1:8545".into()
}

fn default_lookback() -> u32 {
    144
}

fn default_batch() -> u32 {
    1_000
}
fn default_in_flight() -> u32 {
    10
}
fn default_poll() -> u64 {
    1_000
}
fn default_commit_timeout() -> u64 {
    30
}
fn default_backoff() -> u64 {
    60
}

impl Default for RelayerConfig {
    /// A btcd regtest node and a validator on this machine, with btcd's usual devnet login.
    fn default() -> Self {
        Self {
            bitcoin_rpc: "http://127.0.0.1:18334".into(),
            bitcoin_rpc_user: "bevm".into(),
            bitcoin_rpc_password: "bevm".into(),
            bitcoin_rpc_cookie: String::new(),
            cometbft_rpc: "http://127.0.0.1:26657".into(),
            batch_size: default_batch(),
            max_batches_in_flight: default_in_flight(),
            poll_interval_ms: default_poll(),
            commit_timeout_secs: default_commit_timeout(),
            max_backoff_secs: default_backoff(),
            eth_rpc: default_eth_rpc(),
            deposit_lookback: default_lookback(),
        }
    }
}

impl std::fmt::Debug for RelayerConfig {
    /// Everything but the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayerConfig")
            .field("bitcoin_rpc", &self.bitcoin_rpc)
            .field("bitcoin_rpc_user", &self.bitcoin_rpc_user)
            .field("bitcoin_rpc_password", &"<redacted>")
            .field("bitcoin_rpc_cookie", &self.bitcoin_rpc_cookie)
            .field("cometbft_rpc", &self.cometbft_rpc)
            .field("batch_size", &self.batch_size)
            .field("max_batches_in_flight", &self.max_batches_in_flight)
            .field("poll_interval_ms", &self.poll_interval_ms)
            .field("commit_timeout_secs", &self.commit_timeout_secs)
            .field("max_backoff_secs", &self.max_backoff_secs)
            .field("eth_rpc", &self.eth_rpc)
            .field("deposit_lookback", &self.deposit_lookback)
            .finish()
    }
}

impl RelayerConfig {
    /// Reads and validates `relayer.toml`.
    ///
    /// # Errors
    /// [`ConfigError`] if the file is missing, malformed or has out-of-range values.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(io_err(path))?;
        let invalid = |why: String| ConfigError::Invalid {
            path: path.display().to_string(),
            why,
        };
        // toml's own message quotes the offending line, which may hold the password.
        let cfg: Self = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
            invalid(match line {
                Some(line) => format!("line {line}: {}", e.message()),
                None => e.message().to_owned(),
            })
        })?;
        if cfg.batch_size == 0 || cfg.batch_size > 10_000 {
            return Err(invalid(format!(
                "batch_size {} is outside 1..=10000",
                cfg.batch_size
            )));
        }
        if cfg.max_batches_in_flight == 0 || cfg.max_batches_in_flight > 100 {
            return Err(invalid(format!(
                "max_batches_in_flight {} is outside 1..=100",
                cfg.max_batches_in_flight
            )));
        }
        for (name, value, max) in [
            ("poll_interval_ms", cfg.poll_interval_ms, 3_600_000),
            ("commit_timeout_secs", cfg.commit_timeout_secs, 3_600),
            ("max_backoff_secs", cfg.max_backoff_secs, 3_600),
        ] {
            if value == 0 || value > max {
                return Err(invalid(format!("{name} {value} is outside 1..={max}")));
            }
        }
        if !cfg.bitcoin_rpc_user.is_empty() && !cfg.bitcoin_rpc_cookie.is_empty() {
            return Err(invalid(
                "set bitcoin_rpc_user/bitcoin_rpc_password or bitcoin_rpc_cookie, not both".into(),
            ));
        }
        if cfg.deposit_lookback > 100_000 {
            return Err(invalid(format!(
                "deposit_lookback {} is above 100000",
                cfg.deposit_lookback
            )));
        }
        for (name, url) in [
            ("bitcoin_rpc", &cfg.bitcoin_rpc),
            ("cometbft_rpc", &cfg.cometbft_rpc),
            ("eth_rpc", &cfg.eth_rpc),
        ] {
            if name == "eth_rpc" && url.is_empty() {
                continue;
            }
            if !url.starts_with("http://") && !url.starts_with("https://") {
                return Err(invalid(format!("{name} {url:?} is not an http:// URL")));
            }
            // Credentials in a URL end up in logs and error messages.
            if url.split('/').nth(2).is_some_and(|host| host.contains('@')) {
                return Err(invalid(format!(
                    "{name} carries credentials; put them in bitcoin_rpc_user and \
                     bitcoin_rpc_password instead"
                )));
            }
        }
        Ok(cfg)
    }

    /// Writes the file with a comment on every setting, readable only by its owner (it may
    /// hold the Bitcoin RPC password).
    ///
    /// # Errors
    /// If the file cannot be written.
    pub fn write(&self, path: &Path) -> Result<(), ConfigError> {
        crate::write_private(path, self.to_commented_toml().as_bytes())
    }

    /// The file's text, with a comment on every setting.
    pub fn to_commented_toml(&self) -> String {
        let s = |v: &str| toml::Value::String(v.to_owned()).to_string();
        format!(
            r#"# bevm-relayer configuration. Anyone may relay: the L2 checks every header's proof of
# work, so a relayer can only be slow, never wrong.

# The Bitcoin node's JSON-RPC (btcd: port 8334 mainnet, 18334 testnet3/regtest;
# Bitcoin Core: 8332 mainnet, 18332 testnet3, 48332 testnet4, 38332 signet, 18443 regtest).
bitcoin_rpc = {btc}

# RPC login (btcd's rpcuser/rpcpass, or Core's rpcuser/rpcpassword).
bitcoin_rpc_user = {user}
bitcoin_rpc_password = {pass}

# Or Bitcoin Core's cookie file (e.g. ~/.bitcoin/regtest/.cookie), used when the user is empty.
bitcoin_rpc_cookie = {cookie}

# CometBFT RPC of a bevm node: the light client is read and headers are sent there.
cometbft_rpc = {comet}

# Headers per RelayHeaders transaction (the genesis caps it: btc.max_headers_per_tx).
batch_size = {batch}

# Batches sent back to back before waiting for a block to commit them (the L2 admits a relay
# that builds on one still in its mempool). Catch-up speed is about this times batch_size
# headers per block.
max_batches_in_flight = {in_flight}

# Once caught up, how often to ask the Bitcoin node for new blocks (milliseconds).
poll_interval_ms = {poll}

# How long to wait for a sent batch to be committed before starting over (seconds).
commit_timeout_secs = {commit}

# After errors the relayer retries, doubling its wait up to this many seconds.
max_backoff_secs = {backoff}

# The same node's Ethereum JSON-RPC: deposit addresses registered with the bridge precompile
# are read from its event logs. Empty: only deposits with an OP_RETURN memo are relayed.
eth_rpc = {eth}

# After a start, how many Bitcoin blocks below the confirmed tip are scanned again for
# deposits (the L2 refuses what it has recorded, so rescanning is harmless).
deposit_lookback = {lookback}
"#,
            btc = s(&self.bitcoin_rpc),
            user = s(&self.bitcoin_rpc_user),
            pass = s(&self.bitcoin_rpc_password),
            cookie = s(&self.bitcoin_rpc_cookie),
            comet = s(&self.cometbft_rpc),
            batch = self.batch_size,
            in_flight = self.max_batches_in_flight,
            poll = self.poll_interval_ms,
            commit = self.commit_timeout_secs,
            backoff = self.max_backoff_secs,
            eth = s(&self.eth_rpc),
            lookback = self.deposit_lookback,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commented_toml_round_trips_and_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let cfg = RelayerConfig {
            bitcoin_rpc_password: "p\"ss\\word".into(),
            batch_size: 77,
            ..RelayerConfig::default()
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("relayer.toml");
        cfg.write(&path).expect("write");
        assert_eq!(RelayerConfig::load(&path).expect("load"), cfg);
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn the_example_file_is_what_init_writes() {
        let example = include_str!("../../../config/relayer.toml");
        assert_eq!(example, RelayerConfig::default().to_commented_toml());
    }

    #[test]
    fn bad_values_are_refused_with_the_setting_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("relayer.toml");
        let with = |edit: &dyn Fn(&mut RelayerConfig)| {
            let mut cfg = RelayerConfig::default();
            edit(&mut cfg);
            std::fs::write(&path, cfg.to_commented_toml()).expect("write");
            match RelayerConfig::load(&path) {
                Err(ConfigError::Invalid { why, .. }) => why,
                other => panic!("expected a refusal, got {other:?}"),
            }
        };
        assert!(with(&|c| c.batch_size = 0).contains("batch_size"));
        assert!(with(&|c| c.poll_interval_ms = 0).contains("poll_interval_ms"));
        assert!(with(&|c| c.max_batches_in_flight = 0).contains("max_batches_in_flight"));
        assert!(with(&|c| c.commit_timeout_secs = 1_000_000).contains("commit_timeout_secs"));
        assert!(with(&|c| c.bitcoin_rpc_cookie = "/x/.cookie".into()).contains("not both"));
        assert!(with(&|c| c.bitcoin_rpc = "http://u:p@127.0.0.1:1".into()).contains("credentials"));
        assert!(with(&|c| c.bitcoin_rpc = "127.0.0.1:18334".into()).contains("bitcoin_rpc"));
        std::fs::write(&path, "bitcoin_rpc = 5").expect("write");
        assert!(matches!(
            RelayerConfig::load(&path),
            Err(ConfigError::Invalid { .. })
        ));
        std::fs::write(&path, "colour = \"blue\"\n").expect("write");
        assert!(
            RelayerConfig::load(&path).is_err(),
            "unknown keys are refused"
        );
    }
}
