//! Translation of chain parameters, block context and transactions into revm's environment.

use alloy_consensus::{Header, Transaction, TxEnvelope};
use alloy_eips::eip1559::{calc_next_block_base_fee, BaseFeeParams};
use alloy_primitives::{B256, U256};
use bevm_primitives::{
    genesis::{ChainParams, EvmSpec, Genesis},
    tx::EthTx,
    FEE_POOL_ADDRESS,
};
use revm::{
    context::{BlockEnv, CfgEnv, TxEnv},
    context_interface::block::BlobExcessGasAndPrice,
    primitives::hardfork::SpecId,
};

/// The execution rules fixed by genesis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSpec {
    pub chain_id: u64,
    pub spec: SpecId,
    pub params: ChainParams,
}

impl ChainSpec {
    pub fn from_genesis(genesis: &Genesis) -> Self {
        let spec = match genesis.evm_spec {
            EvmSpec::Prague => SpecId::PRAGUE,
            EvmSpec::Osaka => SpecId::OSAKA,
        };
        Self {
            chain_id: genesis.evm_chain_id,
            spec,
            params: genesis.params.clone(),
        }
    }

    /// Largest raw transaction accepted, as a length.
    pub fn max_tx_bytes(&self) -> usize {
        usize::try_from(self.params.max_tx_bytes).unwrap_or(usize::MAX)
    }

    /// revm's configuration for this chain.
    pub fn cfg_env(&self) -> CfgEnv {
        let mut cfg = CfgEnv::new_with_spec(self.spec);
        cfg.chain_id = self.chain_id;
        cfg
    }

    /// The base fee of the block after `parent` (EIP-1559 with this chain's parameters, never
    /// below the minimum). Block 1 uses the genesis' initial base fee.
    pub fn next_base_fee(&self, parent: &Header) -> u64 {
        let p = &self.params;
        let Some(parent_base_fee) = parent.base_fee_per_gas.filter(|_| parent.number > 0) else {
            return p.initial_base_fee;
        };
        let params = BaseFeeParams::new(
            u128::from(p.base_fee_max_change_denominator),
            u128::from(p.elasticity_multiplier),
        );
        calc_next_block_base_fee(parent.gas_used, parent.gas_limit, parent_base_fee, params)
            .max(p.min_base_fee)
    }
}

/// What consensus fixes about a block before its transactions run.
#[derive(Debug, Clone)]
pub struct BlockInput {
    pub number: u64,
    /// Seconds since the Unix epoch, from the CometBFT block time.
    pub timestamp: u64,
    pub parent_hash: B256,
    /// From consensus data (the CometBFT block hash): known to the proposer, so it is not a
    /// source of randomness, as on Ethereum.
    pub prevrandao: B256,
    pub base_fee: u64,
    /// The Bitcoin light client as this block sees it (after its relays), for the precompile.
    pub bitcoin: Option<std::sync::Arc<crate::bitcoin::BitcoinReader>>,
    /// The vault whose deposit addresses the bridge precompile derives.
    pub bridge: crate::bridge::SharedBridgeVault,
}

impl BlockInput {
    pub(crate) fn precompiles(&self, spec: &ChainSpec) -> crate::bitcoin::BevmPrecompiles {
        crate::bitcoin::BevmPrecompiles::new(spec.spec, self.bitcoin.clone(), self.bridge.clone())
    }

    pub(crate) fn block_env(&self, spec: &ChainSpec) -> BlockEnv {
        BlockEnv {
            number: U256::from(self.number),
            beneficiary: FEE_POOL_ADDRESS,
            timestamp: U256::from(self.timestamp),
            gas_limit: spec.params.block_gas_limit,
            basefee: self.base_fee,
            difficulty: U256::ZERO,
            prevrandao: Some(self.prevrandao),
            // Blob transactions are refused; the blob base fee stays at its minimum.
            blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new_with_spec(0, spec.spec)),
            ..BlockEnv::default()
        }
    }
}

/// revm's view of a transaction whose sender was already recovered.
pub fn tx_env(tx: &EthTx) -> TxEnv {
    envelope_tx_env(&tx.envelope, tx.sender)
}

fn envelope_tx_env(env: &TxEnvelope, caller: alloy_primitives::Address) -> TxEnv {
    TxEnv {
        tx_type: env.tx_type() as u8,
        caller,
        gas_limit: env.gas_limit(),
        gas_price: env.max_fee_per_gas(),
        kind: env.kind(),
        value: env.value(),
        data: env.input().clone(),
        nonce: env.nonce(),
        chain_id: env.chain_id(),
        access_list: env.access_list().cloned().unwrap_or_default(),
        gas_priority_fee: env.max_priority_fee_per_gas(),
        blob_hashes: Vec::new(),
        max_fee_per_blob_gas: 0,
        authorization_list: Vec::new(),
    }
}
