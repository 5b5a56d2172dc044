//! Read-only execution: `eth_call` and `eth_estimateGas` against a committed height.
//! Nothing here is ever committed; each simulation starts from the same committed state.

use alloy_primitives::{Address, Bytes, TxKind, U256};
use revm::{
    context::{result::EVMError, result::ExecutionResult, Context, TxEnv},
    context_interface::transaction::AccessList,
    handler::{ExecuteEvm, MainBuilder, MainContext},
};

use crate::{env::BlockInput, state::BlockState, ChainSpec, EvmError};

/// A call as a client describes it (the fields of a JSON-RPC transaction request).
#[derive(Debug, Clone, Default)]
pub struct CallInput {
    pub from: Option<Address>,
    pub to: Option<Address>,
    pub gas: Option<u64>,
    /// Legacy gas price, or EIP-1559 max fee per gas.
    pub gas_price: Option<u128>,
    pub max_priority_fee_per_gas: Option<u128>,
    pub value: Option<U256>,
    pub data: Option<Bytes>,
    pub nonce: Option<u64>,
    pub access_list: Option<AccessList>,
}

/// The result of a simulated call that ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    Success { output: Bytes, gas_used: u64 },
    Revert { output: Bytes, gas_used: u64 },
    Halt { reason: String, gas_used: u64 },
}

/// Why a call could not be simulated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The transaction itself is invalid (funds, fees, gas): geth-style message.
    #[error("{0}")]
    Invalid(String),
    /// The call reverted (estimateGas only): the revert data.
    #[error("execution reverted")]
    Reverted(Bytes),
    /// The call halted (out of gas at the cap, invalid opcode...) (estimateGas only).
    #[error("{0}")]
    Halted(String),
    #[error(transparent)]
    Evm(#[from] EvmError),
}

fn tx_env(spec: &ChainSpec, input: &CallInput, gas: u64) -> TxEnv {
    TxEnv {
        tx_type: if input.max_priority_fee_per_gas.is_some() {
            2
        } else {
            0
        },
        caller: input.from.unwrap_or_default(),
        gas_limit: gas,
        gas_price: input.gas_price.unwrap_or(0),
        kind: input.to.map_or(TxKind::Create, TxKind::Call),
        value: input.value.unwrap_or_default(),
        data: input.data.clone().unwrap_or_default(),
        nonce: input.nonce.unwrap_or(0),
        chain_id: Some(spec.chain_id),
        access_list: input.access_list.clone().unwrap_or_default(),
        gas_priority_fee: input.max_priority_fee_per_gas,
        ..TxEnv::default()
    }
}

fn run(
    spec: &ChainSpec,
    state: &mut BlockState,
    block: &BlockInput,
    input: &CallInput,
    gas: u64,
) -> Result<CallOutcome, CallError> {
    let mut cfg = spec.cfg_env();
    // As in geth: simulations never check the nonce (clients send the pending nonce).
    cfg.disable_nonce_check = true;
    // As in geth: a call without a gas price pays nothing and is not held to the base fee.
    let free = input.gas_price.unwrap_or(0) == 0;
    cfg.disable_base_fee = free;
    cfg.disable_fee_charge = free;
    let mut evm = Context::mainnet()
        .with_db(&mut *state)
        .with_cfg(cfg)
        .with_block(block.block_env(spec))
        .build_mainnet()
        .with_precompiles(block.precompiles(spec));
    match evm.transact(tx_env(spec, input, gas)) {
        Ok(r) => Ok(match r.result {
            ExecutionResult::Success { gas, output, .. } => CallOutcome::Success {
                output: output.into_data(),
                gas_used: gas.tx_gas_used(),
            },
            ExecutionResult::Revert { gas, output, .. } => CallOutcome::Revert {
                output,
                gas_used: gas.tx_gas_used(),
            },
            ExecutionResult::Halt { reason, gas, .. } => CallOutcome::Halt {
                reason: format!("{reason:?}"),
                gas_used: gas.tx_gas_used(),
            },
        }),
        Err(EVMError::Database(e)) => Err(CallError::Evm(e)),
        Err(e) => Err(CallError::Invalid(crate::errors::geth_message(&e))),
    }
}

/// Simulates `input` on `state` in the context of `block`. Gas defaults to `gas_cap`.
///
/// # Errors
/// [`CallError::Invalid`] for an invalid transaction; storage failures.
pub fn call(
    spec: &ChainSpec,
    state: &mut BlockState,
    block: &BlockInput,
    input: &CallInput,
    gas_cap: u64,
) -> Result<CallOutcome, CallError> {
    let gas = input.gas.unwrap_or(gas_cap).min(gas_cap);
    run(spec, state, block, input, gas)
}

/// The smallest gas limit with which `input` succeeds, found by binary search (the gas used
/// after refunds underestimates what a call needs: 63/64 rule, refunds, stipends).
///
/// # Errors
/// [`CallError::Reverted`] / [`CallError::Halted`] when the call fails even with all the gas
/// allowed; [`CallError::Invalid`] for an invalid transaction; storage failures.
pub fn estimate_gas(
    spec: &ChainSpec,
    state: &mut BlockState,
    block: &BlockInput,
    input: &CallInput,
    gas_cap: u64,
) -> Result<u64, CallError> {
    let mut hi = input.gas.unwrap_or(gas_cap).min(gas_cap);
    let used = match run(spec, state, block, input, hi)? {
        CallOutcome::Success { gas_used, .. } => gas_used,
        CallOutcome::Revert { output, .. } => return Err(CallError::Reverted(output)),
        CallOutcome::Halt { reason, .. } => return Err(CallError::Halted(reason)),
    };
    // Fast path: most calls succeed with what they used plus the 1/64 reserve.
    let guess = used.saturating_mul(64) / 63 + 2_300;
    if guess < hi
        && matches!(
            run(spec, state, block, input, guess)?,
            CallOutcome::Success { .. }
        )
    {
        hi = guess;
    }
    let mut lo = used.saturating_sub(1);
    // Stop within 1.5% of the optimum, as geth does: each step is a full execution.
    while lo + 1 < hi && (hi - lo) * 1000 / hi > 15 {
        let mid = lo + (hi - lo) / 2;
        match run(spec, state, block, input, mid) {
            Ok(CallOutcome::Success { .. }) => hi = mid,
            Ok(_) | Err(CallError::Invalid(_)) => lo = mid,
            Err(e) => return Err(e),
        }
    }
    Ok(hi)
}
