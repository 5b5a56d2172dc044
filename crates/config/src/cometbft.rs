//! Generation of CometBFT homes and a shared genesis for 1..N validators.

use std::path::{Path, PathBuf};

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use bevm_primitives::genesis::Genesis;
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{io_err, write_private, ConfigError, NodeConfig};

/// The local ports of one validator (all on 127.0.0.1 in generated test networks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub p2p: u16,
    pub rpc: u16,
    pub abci: u16,
    pub eth_rpc: u16,
}

impl Ports {
    /// The conventional ports of validator `i`: 26656/26657/26658/8545 shifted by 10·i
    /// (the eth RPC by one per validator).
    pub fn standard(i: u16) -> Self {
        Self {
            p2p: 26656 + 10 * i,
            rpc: 26657 + 10 * i,
            abci: 26658 + 10 * i,
            eth_rpc: 8545 + i,
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct NetworkSpec {
    /// CometBFT chain id (a string, unlike the EVM chain id in the app genesis).
    pub chain_id: String,
    pub genesis: Genesis,
    /// One entry per validator.
    pub ports: Vec<Ports>,
    /// Directory that receives `validator-<i>/` homes.
    pub output: PathBuf,
    /// CometBFT's `timeout_commit`: the pause after each block.
    pub timeout_commit_ms: u64,
    /// Overwrite existing homes (their `data/` is deleted: a new genesis is a new chain).
    pub force: bool,
    /// One validator whose home is `output` itself (`bevm init`), instead of
    /// `output/validator-<i>/` homes (`bevm testnet`).
    pub single_home: bool,
}

/// A generated validator home.
#[derive(Debug, Clone)]
pub struct ValidatorHome {
    pub home: PathBuf,
    pub ports: Ports,
    pub node_id: String,
}

struct Ed25519Key {
    seed: [u8; 32],
    public: [u8; 32],
}

impl Ed25519Key {
    fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        let sk = ed25519_consensus::SigningKey::from(seed);
        Self {
            seed,
            public: sk.verification_key().to_bytes(),
        }
    }

    /// CometBFT's address of a public key: the first 20 bytes of its SHA-256.
    fn address(&self) -> [u8; 20] {
        let digest = Sha256::digest(self.public);
        let mut out = [0u8; 20];
        out.copy_from_slice(&digest[..20]);
        out
    }

    fn pub_key_json(&self) -> serde_json::Value {
        json!({ "type": "tendermint/PubKeyEd25519", "value": B64.encode(self.public) })
    }

    fn priv_key_json(&self) -> serde_json::Value {
        let mut both = [0u8; 64];
        both[..32].copy_from_slice(&self.seed);
        both[32..].copy_from_slice(&self.public);
        json!({ "type": "tendermint/PrivKeyEd25519", "value": B64.encode(both) })
    }
}

/// Writes one home per validator under `spec.output`, all sharing one genesis, each listing the
/// others as persistent peers.
///
/// # Errors
/// [`ConfigError`] on I/O failure, an invalid genesis, or an existing home without `force`.
pub fn generate_network(spec: &NetworkSpec) -> Result<Vec<ValidatorHome>, ConfigError> {
    spec.genesis.validate().map_err(|e| ConfigError::Invalid {
        path: "genesis app_state".into(),
        why: e.to_string(),
    })?;
    if spec.single_home && spec.ports.len() != 1 {
        return Err(ConfigError::Invalid {
            path: spec.output.display().to_string(),
            why: "a single home holds exactly one validator".into(),
        });
    }
    let homes: Vec<PathBuf> = if spec.single_home {
        vec![spec.output.clone()]
    } else {
        (0..spec.ports.len())
            .map(|i| spec.output.join(format!("validator-{i}")))
            .collect()
    };
    for home in &homes {
        if home.join("config/genesis.json").exists() {
            if !spec.force {
                return Err(ConfigError::Exists(home.display().to_string()));
            }
            let data = home.join("data");
            if data.exists() {
                std::fs::remove_dir_all(&data).map_err(io_err(&data))?;
            }
        }
    }
    let consensus_keys: Vec<Ed25519Key> =
        spec.ports.iter().map(|_| Ed25519Key::generate()).collect();
    let node_keys: Vec<Ed25519Key> = spec.ports.iter().map(|_| Ed25519Key::generate()).collect();
    let node_ids: Vec<String> = node_keys.iter().map(|k| hex::encode(k.address())).collect();
    // Each validator's bridge signer key, when the genesis leaves the signer set to them;
    // the vault is their aggregate (see bevm-custody). A genesis without a bridge, or with
    // its signers already listed, gets no new key files that would match nothing (an older
    // one left by `--force` stays: keys are never deleted here).
    let mut app_genesis = spec.genesis.clone();
    let mut signer_keys: Vec<SignerKey> = Vec::new();
    if let Some(bridge) = app_genesis.bridge.as_mut().filter(|b| b.signers.is_empty()) {
        signer_keys = spec.ports.iter().map(|_| SignerKey::generate()).collect();
        bridge.signers = signer_keys.iter().map(|k| k.public_hex.clone()).collect();
    }
    let genesis = cometbft_genesis(spec, &app_genesis, &consensus_keys)?;

    let mut out = Vec::new();
    for (i, home) in homes.iter().enumerate() {
        let config_dir = home.join("config");
        let data_dir = home.join("data");
        for dir in [&config_dir, &data_dir] {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        let peers: Vec<String> = (0..homes.len())
            .filter(|&j| j != i)
            .map(|j| format!("{}@127.0.0.1:{}", node_ids[j], spec.ports[j].p2p))
            .collect();
        write(&config_dir.join("genesis.json"), &genesis)?;
        write(
            &config_dir.join("config.toml"),
            &cometbft_config(i, &spec.ports[i], &peers, spec),
        )?;
        let node = NodeConfig {
            db_path: "data/bevm.db".into(),
            abci_listen: ([127, 0, 0, 1], spec.ports[i].abci).into(),
            eth_rpc_listen: ([127, 0, 0, 1], spec.ports[i].eth_rpc).into(),
            cometbft_rpc: format!("http://127.0.0.1:{}", spec.ports[i].rpc),
            max_logs_block_range: 10_000,
            max_batch_size: 1_000,
        };
        write(&config_dir.join("bevm.toml"), &node.to_commented_toml())?;
        let ck = &consensus_keys[i];
        let pv = json!({
            "address": hex::encode_upper(ck.address()),
            "pub_key": ck.pub_key_json(),
            "priv_key": ck.priv_key_json(),
        });
        write_json_private(&config_dir.join("priv_validator_key.json"), &pv)?;
        write_json_private(
            &config_dir.join("node_key.json"),
            &json!({ "priv_key": node_keys[i].priv_key_json() }),
        )?;
        if let Some(sk) = signer_keys.get(i) {
            write_json_private(
                &config_dir.join("signer_key.json"),
                &json!({ "public_key": sk.public_hex, "secret_key": hex::encode(sk.secret) }),
            )?;
        }
        let state = json!({ "height": "0", "round": 0, "step": 0 });
        write_json_private(&data_dir.join("priv_validator_state.json"), &state)?;
        out.push(ValidatorHome {
            home: home.clone(),
            ports: spec.ports[i],
            node_id: node_ids[i].clone(),
        });
    }
    Ok(out)
}

/// A secp256k1 key that signs for the bridge vault (MuSig2 and the fallback leaf).
struct SignerKey {
    secret: [u8; 32],
    /// Compressed public key, hex.
    public_hex: String,
}

impl SignerKey {
    fn generate() -> Self {
        loop {
            let mut secret = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut secret);
            // Zero or above the curve order: probability ~2^-128, draw again.
            if let Ok(key) = k256::SecretKey::from_slice(&secret) {
                use k256::elliptic_curve::sec1::ToEncodedPoint as _;
                let public = key.public_key().to_encoded_point(true);
                return Self {
                    secret,
                    public_hex: hex::encode(public.as_bytes()),
                };
            }
        }
    }
}

fn cometbft_genesis(
    spec: &NetworkSpec,
    app_genesis: &Genesis,
    keys: &[Ed25519Key],
) -> Result<String, ConfigError> {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| ConfigError::Invalid {
            path: "genesis_time".into(),
            why: e.to_string(),
        })?;
    let validators: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            json!({
                "address": hex::encode_upper(k.address()),
                "pub_key": k.pub_key_json(),
                "power": "10",
                "name": format!("validator-{i}"),
            })
        })
        .collect();
    let genesis = json!({
        "genesis_time": now,
        "chain_id": spec.chain_id,
        "initial_height": "1",
        "consensus_params": {
            "block": {
                "max_bytes": "22020096",
                // CometBFT reaps the mempool by each tx's gas_wanted (its gas limit) up to this.
                "max_gas": spec.genesis.params.block_gas_limit.to_string(),
            },
            "evidence": {
                "max_age_num_blocks": "100000",
                "max_age_duration": "172800000000000",
                "max_bytes": "1048576",
            },
            "validator": { "pub_key_types": ["ed25519"] },
            "version": { "app": "0" },
            "abci": { "vote_extensions_enable_height": "0" },
        },
        "validators": validators,
        "app_hash": "",
        "app_state": app_genesis,
    });
    serde_json::to_string_pretty(&genesis).map_err(|e| ConfigError::Invalid {
        path: "genesis.json".into(),
        why: e.to_string(),
    })
}

fn cometbft_config(i: usize, ports: &Ports, peers: &[String], spec: &NetworkSpec) -> String {
    format!(
        r#"# CometBFT settings for bevm. Keys not listed keep CometBFT v0.38's defaults.
proxy_app = "tcp://127.0.0.1:{abci}"
moniker = "validator-{i}"
db_backend = "goleveldb"
log_level = "info"

[rpc]
laddr = "tcp://127.0.0.1:{rpc}"
# Load tests keep many broadcast_tx_sync calls in flight.
max_open_connections = 2000
max_body_bytes = 10000000

[p2p]
laddr = "tcp://127.0.0.1:{p2p}"
persistent_peers = "{peers}"
# Local test networks put every validator on 127.0.0.1.
addr_book_strict = false
allow_duplicate_ip = true

[mempool]
size = 100000
max_txs_bytes = 1073741824
cache_size = 200000
recheck = true

[consensus]
timeout_commit = "{commit}ms"
timeout_propose = "3s"
create_empty_blocks = true

[tx_index]
# bevm-node indexes Ethereum transactions, blocks and logs itself.
indexer = "null"
"#,
        abci = ports.abci,
        rpc = ports.rpc,
        p2p = ports.p2p,
        peers = peers.join(","),
        commit = spec.timeout_commit_ms,
    )
}

fn write(path: &Path, contents: &str) -> Result<(), ConfigError> {
    std::fs::write(path, contents).map_err(io_err(path))
}

fn write_json_private(path: &Path, value: &serde_json::Value) -> Result<(), ConfigError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| ConfigError::Invalid {
        path: path.display().to_string(),
        why: e.to_string(),
    })?;
    write_private(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn writes_homes_with_private_keys_and_shared_genesis() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = NetworkSpec {
            chain_id: "bevm-test".into(),
            genesis: Genesis {
                bridge: Some(bevm_primitives::genesis::BridgeGenesis::with_signers(
                    Vec::new(),
                )),
                ..Genesis::devnet(1337)
            },
            ports: (0..3).map(Ports::standard).collect(),
            output: dir.path().to_path_buf(),
            timeout_commit_ms: 500,
            force: false,
            single_home: false,
        };
        let homes = generate_network(&spec).expect("generate");
        assert_eq!(homes.len(), 3);
        let g0 = std::fs::read(homes[0].home.join("config/genesis.json")).expect("genesis");
        let g2 = std::fs::read(homes[2].home.join("config/genesis.json")).expect("genesis");
        assert_eq!(g0, g2);
        let genesis: serde_json::Value = serde_json::from_slice(&g0).expect("json");
        assert_eq!(genesis["validators"].as_array().map(Vec::len), Some(3));
        assert_eq!(genesis["app_state"]["evm_chain_id"], 1337);
        for file in ["priv_validator_key.json", "signer_key.json"] {
            let key = homes[1].home.join("config").join(file);
            let mode = std::fs::metadata(&key).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file}");
        }
        // Every validator's signer key is in the bridge's signer set, in validator order.
        let signers = genesis["app_state"]["bridge"]["signers"].clone();
        for (i, home) in homes.iter().enumerate() {
            let key: serde_json::Value = serde_json::from_slice(
                &std::fs::read(home.home.join("config/signer_key.json")).expect("signer key"),
            )
            .expect("json");
            assert_eq!(key["public_key"], signers[i]);
            assert_eq!(key["public_key"].as_str().map(str::len), Some(66));
        }
        let cfg = std::fs::read_to_string(homes[1].home.join("config/config.toml")).expect("cfg");
        assert!(cfg.contains(&format!("{}@127.0.0.1:26656", homes[0].node_id)));
        assert!(!cfg.contains(&homes[1].node_id));
        assert!(matches!(
            generate_network(&spec),
            Err(ConfigError::Exists(_))
        ));

        // Signers already listed in genesis, or no bridge: no signer key files.
        let listed = signers[0].as_str().expect("hex").to_owned();
        for bridge in [
            None,
            Some(bevm_primitives::genesis::BridgeGenesis::with_signers(vec![
                listed.clone(),
            ])),
        ] {
            let other = tempfile::tempdir().expect("tempdir");
            let spec = NetworkSpec {
                genesis: Genesis {
                    bridge: bridge.clone(),
                    ..Genesis::devnet(1337)
                },
                output: other.path().to_path_buf(),
                ..spec.clone()
            };
            let homes = generate_network(&spec).expect("generate");
            assert!(!homes[0].home.join("config/signer_key.json").exists());
            let genesis: serde_json::Value = serde_json::from_slice(
                &std::fs::read(homes[0].home.join("config/genesis.json")).expect("genesis"),
            )
            .expect("json");
            let expected = match bridge {
                Some(_) => serde_json::json!([listed]),
                None => serde_json::Value::Null,
            };
            assert_eq!(genesis["app_state"]["bridge"]["signers"], expected);
        }
    }
}
