//! Types shared by every bevm crate: units of BTC, chain parameters and genesis, and the
//! transaction envelope carried in CometBFT blocks.
//!
//! Invariants kept here:
//! - 1 BTC = 10^8 sat on Bitcoin = 10^18 wei on the L2, so 1 sat = 10^10 wei ([`units`]).
//! - A transaction in a block is the raw EIP-2718 envelope; its hash is keccak256 of those bytes.
//!   Only replay-protected (EIP-155) legacy, EIP-2930 and EIP-1559 transactions are accepted
//!   ([`tx::decode_eth_tx`]); blob (EIP-4844) and set-code (EIP-7702) transactions are refused.

#![forbid(unsafe_code)]

pub mod bridge_abi;
pub mod genesis;
pub mod keys;
pub mod native;
pub mod tx;
pub mod units;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use alloy_primitives::{address, Address, Bytes, B256, U256};

/// Account that collects base fees and tips. Fees are never burned: every wei of L2 BTC stays
/// backed by BTC in the vault (DESIGN.md §4, "Fees").
pub const FEE_POOL_ADDRESS: Address = address!("000000000000000000000000000000000000fee1");

/// The CREATE2 deployer ("deterministic deployment proxy") that Foundry uses by default,
/// predeployed at genesis so `forge create --create2` and `forge script` work unchanged.
pub const CREATE2_DEPLOYER_ADDRESS: Address = address!("4e59b44847b379578588920cA78FbF26c0B4956C");

/// Runtime code of the CREATE2 deployer (the published bytecode at the address above).
pub const CREATE2_DEPLOYER_CODE: &str = "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe03601600081602082378035828234f58015156039578182fd5b8082525050506014600cf3";
