//! The bridge precompile's address and ABI, shared by the EVM (which serves it), the CLI and
//! relayers (which call it and read its events). Semantics: `bevm_evm::bridge`.

use alloy_primitives::{address, Address};

/// Where the bridge precompile lives.
pub const BRIDGE_ADDRESS: Address = address!("000000000000000000000000000000000000b7c1");

alloy_sol_types::sol! {
    /// The BTC bridge.
    interface IBridge {
        event DepositAddressRegistered(address indexed recipient, bytes scriptPubKey, string btcAddress);
        function depositAddress(address recipient) external view returns (bytes scriptPubKey, string btcAddress);
        function registerDepositAddress(address recipient) external returns (bytes scriptPubKey, string btcAddress);
    }
}
