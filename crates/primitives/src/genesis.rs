//! Genesis: the `app_state` of CometBFT's `genesis.json`, and the chain parameters it fixes.

use std::collections::BTreeMap;

use alloy_primitives::{Address, Bytes, B256, U256};
use serde::{Deserialize, Serialize};

/// Which kind of network a genesis is for. Only a devnet may mint BTC at genesis: everywhere
/// else, L2 BTC exists only because BTC was locked in the vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    Devnet,
    Testnet,
    Mainnet,
}

/// The EVM rules in force. Prague is the minimum (EIP-7702 set-code transactions are still
/// refused by the mempool, see `tx`); Osaka adds EIP-7825's per-transaction gas cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EvmSpec {
    #[default]
    Prague,
    Osaka,
}

/// Consensus parameters of the execution layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainParams {
    /// Gas available to one block (sum of the gas limits of its transactions).
    pub block_gas_limit: u64,
    /// Base fee of block 1, in wei per gas.
    pub initial_base_fee: u64,
    /// The base fee never falls below this, in wei per gas.
    pub min_base_fee: u64,
    /// EIP-1559 max change denominator (8 on Ethereum).
    pub base_fee_max_change_denominator: u64,
    /// EIP-1559 elasticity multiplier (2 on Ethereum): target = gas limit / elasticity.
    pub elasticity_multiplier: u64,
    /// Largest raw transaction accepted, in bytes.
    pub max_tx_bytes: u64,
}

impl Default for ChainParams {
    fn default() -> Self {
        Self {
            block_gas_limit: 1_000_000_000,
            // 0.01 gwei: a plain transfer costs 21 sat at the base fee.
            initial_base_fee: 10_000_000,
            min_base_fee: 10_000_000,
            base_fee_max_change_denominator: 8,
            elasticity_multiplier: 2,
            max_tx_bytes: 128 * 1024,
        }
    }
}

/// An account created at genesis. Allowed only on a devnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    #[serde(default)]
    pub balance: U256,
    #[serde(default)]
    pub nonce: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Bytes>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub storage: BTreeMap<B256, B256>,
}

/// Where the Bitcoin light client starts and how it prunes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BtcGenesis {
    /// `mainnet`, `testnet3`, `testnet4`, `signet` or `regtest`.
    pub network: String,
    /// A trusted starting header; without one the chain starts at the network's genesis block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<BtcCheckpoint>,
    /// Side branches forking more than this many blocks below the tip are refused and pruned.
    #[serde(default = "BtcGenesis::default_horizon")]
    pub pruning_horizon: u32,
    /// Most headers one RelayHeaders transaction may carry.
    #[serde(default = "BtcGenesis::default_max_headers")]
    pub max_headers_per_tx: u32,
}

impl BtcGenesis {
    fn default_horizon() -> u32 {
        2016
    }

    fn default_max_headers() -> u32 {
        1000
    }

    /// Bitcoin regtest from its genesis block, for devnets.
    pub fn regtest() -> Self {
        Self {
            network: "regtest".into(),
            checkpoint: None,
            pruning_horizon: Self::default_horizon(),
            max_headers_per_tx: Self::default_max_headers(),
        }
    }
}

impl Default for BtcGenesis {
    fn default() -> Self {
        Self::regtest()
    }
}

/// A trusted Bitcoin header to start from: the first block of a retarget period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BtcCheckpoint {
    /// The 80-byte header, hex.
    pub header: String,
    pub height: u32,
    /// Total chain work up to and including this header (Core's `chainwork`), hex.
    pub chain_work: String,
    /// Times of the 10 headers before it, oldest first (for median-time-past).
    pub prev_times: Vec<u32>,
}

/// The bridge's vault and deposit rules. Until staking exists, the signer set is fixed here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeGenesis {
    /// The validators' signer keys: 33-byte compressed secp256k1 public keys, hex. The vault's
    /// key path is their MuSig2 aggregate; at most 999 (one CHECKSIGADD leaf).
    pub signers: Vec<String>,
    /// Signatures the fallback leaf needs; default ceil(2N/3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
    /// Keys that can move the BTC without the signers after a timelock, so a set that stops
    /// signing never freezes the funds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<RecoveryGenesis>,
    /// Deposits below this are recorded as rejected, not credited.
    #[serde(default = "BridgeGenesis::default_min_deposit")]
    pub min_deposit_sat: u64,
    /// Bitcoin blocks (including the deposit's own) a deposit needs before it is credited.
    #[serde(default = "BridgeGenesis::default_confirmations")]
    pub confirmations: u32,
}

impl BridgeGenesis {
    fn default_min_deposit() -> u64 {
        10_000
    }

    fn default_confirmations() -> u32 {
        6
    }

    /// A bridge of `signers` with default rules.
    pub fn with_signers(signers: Vec<String>) -> Self {
        Self {
            signers,
            threshold: None,
            recovery: None,
            min_deposit_sat: Self::default_min_deposit(),
            confirmations: Self::default_confirmations(),
        }
    }
}

/// The vault's recovery leaf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryGenesis {
    /// 32-byte x-only public keys, hex, in leaf order.
    pub keys: Vec<String>,
    pub threshold: u32,
    /// Relative timelock in Bitcoin blocks from each UTXO's confirmation (at most 65,535).
    pub after_blocks: u16,
}

/// The application state in CometBFT's genesis file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    pub network: Network,
    /// EIP-155 chain id of the EVM.
    pub evm_chain_id: u64,
    #[serde(default)]
    pub evm_spec: EvmSpec,
    #[serde(default)]
    pub params: ChainParams,
    /// DEVNET ONLY: balances minted out of nothing for development accounts. A testnet or
    /// mainnet genesis with entries here is refused.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub devnet_alloc: BTreeMap<Address, GenesisAccount>,
    /// The Bitcoin light client's network and starting point.
    #[serde(default)]
    pub btc: BtcGenesis,
    /// The BTC bridge; without it deposits are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<BridgeGenesis>,
}

/// Why a genesis was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum GenesisError {
    #[error("genesis app_state is not valid JSON for bevm: {0}")]
    Json(String),
    #[error(
        "devnet_alloc mints BTC and is allowed only when network = \"devnet\" (network is {0:?})"
    )]
    AllocOutsideDevnet(Network),
    #[error("evm_chain_id must not be 0")]
    ZeroChainId,
    #[error(
        "btc.network = \"regtest\" is allowed only when network = \"devnet\" (network is \
         {0:?}): regtest headers need no proof of work, so anyone could prove a fake deposit; \
         use mainnet, testnet4, testnet3 or signet"
    )]
    RegtestOutsideDevnet(Network),
    #[error(
        "network = \"mainnet\" needs btc.network = \"mainnet\" (it is {0:?}): BTC on a \
         mainnet must be real BTC, and test networks' coins and headers cost next to nothing"
    )]
    MainnetOnTestBitcoin(String),
    #[error("invalid parameter {name}: {why}")]
    Param {
        name: &'static str,
        why: &'static str,
    },
}

impl Genesis {
    /// A devnet genesis with default parameters and no accounts.
    pub fn devnet(evm_chain_id: u64) -> Self {
        Self {
            network: Network::Devnet,
            evm_chain_id,
            evm_spec: EvmSpec::default(),
            params: ChainParams::default(),
            devnet_alloc: BTreeMap::new(),
            btc: BtcGenesis::regtest(),
            bridge: None,
        }
    }

    /// A devnet genesis that gives `balance` wei to each of `accounts` (development only).
    pub fn devnet_funded(
        evm_chain_id: u64,
        accounts: impl IntoIterator<Item = Address>,
        balance: U256,
    ) -> Self {
        let mut genesis = Self::devnet(evm_chain_id);
        for address in accounts {
            genesis.devnet_alloc.insert(
                address,
                GenesisAccount {
                    balance,
                    ..Default::default()
                },
            );
        }
        genesis
    }

    /// Parses and validates the `app_state` bytes of a CometBFT genesis.
    ///
    /// # Errors
    /// Returns [`GenesisError`] if the JSON does not parse or the genesis breaks a rule of
    /// [`Genesis::validate`].
    pub fn from_json(bytes: &[u8]) -> Result<Self, GenesisError> {
        let genesis: Self =
            serde_json::from_slice(bytes).map_err(|e| GenesisError::Json(e.to_string()))?;
        genesis.validate()?;
        Ok(genesis)
    }

    /// Checks the rules a genesis must follow.
    ///
    /// # Errors
    /// Returns the first rule broken.
    pub fn validate(&self) -> Result<(), GenesisError> {
        if self.network != Network::Devnet && !self.devnet_alloc.is_empty() {
            return Err(GenesisError::AllocOutsideDevnet(self.network));
        }
        if self.evm_chain_id == 0 {
            return Err(GenesisError::ZeroChainId);
        }
        if self.network != Network::Devnet && self.btc.network == "regtest" {
            return Err(GenesisError::RegtestOutsideDevnet(self.network));
        }
        if self.network == Network::Mainnet && self.btc.network != "mainnet" {
            return Err(GenesisError::MainnetOnTestBitcoin(self.btc.network.clone()));
        }
        let p = &self.params;
        let param = |name, why| Err(GenesisError::Param { name, why });
        if p.block_gas_limit < 21_000 {
            return param(
                "block_gas_limit",
                "must allow at least one transfer (21000 gas)",
            );
        }
        if p.min_base_fee == 0 {
            return param(
                "min_base_fee",
                "must be positive, or the base fee can stick at zero",
            );
        }
        if p.initial_base_fee < p.min_base_fee {
            return param("initial_base_fee", "must be at least min_base_fee");
        }
        if p.base_fee_max_change_denominator == 0 || p.elasticity_multiplier == 0 {
            return param(
                "base fee params",
                "denominator and elasticity must be positive",
            );
        }
        if p.max_tx_bytes < 1024 {
            return param("max_tx_bytes", "must be at least 1024");
        }
        if let Some(b) = &self.bridge {
            if b.confirmations == 0 {
                return param("bridge.confirmations", "must be at least 1");
            }
            if b.min_deposit_sat == 0 {
                return param("bridge.min_deposit_sat", "must be positive");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devnet_alloc_refused_on_mainnet() {
        let mut g = Genesis::devnet(7);
        g.devnet_alloc
            .insert(Address::ZERO, GenesisAccount::default());
        assert!(g.validate().is_ok());
        g.network = Network::Mainnet;
        g.btc.network = "mainnet".into();
        assert_eq!(
            g.validate(),
            Err(GenesisError::AllocOutsideDevnet(Network::Mainnet))
        );
    }

    #[test]
    fn a_regtest_light_client_is_refused_outside_a_devnet() {
        let mut g = Genesis::devnet(7);
        assert_eq!(g.btc.network, "regtest");
        for network in [Network::Testnet, Network::Mainnet] {
            g.network = network;
            assert_eq!(
                g.validate(),
                Err(GenesisError::RegtestOutsideDevnet(network))
            );
        }
        g.btc.network = "signet".into();
        assert_eq!(
            g.validate(),
            Err(GenesisError::MainnetOnTestBitcoin("signet".into()))
        );
        g.network = Network::Testnet;
        assert_eq!(g.validate(), Ok(()));
        g.network = Network::Mainnet;
        g.btc.network = "mainnet".into();
        assert_eq!(g.validate(), Ok(()));
    }

    #[test]
    fn json_round_trip_and_unknown_fields() {
        let g = Genesis::devnet(1337);
        let json = serde_json::to_vec(&g).expect("serializes");
        assert_eq!(Genesis::from_json(&json), Ok(g));
        let bad = br#"{"network":"devnet","evm_chain_id":1,"surprise":1}"#;
        assert!(matches!(
            Genesis::from_json(bad),
            Err(GenesisError::Json(_))
        ));
    }

    #[test]
    fn bad_params_refused() {
        let mut g = Genesis::devnet(1);
        g.params.min_base_fee = 0;
        assert!(matches!(
            g.validate(),
            Err(GenesisError::Param {
                name: "min_base_fee",
                ..
            })
        ));
        g = Genesis::devnet(0);
        assert_eq!(g.validate(), Err(GenesisError::ZeroChainId));
    }
}
