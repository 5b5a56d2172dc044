//! The genesis state: devnet allocations and predeployed contracts.

use alloy_primitives::{Bytes, U256};
use bevm_evm::{state_key::AccountRecord, BlockState, StateDiff, StateReader};
use bevm_primitives::{genesis::Genesis, CREATE2_DEPLOYER_ADDRESS, CREATE2_DEPLOYER_CODE};

/// The state changes of genesis: the CREATE2 deployer and the bridge precompile's account
/// (every network) and, on a devnet only,
/// the `devnet_alloc` accounts ([`Genesis::validate`] refuses them elsewhere).
pub fn build_genesis_state(genesis: &Genesis, reader: StateReader) -> StateDiff {
    let mut state = BlockState::new(reader);
    let deployer_code =
        Bytes::from(hex::decode(CREATE2_DEPLOYER_CODE).expect("the deployer code constant is hex"));
    let code_hash = state.insert_code(deployer_code);
    state.set_account(
        CREATE2_DEPLOYER_ADDRESS,
        Some(AccountRecord {
            nonce: 1,
            code_hash,
            ..Default::default()
        }),
    );
    // The bridge precompile keeps its deposit-address registry in its storage. A nonce makes
    // the account non-empty, so EIP-161 never deletes it (and the registry with it).
    state.set_account(
        bevm_evm::bridge::BRIDGE_ADDRESS,
        Some(AccountRecord {
            nonce: 1,
            ..Default::default()
        }),
    );
    for (address, account) in &genesis.devnet_alloc {
        let code_hash = match &account.code {
            Some(code) if !code.is_empty() => state.insert_code(code.clone()),
            _ => AccountRecord::default().code_hash,
        };
        state.set_account(
            *address,
            Some(AccountRecord {
                nonce: account.nonce,
                balance: account.balance,
                code_hash,
            }),
        );
        for (slot, value) in &account.storage {
            state.set_slot(
                *address,
                U256::from_be_bytes(slot.0),
                U256::from_be_bytes(value.0),
            );
        }
    }
    state.into_diff()
}
