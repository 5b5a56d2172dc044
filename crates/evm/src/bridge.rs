//! The bridge precompile at [`BRIDGE_ADDRESS`]: registers per-recipient Bitcoin deposit
//! addresses, so relayers find deposits that carry no memo.
//!
//! ABI ([`IBridge`]):
//! - `depositAddress(address recipient) → (bytes scriptPubKey, string btcAddress)`, gas 10,000:
//!   the recipient's deposit address under the current vault;
//! - `registerDepositAddress(address recipient) → (bytes scriptPubKey, string btcAddress)`, gas
//!   60,000: records it in the precompile's storage (slot `keccak256(scriptPubKey)` → recipient)
//!   and emits `DepositAddressRegistered`. Anyone may register for anyone (the address can only
//!   ever credit its recipient), so a wallet or service can pay the gas for a new user.
//!
//! Registration is an EVM call, charged gas like any other, because a free registration
//! would let anyone grow the state without bound.

use std::sync::Arc;

use alloy_primitives::{keccak256, Address, Bytes, Log, U256};
use alloy_sol_types::{SolEvent, SolInterface, SolValue};
use bevm_custody::Vault;
use revm::{
    context_interface::{ContextTr, JournalTr},
    interpreter::CallInputs,
    precompile::{PrecompileHalt, PrecompileOutput},
};

use crate::{state::StateReader, EvmError};

pub use bevm_primitives::bridge_abi::{IBridge, BRIDGE_ADDRESS};

const VIEW_GAS: u64 = 10_000;
const REGISTER_GAS: u64 = 60_000;

/// The current vault, for deriving deposit addresses.
#[derive(Debug)]
pub struct BridgeVault {
    pub vault: Vault,
    pub network: ::bitcoin::Network,
}

/// The registry slot of a deposit script.
pub fn registry_slot(script_pubkey: &[u8]) -> U256 {
    U256::from_be_bytes(keccak256(script_pubkey).0)
}

/// The recipient a deposit script was registered for, in committed state.
///
/// # Errors
/// Storage failures.
pub fn registered_recipient(
    reader: &StateReader,
    script_pubkey: &[u8],
) -> Result<Option<Address>, EvmError> {
    let value = reader.slot(&BRIDGE_ADDRESS, &registry_slot(script_pubkey))?;
    Ok((!value.is_zero()).then(|| Address::from_word(value.into())))
}

/// Runs one call of the bridge precompile.
pub(crate) fn run<CTX: ContextTr>(
    vault: Option<&BridgeVault>,
    context: &mut CTX,
    inputs: &CallInputs,
) -> Result<PrecompileOutput, String> {
    let reservoir = inputs.reservoir;
    let revert = |gas: u64, reason: String| crate::bitcoin::revert_with(gas, reason, reservoir);
    let input = inputs.input.as_bytes(context).to_vec();
    let Ok(call) = IBridge::IBridgeCalls::abi_decode(&input) else {
        return Ok(revert(
            VIEW_GAS.min(inputs.gas_limit),
            "IBridge: unknown function or bad arguments".into(),
        ));
    };
    let (cost, recipient, register) = match call {
        IBridge::IBridgeCalls::depositAddress(c) => (VIEW_GAS, c.recipient, false),
        IBridge::IBridgeCalls::registerDepositAddress(c) => (REGISTER_GAS, c.recipient, true),
    };
    if cost > inputs.gas_limit {
        return Ok(PrecompileOutput::halt(PrecompileHalt::OutOfGas, reservoir));
    }
    let Some(bridge) = vault else {
        return Ok(revert(cost, "IBridge: this chain has no bridge".into()));
    };
    if register && inputs.is_static {
        return Ok(revert(
            cost,
            "IBridge: registerDepositAddress writes state; send a transaction".into(),
        ));
    }
    if recipient.is_zero() {
        // Slot value zero means "not registered", and nobody holds the zero address's key.
        return Ok(revert(
            cost,
            "IBridge: the recipient is the zero address".into(),
        ));
    }
    if inputs.call_value() != U256::ZERO {
        return Ok(revert(cost, "IBridge: not payable".into()));
    }
    if register && inputs.target_address != BRIDGE_ADDRESS {
        return Ok(revert(
            cost,
            "IBridge: registerDepositAddress must be called directly, not delegated".into(),
        ));
    }
    let output = bridge.vault.deposit_output(recipient.into_array());
    let script = output.script_pubkey();
    let btc_address = output.address(bridge.network).to_string();
    if register {
        let journal = context.journal_mut();
        journal
            .sstore(
                BRIDGE_ADDRESS,
                registry_slot(script.as_bytes()),
                U256::from_be_slice(recipient.as_slice()),
            )
            .map_err(|e| format!("bridge registry: {e:?}"))?;
        let event = IBridge::DepositAddressRegistered {
            recipient,
            scriptPubKey: Bytes::copy_from_slice(script.as_bytes()),
            btcAddress: btc_address.clone(),
        };
        journal.log(Log {
            address: BRIDGE_ADDRESS,
            data: event.encode_log_data(),
        });
    }
    Ok(PrecompileOutput::new(
        cost,
        (Bytes::copy_from_slice(script.as_bytes()), btc_address)
            .abi_encode_params()
            .into(),
        reservoir,
    ))
}

/// The bridge vault a block or call sees.
pub type SharedBridgeVault = Option<Arc<BridgeVault>>;
