//! A Bitcoin header-chain light client that knows the best chain from proof of work alone.
//!
//! - [`Header`] decoding and hashing; [`work`] for targets, compact bits and chain work.
//! - [`Params`] of mainnet, testnet3, testnet4 (BIP-94), signet and regtest, with each
//!   network's retarget rules ([`rules`]): Core's clamp and off-by-one, testnet's 20-minute
//!   exception with its walk-back, BIP-94, regtest's fixed difficulty; median-time-past, the
//!   two-hour future bound against a caller-supplied clock, and BIP-34/66/65 versions.
//! - [`Chain`] validates submissions against a [`HeaderStore`] and returns a [`ChangeSet`]
//!   for the caller to persist. Best chain = most cumulative work; side branches are kept so a
//!   heavier fork can arrive over several submissions; branches forking below the pruning
//!   horizon are refused and dropped.
//! - [`block`] parses full blocks into txids, so proofs can be built without
//!   `gettxoutproof`.
//! - [`spv`] checks `gettxoutproof` proofs against the best chain and its confirmations.
//!
//! `no_std` + `alloc`, no clock and no I/O, so the same code runs in the node and in wasm.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod block;
mod chain;
mod codec;
mod error;
pub mod header;
pub mod params;
pub mod rules;
pub mod spv;
mod store;
pub mod work;

pub use block::{BlockError, BlockTxids};
pub use chain::Chain;
pub use error::{HeaderError, SubmitError};
pub use header::{BlockHash, Header, HEADER_SIZE};
pub use params::{Network, Params};
pub use rules::StoredHeader;
pub use spv::{verify_tx_inclusion, MerkleProof, ProofError, TxInclusion};
pub use store::{BestChainUpdate, ChangeSet, HeaderStore, MemStore, StorageError};
pub use work::U256;

#[cfg(test)]
mod block_tests;
#[cfg(test)]
mod tests;
