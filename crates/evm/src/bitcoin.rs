//! The Bitcoin light-client precompile: Solidity contracts read the chain's own view of
//! Bitcoin (best block, headers, transaction inclusion) at [`BTC_LIGHT_ADDRESS`].
//!
//! ABI ([`IBitcoinLight`]); block hashes and txids are `bytes32` in display order, as block
//! explorers and `bitcoin-cli` show them:
//! - `bestBlock() → (uint32 height, bytes32 blockHash)`, gas 2,600
//! - `headerAt(uint32 height) → (bytes32 blockHash, bytes header)` (80 raw bytes), gas 2,600;
//!   reverts for a height not on the best chain
//! - `verifyTxInclusion(bytes32 txid, bytes32 blockHash, bytes proof, uint32 minConfirmations)
//!   → (uint32 blockHeight, uint32 txIndex, uint32 confirmations)`, gas 20,000 + 16 per proof
//!   byte; `proof` is `gettxoutproof` output that also proves the coinbase (see
//!   `bevm_btc_light::spv`); reverts with the reason (`Error(string)`) when not proven.

use std::sync::Arc;

use alloy_primitives::{address, Address, Bytes, FixedBytes};
use alloy_sol_types::{sol, SolError, SolInterface, SolValue};
use bevm_btc_light::{spv, BlockHash, Chain, HeaderStore, Params};
use revm::{
    context::Cfg,
    context_interface::ContextTr,
    handler::{precompile_output_to_interpreter_result, EthPrecompiles, PrecompileProvider},
    interpreter::{CallInputs, InterpreterResult},
    precompile::{PrecompileHalt, PrecompileOutput},
    primitives::{hardfork::SpecId, AddressSet},
};

/// Where the light-client precompile lives.
pub const BTC_LIGHT_ADDRESS: Address = address!("000000000000000000000000000000000000b7c0");

const READ_GAS: u64 = 2_600;
const VERIFY_BASE_GAS: u64 = 20_000;
const VERIFY_GAS_PER_BYTE: u64 = 16;

sol! {
    /// Bitcoin as this chain's light client sees it.
    interface IBitcoinLight {
        function bestBlock() external view returns (uint32 height, bytes32 blockHash);
        function headerAt(uint32 height) external view returns (bytes32 blockHash, bytes header);
        function verifyTxInclusion(bytes32 txid, bytes32 blockHash, bytes proof, uint32 minConfirmations)
            external view returns (uint32 blockHeight, uint32 txIndex, uint32 confirmations);
    }
}

/// The light client state a block (or a call) reads: the rules and a header store.
pub struct BitcoinReader {
    pub params: Params,
    pub horizon: u32,
    pub store: Arc<dyn HeaderStore + Send + Sync>,
}

impl BitcoinReader {
    /// The light client over this reader's store, for queries.
    pub fn chain(&self) -> Chain<'_, dyn HeaderStore + Send + Sync> {
        Chain::new(&self.params, &*self.store, self.horizon)
    }
}

impl std::fmt::Debug for BitcoinReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BitcoinReader")
            .field("network", &self.params.network)
            .finish()
    }
}

/// Ethereum's precompiles plus bevm's.
#[derive(Debug, Clone)]
pub struct BevmPrecompiles {
    eth: EthPrecompiles,
    bitcoin: Option<Arc<BitcoinReader>>,
    bridge: crate::bridge::SharedBridgeVault,
    warm: AddressSet,
}

impl BevmPrecompiles {
    pub fn new(
        spec: SpecId,
        bitcoin: Option<Arc<BitcoinReader>>,
        bridge: crate::bridge::SharedBridgeVault,
    ) -> Self {
        let eth = EthPrecompiles::new(spec);
        let warm = Self::warm_set(&eth);
        Self {
            eth,
            bitcoin,
            bridge,
            warm,
        }
    }

    fn warm_set(eth: &EthPrecompiles) -> AddressSet {
        let mut warm = eth.warm_addresses().clone();
        warm.insert(BTC_LIGHT_ADDRESS);
        warm.insert(crate::bridge::BRIDGE_ADDRESS);
        warm
    }
}

impl<CTX: ContextTr> PrecompileProvider<CTX> for BevmPrecompiles {
    type Output = InterpreterResult;

    fn set_spec(&mut self, spec: <CTX::Cfg as Cfg>::Spec) -> bool {
        let changed = <EthPrecompiles as PrecompileProvider<CTX>>::set_spec(&mut self.eth, spec);
        if changed {
            self.warm = Self::warm_set(&self.eth);
        }
        changed
    }

    fn run(
        &mut self,
        context: &mut CTX,
        inputs: &CallInputs,
    ) -> Result<Option<InterpreterResult>, String> {
        if inputs.bytecode_address == crate::bridge::BRIDGE_ADDRESS {
            let output = crate::bridge::run(self.bridge.as_deref(), context, inputs)?;
            return Ok(Some(precompile_output_to_interpreter_result(
                output,
                inputs.gas_limit,
            )));
        }
        if inputs.bytecode_address != BTC_LIGHT_ADDRESS {
            return self.eth.run(context, inputs);
        }
        let input = inputs.input.as_bytes(context).to_vec();
        let output = light_client_call(
            self.bitcoin.as_deref(),
            &input,
            inputs.gas_limit,
            inputs.reservoir,
        );
        Ok(Some(precompile_output_to_interpreter_result(
            output,
            inputs.gas_limit,
        )))
    }

    fn warm_addresses(&self) -> &AddressSet {
        &self.warm
    }

    fn contains(&self, address: &Address) -> bool {
        *address == BTC_LIGHT_ADDRESS
            || *address == crate::bridge::BRIDGE_ADDRESS
            || self.eth.contains(address)
    }
}

/// Runs one call of the light-client precompile.
fn light_client_call(
    reader: Option<&BitcoinReader>,
    input: &[u8],
    gas_limit: u64,
    reservoir: u64,
) -> PrecompileOutput {
    let revert = |gas: u64, reason: String| revert_with(gas, reason, reservoir);
    let Ok(call) = IBitcoinLight::IBitcoinLightCalls::abi_decode(input) else {
        return revert(
            READ_GAS.min(gas_limit),
            "IBitcoinLight: unknown function or bad arguments".into(),
        );
    };
    let cost = match &call {
        IBitcoinLight::IBitcoinLightCalls::verifyTxInclusion(c) => {
            VERIFY_BASE_GAS.saturating_add(VERIFY_GAS_PER_BYTE.saturating_mul(c.proof.len() as u64))
        }
        _ => READ_GAS,
    };
    if cost > gas_limit {
        return PrecompileOutput::halt(PrecompileHalt::OutOfGas, reservoir);
    }
    let Some(reader) = reader else {
        return revert(
            cost,
            "IBitcoinLight: the light client is not available here".into(),
        );
    };
    let chain = reader.chain();
    let result: Result<Bytes, String> = match call {
        IBitcoinLight::IBitcoinLightCalls::bestBlock(_) => chain
            .tip()
            .map_err(|e| e.to_string())
            .and_then(|t| t.ok_or_else(|| "no tip".to_string()))
            .map(|t| (t.height, display(&t.hash)).abi_encode_params().into()),
        IBitcoinLight::IBitcoinLightCalls::headerAt(c) => chain
            .header_at(c.height)
            .map_err(|e| e.to_string())
            .and_then(|h| h.ok_or_else(|| format!("no best-chain header at height {}", c.height)))
            .map(|h| {
                (display(&h.hash), Bytes::from(h.header.encode().to_vec()))
                    .abi_encode_params()
                    .into()
            }),
        IBitcoinLight::IBitcoinLightCalls::verifyTxInclusion(c) => {
            let txid = internal(c.txid);
            let block = BlockHash(internal(c.blockHash));
            spv::verify_tx_inclusion(&chain, &txid, &block, &c.proof, c.minConfirmations)
                .map_err(|e| e.to_string())
                .map(|ok| {
                    (ok.block_height, ok.index, ok.confirmations)
                        .abi_encode_params()
                        .into()
                })
        }
    };
    match result {
        Ok(bytes) => PrecompileOutput::new(cost, bytes, reservoir),
        Err(reason) => revert(cost, format!("IBitcoinLight: {reason}")),
    }
}

/// A precompile revert with a Solidity `Error(string)` reason, as `require` gives, so ethers
/// and cast decode it.
pub(crate) fn revert_with(gas: u64, reason: String, reservoir: u64) -> PrecompileOutput {
    PrecompileOutput::revert(
        gas,
        alloy_sol_types::Revert { reason }.abi_encode().into(),
        reservoir,
    )
}

/// A hash in internal byte order as Solidity sees it (display order).
fn display(hash: &BlockHash) -> FixedBytes<32> {
    let mut b = hash.0;
    b.reverse();
    FixedBytes(b)
}

fn internal(display: FixedBytes<32>) -> [u8; 32] {
    let mut b = display.0;
    b.reverse();
    b
}
