//! The EVM module: revm over the bevm store.
//!
//! - [`state`]: committed-state reads and the per-block overlay revm executes against
//!   ([`state::BlockState`] implements revm's `Database`). Keys are in [`state_key`].
//! - [`executor`]: runs a block's transactions, credits fees to the fee pool (never burned),
//!   builds receipts, logs bloom and a real Ethereum header whose hash is keccak256(rlp(header)).
//! - [`chain`]: blocks, receipts and the tx index as stored, written once per block.
//! - [`bitcoin`]: the light-client precompile contracts use to read Bitcoin.
//! - [`bridge`]: the bridge precompile (deposit-address registry).
//! - [`call`]: `eth_call` and `eth_estimateGas` against any recent height.
//!
//! Invariants: execution depends only on the block input and committed state (no clock, no
//! hash-map iteration in what is committed); a transaction either runs to a receipt or is
//! skipped with no effect.

#![forbid(unsafe_code)]

pub mod bitcoin;
pub mod bridge;
pub mod call;
pub mod chain;
pub mod env;
mod error;
pub mod errors;
pub mod executor;
pub mod state;
pub mod state_key;

pub use env::{BlockInput, ChainSpec};
pub use error::EvmError;
pub use executor::{execute_block, ExecutedBlock, TxOutcome};
pub use state::{BlockState, StateDiff, StateReader};

impl revm::DatabaseCommit for BlockState {
    fn commit(&mut self, changes: revm::state::EvmState) {
        self.apply(changes);
    }
}
